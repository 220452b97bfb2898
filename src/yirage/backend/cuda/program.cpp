#include "yirage/backend/cuda/program.h"

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "yirage/backend/cuda/autotune.h"
#include "yirage/backend/cuda/block_codegen.h"
#include "yirage/backend/cuda/cublaslt.h"
#include "yirage/backend/cuda/dependent_launch.h"
#include "yirage/backend/cuda/gemv_codegen.h"
#include "yirage/backend/cuda/graph_identity.h"
#include "yirage/backend/cuda/op_codegen.h"
#include "yirage/backend/cuda/runtime.h"
#include "yirage/core/error.h"
#include "yirage/core/log.h"
#include "yirage/ir/block_graph.h"

namespace yirage::backend::cuda {

namespace {

enum class StepKind { Input, Alias, Folded, Kernel, Gemm, Block };

std::vector<ir::TensorType> operand_types(const ir::KernelGraph& graph, const ir::Node& node) {
  std::vector<ir::TensorType> types;
  for (const auto& ref : node.inputs) types.push_back(graph.type(ref));
  return types;
}

// Exact structure of a graph, node by node in insertion order (block graphs by identity: the
// cached program holds them alive).
}  // namespace

struct Program::Step {
  StepKind kind = StepKind::Kernel;
  int32_t node = 0;
  int32_t input_index = -1;
  std::vector<int32_t> operands;  // slots read (a folded transpose: its source)
  std::vector<int32_t> results;   // slots written
  KernelSource source;
  Kernel kernel;
  std::size_t scratch_bytes = 0;
  std::shared_ptr<void> scratch;  // kept block-graph scratch
  // Library GEMMs: cuBLASLt, the generated GEMV for few rows, or the generated tiled kernel.
  GemmShape gemm;
  std::optional<GemvKernel> gemv;
  Kernel gemv_kernel;
  std::shared_ptr<void> gemv_partial, gemv_counters;
  std::atomic<int> choice{-1};  // -1 undecided, else a GemmChoice
};

namespace {

enum GemmChoice : int { kCublas = 0, kGemv = 1, kTiled = 2 };

// YIRAGE_CUDA_GEMM=cublaslt|gemv|tiled forces the GEMM kernel where it applies (tests, studies).
std::string forced_gemm() {
  const char* value = std::getenv("YIRAGE_CUDA_GEMM");
  return value != nullptr ? value : "";
}

}  // namespace

Program::Program(Runtime& runtime, const ir::KernelGraph& graph)
    : runtime_(runtime), graph_(graph) {
  const auto& nodes = graph_.nodes();
  const int shared_limit = runtime_.properties().shared_per_block_optin;
  const int multiprocessors = runtime_.properties().multiprocessors;
  std::vector<bool> library_gemm(nodes.size(), false);
  const bool have_cublaslt = cublaslt_available();
  for (std::size_t n = 0; n < nodes.size(); ++n) {
    GemmShape shape;
    library_gemm[n] = nodes[n].op == ir::OpKind::Matmul && have_cublaslt &&
                      matmul_gemm_shape(graph_, nodes[n], shape);
  }
  plan_ = plan_buffers(graph_, [&](int32_t n) { return library_gemm[n]; });
  kept_.resize(plan_.slots());
  for (std::size_t n = 0; n < nodes.size(); ++n) {
    const ir::Node& node = nodes[n];
    auto step = std::make_unique<Step>();
    step->node = static_cast<int32_t>(n);
    for (const auto& ref : node.inputs) step->operands.push_back(plan_.slot(ref));
    for (std::size_t o = 0; o < node.outputs.size(); ++o)
      step->results.push_back(plan_.first_slot[n] + static_cast<int32_t>(o));
    if (node.op == ir::OpKind::Input) {
      step->kind = StepKind::Input;
      for (std::size_t k = 0; k < graph_.input_nodes().size(); ++k) {
        if (graph_.input_nodes()[k] == static_cast<int32_t>(n))
          step->input_index = static_cast<int32_t>(k);
      }
    } else if (node.op == ir::OpKind::Reshape) {
      step->kind = StepKind::Alias;
      ++stats_.aliases;
    } else if (plan_.folded[n]) {
      step->kind = StepKind::Folded;
      ++stats_.folded;
    } else if (node.op == ir::OpKind::Customized) {
      step->kind = StepKind::Block;
      BlockKernel block = generate_block_kernel(*node.block_graph, shared_limit);
      step->source = std::move(block.kernel);
      step->scratch_bytes = block.scratch_bytes;
      ++stats_.fused;
    } else if (library_gemm[n]) {
      step->kind = StepKind::Gemm;
      matmul_gemm_shape(graph_, node, step->gemm);
      if (plan_.reads_b_transposed[n]) {
        step->gemm.b_transposed = true;
        step->operands[1] = plan_.slot(nodes[node.inputs[1].node].inputs[0]);
      }
      step->gemv = generate_gemv_kernel(step->gemm, multiprocessors);
      if (step->gemv) {  // an optional candidate: one that fails to build is left out
        try {
          step->gemv_kernel = runtime_.kernel(step->gemv->kernel.source, step->gemv->kernel.entry);
        } catch (const core::Error& error) {
          YR_LOG(Warn) << "GEMV left out for a " << step->gemm.m << "x" << step->gemm.k << "x"
                       << step->gemm.n << " product: " << error.what();
          step->gemv.reset();
        }
      }
      ++stats_.gemms;
    } else {
      step->kind = StepKind::Kernel;
      step->source = generate_op_kernel(node, operand_types(graph_, node), multiprocessors);
      checks_ids_ = checks_ids_ || node.op == ir::OpKind::Embedding;
      ++stats_.generated;
    }
    if (step->kind == StepKind::Kernel || step->kind == StepKind::Block) {
      step->kernel =
          runtime_.kernel(step->source.source, step->source.entry, step->source.shared_bytes);
    }
    steps_.push_back(std::move(step));
  }
}

Program::~Program() {
  kept_bytes_total().fetch_sub(kept_bytes_);
}

std::atomic<std::size_t>& Program::kept_bytes_total() {
  static std::atomic<std::size_t> total{0};
  return total;
}

void Program::run_gemm(Step& step, const std::vector<void*>& args, void* out, bool owner) {
  const ir::Node& node = graph_.nodes()[step.node];
  const void* a = args[0];
  const void* b = args[1];
  auto launch_gemv = [&] {
    void* params_a = const_cast<void*>(a);
    void* params_b = const_cast<void*>(b);
    void* partial = step.gemv_partial.get();
    void* counters = step.gemv_counters.get();
    launch_dependent(runtime_, step.gemv_kernel, step.gemv->kernel.grid, step.gemv->kernel.block,
                     {&params_a, &params_b, &out, &partial, &counters});
    return true;
  };
  auto prepare_gemv = [&] {
    if (step.gemv->counter_bytes > 0 && !step.gemv_counters) {
      step.gemv_partial = runtime_.allocate(step.gemv->partial_bytes);
      step.gemv_counters = runtime_.allocate(step.gemv->counter_bytes);
      const std::vector<unsigned char> zeros(step.gemv->counter_bytes, 0);
      runtime_.copy_to_device(step.gemv_counters.get(), zeros.data(), zeros.size());
      runtime_.synchronize();
    }
  };
  if (step.choice.load() < 0) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (step.choice.load() < 0) {
      const std::string forced = forced_gemm();
      const bool capturing = stream_capturing(runtime_);
      if (forced == "tiled") {
        step.choice = kTiled;
      } else if (forced == "gemv" && step.gemv && owner && !capturing) {
        prepare_gemv();
        step.choice = kGemv;
      } else if (forced == "cublaslt") {
        step.choice = kCublas;
      } else if (capturing) {  // nothing can be timed now: the library call
        if (cublaslt_matmul(runtime_, step.gemm, a, b, out)) return;
        step.choice = kTiled;
      } else {
        std::vector<std::function<bool()>> candidates = {
            [&] { return cublaslt_matmul(runtime_, step.gemm, a, b, out); }};
        if (step.gemv && owner) {
          prepare_gemv();
          candidates.push_back(launch_gemv);
        }
        const int fastest = fastest_candidate(runtime_, candidates);
        step.choice = fastest < 0 ? kTiled : fastest;
      }
      if (step.choice == kTiled) {
        step.source =
            generate_matmul_kernel(node, operand_types(graph_, node), step.gemm.b_transposed);
        step.kernel = runtime_.kernel(step.source.source, step.source.entry, 0);
      }
    }
  }
  const int choice = step.choice.load();
  if (choice == kGemv && owner) {
    launch_gemv();
    return;
  }
  if (choice != kTiled && cublaslt_matmul(runtime_, step.gemm, a, b, out)) return;
  if (!step.kernel.function) {
    std::lock_guard<std::mutex> lock(mutex_);
    step.source = generate_matmul_kernel(node, operand_types(graph_, node), step.gemm.b_transposed);
    step.kernel = runtime_.kernel(step.source.source, step.source.entry, 0);
  }
  void* params_a = const_cast<void*>(a);
  void* params_b = const_cast<void*>(b);
  launch_dependent(runtime_, step.kernel, step.source.grid, step.source.block,
                   {&params_a, &params_b, &out});
}

