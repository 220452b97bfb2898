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
/// the first out-of-range id. Grid-stride kernels launch at most a few blocks per SM of a device
/// with `multiprocessors` SMs (0: no device, up to 65536 blocks).
KernelSource generate_op_kernel(const ir::Node& node, const std::vector<ir::TensorType>& inputs,
                                int multiprocessors = 0);

/// The tiled matmul kernel for matmul `node`; with `b_transposed` its second parameter holds B
/// transposed (the n x k source of a transpose of the last two dims, same batch dims).
KernelSource generate_matmul_kernel(const ir::Node& node, const std::vector<ir::TensorType>& inputs,
                                    bool b_transposed);

}  // namespace yirage::backend::cuda
