#include "yirage/workloads/kernel_bench_set.h"

#include "yirage/core/error.h"

namespace yirage::workloads {

namespace {

struct Extents {
  int64_t hidden, qkv, inter, lora_hidden, lora_out, rank;
  int64_t kv_heads_per_sequence, group_per_sequence, head_dim;
  bool kv_shared_by_batch;
};

Extents extents_of(const std::string& set) {
  if (set == "qwen3-0.6b") return {1024, 4096, 3072, 1024, 4096, 16, 8, 2, 128, false};
  if (set == "mirage") return {4096, 6144, 4096, 256, 4096, 16, 2, 32, 64, true};
  std::string known;
  for (const auto& name : kernel_bench_shape_sets()) known += (known.empty() ? "" : ", ") + name;
  YR_USER_ERROR("unknown shape set '" << set << "'; expected one of " << known);
}

}  // namespace

const std::vector<std::string>& kernel_bench_shape_sets() {
  static const std::vector<std::string> sets = {"qwen3-0.6b", "mirage"};
  return sets;
}

std::vector<KernelBenchCase> kernel_bench_cases(const std::vector<std::string>& shape_sets,
                                                const std::vector<int64_t>& batches,
                                                core::DType dtype) {
  std::vector<KernelBenchCase> cases;
  for (const auto& set : shape_sets) {
    const Extents e = extents_of(set);
    for (const int64_t b : batches) {
      YR_USER_CHECK(b >= 1, "batch " << b << " is not positive; expected >= 1");
      cases.push_back({set,
                       "rms_norm_qkv",
                       b,
                       {{"batch", b}, {"hidden", e.hidden}, {"out", e.qkv}},
                       rms_norm_matmul(b, e.hidden, e.qkv, dtype)});
      cases.push_back({set,
                       "gated_mlp",
                       b,
                       {{"batch", b}, {"hidden", e.hidden}, {"inter", e.inter}},
                       gated_mlp(b, e.hidden, e.inter, dtype)});
      cases.push_back(
          {set,
           "lora",
           b,
           {{"batch", b}, {"hidden", e.lora_hidden}, {"out", e.lora_out}, {"rank", e.rank}},
           lora(b, e.lora_hidden, e.lora_out, e.rank, dtype)});
      for (const int64_t kv_len : {1024, 4096}) {
        const int64_t kv_heads =
            e.kv_shared_by_batch ? e.kv_heads_per_sequence : e.kv_heads_per_sequence * b;
        const int64_t group =
            e.kv_shared_by_batch ? e.group_per_sequence * b : e.group_per_sequence;
        cases.push_back({set,
                         "gqa_decode",
                         b,
                         {{"batch", b},
                          {"kv_heads", kv_heads},
                          {"group", group},
                          {"kv_len", kv_len},
                          {"head_dim", e.head_dim}},
                         attention_decode(kv_heads, group, kv_len, e.head_dim, dtype, false)});
      }
    }
  }
  return cases;
}

}  // namespace yirage::workloads
