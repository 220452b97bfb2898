// A generated kernel ready to compile and launch: source, entry point and launch shape.
#pragma once

#include <array>
#include <string>

namespace yirage::backend::cuda {

/// Source text and launch configuration of one generated kernel.
struct KernelSource {
  std::string source;                           ///< complete CUDA C++ (prelude included)
  std::string entry = "yr_kernel";              ///< extern "C" entry point
  std::array<unsigned, 3> grid = {1, 1, 1};     ///< blocks
  std::array<unsigned, 3> block = {256, 1, 1};  ///< threads per block
  int shared_bytes = 0;                         ///< dynamic shared memory
  bool dependent = false;  ///< opens with dependent_prologue(): launch with launch_dependent
};

}  // namespace yirage::backend::cuda
