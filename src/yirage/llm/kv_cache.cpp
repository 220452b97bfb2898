#include "yirage/llm/kv_cache.h"

#include <algorithm>
#include <limits>

#include "yirage/backend/cuda/runtime.h"
#include "yirage/core/error.h"

namespace yirage::llm {

int64_t KvLayout::bytes_per_token() const {
  return 2 * num_layers * num_kv_heads * head_dim * static_cast<int64_t>(core::dtype_size(dtype));
}

KvCache::KvCache(const KvLayout& layout, const KvCacheOptions& options)
    : layout_(layout), block_size_(options.block_size) {
  YR_USER_CHECK(layout.num_layers >= 1 && layout.num_kv_heads >= 1 && layout.head_dim >= 1,
                "KV cache: layout of " << layout.num_layers << " layers, " << layout.num_kv_heads
                                       << " KV heads of " << layout.head_dim
                                       << "; expected positive sizes");
  YR_USER_CHECK(core::dtype_is_float(layout.dtype),
                "KV cache: dtype " << core::dtype_name(layout.dtype)
                                   << " is not a float type; expected float32, bfloat16 or "
                                      "float16");
  YR_USER_CHECK(options.block_size >= 1,
                "KV cache: block size " << options.block_size << "; expected at least 1");
  YR_USER_CHECK(options.max_tokens >= 0 && options.max_bytes >= 0,
                "KV cache: budget of " << options.max_tokens << " tokens and " << options.max_bytes
                                       << " bytes; expected non-negative limits (0: unset)");
  const int64_t per_token = layout.bytes_per_token();
  int64_t tokens = std::numeric_limits<int64_t>::max();
  if (options.max_tokens > 0) tokens = options.max_tokens;
  if (options.max_bytes > 0) tokens = std::min(tokens, options.max_bytes / per_token);
  if (options.max_tokens == 0 && options.max_bytes == 0) tokens = kDefaultKvBytes / per_token;
  num_blocks_ = tokens / block_size_;
  YR_USER_CHECK(num_blocks_ >= 1, "KV cache: the budget holds "
                                      << tokens << " tokens (" << per_token
                                      << " bytes each), less than one block of " << block_size_
                                      << "; expected a budget of at least "
                                      << block_size_ * per_token << " bytes");
  YR_USER_CHECK(num_blocks_ <= std::numeric_limits<int32_t>::max(),
                "KV cache: " << num_blocks_ << " blocks; expected at most 2^31 - 1");
  row_bytes_ = static_cast<std::size_t>(layout.num_kv_heads * layout.head_dim) *
               core::dtype_size(layout.dtype);
  layer_bytes_ = row_bytes_ * static_cast<std::size_t>(num_blocks_ * block_size_);
  const core::Shape shape{layout.num_layers, num_blocks_, block_size_, layout.num_kv_heads,
                          layout.head_dim};
  if (layout.device == core::DeviceKind::Cuda) {
    backend::cuda::Runtime& runtime = backend::cuda::Runtime::get();
    keys_ = runtime.empty(shape, layout.dtype);
    values_ = runtime.empty(shape, layout.dtype);
  } else {
    keys_ = core::Tensor::empty(shape, layout.dtype);
    values_ = core::Tensor::empty(shape, layout.dtype);
  }
  free_.resize(static_cast<std::size_t>(num_blocks_));
  // Lowest block ids on top of the stack, so sequences fill memory from the front.
  for (int64_t i = 0; i < num_blocks_; ++i)
    free_[static_cast<std::size_t>(i)] = static_cast<int32_t>(num_blocks_ - 1 - i);
}

int64_t KvCache::add_sequence() {
  if (!unused_ids_.empty()) {
    const int64_t id = unused_ids_.back();
    unused_ids_.pop_back();
    live_[static_cast<std::size_t>(id)] = true;
    return id;
  }
  tables_.emplace_back();
  live_.push_back(true);
  return static_cast<int64_t>(tables_.size()) - 1;
}

const std::vector<int32_t>& KvCache::block_table(int64_t sequence) const {
  YR_INTERNAL_CHECK(sequence >= 0 && sequence < static_cast<int64_t>(tables_.size()) &&
                        live_[static_cast<std::size_t>(sequence)],
                    "KV cache: no sequence " << sequence);
  return tables_[static_cast<std::size_t>(sequence)];
}

void KvCache::free_sequence(int64_t sequence) {
  const auto& blocks = block_table(sequence);
  free_.insert(free_.end(), blocks.rbegin(), blocks.rend());
  tables_[static_cast<std::size_t>(sequence)].clear();
  live_[static_cast<std::size_t>(sequence)] = false;
  unused_ids_.push_back(sequence);
}

bool KvCache::can_reserve(int64_t sequence, int64_t tokens) const {
  const int64_t have = static_cast<int64_t>(block_table(sequence).size());
  return blocks_for(tokens) - have <= free_blocks();
}

void KvCache::reserve(int64_t sequence, int64_t tokens) {
  const int64_t have = static_cast<int64_t>(block_table(sequence).size());
  const int64_t need = blocks_for(tokens) - have;
  if (need <= 0) return;
  YR_USER_CHECK(need <= free_blocks(),
                "KV cache is full: a sequence needs room for "
                    << tokens << " tokens (" << need << " more blocks of " << block_size_
                    << "), but only " << free_blocks() << " of " << num_blocks_
                    << " blocks are free; expected fewer or shorter requests, or a larger "
                       "KV cache budget");
  auto& blocks = tables_[static_cast<std::size_t>(sequence)];
  for (int64_t i = 0; i < need; ++i) {
    blocks.push_back(free_.back());
    free_.pop_back();
  }
}

int64_t KvCache::reserved_tokens(int64_t sequence) const {
  return static_cast<int64_t>(block_table(sequence).size()) * block_size_;
}

std::size_t KvCache::slot_offset(int64_t layer, int64_t sequence, int64_t position) const {
  const auto& blocks = block_table(sequence);
  YR_INTERNAL_CHECK(layer >= 0 && layer < layout_.num_layers && position >= 0 &&
                        position / block_size_ < static_cast<int64_t>(blocks.size()),
                    "KV cache: layer " << layer << " position " << position << " of sequence "
                                       << sequence << " is outside its "
                                       << blocks.size() * block_size_ << " reserved slots");
  const int64_t slot =
      int64_t{blocks[static_cast<std::size_t>(position / block_size_)]} * block_size_ +
      position % block_size_;
  return static_cast<std::size_t>(layer) * layer_bytes_ +
         static_cast<std::size_t>(slot) * row_bytes_;
}

void* KvCache::key(int64_t layer, int64_t sequence, int64_t position) {
  return static_cast<uint8_t*>(keys_.data()) + slot_offset(layer, sequence, position);
}

void* KvCache::value(int64_t layer, int64_t sequence, int64_t position) {
  return static_cast<uint8_t*>(values_.data()) + slot_offset(layer, sequence, position);
}

const void* KvCache::key(int64_t layer, int64_t sequence, int64_t position) const {
  return static_cast<const uint8_t*>(keys_.data()) + slot_offset(layer, sequence, position);
}

const void* KvCache::value(int64_t layer, int64_t sequence, int64_t position) const {
  return static_cast<const uint8_t*>(values_.data()) + slot_offset(layer, sequence, position);
}

const void* KvCache::key_block(int64_t layer, int32_t block) const {
  return static_cast<const uint8_t*>(keys_.data()) +
         static_cast<std::size_t>(layer) * layer_bytes_ +
         static_cast<std::size_t>(block) * static_cast<std::size_t>(block_size_) * row_bytes_;
}

const void* KvCache::value_block(int64_t layer, int32_t block) const {
  return static_cast<const uint8_t*>(values_.data()) +
         static_cast<std::size_t>(layer) * layer_bytes_ +
         static_cast<std::size_t>(block) * static_cast<std::size_t>(block_size_) * row_bytes_;
}

}  // namespace yirage::llm
