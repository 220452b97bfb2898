// Reference execution of block graphs against directly computed values.
#include <gtest/gtest.h>

#include <cmath>

#include "yirage/backend/registry.h"
#include "yirage/ir/block_graph.h"

namespace yirage::backend {
namespace {

using core::DType;
using ir::AccumKind;
using ir::OpKind;

core::Tensor filled(const core::Shape& shape, double (*value)(int64_t)) {
  core::Tensor tensor = core::Tensor::empty(shape, DType::F32);
  for (int64_t i = 0; i < tensor.numel(); ++i)
    tensor.data_as<float>()[i] = static_cast<float>(value(i));
  return tensor;
}

TEST(BlockInterpreterTest, OnlineSoftmaxAccumulatorsMatchADirectSoftmax) {
  // rows [2, 16]: the for-loop walks 4 tiles of 4 columns; per tile the max m_i and the sum of
  // exp(x - m_i); rescaled_sum over tiles must equal sum(exp(x - max)).
  auto graph = std::make_shared<ir::BlockGraph>(ir::Dim3{2, 1, 1}, ir::Dim3{128, 1, 1}, 4, 64);
  const ir::TensorType type{{2, 16}, DType::F32};
  const auto x = graph->input(type, {0, -1, -1}, 1);
  ir::Attrs last;
  last.set("dim", int64_t{1}).set("keepdim", true);
  const auto tile_max = graph->add_op(OpKind::Max, {x}, last)[0];
  const auto e =
      graph->add_op(OpKind::Exp, {graph->add_op(OpKind::Sub, {x, tile_max}, {})[0]}, {})[0];
  const auto sum =
      graph->accumulate(AccumKind::RescaledSum, graph->add_op(OpKind::Sum, {e}, last)[0], tile_max);
  const auto running_max = graph->accumulate(AccumKind::Max, tile_max);
  graph->output(sum, {0, -1, -1});
  graph->output(running_max, {0, -1, -1});
  ir::KernelGraph program;
  const auto input = program.input(type.shape, type.dtype);
  for (const auto& out : program.customized({input}, graph)) program.mark_output(out);

  const auto values =
      filled({2, 16}, [](int64_t i) { return std::sin(0.7 * static_cast<double>(i)) * 3.0; });
  const auto outputs = get_backend("reference").run(program, {values});
  for (int row = 0; row < 2; ++row) {
    double peak = -INFINITY, total = 0.0;
    for (int k = 0; k < 16; ++k)
      peak = std::max(peak, static_cast<double>(values.data_as<float>()[row * 16 + k]));
    for (int k = 0; k < 16; ++k) total += std::exp(values.data_as<float>()[row * 16 + k] - peak);
    EXPECT_NEAR(outputs[0].data_as<float>()[row], total, 1e-5 * total);
    EXPECT_FLOAT_EQ(outputs[1].data_as<float>()[row], static_cast<float>(peak));
  }
}

TEST(BlockInterpreterTest, MeanRmsAndReduceToDimx) {
  auto graph = std::make_shared<ir::BlockGraph>(ir::Dim3{1, 1, 1}, ir::Dim3{128, 1, 1}, 4, 2);
  const ir::TensorType type{{3, 8}, DType::F32};
  const auto x = graph->input(type, {-1, -1, -1}, 1);  // tiles [3, 2]
  graph->output(graph->accumulate(AccumKind::Mean, x), {-1, -1, -1});
  graph->output(graph->accumulate(AccumKind::Rms, x), {-1, -1, -1});
  const auto whole = graph->input(type, {-1, -1, -1}, -1);
  graph->output(graph->reduce_to_dimx(whole, 1), {-1, -1, -1});
  ir::KernelGraph program;
  const auto input = program.input(type.shape, type.dtype);
  for (const auto& out : program.customized({input, input}, graph)) program.mark_output(out);
  const auto values = filled({3, 8}, [](int64_t i) { return 0.25 * static_cast<double>(i) - 2.0; });
  const auto outputs = get_backend("reference").run(program, {values});
  const float* v = values.data_as<float>();
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 2; ++c) {
      double sum = 0.0, squares = 0.0;
      for (int i = 0; i < 4; ++i) {
        const double value = v[r * 8 + i * 2 + c];
        sum += value;
        squares += value * value;
      }
      EXPECT_FLOAT_EQ(outputs[0].data_as<float>()[r * 2 + c], static_cast<float>(sum / 4));
      EXPECT_FLOAT_EQ(outputs[1].data_as<float>()[r * 2 + c],
                      static_cast<float>(std::sqrt(squares / 4)));
      // reduce_to_dimx to 2: consecutive groups of 4 columns.
      double group = 0.0;
      for (int i = 0; i < 4; ++i) group += v[r * 8 + c * 4 + i];
      EXPECT_FLOAT_EQ(outputs[2].data_as<float>()[r * 2 + c], static_cast<float>(group));
    }
  }
}

}  // namespace
}  // namespace yirage::backend
