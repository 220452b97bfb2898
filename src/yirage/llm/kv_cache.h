// The paged key/value cache: fixed-size blocks of token slots, a block table per sequence.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "yirage/core/dtype.h"
#include "yirage/core/tensor.h"

namespace yirage::llm {

/// The shape of what one token stores: keys and values of every layer and KV head.
struct KvLayout {
  int64_t num_layers = 0;                           ///< decoder layers
  int64_t num_kv_heads = 0;                         ///< key/value heads per layer
  int64_t head_dim = 0;                             ///< width of one head
  core::DType dtype = core::DType::BF16;            ///< element type of the cache
  core::DeviceKind device = core::DeviceKind::Cpu;  ///< where keys and values live
  /// Bytes one token occupies across all layers, keys and values.
  int64_t bytes_per_token() const;
};

/// How big the cache is. The budget is the smaller of the two limits that are set; with
/// neither set, kDefaultKvBytes.
struct KvCacheOptions {
  int64_t max_tokens = 0;   ///< token slots in all (0: no token limit)
  int64_t max_bytes = 0;    ///< bytes of keys and values in all (0: no byte limit)
  int64_t block_size = 16;  ///< token slots per block
};

/// The byte budget used when KvCacheOptions sets no limit: 256 MiB.
inline constexpr int64_t kDefaultKvBytes = int64_t{256} << 20;

/// Keys and values of many sequences in blocks of `block_size` token slots, in host memory or,
/// for a CUDA layout, in device memory (then only the bookkeeping runs on the host: key() and
/// value() return device addresses). A sequence owns a
/// list of blocks (its block table) that grows as it reserves room; its token at position p
/// lives in slot p % block_size of block table[p / block_size]. Within a slot, keys (and
/// values) are [num_kv_heads, head_dim] rows per layer.
class KvCache {
 public:
  /// A cache for `layout` sized by `options`; UserError when the options are not positive or
  /// leave room for less than one block.
  KvCache(const KvLayout& layout, const KvCacheOptions& options);
  /// What one token stores.
  const KvLayout& layout() const { return layout_; }
  /// Token slots per block.
  int64_t block_size() const { return block_size_; }
  /// Blocks in all.
  int64_t num_blocks() const { return num_blocks_; }
  /// Token slots in all (num_blocks * block_size).
  int64_t capacity_tokens() const { return num_blocks_ * block_size_; }
  /// Blocks not owned by any sequence.
  int64_t free_blocks() const { return static_cast<int64_t>(free_.size()); }
  /// Blocks needed to hold `tokens` tokens.
  int64_t blocks_for(int64_t tokens) const { return (tokens + block_size_ - 1) / block_size_; }

  /// Starts an empty sequence and returns its id.
  int64_t add_sequence();
  /// Gives the blocks of `sequence` back; the id is no longer valid.
  void free_sequence(int64_t sequence);
  /// True when `sequence` could grow to `tokens` slots with the blocks free now.
  bool can_reserve(int64_t sequence, int64_t tokens) const;
  /// Grows `sequence` to at least `tokens` slots. UserError naming the sizes when the free
  /// blocks do not suffice (the sequence keeps what it had).
  void reserve(int64_t sequence, int64_t tokens);
  /// Slots reserved for `sequence`.
  int64_t reserved_tokens(int64_t sequence) const;

  /// Keys of `layer` for the token at `position` of `sequence`: [num_kv_heads, head_dim].
  void* key(int64_t layer, int64_t sequence, int64_t position);
  /// Values of `layer` for the token at `position` of `sequence`: [num_kv_heads, head_dim].
  void* value(int64_t layer, int64_t sequence, int64_t position);
  /// Read-only keys, as key().
  const void* key(int64_t layer, int64_t sequence, int64_t position) const;
  /// Read-only values, as value().
  const void* value(int64_t layer, int64_t sequence, int64_t position) const;

  /// All keys: [layers, blocks, block_size, kv_heads, head_dim] on the layout's device.
  const core::Tensor& keys() const { return keys_; }
  /// All values, as keys().
  const core::Tensor& values() const { return values_; }

  /// The blocks of `sequence`, in position order.
  const std::vector<int32_t>& block_table(int64_t sequence) const;
  /// Keys of `layer` in block `block`: [block_size, num_kv_heads, head_dim].
  const void* key_block(int64_t layer, int32_t block) const;
  /// Values of `layer` in block `block`: [block_size, num_kv_heads, head_dim].
  const void* value_block(int64_t layer, int32_t block) const;

 private:
  std::size_t slot_offset(int64_t layer, int64_t sequence, int64_t position) const;

  KvLayout layout_;
  int64_t block_size_ = 0;
  int64_t num_blocks_ = 0;
  std::size_t row_bytes_ = 0;                 // one token's keys of one layer
  std::size_t layer_bytes_ = 0;               // one layer's keys across all blocks
  core::Tensor keys_;                         // [layers, blocks, block_size, kv_heads, head_dim]
  core::Tensor values_;                       // same
  std::vector<int32_t> free_;                 // free block ids, used as a stack
  std::vector<std::vector<int32_t>> tables_;  // block table per sequence id
  std::vector<bool> live_;                    // sequence id in use
  std::vector<int64_t> unused_ids_;           // freed sequence ids, reused
};

}  // namespace yirage::llm
