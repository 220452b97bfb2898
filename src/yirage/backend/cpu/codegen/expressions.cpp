#include "yirage/backend/cpu/codegen/expressions.h"

#include <cmath>
#include <cstdio>

#include "yirage/core/error.h"

// GCC 12 reports a false -Wrestrict inside std::string for `"literal" + std::string(...)`
// (GCC bug 105329); this file builds source text that way throughout.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
#pragma GCC diagnostic ignored "-Wrestrict"
#endif

namespace yirage::backend::cpu::codegen {

using core::DType;
using core::Shape;
using ir::OpKind;

std::string str(int64_t value) {
  return std::to_string(value);
}

std::string float_literal(double value) {
  const auto f = static_cast<float>(value);
  if (std::isnan(f)) return "std::numeric_limits<float>::quiet_NaN()";
  if (std::isinf(f)) {
    return f > 0 ? "std::numeric_limits<float>::infinity()"
                 : "-std::numeric_limits<float>::infinity()";
  }
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.9g", static_cast<double>(f));
  std::string text = buffer;
  if (text.find_first_of(".eEn") == std::string::npos) text += ".0";
  return text + "f";
}

int64_t extent_product(const Shape& shape, std::size_t begin, std::size_t end) {
  int64_t product = 1;
  for (std::size_t i = begin; i < end; ++i) product *= shape[i];
  return product;
}

int64_t numel(const Shape& shape) {
  return extent_product(shape, 0, shape.size());
}

std::vector<int64_t> contiguous(const Shape& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (int64_t d = static_cast<int64_t>(shape.size()) - 2; d >= 0; --d)
    strides[d] = strides[d + 1] * shape[d + 1];
  return strides;
}

std::vector<int64_t> broadcast_strides(const Shape& shape, const Shape& target) {
  std::vector<int64_t> strides(target.size(), 0);
  const auto own = contiguous(shape);
  const std::size_t skip = target.size() - shape.size();
  for (std::size_t i = 0; i < shape.size(); ++i) strides[skip + i] = shape[i] == 1 ? 0 : own[i];
  return strides;
}

std::string linear(const std::vector<std::string>& vars, const std::vector<int64_t>& strides) {
  std::string text;
  for (std::size_t d = 0; d < strides.size(); ++d) {
    if (strides[d] == 0) continue;
    if (!text.empty()) text += " + ";
    text += strides[d] == 1 ? vars[d] : vars[d] + " * " + str(strides[d]);
  }
  return text.empty() ? "0" : text;
}

const char* storage_type(DType dtype) {
  switch (dtype) {
    case DType::F32:
      return "float";
    case DType::F16:
    case DType::BF16:
      return "uint16_t";
    case DType::I32:
      return "int32_t";
    case DType::I64:
      return "int64_t";
  }
  YR_INTERNAL_ERROR("unhandled dtype " << static_cast<int>(dtype));
}

std::string load_expr(DType dtype, const std::string& value) {
  switch (dtype) {
    case DType::F32:
      return value;
    case DType::F16:
      return "yr_f16_to_f32(" + value + ")";
    case DType::BF16:
      return "yr_bf16_to_f32(" + value + ")";
    case DType::I32:
    case DType::I64:
      return "static_cast<float>(" + value + ")";
  }
  YR_INTERNAL_ERROR("unhandled dtype " << static_cast<int>(dtype));
}

std::string store_expr(DType dtype, const std::string& value) {
  switch (dtype) {
    case DType::F32:
      return value;
    case DType::F16:
      return "yr_f32_to_f16(" + value + ")";
    case DType::BF16:
      return "yr_f32_to_bf16(" + value + ")";
    case DType::I32:
      return "yr_f32_to_i32(" + value + ")";
    case DType::I64:
      return "yr_f32_to_i64(" + value + ")";
  }
  YR_INTERNAL_ERROR("unhandled dtype " << static_cast<int>(dtype));
}

std::string unary_expr(OpKind op, const std::string& x, double scalar) {
  const std::string p = "(" + x + ")";
  switch (op) {
    case OpKind::Exp:
      return "yr_exp(" + x + ")";
    case OpKind::Silu:
      return "(" + p + " / (1.0f + yr_exp(-" + p + ")))";
    case OpKind::Gelu:
      return "(0.5f * " + p + " * (1.0f + std::erf(" + p + " * 0.707106781f)))";
    case OpKind::Relu:
      return "(" + p + " > 0.0f ? " + p + " : 0.0f)";
    case OpKind::Sigmoid:
      return "(1.0f / (1.0f + yr_exp(-" + p + ")))";
    case OpKind::Sqrt:
      return "std::sqrt(" + x + ")";
    case OpKind::Rsqrt:
      return "(1.0f / std::sqrt(" + x + "))";
    case OpKind::Square:
      return "(" + p + " * " + p + ")";
    case OpKind::Neg:
      return "(-" + p + ")";
    case OpKind::MulScalar:
      return "(" + p + " * " + float_literal(scalar) + ")";
    case OpKind::AddScalar:
      return "(" + p + " + " + float_literal(scalar) + ")";
    default:
      break;
  }
  YR_INTERNAL_ERROR("no f32 expression for unary op " << ir::op_name(op));
}

std::string binary_expr(OpKind op, const std::string& x, const std::string& y) {
  switch (op) {
    case OpKind::Add:
      return "(" + x + " + " + y + ")";
    case OpKind::Sub:
      return "(" + x + " - " + y + ")";
    case OpKind::Mul:
      return "(" + x + " * " + y + ")";
    case OpKind::Div:
      return "(" + x + " / " + y + ")";
    case OpKind::Pow:
      return "std::pow(" + x + ", " + y + ")";
    default:
      break;
  }
  YR_INTERNAL_ERROR("no f32 expression for binary op " << ir::op_name(op));
}

}  // namespace yirage::backend::cpu::codegen
