// One-time timed choices on the device: of several equivalent ways to queue the same work (GEMM
// algorithms, a generated kernel against a library call), the fastest, measured once with events
// on the real operands. Nothing is timed while the stream is being captured into a graph.
#pragma once

#include <functional>
#include <vector>

namespace yirage::backend::cuda {

class Runtime;

/// Whether the runtime's stream is capturing into a CUDA graph now (true when it cannot tell).
bool stream_capturing(Runtime& runtime);

/// Index of the fastest of `candidates` (each queues the same work on the runtime's stream and
/// returns false when it cannot run): after a warm-up run of each, two interleaved rounds of
/// `repeats` queued runs each, the better round counting; -1 when the stream is capturing or no
/// candidate ran. Waits for the stream.
int fastest_candidate(Runtime& runtime, const std::vector<std::function<bool()>>& candidates,
                      int repeats = 5);

}  // namespace yirage::backend::cuda
