// `yirage bench verify`: times the verifier on each hand-fused workload against its naive graph.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/bench_kernels.h"
#include "cli/commands.h"
#include "cli/cuda_bench.h"
#include "yirage/core/cpu_features.h"
#include "yirage/core/error.h"
#include "yirage/core/thread_pool.h"
#include "yirage/ir/block_graph.h"
#include "yirage/search/superoptimizer.h"
#include "yirage/verify/verifier.h"
#include "yirage/workloads/workloads.h"

namespace yirage::cli {

namespace {

struct BenchOptions {
  std::string set = "qwen3-0.6b";
  std::string json;
  int repeats = 1;
  double budget = 30.0;
};

// The machine, for result files.
nlohmann::json machine_json() {
  const auto& cpu = core::cpu_features();
  return {{"cpu", cpu.model},
          {"hardware_threads", cpu.hardware_threads},
          {"threads_used", core::ThreadPool::global().num_threads()},
          {"features", cpu.names()}};
}

void write_json(const std::string& path, const nlohmann::json& document) {
  std::ofstream out(path);
  YR_USER_CHECK(out.good(), "cannot write '" << path << "'");
  out << document.dump(2) << "\n";
  std::cout << "wrote " << path << "\n";
}

std::vector<workloads::Workload> workload_set(const std::string& name) {
  const auto all = workloads::standard_workloads();  // 5 Mirage, 5 Qwen3-0.6B, 5 Qwen3-8B
  if (name == "all") return all;
  const std::size_t first = name == "mirage" ? 0 : name == "qwen3-0.6b" ? 5 : 10;
  return {all.begin() + static_cast<std::ptrdiff_t>(first),
          all.begin() + static_cast<std::ptrdiff_t>(first + 5)};
}

void run_verify_bench(const BenchOptions& options) {
  nlohmann::json rows = nlohmann::json::array();
  std::cout << std::left << std::setw(20) << "workload" << std::setw(58) << "shape" << std::setw(9)
            << "kernels" << std::setw(12) << "verified"
            << "seconds (finite-field x2 + float64)\n";
  for (const auto& workload : workload_set(options.set)) {
    double best = 0.0;
    verify::VerifyResult result;
    for (int r = 0; r < options.repeats; ++r) {
      result = verify::verify(workload.naive, workload.fused);
      best = r == 0 ? result.seconds : std::min(best, result.seconds);
    }
    const std::string kernels = std::to_string(workload.naive.num_kernels()) + "->" +
                                std::to_string(workload.fused.num_kernels());
    std::cout << std::setw(20) << workload.name << std::setw(58) << workload.shape << std::setw(9)
              << kernels << std::setw(12) << (result.equivalent ? "yes" : "NO") << std::fixed
              << std::setprecision(3) << best << "\n";
    rows.push_back({{"workload", workload.name},
                    {"shape", workload.shape},
                    {"naive_kernels", workload.naive.num_kernels()},
                    {"fused_kernels", workload.fused.num_kernels()},
                    {"equivalent", result.equivalent},
                    {"method", result.method},
                    {"seconds", best},
                    {"reason", result.reason}});
  }
  if (options.json.empty()) return;
  write_json(options.json, {{"benchmark", "verify"},
                            {"set", options.set},
                            {"repeats", options.repeats},
                            {"machine", machine_json()},
                            {"rows", rows}});
}

// True when `graph` is one kernel whose for-loop streams the reduction and whose output is
// computed after the loop (for RMSNorm+MatMul: the division after the matmul).
bool streamed_one_kernel(const ir::KernelGraph& graph) {
  if (graph.num_kernels() != 1) return false;
  for (const auto& node : graph.nodes()) {
    if (node.op != ir::OpKind::Customized) continue;
    const ir::BlockGraph& block = *node.block_graph;
    return block.forloop_range() > 1 &&
           block.phase(block.outputs()[0].tile) == ir::Phase::AfterLoop;
  }
  return false;
}

nlohmann::json search_row(const workloads::Workload& workload, const search::SearchOptions& options,
                          const std::string& mode) {
  const auto start = std::chrono::steady_clock::now();
  const search::OptimizedProgram result = search::superoptimize(workload.naive, options);
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto& report = result.report;
  std::cout << std::setw(20) << workload.name << std::setw(44) << workload.shape << std::setw(14)
            << mode << std::setw(9)
            << (std::to_string(report.kernels_before) + "->" + std::to_string(report.kernels_after))
            << std::setw(10) << report.totals.states << std::setw(10) << report.totals.pruned
            << std::setw(8) << (report.totals.verified) << std::fixed << std::setprecision(3)
            << wall << (report.cache_hit ? " (cache hit)" : "") << "\n";
  return {{"workload", workload.name},
          {"shape", workload.shape},
          {"mode", mode},
          {"kernels_before", report.kernels_before},
          {"kernels_after", report.kernels_after},
          {"improved", report.improved},
          {"streamed_one_kernel", streamed_one_kernel(result.graph)},
          {"states", report.totals.states},
          {"pruned", report.totals.pruned},
          {"verified", report.totals.verified},
          {"rejected", report.totals.rejected},
          {"derived", report.derived},
          {"derived_verified", report.derived_verified},
          {"fragments", report.fragments},
          {"frames", report.frames},
          {"seconds", wall},
          {"cache_hit", report.cache_hit},
          {"summary", report.summary}};
}

// A transformer block's MLP half and the next norm, from ops: rms_norm, gated MLP, down
// projection and residual, rms_norm and a projection (nine ops: searched in fragments).
workloads::Workload mlp_block(int64_t batch, int64_t hidden, int64_t inter, core::DType dtype) {
  workloads::Workload w{"mlp_block_partitioned",
                        "x[" + std::to_string(batch) + ", " + std::to_string(hidden) + "] inter " +
                            std::to_string(inter),
                        {},
                        {}};
  ir::KernelGraph& g = w.naive;
  const auto x = g.input({batch, hidden}, dtype);
  const auto g1 = g.input({hidden}, dtype);
  const auto w1 = g.input({hidden, inter}, dtype);
  const auto w2 = g.input({hidden, inter}, dtype);
  const auto w3 = g.input({inter, hidden}, dtype);
  const auto g2 = g.input({hidden}, dtype);
  const auto w4 = g.input({hidden, inter}, dtype);
  const auto h = g.rms_norm(x, g1);
  const auto gate = g.matmul(h, w1);
  const auto up = g.matmul(h, w2);
  const auto gated = g.binary(ir::OpKind::Mul, g.unary(ir::OpKind::Silu, gate), up);
  const auto residual = g.binary(ir::OpKind::Add, g.matmul(gated, w3), x);
  g.mark_output(g.matmul(g.rms_norm(residual, g2), w4));
  return w;
}

void run_search_bench(const BenchOptions& options) {
  using core::DType;
  const std::vector<workloads::Workload> set = {
      workloads::rms_norm_matmul(4, 128, 256, DType::F32),
      workloads::gated_mlp(4, 128, 256, DType::F32),
      workloads::lora(4, 128, 256, 8, DType::F32),
      workloads::attention_decode(2, 4, 128, 16, DType::F32, false),
      workloads::attention_decode(2, 4, 1024, 16, DType::F32, false),
      workloads::attention_decode(2, 4, 128, 16, DType::F32, true),
      workloads::rms_norm_matmul(8, 1024, 4096, DType::BF16),
      workloads::gated_mlp(8, 1024, 3072, DType::BF16),
      workloads::lora(8, 1024, 4096, 16, DType::BF16),
      workloads::attention_decode(8, 2, 1024, 128, DType::BF16, false),
      workloads::attention_decode(8, 2, 1024, 128, DType::BF16, true),
      mlp_block(8, 256, 512, DType::F32),
  };
  std::cout << std::left << std::setw(20) << "workload" << std::setw(44) << "shape" << std::setw(14)
            << "mode" << std::setw(9) << "kernels" << std::setw(10) << "states" << std::setw(10)
            << "pruned" << std::setw(8) << "found"
            << "seconds\n";
  nlohmann::json rows = nlohmann::json::array();
  search::SearchOptions full;
  full.time_budget_seconds = options.budget;
  full.max_verified = 1;
  full.use_cache = false;  // the cached re-run is its own row below
  for (const auto& workload : set) rows.push_back(search_row(workload, full, "search"));
  // The ablation, on RMSNorm+MatMul: the depth-first search alone (no derived streaming forms),
  // with pruning and without, same budgets; the rows say whether it found the streamed form.
  search::SearchOptions dfs = full;
  dfs.derive = false;
  rows.push_back(search_row(set[0], dfs, "dfs pruned"));
  dfs.prune = false;
  rows.push_back(search_row(set[0], dfs, "dfs unpruned"));
  // A cached re-run: the first call stores the result in a fresh cache, the second reads it
  // back (and verifies it again before use).
  search::SearchOptions cached = full;
  cached.use_cache = true;
  cached.cache_dir = (std::filesystem::temp_directory_path() /
                      ("yirage-bench-cache-" + std::to_string(::getpid())))
                         .string();
  for (std::size_t w : {std::size_t{0}, std::size_t{6}}) {
    search::superoptimize(set[w].naive, cached);
    rows.push_back(search_row(set[w], cached, "cached"));
  }
  std::filesystem::remove_all(cached.cache_dir);
  if (!options.json.empty()) {
    write_json(options.json, {{"benchmark", "search"},
                              {"time_budget_seconds", options.budget},
                              {"machine", machine_json()},
                              {"rows", rows}});
  }
}

}  // namespace

void add_bench_command(CLI::App& app) {
  CLI::App* bench = app.add_subcommand("bench", "Benchmarks");
  bench->require_subcommand(1);
  auto options = std::make_shared<BenchOptions>();
  CLI::App* verify = bench->add_subcommand(
      "verify", "Time the verifier on each hand-fused workload against its naive graph");
  verify->add_option("--set", options->set, "Shapes: mirage, qwen3-0.6b, qwen3-8b or all")
      ->check(CLI::IsMember({"mirage", "qwen3-0.6b", "qwen3-8b", "all"}));
  verify->add_option("--json", options->json, "Also write the results to this JSON file");
  verify->add_option("--repeats", options->repeats, "Best of this many runs")
      ->check(CLI::Range(1, 100));
  verify->callback([options] { run_verify_bench(*options); });
  CLI::App* search = bench->add_subcommand(
      "search", "Time the superoptimizer on naive workloads, with pruning and without");
  search->add_option("--json", options->json, "Also write the results to this JSON file");
  search->add_option("--budget", options->budget, "Time budget per search, seconds")
      ->check(CLI::Range(0.1, 3600.0));
  search->callback([options] { run_search_bench(*options); });
  add_bench_kernels_command(*bench);
  add_cuda_kernels_bench(*bench);
}

}  // namespace yirage::cli
