// Finds CUDA GPUs through the driver library, loaded at run time so the tool runs without one.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace yirage::cli {

/// One CUDA device as the driver reports it.
struct CudaDevice {
  std::string name;           ///< e.g. "NVIDIA H100 80GB HBM3"
  uint64_t memory_bytes = 0;  ///< total device memory
  int compute_major = 0;      ///< compute capability, major
  int compute_minor = 0;      ///< compute capability, minor
};

/// What probing the CUDA driver found.
struct CudaProbe {
  bool driver_found = false;        ///< libcuda.so.1 could be loaded
  int driver_version = 0;           ///< e.g. 12040 for CUDA 12.4 (0 when unknown)
  std::string problem;              ///< why no devices are listed (empty when all went well)
  std::vector<CudaDevice> devices;  ///< the devices found
};

/// Loads libcuda.so.1 with dlopen and asks it for its devices; never throws.
CudaProbe probe_cuda();

}  // namespace yirage::cli
