#include "backend/cuda/cuda_test_graphs.h"

#include <cmath>
#include <memory>

#include "yirage/ir/block_graph.h"
#include "yirage/workloads/workloads.h"

namespace yirage::testing {

using core::DType;
using ir::KernelGraph;
using ir::OpKind;

std::vector<std::pair<std::string, KernelGraph>> cuda_op_graphs(DType dtype) {
  std::vector<std::pair<std::string, KernelGraph>> graphs;
  {
    KernelGraph g;
    const auto x = g.input({3, 5, 7}, dtype);
    const auto y = g.input({5, 1}, dtype);
    auto v = g.binary(OpKind::Add, x, y);
    v = g.binary(OpKind::Mul, v, g.unary(OpKind::Silu, x));
    v = g.binary(OpKind::Sub, v, g.unary(OpKind::Gelu, v));
    v = g.binary(OpKind::Div, v, g.unary(OpKind::AddScalar, g.unary(OpKind::Square, y), 1.5));
    v = g.unary(OpKind::MulScalar, g.unary(OpKind::Sigmoid, v), 0.75);
    v = g.binary(OpKind::Add, v, g.unary(OpKind::Relu, g.unary(OpKind::Neg, x)));
    v = g.binary(OpKind::Add, v,
                 g.unary(OpKind::Exp, g.unary(OpKind::Neg, g.unary(OpKind::Square, x))));
    const auto positive = g.unary(OpKind::AddScalar, g.unary(OpKind::Square, x), 0.5);
    v = g.binary(OpKind::Add, v, g.unary(OpKind::Sqrt, positive));
    v = g.binary(OpKind::Add, v, g.unary(OpKind::Rsqrt, positive));
    v = g.binary(OpKind::Add, v,
                 g.binary(OpKind::Pow, positive, g.unary(OpKind::AddScalar, y, 2.0)));
    g.mark_output(v);
    graphs.emplace_back("elementwise", std::move(g));
  }
  {
    KernelGraph g;
    const auto x = g.input({4, 300, 6}, dtype);
    g.mark_output(g.reduce(OpKind::Sum, x, 1));
    g.mark_output(g.reduce(OpKind::Max, x, 2, true));
    g.mark_output(g.reduce(OpKind::Mean, g.reshape(x, {24, 300}), 1));
    g.mark_output(g.softmax(x, 1));
    g.mark_output(g.softmax(x, -1));
    graphs.emplace_back("reductions", std::move(g));
  }
  {  // the vectorised element-wise paths: same shape, row, column, scalar, strided broadcast
    KernelGraph g;
    const auto x = g.input({8, 4096}, dtype);
    const auto row = g.input({4096}, dtype);
    const auto column = g.input({8, 1}, dtype);
    const auto scalar = g.input({1}, dtype);
    auto v = g.binary(OpKind::Add, x, g.unary(OpKind::Silu, x));
    v = g.binary(OpKind::Mul, v, row);
    v = g.binary(OpKind::Sub, column, v);
    v = g.binary(OpKind::Div, v, g.unary(OpKind::AddScalar, g.unary(OpKind::Square, scalar), 1.0));
    g.mark_output(v);
    const auto cube = g.input({4, 6, 16}, dtype);
    const auto middle = g.input({6, 1}, dtype);
    const auto outer = g.input({4, 1, 16}, dtype);
    g.mark_output(g.binary(OpKind::Add, g.binary(OpKind::Mul, cube, middle), outer));
    graphs.emplace_back("elementwise_vectors", std::move(g));
  }
  {  // row kernels at every thread layout: lane groups, a block per row, re-reading long rows
    KernelGraph g;
    for (const core::Shape& shape :
         std::vector<core::Shape>{{3, 4096}, {5, 100}, {9, 24}, {2, 40000}, {1, 150000}, {4, 3}}) {
      const auto x = g.input(shape, dtype);
      const auto w = g.input({shape.back()}, dtype);
      g.mark_output(g.rms_norm(x, w, 1e-6));
      g.mark_output(g.softmax(x, -1));
      g.mark_output(g.reduce(OpKind::Sum, x, 1));
      g.mark_output(g.reduce(OpKind::Max, x, 1, true));
    }
    graphs.emplace_back("row_kernels", std::move(g));
  }
  {
    KernelGraph g;
    const auto x = g.input({6, 512}, dtype);
    const auto w = g.input({512}, dtype);
    g.mark_output(g.rms_norm(x, w, 1e-5));
    graphs.emplace_back("rms_norm", std::move(g));
  }
  {
    KernelGraph g;
    const auto x = g.input({2, 5, 3, 16}, dtype);
    const auto positions = g.input({2, 5}, DType::I64);
    g.mark_output(g.rope(x, positions, 10000.0));
    graphs.emplace_back("rope", std::move(g));
  }
  {
    KernelGraph g;
    const auto ids = g.input({2, 3}, DType::I32);
    const auto table = g.input({11, 24}, dtype);
    g.mark_output(g.embedding(ids, table));
    graphs.emplace_back("embedding", std::move(g));
  }
  {
    KernelGraph g;
    const auto a = g.input({2, 3, 4}, dtype);
    const auto b = g.input({2, 5, 4}, dtype);
    const auto joined = g.concat({a, b}, 1);
    const auto parts = g.split(joined, {6, 2}, 1);
    g.mark_output(g.transpose(parts[0], 0, 2));
    g.mark_output(parts[1]);
    g.mark_output(g.reshape(joined, {4, 16}));
    graphs.emplace_back("layout", std::move(g));
  }
  {  // register copies and the tiled transpose, with partial tiles and odd runs
    KernelGraph g;
    g.mark_output(g.transpose(g.input({3, 40, 33}, dtype), 1, 2));
    g.mark_output(g.transpose(g.input({4, 6, 16}, dtype), 0, 1));
    g.mark_output(g.concat({g.input({2, 3, 8}, dtype), g.input({2, 5, 8}, dtype)}, 1));
    for (const auto& part : g.split(g.input({2, 8, 6}, dtype), {3, 5}, 1)) g.mark_output(part);
    g.mark_output(g.embedding(g.input({5}, DType::I64), g.input({7, 5}, dtype)));
    graphs.emplace_back("layout_vectors", std::move(g));
  }
  {
    KernelGraph g;
    const auto a = g.input({3, 17, 40}, dtype);
    const auto b = g.input({40, 23}, dtype);
    const auto c = g.input({3, 23, 9}, dtype);
    g.mark_output(g.matmul(g.matmul(a, b), c));
    const auto rows = g.input({5, 72}, dtype);  // few rows: the streaming (GEMV) kernel
    const auto weights = g.input({72, 48}, dtype);
    g.mark_output(g.matmul(rows, weights));
    graphs.emplace_back("matmul", std::move(g));
  }
  return graphs;
}

KernelGraph attention_with_k_by_columns(int64_t heads, int64_t rows, int64_t kv_len,
                                        int64_t head_dim, DType dtype, int64_t splits,
                                        int64_t loops) {
  using ir::AccumKind;
  using ir::BlockGraph;
  using ir::TensorRef;
  KernelGraph g;
  const std::vector<TensorRef> inputs = {g.input({heads, rows, head_dim}, dtype),
                                         g.input({heads, head_dim, kv_len}, dtype),
                                         g.input({heads, kv_len, head_dim}, dtype)};
  auto b = std::make_shared<BlockGraph>(ir::Dim3{heads, splits, 1}, ir::Dim3{128, 1, 1}, loops, 64);
  const auto types = g.input_types();
  const TensorRef q = b->input(types[0], {0, -1, -1}, -1);
  const TensorRef k = b->input(types[1], {0, splits > 1 ? 2 : -1, -1}, 2);
  const TensorRef v = b->input(types[2], {0, splits > 1 ? 1 : -1, -1}, 1);
  ir::Attrs scale, reduce;
  scale.set("scalar", 1.0 / std::sqrt(static_cast<double>(head_dim)));
  reduce.set("dim", int64_t{2}).set("keepdim", true);
  const TensorRef s =
      b->add_op(OpKind::MulScalar, {b->add_op(OpKind::Matmul, {q, k}, {})[0]}, scale)[0];
  const TensorRef m = b->add_op(OpKind::Max, {s}, reduce)[0];
  const TensorRef e = b->add_op(OpKind::Exp, {b->add_op(OpKind::Sub, {s, m}, {})[0]}, {})[0];
  const TensorRef sum =
      b->accumulate(AccumKind::RescaledSum, b->add_op(OpKind::Sum, {e}, reduce)[0], m);
  const TensorRef out =
      b->accumulate(AccumKind::RescaledSum, b->add_op(OpKind::Matmul, {e, v}, {})[0], m);
  if (splits == 1) {
    b->output(b->add_op(OpKind::Div, {out, sum}, {})[0], {0, -1, -1});
    g.mark_output(g.customized(inputs, b)[0]);
    return g;
  }
  b->output(out, {0, 1, -1});
  b->output(sum, {0, 1, -1});
  b->output(b->accumulate(AccumKind::Max, m), {0, 1, -1});
  const auto partial = g.customized(inputs, b);
  auto c = std::make_shared<BlockGraph>(ir::Dim3{heads, 1, 1}, ir::Dim3{128, 1, 1}, splits, 64);
  const TensorRef o_part = c->input(g.type(partial[0]), {0, -1, -1}, 1);
  const TensorRef l_part = c->input(g.type(partial[1]), {0, -1, -1}, 1);
  const TensorRef x_part = c->input(g.type(partial[2]), {0, -1, -1}, 1);
  const TensorRef total = c->accumulate(AccumKind::RescaledSum, o_part, x_part);
  const TensorRef denominator = c->accumulate(AccumKind::RescaledSum, l_part, x_part);
  c->output(c->add_op(OpKind::Div, {total, denominator}, {})[0], {0, -1, -1});
  g.mark_output(g.customized(partial, c)[0]);
  return g;
}

std::vector<std::pair<std::string, KernelGraph>> cuda_workload_graphs(DType dtype) {
  std::vector<workloads::Workload> list;
  list.push_back(workloads::rms_norm_matmul(4, 256, 512, dtype));
  list.push_back(workloads::gated_mlp(4, 256, 384, dtype));
  list.push_back(workloads::lora(4, 256, 512, 16, dtype));
  list.push_back(workloads::attention_decode(2, 4, 256, 64, dtype, false));
  list.push_back(workloads::attention_decode(2, 4, 256, 64, dtype, false, {4, 0}));
  list.push_back(workloads::attention_decode(2, 4, 256, 64, dtype, true));
  // The register schedule of element-wise block graphs: rows spanning warps (4096 wide, one
  // vector a thread) and rows within a warp (256 wide).
  list.push_back(workloads::ntrans(8, 4096, dtype));
  list.push_back(workloads::ntrans(4, 256, dtype));
  // The attention schedule's other shapes: a pipeline of several KV tiles, head 128, query
  // rows spread over warps and blocks (padded), QK-norm with several row warps, a KV range
  // that is no multiple of 16, a head dim padded from 24 to 32.
  list.push_back(workloads::attention_decode(2, 4, 512, 64, dtype, false, {2, 0}));
  list.push_back(workloads::attention_decode(1, 4, 384, 128, dtype, true, {2, 0}));
  list.push_back(workloads::attention_decode(2, 40, 256, 64, dtype, true, {1, 0}));
  list.push_back(workloads::attention_decode(1, 96, 512, 32, dtype, false, {2, 0}));
  list.push_back(workloads::attention_decode(2, 4, 200, 64, dtype, true, {2, 0}));  // masked
  list.push_back(workloads::attention_decode(2, 3, 96, 24, dtype, false, {2, 4}));  // padded
  // Warps of 16 rows alone on the KV tiles, storing from registers: QK-norm without a split,
  // a split with rows past the last 16-row tile, a masked KV range.
  list.push_back(workloads::attention_decode(1, 64, 256, 64, dtype, true, {1, 0}));
  list.push_back(workloads::attention_decode(2, 70, 256, 32, dtype, true, {2, 0}));
  list.push_back(workloads::attention_decode(1, 64, 200, 64, dtype, false, {2, 0}));
  // Blocks of 128 rows (8 warps): a grid of 256 of them.
  list.push_back(workloads::attention_decode(16, 128, 256, 32, dtype, true, {16, 0}));
  std::vector<std::pair<std::string, KernelGraph>> graphs;
  for (auto& w : list) {
    graphs.emplace_back(w.name + " fused " + w.shape, std::move(w.fused));
    graphs.emplace_back(w.name + " naive " + w.shape, std::move(w.naive));
  }
  graphs.emplace_back("attention, K by columns, split",
                      attention_with_k_by_columns(2, 4, 512, 64, dtype, 2, 4));
  graphs.emplace_back("attention, K by columns, masked",
                      attention_with_k_by_columns(2, 20, 200, 24, dtype, 1, 5));
  return graphs;
}

}  // namespace yirage::testing
