// Shape and dtype inference for every op of the table.
#include <algorithm>
#include <limits>
#include <string>

#include "yirage/core/error.h"
#include "yirage/ir/kernel_graph.h"

namespace yirage::ir {

namespace {

using core::DType;
using core::Shape;

int64_t rank_of(const TensorType& type) {
  return static_cast<int64_t>(type.shape.size());
}

// Normalizes a possibly negative dim of a tensor of rank `rank` and stores it back.
int64_t normalize_dim(std::string_view op, const char* attr, const TensorType& type, Attrs& attrs) {
  const int64_t rank = rank_of(type);
  const int64_t dim = attrs.get_int(attr);
  YR_USER_CHECK(rank > 0,
                op << ": input " << type.to_string() << " is a scalar; expected rank >= 1");
  YR_USER_CHECK(dim >= -rank && dim < rank,
                op << ": " << attr << " " << dim << " is out of range for " << type.to_string()
                   << "; expected -" << rank << " <= " << attr << " < " << rank);
  const int64_t normalized = dim < 0 ? dim + rank : dim;
  attrs.set(attr, normalized);
  return normalized;
}

void require_float(std::string_view op, const char* role, const TensorType& type) {
  YR_USER_CHECK(core::dtype_is_float(type.dtype), op << ": " << role << " is " << type.to_string()
                                                     << "; expected float32, float16 or bfloat16");
}

void require_int(std::string_view op, const char* role, const TensorType& type) {
  YR_USER_CHECK(!core::dtype_is_float(type.dtype),
                op << ": " << role << " is " << type.to_string() << "; expected int32 or int64");
}

void require_same_dtype(std::string_view op, const TensorType& a, const TensorType& b) {
  YR_USER_CHECK(a.dtype == b.dtype, op << ": operands " << a.to_string() << " and " << b.to_string()
                                       << " have different dtypes; expected one dtype");
}

// NumPy broadcasting of two shapes, or nullopt when they do not broadcast.
std::optional<Shape> broadcast_shapes(const Shape& a, const Shape& b) {
  const std::size_t rank = std::max(a.size(), b.size());
  Shape result(rank);
  for (std::size_t i = 0; i < rank; ++i) {
    const int64_t ea = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const int64_t eb = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (ea != eb && ea != 1 && eb != 1) return std::nullopt;
    result[i] = std::max(ea, eb);
  }
  return result;
}

TensorType infer_unary(std::string_view name, const TensorType& x) {
  require_float(name, "input", x);
  return x;
}

TensorType infer_binary(std::string_view name, const TensorType& a, const TensorType& b) {
  require_float(name, "first operand", a);
  require_same_dtype(name, a, b);
  auto shape = broadcast_shapes(a.shape, b.shape);
  YR_USER_CHECK(shape.has_value(), name << ": shapes " << core::shape_to_string(a.shape) << " and "
                                        << core::shape_to_string(b.shape)
                                        << " do not broadcast; expected equal extents or 1 in "
                                           "each trailing dimension");
  return {*shape, a.dtype};
}

TensorType infer_reduce(std::string_view name, const TensorType& x, Attrs& attrs) {
  require_float(name, "input", x);
  YR_USER_CHECK(!x.shape.empty(),
                name << ": input " << x.to_string() << " is a scalar; expected rank >= 1");
  const int64_t dim = normalize_dim(name, "dim", x, attrs);
  Shape shape = x.shape;
  if (attrs.get_bool("keepdim")) {
    shape[dim] = 1;
  } else {
    shape.erase(shape.begin() + dim);
  }
  return {shape, x.dtype};
}

TensorType infer_matmul(const TensorType& a, const TensorType& b) {
  require_float("matmul", "first operand", a);
  require_same_dtype("matmul", a, b);
  YR_USER_CHECK(rank_of(a) >= 2 && rank_of(b) >= 2,
                "matmul: operands "
                    << a.to_string() << " and " << b.to_string()
                    << " must have rank >= 2; expected a[..., M, K] and b[..., K, N]");
  const int64_t k_a = a.shape.back();
  const int64_t k_b = b.shape[b.shape.size() - 2];
  YR_USER_CHECK(k_a == k_b, "matmul: inner dimensions differ: "
                                << a.to_string() << " @ " << b.to_string() << " (" << k_a << " vs "
                                << k_b << "); expected a[..., M, K] and b[..., K, N]");
  const Shape batch_a(a.shape.begin(), a.shape.end() - 2);
  const Shape batch_b(b.shape.begin(), b.shape.end() - 2);
  auto batch = broadcast_shapes(batch_a, batch_b);
  YR_USER_CHECK(batch.has_value(), "matmul: batch dimensions of " << a.to_string() << " and "
                                                                  << b.to_string()
                                                                  << " do not broadcast");
  Shape shape = *batch;
  shape.push_back(a.shape[a.shape.size() - 2]);
  shape.push_back(b.shape.back());
  return {shape, a.dtype};
}

TensorType infer_rms_norm(const TensorType& x, const TensorType& weight, Attrs& attrs) {
  require_float("rms_norm", "input", x);
  require_same_dtype("rms_norm", x, weight);
  YR_USER_CHECK(!x.shape.empty(),
                "rms_norm: input " << x.to_string() << " is a scalar; expected rank >= 1");
  YR_USER_CHECK(weight.shape == Shape{x.shape.back()},
                "rms_norm: weight " << weight.to_string() << " does not match input "
                                    << x.to_string() << "; expected weight of shape ["
                                    << x.shape.back() << "]");
  const double eps = attrs.get_float("eps");
  YR_USER_CHECK(eps >= 0.0, "rms_norm: eps " << eps << " is negative; expected eps >= 0");
  return x;
}

TensorType infer_concat(const std::vector<TensorType>& parts, Attrs& attrs) {
  const TensorType& first = parts[0];
  YR_USER_CHECK(!first.shape.empty(),
                "concat: input 0 " << first.to_string() << " is a scalar; expected rank >= 1");
  const int64_t dim = normalize_dim("concat", "dim", first, attrs);
  Shape shape = first.shape;
  shape[dim] = 0;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const TensorType& part = parts[i];
    require_same_dtype("concat", first, part);
    bool fits = part.shape.size() == first.shape.size();
    for (std::size_t d = 0; fits && d < part.shape.size(); ++d) {
      fits = static_cast<int64_t>(d) == dim || part.shape[d] == first.shape[d];
    }
    YR_USER_CHECK(fits, "concat: input " << i << " " << part.to_string()
                                         << " does not match input 0 " << first.to_string()
                                         << "; expected equal extents except in dim " << dim);
    shape[dim] += part.shape[dim];
  }
  return {shape, first.dtype};
}

std::vector<TensorType> infer_split(const TensorType& x, Attrs& attrs) {
  YR_USER_CHECK(!x.shape.empty(),
                "split: input " << x.to_string() << " is a scalar; expected rank >= 1");
  const int64_t dim = normalize_dim("split", "dim", x, attrs);
  const auto& sizes = attrs.get_ints("sizes");
  YR_USER_CHECK(!sizes.empty(), "split: sizes is empty; expected at least one piece");
  int64_t total = 0;
  std::vector<TensorType> outputs;
  for (int64_t size : sizes) {
    YR_USER_CHECK(size >= 1,
                  "split: piece size " << size << " is not positive; expected sizes >= 1");
    total += size;
    TensorType piece = x;
    piece.shape[dim] = size;
    outputs.push_back(piece);
  }
  YR_USER_CHECK(total == x.shape[dim], "split: sizes " << attr_value_to_string(sizes)
                                                       << " add up to " << total << ", but dim "
                                                       << dim << " of " << x.to_string()
                                                       << " has extent " << x.shape[dim]);
  return outputs;
}

TensorType infer_reshape(const TensorType& x, Attrs& attrs) {
  Shape shape = attrs.get_ints("shape");
  const int64_t count = core::shape_numel(x.shape);
  int64_t known = 1;
  int inferred = -1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      YR_USER_CHECK(inferred < 0, "reshape: shape "
                                      << core::shape_to_string(shape)
                                      << " has more than one -1; expected at most one");
      inferred = static_cast<int>(i);
    } else {
      YR_USER_CHECK(shape[i] >= 1, "reshape: shape " << core::shape_to_string(shape)
                                                     << " has extent " << shape[i]
                                                     << "; expected extents >= 1 or one -1");
      YR_USER_CHECK(shape[i] <= std::numeric_limits<int64_t>::max() / known,
                    "reshape: cannot reshape " << x.to_string() << " (" << count << " elements) to "
                                               << core::shape_to_string(shape)
                                               << " (more than 2^63 - 1 elements)");
      known *= shape[i];
    }
  }
  if (inferred >= 0) {
    YR_USER_CHECK(count % known == 0, "reshape: cannot reshape "
                                          << x.to_string() << " to " << core::shape_to_string(shape)
                                          << "; " << count << " elements do not divide by "
                                          << known);
    shape[inferred] = count / known;
    known = count;
  }
  YR_USER_CHECK(known == count, "reshape: cannot reshape "
                                    << x.to_string() << " (" << count << " elements) to "
                                    << core::shape_to_string(shape) << " (" << known
                                    << " elements)");
  attrs.set("shape", shape);
  return {shape, x.dtype};
}

