#include "yirage/backend/cuda/driver.h"

#include <dlfcn.h>

#include <mutex>

#include "yirage/core/error.h"

namespace yirage::backend::cuda {

namespace {

struct Loaded {
  DriverApi api{};
  bool ok = false;
  std::string why;
};

template <typename Fn>
bool resolve(void* library, const char* symbol, Fn& slot, std::string& why) {
  void* address = dlsym(library, symbol);
  if (address == nullptr) {
    why = std::string("libcuda.so.1 lacks ") + symbol + " (driver too old)";
    return false;
  }
  slot = reinterpret_cast<Fn>(address);
  return true;
}

Loaded load() {
  Loaded loaded;
  void* library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    loaded.why = "no NVIDIA driver: libcuda.so.1 could not be loaded";
    return loaded;
  }
  DriverApi& a = loaded.api;
  std::string& w = loaded.why;
  const bool ok = resolve(library, "cuInit", a.init, w) &&
                  resolve(library, "cuDriverGetVersion", a.driver_get_version, w) &&
                  resolve(library, "cuDeviceGetCount", a.device_get_count, w) &&
                  resolve(library, "cuDeviceGet", a.device_get, w) &&
                  resolve(library, "cuDeviceGetName", a.device_get_name, w) &&
                  resolve(library, "cuDeviceGetAttribute", a.device_get_attribute, w) &&
                  resolve(library, "cuDeviceTotalMem_v2", a.device_total_mem, w) &&
                  resolve(library, "cuDevicePrimaryCtxRetain", a.primary_ctx_retain, w) &&
                  resolve(library, "cuCtxSetCurrent", a.ctx_set_current, w) &&
                  resolve(library, "cuMemAlloc_v2", a.mem_alloc, w) &&
                  resolve(library, "cuMemFree_v2", a.mem_free, w) &&
                  resolve(library, "cuMemcpyHtoDAsync_v2", a.memcpy_htod_async, w) &&
                  resolve(library, "cuMemcpyDtoHAsync_v2", a.memcpy_dtoh_async, w) &&
                  resolve(library, "cuMemcpyDtoDAsync_v2", a.memcpy_dtod_async, w) &&
                  resolve(library, "cuMemsetD8Async", a.memset_d8_async, w) &&
                  resolve(library, "cuStreamCreate", a.stream_create, w) &&
                  resolve(library, "cuStreamSynchronize", a.stream_synchronize, w) &&
                  resolve(library, "cuEventCreate", a.event_create, w) &&
                  resolve(library, "cuEventDestroy_v2", a.event_destroy, w) &&
                  resolve(library, "cuEventRecord", a.event_record, w) &&
                  resolve(library, "cuEventSynchronize", a.event_synchronize, w) &&
                  resolve(library, "cuStreamWaitEvent", a.stream_wait_event, w) &&
                  resolve(library, "cuEventElapsedTime", a.event_elapsed_time, w) &&
                  resolve(library, "cuModuleLoadData", a.module_load_data, w) &&
                  resolve(library, "cuModuleGetFunction", a.module_get_function, w) &&
                  resolve(library, "cuFuncSetAttribute", a.func_set_attribute, w) &&
                  resolve(library, "cuLaunchKernel", a.launch_kernel, w) &&
                  resolve(library, "cuStreamBeginCapture_v2", a.stream_begin_capture, w) &&
                  resolve(library, "cuStreamEndCapture", a.stream_end_capture, w) &&
                  resolve(library, "cuGraphInstantiateWithFlags", a.graph_instantiate, w) &&
                  resolve(library, "cuGraphLaunch", a.graph_launch, w) &&
                  resolve(library, "cuGraphDestroy", a.graph_destroy, w) &&
                  resolve(library, "cuGraphExecDestroy", a.graph_exec_destroy, w) &&
                  resolve(library, "cuGetErrorString", a.get_error_string, w);
  if (!ok) return loaded;
  const CuResult init = a.init(0);
  if (init != 0) {
    const char* text = nullptr;
    a.get_error_string(init, &text);
    loaded.why = std::string("the NVIDIA driver failed to initialise: ") +
                 (text != nullptr ? text : "error " + std::to_string(init));
    return loaded;
  }
  loaded.ok = true;
  return loaded;
}

}  // namespace

const DriverApi* driver_api(std::string* why) {
  static const Loaded loaded = load();
  if (!loaded.ok) {
    if (why != nullptr) *why = loaded.why;
    return nullptr;
  }
  return &loaded.api;
}

void check_driver(CuResult result, const char* what) {
  if (result == 0) return;
  const DriverApi* api = driver_api();
  const char* text = nullptr;
  if (api != nullptr) api->get_error_string(result, &text);
  YR_USER_ERROR("CUDA driver call "
                << what << " failed: " << (text != nullptr ? text : "error code") << " (" << result
                << ")");
}

}  // namespace yirage::backend::cuda
