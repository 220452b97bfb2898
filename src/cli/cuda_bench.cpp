// `yirage bench kernels --backend cuda` (also `bench cuda-kernels`): each benchmark row (Qwen3
// and Mirage shapes, bf16) as the naive kernel graph and as fused block graphs at several tilings,
// on the CUDA backend; with --peers, the cudnn backend on the naive graph (in process) and the
// PyTorch modes (bench/cuda_kernels.py, run from here on the same device). Times are
// microseconds per call over back-to-back calls (events), and per replay of a captured CUDA
// graph; the copy bandwidth of the same run gives the floor. Results are checked against the
// naive graph on the GPU.
#include "cli/cuda_bench.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "yirage/backend/cuda/program.h"
#include "yirage/backend/cuda/runtime.h"
#include "yirage/backend/cudnn/cudnn_backend.h"
#include "yirage/backend/cudnn/cudnn_program.h"
#include "yirage/backend/random_inputs.h"
#include "yirage/backend/registry.h"
#include "yirage/core/error.h"
#include "yirage/search/lowering.h"
#include "yirage/workloads/workloads.h"

namespace yirage::cli {

namespace {

// The largest relative error (bf16 rounding) a fused variant may show against the naive graph.
constexpr double kMaxRelativeError = 5e-2;

using backend::cuda::Runtime;
using core::DType;
using workloads::Tiling;
using workloads::Workload;

struct Row {
  std::string name;                 // row key, shared with the PyTorch peers
  std::vector<Workload> variants;   // naive first, then fused tilings
  std::vector<std::string> labels;  // one per variant
  double bytes = 0;                 // fewest bytes moved: inputs read once, outputs written once
};

double graph_bytes(const ir::KernelGraph& graph) {
  double bytes = 0;
  for (const auto& type : graph.input_types())
    bytes += static_cast<double>(core::shape_numel(type.shape) * core::dtype_size(type.dtype));
  for (const auto& type : graph.output_types())
    bytes += static_cast<double>(core::shape_numel(type.shape) * core::dtype_size(type.dtype));
  return bytes;
}

Row make_row(std::string name, const std::function<Workload(Tiling)>& build,
             const std::vector<Tiling>& tilings) {
  Row row;
  row.name = std::move(name);
  Workload base = build(Tiling{});
  row.bytes = graph_bytes(base.naive);
  row.labels.push_back("naive");
  row.variants.push_back(std::move(base));
  for (const Tiling& tiling : tilings) {
    try {
      row.variants.push_back(build(tiling));
      row.labels.push_back("fused grid " + std::to_string(tiling.grid) + " forloop " +
                           std::to_string(tiling.forloop));
    } catch (const core::UserError&) {
      // a tiling that does not divide this shape
    }
  }
  return row;
}

// A fused tiling whose contraction is split over `splits` blocks along grid y: a first kernel
// of partial sums (more blocks, wider column strips) and a combining one.
struct SplitTiling {
  Tiling tiling;
  int64_t splits = 0;
};

// Adds the split forms of `build` at `tilings` to `row` (those that do not divide are left out).
Row with_splits(Row row, const std::function<Workload(Tiling)>& build,
                const std::vector<SplitTiling>& tilings) {
  for (const SplitTiling& split : tilings) {
    try {
      Workload workload = build(split.tiling);
      auto graph = search::split_reduction(workload.fused, split.splits);
      if (!graph) continue;
      workload.fused = std::move(*graph);
      row.variants.push_back(std::move(workload));
      row.labels.push_back("fused grid " + std::to_string(split.tiling.grid) + " forloop " +
                           std::to_string(split.tiling.forloop) + " split " +
                           std::to_string(split.splits));
    } catch (const core::UserError&) {
      // a tiling that does not divide this shape
    }
  }
  return row;
}

std::vector<Row> rows() {
  const DType bf16 = DType::BF16;
  std::vector<Row> result;
  // Grid 128 gives each of an H100's 132 SMs at most one block.
  const std::vector<Tiling> gemv = {{96, 16}, {192, 16}, {384, 8}, {48, 32}, {128, 16}, {64, 32}};
  // Split contractions: 96 or 128 blocks of 128 to 256 columns (256 to 512 bytes of each
  // weight row), the rows x read once per column strip rather than once per narrow block.
  const std::vector<SplitTiling> gemv_splits = {{{48, 32}, 2}, {{32, 32}, 4}, {{24, 32}, 4}};
  for (int64_t bs : {1, 8, 64}) {
    const auto build = [=](Tiling t) {
      return workloads::rms_norm_matmul(bs, 4096, 6144, bf16, t);
    };
    result.push_back(with_splits(
        make_row("qwen3_8B_rmsnorm_qkv_bs" + std::to_string(bs), build, gemv), build, gemv_splits));
  }
  for (int64_t bs : {1, 64}) {
    const auto build = [=](Tiling t) {
      return workloads::rms_norm_matmul(bs, 1024, 4096, bf16, t);
    };
    result.push_back(with_splits(make_row("qwen3_0.6B_rmsnorm_qkv_bs" + std::to_string(bs), build,
                                          {{128, 4}, {256, 4}, {64, 8}}),
                                 build, {{{64, 4}, 2}, {{32, 4}, 4}, {{16, 8}, 8}}));
  }
  for (int64_t bs : {1, 64}) {
    const auto build = [=](Tiling t) { return workloads::gated_mlp(bs, 4096, 12288, bf16, t); };
    result.push_back(with_splits(
        make_row("qwen3_8B_gated_mlp_bs" + std::to_string(bs), build,
                 {{192, 16}, {384, 16}, {768, 8}, {128, 16}, {256, 16}}),
        build, {{{64, 16}, 2}, {bs == 1 ? Tiling{32, 16} : Tiling{48, 16}, bs == 1 ? 4 : 2}}));
  }
  result.push_back(make_row("qwen3_0.6B_gated_mlp_bs1",
                            [=](Tiling t) { return workloads::gated_mlp(1, 1024, 3072, bf16, t); },
                            {{96, 4}, {192, 4}, {48, 8}, {128, 4}}));
  for (int64_t bs : {1, 8}) {
    result.push_back(make_row(
        "qwen3_8B_gqa_decode_kv4096_bs" + std::to_string(bs),
        [=](Tiling t) { return workloads::attention_decode(8 * bs, 4, 4096, 128, bf16, false, t); },
        {{16, 4}, {32, 2}, {8, 8}, {64, 1}, {4, 16}}));
  }
  for (int64_t bs : {1, 8}) {
    result.push_back(make_row("mirage_gqa_bs" + std::to_string(bs),
                              [=](Tiling t) {
                                return workloads::attention_decode(2 * bs, 256, 4096, 64, bf16,
                                                                   false, t);
                              },
                              {{16, 4}, {32, 4}, {64, 2}, {8, 8}, {4, 16}}));
    result.push_back(make_row(
        "mirage_qknorm_bs" + std::to_string(bs),
        [=](Tiling t) { return workloads::attention_decode(2 * bs, 256, 4096, 64, bf16, true, t); },
        {{16, 4}, {32, 4}, {64, 2}, {8, 8}, {4, 16}}));
    const auto build = [=](Tiling t) {
      return workloads::rms_norm_matmul(2 * bs, 4096, 6144, bf16, t);
    };
    result.push_back(with_splits(make_row("mirage_rmsnorm_bs" + std::to_string(bs), build, gemv),
                                 build, gemv_splits));
  }
  result.push_back(make_row("mirage_lora",
                            [=](Tiling t) { return workloads::lora(16, 256, 4096, 16, bf16, t); },
                            {{64, 1}, {128, 1}, {32, 2}}));
  {
    const auto build = [=](Tiling t) { return workloads::gated_mlp(8, 4096, 4096, bf16, t); };
    result.push_back(
        with_splits(make_row("mirage_gated_mlp", build, {{128, 16}, {256, 8}, {64, 32}}), build,
                    {{{64, 32}, 2}, {{32, 32}, 4}}));
  }
  result.push_back(make_row("mirage_ntrans_bs1",
                            [=](Tiling) { return workloads::ntrans(8, 4096, bf16); }, {{8, 1}}));
  return result;
}

struct Timing {
  double back_to_back_us = std::nan("");
  double graph_us = std::nan("");
  std::string graph_error;  // why the call could not be captured in a CUDA graph
};

double median_us(Runtime& runtime, const std::function<void()>& call, int iterations) {
  std::vector<double> rounds;
  for (int round = 0; round < 5; ++round) {
    const auto start = runtime.record_event();
    for (int i = 0; i < iterations; ++i) call();
    const auto end = runtime.record_event();
    rounds.push_back(runtime.elapsed_ms(start.get(), end.get()) * 1e3 / iterations);
  }
  std::sort(rounds.begin(), rounds.end());
  return rounds[rounds.size() / 2];
}

// Mean microseconds per call over back-to-back calls of `run`, median of five rounds; and the
// same for replays of one captured call.
Timing time_calls(const std::function<std::vector<core::Tensor>()>& run, int iterations) {
  Runtime& runtime = Runtime::get();
  for (int i = 0; i < 3; ++i) run();
  runtime.synchronize();
  {  // about 20 ms per round, between 3 and `iterations` calls
    const auto start = runtime.record_event();
    run();
    const auto end = runtime.record_event();
    const double once_ms =
        std::max(1e-3, static_cast<double>(runtime.elapsed_ms(start.get(), end.get())));
    iterations = static_cast<int>(std::clamp(20.0 / once_ms, 3.0, static_cast<double>(iterations)));
  }
  Timing timing;
  timing.back_to_back_us = median_us(
      runtime, [&] { run(); }, iterations);
  std::shared_ptr<void> graph;
  std::vector<core::Tensor> held;  // the captured graph writes these buffers
  try {
    runtime.begin_capture();
    try {
      held = run();
    } catch (...) {
      runtime.end_capture();
      throw;
    }
    graph = runtime.end_capture();
    runtime.launch_graph(graph);
    runtime.synchronize();
  } catch (const std::exception& error) {
    timing.graph_error = std::string(error.what()).substr(0, 300);
    return timing;
  }
  timing.graph_us = median_us(
      runtime, [&] { runtime.launch_graph(graph); }, iterations);
  return timing;
}

double copy_bandwidth(Runtime& runtime) {
  const std::size_t bytes = std::size_t{1} << 30;
  auto a = runtime.allocate(bytes), b = runtime.allocate(bytes);
  for (int i = 0; i < 3; ++i) runtime.copy_device(b.get(), a.get(), bytes);
  const auto start = runtime.record_event();
  for (int i = 0; i < 20; ++i) runtime.copy_device(b.get(), a.get(), bytes);
  const auto end = runtime.record_event();
  const double seconds = runtime.elapsed_ms(start.get(), end.get()) * 1e-3 / 20;
  return 2.0 * static_cast<double>(bytes) / seconds;
}

double relative_error(const core::Tensor& out, const core::Tensor& ref) {
  double diff = 0, norm = 0;
  for (int64_t i = 0; i < ref.numel(); ++i) {
    const double o = out.get(i), r = ref.get(i);
    if (!std::isfinite(o)) return std::nan("");
    diff += (o - r) * (o - r);
    norm += r * r;
  }
  return std::sqrt(diff / std::max(norm, 1e-30));
}

double fastest(const Timing& timing) {
  double best = 1e30;
  for (double us : {timing.back_to_back_us, timing.graph_us}) {
    if (std::isfinite(us)) best = std::min(best, us);
  }
  return best;
}

nlohmann::json finite_or_null(double value) {
  return std::isfinite(value) && value < 1e29 ? nlohmann::json(value) : nlohmann::json(nullptr);
}

std::vector<core::Tensor> to_host(Runtime& runtime, const std::vector<core::Tensor>& tensors) {
  std::vector<core::Tensor> host;
  for (const auto& tensor : tensors) host.push_back(runtime.to_host(tensor));
  return host;
}

// The PyTorch peer script: the one named, else bench/cuda_kernels.py under the working
// directory or the source tree the binary was built in.
std::string find_peer_script(const std::string& named) {
  if (!named.empty()) return named;
  std::vector<std::filesystem::path> candidates = {"bench/cuda_kernels.py"};
  std::error_code error;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", error);
  if (!error) {
    for (auto dir = exe.parent_path(); !dir.empty() && dir != dir.root_path();
         dir = dir.parent_path()) {
      candidates.push_back(dir / "bench" / "cuda_kernels.py");
    }
  }
  for (const auto& candidate : candidates) {
    if (std::filesystem::exists(candidate)) return candidate.string();
  }
  return "";
}

std::string shell_quote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// Runs the PyTorch peers (eager, CUDA graph, torch.compile, both) on this machine's device 0
// through the Python script; its JSON, or {"error": ...}.
nlohmann::json run_torch_peers(const CudaBenchOptions& options) {
  const std::string script = find_peer_script(options.peer_script);
  if (script.empty()) return {{"error", "bench/cuda_kernels.py not found; pass --peer-script"}};
  const auto path = std::filesystem::temp_directory_path() /
                    ("yirage-torch-peers-" + std::to_string(::getpid()) + ".json");
  std::string command = shell_quote(options.python) + " " + shell_quote(script) +
                        " --torch-only --json " + shell_quote(path.string());
  if (!options.only.empty()) command += " --only " + shell_quote(options.only);
  std::cout << "torch peers: " << command << "\n" << std::flush;
  const int status = std::system(command.c_str());
  std::ifstream in(path);
  if (status != 0 || !in.good()) {
    return {{"error", "the PyTorch peer script failed (exit status " + std::to_string(status) +
                          "): " + command}};
  }
  nlohmann::json peers = nlohmann::json::parse(in, nullptr, false);
  in.close();
  std::error_code ignored;
  std::filesystem::remove(path, ignored);
  if (peers.is_discarded()) return {{"error", "the PyTorch peer script wrote no valid JSON"}};
  return peers;
}

// The cudnn backend on the row's naive graph: times, the error against the naive graph on the
// cuda backend, and how it planned the graph.
nlohmann::json measure_cudnn(const ir::KernelGraph& graph,
                             const std::vector<core::Tensor>& reference, int iterations) {
  backend::Backend& cudnn = backend::get_backend("cudnn");
  const backend::Availability availability = cudnn.available();
  if (!availability.available) return {{"unavailable", availability.reason}};
  Runtime& runtime = Runtime::get();
  nlohmann::json entry;
  try {
    std::vector<core::Tensor> inputs;
    for (const auto& input : backend::random_inputs(graph, 17))
      inputs.push_back(runtime.to_device(input));
    auto program = backend::cudnn::cudnn_program_for(graph);
    const auto& plan = program->summary();
    entry["plan"] = {{"fused_attention", plan.fused_attention},
                     {"attention_fallbacks", plan.attention_fallbacks},
                     {"fallback_reasons", plan.fallback_reasons},
                     {"cublaslt_gemms", plan.gemms},
                     {"cuda_kernels", plan.kernels}};
    const auto host = to_host(runtime, program->run(inputs));
    if (!reference.empty()) entry["rel_error_vs_naive"] = relative_error(host[0], reference[0]);
    const Timing timing = time_calls([&] { return program->run(inputs); }, iterations);
    entry["us"] = finite_or_null(timing.back_to_back_us);
    entry["graph_us"] = finite_or_null(timing.graph_us);
    if (!timing.graph_error.empty()) entry["graph_error"] = timing.graph_error;
    entry["best_us"] = finite_or_null(fastest(timing));
  } catch (const std::exception& error) {
    entry["error"] = std::string(error.what()).substr(0, 300);
  }
  return entry;
}

bool wants(const CudaBenchOptions& options, const std::string& peer) {
  return std::find(options.peers.begin(), options.peers.end(), peer) != options.peers.end();
}

}  // namespace

void run_cuda_kernel_bench(const CudaBenchOptions& options) {
  for (const std::string& peer : options.peers) {
    YR_USER_CHECK(peer == "torch" || peer == "cudnn",
                  "unknown peer '" << peer << "'; expected torch and/or cudnn");
  }
  backend::Backend& cuda = backend::get_available_backend("cuda");
  Runtime& runtime = Runtime::get();
  const double bandwidth = copy_bandwidth(runtime);
  const auto info = cuda.device_info();
  nlohmann::json device = {{"name", info.name}};
  for (const auto& [key, value] : info.properties) device[key] = value;
  const auto cudnn_info = backend::get_backend("cudnn").device_info();
  for (const auto& [key, value] : cudnn_info.properties) {
    if (key == "cudnn") device["cudnn"] = value;
  }
  nlohmann::json result = {
      {"benchmark", "cuda-kernels"},
      {"device", device},
      {"copy_TBps", bandwidth / 1e12},
      {"peers", options.peers},
      {"method",
       "bf16; us per call: mean over back-to-back calls (CUDA events), median of 5 rounds; "
       "graph_us: replays of one captured call; yirage.best_us: the fastest variant either way; "
       "floor_us: bytes of inputs and outputs / copy bandwidth of this run; cudnn: the naive "
       "graph on the cudnn backend (cuDNN fused attention, cuBLASLt GEMMs, the cuda backend's "
       "kernels for the rest); torch: bench/cuda_kernels.py on the same device in the same run"},
      {"rows", nlohmann::json::object()}};
  std::cout << "copy bandwidth " << std::fixed << std::setprecision(2) << bandwidth / 1e12
            << " TB/s\n";
  for (Row& row : rows()) {
    if (!options.only.empty() && row.name.find(options.only) == std::string::npos) continue;
    nlohmann::json yirage = {{"variants", nlohmann::json::array()}};
    std::vector<core::Tensor> reference;
    double best = 1e30;
    std::string best_label;
    for (std::size_t v = 0; v < row.variants.size(); ++v) {
      const bool fused = v > 0;
      const ir::KernelGraph& graph = fused ? row.variants[v].fused : row.variants[v].naive;
      nlohmann::json variant = {{"variant", row.labels[v]}, {"kernels", graph.num_kernels()}};
      try {
        std::vector<core::Tensor> inputs;
        for (const auto& input : backend::random_inputs(graph, 17))
          inputs.push_back(runtime.to_device(input));
        auto program = backend::cuda::program_for(runtime, graph);
        const auto host = to_host(runtime, program->run(inputs));
        // A fused variant must agree with the naive graph on every output to be eligible.
        bool agrees = true;
        if (!fused) {
          reference = host;
        } else if (!reference.empty()) {
          double error = 0.0;
          for (std::size_t o = 0; o < host.size() && o < reference.size(); ++o)
            error = std::max(error, relative_error(host[o], reference[o]));
          variant["rel_error_vs_naive"] = finite_or_null(error);
          agrees = std::isfinite(error) && error <= kMaxRelativeError;
        }
        const Timing timing = time_calls([&] { return program->run(inputs); }, options.iterations);
        variant["us"] = finite_or_null(timing.back_to_back_us);
        variant["graph_us"] = finite_or_null(timing.graph_us);
        if (!timing.graph_error.empty()) variant["graph_error"] = timing.graph_error;
        if (!agrees) variant["excluded"] = "relative error against the naive graph above 5e-2";
        if (agrees && fastest(timing) < best) {
          best = fastest(timing);
          best_label = row.labels[v];
        }
      } catch (const std::exception& error) {
        variant["error"] = std::string(error.what()).substr(0, 300);
      }
      yirage["variants"].push_back(variant);
    }
    yirage["best_us"] = finite_or_null(best);
    yirage["best_variant"] = best_label;
    nlohmann::json entry = {{"shape", row.variants[0].shape},
                            {"bytes", row.bytes},
                            {"floor_us", row.bytes / bandwidth * 1e6},
                            {"yirage", yirage}};
    if (wants(options, "cudnn"))
      entry["cudnn"] = measure_cudnn(row.variants[0].naive, reference, options.iterations);
    std::cout << std::left << std::setw(36) << row.name << " yirage " << std::setw(9)
              << std::setprecision(2) << best << " us (" << best_label << "), floor "
              << entry["floor_us"].get<double>() << " us";
    if (entry.contains("cudnn") && entry["cudnn"].contains("best_us") &&
        entry["cudnn"]["best_us"].is_number())
      std::cout << ", cudnn " << entry["cudnn"]["best_us"].get<double>() << " us";
    std::cout << "\n";
    for (const auto& variant : yirage["variants"]) std::cout << "    " << variant.dump() << "\n";
    result["rows"][row.name] = entry;
  }

  if (wants(options, "torch")) {
    const nlohmann::json peers = run_torch_peers(options);
    if (peers.contains("error")) {
      result["torch_error"] = peers["error"];
    } else {
      result["torch"] = peers.value("torch", "");
      result["torch_device"] = peers.value("device", "");
      result["copy_TBps_torch"] = peers.value("copy_TBps", 0.0);
    }
    for (auto& [name, entry] : result["rows"].items()) {
      if (peers.contains("rows") && peers["rows"].contains(name)) {
        entry["torch"] = peers["rows"][name];
      } else {
        entry["torch"] = {{"error", peers.value("error", "the peer script has no such row")}};
      }
    }
  }

  // Ratios: peer time over yirage's best (above 1: yirage is faster), yirage over the floor.
  std::cout << "\n"
            << std::left << std::setw(36) << "row" << std::right << std::setw(10) << "yirage"
            << std::setw(11) << "torch best" << std::setw(9) << "cudnn" << std::setw(8) << "floor"
            << std::setw(10) << "vs torch" << std::setw(10) << "vs cudnn"
            << "\n";
  for (auto& [name, entry] : result["rows"].items()) {
    const auto number = [](const nlohmann::json& j, const char* key) {
      return j.is_object() && j.contains(key) && j[key].is_number() ? j[key].get<double>()
                                                                    : std::nan("");
    };
    const double ours = number(entry["yirage"], "best_us");
    const double torch_best =
        entry.contains("torch") ? number(entry["torch"], "best_us") : std::nan("");
    const double cudnn_best =
        entry.contains("cudnn") ? number(entry["cudnn"], "best_us") : std::nan("");
    const double floor_us = number(entry, "floor_us");
    nlohmann::json ratios = {{"yirage_over_floor", finite_or_null(ours / floor_us)}};
    if (entry.contains("torch"))
      ratios["best_torch_over_yirage"] = finite_or_null(torch_best / ours);
    if (entry.contains("cudnn")) ratios["cudnn_over_yirage"] = finite_or_null(cudnn_best / ours);
    entry["ratios"] = ratios;
    std::cout << std::left << std::setw(36) << name << std::right << std::setprecision(2)
              << std::setw(10) << ours << std::setw(11) << torch_best << std::setw(9) << cudnn_best
              << std::setw(8) << floor_us << std::setw(9) << torch_best / ours << "x"
              << std::setw(9) << cudnn_best / ours << "x\n";
  }
  if (!options.json.empty()) {
    std::ofstream out(options.json);
    YR_USER_CHECK(out.good(), "cannot write '" << options.json << "'");
    out << result.dump(2) << "\n";
    std::cout << "wrote " << options.json << "\n";
  }
}

void add_cuda_kernels_bench(CLI::App& bench) {
  auto options = std::make_shared<CudaBenchOptions>();
  auto peers = std::make_shared<std::string>();
  CLI::App* command = bench.add_subcommand(
      "cuda-kernels",
      "Time the benchmark rows on the CUDA backend (naive and fused graphs); the same as "
      "`bench kernels --backend cuda`");
  command->add_option("--json", options->json, "Also write the results to this JSON file");
  command->add_option("--only", options->only, "Only rows whose name contains this text");
  command->add_option("--iterations", options->iterations, "Calls per timing round")
      ->check(CLI::Range(1, 100000));
  command->add_option("--peers", *peers, "Peers measured in the same run: torch,cudnn");
  command->add_option("--python", options->python, "Python with PyTorch, for the torch peer");
  command->add_option("--peer-script", options->peer_script,
                      "The PyTorch peer script (default: bench/cuda_kernels.py)");
  command->callback([options, peers] {
    options->peers = split_peers(*peers);
    run_cuda_kernel_bench(*options);
  });
}

std::vector<std::string> split_peers(const std::string& text) {
  std::vector<std::string> peers;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    if (!item.empty()) peers.push_back(item);
  }
  return peers;
}

}  // namespace yirage::cli
