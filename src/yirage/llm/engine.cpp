#include "yirage/llm/engine.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <optional>

#include "yirage/core/error.h"
#include "yirage/llm/demo_weights.h"

namespace yirage::llm {

namespace {

using Clock = std::chrono::steady_clock;

// The KV options of `options` with the defaults filled in for `model`.
KvCacheOptions kv_options(const EngineOptions& options, const Qwen3Model& model) {
  KvCacheOptions kv = options.kv_cache;
  if (kv.max_tokens == 0 && kv.max_bytes == 0) {
    kv.max_tokens =
        std::max<int64_t>(1, options.max_batch) * model.config().max_position_embeddings;
    kv.max_bytes = kDefaultKvBytes;
  }
  return kv;
}

// The generated text of one request: appends decoded pieces, cuts at the first stop string and
// releases only text that cannot be the start of one.
class OutputText {
 public:
  explicit OutputText(const std::vector<std::string>& stops) : stops_(stops) {
    for (const auto& stop : stops_) longest_ = std::max(longest_, stop.size());
  }
  // Appends `piece`; true when a stop string now appears (the text is cut before it).
  bool append(const std::string& piece) {
    const std::size_t from = text_.size() - std::min(text_.size(), longest_ > 0 ? longest_ - 1 : 0);
    text_ += piece;
    std::size_t first = std::string::npos;
    for (const auto& stop : stops_) {
      if (stop.empty()) continue;
      first = std::min(first, text_.find(stop, from));
    }
    if (first == std::string::npos) return false;
    text_.resize(first);
    return true;
  }
  // The text not released yet that is final: all of it when `finished`, else what cannot start
  // a stop string.
  std::string release(bool finished) {
    std::size_t end = text_.size();
    if (!finished) {
      for (const auto& stop : stops_) {
        for (std::size_t length = std::min(stop.size() - (stop.empty() ? 0 : 1), text_.size());
             length > 0; --length) {
          if (text_.compare(text_.size() - length, length, stop, 0, length) == 0) {
            end = std::min(end, text_.size() - length);
            break;
          }
        }
      }
    }
    end = std::max(end, released_);
    std::string piece = text_.substr(released_, end - released_);
    released_ = end;
    return piece;
  }
  const std::string& text() const { return text_; }

