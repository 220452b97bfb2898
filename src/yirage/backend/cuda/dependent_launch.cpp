#include "yirage/backend/cuda/dependent_launch.h"

#include <dlfcn.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace yirage::backend::cuda {

namespace {

// The driver's launch structures (CUlaunchAttribute, CUlaunchConfig of cuda.h).
struct LaunchAttribute {
  int id;
  char pad[4];
  union {
    char bytes[64];
    int value;
  } value;
};
static_assert(sizeof(LaunchAttribute) == 72, "CUlaunchAttribute layout");

struct LaunchConfig {
  unsigned grid_x, grid_y, grid_z;
  unsigned block_x, block_y, block_z;
  unsigned shared_bytes;
  CuStream stream;
  LaunchAttribute* attributes;
  unsigned attribute_count;
};
static_assert(sizeof(LaunchConfig) == 56, "CUlaunchConfig layout");

constexpr int kProgrammaticStreamSerialization = 6;  // CU_LAUNCH_ATTRIBUTE_...

using LaunchKernelEx = CuResult (*)(const LaunchConfig* config, CuFunction function, void** params,
                                    void** extra);

LaunchKernelEx launch_entry() {
  static const LaunchKernelEx entry = [] {
    const char* setting = std::getenv("YIRAGE_CUDA_PDL");
    if (setting != nullptr && std::strcmp(setting, "0") == 0) return LaunchKernelEx{nullptr};
    void* library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
    if (library == nullptr) return LaunchKernelEx{nullptr};
    return reinterpret_cast<LaunchKernelEx>(dlsym(library, "cuLaunchKernelEx"));
  }();
  return entry;
}

std::atomic<bool> failed{false};  // a refused dependent launch turns them off for the process

}  // namespace

const char* dependent_prologue() {
  return "#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900\n"
         "  asm volatile(\"griddepcontrol.wait;\" ::: \"memory\");\n"
         "  asm volatile(\"griddepcontrol.launch_dependents;\" ::: \"memory\");\n"
         "#endif\n";
}

bool dependent_launch_available(Runtime& runtime) {
  return runtime.properties().major >= 9 && launch_entry() != nullptr && !failed.load();
}

void launch_dependent(Runtime& runtime, const Kernel& kernel, const std::array<unsigned, 3>& grid,
                      const std::array<unsigned, 3>& block, std::vector<void*> params) {
  if (dependent_launch_available(runtime)) {
    LaunchAttribute attribute{};
    attribute.id = kProgrammaticStreamSerialization;
    attribute.value.value = 1;
    LaunchConfig config{grid[0],
                        grid[1],
                        grid[2],
                        block[0],
                        block[1],
                        block[2],
                        static_cast<unsigned>(kernel.shared_bytes),
                        runtime.stream(),
                        &attribute,
                        1};
    if (launch_entry()(&config, kernel.function, params.data(), nullptr) == 0) return;
    failed.store(true);
  }
  runtime.launch(kernel, grid, block, std::move(params));
}

}  // namespace yirage::backend::cuda
