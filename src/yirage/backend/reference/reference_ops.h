// The reference kernels: every op of the table on dense row-major float64 buffers.
#pragma once

#include <vector>

#include "yirage/core/tensor.h"
#include "yirage/ir/kernel_graph.h"

namespace yirage::backend::reference {

/// A dense row-major float64 tensor, the reference executor's only value type.
struct Buffer {
  core::Shape shape;         ///< extents
  std::vector<double> data;  ///< numel(shape) values, row-major
};

/// Converts any host tensor (any dtype, any strides) to a Buffer.
Buffer buffer_from_tensor(const core::Tensor& tensor);
/// Converts a Buffer to a new contiguous host tensor of `dtype`, rounding to nearest even.
core::Tensor tensor_from_buffer(const Buffer& buffer, core::DType dtype);

/// Evaluates one node on its operand values; returns one Buffer per output.
std::vector<Buffer> evaluate_node(const ir::Node& node, const std::vector<const Buffer*>& operands);

}  // namespace yirage::backend::reference
