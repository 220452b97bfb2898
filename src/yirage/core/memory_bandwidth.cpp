#include "yirage/core/memory_bandwidth.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>

#include "yirage/core/error.h"
#include "yirage/core/thread_pool.h"

namespace yirage::core {

namespace {

constexpr std::size_t kMiB = std::size_t{1} << 20;

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

}  // namespace

std::size_t last_level_cache_bytes() {
  std::size_t best = 0;
  for (int index = 0; index < 8; ++index) {
    std::ifstream file("/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(index) +
                       "/size");
    std::string text;
    if (!(file >> text) || text.empty()) continue;
    std::size_t value = std::strtoull(text.c_str(), nullptr, 10);
    const char unit = text.back();
    if (unit == 'K') value *= 1024;
    if (unit == 'M') value *= kMiB;
    best = std::max(best, value);
  }
  return best;
}

MemoryBandwidth measure_memory_bandwidth(std::size_t buffer_bytes, int repetitions) {
  YR_USER_CHECK(repetitions >= 1,
                "bandwidth measurement needs at least 1 repetition; got " << repetitions);
  if (buffer_bytes == 0) {
    buffer_bytes = std::clamp<std::size_t>(4 * last_level_cache_bytes(), 256 * kMiB, 1024 * kMiB);
  }
  buffer_bytes = (buffer_bytes + 4095) / 4096 * 4096;
  std::unique_ptr<char, FreeDeleter> source(
      static_cast<char*>(std::aligned_alloc(4096, buffer_bytes)));
  std::unique_ptr<char, FreeDeleter> target(
      static_cast<char*>(std::aligned_alloc(4096, buffer_bytes)));
  YR_USER_CHECK(source && target, "cannot allocate two buffers of " << buffer_bytes / kMiB
                                                                    << " MiB to measure bandwidth");
  ThreadPool& pool = ThreadPool::global();
  const int threads = pool.num_threads();
  const std::size_t slice = (buffer_bytes / static_cast<std::size_t>(threads) + 4095) / 4096 * 4096;
  const auto each_slice = [&](const auto& body) {
    pool.parallel_for(threads, 1, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        const std::size_t first = std::min(buffer_bytes, static_cast<std::size_t>(t) * slice);
        const std::size_t last = std::min(buffer_bytes, first + slice);
        if (last > first) body(first, last - first);
      }
    });
  };
  // First touch by the thread that copies the slice, so its pages are placed near it.
  each_slice([&](std::size_t offset, std::size_t bytes) {
    std::memset(source.get() + offset, 1, bytes);
    std::memset(target.get() + offset, 0, bytes);
  });
  MemoryBandwidth result;
  result.buffer_bytes = buffer_bytes;
  result.threads = threads;
  result.repetitions = repetitions;
  for (int r = 0; r < repetitions; ++r) {
    const auto start = std::chrono::steady_clock::now();
    each_slice([&](std::size_t offset, std::size_t bytes) {
      std::memcpy(target.get() + offset, source.get() + offset, bytes);
    });
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    result.bytes_per_second =
        std::max(result.bytes_per_second, 2.0 * static_cast<double>(buffer_bytes) / seconds);
  }
  return result;
}

}  // namespace yirage::core
