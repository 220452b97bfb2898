// Byte-level BPE: bytes become one-character tokens, then adjacent pairs merge, lowest rank
// first (leftmost among equal ranks), through a heap of candidate pairs over a linked list of
// symbols. Words seen before come from a cache.
#include "yirage/llm/tokenizer_bpe.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "yirage/core/error.h"
#include "yirage/llm/tokenizer_text.h"

namespace yirage::llm {

namespace {

constexpr std::size_t kMaxCachedWord = 128;      // bytes; longer words are merged every time
constexpr std::size_t kCacheCapacity = 1 << 16;  // words; the cache starts over when full
constexpr std::size_t kSmallWord = 48;           // symbols; shorter words merge without a heap

bool printable_byte(unsigned byte) {
  return (byte >= 0x21 && byte <= 0x7E) || (byte >= 0xA1 && byte <= 0xAC) ||
         (byte >= 0xAE && byte <= 0xFF);
}

struct ByteTables {
  std::array<char32_t, 256> to_char{};
  std::array<int16_t, 512> to_byte{};  // every mapped character is below U+0200

  ByteTables() {
    to_byte.fill(-1);
    unsigned next = 256;  // bytes that are not printable map to U+0100 onwards, in order
    for (unsigned byte = 0; byte < 256; ++byte) {
      to_char[byte] = printable_byte(byte) ? byte : next++;
      to_byte[to_char[byte]] = static_cast<int16_t>(byte);
    }
  }
};

const ByteTables& byte_tables() {
  static const ByteTables tables;
  return tables;
}

}  // namespace

char32_t byte_to_char(unsigned char byte) {
  return byte_tables().to_char[byte];
}

int byte_of_char(char32_t cp) {
  return cp < 512 ? byte_tables().to_byte[cp] : -1;
}

std::string byte_level_decode(std::string_view token) {
  std::string bytes;
  bytes.reserve(token.size());
  std::size_t pos = 0;
  while (pos < token.size()) {
    const int byte = byte_of_char(text::next_code_point(token, pos));
    if (byte < 0) return std::string(token);
    bytes += static_cast<char>(byte);
  }
  return bytes;
}

void BpeModel::MergeTable::reserve(std::size_t count) {
  std::size_t capacity = 16;
  shift_ = 60;
  while (capacity < 2 * count) {
    capacity *= 2;
    --shift_;
  }
  keys_.assign(capacity, ~uint64_t{0});
  values_.assign(capacity, Merge{0, 0});
}

std::size_t BpeModel::MergeTable::slot(uint64_t key) const {
  return static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_);
}

bool BpeModel::MergeTable::insert(uint32_t left, uint32_t right, Merge merge) {
  const uint64_t key = (uint64_t{left} << 32) | right;
  const std::size_t mask = keys_.size() - 1;
  for (std::size_t i = slot(key);; i = (i + 1) & mask) {
    if (keys_[i] == key || keys_[i] == ~uint64_t{0}) {
      const bool fresh = keys_[i] != key;
      keys_[i] = key;
      values_[i] = merge;
      return fresh;
    }
  }
}

const BpeModel::Merge* BpeModel::MergeTable::find(uint32_t left, uint32_t right) const {
  const uint64_t key = (uint64_t{left} << 32) | right;
  const std::size_t mask = keys_.size() - 1;
  for (std::size_t i = slot(key);; i = (i + 1) & mask) {
    if (keys_[i] == key) return &values_[i];
    if (keys_[i] == ~uint64_t{0}) return nullptr;
  }
}

uint64_t hash_bytes(std::string_view bytes) {
  uint64_t hash = 0x9E3779B97F4A7C15ull ^ (bytes.size() * 0xFF51AFD7ED558CCDull);
  std::size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, bytes.data() + i, 8);
    hash = (hash ^ word) * 0xBF58476D1CE4E5B9ull;
    hash ^= hash >> 29;
  }
  uint64_t tail = 0;
  if (i < bytes.size()) std::memcpy(&tail, bytes.data() + i, bytes.size() - i);
  hash = (hash ^ tail) * 0x94D049BB133111EBull;
  return hash ^ (hash >> 32);
}

