// The byte-level BPE tokenizer behind Tokenizer (internal): the pipeline of added tokens,
// normaliser, pre-tokenizer and BPE model, and the loader that builds it from tokenizer.json.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "yirage/llm/tokenizer.h"
#include "yirage/llm/tokenizer_added.h"
#include "yirage/llm/tokenizer_bpe.h"
#include "yirage/llm/tokenizer_regex.h"
#include "yirage/llm/tokenizer_text.h"

namespace yirage::llm {

/// What a Split pre-tokenizer does with the matches of its pattern (and the text between).
enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

/// One step of the pre-tokenizer, run on each piece the steps before it produced.
struct PreTokenizerStep {
  /// Split: cut pieces at the pattern's matches; PrefixSpace: start each piece with a space.
  enum class Kind { Split, PrefixSpace };
  Kind kind = Kind::Split;                           ///< what the step does
  std::shared_ptr<const SplitRegex> regex;           ///< Split: the pattern
  SplitBehavior behavior = SplitBehavior::Isolated;  ///< Split: what becomes a piece
  bool invert = false;  ///< Split: the pattern matches what is kept between
};

/// Everything tokenizer.json (and tokenizer_config.json) describe, checked and compiled.
struct TokenizerParts {
  std::string source;                           ///< tokenizer.json's path, for messages
  std::vector<text::NormalForm> normalizer;     ///< applied in order; empty: none
  std::vector<PreTokenizerStep> pre_tokenizer;  ///< before the byte-level mapping
  std::unique_ptr<BpeModel> model;              ///< the BPE model
  std::vector<AddedToken> added_tokens;         ///< "added_tokens"
  std::string chat_template;                    ///< from tokenizer_config.json, or empty
};

/// A byte-level BPE tokenizer; see Tokenizer.
class BpeTokenizer final : public Tokenizer {
 public:
  /// Assembles the tokenizer, numbering the added tokens as Hugging Face `tokenizers` does.
  explicit BpeTokenizer(TokenizerParts parts);

  // Tokenizer's interface, documented there.
  std::vector<int64_t> encode(std::string_view text, bool add_special_tokens) const override;
  std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens) const override;
  std::string decode_bytes(const std::vector<int64_t>& ids,
                           bool skip_special_tokens) const override;
  int64_t vocab_size() const override { return static_cast<int64_t>(is_special_.size()); }
  std::optional<int64_t> token_to_id(std::string_view token) const override;
  std::string id_to_token(int64_t id) const override;
  bool is_special(int64_t id) const override;
  const std::string& chat_template() const override { return parts_.chat_template; }

 private:
  void encode_piece(std::string_view piece, std::vector<int64_t>& ids) const;
  void pre_tokenize(std::size_t step, std::string_view piece, std::vector<int64_t>& ids) const;
  void check_id(int64_t id) const;

  TokenizerParts parts_;
  AddedTokenMatcher raw_added_;         // added tokens matched before normalisation
  AddedTokenMatcher normalized_added_;  // added tokens matched in normalised text
  std::unordered_map<std::string, int64_t, StringHash, std::equal_to<>> added_ids_;
  std::unordered_map<int64_t, std::size_t> added_by_id_;  // index into parts_.added_tokens
  std::vector<uint8_t> is_special_;                       // by id
  std::vector<uint8_t> has_token_;                        // by id
  std::string decoded_;                                   // the bytes of every id, back to back
  std::vector<uint32_t> decoded_offsets_;  // id i: decoded_[offsets[i], offsets[i + 1])
};

}  // namespace yirage::llm
