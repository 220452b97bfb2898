// The thread pool: coverage of parallel_for, exceptions, nesting and YIRAGE_NUM_THREADS.
#include "yirage/core/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "test_util.h"

namespace {

using yirage::core::ThreadPool;

TEST(ThreadPool, CountsTheCallerAsAThread) {
  EXPECT_EQ(ThreadPool(1).num_threads(), 1);
  EXPECT_EQ(ThreadPool(4).num_threads(), 4);
  EXPECT_GE(ThreadPool::global().num_threads(), 1);
}

TEST(ThreadPool, ParallelForCoversEveryIndexExactlyOnce) {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    for (int64_t count :
         {int64_t{1}, int64_t{2}, int64_t{7}, int64_t{64}, int64_t{1000}, int64_t{4097}}) {
      for (int64_t grain : {int64_t{0}, int64_t{1}, int64_t{3}, int64_t{16}, int64_t{5000}}) {
        std::vector<std::atomic<int>> hits(static_cast<std::size_t>(count));
        std::atomic<int64_t> chunks{0};
        std::atomic<bool> bad_chunk{false};
        pool.parallel_for(count, grain, [&](int64_t begin, int64_t end) {
          ++chunks;
          // Every chunk but the last holds at least `grain` indices.
          if (begin < 0 || end > count || begin >= end || (end < count && end - begin < grain)) {
            bad_chunk = true;
          }
          for (int64_t i = begin; i < end; ++i) ++hits[static_cast<std::size_t>(i)];
        });
        EXPECT_FALSE(bad_chunk) << threads << " threads, count " << count << ", grain " << grain;
        for (int64_t i = 0; i < count; ++i) {
          ASSERT_EQ(hits[static_cast<std::size_t>(i)], 1)
              << "index " << i << " with " << threads << " threads, count " << count << ", grain "
              << grain;
        }
        if (grain >= count) {
          EXPECT_EQ(chunks, 1);
        }
      }
    }
  }
}

TEST(ThreadPool, EmptyAndNegativeCountsRunNothing) {
  ThreadPool pool(3);
  int calls = 0;
  pool.parallel_for(0, 1, [&](int64_t, int64_t) { ++calls; });
  pool.parallel_for(-5, 1, [&](int64_t, int64_t) { ++calls; });
  EXPECT_EQ(calls, 0);
}

TEST(ThreadPool, WorkIsSharedAmongThreads) {
  ThreadPool pool(4);
  std::mutex mutex;
  std::set<std::thread::id> seen;
  std::atomic<int> arrived{0};
  // Each chunk waits (up to a generous deadline) until a second chunk has started, which only
  // another thread can do while this one waits.
  pool.parallel_for(64, 1, [&](int64_t, int64_t) {
    ++arrived;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (arrived < 2 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    std::lock_guard<std::mutex> lock(mutex);
    seen.insert(std::this_thread::get_id());
  });
  EXPECT_GE(seen.size(), 2u);
  EXPECT_LE(seen.size(), 4u);
}

TEST(ThreadPool, ExceptionsReachTheCaller) {
  ThreadPool pool(4);
  EXPECT_USER_ERROR(
      [&] {
        pool.parallel_for(1000, 1, [&](int64_t begin, int64_t end) {
          if (begin <= 500 && 500 < end) YR_USER_ERROR("index 500 is bad");
        });
      },
      "index 500 is bad");
  // The pool is still usable afterwards.
  std::atomic<int64_t> total{0};
  pool.parallel_for(100, 1, [&](int64_t begin, int64_t end) { total += end - begin; });
  EXPECT_EQ(total, 100);
}

TEST(ThreadPool, RepeatedFailuresLeaveThePoolConsistent) {
  ThreadPool pool(8);
  for (int round = 0; round < 300; ++round) {
    EXPECT_THROW(pool.parallel_for(256, 1,
                                   [&](int64_t begin, int64_t) {
                                     if (begin == 0) throw std::runtime_error("first chunk");
                                   }),
                 std::runtime_error);
    std::atomic<int64_t> total{0};
    pool.parallel_for(64, 1, [&](int64_t begin, int64_t end) { total += end - begin; });
    ASSERT_EQ(total, 64) << "round " << round;
  }
}

TEST(ThreadPool, SerialPathPropagatesExceptionsToo) {
  ThreadPool pool(1);
  EXPECT_THROW(pool.parallel_for(10, 1, [](int64_t, int64_t) { throw std::logic_error("x"); }),
               std::logic_error);
}

TEST(ThreadPool, NestedCallsRunSeriallyOnTheCallingThread) {
  ThreadPool pool(4);
  std::vector<std::atomic<int>> hits(32 * 32);
  std::atomic<bool> moved{false};
  pool.parallel_for(32, 1, [&](int64_t begin, int64_t end) {
    for (int64_t outer = begin; outer < end; ++outer) {
      const auto caller = std::this_thread::get_id();
      int inner_calls = 0;
      pool.parallel_for(32, 1, [&](int64_t inner_begin, int64_t inner_end) {
        ++inner_calls;
        if (std::this_thread::get_id() != caller) moved = true;
        for (int64_t inner = inner_begin; inner < inner_end; ++inner) ++hits[outer * 32 + inner];
      });
      if (inner_calls != 1) moved = true;  // one serial call over the whole range
    }
  });
  EXPECT_FALSE(moved);
  for (std::size_t i = 0; i < hits.size(); ++i) ASSERT_EQ(hits[i], 1) << i;
}

TEST(ThreadPool, ConcurrentCallersAreSerialized) {
  ThreadPool pool(3);
  std::atomic<int64_t> total{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 4; ++c) {
    callers.emplace_back([&] {
      for (int round = 0; round < 20; ++round) {
        pool.parallel_for(100, 2, [&](int64_t begin, int64_t end) { total += end - begin; });
      }
    });
  }
  for (auto& caller : callers) caller.join();
  EXPECT_EQ(total, 4 * 20 * 100);
}

TEST(DefaultNumThreads, ReadsYirageNumThreads) {
  {
    yirage::testing::ScopedEnv env("YIRAGE_NUM_THREADS", "3");
    EXPECT_EQ(yirage::core::default_num_threads(), 3);
  }
  {
    yirage::testing::ScopedEnv env("YIRAGE_NUM_THREADS", "4096");
    EXPECT_EQ(yirage::core::default_num_threads(), 4096);
  }
  {
    yirage::testing::ScopedEnv env("YIRAGE_NUM_THREADS", nullptr);
    const unsigned hardware = std::thread::hardware_concurrency();
    EXPECT_EQ(yirage::core::default_num_threads(), hardware == 0 ? 1 : static_cast<int>(hardware));
  }
  {
    yirage::testing::ScopedEnv env("YIRAGE_NUM_THREADS", "");  // empty means unset
    EXPECT_GE(yirage::core::default_num_threads(), 1);
  }
}

TEST(DefaultNumThreads, RejectsMalformedValues) {
  for (const char* bad : {"0", "-2", "abc", "4x", "4097", "1.5", " "}) {
    yirage::testing::ScopedEnv env("YIRAGE_NUM_THREADS", bad);
    EXPECT_USER_ERROR([] { yirage::core::default_num_threads(); },
                      "YIRAGE_NUM_THREADS='" + std::string(bad) + "' is not valid",
                      "expected an integer from 1 to 4096");
  }
}

TEST(ThreadPool, ZeroThreadsMeansTheDefault) {
  yirage::testing::ScopedEnv env("YIRAGE_NUM_THREADS", "2");
  EXPECT_EQ(ThreadPool(0).num_threads(), 2);
}

}  // namespace
