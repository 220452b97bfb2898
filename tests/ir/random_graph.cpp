#include "ir/random_graph.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>

#include "yirage/core/error.h"

namespace yirage::testing {

using core::DType;
using core::Shape;
using ir::KernelGraph;
using ir::OpKind;
using ir::TensorRef;
using ir::TensorType;

uint64_t Rng::next() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

int64_t Rng::uniform(int64_t lo, int64_t hi) {
  YR_INTERNAL_CHECK(lo <= hi, "empty range [" << lo << ", " << hi << "]");
  return lo + static_cast<int64_t>(next() % static_cast<uint64_t>(hi - lo + 1));
}

bool Rng::chance(double p) {
  return real(0.0, 1.0) < p;
}

double Rng::real(double lo, double hi) {
  return lo + (hi - lo) * static_cast<double>(next() >> 11) * 0x1.0p-53;
}

namespace {

// Largest number of elements of a tensor the generator creates.
constexpr int64_t kMaxElements = 4096;

// Builds one random graph; each op_* method adds one node or returns false when the graph holds
// no tensor it can apply to.
class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {
    const DType floats[] = {DType::F32, DType::F16, DType::BF16};
    float_dtype_ = floats[rng_.uniform(0, 2)];
    const int64_t count = rng_.uniform(1, 3);
    for (int64_t i = 0; i < count; ++i) new_input(random_shape(1, 4), float_dtype_);
  }

  KernelGraph finish(int num_ops) {
    for (int i = 0; i < num_ops; ++i) {
      while (!add_random_op()) {
      }
    }
    // The newest tensor, then up to two more, some possibly repeated or inputs.
    graph_.mark_output(tensors_.back());
    const int64_t extra = rng_.uniform(0, 2);
    for (int64_t i = 0; i < extra; ++i) {
      graph_.mark_output(recent([](const TensorType&) { return true; }).value());
    }
    return std::move(graph_);
  }

 private:
  using Filter = std::function<bool(const TensorType&)>;

  const TensorType& type(TensorRef ref) const { return graph_.type(ref); }
  int64_t rank(TensorRef ref) const { return static_cast<int64_t>(type(ref).shape.size()); }

  TensorRef new_input(const Shape& shape, DType dtype) {
    const TensorRef ref = graph_.input(shape, dtype);
    tensors_.push_back(ref);
    return ref;
  }

  void keep(const std::vector<TensorRef>& refs) {
    tensors_.insert(tensors_.end(), refs.begin(), refs.end());
  }

  int64_t extent() { return rng_.chance(0.15) ? 1 : rng_.uniform(2, 6); }

  Shape random_shape(int64_t min_rank, int64_t max_rank) {
    Shape shape(rng_.uniform(min_rank, max_rank));
    for (auto& e : shape) e = extent();
    return shape;
  }

  DType int_dtype() { return rng_.chance(0.5) ? DType::I32 : DType::I64; }

  // A tensor passing `filter`, biased toward recent ones so graphs grow deep; nullopt if none.
  std::optional<TensorRef> recent(const Filter& filter) {
    std::vector<TensorRef> matches;
    for (const auto& ref : tensors_) {
      if (filter(type(ref))) matches.push_back(ref);
    }
    if (matches.empty()) return std::nullopt;
    const auto n = static_cast<int64_t>(matches.size());
    const int64_t lo = rng_.chance(0.7) ? std::max<int64_t>(0, n - 4) : 0;
    return matches[rng_.uniform(lo, n - 1)];
  }

  // With probability `p`, a tensor passing `filter` (nullopt if none); otherwise nullopt.
  std::optional<TensorRef> maybe_recent(double p, const Filter& filter) {
    return rng_.chance(p) ? recent(filter) : std::nullopt;
  }

  bool is_float(const TensorType& t) const { return t.dtype == float_dtype_; }

