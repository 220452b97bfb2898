// The CUDA backend against the reference backend; GPU tests skip with the reason elsewhere.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "backend/cuda/cuda_test_graphs.h"
#include "test_util.h"
#include "yirage/backend/cuda/runtime.h"
#include "yirage/backend/random_inputs.h"
#include "yirage/backend/registry.h"

namespace yirage::backend::cuda {
namespace {

Backend& cuda_backend() {
  return get_backend("cuda");
}

#define YR_REQUIRE_GPU()                                            \
  do {                                                              \
    const Availability a = cuda_backend().available();              \
    if (!a.available) GTEST_SKIP() << "no CUDA here: " << a.reason; \
  } while (0)

// ||out - ref|| / ||ref|| over every element; NaN when any output is not finite.
double relative_error(const core::Tensor& out, const core::Tensor& ref) {
  double diff = 0, norm = 0;
  for (int64_t i = 0; i < ref.numel(); ++i) {
    const double o = out.get(i), r = ref.get(i);
    if (!std::isfinite(o)) return std::nan("");
    diff += (o - r) * (o - r);
    norm += r * r;
  }
  return std::sqrt(diff / std::max(norm, 1e-30));
}

double tolerance(core::DType dtype) {
  return dtype == core::DType::F32 ? 1e-4 : 2e-2;
}

void expect_matches_reference(const std::string& name, const ir::KernelGraph& graph,
                              uint64_t seed) {
  const auto inputs = random_inputs(graph, seed);
  const auto expected = get_backend("reference").run(graph, inputs);
  const auto actual = cuda_backend().run(graph, inputs);
  ASSERT_EQ(actual.size(), expected.size()) << name;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    ASSERT_EQ(actual[i].device().kind, core::DeviceKind::Cpu) << name;
    ASSERT_EQ(actual[i].shape(), expected[i].shape()) << name;
    const double error = relative_error(actual[i], expected[i]);
    EXPECT_LE(error, tolerance(expected[i].dtype())) << name << " output " << i;
  }
}

TEST(CudaBackend, ReportsWhyItIsUnavailableOrWhatItRunsOn) {
  const Availability a = cuda_backend().available();
  if (!a.available) {
    EXPECT_FALSE(a.reason.empty());
    ir::KernelGraph g;
    g.mark_output(g.unary(ir::OpKind::Exp, g.input({2}, core::DType::F32)));
    EXPECT_TRUE(testing::user_error_matches([&] { cuda_backend().run(g, random_inputs(g, 1)); },
                                            "not available", a.reason));
    return;
  }
  const DeviceInfo info = cuda_backend().device_info();
  EXPECT_FALSE(info.name.empty());
  EXPECT_GE(Runtime::get().properties().major, 7);
}

TEST(CudaBackend, EveryOpMatchesTheReferenceInF32Bf16AndF16) {
  YR_REQUIRE_GPU();
  uint64_t seed = 1;
  for (core::DType dtype : {core::DType::F32, core::DType::BF16, core::DType::F16}) {
    for (const auto& [name, graph] : testing::cuda_op_graphs(dtype)) {
      expect_matches_reference(name + " " + std::string(core::dtype_name(dtype)), graph, seed++);
    }
  }
}

TEST(CudaBackend, FusedAndNaiveWorkloadsMatchTheReference) {
  YR_REQUIRE_GPU();
  uint64_t seed = 100;
  for (core::DType dtype : {core::DType::F32, core::DType::BF16}) {
    for (const auto& [name, graph] : testing::cuda_workload_graphs(dtype)) {
      expect_matches_reference(name + " " + std::string(core::dtype_name(dtype)), graph, seed++);
    }
  }
}

TEST(CudaBackend, CudaTensorsGoInAndOutWithoutCopies) {
  YR_REQUIRE_GPU();
  const auto graphs = testing::cuda_workload_graphs(core::DType::BF16);
  const auto& graph = graphs.front().second;
  const auto inputs = random_inputs(graph, 7);
  Runtime& runtime = Runtime::get();
  std::vector<core::Tensor> device_inputs;
  for (const auto& input : inputs) device_inputs.push_back(runtime.to_device(input));
  const auto device_outputs = cuda_backend().run(graph, device_inputs);
  ASSERT_EQ(device_outputs[0].device().kind, core::DeviceKind::Cuda);
  const auto host_outputs = cuda_backend().run(graph, inputs);
  const core::Tensor copied = runtime.to_host(device_outputs[0]);
  ASSERT_EQ(copied.nbytes(), host_outputs[0].nbytes());
  EXPECT_EQ(std::memcmp(copied.data(), host_outputs[0].data(), copied.nbytes()), 0);
}

TEST(CudaBackend, RunIntoWritesOnlyTheOutputBetweenGuardBytes) {
  YR_REQUIRE_GPU();
  const auto graphs = testing::cuda_op_graphs(core::DType::BF16);
  const auto& graph = graphs.front().second;  // elementwise, output [3, 5, 7]
  const auto inputs = random_inputs(graph, 3);
  const auto expected = cuda_backend().run(graph, inputs);
  const std::size_t bytes = expected[0].nbytes(), guard = 256;
  Runtime& runtime = Runtime::get();
  std::vector<unsigned char> pattern(bytes + 2 * guard, 0xA5);
  auto memory = runtime.allocate(pattern.size());
  runtime.copy_to_device(memory.get(), pattern.data(), pattern.size());
  const core::Tensor view =
      core::Tensor::borrow(static_cast<char*>(memory.get()) + guard, expected[0].shape(), {},
                           expected[0].dtype(), {core::DeviceKind::Cuda, 0}, memory);
  cuda_backend().run_into(graph, inputs, {view});
  std::vector<unsigned char> back(pattern.size());
  runtime.copy_to_host(back.data(), memory.get(), back.size());
  for (std::size_t i = 0; i < guard; ++i) {
    ASSERT_EQ(back[i], 0xA5) << "guard byte " << i << " before the output was written";
    ASSERT_EQ(back[guard + bytes + i], 0xA5) << "guard byte " << i << " after the output";
  }
  EXPECT_EQ(std::memcmp(back.data() + guard, expected[0].data(), bytes), 0);
}

TEST(CudaBackend, OutOfRangeEmbeddingIdIsAUserError) {
  YR_REQUIRE_GPU();
  ir::KernelGraph g;
  const auto ids = g.input({3}, core::DType::I32);
  g.mark_output(g.embedding(ids, g.input({4, 8}, core::DType::F32)));
  auto inputs = random_inputs(g, 5);
  inputs[0].data_as<int32_t>()[1] = 9;
  EXPECT_TRUE(testing::user_error_matches([&] { cuda_backend().run(g, inputs); }, "embedding",
                                          "id 9", "out of range"));
}

TEST(CudaBackend, ProfileTimesBackToBackRuns) {
  YR_REQUIRE_GPU();
  const auto graphs = testing::cuda_workload_graphs(core::DType::BF16);
  const double seconds =
      cuda_backend().profile(graphs.front().second, random_inputs(graphs.front().second, 9), 5);
  EXPECT_GT(seconds, 0.0);
  EXPECT_LT(seconds, 0.1);
}

}  // namespace
}  // namespace yirage::backend::cuda
