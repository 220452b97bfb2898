// A Qwen3 model configuration, read from a Hugging Face config.json.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "yirage/core/dtype.h"

namespace yirage::llm {

/// The architecture hyper-parameters of a Qwen3 dense model.
struct Qwen3Config {
  int64_t vocab_size = 0;                       ///< rows of the embedding
  int64_t hidden_size = 0;                      ///< model width
  int64_t intermediate_size = 0;                ///< gated MLP width
  int64_t num_hidden_layers = 0;                ///< decoder layers
  int64_t num_attention_heads = 0;              ///< query heads
  int64_t num_key_value_heads = 0;              ///< key/value heads (GQA groups)
  int64_t head_dim = 0;                         ///< per-head width (Qwen3: explicit, 128 for 0.6B)
  int64_t max_position_embeddings = 0;          ///< longest context
  double rms_norm_eps = 1e-6;                   ///< RMSNorm epsilon
  double rope_theta = 1e6;                      ///< RoPE base
  bool tie_word_embeddings = false;             ///< LM head shares the embedding
  core::DType torch_dtype = core::DType::BF16;  ///< dtype the weights are stored in
  int64_t bos_token_id = -1;                    ///< -1 when absent
  std::vector<int64_t> eos_token_ids;           ///< one or more end-of-sequence ids

  /// Parses config.json text; `origin` names the file in errors. Requires "architectures" to
  /// hold "Qwen3ForCausalLM" (UserError naming the unsupported architecture otherwise) and every
  /// key above except the optional ones; checks positivity and divisibility
  /// (heads % kv heads == 0).
  static Qwen3Config from_json(const std::string& text, const std::string& origin);
  /// Reads and parses `path`.
  static Qwen3Config from_file(const std::string& path);
  /// The config.json text for this configuration (Hugging Face key names).
  std::string to_json() const;
};

}  // namespace yirage::llm
