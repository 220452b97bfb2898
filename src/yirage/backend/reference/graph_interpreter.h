// Reference execution of whole kernel graphs, customized (block-graph) nodes included.
#pragma once

#include <vector>

#include "yirage/backend/reference/block_interpreter.h"

namespace yirage::backend::reference {

/// Runs `graph` over an Algebra on one tensor per graph input; returns the outputs in marked
/// order. Intermediate values are freed after their last use. When `stop` is given, it is
/// called between nodes, blocks and matmul blocks, and Stopped is thrown once it returns true.
template <typename Algebra>
std::vector<Values<typename Algebra::Value>> run_kernel_graph(
    const Algebra& algebra, const ir::KernelGraph& graph,
    std::vector<Values<typename Algebra::Value>> inputs, std::function<bool()> stop = {}) {
  using Tensor = Values<typename Algebra::Value>;
  const Interpreter<Algebra> ops(algebra, std::move(stop));
  const BlockInterpreter<Algebra> blocks(ops);
  const auto& nodes = graph.nodes();
  YR_INTERNAL_CHECK(
      inputs.size() == graph.input_nodes().size(),
      "graph takes " << graph.input_nodes().size() << " inputs; got " << inputs.size());
  std::vector<std::vector<Tensor>> values(nodes.size());
  std::vector<int> uses(nodes.size(), 0);
  for (const auto& node : nodes) {
    for (const auto& operand : node.inputs) ++uses[operand.node];
  }
  for (const auto& output : graph.outputs()) ++uses[output.node];
  std::size_t next_input = 0;
  for (std::size_t index = 0; index < nodes.size(); ++index) {
    const ir::Node& node = nodes[index];
    if (node.op == ir::OpKind::Input) {
      values[index].push_back(std::move(inputs[next_input++]));
      continue;
    }
    ops.check_stop();
    std::vector<const Tensor*> operands;
    for (const auto& operand : node.inputs)
      operands.push_back(&values[operand.node][operand.output]);
    values[index] = node.op == ir::OpKind::Customized ? blocks.run(*node.block_graph, operands)
                                                      : ops.evaluate(node, operands);
    for (const auto& operand : node.inputs) {
      if (--uses[operand.node] == 0) values[operand.node].clear();
    }
  }
  std::vector<Tensor> outputs;
  for (const auto& output : graph.outputs()) outputs.push_back(values[output.node][output.output]);
  return outputs;
}

}  // namespace yirage::backend::reference
