// A kernel graph prepared for CUDA: one step per node (generated kernel, GEMM, fused block-graph
// kernel, or no launch for reshapes and transposes the GEMMs read in place), compiled once and
// run on device tensors. A GEMM runs through cuBLASLt or, for few rows, the generated GEMV,
// whichever was faster when timed on its first run.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "yirage/backend/cuda/program_plan.h"
#include "yirage/core/tensor.h"
#include "yirage/ir/kernel_graph.h"

namespace yirage::backend::cuda {

class Runtime;

/// How many steps of each kind a program holds.
struct ProgramStats {
  int generated = 0;  ///< generated single-op kernels
  int gemms = 0;      ///< library-shaped products (cuBLASLt or the timed GEMV)
  int fused = 0;      ///< block-graph kernels
  int aliases = 0;    ///< reshapes (no launch)
  int folded = 0;     ///< transposes read in place by the GEMMs after them (no launch)
};

/// A compiled kernel graph.
class Program {
 public:
  /// Generates and compiles (through the runtime's caches) every kernel of `graph`.
  Program(Runtime& runtime, const ir::KernelGraph& graph);
  ~Program();
  Program(const Program&) = delete;
  Program& operator=(const Program&) = delete;

  /// Queues the graph on the stream over contiguous, 16-byte aligned CUDA `inputs`; returns the
  /// outputs as new CUDA tensors. Waits only when the graph has an embedding (to check ids), and
  /// on the first run of a GEMM shape outside graph capture (to time its candidate kernels).
  /// Intermediate tensors live in buffers the program keeps across runs (stream order makes
  /// that safe), within a process-wide budget; a run overlapping another one on a second thread
  /// allocates its own. The environment variable YIRAGE_CUDA_GEMM=cublaslt|gemv|tiled forces a
  /// GEMM kernel where it applies, instead of the timed choice.
  std::vector<core::Tensor> run(const std::vector<core::Tensor>& inputs);
  /// Step counts.
  const ProgramStats& stats() const { return stats_; }
  /// The graph it runs (its own copy).
  const ir::KernelGraph& graph() const { return graph_; }

 private:
  struct Step;
  void run_gemm(Step& step, const std::vector<void*>& args, void* out, bool owner);
  Runtime& runtime_;
  const ir::KernelGraph graph_;
  BufferPlan plan_;
  std::vector<std::unique_ptr<Step>> steps_;
  ProgramStats stats_;
  bool checks_ids_ = false;
  std::atomic<bool> busy_{false};                       // a run holds the kept buffers
  static std::atomic<std::size_t>& kept_bytes_total();  // over all programs
  std::vector<std::shared_ptr<void>> kept_;             // per slot: buffer kept across runs
  std::size_t kept_bytes_ = 0;
  std::shared_ptr<void> kept_status_;  // embedding id check word
  std::mutex mutex_;                   // one-time choices of GEMM kernels
};

/// The program for `graph`, from a process-wide cache keyed by the graph's exact structure
/// (structure_hash, confirmed by same_structure).
std::shared_ptr<Program> program_for(Runtime& runtime, const ir::KernelGraph& graph);

/// Kernel sources a graph generates (for inspection and compile tests): one per launch step,
/// for a device with `shared_limit` bytes of shared memory per block.
std::vector<std::string> generated_sources(const ir::KernelGraph& graph, int shared_limit);

}  // namespace yirage::backend::cuda
