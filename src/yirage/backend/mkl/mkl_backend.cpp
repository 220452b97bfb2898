#include "yirage/backend/mkl/mkl_backend.h"

#include <cstring>
#include <map>

#include "yirage/backend/mkl/dnnl_matmul.h"
#include "yirage/backend/registry.h"
#include "yirage/core/cpu_features.h"
#include "yirage/core/error.h"
#include "yirage/ir/block_graph.h"

namespace yirage::backend {

namespace {

using core::Tensor;
using ir::KernelGraph;
using ir::Node;
using ir::TensorRef;

// Where every node but float matmuls runs.
Backend& delegate_backend() {
  return get_backend("cpu");
}

bool runs_on_dnnl(const KernelGraph& graph, const Node& node) {
  if (node.op != ir::OpKind::Matmul) return false;
  const core::DType dtype = graph.type(node.inputs[0]).dtype;
  return dtype == core::DType::F32 || dtype == core::DType::BF16;
}

// A graph of `node` alone over fresh inputs of its operand types.
KernelGraph single_node_graph(const KernelGraph& graph, const Node& node) {
  KernelGraph single;
  std::vector<TensorRef> operands;
  for (const TensorRef& input : node.inputs) {
    const auto& type = graph.type(input);
    operands.push_back(single.input(type.shape, type.dtype));
  }
  const auto outputs = node.op == ir::OpKind::Customized
                           ? single.customized(operands, node.block_graph)
                           : single.add_node(node.op, operands, node.attrs);
  for (const TensorRef& output : outputs) single.mark_output(output);
  return single;
}

class MklBackend final : public Backend {
 public:
  std::string_view name() const override { return "mkl"; }
  std::string_view description() const override {
    return "oneDNN GEMMs for float32/bfloat16 matmuls, the cpu backend for every other op";
  }
  Availability available() const override {
    if (!mkl::built_with_dnnl()) return {false, "built without oneDNN (install libdnnl-dev)"};
    const Availability rest = delegate_backend().available();
    if (!rest.available) {
      return {false, "its backend for non-matmul ops, '" + std::string(delegate_backend().name()) +
                         "', is not available: " + rest.reason};
    }
    return {true, ""};
  }
  DeviceInfo device_info() const override {
    const auto& cpu = core::cpu_features();
    return {cpu.model.empty() ? "host CPU" : cpu.model,
            {{"threads", std::to_string(cpu.hardware_threads)},
             {"gemm", mkl::dnnl_description()},
             {"other ops", std::string(delegate_backend().name())}}};
  }
  bool supports(ir::OpKind op) const override {
    return op == ir::OpKind::Matmul || delegate_backend().supports(op);
  }
  bool can_profile() const override { return available().available; }

  std::vector<Tensor> run(const KernelGraph& graph, const std::vector<Tensor>& inputs) override {
    check_run_arguments(*this, graph, inputs);
    return execute(graph, inputs, {});
  }

  void run_into(const KernelGraph& graph, const std::vector<Tensor>& inputs,
                const std::vector<Tensor>& outputs) override {
    check_run_arguments(*this, graph, inputs);
    check_output_tensors(graph, outputs);
    execute(graph, inputs, outputs);
  }

 private:
  // Runs every node in order. Graph outputs computed by a node are written straight into the
  // caller's `outputs` when given; the rest (inputs marked as outputs, a tensor marked twice)
  // are copied at the end.
  std::vector<Tensor> execute(const KernelGraph& graph, const std::vector<Tensor>& inputs,
                              const std::vector<Tensor>& outputs) {
    std::map<std::pair<int32_t, int32_t>, Tensor> destinations;
    for (std::size_t i = 0; i < outputs.size(); ++i) {
      const TensorRef ref = graph.outputs()[i];
      if (graph.node(ref.node).op == ir::OpKind::Input) continue;
      destinations.emplace(std::make_pair(ref.node, ref.output), outputs[i]);
    }
    const auto destination = [&](int32_t node, int32_t output) {
      const auto found = destinations.find({node, output});
      if (found != destinations.end()) return found->second;
      const auto& type = graph.node(node).outputs[static_cast<std::size_t>(output)];
      return Tensor::empty(type.shape, type.dtype);
    };

    std::vector<std::vector<Tensor>> values(graph.nodes().size());
    const auto& input_nodes = graph.input_nodes();
    for (std::size_t k = 0; k < input_nodes.size(); ++k) {
      values[static_cast<std::size_t>(input_nodes[k])] = {inputs[k].contiguous()};
    }
    Backend& rest = delegate_backend();
    for (int32_t index = 0; index < static_cast<int32_t>(graph.nodes().size()); ++index) {
      const Node& node = graph.node(index);
      if (node.op == ir::OpKind::Input) continue;
      std::vector<Tensor> operands;
      for (const TensorRef& input : node.inputs) {
        operands.push_back(
            values[static_cast<std::size_t>(input.node)][static_cast<std::size_t>(input.output)]);
      }
      std::vector<Tensor> results;
      for (int32_t k = 0; k < static_cast<int32_t>(node.outputs.size()); ++k) {
        results.push_back(destination(index, k));
      }
      if (runs_on_dnnl(graph, node)) {
        mkl::dnnl_matmul(operands[0], operands[1], results[0]);
      } else {
        rest.run_into(single_node_graph(graph, node), operands, results);
      }
      values[static_cast<std::size_t>(index)] = std::move(results);
    }

    std::vector<Tensor> results;
    for (const TensorRef& ref : graph.outputs()) {
      results.push_back(
          values[static_cast<std::size_t>(ref.node)][static_cast<std::size_t>(ref.output)]);
    }
    for (std::size_t i = 0; i < results.size(); ++i) {
      // run() hands back new tensors: never a caller's input.
      if (!outputs.empty() || graph.node(graph.outputs()[i].node).op != ir::OpKind::Input) continue;
      Tensor copy = Tensor::empty(results[i].shape(), results[i].dtype());
      std::memcpy(copy.data(), results[i].data(), copy.nbytes());
      results[i] = copy;
    }
    for (std::size_t i = 0; i < outputs.size(); ++i) {
      if (results[i].data() == outputs[i].data()) continue;
      std::memcpy(outputs[i].data(), results[i].data(), outputs[i].nbytes());
      results[i] = outputs[i];
    }
    return results;
  }
};

}  // namespace

std::unique_ptr<Backend> make_mkl_backend() {
  return std::make_unique<MklBackend>();
}

}  // namespace yirage::backend
