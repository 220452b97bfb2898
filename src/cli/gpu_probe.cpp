#include "cli/gpu_probe.h"

#include <dlfcn.h>

#include <cstddef>
#include <string>
#include <utility>

namespace yirage::cli {

namespace {

// The few driver API entry points used here, with CUresult as int and CUdevice as int.
using CuInit = int (*)(unsigned int);
using CuDriverGetVersion = int (*)(int*);
using CuDeviceGetCount = int (*)(int*);
using CuDeviceGet = int (*)(int*, int);
using CuDeviceGetName = int (*)(char*, int, int);
using CuDeviceTotalMem = int (*)(std::size_t*, int);
using CuDeviceGetAttribute = int (*)(int*, int, int);
using CuGetErrorName = int (*)(int, const char**);

constexpr int kAttrComputeCapabilityMajor = 75;
constexpr int kAttrComputeCapabilityMinor = 76;

template <typename F>
F symbol(void* library, const char* name) {
  return reinterpret_cast<F>(dlsym(library, name));
}

std::string error_text(void* library, const char* call, int code) {
  std::string text = std::string(call) + " failed with CUDA error " + std::to_string(code);
  const auto get_name = symbol<CuGetErrorName>(library, "cuGetErrorName");
  const char* name = nullptr;
  if (get_name != nullptr && get_name(code, &name) == 0 && name != nullptr) {
    text += std::string(" (") + name + ")";
  }
  return text;
}

}  // namespace

CudaProbe probe_cuda() {
  CudaProbe probe;
  // The library stays loaded for the life of the process; unloading a GPU driver is not worth it.
  void* library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    const char* reason = dlerror();
    probe.problem = reason != nullptr ? reason : "libcuda.so.1 could not be loaded";
    return probe;
  }
  probe.driver_found = true;
  const auto init = symbol<CuInit>(library, "cuInit");
  const auto get_version = symbol<CuDriverGetVersion>(library, "cuDriverGetVersion");
  const auto get_count = symbol<CuDeviceGetCount>(library, "cuDeviceGetCount");
  const auto get_device = symbol<CuDeviceGet>(library, "cuDeviceGet");
  const auto get_name = symbol<CuDeviceGetName>(library, "cuDeviceGetName");
  const auto total_mem = symbol<CuDeviceTotalMem>(library, "cuDeviceTotalMem_v2");
  const auto get_attribute = symbol<CuDeviceGetAttribute>(library, "cuDeviceGetAttribute");
  if (init == nullptr || get_count == nullptr || get_device == nullptr) {
    probe.problem = "libcuda.so.1 lacks cuInit, cuDeviceGetCount or cuDeviceGet";
    return probe;
  }
  if (get_version != nullptr) get_version(&probe.driver_version);
  if (const int code = init(0); code != 0) {
    probe.problem = error_text(library, "cuInit", code);
    return probe;
  }
  int count = 0;
  if (const int code = get_count(&count); code != 0) {
    probe.problem = error_text(library, "cuDeviceGetCount", code);
    return probe;
  }
  for (int ordinal = 0; ordinal < count; ++ordinal) {
    int device = 0;
    if (get_device(&device, ordinal) != 0) continue;
    CudaDevice info;
    char name[256] = {};
    if (get_name != nullptr && get_name(name, sizeof(name) - 1, device) == 0) info.name = name;
    std::size_t bytes = 0;
    if (total_mem != nullptr && total_mem(&bytes, device) == 0) info.memory_bytes = bytes;
    if (get_attribute != nullptr) {
      get_attribute(&info.compute_major, kAttrComputeCapabilityMajor, device);
      get_attribute(&info.compute_minor, kAttrComputeCapabilityMinor, device);
    }
    probe.devices.push_back(std::move(info));
  }
  if (count == 0) probe.problem = "the driver reports no CUDA devices";
  return probe;
}

}  // namespace yirage::cli
