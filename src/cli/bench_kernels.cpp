// `yirage bench kernels`: for each workload of the kernel bench set, the fused program and the
// naive graph on the backend under test and the naive graph on the library peer, timed back to
// back; GB/s and the fraction of the memory bandwidth measured in the same run.
#include "cli/bench_kernels.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/cuda_bench.h"
#include "yirage/backend/random_inputs.h"
#include "yirage/backend/registry.h"
#include "yirage/core/cpu_features.h"
#include "yirage/core/error.h"
#include "yirage/core/memory_bandwidth.h"
#include "yirage/core/thread_pool.h"
#include "yirage/workloads/kernel_bench_set.h"

namespace yirage::cli {

namespace {

struct KernelBenchOptions {
  std::string backend = "cpu";
  std::string peer = "mkl";
  std::string json;
  std::string batches = "1,8,64";
  std::string sets = "qwen3-0.6b,mirage";
  std::string dtype = "bfloat16";
  double min_seconds = 0.25;
  int min_runs = 5;
};

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    if (!item.empty()) items.push_back(item);
  }
  return items;
}

std::vector<int64_t> parse_batches(const std::string& text) {
  std::vector<int64_t> batches;
  for (const auto& item : split_list(text)) {
    std::size_t used = 0;
    int64_t value = 0;
    try {
      value = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    YR_USER_CHECK(used == item.size() && value >= 1,
                  "--batch '" << text << "' has '" << item
                              << "'; expected positive integers separated by commas, e.g. 1,8,64");
    batches.push_back(value);
  }
  YR_USER_CHECK(!batches.empty(), "--batch is empty; expected e.g. 1,8,64");
  return batches;
}

std::size_t io_bytes(const ir::KernelGraph& graph) {
  std::size_t bytes = 0;
  for (const auto& types : {graph.input_types(), graph.output_types()}) {
    for (const auto& type : types) {
      bytes +=
          static_cast<std::size_t>(core::shape_numel(type.shape)) * core::dtype_size(type.dtype);
    }
  }
  return bytes;
}

std::vector<core::Tensor> empty_outputs(const ir::KernelGraph& graph) {
  std::vector<core::Tensor> outputs;
  for (const auto& type : graph.output_types()) {
    outputs.push_back(core::Tensor::empty(type.shape, type.dtype));
  }
  return outputs;
}

struct Timing {
  double seconds = 0.0;  // median
  int runs = 0;
};

// Median of back-to-back run_into calls after two warm-up runs (the first compiles and loads).
Timing time_runs(backend::Backend& backend, const ir::KernelGraph& graph,
                 const std::vector<core::Tensor>& inputs, const std::vector<core::Tensor>& outputs,
                 const KernelBenchOptions& options) {
  for (int warm = 0; warm < 2; ++warm) {
    backend.run_into(graph, inputs, outputs);
    backend.synchronize();
  }
  std::vector<double> samples;
  const auto start = std::chrono::steady_clock::now();
  while (true) {
    const auto before = std::chrono::steady_clock::now();
    backend.run_into(graph, inputs, outputs);
    backend.synchronize();
    const auto after = std::chrono::steady_clock::now();
    samples.push_back(std::chrono::duration<double>(after - before).count());
    const double elapsed = std::chrono::duration<double>(after - start).count();
    if (static_cast<int>(samples.size()) >= options.min_runs && elapsed >= options.min_seconds)
      break;
    if (samples.size() >= 2000) break;
  }
  std::sort(samples.begin(), samples.end());
  return {samples[samples.size() / 2], static_cast<int>(samples.size())};
}

// Largest |a - b| / max(|b|, mean|b|) over the outputs: how far the fused result is from the
// unfused one (a sanity figure, not a check).
double max_relative_difference(const std::vector<core::Tensor>& a,
                               const std::vector<core::Tensor>& b) {
  double worst = 0.0;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
    double scale = 0.0;
    for (int64_t k = 0; k < b[i].numel(); ++k) scale += std::abs(b[i].get(k));
    scale /= static_cast<double>(std::max<int64_t>(1, b[i].numel()));
    for (int64_t k = 0; k < b[i].numel(); ++k) {
      const double x = a[i].get(k), y = b[i].get(k);
      worst =
          std::max(worst, std::isfinite(x) ? std::abs(x - y) / std::max({std::abs(y), scale, 1e-30})
                                           : INFINITY);
    }
  }
  return worst;
}

nlohmann::json timing_json(const Timing& timing, std::size_t bytes, double bandwidth) {
  const double gbps = static_cast<double>(bytes) / timing.seconds / 1e9;
  return {{"seconds", timing.seconds},
          {"runs", timing.runs},
          {"gbps", gbps},
          {"bandwidth_fraction", gbps * 1e9 / bandwidth}};
}

