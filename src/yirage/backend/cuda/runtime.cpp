#include "yirage/backend/cuda/runtime.h"

#include <array>

#include "yirage/backend/cuda/nvrtc.h"
#include "yirage/core/error.h"

namespace yirage::backend::cuda {

namespace {

// Pool size classes: powers of two up to 1 MiB, then multiples of 2 MiB.
std::size_t size_class(std::size_t bytes) {
  constexpr std::size_t kLarge = std::size_t{1} << 20;
  if (bytes <= 256) return 256;
  if (bytes <= kLarge) {
    std::size_t size = 256;
    while (size < bytes) size <<= 1;
    return size;
  }
  constexpr std::size_t kStep = std::size_t{2} << 20;
  return (bytes + kStep - 1) / kStep * kStep;
}

std::string device_reason() {
  std::string why;
  const DriverApi* api = driver_api(&why);
  if (api == nullptr) return why;
  int count = 0;
  if (api->device_get_count(&count) != 0 || count == 0) return "no CUDA device is visible";
  if (!nvrtc_available(&why)) return why;
  return "";
}

}  // namespace

std::string cuda_unavailable_reason() {
  static const std::string reason = device_reason();
  return reason;
}

Runtime& Runtime::get() {
  const std::string reason = cuda_unavailable_reason();
  YR_USER_CHECK(reason.empty(), "the CUDA backend is not available: " << reason);
  static Runtime* runtime = new Runtime();  // lives for the process: memory may outlive statics
  return *runtime;
}

Runtime::Runtime() : api_(driver_api()) {
  check_driver(api_->device_get(&device_, 0), "cuDeviceGet");
  check_driver(api_->primary_ctx_retain(&context_, device_), "cuDevicePrimaryCtxRetain");
  make_current();
  check_driver(api_->stream_create(&stream_, 1 /* non-blocking */), "cuStreamCreate");
  char name[256] = {};
  api_->device_get_name(name, sizeof(name), device_);
  properties_.name = name;
  auto attribute = [&](DeviceAttribute which) {
    int value = 0;
    check_driver(api_->device_get_attribute(&value, static_cast<int>(which), device_),
                 "cuDeviceGetAttribute");
    return value;
  };
  properties_.major = attribute(DeviceAttribute::ComputeMajor);
  properties_.minor = attribute(DeviceAttribute::ComputeMinor);
  properties_.multiprocessors = attribute(DeviceAttribute::MultiprocessorCount);
  properties_.shared_per_block = attribute(DeviceAttribute::MaxSharedPerBlock);
  properties_.shared_per_block_optin = attribute(DeviceAttribute::MaxSharedPerBlockOptin);
  properties_.l2_bytes = attribute(DeviceAttribute::L2CacheSize);
  api_->device_total_mem(&properties_.memory_bytes, device_);
  api_->driver_get_version(&properties_.driver_version);
}

void Runtime::make_current() const {
  check_driver(api_->ctx_set_current(context_), "cuCtxSetCurrent");
}

std::shared_ptr<void> Runtime::allocate(std::size_t bytes) {
  const std::size_t size = size_class(bytes);
  CuDevicePtr pointer = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = free_blocks_.find(size);
    if (found != free_blocks_.end()) {
      pointer = found->second;
      free_blocks_.erase(found);
    }
  }
  if (pointer == 0) {
    make_current();
    CuResult result = api_->mem_alloc(&pointer, size);
    if (result != 0) {  // out of memory: drop the cached blocks and try once more
      std::lock_guard<std::mutex> lock(mutex_);
      for (const auto& [cached, block] : free_blocks_) {
        api_->mem_free(block);
        held_bytes_ -= cached;
      }
      free_blocks_.clear();
      result = api_->mem_alloc(&pointer, size);
    }
    check_driver(result, "cuMemAlloc");
    std::lock_guard<std::mutex> lock(mutex_);
    held_bytes_ += size;
  }
  void* address = reinterpret_cast<void*>(static_cast<uintptr_t>(pointer));
  return std::shared_ptr<void>(address, [this, size](void* p) { release(p, size); });
}

void Runtime::release(void* pointer, std::size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  free_blocks_.emplace(bytes, static_cast<CuDevicePtr>(reinterpret_cast<uintptr_t>(pointer)));
}

std::size_t Runtime::pool_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return held_bytes_;
}

core::Tensor Runtime::empty(const core::Shape& shape, core::DType dtype) {
  const std::size_t bytes = std::max<std::size_t>(
      1, static_cast<std::size_t>(core::shape_numel(shape)) * core::dtype_size(dtype));
  std::shared_ptr<void> memory = allocate(bytes);
  return core::Tensor::borrow(memory.get(), shape, {}, dtype, {core::DeviceKind::Cuda, 0}, memory);
}

core::Tensor Runtime::to_device(const core::Tensor& host) {
  YR_USER_CHECK(host.device().kind == core::DeviceKind::Cpu,
                "to_device expects a host tensor; got " << host.to_string());
  const core::Tensor contiguous = host.contiguous();
  core::Tensor device = empty(host.shape(), host.dtype());
  copy_to_device(device.data(), contiguous.data(), contiguous.nbytes());
  return device;
}

core::Tensor Runtime::to_host(const core::Tensor& device) {
  YR_USER_CHECK(device.device().kind == core::DeviceKind::Cuda && device.is_contiguous(),
                "to_host expects a contiguous CUDA tensor; got " << device.to_string());
  core::Tensor host = core::Tensor::empty(device.shape(), device.dtype());
  copy_to_host(host.data(), device.data(), host.nbytes());
  return host;
}

