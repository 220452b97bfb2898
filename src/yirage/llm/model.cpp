#include "yirage/llm/model.h"

#include <chrono>
#include <cstring>

#include "yirage/backend/random_inputs.h"
#include "yirage/backend/registry.h"
#include "yirage/core/error.h"
#include "yirage/core/log.h"
#include "yirage/llm/float_rows.h"
#include "yirage/llm/paged_attention.h"
#include "yirage/search/superoptimizer.h"

namespace yirage::llm {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

std::string default_backend_name() {
  for (const backend::Backend* candidate : backend::all_backends()) {
    if (candidate->name() == "cpu" && candidate->available().available) return "cpu";
  }
  return "reference";
}

Qwen3Model::Qwen3Model(const Qwen3Config& config, const WeightLookup& lookup,
                       const ModelOptions& options)
    : config_(config), options_(options), dtype_(options.dtype.value_or(config.torch_dtype)) {
  options_.dtype = dtype_;
  YR_USER_CHECK(config.hidden_size >= 1 && config.num_hidden_layers >= 1 &&
                    config.num_attention_heads >= 1 && config.num_key_value_heads >= 1 &&
                    config.num_attention_heads % config.num_key_value_heads == 0 &&
                    config.head_dim >= 2 && config.head_dim % 2 == 0 && config.vocab_size >= 1 &&
                    config.intermediate_size >= 1 && config.max_position_embeddings >= 1,
                "Qwen3 config: sizes must be positive, heads a multiple of KV heads and "
                "head_dim even; got hidden "
                    << config.hidden_size << ", " << config.num_hidden_layers << " layers, "
                    << config.num_attention_heads << " heads, " << config.num_key_value_heads
                    << " KV heads of " << config.head_dim);
  backend_ = &backend::get_available_backend(options.backend);
  weights_ = load_weights(config, lookup, dtype_);
  if (options.backend == "cuda") {
    if (options.fused) {
      YR_LOG(Warn) << "the model on the cuda backend runs its own fused kernels; the step graphs "
                      "are not superoptimized";
    }
    device_ = std::make_unique<CudaModel>(config_, std::move(weights_), dtype_);
    weights_ = Qwen3Weights();
  }
}

KvLayout Qwen3Model::kv_layout() const {
  return {config_.num_hidden_layers, config_.num_key_value_heads, config_.head_dim, dtype_,
          device_ ? core::DeviceKind::Cuda : core::DeviceKind::Cpu};
}

const ir::KernelGraph& Qwen3Model::step_graph(StepGraph graph, int64_t tokens) {
  auto& slot = graphs_[{graph, tokens}];
  if (!slot) {
    ir::KernelGraph built = build_step_graph(graph, config_, tokens, dtype_);
    counters_.kernels += built.num_kernels();
    if (options_.fused && tokens <= options_.fused_max_tokens) {
      search::SearchOptions search;
      search.backend = options_.backend;
      search.time_budget_seconds = options_.search_seconds;
      search.cache_dir = options_.search_cache_dir;
      search::OptimizedProgram optimized = search::superoptimize(built, search);
      ++counters_.searches;
      if (optimized.graph.num_kernels() < built.num_kernels()) {
        bool keep = true;
        if (options_.fused_keep_faster) {
          const auto inputs = backend::random_inputs(built, 0);
          const double plain = backend_->profile(built, inputs, 3);
          keep = backend_->profile(optimized.graph, inputs, 3) < plain;
        }
        if (keep) {
          built = std::move(optimized.graph);
          ++counters_.fused_kept;
        } else {
          ++counters_.fused_slower;
        }
      }
    }
    counters_.fused_kernels += built.num_kernels();
    slot = std::make_unique<ir::KernelGraph>(std::move(built));
  }
  return *slot;
}

std::vector<core::Tensor> Qwen3Model::run(StepGraph graph, int64_t tokens,
                                          const std::vector<core::Tensor>& inputs) {
  const ir::KernelGraph& g = step_graph(graph, tokens);
  ++counters_.graph_runs;
  const auto start = Clock::now();
  auto outputs = backend_->run(g, inputs);
  counters_.graph_seconds[static_cast<std::size_t>(graph)] += seconds_since(start);
  return outputs;
}

core::Tensor Qwen3Model::embed(const std::vector<int64_t>& ids) const {
  const int64_t hidden = config_.hidden_size;
  const core::Tensor& table = weights_.embed;
  const std::size_t row_bytes = static_cast<std::size_t>(hidden) * core::dtype_size(dtype_);
  core::Tensor x = core::Tensor::empty({static_cast<int64_t>(ids.size()), hidden}, dtype_);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    std::memcpy(
        static_cast<uint8_t*>(x.data()) + i * row_bytes,
        static_cast<const uint8_t*>(table.data()) + static_cast<std::size_t>(ids[i]) * row_bytes,
        row_bytes);
  }
  return x;
}