std::string format_ms(double seconds) {
  std::ostringstream text;
  text << std::fixed << std::setprecision(seconds < 1e-3 ? 4 : 3) << seconds * 1e3;
  return text.str();
}

std::string format_ratio(double value) {
  std::ostringstream text;
  text << std::fixed << std::setprecision(2) << value << "x";
  return text.str();
}

// The 1-minute load average (from /proc/loadavg; -1 where there is none): other work on the
// machine during the run.
double load_average() {
  std::ifstream file("/proc/loadavg");
  double value = -1.0;
  if (!(file >> value)) return -1.0;
  return value;
}

// Physical cores: distinct (physical id, core id) pairs of /proc/cpuinfo; 0 where it says none.
int physical_cores() {
  std::ifstream file("/proc/cpuinfo");
  std::set<std::pair<std::string, std::string>> cores;
  std::string line, package = "0";
  while (std::getline(file, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = line.substr(0, line.find_last_not_of(" \t", colon - 1) + 1);
    const std::string value = colon + 2 <= line.size() ? line.substr(colon + 2) : "";
    if (key == "physical id") package = value;
    if (key == "core id") cores.insert({package, value});
  }
  return static_cast<int>(cores.size());
}

void write_json(const std::string& path, const nlohmann::json& document) {
  std::ofstream out(path);
  YR_USER_CHECK(out.good(), "cannot write '" << path << "'");
  out << document.dump(2) << "\n";
  std::cout << "wrote " << path << "\n";
}

void run_kernel_bench(const KernelBenchOptions& options) {
  backend::Backend& subject = backend::get_available_backend(options.backend);
  backend::Backend& peer = backend::get_backend(options.peer);
  const backend::Availability peer_availability = peer.available();
  const core::DType dtype = core::parse_dtype(options.dtype);
  YR_USER_CHECK(core::dtype_is_float(dtype), "--dtype "
                                                 << options.dtype
                                                 << " is not a float type; expected bfloat16, "
                                                    "float16 or float32");
  const auto batches = parse_batches(options.batches);
  const auto cases = workloads::kernel_bench_cases(split_list(options.sets), batches, dtype);

  const core::MemoryBandwidth bandwidth = core::measure_memory_bandwidth();
  const double bw = bandwidth.bytes_per_second;
  std::cout << "memory bandwidth (copy, " << bandwidth.threads << " threads, "
            << bandwidth.buffer_bytes / (1 << 20) << " MiB buffers, best of "
            << bandwidth.repetitions << "): " << std::fixed << std::setprecision(1) << bw / 1e9
            << " GB/s; load average " << std::setprecision(2) << load_average() << "\n";
  if (!peer_availability.available) {
    std::cout << "peer '" << options.peer << "' is not available: " << peer_availability.reason
              << "\n";
  }
  std::cout << std::left << std::setw(11) << "set" << std::setw(14) << "kernel" << std::setw(6)
            << "batch" << std::setw(46) << "shape" << std::right << std::setw(11) << "fused ms"
            << std::setw(11) << "unfused ms" << std::setw(11) << (options.peer + " ms")
            << std::setw(9) << "GB/s" << std::setw(7) << "%bw" << std::setw(11) << "vs unfused"
            << std::setw(9) << ("vs " + options.peer) << "\n";

  nlohmann::json rows = nlohmann::json::array();
  for (const auto& c : cases) {
    const auto& w = c.workload;
    const auto inputs = backend::random_inputs(w.naive, 7);
    const std::size_t bytes = io_bytes(w.naive);
    const auto fused_out = empty_outputs(w.fused);
    const auto unfused_out = empty_outputs(w.naive);
    const Timing fused = time_runs(subject, w.fused, inputs, fused_out, options);
    const Timing unfused = time_runs(subject, w.naive, inputs, unfused_out, options);
    nlohmann::json row = {
        {"set", c.shape_set},
        {"kernel", c.kernel},
        {"batch", c.batch},
        {"shape", w.shape},
        {"dtype", core::dtype_name(dtype)},
        {"bytes", bytes},
        {"fused", timing_json(fused, bytes, bw)},
        {"unfused", timing_json(unfused, bytes, bw)},
        {"speedup_vs_unfused", unfused.seconds / fused.seconds},
        {"max_rel_diff_fused_vs_unfused", max_relative_difference(fused_out, unfused_out)}};
    nlohmann::json extents = nlohmann::json::object();
    for (const auto& [name, value] : c.extents) extents[name] = value;
    row["extents"] = extents;
    std::string peer_ms = "-", vs_peer = "-";
    if (peer_availability.available) {
      const auto peer_out = empty_outputs(w.naive);
      const Timing library = time_runs(peer, w.naive, inputs, peer_out, options);
      row[options.peer] = timing_json(library, bytes, bw);
      row["speedup_vs_" + options.peer] = library.seconds / fused.seconds;
      peer_ms = format_ms(library.seconds);
      vs_peer = format_ratio(library.seconds / fused.seconds);
    } else {
      row[options.peer] = {{"unavailable", peer_availability.reason}};
    }
    const double gbps = static_cast<double>(bytes) / fused.seconds / 1e9;
    std::cout << std::left << std::setw(11) << c.shape_set << std::setw(14) << c.kernel
              << std::setw(6) << c.batch << std::setw(46) << w.shape << std::right << std::setw(11)
              << format_ms(fused.seconds) << std::setw(11) << format_ms(unfused.seconds)
              << std::setw(11) << peer_ms << std::setw(9) << std::setprecision(1) << gbps
              << std::setw(6) << std::setprecision(0) << gbps * 1e11 / bw << "%" << std::setw(11)
              << format_ratio(unfused.seconds / fused.seconds) << std::setw(9) << vs_peer << "\n";
    std::cout.flush();
    rows.push_back(row);
  }
  if (options.json.empty()) return;
  const auto& cpu = core::cpu_features();
  nlohmann::json machine = {
      {"cpu", cpu.model},
      {"logical_cpus", cpu.hardware_threads},
      {"physical_cores", physical_cores()},
      {"threads_used", core::ThreadPool::global().num_threads()},
      {"isa", cpu.names()},
      {"last_level_cache_bytes", core::last_level_cache_bytes()},
      {"memory_bandwidth_gbps", bw / 1e9},
      {"load_average_at_end", load_average()},
      {"bandwidth_method", "STREAM-like copy of " + std::to_string(bandwidth.buffer_bytes >> 20) +
                               " MiB, read + write bytes, best of " +
                               std::to_string(bandwidth.repetitions) + " on " +
                               std::to_string(bandwidth.threads) + " threads"}};
  nlohmann::json peer_info = {{"name", options.peer},
                              {"available", peer_availability.available},
                              {"reason", peer_availability.reason}};
  for (const auto& [key, value] : peer.device_info().properties) peer_info[key] = value;
  write_json(options.json,
             {{"benchmark", "cpu-kernels"},
              {"backend", options.backend},
              {"peer", peer_info},
              {"dtype", core::dtype_name(dtype)},
              {"timing", "median of back-to-back run_into calls after 2 warm-up runs; at least " +
                             std::to_string(options.min_runs) + " runs and " +
                             std::to_string(options.min_seconds) + " s"},
              {"gbps", "bytes of graph inputs + outputs / median time"},
              {"machine", machine},
              {"rows", rows}});
}

}  // namespace

