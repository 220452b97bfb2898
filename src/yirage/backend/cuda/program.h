// A kernel graph prepared for CUDA: one step per node (generated kernel, cuBLASLt GEMM, fused
// block-graph kernel or a reshape alias), compiled once and run on device tensors.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "yirage/core/tensor.h"
#include "yirage/ir/kernel_graph.h"

namespace yirage::backend::cuda {

class Runtime;

/// How many steps of each kind a program holds.
struct ProgramStats {
  int generated = 0;  ///< generated single-op kernels
  int gemms = 0;      ///< cuBLASLt products
  int fused = 0;      ///< block-graph kernels
  int aliases = 0;    ///< reshapes (no launch)
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
  /// outputs as new CUDA tensors. Waits only when the graph has an embedding (to check ids).
  std::vector<core::Tensor> run(const std::vector<core::Tensor>& inputs);
  /// Step counts.
  const ProgramStats& stats() const { return stats_; }

 private:
  struct Step;
  Runtime& runtime_;
  const ir::KernelGraph graph_;
  std::vector<std::unique_ptr<Step>> steps_;
  ProgramStats stats_;
  bool checks_ids_ = false;
};

/// The program for `graph`, from a process-wide cache keyed by the graph's exact structure.
std::shared_ptr<Program> program_for(Runtime& runtime, const ir::KernelGraph& graph);

/// Kernel sources a graph generates (for inspection and compile tests): one per launch step,
/// for a device with `shared_limit` bytes of shared memory per block.
std::vector<std::string> generated_sources(const ir::KernelGraph& graph, int shared_limit);

}  // namespace yirage::backend::cuda
