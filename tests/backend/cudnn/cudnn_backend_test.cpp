// The cudnn backend: finding attention in kernel graphs and its cuDNN shape (everywhere), cuDNN's
// descriptors for it (where libcudnn loads, no GPU needed), and on a GPU its results against the
// reference backend.
//
// GPU command: build-gpu/tests/yirage_tests --gtest_filter='Cudnn*'
#include <gtest/gtest.h>

#include <cmath>

#include "test_util.h"
#include "yirage/backend/cudnn/attention_pattern.h"
#include "yirage/backend/cudnn/cudnn_backend.h"
#include "yirage/backend/cudnn/cudnn_library.h"
#include "yirage/backend/cudnn/sdpa_plan.h"
#include "yirage/backend/random_inputs.h"
#include "yirage/backend/registry.h"
#include "yirage/workloads/workloads.h"

namespace yirage::backend::cudnn {
namespace {

using core::DType;
using ir::KernelGraph;
using ir::OpKind;
using ir::TensorRef;

Backend& cudnn_backend() {
  return get_backend("cudnn");
}

#define YR_REQUIRE_CUDNN()                                                          \
  do {                                                                              \
    const Availability a = cudnn_backend().available();                             \
    if (!a.available) GTEST_SKIP() << "the cudnn backend cannot run: " << a.reason; \
  } while (0)

// q [b, h, s_q, d] @ k^T (k [b, h_kv, s_kv, d], transposed in the graph) * scale (+ mask) ->
// softmax -> @ v.
struct Attention {
  KernelGraph graph;
  TensorRef scores;
};

Attention attention(const core::Shape& q, const core::Shape& k, const core::Shape& v, DType dtype,
                    double scale, const core::Shape& mask = {}) {
  Attention a;
  KernelGraph& g = a.graph;
  const TensorRef tq = g.input(q, dtype);
  const TensorRef tk = g.input(k, dtype);
  const TensorRef tv = g.input(v, dtype);
  const int64_t rank = static_cast<int64_t>(k.size());
  TensorRef s = g.matmul(tq, g.transpose(tk, rank - 2, rank - 1));
  if (scale != 1.0) s = g.unary(OpKind::MulScalar, s, scale);
  if (!mask.empty()) s = g.binary(OpKind::Add, s, g.input(mask, dtype));
  a.scores = s;
  g.mark_output(g.matmul(g.softmax(s, -1), tv));
  return a;
}

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

TEST(CudnnAttentionPattern, FindsTheDecodeAttentionOfTheWorkloads) {
  const auto w = workloads::attention_decode(8, 4, 256, 128, DType::BF16, false);
  const auto matches = find_attention(w.naive);
  ASSERT_EQ(matches.size(), 1u);
  const AttentionMatch& m = matches[0];
  EXPECT_EQ(m.nodes.size(), 5u);  // transpose, matmul, mul_scalar, softmax, matmul
  EXPECT_FALSE(m.keys_transposed);
  EXPECT_FALSE(m.mask.has_value());
  EXPECT_NEAR(m.scale, 1.0 / std::sqrt(128.0), 1e-12);
  EXPECT_EQ(m.q, (TensorRef{0, 0}));
  EXPECT_EQ(m.k, (TensorRef{1, 0}));
  EXPECT_EQ(m.v, (TensorRef{2, 0}));
  std::string why;
  const auto shape = attention_shape(w.naive, m, &why);
  ASSERT_TRUE(shape) << why;
  EXPECT_EQ(shape->b, 1);
  EXPECT_EQ(shape->h_q, 8);
  EXPECT_EQ(shape->h_kv, 8);
  EXPECT_EQ(shape->s_q, 4);
  EXPECT_EQ(shape->s_kv, 256);
  EXPECT_EQ(shape->d_qk, 128);
  EXPECT_EQ(shape->d_v, 128);
}

TEST(CudnnAttentionPattern, QkNormAttentionKeepsItsNormsOutside) {
  const auto w = workloads::attention_decode(2, 8, 64, 64, DType::BF16, true);
  const auto matches = find_attention(w.naive);
  ASSERT_EQ(matches.size(), 1u);
  // q and k are the rms_norm outputs, computed before the attention.
  EXPECT_EQ(w.naive.node(matches[0].q.node).op, OpKind::RmsNorm);
  EXPECT_EQ(w.naive.node(matches[0].k.node).op, OpKind::RmsNorm);
}

TEST(CudnnAttentionPattern, MaskAndBroadcastKeysMapToHeads) {
  const Attention a =
      attention({2, 4, 16, 64}, {2, 1, 32, 64}, {2, 1, 32, 64}, DType::F16, 0.125, {1, 1, 16, 32});
  const auto matches = find_attention(a.graph);
  ASSERT_EQ(matches.size(), 1u);
  ASSERT_TRUE(matches[0].mask.has_value());
  std::string why;
  const auto shape = attention_shape(a.graph, matches[0], &why);
  ASSERT_TRUE(shape) << why;
  EXPECT_EQ(shape->b, 2);
  EXPECT_EQ(shape->h_q, 4);
  EXPECT_EQ(shape->h_kv, 1);
  EXPECT_TRUE(shape->has_mask);
  EXPECT_EQ(shape->mask_b, 1);
  EXPECT_EQ(shape->mask_h, 1);
  EXPECT_EQ(shape->dtype, DType::F16);
}

TEST(CudnnAttentionPattern, KeysStoredTransposedAreFound) {
  // Mirage's GQA form: K already [heads, d, s_kv].
  KernelGraph g;
  const TensorRef q = g.input({2, 256, 64}, DType::BF16);
  const TensorRef kt = g.input({2, 64, 512}, DType::BF16);
  const TensorRef v = g.input({2, 512, 64}, DType::BF16);
  g.mark_output(g.matmul(g.softmax(g.unary(OpKind::MulScalar, g.matmul(q, kt), 0.125), -1), v));
  const auto matches = find_attention(g);
  ASSERT_EQ(matches.size(), 1u);
  EXPECT_TRUE(matches[0].keys_transposed);
  EXPECT_EQ(matches[0].k, kt);
  std::string why;
  const auto shape = attention_shape(g, matches[0], &why);
  ASSERT_TRUE(shape) << why;
  EXPECT_EQ(shape->s_kv, 512);
  EXPECT_EQ(shape->d_qk, 64);
}

TEST(CudnnAttentionPattern, LeavesOtherGraphsAlone) {
  // Scores that are also an output, float32, and a softmax over another dim are not attention.
  Attention shared = attention({4, 8, 64}, {4, 16, 64}, {4, 16, 64}, DType::BF16, 0.125);
  shared.graph.mark_output(shared.scores);
  EXPECT_TRUE(find_attention(shared.graph).empty());
  EXPECT_TRUE(
      find_attention(attention({4, 8, 64}, {4, 16, 64}, {4, 16, 64}, DType::F32, 0.125).graph)
          .empty());
  KernelGraph g;
  const TensorRef q = g.input({4, 16, 64}, DType::BF16);
  const TensorRef k = g.input({4, 16, 64}, DType::BF16);
  g.mark_output(g.matmul(g.softmax(g.matmul(q, g.transpose(k, 1, 2)), 1), k));
  EXPECT_TRUE(find_attention(g).empty());
}

TEST(CudnnAttentionPattern, SaysWhyABroadcastHasNoHeadForm) {
  const Attention a = attention({2, 4, 8, 64}, {1, 4, 16, 64}, {1, 4, 16, 64}, DType::BF16, 1.0);
  const auto matches = find_attention(a.graph);
  ASSERT_EQ(matches.size(), 1u);
  EXPECT_EQ(matches[0].scale, 1.0);
  std::string why;
  EXPECT_FALSE(attention_shape(a.graph, matches[0], &why));
  EXPECT_EQ(why, "keys or values broadcast over the batch");
}

TEST(CudnnAttentionPattern, TheExtractedGraphComputesWhatTheOriginalDoes) {
  const Attention a =
      attention({2, 3, 8, 16}, {2, 3, 12, 16}, {2, 3, 12, 16}, DType::BF16, 0.25, {2, 1, 8, 12});
  const auto matches = find_attention(a.graph);
  ASSERT_EQ(matches.size(), 1u);
  const KernelGraph alone = attention_graph(a.graph, matches[0]);
  EXPECT_EQ(alone.input_types(), a.graph.input_types());
  const auto inputs = random_inputs(a.graph, 3);
  Backend& reference = get_backend("reference");
  const auto want = reference.run(a.graph, inputs);
  const auto got = reference.run(alone, inputs);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(relative_error(got[0], want[0]), 0.0);
}

TEST(CudnnLibrary, CudnnAcceptsTheAttentionDescriptorsOrSaysWhyNot) {
  // Tensor and operation descriptors need no GPU, only libcudnn.
  std::string why;
  if (!built_with_cudnn_headers() || cudnn_api(&why) == nullptr)
    GTEST_SKIP() << "libcudnn cannot be loaded here: " << why;
  AttentionShape shape;
  shape.b = 2;
  shape.h_q = 8;
  shape.h_kv = 2;
  shape.s_q = 4;
  shape.s_kv = 256;
  shape.d_qk = shape.d_v = 128;
  shape.scale = 0.125;
  EXPECT_EQ(SdpaPlan::check_operations(shape), "");
  shape.has_mask = true;
  shape.mask_h = 8;
  shape.dtype = DType::F16;
  EXPECT_EQ(SdpaPlan::check_operations(shape), "");
  EXPECT_NE(cudnn_description().find("9."), std::string::npos) << cudnn_description();
}

TEST(CudnnBackend, IsRegisteredAndSaysWhyWhenItCannotRun) {
  Backend& backend = cudnn_backend();
  EXPECT_FALSE(backend.description().empty());
  const Availability a = backend.available();
  if (a.available) {
    EXPECT_TRUE(backend.can_profile());
    EXPECT_FALSE(backend.device_info().name.empty());
    return;
  }
  EXPECT_FALSE(a.reason.empty());
  EXPECT_FALSE(backend.can_profile());
  const Attention g = attention({2, 4, 16}, {2, 8, 16}, {2, 8, 16}, DType::BF16, 0.25);
  EXPECT_USER_ERROR([&] { backend.run(g.graph, random_inputs(g.graph, 1)); }, "not available");
}

// ---- on a GPU ----------------------------------------------------------------------------------

void expect_matches_reference(const KernelGraph& graph, double tolerance) {
  const auto inputs = random_inputs(graph, 11);
  const auto want = get_backend("reference").run(graph, inputs);
  const auto got = cudnn_backend().run(graph, inputs);
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].shape(), want[i].shape());
    EXPECT_LE(relative_error(got[i], want[i]), tolerance) << "output " << i;
  }
}

