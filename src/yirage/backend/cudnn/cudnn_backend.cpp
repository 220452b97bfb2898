#include "yirage/backend/cudnn/cudnn_backend.h"

#include <algorithm>
#include <cstdint>

#include "yirage/backend/cuda/cublaslt.h"
#include "yirage/backend/cuda/runtime.h"
#include "yirage/backend/cudnn/cudnn_library.h"
#include "yirage/backend/cudnn/cudnn_program.h"
#include "yirage/backend/registry.h"
#include "yirage/core/error.h"

namespace yirage::backend {

namespace {

using cuda::Runtime;

bool on_device(const core::Tensor& tensor) {
  return tensor.device().kind == core::DeviceKind::Cuda;
}

// A contiguous, 16-byte aligned CUDA copy of `input` (the input itself when it already is).
core::Tensor prepare(Runtime& runtime, const core::Tensor& input) {
  if (!on_device(input)) return runtime.to_device(input);
  YR_USER_CHECK(
      input.is_contiguous(),
      "the cudnn backend takes contiguous CUDA tensors; got a strided " << input.to_string());
  if (reinterpret_cast<uintptr_t>(input.data()) % 16 == 0) return input;
  core::Tensor copy = runtime.empty(input.shape(), input.dtype());
  runtime.copy_device(copy.data(), input.data(), input.nbytes());
  return copy;
}

class CudnnBackend final : public Backend {
 public:
  std::string_view name() const override { return "cudnn"; }
  std::string_view description() const override {
    return "NVIDIA libraries: cuDNN fused attention and cuBLASLt GEMMs, the cuda backend's "
           "kernels for every other op";
  }
  Availability available() const override {
    const std::string reason = cudnn::cudnn_unavailable_reason();
    return {reason.empty(), reason};
  }
  DeviceInfo device_info() const override {
    if (!available().available) return {"", {}};
    DeviceInfo info = get_backend("cuda").device_info();
    std::string why;
    info.properties.emplace_back("cudnn", cudnn::cudnn_description());
    info.properties.emplace_back("cublaslt_gemms", cuda::cublaslt_available(&why) ? "yes" : why);
    info.properties.emplace_back("other ops", "cuda");
    return info;
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
    auto outputs = cudnn::cudnn_program_for(graph)->run(device_inputs);
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
    const auto results = cudnn::cudnn_program_for(graph)->run(device_inputs);
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

  // As the cuda backend: median over five rounds of the mean time of back-to-back runs on
  // device-resident inputs, timed with events.
  double profile(const ir::KernelGraph& graph, const std::vector<core::Tensor>& inputs,
                 int iterations) override {
    YR_USER_CHECK(iterations >= 1, "profile needs at least 1 iteration; got " << iterations);
    check_run_arguments(*this, graph, inputs);
    Runtime& runtime = Runtime::get();
    runtime.make_current();
    std::vector<core::Tensor> device_inputs;
    for (const auto& input : inputs) device_inputs.push_back(prepare(runtime, input));
    auto program = cudnn::cudnn_program_for(graph);
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
};

}  // namespace

std::unique_ptr<Backend> make_cudnn_backend() {
  return std::make_unique<CudnnBackend>();
}

}  // namespace yirage::backend
