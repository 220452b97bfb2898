// CUDA code generation for block graphs (the fused kernels of customized nodes).
//
// One CUDA block per block of the grid. Every tile lives in float in shared memory (or, when the
// tiles of a block exceed `shared_limit`, in a per-block slice of a global scratch buffer); each
// node is a block-wide loop over its tile followed by a barrier. Input tiles are read from the
// block's box of the graph tensor and converted to float; accumulators keep float state across
// the for-loop (rescaled_sum with a running max: the online softmax); outputs are converted to
// their dtype when written.
#pragma once

#include <cstdint>

#include "yirage/backend/cuda/kernel_source.h"
#include "yirage/ir/block_graph.h"

namespace yirage::backend::cuda {

/// A generated block-graph kernel and the global scratch it needs.
struct BlockKernel {
  KernelSource kernel;            ///< parameters: inputs, outputs, then `float* scratch`
  std::size_t scratch_bytes = 0;  ///< bytes of scratch to pass (0: shared memory suffices)
};

/// The kernel of complete block graph `graph`, for a device allowing `shared_limit` bytes of
/// dynamic shared memory per block.
BlockKernel generate_block_kernel(const ir::BlockGraph& graph, int shared_limit);

}  // namespace yirage::backend::cuda
