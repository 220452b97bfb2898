#include "yirage/ir/index_bounds.h"

#include <algorithm>
#include <limits>

namespace yirage::ir {

std::vector<int64_t> index_bounds(const KernelGraph& graph) {
  constexpr int64_t kOtherBound = 1024;
  constexpr int64_t kUnset = std::numeric_limits<int64_t>::max();
  const auto& nodes = graph.nodes();
  // The graph inputs whose values each node's outputs carry: integers only move through data
  // movement (reshape, transpose, split, concat), so ids keep their meaning along the way.
  std::vector<std::vector<int32_t>> origins(nodes.size());
  std::vector<int64_t> table_rows(nodes.size(), kUnset);  // per input node: smallest table indexed
  std::vector<bool> position(nodes.size(), false);        // per input node: used as rope positions
  for (std::size_t n = 0; n < nodes.size(); ++n) {
    const Node& node = nodes[n];
    if (node.op == OpKind::Input) {
      origins[n] = {static_cast<int32_t>(n)};
      continue;
    }
    const bool moves_data = node.op == OpKind::Reshape || node.op == OpKind::Transpose ||
                            node.op == OpKind::Split || node.op == OpKind::Concat;
    for (std::size_t k = 0; k < node.inputs.size(); ++k) {
      const auto& sources = origins[node.inputs[k].node];
      if (moves_data) origins[n].insert(origins[n].end(), sources.begin(), sources.end());
      for (int32_t source : sources) {
        if (node.op == OpKind::Embedding && k == 0) {
          table_rows[source] = std::min(table_rows[source], graph.type(node.inputs[1]).shape[0]);
        } else if (node.op == OpKind::Rope && k == 1) {
          position[source] = true;
        }
      }
    }
  }
  std::vector<int64_t> result;
  for (int32_t index : graph.input_nodes()) {
    if (core::dtype_is_float(nodes[index].outputs[0].dtype)) {
      result.push_back(0);
    } else if (table_rows[index] != kUnset) {
      result.push_back(table_rows[index]);
    } else {
      result.push_back(position[index] ? kDefaultPositionBound : kOtherBound);
    }
  }
  return result;
}

}  // namespace yirage::ir
