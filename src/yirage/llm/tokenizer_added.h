// Added tokens (internal): the tokens a tokenizer.json lists under "added_tokens", found in text
// before anything else runs, with their single_word/lstrip/rstrip flags.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace yirage::llm {

/// One entry of "added_tokens".
struct AddedToken {
  int64_t id = 0;            ///< its id
  std::string content;       ///< the text it stands for
  bool special = false;      ///< left out by decode(skip_special_tokens)
  bool single_word = false;  ///< only matches when no word character touches it
  bool lstrip = false;       ///< swallows the whitespace before it
  bool rstrip = false;       ///< swallows the whitespace after it
  bool normalized = false;   ///< matched in normalised text (content normalised too)
};

/// Finds one group of added tokens (the normalised or the raw ones) in text: at each place the
/// leftmost match, the longest one there, then on after it.
class AddedTokenMatcher {
 public:
  /// Indexes `tokens`; `patterns[i]` is the text that token `tokens[i]` is matched as.
  AddedTokenMatcher(std::vector<AddedToken> tokens, std::vector<std::string> patterns);
  /// A matcher with nothing to match.
  AddedTokenMatcher() = default;

  /// Calls `piece(begin, end, token)` for consecutive pieces covering `text`: added tokens with
  /// their index in `tokens`, the text between them with -1. Empty text is one empty piece.
  void split(
      std::string_view text,
      const std::function<void(std::size_t begin, std::size_t end, int64_t token)>& piece) const;
  /// True when there is nothing to match.
  bool empty() const { return tokens_.empty(); }
  /// The token with index `index`.
  const AddedToken& token(int64_t index) const { return tokens_[static_cast<std::size_t>(index)]; }

 private:
  std::vector<AddedToken> tokens_;
  std::vector<std::string> patterns_;
  // For each first byte, the tokens whose pattern starts with it, longest pattern first.
  std::array<std::vector<int32_t>, 256> by_first_byte_;
};

}  // namespace yirage::llm
