// Every op of the table run by the reference backend on random non-zero inputs and compared
// with float64 values computed here, directly from each op's definition.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "test_util.h"
#include "yirage/backend/registry.h"
#include "yirage/ir/kernel_graph.h"

namespace {

namespace yt = yirage::testing;
using yirage::core::DType;
using yirage::core::Shape;
using yirage::core::Tensor;
using yirage::ir::KernelGraph;
using yirage::ir::OpKind;
using yirage::ir::TensorRef;

constexpr DType kFloatTypes[] = {DType::F32, DType::F16, DType::BF16};

std::vector<Tensor> run(const KernelGraph& graph, const std::vector<Tensor>& inputs) {
  return yirage::backend::get_backend("reference").run(graph, inputs);
}

// Runs a one-output graph and returns that output.
Tensor run1(const KernelGraph& graph, const std::vector<Tensor>& inputs) {
  auto outputs = run(graph, inputs);
  EXPECT_EQ(outputs.size(), 1u);
  return outputs.at(0);
}

int64_t numel(const Shape& shape) {
  return yirage::core::shape_numel(shape);
}

// ---- element-wise -------------------------------------------------------------------------

struct UnaryCase {
  OpKind op;
  double lo, hi;  // input range
  double scalar;
  std::function<double(double)> expected;
  int ulps;  // 0 where the float64 value is computed exactly the same way
};

std::vector<UnaryCase> unary_cases() {
  return {
      {OpKind::Exp, -3, 3, 0, [](double x) { return std::exp(x); }, 1},
      {OpKind::Silu, -4, 4, 0, [](double x) { return x * (1 / (1 + std::exp(-x))); }, 1},
      {OpKind::Gelu, -4, 4, 0, [](double x) { return x * (1 + std::erf(x / std::sqrt(2.0))) / 2; },
       1},
      {OpKind::Relu, -2, 2, 0, [](double x) { return x < 0 ? 0.0 : x; }, 0},
      {OpKind::Sigmoid, -6, 6, 0, [](double x) { return 1 / (1 + std::exp(-x)); }, 1},
      {OpKind::Sqrt, 0.05, 9, 0, [](double x) { return std::sqrt(x); }, 0},
      {OpKind::Rsqrt, 0.05, 9, 0, [](double x) { return std::pow(x, -0.5); }, 1},
      {OpKind::Square, -3, 3, 0, [](double x) { return x * x; }, 0},
      {OpKind::Neg, -3, 3, 0, [](double x) { return -x; }, 0},
      {OpKind::MulScalar, -3, 3, -0.37, [](double x) { return x * -0.37; }, 0},
      {OpKind::AddScalar, -3, 3, 2.25, [](double x) { return x + 2.25; }, 0},
  };
}

TEST(ReferenceOps, EveryUnaryOpInEveryFloatDtype) {
  const auto cases = unary_cases();
  ASSERT_EQ(cases.size(), 11u);  // every unary op of the table
  std::mt19937_64 rng(1);
  for (const auto& c : cases) {
    for (DType dtype : kFloatTypes) {
      SCOPED_TRACE(std::string(yirage::ir::op_name(c.op)) + " " +
                   std::string(yirage::core::dtype_name(dtype)));
      KernelGraph g;
      const Shape shape = {3, 1, 17};
      g.mark_output(g.unary(c.op, g.input(shape, dtype), c.scalar));
      const Tensor x = yt::random_tensor(shape, dtype, rng, c.lo, c.hi);
      const Tensor y = run1(g, {x});
      EXPECT_EQ(y.shape(), shape);
      EXPECT_EQ(y.dtype(), dtype);
      std::vector<double> expected;
      for (double value : yt::values(x)) expected.push_back(c.expected(value));
      EXPECT_TRUE(yt::rounded_equal(y, expected, c.ulps));
    }
  }
}

TEST(ReferenceOps, UnaryOpsOnEdgeValues) {
  KernelGraph g;
  const TensorRef x = g.input({4}, DType::F32);
  g.mark_output(g.unary(OpKind::Relu, x));
  g.mark_output(g.unary(OpKind::Sqrt, x));
  g.mark_output(g.unary(OpKind::Exp, x));
  const auto out = run(g, {yt::tensor_of({4}, DType::F32, {-0.0, 0.0, -1.0, 100.0})});
  EXPECT_EQ(yt::values(out[0]), (std::vector<double>{0, 0, 0, 100}));
  const auto roots = yt::values(out[1]);
  EXPECT_EQ(roots[1], 0.0);
  EXPECT_TRUE(std::isnan(roots[2]));
  EXPECT_EQ(roots[3], 10.0);
  EXPECT_TRUE(std::isinf(yt::values(out[2])[3]));  // e^100 overflows float32
}

struct BinaryCase {
  OpKind op;
  std::function<double(double, double)> expected;
  int ulps;
};

std::vector<BinaryCase> binary_cases() {
  return {{OpKind::Add, [](double x, double y) { return x + y; }, 0},
          {OpKind::Sub, [](double x, double y) { return x - y; }, 0},
          {OpKind::Mul, [](double x, double y) { return x * y; }, 0},
          {OpKind::Div, [](double x, double y) { return x / y; }, 0},
          {OpKind::Pow, [](double x, double y) { return std::exp(y * std::log(x)); }, 1}};
}

TEST(ReferenceOps, EveryBinaryOpWithBroadcasting) {
  struct Shapes {
    Shape a, b, out;
  };
  const Shapes shapes[] = {{{4, 1, 3}, {2, 1}, {4, 2, 3}}, {{5}, {5}, {5}},
                           {{2, 3}, {3}, {2, 3}},          {{3}, {}, {3}},
                           {{1}, {4, 1}, {4, 1}},          {{2, 1, 4, 1}, {3, 1, 5}, {2, 3, 4, 5}}};
  const auto cases = binary_cases();
  ASSERT_EQ(cases.size(), 5u);  // every binary op of the table
  std::mt19937_64 rng(2);
  for (const auto& c : cases) {
    for (DType dtype : kFloatTypes) {
      for (const auto& s : shapes) {
        SCOPED_TRACE(std::string(yirage::ir::op_name(c.op)) + " " +
                     yirage::core::shape_to_string(s.a) + " and " +
                     yirage::core::shape_to_string(s.b) + " " +
                     std::string(yirage::core::dtype_name(dtype)));
        KernelGraph g;
        const TensorRef in0 = g.input(s.a, dtype);
        const TensorRef in1 = g.input(s.b, dtype);
        g.mark_output(g.binary(c.op, in0, in1));
        // pow takes positive bases.
        const double lo = c.op == OpKind::Pow ? 0.25 : -2.0;
        const Tensor a = yt::random_tensor(s.a, dtype, rng, lo, 2.0);
        const Tensor b = yt::random_tensor(s.b, dtype, rng, -2.0, 2.0);
        const Tensor y = run1(g, {a, b});
        ASSERT_EQ(y.shape(), s.out);
        const auto av = yt::values(a), bv = yt::values(b);
        std::vector<double> expected(static_cast<std::size_t>(numel(s.out)));
        for (int64_t i = 0; i < numel(s.out); ++i) {
          const auto index = yt::unravel(i, s.out);
          expected[i] =
              c.expected(av[yt::broadcast_flat(index, s.a)], bv[yt::broadcast_flat(index, s.b)]);
        }
        EXPECT_TRUE(yt::rounded_equal(y, expected, c.ulps));
      }
    }
  }
}

TEST(ReferenceOps, BroadcastPlacesEachOperandByTrailingDims) {
  // [4, 1, 3] + [2, 1]: out[i, j, k] = a[i, 0, k] + b[j, 0], checked on distinct integers.
  KernelGraph g;
  const TensorRef in0 = g.input({4, 1, 3}, DType::F32);
  const TensorRef in1 = g.input({2, 1}, DType::F32);
  g.mark_output(g.binary(OpKind::Add, in0, in1));
  std::vector<double> a(12), b = {1000, 2000};
  for (int i = 0; i < 12; ++i) a[i] = i + 1;
  const Tensor y =
      run1(g, {yt::tensor_of({4, 1, 3}, DType::F32, a), yt::tensor_of({2, 1}, DType::F32, b)});
  const auto out = yt::values(y);
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 2; ++j) {
      for (int k = 0; k < 3; ++k) EXPECT_EQ(out[(i * 2 + j) * 3 + k], a[i * 3 + k] + b[j]);
    }
  }
}

