#include "yirage/backend/cuda/program.h"

#include <map>
#include <mutex>
#include <sstream>

#include "yirage/backend/cuda/block_codegen.h"
#include "yirage/backend/cuda/cublaslt.h"
#include "yirage/backend/cuda/op_codegen.h"
#include "yirage/backend/cuda/runtime.h"
#include "yirage/core/error.h"
#include "yirage/ir/block_graph.h"

namespace yirage::backend::cuda {

namespace {

enum class StepKind { Input, Alias, Kernel, Gemm, Block };

std::vector<ir::TensorType> operand_types(const ir::KernelGraph& graph, const ir::Node& node) {
  std::vector<ir::TensorType> types;
  for (const auto& ref : node.inputs) types.push_back(graph.type(ref));
  return types;
}

// A matmul cuBLASLt can run: float dtype and batch dims that are either the output's or absent.
bool gemm_shape(const ir::KernelGraph& graph, const ir::Node& node, GemmShape& shape) {
  const auto& a = graph.type(node.inputs[0]);
  const auto& b = graph.type(node.inputs[1]);
  const auto& out = node.outputs[0].shape;
  if (!core::dtype_is_float(a.dtype)) return false;
  const std::size_t rank = out.size();
  shape.m = out[rank - 2];
  shape.n = out[rank - 1];
  shape.k = a.shape.back();
  shape.dtype = a.dtype;
  shape.batches = 1;
  for (std::size_t d = 0; d + 2 < rank; ++d) shape.batches *= out[d];
  auto stride = [&](const core::Shape& operand, int64_t matrix, int64_t& result) {
    const int64_t own = core::shape_numel(operand) / matrix;
    if (own == 1) {
      result = 0;
      return true;
    }
    const core::Shape batch(out.begin(), out.end() - 2);
    const core::Shape operand_batch(operand.begin(), operand.end() - 2);
    core::Shape padded(batch.size() - operand_batch.size(), 1);
    padded.insert(padded.end(), operand_batch.begin(), operand_batch.end());
    result = matrix;
    return padded == batch;
  };
  return stride(a.shape, shape.m * shape.k, shape.a_stride) &&
         stride(b.shape, shape.k * shape.n, shape.b_stride);
}

// Exact structure of a graph, node by node in insertion order (block graphs by identity: the
// cached program holds them alive).
std::string structure_key(const ir::KernelGraph& graph) {
  std::ostringstream key;
  for (const auto& node : graph.nodes()) {
    key << static_cast<int>(node.op) << "(";
    for (const auto& ref : node.inputs) key << ref.node << "." << ref.output << ",";
    key << ")";
    for (const auto& [name, value] : node.attrs.values())
      key << name << "=" << ir::attr_value_to_string(value) << ";";
    for (const auto& type : node.outputs) key << type.to_string();
    if (node.block_graph) key << "@" << node.block_graph.get();
    key << "|";
  }
  key << "in";
  for (int32_t index : graph.input_nodes()) key << index << ",";
  key << "out";
  for (const auto& ref : graph.outputs()) key << ref.node << "." << ref.output << ",";
  return key.str();
}

}  // namespace

struct Program::Step {
  StepKind kind = StepKind::Kernel;
  int32_t node = 0;
  int32_t input_index = -1;
  KernelSource source;
  Kernel kernel;
  bool compiled = false;
  GemmShape gemm;
  std::size_t scratch_bytes = 0;
};

Program::Program(Runtime& runtime, const ir::KernelGraph& graph)
    : runtime_(runtime), graph_(graph) {
  const auto& nodes = graph_.nodes();
  const int shared_limit = runtime_.properties().shared_per_block_optin;
  for (std::size_t n = 0; n < nodes.size(); ++n) {
    const ir::Node& node = nodes[n];
    auto step = std::make_unique<Step>();
    step->node = static_cast<int32_t>(n);
    if (node.op == ir::OpKind::Input) {
      step->kind = StepKind::Input;
      for (std::size_t k = 0; k < graph_.input_nodes().size(); ++k) {
        if (graph_.input_nodes()[k] == static_cast<int32_t>(n))
          step->input_index = static_cast<int32_t>(k);
      }
    } else if (node.op == ir::OpKind::Reshape) {
      step->kind = StepKind::Alias;
      ++stats_.aliases;
    } else if (node.op == ir::OpKind::Customized) {
      step->kind = StepKind::Block;
      BlockKernel block = generate_block_kernel(*node.block_graph, shared_limit);
      step->source = std::move(block.kernel);
      step->scratch_bytes = block.scratch_bytes;
      ++stats_.fused;
    } else if (node.op == ir::OpKind::Matmul && cublaslt_available() &&
               gemm_shape(graph_, node, step->gemm)) {
      step->kind = StepKind::Gemm;
      ++stats_.gemms;
    } else {
      step->kind = StepKind::Kernel;
      step->source = generate_op_kernel(node, operand_types(graph_, node));
      checks_ids_ = checks_ids_ || node.op == ir::OpKind::Embedding;
      ++stats_.generated;
    }
    if (step->kind == StepKind::Kernel || step->kind == StepKind::Block) {
      step->kernel =
          runtime_.kernel(step->source.source, step->source.entry, step->source.shared_bytes);
      step->compiled = true;
    }
    steps_.push_back(std::move(step));
  }
}

Program::~Program() = default;

std::vector<core::Tensor> Program::run(const std::vector<core::Tensor>& inputs) {
  const auto& nodes = graph_.nodes();
  std::vector<std::vector<core::Tensor>> values(nodes.size());
  std::shared_ptr<void> status;
  if (checks_ids_) {
    status = runtime_.allocate(3 * sizeof(int));
    const int zeros[3] = {0, 0, 0};
    runtime_.copy_to_device(status.get(), zeros, sizeof(zeros));
  }
  for (const auto& step : steps_) {
    const ir::Node& node = nodes[step->node];
    auto& out = values[step->node];
    switch (step->kind) {
      case StepKind::Input:
        out.push_back(inputs[step->input_index]);
        continue;
      case StepKind::Alias: {
        const core::Tensor& source = values[node.inputs[0].node][node.inputs[0].output];
        out.push_back(core::Tensor::borrow(source.data(), node.outputs[0].shape, {}, source.dtype(),
                                           source.device(), source.storage()));
        continue;
      }
      default:
        break;
    }
    for (const auto& type : node.outputs) out.push_back(runtime_.empty(type.shape, type.dtype));
    std::vector<void*> args;
    for (const auto& ref : node.inputs) args.push_back(values[ref.node][ref.output].data());
    if (step->kind == StepKind::Gemm) {
      if (cublaslt_matmul(runtime_, step->gemm, args[0], args[1], out[0].data())) continue;
      step->source = generate_op_kernel(node, operand_types(graph_, node));  // no algorithm
      step->kernel = runtime_.kernel(step->source.source, step->source.entry, 0);
      step->kind = StepKind::Kernel;
    }
    for (const auto& tensor : out) args.push_back(tensor.data());
    std::shared_ptr<void> scratch;
    if (step->kind == StepKind::Block) {
      if (step->scratch_bytes > 0) scratch = runtime_.allocate(step->scratch_bytes);
      args.push_back(scratch.get());
    }
    if (node.op == ir::OpKind::Embedding) args.push_back(status.get());
    std::vector<void*> params;
    for (void*& arg : args) params.push_back(&arg);
    runtime_.launch(step->kernel, step->source.grid, step->source.block, params);
  }
  if (checks_ids_) {
    int result[3] = {0, 0, 0};
    runtime_.copy_to_host(result, status.get(), sizeof(result));
    YR_USER_CHECK(result[0] == 0, "embedding: id " << result[1] << " at position " << result[2]
                                                   << " is out of range for the table");
  }
  std::vector<core::Tensor> outputs;
  for (const auto& ref : graph_.outputs()) outputs.push_back(values[ref.node][ref.output]);
  return outputs;
}

std::shared_ptr<Program> program_for(Runtime& runtime, const ir::KernelGraph& graph) {
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<Program>> programs;
  const std::string key = structure_key(graph);
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (auto found = programs.find(key); found != programs.end()) return found->second;
  }
  auto program = std::make_shared<Program>(runtime, graph);
  std::lock_guard<std::mutex> lock(mutex);
  return programs.emplace(key, program).first->second;
}

std::vector<std::string> generated_sources(const ir::KernelGraph& graph, int shared_limit) {
  std::vector<std::string> sources;
  for (const auto& node : graph.nodes()) {
    if (node.op == ir::OpKind::Input || node.op == ir::OpKind::Reshape) continue;
    if (node.op == ir::OpKind::Customized) {
      sources.push_back(generate_block_kernel(*node.block_graph, shared_limit).kernel.source);
    } else {
      sources.push_back(generate_op_kernel(node, operand_types(graph, node)).source);
    }
  }
  return sources;
}

}  // namespace yirage::backend::cuda
