#include "yirage/backend/cost_model.h"

#include <algorithm>

namespace yirage::backend {

double bytes_of(const ir::TensorType& type) {
  return static_cast<double>(core::shape_numel(type.shape) *
                             static_cast<int64_t>(core::dtype_size(type.dtype)));
}

std::pair<double, double> block_traffic(const ir::BlockGraph& graph) {
  double bytes = 0.0, flops = 0.0;
  const double blocks = static_cast<double>(graph.num_blocks());
  const double iterations = static_cast<double>(graph.forloop_range());
  for (const auto& input : graph.inputs()) {
    const ir::TensorType& tile = graph.nodes()[input.node].outputs[0];
    bytes += bytes_of(tile) * blocks * (input.forloop_dim >= 0 ? iterations : 1.0);
  }
  for (const auto& output : graph.outputs()) bytes += bytes_of(output.dtensor);
  for (const auto& node : graph.nodes()) {
    if (node.kind != ir::BlockNodeKind::Op || node.op != ir::OpKind::Matmul) continue;
    const ir::TensorType& a = graph.type(node.inputs[0]);
    const double per_tile = 2.0 * static_cast<double>(core::shape_numel(node.outputs[0].shape)) *
                            static_cast<double>(a.shape.back());
    flops += per_tile * blocks * (node.phase == ir::Phase::Loop ? iterations : 1.0);
  }
  return {bytes, flops};
}

double block_working_set(const ir::BlockGraph& graph) {
  double bytes = 0.0;
  for (const auto& input : graph.inputs()) bytes += bytes_of(graph.nodes()[input.node].outputs[0]);
  for (const auto& node : graph.nodes()) {
    if (node.kind == ir::BlockNodeKind::Accumulate) bytes += bytes_of(node.outputs[0]);
  }
  return bytes;
}

double block_microseconds(const ir::BlockGraph& graph, const MachineModel& machine) {
  auto [bytes, flops] = block_traffic(graph);
  const double blocks = static_cast<double>(graph.num_blocks());
  const double iterations = static_cast<double>(graph.forloop_range());
  const double spill = block_working_set(graph) - machine.fast_memory_bytes;
  if (spill > 0) bytes += 2.0 * spill * blocks * iterations;
  const double share =
      std::min(1.0, blocks / static_cast<double>(std::max<int64_t>(1, machine.parallel_units)));
  const double memory = bytes / (machine.bytes_per_microsecond * share);
  const double compute = flops / (machine.flops_per_microsecond * share);
  return std::max(memory, compute) + std::min(memory, compute) / iterations;
}

double estimate_microseconds(const ir::KernelGraph& graph, const MachineModel& machine) {
  double microseconds = 0.0;
  for (const auto& node : graph.nodes()) {
    if (node.op == ir::OpKind::Input) continue;
    double bytes = 0.0, flops = 0.0;
    if (node.op == ir::OpKind::Customized) {
      microseconds += machine.launch_microseconds + block_microseconds(*node.block_graph, machine);
      continue;
    } else {
      for (const auto& input : node.inputs) bytes += bytes_of(graph.type(input));
      for (const auto& output : node.outputs) bytes += bytes_of(output);
      if (node.op == ir::OpKind::Matmul) {
        flops = 2.0 * static_cast<double>(core::shape_numel(node.outputs[0].shape)) *
                static_cast<double>(graph.type(node.inputs[0]).shape.back());
      }
    }
    microseconds += machine.launch_microseconds + std::max(bytes / machine.bytes_per_microsecond,
                                                           flops / machine.flops_per_microsecond);
  }
  return microseconds;
}

}  // namespace yirage::backend