  Filter float_of_rank(int64_t min_rank) const {
    return [this, min_rank](const TensorType& t) {
      return is_float(t) && static_cast<int64_t>(t.shape.size()) >= min_rank;
    };
  }

  int64_t random_dim(int64_t rank) { return rng_.uniform(-rank, rank - 1); }

  bool add_random_op() {
    switch (rng_.uniform(0, 17)) {
      case 0:
      case 1:
        return op_unary();
      case 2:
      case 3:
      case 4:
        return op_binary();
      case 5:
      case 6:
        return op_reduce();
      case 7:
      case 8:
        return op_matmul();
      case 9:
        return op_rms_norm();
      case 10:
        return op_softmax();
      case 11:
        return op_concat();
      case 12:
        return op_split();
      case 13:
        return op_chunk();
      case 14:
        return op_reshape();
      case 15:
        return op_transpose();
      case 16:
        return op_embedding();
      default:
        return op_rope();
    }
  }

  bool op_unary() {
    const auto x = recent(float_of_rank(0));
    if (!x) return false;
    const OpKind ops[] = {OpKind::Exp,     OpKind::Silu,      OpKind::Gelu,     OpKind::Relu,
                          OpKind::Sigmoid, OpKind::Sqrt,      OpKind::Rsqrt,    OpKind::Square,
                          OpKind::Neg,     OpKind::MulScalar, OpKind::AddScalar};
    const OpKind op = ops[rng_.uniform(0, 10)];
    const double scalar = std::round(rng_.real(-4.0, 4.0) * 8.0) / 8.0;
    tensors_.push_back(graph_.unary(op, *x, scalar));
    return true;
  }

  // Elements of the broadcast of shapes a and b; nullopt when they do not broadcast.
  static std::optional<int64_t> broadcast_numel(const Shape& a, const Shape& b) {
    const std::size_t r = std::max(a.size(), b.size());
    int64_t count = 1;
    for (std::size_t i = 0; i < r; ++i) {
      const int64_t ea = i < r - a.size() ? 1 : a[i - (r - a.size())];
      const int64_t eb = i < r - b.size() ? 1 : b[i - (r - b.size())];
      if (ea != eb && ea != 1 && eb != 1) return std::nullopt;
      count *= std::max(ea, eb);
    }
    return count;
  }

  // True when shapes a and b broadcast to a shape of at most kMaxElements elements.
  static bool broadcastable(const Shape& a, const Shape& b) {
    const auto count = broadcast_numel(a, b);
    return count && *count <= kMaxElements;
  }

  // A shape that broadcasts against `shape`: dims set to 1, dims of extent 1 widened, leading
  // dims dropped or added.
  Shape broadcast_partner(const Shape& shape) {
    Shape partner = shape;
    for (auto& e : partner) {
      if (e == 1 && rng_.chance(0.3)) {
        e = rng_.uniform(2, 4);
      } else if (rng_.chance(0.3)) {
        e = 1;
      }
    }
    if (!partner.empty() && rng_.chance(0.3)) {
      partner.erase(partner.begin(), partner.begin() + rng_.uniform(1, partner.size()));
    } else if (partner.size() < 4 && rng_.chance(0.15)) {
      partner.insert(partner.begin(), rng_.uniform(1, 3));
    }
    return partner;
  }

  bool op_binary() {
    const auto a = recent(float_of_rank(0));
    if (!a) return false;
    const Shape a_shape = type(*a).shape;
    std::optional<TensorRef> b;
    const int64_t choice = rng_.uniform(0, 9);
    if (choice < 3) {
      b = a;
    } else if (choice < 6) {
      b = recent(
          [&](const TensorType& t) { return is_float(t) && broadcastable(a_shape, t.shape); });
    }
    if (!b) {
      Shape shape = broadcast_partner(a_shape);
      if (!broadcastable(a_shape, shape)) shape = a_shape;
      b = new_input(shape, float_dtype_);
    }
    const OpKind ops[] = {OpKind::Add, OpKind::Sub, OpKind::Mul, OpKind::Div, OpKind::Pow};
    const OpKind op = ops[rng_.uniform(0, 4)];
    const bool swap = rng_.chance(0.5);
    tensors_.push_back(graph_.binary(op, swap ? *b : *a, swap ? *a : *b));
    return true;
  }

