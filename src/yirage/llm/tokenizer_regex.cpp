// PCRE2 behind SplitRegex: compiled once with UTF and Unicode properties (UCP), JIT when the
// platform has it; each thread keeps its own match data and JIT stack.
#include "yirage/llm/tokenizer_regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <cstdint>
#include <limits>

#include "yirage/core/error.h"

namespace yirage::llm {

namespace {

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  const int length = pcre2_get_error_message(code, buffer, sizeof(buffer));
  if (length < 0) return "PCRE2 error " + std::to_string(code);
  return std::string(reinterpret_cast<const char*>(buffer), static_cast<std::size_t>(length));
}

// What one thread needs to run any SplitRegex: match data for the whole-match offsets, and a
// match context with a JIT stack that can grow for long runs of one character class.
class MatchScratch {
 public:
  MatchScratch() {
    data_ = pcre2_match_data_create(1, nullptr);
    context_ = pcre2_match_context_create(nullptr);
    stack_ = pcre2_jit_stack_create(32 * 1024, 64 * 1024 * 1024, nullptr);
    YR_INTERNAL_CHECK(data_ != nullptr && context_ != nullptr, "out of memory for PCRE2");
    pcre2_set_match_limit(context_, std::numeric_limits<uint32_t>::max());
    if (stack_ != nullptr) pcre2_jit_stack_assign(context_, nullptr, stack_);
  }
  ~MatchScratch() {
    pcre2_jit_stack_free(stack_);
    pcre2_match_context_free(context_);
    pcre2_match_data_free(data_);
  }
  MatchScratch(const MatchScratch&) = delete;
  MatchScratch& operator=(const MatchScratch&) = delete;

  pcre2_match_data* data() { return data_; }
  pcre2_match_context* context() { return context_; }

 private:
  pcre2_match_data* data_ = nullptr;
  pcre2_match_context* context_ = nullptr;
  pcre2_jit_stack* stack_ = nullptr;
};

MatchScratch& scratch() {
  thread_local MatchScratch instance;
  return instance;
}

}  // namespace

struct SplitRegex::Code {
  pcre2_code* code = nullptr;
  ~Code() { pcre2_code_free(code); }
};

SplitRegex::SplitRegex(const std::string& pattern, bool literal, const std::string& where)
    : code_(std::make_unique<Code>()) {
  uint32_t options = PCRE2_UTF | PCRE2_UCP;
  if (literal) options |= PCRE2_LITERAL;
  int error = 0;
  PCRE2_SIZE offset = 0;
  code_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options,
                              &error, &offset, nullptr);
  YR_USER_CHECK(code_->code != nullptr, where << ": the pattern '" << pattern
                                              << "' does not compile at byte " << offset << ": "
                                              << pcre2_message(error));
  jit_ = pcre2_jit_compile(code_->code, PCRE2_JIT_COMPLETE) == 0;
}

SplitRegex::~SplitRegex() = default;

void SplitRegex::find_all(std::string_view subject, std::vector<RegexMatch>& matches) const {
  MatchScratch& local = scratch();
  const auto* text = reinterpret_cast<PCRE2_SPTR>(subject.data());
  std::size_t start = 0;
  std::size_t last_end = std::numeric_limits<std::size_t>::max();
  uint32_t no_jit = 0;
  while (start <= subject.size()) {
    int rc = pcre2_match(code_->code, text, subject.size(), start, PCRE2_NO_UTF_CHECK | no_jit,
                         local.data(), local.context());
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT && no_jit == 0) {
      no_jit = PCRE2_NO_JIT;  // the interpreter keeps its backtracking state on the heap
      continue;
    }
    if (rc == PCRE2_ERROR_NOMATCH) break;
    YR_USER_CHECK(rc >= 0, "the tokenizer's split pattern failed on a text of "
                               << subject.size() << " bytes: " << pcre2_message(rc));
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(local.data());
    const std::size_t begin = ovector[0], end = ovector[1];
    if (begin == end && end == last_end) {
      // An empty match where the last match ended: search again one character further on.
      if (start >= subject.size()) break;
      std::size_t next = start + 1;
      while (next < subject.size() && (static_cast<unsigned char>(subject[next]) & 0xC0) == 0x80) {
        ++next;
      }
      start = next;
      continue;
    }
    matches.push_back({begin, end});
    last_end = end;
    start = end;
  }
}

}  // namespace yirage::llm
