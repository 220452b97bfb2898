#include "yirage/backend/registry.h"

#include <memory>
#include <string>

#include "yirage/backend/cpu/cpu_backend.h"
#include "yirage/backend/cuda/cuda_backend.h"
#include "yirage/backend/cudnn/cudnn_backend.h"
#include "yirage/backend/mkl/mkl_backend.h"
#include "yirage/backend/reference/reference_backend.h"
#include "yirage/backend/unavailable_backend.h"
#include "yirage/core/error.h"

namespace yirage::backend {

namespace {

std::vector<std::unique_ptr<Backend>> create_backends() {
  std::vector<std::unique_ptr<Backend>> backends;
  backends.push_back(make_reference_backend());
  backends.push_back(make_cpu_backend());
  backends.push_back(make_mkl_backend());
  backends.push_back(make_cuda_backend());
  backends.push_back(make_cudnn_backend());
  backends.push_back(
      make_unavailable_backend("mps", "Apple Metal Performance Shaders",
                               "needs macOS on Apple silicon; this build targets Linux"));
  backends.push_back(make_unavailable_backend(
      "nki", "AWS Trainium/Inferentia through the Neuron Kernel Interface",
      "needs an AWS Neuron device and the Neuron SDK, which this build does not include"));
  return backends;
}

}  // namespace

const std::vector<Backend*>& all_backends() {
  static const std::vector<std::unique_ptr<Backend>> owned = create_backends();
  static const std::vector<Backend*> view = [] {
    std::vector<Backend*> result;
    for (const auto& backend : owned) result.push_back(backend.get());
    return result;
  }();
  return view;
}

Backend& get_backend(std::string_view name) {
  std::string known;
  for (Backend* backend : all_backends()) {
    if (backend->name() == name) return *backend;
    known += (known.empty() ? "" : ", ") + std::string(backend->name());
  }
  YR_USER_ERROR("unknown backend '" << name << "'; known backends: " << known);
}

Backend& get_available_backend(std::string_view name) {
  Backend& backend = get_backend(name);
  const Availability availability = backend.available();
  YR_USER_CHECK(availability.available,
                "backend '" << name << "' is not available: " << availability.reason);
  return backend;
}

}  // namespace yirage::backend