void add_bench_kernels_command(CLI::App& bench) {
  auto options = std::make_shared<KernelBenchOptions>();
  CLI::App* kernels = bench.add_subcommand(
      "kernels",
      "Time fused and unfused kernels on a backend against a library peer, with the fraction of "
      "the memory bandwidth measured in the same run");
  kernels->add_option("--backend", options->backend, "Backend under test (fused and unfused)");
  kernels->add_option("--peer", options->peer, "Library backend timed on the naive graphs");
  kernels->add_option("--json", options->json, "Also write the results to this JSON file");
  kernels->add_option("--batch", options->batches, "Batch sizes, comma-separated");
  kernels->add_option("--set", options->sets, "Shape sets, comma-separated: qwen3-0.6b, mirage");
  kernels->add_option("--dtype", options->dtype, "Element type: bfloat16, float16 or float32");
  kernels->add_option("--min-seconds", options->min_seconds, "Least time per measurement")
      ->check(CLI::Range(0.0, 60.0));
  kernels->add_option("--min-runs", options->min_runs, "Least runs per measurement")
      ->check(CLI::Range(1, 1000));
  // --backend cuda: the CUDA rows, with the cudnn and PyTorch peers in the same run.
  auto cuda = std::make_shared<CudaBenchOptions>();
  auto peers = std::make_shared<std::string>();
  kernels->add_option("--peers", *peers, "With --backend cuda: peers in the same run, torch,cudnn");
  kernels->add_option("--only", cuda->only, "With --backend cuda: rows whose name contains this");
  kernels->add_option("--iterations", cuda->iterations, "With --backend cuda: calls per round")
      ->check(CLI::Range(1, 100000));
  kernels->add_option("--python", cuda->python, "With --peers torch: Python with PyTorch");
  kernels->add_option("--peer-script", cuda->peer_script,
                      "With --peers torch: the peer script (default: bench/cuda_kernels.py)");
  kernels->callback([options, cuda, peers] {
    if (options->backend != "cuda") {
      YR_USER_CHECK(peers->empty(), "--peers goes with --backend cuda; the "
                                        << options->backend << " benchmark takes --peer");
      run_kernel_bench(*options);
      return;
    }
    cuda->json = options->json;
    cuda->peers = split_peers(*peers);
    run_cuda_kernel_bench(*cuda);
  });
}

}  // namespace yirage::cli