  bool op_reduce() {
    const auto x = recent(float_of_rank(1));
    if (!x) return false;
    const OpKind ops[] = {OpKind::Sum, OpKind::Max, OpKind::Mean};
    // One draw per statement: the order of evaluation of call arguments is unspecified, and the
    // same seed must give the same graph with every compiler.
    const OpKind op = ops[rng_.uniform(0, 2)];
    const int64_t dim = random_dim(rank(*x));
    const bool keepdim = rng_.chance(0.5);
    tensors_.push_back(graph_.reduce(op, *x, dim, keepdim));
    return true;
  }

  bool op_matmul() {
    const auto a = recent(float_of_rank(2));
    if (!a) return false;
    const Shape a_shape = type(*a).shape;
    const int64_t m = a_shape[a_shape.size() - 2];
    const int64_t k = a_shape.back();
    const Shape a_batch(a_shape.begin(), a_shape.end() - 2);
    // Elements of a @ b for b of shape `b_shape`, or nullopt when the batch dims do not fit.
    auto result_numel = [&](const Shape& b_shape) -> std::optional<int64_t> {
      const auto batch = broadcast_numel(a_batch, Shape(b_shape.begin(), b_shape.end() - 2));
      if (!batch) return std::nullopt;
      return *batch * m * b_shape.back();
    };
    auto b = maybe_recent(0.4, [&](const TensorType& t) {
      if (!is_float(t) || t.shape.size() < 2 || t.shape[t.shape.size() - 2] != k) return false;
      const auto count = result_numel(t.shape);
      return count && *count <= kMaxElements;
    });
    if (!b) {
      Shape shape = rng_.chance(0.5) ? Shape{} : broadcast_partner(a_batch);
      shape.push_back(k);
      shape.push_back(rng_.uniform(1, 8));
      const auto count = result_numel(shape);
      if (!count || *count > kMaxElements) shape = {k, 1};
      b = new_input(shape, float_dtype_);
    }
    tensors_.push_back(graph_.matmul(*a, *b));
    return true;
  }

  bool op_rms_norm() {
    const auto x = recent(float_of_rank(1));
    if (!x) return false;
    const Shape weight_shape = {type(*x).shape.back()};
    auto weight = maybe_recent(
        0.5, [&](const TensorType& t) { return is_float(t) && t.shape == weight_shape; });
    if (!weight) weight = new_input(weight_shape, float_dtype_);
    const double eps_choices[] = {1e-6, 1e-5, rng_.real(0.0, 1e-3)};
    tensors_.push_back(graph_.rms_norm(*x, *weight, eps_choices[rng_.uniform(0, 2)]));
    return true;
  }

  bool op_softmax() {
    const auto x = recent(float_of_rank(1));
    if (!x) return false;
    tensors_.push_back(graph_.softmax(*x, random_dim(rank(*x))));
    return true;
  }

