#include "yirage/backend/cuda/attention_pattern.h"

#include <set>
#include <vector>

namespace yirage::backend::cuda {

namespace {

using core::Shape;
using ir::AccumKind;
using ir::BlockNode;
using ir::BlockNodeKind;
using ir::OpKind;
using ir::TensorRef;

// Walks a block graph by references, remembering every node it has looked at.
class Walker {
 public:
  explicit Walker(const ir::BlockGraph& graph) : g_(graph) {}

  const BlockNode* op(TensorRef ref, OpKind kind) {
    if (!valid(ref)) return nullptr;
    const BlockNode& node = g_.nodes()[static_cast<std::size_t>(ref.node)];
    if (node.kind != BlockNodeKind::Op || node.op != kind) return nullptr;
    seen_.insert(ref.node);
    return &node;
  }
  // The block-input index behind `ref`, or -1.
  int input(TensorRef ref) {
    if (!valid(ref)) return -1;
    const BlockNode& node = g_.nodes()[static_cast<std::size_t>(ref.node)];
    if (node.kind != BlockNodeKind::Input) return -1;
    seen_.insert(ref.node);
    return node.input_index;
  }
  const BlockNode* accumulator(TensorRef ref, AccumKind kind) {
    if (!valid(ref)) return nullptr;
    const BlockNode& node = g_.nodes()[static_cast<std::size_t>(ref.node)];
    if (node.kind != BlockNodeKind::Accumulate || node.accum != kind) return nullptr;
    seen_.insert(ref.node);
    return &node;
  }
  // A reduction of `kind` over the last dim of a rank-3 tile, keeping the dim.
  const BlockNode* last_dim_reduce(TensorRef ref, OpKind kind) {
    const BlockNode* node = op(ref, kind);
    if (node == nullptr) return nullptr;
    const auto rank = static_cast<int64_t>(g_.type(node->inputs[0]).shape.size());
    int64_t dim = node->attrs.get_int("dim");
    if (dim < 0) dim += rank;
    const bool keep = node->attrs.has("keepdim") && node->attrs.get_bool("keepdim");
    return dim == rank - 1 && keep ? node : nullptr;
  }
  // rms_norm(input, gain) or a plain input: the input index, and the gain index and eps.
  int maybe_normed(TensorRef ref, int& gain, double& eps) {
    if (const BlockNode* norm = op(ref, OpKind::RmsNorm)) {
      gain = input(norm->inputs[1]);
      eps = norm->attrs.get_float("eps");
      const int x = input(norm->inputs[0]);
      return gain < 0 ? -1 : x;
    }
    return input(ref);
  }
  bool covered() const { return seen_.size() == g_.nodes().size(); }

