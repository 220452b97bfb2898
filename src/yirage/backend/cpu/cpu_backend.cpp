#include "yirage/backend/cpu/cpu_backend.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <utility>

#include "yirage/backend/cpu/block_compiler.h"
#include "yirage/backend/cpu/cpu_gemm.h"
#include "yirage/backend/cpu/cpu_ops.h"
#include "yirage/core/cpu_features.h"
#include "yirage/core/error.h"
#include "yirage/core/thread_pool.h"
#include "yirage/ir/block_graph.h"

namespace yirage::backend {

namespace cpu {

std::string isa_level() {
  const auto& features = core::cpu_features();
  if (features.avx512f && features.avx512_bf16) return "avx512-bf16";
  if (features.avx512f) return "avx512";
  if (features.avx2) return "avx2";
  return "scalar";
}

MachineModel cpu_machine_model() {
  const auto threads = static_cast<double>(core::ThreadPool::global().num_threads());
  const std::string level = isa_level();
  const double flops_per_cycle = level.starts_with("avx512") ? 64.0 : level == "avx2" ? 32.0 : 4.0;
  MachineModel model;
  model.flops_per_microsecond = threads * 2.5e3 * flops_per_cycle * 0.5;
  model.bytes_per_microsecond = std::min(threads * 12e3, 200e3);
  model.launch_microseconds = 5.0;
  return model;
}

}  // namespace cpu

namespace {

class CpuBackend final : public Backend {
 public:
  std::string_view name() const override { return "cpu"; }
  std::string_view description() const override {
    return "x86-64 SIMD kernels (AVX-512, AVX2, scalar), blocked GEMM and fused block graphs "
           "compiled at run time";
  }
  Availability available() const override { return {true, ""}; }
  DeviceInfo device_info() const override {
    const auto& features = core::cpu_features();
    std::string extensions;
    for (const auto& extension : features.names())
      extensions += (extensions.empty() ? "" : " ") + extension;
    return {
        features.model.empty() ? "host CPU" : features.model,
        {{"isa", cpu::isa_level()},
         {"gemm_bf16", std::string(cpu::gemm_path_name(cpu::best_gemm_path(core::DType::BF16)))},
         {"gemm_f32", std::string(cpu::gemm_path_name(cpu::best_gemm_path(core::DType::F32)))},
         {"threads", std::to_string(core::ThreadPool::global().num_threads())},
         {"hardware_threads", std::to_string(features.hardware_threads)},
         {"extensions", extensions.empty() ? "none" : extensions}}};
  }
  bool supports(ir::OpKind) const override { return true; }

  std::vector<core::Tensor> run(const ir::KernelGraph& graph,
                                const std::vector<core::Tensor>& inputs) override {
    check_run_arguments(*this, graph, inputs);
    std::vector<core::Tensor> outputs;
    for (const auto& type : graph.output_types())
      outputs.push_back(core::Tensor::empty(type.shape, type.dtype));
    execute(graph, inputs, outputs);
    return outputs;
  }

  void run_into(const ir::KernelGraph& graph, const std::vector<core::Tensor>& inputs,
                const std::vector<core::Tensor>& outputs) override {
    check_run_arguments(*this, graph, inputs);
    check_output_tensors(graph, outputs, core::DeviceKind::Cpu);
    execute(graph, inputs, outputs);
  }

  double estimate_cost(const ir::KernelGraph& graph) const override {
    return estimate_microseconds(graph, cpu::cpu_machine_model());
  }
  bool can_profile() const override { return true; }

 private:
  // Runs the nodes in order; graph outputs produced by a node are written straight into
  // `outputs`, intermediates are freed after their last use.
  void execute(const ir::KernelGraph& graph, const std::vector<core::Tensor>& inputs,
               const std::vector<core::Tensor>& outputs) {
    const auto& nodes = graph.nodes();
    std::vector<std::vector<core::Tensor>> values(nodes.size());
    std::vector<int> uses(nodes.size(), 0);
    for (const auto& node : nodes) {
      for (const auto& operand : node.inputs) ++uses[operand.node];
    }
    // Where each node output goes: a caller's tensor (first output naming it) or a new one.
    std::map<std::pair<int32_t, int32_t>, std::size_t> destination;
    std::vector<bool> written(outputs.size(), false);
    for (std::size_t i = 0; i < graph.outputs().size(); ++i) {
      const ir::TensorRef ref = graph.outputs()[i];
      ++uses[ref.node];
      if (nodes[ref.node].op == ir::OpKind::Input) continue;
      if (destination.emplace(std::make_pair(ref.node, ref.output), i).second) written[i] = true;
    }
    std::size_t next_input = 0;
    for (std::size_t index = 0; index < nodes.size(); ++index) {
      const ir::Node& node = nodes[index];
      if (node.op == ir::OpKind::Input) {
        const core::Tensor& input = inputs[next_input];
        YR_USER_CHECK(input.device().kind == core::DeviceKind::Cpu,
                      "input " << next_input << " lives on " << input.device().to_string()
                               << "; expected a host tensor for the cpu backend");
        values[index].push_back(input.contiguous());
        ++next_input;
        continue;
      }
      std::vector<core::Tensor> operands;
      for (const auto& operand : node.inputs)
        operands.push_back(values[operand.node][operand.output]);
      std::vector<core::Tensor> results;
      for (std::size_t o = 0; o < node.outputs.size(); ++o) {
        const auto found = destination.find({static_cast<int32_t>(index), static_cast<int32_t>(o)});
        results.push_back(found != destination.end()
                              ? outputs[found->second]
                              : core::Tensor::empty(node.outputs[o].shape, node.outputs[o].dtype));
      }
      if (node.op == ir::OpKind::Customized) {
        YR_INTERNAL_CHECK(node.block_graph != nullptr,
                          "customized node " << index << " has no block graph");
        kernel_for(node.block_graph)->run(operands, results);
      } else {
        cpu::run_op(node, operands, results);
      }
      values[index] = std::move(results);
      for (const auto& operand : node.inputs) {
        if (--uses[operand.node] == 0) values[operand.node].clear();
      }
    }
    for (std::size_t i = 0; i < outputs.size(); ++i) {
      if (written[i]) continue;
      const ir::TensorRef ref = graph.outputs()[i];
      const core::Tensor& source = values[ref.node][ref.output];
      std::memcpy(outputs[i].data(), source.data(), source.nbytes());
    }
  }

  // The compiled kernel of a block graph, memoised per graph object (held alive here, so its
  // address is never reused for another graph).
  std::shared_ptr<const cpu::BlockKernel> kernel_for(
      const std::shared_ptr<const ir::BlockGraph>& graph) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      const auto found = kernels_.find(graph.get());
      if (found != kernels_.end()) return found->second.second;
    }
    auto kernel = cpu::compile_block_graph(*graph);
    std::lock_guard<std::mutex> lock(mutex_);
    kernels_.emplace(graph.get(), std::make_pair(graph, kernel));
    return kernel;
  }

  std::mutex mutex_;
  std::map<const ir::BlockGraph*, std::pair<std::shared_ptr<const ir::BlockGraph>,
                                            std::shared_ptr<const cpu::BlockKernel>>>
      kernels_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend() {
  return std::make_unique<CpuBackend>();
}

}  // namespace yirage::backend
