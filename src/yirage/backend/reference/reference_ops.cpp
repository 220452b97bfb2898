#include "yirage/backend/reference/reference_ops.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "yirage/core/error.h"
#include "yirage/core/thread_pool.h"

namespace yirage::backend::reference {

namespace {

using core::Shape;
using ir::OpKind;

// Product of extents in [begin, end).
int64_t extent_product(const Shape& shape, std::size_t begin, std::size_t end) {
  int64_t product = 1;
  for (std::size_t i = begin; i < end; ++i) product *= shape[i];
  return product;
}

Buffer make_buffer(const Shape& shape) {
  return {shape, std::vector<double>(static_cast<std::size_t>(core::shape_numel(shape)), 0.0)};
}

// Element strides of `shape` when broadcast to `target` (0 on broadcast dims).
std::vector<int64_t> broadcast_strides(const Shape& shape, const Shape& target) {
  std::vector<int64_t> strides(target.size(), 0);
  const auto own = core::contiguous_strides(shape);
  const std::size_t skip = target.size() - shape.size();
  for (std::size_t i = 0; i < shape.size(); ++i) {
    strides[skip + i] = shape[i] == 1 ? 0 : own[i];
  }
  return strides;
}

// Offset into a tensor with `strides` of the row-major index `flat` over `shape`.
int64_t strided_offset(int64_t flat, const Shape& shape, const std::vector<int64_t>& strides) {
  int64_t offset = 0;
  for (int64_t i = static_cast<int64_t>(shape.size()) - 1; i >= 0 && flat > 0; --i) {
    offset += (flat % shape[i]) * strides[i];
    flat /= shape[i];
  }
  return offset;
}

double apply_unary(OpKind op, double x, double s) {
  switch (op) {
#define YR_UNARY_CASE(id, name, spec, expr) \
  case OpKind::id: return (expr);
    YIRAGE_UNARY_OPS(YR_UNARY_CASE)
#undef YR_UNARY_CASE
    default: break;
  }
  YR_INTERNAL_CHECK(false, "not a unary op: " << ir::op_name(op));
}

double apply_binary(OpKind op, double x, double y) {
  switch (op) {
#define YR_BINARY_CASE(id, name, expr) \
  case OpKind::id: return (expr);
    YIRAGE_BINARY_OPS(YR_BINARY_CASE)
#undef YR_BINARY_CASE
    default: break;
  }
  YR_INTERNAL_CHECK(false, "not a binary op: " << ir::op_name(op));
}

Buffer eval_unary(const ir::Node& node, const Buffer& x) {
  const double s = node.attrs.has("scalar") ? node.attrs.get_float("scalar") : 0.0;
  Buffer out = make_buffer(x.shape);
  for (std::size_t i = 0; i < x.data.size(); ++i) out.data[i] = apply_unary(node.op, x.data[i], s);
  return out;
}

Buffer eval_binary(const ir::Node& node, const Buffer& a, const Buffer& b) {
  const Shape& shape = node.outputs[0].shape;
  Buffer out = make_buffer(shape);
  const auto a_strides = broadcast_strides(a.shape, shape);
  const auto b_strides = broadcast_strides(b.shape, shape);
  for (int64_t i = 0; i < static_cast<int64_t>(out.data.size()); ++i) {
    out.data[i] = apply_binary(node.op, a.data[strided_offset(i, shape, a_strides)],
                               b.data[strided_offset(i, shape, b_strides)]);
  }
  return out;
}

Buffer eval_reduce(const ir::Node& node, const Buffer& input) {
  const auto dim = static_cast<std::size_t>(node.attrs.get_int("dim"));
  const int64_t outer = extent_product(input.shape, 0, dim);
  const int64_t extent = input.shape[dim];
  const int64_t inner = extent_product(input.shape, dim + 1, input.shape.size());
  Buffer out = make_buffer(node.outputs[0].shape);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const double* first = input.data.data() + o * extent * inner + i;
      double result = 0.0;
      switch (node.op) {
#define YR_REDUCE_CASE(id, name, init, step, finish)                               \
  case OpKind::id: {                                                               \
    double accumulated = (init);                                                   \
    for (int64_t k = 0; k < extent; ++k) {                                         \
      accumulated = [](double acc, double x) { return (step); }(accumulated, first[k * inner]); \
    }                                                                              \
    result = [](double acc, [[maybe_unused]] int64_t n) { return (finish); }(accumulated, extent); \
    break;                                                                         \
  }
        YIRAGE_REDUCE_OPS(YR_REDUCE_CASE)
#undef YR_REDUCE_CASE
        default: YR_INTERNAL_CHECK(false, "not a reduction: " << ir::op_name(node.op));
      }
      out.data[o * inner + i] = result;
    }
  }
  return out;
}

