// The unfused kernel-level ops of the cpu backend: one function per op family, each reading
// contiguous host tensors and writing into preallocated contiguous outputs of the node's types.
#pragma once

#include <vector>

#include "yirage/core/tensor.h"
#include "yirage/ir/kernel_graph.h"

namespace yirage::backend::cpu {

/// Operands of one node.
using TensorList = std::vector<core::Tensor>;

/// Runs `node` (any op but input and customized) on `inputs`, writing `outputs`.
void run_op(const ir::Node& node, const TensorList& inputs, const TensorList& outputs);

/// Element-wise unary ops (cpu_elementwise.cpp).
void unary_op(const ir::Node& node, const core::Tensor& x, const core::Tensor& out);
/// Element-wise binary ops with NumPy broadcasting (cpu_elementwise.cpp).
void binary_op(const ir::Node& node, const core::Tensor& a, const core::Tensor& b,
               const core::Tensor& out);

/// sum, max and mean over one dimension (cpu_reduce.cpp).
void reduce_op(const ir::Node& node, const core::Tensor& x, const core::Tensor& out);
/// Softmax over one dimension (cpu_reduce.cpp).
void softmax_op(const ir::Node& node, const core::Tensor& x, const core::Tensor& out);
/// RMS normalization over the last dimension (cpu_reduce.cpp).
void rms_norm_op(const ir::Node& node, const core::Tensor& x, const core::Tensor& weight,
                 const core::Tensor& out);

/// Rotary embedding, NeoX layout (cpu_position.cpp).
void rope_op(const ir::Node& node, const core::Tensor& x, const core::Tensor& positions,
             const core::Tensor& out);
/// Table rows gathered by integer ids (cpu_position.cpp).
void embedding_op(const core::Tensor& ids, const core::Tensor& table, const core::Tensor& out);

/// Concatenation (cpu_layout.cpp).
void concat_op(const ir::Node& node, const TensorList& parts, const core::Tensor& out);
/// Split into consecutive pieces (cpu_layout.cpp).
void split_op(const ir::Node& node, const core::Tensor& x, const TensorList& outputs);
/// Copy of the same bytes under a new shape (cpu_layout.cpp).
void reshape_op(const core::Tensor& x, const core::Tensor& out);
/// Swap of two dimensions (cpu_layout.cpp).
void transpose_op(const ir::Node& node, const core::Tensor& x, const core::Tensor& out);

/// Batched matmul with broadcasting batch dimensions (cpu_matmul.cpp).
void matmul_op(const core::Tensor& a, const core::Tensor& b, const core::Tensor& out);

}  // namespace yirage::backend::cpu
