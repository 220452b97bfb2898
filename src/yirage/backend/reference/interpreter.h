// The reference interpreter: every op of the table, written once over an abstract number system.
//
// An Algebra supplies the numbers (Value) and their operations; the interpreter supplies the
// tensor semantics (shapes, broadcasting, reductions, data movement, block graphs). The
// reference backend instantiates it with float64 (RealAlgebra); the verifier with pairs of
// prime-field elements. Every kernel is therefore defined once and checked twice.
//
// An Algebra provides: Value; constant(double); from_index(int64_t); index(Value) -> int64_t;
// unary(OpKind, Value, double scalar); binary(OpKind, Value, Value); reduce_init(OpKind),
// reduce_step(OpKind, acc, x), reduce_finish(OpKind, acc, n); add, sub, mul, div; exp; sqrt;
// rsqrt; greater(a, b) (a total order used by max); lowest() (below every value for max);
// rope_cos / rope_sin(position, pair index, head dim, theta). Optionally
// matmul_accumulate(out, a, b, m, k, n, stride): out[i * stride + j] += sum_p a[i * k + p] *
// b[p * stride + j] for i < m, j < n, a faster matmul on a block of rows and columns (computing
// each element as the plain loop would: the same values, bit for bit).
#pragma once

#include <algorithm>
#include <cstdint>
#include <exception>
#include <functional>
#include <vector>

#include "yirage/core/error.h"
#include "yirage/core/thread_pool.h"
#include "yirage/ir/kernel_graph.h"

namespace yirage::backend::reference {

/// A dense row-major tensor of algebra values.
template <typename Value>
struct Values {
  core::Shape shape;        ///< extents
  std::vector<Value> data;  ///< numel(shape) values, row-major
};

/// Thrown when an interpreter's stop condition holds at a check: the run was abandoned.
class Stopped : public std::exception {
 public:
  /// What happened.
  const char* what() const noexcept override { return "the interpreter was stopped"; }
};

namespace detail {

/// Product of extents in [begin, end).
inline int64_t extent_product(const core::Shape& shape, std::size_t begin, std::size_t end) {
  int64_t product = 1;
  for (std::size_t i = begin; i < end; ++i) product *= shape[i];
  return product;
}

/// Element strides of `shape` broadcast to `target` (0 on broadcast dims).
inline std::vector<int64_t> broadcast_strides(const core::Shape& shape, const core::Shape& target) {
  std::vector<int64_t> strides(target.size(), 0);
  const auto own = core::contiguous_strides(shape);
  const std::size_t skip = target.size() - shape.size();
  for (std::size_t i = 0; i < shape.size(); ++i) strides[skip + i] = shape[i] == 1 ? 0 : own[i];
  return strides;
}

/// Offset, under `strides`, of the row-major index `flat` over `shape`.
inline int64_t strided_offset(int64_t flat, const core::Shape& shape,
                              const std::vector<int64_t>& strides) {
  int64_t offset = 0;
  for (int64_t i = static_cast<int64_t>(shape.size()) - 1; i >= 0 && flat > 0; --i) {
    offset += (flat % shape[i]) * strides[i];
    flat /= shape[i];
  }
  return offset;
}

}  // namespace detail

/// Evaluates single ops of the table over an Algebra.
template <typename Algebra>
class Interpreter {
 public:
  /// The algebra's number type.
  using Value = typename Algebra::Value;
  /// A tensor of Values.
  using Tensor = Values<Value>;

  /// An interpreter computing in `algebra` (kept by reference). When `stop` is given, runs
  /// call it between pieces of work (graph nodes, blocks, matmul blocks) and throw Stopped
  /// once it returns true.
  explicit Interpreter(const Algebra& algebra, std::function<bool()> stop = {})
      : algebra_(algebra), stop_(std::move(stop)) {}

  /// Throws Stopped when the stop condition holds.
  void check_stop() const {
    if (stop_ && stop_()) throw Stopped();
  }

  /// A tensor of `shape` filled with `fill`.
  static Tensor make(const core::Shape& shape, Value fill) {
    return {shape, std::vector<Value>(static_cast<std::size_t>(core::shape_numel(shape)), fill)};
  }

