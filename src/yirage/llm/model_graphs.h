// The kernel graphs of one Qwen3 forward step, one per piece with fixed shapes, so that the
// superoptimizer can fuse each piece. Attention over the paged KV cache runs between them.
#pragma once

#include <cstdint>
#include <string_view>

#include "yirage/core/dtype.h"
#include "yirage/ir/kernel_graph.h"
#include "yirage/llm/config.h"

namespace yirage::llm {

/// The pieces of a step, in the order a layer runs them (LmHead once at the end).
enum class StepGraph : uint8_t {
  AttentionInput,   ///< x, input_norm, w_qkv -> qkv = rms_norm(x) @ w_qkv
  QkRope,           ///< qkv, q_norm, k_norm, positions -> q, k (normed per head, rotated), v
  AttentionOutput,  ///< attn, w_o, x, post_norm -> x2 = x + attn @ w_o, h = rms_norm(x2)
  Mlp,              ///< h, w_gate, w_up -> silu(h @ w_gate) * (h @ w_up)
  MlpOutput,        ///< a, w_down, x2 -> x2 + a @ w_down
  LmHead,           ///< x, final_norm, lm_head -> logits = rms_norm(x) @ lm_head
};

/// Number of StepGraph values.
inline constexpr int kNumStepGraphs = 6;

/// "attention_input", "qk_rope", ...
std::string_view step_graph_name(StepGraph graph);

/// The graph `graph` of `config` over `tokens` rows (tokens of the step; for LmHead, rows whose
/// logits are wanted), computing in `dtype`. Positions are int64.
ir::KernelGraph build_step_graph(StepGraph graph, const Qwen3Config& config, int64_t tokens,
                                 core::DType dtype);

}  // namespace yirage::llm
