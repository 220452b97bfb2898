#include "yirage/backend/cuda/autotune.h"

#include <dlfcn.h>

#include <algorithm>
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
  // A warm-up run of each (which also says whether it runs at all), then two interleaved rounds
  // of timed runs; each candidate keeps its better round.
  std::vector<float> best_ms(candidates.size(), std::numeric_limits<float>::infinity());
  std::vector<bool> runs(candidates.size());
  for (std::size_t i = 0; i < candidates.size(); ++i) runs[i] = candidates[i]();
  for (int round = 0; round < 2; ++round) {
    for (std::size_t i = 0; i < candidates.size(); ++i) {
      if (!runs[i]) continue;
      const auto start = runtime.record_event();
      for (int r = 0; r < repeats && runs[i]; ++r) runs[i] = candidates[i]();
      const auto end = runtime.record_event();
      if (runs[i]) best_ms[i] = std::min(best_ms[i], runtime.elapsed_ms(start.get(), end.get()));
    }
  }
  int best = -1;
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    if (runs[i] && (best < 0 || best_ms[i] < best_ms[best])) best = static_cast<int>(i);
  }
  return best;
}

}  // namespace yirage::backend::cuda
