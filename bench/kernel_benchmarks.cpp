// Google Benchmark targets of the kernel bench set: per workload and batch, the fused program
// and the naive graph on the backend under test (YIRAGE_BENCH_BACKEND, default cpu) and the
// naive graph on mkl, with bytes per second and the fraction of the memory bandwidth measured
// when the binary starts. Reports only; `yirage bench kernels` writes the JSON results.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "yirage/backend/random_inputs.h"
#include "yirage/backend/registry.h"
#include "yirage/core/memory_bandwidth.h"
#include "yirage/workloads/kernel_bench_set.h"

namespace {

using yirage::backend::Backend;

struct Prepared {
  std::shared_ptr<yirage::workloads::KernelBenchCase> bench_case;
  double bytes = 0.0;
};

// The inputs of the case run last: benchmarks run in registration order, so the three of one
// case share them, and only one case's inputs are alive at a time.
const std::vector<yirage::core::Tensor>& inputs_of(const Prepared& prepared) {
  static const yirage::workloads::KernelBenchCase* current = nullptr;
  static std::vector<yirage::core::Tensor> inputs;
  if (current != prepared.bench_case.get()) {
    inputs.clear();
    inputs = yirage::backend::random_inputs(prepared.bench_case->workload.naive, 7);
    current = prepared.bench_case.get();
  }
  return inputs;
}

void run_graph(benchmark::State& state, Backend* backend, const yirage::ir::KernelGraph* graph,
               Prepared prepared, double bandwidth) {
  const auto availability = backend->available();
  if (!availability.available) {
    state.SkipWithError(("backend not available: " + availability.reason).c_str());
    return;
  }
  std::vector<yirage::core::Tensor> outputs;
  for (const auto& type : graph->output_types()) {
    outputs.push_back(yirage::core::Tensor::empty(type.shape, type.dtype));
  }
  const auto& inputs = inputs_of(prepared);
  backend->run_into(*graph, inputs, outputs);  // compiles and loads
  for (auto _ : state) {
    backend->run_into(*graph, inputs, outputs);
    backend->synchronize();
  }
  const double iterations = static_cast<double>(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(prepared.bytes * iterations));
  state.counters["bandwidth_fraction"] =
      benchmark::Counter(prepared.bytes * iterations / bandwidth, benchmark::Counter::kIsRate);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  const char* chosen = std::getenv("YIRAGE_BENCH_BACKEND");
  const std::string subject_name = chosen != nullptr ? chosen : "cpu";
  Backend* subject = &yirage::backend::get_backend(subject_name);
  Backend* mkl = &yirage::backend::get_backend("mkl");
  const double bandwidth = yirage::core::measure_memory_bandwidth().bytes_per_second;
  benchmark::AddCustomContext("memory_bandwidth_gbps", std::to_string(bandwidth / 1e9));

  benchmark::RegisterBenchmark("stream_copy",
                               [](benchmark::State& state) {
                                 for (auto _ : state) {
                                   const auto measured =
                                       yirage::core::measure_memory_bandwidth(0, 3);
                                   state.counters["gbps"] = measured.bytes_per_second / 1e9;
                                 }
                               })
      ->Iterations(1)
      ->Unit(benchmark::kMillisecond);

  const auto cases = yirage::workloads::kernel_bench_cases(
      yirage::workloads::kernel_bench_shape_sets(), {1, 8, 64}, yirage::core::DType::BF16);
  for (const auto& c : cases) {
    Prepared prepared;
    prepared.bench_case = std::make_shared<yirage::workloads::KernelBenchCase>(c);
    for (const auto& types : {c.workload.naive.input_types(), c.workload.naive.output_types()}) {
      for (const auto& type : types) {
        prepared.bytes +=
            static_cast<double>(yirage::core::shape_numel(type.shape) *
                                static_cast<int64_t>(yirage::core::dtype_size(type.dtype)));
      }
    }
    std::string name = c.shape_set + "/" + c.kernel + "/batch:" + std::to_string(c.batch);
    if (c.kernel == "gqa_decode") {
      for (const auto& [key, value] : c.extents) {
        if (key == "kv_len") name += "/kv:" + std::to_string(value);
      }
    }
    const auto& workload = prepared.bench_case->workload;
    benchmark::RegisterBenchmark((name + "/fused_" + subject_name).c_str(), run_graph, subject,
                                 &workload.fused, prepared, bandwidth)
        ->Unit(benchmark::kMicrosecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark((name + "/unfused_" + subject_name).c_str(), run_graph, subject,
                                 &workload.naive, prepared, bandwidth)
        ->Unit(benchmark::kMicrosecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark((name + "/mkl").c_str(), run_graph, mkl, &workload.naive, prepared,
                                 bandwidth)
        ->Unit(benchmark::kMicrosecond)
        ->UseRealTime();
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
