// Added-token matching: leftmost-longest search over all patterns, then the single_word, lstrip
// and rstrip rules applied to each match in turn.
#include "yirage/llm/tokenizer_added.h"

#include <algorithm>
#include <utility>

#include "yirage/core/error.h"
#include "yirage/llm/tokenizer_text.h"

namespace yirage::llm {

namespace {

// Offset where the whitespace at the end of text[0, end) begins.
std::size_t trailing_space_begin(std::string_view text, std::size_t end) {
  while (end > 0) {
    std::size_t begin = end - 1;
    while (begin > 0 && (static_cast<unsigned char>(text[begin]) & 0xC0) == 0x80) --begin;
    std::size_t pos = begin;
    if (!text::is_white_space(text::next_code_point(text, pos))) break;
    end = begin;
  }
  return end;
}

// Offset where the whitespace at the start of text[begin, size) ends.
std::size_t leading_space_end(std::string_view text, std::size_t begin) {
  while (begin < text.size()) {
    std::size_t pos = begin;
    if (!text::is_white_space(text::next_code_point(text, pos))) break;
    begin = pos;
  }
  return begin;
}

}  // namespace

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedToken> tokens,
                                     std::vector<std::string> patterns)
    : tokens_(std::move(tokens)), patterns_(std::move(patterns)) {
  YR_INTERNAL_CHECK(tokens_.size() == patterns_.size(), "one pattern per added token");
  for (std::size_t i = 0; i < patterns_.size(); ++i) {
    if (patterns_[i].empty()) continue;  // an empty token can never be found
    by_first_byte_[static_cast<unsigned char>(patterns_[i][0])].push_back(static_cast<int32_t>(i));
  }
  for (auto& candidates : by_first_byte_) {
    std::stable_sort(candidates.begin(), candidates.end(), [&](int32_t a, int32_t b) {
      return patterns_[static_cast<std::size_t>(a)].size() >
             patterns_[static_cast<std::size_t>(b)].size();
    });
  }
}

void AddedTokenMatcher::split(
    std::string_view text,
    const std::function<void(std::size_t begin, std::size_t end, int64_t token)>& piece) const {
  if (text.empty()) {
    piece(0, 0, -1);
    return;
  }
  std::size_t emitted = 0;  // everything before this offset has been handed out
  std::size_t search = 0;   // the next match is searched from here
  while (search < text.size()) {
    // The leftmost position where a pattern matches, and the longest pattern there.
    int32_t found = -1;
    std::size_t at = search;
    for (; at < text.size() && found < 0; ++at) {
      for (int32_t candidate : by_first_byte_[static_cast<unsigned char>(text[at])]) {
        const std::string& pattern = patterns_[static_cast<std::size_t>(candidate)];
        if (text.compare(at, pattern.size(), pattern) == 0) {
          found = candidate;
          break;
        }
      }
    }
    if (found < 0) break;
    --at;
    const AddedToken& token = tokens_[static_cast<std::size_t>(found)];
    std::size_t begin = at;
    std::size_t end = at + patterns_[static_cast<std::size_t>(found)].size();
    search = end;  // later matches never overlap this one, whatever the rules below decide
    if (token.single_word) {
      const bool word_before =
          begin > 0 && text::is_word_char(text::previous_code_point(text, begin));
      std::size_t after = end;
      const bool word_after =
          end < text.size() && text::is_word_char(text::next_code_point(text, after));
      if (word_before || word_after) continue;
    }
    if (token.lstrip) begin = std::max(trailing_space_begin(text, begin), emitted);
    if (token.rstrip) end = leading_space_end(text, end);
    if (emitted < begin) piece(emitted, begin, -1);
    piece(begin, end, found);
    emitted = end;
  }
  if (emitted != text.size()) piece(emitted, text.size(), -1);
}

}  // namespace yirage::llm