BpeModel::BpeModel(BpeSpec spec, const std::string& where) {
  int64_t limit = 0;
  for (const auto& [token, id] : spec.vocab) {
    YR_USER_CHECK(id >= 0 && id < (int64_t{1} << 31), where << ": model.vocab gives '" << token
                                                            << "' the id " << id
                                                            << "; expected an id in [0, 2^31)");
    limit = std::max(limit, id + 1);
  }
  tokens_.resize(static_cast<std::size_t>(limit));
  has_token_.assign(static_cast<std::size_t>(limit), 0);
  std::size_t capacity = 16;
  index_shift_ = 60;
  while (capacity < 2 * spec.vocab.size()) {
    capacity *= 2;
    --index_shift_;
  }
  index_.assign(capacity, Slot{0, -1});
  const std::size_t mask = index_.size() - 1;
  for (auto& [token, id] : spec.vocab) {
    const auto slot = static_cast<std::size_t>(id);
    YR_USER_CHECK(has_token_[slot] == 0, where << ": model.vocab gives the id " << id
                                               << " to both '" << tokens_[slot] << "' and '"
                                               << token << "'; expected one token per id");
    const uint64_t hash = hash_bytes(token);
    std::size_t i = static_cast<std::size_t>(hash >> index_shift_);
    for (; index_[i].id >= 0; i = (i + 1) & mask) {
      YR_USER_CHECK(index_[i].tag != static_cast<uint32_t>(hash) ||
                        tokens_[static_cast<std::size_t>(index_[i].id)] != token,
                    where << ": model.vocab lists '" << token << "' twice; expected each token "
                          << "once");
    }
    index_[i] = Slot{static_cast<uint32_t>(hash), static_cast<int32_t>(id)};
    has_token_[slot] = 1;
    tokens_[slot] = std::move(token);
  }

  merges_.reserve(spec.merges.size());
  std::string joined;
  for (std::size_t rank = 0; rank < spec.merges.size(); ++rank) {
    const auto& [left, right] = spec.merges[rank];
    const int32_t left_id = find_token(left);
    const int32_t right_id = find_token(right);
    joined = left;
    joined += right;
    const int32_t result = find_token(joined);
    const std::string& missing = left_id < 0 ? left : right_id < 0 ? right : joined;
    YR_USER_CHECK(left_id >= 0 && right_id >= 0 && result >= 0,
                  where << ": merge " << rank << " ('" << left << "' '" << right << "') needs '"
                        << missing << "', which is not in model.vocab");
    merges_.insert(static_cast<uint32_t>(left_id), static_cast<uint32_t>(right_id),
                   Merge{static_cast<int32_t>(rank), result});
  }

  std::string one;
  for (unsigned byte = 0; byte < 256; ++byte) {
    one.clear();
    text::append_utf8(one, byte_to_char(static_cast<unsigned char>(byte)));
    byte_ids_[byte] = find_token(one);
  }
  if (spec.unk_token) {
    unk_id_ = find_token(*spec.unk_token);
    YR_USER_CHECK(unk_id_ >= 0,
                  where << ": model.unk_token '" << *spec.unk_token << "' is not in model.vocab");
  }
  fuse_unk_ = spec.fuse_unk;
  ignore_merges_ = spec.ignore_merges;
}

int32_t BpeModel::find_token(std::string_view token) const {
  const std::size_t mask = index_.size() - 1;
  const uint64_t hash = hash_bytes(token);
  for (std::size_t i = static_cast<std::size_t>(hash >> index_shift_);; i = (i + 1) & mask) {
    const Slot& slot = index_[i];
    if (slot.id < 0) return -1;
    if (slot.tag == static_cast<uint32_t>(hash) &&
        tokens_[static_cast<std::size_t>(slot.id)] == token) {
      return slot.id;
    }
  }
}

std::optional<int64_t> BpeModel::token_to_id(std::string_view token) const {
  const int32_t id = find_token(token);
  if (id < 0) return std::nullopt;
  return id;
}

const std::string* BpeModel::id_to_token(int64_t id) const {
  if (id < 0 || id >= id_limit() || has_token_[static_cast<std::size_t>(id)] == 0) return nullptr;
  return &tokens_[static_cast<std::size_t>(id)];
}

