// The cpu backend as a whole: registration, device description, writing outputs in place,
// the cost model, and thread settings.
#include "yirage/backend/cpu/cpu_backend.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "test_util.h"
#include "yirage/backend/random_inputs.h"
#include "yirage/backend/registry.h"
#include "yirage/core/thread_pool.h"
#include "yirage/workloads/workloads.h"

namespace yirage::backend {
namespace {

using core::DType;
using ir::OpKind;

std::string property(const DeviceInfo& info, const std::string& key) {
  for (const auto& [name, value] : info.properties) {
    if (name == key) return value;
  }
  return "";
}

TEST(CpuBackendTest, IsRegisteredAfterReferenceAndAvailable) {
  const auto& backends = all_backends();
  ASSERT_GE(backends.size(), 2u);
  EXPECT_EQ(backends[0]->name(), "reference");
  EXPECT_EQ(backends[1]->name(), "cpu");
  Backend& cpu = get_backend("cpu");
  EXPECT_TRUE(cpu.available().available);
  EXPECT_TRUE(cpu.can_profile());
  for (int op = 0; op < ir::num_ops(); ++op) EXPECT_TRUE(cpu.supports(static_cast<OpKind>(op)));
  const DeviceInfo info = cpu.device_info();
  EXPECT_FALSE(info.name.empty());
  EXPECT_EQ(property(info, "isa"), cpu::isa_level());
  EXPECT_EQ(property(info, "threads"), std::to_string(core::num_threads()));
}

TEST(CpuBackendTest, RunIntoWritesViewsOfALargerBufferAndNothingElse) {
  ir::KernelGraph g;
  const auto x = g.input({3, 5}, DType::F32);
  const auto y = g.unary(OpKind::Exp, x);
  g.mark_output(y);
  g.mark_output(x);  // an input as an output: copied
  g.mark_output(y);  // the same tensor twice: the second is copied
  const auto inputs = random_inputs(g, 3);
  auto buffer = std::make_shared<std::vector<float>>(3 * 15 + 2, -7.0f);
  std::vector<core::Tensor> outputs;
  for (int i = 0; i < 3; ++i) {
    outputs.push_back(
        core::Tensor::borrow(buffer->data() + 1 + 15 * i, {3, 5}, {}, DType::F32, {}, buffer));
  }
  get_backend("cpu").run_into(g, inputs, outputs);
  const auto expected = get_backend("reference").run(g, inputs);
  EXPECT_EQ((*buffer)[0], -7.0f);
  EXPECT_EQ(buffer->back(), -7.0f);
  for (int i = 0; i < 3; ++i) {
    for (int64_t e = 0; e < 15; ++e)
      EXPECT_NEAR(outputs[i].get(e), expected[i].get(e), 1e-6) << "output " << i << " " << e;
  }
}

// Naive and fused (customized) forms of small workloads agree with the reference; the fused
// kernel runs twice through the same backend (the second time from its memo).
TEST(CpuBackendTest, NaiveAndFusedWorkloadsMatchTheReference) {
  // One fused kernel only: each compiles with the system compiler on first use (about 1 s).
  const workloads::Workload attention = workloads::attention_decode(2, 3, 40, 16, DType::F32, true);
  const workloads::Workload mlp = workloads::gated_mlp(3, 64, 96, DType::F32);
  const std::vector<std::pair<const workloads::Workload*, std::vector<const ir::KernelGraph*>>>
      cases = {{&attention, {&attention.naive}}, {&mlp, {&mlp.naive, &mlp.fused, &mlp.fused}}};
  for (const auto& [workload, graphs] : cases) {
    for (const ir::KernelGraph* graph : graphs) {
      SCOPED_TRACE(workload->name + (graph == &workload->naive ? " naive" : " fused"));
      const auto inputs = random_inputs(*graph, 11);
      const auto expected = get_backend("reference").run(*graph, inputs);
      const auto actual = get_backend("cpu").run(*graph, inputs);
      ASSERT_EQ(actual.size(), expected.size());
      for (std::size_t o = 0; o < actual.size(); ++o) {
        for (int64_t i = 0; i < expected[o].numel(); ++i) {
          const double want = expected[o].get(i);
          ASSERT_NEAR(actual[o].get(i), want, 1e-4 + 1e-4 * std::fabs(want)) << "element " << i;
        }
      }
    }
  }
}

TEST(CpuBackendTest, RunIntoChecksTheOutputs) {
  ir::KernelGraph g;
  g.mark_output(g.unary(OpKind::Neg, g.input({2, 3}, DType::F32)));
  const auto inputs = random_inputs(g, 1);
  EXPECT_USER_ERROR(
      [&] {
        get_backend("cpu").run_into(g, inputs, {core::Tensor::empty({3, 2}, DType::F32)});
      },
      "output tensor 0 is float32[3, 2]", "float32[2, 3]");
  EXPECT_USER_ERROR([&] { get_backend("cpu").run_into(g, inputs, {}); }, "has 1 outputs");
}

TEST(CpuBackendTest, CostGrowsWithWorkAndFollowsTheMachineModel) {
  auto matmul_graph = [](int64_t m) {
    ir::KernelGraph g;
    g.mark_output(g.matmul(g.input({m, 1024}, DType::BF16), g.input({1024, 4096}, DType::BF16)));
    return g;
  };
  Backend& cpu = get_backend("cpu");
  const double small = cpu.estimate_cost(matmul_graph(1));
  const double large = cpu.estimate_cost(matmul_graph(4096));
  EXPECT_GT(small, 0.0);
  EXPECT_GT(large, 10.0 * small);
  const MachineModel model = cpu::cpu_machine_model();
  const double bytes = 2.0 * (1024.0 + 1024.0 * 4096.0 + 4096.0);
  EXPECT_NEAR(small, model.launch_microseconds + bytes / model.bytes_per_microsecond, 1e-6);
}

TEST(CpuBackendTest, ThreadCountCanBeChangedAndRestored) {
  const int before = core::num_threads();
  core::set_num_threads(3);
  EXPECT_EQ(core::num_threads(), 3);
  ir::KernelGraph g;
  g.mark_output(g.matmul(g.input({5, 70}, DType::F32), g.input({70, 300}, DType::F32)));
  const auto inputs = random_inputs(g, 5);
  const auto three = get_backend("cpu").run(g, inputs);
  core::set_num_threads(1);
  const auto one = get_backend("cpu").run(g, inputs);
  core::set_num_threads(before);
  EXPECT_EQ(core::num_threads(), before);
  for (int64_t i = 0; i < three[0].numel(); ++i) EXPECT_EQ(three[0].get(i), one[0].get(i));
  EXPECT_USER_ERROR([] { core::set_num_threads(0); }, "thread count 0 is not valid");
}

}  // namespace
}  // namespace yirage::backend
