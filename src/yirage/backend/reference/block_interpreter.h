// Reference execution of block graphs over an Algebra: the grid and the for-loop, tile by tile.
#pragma once

#include <vector>

#include "yirage/backend/reference/interpreter.h"
#include "yirage/ir/block_graph.h"

namespace yirage::backend::reference {

namespace detail {

/// Calls visit(outer_offset, box_offset) for each row (last-dim run) of a box of `box` extents
/// placed at `offsets` in a row-major tensor of `outer` extents.
template <typename Visit>
void for_each_box_row(const core::Shape& outer, const core::Shape& box,
                      const std::vector<int64_t>& offsets, Visit visit) {
  const std::size_t rank = box.size();
  if (rank == 0) {
    visit(0, 0);
    return;
  }
  const auto outer_strides = core::contiguous_strides(outer);
  const int64_t rows = extent_product(box, 0, rank - 1);
  for (int64_t row = 0; row < rows; ++row) {
    int64_t rest = row, outer_offset = offsets[rank - 1];
    for (int64_t d = static_cast<int64_t>(rank) - 2; d >= 0; --d) {
      outer_offset += (rest % box[d] + offsets[d]) * outer_strides[d];
      rest /= box[d];
    }
    visit(outer_offset, row * box[rank - 1]);
  }
}

/// Offset of element `flat` of a tensor of `shape` in an operand of `operand` shape (same
/// rank, extents equal or 1) broadcast to it.
inline int64_t broadcast_index(int64_t flat, const core::Shape& shape, const core::Shape& operand) {
  int64_t offset = 0, stride = 1;
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    const int64_t coordinate = flat % shape[d];
    flat /= shape[d];
    if (operand[d] != 1) offset += coordinate * stride;
    stride *= operand[d];
  }
  return offset;
}

}  // namespace detail

/// Runs block graphs over an Algebra, reusing the op kernels of Interpreter on tiles.
template <typename Algebra>
class BlockInterpreter {
 public:
  /// The algebra's number type.
  using Value = typename Algebra::Value;
  /// A tensor of Values.
  using Tensor = Values<Value>;

  /// A block interpreter over `ops` (kept by reference).
  explicit BlockInterpreter(const Interpreter<Algebra>& ops) : ops_(ops), algebra_(ops.algebra()) {}

  /// Runs `graph` on one tensor per block input; returns one tensor per block output.
  std::vector<Tensor> run(const ir::BlockGraph& graph,
                          const std::vector<const Tensor*>& inputs) const {
    graph.check_complete();
    YR_INTERNAL_CHECK(
        inputs.size() == graph.inputs().size(),
        "block graph takes " << graph.inputs().size() << " inputs; got " << inputs.size());
    std::vector<ir::Node> kernel_nodes;
    for (const auto& node : graph.nodes())
      kernel_nodes.push_back(ir::Node{node.op, {}, node.attrs, node.outputs, nullptr});
    std::vector<Tensor> outputs;
    for (const auto& output : graph.outputs()) {
      outputs.push_back(Interpreter<Algebra>::make(output.dtensor.shape, algebra_.constant(0.0)));
    }
    // Valid output maps give every block a disjoint box of each output: blocks run in parallel.
    core::ThreadPool::global().parallel_for(graph.num_blocks(), 1, [&](int64_t begin, int64_t end) {
      for (int64_t block = begin; block < end; ++block) {
        ops_.check_stop();
        run_block(graph, kernel_nodes, inputs, block, outputs);
      }
    });
    return outputs;
  }

 private:
  struct Accumulator {
    Tensor value;
    Tensor running_max;  // rescaled_sum: the running max of its second operand
  };

  using Slots = std::vector<std::vector<Tensor>>;

  static const Tensor& value_of(const Slots& values, ir::TensorRef ref) {
    return values[ref.node][ref.output];
  }

