#include "cli/llm_options.h"

#include <iomanip>
#include <sstream>

#include <CLI/CLI.hpp>

#include "yirage/core/dtype.h"
#include "yirage/llm/model.h"

namespace yirage::cli {

llm::EngineOptions EngineFlags::options() const {
  llm::EngineOptions options;
  options.model.backend = backend.empty() ? llm::default_backend_name() : backend;
  if (!dtype.empty()) options.model.dtype = core::parse_dtype(dtype);
  options.model.fused = fused;
  options.model.search_seconds = search_seconds;
  options.model.fused_keep_faster = !fused_keep_all;
  options.kv_cache.max_bytes = kv_cache_mb * (int64_t{1} << 20);
  options.max_batch = max_batch;
  return options;
}

llm::SamplingParams SamplingFlags::params(const llm::SamplingParams& defaults) const {
  llm::SamplingParams params = defaults;
  params.max_tokens = max_tokens;
  if (temperature) params.temperature = *temperature;
  if (top_k) params.top_k = *top_k;
  if (top_p) params.top_p = *top_p;
  if (min_p) params.min_p = *min_p;
  if (repetition_penalty) params.repetition_penalty = *repetition_penalty;
  params.seed = seed;
  params.stop = stop;
  params.ignore_eos = ignore_eos;
  return params;
}

void add_engine_flags(CLI::App& command, EngineFlags& flags, bool fused_flag) {
  command.add_option("--backend", flags.backend,
                     "Backend running the model (default: cpu when available, else reference)");
  command.add_option("--dtype", flags.dtype,
                     "Compute and KV cache dtype: float32, bfloat16 or float16 (default: the "
                     "checkpoint's)");
  if (fused_flag) {
    command.add_flag("--fused", flags.fused,
                     "Superoptimize the model's step graphs first (results cached on disk)");
  }
  command
      .add_option("--search-seconds", flags.search_seconds,
                  "Time budget of each superoptimizer search with --fused")
      ->check(CLI::Range(0.1, 3600.0));
  command.add_option("--kv-cache-mb", flags.kv_cache_mb, "KV cache budget in MiB (default: 256)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
}

void add_sampling_flags(CLI::App& command, SamplingFlags& flags) {
  command.add_option("--max-tokens", flags.max_tokens, "Most tokens to generate");
  command.add_option("--temperature", flags.temperature,
                     "Sampling temperature, 0 for greedy (default: the checkpoint's)");
  command.add_option("--top-k", flags.top_k, "Keep the k most likely tokens (0: off)");
  command.add_option("--top-p", flags.top_p, "Nucleus probability mass in (0, 1] (1: off)");
  command.add_option("--min-p", flags.min_p, "Drop tokens below min-p times the top one (0: off)");
  command.add_option("--repetition-penalty", flags.repetition_penalty,
                     "Penalty > 1 for tokens already seen (1: off)");
  command.add_option("--seed", flags.seed, "Sampling seed");
  command.add_option("--stop", flags.stop, "Stop strings (cut from the output)");
  command.add_flag("--ignore-eos", flags.ignore_eos, "Keep going past end-of-sequence tokens");
}

std::string timing_line(const llm::GenerationOutput& output) {
  const auto& t = output.timings;
  const double decode = t.token_times_s.empty() ? 0.0 : t.token_times_s.back() - t.first_token_s;
  std::ostringstream line;
  line << std::fixed << std::setprecision(1) << output.token_ids.size() << " tokens ("
       << output.finish_reason << "), first token " << t.first_token_s * 1e3 << " ms, "
       << t.mean_token_latency_s() * 1e3 << " ms/token";
  if (decode > 0.0) {
    line << ", " << static_cast<double>(t.token_times_s.size() - 1) / decode << " tokens/s";
  }
  return line.str();
}

}  // namespace yirage::cli
