// The kernel bench set: every kernel at every shape set and batch, with the extents that the
// NumPy peer rebuilds the computation from.
#include <gtest/gtest.h>

#include <map>

#include "test_util.h"
#include "yirage/workloads/kernel_bench_set.h"

namespace yirage::workloads {
namespace {

TEST(KernelBenchSetTest, HoldsEveryKernelAtEverySetAndBatch) {
  const auto cases = kernel_bench_cases(kernel_bench_shape_sets(), {1, 8, 64}, core::DType::BF16);
  std::map<std::string, int> per_kernel;
  for (const auto& c : cases) ++per_kernel[c.kernel];
  // 2 sets x 3 batches; attention at two KV lengths.
  EXPECT_EQ(per_kernel,
            (std::map<std::string, int>{
                {"gated_mlp", 6}, {"gqa_decode", 12}, {"lora", 6}, {"rms_norm_qkv", 6}}));
  for (const auto& c : cases) {
    EXPECT_EQ(c.workload.naive.input_types(), c.workload.fused.input_types()) << c.kernel;
    EXPECT_EQ(c.extents.front().first, "batch");
    EXPECT_EQ(c.extents.front().second, c.batch);
  }
  // Qwen3-0.6B: hidden 1024, QKV 4096; GQA keeps one KV cache of 8 heads per sequence.
  EXPECT_EQ(cases[0].workload.shape, "x[1, 1024] w[1024, 4096]");
  const auto qwen_batch8 = kernel_bench_cases({"qwen3-0.6b"}, {8}, core::DType::BF16);
  EXPECT_EQ(qwen_batch8[1].workload.shape, "x[8, 1024] w1[1024, 3072] w2[1024, 3072]");
  EXPECT_EQ(qwen_batch8[3].workload.shape, "q[64, 2, 128] k[64, 1024, 128] v[64, 1024, 128]");
  // Mirage's GQA at batch 8 is its benchmark shape.
  const auto mirage_batch8 = kernel_bench_cases({"mirage"}, {8}, core::DType::BF16);
  EXPECT_EQ(mirage_batch8[4].workload.shape, "q[2, 256, 64] k[2, 4096, 64] v[2, 4096, 64]");
}

TEST(KernelBenchSetTest, RejectsUnknownSetsAndBadBatches) {
  EXPECT_USER_ERROR([] { kernel_bench_cases({"llama"}, {1}, core::DType::BF16); },
                    "unknown shape set 'llama'", "qwen3-0.6b, mirage");
  EXPECT_USER_ERROR([] { kernel_bench_cases({"mirage"}, {0}, core::DType::BF16); }, "batch 0");
}

}  // namespace
}  // namespace yirage::workloads