// ---- reductions and softmax ---------------------------------------------------------------

TEST(ReferenceOps, EveryReductionOverEveryDim) {
  const Shape shape = {3, 4, 5};
  std::mt19937_64 rng(3);
  const Tensor x = yt::random_tensor(shape, DType::F32, rng, -3, 3);
  const auto xv = yt::values(x);
  for (OpKind op : {OpKind::Sum, OpKind::Max, OpKind::Mean}) {
    for (int64_t dim = 0; dim < 3; ++dim) {
      for (bool keepdim : {false, true}) {
        SCOPED_TRACE(std::string(yirage::ir::op_name(op)) + " dim " + std::to_string(dim) +
                     (keepdim ? " keepdim" : ""));
        KernelGraph g;
        g.mark_output(g.reduce(op, g.input(shape, DType::F32), dim - 3 * (dim % 2), keepdim));
        const Tensor y = run1(g, {x});
        Shape kept = shape;
        kept[dim] = 1;
        Shape dropped = shape;
        dropped.erase(dropped.begin() + dim);
        EXPECT_EQ(y.shape(), keepdim ? kept : dropped);
        std::vector<double> expected;
        for (int64_t i = 0; i < numel(kept); ++i) {
          auto index = yt::unravel(i, kept);
          double sum = 0, peak = -INFINITY;
          for (int64_t k = 0; k < shape[dim]; ++k) {
            index[dim] = k;
            const double value = xv[yt::ravel(index, shape)];
            sum += value;
            peak = std::max(peak, value);
          }
          expected.push_back(op == OpKind::Sum ? sum : op == OpKind::Max ? peak : sum / shape[dim]);
        }
        EXPECT_TRUE(yt::rounded_equal(y, expected, op == OpKind::Max ? 0 : 1));
      }
    }
  }
}

