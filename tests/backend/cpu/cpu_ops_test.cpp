// Every unfused op of the cpu backend against the reference backend, at odd shapes, in
// float32, bfloat16 and float16, with per-dtype bounds.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>

#include "test_util.h"
#include "yirage/backend/random_inputs.h"
#include "yirage/backend/registry.h"
#include "yirage/ir/kernel_graph.h"

namespace yirage::backend {
namespace {

using core::DType;
using ir::KernelGraph;
using ir::OpKind;
using ir::TensorRef;

// |cpu - reference| <= atol + rtol * |reference| per element, NaN only where both are NaN.
struct Bound {
  double atol, rtol;
};

Bound bound_for(DType dtype) {
  switch (dtype) {
    case DType::BF16:
      return {1.5e-2, 1.6e-2};
    case DType::F16:
      return {2e-3, 2e-3};
    default:
      return {2e-5, 2e-5};
  }
}

// Builds a graph with `build`, runs it on both backends with the same seeded inputs and
// compares every output.
void expect_matches_reference(const std::string& what, DType dtype,
                              const std::function<void(KernelGraph&)>& build, double scale = 1.0) {
  SCOPED_TRACE(what + " " + std::string(core::dtype_name(dtype)));
  KernelGraph graph;
  build(graph);
  const auto inputs = random_inputs(graph, 17);
  const auto expected = get_backend("reference").run(graph, inputs);
  const auto actual = get_backend("cpu").run(graph, inputs);
  ASSERT_EQ(actual.size(), expected.size());
  const Bound bound = bound_for(dtype);
  for (std::size_t o = 0; o < actual.size(); ++o) {
    ASSERT_EQ(actual[o].shape(), expected[o].shape());
    ASSERT_EQ(actual[o].dtype(), expected[o].dtype());
    int failures = 0;
    for (int64_t i = 0; i < expected[o].numel() && failures < 5; ++i) {
      const double want = expected[o].get(i), got = actual[o].get(i);
      if (std::isnan(want) && std::isnan(got)) continue;
      if (std::fabs(got - want) <= scale * (bound.atol + bound.rtol * std::fabs(want))) continue;
      ADD_FAILURE() << "output " << o << " element " << i << ": cpu " << got << ", reference "
                    << want;
      ++failures;
    }
  }
}

constexpr DType kFloatTypes[] = {DType::F32, DType::BF16, DType::F16};

TEST(CpuOpsTest, UnaryOps) {
  for (DType dtype : kFloatTypes) {
    for (OpKind op :
         {OpKind::Exp, OpKind::Silu, OpKind::Gelu, OpKind::Relu, OpKind::Sigmoid, OpKind::Sqrt,
          OpKind::Rsqrt, OpKind::Square, OpKind::Neg, OpKind::MulScalar, OpKind::AddScalar}) {
      expect_matches_reference(std::string(ir::op_name(op)), dtype, [&](KernelGraph& g) {
        g.mark_output(g.unary(op, g.input({3, 37}, dtype), 0.37));
      });
    }
  }
  // More elements than one conversion piece, split over threads.
  expect_matches_reference("silu large", DType::BF16, [](KernelGraph& g) {
    g.mark_output(g.unary(OpKind::Silu, g.input({5, 2051}, DType::BF16)));
  });
}

TEST(CpuOpsTest, BinaryOpsWithBroadcasting) {
  const std::vector<std::pair<core::Shape, core::Shape>> shapes = {
      {{3, 17}, {3, 17}}, {{5, 1, 19}, {7, 19}}, {{3, 17}, {17}},        {{1}, {4, 5}},
      {{4, 1}, {1, 9}},   {{2, 3, 1}, {3, 1}},   {{6, 1, 5}, {6, 4, 1}}, {{2051}, {1}}};
  for (DType dtype : kFloatTypes) {
    for (OpKind op : {OpKind::Add, OpKind::Sub, OpKind::Mul, OpKind::Div, OpKind::Pow}) {
      for (const auto& [a, b] : shapes) {
        expect_matches_reference(
            std::string(ir::op_name(op)) + " " + core::shape_to_string(a) + " " +
                core::shape_to_string(b),
            dtype, [&](KernelGraph& g) {
              g.mark_output(g.binary(op, g.input(a, dtype), g.input(b, dtype)));
            });
      }
    }
  }
}

TEST(CpuOpsTest, ReductionsOverEveryDim) {
  for (DType dtype : {DType::F32, DType::BF16}) {
    for (OpKind op : {OpKind::Sum, OpKind::Max, OpKind::Mean}) {
      for (int64_t dim : {0, 1, 2, -1}) {
        for (bool keepdim : {false, true}) {
          expect_matches_reference(
              std::string(ir::op_name(op)) + " dim " + std::to_string(dim), dtype,
              [&](KernelGraph& g) {
                g.mark_output(g.reduce(op, g.input({5, 19, 23}, dtype), dim, keepdim));
              });
        }
      }
    }
  }
  // f32 accumulation over 5003 terms: a few float ulps of the sum of magnitudes.
  expect_matches_reference(
      "sum of a long row", DType::F32,
      [](KernelGraph& g) {
        g.mark_output(g.reduce(OpKind::Sum, g.input({3, 5003}, DType::F32), 1));
      },
      4.0);
  expect_matches_reference("max over many columns", DType::F32, [](KernelGraph& g) {
    g.mark_output(g.reduce(OpKind::Max, g.input({7, 301}, DType::F32), 0));
  });
}

TEST(CpuOpsTest, SoftmaxAndRmsNorm) {
  for (DType dtype : kFloatTypes) {
    for (int64_t dim : {-1, 1, 0}) {
      expect_matches_reference("softmax dim " + std::to_string(dim), dtype, [&](KernelGraph& g) {
        g.mark_output(g.softmax(g.input({3, 29, 7}, dtype), dim));
      });
    }
    expect_matches_reference("rms_norm", dtype, [&](KernelGraph& g) {
      g.mark_output(g.rms_norm(g.input({5, 3, 67}, dtype), g.input({67}, dtype), 1e-5));
    });
  }
  expect_matches_reference("softmax of a long row", DType::F32, [](KernelGraph& g) {
    g.mark_output(g.softmax(g.input({2, 4099}, DType::F32), -1));
  });
}

TEST(CpuOpsTest, RopeAndEmbedding) {
  for (DType dtype : kFloatTypes) {
    for (DType index : {DType::I32, DType::I64}) {
      expect_matches_reference("rope per token", dtype, [&](KernelGraph& g) {
        g.mark_output(g.rope(g.input({3, 5, 18}, dtype), g.input({3}, index), 10000.0));
      });
      expect_matches_reference("rope per head", dtype, [&](KernelGraph& g) {
        g.mark_output(g.rope(g.input({3, 5, 6}, dtype), g.input({3, 5}, index), 500.0));
      });
      expect_matches_reference("embedding", dtype, [&](KernelGraph& g) {
        g.mark_output(g.embedding(g.input({2, 3}, index), g.input({11, 21}, dtype)));
      });
    }
  }
}

TEST(CpuOpsTest, EmbeddingRejectsAnOutOfRangeId) {
  KernelGraph g;
  const TensorRef ids_input = g.input({2}, DType::I32);
  g.mark_output(g.embedding(ids_input, g.input({4, 3}, DType::F32)));
  core::Tensor ids = core::Tensor::empty({2}, DType::I32);
  ids.data_as<int32_t>()[0] = 1;
  ids.data_as<int32_t>()[1] = 4;
  const core::Tensor table = core::Tensor::empty({4, 3}, DType::F32);
  EXPECT_USER_ERROR(
      [&] {
        get_backend("cpu").run(g, {ids, table});
      },
      "embedding: id 4 at position 1 is out of range");
}

TEST(CpuOpsTest, DataMovement) {
  for (DType dtype : {DType::F32, DType::BF16, DType::I64}) {
    expect_matches_reference("concat", dtype, [&](KernelGraph& g) {
      g.mark_output(g.concat({g.input({3, 2, 5}, dtype), g.input({3, 7, 5}, dtype)}, 1));
      g.mark_output(g.concat({g.input({1, 3}, dtype), g.input({2, 3}, dtype)}, 0));
    });
    expect_matches_reference("split and chunk", dtype, [&](KernelGraph& g) {
      const TensorRef x = g.input({3, 9, 5}, dtype);
      for (TensorRef piece : g.split(x, {2, 4, 3}, 1)) g.mark_output(piece);
      for (TensorRef piece : g.chunk(x, 5, 2)) g.mark_output(piece);
    });
    expect_matches_reference("reshape and transpose", dtype, [&](KernelGraph& g) {
      const TensorRef x = g.input({3, 4, 5}, dtype);
      g.mark_output(g.reshape(x, {5, -1}));
      g.mark_output(g.transpose(x, 0, 2));
      g.mark_output(g.transpose(x, 0, 1));
      g.mark_output(g.transpose(x, -1, -2));
    });
  }
}

TEST(CpuOpsTest, MatmulWithBatchBroadcasting) {
  for (DType dtype : kFloatTypes) {
    expect_matches_reference("matmul 2d", dtype, [&](KernelGraph& g) {
      g.mark_output(g.matmul(g.input({1, 37}, dtype), g.input({37, 67}, dtype)));
      g.mark_output(g.matmul(g.input({70, 33}, dtype), g.input({33, 131}, dtype)));
    });
    expect_matches_reference("matmul batched", dtype, [&](KernelGraph& g) {
      g.mark_output(g.matmul(g.input({3, 1, 13, 29}, dtype), g.input({5, 29, 17}, dtype)));
      g.mark_output(g.matmul(g.input({4, 7, 9}, dtype), g.input({9, 3}, dtype)));
    });
  }
}

TEST(CpuOpsTest, ChainsOfOpsAndRepeatedOutputs) {
  // The reference rounds only the graph outputs; the cpu backend rounds every intermediate to
  // the dtype, so a bf16 chain of three matmuls drifts by a few more bf16 steps.
  for (DType dtype : {DType::F32, DType::BF16}) {
    expect_matches_reference(
        "gated mlp", dtype,
        [&](KernelGraph& g) {
          const TensorRef x = g.input({3, 40}, dtype);
          const TensorRef normed = g.rms_norm(x, g.input({40}, dtype));
          const TensorRef gate = g.matmul(normed, g.input({40, 72}, dtype));
          const TensorRef up = g.matmul(normed, g.input({40, 72}, dtype));
          const TensorRef h = g.binary(OpKind::Mul, g.unary(OpKind::Silu, gate), up);
          const TensorRef y = g.matmul(h, g.input({72, 40}, dtype));
          g.mark_output(y);
          g.mark_output(gate);
          g.mark_output(y);
          g.mark_output(x);
        },
        dtype == DType::BF16 ? 8.0 : 1.0);
  }
}

}  // namespace
}  // namespace yirage::backend