Buffer eval_matmul(const ir::Node& node, const Buffer& a, const Buffer& b) {
  const Shape& shape = node.outputs[0].shape;
  const std::size_t rank = shape.size();
  const int64_t m = shape[rank - 2], n = shape[rank - 1], k = a.shape.back();
  const Shape batch(shape.begin(), shape.end() - 2);
  const Shape a_batch(a.shape.begin(), a.shape.end() - 2);
  const Shape b_batch(b.shape.begin(), b.shape.end() - 2);
  // Batch strides in units of whole matrices.
  const auto a_strides = broadcast_strides(a_batch, batch);
  const auto b_strides = broadcast_strides(b_batch, batch);
  const int64_t batches = extent_product(batch, 0, batch.size());
  Buffer out = make_buffer(shape);
  core::ThreadPool::global().parallel_for(batches * m, 16, [&](int64_t begin, int64_t end) {
    std::vector<double> row(static_cast<std::size_t>(n));
    for (int64_t item = begin; item < end; ++item) {
      const int64_t bi = item / m, i = item % m;
      const double* a_row = a.data.data() + strided_offset(bi, batch, a_strides) * m * k + i * k;
      const double* b_mat = b.data.data() + strided_offset(bi, batch, b_strides) * k * n;
      std::fill(row.begin(), row.end(), 0.0);
      for (int64_t p = 0; p < k; ++p) {
        const double a_value = a_row[p];
        const double* b_row = b_mat + p * n;
        for (int64_t j = 0; j < n; ++j) row[j] += a_value * b_row[j];
      }
      std::copy(row.begin(), row.end(), out.data.begin() + (bi * m + i) * n);
    }
  });
  return out;
}

Buffer eval_rms_norm(const ir::Node& node, const Buffer& x, const Buffer& weight) {
  const double eps = node.attrs.get_float("eps");
  const int64_t d = x.shape.back();
  const int64_t rows = static_cast<int64_t>(x.data.size()) / d;
  Buffer out = make_buffer(x.shape);
  for (int64_t r = 0; r < rows; ++r) {
    const double* in = x.data.data() + r * d;
    double sum_squares = 0.0;
    for (int64_t i = 0; i < d; ++i) sum_squares += in[i] * in[i];
    const double scale = 1.0 / std::sqrt(sum_squares / static_cast<double>(d) + eps);
    for (int64_t i = 0; i < d; ++i) out.data[r * d + i] = in[i] * scale * weight.data[i];
  }
  return out;
}

Buffer eval_softmax(const ir::Node& node, const Buffer& x) {
  const auto dim = static_cast<std::size_t>(node.attrs.get_int("dim"));
  const int64_t outer = extent_product(x.shape, 0, dim);
  const int64_t n = x.shape[dim];
  const int64_t inner = extent_product(x.shape, dim + 1, x.shape.size());
  Buffer out = make_buffer(x.shape);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      auto at = [&](int64_t k) { return (o * n + k) * inner + i; };
      double peak = -std::numeric_limits<double>::infinity();
      for (int64_t k = 0; k < n; ++k) peak = std::max(peak, x.data[at(k)]);
      double total = 0.0;
      for (int64_t k = 0; k < n; ++k) total += out.data[at(k)] = std::exp(x.data[at(k)] - peak);
      for (int64_t k = 0; k < n; ++k) out.data[at(k)] /= total;
    }
  }
  return out;
}

Buffer eval_concat(const ir::Node& node, const std::vector<const Buffer*>& parts) {
  const auto dim = static_cast<std::size_t>(node.attrs.get_int("dim"));
  const Shape& shape = node.outputs[0].shape;
  const int64_t outer = extent_product(shape, 0, dim);
  const int64_t inner = extent_product(shape, dim + 1, shape.size());
  Buffer out = make_buffer(shape);
  int64_t start = 0;
  for (const Buffer* part : parts) {
    const int64_t extent = part->shape[dim];
    for (int64_t o = 0; o < outer; ++o) {
      std::copy_n(part->data.begin() + o * extent * inner, extent * inner,
                  out.data.begin() + (o * shape[dim] + start) * inner);
    }
    start += extent;
  }
  return out;
}

std::vector<Buffer> eval_split(const ir::Node& node, const Buffer& x) {
  const auto dim = static_cast<std::size_t>(node.attrs.get_int("dim"));
  const int64_t outer = extent_product(x.shape, 0, dim);
  const int64_t inner = extent_product(x.shape, dim + 1, x.shape.size());
  std::vector<Buffer> outputs;
  int64_t start = 0;
  for (const auto& type : node.outputs) {
    Buffer piece = make_buffer(type.shape);
    const int64_t extent = type.shape[dim];
    for (int64_t o = 0; o < outer; ++o) {
      std::copy_n(x.data.begin() + (o * x.shape[dim] + start) * inner, extent * inner,
                  piece.data.begin() + o * extent * inner);
    }
    start += extent;
    outputs.push_back(std::move(piece));
  }
  return outputs;
}