TEST(ReferenceOps, ReductionToAScalarInHalfPrecision) {
  std::mt19937_64 rng(4);
  KernelGraph g;
  g.mark_output(g.reduce(OpKind::Sum, g.input({300}, DType::F16), 0));
  const Tensor x = yt::random_tensor({300}, DType::F16, rng);
  const Tensor y = run1(g, {x});
  EXPECT_EQ(y.shape(), Shape{});
  double sum = 0;
  for (double value : yt::values(x)) sum += value;
  EXPECT_TRUE(yt::rounded_equal(y, {sum}, 1));
}

TEST(ReferenceOps, SoftmaxOverEachDim) {
  const Shape shape = {3, 4, 5};
  std::mt19937_64 rng(5);
  const Tensor x = yt::random_tensor(shape, DType::F32, rng, -4, 4);
  const auto xv = yt::values(x);
  for (int64_t dim = 0; dim < 3; ++dim) {
    SCOPED_TRACE("dim " + std::to_string(dim));
    KernelGraph g;
    g.mark_output(g.softmax(g.input(shape, DType::F32), dim));
    const Tensor y = run1(g, {x});
    const auto yv = yt::values(y);
    Shape outer = shape;
    outer[dim] = 1;
    std::vector<double> expected(xv.size());
    for (int64_t i = 0; i < numel(outer); ++i) {
      auto index = yt::unravel(i, outer);
      double total = 0, out_total = 0;
      for (int64_t k = 0; k < shape[dim]; ++k) {
        index[dim] = k;
        total += std::exp(xv[yt::ravel(index, shape)]);
      }
      for (int64_t k = 0; k < shape[dim]; ++k) {
        index[dim] = k;
        const int64_t at = yt::ravel(index, shape);
        expected[at] = std::exp(xv[at]) / total;
        out_total += yv[at];
      }
      EXPECT_NEAR(out_total, 1.0, 1e-6) << "row " << i;
    }
    EXPECT_TRUE(yt::rounded_equal(y, expected, 1));
  }
}

TEST(ReferenceOps, SoftmaxIsStableForLargeInputs) {
  KernelGraph g;
  g.mark_output(g.softmax(g.input({3}, DType::F32)));
  const Tensor y = run1(g, {yt::tensor_of({3}, DType::F32, {1000, 1000, 999})});
  const double e = std::exp(-1.0);
  EXPECT_TRUE(yt::rounded_equal(y, {1 / (2 + e), 1 / (2 + e), e / (2 + e)}, 1));
}

// ---- matmul and rms_norm ------------------------------------------------------------------

