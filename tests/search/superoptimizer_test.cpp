// The search rediscovers the seed fusions from naive graphs, verified.
#include "yirage/search/superoptimizer.h"

#include "yirage/backend/cost_model.h"
#include "yirage/backend/registry.h"
#include "yirage/ir/fingerprint.h"
#include "yirage/search/frames.h"
#include "yirage/search/lowering.h"

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

OptimizedProgram expect_fused(const workloads::Workload& workload, int kernels,
                              SearchOptions options = {}) {
  options.time_budget_seconds = 60;
  options.max_verified = 1;
  options.use_cache = false;  // these tests measure the search, not the cache
  const OptimizedProgram result = superoptimize(workload.naive, options);
  std::cout << "[ search ] " << workload.name << " " << workload.shape << ": "
            << result.report.summary << "\n";
  // YIRAGE_TEST_PRINT=1 shows the chosen program.
  if (std::getenv("YIRAGE_TEST_PRINT") != nullptr) std::cout << ir::graph_to_text(result.graph);
  EXPECT_TRUE(result.report.improved) << result.report.summary;
  if (!result.report.improved) return result;
  EXPECT_EQ(result.report.kernels_after, kernels);
  EXPECT_LT(result.report.best_cost, result.report.original_cost);
  // The result is verified again here, independently of the search.
  const verify::VerifyResult check = verify::verify(workload.naive, result.graph, {2, 99, true});
  EXPECT_TRUE(check.equivalent) << check.reason;
  return result;
}

// The block graphs of the customized kernels of `graph`.
std::vector<const ir::BlockGraph*> kernels_of(const ir::KernelGraph& graph) {
  std::vector<const ir::BlockGraph*> result;
  for (const auto& node : graph.nodes()) {
    if (node.op == ir::OpKind::Customized) result.push_back(node.block_graph.get());
  }
  return result;
}

int count_accumulators(const ir::BlockGraph& block, ir::AccumKind kind) {
  int count = 0;
  for (const auto& node : block.nodes())
    count += node.kind == ir::BlockNodeKind::Accumulate && node.accum == kind;
  return count;
}

int count_ops(const ir::BlockGraph& block, ir::OpKind op) {
  int count = 0;
  for (const auto& node : block.nodes())
    count += node.kind == ir::BlockNodeKind::Op && node.op == op;
  return count;
}

TEST(SuperoptimizerTest, FindsRmsNormMatmulAsOneKernelDividingAfterTheMatmul) {
  const auto result = expect_fused(workloads::rms_norm_matmul(4, 128, 256, DType::F32), 1);
  // A for-loop over the hidden dim accumulates x g @ w and the sum of squares together; the
  // output is their product after the loop (the row factor applied after the matmul).
  const ir::BlockGraph& block = *kernels_of(result.graph).at(0);
  EXPECT_GT(block.forloop_range(), 1);
  EXPECT_EQ(count_accumulators(block, ir::AccumKind::Sum), 2);
  EXPECT_EQ(count_ops(block, ir::OpKind::RmsNorm), 0);
  const ir::BlockNode& out = block.nodes()[block.outputs()[0].tile.node];
  EXPECT_EQ(out.op, ir::OpKind::Mul);
  EXPECT_EQ(out.phase, ir::Phase::AfterLoop);
}

TEST(SuperoptimizerTest, CostModelPrefersTheStreamedRmsNormMatmul) {
  // At a shape whose whole-row tiles overflow fast memory, the loop-free form (rms_norm on
  // whole rows, then the matmul) costs more than the fused form that streams the hidden dim.
  const auto workload = workloads::rms_norm_matmul(8, 4096, 4096, DType::BF16);
  const auto& reference = backend::get_backend("reference");
  ir::KernelGraph loop_free;
  for (const auto& type : workload.naive.input_types()) loop_free.input(type.shape, type.dtype);
  auto block = std::make_shared<ir::BlockGraph>(ir::Dim3{64, 1, 1});
  const auto types = workload.naive.input_types();
  const auto x = block->input(types[0], {-1, -1, -1}, -1);
  const auto g = block->input(types[1], {-1, -1, -1}, -1);
  const auto w = block->input(types[2], {1, -1, -1}, -1);
  ir::Attrs eps;
  eps.set("eps", 1e-6);
  const auto normed = block->add_op(ir::OpKind::RmsNorm, {x, g}, eps)[0];
  block->output(block->add_op(ir::OpKind::Matmul, {normed, w}, {})[0], {1, -1, -1});
  loop_free.mark_output(loop_free.customized({{0, 0}, {1, 0}, {2, 0}}, block)[0]);
  EXPECT_GT(backend::block_working_set(*block), static_cast<double>(reference.fast_memory_bytes()));
  EXPECT_LT(reference.estimate_cost(workload.fused), reference.estimate_cost(loop_free));
}

TEST(SuperoptimizerTest, FindsGatedMlpAsOneKernel) {
  expect_fused(workloads::gated_mlp(4, 128, 256, DType::F32), 1);
}

TEST(SuperoptimizerTest, FindsLoraAsOneKernel) {
  expect_fused(workloads::lora(4, 128, 256, 8, DType::F32), 1);
}

TEST(SuperoptimizerTest, FindsGqaDecodeAttentionWithOnlineSoftmax) {
  const auto result =
      expect_fused(workloads::attention_decode(2, 4, 128, 16, DType::F32, false), 1);
  const ir::BlockGraph& block = *kernels_of(result.graph).at(0);
  EXPECT_GT(block.forloop_range(), 1);
  EXPECT_EQ(count_accumulators(block, ir::AccumKind::RescaledSum), 2);
}

