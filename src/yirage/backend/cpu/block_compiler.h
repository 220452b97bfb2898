// Block graph -> C++ source -> shared object: the fused kernels of the cpu backend.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "yirage/core/tensor.h"
#include "yirage/ir/block_graph.h"

namespace yirage::backend::cpu {

/// A fused kernel compiled from one block graph, loaded and ready to run.
class BlockKernel {
 public:
  virtual ~BlockKernel() = default;
  /// Runs the kernel: `inputs` are the block graph's inputs (contiguous host tensors of its
  /// input types), `outputs` its outputs (contiguous, preallocated, of its output types). The
  /// grid is spread over the global thread pool.
  virtual void run(const std::vector<core::Tensor>& inputs,
                   const std::vector<core::Tensor>& outputs) const = 0;
  /// The generated C++ source.
  virtual const std::string& source() const = 0;
};

/// Returns the kernel for `graph`: from the in-process cache, else from the on-disk cache of
/// shared objects keyed by source hash, else generated, compiled with the system compiler
/// (`$CXX`, else `c++`) for this CPU's ISA, and loaded. With YIRAGE_DUMP=dir the source is
/// written there. A compiler failure is an InternalError naming the dumped source file.
std::shared_ptr<const BlockKernel> compile_block_graph(const ir::BlockGraph& graph);

}  // namespace yirage::backend::cpu
