// Valid ranges of integer graph inputs, for generating random inputs that a graph accepts.
#pragma once

#include <cstdint>
#include <vector>

#include "yirage/ir/kernel_graph.h"

namespace yirage::ir {

/// Positions beyond this are not drawn for rope inputs: a typical context length.
inline constexpr int64_t kDefaultPositionBound = 4096;

/// For each graph input (in order): 0 for float inputs; for integer inputs, an exclusive upper
/// bound on the values the graph accepts: the smallest table used by an embedding they index,
/// kDefaultPositionBound for rope positions, and 1024 for integers used otherwise. Uses are
/// followed through reshape, transpose, split and concat.
std::vector<int64_t> index_bounds(const KernelGraph& graph);

}  // namespace yirage::ir
