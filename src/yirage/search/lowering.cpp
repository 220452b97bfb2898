#include "yirage/search/lowering.h"

#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "yirage/core/error.h"
#include "yirage/ir/block_graph.h"

namespace yirage::search {

namespace {

using ir::AccumKind;
using ir::Attrs;
using ir::OpKind;
using ir::Phase;
using ir::TensorRef;

// A kernel tensor as the block graph holds it.
struct Val {
  TensorRef tile;
  int walked = -1;  // dim of the kernel tensor the for-loop walks, or -1
  // rms_norm over the walked dim: `tile` is x * g; the row factor rsqrt(mean(x^2) + eps) is
  // still to be applied, from the tiles of `norm_x`.
  bool deferred_norm = false;
  TensorRef norm_x{};
  double eps = 0.0;
  int64_t norm_extent = 0;
  // softmax over the walked dim: `tile` is exp(s - m) for the tile max `rel_max` along `dim`.
  bool online = false;
  TensorRef rel_max{};
  int64_t dim = -1;
};

// Thrown (and caught in lower_to_frame) when an op cannot be streamed in the frame.
struct NotStreamable {};

class Lowerer {
 public:
  Lowerer(const ir::KernelGraph& graph, const Frame& frame)
      : graph_(graph),
        frame_(frame),
        block_(
            std::make_shared<ir::BlockGraph>(frame.grid, ir::Dim3{128, 1, 1}, frame.forloop, 64)) {}

  std::optional<ir::KernelGraph> run() {
    const auto& nodes = graph_.nodes();
    vals_.resize(nodes.size());
    int next_input = 0;
    for (std::size_t n = 0; n < nodes.size(); ++n) {
      const ir::Node& node = nodes[n];
      if (node.op == OpKind::Input) {
        const auto k = static_cast<std::size_t>(next_input++);
        Val v;
        v.tile = block_->input(node.outputs[0], frame_.imaps[k], frame_.fmaps[k]);
        v.walked = frame_.forloop > 1 ? frame_.fmaps[k] : -1;
        vals_[n] = {v};
        continue;
      }
      vals_[n] = {lower(node)};
    }
    ir::KernelGraph program;
    std::vector<TensorRef> inputs;
    for (const auto& type : graph_.input_types())
      inputs.push_back(program.input(type.shape, type.dtype));
    for (const auto& out : graph_.outputs()) {
      const Val& v = vals_[out.node][out.output];
      if (v.deferred_norm || v.online || block_->phase(v.tile) == Phase::Loop)
        throw NotStreamable{};
      block_->output(v.tile, output_map(block_->type(v.tile), graph_.type(out)));
    }
    for (const auto& out : program.customized(inputs, block_)) program.mark_output(out);
    return program;
  }

 private:
  const Val& operand(const ir::Node& node, std::size_t i) const {
    return vals_[node.inputs[i].node][node.inputs[i].output];
  }
  static bool plain(const Val& v) { return !v.deferred_norm && !v.online; }

  TensorRef op(OpKind kind, std::vector<TensorRef> inputs, Attrs attrs = {}) {
    return block_->add_op(kind, inputs, std::move(attrs))[0];
  }
  TensorRef scalar(OpKind kind, TensorRef x, double value) {
    Attrs attrs;
    attrs.set("scalar", value);
    return op(kind, {x}, std::move(attrs));
  }
  TensorRef reduce(OpKind kind, TensorRef x, int64_t dim) {
    Attrs attrs;
    attrs.set("dim", dim).set("keepdim", true);
    return op(kind, {x}, std::move(attrs));
  }
  TensorRef accumulate(AccumKind kind, TensorRef x, std::optional<TensorRef> m = std::nullopt) {
    return block_->accumulate(kind, x, m);
  }

