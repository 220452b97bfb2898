// The STREAM-like bandwidth measurement: a positive rate over the requested buffers.
#include <gtest/gtest.h>

#include "test_util.h"
#include "yirage/core/memory_bandwidth.h"
#include "yirage/core/thread_pool.h"

namespace yirage::core {
namespace {

TEST(MemoryBandwidthTest, MeasuresAPositiveRateOverTheRequestedBuffers) {
  const MemoryBandwidth measured = measure_memory_bandwidth(std::size_t{8} << 20, 2);
  EXPECT_GT(measured.bytes_per_second, 1e8);  // any machine copies more than 100 MB/s
  EXPECT_EQ(measured.buffer_bytes, std::size_t{8} << 20);
  EXPECT_EQ(measured.repetitions, 2);
  EXPECT_EQ(measured.threads, ThreadPool::global().num_threads());
}

TEST(MemoryBandwidthTest, RejectsZeroRepetitions) {
  EXPECT_USER_ERROR([] { measure_memory_bandwidth(1 << 20, 0); }, "at least 1 repetition", "got 0");
}

}  // namespace
}  // namespace yirage::core
