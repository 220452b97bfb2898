// Block-graph construction: tile shapes, phases and every invalid graph with its message.
#include "yirage/ir/block_graph.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace yirage::ir {
namespace {

using core::DType;

const TensorType kX{{8, 64}, DType::F32};
const TensorType kW{{64, 128}, DType::F32};

TEST(BlockGraphTest, TilesInputsByGridAndForloop) {
  BlockGraph graph({4, 2, 1}, {128, 1, 1}, 8, 64);
  const TensorRef x = graph.input(kX, {-1, 0, -1}, 1);
  const TensorRef w = graph.input(kW, {1, -1, -1}, 0);
  EXPECT_EQ(graph.type(x).shape, (core::Shape{4, 8}));
  EXPECT_EQ(graph.type(w).shape, (core::Shape{8, 32}));
  EXPECT_EQ(graph.phase(x), Phase::Loop);
  const TensorRef product = graph.add_op(OpKind::Matmul, {x, w}, {})[0];
  EXPECT_EQ(graph.type(product).shape, (core::Shape{4, 32}));
  const TensorRef sum = graph.accumulate(AccumKind::Sum, product);
  EXPECT_EQ(graph.phase(sum), Phase::AfterLoop);
  graph.output(sum, {1, 0, -1});
  EXPECT_EQ(graph.outputs()[0].dtensor.shape, (core::Shape{8, 128}));
  EXPECT_EQ(graph.num_blocks(), 8);
}

TEST(BlockGraphTest, InvariantInputsStayInvariant) {
  BlockGraph graph({2, 1, 1}, {128, 1, 1}, 4, 64);
  const TensorRef x = graph.input(kX, {0, -1, -1}, -1);
  EXPECT_EQ(graph.phase(x), Phase::Invariant);
  const TensorRef e = graph.add_op(OpKind::Exp, {x}, {})[0];
  EXPECT_EQ(graph.phase(e), Phase::Invariant);
  graph.output(e, {0, -1, -1});
  EXPECT_EQ(graph.outputs()[0].dtensor, kX);
}

TEST(BlockGraphTest, ReduceToDimxSumsGroups) {
  BlockGraph graph({1, 1, 1}, {128, 1, 1}, 1, 16);
  const TensorRef x = graph.input(kX, {-1, -1, -1}, -1);
  EXPECT_EQ(graph.type(graph.reduce_to_dimx(x, -1)).shape, (core::Shape{8, 16}));
  EXPECT_USER_ERROR([&] { graph.reduce_to_dimx(x, 0); }, "reduction_dimx 16 does not divide");
}

TEST(BlockGraphTest, RejectsBadConfigurations) {
  EXPECT_USER_ERROR([] { BlockGraph({0, 1, 1}); }, "grid_dim (0, 1, 1)", "expected 1 to");
  EXPECT_USER_ERROR([] { BlockGraph({1, 70000, 1}); }, "axis y", "65535");
  EXPECT_USER_ERROR([] { BlockGraph({2048, 1024, 1}); }, "2097152 blocks", "at most 1048576");
  EXPECT_USER_ERROR([] { BlockGraph({1, 1, 1}, {64, 32, 1}); }, "2048 threads", "at most 1024");
  EXPECT_USER_ERROR([] { BlockGraph({1, 1, 1}, {128, 1, 1}, 0); }, "forloop_range 0");
  EXPECT_USER_ERROR([] { BlockGraph({1, 1, 1}, {128, 1, 1}, 1, 0); }, "reduction_dimx 0");
}

TEST(BlockGraphTest, RejectsMapsThatDoNotDivide) {
  BlockGraph graph({3, 1, 1}, {128, 1, 1}, 5, 64);
  EXPECT_USER_ERROR(
      [&] {
        graph.input(kX, {1, -1, -1}, -1);
      },
      "input_map (1, -1, -1)", "extent 3", "does not divide");
  EXPECT_USER_ERROR(
      [&] {
        graph.input(kX, {-1, -1, -1}, 1);
      },
      "forloop_dim 1", "forloop_range 5 does not divide");
  EXPECT_USER_ERROR([&] { graph.input(kX, {2, -1, -1}, -1); }, "to dim 2 of float32[8, 64]");
  EXPECT_USER_ERROR([&] { graph.input(kX, {-1, -1, -1}, 3); }, "forloop_dim 3 is out of range");
  BlockGraph two({2, 2, 1});
  EXPECT_USER_ERROR([&] { two.input(kX, {0, 0, -1}, -1); }, "axes x and y to the same dim 0");
}

TEST(BlockGraphTest, RejectsMismatchedTiles) {
  BlockGraph graph({2, 1, 1}, {128, 1, 1}, 2, 64);
  const TensorRef x = graph.input(kX, {-1, -1, -1}, 1);  // [8, 32]
  const TensorRef w = graph.input(kW, {1, -1, -1}, -1);  // [64, 64]
  EXPECT_USER_ERROR(
      [&] {
        graph.add_op(OpKind::Matmul, {x, w}, {});
      },
      "matmul: inner dimensions differ", "float32[8, 32]", "float32[64, 64]");
  EXPECT_USER_ERROR(
      [&] {
        graph.add_op(OpKind::Embedding, {x, w}, {});
      },
      "'embedding' is a kernel-level op");
  EXPECT_USER_ERROR(
      [&] {
        graph.add_op(OpKind::Add, {x, {99, 0}}, {});
      },
      "block add input 1", "does not have");
}

TEST(BlockGraphTest, RejectsOutputsBeforeAccumulation) {
  BlockGraph graph({2, 1, 1}, {128, 1, 1}, 2, 64);
  const TensorRef x = graph.input(kX, {0, -1, -1}, 1);
  const TensorRef e = graph.add_op(OpKind::Exp, {x}, {})[0];
  EXPECT_USER_ERROR(
      [&] {
        graph.output(e, {0, -1, -1});
      },
      "saved before accumulation", "forloop_accum");
  const TensorRef total = graph.accumulate(AccumKind::Sum, e);
  EXPECT_USER_ERROR(
      [&] {
        graph.add_op(OpKind::Add, {total, e}, {});
      },
      "mixes a per-iteration tile");
  EXPECT_USER_ERROR([&] { graph.accumulate(AccumKind::Max, total); }, "already accumulated");
  EXPECT_USER_ERROR([&] { graph.accumulate(AccumKind::RescaledSum, e); }, "needs a second operand");
  EXPECT_USER_ERROR(
      [&] {
        graph.output(total, {-1, -1, -1});
      },
      "leaves grid axis x (extent 2) unmapped");
  EXPECT_USER_ERROR([] { parse_accum("avg"); }, "unknown accumulator 'avg'", "rescaled_sum");
}

TEST(BlockGraphTest, CustomizedNodesCheckTheirInputs) {
  auto graph = std::make_shared<BlockGraph>(Dim3{2, 1, 1}, Dim3{128, 1, 1}, 1, 64);
  const TensorRef x = graph->input(kX, {0, -1, -1}, -1);
  graph->output(graph->accumulate(AccumKind::Sum, x), {0, -1, -1});
  KernelGraph kernel;
  const TensorRef good = kernel.input({8, 64}, DType::F32);
  const TensorRef bad = kernel.input({8, 32}, DType::F32);
  EXPECT_EQ(kernel.customized({good}, graph).size(), 1u);
  EXPECT_USER_ERROR([&] { kernel.customized({bad}, graph); }, "input 0 is float32[8, 32]",
                    "declared over float32[8, 64]");
  EXPECT_USER_ERROR([&] { kernel.customized({good, good}, graph); }, "has 1 inputs; got 2");
  auto empty = std::make_shared<BlockGraph>(Dim3{1, 1, 1});
  EXPECT_USER_ERROR([&] { kernel.customized({}, empty); }, "no inputs");
}

}  // namespace
}  // namespace yirage::ir