  /// Evaluates `node` (any op but input and customized) on its operands; one tensor per output.
  std::vector<Tensor> evaluate(const ir::Node& node, const std::vector<const Tensor*>& in) const {
    using ir::OpKind;
    switch (ir::op_info(node.op).category) {
      case ir::OpCategory::Unary:
        return {unary(node, *in[0])};
      case ir::OpCategory::Binary:
        return {binary(node, *in[0], *in[1])};
      case ir::OpCategory::Reduce:
        return {reduce(node, *in[0])};
      case ir::OpCategory::Structural:
        break;
    }
    switch (node.op) {
      case OpKind::Matmul:
        return {matmul(node, *in[0], *in[1])};
      case OpKind::RmsNorm:
        return {rms_norm(node, *in[0], *in[1])};
      case OpKind::Softmax:
        return {softmax(node, *in[0])};
      case OpKind::Concat:
        return {concat(node, in)};
      case OpKind::Split:
        return split(node, *in[0]);
      case OpKind::Reshape:
        return {Tensor{node.outputs[0].shape, in[0]->data}};
      case OpKind::Transpose:
        return {transpose(node, *in[0])};
      case OpKind::Embedding:
        return {embedding(node, *in[0], *in[1])};
      case OpKind::Rope:
        return {rope(node, *in[0], *in[1])};
      default:
        break;
    }
    YR_INTERNAL_ERROR("the interpreter has no kernel for " << ir::op_name(node.op));
  }

  /// The algebra in use.
  const Algebra& algebra() const { return algebra_; }

 private:
  Tensor unary(const ir::Node& node, const Tensor& x) const {
    const double s = node.attrs.has("scalar") ? node.attrs.get_float("scalar") : 0.0;
    Tensor out{x.shape, std::vector<Value>(x.data.size())};
    for (std::size_t i = 0; i < x.data.size(); ++i)
      out.data[i] = algebra_.unary(node.op, x.data[i], s);
    return out;
  }

  Tensor binary(const ir::Node& node, const Tensor& a, const Tensor& b) const {
    const core::Shape& shape = node.outputs[0].shape;
    const auto a_strides = detail::broadcast_strides(a.shape, shape);
    const auto b_strides = detail::broadcast_strides(b.shape, shape);
    Tensor out{shape, std::vector<Value>(static_cast<std::size_t>(core::shape_numel(shape)))};
    for (int64_t i = 0; i < static_cast<int64_t>(out.data.size()); ++i) {
      out.data[i] = algebra_.binary(node.op, a.data[detail::strided_offset(i, shape, a_strides)],
                                    b.data[detail::strided_offset(i, shape, b_strides)]);
    }
    return out;
  }

