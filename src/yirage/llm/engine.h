// Generation: requests in, tokens and text out. Continuous batching over a paged KV cache,
// sampling per sequence, stop ids and strings, streaming, timings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "yirage/llm/checkpoint.h"
#include "yirage/llm/kv_cache.h"
#include "yirage/llm/model.h"
#include "yirage/llm/sampler.h"
#include "yirage/llm/tokenizer.h"

namespace yirage::llm {

/// How to run generation.
struct EngineOptions {
  ModelOptions model;       ///< backend, dtype, fused
  KvCacheOptions kv_cache;  ///< budget; with no limit set: max_batch full contexts, at most
                            ///< kDefaultKvBytes
  int64_t max_batch = 8;    ///< sequences in flight at once
};

/// One prompt to continue.
struct GenerationRequest {
  std::vector<int64_t> prompt_ids;  ///< the prompt's token ids (at least one)
  SamplingParams params;            ///< how to sample and when to stop
};

/// When things happened, in seconds since generate() was called.
struct GenerationTimings {
  double first_token_s = 0.0;         ///< the first generated token (time to first token)
  std::vector<double> token_times_s;  ///< every generated token
  /// Mean seconds between consecutive generated tokens (0 with fewer than two).
  double mean_token_latency_s() const;
};

/// What a request produced.
struct GenerationOutput {
  std::vector<int64_t> prompt_ids;  ///< the prompt
  std::vector<int64_t> token_ids;   ///< generated ids (a final stop id included)
  std::string text;                 ///< generated text, stop string and stop ids left out
  std::string finish_reason;        ///< "stop" (stop id or string) or "length"
  GenerationTimings timings;        ///< when the tokens came
};

/// Receives generated text as it becomes final: `text` may be empty (bytes of an incomplete
/// character, or text that may start a stop string, are held back); `finished` is set on the
/// request's last call.
using StreamCallback =
    std::function<void(std::size_t request, int64_t token, std::string_view text, bool finished)>;

/// A model, its tokenizer and a KV cache, ready to generate.
class Engine {
 public:
  /// Opens the Hugging Face checkpoint directory `dir` with its tokenizer.
  static std::unique_ptr<Engine> open(const std::string& dir, const EngineOptions& options);
  /// A demo model of `preset` (bfloat16 weights generated in memory, the bytes
  /// write_demo_model would write) with the tokenizer in `tokenizer_dir`.
  static std::unique_ptr<Engine> open_demo(DemoPreset preset, const std::string& tokenizer_dir,
                                           const EngineOptions& options);
  /// An engine over `model`; `tokenizer` may be null (then only token ids go in and out, and
  /// stop strings are refused). `defaults` supplies extra stop ids and sampling defaults.
  Engine(std::shared_ptr<Qwen3Model> model, std::shared_ptr<const Tokenizer> tokenizer,
         const GenerationDefaults& defaults, const EngineOptions& options);

  /// Generates for every request, batching up to max_batch at once; outputs in request order.
  /// Every request is checked before any work: UserError for invalid sampling values, an
  /// empty or over-long prompt, ids outside the vocabulary, or a request the KV cache budget
  /// cannot hold.
  std::vector<GenerationOutput> generate(const std::vector<GenerationRequest>& requests,
                                         const StreamCallback& stream = {});
  /// Tokenizes `prompts` (no special tokens added) and generates with `params` for each.
  std::vector<GenerationOutput> generate(const std::vector<std::string>& prompts,
                                         const SamplingParams& params,
                                         const StreamCallback& stream = {});

  /// SamplingParams with the checkpoint's generation defaults (temperature, top-k, top-p).
  SamplingParams default_params() const;
  /// The model.
  Qwen3Model& model() { return *model_; }
  /// The tokenizer (null when there is none).
  const std::shared_ptr<const Tokenizer>& tokenizer() const { return tokenizer_; }
  /// The KV cache.
  const KvCache& kv_cache() const { return cache_; }
  /// The stop ids every request gets unless it sets ignore_eos.
  const std::vector<int64_t>& eos_token_ids() const { return eos_ids_; }

 private:
  void check(const GenerationRequest& request, std::size_t index) const;

  std::shared_ptr<Qwen3Model> model_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  GenerationDefaults defaults_;
  EngineOptions options_;
  std::vector<int64_t> eos_ids_;
  KvCache cache_;
};

}  // namespace yirage::llm
