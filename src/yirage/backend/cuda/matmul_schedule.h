// The tensor-core schedule for block graphs whose for-loop is a matmul (see matmul_plan.h):
// weight and row tiles stream through a multi-stage cp.async pipeline into shared memory
// (weights XOR-swizzled, row tiles padded), warps split the contraction steps (then, for many
// rows or wide products, the 16-row tiles and the columns), mma.sync m16n8k16 accumulates in f32
// registers over the block's whole contraction range, the row expressions (x * g, ...) are applied
// while the A fragments are built, and row sums (sum of x^2) accumulate alongside. After the loop
// the warps' sums meet in float accumulator tiles over the stages, in a fixed order; after-loop
// matmuls and reductions run block-wide on float tiles, and the element-wise nodes that lead to an
// output are computed per element as the output is written, with 16-byte stores.
#pragma once

#include <optional>

#include "yirage/backend/cuda/block_codegen.h"
#include "yirage/ir/block_graph.h"

namespace yirage::backend::cuda {

/// The tensor-core kernel of `graph` for a device allowing `shared_limit` bytes of dynamic
/// shared memory per block, or nullopt when the schedule does not apply (plan_matmul).
std::optional<BlockKernel> try_generate_matmul_kernel(const ir::BlockGraph& graph,
                                                      int shared_limit);

}  // namespace yirage::backend::cuda
