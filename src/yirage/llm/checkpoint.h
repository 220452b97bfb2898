// A Hugging Face checkpoint directory: config, memory-mapped weights, tokenizer files.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "yirage/core/tensor.h"
#include "yirage/llm/config.h"
#include "yirage/llm/safetensors.h"

namespace yirage::llm {

/// Defaults from generation_config.json (all optional).
struct GenerationDefaults {
  double temperature = 1.0;            ///< sampling temperature
  int64_t top_k = 0;                   ///< 0: off
  double top_p = 1.0;                  ///< 1: off
  std::vector<int64_t> eos_token_ids;  ///< extra stop ids
};

/// An opened checkpoint. Weights are zero-copy views of the mapped files.
class Checkpoint {
 public:
  /// Opens `dir`: config.json, model.safetensors or model.safetensors.index.json (shards),
  /// optional generation_config.json. Checks that every Qwen3 weight is present with the shape
  /// the config implies (the LM head may be tied); UserError naming the file and tensor
  /// otherwise.
  static Checkpoint open(const std::string& dir);
  /// The directory.
  const std::string& dir() const { return dir_; }
  /// The model configuration.
  const Qwen3Config& config() const { return config_; }
  /// generation_config.json values (defaults when absent).
  const GenerationDefaults& generation() const { return generation_; }
  /// The weight `name` (Hugging Face name); UserError when absent.
  core::Tensor weight(const std::string& name) const;
  /// True when the checkpoint holds `name`.
  bool has_weight(const std::string& name) const;
  /// Path of tokenizer.json in the directory.
  std::string tokenizer_path() const;

 private:
  std::string dir_;
  Qwen3Config config_;
  GenerationDefaults generation_;
  std::map<std::string, std::shared_ptr<SafetensorsFile>> files_by_tensor_;
};

/// Demo model sizes.
enum class DemoPreset {
  Tiny,        ///< a few layers, hidden 64: fast everywhere, for tests and the README
  Qwen3_0_6B,  ///< Qwen3-0.6B's shapes (28 layers, hidden 1024), for benchmarks
};

/// Writes a Qwen3-architecture checkpoint to `dir` (created when missing): config.json,
/// generation_config.json, model.safetensors with deterministic pseudo-random weights from a
/// counter-based generator (the same bytes on every machine), and the tokenizer files copied
/// from `tokenizer_dir`.
void write_demo_model(const std::string& dir, DemoPreset preset, const std::string& tokenizer_dir,
                      core::DType dtype = core::DType::BF16);

}  // namespace yirage::llm
