// The tokenizer's regular expressions (internal): PCRE2 in UTF and Unicode-property mode,
// JIT-compiled where the platform allows.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace yirage::llm {

/// One match: bytes [begin, end) of the subject.
struct RegexMatch {
  std::size_t begin;  ///< first byte
  std::size_t end;    ///< one past the last byte
};

/// A compiled pattern, shareable between threads.
class SplitRegex {
 public:
  /// Compiles `pattern` (a regular expression, or literal text with `literal`). UserError naming
  /// `where` and the position PCRE2 reports when it does not compile.
  SplitRegex(const std::string& pattern, bool literal, const std::string& where);
  /// Frees the compiled pattern.
  ~SplitRegex();
  SplitRegex(const SplitRegex&) = delete;
  SplitRegex& operator=(const SplitRegex&) = delete;

  /// Every match in `subject` (valid UTF-8), left to right, as a global search finds them: the
  /// next search starts where the last match ended, and an empty match right where the last
  /// one ended is skipped.
  void find_all(std::string_view subject, std::vector<RegexMatch>& matches) const;
  /// True when the pattern runs JIT-compiled.
  bool jit() const { return jit_; }

 private:
  struct Code;
  std::unique_ptr<Code> code_;
  bool jit_ = false;
};

}  // namespace yirage::llm
