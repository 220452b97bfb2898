// A tiny Qwen3 model with seeded random weights held in memory, and a plain float64 forward
// pass of the same model written directly from the architecture, for the engine tests.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "yirage/core/tensor.h"
#include "yirage/llm/config.h"
#include "yirage/llm/model_weights.h"

namespace yirage::testing {

/// Four heads sharing two KV heads of 8, two layers, hidden 32, vocabulary 64.
llm::Qwen3Config tiny_config(bool tied = false);

/// Seeded random weights for `config` in Hugging Face layout and names, stored as `dtype`.
std::map<std::string, core::Tensor> tiny_weights(const llm::Qwen3Config& config, uint64_t seed,
                                                 core::DType dtype = core::DType::F32);

/// A WeightLookup over `weights`.
llm::WeightLookup lookup_in(const std::map<std::string, core::Tensor>& weights);

/// Logits [tokens.size()][vocab] of the causal forward pass over `tokens`, in float64.
std::vector<std::vector<double>> naive_logits(const llm::Qwen3Config& config,
                                              const std::map<std::string, core::Tensor>& weights,
                                              const std::vector<int64_t>& tokens);

}  // namespace yirage::testing
