// The workloads the kernel benchmarks time: each at Qwen3-0.6B and Mirage shapes and a batch.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "yirage/workloads/workloads.h"

namespace yirage::workloads {

/// One benchmark row: a workload at one shape set and batch, with the extents that define it.
struct KernelBenchCase {
  std::string shape_set;  ///< "qwen3-0.6b" or "mirage"
  std::string kernel;     ///< "rms_norm_qkv", "gated_mlp", "lora" or "gqa_decode"
  int64_t batch = 1;      ///< sequences decoded together
  std::vector<std::pair<std::string, int64_t>> extents;  ///< e.g. {"hidden", 1024}, in order
  Workload workload;                                     ///< the naive graph and fused program
};

/// Shape sets kernel_bench_cases knows, in order.
const std::vector<std::string>& kernel_bench_shape_sets();

/// Every kernel of every set in `shape_sets` at every batch, in `dtype`:
/// - RMSNorm+QKV matmul(rms_norm(x), w): qwen3-0.6b x[b, 1024] w[1024, 4096]; mirage hidden
///   4096, out 6144;
/// - gated MLP silu(x w1) * (x w2): qwen3-0.6b 1024 -> 3072; mirage 4096 -> 4096;
/// - LoRA x w + (x a) b, rank 16: qwen3-0.6b 1024 -> 4096; mirage 256 -> 4096;
/// - GQA decode at KV lengths 1024 and 4096: qwen3-0.6b 8 KV heads of 128 with 2 query heads
///   each, per sequence (kv_heads = 8 b); mirage 2 KV heads of 64 shared by the batch, 32
///   query heads each per sequence (group = 32 b).
/// An unknown set name is a UserError listing the known ones.
std::vector<KernelBenchCase> kernel_bench_cases(const std::vector<std::string>& shape_sets,
                                                const std::vector<int64_t>& batches,
                                                core::DType dtype);

}  // namespace yirage::workloads