void Runtime::copy_device(void* dst, const void* src, std::size_t bytes) {
  if (bytes == 0) return;
  check_driver(api_->memcpy_dtod_async(reinterpret_cast<uintptr_t>(dst),
                                       reinterpret_cast<uintptr_t>(src), bytes, stream_),
               "cuMemcpyDtoDAsync");
}

void Runtime::copy_to_device(void* dst, const void* src, std::size_t bytes) {
  if (bytes == 0) return;
  make_current();
  check_driver(api_->memcpy_htod_async(reinterpret_cast<uintptr_t>(dst), src, bytes, stream_),
               "cuMemcpyHtoDAsync");
}

void Runtime::copy_to_host(void* dst, const void* src, std::size_t bytes) {
  make_current();
  if (bytes > 0) {
    check_driver(api_->memcpy_dtoh_async(dst, reinterpret_cast<uintptr_t>(src), bytes, stream_),
                 "cuMemcpyDtoHAsync");
  }
  synchronize();
}

Kernel Runtime::kernel(const std::string& source, const std::string& entry, int shared_bytes) {
  const std::string key = source_hash(source) + ":" + entry + ":" + std::to_string(shared_bytes);
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto found = kernels_.find(key); found != kernels_.end()) return found->second;
  make_current();
  const std::string module_key = source_hash(source);
  CuModule module = nullptr;
  if (auto found = modules_.find(module_key); found != modules_.end()) {
    module = found->second;
  } else {
    const CompiledModule compiled = compile_cuda(source, properties_.arch());
    check_driver(api_->module_load_data(&module, compiled.cubin.data()), "cuModuleLoadData");
    modules_[module_key] = module;
  }
  Kernel kernel;
  check_driver(api_->module_get_function(&kernel.function, module, entry.c_str()),
               "cuModuleGetFunction");
  YR_USER_CHECK(shared_bytes <= properties_.shared_per_block_optin,
                "kernel " << entry << " needs " << shared_bytes
                          << " bytes of shared memory; the device allows at most "
                          << properties_.shared_per_block_optin);
  if (shared_bytes > properties_.shared_per_block) {
    constexpr int kMaxDynamicShared = 8;  // CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
    check_driver(api_->func_set_attribute(kernel.function, kMaxDynamicShared, shared_bytes),
                 "cuFuncSetAttribute");
  }
  kernel.shared_bytes = shared_bytes;
  kernels_[key] = kernel;
  return kernel;
}

void Runtime::launch(const Kernel& kernel, const std::array<unsigned, 3>& grid,
                     const std::array<unsigned, 3>& block, std::vector<void*> params) {
  check_driver(api_->launch_kernel(kernel.function, grid[0], grid[1], grid[2], block[0], block[1],
                                   block[2], static_cast<unsigned>(kernel.shared_bytes), stream_,
                                   params.data(), nullptr),
               "cuLaunchKernel");
}

void Runtime::synchronize() {
  make_current();
  check_driver(api_->stream_synchronize(stream_), "cuStreamSynchronize");
}

void Runtime::begin_capture() {
  make_current();
  check_driver(api_->stream_begin_capture(stream_, 2 /* relaxed */), "cuStreamBeginCapture");
}

std::shared_ptr<void> Runtime::end_capture() {
  CuGraph graph = nullptr;
  check_driver(api_->stream_end_capture(stream_, &graph), "cuStreamEndCapture");
  CuGraphExec exec = nullptr;
  const CuResult result = api_->graph_instantiate(&exec, graph, 0);
  api_->graph_destroy(graph);
  check_driver(result, "cuGraphInstantiate");
  const DriverApi* api = api_;
  return std::shared_ptr<void>(
      exec, [api](void* e) { api->graph_exec_destroy(static_cast<CuGraphExec>(e)); });
}

void Runtime::launch_graph(const std::shared_ptr<void>& graph) {
  check_driver(api_->graph_launch(static_cast<CuGraphExec>(graph.get()), stream_), "cuGraphLaunch");
}

std::shared_ptr<CuEventOpaque> Runtime::record_event() {
  CuEvent event = nullptr;
  check_driver(api_->event_create(&event, 0), "cuEventCreate");
  check_driver(api_->event_record(event, stream_), "cuEventRecord");
  const DriverApi* api = api_;
  return std::shared_ptr<CuEventOpaque>(event, [api](CuEvent e) { api->event_destroy(e); });
}

void Runtime::wait_for_legacy_stream() {
  make_current();
  CuEvent event = nullptr;
  check_driver(api_->event_create(&event, 2 /* no timing */), "cuEventCreate");
  const CuResult recorded = api_->event_record(event, nullptr);
  const CuResult waited = recorded == 0 ? api_->stream_wait_event(stream_, event, 0) : recorded;
  api_->event_destroy(event);  // released once the wait is satisfied
  check_driver(waited, "cuStreamWaitEvent");
}

void Runtime::make_legacy_stream_wait() {
  CuEvent event = nullptr;
  check_driver(api_->event_create(&event, 2 /* no timing */), "cuEventCreate");
  const CuResult recorded = api_->event_record(event, stream_);
  const CuResult waited = recorded == 0 ? api_->stream_wait_event(nullptr, event, 0) : recorded;
  api_->event_destroy(event);
  check_driver(waited, "cuStreamWaitEvent");
}

float Runtime::elapsed_ms(CuEvent start, CuEvent end) {
  check_driver(api_->event_synchronize(end), "cuEventSynchronize");
  float ms = 0;
  check_driver(api_->event_elapsed_time(&ms, start, end), "cuEventElapsedTime");
  return ms;
}

}  // namespace yirage::backend::cuda
