// The mkl backend: oneDNN GEMMs against the reference at several shapes, batch broadcasting,
// both float dtypes, and its availability in builds with and without oneDNN.
#include <gtest/gtest.h>

#include "backend/conformance/conformance.h"
#include "yirage/backend/mkl/dnnl_matmul.h"
#include "yirage/backend/registry.h"

namespace yirage::backend {
namespace {

using core::DType;
using core::Shape;

TEST(MklBackendTest, AvailabilityFollowsTheBuild) {
  Backend& mkl = get_backend("mkl");
  const Availability availability = mkl.available();
  if (mkl::built_with_dnnl()) {
    EXPECT_TRUE(availability.available) << availability.reason;
    bool names_onednn = false;
    for (const auto& [key, value] : mkl.device_info().properties) {
      names_onednn = names_onednn || (key == "gemm" && value.rfind("oneDNN ", 0) == 0);
    }
    EXPECT_TRUE(names_onednn);
  } else {
    EXPECT_FALSE(availability.available);
    EXPECT_EQ(availability.reason, "built without oneDNN (install libdnnl-dev)");
  }
}

TEST(MklBackendTest, MatmulsMatchTheReferenceAtManyShapes) {
  Backend& mkl = get_backend("mkl");
  if (!mkl.available().available) GTEST_SKIP() << mkl.available().reason;
  const std::vector<std::pair<Shape, Shape>> problems = {
      {{1, 1024}, {1024, 384}},      // decode GEMV
      {{8, 1024}, {1024, 256}},      // small batch
      {{67, 131}, {131, 45}},        // odd extents
      {{4, 7, 19}, {19, 11}},        // batch x shared weight
      {{4, 7, 19}, {4, 19, 11}},     // batch x batch
      {{2, 1, 5, 33}, {3, 33, 17}},  // broadcast batch dims both ways
      {{1, 3, 4}, {2, 4, 5}},        // broadcast a batch of one
  };
  auto memory = conformance::host_memory();
  int cases = 0;
  for (const DType dtype : {DType::F32, DType::BF16}) {
    for (const auto& [a, b] : problems) {
      conformance::Case c;
      c.dtype = dtype;
      c.name = "matmul " + core::shape_to_string(a) + " @ " + core::shape_to_string(b);
      const auto x = c.graph.input(a, dtype);
      const auto y = c.graph.input(b, dtype);
      c.graph.mark_output(c.graph.matmul(x, y));
      c.seed = static_cast<uint64_t>(++cases);
      const auto result = conformance::check_case(mkl, c, *memory);
      EXPECT_EQ(result.status, conformance::CaseResult::Status::Passed)
          << c.name << " " << core::dtype_name(dtype) << ": " << result.message;
    }
  }
}

TEST(MklBackendTest, RunReturnsNewTensorsEvenForInputsMarkedAsOutputs) {
  Backend& mkl = get_backend("mkl");
  if (!mkl.available().available) GTEST_SKIP() << mkl.available().reason;
  ir::KernelGraph graph;
  const auto a = graph.input({2, 3}, DType::F32);
  const auto b = graph.input({3, 4}, DType::F32);
  graph.mark_output(a);
  graph.mark_output(graph.unary(ir::OpKind::Relu, graph.matmul(a, b)));
  core::Tensor x = core::Tensor::empty({2, 3}, DType::F32);
  core::Tensor y = core::Tensor::empty({3, 4}, DType::F32);
  for (int i = 0; i < 6; ++i) x.data_as<float>()[i] = static_cast<float>(i) - 2.0f;
  for (int i = 0; i < 12; ++i) y.data_as<float>()[i] = 0.5f * static_cast<float>(i % 5) - 1.0f;
  const auto outputs = mkl.run(graph, {x, y});
  ASSERT_EQ(outputs.size(), 2u);
  EXPECT_NE(outputs[0].data(), x.data());
  const auto expected = get_backend("reference").run(graph, {x, y});
  for (int i = 0; i < 6; ++i) EXPECT_EQ(outputs[0].data_as<float>()[i], x.data_as<float>()[i]);
  for (int i = 0; i < 8; ++i) {
    EXPECT_FLOAT_EQ(outputs[1].data_as<float>()[i], expected[1].data_as<float>()[i]);
  }
}

}  // namespace
}  // namespace yirage::backend
