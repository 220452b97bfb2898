// A kernel graph prepared for the cudnn backend: one step per attention (cuDNN fused attention,
// checked once against the generated kernels, or those kernels when cuDNN refuses), per plain
// matmul (cuBLASLt) and per other node (a one-node program of the cuda backend).
#pragma once

#include <memory>
#include <vector>

#include "yirage/backend/cudnn/cudnn_backend.h"
#include "yirage/core/tensor.h"
#include "yirage/ir/kernel_graph.h"

namespace yirage::backend::cudnn {

/// A prepared graph, run on contiguous, 16-byte aligned CUDA tensors.
class CudnnProgram {
 public:
  /// Plans every step of `graph` (attention plans are built and checked here).
  explicit CudnnProgram(const ir::KernelGraph& graph);
  /// The graph it runs (its own copy).
  const ir::KernelGraph& graph() const { return graph_; }
  ~CudnnProgram();
  CudnnProgram(const CudnnProgram&) = delete;
  CudnnProgram& operator=(const CudnnProgram&) = delete;

  /// Queues the graph on the CUDA backend's stream; returns the outputs as CUDA tensors.
  std::vector<core::Tensor> run(const std::vector<core::Tensor>& inputs);
  /// What runs where.
  const PlanSummary& summary() const { return summary_; }

 private:
  struct Step;
  const ir::KernelGraph graph_;
  std::vector<std::unique_ptr<Step>> steps_;
  PlanSummary summary_;
};

/// The program for `graph`, from a process-wide cache keyed by the graph's exact structure.
std::shared_ptr<CudnnProgram> cudnn_program_for(const ir::KernelGraph& graph);

}  // namespace yirage::backend::cudnn
