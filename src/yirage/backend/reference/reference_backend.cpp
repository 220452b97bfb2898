#include "yirage/backend/reference/reference_backend.h"

#include "yirage/backend/reference/graph_interpreter.h"
#include "yirage/backend/reference/real_algebra.h"
#include "yirage/backend/reference/tensor_io.h"
#include "yirage/core/cpu_features.h"

namespace yirage::backend {

namespace {

class ReferenceBackend final : public Backend {
 public:
  std::string_view name() const override { return "reference"; }
  std::string_view description() const override {
    return "plain C++ interpreter in float64; the oracle for every other backend";
  }
  Availability available() const override { return {true, ""}; }
  DeviceInfo device_info() const override {
    const auto& cpu = core::cpu_features();
    return {cpu.model.empty() ? "host CPU" : cpu.model,
            {{"threads", std::to_string(cpu.hardware_threads)}, {"precision", "float64"}}};
  }
  bool supports(ir::OpKind) const override { return true; }

  std::vector<core::Tensor> run(const ir::KernelGraph& graph,
                                const std::vector<core::Tensor>& inputs) override {
    check_run_arguments(*this, graph, inputs);
    std::vector<reference::Buffer> values;
    for (const auto& input : inputs) values.push_back(reference::buffer_from_tensor(input));
    const auto results =
        reference::run_kernel_graph(reference::RealAlgebra{}, graph, std::move(values));
    std::vector<core::Tensor> outputs;
    for (std::size_t i = 0; i < results.size(); ++i) {
      outputs.push_back(
          reference::tensor_from_buffer(results[i], graph.type(graph.outputs()[i]).dtype));
    }
    return outputs;
  }
};

}  // namespace

std::unique_ptr<Backend> make_reference_backend() {
  return std::make_unique<ReferenceBackend>();
}

}  // namespace yirage::backend
