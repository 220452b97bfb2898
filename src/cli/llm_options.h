// Command-line options shared by `yirage generate`, `yirage chat` and `yirage bench model`.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "yirage/llm/engine.h"

namespace CLI {
class App;
}  // namespace CLI

namespace yirage::cli {

/// Where and how the model runs.
struct EngineFlags {
  std::string backend;           ///< empty: llm::default_backend_name()
  std::string dtype;             ///< empty: the checkpoint's
  bool fused = false;            ///< superoptimize the step graphs
  double search_seconds = 30.0;  ///< budget of each search
  bool fused_keep_all = false;   ///< run every superoptimized graph, faster here or not
  int64_t kv_cache_mb = 0;       ///< KV cache budget in MiB (0: default)
  int64_t max_batch = 8;         ///< sequences in flight
  /// The engine options these flags describe.
  llm::EngineOptions options() const;
};

/// Sampling flags; unset ones take the checkpoint's generation defaults.
struct SamplingFlags {
  int64_t max_tokens = 64;                   ///< most tokens to generate
  std::optional<double> temperature;         ///< 0: greedy
  std::optional<int64_t> top_k;              ///< 0: off
  std::optional<double> top_p;               ///< 1: off
  std::optional<double> min_p;               ///< 0: off
  std::optional<double> repetition_penalty;  ///< 1: off
  uint64_t seed = 0;                         ///< sampling seed
  std::vector<std::string> stop;             ///< stop strings
  bool ignore_eos = false;                   ///< keep going past end-of-sequence ids
  /// The sampling parameters: `defaults` overridden by the flags that are set.
  llm::SamplingParams params(const llm::SamplingParams& defaults) const;
};

/// Adds --backend, --dtype, --search-seconds, --kv-cache-mb (and --fused when `fused_flag`) to
/// `command`.
void add_engine_flags(CLI::App& command, EngineFlags& flags, bool fused_flag);
/// Adds --max-tokens, --temperature, --top-k, --top-p, --min-p, --repetition-penalty, --seed,
/// --stop and --ignore-eos to `command`.
void add_sampling_flags(CLI::App& command, SamplingFlags& flags);

/// One line of timing: tokens, time to first token, per-token latency and tokens/s.
std::string timing_line(const llm::GenerationOutput& output);

}  // namespace yirage::cli
