// A Qwen3 dense model run as kernel graphs on a backend, with attention over a paged KV cache.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "yirage/backend/backend.h"
#include "yirage/core/tensor.h"
#include "yirage/ir/kernel_graph.h"
#include "yirage/llm/config.h"
#include "yirage/llm/cuda_model.h"
#include "yirage/llm/kv_cache.h"
#include "yirage/llm/model_graphs.h"
#include "yirage/llm/model_weights.h"

namespace yirage::llm {

/// The backend models run on unless told otherwise: "cpu" when it is available here, else
/// "reference".
std::string default_backend_name();

/// How to build and run the model.
struct ModelOptions {
  std::string backend = default_backend_name();  ///< registry name of the backend
  std::optional<core::DType> dtype;              ///< compute and KV dtype (default: the config's)
  bool fused = false;  ///< superoptimize each step graph (cached on disk) before running it
  /// With `fused`, only graphs of at most this many rows (decode steps and short prefills)
  /// are superoptimized; longer prefill steps run the graphs as built.
  int64_t fused_max_tokens = 16;
  /// With `fused`, time the superoptimized graph against the graph as built on the backend
  /// (random inputs, a few runs each) and keep the faster.
  bool fused_keep_faster = true;
  double search_seconds = 30.0;  ///< time budget of each superoptimizer search
  std::string search_cache_dir;  ///< the search cache (empty: the search's default)
};

/// The tokens one sequence contributes to a step.
struct StepSequence {
  int64_t sequence = 0;         ///< KV cache sequence id
  std::vector<int64_t> tokens;  ///< token ids, at least one
  int64_t position = 0;         ///< position of tokens[0] (the tokens cached before it)
  bool all_logits = false;      ///< logits of every token, not only of the last
};

/// What a step's graphs cost, summed over the steps run so far.
struct ModelCounters {
  int64_t steps = 0;          ///< forward() calls
  int64_t tokens = 0;         ///< tokens processed
  int64_t graph_runs = 0;     ///< kernel graphs run on the backend
  int64_t searches = 0;       ///< superoptimizer calls (fused mode)
  int64_t fused_kept = 0;     ///< superoptimized graphs kept (fewer kernels; faster if timed)
  int64_t fused_slower = 0;   ///< superoptimized graphs dropped: slower here than as built
  int64_t kernels = 0;        ///< kernels in the graphs built so far
  int64_t fused_kernels = 0;  ///< kernels after the superoptimizer, same graphs
  std::array<double, kNumStepGraphs> graph_seconds{};  ///< time in each step graph, by StepGraph
  double attention_seconds = 0.0;  ///< time in KV cache writes and paged attention
  double other_seconds = 0.0;      ///< embedding, row gathers, logits conversion
  double device_seconds = 0.0;     ///< whole steps on the CUDA model (waiting for results included)
};

/// A Qwen3 model ready to run: weights converted to the compute dtype, step graphs built per
/// token count and cached. On the "cuda" backend the model lives on the GPU instead (CudaModel:
/// weights, activations and KV cache in device memory, decode steps replayed as CUDA graphs);
/// its KV caches must then be made from kv_layout(), which places them in device memory.
class Qwen3Model {
 public:
  /// Loads the weights of `config` through `lookup`; UserError on a missing or misshapen weight
  /// or an unavailable backend.
  Qwen3Model(const Qwen3Config& config, const WeightLookup& lookup, const ModelOptions& options);
  /// The configuration.
  const Qwen3Config& config() const { return config_; }
  /// The options it was built with (dtype filled in).
  const ModelOptions& options() const { return options_; }
  /// The compute dtype.
  core::DType dtype() const { return dtype_; }
  /// What the KV cache of this model stores per token, and where (device memory on "cuda").
  KvLayout kv_layout() const;
  /// True when the model runs on the GPU as a CudaModel.
  bool on_device() const { return device_ != nullptr; }
  /// The device model (null unless on_device()).
  const CudaModel* device_model() const { return device_.get(); }
  /// The backend running the graphs.
  backend::Backend& backend() const { return *backend_; }

  /// Runs one step over `batch` (each sequence's tokens appended at its position; the cache
  /// slots are reserved as needed, a UserError when the cache is full) and returns float32
  /// logits [rows, vocab]: per sequence in order, one row for its last token, or one per
  /// token when all_logits is set.
  core::Tensor forward(KvCache& cache, const std::vector<StepSequence>& batch);
  /// As forward, but returns for each logits row the first id of its largest logit among ids
  /// [0, limit): greedy decoding. On the GPU only these ids come back to the host.
  std::vector<int64_t> forward_greedy(KvCache& cache, const std::vector<StepSequence>& batch,
                                      int64_t limit);

  /// The graph `graph` for `tokens` rows as it runs (superoptimized in fused mode).
  const ir::KernelGraph& step_graph(StepGraph graph, int64_t tokens);
  /// Counters since construction.
  const ModelCounters& counters() const { return counters_; }

 private:
  std::vector<core::Tensor> run(StepGraph graph, int64_t tokens,
                                const std::vector<core::Tensor>& inputs);
  core::Tensor embed(const std::vector<int64_t>& ids) const;
  StepRows prepare(KvCache& cache, const std::vector<StepSequence>& batch);
  core::Tensor forward_host(KvCache& cache, const StepRows& step);

  Qwen3Config config_;
  ModelOptions options_;
  core::DType dtype_;
  backend::Backend* backend_ = nullptr;
  Qwen3Weights weights_;
  std::unique_ptr<CudaModel> device_;
  std::map<std::pair<StepGraph, int64_t>, std::unique_ptr<ir::KernelGraph>> graphs_;
  ModelCounters counters_;
};

}  // namespace yirage::llm
