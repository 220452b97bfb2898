// `yirage bench verify`: times the verifier on each hand-fused workload against its naive graph.
#include <chrono>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "yirage/core/cpu_features.h"
#include "yirage/core/error.h"
#include "yirage/core/thread_pool.h"
#include "yirage/verify/verifier.h"
#include "yirage/workloads/workloads.h"

namespace yirage::cli {

namespace {

struct BenchOptions {
  std::string set = "qwen3-0.6b";
  std::string json;
  int repeats = 1;
};

std::vector<workloads::Workload> workload_set(const std::string& name) {
  const auto all = workloads::standard_workloads();  // 5 Mirage, 5 Qwen3-0.6B, 5 Qwen3-8B
  if (name == "all") return all;
  const std::size_t first = name == "mirage" ? 0 : name == "qwen3-0.6b" ? 5 : 10;
  return {all.begin() + static_cast<std::ptrdiff_t>(first),
          all.begin() + static_cast<std::ptrdiff_t>(first + 5)};
}

int count_kernels(const ir::KernelGraph& graph) {
  int kernels = 0;
  for (const auto& node : graph.nodes()) kernels += node.op != ir::OpKind::Input;
  return kernels;
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
    const std::string kernels = std::to_string(count_kernels(workload.naive)) + "->" +
                                std::to_string(count_kernels(workload.fused));
    std::cout << std::setw(20) << workload.name << std::setw(58) << workload.shape << std::setw(9)
              << kernels << std::setw(12) << (result.equivalent ? "yes" : "NO") << std::fixed
              << std::setprecision(3) << best << "\n";
    rows.push_back({{"workload", workload.name},
                    {"shape", workload.shape},
                    {"naive_kernels", count_kernels(workload.naive)},
                    {"fused_kernels", count_kernels(workload.fused)},
                    {"equivalent", result.equivalent},
                    {"method", result.method},
                    {"seconds", best},
                    {"reason", result.reason}});
  }
  if (options.json.empty()) return;
  const auto& cpu = core::cpu_features();
  const nlohmann::json document = {{"benchmark", "verify"},
                                   {"set", options.set},
                                   {"repeats", options.repeats},
                                   {"machine",
                                    {{"cpu", cpu.model},
                                     {"hardware_threads", cpu.hardware_threads},
                                     {"threads_used", core::ThreadPool::global().num_threads()},
                                     {"features", cpu.names()}}},
                                   {"rows", rows}};
  std::ofstream out(options.json);
  YR_USER_CHECK(out.good(), "cannot write '" << options.json << "'");
  out << document.dump(2) << "\n";
  std::cout << "wrote " << options.json << "\n";
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
}

}  // namespace yirage::cli
