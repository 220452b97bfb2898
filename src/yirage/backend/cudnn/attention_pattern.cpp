#include "yirage/backend/cudnn/attention_pattern.h"

#include <algorithm>
#include <map>
#include <set>

namespace yirage::backend::cudnn {

namespace {

using ir::KernelGraph;
using ir::OpKind;
using ir::TensorRef;

using RefKey = std::pair<int32_t, int32_t>;

RefKey key(TensorRef ref) {
  return {ref.node, ref.output};
}

// How many times each tensor is read: by nodes, and once more per graph output mark.
std::map<RefKey, int> use_counts(const KernelGraph& graph) {
  std::map<RefKey, int> uses;
  for (const auto& node : graph.nodes()) {
    for (const TensorRef& input : node.inputs) ++uses[key(input)];
  }
  for (const TensorRef& output : graph.outputs()) ++uses[key(output)];
  return uses;
}

bool is_half(core::DType dtype) {
  return dtype == core::DType::BF16 || dtype == core::DType::F16;
}

// The extents of `shape` before its last two dims, left-padded with 1s to `rank` of them.
core::Shape padded_batch(const core::Shape& shape, std::size_t rank) {
  core::Shape batch(shape.begin(), shape.end() - 2);
  core::Shape padded(rank - std::min(rank, batch.size()), 1);
  padded.insert(padded.end(), batch.begin(), batch.end());
  return padded;
}

// A mask as wide as the scores over its last two dims and either full or 1 over the batch
// part (all batch dims but the last) and over the head dim (the last batch dim).
bool broadcast_extent(const core::Shape& padded, const core::Shape& batch, int64_t& b_extent,
                      int64_t& h_extent) {
  const std::size_t nb = batch.size();
  if (nb == 0) {
    b_extent = h_extent = 1;
    return true;
  }
  bool all_equal = true, all_one = true;
  for (std::size_t i = 0; i + 1 < nb; ++i) {
    all_equal = all_equal && padded[i] == batch[i];
    all_one = all_one && padded[i] == 1;
  }
  if (!all_equal && !all_one) return false;
  int64_t b = 1;
  for (std::size_t i = 0; i + 1 < nb; ++i) b *= batch[i];
  b_extent = all_equal ? b : 1;
  if (padded[nb - 1] != batch[nb - 1] && padded[nb - 1] != 1) return false;
  h_extent = padded[nb - 1];
  return true;
}

}  // namespace

std::vector<AttentionMatch> find_attention(const KernelGraph& graph) {
  const auto uses = use_counts(graph);
  const auto single_use = [&](TensorRef ref) {
    const auto found = uses.find(key(ref));
    return found != uses.end() && found->second == 1;
  };
  std::set<int32_t> claimed;
  std::vector<AttentionMatch> matches;
  const auto& nodes = graph.nodes();
  for (int32_t s = 0; s < static_cast<int32_t>(nodes.size()); ++s) {
    const ir::Node& softmax = nodes[static_cast<std::size_t>(s)];
    if (softmax.op != OpKind::Softmax) continue;
    const auto& scores_type = softmax.outputs[0];
    const int64_t rank = static_cast<int64_t>(scores_type.shape.size());
    if (rank < 2 || softmax.attrs.get_int("dim") != rank - 1 || !is_half(scores_type.dtype))
      continue;
    const TensorRef probabilities{s, 0};
    if (!single_use(probabilities)) continue;
    // The one consumer: probabilities @ v.
    int32_t consumer = -1;
    for (int32_t n = s + 1; n < static_cast<int32_t>(nodes.size()) && consumer < 0; ++n) {
      for (const TensorRef& input : nodes[static_cast<std::size_t>(n)].inputs) {
        if (input == probabilities) consumer = n;
      }
    }
    if (consumer < 0) continue;
    const ir::Node& second = nodes[static_cast<std::size_t>(consumer)];
    if (second.op != OpKind::Matmul || !(second.inputs[0] == probabilities) ||
        second.inputs[1] == probabilities)
      continue;

    AttentionMatch match;
    match.nodes = {s, consumer};
    match.output_node = consumer;
    match.v = second.inputs[1];
    TensorRef current = softmax.inputs[0];
    const auto node_of = [&](TensorRef ref) -> const ir::Node& {
      return nodes[static_cast<std::size_t>(ref.node)];
    };
    if (node_of(current).op == OpKind::Add && single_use(current)) {
      const ir::Node& add = node_of(current);
      std::optional<TensorRef> chain;
      for (int side = 0; side < 2 && !chain; ++side) {
        const TensorRef candidate = add.inputs[static_cast<std::size_t>(side)];
        const OpKind op = node_of(candidate).op;
        if ((op == OpKind::MulScalar || op == OpKind::Matmul) && single_use(candidate) &&
            graph.type(candidate).shape == scores_type.shape) {
          chain = candidate;
          match.mask = add.inputs[static_cast<std::size_t>(1 - side)];
        }
      }
      if (!chain) continue;
      match.nodes.push_back(current.node);
      current = *chain;
    }
    if (node_of(current).op == OpKind::MulScalar && single_use(current)) {
      match.scale = node_of(current).attrs.get_float("scalar");
      match.nodes.push_back(current.node);
      current = node_of(current).inputs[0];
    }
    if (node_of(current).op != OpKind::Matmul || !single_use(current)) continue;
    const ir::Node& first = node_of(current);
    match.nodes.push_back(current.node);
    match.q = first.inputs[0];
    const TensorRef kt = first.inputs[1];
    const ir::Node& kt_node = node_of(kt);
    const int64_t kt_rank = static_cast<int64_t>(graph.type(kt).shape.size());
    if (kt_node.op == OpKind::Transpose && single_use(kt) && kt_rank >= 2 &&
        std::minmax(kt_node.attrs.get_int("dim0"), kt_node.attrs.get_int("dim1")) ==
            std::minmax(kt_rank - 2, kt_rank - 1)) {
      match.k = kt_node.inputs[0];
      match.nodes.push_back(kt.node);
    } else {
      match.k = kt;
      match.keys_transposed = true;
    }
    if (!is_half(graph.type(match.q).dtype)) continue;
    std::sort(match.nodes.begin(), match.nodes.end());
    const bool overlaps = std::any_of(match.nodes.begin(), match.nodes.end(),
                                      [&](int32_t n) { return claimed.count(n) != 0; });
    if (overlaps) continue;
    claimed.insert(match.nodes.begin(), match.nodes.end());
    matches.push_back(std::move(match));
  }
  return matches;
}

KernelGraph attention_graph(const KernelGraph& graph, const AttentionMatch& match) {
  KernelGraph single;
  std::map<RefKey, TensorRef> mapped;
  std::vector<TensorRef> operands = {match.q, match.k, match.v};
  if (match.mask) operands.push_back(*match.mask);
  for (const TensorRef& operand : operands) {
    const auto& type = graph.type(operand);
    const TensorRef input = single.input(type.shape, type.dtype);
    mapped.emplace(key(operand), input);  // the first wins when q, k or v coincide
  }
  for (int32_t n : match.nodes) {
    const ir::Node& node = graph.node(n);
    std::vector<TensorRef> inputs;
    for (const TensorRef& input : node.inputs) inputs.push_back(mapped.at(key(input)));
    const auto outputs = single.add_node(node.op, inputs, node.attrs);
    for (std::size_t i = 0; i < outputs.size(); ++i) {
      mapped.emplace(std::make_pair(n, static_cast<int32_t>(i)), outputs[i]);
    }
  }
  single.mark_output(mapped.at({match.output_node, 0}));
  return single;
}

std::optional<AttentionShape> attention_shape(const KernelGraph& graph, const AttentionMatch& match,
                                              std::string* why) {
  const auto fail = [&](const std::string& reason) -> std::optional<AttentionShape> {
    if (why != nullptr) *why = reason;
    return std::nullopt;
  };
  const auto& out = graph.node(match.output_node).outputs[0];
  const auto& q = graph.type(match.q);
  const auto& k = graph.type(match.k);
  const auto& v = graph.type(match.v);
  if (q.dtype != k.dtype || q.dtype != v.dtype || q.dtype != out.dtype)
    return fail("queries, keys, values and output differ in dtype");
  if (k.shape.size() < 2 || v.shape.size() < 2) return fail("keys or values of rank below 2");
  const std::size_t nb = out.shape.size() - 2;
  const core::Shape batch(out.shape.begin(), out.shape.end() - 2);
  AttentionShape shape;
  shape.dtype = q.dtype;
  shape.scale = match.scale;
  shape.s_q = q.shape[q.shape.size() - 2];
  shape.d_qk = q.shape.back();
  shape.s_kv = v.shape[v.shape.size() - 2];
  shape.d_v = v.shape.back();
  if (padded_batch(q.shape, nb) != batch) return fail("queries broadcast over batch dims");
  int64_t k_b = 1, k_h = 1, v_b = 1, v_h = 1;
  if (!broadcast_extent(padded_batch(k.shape, nb), batch, k_b, k_h) ||
      !broadcast_extent(padded_batch(v.shape, nb), batch, v_b, v_h))
    return fail("keys or values broadcast over batch dims in a way [b, h, s, d] cannot hold");
  for (std::size_t i = 0; i + 1 < nb; ++i) shape.b *= batch[i];
  shape.h_q = nb == 0 ? 1 : batch[nb - 1];
  if (k_b != shape.b || v_b != shape.b) return fail("keys or values broadcast over the batch");
  if (k_h != v_h) return fail("keys and values broadcast differently over heads");
  shape.h_kv = k_h;
  if (match.mask) {
    const auto& mask = graph.type(*match.mask);
    if (mask.dtype != q.dtype) return fail("the mask's dtype differs from the queries'");
    if (mask.shape.size() < 2 || mask.shape.size() > out.shape.size())
      return fail("a mask of rank below 2 or above the scores'");
    if (mask.shape[mask.shape.size() - 2] != shape.s_q || mask.shape.back() != shape.s_kv)
      return fail("a mask broadcast over query or key positions");
    if (!broadcast_extent(padded_batch(mask.shape, nb), batch, shape.mask_b, shape.mask_h))
      return fail("a mask broadcast over batch dims in a way [b, h, s, d] cannot hold");
    shape.has_mask = true;
  }
  return shape;
}

}  // namespace yirage::backend::cudnn