  Val lower(const ir::Node& node) {
    const ir::OpCategory category = ir::op_info(node.op).category;
    const auto rank = static_cast<int>(node.outputs[0].shape.size());
    const auto normalize = [&](int64_t dim, int r) {
      return static_cast<int>(dim < 0 ? dim + r : dim);
    };
    std::vector<TensorRef> tiles;
    for (std::size_t i = 0; i < node.inputs.size(); ++i) tiles.push_back(operand(node, i).tile);
    if (category == ir::OpCategory::Unary || category == ir::OpCategory::Binary) {
      Val out;
      bool loop = false, after = false;
      for (std::size_t i = 0; i < node.inputs.size(); ++i) {
        const Val& v = operand(node, i);
        if (!plain(v)) throw NotStreamable{};
        const Phase phase = block_->phase(v.tile);
        loop = loop || phase == Phase::Loop;
        after = after || phase == Phase::AfterLoop;
        if (v.walked < 0) continue;
        const int r = static_cast<int>(graph_.type(node.inputs[i]).shape.size());
        const int aligned = rank - r + v.walked;
        if (out.walked >= 0 && out.walked != aligned) throw NotStreamable{};
        out.walked = aligned;
      }
      if (loop && after) throw NotStreamable{};
      out.tile = op(node.op, tiles, node.attrs);
      return out;
    }
    switch (node.op) {
      case OpKind::Transpose: {
        Val out = operand(node, 0);
        if (!plain(out)) throw NotStreamable{};
        const int d0 = normalize(node.attrs.get_int("dim0"), rank);
        const int d1 = normalize(node.attrs.get_int("dim1"), rank);
        if (out.walked == d0) {
          out.walked = d1;
        } else if (out.walked == d1) {
          out.walked = d0;
        }
        out.tile = op(OpKind::Transpose, tiles, node.attrs);
        return out;
      }
      case OpKind::RmsNorm: {
        const Val& x = operand(node, 0);
        if (!plain(x) || !plain(operand(node, 1))) throw NotStreamable{};
        Val out;
        out.walked = x.walked;
        if (x.walked != rank - 1) {
          out.tile = op(OpKind::RmsNorm, tiles, node.attrs);
          return out;
        }
        out.tile = op(OpKind::Mul, tiles);
        out.deferred_norm = true;
        out.norm_x = x.tile;
        out.eps = node.attrs.get_float("eps");
        out.norm_extent = node.outputs[0].shape.back();
        return out;
      }
      case OpKind::Softmax: {
        const Val& s = operand(node, 0);
        if (!plain(s)) throw NotStreamable{};
        const int dim = normalize(node.attrs.get_int("dim"), rank);
        Val out;
        out.walked = s.walked;
        if (s.walked != dim) {
          out.tile = op(OpKind::Softmax, tiles, node.attrs);
          return out;
        }
        out.online = true;
        out.dim = dim;
        out.rel_max = reduce(OpKind::Max, s.tile, dim);
        out.tile = op(OpKind::Exp, {op(OpKind::Sub, {s.tile, out.rel_max})});
        return out;
      }
      case OpKind::Matmul:
        return matmul(node, tiles);
      case OpKind::Sum:
      case OpKind::Max:
      case OpKind::Mean: {
        const Val& x = operand(node, 0);
        if (!plain(x)) throw NotStreamable{};
        const int r = static_cast<int>(graph_.type(node.inputs[0]).shape.size());
        const int dim = normalize(node.attrs.get_int("dim"), r);
        const bool keepdim = node.attrs.get_bool("keepdim");
        Val out;
        if (x.walked != dim) {
          out.tile = op(node.op, tiles, node.attrs);
          out.walked = !keepdim && x.walked > dim ? x.walked - 1 : x.walked;
          return out;
        }
        if (!keepdim) throw NotStreamable{};
        const TensorRef part =
            reduce(node.op == OpKind::Max ? OpKind::Max : OpKind::Sum, x.tile, dim);
        out.tile = accumulate(node.op == OpKind::Max ? AccumKind::Max : AccumKind::Sum, part);
        if (node.op == OpKind::Mean) {
          const auto extent = graph_.type(node.inputs[0]).shape[static_cast<std::size_t>(dim)];
          out.tile = scalar(OpKind::MulScalar, out.tile, 1.0 / static_cast<double>(extent));
        }
        return out;
      }
      default:
        throw NotStreamable{};
    }
  }

