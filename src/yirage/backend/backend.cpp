#include "yirage/backend/backend.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "yirage/backend/cost_model.h"
#include "yirage/core/error.h"

namespace yirage::backend {

void check_run_arguments(const Backend& backend, const ir::KernelGraph& graph,
                         const std::vector<core::Tensor>& inputs) {
  const Availability availability = backend.available();
  YR_USER_CHECK(availability.available,
                "backend '" << backend.name() << "' is not available: " << availability.reason);
  YR_USER_CHECK(!graph.outputs().empty(),
                "the graph has no outputs; expected at least one mark_output before running it");
  const auto expected = graph.input_types();
  YR_USER_CHECK(inputs.size() == expected.size(),
                "the graph takes " << expected.size() << " inputs; got " << inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    YR_USER_CHECK(inputs[i].defined(),
                  "input " << i << " is undefined; expected " << expected[i].to_string());
    const ir::TensorType actual{inputs[i].shape(), inputs[i].dtype()};
    YR_USER_CHECK(actual == expected[i], "input " << i << " is " << actual.to_string()
                                                  << "; expected " << expected[i].to_string());
  }
  for (const auto& node : graph.nodes()) {
    YR_USER_CHECK(backend.supports(node.op), "backend '" << backend.name()
                                                         << "' does not support op '"
                                                         << ir::op_name(node.op) << "'");
  }
}

void check_output_tensors(const ir::KernelGraph& graph, const std::vector<core::Tensor>& outputs,
                          std::optional<core::DeviceKind> device) {
  const auto expected = graph.output_types();
  YR_USER_CHECK(outputs.size() == expected.size(), "the graph has "
                                                       << expected.size() << " outputs; got "
                                                       << outputs.size() << " output tensors");
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const ir::TensorType actual{outputs[i].shape(), outputs[i].dtype()};
    YR_USER_CHECK(outputs[i].defined() && actual == expected[i] && outputs[i].is_contiguous() &&
                      (!device || outputs[i].device().kind == *device),
                  "output tensor " << i << " is " << actual.to_string() << " on "
                                   << outputs[i].device().to_string() << "; expected a contiguous "
                                   << expected[i].to_string()
                                   << (device ? (*device == core::DeviceKind::Cpu ? " on the host"
                                                                                  : " on the GPU")
                                              : ""));
  }
}

void Backend::run_into(const ir::KernelGraph& graph, const std::vector<core::Tensor>& inputs,
                       const std::vector<core::Tensor>& outputs) {
  check_output_tensors(graph, outputs);
  const auto results = run(graph, inputs);
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const core::Tensor source = results[i].contiguous();
    std::memcpy(outputs[i].data(), source.data(), source.nbytes());
  }
}

double Backend::estimate_cost(const ir::KernelGraph& graph) const {
  MachineModel machine;
  machine.fast_memory_bytes = static_cast<double>(fast_memory_bytes());
  machine.parallel_units = parallel_units();
  return estimate_microseconds(graph, machine);
}

double Backend::profile(const ir::KernelGraph& graph, const std::vector<core::Tensor>& inputs,
                        int iterations) {
  YR_USER_CHECK(iterations >= 1, "profile needs at least 1 iteration; got " << iterations);
  run(graph, inputs);  // warm-up: compiles, loads, fills caches
  synchronize();
  std::vector<double> seconds;
  for (int i = 0; i < iterations; ++i) {
    const auto start = std::chrono::steady_clock::now();
    run(graph, inputs);
    synchronize();
    seconds.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::nth_element(seconds.begin(), seconds.begin() + seconds.size() / 2, seconds.end());
  return seconds[seconds.size() / 2];
}

}  // namespace yirage::backend
