#include "yirage/backend/backend.h"

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

}  // namespace yirage::backend
