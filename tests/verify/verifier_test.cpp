// The verifier on hand-fused programs: correct ones verify, wrong ones are rejected.
#include "yirage/verify/verifier.h"

#include <gtest/gtest.h>

#include <cmath>
#include <iostream>

#include "mutate.h"
#include "test_util.h"
#include "yirage/backend/random_inputs.h"
#include "yirage/backend/registry.h"
#include "yirage/ir/block_graph.h"
#include "yirage/workloads/workloads.h"

namespace yirage::verify {
namespace {

using core::DType;
using workloads::Tiling;
using workloads::Workload;

// Small shapes of each workload, with a given tiling (0: default).
std::vector<Workload> small_workloads(Tiling tiling, DType dtype) {
  std::vector<Workload> result;
  result.push_back(workloads::rms_norm_matmul(4, 128, 256, dtype, tiling));
  result.push_back(workloads::gated_mlp(4, 128, 256, dtype, tiling));
  result.push_back(workloads::lora(4, 128, 256, 8, dtype, tiling));
  result.push_back(workloads::attention_decode(2, 4, 256, 32, dtype, false, tiling));
  result.push_back(workloads::attention_decode(2, 4, 256, 32, dtype, true, tiling));
  return result;
}

TEST(VerifierTest, HandFusedWorkloadsVerifyAtQwen3Shapes) {
  const std::vector<Workload> qwen3_06b = {
      workloads::rms_norm_matmul(8, 1024, 4096, DType::BF16),
      workloads::gated_mlp(8, 1024, 3072, DType::BF16),
      workloads::lora(8, 1024, 4096, 16, DType::BF16),
      workloads::attention_decode(8, 2, 1024, 128, DType::BF16, false),
      workloads::attention_decode(8, 2, 1024, 128, DType::BF16, true),
  };
  for (const auto& workload : qwen3_06b) {
    const VerifyResult result = verify(workload.naive, workload.fused);
    EXPECT_TRUE(result.equivalent)
        << workload.name << " " << workload.shape << ": " << result.reason;
    EXPECT_EQ(result.trials, 2);
    EXPECT_EQ(result.method, "finite-field x2 + float64");
    EXPECT_LE(result.max_rel_error, float_error_bound(DType::BF16));
  }
}

TEST(VerifierTest, EveryTilingOfEveryWorkloadVerifies) {
  int verified = 0;
  for (int64_t grid : {1, 2, 4, 8}) {
    for (int64_t forloop : {1, 2, 4, 8}) {
      for (const auto& workload : small_workloads({grid, forloop}, DType::F32)) {
        const VerifyResult result = verify(workload.naive, workload.fused, {2, 7, true});
        EXPECT_TRUE(result.equivalent)
            << workload.name << " grid " << grid << " forloop " << forloop << ": " << result.reason;
        verified += result.equivalent;
      }
    }
  }
  EXPECT_GE(verified, 50);
}

// Ground truth without the finite-field check: do the two programs give different float64
// results on random inputs (or different output types)?
bool differs_in_float(const ir::KernelGraph& reference, const ir::KernelGraph& candidate) {
  if (reference.output_types() != candidate.output_types()) return true;
  auto& engine = backend::get_backend("reference");
  const auto inputs = backend::random_inputs(reference, 99);
  const auto expected = engine.run(reference, inputs);
  const auto actual = engine.run(candidate, inputs);
  for (std::size_t i = 0; i < expected.size(); ++i) {
    double scale = 0.0, worst = 0.0;
    for (int64_t e = 0; e < expected[i].numel(); ++e) {
      scale = std::max(scale, std::fabs(expected[i].get(e)));
      const double diff = std::fabs(expected[i].get(e) - actual[i].get(e));
      worst = std::isnan(diff) ? INFINITY : std::max(worst, diff);
    }
    if (worst > 1e-5 * std::max(scale, 1.0)) return true;
  }
  return false;
}

TEST(VerifierTest, MutationCorpusHasNoFalseAccepts) {
  int wrong = 0, equivalent_mutants = 0;
  std::vector<Workload> corpus;
  for (const Tiling tiling : {Tiling{4, 4}, Tiling{2, 8}, Tiling{8, 2}}) {
    for (auto& workload : small_workloads(tiling, DType::F32))
      corpus.push_back(std::move(workload));
  }
  for (const auto& workload : corpus) {
    for (const auto& mutation : testing::candidate_mutations(workload.fused)) {
      const auto mutant = testing::apply_mutation(workload.fused, mutation);
      if (!mutant.has_value()) continue;
      const std::string label = workload.name + " " + mutation.describe();
      if (!differs_in_float(workload.naive, *mutant)) {
        ++equivalent_mutants;  // a rewrite that happens to keep the meaning
        continue;
      }
      ++wrong;
      EXPECT_FALSE(verify(workload.naive, *mutant, {2, 13, false}).equivalent)
          << label << ": the finite-field check accepted a wrong program";
      EXPECT_FALSE(verify(workload.naive, *mutant).equivalent) << label;
    }
  }
  EXPECT_GE(wrong, 200) << "the corpus should hold at least 200 wrong programs";
  std::cout << "[ corpus ] " << wrong << " wrong programs rejected, " << equivalent_mutants
            << " equivalent rewrites skipped\n";
}

TEST(VerifierTest, MatchesOutputsUpToPermutation) {
  ir::KernelGraph a, b;
  for (ir::KernelGraph* g : {&a, &b}) {
    g->input({4, 8}, DType::F32);
    g->input({4, 8}, DType::F32);
  }
  a.mark_output(a.binary(ir::OpKind::Add, {0, 0}, {1, 0}));
  a.mark_output(a.binary(ir::OpKind::Sub, {0, 0}, {1, 0}));
  b.mark_output(b.binary(ir::OpKind::Sub, {0, 0}, {1, 0}));
  b.mark_output(b.binary(ir::OpKind::Add, {1, 0}, {0, 0}));
  const VerifyResult result = verify(a, b);
  EXPECT_TRUE(result.equivalent) << result.reason;
  EXPECT_EQ(result.output_permutation, (std::vector<int>{1, 0}));
}

TEST(VerifierTest, ReportsWhyGraphsDiffer) {
  ir::KernelGraph a, b, c;
  a.input({4, 8}, DType::F32);
  a.mark_output(a.unary(ir::OpKind::Exp, {0, 0}));
  b.input({4, 8}, DType::BF16);
  b.mark_output(b.unary(ir::OpKind::Exp, {0, 0}));
  c.input({4, 8}, DType::F32);
  c.mark_output(c.unary(ir::OpKind::MulScalar, c.unary(ir::OpKind::Exp, {0, 0}), 1.0 + 1e-9));
  EXPECT_NE(verify(a, b).reason.find("inputs differ"), std::string::npos);
  const VerifyResult scaled = verify(a, c);
  EXPECT_FALSE(scaled.equivalent);
  EXPECT_NE(scaled.reason.find("finite-field trial 1"), std::string::npos) << scaled.reason;
  EXPECT_USER_ERROR([&] { verify(a, a, {1, 0, true}); }, "trials 1 is too few");
}

TEST(VerifierTest, EpsilonOfRmsNormIsExact) {
  // A real RMSNorm with eps = 1e-6 against the same with 2e-6: equal in floating point to
  // within rounding, different as programs.
  ir::KernelGraph a, b;
  for (ir::KernelGraph* g : {&a, &b}) {
    g->input({4, 64}, DType::F32);
    g->input({64}, DType::F32);
  }
  a.mark_output(a.rms_norm({0, 0}, {1, 0}, 1e-6));
  b.mark_output(b.rms_norm({0, 0}, {1, 0}, 2e-6));
  EXPECT_TRUE(verify(a, a).equivalent);
  EXPECT_FALSE(verify(a, b).equivalent);
}

}  // namespace
}  // namespace yirage::verify
