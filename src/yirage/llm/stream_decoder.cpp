// StreamDecoder: token bytes go out as soon as they form whole UTF-8 characters; an unfinished
// character waits for the ids that complete it, so the pieces join up to what decode() returns.
#include <utility>

#include "yirage/core/error.h"
#include "yirage/llm/tokenizer.h"
#include "yirage/llm/tokenizer_text.h"

namespace yirage::llm {

StreamDecoder::StreamDecoder(std::shared_ptr<const Tokenizer> tokenizer, bool skip_special_tokens)
    : tokenizer_(std::move(tokenizer)), skip_special_tokens_(skip_special_tokens) {
  YR_USER_CHECK(tokenizer_ != nullptr, "a StreamDecoder needs a tokenizer; got none");
}

std::string StreamDecoder::push(int64_t id) {
  pending_ += tokenizer_->decode_bytes({id}, skip_special_tokens_);
  std::string out;
  const std::size_t consumed = text::append_repaired_utf8(pending_, out, /*hold_incomplete=*/true);
  pending_.erase(0, consumed);
  return out;
}

std::string StreamDecoder::flush() {
  std::string out = text::repair_utf8(pending_);
  pending_.clear();
  return out;
}

}  // namespace yirage::llm