void BpeModel::merge_word(std::string_view word, std::vector<int32_t>& out) const {
  struct Symbol {
    int32_t id;
    int32_t prev;
    int32_t next;
    int32_t size;  // 0 once merged into the symbol on its left
  };
  struct Candidate {
    int32_t rank;
    int32_t pos;
    int32_t result;
  };
  thread_local std::vector<Symbol> symbols;
  thread_local std::vector<Candidate> heap;
  symbols.clear();
  heap.clear();

  auto add = [&](int32_t id, int32_t size) {
    const auto pos = static_cast<int32_t>(symbols.size());
    symbols.push_back({id, pos - 1, -1, size});
    if (pos > 0) symbols[static_cast<std::size_t>(pos - 1)].next = pos;
  };
  int32_t pending_unk = 0;  // bytes of unknown characters not yet added
  for (char c : word) {
    const int32_t id = byte_ids_[static_cast<unsigned char>(c)];
    if (id >= 0) {
      if (pending_unk > 0) add(unk_id_, pending_unk);
      pending_unk = 0;
      add(id, 1);
    } else if (unk_id_ >= 0) {
      if (pending_unk > 0 && !fuse_unk_) {
        add(unk_id_, pending_unk);
        pending_unk = 0;
      }
      ++pending_unk;
    }  // with no unknown token, the byte is dropped
  }
  if (pending_unk > 0) add(unk_id_, pending_unk);

  if (symbols.size() <= kSmallWord) {
    // Few symbols: keep each pair's merge beside it and scan for the lowest rank (leftmost
    // among equals), which picks the same merges in the same order as the heap below.
    std::array<Merge, kSmallWord> pair;
    const auto lookup = [&](int32_t pos) {
      const Symbol& left = symbols[static_cast<std::size_t>(pos)];
      const Merge* merge =
          left.next < 0
              ? nullptr
              : merges_.find(
                    static_cast<uint32_t>(left.id),
                    static_cast<uint32_t>(symbols[static_cast<std::size_t>(left.next)].id));
      pair[static_cast<std::size_t>(pos)] =
          merge != nullptr ? *merge : Merge{std::numeric_limits<int32_t>::max(), -1};
    };
    for (int32_t pos = 0; pos < static_cast<int32_t>(symbols.size()); ++pos) lookup(pos);
    while (!symbols.empty()) {
      int32_t best = -1;
      int32_t best_rank = std::numeric_limits<int32_t>::max();
      for (int32_t pos = 0; pos >= 0; pos = symbols[static_cast<std::size_t>(pos)].next) {
        if (pair[static_cast<std::size_t>(pos)].rank < best_rank) {
          best_rank = pair[static_cast<std::size_t>(pos)].rank;
          best = pos;
        }
      }
      if (best < 0) break;
      Symbol& left = symbols[static_cast<std::size_t>(best)];
      Symbol& right = symbols[static_cast<std::size_t>(left.next)];
      left.id = pair[static_cast<std::size_t>(best)].result;
      left.size += right.size;
      right.size = 0;
      left.next = right.next;
      if (left.next >= 0) symbols[static_cast<std::size_t>(left.next)].prev = best;
      lookup(best);
      if (left.prev >= 0) lookup(left.prev);
    }
  } else {
    // The heap's top is the candidate of lowest rank, leftmost among equal ranks.
    const auto later = [](const Candidate& a, const Candidate& b) {
      return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
    };
    auto push = [&](int32_t pos) {
      const Symbol& left = symbols[static_cast<std::size_t>(pos)];
      const Symbol& right = symbols[static_cast<std::size_t>(left.next)];
      if (const Merge* merge =
              merges_.find(static_cast<uint32_t>(left.id), static_cast<uint32_t>(right.id))) {
        heap.push_back({merge->rank, pos, merge->result});
        std::push_heap(heap.begin(), heap.end(), later);
      }
    };
    for (int32_t pos = 0; pos + 1 < static_cast<int32_t>(symbols.size()); ++pos) push(pos);

    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), later);
      const Candidate top = heap.back();
      heap.pop_back();
      Symbol& left = symbols[static_cast<std::size_t>(top.pos)];
      if (left.size == 0 || left.next < 0) continue;
      Symbol& right = symbols[static_cast<std::size_t>(left.next)];
      // A candidate is stale when either side has merged since it was pushed; the pair it names
      // then spans more text and yields another token.
      const Merge* merge =
          merges_.find(static_cast<uint32_t>(left.id), static_cast<uint32_t>(right.id));
      if (merge == nullptr || merge->result != top.result) continue;
      left.id = top.result;
      left.size += right.size;
      right.size = 0;
      left.next = right.next;
      if (left.next >= 0) symbols[static_cast<std::size_t>(left.next)].prev = top.pos;
      if (left.prev >= 0) push(left.prev);
      if (left.next >= 0) push(top.pos);
    }
  }

  out.clear();
  for (const Symbol& symbol : symbols) {
    if (symbol.size != 0) out.push_back(symbol.id);
  }
}

void BpeModel::encode_word(std::string_view word, std::vector<int64_t>& ids) const {
  if (word.empty()) return;
  if (word.size() == 1 && byte_ids_[static_cast<unsigned char>(word[0])] >= 0) {
    ids.push_back(byte_ids_[static_cast<unsigned char>(word[0])]);
    return;
  }
  if (ignore_merges_) {
    std::string mapped;
    for (char c : word) text::append_utf8(mapped, byte_to_char(static_cast<unsigned char>(c)));
    if (const int32_t id = find_token(mapped); id >= 0) {
      ids.push_back(id);
      return;
    }
  }
  const bool cacheable = word.size() <= kMaxCachedWord;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (const auto hit = cache_.find(word); hit != cache_.end()) {
      ids.insert(ids.end(), hit->second.begin(), hit->second.end());
      return;
    }
  }
  thread_local std::vector<int32_t> merged;
  merge_word(word, merged);
  ids.insert(ids.end(), merged.begin(), merged.end());
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (cache_.size() >= kCacheCapacity) cache_.clear();
    cache_.emplace(std::string(word), merged);
  }
}

}  // namespace yirage::llm
