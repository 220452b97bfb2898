// `yirage bench cuda-kernels`: each benchmark row (Qwen3 and Mirage shapes, bf16) as the naive
// kernel graph and as fused block graphs at several tilings, on the CUDA backend. Times are
// microseconds per call over back-to-back calls (events), and per replay of a captured CUDA
// graph; the copy bandwidth of the same run gives the floor. Fused results are checked against
// the naive graph on the GPU.
#include "cli/cuda_bench.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "yirage/backend/cuda/program.h"
#include "yirage/backend/cuda/runtime.h"
#include "yirage/backend/random_inputs.h"
#include "yirage/backend/registry.h"
#include "yirage/core/error.h"
#include "yirage/workloads/workloads.h"

namespace yirage::cli {

namespace {

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

Workload ntrans(int64_t rows, int64_t hidden) {
  Workload w{
      "ntrans", "h,x,alpha[" + std::to_string(rows) + ", " + std::to_string(hidden) + "]", {}, {}};
  ir::KernelGraph& g = w.naive;
  const auto h = g.input({rows, hidden}, DType::BF16);
  const auto x = g.input({rows, hidden}, DType::BF16);
  const auto alpha = g.input({rows, hidden}, DType::BF16);
  const auto ones = g.input({hidden}, DType::BF16);
  const auto inner = g.binary(ir::OpKind::Add, g.rms_norm(h, ones), x);
  g.mark_output(
      g.rms_norm(g.binary(ir::OpKind::Add, x, g.binary(ir::OpKind::Mul, alpha, inner)), ones));
  return w;
}

std::vector<Row> rows() {
  const DType bf16 = DType::BF16;
  std::vector<Row> result;
  // Grid 128 gives each of an H100's 132 SMs at most one block.
  const std::vector<Tiling> gemv = {{96, 16}, {192, 16}, {384, 8}, {48, 32}, {128, 16}};
  for (int64_t bs : {1, 8, 64}) {
    result.push_back(make_row(
        "qwen3_8B_rmsnorm_qkv_bs" + std::to_string(bs),
        [=](Tiling t) { return workloads::rms_norm_matmul(bs, 4096, 6144, bf16, t); }, gemv));
  }
  for (int64_t bs : {1, 64}) {
    result.push_back(
        make_row("qwen3_0.6B_rmsnorm_qkv_bs" + std::to_string(bs),
                 [=](Tiling t) { return workloads::rms_norm_matmul(bs, 1024, 4096, bf16, t); },
                 {{128, 4}, {256, 4}, {64, 8}}));
  }
  for (int64_t bs : {1, 64}) {
    result.push_back(
        make_row("qwen3_8B_gated_mlp_bs" + std::to_string(bs),
                 [=](Tiling t) { return workloads::gated_mlp(bs, 4096, 12288, bf16, t); },
                 {{192, 16}, {384, 16}, {768, 8}, {128, 16}, {256, 16}}));
  }
  result.push_back(make_row("qwen3_0.6B_gated_mlp_bs1",
                            [=](Tiling t) { return workloads::gated_mlp(1, 1024, 3072, bf16, t); },
                            {{96, 4}, {192, 4}, {48, 8}, {128, 4}}));
  for (int64_t bs : {1, 8}) {
    result.push_back(make_row(
        "qwen3_8B_gqa_decode_kv4096_bs" + std::to_string(bs),
        [=](Tiling t) { return workloads::attention_decode(8 * bs, 4, 4096, 128, bf16, false, t); },
        {{16, 4}, {32, 2}, {8, 8}}));
  }
  for (int64_t bs : {1, 8}) {
    result.push_back(make_row("mirage_gqa_bs" + std::to_string(bs),
                              [=](Tiling t) {
                                return workloads::attention_decode(2 * bs, 256, 4096, 64, bf16,
                                                                   false, t);
                              },
                              {{16, 4}, {32, 4}, {64, 2}}));
    result.push_back(make_row(
        "mirage_qknorm_bs" + std::to_string(bs),
        [=](Tiling t) { return workloads::attention_decode(2 * bs, 256, 4096, 64, bf16, true, t); },
        {{16, 4}, {32, 4}, {64, 2}}));
    result.push_back(make_row(
        "mirage_rmsnorm_bs" + std::to_string(bs),
        [=](Tiling t) { return workloads::rms_norm_matmul(2 * bs, 4096, 6144, bf16, t); }, gemv));
  }
  result.push_back(make_row("mirage_lora",
                            [=](Tiling t) { return workloads::lora(16, 256, 4096, 16, bf16, t); },
                            {{64, 1}, {128, 1}, {32, 2}}));
  result.push_back(make_row("mirage_gated_mlp",
                            [=](Tiling t) { return workloads::gated_mlp(8, 4096, 4096, bf16, t); },
                            {{128, 16}, {256, 8}, {64, 32}}));
  result.push_back(make_row("mirage_ntrans_bs1", [](Tiling) { return ntrans(8, 4096); }, {}));
  return result;
}

struct Timing {
  double back_to_back_us = 0;
  double graph_us = 0;
};

// Mean microseconds per call over `iterations` back-to-back calls, median of five rounds; and
// the same for replays of one captured call.
Timing time_program(backend::cuda::Program& program, const std::vector<core::Tensor>& inputs,
                    int iterations) {
  Runtime& runtime = Runtime::get();
  auto median_round = [&](const std::function<void()>& call) {
    std::vector<double> rounds;
    for (int round = 0; round < 5; ++round) {
      const auto start = runtime.record_event();
      for (int i = 0; i < iterations; ++i) call();
      const auto end = runtime.record_event();
      rounds.push_back(runtime.elapsed_ms(start.get(), end.get()) * 1e3 / iterations);
    }
    std::sort(rounds.begin(), rounds.end());
    return rounds[rounds.size() / 2];
  };
  for (int i = 0; i < 3; ++i) program.run(inputs);
  runtime.synchronize();
  {  // about 20 ms per round, between 3 and `iterations` calls
    const auto start = runtime.record_event();
    program.run(inputs);
    const auto end = runtime.record_event();
    const double once_ms =
        std::max(1e-3, static_cast<double>(runtime.elapsed_ms(start.get(), end.get())));
    iterations = static_cast<int>(std::clamp(20.0 / once_ms, 3.0, static_cast<double>(iterations)));
  }
  Timing timing;
  timing.back_to_back_us = median_round([&] { program.run(inputs); });
  runtime.begin_capture();
  const auto held = program.run(inputs);  // held: the graph writes these buffers
  const auto graph = runtime.end_capture();
  runtime.launch_graph(graph);
  runtime.synchronize();
  timing.graph_us = median_round([&] { runtime.launch_graph(graph); });
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

void run_cuda_kernels_bench(const std::string& json_path, const std::string& only, int iterations) {
  backend::Backend& cuda = backend::get_available_backend("cuda");
  Runtime& runtime = Runtime::get();
  const double bandwidth = copy_bandwidth(runtime);
  const auto info = cuda.device_info();
  nlohmann::json device = {{"name", info.name}};
  for (const auto& [key, value] : info.properties) device[key] = value;
  nlohmann::json result = {{"benchmark", "cuda-kernels"},
                           {"device", device},
                           {"copy_TBps", bandwidth / 1e12},
                           {"method",
                            "us per call: mean over back-to-back calls (events), median of 5 "
                            "rounds; graph_us: replays of one captured call"},
                           {"rows", nlohmann::json::object()}};
  std::cout << "copy bandwidth " << std::fixed << std::setprecision(2) << bandwidth / 1e12
            << " TB/s\n";
  for (Row& row : rows()) {
    if (!only.empty() && row.name.find(only) == std::string::npos) continue;
    nlohmann::json entry = {{"floor_us", row.bytes / bandwidth * 1e6},
                            {"shape", row.variants[0].shape},
                            {"variants", nlohmann::json::array()}};
    std::vector<core::Tensor> reference;
    double best = 1e30;
    std::string best_label;
    for (std::size_t v = 0; v < row.variants.size(); ++v) {
      const bool fused = v > 0;
      const ir::KernelGraph& graph = fused ? row.variants[v].fused : row.variants[v].naive;
      nlohmann::json variant = {{"variant", row.labels[v]}};
      try {
        const auto host_inputs = backend::random_inputs(graph, 17);
        std::vector<core::Tensor> inputs;
        for (const auto& input : host_inputs) inputs.push_back(runtime.to_device(input));
        auto program = backend::cuda::program_for(runtime, graph);
        const auto outputs = program->run(inputs);
        std::vector<core::Tensor> host;
        for (const auto& output : outputs) host.push_back(runtime.to_host(output));
        if (!fused) {
          reference = host;
        } else {
          variant["rel_error_vs_naive"] = relative_error(host[0], reference[0]);
        }
        const Timing timing = time_program(*program, inputs, iterations);
        variant["us"] = timing.back_to_back_us;
        variant["graph_us"] = timing.graph_us;
        variant["kernels"] = graph.num_kernels();
        const double fastest = std::min(timing.back_to_back_us, timing.graph_us);
        if (fastest < best) {
          best = fastest;
          best_label = row.labels[v];
        }
      } catch (const std::exception& error) {
        variant["error"] = std::string(error.what()).substr(0, 300);
      }
      entry["variants"].push_back(variant);
    }
    entry["best_us"] = best;
    entry["best_variant"] = best_label;
    std::cout << std::left << std::setw(36) << row.name << " best " << std::setw(9)
              << std::setprecision(2) << best << " us (" << best_label << "), floor "
              << entry["floor_us"].get<double>() << " us\n";
    for (const auto& variant : entry["variants"]) std::cout << "    " << variant.dump() << "\n";
    result["rows"][row.name] = entry;
  }
  if (!json_path.empty()) {
    std::ofstream out(json_path);
    YR_USER_CHECK(out.good(), "cannot write '" << json_path << "'");
    out << result.dump(2) << "\n";
    std::cout << "wrote " << json_path << "\n";
  }
}

}  // namespace

void add_cuda_kernels_bench(CLI::App& bench) {
  struct Options {
    std::string json, only;
    int iterations = 200;
  };
  auto options = std::make_shared<Options>();
  CLI::App* command = bench.add_subcommand(
      "cuda-kernels", "Time the benchmark rows on the CUDA backend (naive and fused graphs)");
  command->add_option("--json", options->json, "Also write the results to this JSON file");
  command->add_option("--only", options->only, "Only rows whose name contains this text");
  command->add_option("--iterations", options->iterations, "Calls per timing round")
      ->check(CLI::Range(1, 100000));
  command->callback(
      [options] { run_cuda_kernels_bench(options->json, options->only, options->iterations); });
}

}  // namespace yirage::cli
