#include "yirage/backend/cuda/program_plan.h"

#include <algorithm>

namespace yirage::backend::cuda {

bool swaps_last_two_dims(const ir::Node& node) {
  if (node.op != ir::OpKind::Transpose) return false;
  const auto rank = static_cast<int64_t>(node.outputs[0].shape.size());
  const int64_t d0 = node.attrs.get_int("dim0"), d1 = node.attrs.get_int("dim1");
  return rank >= 2 && std::min(d0, d1) == rank - 2 && std::max(d0, d1) == rank - 1;
}

BufferPlan plan_buffers(const ir::KernelGraph& graph,
                        const std::function<bool(int32_t)>& library_gemm) {
  const auto& nodes = graph.nodes();
  BufferPlan plan;
  plan.first_slot.resize(nodes.size());
  plan.folded.assign(nodes.size(), false);
  plan.reads_b_transposed.assign(nodes.size(), false);
  for (std::size_t n = 0; n < nodes.size(); ++n) {
    plan.first_slot[n] = static_cast<int32_t>(plan.root.size());
    for (std::size_t o = 0; o < nodes[n].outputs.size(); ++o) {
      const auto self = static_cast<int32_t>(plan.root.size());
      const bool alias = nodes[n].op == ir::OpKind::Reshape;
      plan.root.push_back(alias ? plan.root[plan.slot(nodes[n].inputs[0])] : self);
      plan.input.push_back(nodes[n].op == ir::OpKind::Input);
    }
  }
  plan.fresh.assign(plan.root.size(), false);
  for (const auto& ref : graph.outputs()) {
    const int32_t root = plan.root[plan.slot(ref)];
    if (!plan.input[root]) plan.fresh[root] = true;
  }
  // Transposes of the last two dims read as B by library GEMMs: the GEMM reads the source
  // transposed; the transpose runs only for other readers or when it is a graph output.
  std::vector<bool> other_reader(nodes.size(), false);
  for (const auto& ref : graph.outputs()) other_reader[ref.node] = true;
  for (std::size_t n = 0; n < nodes.size(); ++n) {
    const ir::Node& node = nodes[n];
    for (std::size_t i = 0; i < node.inputs.size(); ++i) {
      const int32_t source = node.inputs[i].node;
      const bool folds = node.op == ir::OpKind::Matmul && i == 1 &&
                         swaps_last_two_dims(nodes[source]) &&
                         library_gemm(static_cast<int32_t>(n));
      if (folds) {
        plan.reads_b_transposed[n] = true;
      } else {
        other_reader[source] = true;
      }
    }
  }
  for (std::size_t n = 0; n < nodes.size(); ++n)
    plan.folded[n] = swaps_last_two_dims(nodes[n]) && !other_reader[n];
  return plan;
}

}  // namespace yirage::backend::cuda