  Val matmul(const ir::Node& node, const std::vector<TensorRef>& tiles) {
    const Val& a = operand(node, 0);
    const Val& b = operand(node, 1);
    const auto ra = static_cast<int>(graph_.type(node.inputs[0]).shape.size());
    const auto rb = static_cast<int>(graph_.type(node.inputs[1]).shape.size());
    const int r = static_cast<int>(node.outputs[0].shape.size());
    const bool a_contracted = a.walked == ra - 1;
    const bool b_contracted = b.walked == rb - 2;
    if (!plain(b)) throw NotStreamable{};
    Val out;
    if (a_contracted != b_contracted) throw NotStreamable{};
    if (!a_contracted) {
      if (!plain(a)) throw NotStreamable{};
      if (a.walked >= 0) out.walked = a.walked == ra - 2 ? r - 2 : r - ra + a.walked;
      if (b.walked >= 0) {
        const int w = b.walked == rb - 1 ? r - 1 : r - rb + b.walked;
        if (out.walked >= 0 && out.walked != w) throw NotStreamable{};
        out.walked = w;
      }
      out.tile = op(OpKind::Matmul, tiles);
      return out;
    }
    const TensorRef product = op(OpKind::Matmul, tiles);
    if (a.online) {
      // softmax(s) @ v: both the weighted sum and the denominator rescaled to the running max.
      const TensorRef weighted = accumulate(AccumKind::RescaledSum, product, a.rel_max);
      const TensorRef denominator =
          accumulate(AccumKind::RescaledSum, reduce(OpKind::Sum, a.tile, a.dim), a.rel_max);
      out.tile = op(OpKind::Div, {weighted, denominator});
      return out;
    }
    const TensorRef sum = accumulate(AccumKind::Sum, product);
    if (!a.deferred_norm) {
      out.tile = sum;
      return out;
    }
    // rms_norm(x, g) @ w: the row factor, a sum of squares accumulated alongside, comes last.
    const auto last = static_cast<int64_t>(block_->type(a.norm_x).shape.size()) - 1;
    const TensorRef squares =
        accumulate(AccumKind::Sum, reduce(OpKind::Sum, op(OpKind::Square, {a.norm_x}), last));
    const TensorRef mean =
        scalar(OpKind::MulScalar, squares, 1.0 / static_cast<double>(a.norm_extent));
    const TensorRef factor = op(OpKind::Rsqrt, {scalar(OpKind::AddScalar, mean, a.eps)});
    out.tile = op(OpKind::Mul, {sum, factor});
    return out;
  }

  ir::DimMap output_map(const ir::TensorType& tile, const ir::TensorType& wanted) const {
    const int64_t blocks = frame_.grid[0];
    if (tile.shape.size() != wanted.shape.size()) throw NotStreamable{};
    if (blocks == 1) {
      if (tile.shape == wanted.shape) return {-1, -1, -1};
      throw NotStreamable{};
    }
    for (std::size_t dim = 0; dim < tile.shape.size(); ++dim) {
      core::Shape shape = tile.shape;
      shape[dim] *= blocks;
      if (shape == wanted.shape) return {static_cast<int>(dim), -1, -1};
    }
    throw NotStreamable{};
  }

