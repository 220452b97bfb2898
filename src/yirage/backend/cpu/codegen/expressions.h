// C++ text for generated kernels: literals, dtype conversions, element-wise expressions and
// index arithmetic over static shapes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "yirage/core/tensor.h"
#include "yirage/ir/op.h"

namespace yirage::backend::cpu::codegen {

/// Decimal text of an integer.
std::string str(int64_t value);
/// A C++ float literal that reads back as float(value) (infinities and NaN included).
std::string float_literal(double value);
/// Product of extents [begin, end) of `shape`.
int64_t extent_product(const core::Shape& shape, std::size_t begin, std::size_t end);
/// Number of elements of `shape`.
int64_t numel(const core::Shape& shape);
/// Row-major element strides of `shape`.
std::vector<int64_t> contiguous(const core::Shape& shape);
/// Element strides of `shape` broadcast (NumPy rules) to `target`; 0 on broadcast dims.
std::vector<int64_t> broadcast_strides(const core::Shape& shape, const core::Shape& target);
/// sum_d vars[d] * strides[d] as C++ text; "0" when every stride is 0.
std::string linear(const std::vector<std::string>& vars, const std::vector<int64_t>& strides);
/// The C++ type a kernel stores elements of `dtype` in.
const char* storage_type(core::DType dtype);
/// The f32 value of stored element `value` of `dtype`.
std::string load_expr(core::DType dtype, const std::string& value);
/// The stored form of f32 `value` as `dtype`: round to nearest even for floats, saturating
/// truncation for integers.
std::string store_expr(core::DType dtype, const std::string& value);
/// The f32 expression of element-wise unary op `op` on `x` (ops.def semantics).
std::string unary_expr(ir::OpKind op, const std::string& x, double scalar);
/// The f32 expression of element-wise binary op `op` on `x` and `y` (ops.def semantics).
std::string binary_expr(ir::OpKind op, const std::string& x, const std::string& y);

}  // namespace yirage::backend::cpu::codegen
