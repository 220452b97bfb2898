// Generated fused kernels against the reference backend: every standard workload's block graphs
// at small shapes in f32, bf16 and f16, the block-graph examples, and every block op.
#include <gtest/gtest.h>

#include <memory>

#include "backend/cpu/codegen_test_util.h"
#include "yirage/workloads/workloads.h"

namespace yirage::backend::cpu {
namespace {

using core::DType;
using ir::AccumKind;
using ir::Attrs;
using ir::BlockGraph;
using ir::OpKind;
using ir::TensorRef;
using testing::expect_matches_reference;

// Every block graph of the fused program of `workload`; later kernels read earlier kernels'
// partial results (sums, maxima), so they get positive inputs.
void expect_workload_matches(const workloads::Workload& workload, uint64_t seed) {
  int kernel = 0;
  for (const auto& node : workload.fused.nodes()) {
    if (node.op != ir::OpKind::Customized) continue;
    SCOPED_TRACE(workload.name + " " + workload.shape + " kernel " + std::to_string(kernel));
    if (kernel == 0) {
      expect_matches_reference(*node.block_graph, seed + kernel);
    } else {
      expect_matches_reference(*node.block_graph, seed + kernel, 0.5, 1.5);
    }
    ++kernel;
  }
  EXPECT_GT(kernel, 0);
}

TEST(CpuCodegenKernelTest, RmsNormMatmul) {
  // out 96 over a grid of 4: tiles of 24 columns, not a multiple of the vector width.
  expect_workload_matches(workloads::rms_norm_matmul(4, 64, 96, DType::F32), 1);
  expect_workload_matches(workloads::rms_norm_matmul(4, 64, 96, DType::BF16), 2);
  expect_workload_matches(workloads::rms_norm_matmul(4, 64, 96, DType::F16), 3);
}

TEST(CpuCodegenKernelTest, GatedMlp) {
  expect_workload_matches(workloads::gated_mlp(3, 64, 48, DType::F32), 4);
  expect_workload_matches(workloads::gated_mlp(3, 64, 48, DType::BF16), 5);
}

TEST(CpuCodegenKernelTest, Lora) {
  expect_workload_matches(workloads::lora(4, 64, 64, 8, DType::F32), 6);
}

TEST(CpuCodegenKernelTest, SplitKvAttentionDecode) {
  // kv 128 split over 2 blocks per head, then the combine kernel.
  expect_workload_matches(workloads::attention_decode(2, 3, 128, 16, DType::F32, false), 7);
  expect_workload_matches(workloads::attention_decode(2, 3, 128, 16, DType::BF16, false), 8);
}

TEST(CpuCodegenKernelTest, QkNormAttentionDecode) {
  expect_workload_matches(workloads::attention_decode(2, 3, 64, 16, DType::F32, true), 9);
  expect_workload_matches(workloads::attention_decode(2, 3, 64, 16, DType::BF16, true), 10);
}

TEST(CpuCodegenKernelTest, OnlineSoftmaxExample) {
  BlockGraph graph({2, 1, 1}, {128, 1, 1}, 4, 64);
  const auto x = graph.input({{2, 16}, DType::F32}, {0, -1, -1}, 1);
  Attrs last;
  last.set("dim", int64_t{1}).set("keepdim", true);
  const auto tile_max = graph.add_op(OpKind::Max, {x}, last)[0];
  const auto e =
      graph.add_op(OpKind::Exp, {graph.add_op(OpKind::Sub, {x, tile_max}, {})[0]}, {})[0];
  graph.output(
      graph.accumulate(AccumKind::RescaledSum, graph.add_op(OpKind::Sum, {e}, last)[0], tile_max),
      {0, -1, -1});
  graph.output(graph.accumulate(AccumKind::Max, tile_max), {0, -1, -1});
  expect_matches_reference(graph, 11, -3.0, 3.0);
}

TEST(CpuCodegenKernelTest, MeanRmsMaxAndReduceToDimx) {
  BlockGraph graph({1, 1, 1}, {128, 1, 1}, 4, 2);
  const ir::TensorType type{{3, 8}, DType::F32};
  const auto x = graph.input(type, {-1, -1, -1}, 1);  // tiles [3, 2]
  graph.output(graph.accumulate(AccumKind::Mean, x), {-1, -1, -1});
  graph.output(graph.accumulate(AccumKind::Rms, x), {-1, -1, -1});
  graph.output(graph.accumulate(AccumKind::Max, x), {-1, -1, -1});
  // fused into their accumulators: an element-wise tile feeding rms and max
  const auto scaled = graph.add_op(OpKind::Neg, {x}, {})[0];
  graph.output(graph.accumulate(AccumKind::Rms, scaled), {-1, -1, -1});
  const auto shifted = graph.add_op(OpKind::Relu, {x}, {})[0];
  graph.output(graph.accumulate(AccumKind::Max, shifted), {-1, -1, -1});
  const auto whole = graph.input(type, {-1, -1, -1}, -1);
  graph.output(graph.reduce_to_dimx(whole, 1), {-1, -1, -1});
  expect_matches_reference(graph, 12);
}

TEST(CpuCodegenKernelTest, GridTiledMatmulWithTwoAxes) {
  BlockGraph graph({4, 2, 1}, {128, 1, 1}, 8, 64);
  const auto x = graph.input({{8, 64}, DType::F32}, {-1, 0, -1}, 1);
  const auto w = graph.input({{64, 128}, DType::F32}, {1, -1, -1}, 0);
  graph.output(graph.accumulate(AccumKind::Sum, graph.add_op(OpKind::Matmul, {x, w}, {})[0]),
               {1, 0, -1});
  expect_matches_reference(graph, 13);
}

// Every other block op, with broadcasting, batched matmuls, an invariant phase and ops after the
// loop, in one kernel.
TEST(CpuCodegenKernelTest, EveryBlockOp) {
  BlockGraph graph({2, 1, 1}, {128, 1, 1}, 2, 4);
  const auto x = graph.input({{2, 6, 8}, DType::F32}, {0, -1, -1}, 2);   // [1, 6, 4] per iter
  const auto y = graph.input({{2, 4, 5}, DType::F32}, {0, -1, -1}, 1);   // [1, 2, 5]
  const auto g = graph.input({{4}, DType::F32}, {-1, -1, -1}, -1);       // invariant
  const auto z = graph.input({{2, 1, 4}, DType::F32}, {0, -1, -1}, -1);  // invariant [1, 1, 4]
  auto op = [&](OpKind kind, std::vector<TensorRef> in, Attrs attrs = {}) {
    return graph.add_op(kind, in, std::move(attrs))[0];
  };
  auto with = [](const char* name, auto value) {
    Attrs attrs;
    attrs.set(name, value);
    return attrs;
  };
  // invariant: unary chain on z
  const auto zi = op(OpKind::Sigmoid, {op(OpKind::AddScalar, {z}, with("scalar", 0.5))});
  // loop: rms_norm, broadcasting binaries, every unary
  const auto n = op(OpKind::RmsNorm, {x, g}, with("eps", 1e-5));
  const auto b = op(OpKind::Mul, {n, zi});  // [1, 6, 4] * [1, 1, 4]
  const auto b2 = op(OpKind::Add, {b, g});  // rank-1 operand
  const auto u = op(OpKind::Gelu, {op(OpKind::Silu, {op(OpKind::Neg, {b2})})});
  const auto p =
      op(OpKind::Pow, {op(OpKind::Sqrt, {op(OpKind::Square, {u})}),
                       op(OpKind::AddScalar, {op(OpKind::Relu, {b2})}, with("scalar", 1.0))});
  const auto r =
      op(OpKind::Rsqrt, {op(OpKind::AddScalar, {op(OpKind::Exp, {p})}, with("scalar", 1.0))});
  const auto q =
      op(OpKind::Div, {op(OpKind::Sub, {r, b}), op(OpKind::MulScalar, {r}, with("scalar", 2.0))});
  // softmax over a middle dim and over the last, transpose, concat, reductions
  Attrs dim1;
  dim1.set("dim", int64_t{1});
  const auto s1 = op(OpKind::Softmax, {q}, dim1);  // [1, 6, 4]
  const auto t = op(OpKind::Transpose, {s1}, [] {
    Attrs a;
    a.set("dim0", int64_t{1}).set("dim1", int64_t{2});
    return a;
  }());  // [1, 4, 6]
  Attrs cat;
  cat.set("dim", int64_t{2});
  const auto c = op(OpKind::Concat, {t, op(OpKind::Softmax, {t}, cat)}, cat);  // [1, 4, 12]
  const auto mm = op(OpKind::Matmul, {op(OpKind::Transpose, {c},
                                         [] {
                                           Attrs a;
                                           a.set("dim0", int64_t{1}).set("dim1", int64_t{2});
                                           return a;
                                         }()),
                                      t});  // [1, 12, 4] @ [1, 4, 6]
  graph.output(graph.accumulate(AccumKind::Max, mm), {0, -1, -1});
  Attrs keep;
  keep.set("dim", int64_t{2}).set("keepdim", false);
  const auto mean = op(OpKind::Mean, {c}, keep);  // [1, 4]
  const auto mx = op(OpKind::Max, {c}, [] {
    Attrs a;
    a.set("dim", int64_t{1}).set("keepdim", true);
    return a;
  }());  // [1, 1, 12]
  const auto mm2 = op(OpKind::Matmul, {y, op(OpKind::Transpose, {y}, [] {
                                         Attrs a;
                                         a.set("dim0", int64_t{1}).set("dim1", int64_t{2});
                                         return a;
                                       }())});  // [1, 2, 2]
  graph.output(graph.accumulate(AccumKind::Sum, mean), {0, -1, -1});
  graph.output(graph.accumulate(AccumKind::Mean, mx), {0, -1, -1});
  graph.output(graph.accumulate(AccumKind::Sum, mm2), {0, -1, -1});
  const auto total = graph.accumulate(AccumKind::Sum, graph.reduce_to_dimx(c, 2));  // [1, 4, 4]
  graph.output(op(OpKind::Mul, {total, op(OpKind::Exp, {total})}), {0, -1, -1});
  expect_matches_reference(graph, 14);
}

}  // namespace
}  // namespace yirage::backend::cpu
