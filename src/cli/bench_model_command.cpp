// `yirage bench model MODEL`: end-to-end generation speed, unfused and fused, per batch size.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/graph_files.h"
#include "cli/llm_options.h"
#include "yirage/core/cpu_features.h"
#include "yirage/core/error.h"
#include "yirage/core/thread_pool.h"
#include "yirage/llm/engine.h"

namespace yirage::cli {

namespace {

struct BenchModelOptions {
  std::string model;
  std::string prompts;
  std::vector<int64_t> batch_sizes{1, 2, 4, 8};
  int64_t max_tokens = 50;
  int warmup = 1;
  int iters = 3;
  std::string json;
  bool unfused_only = false;
  EngineFlags engine;
};

// Medians over the timed iterations of one variant at one batch size.
struct Measurement {
  std::string variant;
  int64_t batch = 0;
  double ttft_ms = 0.0;
  double token_latency_ms = 0.0;
  double tokens_per_s = 0.0;
  double decode_tokens_per_s = 0.0;
};

// The 1-minute load average (from /proc/loadavg), -1 where there is none: other work on the
// machine slows every number of a run.
double load_average() {
  std::ifstream in("/proc/loadavg");
  double load = -1.0;
  if (!(in >> load)) return -1.0;
  return load;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t mid = values.size() / 2;
  return values.size() % 2 == 1 ? values[mid] : 0.5 * (values[mid - 1] + values[mid]);
}

std::vector<std::string> read_prompts(const std::string& path) {
  if (path.empty()) {
    return {"The capital of France is", "Write a short poem about the sea.",
            "def fibonacci(n):", "Explain how a transformer language model works, step by step."};
  }
  std::vector<std::string> prompts;
  std::istringstream lines(read_text_file(path));
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) prompts.push_back(line);
  }
  YR_USER_CHECK(!prompts.empty(),
                "prompt file '" << path << "' has no prompts; expected one per line");
  return prompts;
}

// The checkpoint directory `model`, or with "demo:PRESET" a demo model generated in memory.
std::unique_ptr<llm::Engine> open_engine(const std::string& model,
                                         const llm::EngineOptions& options) {
  if (!model.starts_with("demo:")) return llm::Engine::open(model, options);
  std::vector<std::string> anchors;
  std::error_code error;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", error);
  if (!error) anchors.push_back(exe.parent_path().string());
  return llm::Engine::open_demo(llm::parse_demo_preset(model.substr(5)),
                                llm::default_tokenizer_dir(anchors), options);
}

Measurement measure(llm::Engine& engine, const std::string& variant,
                    const std::vector<std::vector<int64_t>>& prompt_ids, int64_t batch,
                    const BenchModelOptions& options) {
  llm::SamplingParams params;
  params.temperature = 0.0;
  params.max_tokens = options.max_tokens;
  params.ignore_eos = true;
  std::vector<llm::GenerationRequest> requests;
  for (int64_t i = 0; i < batch; ++i)
    requests.push_back({prompt_ids[static_cast<std::size_t>(i) % prompt_ids.size()], params});
  for (int i = 0; i < options.warmup; ++i) engine.generate(requests);
  std::vector<double> ttft, latency, throughput, decode;
  for (int i = 0; i < options.iters; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const auto outputs = engine.generate(requests);
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    double first = 0.0, last = 0.0, latency_sum = 0.0;
    int64_t tokens = 0, decoded = 0;
    for (const auto& output : outputs) {
      const auto& t = output.timings;
      first += t.first_token_s;
      latency_sum += t.mean_token_latency_s();
      last = std::max(last, t.token_times_s.back());
      tokens += static_cast<int64_t>(output.token_ids.size());
      decoded += static_cast<int64_t>(output.token_ids.size()) - 1;
    }
    const double n = static_cast<double>(outputs.size());
    const double first_mean = first / n;
    ttft.push_back(first_mean * 1e3);
    latency.push_back(latency_sum / n * 1e3);
    throughput.push_back(static_cast<double>(tokens) / wall);
    decode.push_back(last > first_mean ? static_cast<double>(decoded) / (last - first_mean) : 0.0);
  }
  return {variant, batch, median(ttft), median(latency), median(throughput), median(decode)};
}

