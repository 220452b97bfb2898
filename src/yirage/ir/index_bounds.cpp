#include "yirage/ir/index_bounds.h"

#include <algorithm>
#include <limits>

namespace yirage::ir {

std::vector<int64_t> index_bounds(const KernelGraph& graph) {
  constexpr int64_t kOtherBound = 1024;
  constexpr int64_t kUnset = std::numeric_limits<int64_t>::max();
  const auto& nodes = graph.nodes();
  std::vector<int64_t> table_rows(nodes.size(), kUnset);  // smallest embedding table indexed
  std::vector<bool> position(nodes.size(), false);        // used as rope positions
  for (const auto& node : nodes) {
    for (std::size_t k = 0; k < node.inputs.size(); ++k) {
      const int32_t source = node.inputs[k].node;
      if (node.op == OpKind::Embedding && k == 0) {
        table_rows[source] = std::min(table_rows[source], graph.type(node.inputs[1]).shape[0]);
      } else if (node.op == OpKind::Rope && k == 1) {
        position[source] = true;
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
