// Kernel graphs the CUDA tests compile and run: every op of the table on small shapes, and the
// hand-fused workloads (block graphs) at small and standard shapes.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "yirage/ir/kernel_graph.h"

namespace yirage::testing {

/// One graph per op family (element-wise with broadcasting, reductions, rms_norm, softmax,
/// rope, embedding, concat/split, reshape, transpose, matmul), named, in `dtype`.
std::vector<std::pair<std::string, ir::KernelGraph>> cuda_op_graphs(core::DType dtype);

/// Attention (a fused program) with K stored as [heads, head_dim, kv_len], multiplied without a
/// transpose; `splits` > 1 adds the split-KV combine kernel.
ir::KernelGraph attention_with_k_by_columns(int64_t heads, int64_t rows, int64_t kv_len,
                                            int64_t head_dim, core::DType dtype, int64_t splits,
                                            int64_t loops);

/// The fused (block-graph) and naive forms of every workload at small shapes, named.
std::vector<std::pair<std::string, ir::KernelGraph>> cuda_workload_graphs(core::DType dtype);

}  // namespace yirage::testing
