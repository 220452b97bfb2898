// Python bindings of the generation engine: SamplingParams and the engine behind yirage.LLM.
// Generation runs with the GIL released; streamed pieces come back to a Python callback.
#include <nanobind/stl/function.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/string_view.h>
#include <nanobind/stl/unique_ptr.h>
#include <nanobind/stl/vector.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bindings.h"
#include "yirage/core/error.h"
#include "yirage/llm/engine.h"

namespace yirage::python {

namespace {

using namespace nb::literals;

nb::dict output_dict(const llm::GenerationOutput& output) {
  nb::dict timings;
  timings["first_token_s"] = output.timings.first_token_s;
  timings["token_times_s"] = output.timings.token_times_s;
  timings["mean_token_latency_s"] = output.timings.mean_token_latency_s();
  nb::dict out;
  out["prompt_token_ids"] = output.prompt_ids;
  out["token_ids"] = output.token_ids;
  out["text"] = output.text;
  out["finish_reason"] = output.finish_reason;
  out["timings"] = timings;
  return out;
}

std::unique_ptr<llm::Engine> open_engine(const std::string& path,
                                         const std::optional<std::string>& backend,
                                         const std::optional<std::string>& dtype, bool fused,
                                         double search_seconds, int64_t kv_cache_mb,
                                         int64_t max_batch) {
  llm::EngineOptions options;
  if (backend) options.model.backend = *backend;
  if (dtype) options.model.dtype = core::parse_dtype(*dtype);
  options.model.fused = fused;
  options.model.search_seconds = search_seconds;
  YR_USER_CHECK(kv_cache_mb >= 0,
                "kv_cache_mb is " << kv_cache_mb << "; expected a positive budget (0: default)");
  options.kv_cache.max_bytes = kv_cache_mb * (int64_t{1} << 20);
  options.max_batch = max_batch;
  nb::gil_scoped_release release;
  return llm::Engine::open(path, options);
}

nb::list generate(llm::Engine& engine, const std::vector<nb::object>& prompts,
                  const std::vector<llm::SamplingParams>& params, nb::object stream) {
  YR_USER_CHECK(params.size() == 1 || params.size() == prompts.size(),
                "got " << params.size() << " sampling params for " << prompts.size()
                       << " prompts; expected one for all or one per prompt");
  std::vector<llm::GenerationRequest> requests;
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    const llm::SamplingParams& p = params.size() == 1 ? params[0] : params[i];
    if (nb::isinstance<nb::str>(prompts[i])) {
      YR_USER_CHECK(engine.tokenizer(), "prompt " << i << " is text, but there is no tokenizer");
      requests.push_back({engine.tokenizer()->encode(nb::cast<std::string>(prompts[i])), p});
    } else {
      requests.push_back({nb::cast<std::vector<int64_t>>(prompts[i]), p});
    }
  }
  llm::StreamCallback callback;
  std::optional<nb::python_error> error;
  if (!stream.is_none()) {
    callback = [&](std::size_t request, int64_t token, std::string_view text, bool finished) {
      nb::gil_scoped_acquire acquire;
      if (error) return;
      try {
        stream(request, token, nb::str(text.data(), text.size()), finished);
      } catch (nb::python_error& raised) {
        error.emplace(std::move(raised));
      }
    };
  }
  std::vector<llm::GenerationOutput> outputs;
  {
    nb::gil_scoped_release release;
    outputs = engine.generate(requests, callback);
  }
  if (error) throw std::move(*error);
  nb::list result;
  for (const auto& output : outputs) result.append(output_dict(output));
  return result;
}

}  // namespace

