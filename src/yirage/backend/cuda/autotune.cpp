#include "yirage/backend/cuda/autotune.h"

#include <dlfcn.h>

#include <limits>

#include "yirage/backend/cuda/runtime.h"

namespace yirage::backend::cuda {

namespace {

using IsCapturing = int (*)(CuStream stream, int* status);

// cuStreamIsCapturing from the driver the runtime already loaded (nullptr when absent).
IsCapturing is_capturing_entry() {
  static const IsCapturing entry = [] {
    void* library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
    if (library == nullptr) return IsCapturing{nullptr};
    return reinterpret_cast<IsCapturing>(dlsym(library, "cuStreamIsCapturing"));
  }();
  return entry;
}

}  // namespace

bool stream_capturing(Runtime& runtime) {
  const IsCapturing entry = is_capturing_entry();
  if (entry == nullptr) return true;
  int status = 0;  // CU_STREAM_CAPTURE_STATUS_NONE
  if (entry(runtime.stream(), &status) != 0) return true;
  return status != 0;
}

int fastest_candidate(Runtime& runtime, const std::vector<std::function<bool()>>& candidates,
                      int repeats) {
  if (candidates.empty() || stream_capturing(runtime)) return -1;
  int best = -1;
  float best_ms = std::numeric_limits<float>::infinity();
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    if (!candidates[i]()) continue;  // warm-up (and a check that it runs at all)
    const auto start = runtime.record_event();
    bool ran = true;
    for (int r = 0; r < repeats && ran; ++r) ran = candidates[i]();
    const auto end = runtime.record_event();
    const float ms = runtime.elapsed_ms(start.get(), end.get());
    if (ran && ms < best_ms) {
      best_ms = ms;
      best = static_cast<int>(i);
    }
  }
  return best;
}

}  // namespace yirage::backend::cuda
