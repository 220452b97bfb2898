// Logging to stderr, filtered by the YIRAGE_LOG environment variable.
#pragma once

#include <sstream>

namespace yirage::core {

/// Severity of a log line; YIRAGE_LOG=error|warn|info|debug|trace selects the lowest shown.
enum class LogLevel { Error = 0, Warn = 1, Info = 2, Debug = 3, Trace = 4 };

/// The level read from YIRAGE_LOG once (default: warn); an unknown value warns and keeps warn.
LogLevel log_level();
/// Overrides the level for this process (tests, the CLI's --verbose).
void set_log_level(LogLevel level);
/// True when lines of `level` are written.
inline bool log_enabled(LogLevel level) {
  return static_cast<int>(level) <= static_cast<int>(log_level());
}

/// One log line, written to stderr with its level and source when destroyed.
class LogLine {
 public:
  /// Starts a line at `level` raised from `file`:`line`.
  LogLine(LogLevel level, const char* file, int line);
  ~LogLine();
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;
  /// The stream the message is written to.
  std::ostream& stream() { return stream_; }

 private:
  std::ostringstream stream_;
};

}  // namespace yirage::core

/// Streams a log line at `level` (Error, Warn, Info, Debug, Trace) when that level is enabled:
/// YR_LOG(Info) << "compiled " << name;
#define YR_LOG(level)                                                  \
  if (!::yirage::core::log_enabled(::yirage::core::LogLevel::level)) { \
  } else                                                               \
    ::yirage::core::LogLine(::yirage::core::LogLevel::level, __FILE__, __LINE__).stream()