 private:
  const std::vector<std::string>& stops_;
  std::size_t longest_ = 0;
  std::string text_;
  std::size_t released_ = 0;
};

// A request being generated.
struct Running {
  std::size_t index = 0;
  int64_t sequence = 0;      // KV cache id
  std::vector<int64_t> ids;  // prompt and generated
  int64_t prompt_length = 0;
  int64_t cached = 0;  // ids already in the KV cache
  int64_t limit = 0;   // most tokens to generate
  std::vector<int64_t> stop_ids;
  bool greedy = false;  // argmax without a repetition penalty: the device can pick the token
  std::optional<Sampler> sampler;
  std::optional<StreamDecoder> decoder;
  std::optional<OutputText> text;
};

}  // namespace

double GenerationTimings::mean_token_latency_s() const {
  if (token_times_s.size() < 2) return 0.0;
  return (token_times_s.back() - token_times_s.front()) /
         static_cast<double>(token_times_s.size() - 1);
}

std::unique_ptr<Engine> Engine::open(const std::string& dir, const EngineOptions& options) {
  const Checkpoint checkpoint = Checkpoint::open(dir);
  const WeightLookup lookup = [&checkpoint](const std::string& name) {
    return checkpoint.has_weight(name) ? checkpoint.weight(name) : core::Tensor{};
  };
  auto model = std::make_shared<Qwen3Model>(checkpoint.config(), lookup, options.model);
  auto tokenizer = Tokenizer::from_file(checkpoint.tokenizer_path());
  return std::make_unique<Engine>(std::move(model), std::move(tokenizer), checkpoint.generation(),
                                  options);
}

std::unique_ptr<Engine> Engine::open_demo(DemoPreset preset, const std::string& tokenizer_dir,
                                          const EngineOptions& options) {
  const Qwen3Config config = demo_config(preset, core::DType::BF16);
  auto model = std::make_shared<Qwen3Model>(config, demo_weight_lookup(config), options.model);
  auto tokenizer = Tokenizer::from_file(tokenizer_dir);
  GenerationDefaults defaults;
  defaults.eos_token_ids = config.eos_token_ids;
  return std::make_unique<Engine>(std::move(model), std::move(tokenizer), defaults, options);
}

Engine::Engine(std::shared_ptr<Qwen3Model> model, std::shared_ptr<const Tokenizer> tokenizer,
               const GenerationDefaults& defaults, const EngineOptions& options)
    : model_(std::move(model)),
      tokenizer_(std::move(tokenizer)),
      defaults_(defaults),
      options_(options),
      cache_(model_->kv_layout(), kv_options(options, *model_)) {
  YR_USER_CHECK(options.max_batch >= 1,
                "max batch " << options.max_batch << "; expected at least 1 sequence");
  eos_ids_ = model_->config().eos_token_ids;
  for (int64_t id : defaults.eos_token_ids) {
    if (std::find(eos_ids_.begin(), eos_ids_.end(), id) == eos_ids_.end()) eos_ids_.push_back(id);
  }
}

SamplingParams Engine::default_params() const {
  SamplingParams params;
  params.temperature = defaults_.temperature;
  params.top_k = defaults_.top_k;
  params.top_p = defaults_.top_p;
  return params;
}

void Engine::check(const GenerationRequest& request, std::size_t index) const {
  request.params.validate();
  const Qwen3Config& config = model_->config();
  const auto length = static_cast<int64_t>(request.prompt_ids.size());
  YR_USER_CHECK(length >= 1, "request " << index
                                        << ": the prompt is empty; expected at least "
                                           "one token");
  YR_USER_CHECK(length < config.max_position_embeddings,
                "request " << index << ": the prompt has " << length
                           << " tokens; the model's context holds "
                           << config.max_position_embeddings << ", so expected a prompt of at most "
                           << config.max_position_embeddings - 1 << " tokens");
  for (int64_t id : request.prompt_ids) {
    YR_USER_CHECK(id >= 0 && id < config.vocab_size, "request " << index << ": token id " << id
                                                                << " is outside the vocabulary of "
                                                                << config.vocab_size << " ids");
  }
  YR_USER_CHECK(request.params.stop.empty() || tokenizer_,
                "request " << index << ": stop strings need a tokenizer; this engine has none");
  const int64_t needed =
      std::min(length + request.params.max_tokens, config.max_position_embeddings);
  YR_USER_CHECK(cache_.blocks_for(needed) <= cache_.num_blocks(),
                "request " << index << " needs " << needed
                           << " tokens of KV cache (prompt and max_tokens), but the KV cache "
                              "budget holds "
                           << cache_.capacity_tokens()
                           << " tokens; expected a shorter request or a larger budget");
}

std::vector<GenerationOutput> Engine::generate(const std::vector<GenerationRequest>& requests,
                                               const StreamCallback& stream) {
  for (std::size_t i = 0; i < requests.size(); ++i) check(requests[i], i);
  const Qwen3Config& config = model_->config();
  const auto start = Clock::now();
  const auto seconds = [&start] {
    return std::chrono::duration<double>(Clock::now() - start).count();
  };
  std::vector<GenerationOutput> outputs(requests.size());
  std::deque<std::size_t> waiting;
  for (std::size_t i = 0; i < requests.size(); ++i) waiting.push_back(i);
  std::vector<Running> running;
  try {
    while (!waiting.empty() || !running.empty()) {
      // Admit requests in order while the batch and the KV cache have room for them whole.
      while (!waiting.empty() && static_cast<int64_t>(running.size()) < options_.max_batch) {
        const GenerationRequest& request = requests[waiting.front()];
        const auto length = static_cast<int64_t>(request.prompt_ids.size());
        const int64_t needed =
            std::min(length + request.params.max_tokens, config.max_position_embeddings);
        const int64_t sequence = cache_.add_sequence();
        if (!cache_.can_reserve(sequence, needed)) {
          cache_.free_sequence(sequence);
          YR_INTERNAL_CHECK(!running.empty(), "a checked request does not fit an empty cache");
          break;
        }
        cache_.reserve(sequence, needed);
        Running r;
        r.index = waiting.front();
        r.sequence = sequence;
        r.ids = request.prompt_ids;
        r.prompt_length = length;
        r.limit = needed - length;
        r.stop_ids = request.params.stop_token_ids;
        if (!request.params.ignore_eos)
          r.stop_ids.insert(r.stop_ids.end(), eos_ids_.begin(), eos_ids_.end());
        r.greedy = request.params.temperature < 1e-5 && request.params.repetition_penalty == 1.0;
        r.sampler.emplace(request.params);
        if (tokenizer_) r.decoder.emplace(tokenizer_, true);
        r.text.emplace(request.params.stop);
        outputs[r.index].prompt_ids = request.prompt_ids;
        running.push_back(std::move(r));
        waiting.pop_front();
      }
      std::vector<StepSequence> batch;
      for (const Running& r : running) {
        batch.push_back({r.sequence, std::vector<int64_t>(r.ids.begin() + r.cached, r.ids.end()),
                         r.cached, false});
      }
      const int64_t vocab = config.vocab_size;
      // Embedding rows past the tokenizer's vocabulary are padding: they are never sampled.
      const int64_t sampled =
          tokenizer_ ? std::min<int64_t>(vocab, tokenizer_->vocab_size()) : vocab;
      // On the GPU, an all-greedy batch brings back only the chosen ids.
      const bool device_greedy =
          model_->on_device() &&
          std::all_of(running.begin(), running.end(), [](const Running& r) { return r.greedy; });
      core::Tensor logits;
      std::vector<int64_t> chosen;
      if (device_greedy) {
        chosen = model_->forward_greedy(cache_, batch, sampled);
      } else {
        logits = model_->forward(cache_, batch);
      }
      std::vector<Running> still;
      for (std::size_t b = 0; b < running.size(); ++b) {
        Running& r = running[b];
        r.cached = static_cast<int64_t>(r.ids.size());
        int64_t token = 0;
        if (device_greedy) {
          token = chosen[b];
        } else {
          const std::span<const float> row(
              logits.data_as<float>() + static_cast<int64_t>(b) * vocab,
              static_cast<std::size_t>(sampled));
          token = r.sampler->sample(row, r.ids);
        }
        r.ids.push_back(token);
        GenerationOutput& out = outputs[r.index];
        out.token_ids.push_back(token);
        const double now = seconds();
        if (out.timings.token_times_s.empty()) out.timings.first_token_s = now;
        out.timings.token_times_s.push_back(now);
        bool stopped = std::find(r.stop_ids.begin(), r.stop_ids.end(), token) != r.stop_ids.end();
        if (!stopped && r.decoder) stopped = r.text->append(r.decoder->push(token));
        const bool finished = stopped || static_cast<int64_t>(out.token_ids.size()) >= r.limit;
        if (finished && !stopped && r.decoder) stopped = r.text->append(r.decoder->flush());
        if (finished) out.finish_reason = stopped ? "stop" : "length";
        const std::string piece = r.text->release(finished);
        if (stream) stream(r.index, token, piece, finished);
        if (finished) {
          out.text = r.text->text();
          cache_.free_sequence(r.sequence);
        } else {
          still.push_back(std::move(r));
        }
      }
      running = std::move(still);
    }
  } catch (...) {
    for (const Running& r : running) cache_.free_sequence(r.sequence);
    throw;
  }
  return outputs;
}

std::vector<GenerationOutput> Engine::generate(const std::vector<std::string>& prompts,
                                               const SamplingParams& params,
                                               const StreamCallback& stream) {
  YR_USER_CHECK(tokenizer_, "generating from text needs a tokenizer; this engine has none");
  std::vector<GenerationRequest> requests;
  for (const std::string& prompt : prompts)
    requests.push_back({tokenizer_->encode(prompt), params});
  return generate(requests, stream);
}

}  // namespace yirage::llm