TEST(CudnnGpu, DecodeAttentionRunsFusedAndMatchesTheReference) {
  YR_REQUIRE_CUDNN();
  for (const auto& w : {workloads::attention_decode(8, 4, 1024, 128, DType::BF16, false),
                        workloads::attention_decode(4, 16, 512, 64, DType::F16, false)}) {
    const PlanSummary plan = plan_summary(w.naive);
    EXPECT_EQ(plan.fused_attention, 1)
        << w.shape << ": " << (plan.fallback_reasons.empty() ? "" : plan.fallback_reasons[0]);
    expect_matches_reference(w.naive, 2e-2);
  }
}

TEST(CudnnGpu, MaskedAndMultiQueryAttentionMatchTheReference) {
  YR_REQUIRE_CUDNN();
  const Attention a = attention({2, 4, 64, 64}, {2, 1, 128, 64}, {2, 1, 128, 64}, DType::BF16,
                                0.125, {2, 1, 64, 128});
  const PlanSummary plan = plan_summary(a.graph);
  EXPECT_EQ(plan.fused_attention + plan.attention_fallbacks, 1);
  if (plan.attention_fallbacks > 0) std::cout << "fallback: " << plan.fallback_reasons[0] << "\n";
  expect_matches_reference(a.graph, 2e-2);
}