// out[..., i, j] = sum_p a[..., i, p] * b[..., p, j] with broadcast batch dims.
std::vector<double> matmul_expected(const Tensor& a, const Tensor& b, const Shape& out) {
  const auto av = yt::values(a), bv = yt::values(b);
  const Shape& as = a.shape();
  const Shape& bs = b.shape();
  const int64_t k = as.back();
  std::vector<double> result(static_cast<std::size_t>(numel(out)));
  for (int64_t flat = 0; flat < numel(out); ++flat) {
    const auto index = yt::unravel(flat, out);
    auto a_index = index, b_index = index;
    double sum = 0;
    for (int64_t p = 0; p < k; ++p) {
      a_index.back() = p;
      b_index[b_index.size() - 2] = p;
      sum += av[yt::broadcast_flat(a_index, as)] * bv[yt::broadcast_flat(b_index, bs)];
    }
    result[flat] = sum;
  }
  return result;
}

TEST(ReferenceOps, MatmulWithBroadcastBatchDims) {
  struct Case {
    Shape a, b, out;
  };
  const Case cases[] = {{{3, 4}, {4, 5}, {3, 5}},
                        {{1, 1}, {1, 1}, {1, 1}},
                        {{2, 1, 3, 4}, {5, 4, 2}, {2, 5, 3, 2}},
                        {{3, 4}, {2, 4, 6}, {2, 3, 6}},
                        {{2, 3, 2, 7}, {2, 3, 7, 1}, {2, 3, 2, 1}},
                        {{1, 33}, {33, 40}, {1, 40}}};
  std::mt19937_64 rng(6);
  for (DType dtype : kFloatTypes) {
    for (const auto& c : cases) {
      SCOPED_TRACE(yirage::core::shape_to_string(c.a) + " @ " + yirage::core::shape_to_string(c.b) +
                   " " + std::string(yirage::core::dtype_name(dtype)));
      KernelGraph g;
      const TensorRef in0 = g.input(c.a, dtype);
      const TensorRef in1 = g.input(c.b, dtype);
      g.mark_output(g.matmul(in0, in1));
      const Tensor a = yt::random_tensor(c.a, dtype, rng);
      const Tensor b = yt::random_tensor(c.b, dtype, rng);
      const Tensor y = run1(g, {a, b});
      ASSERT_EQ(y.shape(), c.out);
      EXPECT_TRUE(yt::rounded_equal(y, matmul_expected(a, b, c.out), 1));
    }
  }
}

TEST(ReferenceOps, MatmulOfSmallIntegersIsExact) {
  // [[1, 2], [3, 4]] @ [[5, 6], [7, 8]] = [[19, 22], [43, 50]]
  KernelGraph g;
  const TensorRef in0 = g.input({2, 2}, DType::BF16);
  const TensorRef in1 = g.input({2, 2}, DType::BF16);
  g.mark_output(g.matmul(in0, in1));
  const Tensor y = run1(g, {yt::tensor_of({2, 2}, DType::BF16, {1, 2, 3, 4}),
                            yt::tensor_of({2, 2}, DType::BF16, {5, 6, 7, 8})});
  EXPECT_EQ(yt::values(y), (std::vector<double>{19, 22, 43, 50}));
}

TEST(ReferenceOps, RmsNormOverTheLastDim) {
  std::mt19937_64 rng(7);
  for (DType dtype : kFloatTypes) {
    for (const Shape& shape : {Shape{4, 16}, Shape{2, 3, 8}, Shape{5}}) {
      SCOPED_TRACE(yirage::core::shape_to_string(shape) + " " +
                   std::string(yirage::core::dtype_name(dtype)));
      const int64_t d = shape.back();
      const double eps = 1e-5;
      KernelGraph g;
      const TensorRef in0 = g.input(shape, dtype);
      const TensorRef in1 = g.input({d}, dtype);
      g.mark_output(g.rms_norm(in0, in1, eps));
      const Tensor x = yt::random_tensor(shape, dtype, rng, -2, 2);
      const Tensor w = yt::random_tensor({d}, dtype, rng, 0.5, 1.5);
      const Tensor y = run1(g, {x, w});
      const auto xv = yt::values(x), wv = yt::values(w);
      std::vector<double> expected(xv.size());
      for (std::size_t row = 0; row < xv.size() / d; ++row) {
        double squares = 0;
        for (int64_t i = 0; i < d; ++i) squares += xv[row * d + i] * xv[row * d + i];
        const double rms = std::sqrt(squares / d + eps);
        for (int64_t i = 0; i < d; ++i) expected[row * d + i] = xv[row * d + i] / rms * wv[i];
      }
      EXPECT_TRUE(yt::rounded_equal(y, expected, 1));
    }
  }
}

