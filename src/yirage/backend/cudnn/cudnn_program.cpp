#include "yirage/backend/cudnn/cudnn_program.h"

#include <cmath>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>

#include "yirage/backend/cuda/cublaslt.h"
#include "yirage/backend/cuda/graph_identity.h"
#include "yirage/backend/cuda/program.h"
#include "yirage/backend/cuda/runtime.h"
#include "yirage/backend/cudnn/attention_pattern.h"
#include "yirage/backend/cudnn/cudnn_library.h"
#include "yirage/backend/cudnn/sdpa_plan.h"
#include "yirage/backend/random_inputs.h"
#include "yirage/core/error.h"
#include "yirage/core/log.h"

namespace yirage::backend::cudnn {

namespace {

using core::Tensor;
using ir::KernelGraph;
using ir::TensorRef;

// Largest relative L2 difference between cuDNN's attention and the generated kernels' on random
// inputs for the plan to be used (both round to 16-bit floats; a layout fault gives about 1).
constexpr double kAttentionCheckTolerance = 0.05;
// Engine configurations tried (in the heuristics' order) before an attention falls back.
constexpr int kAttentionAttempts = 3;

std::mutex counters_mutex;
Counters process_counters;

void count_attention(bool fused, const std::string& reason) {
  std::lock_guard<std::mutex> lock(counters_mutex);
  if (fused) {
    ++process_counters.fused_attention;
  } else {
    ++process_counters.attention_fallbacks;
    process_counters.last_fallback = reason;
  }
}

void count_gemm_fallback() {
  std::lock_guard<std::mutex> lock(counters_mutex);
  ++process_counters.gemm_fallbacks;
}

// A graph of `node` alone over fresh inputs of its operand types.
KernelGraph single_node_graph(const KernelGraph& graph, const ir::Node& node) {
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

double relative_error(const Tensor& got, const Tensor& want) {
  double diff = 0, norm = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    const double g = got.get(i), w = want.get(i);
    if (!std::isfinite(g)) return std::nan("");
    diff += (g - w) * (g - w);
    norm += w * w;
  }
  return std::sqrt(diff / std::max(norm, 1e-30));
}

}  // namespace

enum class StepKind { Program, Gemm, Attention };

struct CudnnProgram::Step {
  StepKind kind = StepKind::Program;
  int32_t node = -1;                             // the node whose outputs the step defines
  std::vector<TensorRef> inputs;                 // operands, as tensors of the graph
  ir::TensorType output_type;                    // the output (gemm and attention steps)
  std::shared_ptr<cuda::Program> program;        // the node alone; an attention's generated kernels
  cuda::GemmShape gemm;                          // a gemm step's product
  std::shared_ptr<SdpaPlan> attention;           // cuDNN's attention (null: `program` runs it)
  std::shared_ptr<cuda::Program> key_transpose;  // keys stored [.., d, s_kv] to [.., s_kv, d]
};

namespace {

// Runs a step's cuDNN attention over its operands (q, k, v and the mask).
Tensor run_fused_attention(cuda::Runtime& runtime, const std::shared_ptr<SdpaPlan>& attention,
                           const std::shared_ptr<cuda::Program>& key_transpose,
                           const ir::TensorType& output_type, const std::vector<Tensor>& operands) {
  Tensor keys = operands[1];
  if (key_transpose) keys = key_transpose->run({keys})[0];
  Tensor out = runtime.empty(output_type.shape, output_type.dtype);
  attention->execute(operands[0].data(), keys.data(), operands[2].data(),
                     operands.size() > 3 ? operands[3].data() : nullptr, out.data());
  return out;
}

}  // namespace

CudnnProgram::CudnnProgram(const KernelGraph& graph) : graph_(graph) {
  cuda::Runtime& runtime = cuda::Runtime::get();
  runtime.make_current();
  const std::vector<AttentionMatch> matches = find_attention(graph_);
  std::map<int32_t, const AttentionMatch*> by_output;
  std::set<int32_t> absorbed;
  for (const AttentionMatch& match : matches) {
    by_output[match.output_node] = &match;
    for (int32_t n : match.nodes) {
      if (n != match.output_node) absorbed.insert(n);
    }
  }
  const auto& nodes = graph_.nodes();
  for (int32_t n = 0; n < static_cast<int32_t>(nodes.size()); ++n) {
    const ir::Node& node = nodes[static_cast<std::size_t>(n)];
    if (node.op == ir::OpKind::Input || absorbed.count(n) != 0) continue;
    auto step = std::make_unique<Step>();
    step->node = n;
    step->output_type = node.outputs[0];
    if (const auto found = by_output.find(n); found != by_output.end()) {
      const AttentionMatch& match = *found->second;
      step->kind = StepKind::Attention;
      step->inputs = {match.q, match.k, match.v};
      if (match.mask) step->inputs.push_back(*match.mask);
      const KernelGraph alone = attention_graph(graph_, match);
      step->program = cuda::program_for(runtime, alone);
      std::string why;
      const auto shape = attention_shape(graph_, match, &why);
      if (shape) {
        if (match.keys_transposed) {
          KernelGraph transpose;
          const auto& type = graph_.type(match.k);
          const int64_t rank = static_cast<int64_t>(type.shape.size());
          transpose.mark_output(
              transpose.transpose(transpose.input(type.shape, type.dtype), rank - 2, rank - 1));
          step->key_transpose = cuda::program_for(runtime, transpose);
        }
        // Each plan is checked once on random inputs against the generated kernels; one that
        // disagrees or fails is never used, and the next engine configuration is tried.
        std::vector<Tensor> operands;
        Tensor want;
        for (int attempt = 0; attempt < kAttentionAttempts && !step->attention; ++attempt) {
          std::string refused;
          step->attention = SdpaPlan::build(*shape, &refused, attempt);
          if (!step->attention) {
            if (attempt == 0) why = refused;
            break;
          }
          if (operands.empty()) {
            for (const Tensor& input : random_inputs(alone, 29))
              operands.push_back(runtime.to_device(input));
            want = runtime.to_host(step->program->run(operands)[0]);
          }
          try {
            const Tensor got = runtime.to_host(run_fused_attention(
                runtime, step->attention, step->key_transpose, step->output_type, operands));
            const double error = relative_error(got, want);
            if (!(error <= kAttentionCheckTolerance)) {
              why = "cuDNN's fused attention differed from the generated kernels (relative error " +
                    std::to_string(error) + ")";
              step->attention.reset();
            }
          } catch (const core::UserError& error) {
            why = std::string("cuDNN's fused attention failed to run: ") + error.what();
            step->attention.reset();
          }
        }
      }
      count_attention(step->attention != nullptr, why);
      if (step->attention) {
        ++summary_.fused_attention;
      } else {
        ++summary_.attention_fallbacks;
        summary_.fallback_reasons.push_back(why);
        YR_LOG(Info) << "cudnn: attention " << alone.input_types()[0].to_string()
                     << " runs on the cuda backend's kernels: " << why;
      }
    } else if (node.op == ir::OpKind::Matmul && cuda::cublaslt_available() &&
               cuda::matmul_gemm_shape(graph_, node, step->gemm)) {
      step->kind = StepKind::Gemm;
      step->inputs = node.inputs;
      ++summary_.gemms;
    } else {
      step->kind = StepKind::Program;
      step->inputs = node.inputs;
      step->program = cuda::program_for(runtime, single_node_graph(graph_, node));
      ++summary_.kernels;
    }
    steps_.push_back(std::move(step));
  }
}

CudnnProgram::~CudnnProgram() = default;

std::vector<Tensor> CudnnProgram::run(const std::vector<Tensor>& inputs) {
  cuda::Runtime& runtime = cuda::Runtime::get();
  runtime.make_current();
  std::vector<std::vector<Tensor>> values(graph_.nodes().size());
  const auto& input_nodes = graph_.input_nodes();
  for (std::size_t k = 0; k < input_nodes.size(); ++k) {
    values[static_cast<std::size_t>(input_nodes[k])] = {inputs[k]};
  }
  const auto value = [&](TensorRef ref) -> const Tensor& {
    return values[static_cast<std::size_t>(ref.node)][static_cast<std::size_t>(ref.output)];
  };
  for (const auto& step : steps_) {
    std::vector<Tensor> operands;
    for (const TensorRef& ref : step->inputs) operands.push_back(value(ref));
    auto& out = values[static_cast<std::size_t>(step->node)];
    switch (step->kind) {
      case StepKind::Program:
        out = step->program->run(operands);
        break;
      case StepKind::Gemm: {
        Tensor product = runtime.empty(step->output_type.shape, step->output_type.dtype);
        if (cuda::cublaslt_matmul(runtime, step->gemm, operands[0].data(), operands[1].data(),
                                  product.data())) {
          out = {product};
          break;
        }
        count_gemm_fallback();  // no algorithm for the shape: the generated kernel
        step->program =
            cuda::program_for(runtime, single_node_graph(graph_, graph_.node(step->node)));
        step->kind = StepKind::Program;
        out = step->program->run(operands);
        break;
      }
      case StepKind::Attention:
        out = {step->attention ? run_fused_attention(runtime, step->attention, step->key_transpose,
                                                     step->output_type, operands)
                               : step->program->run(operands)[0]};
        break;
    }
  }
  std::vector<Tensor> outputs;
  for (const TensorRef& ref : graph_.outputs()) outputs.push_back(value(ref));
  return outputs;
}

std::shared_ptr<CudnnProgram> cudnn_program_for(const KernelGraph& graph) {
  static std::mutex mutex;
  static std::unordered_multimap<uint64_t, std::shared_ptr<CudnnProgram>> programs;
  const uint64_t key = cuda::structure_hash(graph);
  const auto find = [&]() -> std::shared_ptr<CudnnProgram> {
    for (auto [at, end] = programs.equal_range(key); at != end; ++at) {
      if (cuda::same_structure(at->second->graph(), graph)) return at->second;
    }
    return nullptr;
  };
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (auto found = find()) return found;
  }
  auto program = std::make_shared<CudnnProgram>(graph);
  std::lock_guard<std::mutex> lock(mutex);
  if (auto found = find()) return found;  // built meanwhile on another thread
  programs.emplace(key, program);
  return program;
}

Counters counters() {
  std::lock_guard<std::mutex> lock(counters_mutex);
  return process_counters;
}

PlanSummary plan_summary(const KernelGraph& graph) {
  const std::string reason = cudnn_unavailable_reason();
  YR_USER_CHECK(reason.empty(), "the cudnn backend is not available: " << reason);
  return cudnn_program_for(graph)->summary();
}

}  // namespace yirage::backend::cudnn