TensorType infer_transpose(const TensorType& x, Attrs& attrs) {
  const int64_t dim0 = normalize_dim("transpose", "dim0", x, attrs);
  const int64_t dim1 = normalize_dim("transpose", "dim1", x, attrs);
  TensorType result = x;
  std::swap(result.shape[dim0], result.shape[dim1]);
  return result;
}

TensorType infer_embedding(const TensorType& ids, const TensorType& table) {
  require_int("embedding", "ids", ids);
  require_float("embedding", "table", table);
  YR_USER_CHECK(rank_of(table) == 2, "embedding: table " << table.to_string() << " has rank "
                                                         << rank_of(table)
                                                         << "; expected a [vocab, dim] table");
  Shape shape = ids.shape;
  shape.push_back(table.shape[1]);
  return {shape, table.dtype};
}

TensorType infer_rope(const TensorType& x, const TensorType& positions, Attrs& attrs) {
  require_float("rope", "input", x);
  require_int("rope", "positions", positions);
  YR_USER_CHECK(!x.shape.empty() && x.shape.back() % 2 == 0,
                "rope: input " << x.to_string()
                               << " has an odd or missing last dim; expected an even head dim");
  const bool prefix = positions.shape.size() < x.shape.size() &&
                      std::equal(positions.shape.begin(), positions.shape.end(), x.shape.begin());
  YR_USER_CHECK(prefix, "rope: positions "
                            << positions.to_string() << " do not match input " << x.to_string()
                            << "; expected positions shaped like the leading dims of the input");
  const double theta = attrs.get_float("theta");
  YR_USER_CHECK(theta > 0.0, "rope: theta " << theta << " is not positive; expected theta > 0");
  return x;
}

}  // namespace

