#include "mutate.h"

#include <memory>
#include <sstream>

#include "yirage/core/error.h"

namespace yirage::testing {

namespace {

using ir::BlockGraph;
using ir::BlockNodeKind;
using ir::OpKind;
using ir::TensorRef;

const char* kind_name(Mutation::Kind kind) {
  switch (kind) {
    case Mutation::Kind::InputMap:
      return "input map";
    case Mutation::Kind::ForloopDim:
      return "forloop dim";
    case Mutation::Kind::Accumulator:
      return "accumulator";
    case Mutation::Kind::SwapOperands:
      return "swap operands";
    case Mutation::Kind::DropOp:
      return "drop op";
    case Mutation::Kind::Scalar:
      return "scalar";
    case Mutation::Kind::ReduceDim:
      return "reduce dim";
    case Mutation::Kind::OutputMap:
      return "output map";
  }
  return "?";
}

bool non_commutative(OpKind op) {
  return op == OpKind::Sub || op == OpKind::Div || op == OpKind::Pow || op == OpKind::Matmul;
}

// Rebuilds `graph` with `mutation` applied (which targets this block graph).
std::shared_ptr<BlockGraph> rebuild(const BlockGraph& graph, const Mutation& mutation) {
  using Kind = Mutation::Kind;
  auto result = std::make_shared<BlockGraph>(graph.grid_dims(), graph.block_dims(),
                                             graph.forloop_range(), graph.reduction_dimx());
  std::vector<std::vector<TensorRef>> mapped(graph.nodes().size());
  const auto map_ref = [&](TensorRef ref) { return mapped[ref.node][ref.output]; };
  for (std::size_t n = 0; n < graph.nodes().size(); ++n) {
    const ir::BlockNode& node = graph.nodes()[n];
    const bool targeted = mutation.target == static_cast<int>(n);
    std::vector<TensorRef> inputs;
    for (const auto& ref : node.inputs) inputs.push_back(map_ref(ref));
    if (targeted && mutation.kind == Kind::DropOp && node.kind != BlockNodeKind::Input) {
      mapped[n] = {inputs[0]};
      continue;
    }
    switch (node.kind) {
      case BlockNodeKind::Input: {
        ir::BlockInput input = graph.inputs()[node.input_index];
        const int rank = static_cast<int>(input.dtensor.shape.size());
        const int choice = mutation.variant / 3 % (rank + 1) - 1;  // -1 .. rank-1
        if (mutation.target == node.input_index && mutation.kind == Kind::InputMap) {
          input.input_map[mutation.variant % 3] = choice;
        }
        if (mutation.target == node.input_index && mutation.kind == Kind::ForloopDim) {
          input.forloop_dim = mutation.variant % (rank + 1) - 1;
        }
        mapped[n] = {result->input(input.dtensor, input.input_map, input.forloop_dim)};
        break;
      }
      case BlockNodeKind::Op: {
        ir::Attrs attrs = node.attrs;
        if (targeted && mutation.kind == Kind::SwapOperands) std::swap(inputs[0], inputs[1]);
        if (targeted && mutation.kind == Kind::Scalar) {
          for (const char* name : {"scalar", "eps"}) {
            if (attrs.has(name)) attrs.set(name, attrs.get_float(name) * 1.5 + 1e-3);
          }
        }
        if (targeted && mutation.kind == Kind::ReduceDim && attrs.has("dim")) {
          const auto rank = static_cast<int64_t>(node.outputs[0].shape.size());
          attrs.set("dim", (attrs.get_int("dim") + 1 + mutation.variant) % rank);
        }
        mapped[n] = result->add_op(node.op, inputs, attrs);
        break;
      }
      case BlockNodeKind::ReduceToDimx:
        mapped[n] = {result->reduce_to_dimx(inputs[0], node.attrs.get_int("dim"))};
        break;
      case BlockNodeKind::Accumulate: {
        ir::AccumKind kind = node.accum;
        if (targeted && mutation.kind == Kind::Accumulator) {
          kind = static_cast<ir::AccumKind>((static_cast<int>(kind) + 1 + mutation.variant) % 5);
        }
        std::optional<TensorRef> m;
        if (ir::accum_operands(kind) == 2) {
          if (inputs.size() < 2) return nullptr;  // nothing to rescale by
          m = inputs[1];
        }
        mapped[n] = {result->accumulate(kind, inputs[0], m)};
        break;
      }
    }
  }
  for (std::size_t k = 0; k < graph.outputs().size(); ++k) {
    ir::DimMap map = graph.outputs()[k].output_map;
    if (mutation.kind == Kind::OutputMap && mutation.target == static_cast<int>(k)) {
      const int rank = static_cast<int>(graph.outputs()[k].dtensor.shape.size());
      map[mutation.variant % 3] = mutation.variant / 3 % (rank + 1) - 1;
    }
    result->output(map_ref(graph.outputs()[k].tile), map);
  }
  return result;
}

}  // namespace

std::string Mutation::describe() const {
  std::ostringstream out;
  out << "kernel " << kernel << " target " << target << ": " << kind_name(kind) << " #" << variant;
  return out.str();
}

std::vector<Mutation> candidate_mutations(const ir::KernelGraph& program) {
  using Kind = Mutation::Kind;
  std::vector<Mutation> result;
  int kernel = 0;
  for (const auto& node : program.nodes()) {
    if (node.op != OpKind::Customized) continue;
    const BlockGraph& graph = *node.block_graph;
    for (int k = 0; k < static_cast<int>(graph.inputs().size()); ++k) {
      for (int variant = 0; variant < 15; ++variant)
        result.push_back({Kind::InputMap, kernel, k, variant});
      for (int variant = 0; variant < 5; ++variant)
        result.push_back({Kind::ForloopDim, kernel, k, variant});
    }
    for (int n = 0; n < static_cast<int>(graph.nodes().size()); ++n) {
      const auto& block_node = graph.nodes()[n];
      if (block_node.kind == BlockNodeKind::Accumulate) {
        for (int variant = 0; variant < 4; ++variant)
          result.push_back({Kind::Accumulator, kernel, n, variant});
      }
      if (block_node.kind == BlockNodeKind::Op) {
        if (non_commutative(block_node.op)) result.push_back({Kind::SwapOperands, kernel, n, 0});
        if (block_node.attrs.has("scalar") || block_node.attrs.has("eps")) {
          result.push_back({Kind::Scalar, kernel, n, 0});
        }
        if (block_node.attrs.has("dim") &&
            ir::op_info(block_node.op).category == ir::OpCategory::Reduce) {
          for (int variant = 0; variant < 2; ++variant)
            result.push_back({Kind::ReduceDim, kernel, n, variant});
        }
      }
      if (block_node.kind != BlockNodeKind::Input) result.push_back({Kind::DropOp, kernel, n, 0});
    }
    for (int k = 0; k < static_cast<int>(graph.outputs().size()); ++k) {
      for (int variant = 0; variant < 15; ++variant)
        result.push_back({Kind::OutputMap, kernel, k, variant});
    }
    ++kernel;
  }
  return result;
}

std::optional<ir::KernelGraph> apply_mutation(const ir::KernelGraph& program,
                                              const Mutation& mutation) {
  try {
    ir::KernelGraph result;
    std::vector<std::vector<TensorRef>> mapped(program.nodes().size());
    int kernel = 0;
    for (std::size_t n = 0; n < program.nodes().size(); ++n) {
      const ir::Node& node = program.nodes()[n];
      std::vector<TensorRef> inputs;
      for (const auto& ref : node.inputs) inputs.push_back(mapped[ref.node][ref.output]);
      if (node.op == OpKind::Input) {
        mapped[n] = {result.input(node.outputs[0].shape, node.outputs[0].dtype)};
      } else if (node.op == OpKind::Customized) {
        std::shared_ptr<const BlockGraph> graph = node.block_graph;
        if (kernel++ == mutation.kernel) {
          graph = rebuild(*graph, mutation);
          if (graph == nullptr) return std::nullopt;
        }
        mapped[n] = result.customized(inputs, graph);
      } else {
        mapped[n] = result.add_node(node.op, inputs, node.attrs);
      }
    }
    for (const auto& output : program.outputs())
      result.mark_output(mapped[output.node][output.output]);
    return result;
  } catch (const core::UserError&) {
    return std::nullopt;  // the mutation does not give a valid program
  }
}

}  // namespace yirage::testing
