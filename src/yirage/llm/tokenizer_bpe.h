// The byte-level BPE model (internal): vocabulary, merges by rank, and the merge loop with a
// per-word cache.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace yirage::llm {

/// The character that byte-level BPE writes for byte `byte` (GPT-2's printable mapping).
char32_t byte_to_char(unsigned char byte);
/// The byte that character `cp` stands for in byte-level BPE, or -1 when it stands for none.
int byte_of_char(char32_t cp);
/// The bytes a byte-level token string stands for; a string with a character outside the
/// mapping stands for its own UTF-8 bytes.
std::string byte_level_decode(std::string_view token);

/// A fast 64-bit hash of `bytes` (for short strings such as tokens and words).
uint64_t hash_bytes(std::string_view bytes);

/// Hash of strings that also takes string_views, for lookups without a copy.
struct StringHash {
  using is_transparent = void;  ///< enables heterogeneous lookup
  /// The hash of `text`.
  std::size_t operator()(std::string_view text) const { return hash_bytes(text); }
};

/// What load_bpe() needs from tokenizer.json's "model".
struct BpeSpec {
  std::vector<std::pair<std::string, int64_t>> vocab;       ///< token string, id
  std::vector<std::pair<std::string, std::string>> merges;  ///< in rank order
  std::optional<std::string> unk_token;                     ///< token for unknown bytes
  bool fuse_unk = false;                                    ///< merge runs of unknowns
  bool ignore_merges = false;                               ///< whole words in vocab first
};

/// Byte-level BPE over a vocabulary of byte-level token strings.
class BpeModel {
 public:
  /// Builds the model; UserError naming `where` for duplicate ids or merges whose parts or
  /// result are not in the vocabulary.
  BpeModel(BpeSpec spec, const std::string& where);

  /// Appends the ids of `word` (raw bytes, one pre-token) to `ids`.
  void encode_word(std::string_view word, std::vector<int64_t>& ids) const;
  /// The id of the byte-level token string `token`.
  std::optional<int64_t> token_to_id(std::string_view token) const;
  /// The byte-level token string of `id`, or nullptr when no token has that id.
  const std::string* id_to_token(int64_t id) const;
  /// One past the largest id.
  int64_t id_limit() const { return static_cast<int64_t>(tokens_.size()); }

 private:
  struct Merge {
    int32_t rank;
    int32_t result;
  };
  // Open-addressing table from a pair of ids to its merge.
  class MergeTable {
   public:
    void reserve(std::size_t count);
    bool insert(uint32_t left, uint32_t right, Merge merge);
    const Merge* find(uint32_t left, uint32_t right) const;

   private:
    std::size_t slot(uint64_t key) const;
    std::vector<uint64_t> keys_;
    std::vector<Merge> values_;
    int shift_ = 64;
  };

  void merge_word(std::string_view word, std::vector<int32_t>& out) const;
  int32_t find_token(std::string_view token) const;

  std::vector<std::string> tokens_;  // by id
  std::vector<uint8_t> has_token_;   // by id
  struct Slot {
    uint32_t tag;  // low bits of the token's hash
    int32_t id;    // -1: empty
  };
  std::vector<Slot> index_;  // open addressing over tokens_
  int index_shift_ = 64;
  MergeTable merges_;
  std::array<int32_t, 256> byte_ids_{};  // id of each byte's one-character token, or -1
  int32_t unk_id_ = -1;
  bool fuse_unk_ = false;
  bool ignore_merges_ = false;

  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> cache_;
};

}  // namespace yirage::llm
