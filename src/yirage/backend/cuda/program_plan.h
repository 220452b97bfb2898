// How a Program lays a kernel graph onto device memory: one slot per node output, reshapes
// aliasing their source, the buffers backing graph outputs allocated anew each run and all others
// kept across runs; and which transposes fold into the GEMMs that read them.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "yirage/ir/kernel_graph.h"

namespace yirage::backend::cuda {

/// The memory plan of a graph; slots number node outputs in node order.
struct BufferPlan {
  std::vector<int32_t> first_slot;  ///< per node: the slot of its output 0
  std::vector<int32_t> root;        ///< per slot: the slot whose memory it is (reshapes alias)
  std::vector<bool> fresh;          ///< per slot: a root allocated anew each run (graph outputs)
  std::vector<bool> input;          ///< per slot: an input node's tensor (never allocated)
  std::vector<bool> folded;         ///< per node: a transpose that runs no kernel (GEMMs read it)
  std::vector<bool> reads_b_transposed;  ///< per node: a matmul reading the source of its B
                                         ///< operand, a last-two-dims transpose, as B^T
  /// The slot of `ref`.
  int32_t slot(ir::TensorRef ref) const { return first_slot[ref.node] + ref.output; }
  /// Number of slots.
  std::size_t slots() const { return root.size(); }
};

/// The plan for `graph`; `library_gemm(node)` says whether matmul `node` runs as a library GEMM
/// (only those read transposed operands in place).
BufferPlan plan_buffers(const ir::KernelGraph& graph,
                        const std::function<bool(int32_t)>& library_gemm);

/// Whether `node` transposes the last two dims of a tensor of rank >= 2.
bool swaps_last_two_dims(const ir::Node& node);

}  // namespace yirage::backend::cuda