  void run_block(const ir::BlockGraph& graph, const std::vector<ir::Node>& kernel_nodes,
                 const std::vector<const Tensor*>& inputs, int64_t block,
                 std::vector<Tensor>& outputs) const {
    const auto& grid = graph.grid_dims();
    const ir::Dim3 index = {block % grid[0], (block / grid[0]) % grid[1],
                            block / (grid[0] * grid[1])};
    const auto& nodes = graph.nodes();
    Slots values(nodes.size());
    std::vector<Accumulator> states(nodes.size());
    evaluate_phase(graph, kernel_nodes, inputs, ir::Phase::Invariant, index, 0, values);
    for (std::size_t n = 0; n < nodes.size(); ++n) {
      if (nodes[n].kind != ir::BlockNodeKind::Accumulate) continue;
      states[n].value = Interpreter<Algebra>::make(
          nodes[n].outputs[0].shape,
          nodes[n].accum == ir::AccumKind::Max ? algebra_.lowest() : algebra_.constant(0.0));
      if (nodes[n].inputs.size() > 1) {
        states[n].running_max =
            Interpreter<Algebra>::make(graph.type(nodes[n].inputs[1]).shape, algebra_.lowest());
      }
    }
    for (int64_t iteration = 0; iteration < graph.forloop_range(); ++iteration) {
      evaluate_phase(graph, kernel_nodes, inputs, ir::Phase::Loop, index, iteration, values);
      for (std::size_t n = 0; n < nodes.size(); ++n) {
        if (nodes[n].kind != ir::BlockNodeKind::Accumulate) continue;
        const auto& operands = nodes[n].inputs;
        const Tensor* m = operands.size() > 1 ? &value_of(values, operands[1]) : nullptr;
        accumulate(nodes[n], states[n], value_of(values, operands[0]), m);
      }
    }
    for (std::size_t n = 0; n < nodes.size(); ++n) {
      if (nodes[n].kind == ir::BlockNodeKind::Accumulate) {
        values[n] = {finish(nodes[n], std::move(states[n]), graph.forloop_range())};
      }
    }
    evaluate_phase(graph, kernel_nodes, inputs, ir::Phase::AfterLoop, index, 0, values);
    for (std::size_t k = 0; k < graph.outputs().size(); ++k) {
      const auto& output = graph.outputs()[k];
      const Tensor& tile = value_of(values, output.tile);
      std::vector<int64_t> offsets(tile.shape.size(), 0);
      for (int axis = 0; axis < 3; ++axis) {
        const int dim = output.output_map[axis];
        if (dim >= 0) offsets[dim] = index[axis] * tile.shape[dim];
      }
      const int64_t row = tile.shape.empty() ? 1 : tile.shape.back();
      detail::for_each_box_row(
          outputs[k].shape, tile.shape, offsets, [&](int64_t outer, int64_t inner) {
            std::copy_n(tile.data.begin() + inner, row, outputs[k].data.begin() + outer);
          });
    }
  }

  Tensor input_tile(const ir::BlockGraph& graph, const ir::BlockNode& node, const Tensor& source,
                    const ir::Dim3& index, int64_t iteration) const {
    const ir::BlockInput& input = graph.inputs()[node.input_index];
    const core::Shape& box = node.outputs[0].shape;
    std::vector<int64_t> offsets(box.size(), 0);
    for (int axis = 0; axis < 3; ++axis) {
      const int dim = input.input_map[axis];
      if (dim >= 0)
        offsets[dim] += index[axis] * (input.dtensor.shape[dim] / graph.grid_dims()[axis]);
    }
    if (input.forloop_dim >= 0) offsets[input.forloop_dim] += iteration * box[input.forloop_dim];
    Tensor tile{box, std::vector<Value>(static_cast<std::size_t>(core::shape_numel(box)))};
    const int64_t row = box.empty() ? 1 : box.back();
    detail::for_each_box_row(source.shape, box, offsets, [&](int64_t outer, int64_t inner) {
      std::copy_n(source.data.begin() + outer, row, tile.data.begin() + inner);
    });
    return tile;
  }