 private:
  bool valid(TensorRef ref) const {
    return ref.node >= 0 && static_cast<std::size_t>(ref.node) < g_.nodes().size() &&
           ref.output == 0;
  }
  const ir::BlockGraph& g_;
  std::set<int32_t> seen_;
};

const ir::BlockInput& input_of(const ir::BlockGraph& g, int index) {
  return g.inputs()[static_cast<std::size_t>(index)];
}
const Shape& tile_of(const ir::BlockGraph& g, int index) {
  return g.type(TensorRef{input_of(g, index).node, 0}).shape;
}

// Per-block offsets of a tile of `whole` placed along `map` with tile extents `box`.
BlockOffsets offsets(const ir::DimMap& map, const Shape& whole, const Shape& box) {
  const auto strides = core::contiguous_strides(whole);
  BlockOffsets at;
  for (int axis = 0; axis < 2; ++axis) {
    const int dim = map[axis];
    if (dim < 0) continue;
    const int64_t step =
        box[static_cast<std::size_t>(dim)] * strides[static_cast<std::size_t>(dim)];
    (axis == 0 ? at.x : at.y) = step;
  }
  return at;
}

// Grid x over dim 0 (or unmapped over one head), y over `y_dim` or unmapped, z unmapped.
bool plain_map(const ir::DimMap& map, int y_dim) {
  return (map[0] == 0 || map[0] == -1) && (map[1] == y_dim || map[1] == -1) && map[2] == -1;
}

bool is_half(core::DType dtype) {
  return dtype == core::DType::BF16 || dtype == core::DType::F16;
}

}  // namespace

std::optional<AttentionPattern> match_attention(const ir::BlockGraph& g) {
  const auto& grid = g.grid_dims();
  if (grid[2] != 1) return std::nullopt;
  Walker walk(g);
  std::vector<TensorRef> rescaled, maxes;
  for (std::size_t n = 0; n < g.nodes().size(); ++n) {
    const BlockNode& node = g.nodes()[n];
    if (node.kind != BlockNodeKind::Accumulate) continue;
    const TensorRef ref{static_cast<int32_t>(n), 0};
    if (node.accum == AccumKind::RescaledSum) {
      rescaled.push_back(ref);
    } else if (node.accum == AccumKind::Max) {
      maxes.push_back(ref);
    } else {
      return std::nullopt;
    }
  }
  if (rescaled.size() != 2 || maxes.size() > 1) return std::nullopt;
  const BlockNode* acc_a = walk.accumulator(rescaled[0], AccumKind::RescaledSum);
  const BlockNode* acc_b = walk.accumulator(rescaled[1], AccumKind::RescaledSum);
  const TensorRef m = acc_a->inputs[1];
  if (!(acc_b->inputs[1] == m)) return std::nullopt;
  // Which accumulator sums e @ v (O) and which sums e (L).
  TensorRef o_acc = rescaled[0], l_acc = rescaled[1];
  if (g.nodes()[static_cast<std::size_t>(acc_a->inputs[0].node)].op != OpKind::Matmul)
    std::swap(o_acc, l_acc);
  const BlockNode* pv =
      walk.op(g.nodes()[static_cast<std::size_t>(o_acc.node)].inputs[0], OpKind::Matmul);
  const BlockNode* row_sum =
      walk.last_dim_reduce(g.nodes()[static_cast<std::size_t>(l_acc.node)].inputs[0], OpKind::Sum);
  const BlockNode* tile_max = walk.last_dim_reduce(m, OpKind::Max);
  if (pv == nullptr || row_sum == nullptr || tile_max == nullptr) return std::nullopt;
  const TensorRef e = row_sum->inputs[0];
  const TensorRef s = tile_max->inputs[0];
  if (!(pv->inputs[0] == e)) return std::nullopt;
  const BlockNode* exp = walk.op(e, OpKind::Exp);
  if (exp == nullptr) return std::nullopt;
  const BlockNode* sub = walk.op(exp->inputs[0], OpKind::Sub);
  if (sub == nullptr || !(sub->inputs[0] == s) || !(sub->inputs[1] == m)) return std::nullopt;
  AttentionPattern p;
  TensorRef qk = s;
  if (const BlockNode* scaled = walk.op(s, OpKind::MulScalar)) {
    p.scale = scaled->attrs.get_float("scalar");
    qk = scaled->inputs[0];
  }
  const BlockNode* qk_product = walk.op(qk, OpKind::Matmul);
  if (qk_product == nullptr) return std::nullopt;
  // K as [H, N, D] through a transpose of its tiles, or stored as [H, D, N].
  if (const BlockNode* transpose = walk.op(qk_product->inputs[1], OpKind::Transpose)) {
    const auto rank = static_cast<int64_t>(g.type(transpose->inputs[0]).shape.size());
    int64_t d0 = transpose->attrs.get_int("dim0"), d1 = transpose->attrs.get_int("dim1");
    if (d0 < 0) d0 += rank;
    if (d1 < 0) d1 += rank;
    if (rank != 3 || std::min(d0, d1) != 1 || std::max(d0, d1) != 2) return std::nullopt;
    p.k = walk.maybe_normed(transpose->inputs[0], p.k_gain, p.k_eps);
  } else {
    p.k_transposed = true;
    p.k = walk.input(qk_product->inputs[1]);
  }
  p.q = walk.maybe_normed(qk_product->inputs[0], p.q_gain, p.q_eps);
  p.v = walk.input(pv->inputs[1]);
  if (p.q < 0 || p.k < 0 || p.v < 0) return std::nullopt;
  const BlockNode* running_max = nullptr;
  if (!maxes.empty()) {
    running_max = walk.accumulator(maxes[0], AccumKind::Max);
    if (!(running_max->inputs[0] == m)) return std::nullopt;
  }
  // Outputs: O / L, or the partials.
  const auto& outputs = g.outputs();
  if (outputs.size() == 1 && running_max == nullptr) {
    const BlockNode* div = walk.op(outputs[0].tile, OpKind::Div);
    if (div == nullptr || !(div->inputs[0] == o_acc) || !(div->inputs[1] == l_acc))
      return std::nullopt;
    p.out_o = 0;
  } else if (outputs.size() == 3 && running_max != nullptr) {
    p.partial = true;
    for (int k = 0; k < 3; ++k) {
      const TensorRef tile = outputs[static_cast<std::size_t>(k)].tile;
      if (tile == o_acc) p.out_o = k;
      if (tile == l_acc) p.out_l = k;
      if (tile == maxes[0]) p.out_x = k;
    }
    if (p.out_o < 0 || p.out_l < 0 || p.out_x < 0) return std::nullopt;
  } else {
    return std::nullopt;
  }
  if (!walk.covered()) return std::nullopt;

  // Shapes, maps and dtypes.
  const ir::BlockInput& q = input_of(g, p.q);
  const ir::BlockInput& k = input_of(g, p.k);
  const ir::BlockInput& v = input_of(g, p.v);
  const Shape& qs = q.dtensor.shape;
  const Shape& ks = k.dtensor.shape;
  const Shape& vs = v.dtensor.shape;
  if (qs.size() != 3 || ks.size() != 3 || vs.size() != 3) return std::nullopt;
  if (!is_half(q.dtensor.dtype) || k.dtensor.dtype != q.dtensor.dtype ||
      v.dtensor.dtype != q.dtensor.dtype)
    return std::nullopt;
  p.dtype = q.dtensor.dtype;
  p.heads = qs[0];
  p.rows = qs[1];
  p.head_dim = qs[2];
  p.kv_len = vs[1];
  // The dims of K holding the KV rows and the head dim.
  const int k_rows = p.k_transposed ? 2 : 1, k_cols = p.k_transposed ? 1 : 2;
  if (vs[0] != p.heads || vs[2] != p.head_dim || ks[0] != p.heads ||
      ks[static_cast<std::size_t>(k_rows)] != p.kv_len ||
      ks[static_cast<std::size_t>(k_cols)] != p.head_dim)
    return std::nullopt;
  if (!plain_map(q.input_map, -2) || q.input_map[1] != -1 || q.forloop_dim != -1)
    return std::nullopt;
  if (!plain_map(v.input_map, 1) || v.forloop_dim != 1 || !plain_map(k.input_map, k_rows) ||
      k.forloop_dim != k_rows || k.input_map[0] != v.input_map[0] ||
      (k.input_map[1] == -1) != (v.input_map[1] == -1))
    return std::nullopt;
  if (tile_of(g, p.q) != Shape{1, p.rows, p.head_dim}) return std::nullopt;
  const Shape& vt = tile_of(g, p.v);
  if (vt.size() != 3 || vt[0] != 1 || vt[2] != p.head_dim) return std::nullopt;
  const Shape kt = p.k_transposed ? Shape{1, p.head_dim, vt[1]} : vt;
  if (tile_of(g, p.k) != kt) return std::nullopt;
  if (p.heads != grid[0] && !(p.heads == 1 && grid[0] == 1)) return std::nullopt;
  p.splits = v.input_map[1] == 1 ? grid[1] : 1;
  p.kv_block = vt[1] * g.forloop_range();
  if (p.kv_block * p.splits != p.kv_len) return std::nullopt;
  p.q_at = offsets(q.input_map, qs, tile_of(g, p.q));
  p.v_at = offsets(v.input_map, vs, {1, p.kv_block, p.head_dim});
  p.k_at =
      offsets(k.input_map, ks,
              p.k_transposed ? Shape{1, p.head_dim, p.kv_block} : Shape{1, p.kv_block, p.head_dim});
  for (int gain : {p.q_gain, p.k_gain}) {
    if (gain < 0) continue;
    const ir::BlockInput& in = input_of(g, gain);
    if (in.dtensor.shape != Shape{p.head_dim} || in.forloop_dim != -1 ||
        in.input_map != ir::DimMap{-1, -1, -1} || !core::dtype_is_float(in.dtensor.dtype))
      return std::nullopt;
  }
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const ir::BlockOutput& out = outputs[i];
    const Shape& box = g.type(out.tile).shape;
    const Shape& whole = out.dtensor.shape;
    if (!plain_map(out.output_map, 1) || !core::dtype_is_float(out.dtensor.dtype))
      return std::nullopt;
    if (box.size() != 3 || box[0] != 1 || box[1] != p.rows || whole[2] != box[2])
      return std::nullopt;
    if ((out.output_map[0] == -1 && grid[0] != 1) || (out.output_map[1] == -1 && grid[1] != 1))
      return std::nullopt;
    p.out_at[i] = offsets(out.output_map, whole, box);
  }
  return p;
}

