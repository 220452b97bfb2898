#include "yirage/core/log.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <mutex>
#include <string_view>

#include "yirage/core/error.h"

namespace yirage::core {

namespace {

constexpr const char* kLevelNames[] = {"error", "warn", "info", "debug", "trace"};

LogLevel level_from_env() {
  const char* text = std::getenv("YIRAGE_LOG");
  if (text == nullptr || *text == '\0') return LogLevel::Warn;
  for (int i = 0; i < 5; ++i) {
    if (std::string_view(text) == kLevelNames[i]) return static_cast<LogLevel>(i);
  }
  std::cerr << "yirage [warn] YIRAGE_LOG='" << text
            << "' is not a level; expected one of error, warn, info, debug, trace (using warn)\n";
  return LogLevel::Warn;
}

std::atomic<int>& current_level() {
  static std::atomic<int> level{static_cast<int>(level_from_env())};
  return level;
}

std::mutex& output_mutex() {
  static std::mutex mutex;
  return mutex;
}

}  // namespace

LogLevel log_level() {
  return static_cast<LogLevel>(current_level().load(std::memory_order_relaxed));
}

void set_log_level(LogLevel level) {
  current_level().store(static_cast<int>(level));
}

LogLine::LogLine(LogLevel level, const char* file, int line) {
  stream_ << "yirage [" << kLevelNames[static_cast<int>(level)] << "] " << detail::short_file(file)
          << ":" << line << ": ";
}

LogLine::~LogLine() {
  stream_ << '\n';
  std::lock_guard<std::mutex> lock(output_mutex());
  std::cerr << stream_.str() << std::flush;
}

}  // namespace yirage::core