  bool op_concat() {
    const auto x = recent([](const TensorType& t) { return !t.shape.empty(); });
    if (!x) return false;
    const TensorType x_type = type(*x);
    const auto r = static_cast<int64_t>(x_type.shape.size());
    const int64_t dim = rng_.uniform(0, r - 1);
    std::vector<TensorRef> parts = {*x};
    int64_t total = x_type.shape[dim];
    const int64_t others = rng_.uniform(1, 2);
    for (int64_t i = 0; i < others; ++i) {
      std::optional<TensorRef> part;
      if (rng_.chance(0.3)) {
        part = x;
      } else if (rng_.chance(0.5)) {
        part = recent([&](const TensorType& t) {
          if (t.dtype != x_type.dtype || t.shape.size() != x_type.shape.size()) return false;
          for (int64_t d = 0; d < r; ++d) {
            if (d != dim && t.shape[d] != x_type.shape[d]) return false;
          }
          return true;
        });
      }
      if (!part) {
        Shape shape = x_type.shape;
        shape[dim] = rng_.uniform(1, 4);
        part = new_input(shape, x_type.dtype);
      }
      total += type(*part).shape[dim];
      parts.push_back(*part);
    }
    if (core::shape_numel(x_type.shape) / x_type.shape[dim] * total > kMaxElements) return false;
    std::reverse(parts.begin(), parts.begin() + rng_.uniform(0, parts.size()));
    tensors_.push_back(graph_.concat(parts, rng_.chance(0.3) ? dim - r : dim));
    return true;
  }

  // A tensor with a dim whose extent satisfies `fits`, and that dim; nullopt if none.
  std::optional<std::pair<TensorRef, int64_t>> with_dim(const std::function<bool(int64_t)>& fits) {
    const auto x = recent(
        [&](const TensorType& t) { return std::any_of(t.shape.begin(), t.shape.end(), fits); });
    if (!x) return std::nullopt;
    const Shape& shape = type(*x).shape;
    std::vector<int64_t> dims;
    for (std::size_t d = 0; d < shape.size(); ++d) {
      if (fits(shape[d])) dims.push_back(static_cast<int64_t>(d));
    }
    return std::pair{*x, dims[rng_.uniform(0, dims.size() - 1)]};
  }

  bool op_split() {
    const auto found = with_dim([](int64_t e) { return e >= 2; });
    if (!found) return false;
    const auto [x, dim] = *found;
    int64_t left = type(x).shape[dim];
    std::vector<int64_t> sizes;
    while (left > 0) {
      const int64_t size = sizes.size() == 3 ? left : rng_.uniform(1, left);
      sizes.push_back(size);
      left -= size;
    }
    keep(graph_.split(x, sizes, rng_.chance(0.3) ? dim - rank(x) : dim));
    return true;
  }

  bool op_chunk() {
    const auto found = with_dim([](int64_t e) { return e % 2 == 0 || e % 3 == 0; });
    if (!found) return false;
    const auto [x, dim] = *found;
    const int64_t e = type(x).shape[dim];
    std::vector<int64_t> divisors;
    for (int64_t c = 1; c <= e; ++c) {
      if (e % c == 0) divisors.push_back(c);
    }
    keep(graph_.chunk(x, divisors[rng_.uniform(1, divisors.size() - 1)], dim));
    return true;
  }

  bool op_reshape() {
    const auto x = recent([](const TensorType&) { return true; });
    int64_t left = core::shape_numel(type(*x).shape);
    Shape shape;
    const int64_t max_rank = rng_.uniform(1, 4);
    while (static_cast<int64_t>(shape.size()) + 1 < max_rank && left > 1) {
      std::vector<int64_t> divisors;
      for (int64_t d = 1; d <= left; ++d) {
        if (left % d == 0) divisors.push_back(d);
      }
      const int64_t d = divisors[rng_.uniform(0, divisors.size() - 1)];
      shape.push_back(d);
      left /= d;
    }
    shape.push_back(left);
    std::reverse(shape.begin(), shape.begin() + rng_.uniform(0, shape.size()));
    if (rng_.chance(0.4)) shape[rng_.uniform(0, shape.size() - 1)] = -1;
    tensors_.push_back(graph_.reshape(*x, shape));
    return true;
  }

  bool op_transpose() {
    const auto x = recent([](const TensorType& t) { return t.shape.size() >= 2; });
    if (!x) return false;
    const int64_t dim0 = random_dim(rank(*x));
    const int64_t dim1 = random_dim(rank(*x));
    tensors_.push_back(graph_.transpose(*x, dim0, dim1));
    return true;
  }

