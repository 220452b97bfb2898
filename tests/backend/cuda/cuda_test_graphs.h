// Kernel graphs the CUDA tests compile and run: every op of the table on small shapes, and the
// hand-fused workloads (block graphs) at small and standard shapes.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "yirage/ir/kernel_graph.h"

namespace yirage::testing {

/// One graph per op family (element-wise with broadcasting, reductions, rms_norm, softmax,
/// rope, embedding, concat/split, reshape, transpose, matmul), named, in `dtype`.
std::vector<std::pair<std::string, ir::KernelGraph>> cuda_op_graphs(core::DType dtype);

/// The fused (block-graph) and naive forms of every workload at small shapes, named.
std::vector<std::pair<std::string, ir::KernelGraph>> cuda_workload_graphs(core::DType dtype);

}  // namespace yirage::testing
