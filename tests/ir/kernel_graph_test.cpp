// The kernel-graph builder: shape and dtype inference for every op, and every bad input
// rejected at the call that caused it with a message naming what was wrong.
#include "yirage/ir/kernel_graph.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "test_util.h"

namespace {

using yirage::core::DType;
using yirage::core::Shape;
using yirage::ir::Attrs;
using yirage::ir::KernelGraph;
using yirage::ir::OpKind;
using yirage::ir::TensorRef;
using yirage::ir::TensorType;

constexpr DType kFloatTypes[] = {DType::F32, DType::F16, DType::BF16};

std::vector<OpKind> ops_of(yirage::ir::OpCategory category) {
  std::vector<OpKind> ops;
  for (int i = 0; i < yirage::ir::num_ops(); ++i) {
    const auto op = static_cast<OpKind>(i);
    if (yirage::ir::op_info(op).category == category) ops.push_back(op);
  }
  return ops;
}

// ---- inputs, references and outputs -------------------------------------------------------

TEST(KernelGraphInputs, InputsAreNumberedInCallOrder) {
  KernelGraph g;
  const TensorRef a = g.input({8, 4096}, DType::BF16);
  const TensorRef b = g.input({}, DType::I64);
  EXPECT_EQ(a, (TensorRef{0, 0}));
  EXPECT_EQ(b, (TensorRef{1, 0}));
  EXPECT_EQ(g.input_nodes(), (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(g.type(a), (TensorType{{8, 4096}, DType::BF16}));
  EXPECT_EQ(g.type(a).to_string(), "bfloat16[8, 4096]");
  EXPECT_EQ(g.type(b).to_string(), "int64[]");
  EXPECT_EQ(g.node(0).op, OpKind::Input);
  EXPECT_TRUE(g.node(0).inputs.empty());
  const auto types = g.input_types();
  ASSERT_EQ(types.size(), 2u);
  EXPECT_EQ(types[1], (TensorType{{}, DType::I64}));
}

TEST(KernelGraphInputs, RejectsEmptyNegativeAndHighRankShapes) {
  KernelGraph g;
  EXPECT_USER_ERROR(
      [&] {
        g.input({2, 0}, DType::F32);
      },
      "input of shape [2, 0]", "has an extent < 1", "expected every extent >= 1");
  EXPECT_USER_ERROR([&] { g.input({-4}, DType::F32); }, "input of shape [-4]", "extent < 1");
  EXPECT_USER_ERROR(
      [&] {
        g.input({1, 1, 1, 1, 1, 1, 1, 1, 1}, DType::F32);
      },
      "has rank 9", "expected rank <= 8");
  EXPECT_TRUE(g.nodes().empty());
  EXPECT_NO_THROW(g.input({1, 1, 1, 1, 1, 1, 1, 1}, DType::F32));
}

TEST(KernelGraphInputs, RejectsShapesWithTooManyElements) {
  KernelGraph g;
  const int64_t big = int64_t{1} << 32;
  EXPECT_USER_ERROR(
      [&] {
        g.input({big, big, big}, DType::F32);
      },
      "[4294967296, 4294967296", "elements");
}

TEST(KernelGraphRefs, DanglingReferencesAreUserErrors) {
  KernelGraph g;
  const TensorRef x = g.input({4}, DType::F32);
  const TensorRef y = g.input({4}, DType::F32);
  EXPECT_USER_ERROR(
      [&] {
        g.binary(OpKind::Add, x, TensorRef{7, 0});
      },
      "add input 1 refers to node 7, but the graph has 2 nodes",
      "expected a tensor created by this graph");
  EXPECT_USER_ERROR(
      [&] {
        g.binary(OpKind::Add, TensorRef{-1, 0}, y);
      },
      "add input 0 refers to node -1");
  EXPECT_USER_ERROR(
      [&] {
        g.binary(OpKind::Add, x, TensorRef{1, 1});
      },
      "add input 1 refers to output 1 of node 1 (input), which has 1 outputs");
  EXPECT_USER_ERROR([&] { g.unary(OpKind::Exp, TensorRef{0, -1}); }, "refers to output -1");
  EXPECT_USER_ERROR([&] { g.mark_output(TensorRef{2, 0}); }, "mark_output refers to node 2");
  EXPECT_USER_ERROR([&] { g.type(TensorRef{5, 0}); }, "tensor refers to node 5");
  EXPECT_USER_ERROR([&] { g.node(2); }, "node index 2 is out of range; the graph has 2 nodes");
  EXPECT_USER_ERROR([&] { g.node(-1); }, "node index -1 is out of range");
  // A reference into another graph is caught when it does not fit this one.
  KernelGraph other;
  EXPECT_USER_ERROR([&] { other.unary(OpKind::Exp, x); }, "exp input 0 refers to node 0",
                    "the graph has 0 nodes");
}

TEST(KernelGraphRefs, FailedCallsLeaveTheGraphUnchanged) {
  KernelGraph g;
  const TensorRef x = g.input({3, 4}, DType::F32);
  const TensorRef w = g.input({5, 6}, DType::F32);
  EXPECT_USER_ERROR([&] { g.matmul(x, w); }, "inner dimensions differ");
  EXPECT_USER_ERROR([&] { g.softmax(x, 9); }, "out of range");
  EXPECT_USER_ERROR([&] { g.split(x, {1, 1}, 1); }, "add up to 2");
  EXPECT_EQ(g.nodes().size(), 2u);
  EXPECT_TRUE(g.outputs().empty());
}

TEST(KernelGraphRefs, OutputsKeepMarkOrder) {
  KernelGraph g;
  const TensorRef x = g.input({2, 3}, DType::F32);
  const TensorRef e = g.unary(OpKind::Exp, x);
  const TensorRef s = g.reduce(OpKind::Sum, e, 1);
  g.mark_output(s);
  g.mark_output(x);
  g.mark_output(s);
  EXPECT_EQ(g.outputs(), (std::vector<TensorRef>{s, x, s}));
  const auto types = g.output_types();
  ASSERT_EQ(types.size(), 3u);
  EXPECT_EQ(types[0], (TensorType{{2}, DType::F32}));
  EXPECT_EQ(types[1], (TensorType{{2, 3}, DType::F32}));
  EXPECT_EQ(g.node(e.node).inputs, (std::vector<TensorRef>{x}));
}

// ---- add_node: arity and attributes -------------------------------------------------------

TEST(KernelGraphAddNode, ChecksArity) {
  KernelGraph g;
  const TensorRef x = g.input({4}, DType::F32);
  EXPECT_USER_ERROR([&] { g.add_node(OpKind::Add, {x}, {}); }, "add takes 2 inputs; got 1");
  EXPECT_USER_ERROR([&] { g.add_node(OpKind::Exp, {x, x}, {}); }, "exp takes 1 input; got 2");
  EXPECT_USER_ERROR([&] { g.add_node(OpKind::Matmul, {}, {}); }, "matmul takes 2 inputs; got 0");
  Attrs dim;
  dim.set("dim", int64_t{0});
  EXPECT_USER_ERROR([&] { g.add_node(OpKind::Concat, {}, dim); },
                    "concat takes at least one input; got none");
}

TEST(KernelGraphAddNode, RejectsInputAndCustomized) {
  KernelGraph g;
  const TensorRef x = g.input({4}, DType::F32);
  EXPECT_USER_ERROR([&] { g.add_node(OpKind::Input, {}, {}); },
                    "input nodes are added with input(shape, dtype), not add_node");
  EXPECT_USER_ERROR([&] { g.add_node(OpKind::Customized, {x}, {}); },
                    "customized nodes carry a block graph");
  EXPECT_USER_ERROR([&] { g.customized({x}, nullptr); }, "customized: the block graph is missing");
}

TEST(KernelGraphAddNode, ChecksAttributesAgainstTheTable) {
  KernelGraph g;
  const TensorRef x = g.input({4, 5}, DType::F32);
  Attrs unknown;
  unknown.set("alpha", 1.0);
  EXPECT_USER_ERROR([&] { g.add_node(OpKind::Exp, {x}, unknown); },
                    "exp: unknown attribute 'alpha'; expected no attributes");
  Attrs extra;
  extra.set("dim", int64_t{0}).set("keepdims", true);
  EXPECT_USER_ERROR([&] { g.add_node(OpKind::Softmax, {x}, extra); },
                    "softmax: unknown attribute 'keepdims'; expected only dim");
  EXPECT_USER_ERROR([&] { g.add_node(OpKind::Softmax, {x}, {}); },
                    "softmax: attribute 'dim' is missing; expected a value of type int");
  Attrs wrong_type;
  wrong_type.set("dim", 1.0);
  EXPECT_USER_ERROR([&] { g.add_node(OpKind::Softmax, {x}, wrong_type); },
                    "softmax: attribute 'dim' is float; expected int");
  Attrs keepdim_int;
  keepdim_int.set("dim", int64_t{0}).set("keepdim", int64_t{1});
  EXPECT_USER_ERROR([&] { g.add_node(OpKind::Sum, {x}, keepdim_int); },
                    "sum: attribute 'keepdim' is int; expected bool");
  Attrs no_keepdim;
  no_keepdim.set("dim", int64_t{0});
  EXPECT_USER_ERROR([&] { g.add_node(OpKind::Mean, {x}, no_keepdim); },
                    "mean: attribute 'keepdim' is missing; expected a value of type bool");
  Attrs sizes_int;
  sizes_int.set("dim", int64_t{0}).set("sizes", int64_t{4});
  EXPECT_USER_ERROR([&] { g.add_node(OpKind::Split, {x}, sizes_int); },
                    "split: attribute 'sizes' is int; expected ints");
  Attrs eps_int;
  eps_int.set("eps", int64_t{0});
  const TensorRef w = g.input({5}, DType::F32);
  EXPECT_USER_ERROR(
      [&] {
        g.add_node(OpKind::RmsNorm, {x, w}, eps_int);
      },
      "rms_norm: attribute 'eps' is int; expected float");
  Attrs scalar_missing;
  EXPECT_USER_ERROR([&] { g.add_node(OpKind::MulScalar, {x}, scalar_missing); },
                    "mul_scalar: attribute 'scalar' is missing; expected a value of type float");
  Attrs transpose_extra;
  transpose_extra.set("dim0", int64_t{0}).set("dim1", int64_t{1}).set("dim2", int64_t{1});
  EXPECT_USER_ERROR([&] { g.add_node(OpKind::Transpose, {x}, transpose_extra); },
                    "unknown attribute 'dim2'; expected only dim0, dim1");
}

TEST(KernelGraphAddNode, ReturnsOneRefPerOutput) {
  KernelGraph g;
  const TensorRef x = g.input({6, 4}, DType::F32);
  Attrs attrs;
  attrs.set("dim", int64_t{0}).set("sizes", std::vector<int64_t>{1, 2, 3});
  const auto parts = g.add_node(OpKind::Split, {x}, attrs);
  ASSERT_EQ(parts.size(), 3u);
  for (int32_t i = 0; i < 3; ++i) EXPECT_EQ(parts[i], (TensorRef{1, i}));
  EXPECT_EQ(g.type(parts[2]).shape, (Shape{3, 4}));
}

// ---- element-wise ops ---------------------------------------------------------------------

TEST(KernelGraphUnary, KeepsShapeAndDtype) {
  for (DType dtype : kFloatTypes) {
    for (const Shape& shape : {Shape{7}, Shape{1}, Shape{2, 1, 3, 1}, Shape{}}) {
      KernelGraph g;
      const TensorRef x = g.input(shape, dtype);
      for (OpKind op : ops_of(yirage::ir::OpCategory::Unary)) {
        const TensorRef y = g.unary(op, x, 0.5);
        EXPECT_EQ(g.type(y), (TensorType{shape, dtype})) << yirage::ir::op_name(op);
      }
    }
  }
}

TEST(KernelGraphUnary, ScalarAttributeOnlyWhereDeclared) {
  KernelGraph g;
  const TensorRef x = g.input({3}, DType::F32);
  const TensorRef scaled = g.unary(OpKind::MulScalar, x, -1.5);
  const TensorRef shifted = g.unary(OpKind::AddScalar, x, 2.0);
  const TensorRef relu = g.unary(OpKind::Relu, x, 9.0);
  EXPECT_EQ(g.node(scaled.node).attrs.get_float("scalar"), -1.5);
  EXPECT_EQ(g.node(shifted.node).attrs.get_float("scalar"), 2.0);
  EXPECT_TRUE(g.node(relu.node).attrs.values().empty());
}

TEST(KernelGraphUnary, RejectsIntegersAndNonUnaryOps) {
  KernelGraph g;
  const TensorRef ids = g.input({4}, DType::I32);
  const TensorRef x = g.input({4}, DType::F32);
  for (OpKind op : ops_of(yirage::ir::OpCategory::Unary)) {
    const std::string name(yirage::ir::op_name(op));
    EXPECT_USER_ERROR([&] { g.unary(op, ids, 1.0); }, name + ": input is int32[4]",
                      "expected float32, float16 or bfloat16");
  }
  EXPECT_USER_ERROR([&] { g.unary(OpKind::Add, x); }, "add is not an element-wise unary op");
}

TEST(KernelGraphBinary, BroadcastsLikeNumPy) {
  struct Case {
    Shape a, b, out;
  };
  const Case cases[] = {
      {{4, 1, 3}, {2, 1}, {4, 2, 3}},
      {{3}, {3}, {3}},
      {{2, 3}, {3}, {2, 3}},
      {{3}, {}, {3}},
      {{}, {}, {}},
      {{1}, {5, 1}, {5, 1}},
      {{5, 1, 4, 1}, {3, 1, 6}, {5, 3, 4, 6}},
      {{1, 1}, {1}, {1, 1}},
      {{2, 1, 1, 7}, {1, 9, 1, 1}, {2, 9, 1, 7}},
  };
  for (OpKind op : ops_of(yirage::ir::OpCategory::Binary)) {
    for (const auto& c : cases) {
      KernelGraph g;
      const TensorRef a = g.input(c.a, DType::BF16);
      const TensorRef b = g.input(c.b, DType::BF16);
      EXPECT_EQ(g.type(g.binary(op, a, b)), (TensorType{c.out, DType::BF16}));
      EXPECT_EQ(g.type(g.binary(op, b, a)).shape, c.out);
    }
  }
}

TEST(KernelGraphBinary, RejectsBadOperands) {
  KernelGraph g;
  const TensorRef a = g.input({3, 4}, DType::F32);
  const TensorRef b = g.input({5}, DType::F32);
  const TensorRef c = g.input({2, 3, 2}, DType::F32);
  const TensorRef h = g.input({3, 4}, DType::F16);
  const TensorRef ids = g.input({3, 4}, DType::I64);
  EXPECT_USER_ERROR([&] { g.binary(OpKind::Add, a, b); }, "add: shapes [3, 4] and [5]",
                    "do not broadcast", "expected equal extents or 1 in each trailing dimension");
  EXPECT_USER_ERROR([&] { g.binary(OpKind::Pow, c, a); }, "pow: shapes [2, 3, 2] and [3, 4]");
  EXPECT_USER_ERROR([&] { g.binary(OpKind::Mul, a, h); }, "mul: operands float32[3, 4]",
                    "float16[3, 4] have different dtypes; expected one dtype");
  EXPECT_USER_ERROR([&] { g.binary(OpKind::Sub, ids, ids); }, "sub: first operand is int64[3, 4]",
                    "expected float32, float16 or bfloat16");
  EXPECT_USER_ERROR([&] { g.binary(OpKind::Div, a, ids); }, "have different dtypes");
  EXPECT_USER_ERROR([&] { g.binary(OpKind::Exp, a, a); }, "exp is not an element-wise binary op");
}

// ---- matmul -------------------------------------------------------------------------------

TEST(KernelGraphMatmul, InfersBatchedShapes) {
  struct Case {
    Shape a, b, out;
  };
  const Case cases[] = {
      {{3, 4}, {4, 5}, {3, 5}},
      {{1, 1}, {1, 1}, {1, 1}},
      {{2, 3, 4}, {4, 5}, {2, 3, 5}},
      {{3, 4}, {6, 4, 5}, {6, 3, 5}},
      {{2, 1, 3, 4}, {5, 4, 2}, {2, 5, 3, 2}},
      {{2, 3, 3, 4}, {2, 3, 4, 1}, {2, 3, 3, 1}},
      {{8, 1024}, {1024, 4096}, {8, 4096}},
  };
  for (DType dtype : kFloatTypes) {
    for (const auto& c : cases) {
      KernelGraph g;
      const TensorRef in0 = g.input(c.a, dtype);
      const TensorRef in1 = g.input(c.b, dtype);
      const TensorRef out = g.matmul(in0, in1);
      EXPECT_EQ(g.type(out), (TensorType{c.out, dtype}));
    }
  }
}

TEST(KernelGraphMatmul, RejectsBadOperands) {
  KernelGraph g;
  const TensorRef a = g.input({3, 4}, DType::F32);
  const TensorRef b = g.input({5, 6}, DType::F32);
  const TensorRef v = g.input({4}, DType::F32);
  const TensorRef batch_a = g.input({2, 3, 4}, DType::F32);
  const TensorRef batch_b = g.input({3, 4, 5}, DType::F32);
  const TensorRef half = g.input({4, 5}, DType::F16);
  const TensorRef ints = g.input({3, 4}, DType::I32);
  const TensorRef ints_b = g.input({4, 5}, DType::I32);
  EXPECT_USER_ERROR([&] { g.matmul(a, b); },
                    "matmul: inner dimensions differ: float32[3, 4] @ float32[5, 6] (4 vs 5)",
                    "expected a[..., M, K] and b[..., K, N]");
  EXPECT_USER_ERROR([&] { g.matmul(a, v); }, "matmul: operands float32[3, 4] and float32[4]",
                    "must have rank >= 2");
  EXPECT_USER_ERROR([&] { g.matmul(v, a); }, "must have rank >= 2");
  EXPECT_USER_ERROR([&] { g.matmul(batch_a, batch_b); },
                    "matmul: batch dimensions of float32[2, 3, 4] and float32[3, 4, 5]",
                    "do not broadcast");
  EXPECT_USER_ERROR([&] { g.matmul(a, half); }, "matmul: operands float32[3, 4] and float16[4, 5]",
                    "have different dtypes");
  EXPECT_USER_ERROR([&] { g.matmul(ints, ints_b); }, "matmul: first operand is int32[3, 4]",
                    "expected float32, float16 or bfloat16");
}

// ---- reductions and softmax ---------------------------------------------------------------

TEST(KernelGraphReduce, EveryDimWithAndWithoutKeepdim) {
  const Shape shape = {2, 3, 4};
  for (OpKind op : ops_of(yirage::ir::OpCategory::Reduce)) {
    for (int64_t dim = -3; dim < 3; ++dim) {
      for (bool keepdim : {false, true}) {
        KernelGraph g;
        const TensorRef y = g.reduce(op, g.input(shape, DType::F16), dim, keepdim);
        const int64_t normalized = dim < 0 ? dim + 3 : dim;
        Shape expected = shape;
        if (keepdim) {
          expected[normalized] = 1;
        } else {
          expected.erase(expected.begin() + normalized);
        }
        EXPECT_EQ(g.type(y), (TensorType{expected, DType::F16}));
        EXPECT_EQ(g.node(y.node).attrs.get_int("dim"), normalized);
        EXPECT_EQ(g.node(y.node).attrs.get_bool("keepdim"), keepdim);
      }
    }
  }
}

TEST(KernelGraphReduce, RankOneReducesToAScalar) {
  KernelGraph g;
  const TensorRef x = g.input({5}, DType::F32);
  EXPECT_EQ(g.type(g.reduce(OpKind::Sum, x, 0)).shape, Shape{});
  EXPECT_EQ(g.type(g.reduce(OpKind::Max, x, -1, true)).shape, Shape{1});
}

TEST(KernelGraphReduce, RejectsBadInputs) {
  KernelGraph g;
  const TensorRef x = g.input({2, 3, 4}, DType::F32);
  const TensorRef scalar = g.input({}, DType::F32);
  const TensorRef ids = g.input({4}, DType::I32);
  EXPECT_USER_ERROR([&] { g.reduce(OpKind::Sum, x, 3); },
                    "sum: dim 3 is out of range for float32[2, 3, 4]; expected -3 <= dim < 3");
  EXPECT_USER_ERROR([&] { g.reduce(OpKind::Mean, x, -4, true); }, "mean: dim -4 is out of range");
  EXPECT_USER_ERROR([&] { g.reduce(OpKind::Max, scalar, 0); }, "max: input float32[] is a scalar",
                    "expected rank >= 1");
  EXPECT_USER_ERROR([&] { g.reduce(OpKind::Sum, ids, 0); }, "sum: input is int32[4]");
  EXPECT_USER_ERROR([&] { g.reduce(OpKind::Relu, x, 0); }, "relu is not a reduction");
}

TEST(KernelGraphSoftmax, NormalizesDimAndKeepsShape) {
  KernelGraph g;
  const TensorRef x = g.input({2, 3, 4}, DType::BF16);
  const TensorRef y = g.softmax(x);
  EXPECT_EQ(g.type(y), g.type(x));
  EXPECT_EQ(g.node(y.node).attrs.get_int("dim"), 2);
  EXPECT_EQ(g.node(g.softmax(x, -3).node).attrs.get_int("dim"), 0);
  const TensorRef ids = g.input({4}, DType::I64);
  EXPECT_USER_ERROR([&] { g.softmax(x, 3); },
                    "softmax: dim 3 is out of range for bfloat16[2, 3, 4]");
  EXPECT_USER_ERROR([&] { g.softmax(ids); }, "softmax: input is int64[4]");
}

// ---- rms_norm -----------------------------------------------------------------------------

TEST(KernelGraphRmsNorm, ShapeAndErrors) {
  KernelGraph g;
  const TensorRef x = g.input({8, 1024}, DType::BF16);
  const TensorRef w = g.input({1024}, DType::BF16);
  const TensorRef y = g.rms_norm(x, w, 1e-5);
  EXPECT_EQ(g.type(y), (TensorType{{8, 1024}, DType::BF16}));
  EXPECT_EQ(g.node(y.node).attrs.get_float("eps"), 1e-5);
  EXPECT_EQ(g.node(g.rms_norm(x, w).node).attrs.get_float("eps"), 1e-6);
  const TensorRef v = g.input({1024}, DType::BF16);
  EXPECT_EQ(g.type(g.rms_norm(v, w)).shape, Shape{1024});

  const TensorRef short_w = g.input({1023}, DType::BF16);
  const TensorRef row_w = g.input({1, 1024}, DType::BF16);
  const TensorRef f32_w = g.input({1024}, DType::F32);
  const TensorRef scalar = g.input({}, DType::BF16);
  const TensorRef ids = g.input({8, 1024}, DType::I32);
  EXPECT_USER_ERROR([&] { g.rms_norm(x, short_w); },
                    "rms_norm: weight bfloat16[1023] does not match input bfloat16[8, 1024]",
                    "expected weight of shape [1024]");
  EXPECT_USER_ERROR([&] { g.rms_norm(x, row_w); }, "weight bfloat16[1, 1024] does not match");
  EXPECT_USER_ERROR([&] { g.rms_norm(x, f32_w); }, "rms_norm: operands bfloat16[8, 1024]",
                    "float32[1024] have different dtypes");
  EXPECT_USER_ERROR([&] { g.rms_norm(x, w, -1.0); }, "rms_norm: eps -1 is negative",
                    "expected eps >= 0");
  EXPECT_USER_ERROR([&] { g.rms_norm(scalar, w); }, "rms_norm: input bfloat16[] is a scalar");
  EXPECT_USER_ERROR([&] { g.rms_norm(ids, w); }, "rms_norm: input is int32[8, 1024]");
}

// ---- data movement ------------------------------------------------------------------------

TEST(KernelGraphConcat, JoinsAlongOneDim) {
  KernelGraph g;
  const TensorRef a = g.input({2, 3}, DType::F32);
  const TensorRef b = g.input({2, 5}, DType::F32);
  const TensorRef c = g.input({4, 3}, DType::F32);
  EXPECT_EQ(g.type(g.concat({a, b}, 1)).shape, (Shape{2, 8}));
  const TensorRef neg = g.concat({a, b, a}, -1);
  EXPECT_EQ(g.type(neg).shape, (Shape{2, 11}));
  EXPECT_EQ(g.node(neg.node).attrs.get_int("dim"), 1);
  EXPECT_EQ(g.type(g.concat({a, c}, 0)).shape, (Shape{6, 3}));
  EXPECT_EQ(g.type(g.concat({a}, 0)).shape, (Shape{2, 3}));
  const TensorRef i = g.input({3}, DType::I32);
  const TensorRef j = g.input({2}, DType::I32);
  EXPECT_EQ(g.type(g.concat({i, j}, 0)), (TensorType{{5}, DType::I32}));
}

TEST(KernelGraphConcat, RejectsMismatches) {
  KernelGraph g;
  const TensorRef a = g.input({2, 3}, DType::F32);
  const TensorRef b = g.input({3, 3}, DType::F32);
  const TensorRef r = g.input({2, 3, 1}, DType::F32);
  const TensorRef h = g.input({2, 3}, DType::F16);
  const TensorRef s = g.input({}, DType::F32);
  EXPECT_USER_ERROR(
      [&] {
        g.concat({a, b}, 1);
      },
      "concat: input 1 float32[3, 3] does not match input 0 float32[2, 3]",
      "expected equal extents except in dim 1");
  EXPECT_USER_ERROR([&] { g.concat({a, a, r}, 0); }, "concat: input 2 float32[2, 3, 1]");
  EXPECT_USER_ERROR(
      [&] {
        g.concat({a, h}, 0);
      },
      "concat: operands float32[2, 3]", "float16[2, 3] have different dtypes");
  EXPECT_USER_ERROR(
      [&] {
        g.concat({a, a}, 2);
      },
      "concat: dim 2 is out of range for float32[2, 3]");
  EXPECT_USER_ERROR([&] { g.concat({s, s}, 0); }, "concat: input 0 float32[] is a scalar");
  EXPECT_USER_ERROR([&] { g.concat({}, 0); }, "concat takes at least one input; got none");
}

TEST(KernelGraphSplit, PiecesAlongOneDim) {
  KernelGraph g;
  const TensorRef x = g.input({2, 10, 3}, DType::BF16);
  const auto parts = g.split(x, {3, 7}, -2);
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(g.type(parts[0]), (TensorType{{2, 3, 3}, DType::BF16}));
  EXPECT_EQ(g.type(parts[1]), (TensorType{{2, 7, 3}, DType::BF16}));
  EXPECT_EQ(g.node(parts[0].node).attrs.get_int("dim"), 1);
  EXPECT_EQ(parts[1], (TensorRef{parts[0].node, 1}));
  EXPECT_EQ(g.split(x, {10}, 1).size(), 1u);
  const TensorRef ids = g.input({6}, DType::I64);
  EXPECT_EQ(g.type(g.split(ids, {1, 5}, 0)[1]), (TensorType{{5}, DType::I64}));
}

TEST(KernelGraphSplit, RejectsBadSizes) {
  KernelGraph g;
  const TensorRef x = g.input({2, 10}, DType::F32);
  EXPECT_USER_ERROR(
      [&] {
        g.split(x, {3, 4}, 1);
      },
      "split: sizes [3, 4] add up to 7", "but dim 1 of float32[2, 10] has extent 10");
  EXPECT_USER_ERROR([&] { g.split(x, {3, 8}, -1); }, "add up to 11");
  EXPECT_USER_ERROR(
      [&] {
        g.split(x, {10, 0}, 1);
      },
      "split: piece size 0 is not positive", "expected sizes >= 1");
  EXPECT_USER_ERROR([&] { g.split(x, {12, -2}, 1); }, "piece size -2 is not positive");
  EXPECT_USER_ERROR([&] { g.split(x, {}, 1); }, "split: sizes is empty");
  EXPECT_USER_ERROR([&] { g.split(x, {2}, 2); }, "split: dim 2 is out of range");
}

TEST(KernelGraphChunk, EqualPieces) {
  KernelGraph g;
  const TensorRef x = g.input({4, 6}, DType::F32);
  const auto parts = g.chunk(x, 3, 1);
  ASSERT_EQ(parts.size(), 3u);
  for (const auto& part : parts) EXPECT_EQ(g.type(part).shape, (Shape{4, 2}));
  EXPECT_EQ(g.chunk(x, 1, 0).size(), 1u);
  EXPECT_EQ(g.type(g.chunk(x, 4, -2)[3]).shape, (Shape{1, 6}));
  EXPECT_USER_ERROR([&] { g.chunk(x, 4, 1); },
                    "chunk: 4 chunks do not divide dim 1 of float32[4, 6] (extent 6)",
                    "expected a positive divisor of the extent");
  EXPECT_USER_ERROR([&] { g.chunk(x, 0, 1); }, "chunk: 0 chunks do not divide");
  EXPECT_USER_ERROR([&] { g.chunk(x, -2, 1); }, "chunk: -2 chunks do not divide");
  EXPECT_USER_ERROR([&] { g.chunk(x, 2, 2); }, "chunk: dim 2 is out of range for float32[4, 6]",
                    "expected -2 <= dim < 2");
}

TEST(KernelGraphReshape, SameElementsNewShape) {
  KernelGraph g;
  const TensorRef x = g.input({2, 3, 4}, DType::F32);
  EXPECT_EQ(g.type(g.reshape(x, {6, 4})).shape, (Shape{6, 4}));
  EXPECT_EQ(g.type(g.reshape(x, {24})).shape, (Shape{24}));
  EXPECT_EQ(g.type(g.reshape(x, {1, 24, 1})).shape, (Shape{1, 24, 1}));
  const TensorRef inferred = g.reshape(x, {-1, 4});
  EXPECT_EQ(g.type(inferred).shape, (Shape{6, 4}));
  EXPECT_EQ(g.node(inferred.node).attrs.get_ints("shape"), (std::vector<int64_t>{6, 4}));
  EXPECT_EQ(g.type(g.reshape(x, {2, -1})).shape, (Shape{2, 12}));
  EXPECT_EQ(g.type(g.reshape(x, {-1})).shape, (Shape{24}));
  const TensorRef one = g.input({1}, DType::I32);
  EXPECT_EQ(g.type(g.reshape(one, {})), (TensorType{{}, DType::I32}));
  EXPECT_EQ(g.type(g.reshape(one, {1, -1, 1})).shape, (Shape{1, 1, 1}));
}

TEST(KernelGraphReshape, RejectsBadShapes) {
  KernelGraph g;
  const TensorRef x = g.input({2, 3, 4}, DType::F32);
  EXPECT_USER_ERROR(
      [&] {
        g.reshape(x, {5, 5});
      },
      "reshape: cannot reshape float32[2, 3, 4] (24 elements) to [5, 5] (25 elements)");
  EXPECT_USER_ERROR(
      [&] {
        g.reshape(x, {-1, -1});
      },
      "reshape: shape [-1, -1]", "has more than one -1; expected at most one");
  EXPECT_USER_ERROR(
      [&] {
        g.reshape(x, {-1, 5});
      },
      "reshape: cannot reshape float32[2, 3, 4] to [-1, 5]", "24 elements do not divide by 5");
  EXPECT_USER_ERROR(
      [&] {
        g.reshape(x, {0, 24});
      },
      "reshape: shape [0, 24] has extent 0", "expected extents >= 1 or one -1");
  EXPECT_USER_ERROR([&] { g.reshape(x, {-2, 12}); }, "has extent -2");
  // Extents whose product overflows 64 bits are rejected, not wrapped around.
  const int64_t big = int64_t{1} << 32;
  EXPECT_USER_ERROR([&] { g.reshape(x, {big, big, -1}); }, "reshape: cannot reshape");
  EXPECT_USER_ERROR([&] { g.reshape(x, {big, big, 24}); }, "reshape: cannot reshape");
}

TEST(KernelGraphTranspose, SwapsTwoDims) {
  KernelGraph g;
  const TensorRef x = g.input({2, 3, 4}, DType::F16);
  EXPECT_EQ(g.type(g.transpose(x, 0, 2)), (TensorType{{4, 3, 2}, DType::F16}));
  const TensorRef y = g.transpose(x, -1, -2);
  EXPECT_EQ(g.type(y).shape, (Shape{2, 4, 3}));
  EXPECT_EQ(g.node(y.node).attrs.get_int("dim0"), 2);
  EXPECT_EQ(g.node(y.node).attrs.get_int("dim1"), 1);
  EXPECT_EQ(g.type(g.transpose(x, 1, 1)).shape, (Shape{2, 3, 4}));
  const TensorRef ids = g.input({3, 5}, DType::I32);
  EXPECT_EQ(g.type(g.transpose(ids, 0, 1)), (TensorType{{5, 3}, DType::I32}));
  EXPECT_USER_ERROR([&] { g.transpose(x, 0, 3); },
                    "transpose: dim1 3 is out of range for float16[2, 3, 4]",
                    "expected -3 <= dim1 < 3");
  EXPECT_USER_ERROR([&] { g.transpose(x, -4, 0); }, "transpose: dim0 -4 is out of range");
}

// ---- embedding and rope -------------------------------------------------------------------

TEST(KernelGraphEmbedding, GathersRows) {
  KernelGraph g;
  const TensorRef table = g.input({100, 16}, DType::BF16);
  EXPECT_EQ(g.type(g.embedding(g.input({2, 5}, DType::I32), table)),
            (TensorType{{2, 5, 16}, DType::BF16}));
  EXPECT_EQ(g.type(g.embedding(g.input({7}, DType::I64), table)).shape, (Shape{7, 16}));
  EXPECT_EQ(g.type(g.embedding(g.input({}, DType::I64), table)).shape, (Shape{16}));
}

TEST(KernelGraphEmbedding, RejectsBadOperands) {
  KernelGraph g;
  const TensorRef table = g.input({100, 16}, DType::F32);
  const TensorRef ids = g.input({4}, DType::I32);
  const TensorRef float_ids = g.input({4}, DType::F32);
  const TensorRef table3 = g.input({2, 100, 16}, DType::F32);
  const TensorRef table1 = g.input({100}, DType::F32);
  const TensorRef int_table = g.input({100, 16}, DType::I64);
  EXPECT_USER_ERROR([&] { g.embedding(float_ids, table); }, "embedding: ids is float32[4]",
                    "expected int32 or int64");
  EXPECT_USER_ERROR([&] { g.embedding(ids, table3); },
                    "embedding: table float32[2, 100, 16] has rank 3",
                    "expected a [vocab, dim] table");
  EXPECT_USER_ERROR([&] { g.embedding(ids, table1); }, "has rank 1");
  EXPECT_USER_ERROR([&] { g.embedding(ids, int_table); }, "embedding: table is int64[100, 16]",
                    "expected float32, float16 or bfloat16");
}

TEST(KernelGraphRope, PositionsCoverLeadingDims) {
  KernelGraph g;
  const TensorRef x = g.input({2, 8, 16}, DType::F32);
  EXPECT_EQ(g.type(g.rope(x, g.input({2}, DType::I32))), g.type(x));
  EXPECT_EQ(g.type(g.rope(x, g.input({2, 8}, DType::I64), 1e6)), g.type(x));
  const TensorRef y = g.rope(x, g.input({}, DType::I32), 500000.0);
  EXPECT_EQ(g.node(y.node).attrs.get_float("theta"), 500000.0);
  EXPECT_EQ(g.node(g.rope(x, g.input({2}, DType::I32)).node).attrs.get_float("theta"), 10000.0);
  const TensorRef pair = g.input({2}, DType::BF16);
  EXPECT_EQ(g.type(g.rope(pair, g.input({}, DType::I32))).shape, (Shape{2}));
}

TEST(KernelGraphRope, RejectsBadOperands) {
  KernelGraph g;
  const TensorRef x = g.input({2, 8, 16}, DType::F32);
  const TensorRef odd = g.input({2, 15}, DType::F32);
  const TensorRef scalar = g.input({}, DType::F32);
  const TensorRef pos = g.input({2}, DType::I32);
  const TensorRef wrong = g.input({3}, DType::I32);
  const TensorRef full = g.input({2, 8, 16}, DType::I32);
  const TensorRef inner = g.input({8}, DType::I32);
  const TensorRef float_pos = g.input({2}, DType::F32);
  const TensorRef int_x = g.input({2, 16}, DType::I32);
  EXPECT_USER_ERROR([&] { g.rope(odd, pos); }, "rope: input float32[2, 15] has an odd",
                    "expected an even head dim");
  EXPECT_USER_ERROR([&] { g.rope(scalar, g.input({}, DType::I32)); }, "rope: input float32[]");
  EXPECT_USER_ERROR([&] { g.rope(x, wrong); },
                    "rope: positions int32[3] do not match input float32[2, 8, 16]",
                    "expected positions shaped like the leading dims of the input");
  EXPECT_USER_ERROR([&] { g.rope(x, full); }, "rope: positions int32[2, 8, 16] do not match");
  EXPECT_USER_ERROR([&] { g.rope(x, inner); }, "rope: positions int32[8] do not match");
  EXPECT_USER_ERROR([&] { g.rope(x, float_pos); }, "rope: positions is float32[2]",
                    "expected int32 or int64");
  EXPECT_USER_ERROR([&] { g.rope(int_x, pos); }, "rope: input is int32[2, 16]");
  EXPECT_USER_ERROR([&] { g.rope(x, pos, 0.0); }, "rope: theta 0 is not positive",
                    "expected theta > 0");
  EXPECT_USER_ERROR([&] { g.rope(x, pos, -10000.0); }, "rope: theta -10000 is not positive");
}

// ---- a whole layer ------------------------------------------------------------------------

TEST(KernelGraphLayer, Qwen3AttentionInputProjectionShapes) {
  KernelGraph g;
  const TensorRef hidden = g.input({8, 1024}, DType::BF16);
  const TensorRef norm_w = g.input({1024}, DType::BF16);
  const TensorRef qkv_w = g.input({1024, 4096}, DType::BF16);
  const TensorRef positions = g.input({8}, DType::I32);
  const TensorRef qkv = g.matmul(g.rms_norm(hidden, norm_w), qkv_w);
  const auto pieces = g.split(qkv, {2048, 1024, 1024}, -1);
  const TensorRef q = g.reshape(pieces[0], {8, 16, 128});
  const TensorRef q_rot = g.rope(q, positions, 1e6);
  const TensorRef q_heads = g.transpose(q_rot, 0, 1);
  const TensorRef k = g.transpose(g.reshape(pieces[1], {8, 8, 128}), 0, 1);
  const TensorRef k_rep = g.concat({k, k}, 0);
  const TensorRef scores = g.matmul(q_heads, g.transpose(k_rep, 1, 2));
  const TensorRef probs = g.softmax(g.unary(OpKind::MulScalar, scores, 0.08838834764831845));
  g.mark_output(probs);
  EXPECT_EQ(g.type(probs), (TensorType{{16, 8, 8}, DType::BF16}));
  EXPECT_EQ(g.nodes().size(), 17u);
}

}  // namespace