std::optional<CombinePattern> match_combine(const ir::BlockGraph& g) {
  const auto& grid = g.grid_dims();
  if (grid[1] != 1 || grid[2] != 1 || g.nodes().size() != 6 || g.inputs().size() != 3 ||
      g.outputs().size() != 1)
    return std::nullopt;
  Walker walk(g);
  const BlockNode* div = walk.op(g.outputs()[0].tile, OpKind::Div);
  if (div == nullptr) return std::nullopt;
  const BlockNode* top = walk.accumulator(div->inputs[0], AccumKind::RescaledSum);
  const BlockNode* bottom = walk.accumulator(div->inputs[1], AccumKind::RescaledSum);
  if (top == nullptr || bottom == nullptr || !(top->inputs[1] == bottom->inputs[1]))
    return std::nullopt;
  CombinePattern p;
  p.o = walk.input(top->inputs[0]);
  p.l = walk.input(bottom->inputs[0]);
  p.x = walk.input(top->inputs[1]);
  if (p.o < 0 || p.l < 0 || p.x < 0 || !walk.covered()) return std::nullopt;
  const ir::BlockInput& o = input_of(g, p.o);
  const ir::BlockInput& l = input_of(g, p.l);
  const ir::BlockInput& x = input_of(g, p.x);
  const Shape& os = o.dtensor.shape;
  if (os.size() != 3 || l.dtensor.shape != Shape{os[0], os[1], 1} ||
      x.dtensor.shape != l.dtensor.shape)
    return std::nullopt;
  for (const ir::BlockInput* in : {&o, &l, &x}) {
    if (!plain_map(in->input_map, -2) || in->input_map[1] != -1 || in->forloop_dim != 1 ||
        !core::dtype_is_float(in->dtensor.dtype))
      return std::nullopt;
  }
  p.heads = os[0];
  p.splits = g.forloop_range();
  p.width = os[2];
  if (os[1] % p.splits != 0) return std::nullopt;
  p.rows = os[1] / p.splits;
  if (tile_of(g, p.o) != Shape{1, p.rows, p.width} || tile_of(g, p.l) != Shape{1, p.rows, 1} ||
      tile_of(g, p.x) != Shape{1, p.rows, 1})
    return std::nullopt;
  if (p.heads != grid[0] && !(p.heads == 1 && grid[0] == 1)) return std::nullopt;
  const ir::BlockOutput& out = g.outputs()[0];
  if (out.dtensor.shape != Shape{p.heads, p.rows, p.width} || !plain_map(out.output_map, -2) ||
      out.output_map[1] != -1 || !core::dtype_is_float(out.dtensor.dtype))
    return std::nullopt;
  p.o_type = o.dtensor.dtype;
  p.l_type = l.dtensor.dtype;
  p.x_type = x.dtensor.dtype;
  p.out_type = out.dtensor.dtype;
  p.head_stride = os[1] * os[2];
  return p;
}

}  // namespace yirage::backend::cuda
