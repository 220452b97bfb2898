#include "yirage/workloads/workloads.h"

#include <cmath>
#include <memory>
#include <sstream>

#include "yirage/core/error.h"
#include "yirage/ir/block_graph.h"

namespace yirage::workloads {

namespace {

using core::DType;
using ir::AccumKind;
using ir::Attrs;
using ir::BlockGraph;
using ir::Dim3;
using ir::KernelGraph;
using ir::OpKind;
using ir::TensorRef;

constexpr double kNormEps = 1e-6;

// The largest candidate that divides `extent` leaving at least `min_tile` per part.
int64_t pick(int64_t requested, int64_t extent, std::initializer_list<int64_t> candidates,
             int64_t min_tile) {
  if (requested > 0) return requested;
  for (int64_t candidate : candidates) {
    if (extent % candidate == 0 && extent / candidate >= min_tile) return candidate;
  }
  return 1;
}

// Small builder helpers over a block graph, so the fused forms read like the math.
struct Block {
  std::shared_ptr<BlockGraph> graph;

  TensorRef op(OpKind kind, std::vector<TensorRef> inputs, Attrs attrs = {}) {
    return graph->add_op(kind, inputs, std::move(attrs))[0];
  }
  TensorRef scalar(OpKind kind, TensorRef x, double value) {
    Attrs attrs;
    attrs.set("scalar", value);
    return op(kind, {x}, std::move(attrs));
  }
  TensorRef reduce(OpKind kind, TensorRef x, int64_t dim) {
    Attrs attrs;
    attrs.set("dim", dim).set("keepdim", true);
    return op(kind, {x}, std::move(attrs));
  }
  TensorRef transpose(TensorRef x, int64_t dim0, int64_t dim1) {
    Attrs attrs;
    attrs.set("dim0", dim0).set("dim1", dim1);
    return op(OpKind::Transpose, {x}, std::move(attrs));
  }
  TensorRef rms_norm(TensorRef x, TensorRef weight) {
    Attrs attrs;
    attrs.set("eps", kNormEps);
    return op(OpKind::RmsNorm, {x, weight}, std::move(attrs));
  }
};

Block new_block(Dim3 grid, int64_t forloop) {
  return {std::make_shared<BlockGraph>(grid, Dim3{128, 1, 1}, forloop, 64)};
}

std::string shape_text(std::initializer_list<std::pair<const char*, core::Shape>> tensors) {
  std::ostringstream out;
  bool first = true;
  for (const auto& [name, shape] : tensors) {
    out << (first ? "" : " ") << name << core::shape_to_string(shape);
    first = false;
  }
  return out.str();
}

}  // namespace

Workload rms_norm_matmul(int64_t batch, int64_t hidden, int64_t out, DType dtype, Tiling tiling) {
  Workload w{"rms_norm_matmul", shape_text({{"x", {batch, hidden}}, {"w", {hidden, out}}}), {}, {}};
  for (KernelGraph* g : {&w.naive, &w.fused}) {
    g->input({batch, hidden}, dtype);
    g->input({hidden}, dtype);
    g->input({hidden, out}, dtype);
  }
  w.naive.mark_output(w.naive.matmul(w.naive.rms_norm({0, 0}, {1, 0}, kNormEps), {2, 0}));

  const int64_t grid = pick(tiling.grid, out, {128, 64, 32, 16, 8, 4, 2}, 16);
  const int64_t loops = pick(tiling.forloop, hidden, {16, 8, 4, 2}, 16);
  Block b = new_block({grid, 1, 1}, loops);
  const auto types = w.fused.input_types();
  const TensorRef x = b.graph->input(types[0], {-1, -1, -1}, 1);
  const TensorRef gain = b.graph->input(types[1], {-1, -1, -1}, 0);
  const TensorRef weight = b.graph->input(types[2], {1, -1, -1}, 0);
  // sum_k x g w and sum_k x^2 accumulate together; the division by the RMS comes last.
  const TensorRef product = b.graph->accumulate(
      AccumKind::Sum, b.op(OpKind::Matmul, {b.op(OpKind::Mul, {x, gain}), weight}));
  const TensorRef squares =
      b.graph->accumulate(AccumKind::Sum, b.reduce(OpKind::Sum, b.op(OpKind::Square, {x}), 1));
  const TensorRef mean = b.scalar(OpKind::MulScalar, squares, 1.0 / static_cast<double>(hidden));
  const TensorRef scale = b.op(OpKind::Rsqrt, {b.scalar(OpKind::AddScalar, mean, kNormEps)});
  b.graph->output(b.op(OpKind::Mul, {product, scale}), {1, -1, -1});
  w.fused.mark_output(w.fused.customized({{0, 0}, {1, 0}, {2, 0}}, b.graph)[0]);
  return w;
}

Workload gated_mlp(int64_t batch, int64_t hidden, int64_t inter, DType dtype, Tiling tiling) {
  Workload w{"gated_mlp",
             shape_text({{"x", {batch, hidden}}, {"w1", {hidden, inter}}, {"w2", {hidden, inter}}}),
             {},
             {}};
  for (KernelGraph* g : {&w.naive, &w.fused}) {
    g->input({batch, hidden}, dtype);
    g->input({hidden, inter}, dtype);
    g->input({hidden, inter}, dtype);
  }
  KernelGraph& n = w.naive;
  n.mark_output(n.binary(OpKind::Mul, n.unary(OpKind::Silu, n.matmul({0, 0}, {1, 0})),
                         n.matmul({0, 0}, {2, 0})));

  const int64_t grid = pick(tiling.grid, inter, {128, 64, 32, 16, 8, 4, 2}, 16);
  const int64_t loops = pick(tiling.forloop, hidden, {16, 8, 4, 2}, 16);
  Block b = new_block({grid, 1, 1}, loops);
  const auto types = w.fused.input_types();
  const TensorRef x = b.graph->input(types[0], {-1, -1, -1}, 1);
  const TensorRef w1 = b.graph->input(types[1], {1, -1, -1}, 0);
  const TensorRef w2 = b.graph->input(types[2], {1, -1, -1}, 0);
  const TensorRef gate = b.graph->accumulate(AccumKind::Sum, b.op(OpKind::Matmul, {x, w1}));
  const TensorRef up = b.graph->accumulate(AccumKind::Sum, b.op(OpKind::Matmul, {x, w2}));
  b.graph->output(b.op(OpKind::Mul, {b.op(OpKind::Silu, {gate}), up}), {1, -1, -1});
  w.fused.mark_output(w.fused.customized({{0, 0}, {1, 0}, {2, 0}}, b.graph)[0]);
  return w;
}

Workload lora(int64_t batch, int64_t hidden, int64_t out, int64_t rank, DType dtype,
              Tiling tiling) {
  Workload w{"lora",
             shape_text({{"x", {batch, hidden}},
                         {"w", {hidden, out}},
                         {"a", {hidden, rank}},
                         {"b", {rank, out}}}),
             {},
             {}};
  for (KernelGraph* g : {&w.naive, &w.fused}) {
    g->input({batch, hidden}, dtype);
    g->input({hidden, out}, dtype);
    g->input({hidden, rank}, dtype);
    g->input({rank, out}, dtype);
  }
  KernelGraph& n = w.naive;
  n.mark_output(
      n.binary(OpKind::Add, n.matmul({0, 0}, {1, 0}), n.matmul(n.matmul({0, 0}, {2, 0}), {3, 0})));

  const int64_t grid = pick(tiling.grid, out, {128, 64, 32, 16, 8, 4, 2}, 16);
  const int64_t loops = pick(tiling.forloop, hidden, {16, 8, 4, 2}, 16);
  Block b = new_block({grid, 1, 1}, loops);
  const auto types = w.fused.input_types();
  const TensorRef x = b.graph->input(types[0], {-1, -1, -1}, 1);
  const TensorRef weight = b.graph->input(types[1], {1, -1, -1}, 0);
  const TensorRef down = b.graph->input(types[2], {-1, -1, -1}, 0);
  const TensorRef up = b.graph->input(types[3], {1, -1, -1}, -1);
  const TensorRef main = b.graph->accumulate(AccumKind::Sum, b.op(OpKind::Matmul, {x, weight}));
  const TensorRef low = b.graph->accumulate(AccumKind::Sum, b.op(OpKind::Matmul, {x, down}));
  b.graph->output(b.op(OpKind::Add, {main, b.op(OpKind::Matmul, {low, up})}), {1, -1, -1});
  w.fused.mark_output(w.fused.customized({{0, 0}, {1, 0}, {2, 0}, {3, 0}}, b.graph)[0]);
  return w;
}

Workload attention_decode(int64_t kv_heads, int64_t group, int64_t kv_len, int64_t head_dim,
                          DType dtype, bool qk_norm, Tiling tiling) {
  Workload w{qk_norm ? "qk_norm_attention" : "gqa_decode",
             shape_text({{"q", {kv_heads, group, head_dim}},
                         {"k", {kv_heads, kv_len, head_dim}},
                         {"v", {kv_heads, kv_len, head_dim}}}),
             {},
             {}};
  for (KernelGraph* g : {&w.naive, &w.fused}) {
    g->input({kv_heads, group, head_dim}, dtype);
    g->input({kv_heads, kv_len, head_dim}, dtype);
    g->input({kv_heads, kv_len, head_dim}, dtype);
    if (qk_norm) {
      g->input({head_dim}, dtype);
      g->input({head_dim}, dtype);
    }
  }
  const double scale = 1.0 / std::sqrt(static_cast<double>(head_dim));
  KernelGraph& n = w.naive;
  TensorRef q{0, 0}, k{1, 0};
  if (qk_norm) {
    q = n.rms_norm(q, {3, 0}, kNormEps);
    k = n.rms_norm(k, {4, 0}, kNormEps);
  }
  const TensorRef scores = n.unary(OpKind::MulScalar, n.matmul(q, n.transpose(k, 1, 2)), scale);
  n.mark_output(n.matmul(n.softmax(scores, -1), {2, 0}));

  const int64_t splits = pick(tiling.grid, kv_len, {4, 2}, 64);
  const int64_t loops = pick(tiling.forloop, kv_len / splits, {16, 8, 4, 2}, 16);
  Block b = new_block({kv_heads, splits, 1}, loops);
  const auto types = w.fused.input_types();
  TensorRef bq = b.graph->input(types[0], {0, -1, -1}, -1);
  TensorRef bk = b.graph->input(types[1], {0, 1, -1}, 1);
  const TensorRef bv = b.graph->input(types[2], {0, 1, -1}, 1);
  if (qk_norm) {
    bq = b.rms_norm(bq, b.graph->input(types[3], {-1, -1, -1}, -1));
    bk = b.rms_norm(bk, b.graph->input(types[4], {-1, -1, -1}, -1));
  }
  // Online softmax: per tile, scores relative to the tile max; rescaled into the running max.
  const TensorRef s =
      b.scalar(OpKind::MulScalar, b.op(OpKind::Matmul, {bq, b.transpose(bk, 1, 2)}), scale);
  const TensorRef tile_max = b.reduce(OpKind::Max, s, 2);
  const TensorRef e = b.op(OpKind::Exp, {b.op(OpKind::Sub, {s, tile_max})});
  const TensorRef sum =
      b.graph->accumulate(AccumKind::RescaledSum, b.reduce(OpKind::Sum, e, 2), tile_max);
  const TensorRef weighted =
      b.graph->accumulate(AccumKind::RescaledSum, b.op(OpKind::Matmul, {e, bv}), tile_max);
  std::vector<TensorRef> inputs = {{0, 0}, {1, 0}, {2, 0}};
  if (qk_norm) inputs.insert(inputs.end(), {{3, 0}, {4, 0}});
  if (splits == 1) {
    b.graph->output(b.op(OpKind::Div, {weighted, sum}), {0, -1, -1});
    w.fused.mark_output(w.fused.customized(inputs, b.graph)[0]);
    return w;
  }
  // Split KV: each block writes its partial (unnormalized output, sum, max); a second kernel
  // rescales the splits to their common max and normalizes.
  const TensorRef running_max = b.graph->accumulate(AccumKind::Max, tile_max);
  b.graph->output(weighted, {0, 1, -1});
  b.graph->output(sum, {0, 1, -1});
  b.graph->output(running_max, {0, 1, -1});
  const auto partial = w.fused.customized(inputs, b.graph);
  Block c = new_block({kv_heads, 1, 1}, splits);
  const TensorRef part_out = c.graph->input(w.fused.type(partial[0]), {0, -1, -1}, 1);
  const TensorRef part_sum = c.graph->input(w.fused.type(partial[1]), {0, -1, -1}, 1);
  const TensorRef part_max = c.graph->input(w.fused.type(partial[2]), {0, -1, -1}, 1);
  const TensorRef total_out = c.graph->accumulate(AccumKind::RescaledSum, part_out, part_max);
  const TensorRef total_sum = c.graph->accumulate(AccumKind::RescaledSum, part_sum, part_max);
  c.graph->output(c.op(OpKind::Div, {total_out, total_sum}), {0, -1, -1});
  w.fused.mark_output(w.fused.customized(partial, c.graph)[0]);
  return w;
}

Workload ntrans(int64_t rows, int64_t hidden, DType dtype) {
  Workload w{"ntrans",
             shape_text({{"h", {rows, hidden}}, {"x", {rows, hidden}}, {"alpha", {rows, hidden}}}),
             {},
             {}};
  for (KernelGraph* g : {&w.naive, &w.fused}) {
    for (int i = 0; i < 3; ++i) g->input({rows, hidden}, dtype);
    g->input({hidden}, dtype);
  }
  const TensorRef h{0, 0}, x{1, 0}, alpha{2, 0}, ones{3, 0};
  KernelGraph& n = w.naive;
  const TensorRef inner = n.binary(OpKind::Add, n.rms_norm(h, ones, kNormEps), x);
  n.mark_output(
      n.rms_norm(n.binary(OpKind::Add, x, n.binary(OpKind::Mul, alpha, inner)), ones, kNormEps));

  Block b{std::make_shared<BlockGraph>(Dim3{rows, 1, 1}, Dim3{256, 1, 1}, 1, 64)};
  const auto types = w.fused.input_types();
  const TensorRef bh = b.graph->input(types[0], {0, -1, -1}, -1);
  const TensorRef bx = b.graph->input(types[1], {0, -1, -1}, -1);
  const TensorRef ba = b.graph->input(types[2], {0, -1, -1}, -1);
  const TensorRef bones = b.graph->input(types[3], {-1, -1, -1}, -1);
  const TensorRef bin = b.op(OpKind::Add, {b.rms_norm(bh, bones), bx});
  const TensorRef sum = b.op(OpKind::Add, {bx, b.op(OpKind::Mul, {ba, bin})});
  b.graph->output(b.rms_norm(sum, bones), {0, -1, -1});
  w.fused.mark_output(w.fused.customized({h, x, alpha, ones}, b.graph)[0]);
  return w;
}

std::vector<Workload> standard_workloads() {
  const DType bf16 = DType::BF16;
  std::vector<Workload> result;
  // Mirage's benchmark shapes (batch 8 where a batch applies).
  result.push_back(rms_norm_matmul(16, 4096, 6144, bf16));
  result.push_back(gated_mlp(8, 4096, 4096, bf16));
  result.push_back(lora(16, 256, 4096, 16, bf16));
  result.push_back(attention_decode(2, 256, 4096, 64, bf16, false));
  result.push_back(attention_decode(2, 256, 4096, 64, bf16, true));
  // Qwen3-0.6B: hidden 1024, QKV 4096, MLP 3072, 16 query and 8 KV heads of 128.
  result.push_back(rms_norm_matmul(8, 1024, 4096, bf16));
  result.push_back(gated_mlp(8, 1024, 3072, bf16));
  result.push_back(lora(8, 1024, 4096, 16, bf16));
  result.push_back(attention_decode(8, 2, 1024, 128, bf16, false));
  result.push_back(attention_decode(8, 2, 1024, 128, bf16, true));
  // Qwen3-8B: hidden 4096, QKV 6144, MLP 12288, 32 query and 8 KV heads of 128.
  result.push_back(rms_norm_matmul(8, 4096, 6144, bf16));
  result.push_back(gated_mlp(8, 4096, 12288, bf16));
  result.push_back(lora(8, 4096, 6144, 16, bf16));
  result.push_back(attention_decode(8, 4, 4096, 128, bf16, false));
  result.push_back(attention_decode(8, 4, 4096, 128, bf16, true));
  return result;
}

}  // namespace yirage::workloads
