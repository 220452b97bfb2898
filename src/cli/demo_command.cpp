// `yirage demo`: the RMSNorm + QKV matmul of one Qwen3-0.6B layer, run on random inputs and
// checked against a direct float64 computation.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/checksum.h"
#include "cli/commands.h"
#include "yirage/backend/random_inputs.h"
#include "yirage/backend/registry.h"
#include "yirage/core/dtype.h"
#include "yirage/core/error.h"
#include "yirage/ir/fingerprint.h"
#include "yirage/ir/printer.h"
#include "yirage/ir/serialize.h"

namespace yirage::cli {

namespace {

// Qwen3-0.6B: hidden size 1024; 16 query heads and 8 key/value heads of 128 give 4096 QKV columns.
constexpr int64_t kHidden = 1024;
constexpr int64_t kQkvColumns = 4096;
constexpr double kEps = 1e-6;
constexpr int64_t kMaxBatch = 4096;
// The reference backend computes in float64 and rounds each output once: at most half a unit in
// the last place of bfloat16, 2^-8 relative. The margin covers float64 summation order.
constexpr double kRelativeErrorBound = 0x1p-8 * 1.001;

struct DemoOptions {
  int64_t batch = 8;
  std::string backend = "reference";
  uint64_t seed = 0;
  std::string save_json;
};

ir::KernelGraph build_graph(int64_t batch) {
  ir::KernelGraph graph;
  const ir::TensorRef x = graph.input({batch, kHidden}, core::DType::BF16);
  const ir::TensorRef norm_weight = graph.input({kHidden}, core::DType::BF16);
  const ir::TensorRef w_qkv = graph.input({kHidden, kQkvColumns}, core::DType::BF16);
  graph.mark_output(graph.matmul(graph.rms_norm(x, norm_weight, kEps), w_qkv));
  return graph;
}

// y = (x / sqrt(mean(x^2) + eps) * weight) @ W, straight from the definition, in float64.
std::vector<double> expected_output(const std::vector<core::Tensor>& inputs, int64_t batch) {
  const auto value = [](const core::Tensor& tensor, int64_t index) {
    return core::load_as_double(tensor.data(), tensor.dtype(), static_cast<std::size_t>(index));
  };
  const core::Tensor& x = inputs[0];
  const core::Tensor& weight = inputs[1];
  const core::Tensor& w_qkv = inputs[2];
  std::vector<double> y(static_cast<std::size_t>(batch * kQkvColumns), 0.0);
  std::vector<double> normed(kHidden);
  for (int64_t b = 0; b < batch; ++b) {
    double squares = 0.0;
    for (int64_t k = 0; k < kHidden; ++k) squares += std::pow(value(x, b * kHidden + k), 2);
    const double scale = 1.0 / std::sqrt(squares / kHidden + kEps);
    for (int64_t k = 0; k < kHidden; ++k) {
      normed[k] = value(x, b * kHidden + k) * scale * value(weight, k);
    }
    double* row = &y[static_cast<std::size_t>(b * kQkvColumns)];
    for (int64_t k = 0; k < kHidden; ++k) {
      for (int64_t n = 0; n < kQkvColumns; ++n)
        row[n] += normed[k] * value(w_qkv, k * kQkvColumns + n);
    }
  }
  return y;
}

double max_relative_error(const core::Tensor& output, const std::vector<double>& expected) {
  double worst = 0.0;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const double got = output.get(static_cast<int64_t>(i));
    const double error = std::fabs(got - expected[i]) / std::max(std::fabs(expected[i]), 1e-30);
    worst = std::max(worst, error);
  }
  return worst;
}

void run_demo(const DemoOptions& options) {
  backend::Backend& target = backend::get_available_backend(options.backend);
  const ir::KernelGraph graph = build_graph(options.batch);
  std::cout << "RMSNorm + QKV matmul of a Qwen3-0.6B layer: batch " << options.batch << ", hidden "
            << kHidden << ", QKV columns " << kQkvColumns << ", backend " << target.name() << "\n\n"
            << ir::graph_to_text(graph) << "fingerprint " << ir::graph_fingerprint_hex(graph)
            << "\n\n";
  if (!options.save_json.empty()) {
    const std::string json = ir::graph_to_json(graph);
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(
        std::fopen(options.save_json.c_str(), "wb"), std::fclose);
    YR_USER_CHECK(
        file != nullptr && std::fwrite(json.data(), 1, json.size(), file.get()) == json.size(),
        "cannot write '" << options.save_json << "'");
    std::cout << "graph saved to " << options.save_json << '\n';
  }

  const std::vector<core::Tensor> inputs = backend::random_inputs(graph, options.seed);
  const auto start = std::chrono::steady_clock::now();
  const std::vector<core::Tensor> outputs = target.run(graph, inputs);
  target.synchronize();
  const std::chrono::duration<double, std::milli> elapsed =
      std::chrono::steady_clock::now() - start;
  YR_INTERNAL_CHECK(outputs.size() == 1, "the demo graph has one output, got " << outputs.size());
  std::cout << "inputs: random, seed " << options.seed << '\n'
            << "output: " << describe_tensor(outputs[0]) << '\n'
            << "elapsed: " << std::fixed << std::setprecision(2) << elapsed.count() << " ms\n"
            << std::defaultfloat;

  const double error = max_relative_error(outputs[0], expected_output(inputs, options.batch));
  YR_INTERNAL_CHECK(error <= kRelativeErrorBound,
                    "the " << target.name() << " backend's output differs from the float64 "
                           << "computation: max relative error " << error << " > "
                           << kRelativeErrorBound);
  std::cout << "check against a direct float64 computation: max relative error " << std::scientific
            << std::setprecision(2) << error << " (bound " << kRelativeErrorBound
            << ", bfloat16 rounding): ok\n"
            << std::defaultfloat;
}

}  // namespace

void add_demo_command(CLI::App& app) {
  auto options = std::make_shared<DemoOptions>();
  CLI::App* demo = app.add_subcommand(
      "demo", "Run the RMSNorm + QKV matmul of a Qwen3-0.6B layer and check it in float64");
  demo->add_option("--batch", options->batch, "rows of x (tokens)")
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            int64_t value = 0;
            if (CLI::detail::lexical_cast(text, value) && value >= 1 && value <= kMaxBatch)
              return {};
            return "expected an integer from 1 to " + std::to_string(kMaxBatch) + ", got '" + text +
                   "'";
          },
          "INT in [1, " + std::to_string(kMaxBatch) + "]"))
      ->capture_default_str();
  demo->add_option("--backend", options->backend, "backend to run on")->capture_default_str();
  demo->add_option("--seed", options->seed, "seed of the random inputs")->capture_default_str();
  demo->add_option("--save-json", options->save_json, "also write the graph as JSON to this file");
  demo->callback([options] { run_demo(*options); });
}

}  // namespace yirage::cli
