#include "yirage/search/partition.h"

#include <algorithm>
#include <map>
#include <numeric>

#include "yirage/core/error.h"
#include "yirage/ir/op.h"

namespace yirage::search {

namespace {

using ir::OpKind;

bool elementwise(OpKind op) {
  const ir::OpCategory category = ir::op_info(op).category;
  return category == ir::OpCategory::Unary || category == ir::OpCategory::Binary;
}

// Union-find over nodes with component sizes (in ops).
class Components {
 public:
  explicit Components(std::size_t count) : parent_(count), size_(count, 1) {
    std::iota(parent_.begin(), parent_.end(), 0);
  }
  int32_t find(int32_t x) {
    while (parent_[static_cast<std::size_t>(x)] != x) {
      parent_[static_cast<std::size_t>(x)] =
          parent_[static_cast<std::size_t>(parent_[static_cast<std::size_t>(x)])];
      x = parent_[static_cast<std::size_t>(x)];
    }
    return x;
  }
  int size(int32_t x) { return size_[static_cast<std::size_t>(find(x))]; }
  void merge(int32_t a, int32_t b) {
    a = find(a);
    b = find(b);
    if (a == b) return;
    if (b < a) std::swap(a, b);  // the earlier node names the component
    parent_[static_cast<std::size_t>(b)] = a;
    size_[static_cast<std::size_t>(a)] += size_[static_cast<std::size_t>(b)];
  }

