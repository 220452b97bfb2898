// Reference execution of whole kernel graphs, customized (block-graph) nodes included.
#pragma once

#include <functional>
#include <vector>

#include "yirage/backend/reference/block_interpreter.h"

namespace yirage::backend::reference {

/// Runs `graph` over an Algebra on one tensor per graph input (read in place, not copied);
/// returns the outputs in marked order. Intermediate values are freed after their last use.
/// When `stop` is given, it is called between nodes, blocks and matmul blocks, and Stopped is
/// thrown once it returns true.
template <typename Algebra>
std::vector<Values<typename Algebra::Value>> run_kernel_graph(
    const Algebra& algebra, const ir::KernelGraph& graph,
    const std::vector<Values<typename Algebra::Value>>& inputs, std::function<bool()> stop = {}) {
  using Tensor = Values<typename Algebra::Value>;
  const Interpreter<Algebra> ops(algebra, std::move(stop));
  const BlockInterpreter<Algebra> blocks(ops);
  const auto& nodes = graph.nodes();
  YR_INTERNAL_CHECK(
      inputs.size() == graph.input_nodes().size(),
      "graph takes " << graph.input_nodes().size() << " inputs; got " << inputs.size());
  std::vector<std::vector<Tensor>> values(nodes.size());
  std::vector<const Tensor*> input_of(nodes.size(), nullptr);  // graph inputs, by node
  const auto value = [&](const ir::TensorRef& ref) -> const Tensor& {
    return input_of[ref.node] != nullptr ? *input_of[ref.node] : values[ref.node][ref.output];
  };
  std::vector<int> uses(nodes.size(), 0);
  for (const auto& node : nodes) {
    for (const auto& operand : node.inputs) ++uses[operand.node];
  }
  for (const auto& output : graph.outputs()) ++uses[output.node];
  std::size_t next_input = 0;
  for (std::size_t index = 0; index < nodes.size(); ++index) {
    const ir::Node& node = nodes[index];
    if (node.op == ir::OpKind::Input) {
      input_of[index] = &inputs[next_input++];
      continue;
    }
    ops.check_stop();
    std::vector<const Tensor*> operands;
    for (const auto& operand : node.inputs) operands.push_back(&value(operand));
    values[index] = node.op == ir::OpKind::Customized ? blocks.run(*node.block_graph, operands)
                                                      : ops.evaluate(node, operands);
    for (const auto& operand : node.inputs) {
      if (--uses[operand.node] == 0) values[operand.node].clear();
    }
  }
  std::vector<Tensor> outputs;
  for (const auto& output : graph.outputs()) outputs.push_back(value(output));
  return outputs;
}

}  // namespace yirage::backend::reference