void run_bench_model(const BenchModelOptions& options) {
  const std::vector<std::string> prompts = read_prompts(options.prompts);
  const double load_before = load_average();
  std::vector<Measurement> rows;
  nlohmann::json variants = nlohmann::json::object();
  nlohmann::json config_json;
  std::string backend;
  std::string dtype;
  std::string device;
  double load_seconds = 0.0;
  bool engine_gemv = false;
  for (const bool fused : {false, true}) {
    if (fused && options.unfused_only) break;
    EngineFlags flags = options.engine;
    flags.fused = fused;
    flags.max_batch = std::max<int64_t>(
        flags.max_batch, *std::max_element(options.batch_sizes.begin(), options.batch_sizes.end()));
    const auto load_start = std::chrono::steady_clock::now();
    const auto engine = open_engine(options.model, flags.options());
    load_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();
    std::cout << "model ready in " << std::fixed << std::setprecision(1) << load_seconds << " s on "
              << engine->model().options().backend
              << (options.model.starts_with("demo:") ? " (demo weights generated in memory)" : "")
              << "\n"
              << std::flush;
    device = engine->model().backend().device_info().name;
    const auto& config = engine->model().config();
    config_json = {{"layers", config.num_hidden_layers},
                   {"hidden", config.hidden_size},
                   {"intermediate", config.intermediate_size},
                   {"heads", config.num_attention_heads},
                   {"kv_heads", config.num_key_value_heads},
                   {"head_dim", config.head_dim},
                   {"vocab", config.vocab_size}};
    backend = engine->model().options().backend;
    dtype = std::string(core::dtype_name(engine->model().dtype()));
    std::vector<std::vector<int64_t>> prompt_ids;
    for (const auto& prompt : prompts) prompt_ids.push_back(engine->tokenizer()->encode(prompt));
    const std::string variant = fused ? "fused" : "unfused";
    for (int64_t batch : options.batch_sizes) {
      rows.push_back(measure(*engine, variant, prompt_ids, batch, options));
      const Measurement& m = rows.back();
      std::cout << std::fixed << std::setprecision(2) << std::left << std::setw(8) << variant
                << " batch " << std::setw(3) << batch << "  first token " << std::setw(9)
                << m.ttft_ms << " ms  " << std::setw(8) << m.token_latency_ms << " ms/token  "
                << std::setw(9) << m.tokens_per_s << " tokens/s  decode " << m.decode_tokens_per_s
                << " tokens/s\n"
                << std::flush;
    }
    const auto& counters = engine->model().counters();
    std::cout << variant << ": " << counters.kernels << " kernels in the step graphs built, "
              << counters.fused_kernels << " as run";
    if (fused) {
      std::cout << "; " << counters.searches << " graphs superoptimized, " << counters.fused_kept
                << " kept, " << counters.fused_slower << " dropped as slower here";
    }
    std::cout << "\n";
    if (const auto* gpu = engine->model().device_model()) {
      engine_gemv = gpu->stats().gemv;
      std::cout << variant << ": " << gpu->stats().graph_replays << " steps replayed from "
                << gpu->stats().graph_captures << " CUDA graphs, " << gpu->stats().eager_steps
                << " run kernel by kernel; few-row products through "
                << (gpu->stats().gemv ? "GEMV kernels" : "cuBLASLt");
      const auto sizes = [](const std::vector<int64_t>& list) {
        std::string text;
        for (const int64_t n : list) text += (text.empty() ? "" : ",") + std::to_string(n);
        return text.empty() ? std::string("none") : text;
      };
      if (gpu->stats().gemv) {
        std::cout << " (timed per step size: GEMVs faster at " << sizes(gpu->stats().gemv_won)
                  << ", cuBLASLt at " << sizes(gpu->stats().cublaslt_won) << ")";
      }
      std::cout << "\n";
    }
    variants[variant] = {{"kernels", counters.kernels},
                         {"kernels_run", counters.fused_kernels},
                         {"searches", counters.searches},
                         {"fused_kept", counters.fused_kept},
                         {"fused_dropped_as_slower", counters.fused_slower}};
  }
  nlohmann::json speedups = nlohmann::json::array();
  for (const auto& fused : rows) {
    if (fused.variant != "fused") continue;
    for (const auto& plain : rows) {
      if (plain.variant == "unfused" && plain.batch == fused.batch &&
          plain.decode_tokens_per_s > 0) {
        const double speedup = fused.decode_tokens_per_s / plain.decode_tokens_per_s;
        std::cout << "fused over unfused, batch " << fused.batch << ": " << std::setprecision(3)
                  << speedup << "x decode tokens/s\n";
        speedups.push_back({{"batch", fused.batch}, {"decode_speedup", speedup}});
      }
    }
  }
  if (options.json.empty()) return;
  nlohmann::json table = nlohmann::json::array();
  for (const auto& m : rows) {
    table.push_back({{"variant", m.variant},
                     {"batch", m.batch},
                     {"ttft_ms", m.ttft_ms},
                     {"token_latency_ms", m.token_latency_ms},
                     {"tokens_per_s", m.tokens_per_s},
                     {"decode_tokens_per_s", m.decode_tokens_per_s}});
  }
  const auto& cpu = core::cpu_features();
  const nlohmann::json document = {{"benchmark", "model"},
                                   {"model", options.model},
                                   {"config", config_json},
                                   {"backend", backend},
                                   {"dtype", dtype},
                                   {"max_tokens", options.max_tokens},
                                   {"prompts", prompts.size()},
                                   {"warmup", options.warmup},
                                   {"iters", options.iters},
                                   {"load_seconds", load_seconds},
                                   {"gemv", engine_gemv},
                                   {"machine",
                                    {{"cpu", cpu.model},
                                     {"device", device},
                                     {"hardware_threads", cpu.hardware_threads},
                                     {"threads_used", core::ThreadPool::global().num_threads()},
                                     {"features", cpu.names()},
                                     {"load_average_before", load_before},
                                     {"load_average_after", load_average()}}},
                                   {"rows", table},
                                   {"variants", variants},
                                   {"fused_speedup", speedups}};
  write_text_file(options.json, document.dump(2) + "\n");
  std::cout << "wrote " << options.json << "\n";
}

}  // namespace