std::vector<core::Tensor> Program::run(const std::vector<core::Tensor>& inputs) {
  YR_USER_CHECK(
      inputs.size() == graph_.input_nodes().size(),
      "CUDA program takes " << graph_.input_nodes().size() << " inputs; got " << inputs.size());
  const bool owner = !busy_.exchange(true, std::memory_order_acquire);
  struct Release {
    std::atomic<bool>& busy;
    bool owner;
    ~Release() {
      if (owner) busy.store(false, std::memory_order_release);
    }
  } release{busy_, owner};
  const auto& nodes = graph_.nodes();
  std::vector<void*> address(plan_.slots(), nullptr);
  std::vector<core::Tensor> fresh(plan_.slots());
  std::vector<std::shared_ptr<void>> temporary;
  // Kept buffers come out of a process-wide budget (an eighth of device memory, at most 1 GiB:
  // cached programs never release theirs); past it, runs allocate from the pool as they go.
  const std::size_t budget =
      std::min<std::size_t>(std::size_t{1} << 30, runtime_.properties().memory_bytes / 8);
  auto buffer = [&](std::shared_ptr<void>& kept, std::size_t bytes) -> void* {
    if (owner && !kept) {
      std::size_t total = kept_bytes_total().load();
      while (total + bytes <= budget &&
             !kept_bytes_total().compare_exchange_weak(total, total + bytes)) {
      }
      if (total + bytes <= budget) {
        kept = runtime_.allocate(bytes);
        kept_bytes_ += bytes;
      }
    }
    if (owner && kept) return kept.get();
    return temporary.emplace_back(runtime_.allocate(bytes)).get();
  };
  for (const auto& step : steps_) {
    const ir::Node& node = nodes[step->node];
    if (step->kind == StepKind::Folded) continue;
    for (std::size_t o = 0; o < step->results.size(); ++o) {
      const int32_t slot = step->results[o];
      if (step->kind == StepKind::Input) {
        address[slot] = inputs[step->input_index].data();
        YR_USER_CHECK(reinterpret_cast<uintptr_t>(address[slot]) % 16 == 0,
                      "CUDA program input " << step->input_index
                                            << " must start on a 16-byte boundary (kernels use "
                                               "16-byte vector loads); got "
                                            << address[slot]);
      } else if (plan_.root[slot] != slot) {
        address[slot] = address[plan_.root[slot]];
      } else if (plan_.fresh[slot]) {
        fresh[slot] = runtime_.empty(node.outputs[o].shape, node.outputs[o].dtype);
        address[slot] = fresh[slot].data();
      } else {
        const std::size_t bytes = std::max<std::size_t>(
            1, static_cast<std::size_t>(core::shape_numel(node.outputs[o].shape)) *
                   core::dtype_size(node.outputs[o].dtype));
        address[slot] = buffer(kept_[slot], bytes);
      }
    }
  }
  void* status = nullptr;
  if (checks_ids_) {
    static const int zeros[3] = {0, 0, 0};
    status = buffer(kept_status_, sizeof(zeros));
    runtime_.copy_to_device(status, zeros, sizeof(zeros));
  }
  std::vector<void*> args;
  std::vector<void*> params;
  for (const auto& step : steps_) {
    if (step->kind == StepKind::Input || step->kind == StepKind::Alias ||
        step->kind == StepKind::Folded)
      continue;
    const ir::Node& node = nodes[step->node];
    args.clear();
    for (int32_t slot : step->operands) args.push_back(address[slot]);
    if (step->kind == StepKind::Gemm) {
      run_gemm(*step, args, address[step->results[0]], owner);
      continue;
    }
    for (int32_t slot : step->results) args.push_back(address[slot]);
    if (step->kind == StepKind::Block) {
      args.push_back(step->scratch_bytes > 0 ? buffer(step->scratch, step->scratch_bytes)
                                             : nullptr);
    }
    if (node.op == ir::OpKind::Embedding) args.push_back(status);
    params.clear();
    for (void*& arg : args) params.push_back(&arg);
    // Generated single-op kernels, and block kernels that say so, open with the prologue.
    if (step->kind == StepKind::Kernel || step->source.dependent) {
      launch_dependent(runtime_, step->kernel, step->source.grid, step->source.block, params);
    } else {
      runtime_.launch(step->kernel, step->source.grid, step->source.block, params);
    }
  }
  if (checks_ids_) {
    int result[3] = {0, 0, 0};
    runtime_.copy_to_host(result, status, sizeof(result));
    YR_USER_CHECK(result[0] == 0, "embedding: id " << result[1] << " at position " << result[2]
                                                   << " is out of range for the table");
  }
  std::vector<core::Tensor> outputs;
  for (const auto& ref : graph_.outputs()) {
    const int32_t slot = plan_.slot(ref), root = plan_.root[slot];
    const ir::TensorType& type = graph_.type(ref);
    const core::Tensor* source = nullptr;
    if (plan_.input[root]) {
      for (const auto& step : steps_) {
        if (step->kind == StepKind::Input && step->results[0] == root)
          source = &inputs[step->input_index];
      }
    } else {
      source = &fresh[root];
    }
    YR_INTERNAL_CHECK(source != nullptr && source->defined(), "graph output without a buffer");
    if (slot == root) {
      outputs.push_back(*source);
    } else {
      outputs.push_back(core::Tensor::borrow(source->data(), type.shape, {}, type.dtype,
                                             source->device(), source->storage()));
    }
  }
  return outputs;
}

std::shared_ptr<Program> program_for(Runtime& runtime, const ir::KernelGraph& graph) {
  static std::mutex mutex;
  static std::unordered_multimap<uint64_t, std::shared_ptr<Program>> programs;
  const uint64_t key = structure_hash(graph);
  const auto find = [&]() -> std::shared_ptr<Program> {
    for (auto [at, end] = programs.equal_range(key); at != end; ++at) {
      if (same_structure(at->second->graph(), graph)) return at->second;
    }
    return nullptr;
  };
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (auto found = find()) return found;
  }
  auto program = std::make_shared<Program>(runtime, graph);
  std::lock_guard<std::mutex> lock(mutex);
  if (auto found = find()) return found;  // built meanwhile on another thread
  programs.emplace(key, program);
  return program;
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
