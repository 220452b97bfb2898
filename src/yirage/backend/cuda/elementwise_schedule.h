// The register schedule for block graphs of element-wise ops (and rms_norm over the tile's last
// dim), with a for-loop of one iteration: each thread owns whole 8-element vectors of the block's
// tile, loads its inputs with 16-byte loads straight into registers, evaluates every node there
// (operands of broadcast shapes are read at the thread's coordinates), sums rows for rms_norm
// with warp shuffles (and, for rows wider than a warp's vectors, one shared-memory partial per
// warp), and writes its outputs with 16-byte stores. No tile touches shared memory.
#pragma once

#include <optional>

#include "yirage/backend/cuda/block_codegen.h"
#include "yirage/ir/block_graph.h"

namespace yirage::backend::cuda {

/// The register kernel of `graph`, or nullopt when the schedule does not apply (an op other than
/// element-wise ones and last-dim rms_norm, a for-loop of more than one iteration, tiles whose
/// last dim is not a multiple of 8 or that do not split evenly over the threads, non-float
/// dtypes, outputs of differing tile shapes).
std::optional<BlockKernel> try_generate_elementwise_kernel(const ir::BlockGraph& graph);

}  // namespace yirage::backend::cuda
