// Recognising attention in block graphs: the online-softmax loop over KV tiles (one kernel, or
// the partial kernel of split KV) and the kernel that combines split-KV partials.
//
// The loop form, per block (one head h, one KV split), over KV tiles k_t, v_t:
//   q' = q or rms_norm(q, gq);  k' = k_t or rms_norm(k_t, gk)
//   s = (q' @ transpose(k')) [* scale];  m = max(s, -1);  e = exp(s - m)
//   O = rescaled_sum(e @ v_t, m);  L = rescaled_sum(sum(e, -1), m);  [X = max-accumulate(m)]
//   outputs: O / L, or the partials O, L and X
// q [H, M, D], k and v [H, N, D] (or k [H, D, N] without the transpose, no QK-norm then),
// grid (H, S, 1), the KV length split over S blocks and walked by the for-loop. The combine form,
// grid (H, 1, 1), walks the S partials:
//   out = rescaled_sum(O_s, X_s) / rescaled_sum(L_s, X_s).
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "yirage/core/dtype.h"
#include "yirage/ir/block_graph.h"

namespace yirage::backend::cuda {

/// Where a block's tile of a graph tensor starts: element offset per block along grid x and y.
struct BlockOffsets {
  int64_t x = 0;  ///< elements per blockIdx.x
  int64_t y = 0;  ///< elements per blockIdx.y
};

/// An online-softmax attention block graph, as the schedule needs it.
struct AttentionPattern {
  core::DType dtype = core::DType::BF16;   ///< of q, k and v
  int64_t heads = 1;                       ///< H: blocks along grid x
  int64_t rows = 1;                        ///< M: query rows per head
  int64_t head_dim = 1;                    ///< D
  int64_t splits = 1;                      ///< S: blocks along grid y, each a KV range
  int64_t kv_block = 1;                    ///< KV rows per block (the for-loop walks them)
  int64_t kv_len = 1;                      ///< N: KV rows in all
  bool k_transposed = false;               ///< K stored as [H, D, N] (no transpose op)
  double scale = 1.0;                      ///< factor on q k^T
  int q = -1, k = -1, v = -1;              ///< block-input indices
  int q_gain = -1, k_gain = -1;            ///< rms_norm gains (block inputs), -1 without
  double q_eps = 0.0, k_eps = 0.0;         ///< rms_norm epsilons
  BlockOffsets q_at, k_at, v_at;           ///< per-block input offsets
  bool partial = false;                    ///< outputs O, L and X (else one output O / L)
  int out_o = -1, out_l = -1, out_x = -1;  ///< output indices (out_o only when not partial)
  std::array<BlockOffsets, 3> out_at{};    ///< per-block offsets of O, L, X outputs
};

/// A split-KV combine block graph.
struct CombinePattern {
  int64_t heads = 1;                        ///< H: blocks of the graph along grid x
  int64_t rows = 1;                         ///< M: rows per head
  int64_t width = 1;                        ///< D: entries per row of O
  int64_t splits = 1;                       ///< S: partials per row (the for-loop range)
  int o = -1, l = -1, x = -1;               ///< block-input indices of O, L, X
  core::DType o_type = core::DType::F32;    ///< dtype of the O partials
  core::DType l_type = core::DType::F32;    ///< dtype of the L partials
  core::DType x_type = core::DType::F32;    ///< dtype of the X partials
  core::DType out_type = core::DType::F32;  ///< dtype of the output
  int64_t head_stride = 0;                  ///< elements between heads in O ([H, S*M, D])
};

/// The attention loop form of `graph`, or nullopt when it is anything else.
std::optional<AttentionPattern> match_attention(const ir::BlockGraph& graph);
/// The split-KV combine form of `graph`, or nullopt when it is anything else.
std::optional<CombinePattern> match_combine(const ir::BlockGraph& graph);

}  // namespace yirage::backend::cuda
