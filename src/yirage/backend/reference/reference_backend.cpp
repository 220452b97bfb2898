#include "yirage/backend/reference/reference_backend.h"

#include "yirage/backend/reference/reference_ops.h"
#include "yirage/core/cpu_features.h"
#include "yirage/core/error.h"

namespace yirage::backend {

namespace {

using reference::Buffer;

class ReferenceBackend final : public Backend {
 public:
  std::string_view name() const override { return "reference"; }
  std::string_view description() const override {
    return "plain C++ executor in float64; the oracle for every other backend";
  }
  Availability available() const override { return {true, ""}; }
  DeviceInfo device_info() const override {
    const auto& cpu = core::cpu_features();
    return {cpu.model.empty() ? "host CPU" : cpu.model,
            {{"threads", std::to_string(cpu.hardware_threads)}, {"precision", "float64"}}};
  }
  bool supports(ir::OpKind op) const override { return op != ir::OpKind::Customized; }

  std::vector<core::Tensor> run(const ir::KernelGraph& graph,
                                const std::vector<core::Tensor>& inputs) override {
    check_run_arguments(*this, graph, inputs);
    const auto& nodes = graph.nodes();
    // Values per node output, freed after their last use (graph outputs are kept).
    std::vector<std::vector<Buffer>> values(nodes.size());
    std::vector<int> uses(nodes.size(), 0);
    for (const auto& node : nodes) {
      for (const auto& operand : node.inputs) ++uses[operand.node];
    }
    for (const auto& output : graph.outputs()) ++uses[output.node];
    std::size_t next_input = 0;
    for (std::size_t index = 0; index < nodes.size(); ++index) {
      const ir::Node& node = nodes[index];
      if (node.op == ir::OpKind::Input) {
        values[index].push_back(reference::buffer_from_tensor(inputs[next_input++]));
        continue;
      }
      std::vector<const Buffer*> operands;
      for (const auto& operand : node.inputs) {
        operands.push_back(&values[operand.node][operand.output]);
      }
      values[index] = reference::evaluate_node(node, operands);
      for (const auto& operand : node.inputs) {
        if (--uses[operand.node] == 0) values[operand.node].clear();
      }
    }
    std::vector<core::Tensor> outputs;
    for (const auto& output : graph.outputs()) {
      outputs.push_back(reference::tensor_from_buffer(values[output.node][output.output],
                                                      graph.type(output).dtype));
    }
    return outputs;
  }
};

}  // namespace

std::unique_ptr<Backend> make_reference_backend() { return std::make_unique<ReferenceBackend>(); }

}  // namespace yirage::backend
