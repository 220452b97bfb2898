// The weights of a Qwen3 model, laid out for the kernel graphs: matmul weights as [in, out],
// q/k/v projections concatenated, all in one compute dtype.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "yirage/core/tensor.h"
#include "yirage/llm/config.h"

namespace yirage::llm {

/// Looks a weight up by its Hugging Face name; returns an undefined tensor when there is none.
using WeightLookup = std::function<core::Tensor(const std::string& name)>;

/// One decoder layer.
struct LayerWeights {
  core::Tensor input_norm;  ///< [hidden]
  core::Tensor qkv;         ///< [hidden, (heads + 2 kv_heads) head_dim]: q, k, v columns
  core::Tensor q_norm;      ///< [head_dim]
  core::Tensor k_norm;      ///< [head_dim]
  core::Tensor o;           ///< [heads head_dim, hidden]
  core::Tensor post_norm;   ///< [hidden]
  core::Tensor gate;        ///< [hidden, intermediate]
  core::Tensor up;          ///< [hidden, intermediate]
  core::Tensor down;        ///< [intermediate, hidden]
};

/// The whole model.
struct Qwen3Weights {
  core::Tensor embed;                ///< [vocab, hidden] (rows are gathered)
  std::vector<LayerWeights> layers;  ///< one per decoder layer
  core::Tensor final_norm;           ///< [hidden]
  core::Tensor lm_head;              ///< [hidden, vocab] (the embedding, transposed, when tied)
};

/// Reads every weight of `config` through `lookup`, checks its shape and float dtype, and
/// converts it to `dtype` in the layout above (Hugging Face Linear weights are [out, in] and
/// get transposed once here). UserError naming the tensor when one is missing or misshapen.
Qwen3Weights load_weights(const Qwen3Config& config, const WeightLookup& lookup, core::DType dtype);

}  // namespace yirage::llm
