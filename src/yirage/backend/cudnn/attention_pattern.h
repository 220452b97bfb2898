// Scaled-dot-product attention found in a kernel graph, O = softmax(Q K^T * scale + mask) V, and
// how it maps onto cuDNN's [b, h, s, d] attention tensors.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "yirage/ir/kernel_graph.h"

namespace yirage::backend::cudnn {

/// One attention in a graph: matmul(q, kt) -> [mul_scalar] -> [add mask] -> softmax(last dim)
/// -> matmul(., v), every intermediate used only by the next op of the chain.
struct AttentionMatch {
  std::vector<int32_t> nodes;         ///< the nodes it replaces, in graph order (output last)
  int32_t output_node = -1;           ///< the second matmul: its output is the attention's
  ir::TensorRef q;                    ///< queries [..., s_q, d]
  ir::TensorRef k;                    ///< keys: [..., s_kv, d], or [..., d, s_kv] when stored so
  bool keys_transposed = false;       ///< true when `k` is stored [..., d, s_kv] (no transpose op)
  ir::TensorRef v;                    ///< values [..., s_kv, d_v]
  std::optional<ir::TensorRef> mask;  ///< additive mask broadcast to the scores [..., s_q, s_kv]
  double scale = 1.0;                 ///< the scores' factor (1 without a mul_scalar)
};

/// Every float16/bfloat16 attention in `graph` (non-overlapping, in graph order).
std::vector<AttentionMatch> find_attention(const ir::KernelGraph& graph);

/// The attention alone as a graph: inputs q, k, v (and the mask), one output; the same ops as
/// in `graph`, so it runs anywhere the original does.
ir::KernelGraph attention_graph(const ir::KernelGraph& graph, const AttentionMatch& match);

/// The attention as cuDNN sees it: batch b, query heads h_q, key/value heads h_kv, lengths and
/// head dims, over packed row-major tensors (keys as [b, h_kv, s_kv, d]).
struct AttentionShape {
  int64_t b = 1;          ///< batch (the output's batch dims but the last, multiplied)
  int64_t h_q = 1;        ///< query heads (the output's last batch dim)
  int64_t h_kv = 1;       ///< key/value heads: h_q, or 1 when keys and values broadcast over heads
  int64_t s_q = 1;        ///< query length
  int64_t s_kv = 1;       ///< key/value length
  int64_t d_qk = 1;       ///< query/key head dim
  int64_t d_v = 1;        ///< value head dim
  bool has_mask = false;  ///< an additive mask
  int64_t mask_b = 1;     ///< the mask's batch extent (1 or b)
  int64_t mask_h = 1;     ///< the mask's head extent (1 or h_q)
  double scale = 1.0;     ///< factor of the scores
  core::DType dtype = core::DType::BF16;  ///< element type of q, k, v, mask and the output
};

/// The cuDNN shape of `match`, or nullopt with the reason in `why` when its broadcasting has no
/// [b, h, s, d] form.
std::optional<AttentionShape> attention_shape(const ir::KernelGraph& graph,
                                              const AttentionMatch& match, std::string* why);

}  // namespace yirage::backend::cudnn
