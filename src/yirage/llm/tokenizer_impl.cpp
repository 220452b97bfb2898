// The encode pipeline (added tokens, normaliser, pre-tokenizer, BPE) and decoding, in the
// order and with the splitting rules of Hugging Face `tokenizers`.
#include "yirage/llm/tokenizer_impl.h"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "yirage/core/error.h"
#include "yirage/core/log.h"

namespace yirage::llm {

namespace {

// A piece of text with whether the pattern matched it.
struct Segment {
  std::size_t begin;
  std::size_t end;
  bool match;
};

// The pieces a Split step makes of `size` bytes whose pattern matches are `matches`: matches
// and the text between them, then grouped as `behavior` says (removed pieces are left out).
void split_segments(std::size_t size, const std::vector<RegexMatch>& matches, bool invert,
                    SplitBehavior behavior, std::vector<Segment>& out) {
  std::vector<Segment> all;
  all.reserve(2 * matches.size() + 1);
  if (size == 0) {
    all.push_back({0, 0, false});
  } else {
    std::size_t previous = 0;
    for (const RegexMatch& match : matches) {
      if (previous != match.begin) all.push_back({previous, match.begin, false});
      all.push_back({match.begin, match.end, true});
      previous = match.end;
    }
    if (previous != size) all.push_back({previous, size, false});
  }
  if (invert) {
    for (Segment& segment : all) segment.match = !segment.match;
  }
  out.clear();
  switch (behavior) {
    case SplitBehavior::Isolated:
      out = std::move(all);
      break;
    case SplitBehavior::Removed:
      for (const Segment& segment : all) {
        if (!segment.match) out.push_back(segment);
      }
      break;
    case SplitBehavior::Contiguous: {
      bool previous_match = false;
      for (const Segment& segment : all) {
        if (segment.match == previous_match && !out.empty()) {
          out.back().end = segment.end;
        } else {
          out.push_back(segment);
        }
        previous_match = segment.match;
      }
      break;
    }
    case SplitBehavior::MergedWithPrevious: {
      bool previous_match = false;
      for (const Segment& segment : all) {
        if (segment.match && !previous_match && !out.empty()) {
          out.back().end = segment.end;
        } else {
          out.push_back(segment);
        }
        previous_match = segment.match;
      }
      break;
    }
    case SplitBehavior::MergedWithNext: {
      bool previous_match = false;
      for (auto it = all.rbegin(); it != all.rend(); ++it) {
        if (it->match && !previous_match && !out.empty()) {
          out.back().begin = it->begin;
        } else {
          out.push_back(*it);
        }
        previous_match = it->match;
      }
      std::reverse(out.begin(), out.end());
      break;
    }
  }
}

}  // namespace

BpeTokenizer::BpeTokenizer(TokenizerParts parts) : parts_(std::move(parts)) {
  YR_INTERNAL_CHECK(parts_.model != nullptr, "a tokenizer needs its model");
  // Ids of added tokens as `tokenizers` assigns them when it loads a file: a token already in
  // the vocabulary keeps its vocabulary id, the others are numbered on from the vocabulary (or
  // the last added id) in order; empty and repeated contents are dropped.
  std::vector<AddedToken> kept;
  int64_t next_id = parts_.model->id_limit();
  for (AddedToken& token : parts_.added_tokens) {
    if (token.content.empty() || added_ids_.count(token.content) != 0) continue;
    const int64_t listed = token.id;
    if (const auto in_vocab = parts_.model->token_to_id(token.content)) {
      token.id = *in_vocab;
    } else {
      token.id = next_id++;
    }
    if (token.id != listed) {
      YR_LOG(Warn) << parts_.source << ": the added token '" << token.content
                   << "' is listed with id " << listed << " but gets the id " << token.id
                   << ", as in Hugging Face tokenizers";
    }
    added_ids_.emplace(token.content, token.id);
    kept.push_back(std::move(token));
  }
  parts_.added_tokens = std::move(kept);

  int64_t limit = std::max(parts_.model->id_limit(), next_id);
  is_special_.assign(static_cast<std::size_t>(limit), 0);
  has_token_.assign(static_cast<std::size_t>(limit), 0);

  std::vector<AddedToken> raw, normalized;
  std::vector<std::string> raw_patterns, normalized_patterns;
  for (std::size_t i = 0; i < parts_.added_tokens.size(); ++i) {
    const AddedToken& token = parts_.added_tokens[i];
    added_by_id_.emplace(token.id, i);
    is_special_[static_cast<std::size_t>(token.id)] = token.special ? 1 : 0;
    if (token.normalized) {
      std::string pattern = token.content;
      for (text::NormalForm form : parts_.normalizer) {
        std::string out;
        if (text::normalize(pattern, form, out)) pattern = std::move(out);
      }
      normalized.push_back(token);
      normalized_patterns.push_back(std::move(pattern));
    } else {
      raw.push_back(token);
      raw_patterns.push_back(token.content);
    }
  }
  raw_added_ = AddedTokenMatcher(std::move(raw), std::move(raw_patterns));
  normalized_added_ = AddedTokenMatcher(std::move(normalized), std::move(normalized_patterns));

  // The bytes each id decodes to: through the byte-level decoder, added tokens included.
  decoded_offsets_.reserve(static_cast<std::size_t>(limit) + 1);
  decoded_.reserve(static_cast<std::size_t>(limit) * 6);
  for (int64_t id = 0; id < limit; ++id) {
    decoded_offsets_.push_back(static_cast<uint32_t>(decoded_.size()));
    const auto added = added_by_id_.find(id);
    const std::string* token = added != added_by_id_.end()
                                   ? &parts_.added_tokens[added->second].content
                                   : parts_.model->id_to_token(id);
    if (token == nullptr) continue;
    has_token_[static_cast<std::size_t>(id)] = 1;
    decoded_ += byte_level_decode(*token);
  }
  decoded_offsets_.push_back(static_cast<uint32_t>(decoded_.size()));
}

std::vector<int64_t> BpeTokenizer::encode(std::string_view text, bool add_special_tokens) const {
  if (const auto bad = text::find_invalid_utf8(text)) {
    char byte[8];
    std::snprintf(byte, sizeof(byte), "0x%02X", static_cast<unsigned char>(text[*bad]));
    YR_USER_ERROR("the text to encode is not valid UTF-8: byte " << *bad << " (" << byte
                                                                 << ") starts no valid sequence");
  }
  (void)add_special_tokens;  // the post-processors supported here (ByteLevel) add no tokens
  std::vector<int64_t> ids;
  ids.reserve(text.size() / 3 + 4);
  raw_added_.split(text, [&](std::size_t begin, std::size_t end, int64_t token) {
    if (token >= 0) {
      ids.push_back(raw_added_.token(token).id);
    } else {
      encode_piece(text.substr(begin, end - begin), ids);
    }
  });
  return ids;
}

void BpeTokenizer::encode_piece(std::string_view piece, std::vector<int64_t>& ids) const {
  if (piece.empty()) return;
  std::string storage, scratch;
  std::string_view normalized = piece;
  for (text::NormalForm form : parts_.normalizer) {
    if (text::normalize(normalized, form, scratch)) {
      storage.swap(scratch);
      normalized = storage;
    }
  }
  if (normalized_added_.empty()) {
    pre_tokenize(0, normalized, ids);
    return;
  }
  normalized_added_.split(normalized, [&](std::size_t begin, std::size_t end, int64_t token) {
    if (token >= 0) {
      ids.push_back(normalized_added_.token(token).id);
    } else {
      pre_tokenize(0, normalized.substr(begin, end - begin), ids);
    }
  });
}

void BpeTokenizer::pre_tokenize(std::size_t step, std::string_view piece,
                                std::vector<int64_t>& ids) const {
  if (piece.empty()) return;
  if (step == parts_.pre_tokenizer.size()) {
    parts_.model->encode_word(piece, ids);
    return;
  }
  const PreTokenizerStep& current = parts_.pre_tokenizer[step];
  if (current.kind == PreTokenizerStep::Kind::PrefixSpace) {
    if (piece.front() == ' ') {
      pre_tokenize(step + 1, piece, ids);
    } else {
      std::string spaced = " ";
      spaced += piece;
      pre_tokenize(step + 1, spaced, ids);
    }
    return;
  }
  std::vector<RegexMatch> matches;
  current.regex->find_all(piece, matches);
  if (current.behavior == SplitBehavior::Isolated && !current.invert) {
    // The common case, without building segments: matches and the gaps between them in turn.
    std::size_t previous = 0;
    for (const RegexMatch& match : matches) {
      if (previous != match.begin) {
        pre_tokenize(step + 1, piece.substr(previous, match.begin - previous), ids);
      }
      pre_tokenize(step + 1, piece.substr(match.begin, match.end - match.begin), ids);
      previous = match.end;
    }
    if (previous != piece.size()) pre_tokenize(step + 1, piece.substr(previous), ids);
    return;
  }
  std::vector<Segment> segments;
  split_segments(piece.size(), matches, current.invert, current.behavior, segments);
  for (const Segment& segment : segments) {
    pre_tokenize(step + 1, piece.substr(segment.begin, segment.end - segment.begin), ids);
  }
}

void BpeTokenizer::check_id(int64_t id) const {
  YR_USER_CHECK(
      id >= 0 && id < vocab_size(),
      "token id " << id << " is out of range; expected an id in [0, " << vocab_size() << ")");
  YR_USER_CHECK(has_token_[static_cast<std::size_t>(id)] != 0,
                "no token has the id " << id << " in this vocabulary");
}

std::string BpeTokenizer::decode_bytes(const std::vector<int64_t>& ids,
                                       bool skip_special_tokens) const {
  std::string bytes;
  for (int64_t id : ids) {
    check_id(id);
    if (skip_special_tokens && is_special_[static_cast<std::size_t>(id)] != 0) continue;
    const auto index = static_cast<std::size_t>(id);
    bytes.append(decoded_, decoded_offsets_[index],
                 decoded_offsets_[index + 1] - decoded_offsets_[index]);
  }
  return bytes;
}

std::string BpeTokenizer::decode(const std::vector<int64_t>& ids, bool skip_special_tokens) const {
  return text::repair_utf8(decode_bytes(ids, skip_special_tokens));
}

std::optional<int64_t> BpeTokenizer::token_to_id(std::string_view token) const {
  if (const auto added = added_ids_.find(token); added != added_ids_.end()) return added->second;
  return parts_.model->token_to_id(token);
}

std::string BpeTokenizer::id_to_token(int64_t id) const {
  check_id(id);
  if (const auto added = added_by_id_.find(id); added != added_by_id_.end()) {
    return parts_.added_tokens[added->second].content;
  }
  return *parts_.model->id_to_token(id);
}

bool BpeTokenizer::is_special(int64_t id) const {
  return id >= 0 && id < vocab_size() && is_special_[static_cast<std::size_t>(id)] != 0;
}

}  // namespace yirage::llm