TEST(ReferenceOps, RmsNormEpsDominatesTinyRows) {
  KernelGraph g;
  const TensorRef in0 = g.input({2}, DType::F32);
  const TensorRef in1 = g.input({2}, DType::F32);
  g.mark_output(g.rms_norm(in0, in1, 1.0));
  const Tensor y =
      run1(g, {yt::tensor_of({2}, DType::F32, {3, 4}), yt::tensor_of({2}, DType::F32, {1, 2})});
  // mean square 12.5, + eps 1 = 13.5
  const double rms = std::sqrt(13.5);
  EXPECT_TRUE(yt::rounded_equal(y, {3 / rms, 8 / rms}, 1));
}

// ---- data movement ------------------------------------------------------------------------

TEST(ReferenceOps, ConcatAndSplitRoundTrip) {
  std::mt19937_64 rng(8);
  for (int64_t dim = 0; dim < 3; ++dim) {
    SCOPED_TRACE("dim " + std::to_string(dim));
    Shape shape = {2, 3, 4};
    Shape a_shape = shape, b_shape = shape;
    a_shape[dim] = 1;
    b_shape[dim] = 2;
    Shape joined = shape;
    joined[dim] = 1 + 2 + shape[dim];
    KernelGraph g;
    const TensorRef a = g.input(a_shape, DType::BF16);
    const TensorRef b = g.input(b_shape, DType::BF16);
    const TensorRef c = g.input(shape, DType::BF16);
    const TensorRef cat = g.concat({a, b, c}, dim);
    const auto parts = g.split(cat, {1, 2, shape[dim]}, dim);
    g.mark_output(cat);
    for (const auto& part : parts) g.mark_output(part);
    const std::vector<Tensor> in = {yt::random_tensor(a_shape, DType::BF16, rng),
                                    yt::random_tensor(b_shape, DType::BF16, rng),
                                    yt::random_tensor(shape, DType::BF16, rng)};
    const auto out = run(g, in);
    ASSERT_EQ(out.size(), 4u);
    EXPECT_EQ(out[0].shape(), joined);
    // Concatenation places each part after the previous ones along `dim`.
    const auto cat_values = yt::values(out[0]);
    const int64_t offsets[] = {0, 1, 3};
    for (int part = 0; part < 3; ++part) {
      const auto part_values = yt::values(in[part]);
      for (int64_t i = 0; i < in[part].numel(); ++i) {
        auto index = yt::unravel(i, in[part].shape());
        index[dim] += offsets[part];
        ASSERT_EQ(cat_values[yt::ravel(index, joined)], part_values[i]) << part << " " << i;
      }
      // Split recovers each part bit for bit.
      EXPECT_EQ(out[1 + part].shape(), in[part].shape());
      EXPECT_EQ(yt::values(out[1 + part]), part_values);
    }
  }
}

TEST(ReferenceOps, ChunkSplitsEvenly) {
  KernelGraph g;
  const auto parts = g.chunk(g.input({2, 6}, DType::I32), 3, 1);
  for (const auto& part : parts) g.mark_output(part);
  std::vector<double> x(12);
  for (int i = 0; i < 12; ++i) x[i] = i;
  const auto out = run(g, {yt::tensor_of({2, 6}, DType::I32, x)});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(yt::values(out[0]), (std::vector<double>{0, 1, 6, 7}));
  EXPECT_EQ(yt::values(out[1]), (std::vector<double>{2, 3, 8, 9}));
  EXPECT_EQ(yt::values(out[2]), (std::vector<double>{4, 5, 10, 11}));
  EXPECT_EQ(out[2].dtype(), DType::I32);
}

TEST(ReferenceOps, ReshapeKeepsRowMajorOrder) {
  std::mt19937_64 rng(9);
  KernelGraph g;
  const TensorRef x = g.input({2, 3, 4}, DType::F16);
  g.mark_output(g.reshape(x, {4, -1}));
  g.mark_output(g.reshape(x, {24}));
  g.mark_output(g.reshape(g.reshape(x, {6, 4}), {2, 3, 4}));
  const Tensor in = yt::random_tensor({2, 3, 4}, DType::F16, rng);
  const auto out = run(g, {in});
  EXPECT_EQ(out[0].shape(), (Shape{4, 6}));
  EXPECT_EQ(out[1].shape(), (Shape{24}));
  for (const auto& tensor : out) EXPECT_EQ(yt::values(tensor), yt::values(in));
}

