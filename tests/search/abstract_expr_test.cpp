// Abstract expressions: the pool's hash-consing and flattening, every op's primitive form, the
// dropped max of online softmax, block-graph accumulators and the hand-fused workloads.
#include "yirage/search/abstract_expr.h"

#include <gtest/gtest.h>

#include <memory>

#include "yirage/core/error.h"
#include "yirage/ir/block_graph.h"
#include "yirage/workloads/workloads.h"

namespace yirage::search {
namespace {

using core::DType;
using ir::AccumKind;
using ir::Attrs;
using ir::BlockGraph;
using ir::KernelGraph;
using ir::OpKind;
using ir::TensorRef;

// The text of the expression of `tensor` in `graph`.
std::string text(ExprPool& pool, const KernelGraph& graph, TensorRef tensor) {
  const auto exprs = abstract_kernel_graph(pool, graph);
  return pool.to_string(exprs[tensor.node][tensor.output]);
}

ExprId expr_of(ExprPool& pool, const KernelGraph& graph, TensorRef tensor) {
  return abstract_kernel_graph(pool, graph)[tensor.node][tensor.output];
}

TEST(AbstractExprTest, PoolHashConsesTermsAndFlattensSums) {
  ExprPool pool;
  const ExprId x = pool.var(0);
  const ExprId y = pool.var(1);
  EXPECT_EQ(pool.var(0), x);
  EXPECT_NE(x, y);
  const ExprId xy = pool.binary(ExprKind::Mul, x, y);
  EXPECT_EQ(pool.binary(ExprKind::Mul, x, y), xy);
  EXPECT_NE(pool.binary(ExprKind::Mul, y, x), xy);  // the e-graph knows commutativity, not the pool
  EXPECT_EQ(pool.sum(4, pool.sum(8, xy)), pool.sum(32, xy));
  EXPECT_EQ(pool.sum(1, xy), xy);
  EXPECT_EQ(pool.make({ExprKind::Max, 2, pool.make({ExprKind::Max, 3, x, -1}), -1}),
            pool.make({ExprKind::Max, 6, x, -1}));
  EXPECT_EQ(pool.to_string(pool.sum(32, xy)), "sum(32, mul(x0, x1))");
  EXPECT_EQ(pool.to_string(pool.unary(ExprKind::Exp, pool.binary(ExprKind::Add, x, y))),
            "exp(add(x0, x1))");
  EXPECT_EQ(pool.to_string(kUnknownExpr), "unknown");
  // Unused operand fields do not make distinct terms.
  EXPECT_EQ(pool.make({ExprKind::Exp, 7, x, y}), pool.unary(ExprKind::Exp, x));
}

TEST(AbstractExprTest, ConstantsCompareAfterRounding) {
  ExprPool pool;
  EXPECT_EQ(pool.constant((1.0 / 3.0) * (1.0 / 5.0)), pool.constant(1.0 / 15.0));
  EXPECT_EQ(pool.constant(-0.0), pool.constant(0.0));
  EXPECT_NE(pool.constant(1.0), pool.constant(1.0 + 1e-9));
  EXPECT_EQ(pool.to_string(pool.constant(0.125)), "0.125");
  EXPECT_EQ(pool.to_string(pool.constant(1e-6)), "1e-06");
  EXPECT_EQ(round_constant(0.1), round_constant(0.1 + 1e-18));
}

TEST(AbstractExprTest, MakeRejectsOperandsOutsideThePool) {
  ExprPool pool;
  const ExprId x = pool.var(0);
  try {
    pool.binary(ExprKind::Add, x, 5);
    FAIL() << "expected an InternalError";
  } catch (const core::InternalError& error) {
    EXPECT_NE(std::string(error.what()).find("operand 5 of a add term is not in the pool"),
              std::string::npos)
        << error.what();
  }
  EXPECT_THROW(pool.sum(0, x), core::InternalError);
}

TEST(AbstractExprTest, ElementwiseAndReductionOpsHaveTheirPrimitiveForms) {
  KernelGraph g;
  const TensorRef x = g.input({4, 8}, DType::F32);
  const TensorRef y = g.input({4, 8}, DType::F32);
  ExprPool pool;
  const auto expect = [&](TensorRef t, const std::string& want) {
    EXPECT_EQ(text(pool, g, t), want);
  };
  expect(g.binary(OpKind::Add, x, y), "add(x0, x1)");
  expect(g.binary(OpKind::Sub, x, y), "add(x0, mul(x1, -1))");
  expect(g.binary(OpKind::Mul, x, y), "mul(x0, x1)");
  expect(g.binary(OpKind::Div, x, y), "div(x0, x1)");
  expect(g.binary(OpKind::Pow, x, y), "pow(x0, x1)");
  expect(g.unary(OpKind::Exp, x), "exp(x0)");
  expect(g.unary(OpKind::Silu, x), "silu(x0)");
  expect(g.unary(OpKind::Gelu, x), "gelu(x0)");
  expect(g.unary(OpKind::Relu, x), "relu(x0)");
  expect(g.unary(OpKind::Sigmoid, x), "sigmoid(x0)");
  expect(g.unary(OpKind::Sqrt, x), "sqrt(x0)");
  expect(g.unary(OpKind::Rsqrt, x), "div(1, sqrt(x0))");
  expect(g.unary(OpKind::Square, x), "mul(x0, x0)");
  expect(g.unary(OpKind::Neg, x), "mul(x0, -1)");
  expect(g.unary(OpKind::MulScalar, x, 0.5), "mul(x0, 0.5)");
  expect(g.unary(OpKind::AddScalar, x, 2.0), "add(x0, 2)");
  expect(g.reduce(OpKind::Sum, x, 1), "sum(8, x0)");
  expect(g.reduce(OpKind::Sum, x, 0, true), "sum(4, x0)");
  expect(g.reduce(OpKind::Max, x, -1), "max(8, x0)");
  expect(g.reduce(OpKind::Mean, x, 0), "mul(sum(4, x0), 0.25)");
  expect(g.softmax(x, 0), "div(exp(x0), sum(4, exp(x0)))");
  expect(g.softmax(x, -1), "div(exp(x0), sum(8, exp(x0)))");
}

TEST(AbstractExprTest, MatmulRmsNormAndStructuralOpsHaveTheirPrimitiveForms) {
  KernelGraph g;
  const TensorRef x = g.input({2, 4, 8}, DType::F32);
  const TensorRef w = g.input({8, 16}, DType::F32);
  const TensorRef gain = g.input({8}, DType::F32);
  const TensorRef ids = g.input({3}, DType::I32);
  const TensorRef table = g.input({10, 8}, DType::F32);
  const TensorRef pos = g.input({2}, DType::I32);
  ExprPool pool;
  const auto expect = [&](TensorRef t, const std::string& want) {
    EXPECT_EQ(text(pool, g, t), want);
  };
  expect(g.matmul(x, w), "sum(8, mul(x0, x1))");
  expect(g.rms_norm(x, gain, 1e-6),
         "mul(mul(x0, x2), div(1, sqrt(add(mul(sum(8, mul(x0, x0)), 0.125), 1e-06))))");
  expect(g.embedding(ids, table), "gather(x3, x4)");
  expect(g.rope(x, pos), "rope(x0, x5)");
  // Layout is not tracked.
  expect(g.reshape(x, {8, 8}), "x0");
  expect(g.transpose(x, 1, 2), "x0");
  const auto pieces = g.split(x, {3, 5}, 2);
  expect(pieces[0], "x0");
  expect(pieces[1], "x0");
  expect(g.concat({pieces[1], pieces[0]}, 2), "x0");
  const TensorRef mixed = g.concat({x, g.unary(OpKind::Exp, x)}, 0);
  EXPECT_EQ(expr_of(pool, g, mixed), kUnknownExpr);
  EXPECT_EQ(expr_of(pool, g, g.unary(OpKind::Exp, mixed)), kUnknownExpr);
  EXPECT_EQ(expr_of(pool, g, g.split(mixed, {2, 2}, 0)[1]), kUnknownExpr);
}

TEST(AbstractExprTest, MaxSubtractedBeforeExpIsDropped) {
  KernelGraph g;
  const TensorRef x = g.input({4, 8}, DType::F32);
  const TensorRef y = g.input({4, 8}, DType::F32);
  const TensorRef m = g.reduce(OpKind::Max, x, 1, true);
  const TensorRef stable = g.unary(OpKind::Exp, g.binary(OpKind::Sub, x, m));
  const TensorRef manual = g.binary(OpKind::Div, stable, g.reduce(OpKind::Sum, stable, 1, true));
  const TensorRef via_neg = g.binary(OpKind::Add, g.unary(OpKind::Neg, m), x);
  const TensorRef softmax = g.softmax(x, 1);
  ExprPool pool;
  const auto exprs = abstract_kernel_graph(pool, g);
  const auto at = [&](TensorRef t) { return exprs[t.node][t.output]; };
  EXPECT_EQ(at(stable), pool.unary(ExprKind::Exp, pool.var(0)));
  EXPECT_EQ(at(manual), at(softmax));
  EXPECT_EQ(at(via_neg), pool.var(0));
  EXPECT_EQ(pool.to_string(at(m)), "max(8, x0)");
  // Only a Max term is dropped.
  EXPECT_EQ(text(pool, g, g.binary(OpKind::Sub, x, y)), "add(x0, mul(x1, -1))");
  EXPECT_EQ(text(pool, g, g.binary(OpKind::Sub, x, g.reduce(OpKind::Sum, x, 1, true))),
            "add(x0, mul(sum(8, x0), -1))");
}

TEST(AbstractExprTest, BlockGraphTilesReductionsAndAccumulators) {
  // x [4, 64] walked by a for-loop of 4 tiles [4, 16]; m [4, 64] likewise.
  auto b = std::make_shared<BlockGraph>(ir::Dim3{1, 1, 1}, ir::Dim3{128, 1, 1}, 4, 4);
  const ir::TensorType type{{4, 64}, DType::F32};
  const TensorRef x = b->input(type, {-1, -1, -1}, 1);
  const TensorRef m = b->input(type, {-1, -1, -1}, 1);
  Attrs keep;
  keep.set("dim", int64_t{1}).set("keepdim", true);
  const TensorRef row_sum = b->add_op(OpKind::Sum, {x}, keep)[0];
  const TensorRef row_max = b->add_op(OpKind::Max, {m}, keep)[0];
  const TensorRef dimx = b->reduce_to_dimx(x, 1);
  const TensorRef sum = b->accumulate(AccumKind::Sum, row_sum);
  const TensorRef mean = b->accumulate(AccumKind::Mean, x);
  const TensorRef rms = b->accumulate(AccumKind::Rms, x);
  const TensorRef max = b->accumulate(AccumKind::Max, row_max);
  const TensorRef rescaled = b->accumulate(AccumKind::RescaledSum, row_sum, row_max);
  const TensorRef dimx_sum = b->accumulate(AccumKind::Sum, dimx);
  b->output(sum, {-1, -1, -1});
  ExprPool pool;
  const auto exprs = abstract_block_graph(pool, *b, {pool.var(0), pool.var(1)});
  const auto at = [&](TensorRef t) { return pool.to_string(exprs[t.node][t.output]); };
  EXPECT_EQ(at(x), "x0");
  EXPECT_EQ(at(row_sum), "sum(16, x0)");
  EXPECT_EQ(at(dimx), "sum(4, x0)");  // 16 entries grouped down to reduction_dimx = 4
  EXPECT_EQ(at(sum), "sum(64, x0)");
  EXPECT_EQ(at(mean), "mul(sum(4, x0), 0.25)");
  EXPECT_EQ(at(rms), "sqrt(mul(sum(4, mul(x0, x0)), 0.25))");
  EXPECT_EQ(at(max), "max(64, x1)");
  EXPECT_EQ(at(rescaled), "sum(64, x0)");
  EXPECT_EQ(at(dimx_sum), "sum(16, x0)");
  EXPECT_THROW(abstract_block_graph(pool, *b, {pool.var(0)}), core::InternalError);
}

TEST(AbstractExprTest, CustomizedKernelsAbstractThroughTheirBlockGraphs) {
  const auto w = workloads::gated_mlp(4, 128, 256, DType::F32, {4, 8});
  ExprPool pool;
  const auto naive = abstract_kernel_graph(pool, w.naive);
  const auto fused = abstract_kernel_graph(pool, w.fused);
  const TensorRef out = w.fused.outputs()[0];
  EXPECT_EQ(pool.to_string(fused[out.node][out.output]),
            "mul(silu(sum(128, mul(x0, x1))), sum(128, mul(x0, x2)))");
  const TensorRef naive_out = w.naive.outputs()[0];
  EXPECT_EQ(fused[out.node][out.output], naive[naive_out.node][naive_out.output]);
  // The for-loop walks 8 tiles of 16: the in-loop matmul is a partial sum.
  const auto& kernel = *w.fused.node(out.node).block_graph;
  const auto block = abstract_block_graph(pool, kernel, {pool.var(0), pool.var(1), pool.var(2)});
  bool found_partial = false;
  for (const auto& outputs : block) {
    found_partial = found_partial || pool.to_string(outputs[0]) == "sum(16, mul(x0, x1))";
  }
  EXPECT_TRUE(found_partial);
}

TEST(AbstractExprTest, SplitKvAttentionAbstractsToPartialSumsAndTheNaiveForm) {
  // kv_len 256 in 4 splits of 64, each a for-loop of 4 tiles of 16.
  const auto w = workloads::attention_decode(2, 4, 256, 32, DType::F32, false, {4, 4});
  ASSERT_EQ(w.fused.nodes().size(), 5u);  // three inputs, two kernels
  ExprPool pool;
  const auto fused = abstract_kernel_graph(pool, w.fused);
  const std::string scores = "mul(sum(32, mul(x0, x1)), 0.176776695297)";
  const std::string e = "exp(" + scores + ")";
  EXPECT_EQ(pool.to_string(fused[3][0]), "sum(64, mul(" + e + ", x2))");
  EXPECT_EQ(pool.to_string(fused[3][1]), "sum(64, " + e + ")");
  EXPECT_EQ(pool.to_string(fused[3][2]), "max(64, " + scores + ")");
  EXPECT_EQ(pool.to_string(fused[4][0]), "div(sum(256, mul(" + e + ", x2)), sum(256, " + e + "))");
  const auto naive = abstract_kernel_graph(pool, w.naive);
  const TensorRef out = w.naive.outputs()[0];
  EXPECT_EQ(pool.to_string(naive[out.node][out.output]),
            "sum(256, mul(div(" + e + ", sum(256, " + e + ")), x2))");
}

TEST(AbstractExprTest, RmsNormMatmulFusedFormDividesAfterTheMatmul) {
  const auto w = workloads::rms_norm_matmul(4, 128, 256, DType::F32, {2, 4});
  ExprPool pool;
  const auto fused = abstract_kernel_graph(pool, w.fused);
  const TensorRef out = w.fused.outputs()[0];
  EXPECT_EQ(pool.to_string(fused[out.node][out.output]),
            "mul(sum(128, mul(mul(x0, x1), x2)), div(1, sqrt(add(mul(sum(128, mul(x0, x0)), "
            "0.0078125), 1e-06))))");
}

}  // namespace
}  // namespace yirage::search
