// Grouped-query attention over the paged KV cache, in plain C++ (float32 arithmetic).
#pragma once

#include <cstdint>
#include <vector>

#include "yirage/core/tensor.h"
#include "yirage/llm/kv_cache.h"

namespace yirage::llm {

/// One query token of a step: the sequence it belongs to and its position there. It attends to
/// the cached positions 0 .. position of its sequence (causal), its own included.
struct AttentionRow {
  int64_t sequence = 0;  ///< KV cache sequence id
  int64_t position = 0;  ///< position of the token in its sequence
};

/// Writes the keys k [rows, kv_heads, head_dim] and values v (same shape) of a step into the
/// cache slots of `rows` for `layer`; the tensors have the cache's dtype and the slots are
/// reserved.
void store_kv(KvCache& cache, int64_t layer, const std::vector<AttentionRow>& rows,
              const core::Tensor& k, const core::Tensor& v);

/// softmax(q k^T / sqrt(head_dim)) v for every row and query head of q [rows, heads,
/// head_dim], reading keys and values of `layer` from the cache; query head h uses KV head
/// h / (heads / kv_heads). Returns [rows, heads * head_dim] in q's dtype. Rows run in parallel
/// on the global thread pool.
core::Tensor paged_attention(const KvCache& cache, int64_t layer,
                             const std::vector<AttentionRow>& rows, const core::Tensor& q);

}  // namespace yirage::llm