  Tensor reduce_to_dimx(const ir::BlockNode& node, const Tensor& x) const {
    const auto dim = static_cast<std::size_t>(node.attrs.get_int("dim"));
    const int64_t extent = x.shape[dim];
    const int64_t dimx = node.outputs[0].shape[dim];
    const int64_t group = extent / dimx;
    const int64_t outer = detail::extent_product(x.shape, 0, dim);
    const int64_t inner = detail::extent_product(x.shape, dim + 1, x.shape.size());
    Tensor out = Interpreter<Algebra>::make(node.outputs[0].shape, algebra_.constant(0.0));
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t k = 0; k < extent; ++k) {
        for (int64_t i = 0; i < inner; ++i) {
          Value& target = out.data[(o * dimx + k / group) * inner + i];
          target = algebra_.add(target, x.data[(o * extent + k) * inner + i]);
        }
      }
    }
    return out;
  }

  void evaluate_phase(const ir::BlockGraph& graph, const std::vector<ir::Node>& kernel_nodes,
                      const std::vector<const Tensor*>& inputs, ir::Phase phase,
                      const ir::Dim3& index, int64_t iteration, Slots& values) const {
    const auto& nodes = graph.nodes();
    for (std::size_t n = 0; n < nodes.size(); ++n) {
      const ir::BlockNode& node = nodes[n];
      if (node.phase != phase) continue;
      switch (node.kind) {
        case ir::BlockNodeKind::Input:
          values[n] = {input_tile(graph, node, *inputs[node.input_index], index, iteration)};
          break;
        case ir::BlockNodeKind::ReduceToDimx:
          values[n] = {reduce_to_dimx(node, value_of(values, node.inputs[0]))};
          break;
        case ir::BlockNodeKind::Op: {
          std::vector<const Tensor*> operands;
          for (const auto& ref : node.inputs) operands.push_back(&value_of(values, ref));
          values[n] = ops_.evaluate(kernel_nodes[n], operands);
          break;
        }
        case ir::BlockNodeKind::Accumulate:
          break;  // stepped by run_block
      }
    }
  }

  // Folds iteration tile `x` (and, for rescaled_sum, its max `m`) into `state`.
  void accumulate(const ir::BlockNode& node, Accumulator& state, const Tensor& x,
                  const Tensor* m) const {
    auto& acc = state.value.data;
    switch (node.accum) {
      case ir::AccumKind::Sum:
      case ir::AccumKind::Mean:
        for (std::size_t i = 0; i < acc.size(); ++i) acc[i] = algebra_.add(acc[i], x.data[i]);
        return;
      case ir::AccumKind::Rms:
        for (std::size_t i = 0; i < acc.size(); ++i)
          acc[i] = algebra_.add(acc[i], algebra_.mul(x.data[i], x.data[i]));
        return;
      case ir::AccumKind::Max:
        for (std::size_t i = 0; i < acc.size(); ++i) {
          if (algebra_.greater(x.data[i], acc[i])) acc[i] = x.data[i];
        }
        return;
      case ir::AccumKind::RescaledSum: {
        const std::vector<Value> previous = state.running_max.data;
        auto& running = state.running_max.data;
        for (std::size_t j = 0; j < running.size(); ++j) {
          if (algebra_.greater(m->data[j], running[j])) running[j] = m->data[j];
        }
        // The factors depend on the max's element only: computed once per element of m.
        std::vector<Value> keep(running.size()), scale(running.size());
        for (std::size_t j = 0; j < running.size(); ++j) {
          keep[j] = algebra_.rescale(previous[j], running[j]);
          scale[j] = algebra_.rescale(m->data[j], running[j]);
        }
        for (int64_t i = 0; i < static_cast<int64_t>(acc.size()); ++i) {
          const auto j = static_cast<std::size_t>(detail::broadcast_index(i, x.shape, m->shape));
          acc[i] = algebra_.add(algebra_.mul(acc[i], keep[j]), algebra_.mul(x.data[i], scale[j]));
        }
        return;
      }
    }
    YR_INTERNAL_ERROR("unhandled accumulator");
  }

  Tensor finish(const ir::BlockNode& node, Accumulator state, int64_t iterations) const {
    const Value count = algebra_.from_index(iterations);
    switch (node.accum) {
      case ir::AccumKind::Mean:
        for (Value& value : state.value.data) value = algebra_.div(value, count);
        break;
      case ir::AccumKind::Rms:
        for (Value& value : state.value.data) value = algebra_.sqrt(algebra_.div(value, count));
        break;
      case ir::AccumKind::Sum:
      case ir::AccumKind::Max:
      case ir::AccumKind::RescaledSum:
        break;
    }
    return std::move(state.value);
  }

  const Interpreter<Algebra>& ops_;
  const Algebra& algebra_;
};

}  // namespace yirage::backend::reference
