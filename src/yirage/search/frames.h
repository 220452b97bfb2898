// Candidate frames of a block graph: grid, for-loop range and each input's maps, derived from
// the shapes of the program being fused.
#pragma once

#include <cstdint>
#include <vector>

#include "yirage/ir/block_graph.h"
#include "yirage/ir/kernel_graph.h"

namespace yirage::search {

/// A block graph's launch shape and input tiling, before any op is chosen.
struct Frame {
  ir::Dim3 grid{1, 1, 1};         ///< grid extents
  int64_t forloop = 1;            ///< for-loop iterations
  std::vector<ir::DimMap> imaps;  ///< per input: grid axis -> dim
  std::vector<int> fmaps;         ///< per input: dim walked by the for-loop, or -1
};

/// Frames for fusing a program with inputs `inputs` and first output `output`, where
/// `reduced_extents` are the extents the target sums or maxes over (candidates for the
/// for-loop). Grid axis x splits one output dim (into 2 to 128 blocks, or one block per entry
/// of a short dim); each input maps it to a dim of the same extent or replicates; the for-loop
/// walks one reduced extent in 2 to 16 steps, every input having a dim of that extent walking
/// it. Ordered from most to least promising: more inputs split by the grid, then grids near 64
/// blocks, then a for-loop of about 8 steps.
std::vector<Frame> candidate_frames(const std::vector<ir::TensorType>& inputs,
                                    const ir::TensorType& output,
                                    const std::vector<int64_t>& reduced_extents,
                                    const std::vector<std::vector<bool>>& reduced_dims);

/// Range propagation, coarse: for each input of `graph`, which of its dims some op reduces
/// over (a matmul's contraction, a reduction, softmax or rms_norm), followed through element-
/// wise ops, broadcasting, transposes, splits and concats. A grid may not split such a dim
/// (blocks would each hold part of a sum), and only such a dim is worth a for-loop.
std::vector<std::vector<bool>> reduced_input_dims(const ir::KernelGraph& graph);

}  // namespace yirage::search