  bool op_embedding() {
    auto ids = maybe_recent(0.4, [](const TensorType& t) {
      return !core::dtype_is_float(t.dtype) && core::shape_numel(t.shape) <= 16;
    });
    if (!ids) ids = new_input(random_shape(1, 2), int_dtype());
    auto table = maybe_recent(0.4, [](const TensorType& t) {
      return core::dtype_is_float(t.dtype) && t.shape.size() == 2;
    });
    if (!table) table = new_input({rng_.uniform(2, 16), rng_.uniform(1, 8)}, float_dtype_);
    if (core::shape_numel(type(*ids).shape) * type(*table).shape[1] > kMaxElements) return false;
    tensors_.push_back(graph_.embedding(*ids, *table));
    return true;
  }

  bool op_rope() {
    const auto x = recent([this](const TensorType& t) {
      return is_float(t) && t.shape.size() >= 2 && t.shape.back() % 2 == 0;
    });
    if (!x) return false;
    const Shape& x_shape = type(*x).shape;
    const Shape prefix(x_shape.begin(),
                       x_shape.begin() + rng_.uniform(1, static_cast<int64_t>(x_shape.size()) - 1));
    auto positions = maybe_recent(0.4, [&](const TensorType& t) {
      return !core::dtype_is_float(t.dtype) && t.shape == prefix;
    });
    if (!positions) positions = new_input(prefix, int_dtype());
    const double thetas[] = {10000.0, 500000.0, 1000000.0};
    tensors_.push_back(graph_.rope(*x, *positions, thetas[rng_.uniform(0, 2)]));
    return true;
  }

  Rng rng_;
  KernelGraph graph_;
  DType float_dtype_ = DType::F32;
  std::vector<TensorRef> tensors_;  // every tensor created, in creation order
};

}  // namespace

KernelGraph random_kernel_graph(uint64_t seed, int num_ops) {
  return Generator(seed).finish(num_ops);
}

KernelGraph reorder_kernel_graph(const KernelGraph& graph, uint64_t seed) {
  Rng rng(seed);
  const auto& nodes = graph.nodes();
  std::vector<int64_t> input_position(nodes.size(), -1);
  for (std::size_t i = 0; i < graph.input_nodes().size(); ++i) {
    input_position[graph.input_nodes()[i]] = static_cast<int64_t>(i);
  }
  std::vector<int32_t> new_index(nodes.size(), -1);
  int64_t next_input = 0;
  KernelGraph result;
  auto map = [&](TensorRef ref) { return TensorRef{new_index[ref.node], ref.output}; };
  for (std::size_t placed = 0; placed < nodes.size(); ++placed) {
    std::vector<std::size_t> ready;
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      if (new_index[i] >= 0) continue;
      if (nodes[i].op == OpKind::Input && input_position[i] != next_input) continue;
      const bool operands_placed =
          std::all_of(nodes[i].inputs.begin(), nodes[i].inputs.end(),
                      [&](TensorRef ref) { return new_index[ref.node] >= 0; });
      if (operands_placed) ready.push_back(i);
    }
    YR_INTERNAL_CHECK(!ready.empty(), "graph is not a DAG");
    const std::size_t pick = ready[rng.uniform(0, static_cast<int64_t>(ready.size()) - 1)];
    const ir::Node& node = nodes[pick];
    std::vector<TensorRef> inputs;
    for (const auto& ref : node.inputs) inputs.push_back(map(ref));
    std::vector<TensorRef> refs;
    if (node.op == OpKind::Input) {
      refs = {result.input(node.outputs[0].shape, node.outputs[0].dtype)};
      ++next_input;
    } else if (node.op == OpKind::Customized) {
      refs = result.customized(inputs, node.block_graph);
    } else {
      refs = result.add_node(node.op, inputs, node.attrs);
    }
    new_index[pick] = refs[0].node;
  }
  for (const auto& ref : graph.outputs()) result.mark_output(map(ref));
  return result;
}

}  // namespace yirage::testing