void add_bench_model_command(CLI::App& app) {
  CLI::App* bench = app.get_subcommand("bench");
  auto options = std::make_shared<BenchModelOptions>();
  CLI::App* command = bench->add_subcommand(
      "model", "Generation speed of a Qwen3 checkpoint, unfused and fused, per batch size");
  command
      ->add_option("model", options->model,
                   "Checkpoint directory, or demo:PRESET (tiny, qwen3-0.6b-shape, "
                   "qwen3-8b-shape) for a demo model generated in memory")
      ->required();
  command->add_option("--prompts", options->prompts,
                      "File of prompts, one per line (default: four built-in prompts)");
  command->add_option("--batch-sizes", options->batch_sizes, "Batch sizes to measure")
      ->check(CLI::Range(int64_t{1}, int64_t{4096}));
  command->add_option("--max-tokens", options->max_tokens, "Tokens generated per sequence")
      ->check(CLI::Range(int64_t{2}, int64_t{1} << 20));
  command->add_option("--warmup", options->warmup, "Untimed runs first")->check(CLI::Range(0, 100));
  command->add_option("--iters", options->iters, "Timed runs (medians are reported)")
      ->check(CLI::Range(1, 1000));
  command->add_option("--json", options->json, "Also write the results to this JSON file");
  command->add_flag("--unfused-only", options->unfused_only,
                    "Skip the fused model (and its superoptimizer searches)");
  add_engine_flags(*command, options->engine, false);
  command->callback([options] { run_bench_model(*options); });
}

}  // namespace yirage::cli