TEST(ReferenceOps, TransposeOfA3DTensor) {
  std::mt19937_64 rng(10);
  const Shape shape = {2, 3, 4};
  const Tensor in = yt::random_tensor(shape, DType::F32, rng);
  const auto xv = yt::values(in);
  const std::pair<int64_t, int64_t> swaps[] = {{0, 2}, {0, 1}, {1, 2}, {2, 2}};
  for (const auto& [d0, d1] : swaps) {
    KernelGraph g;
    g.mark_output(g.transpose(g.input(shape, DType::F32), d0, d1));
    const Tensor y = run1(g, {in});
    Shape out = shape;
    std::swap(out[d0], out[d1]);
    ASSERT_EQ(y.shape(), out);
    const auto yv = yt::values(y);
    for (int64_t i = 0; i < in.numel(); ++i) {
      auto index = yt::unravel(i, shape);
      std::swap(index[d0], index[d1]);
      ASSERT_EQ(yv[yt::ravel(index, out)], xv[i]) << d0 << "," << d1 << " at " << i;
    }
  }
}

TEST(ReferenceOps, TransposeTwiceIsIdentityForIntegers) {
  KernelGraph g;
  const TensorRef x = g.input({3, 1, 5}, DType::I64);
  g.mark_output(g.transpose(g.transpose(x, 0, 2), 2, 0));
  std::mt19937_64 rng(11);
  const Tensor in = yt::random_int_tensor({3, 1, 5}, DType::I64, rng, -1000000, 1000000);
  const Tensor y = run1(g, {in});
  EXPECT_EQ(y.dtype(), DType::I64);
  EXPECT_EQ(yt::values(y), yt::values(in));
}

// ---- embedding and rope -------------------------------------------------------------------

TEST(ReferenceOps, EmbeddingGathersRows) {
  std::mt19937_64 rng(12);
  for (DType id_type : {DType::I32, DType::I64}) {
    for (DType dtype : kFloatTypes) {
      KernelGraph g;
      const TensorRef in0 = g.input({2, 3}, id_type);
      const TensorRef in1 = g.input({10, 4}, dtype);
      g.mark_output(g.embedding(in0, in1));
      const Tensor ids = yt::random_int_tensor({2, 3}, id_type, rng, 0, 9);
      const Tensor table = yt::random_tensor({10, 4}, dtype, rng);
      const Tensor y = run1(g, {ids, table});
      ASSERT_EQ(y.shape(), (Shape{2, 3, 4}));
      EXPECT_EQ(y.dtype(), dtype);
      const auto idv = yt::values(ids), tv = yt::values(table), yv = yt::values(y);
      for (int64_t i = 0; i < 6; ++i) {
        for (int64_t j = 0; j < 4; ++j) {
          ASSERT_EQ(yv[i * 4 + j], tv[static_cast<int64_t>(idv[i]) * 4 + j]);
        }
      }
    }
  }
}

TEST(ReferenceOps, EmbeddingRejectsOutOfRangeIds) {
  KernelGraph g;
  const TensorRef in0 = g.input({3}, DType::I32);
  const TensorRef in1 = g.input({10, 4}, DType::F32);
  g.mark_output(g.embedding(in0, in1));
  std::mt19937_64 rng(13);
  const Tensor table = yt::random_tensor({10, 4}, DType::F32, rng);
  EXPECT_USER_ERROR(
      [&] {
        run(g, {yt::tensor_of({3}, DType::I32, {0, 9, 10}), table});
      },
      "embedding: id 10 at position 2 is out of range for a table of 10 rows",
      "expected 0 <= id < 10");
  EXPECT_USER_ERROR(
      [&] {
        run(g, {yt::tensor_of({3}, DType::I32, {-1, 0, 0}), table});
      },
      "embedding: id -1 at position 0 is out of range");
}

// NeoX rotary embedding by its definition: pair i of a head of dim d joins elements i and
// i + d/2 and turns them by the angle position * theta^(-2i/d).
std::vector<double> rope_expected(const std::vector<double>& x, const Shape& shape,
                                  const std::vector<double>& positions, double theta) {
  const int64_t d = shape.back(), half = d / 2;
  const int64_t rows = static_cast<int64_t>(x.size()) / d;
  const int64_t rows_per_position = rows / static_cast<int64_t>(positions.size());
  std::vector<double> out(x.size());
  for (int64_t row = 0; row < rows; ++row) {
    const double position = positions[row / rows_per_position];
    for (int64_t i = 0; i < half; ++i) {
      const double angle = position / std::pow(theta, static_cast<double>(2 * i) / d);
      const double first = x[row * d + i], second = x[row * d + half + i];
      out[row * d + i] = first * std::cos(angle) - second * std::sin(angle);
      out[row * d + half + i] = second * std::cos(angle) + first * std::sin(angle);
    }
  }
  return out;
}

