// The host's memory bandwidth, measured with a STREAM-like copy over the global thread pool.
#pragma once

#include <cstddef>
#include <cstdint>

namespace yirage::core {

/// One bandwidth measurement.
struct MemoryBandwidth {
  double bytes_per_second = 0.0;  ///< best copy rate, bytes read plus bytes written per second
  std::size_t buffer_bytes = 0;   ///< size of each of the two buffers
  int threads = 1;                ///< threads that copied
  int repetitions = 0;            ///< copies timed (the best one counts)
};

/// Bytes of the last-level cache of CPU 0 (0 when the system does not say).
std::size_t last_level_cache_bytes();

/// Copies one buffer into another, each slice on its own thread of the global pool, and returns
/// the best rate of `repetitions` copies (STREAM's "copy": read + write bytes per second).
/// `buffer_bytes` 0 picks 4x the last-level cache, clamped to [256 MiB, 1 GiB], so the copy
/// streams from memory, not cache. UserError when repetitions < 1.
MemoryBandwidth measure_memory_bandwidth(std::size_t buffer_bytes = 0, int repetitions = 10);

}  // namespace yirage::core
