// A Hugging Face checkpoint directory: config, memory-mapped weights, tokenizer files.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
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

/// Parses generation_config.json text (do_sample false means greedy: temperature 0); `origin`
/// names the file in errors.
GenerationDefaults parse_generation_config(const std::string& text, const std::string& origin);

/// Every weight of a Qwen3 model of `config`: Hugging Face name and shape ([out, in] for the
/// projections), embedding first, then layer by layer, the final norm, and lm_head.weight unless
/// the head is tied.
std::vector<std::pair<std::string, core::Shape>> qwen3_weight_shapes(const Qwen3Config& config);

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
  Qwen3_8B,    ///< Qwen3-8B's shapes (36 layers, hidden 4096, untied head): 16 GB in bf16
};

/// Writes a Qwen3-architecture checkpoint to `dir` (created when missing): config.json,
/// generation_config.json, model.safetensors with deterministic pseudo-random weights from a
/// counter-based generator (the same bytes on every machine), and the tokenizer files copied
/// from `tokenizer_dir`.
void write_demo_model(const std::string& dir, DemoPreset preset, const std::string& tokenizer_dir,
                      core::DType dtype = core::DType::BF16);

/// The configuration `preset` writes, with weights stored as `dtype` (BF16, F16 or F32).
Qwen3Config demo_config(DemoPreset preset, core::DType dtype);
/// The preset named "tiny", "qwen3-0.6b-shape" or "qwen3-8b-shape"; UserError listing them
/// otherwise.
DemoPreset parse_demo_preset(const std::string& name);
/// The Qwen3 tokenizer directory shipped with yirage: for each of `anchors` (such as the
/// executable's or the Python module's directory) and each of its parents, the first of
/// models/qwen3-tokenizer, share/yirage/qwen3-tokenizer and qwen3-tokenizer that holds
/// tokenizer.json; then models/qwen3-tokenizer of the source tree yirage was built from.
/// UserError naming the places searched when none holds it.
std::string default_tokenizer_dir(const std::vector<std::string>& anchors);
/// Value of element `element` of demo weight number `tensor` (its position in
/// qwen3_weight_shapes) before scaling: uniform in (-1, 1), from a counter-based hash.
double demo_uniform(uint64_t tensor, uint64_t element);

}  // namespace yirage::llm
