// A generated kernel ready to compile and launch: source, entry point and launch shape.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace yirage::backend::cuda {

/// Source text and launch configuration of one generated kernel.
struct KernelSource {
  std::string source;                           ///< complete CUDA C++ (prelude included)
  std::string entry = "yr_kernel";              ///< extern "C" entry point
  std::array<unsigned, 3> grid = {1, 1, 1};     ///< blocks
  std::array<unsigned, 3> block = {256, 1, 1};  ///< threads per block
  int shared_bytes = 0;                         ///< dynamic shared memory
  /// Floats of persistent global workspace passed after the outputs (0: none), followed by a
  /// pointer to `counters` zeroed unsigned ints that the kernel leaves zeroed.
  int64_t workspace_floats = 0;
  int64_t counters = 0;  ///< zeroed counters passed after the workspace
};

}  // namespace yirage::backend::cuda
