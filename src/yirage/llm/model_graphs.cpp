#include "yirage/llm/model_graphs.h"

#include "yirage/core/error.h"

namespace yirage::llm {

std::string_view step_graph_name(StepGraph graph) {
  switch (graph) {
    case StepGraph::AttentionInput:
      return "attention_input";
    case StepGraph::QkRope:
      return "qk_rope";
    case StepGraph::AttentionOutput:
      return "attention_output";
    case StepGraph::Mlp:
      return "mlp";
    case StepGraph::MlpOutput:
      return "mlp_output";
    case StepGraph::LmHead:
      return "lm_head";
  }
  YR_INTERNAL_ERROR("unknown step graph " << static_cast<int>(graph));
}

ir::KernelGraph build_step_graph(StepGraph graph, const Qwen3Config& config, int64_t tokens,
                                 core::DType dtype) {
  const int64_t hidden = config.hidden_size, d = config.head_dim;
  const int64_t heads = config.num_attention_heads, kv_heads = config.num_key_value_heads;
  const int64_t inter = config.intermediate_size;
  const double eps = config.rms_norm_eps;
  ir::KernelGraph g;
  switch (graph) {
    case StepGraph::AttentionInput: {
      const auto x = g.input({tokens, hidden}, dtype);
      const auto norm = g.input({hidden}, dtype);
      const auto w = g.input({hidden, (heads + 2 * kv_heads) * d}, dtype);
      g.mark_output(g.matmul(g.rms_norm(x, norm, eps), w));
      break;
    }
    case StepGraph::QkRope: {
      const auto qkv = g.input({tokens, (heads + 2 * kv_heads) * d}, dtype);
      const auto q_norm = g.input({d}, dtype);
      const auto k_norm = g.input({d}, dtype);
      const auto positions = g.input({tokens}, core::DType::I64);
      const auto parts = g.split(qkv, {heads * d, kv_heads * d, kv_heads * d}, 1);
      const auto q = g.rms_norm(g.reshape(parts[0], {tokens, heads, d}), q_norm, eps);
      const auto k = g.rms_norm(g.reshape(parts[1], {tokens, kv_heads, d}), k_norm, eps);
      g.mark_output(g.rope(q, positions, config.rope_theta));
      g.mark_output(g.rope(k, positions, config.rope_theta));
      g.mark_output(g.reshape(parts[2], {tokens, kv_heads, d}));
      break;
    }
    case StepGraph::AttentionOutput: {
      const auto attn = g.input({tokens, heads * d}, dtype);
      const auto w = g.input({heads * d, hidden}, dtype);
      const auto x = g.input({tokens, hidden}, dtype);
      const auto norm = g.input({hidden}, dtype);
      const auto x2 = g.binary(ir::OpKind::Add, x, g.matmul(attn, w));
      g.mark_output(x2);
      g.mark_output(g.rms_norm(x2, norm, eps));
      break;
    }
    case StepGraph::Mlp: {
      const auto h = g.input({tokens, hidden}, dtype);
      const auto gate = g.input({hidden, inter}, dtype);
      const auto up = g.input({hidden, inter}, dtype);
      g.mark_output(
          g.binary(ir::OpKind::Mul, g.unary(ir::OpKind::Silu, g.matmul(h, gate)), g.matmul(h, up)));
      break;
    }
    case StepGraph::MlpOutput: {
      const auto a = g.input({tokens, inter}, dtype);
      const auto w = g.input({inter, hidden}, dtype);
      const auto x2 = g.input({tokens, hidden}, dtype);
      g.mark_output(g.binary(ir::OpKind::Add, x2, g.matmul(a, w)));
      break;
    }
    case StepGraph::LmHead: {
      const auto x = g.input({tokens, hidden}, dtype);
      const auto norm = g.input({hidden}, dtype);
      const auto w = g.input({hidden, config.vocab_size}, dtype);
      g.mark_output(g.matmul(g.rms_norm(x, norm, eps), w));
      break;
    }
  }
  return g;
}

}  // namespace yirage::llm
