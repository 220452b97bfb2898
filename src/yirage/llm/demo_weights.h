// Demo model weights generated in memory, without a checkpoint file: the same values
// write_demo_model stores, for benchmarks of models too large to write comfortably.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "yirage/core/tensor.h"
#include "yirage/llm/config.h"
#include "yirage/llm/model_weights.h"

namespace yirage::llm {

/// Fills `bytes` with demo weight number `index` of `config` (its position in
/// qwen3_weight_shapes), named `name`, of `shape`, stored as config.torch_dtype; over the global
/// thread pool.
void fill_demo_weight(const Qwen3Config& config, std::size_t index, const std::string& name,
                      const core::Shape& shape, std::span<uint8_t> bytes);

/// A WeightLookup generating each demo weight of `config` (a demo_config) when asked: the bytes
/// write_demo_model would write for it.
WeightLookup demo_weight_lookup(const Qwen3Config& config);

}  // namespace yirage::llm
