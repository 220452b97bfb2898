#include "yirage/backend/cuda/cuda_backend.h"

#include <algorithm>
#include <cstdint>

#include "yirage/backend/cuda/cublaslt.h"
#include "yirage/backend/cuda/nvrtc.h"
#include "yirage/backend/cuda/program.h"
#include "yirage/backend/cuda/runtime.h"
#include "yirage/core/error.h"

namespace yirage::backend {

namespace {

using cuda::Runtime;

bool on_device(const core::Tensor& tensor) {
  return tensor.device().kind == core::DeviceKind::Cuda;
}

class CudaBackend final : public Backend {
 public:
  std::string_view name() const override { return "cuda"; }
  std::string_view description() const override {
    return "NVIDIA GPUs: NVRTC-compiled kernels and fused block graphs, cuBLASLt GEMMs";
  }
  Availability available() const override {
    const std::string reason = cuda::cuda_unavailable_reason();
    return {reason.empty(), reason};
  }
  DeviceInfo device_info() const override {
    if (!available().available) return {"", {}};
    const auto& p = Runtime::get().properties();
    std::string why;
    return {p.name,
            {{"compute_capability", std::to_string(p.major) + "." + std::to_string(p.minor)},
             {"multiprocessors", std::to_string(p.multiprocessors)},
             {"shared_memory_per_block", std::to_string(p.shared_per_block_optin)},
             {"l2_bytes", std::to_string(p.l2_bytes)},
             {"memory_bytes", std::to_string(p.memory_bytes)},
             {"driver", std::to_string(p.driver_version)},
             {"nvrtc", cuda::nvrtc_version()},
             {"cublaslt", cuda::cublaslt_available(&why) ? "yes" : why}}};
  }
  bool supports(ir::OpKind) const override { return true; }

  std::vector<core::Tensor> run(const ir::KernelGraph& graph,
                                const std::vector<core::Tensor>& inputs) override {
    check_run_arguments(*this, graph, inputs);
    Runtime& runtime = Runtime::get();
    runtime.make_current();
    const bool all_device = std::all_of(inputs.begin(), inputs.end(), on_device);
    const bool any_device = std::any_of(inputs.begin(), inputs.end(), on_device);
    if (any_device) runtime.wait_for_legacy_stream();
    std::vector<core::Tensor> device_inputs;
    for (const auto& input : inputs) device_inputs.push_back(prepare(runtime, input));
    auto outputs = cuda::program_for(runtime, graph)->run(device_inputs);
    if (all_device) {
      runtime.make_legacy_stream_wait();
      return outputs;
    }
    std::vector<core::Tensor> host;
    for (const auto& output : outputs) host.push_back(runtime.to_host(output));
    return host;
  }

  void run_into(const ir::KernelGraph& graph, const std::vector<core::Tensor>& inputs,
                const std::vector<core::Tensor>& outputs) override {
    check_output_tensors(graph, outputs);
    check_run_arguments(*this, graph, inputs);
    Runtime& runtime = Runtime::get();
    runtime.make_current();
    const bool any_device = std::any_of(inputs.begin(), inputs.end(), on_device) ||
                            std::any_of(outputs.begin(), outputs.end(), on_device);
    if (any_device) runtime.wait_for_legacy_stream();
    std::vector<core::Tensor> device_inputs;
    for (const auto& input : inputs) device_inputs.push_back(prepare(runtime, input));
    const auto results = cuda::program_for(runtime, graph)->run(device_inputs);
    for (std::size_t i = 0; i < outputs.size(); ++i) {
      if (on_device(outputs[i])) {
        runtime.copy_device(outputs[i].data(), results[i].data(), results[i].nbytes());
      } else {
        runtime.copy_to_host(outputs[i].data(), results[i].data(), results[i].nbytes());
      }
    }
    if (any_device) runtime.make_legacy_stream_wait();
  }

  void synchronize() override {
    if (available().available) Runtime::get().synchronize();
  }

  bool can_profile() const override { return available().available; }

  // Median over five rounds of the mean time of back-to-back runs on device-resident inputs,
  // timed with events (launch overhead included, as a serving loop sees it).
  double profile(const ir::KernelGraph& graph, const std::vector<core::Tensor>& inputs,
                 int iterations) override {
    YR_USER_CHECK(iterations >= 1, "profile needs at least 1 iteration; got " << iterations);
    check_run_arguments(*this, graph, inputs);
    Runtime& runtime = Runtime::get();
    runtime.make_current();  // the search may profile from any thread
    std::vector<core::Tensor> device_inputs;
    for (const auto& input : inputs) device_inputs.push_back(prepare(runtime, input));
    auto program = cuda::program_for(runtime, graph);
    program->run(device_inputs);
    runtime.synchronize();
    std::vector<double> rounds;
    for (int round = 0; round < 5; ++round) {
      const auto start = runtime.record_event();
      for (int i = 0; i < iterations; ++i) program->run(device_inputs);
      const auto end = runtime.record_event();
      rounds.push_back(runtime.elapsed_ms(start.get(), end.get()) * 1e-3 / iterations);
    }
    std::sort(rounds.begin(), rounds.end());
    return rounds[rounds.size() / 2];
  }

 private:
  // A contiguous, 16-byte aligned CUDA copy of `input` (the input itself when it already is).
  static core::Tensor prepare(Runtime& runtime, const core::Tensor& input) {
    if (!on_device(input)) return runtime.to_device(input);
    YR_USER_CHECK(
        input.is_contiguous(),
        "the CUDA backend takes contiguous CUDA tensors; got a strided " << input.to_string());
    if (reinterpret_cast<uintptr_t>(input.data()) % 16 == 0) return input;
    core::Tensor copy = runtime.empty(input.shape(), input.dtype());
    runtime.copy_device(copy.data(), input.data(), input.nbytes());
    return copy;
  }
};

}  // namespace

std::unique_ptr<Backend> make_cuda_backend() {
  return std::make_unique<CudaBackend>();
}

}  // namespace yirage::backend