  const ir::KernelGraph& graph_;
  const Frame& frame_;
  std::shared_ptr<ir::BlockGraph> block_;
  std::vector<std::vector<Val>> vals_;
};

}  // namespace

std::optional<ir::KernelGraph> lower_to_frame(const ir::KernelGraph& graph, const Frame& frame) {
  try {
    return Lowerer(graph, frame).run();
  } catch (const NotStreamable&) {
    return std::nullopt;
  } catch (const core::UserError&) {
    return std::nullopt;  // the builder refused a tile shape or map
  }
}

std::optional<ir::KernelGraph> split_reduction(const ir::KernelGraph& program, int64_t splits) {
  const ir::Node* kernel = nullptr;
  for (const auto& node : program.nodes()) {
    if (node.op == OpKind::Input) continue;
    if (node.op != OpKind::Customized || kernel != nullptr) return std::nullopt;
    kernel = &node;
  }
  if (kernel == nullptr || kernel->block_graph == nullptr || splits < 2) return std::nullopt;
  const ir::BlockGraph& one = *kernel->block_graph;
  const int64_t range = one.forloop_range();
  if (range < splits || range % splits != 0 || one.grid_dims()[1] != 1 || one.grid_dims()[2] != 1)
    return std::nullopt;
  for (const auto& output : one.outputs()) {
    if (one.phase(output.tile) != Phase::AfterLoop) return std::nullopt;
  }
  try {
    const ir::Dim3 grid = one.grid_dims();
    auto first = std::make_shared<ir::BlockGraph>(ir::Dim3{grid[0], splits, 1}, one.block_dims(),
                                                  range / splits, one.reduction_dimx());
    const auto& nodes = one.nodes();
    std::vector<TensorRef> mapped(nodes.size());
    std::map<int32_t, TensorRef> running_max;  // node of m -> max accumulator of it
    std::vector<int32_t> accumulators;         // accumulate nodes of `one`
    for (std::size_t n = 0; n < nodes.size(); ++n) {
      const ir::BlockNode& node = nodes[n];
      std::vector<TensorRef> operands;
      for (const auto& ref : node.inputs) operands.push_back(mapped[ref.node]);
      switch (node.kind) {
        case ir::BlockNodeKind::Input: {
          const ir::BlockInput& in = one.inputs()[static_cast<std::size_t>(node.input_index)];
          ir::DimMap map = in.input_map;
          if (in.forloop_dim >= 0) map[1] = in.forloop_dim;
          mapped[n] = first->input(in.dtensor, map, in.forloop_dim);
          break;
        }
        case ir::BlockNodeKind::Op:
          if (node.phase == Phase::AfterLoop) break;  // the combining kernel runs these
          mapped[n] = first->add_op(node.op, operands, node.attrs)[0];
          break;
        case ir::BlockNodeKind::Accumulate: {
          std::optional<TensorRef> m;
          if (operands.size() > 1) {
            m = operands[1];
            const int32_t source = node.inputs[1].node;
            if (!running_max.count(source))
              running_max[source] = first->accumulate(AccumKind::Max, operands[1]);
          }
          mapped[n] = first->accumulate(node.accum, operands[0], m);
          accumulators.push_back(static_cast<int32_t>(n));
          break;
        }
        case ir::BlockNodeKind::ReduceToDimx:
          return std::nullopt;
      }
    }
    // Partials: each accumulator's tile laid out along grid x (dim 0) and the splits (dim 1).
    const auto rank =
        first->type(mapped[static_cast<std::size_t>(accumulators.at(0))]).shape.size();
    if (rank < 2) return std::nullopt;
    const ir::DimMap partial_map = {grid[0] > 1 ? 0 : -1, 1, -1};
    for (int32_t a : accumulators) first->output(mapped[static_cast<std::size_t>(a)], partial_map);
    for (const auto& [source, max] : running_max) first->output(max, partial_map);

    ir::KernelGraph result;
    std::vector<TensorRef> inputs;
    for (const auto& type : program.input_types())
      inputs.push_back(result.input(type.shape, type.dtype));
    const auto partials = result.customized(inputs, first);
    auto second = std::make_shared<ir::BlockGraph>(ir::Dim3{grid[0], 1, 1}, one.block_dims(),
                                                   splits, one.reduction_dimx());
    const ir::DimMap read_map = {partial_map[0], -1, -1};
    std::vector<TensorRef> parts;
    for (const auto& partial : partials)
      parts.push_back(second->input(result.type(partial), read_map, 1));
    std::map<int32_t, TensorRef> part_max;
    std::size_t next = accumulators.size();
    for (const auto& [source, max] : running_max) part_max[source] = parts[next++];
    std::vector<TensorRef> combined(nodes.size());
    for (std::size_t i = 0; i < accumulators.size(); ++i) {
      const ir::BlockNode& node = nodes[static_cast<std::size_t>(accumulators[i])];
      std::optional<TensorRef> m;
      if (node.inputs.size() > 1) m = part_max.at(node.inputs[1].node);
      combined[static_cast<std::size_t>(accumulators[i])] =
          second->accumulate(node.accum, parts[i], m);
    }
    for (std::size_t n = 0; n < nodes.size(); ++n) {
      const ir::BlockNode& node = nodes[n];
      if (node.kind != ir::BlockNodeKind::Op || node.phase != Phase::AfterLoop) continue;
      std::vector<TensorRef> operands;
      for (const auto& ref : node.inputs) {
        if (nodes[ref.node].phase != Phase::AfterLoop) return std::nullopt;  // invariant input
        operands.push_back(combined[ref.node]);
      }
      combined[n] = second->add_op(node.op, operands, node.attrs)[0];
    }
    for (const auto& output : one.outputs())
      second->output(combined[output.tile.node], output.output_map);
    for (const auto& out : result.customized(partials, second)) result.mark_output(out);
    return result;
  } catch (const core::UserError&) {
    return std::nullopt;
  } catch (const std::out_of_range&) {
    return std::nullopt;
  }
}

}  // namespace yirage::search
