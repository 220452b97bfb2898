// The search rediscovers the seed fusions from naive graphs, verified.
#include "yirage/search/superoptimizer.h"

#include "yirage/search/frames.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>

#include "test_util.h"
#include "yirage/ir/printer.h"
#include "yirage/verify/verifier.h"
#include "yirage/workloads/workloads.h"

namespace yirage::search {
namespace {

using core::DType;

void expect_fused(const workloads::Workload& workload, int kernels) {
  SearchOptions options;
  options.time_budget_seconds = 60;
  options.max_verified = 1;
  if (const char* budget = std::getenv("YIRAGE_TEST_STATES"))
    options.state_budget = std::atoll(budget);
  options.use_cache = false;  // these tests measure the search, not the cache
  const OptimizedProgram result = superoptimize(workload.naive, options);
  std::cout << "[ search ] " << workload.name << " " << workload.shape << ": "
            << result.report.summary << "\n";
  if (std::getenv("YIRAGE_TEST_PRINT") != nullptr) std::cout << ir::graph_to_text(result.graph);
  ASSERT_TRUE(result.report.improved) << result.report.summary;
  EXPECT_EQ(result.report.kernels_after, kernels);
  EXPECT_LT(result.report.best_cost, result.report.original_cost);
  // The result is verified again here, independently of the search.
  const verify::VerifyResult check = verify::verify(workload.naive, result.graph, {2, 99, true});
  EXPECT_TRUE(check.equivalent) << check.reason;
}

TEST(SuperoptimizerTest, FindsRmsNormMatmulAsOneKernel) {
  expect_fused(workloads::rms_norm_matmul(4, 128, 256, DType::F32), 1);
}

TEST(SuperoptimizerTest, FindsGatedMlpAsOneKernel) {
  expect_fused(workloads::gated_mlp(4, 128, 256, DType::F32), 1);
}

TEST(SuperoptimizerTest, FindsLoraAsOneKernel) {
  expect_fused(workloads::lora(4, 128, 256, 8, DType::F32), 1);
}

TEST(SuperoptimizerTest, FindsGqaDecodeAttentionAsOneKernel) {
  expect_fused(workloads::attention_decode(2, 4, 128, 16, DType::F32, false), 1);
}

TEST(SuperoptimizerTest, RangePropagationKeepsGridsOffReducedDims) {
  const auto workload = workloads::attention_decode(2, 4, 128, 16, DType::F32, false);
  const auto reduced = reduced_input_dims(workload.naive);
  // q [heads, group, head_dim]: head_dim is contracted; k [heads, kv, head_dim]: kv (softmax)
  // and head_dim; v [heads, kv, head_dim]: kv (the second matmul).
  EXPECT_EQ(reduced[0], (std::vector<bool>{false, false, true}));
  EXPECT_EQ(reduced[1], (std::vector<bool>{false, true, true}));
  EXPECT_EQ(reduced[2], (std::vector<bool>{false, true, false}));
  for (const Frame& frame : candidate_frames(
           workload.naive.input_types(), workload.naive.output_types()[0], {16, 128}, reduced)) {
    for (std::size_t k = 0; k < frame.imaps.size(); ++k) {
      const int split = frame.imaps[k][0];
      EXPECT_TRUE(split < 0 || !reduced[k][static_cast<std::size_t>(split)]);
      EXPECT_TRUE(frame.fmaps[k] < 0 || reduced[k][static_cast<std::size_t>(frame.fmaps[k])]);
    }
  }
}

TEST(SuperoptimizerTest, ReturnsTheInputWhenTheBudgetRunsOut) {
  const auto workload = workloads::rms_norm_matmul(4, 128, 256, DType::F32);
  SearchOptions options;
  options.state_budget = 5;
  options.use_cache = false;
  options.derive = false;
  const OptimizedProgram result = superoptimize(workload.naive, options);
  EXPECT_FALSE(result.report.improved);
  EXPECT_TRUE(result.report.budget_exhausted);
  EXPECT_EQ(result.report.kernels_after, result.report.kernels_before);
  EXPECT_NE(result.report.summary.find("the result is the input graph"), std::string::npos);
}

TEST(SuperoptimizerTest, RejectsBadOptions) {
  ir::KernelGraph empty;
  empty.input({4}, DType::F32);
  EXPECT_USER_ERROR([&] { superoptimize(empty); }, "no outputs");
  const auto workload = workloads::lora(4, 128, 256, 8, DType::F32);
  SearchOptions options;
  options.time_budget_seconds = 0;
  EXPECT_USER_ERROR([&] { superoptimize(workload.naive, options); }, "time budget 0 s");
}

}  // namespace
}  // namespace yirage::search
