// A fixed pool of worker threads with a blocking parallel-for.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace yirage::core {

/// Worker threads that split index ranges among themselves; the caller takes part too.
class ThreadPool {
 public:
  /// Starts `num_threads` - 1 workers (the calling thread is the last one); 0 means default.
  explicit ThreadPool(int num_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  /// The process-wide pool, sized by YIRAGE_NUM_THREADS or the number of hardware threads.
  static ThreadPool& global();
  /// Threads taking part in a parallel_for, the caller included.
  int num_threads() const { return static_cast<int>(workers_.size()) + 1; }
  /// Restarts the pool with `num_threads` threads (the caller included), 1 to 4096, after any
  /// parallel_for in flight; a UserError for other counts or when called from inside a body.
  void set_num_threads(int num_threads);

  /// Calls `body(begin, end)` over disjoint chunks covering [0, count), at least `grain` indices
  /// per chunk, and returns when all are done. The first exception thrown by a chunk is rethrown
  /// here. Nested calls from inside a body run serially.
  void parallel_for(int64_t count, int64_t grain,
                    const std::function<void(int64_t begin, int64_t end)>& body);

 private:
  void worker_loop(uint64_t seen);
  void run_chunks();

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  std::mutex call_mutex_;  // one parallel_for at a time
  const std::function<void(int64_t, int64_t)>* body_ = nullptr;
  int64_t count_ = 0;
  int64_t chunk_ = 0;
  int64_t next_ = 0;
  int active_ = 0;
  uint64_t generation_ = 0;
  bool stopping_ = false;
  std::exception_ptr error_;
};

/// Threads the global pool uses: YIRAGE_NUM_THREADS when set (a positive integer), else the
/// hardware thread count. A malformed value is a UserError.
int default_num_threads();

/// Resizes the global pool to `num_threads` threads (see ThreadPool::set_num_threads).
void set_num_threads(int num_threads);
/// Threads of the global pool, the caller included.
int num_threads();

}  // namespace yirage::core
