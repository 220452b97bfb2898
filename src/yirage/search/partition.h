// Partitioning of a large kernel graph into fragments the search can handle, and stitching the
// optimized fragments back into one graph.
#pragma once

#include <cstdint>
#include <vector>

#include "yirage/ir/kernel_graph.h"

namespace yirage::search {

/// A piece of a kernel graph, searched on its own.
struct Fragment {
  std::vector<int32_t> nodes;          ///< its nodes (of the whole graph), in graph order
  std::vector<ir::TensorRef> inputs;   ///< tensors from outside it reads, in first-use order
  std::vector<ir::TensorRef> outputs;  ///< its tensors read outside it or marked as outputs
  ir::KernelGraph graph;               ///< the fragment as a graph over `inputs`
};

/// True when `producer` feeding `consumer` should stay in one fragment: a norm and the matmul
/// it feeds; a matmul and the element-wise ops after it (activation, gating mul, scaling); chains
/// of element-wise ops; the attention core (matmul, scale, softmax, matmul, and the transposes
/// and norms of its operands).
bool fusible(ir::OpKind producer, ir::OpKind consumer);

/// Splits `graph` into fragments of at most `max_ops` ops each, merging along fusible() edges
/// in graph order while the merged fragment stays within `max_ops` and convex (no path leaves
/// it and comes back). Fragments are in a topological order; every non-input node is in one.
std::vector<Fragment> partition(const ir::KernelGraph& graph, int max_ops);

/// The graph `graph` with each fragment replaced by `programs[i]` (a graph over the fragment's
/// inputs computing its outputs in order), customized kernels kept as they are.
ir::KernelGraph stitch(const ir::KernelGraph& graph, const std::vector<Fragment>& fragments,
                       const std::vector<ir::KernelGraph>& programs);

}  // namespace yirage::search
