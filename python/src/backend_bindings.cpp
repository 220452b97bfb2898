// Python bindings of backend/: the list of backends with their availability, and running a
// kernel graph on one of them.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <string>
#include <vector>

#include "bindings.h"
#include "yirage/backend/registry.h"
#include "yirage/core/error.h"

namespace yirage::python {

namespace {

using namespace nb::literals;

// What Python sees of a backend: a snapshot of its registry entry.
struct BackendInfo {
  std::string name;
  std::string description;
  bool available = false;
  std::string reason;
  std::string device;
};

std::vector<BackendInfo> list_backends() {
  std::vector<BackendInfo> infos;
  for (const backend::Backend* entry : backend::all_backends()) {
    const backend::Availability availability = entry->available();
    infos.push_back({std::string(entry->name()), std::string(entry->description()),
                     availability.available, availability.reason,
                     availability.available ? entry->device_info().name : std::string()});
  }
  return infos;
}

// Runs `graph` on the backend called `name`. `inputs` are arrays or DLPack producers, `declared`
// the dtype each one's bits stand for when it differs from the array's own (bfloat16 from
// NumPy, which cannot say it); outputs come back as NumPy arrays, or as DLPack objects when
// `dlpack_outputs` is set or they live on a GPU.
nb::list run_graph(const ir::KernelGraph& graph, const std::vector<nb::handle>& inputs,
                   const std::vector<std::optional<core::DType>>& declared, const std::string& name,
                   bool dlpack_outputs) {
  backend::Backend& target = backend::get_available_backend(name);
  YR_INTERNAL_CHECK(declared.size() == inputs.size(),
                    declared.size() << " declared dtypes for " << inputs.size() << " inputs");
  std::vector<core::Tensor> tensors;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    InputArray array;
    YR_USER_CHECK(nb::try_cast(inputs[i], array),
                  "input " << i << " is a "
                           << nb::cast<std::string>(nb::type_name(inputs[i].type()))
                           << "; expected a NumPy array or a DLPack tensor such as torch.Tensor");
    tensors.push_back(tensor_from_array(array, declared[i], i));
  }
  // The backend works on its own copy of the graph, so other Python threads may go on
  // building the original while the GIL is released.
  const ir::KernelGraph snapshot = graph;
  std::vector<core::Tensor> outputs;
  {
    nb::gil_scoped_release release;
    outputs = target.run(snapshot, tensors);
    // Device outputs are ordered on the legacy default stream, where frameworks read them (the
    // backend's run saw to that): only host outputs need the device to finish.
    const bool on_device = std::any_of(outputs.begin(), outputs.end(), [](const auto& output) {
      return output.device().kind == core::DeviceKind::Cuda;
    });
    if (!on_device) target.synchronize();
  }
  nb::list arrays;
  for (auto& output : outputs) {
    // NumPy cannot hold device memory: CUDA outputs always leave as DLPack objects.
    const bool device = output.device().kind == core::DeviceKind::Cuda;
    const ArrayKind kind = dlpack_outputs || device ? ArrayKind::DLPack : ArrayKind::Numpy;
    arrays.append(tensor_to_array(std::move(output), kind));
  }
  return arrays;
}

}  // namespace

void bind_backend(nb::module_& m) {
  nb::class_<BackendInfo>(m, "BackendInfo",
                          "A backend known to this build and whether it runs here.")
      .def_ro("name", &BackendInfo::name, "Registry name, e.g. 'reference'.")
      .def_ro("description", &BackendInfo::description, "One line: what the backend is.")
      .def_ro("available", &BackendInfo::available, "True when it can run on this machine.")
      .def_ro("reason", &BackendInfo::reason, "Why it cannot run here (empty when available).")
      .def_ro("device", &BackendInfo::device, "What it runs on (empty when unavailable).")
      .def("__repr__", [](const BackendInfo& self) {
        std::string text = "BackendInfo(name='" + self.name +
                           "', available=" + (self.available ? "True" : "False");
        if (!self.available) text += ", reason='" + self.reason + "'";
        return text + ")";
      });
  m.def("get_available_backends", &list_backends,
        "Every backend of this build, available or not; unavailable ones carry the reason.");
  m.def("_run", &run_graph, "graph"_a, "inputs"_a, "declared"_a, "backend"_a, "dlpack_outputs"_a,
        "Runs a graph on a backend (used by KernelGraph.__call__, which prepares the inputs).");
}

}  // namespace yirage::python