  Tensor reduce(const ir::Node& node, const Tensor& x) const {
    const auto dim = static_cast<std::size_t>(node.attrs.get_int("dim"));
    const int64_t outer = detail::extent_product(x.shape, 0, dim);
    const int64_t extent = x.shape[dim];
    const int64_t inner = detail::extent_product(x.shape, dim + 1, x.shape.size());
    Tensor out{node.outputs[0].shape, std::vector<Value>(static_cast<std::size_t>(outer * inner))};
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) {
        Value acc = algebra_.reduce_init(node.op);
        for (int64_t k = 0; k < extent; ++k) {
          acc = algebra_.reduce_step(node.op, acc, x.data[(o * extent + k) * inner + i]);
        }
        out.data[o * inner + i] = algebra_.reduce_finish(node.op, acc, extent);
      }
    }
    return out;
  }

  Tensor matmul(const ir::Node& node, const Tensor& a, const Tensor& b) const {
    const core::Shape& shape = node.outputs[0].shape;
    const std::size_t rank = shape.size();
    const int64_t m = shape[rank - 2], n = shape[rank - 1], k = a.shape.back();
    const core::Shape batch(shape.begin(), shape.end() - 2);
    const auto a_strides = detail::broadcast_strides({a.shape.begin(), a.shape.end() - 2}, batch);
    const auto b_strides = detail::broadcast_strides({b.shape.begin(), b.shape.end() - 2}, batch);
    const int64_t batches = detail::extent_product(batch, 0, batch.size());
    Tensor out = make(shape, algebra_.constant(0.0));
    // Work items: blocks of rows by chunks of columns of each batch, so that few-row products
    // (decode shapes) still spread over the pool.
    constexpr int64_t kRowBlock = 16, kColumnChunk = 256;
    const int64_t row_blocks = (m + kRowBlock - 1) / kRowBlock;
    const int64_t column_chunks = (n + kColumnChunk - 1) / kColumnChunk;
    const int64_t items = batches * row_blocks * column_chunks;
    core::ThreadPool::global().parallel_for(items, 1, [&](int64_t begin, int64_t end) {
      for (int64_t item = begin; item < end; ++item) {
        check_stop();
        const int64_t bi = item / (row_blocks * column_chunks);
        const int64_t i0 = (item / column_chunks) % row_blocks * kRowBlock;
        const int64_t j0 = item % column_chunks * kColumnChunk;
        const int64_t rows = std::min(kRowBlock, m - i0);
        const int64_t columns = std::min(kColumnChunk, n - j0);
        const Value* a_block =
            a.data.data() + detail::strided_offset(bi, batch, a_strides) * m * k + i0 * k;
        const Value* b_block =
            b.data.data() + detail::strided_offset(bi, batch, b_strides) * k * n + j0;
        Value* out_block = out.data.data() + (bi * m + i0) * n + j0;
        if constexpr (requires {
                        algebra_.matmul_accumulate(out_block, a_block, b_block, rows, k, columns,
                                                   n);
                      }) {
          algebra_.matmul_accumulate(out_block, a_block, b_block, rows, k, columns,
                                     n);  // the algebra's fast path
        } else {
          for (int64_t i = 0; i < rows; ++i) {
            Value* row = out_block + i * n;
            for (int64_t p = 0; p < k; ++p) {
              const Value a_value = a_block[i * k + p];
              const Value* b_row = b_block + p * n;
              for (int64_t j = 0; j < columns; ++j)
                row[j] = algebra_.add(row[j], algebra_.mul(a_value, b_row[j]));
            }
          }
        }
      }
    });
    return out;
  }

  Tensor rms_norm(const ir::Node& node, const Tensor& x, const Tensor& weight) const {
    const Value eps = algebra_.constant(node.attrs.get_float("eps"));
    const int64_t d = x.shape.back();
    const int64_t rows = static_cast<int64_t>(x.data.size()) / d;
    Tensor out{x.shape, std::vector<Value>(x.data.size())};
    for (int64_t r = 0; r < rows; ++r) {
      const Value* in = x.data.data() + r * d;
      Value sum_squares = algebra_.constant(0.0);
      for (int64_t i = 0; i < d; ++i)
        sum_squares = algebra_.add(sum_squares, algebra_.mul(in[i], in[i]));
      const Value mean = algebra_.div(sum_squares, algebra_.from_index(d));
      const Value scale = algebra_.rsqrt(algebra_.add(mean, eps));
      for (int64_t i = 0; i < d; ++i) {
        out.data[r * d + i] = algebra_.mul(algebra_.mul(in[i], scale), weight.data[i]);
      }
    }
    return out;
  }

  Tensor softmax(const ir::Node& node, const Tensor& x) const {
    const auto dim = static_cast<std::size_t>(node.attrs.get_int("dim"));
    const int64_t outer = detail::extent_product(x.shape, 0, dim);
    const int64_t extent = x.shape[dim];
    const int64_t inner = detail::extent_product(x.shape, dim + 1, x.shape.size());
    Tensor out{x.shape, std::vector<Value>(x.data.size())};
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) {
        auto at = [&](int64_t k) { return static_cast<std::size_t>((o * extent + k) * inner + i); };
        Value peak = algebra_.lowest();
        for (int64_t k = 0; k < extent; ++k) {
          if (algebra_.greater(x.data[at(k)], peak)) peak = x.data[at(k)];
        }
        Value total = algebra_.constant(0.0);
        for (int64_t k = 0; k < extent; ++k) {
          out.data[at(k)] = algebra_.exp(algebra_.sub(x.data[at(k)], peak));
          total = algebra_.add(total, out.data[at(k)]);
        }
        for (int64_t k = 0; k < extent; ++k) out.data[at(k)] = algebra_.div(out.data[at(k)], total);
      }
    }
    return out;
  }

  Tensor concat(const ir::Node& node, const std::vector<const Tensor*>& parts) const {
    const auto dim = static_cast<std::size_t>(node.attrs.get_int("dim"));
    const core::Shape& shape = node.outputs[0].shape;
    const int64_t outer = detail::extent_product(shape, 0, dim);
    const int64_t inner = detail::extent_product(shape, dim + 1, shape.size());
    Tensor out{shape, std::vector<Value>(static_cast<std::size_t>(core::shape_numel(shape)))};
    int64_t start = 0;
    for (const Tensor* part : parts) {
      const int64_t extent = part->shape[dim];
      for (int64_t o = 0; o < outer; ++o) {
        std::copy_n(part->data.begin() + o * extent * inner, extent * inner,
                    out.data.begin() + (o * shape[dim] + start) * inner);
      }
      start += extent;
    }
    return out;
  }

  std::vector<Tensor> split(const ir::Node& node, const Tensor& x) const {
    const auto dim = static_cast<std::size_t>(node.attrs.get_int("dim"));
    const int64_t outer = detail::extent_product(x.shape, 0, dim);
    const int64_t inner = detail::extent_product(x.shape, dim + 1, x.shape.size());
    std::vector<Tensor> outputs;
    int64_t start = 0;
    for (const auto& type : node.outputs) {
      const int64_t extent = type.shape[dim];
      Tensor piece{type.shape,
                   std::vector<Value>(static_cast<std::size_t>(outer * extent * inner))};
      for (int64_t o = 0; o < outer; ++o) {
        std::copy_n(x.data.begin() + (o * x.shape[dim] + start) * inner, extent * inner,
                    piece.data.begin() + o * extent * inner);
      }
      start += extent;
      outputs.push_back(std::move(piece));
    }
    return outputs;
  }

  Tensor transpose(const ir::Node& node, const Tensor& x) const {
    const auto dim0 = static_cast<std::size_t>(node.attrs.get_int("dim0"));
    const auto dim1 = static_cast<std::size_t>(node.attrs.get_int("dim1"));
    const core::Shape& shape = node.outputs[0].shape;
    auto strides = core::contiguous_strides(x.shape);
    std::swap(strides[dim0], strides[dim1]);
    Tensor out{shape, std::vector<Value>(x.data.size())};
    for (int64_t i = 0; i < static_cast<int64_t>(out.data.size()); ++i) {
      out.data[i] = x.data[detail::strided_offset(i, shape, strides)];
    }
    return out;
  }

  Tensor embedding(const ir::Node& node, const Tensor& ids, const Tensor& table) const {
    const int64_t rows = table.shape[0], d = table.shape[1];
    Tensor out{node.outputs[0].shape,
               std::vector<Value>(ids.data.size() * static_cast<std::size_t>(d))};
    for (std::size_t i = 0; i < ids.data.size(); ++i) {
      const int64_t id = algebra_.index(ids.data[i]);
      YR_USER_CHECK(id >= 0 && id < rows, "embedding: id " << id << " at position " << i
                                                           << " is out of range for a table of "
                                                           << rows << " rows; expected 0 <= id < "
                                                           << rows);
      std::copy_n(table.data.begin() + id * d, d, out.data.begin() + static_cast<int64_t>(i) * d);
    }
    return out;
  }

  Tensor rope(const ir::Node& node, const Tensor& x, const Tensor& positions) const {
    const double theta = node.attrs.get_float("theta");
    const int64_t d = x.shape.back(), half = d / 2;
    const auto count = static_cast<int64_t>(positions.data.size());
    const int64_t rows_per_position = static_cast<int64_t>(x.data.size()) / (count * d);
    Tensor out{x.shape, std::vector<Value>(x.data.size())};
    for (int64_t p = 0; p < count; ++p) {
      const int64_t position = algebra_.index(positions.data[p]);
      for (int64_t i = 0; i < half; ++i) {
        const Value c = algebra_.rope_cos(position, i, d, theta);
        const Value s = algebra_.rope_sin(position, i, d, theta);
        for (int64_t r = 0; r < rows_per_position; ++r) {
          const int64_t base = (p * rows_per_position + r) * d;
          const Value x1 = x.data[base + i], x2 = x.data[base + half + i];
          out.data[base + i] = algebra_.sub(algebra_.mul(x1, c), algebra_.mul(x2, s));
          out.data[base + half + i] = algebra_.add(algebra_.mul(x2, c), algebra_.mul(x1, s));
        }
      }
    }
    return out;
  }

  const Algebra& algebra_;
  std::function<bool()> stop_;
};

}  // namespace yirage::backend::reference