TEST(SuperoptimizerTest, SplitsLongKvDecodeIntoTwoKernels) {
  // Two KV heads cannot fill the machine: the KV length is split over blocks, and a second
  // kernel combines the partial results.
  const auto result =
      expect_fused(workloads::attention_decode(2, 4, 1024, 16, DType::F32, false), 2);
  const auto kernels = kernels_of(result.graph);
  EXPECT_GT(kernels.at(0)->grid_dims()[1], 1);
  EXPECT_GE(count_accumulators(*kernels.at(0), ir::AccumKind::RescaledSum), 2);
  EXPECT_GE(count_accumulators(*kernels.at(1), ir::AccumKind::RescaledSum), 2);
}

TEST(SuperoptimizerTest, SplitReductionOfTheFusedDecodeVerifies) {
  const auto workload = workloads::attention_decode(2, 4, 256, 16, DType::F32, false, {1, 8});
  for (int64_t splits : {2, 4, 8}) {
    const auto split = split_reduction(workload.fused, splits);
    ASSERT_TRUE(split.has_value()) << splits;
    EXPECT_EQ(split->num_kernels(), 2);
    const verify::VerifyResult check = verify::verify(workload.naive, *split, {2, 7, true});
    EXPECT_TRUE(check.equivalent) << splits << ": " << check.reason;
  }
  EXPECT_FALSE(split_reduction(workload.fused, 3).has_value());  // 8 iterations do not split in 3
  // Nothing to split without a for-loop, or in a graph of several kernels.
  const auto loop_free = workloads::rms_norm_matmul(4, 128, 256, DType::F32, {16, 1});
  EXPECT_FALSE(split_reduction(loop_free.fused, 2).has_value());
  const auto two = workloads::attention_decode(2, 4, 256, 16, DType::F32, false, {2, 4});
  EXPECT_FALSE(split_reduction(two.fused, 2).has_value());
}

TEST(SuperoptimizerTest, FusesQkNormIntoTheAttentionKernel) {
  const auto result = expect_fused(workloads::attention_decode(2, 4, 128, 16, DType::F32, true), 1);
  EXPECT_EQ(count_ops(*kernels_of(result.graph).at(0), ir::OpKind::RmsNorm), 2);
}

TEST(SuperoptimizerTest, DepthFirstSearchAloneFindsTheStreamedRmsNormMatmul) {
  SearchOptions options;
  options.derive = false;
  const auto result = expect_fused(workloads::rms_norm_matmul(4, 128, 256, DType::F32), 1, options);
  const ir::BlockGraph& block = *kernels_of(result.graph).at(0);
  EXPECT_GT(block.forloop_range(), 1);
  EXPECT_EQ(count_ops(block, ir::OpKind::RmsNorm), 0);
}

TEST(SuperoptimizerTest, DepthFirstSearchAloneFindsTheGatedMlp) {
  SearchOptions options;
  options.derive = false;
  const auto first = expect_fused(workloads::gated_mlp(4, 128, 256, DType::F32), 1, options);
  EXPECT_GT(first.report.totals.states, 0);
  EXPECT_EQ(first.report.derived, 0);
  // Frames run in parallel; the result and the counts do not depend on thread timing.
  const auto second = expect_fused(workloads::gated_mlp(4, 128, 256, DType::F32), 1, options);
  EXPECT_EQ(ir::graph_fingerprint_hex(first.graph), ir::graph_fingerprint_hex(second.graph));
  EXPECT_EQ(first.report.totals.states, second.report.totals.states);
  EXPECT_EQ(first.report.totals.pruned, second.report.totals.pruned);
}

// A backend that runs on the reference executor and says it can profile: the search must time
// the cheapest candidates and the input graph on it and keep the fastest.
class ProfilingBackend : public backend::Backend {
 public:
  std::string_view name() const override { return "profiling-test"; }
  std::string_view description() const override { return "reference, profiled"; }
  backend::Availability available() const override { return {true, ""}; }
  backend::DeviceInfo device_info() const override { return reference().device_info(); }
  bool supports(ir::OpKind op) const override { return reference().supports(op); }
  std::vector<core::Tensor> run(const ir::KernelGraph& graph,
                                const std::vector<core::Tensor>& inputs) override {
    return reference().run(graph, inputs);
  }
  bool can_profile() const override { return true; }
  double profile(const ir::KernelGraph& graph, const std::vector<core::Tensor>& inputs,
                 int iterations) override {
    ++profiled;
    return Backend::profile(graph, inputs, iterations);
  }
  int profiled = 0;

 private:
  static backend::Backend& reference() { return backend::get_backend("reference"); }
};

TEST(SuperoptimizerTest, ProfilesTheCheapestCandidatesWhenTheBackendCan) {
  const auto workload = workloads::lora(4, 128, 256, 8, DType::F32);
  SearchOptions options;
  options.use_cache = false;
  options.max_verified = 2;
  options.profile_top_k = 2;
  options.profile_iterations = 2;
  ProfilingBackend device;
  const OptimizedProgram result = superoptimize(workload.naive, options, device);
  EXPECT_EQ(result.report.profiled, 2);
  EXPECT_EQ(device.profiled, 3);  // the two candidates and the input graph
  EXPECT_GT(result.report.best_seconds, 0.0);
  EXPECT_LE(result.report.best_seconds, result.report.original_seconds);
  EXPECT_NE(result.report.summary.find("Profiled 2 candidate(s)"), std::string::npos);
  EXPECT_TRUE(verify::verify(workload.naive, result.graph, {2, 5, true}).equivalent);
  // The reference backend cannot profile: the cost model alone chooses.
  const OptimizedProgram ranked = superoptimize(workload.naive, options);
  EXPECT_EQ(ranked.report.profiled, 0);
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