TEST(ReferenceOps, RopeMatchesTheNeoXFormula) {
  struct Case {
    Shape x, positions;
    double theta;
  };
  const Case cases[] = {{{5, 4, 16}, {5}, 10000.0},
                        {{2, 3, 8}, {2, 3}, 1e6},
                        {{3, 6}, {}, 500.0},
                        {{1, 2, 2}, {1}, 10000.0}};
  std::mt19937_64 rng(14);
  for (DType pos_type : {DType::I32, DType::I64}) {
    for (DType dtype : kFloatTypes) {
      for (const auto& c : cases) {
        SCOPED_TRACE(yirage::core::shape_to_string(c.x) + " " +
                     std::string(yirage::core::dtype_name(dtype)));
        KernelGraph g;
        const TensorRef in0 = g.input(c.x, dtype);
        const TensorRef in1 = g.input(c.positions, pos_type);
        g.mark_output(g.rope(in0, in1, c.theta));
        const Tensor x = yt::random_tensor(c.x, dtype, rng);
        const Tensor positions = yt::random_int_tensor(c.positions, pos_type, rng, 0, 4096);
        const Tensor y = run1(g, {x, positions});
        EXPECT_TRUE(yt::rounded_equal(
            y, rope_expected(yt::values(x), c.x, yt::values(positions), c.theta), 1));
        if (dtype == DType::F32) {
          // A rotation keeps the length of every pair.
          const auto xv = yt::values(x), yv = yt::values(y);
          const int64_t d = c.x.back();
          for (std::size_t row = 0; row < xv.size() / d; ++row) {
            for (int64_t i = 0; i < d / 2; ++i) {
              const auto at = row * d + i, partner = at + d / 2;
              EXPECT_NEAR(std::hypot(yv[at], yv[partner]), std::hypot(xv[at], xv[partner]), 1e-5);
            }
          }
        }
      }
    }
  }
}

TEST(ReferenceOps, RopeAtPositionZeroIsIdentity) {
  std::mt19937_64 rng(15);
  KernelGraph g;
  const TensorRef in0 = g.input({4, 2, 8}, DType::BF16);
  const TensorRef in1 = g.input({4}, DType::I32);
  g.mark_output(g.rope(in0, in1));
  const Tensor x = yt::random_tensor({4, 2, 8}, DType::BF16, rng);
  const Tensor y = run1(g, {x, yt::tensor_of({4}, DType::I32, {0, 0, 0, 0})});
  for (int64_t i = 0; i < x.numel(); ++i) EXPECT_EQ(yt::bits16(y, i), yt::bits16(x, i)) << i;
}

TEST(ReferenceOps, RopeRotatesFirstHalfAgainstSecondHalf) {
  // d = 4, position 1, theta 10000: pair 0 turns by 1 rad, pair 1 by 1/100 rad. The input
  // is [1, 0, 0, 0]: only element 0 (first half of pair 0) is set, so the output is
  // [cos 1, 0, sin 1, 0] in NeoX layout (an interleaved layout would touch element 1).
  KernelGraph g;
  const TensorRef in0 = g.input({1, 4}, DType::F32);
  const TensorRef in1 = g.input({1}, DType::I64);
  g.mark_output(g.rope(in0, in1));
  const Tensor y = run1(
      g, {yt::tensor_of({1, 4}, DType::F32, {1, 0, 0, 0}), yt::tensor_of({1}, DType::I64, {1})});
  EXPECT_TRUE(yt::rounded_equal(y, {std::cos(1.0), 0, std::sin(1.0), 0}, 1));
  const Tensor z = run1(
      g, {yt::tensor_of({1, 4}, DType::F32, {0, 1, 0, 0}), yt::tensor_of({1}, DType::I64, {1})});
  EXPECT_TRUE(yt::rounded_equal(z, {0, std::cos(0.01), 0, std::sin(0.01)}, 1));
}

}  // namespace