void bind_llm_engine(nb::module_& m) {
  nb::class_<llm::SamplingParams>(m, "SamplingParams",
                                  "How to sample and when to stop, as vLLM's SamplingParams.")
      .def(
          "__init__",
          [](llm::SamplingParams* self, double temperature, int64_t top_k, double top_p,
             double min_p, double repetition_penalty, uint64_t seed, int64_t max_tokens,
             std::vector<std::string> stop, std::vector<int64_t> stop_token_ids, bool ignore_eos) {
            auto* params = new (self) llm::SamplingParams();
            params->temperature = temperature;
            params->top_k = top_k;
            params->top_p = top_p;
            params->min_p = min_p;
            params->repetition_penalty = repetition_penalty;
            params->seed = seed;
            params->max_tokens = max_tokens;
            params->stop = std::move(stop);
            params->stop_token_ids = std::move(stop_token_ids);
            params->ignore_eos = ignore_eos;
            self->validate();
          },
          "temperature"_a = 1.0, "top_k"_a = 0, "top_p"_a = 1.0, "min_p"_a = 0.0,
          "repetition_penalty"_a = 1.0, "seed"_a = 0, "max_tokens"_a = 16,
          "stop"_a = std::vector<std::string>{}, "stop_token_ids"_a = std::vector<int64_t>{},
          "ignore_eos"_a = false)
      .def_rw("temperature", &llm::SamplingParams::temperature, "0: greedy")
      .def_rw("top_k", &llm::SamplingParams::top_k, "keep the k most likely (0 or -1: off)")
      .def_rw("top_p", &llm::SamplingParams::top_p, "nucleus mass in (0, 1]")
      .def_rw("min_p", &llm::SamplingParams::min_p, "drop tokens below min_p * p(max)")
      .def_rw("repetition_penalty", &llm::SamplingParams::repetition_penalty,
              "> 1 discourages tokens already seen")
      .def_rw("seed", &llm::SamplingParams::seed, "reproducible randomness per sequence")
      .def_rw("max_tokens", &llm::SamplingParams::max_tokens, "most tokens to generate")
      .def_rw("stop", &llm::SamplingParams::stop, "stop strings, cut from the text")
      .def_rw("stop_token_ids", &llm::SamplingParams::stop_token_ids, "extra stop ids")
      .def_rw("ignore_eos", &llm::SamplingParams::ignore_eos, "keep going past end-of-sequence")
      .def("__repr__", [](const llm::SamplingParams& p) {
        return "SamplingParams(temperature=" + std::to_string(p.temperature) +
               ", top_k=" + std::to_string(p.top_k) + ", top_p=" + std::to_string(p.top_p) +
               ", max_tokens=" + std::to_string(p.max_tokens) + ", seed=" + std::to_string(p.seed) +
               ")";
      });

  nb::class_<llm::Engine>(m, "_LLMEngine", "A Qwen3 checkpoint, its tokenizer and a KV cache.")
      .def(nb::new_(&open_engine), "path"_a, "backend"_a = nb::none(), "dtype"_a = nb::none(),
           "fused"_a = false, "search_seconds"_a = 30.0, "kv_cache_mb"_a = 0, "max_batch"_a = 8,
           "Opens a Hugging Face checkpoint directory.")
      .def("generate", &generate, "prompts"_a, "params"_a, "stream"_a = nb::none(),
           "Generates for each prompt (text or token ids); returns one dict per prompt.")
      .def("default_params", &llm::Engine::default_params,
           "SamplingParams from the checkpoint's generation_config.json.")
      .def(
          "encode",
          [](const llm::Engine& engine, const std::string& text) {
            YR_USER_CHECK(engine.tokenizer(), "this engine has no tokenizer");
            return engine.tokenizer()->encode(text);
          },
          "text"_a, "Token ids of `text` (no special tokens added).")
      .def_prop_ro(
          "backend", [](llm::Engine& engine) { return engine.model().options().backend; },
          "Backend running the model.")
      .def_prop_ro(
          "dtype",
          [](llm::Engine& engine) { return std::string(core::dtype_name(engine.model().dtype())); },
          "Compute dtype.");
}

}  // namespace yirage::python
