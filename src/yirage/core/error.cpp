#include "yirage/core/error.h"

#include <cstring>

namespace yirage::core {

Error::Error(const std::string& message, const char* file, int line)
    : std::runtime_error(message), file_(file), line_(line) {}

UserError::UserError(const std::string& message, const char* file, int line)
    : Error(message, file, line) {}

namespace {
std::string internal_message(const std::string& condition, const std::string& message,
                             const char* file, int line) {
  std::string text = "internal error at " + std::string(file) + ":" + std::to_string(line) +
                     ": check '" + condition + "' failed";
  if (!message.empty()) text += ": " + message;
  return text;
}
}  // namespace

InternalError::InternalError(const std::string& condition, const std::string& message,
                             const char* file, int line)
    : Error(internal_message(condition, message, file, line), file, line), condition_(condition) {}

namespace detail {
const char* short_file(const char* path) {
  const char* marker = std::strstr(path, "src/yirage/");
  if (marker != nullptr) return marker + 4;
  const char* slash = std::strrchr(path, '/');
  return slash != nullptr ? slash + 1 : path;
}
}  // namespace detail

}  // namespace yirage::core
