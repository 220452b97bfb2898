#include "yirage/llm/paged_attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "yirage/core/error.h"
#include "yirage/core/thread_pool.h"
#include "yirage/llm/float_rows.h"

namespace yirage::llm {

void store_kv(KvCache& cache, int64_t layer, const std::vector<AttentionRow>& rows,
              const core::Tensor& k, const core::Tensor& v) {
  const KvLayout& layout = cache.layout();
  YR_INTERNAL_CHECK(layout.device == core::DeviceKind::Cpu,
                    "store_kv: the KV cache is not on the host");
  const core::Shape expected{static_cast<int64_t>(rows.size()), layout.num_kv_heads,
                             layout.head_dim};
  YR_INTERNAL_CHECK(k.shape() == expected && v.shape() == expected && k.dtype() == layout.dtype &&
                        v.dtype() == layout.dtype && k.is_contiguous() && v.is_contiguous(),
                    "store_kv: keys " << k.to_string() << " and values " << v.to_string()
                                      << " do not match the cache's rows of "
                                      << core::shape_to_string(expected));
  const std::size_t row_bytes = static_cast<std::size_t>(layout.num_kv_heads * layout.head_dim) *
                                core::dtype_size(layout.dtype);
  const auto* keys = static_cast<const uint8_t*>(k.data());
  const auto* values = static_cast<const uint8_t*>(v.data());
  for (std::size_t r = 0; r < rows.size(); ++r) {
    std::memcpy(cache.key(layer, rows[r].sequence, rows[r].position), keys + r * row_bytes,
                row_bytes);
    std::memcpy(cache.value(layer, rows[r].sequence, rows[r].position), values + r * row_bytes,
                row_bytes);
  }
}

core::Tensor paged_attention(const KvCache& cache, int64_t layer,
                             const std::vector<AttentionRow>& rows, const core::Tensor& q) {
  const KvLayout& layout = cache.layout();
  YR_INTERNAL_CHECK(layout.device == core::DeviceKind::Cpu,
                    "paged_attention: the KV cache is not on the host");
  const int64_t num_rows = static_cast<int64_t>(rows.size());
  YR_INTERNAL_CHECK(q.rank() == 3 && q.dim(0) == num_rows && q.dim(2) == layout.head_dim &&
                        q.dim(1) % layout.num_kv_heads == 0 && q.is_contiguous(),
                    "paged_attention: queries " << q.to_string() << " do not fit " << num_rows
                                                << " rows of " << layout.num_kv_heads
                                                << " KV heads of " << layout.head_dim);
  const int64_t heads = q.dim(1), kv_heads = layout.num_kv_heads, d = layout.head_dim;
  const int64_t group = heads / kv_heads, block_size = cache.block_size();
  const std::size_t elem = core::dtype_size(q.dtype());
  const std::size_t kv_elem = core::dtype_size(layout.dtype);
  const float scale = 1.0F / std::sqrt(static_cast<float>(d));
  core::Tensor out = core::Tensor::empty({num_rows, heads * d}, q.dtype());
  const auto* q_bytes = static_cast<const uint8_t*>(q.data());
  auto* out_bytes = static_cast<uint8_t*>(out.data());

  // One task per (row, KV head): the group of query heads sharing that KV head reads each
  // key and value row once.
  core::ThreadPool::global().parallel_for(num_rows * kv_heads, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> queries(static_cast<std::size_t>(group * d));
    std::vector<float> row(static_cast<std::size_t>(d));
    std::vector<float> scores;
    std::vector<float> acc(static_cast<std::size_t>(group * d));
    for (int64_t task = begin; task < end; ++task) {
      const int64_t r = task / kv_heads, kv = task % kv_heads;
      const AttentionRow& query = rows[static_cast<std::size_t>(r)];
      const int64_t length = query.position + 1;
      const auto& blocks = cache.block_table(query.sequence);
      YR_INTERNAL_CHECK(
          length <= static_cast<int64_t>(blocks.size()) * block_size,
          "paged_attention: position " << query.position << " is beyond the reserved slots");
      load_floats(q_bytes + static_cast<std::size_t>((r * heads + kv * group) * d) * elem,
                  q.dtype(), queries.data(), group * d);
      scores.assign(static_cast<std::size_t>(group * length), 0.0F);
      for (int64_t p = 0; p < length; ++p) {
        const int32_t block = blocks[static_cast<std::size_t>(p / block_size)];
        const auto* key =
            static_cast<const uint8_t*>(cache.key_block(layer, block)) +
            static_cast<std::size_t>(((p % block_size) * kv_heads + kv) * d) * kv_elem;
        load_floats(key, layout.dtype, row.data(), d);
        for (int64_t g = 0; g < group; ++g) {
          const float* qg = queries.data() + g * d;
          float dot = 0.0F;
          for (int64_t i = 0; i < d; ++i) dot += qg[i] * row[static_cast<std::size_t>(i)];
          scores[static_cast<std::size_t>(g * length + p)] = dot * scale;
        }
      }
      for (int64_t g = 0; g < group; ++g) {
        float* s = scores.data() + g * length;
        const float top = *std::max_element(s, s + length);
        float total = 0.0F;
        for (int64_t p = 0; p < length; ++p) {
          s[p] = std::exp(s[p] - top);
          total += s[p];
        }
        for (int64_t p = 0; p < length; ++p) s[p] /= total;
      }
      std::fill(acc.begin(), acc.end(), 0.0F);
      for (int64_t p = 0; p < length; ++p) {
        const int32_t block = blocks[static_cast<std::size_t>(p / block_size)];
        const auto* value =
            static_cast<const uint8_t*>(cache.value_block(layer, block)) +
            static_cast<std::size_t>(((p % block_size) * kv_heads + kv) * d) * kv_elem;
        load_floats(value, layout.dtype, row.data(), d);
        for (int64_t g = 0; g < group; ++g) {
          const float weight = scores[static_cast<std::size_t>(g * length + p)];
          float* a = acc.data() + g * d;
          for (int64_t i = 0; i < d; ++i) a[i] += weight * row[static_cast<std::size_t>(i)];
        }
      }
      store_floats(acc.data(), q.dtype(),
                   out_bytes + static_cast<std::size_t>((r * heads + kv * group) * d) * elem,
                   group * d);
    }
  });
  return out;
}

}  // namespace yirage::llm
