// The CUDA driver API, loaded at run time with dlopen so that one build runs with or without a GPU.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace yirage::backend::cuda {

/// Driver status code (CUresult); 0 is success.
using CuResult = int;
/// Device ordinal handle (CUdevice).
using CuDevice = int;
/// Device address (CUdeviceptr).
using CuDevicePtr = unsigned long long;
/// Opaque driver handles.
using CuContext = struct CuContextOpaque*;
/// A loaded module.
using CuModule = struct CuModuleOpaque*;
/// A kernel entry point.
using CuFunction = struct CuFunctionOpaque*;
/// A stream.
using CuStream = struct CuStreamOpaque*;
/// An event.
using CuEvent = struct CuEventOpaque*;
/// A captured graph.
using CuGraph = struct CuGraphOpaque*;
/// An instantiated graph.
using CuGraphExec = struct CuGraphExecOpaque*;

/// Device attributes read by the backend (values of CUdevice_attribute).
enum class DeviceAttribute : int {
  MaxSharedPerBlock = 8,
  ClockRateKHz = 13,
  MultiprocessorCount = 16,
  MemoryBusWidth = 37,
  L2CacheSize = 38,
  ComputeMajor = 75,
  ComputeMinor = 76,
  MaxSharedPerBlockOptin = 97,
};

/// The driver entry points the backend uses, resolved by name from libcuda.
struct DriverApi {
  CuResult (*init)(unsigned flags);                                       ///< cuInit
  CuResult (*driver_get_version)(int* version);                           ///< cuDriverGetVersion
  CuResult (*device_get_count)(int* count);                               ///< cuDeviceGetCount
  CuResult (*device_get)(CuDevice* device, int ordinal);                  ///< cuDeviceGet
  CuResult (*device_get_name)(char* name, int length, CuDevice device);   ///< cuDeviceGetName
  CuResult (*device_get_attribute)(int* value, int attribute, CuDevice);  ///< cuDeviceGetAttribute
  CuResult (*device_total_mem)(std::size_t* bytes, CuDevice device);      ///< cuDeviceTotalMem_v2
  CuResult (*primary_ctx_retain)(CuContext* context,
                                 CuDevice device);                 ///< cuDevicePrimaryCtxRetain
  CuResult (*ctx_set_current)(CuContext context);                  ///< cuCtxSetCurrent
  CuResult (*mem_alloc)(CuDevicePtr* pointer, std::size_t bytes);  ///< cuMemAlloc_v2
  CuResult (*mem_free)(CuDevicePtr pointer);                       ///< cuMemFree_v2
  CuResult (*memcpy_htod_async)(CuDevicePtr dst, const void* src, std::size_t bytes,
                                CuStream stream);  ///< cuMemcpyHtoDAsync_v2
  CuResult (*memcpy_dtoh_async)(void* dst, CuDevicePtr src, std::size_t bytes,
                                CuStream stream);  ///< cuMemcpyDtoHAsync_v2
  CuResult (*memcpy_dtod_async)(CuDevicePtr dst, CuDevicePtr src, std::size_t bytes,
                                CuStream stream);  ///< cuMemcpyDtoDAsync_v2
  CuResult (*memset_d8_async)(CuDevicePtr dst, unsigned char value, std::size_t bytes,
                              CuStream stream);                 ///< cuMemsetD8Async
  CuResult (*stream_create)(CuStream* stream, unsigned flags);  ///< cuStreamCreate
  CuResult (*stream_synchronize)(CuStream stream);              ///< cuStreamSynchronize
  CuResult (*event_create)(CuEvent* event, unsigned flags);     ///< cuEventCreate
  CuResult (*event_destroy)(CuEvent event);                     ///< cuEventDestroy_v2
  CuResult (*event_record)(CuEvent event, CuStream stream);     ///< cuEventRecord
  CuResult (*event_synchronize)(CuEvent event);                 ///< cuEventSynchronize
  CuResult (*stream_wait_event)(CuStream stream, CuEvent event,
                                unsigned flags);                          ///< cuStreamWaitEvent
  CuResult (*event_elapsed_time)(float* ms, CuEvent start, CuEvent end);  ///< cuEventElapsedTime
  CuResult (*module_load_data)(CuModule* module, const void* image);      ///< cuModuleLoadData
  CuResult (*module_get_function)(CuFunction* function, CuModule module,
                                  const char* name);  ///< cuModuleGetFunction
  CuResult (*func_set_attribute)(CuFunction function, int attribute,
                                 int value);  ///< cuFuncSetAttribute
  CuResult (*launch_kernel)(CuFunction function, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                            unsigned by, unsigned bz, unsigned shared_bytes, CuStream stream,
                            void** params, void** extra);           ///< cuLaunchKernel
  CuResult (*stream_begin_capture)(CuStream stream, int mode);      ///< cuStreamBeginCapture_v2
  CuResult (*stream_end_capture)(CuStream stream, CuGraph* graph);  ///< cuStreamEndCapture
  CuResult (*graph_instantiate)(CuGraphExec* exec, CuGraph graph,
                                unsigned long long flags);          ///< cuGraphInstantiateWithFlags
  CuResult (*graph_launch)(CuGraphExec exec, CuStream stream);      ///< cuGraphLaunch
  CuResult (*graph_destroy)(CuGraph graph);                         ///< cuGraphDestroy
  CuResult (*graph_exec_destroy)(CuGraphExec exec);                 ///< cuGraphExecDestroy
  CuResult (*get_error_string)(CuResult error, const char** text);  ///< cuGetErrorString
};

/// The driver API, loaded on first use; nullptr when libcuda.so.1 (or a symbol) is missing,
/// with the reason in `why` when given.
const DriverApi* driver_api(std::string* why = nullptr);

/// Throws a UserError naming `what` and the driver's message unless `result` is success.
void check_driver(CuResult result, const char* what);

}  // namespace yirage::backend::cuda