 private:
  std::vector<int32_t> parent_;
  std::vector<int> size_;
};

}  // namespace

bool fusible(OpKind producer, OpKind consumer) {
  if (producer == OpKind::Input || producer == OpKind::Customized || consumer == OpKind::Customized)
    return false;
  const bool attention = producer == OpKind::Softmax || consumer == OpKind::Softmax ||
                         producer == OpKind::Transpose || consumer == OpKind::Transpose;
  if (producer == OpKind::RmsNorm)
    return consumer == OpKind::Matmul || consumer == OpKind::Transpose;
  if (producer == OpKind::Matmul) return elementwise(consumer) || consumer == OpKind::Softmax;
  if (elementwise(producer)) return elementwise(consumer) || consumer == OpKind::Softmax;
  return attention && (consumer == OpKind::Matmul || consumer == OpKind::Softmax ||
                       elementwise(consumer) || consumer == OpKind::Transpose);
}

std::vector<Fragment> partition(const ir::KernelGraph& graph, int max_ops) {
  YR_USER_CHECK(max_ops >= 1, "partition: max_ops " << max_ops << " is not positive");
  const auto& nodes = graph.nodes();
  const auto count = static_cast<int32_t>(nodes.size());
  Components components(nodes.size());
  // True when merging components `a` and `b` keeps them convex: no path from a member through
  // a non-member back to a member.
  const auto convex_if_merged = [&](int32_t a, int32_t b) {
    const auto member = [&](int32_t n) {
      const int32_t root = components.find(n);
      return root == a || root == b;
    };
    std::vector<char> seen(nodes.size(), 0);
    std::vector<int32_t> stack;
    for (int32_t n = 0; n < count; ++n) {
      if (!member(n)) continue;
      for (const auto& ref : nodes[static_cast<std::size_t>(n)].inputs) {
        if (!member(ref.node)) stack.push_back(ref.node);
      }
    }
    while (!stack.empty()) {  // backwards through non-members
      const int32_t n = stack.back();
      stack.pop_back();
      if (seen[static_cast<std::size_t>(n)]) continue;
      seen[static_cast<std::size_t>(n)] = 1;
      for (const auto& ref : nodes[static_cast<std::size_t>(n)].inputs) {
        if (member(ref.node)) return false;
        stack.push_back(ref.node);
      }
    }
    return true;
  };
  for (int32_t c = 0; c < count; ++c) {
    const ir::Node& consumer = nodes[static_cast<std::size_t>(c)];
    for (const auto& ref : consumer.inputs) {
      const ir::Node& producer = nodes[static_cast<std::size_t>(ref.node)];
      if (!fusible(producer.op, consumer.op)) continue;
      const int32_t from = components.find(ref.node);
      const int32_t to = components.find(c);
      if (from == to || components.size(from) + components.size(to) > max_ops) continue;
      if (convex_if_merged(from, to)) components.merge(from, to);
    }
  }
  // Fragments in order of their first node (graph order is topological, and components are
  // convex, so this order is too).
  std::map<int32_t, std::size_t> index;
  std::vector<Fragment> fragments;
  std::vector<int32_t> fragment_of(nodes.size(), -1);
  for (int32_t n = 0; n < count; ++n) {
    if (nodes[static_cast<std::size_t>(n)].op == OpKind::Input) continue;
    const int32_t root = components.find(n);
    auto [it, inserted] = index.try_emplace(root, fragments.size());
    if (inserted) fragments.emplace_back();
    fragments[it->second].nodes.push_back(n);
    fragment_of[static_cast<std::size_t>(n)] = static_cast<int32_t>(it->second);
  }
  // Outputs: tensors read by another fragment or marked as graph outputs.
  std::vector<std::vector<ir::TensorRef>> read_outside(fragments.size());
  const auto add_output = [&](ir::TensorRef ref) {
    const int32_t f = fragment_of[static_cast<std::size_t>(ref.node)];
    if (f < 0) return;
    auto& outs = fragments[static_cast<std::size_t>(f)].outputs;
    if (std::find(outs.begin(), outs.end(), ref) == outs.end()) outs.push_back(ref);
  };
  for (int32_t n = 0; n < count; ++n) {
    for (const auto& ref : nodes[static_cast<std::size_t>(n)].inputs) {
      if (fragment_of[static_cast<std::size_t>(ref.node)] !=
          fragment_of[static_cast<std::size_t>(n)])
        add_output(ref);
    }
  }
  for (const auto& out : graph.outputs()) add_output(out);
  for (std::size_t f = 0; f < fragments.size(); ++f) {
    Fragment& fragment = fragments[f];
    std::map<std::pair<int32_t, int32_t>, ir::TensorRef> local;
    const auto operand = [&](ir::TensorRef ref) {
      if (fragment_of[static_cast<std::size_t>(ref.node)] == static_cast<int32_t>(f))
        return local.at({ref.node, ref.output});
      const auto key = std::make_pair(ref.node, ref.output);
      if (const auto it = local.find(key); it != local.end()) return it->second;
      const ir::TensorType& type = graph.type(ref);
      const ir::TensorRef input = fragment.graph.input(type.shape, type.dtype);
      fragment.inputs.push_back(ref);
      local.emplace(key, input);
      return input;
    };
    for (int32_t n : fragment.nodes) {
      const ir::Node& node = nodes[static_cast<std::size_t>(n)];
      std::vector<ir::TensorRef> operands;
      for (const auto& ref : node.inputs) operands.push_back(operand(ref));
      const auto outs = node.op == OpKind::Customized
                            ? fragment.graph.customized(operands, node.block_graph)
                            : fragment.graph.add_node(node.op, operands, node.attrs);
      for (std::size_t o = 0; o < outs.size(); ++o)
        local.emplace(std::make_pair(n, static_cast<int32_t>(o)), outs[o]);
    }
    for (const auto& out : fragment.outputs)
      fragment.graph.mark_output(local.at({out.node, out.output}));
  }
  return fragments;
}

ir::KernelGraph stitch(const ir::KernelGraph& graph, const std::vector<Fragment>& fragments,
                       const std::vector<ir::KernelGraph>& programs) {
  YR_INTERNAL_CHECK(fragments.size() == programs.size(),
                    fragments.size() << " fragments but " << programs.size() << " programs");
  ir::KernelGraph result;
  std::map<std::pair<int32_t, int32_t>, ir::TensorRef> mapped;
  for (int32_t n : graph.input_nodes()) {
    const ir::TensorType& type = graph.nodes()[static_cast<std::size_t>(n)].outputs[0];
    mapped[{n, 0}] = result.input(type.shape, type.dtype);
  }
  for (std::size_t f = 0; f < fragments.size(); ++f) {
    const ir::KernelGraph& program = programs[f];
    std::vector<ir::TensorRef> local(program.nodes().size());
    std::map<std::pair<int32_t, int32_t>, ir::TensorRef> inner;
    const auto& input_nodes = program.input_nodes();
    for (std::size_t k = 0; k < input_nodes.size(); ++k) {
      const ir::TensorRef source = fragments[f].inputs[k];
      inner[{input_nodes[k], 0}] = mapped.at({source.node, source.output});
    }
    for (std::size_t n = 0; n < program.nodes().size(); ++n) {
      const ir::Node& node = program.nodes()[n];
      if (node.op == OpKind::Input) continue;
      std::vector<ir::TensorRef> operands;
      for (const auto& ref : node.inputs) operands.push_back(inner.at({ref.node, ref.output}));
      const auto outs = node.op == OpKind::Customized
                            ? result.customized(operands, node.block_graph)
                            : result.add_node(node.op, operands, node.attrs);
      for (std::size_t o = 0; o < outs.size(); ++o)
        inner[{static_cast<int32_t>(n), static_cast<int32_t>(o)}] = outs[o];
    }
    for (std::size_t o = 0; o < fragments[f].outputs.size(); ++o) {
      const ir::TensorRef out = program.outputs()[o];
      mapped[{fragments[f].outputs[o].node, fragments[f].outputs[o].output}] =
          inner.at({out.node, out.output});
    }
  }
  for (const auto& out : graph.outputs()) result.mark_output(mapped.at({out.node, out.output}));
  return result;
}

}  // namespace yirage::search
