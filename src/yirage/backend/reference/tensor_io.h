// Conversions between host tensors of any dtype and the float64 values of the interpreter.
#pragma once

#include "yirage/backend/reference/interpreter.h"
#include "yirage/core/tensor.h"

namespace yirage::backend::reference {

/// A dense row-major float64 tensor.
using Buffer = Values<double>;

/// Reads any host tensor (any dtype, any strides) into a Buffer.
Buffer buffer_from_tensor(const core::Tensor& tensor);
/// Writes a Buffer to a new contiguous host tensor of `dtype`, rounding to nearest even.
core::Tensor tensor_from_buffer(const Buffer& buffer, core::DType dtype);

}  // namespace yirage::backend::reference
