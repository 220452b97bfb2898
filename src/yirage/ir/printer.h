// Human-readable text and Graphviz DOT renderings of kernel graphs.
#pragma once

#include <string>

#include "yirage/ir/kernel_graph.h"

namespace yirage::ir {

/// One line per node: "%3 = rms_norm(%0, %1) {eps=1e-06} : bfloat16[8, 4096]", a customized
/// node followed by its block graph indented, then the outputs.
std::string graph_to_text(const KernelGraph& graph);
/// A Graphviz digraph: one box per node labelled with op, attributes and output types, each
/// customized node a cluster of its block graph (grid, for-loop, maps on its edges); edges
/// labelled with tensor types; inputs and outputs highlighted.
std::string graph_to_dot(const KernelGraph& graph);

}  // namespace yirage::ir