Buffer eval_transpose(const ir::Node& node, const Buffer& x) {
  const auto dim0 = static_cast<std::size_t>(node.attrs.get_int("dim0"));
  const auto dim1 = static_cast<std::size_t>(node.attrs.get_int("dim1"));
  const Shape& shape = node.outputs[0].shape;
  // Strides of the input, permuted into the output's dimension order.
  auto strides = core::contiguous_strides(x.shape);
  std::swap(strides[dim0], strides[dim1]);
  Buffer out = make_buffer(shape);
  for (int64_t i = 0; i < static_cast<int64_t>(out.data.size()); ++i) {
    out.data[i] = x.data[strided_offset(i, shape, strides)];
  }
  return out;
}

Buffer eval_embedding(const ir::Node& node, const Buffer& ids, const Buffer& table) {
  const int64_t rows = table.shape[0], d = table.shape[1];
  Buffer out = make_buffer(node.outputs[0].shape);
  for (std::size_t i = 0; i < ids.data.size(); ++i) {
    const double id = ids.data[i];
    YR_USER_CHECK(id >= 0 && id < static_cast<double>(rows),
                  "embedding: id " << id << " at position " << i << " is out of range for a table of "
                                   << rows << " rows; expected 0 <= id < " << rows);
    std::copy_n(table.data.begin() + static_cast<int64_t>(id) * d, d, out.data.begin() + i * d);
  }
  return out;
}

Buffer eval_rope(const ir::Node& node, const Buffer& x, const Buffer& positions) {
  const double theta = node.attrs.get_float("theta");
  const int64_t d = x.shape.back(), half = d / 2;
  const int64_t count = static_cast<int64_t>(positions.data.size());
  const int64_t rows_per_position = static_cast<int64_t>(x.data.size()) / (count * d);
  Buffer out = make_buffer(x.shape);
  for (int64_t p = 0; p < count; ++p) {
    const double position = positions.data[p];
    for (int64_t i = 0; i < half; ++i) {
      const double angle = position * std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(d));
      const double c = std::cos(angle), s = std::sin(angle);
      for (int64_t r = 0; r < rows_per_position; ++r) {
        const int64_t base = (p * rows_per_position + r) * d;
        const double x1 = x.data[base + i], x2 = x.data[base + half + i];
        out.data[base + i] = x1 * c - x2 * s;
        out.data[base + half + i] = x2 * c + x1 * s;
      }
    }
  }
  return out;
}

}  // namespace

Buffer buffer_from_tensor(const core::Tensor& tensor) {
  YR_USER_CHECK(tensor.device().kind == core::DeviceKind::Cpu,
                "the reference backend reads host memory; got a tensor on " << tensor.device().to_string());
  Buffer buffer = make_buffer(tensor.shape());
  const int64_t count = tensor.numel();
  if (tensor.is_contiguous()) {
    for (int64_t i = 0; i < count; ++i) {
      buffer.data[i] = core::load_as_double(tensor.data(), tensor.dtype(), static_cast<std::size_t>(i));
    }
  } else {
    for (int64_t i = 0; i < count; ++i) buffer.data[i] = tensor.get(i);
  }
  return buffer;
}

core::Tensor tensor_from_buffer(const Buffer& buffer, core::DType dtype) {
  core::Tensor tensor = core::Tensor::empty(buffer.shape, dtype);
  for (std::size_t i = 0; i < buffer.data.size(); ++i) {
    core::store_from_double(tensor.data(), dtype, i, buffer.data[i]);
  }
  return tensor;
}

std::vector<Buffer> evaluate_node(const ir::Node& node, const std::vector<const Buffer*>& in) {
  switch (ir::op_info(node.op).category) {
    case ir::OpCategory::Unary: return {eval_unary(node, *in[0])};
    case ir::OpCategory::Binary: return {eval_binary(node, *in[0], *in[1])};
    case ir::OpCategory::Reduce: return {eval_reduce(node, *in[0])};
    case ir::OpCategory::Structural: break;
  }
  switch (node.op) {
    case OpKind::Matmul: return {eval_matmul(node, *in[0], *in[1])};
    case OpKind::RmsNorm: return {eval_rms_norm(node, *in[0], *in[1])};
    case OpKind::Softmax: return {eval_softmax(node, *in[0])};
    case OpKind::Concat: return {eval_concat(node, in)};
    case OpKind::Split: return eval_split(node, *in[0]);
    case OpKind::Reshape: return {Buffer{node.outputs[0].shape, in[0]->data}};
    case OpKind::Transpose: return {eval_transpose(node, *in[0])};
    case OpKind::Embedding: return {eval_embedding(node, *in[0], *in[1])};
    case OpKind::Rope: return {eval_rope(node, *in[0], *in[1])};
    default: break;
  }
  YR_INTERNAL_CHECK(false, "the reference executor has no kernel for " << ir::op_name(node.op));
}

}  // namespace yirage::backend::reference