std::vector<TensorType> infer_output_types(OpKind op, const std::vector<TensorType>& in,
                                           Attrs& attrs) {
  const OpInfo& info = op_info(op);
  switch (info.category) {
    case OpCategory::Unary:
      return {infer_unary(info.name, in[0])};
    case OpCategory::Binary:
      return {infer_binary(info.name, in[0], in[1])};
    case OpCategory::Reduce:
      return {infer_reduce(info.name, in[0], attrs)};
    case OpCategory::Structural:
      break;
  }
  switch (op) {
    case OpKind::Matmul:
      return {infer_matmul(in[0], in[1])};
    case OpKind::RmsNorm:
      return {infer_rms_norm(in[0], in[1], attrs)};
    case OpKind::Softmax:
      require_float("softmax", "input", in[0]);
      normalize_dim("softmax", "dim", in[0], attrs);
      return {in[0]};
    case OpKind::Concat:
      return {infer_concat(in, attrs)};
    case OpKind::Split:
      return infer_split(in[0], attrs);
    case OpKind::Reshape:
      return {infer_reshape(in[0], attrs)};
    case OpKind::Transpose:
      return {infer_transpose(in[0], attrs)};
    case OpKind::Embedding:
      return {infer_embedding(in[0], in[1])};
    case OpKind::Rope:
      return {infer_rope(in[0], in[1], attrs)};
    case OpKind::Input:
    case OpKind::Customized:
      break;
    default:
      break;
  }
  YR_INTERNAL_ERROR("no shape rule for " << info.name);
}

}  // namespace yirage::ir
