// Errors: user errors (bad input) and internal errors (broken invariants), both with file and line.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace yirage::core {

/// Base of every exception yirage throws; carries the source location that raised it.
class Error : public std::runtime_error {
 public:
  /// Builds an error with its message and the file and line that raised it.
  Error(const std::string& message, const char* file, int line);
  /// Source file that raised the error.
  const std::string& file() const { return file_; }
  /// Source line that raised the error.
  int line() const { return line_; }

 private:
  std::string file_;
  int line_;
};

/// Bad input from a user: the message says what was wrong and what was expected.
class UserError : public Error {
 public:
  /// Builds a user error; `what()` is the message alone.
  UserError(const std::string& message, const char* file, int line);
};

/// A broken invariant inside yirage: the message names the condition, file and line.
class InternalError : public Error {
 public:
  /// Builds an internal error; `what()` reads "internal error at FILE:LINE: CONDITION: MESSAGE".
  InternalError(const std::string& condition, const std::string& message, const char* file,
                int line);
  /// The condition that did not hold.
  const std::string& condition() const { return condition_; }

 private:
  std::string condition_;
};

namespace detail {
/// Strips the directories of a source path so messages stay short and machine-independent.
const char* short_file(const char* path);
}  // namespace detail

}  // namespace yirage::core

/// Throws a UserError whose message is built by streaming `msg` (only on failure).
#define YR_USER_ERROR(msg)                                                                   \
  do {                                                                                       \
    std::ostringstream yr_error_stream_;                                                     \
    yr_error_stream_ << msg;                                                                 \
    throw ::yirage::core::UserError(yr_error_stream_.str(),                                  \
                                    ::yirage::core::detail::short_file(__FILE__), __LINE__); \
  } while (0)

/// Throws a UserError with the streamed message `msg` unless `cond` holds.
#define YR_USER_CHECK(cond, msg)     \
  do {                               \
    if (!(cond)) YR_USER_ERROR(msg); \
  } while (0)

/// Throws an InternalError for a state that must not be reached, with the streamed message `msg`,
/// file and line.
#define YR_INTERNAL_ERROR(msg)                                                                   \
  do {                                                                                           \
    std::ostringstream yr_error_stream_;                                                         \
    yr_error_stream_ << msg;                                                                     \
    throw ::yirage::core::InternalError("unreachable", yr_error_stream_.str(),                   \
                                        ::yirage::core::detail::short_file(__FILE__), __LINE__); \
  } while (0)

/// Throws an InternalError naming `cond`, the streamed message `msg`, file and line unless `cond`
/// holds.
#define YR_INTERNAL_CHECK(cond, msg)                                                               \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      std::ostringstream yr_error_stream_;                                                         \
      yr_error_stream_ << msg;                                                                     \
      throw ::yirage::core::InternalError(#cond, yr_error_stream_.str(),                           \
                                          ::yirage::core::detail::short_file(__FILE__), __LINE__); \
    }                                                                                              \
  } while (0)
