// CUDA kernels for single ops of the table (the unfused path): element-wise with broadcasting,
// reductions, rms_norm, softmax, rope, embedding, layout copies and a tiled matmul.
#pragma once

#include <vector>

#include "yirage/backend/cuda/kernel_source.h"
#include "yirage/ir/kernel_graph.h"

namespace yirage::backend::cuda {

/// The kernel computing `node` (any op but input, reshape and customized) from operands of
/// types `inputs`. Its parameters are one pointer per operand, then one per output (all
/// contiguous device tensors); embedding also takes an `int*` status word that receives 1 +
/// the first out-of-range id.
KernelSource generate_op_kernel(const ir::Node& node, const std::vector<ir::TensorType>& inputs);

}  // namespace yirage::backend::cuda
