// Programmatic dependent launches (sm_90+): a kernel launched this way may be scheduled while the
// kernel before it on the stream is still running, hiding launch latency between the small
// kernels of an unfused graph. It must open with dependent_prologue(), which waits for the
// kernels it depends on (their writes visible) before touching memory (L2 prefetch hints may come
// first: they read no data), then lets the next dependent kernel launch. On older devices the
// prologue compiles to nothing.
#pragma once

#include <array>
#include <vector>

#include "yirage/backend/cuda/runtime.h"

namespace yirage::backend::cuda {

/// Device code for the first lines of a kernel body launched with launch_dependent.
const char* dependent_prologue();

/// Whether launch_dependent overlaps launches here: a device of compute capability 9.0 or
/// newer, cuLaunchKernelEx in the driver, and YIRAGE_CUDA_PDL not set to 0.
bool dependent_launch_available(Runtime& runtime);

/// Launches `kernel` (which opens with dependent_prologue()) on the runtime's stream as a
/// programmatic dependent of the previous kernel; an ordinary launch when unavailable.
void launch_dependent(Runtime& runtime, const Kernel& kernel, const std::array<unsigned, 3>& grid,
                      const std::array<unsigned, 3>& block, std::vector<void*> params);

}  // namespace yirage::backend::cuda
