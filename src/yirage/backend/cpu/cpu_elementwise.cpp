// Element-wise unary and binary ops: rows of the contiguous last dimension converted to
// float32 in small pieces, computed, and rounded once on store.
#include <algorithm>
#include <cmath>

#include "yirage/backend/cpu/cpu_convert.h"
#include "yirage/backend/cpu/cpu_math.h"
#include "yirage/backend/cpu/cpu_ops.h"
#include "yirage/core/error.h"
#include "yirage/core/thread_pool.h"

namespace yirage::backend::cpu {

namespace {

constexpr int64_t kPiece = 2048;  // floats per conversion buffer (8 KiB, stays in L1)

const char* byte_at(const core::Tensor& t, int64_t element) {
  return static_cast<const char*>(t.data()) +
         element * static_cast<int64_t>(core::dtype_size(t.dtype()));
}

char* byte_at_mut(const core::Tensor& t, int64_t element) {
  return static_cast<char*>(t.data()) + element * static_cast<int64_t>(core::dtype_size(t.dtype()));
}

// Applies unary `op` to `count` floats in place.
YR_CPU_CLONES void apply_unary(ir::OpKind op, float s, float* v, int64_t count) {
  using ir::OpKind;
  switch (op) {
    case OpKind::Exp:
      for (int64_t i = 0; i < count; ++i) v[i] = exp_approx(v[i]);
      return;
    case OpKind::Silu:
      for (int64_t i = 0; i < count; ++i) v[i] = v[i] / (1.0f + exp_approx(-v[i]));
      return;
    case OpKind::Gelu:
      for (int64_t i = 0; i < count; ++i)
        v[i] = 0.5f * v[i] * (1.0f + std::erf(v[i] * 0.70710678118654752440f));
      return;
    case OpKind::Relu:
      for (int64_t i = 0; i < count; ++i) v[i] = v[i] > 0.0f ? v[i] : 0.0f;
      return;
    case OpKind::Sigmoid:
      for (int64_t i = 0; i < count; ++i) v[i] = 1.0f / (1.0f + exp_approx(-v[i]));
      return;
    case OpKind::Sqrt:
      for (int64_t i = 0; i < count; ++i) v[i] = std::sqrt(v[i]);
      return;
    case OpKind::Rsqrt:
      for (int64_t i = 0; i < count; ++i) v[i] = 1.0f / std::sqrt(v[i]);
      return;
    case OpKind::Square:
      for (int64_t i = 0; i < count; ++i) v[i] = v[i] * v[i];
      return;
    case OpKind::Neg:
      for (int64_t i = 0; i < count; ++i) v[i] = -v[i];
      return;
    case OpKind::MulScalar:
      for (int64_t i = 0; i < count; ++i) v[i] = v[i] * s;
      return;
    case OpKind::AddScalar:
      for (int64_t i = 0; i < count; ++i) v[i] = v[i] + s;
      return;
    default:
      break;
  }
  YR_INTERNAL_ERROR("not a unary op: " << ir::op_name(op));
}

// a[i] = a[i] op b[i * b_step] for `count` floats (b_step 0 broadcasts one value).
template <int64_t BStep>
YR_CPU_CLONES void apply_binary_step(ir::OpKind op, float* a, const float* b, int64_t count) {
  using ir::OpKind;
  switch (op) {
    case OpKind::Add:
      for (int64_t i = 0; i < count; ++i) a[i] = a[i] + b[i * BStep];
      return;
    case OpKind::Sub:
      for (int64_t i = 0; i < count; ++i) a[i] = a[i] - b[i * BStep];
      return;
    case OpKind::Mul:
      for (int64_t i = 0; i < count; ++i) a[i] = a[i] * b[i * BStep];
      return;
    case OpKind::Div:
      for (int64_t i = 0; i < count; ++i) a[i] = a[i] / b[i * BStep];
      return;
    case OpKind::Pow:
      for (int64_t i = 0; i < count; ++i) a[i] = std::pow(a[i], b[i * BStep]);
      return;
    default:
      break;
  }
  YR_INTERNAL_ERROR("not a binary op: " << ir::op_name(op));
}

// A broadcast iteration space with adjacent dims merged where every operand allows it.
struct Coalesced {
  core::Shape shape;               // output extents after merging
  std::vector<int64_t> a_strides;  // element strides of a (0 on broadcast dims)
  std::vector<int64_t> b_strides;  // element strides of b
};

std::vector<int64_t> strides_for(const core::Shape& shape, const core::Shape& target) {
  std::vector<int64_t> strides(target.size(), 0);
  const auto own = core::contiguous_strides(shape);
  const std::size_t skip = target.size() - shape.size();
  for (std::size_t i = 0; i < shape.size(); ++i) strides[skip + i] = shape[i] == 1 ? 0 : own[i];
  return strides;
}

Coalesced coalesce(const core::Shape& out, const core::Shape& a, const core::Shape& b) {
  const auto as = strides_for(a, out);
  const auto bs = strides_for(b, out);
  Coalesced result;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out[i] == 1) continue;  // extent-1 dims do not move any operand
    if (!result.shape.empty()) {
      const bool a_fits = (result.a_strides.back() == 0 && as[i] == 0) ||
                          (as[i] != 0 && result.a_strides.back() == as[i] * out[i]);
      const bool b_fits = (result.b_strides.back() == 0 && bs[i] == 0) ||
                          (bs[i] != 0 && result.b_strides.back() == bs[i] * out[i]);
      if (a_fits && b_fits) {
        result.shape.back() *= out[i];
        result.a_strides.back() = as[i];
        result.b_strides.back() = bs[i];
        continue;
      }
    }
    result.shape.push_back(out[i]);
    result.a_strides.push_back(as[i]);
    result.b_strides.push_back(bs[i]);
  }
  if (result.shape.empty()) {
    result.shape = {1};
    result.a_strides = {0};
    result.b_strides = {0};
  }
  return result;
}

