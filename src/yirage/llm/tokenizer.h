// Byte-level BPE tokenizer reading Hugging Face tokenizer.json (Qwen3's and compatible ones).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace yirage::llm {

/// A tokenizer loaded from tokenizer.json (+ tokenizer_config.json beside it when present).
/// encode() produces exactly the ids of Hugging Face `tokenizers`: added/special tokens split
/// out first, NFC normalisation, the pre-tokenizer split regex (PCRE2), byte-level mapping,
/// BPE merges by rank.
class Tokenizer {
 public:
  /// Loads `path`: a tokenizer.json file or a directory holding one. UserError naming the file
  /// and what is wrong (missing, not JSON, unsupported model type or pre-tokenizer).
  static std::shared_ptr<const Tokenizer> from_file(const std::string& path);
  virtual ~Tokenizer() = default;
  /// Token ids of `text`; with `add_special_tokens`, the post-processor's additions (none for
  /// Qwen3).
  virtual std::vector<int64_t> encode(std::string_view text,
                                      bool add_special_tokens = false) const = 0;
  /// Text of `ids`; bytes that do not form valid UTF-8 become U+FFFD. With
  /// `skip_special_tokens`, special added tokens are left out.
  virtual std::string decode(const std::vector<int64_t>& ids,
                             bool skip_special_tokens = false) const = 0;
  /// The bytes `ids` stand for, concatenated, before any UTF-8 repair (what decode() repairs
  /// and StreamDecoder holds back). UserError on an id that names no token.
  virtual std::string decode_bytes(const std::vector<int64_t>& ids,
                                   bool skip_special_tokens = false) const = 0;
  /// Number of ids (regular vocabulary plus added tokens).
  virtual int64_t vocab_size() const = 0;
  /// The id of token string `token` (regular or added), if any.
  virtual std::optional<int64_t> token_to_id(std::string_view token) const = 0;
  /// The token string of `id` (byte-level form for regular tokens); UserError when out of range.
  virtual std::string id_to_token(int64_t id) const = 0;
  /// True when `id` is a special added token (e.g. <|im_end|>).
  virtual bool is_special(int64_t id) const = 0;
  /// The chat template text from tokenizer_config.json (empty when absent).
  virtual const std::string& chat_template() const = 0;
};

/// Turns a stream of ids into text pieces, holding back bytes of an incomplete UTF-8 sequence
/// until the ids that complete it arrive.
class StreamDecoder {
 public:
  /// Decodes against `tokenizer` (kept alive).
  explicit StreamDecoder(std::shared_ptr<const Tokenizer> tokenizer,
                         bool skip_special_tokens = false);
  /// The new complete text that `id` adds (possibly empty).
  std::string push(int64_t id);
  /// What is still held back, with incomplete sequences as U+FFFD.
  std::string flush();

 private:
  std::shared_ptr<const Tokenizer> tokenizer_;
  bool skip_special_tokens_;
  std::string pending_;
};

/// One chat turn.
struct ChatMessage {
  std::string role;     ///< "system", "user" or "assistant"
  std::string content;  ///< the text
};

/// Renders `messages` as Qwen3's chat template does (<|im_start|>role\n...<|im_end|>\n turns),
/// with `add_generation_prompt` opening an assistant turn; with `enable_thinking` false the
/// assistant turn starts with an empty <think></think> block, as the template's switch does.
/// UserError on an unknown role.
std::string apply_chat_template(const std::vector<ChatMessage>& messages,
                                bool add_generation_prompt = true, bool enable_thinking = true);

}  // namespace yirage::llm