TEST(CudnnGpu, KeysStoredTransposedRunFusedAfterOneTranspose) {
  YR_REQUIRE_CUDNN();
  KernelGraph g;
  const TensorRef q = g.input({2, 256, 64}, DType::BF16);
  const TensorRef kt = g.input({2, 64, 1024}, DType::BF16);
  const TensorRef v = g.input({2, 1024, 64}, DType::BF16);
  g.mark_output(g.matmul(g.softmax(g.unary(OpKind::MulScalar, g.matmul(q, kt), 0.125), -1), v));
  const PlanSummary plan = plan_summary(g);
  EXPECT_EQ(plan.fused_attention, 1)
      << (plan.fallback_reasons.empty() ? "" : plan.fallback_reasons[0]);
  expect_matches_reference(g, 2e-2);
}

TEST(CudnnGpu, OddShapesFallBackToTheCudaKernelsWithAReason) {
  YR_REQUIRE_CUDNN();
  // Head dim 12 is no multiple of 8: cuDNN's attention refuses it.
  const Attention a = attention({3, 5, 12}, {3, 7, 12}, {3, 7, 12}, DType::BF16, 0.5);
  const int64_t before = counters().attention_fallbacks;
  const PlanSummary plan = plan_summary(a.graph);
  EXPECT_EQ(plan.fused_attention, 0);
  ASSERT_EQ(plan.fallback_reasons.size(), 1u);
  EXPECT_NE(plan.fallback_reasons[0].find("head dims"), std::string::npos);
  EXPECT_EQ(counters().attention_fallbacks, before + 1);
  expect_matches_reference(a.graph, 2e-2);
}

TEST(CudnnGpu, MatmulsAndOtherOpsMatchTheReference) {
  YR_REQUIRE_CUDNN();
  for (DType dtype : {DType::BF16, DType::F32}) {
    const auto w = workloads::gated_mlp(8, 256, 512, dtype);
    const PlanSummary plan = plan_summary(w.naive);
    EXPECT_EQ(plan.gemms, 2);
    EXPECT_EQ(plan.kernels, 2);  // silu, mul
    expect_matches_reference(w.naive, dtype == DType::F32 ? 1e-4 : 2e-2);
    expect_matches_reference(w.fused, dtype == DType::F32 ? 1e-4 : 2e-2);
  }
}

}  // namespace
}  // namespace yirage::backend::cudnn