int64_t offset_of_row(int64_t row, const core::Shape& shape, const std::vector<int64_t>& strides) {
  int64_t offset = 0;
  for (int64_t d = static_cast<int64_t>(shape.size()) - 2; d >= 0 && row > 0; --d) {
    offset += (row % shape[d]) * strides[d];
    row /= shape[d];
  }
  return offset;
}

// Grain in rows so that one chunk covers about `target` elements.
int64_t row_grain(int64_t row_length, int64_t target = 16384) {
  return std::max<int64_t>(1, target / std::max<int64_t>(1, row_length));
}

}  // namespace

void unary_op(const ir::Node& node, const core::Tensor& x, const core::Tensor& out) {
  const float s =
      node.attrs.has("scalar") ? static_cast<float>(node.attrs.get_float("scalar")) : 0.0f;
  const int64_t count = x.numel();
  const int64_t pieces = (count + kPiece - 1) / kPiece;
  core::ThreadPool::global().parallel_for(pieces, 8, [&](int64_t begin, int64_t end) {
    float buffer[kPiece];
    for (int64_t p = begin; p < end; ++p) {
      const int64_t start = p * kPiece, length = std::min(kPiece, count - start);
      load_floats(byte_at(x, start), x.dtype(), length, buffer);
      apply_unary(node.op, s, buffer, length);
      store_floats(buffer, out.dtype(), length, byte_at_mut(out, start));
    }
  });
}

void binary_op(const ir::Node& node, const core::Tensor& a, const core::Tensor& b,
               const core::Tensor& out) {
  const Coalesced space = coalesce(out.shape(), a.shape(), b.shape());
  const int64_t inner = space.shape.back();
  const int64_t a_step = space.a_strides.back(), b_step = space.b_strides.back();
  const int64_t rows = core::shape_numel(space.shape) / inner;
  const core::DType dtype = out.dtype();
  core::ThreadPool::global().parallel_for(rows, row_grain(inner), [&](int64_t begin, int64_t end) {
    float lhs[kPiece];
    float rhs[kPiece];
    for (int64_t row = begin; row < end; ++row) {
      const int64_t a_row = offset_of_row(row, space.shape, space.a_strides);
      const int64_t b_row = offset_of_row(row, space.shape, space.b_strides);
      for (int64_t start = 0; start < inner; start += kPiece) {
        const int64_t length = std::min(kPiece, inner - start);
        if (a_step != 0) {
          load_floats(byte_at(a, a_row + start), dtype, length, lhs);
        } else {
          std::fill_n(lhs, length, load_float(a.data(), dtype, a_row));
        }
        if (b_step != 0) {
          load_floats(byte_at(b, b_row + start), dtype, length, rhs);
          apply_binary_step<1>(node.op, lhs, rhs, length);
        } else {
          rhs[0] = load_float(b.data(), dtype, b_row);
          apply_binary_step<0>(node.op, lhs, rhs, length);
        }
        store_floats(lhs, dtype, length, byte_at_mut(out, row * inner + start));
      }
    }
  });
}

}  // namespace yirage::backend::cpu