StepRows Qwen3Model::prepare(KvCache& cache, const std::vector<StepSequence>& batch) {
  YR_USER_CHECK(!batch.empty(), "forward: empty batch; expected at least one sequence");
  YR_INTERNAL_CHECK(cache.layout().dtype == dtype_ &&
                        cache.layout().num_layers == config_.num_hidden_layers &&
                        cache.layout().num_kv_heads == config_.num_key_value_heads &&
                        cache.layout().head_dim == config_.head_dim,
                    "forward: the KV cache's layout does not match the model");
  YR_USER_CHECK(cache.layout().device == kv_layout().device,
                "forward: the KV cache is in "
                    << (cache.layout().device == core::DeviceKind::Cuda ? "device" : "host")
                    << " memory; this model needs one made from its kv_layout()");
  StepRows step;
  for (const StepSequence& seq : batch) {
    YR_USER_CHECK(!seq.tokens.empty(), "forward: sequence " << seq.sequence
                                                            << " has no tokens; expected at "
                                                               "least one");
    const int64_t end = seq.position + static_cast<int64_t>(seq.tokens.size());
    YR_USER_CHECK(seq.position >= 0 && end <= config_.max_position_embeddings,
                  "forward: positions " << seq.position << " .. " << end - 1
                                        << " exceed the model's context of "
                                        << config_.max_position_embeddings << " tokens");
    cache.reserve(seq.sequence, end);
    for (std::size_t i = 0; i < seq.tokens.size(); ++i) {
      const int64_t id = seq.tokens[i];
      YR_USER_CHECK(
          id >= 0 && id < config_.vocab_size,
          "forward: token id " << id << " is outside the vocabulary of " << config_.vocab_size);
      const bool wanted = seq.all_logits || i + 1 == seq.tokens.size();
      if (wanted) step.logit_rows.push_back(static_cast<int64_t>(step.ids.size()));
      step.ids.push_back(id);
      step.rows.push_back({seq.sequence, seq.position + static_cast<int64_t>(i)});
    }
  }
  return step;
}

core::Tensor Qwen3Model::forward(KvCache& cache, const std::vector<StepSequence>& batch) {
  const StepRows step = prepare(cache, batch);
  if (!device_) return forward_host(cache, step);
  const auto start = Clock::now();
  core::Tensor logits = device_->logits(cache, step);
  counters_.device_seconds += seconds_since(start);
  ++counters_.steps;
  counters_.tokens += static_cast<int64_t>(step.ids.size());
  return logits;
}

std::vector<int64_t> Qwen3Model::forward_greedy(KvCache& cache,
                                                const std::vector<StepSequence>& batch,
                                                int64_t limit) {
  YR_USER_CHECK(limit >= 1 && limit <= config_.vocab_size, "greedy decoding over the first "
                                                               << limit << " ids; expected 1 to "
                                                               << config_.vocab_size);
  const StepRows step = prepare(cache, batch);
  if (device_) {
    const auto start = Clock::now();
    std::vector<int64_t> ids = device_->argmax(cache, step, limit);
    counters_.device_seconds += seconds_since(start);
    ++counters_.steps;
    counters_.tokens += static_cast<int64_t>(step.ids.size());
    return ids;
  }
  const core::Tensor logits = forward_host(cache, step);
  std::vector<int64_t> ids;
  for (int64_t r = 0; r < logits.dim(0); ++r) {
    const float* row = logits.data_as<float>() + r * logits.dim(1);
    int64_t best = 0;
    for (int64_t i = 1; i < limit; ++i) {
      if (row[i] > row[best]) best = i;
    }
    ids.push_back(best);
  }
  return ids;
}

core::Tensor Qwen3Model::forward_host(KvCache& cache, const StepRows& step) {
  const std::vector<int64_t>& ids = step.ids;
  const std::vector<AttentionRow>& rows = step.rows;
  const std::vector<int64_t>& logit_rows = step.logit_rows;
  const auto n = static_cast<int64_t>(ids.size());
  core::Tensor positions = core::Tensor::empty({n}, core::DType::I64);
  for (int64_t i = 0; i < n; ++i)
    positions.data_as<int64_t>()[i] = rows[static_cast<std::size_t>(i)].position;

  auto start = Clock::now();
  core::Tensor x = embed(ids);
  counters_.other_seconds += seconds_since(start);
  for (int64_t l = 0; l < config_.num_hidden_layers; ++l) {
    const LayerWeights& w = weights_.layers[static_cast<std::size_t>(l)];
    const core::Tensor qkv = run(StepGraph::AttentionInput, n, {x, w.input_norm, w.qkv})[0];
    const auto qkv_heads = run(StepGraph::QkRope, n, {qkv, w.q_norm, w.k_norm, positions});
    start = Clock::now();
    store_kv(cache, l, rows, qkv_heads[1].contiguous(), qkv_heads[2].contiguous());
    const core::Tensor attn = paged_attention(cache, l, rows, qkv_heads[0].contiguous());
    counters_.attention_seconds += seconds_since(start);
    const auto mid = run(StepGraph::AttentionOutput, n, {attn, w.o, x, w.post_norm});
    const core::Tensor a = run(StepGraph::Mlp, n, {mid[1], w.gate, w.up})[0];
    x = run(StepGraph::MlpOutput, n, {a, w.down, mid[0]})[0];
  }

  const auto wanted = static_cast<int64_t>(logit_rows.size());
  core::Tensor last = x;
  if (wanted != n) {
    const std::size_t row_bytes =
        static_cast<std::size_t>(config_.hidden_size) * core::dtype_size(dtype_);
    last = core::Tensor::empty({wanted, config_.hidden_size}, dtype_);
    for (int64_t r = 0; r < wanted; ++r) {
      std::memcpy(static_cast<uint8_t*>(last.data()) + static_cast<std::size_t>(r) * row_bytes,
                  static_cast<const uint8_t*>(x.data()) +
                      static_cast<std::size_t>(logit_rows[static_cast<std::size_t>(r)]) * row_bytes,
                  row_bytes);
    }
  }
  const core::Tensor logits =
      run(StepGraph::LmHead, wanted, {last, weights_.final_norm, weights_.lm_head})[0].contiguous();
  ++counters_.steps;
  counters_.tokens += n;
  if (logits.dtype() == core::DType::F32) return logits;
  core::Tensor result = core::Tensor::empty(logits.shape(), core::DType::F32);
  load_floats(logits.data(), logits.dtype(), result.data_as<float>(), logits.numel());
  return result;
}

}  // namespace yirage::llm
