// Partitioning keeps fusible neighbours together; a graph too large to search whole is searched
// fragment by fragment and stitched back, verified.
#include "yirage/search/partition.h"

#include <gtest/gtest.h>

#include "test_util.h"
#include "yirage/search/superoptimizer.h"
#include "yirage/verify/verifier.h"
#include "yirage/workloads/workloads.h"

namespace yirage::search {
namespace {

using core::DType;
using ir::OpKind;

// A small transformer-style block: norm, gated MLP, down projection and residual, then the
// next norm and its projection. Nine ops.
ir::KernelGraph layer() {
  ir::KernelGraph g;
  const auto x = g.input({4, 64}, DType::F32);
  const auto g1 = g.input({64}, DType::F32);
  const auto w1 = g.input({64, 128}, DType::F32);
  const auto w2 = g.input({64, 128}, DType::F32);
  const auto w3 = g.input({128, 64}, DType::F32);
  const auto g2 = g.input({64}, DType::F32);
  const auto w4 = g.input({64, 128}, DType::F32);
  const auto h = g.rms_norm(x, g1);
  const auto gate = g.matmul(h, w1);
  const auto up = g.matmul(h, w2);
  const auto gated = g.binary(OpKind::Mul, g.unary(OpKind::Silu, gate), up);
  const auto residual = g.binary(OpKind::Add, g.matmul(gated, w3), x);
  g.mark_output(g.matmul(g.rms_norm(residual, g2), w4));
  return g;
}

std::vector<OpKind> ops_of(const Fragment& fragment) {
  std::vector<OpKind> ops;
  for (const auto& node : fragment.graph.nodes()) {
    if (node.op != OpKind::Input) ops.push_back(node.op);
  }
  return ops;
}

TEST(PartitionTest, KeepsNormsWithTheirMatmulsAndActivationsWithTheirMatmuls) {
  const auto fragments = partition(layer(), 8);
  ASSERT_EQ(fragments.size(), 3u);
  EXPECT_EQ(ops_of(fragments[0]), (std::vector<OpKind>{OpKind::RmsNorm, OpKind::Matmul,
                                                       OpKind::Matmul, OpKind::Silu, OpKind::Mul}));
  EXPECT_EQ(ops_of(fragments[1]), (std::vector<OpKind>{OpKind::Matmul, OpKind::Add}));
  EXPECT_EQ(ops_of(fragments[2]), (std::vector<OpKind>{OpKind::RmsNorm, OpKind::Matmul}));
  // The residual input x feeds both the first and the second fragment.
  EXPECT_EQ(fragments[1].inputs.size(), 3u);
  for (const auto& fragment : fragments) EXPECT_EQ(fragment.outputs.size(), 1u);
}

TEST(PartitionTest, KeepsTheAttentionCoreWithItsNormsTogether) {
  const auto workload = workloads::attention_decode(2, 4, 128, 16, DType::F32, true);
  const auto fragments = partition(workload.naive, 8);
  ASSERT_EQ(fragments.size(), 1u);
  EXPECT_EQ(fragments[0].graph.num_kernels(), workload.naive.num_kernels());
  EXPECT_EQ(fragments[0].inputs.size(), 5u);
}

TEST(PartitionTest, BoundsFragmentSize) {
  for (int max_ops : {1, 2, 3}) {
    for (const auto& fragment : partition(layer(), max_ops))
      EXPECT_LE(fragment.graph.num_kernels(), max_ops);
  }
  EXPECT_USER_ERROR([] { partition(layer(), 0); }, "max_ops 0 is not positive");
}

TEST(PartitionTest, StitchingTheFragmentsUnchangedGivesAnEquivalentGraph) {
  const auto graph = layer();
  const auto fragments = partition(graph, 8);
  std::vector<ir::KernelGraph> programs;
  for (const auto& fragment : fragments) programs.push_back(fragment.graph);
  const auto stitched = stitch(graph, fragments, programs);
  EXPECT_EQ(stitched.num_kernels(), graph.num_kernels());
  EXPECT_TRUE(verify::verify(graph, stitched, {2, 3, true}).equivalent);
}

TEST(PartitionTest, SuperoptimizesALayerFragmentByFragment) {
  const auto graph = layer();
  SearchOptions options;
  options.use_cache = false;
  options.max_verified = 1;
  const OptimizedProgram result = superoptimize(graph, options);
  EXPECT_EQ(result.report.fragments, 3);
  EXPECT_TRUE(result.report.improved) << result.report.summary;
  EXPECT_EQ(result.report.kernels_after, 3) << result.report.summary;
  EXPECT_TRUE(verify::verify(graph, result.graph, {2, 11, true}).equivalent);
}

}  // namespace
}  // namespace yirage::search
