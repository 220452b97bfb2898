// The CUDA runtime of the backend: one device, its primary context, a stream, a caching memory
// pool, events, and the kernels compiled through NVRTC (cached in memory and on disk).
#pragma once

#include <array>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "yirage/backend/cuda/driver.h"
#include "yirage/core/tensor.h"

namespace yirage::backend::cuda {

/// What the backend knows of its device.
struct DeviceProperties {
  std::string name;                ///< e.g. "NVIDIA H100 80GB HBM3"
  int major = 0;                   ///< compute capability, major
  int minor = 0;                   ///< compute capability, minor
  int multiprocessors = 0;         ///< SM count
  int shared_per_block = 0;        ///< default shared memory per block, bytes
  int shared_per_block_optin = 0;  ///< opt-in maximum shared memory per block, bytes
  int l2_bytes = 0;                ///< L2 cache size
  std::size_t memory_bytes = 0;    ///< global memory
  int driver_version = 0;          ///< e.g. 13000
  /// NVRTC architecture flag value, e.g. "sm_90".
  std::string arch() const { return "sm_" + std::to_string(major * 10 + minor); }
};

/// Why CUDA cannot run here (no driver / no device / no NVRTC), or empty when it can.
std::string cuda_unavailable_reason();

/// A kernel entry point and the dynamic shared memory it was prepared for.
struct Kernel {
  CuFunction function = nullptr;  ///< the entry point
  int shared_bytes = 0;           ///< dynamic shared memory it may use
};

/// The process-wide CUDA runtime for device 0. Created on first use; every call throws a
/// UserError with the reason when CUDA is unavailable.
class Runtime {
 public:
  /// The runtime (UserError when CUDA is unavailable).
  static Runtime& get();

  /// Properties of the device.
  const DeviceProperties& properties() const { return properties_; }
  /// The stream all work is queued on.
  CuStream stream() const { return stream_; }
  /// Makes the context current on the calling thread.
  void make_current() const;

  /// Device memory of at least `bytes` from the pool (256-byte aligned); returned to the pool
  /// when the last reference dies.
  std::shared_ptr<void> allocate(std::size_t bytes);
  /// A new CUDA tensor of `shape` (uninitialised).
  core::Tensor empty(const core::Shape& shape, core::DType dtype);
  /// Copies a host tensor to a new CUDA tensor (asynchronously, on the stream).
  core::Tensor to_device(const core::Tensor& host);
  /// Copies a CUDA tensor to a new host tensor (waits for the stream).
  core::Tensor to_host(const core::Tensor& device);
  /// Copies `bytes` between device addresses on the stream.
  void copy_device(void* dst, const void* src, std::size_t bytes);
  /// Copies `bytes` from host to device on the stream (the host memory must outlive the copy).
  void copy_to_device(void* dst, const void* src, std::size_t bytes);
  /// Copies `bytes` from device to host and waits.
  void copy_to_host(void* dst, const void* src, std::size_t bytes);

  /// Kernel `entry` of `source`, compiled for this device on first use.
  Kernel kernel(const std::string& source, const std::string& entry, int shared_bytes = 0);
  /// Launches `kernel` on the stream with `params` (addresses of the argument values).
  void launch(const Kernel& kernel, const std::array<unsigned, 3>& grid,
              const std::array<unsigned, 3>& block, std::vector<void*> params);
  /// Waits for the stream.
  void synchronize();

  /// Orders the stream after the work queued so far on the legacy default stream (where
  /// frameworks such as PyTorch produce the CUDA tensors they hand over).
  void wait_for_legacy_stream();
  /// Orders later work of the legacy default stream after the work queued so far on the stream
  /// (so that frameworks read finished outputs).
  void make_legacy_stream_wait();

  /// Bytes currently held by the pool (in use or cached).
  std::size_t pool_bytes() const;

  /// Starts capturing the stream's work into a graph.
  void begin_capture();
  /// Ends a capture; the instantiated graph, replayed by launch_graph.
  std::shared_ptr<void> end_capture();
  /// Replays a graph from end_capture on the stream.
  void launch_graph(const std::shared_ptr<void>& graph);

  /// Milliseconds between two events recorded by record_event.
  float elapsed_ms(CuEvent start, CuEvent end);
  /// Records a new event on the stream (destroyed with the returned handle).
  std::shared_ptr<CuEventOpaque> record_event();

 private:
  Runtime();
  void release(void* pointer, std::size_t bytes);

  const DriverApi* api_ = nullptr;
  CuDevice device_ = 0;
  CuContext context_ = nullptr;
  CuStream stream_ = nullptr;
  DeviceProperties properties_;
  mutable std::mutex mutex_;
  std::multimap<std::size_t, CuDevicePtr> free_blocks_;  // size class -> free block
  std::size_t held_bytes_ = 0;
  std::map<std::string, CuModule> modules_;  // source hash -> loaded module
  std::map<std::string, Kernel> kernels_;    // source hash + entry -> kernel
};

}  // namespace yirage::backend::cuda
