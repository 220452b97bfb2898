#include "yirage/core/thread_pool.h"

#include <algorithm>
#include <cstdlib>
#include <string>

#include "yirage/core/error.h"

namespace yirage::core {

namespace {
thread_local bool inside_pool_body = false;
}

int default_num_threads() {
  const char* text = std::getenv("YIRAGE_NUM_THREADS");
  if (text != nullptr && *text != '\0') {
    char* end = nullptr;
    const long value = std::strtol(text, &end, 10);
    YR_USER_CHECK(
        end != nullptr && *end == '\0' && value > 0 && value <= 4096,
        "YIRAGE_NUM_THREADS='" << text << "' is not valid; expected an integer from 1 to 4096");
    return static_cast<int>(value);
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

ThreadPool::ThreadPool(int num_threads) {
  if (num_threads <= 0) num_threads = default_num_threads();
  for (int i = 1; i < num_threads; ++i) workers_.emplace_back([this] { worker_loop(0); });
}

void ThreadPool::set_num_threads(int num_threads) {
  YR_USER_CHECK(num_threads >= 1 && num_threads <= 4096,
                "thread count " << num_threads << " is not valid; expected 1 to 4096");
  YR_USER_CHECK(!inside_pool_body,
                "set_num_threads was called from inside a parallel_for body; expected a call "
                "outside parallel work");
  std::lock_guard<std::mutex> call_lock(call_mutex_);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& worker : workers_) worker.join();
  workers_.clear();
  uint64_t generation;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = false;
    generation = generation_;
  }
  for (int i = 1; i < num_threads; ++i)
    workers_.emplace_back([this, generation] { worker_loop(generation); });
}

void set_num_threads(int num_threads) {
  ThreadPool::global().set_num_threads(num_threads);
}

int num_threads() {
  return ThreadPool::global().num_threads();
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& worker : workers_) worker.join();
}

ThreadPool& ThreadPool::global() {
  static ThreadPool pool(default_num_threads());
  return pool;
}

void ThreadPool::run_chunks() {
  const bool was_inside = inside_pool_body;
  inside_pool_body = true;
  while (true) {
    int64_t begin;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (next_ >= count_ || error_) break;
      begin = next_;
      next_ = std::min(count_, next_ + chunk_);
    }
    try {
      (*body_)(begin, std::min(count_, begin + chunk_));
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
  }
  inside_pool_body = was_inside;
}

void ThreadPool::worker_loop(uint64_t seen) {
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) return;
      seen = generation_;
      ++active_;
    }
    run_chunks();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      --active_;
    }
    done_.notify_all();
  }
}

void ThreadPool::parallel_for(int64_t count, int64_t grain,
                              const std::function<void(int64_t, int64_t)>& body) {
  if (count <= 0) return;
  grain = std::max<int64_t>(1, grain);
  if (inside_pool_body || workers_.empty() || count <= grain) {
    body(0, count);
    return;
  }
  std::lock_guard<std::mutex> call_lock(call_mutex_);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    body_ = &body;
    count_ = count;
    const int64_t target_chunks = static_cast<int64_t>(num_threads()) * 4;
    chunk_ = std::max(grain, (count + target_chunks - 1) / target_chunks);
    next_ = 0;
    error_ = nullptr;
    ++generation_;
  }
  wake_.notify_all();
  run_chunks();
  std::exception_ptr error;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return active_ == 0; });
    // A worker that wakes only now must find no chunk left (after an error, next_ < count_).
    next_ = count_;
    body_ = nullptr;
    error = error_;
    error_ = nullptr;
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace yirage::core
