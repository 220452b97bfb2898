#include <gtest/gtest.h>

#include <cmath>

#include "llm/engine_tiny_model.h"
#include "test_util.h"
#include "yirage/backend/registry.h"
#include "yirage/llm/kv_cache.h"
#include "yirage/llm/model.h"

namespace yirage::llm {
namespace {

using testing::naive_logits;
using testing::tiny_config;
using testing::tiny_weights;

// Largest |a - b| over max |b|, row by row.
double max_relative_error(const core::Tensor& logits, int64_t row,
                          const std::vector<double>& expected) {
  double worst = 0.0, scale = 0.0;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    scale = std::max(scale, std::abs(expected[i]));
    worst = std::max(
        worst, std::abs(logits.data_as<float>()[row * logits.dim(1) + static_cast<int64_t>(i)] -
                        expected[i]));
  }
  return worst / scale;
}

KvCache cache_for(const Qwen3Model& model, int64_t tokens = 256) {
  return KvCache(model.kv_layout(), {tokens, 0, 4});
}

// Model options for each backend that runs here.
std::vector<ModelOptions> backends() {
  std::vector<ModelOptions> result;
  for (const char* name : {"reference", "cpu"}) {
    ModelOptions options;
    options.backend = name;
    bool available = false;
    for (const auto* backend : backend::all_backends())
      available = available || (backend->name() == name && backend->available().available);
    if (available) result.push_back(options);
  }
  return result;
}

TEST(EngineModel, PrefillLogitsMatchAPlainForwardPass) {
  for (const auto& options : backends()) {
    for (const bool tied : {false, true}) {
      const auto config = tiny_config(tied);
      const auto weights = tiny_weights(config, 7);
      Qwen3Model model(config, testing::lookup_in(weights), options);
      KvCache cache = cache_for(model);
      const std::vector<int64_t> prompt{3, 14, 15, 9, 26, 5, 35, 8, 9, 7};
      const auto expected = naive_logits(config, weights, prompt);
      const int64_t seq = cache.add_sequence();
      const core::Tensor logits = model.forward(cache, {{seq, prompt, 0, true}});
      ASSERT_EQ(logits.shape(), (core::Shape{10, 64}));
      for (int64_t t = 0; t < 10; ++t)
        EXPECT_LT(max_relative_error(logits, t, expected[static_cast<std::size_t>(t)]), 1e-5)
            << options.backend << " token " << t << (tied ? " (tied head)" : "");
    }
  }
}

TEST(EngineModel, DecodeStepByStepMatchesPrefill) {
  const auto config = tiny_config();
  const auto weights = tiny_weights(config, 11);
  for (const auto& options : backends()) {
    Qwen3Model model(config, testing::lookup_in(weights), options);
    KvCache cache = cache_for(model);
    const std::vector<int64_t> prompt{1, 2, 3, 4, 5, 6, 7};
    const auto expected = naive_logits(config, weights, prompt);
    const int64_t seq = cache.add_sequence();
    // Three tokens of prefill, then one at a time (crossing block boundaries of 4 slots).
    model.forward(cache, {{seq, {1, 2, 3}, 0, false}});
    for (int64_t t = 3; t < 7; ++t) {
      const core::Tensor logits = model.forward(cache, {{seq, {prompt[t]}, t, false}});
      EXPECT_LT(max_relative_error(logits, 0, expected[static_cast<std::size_t>(t)]), 1e-5)
          << options.backend;
    }
  }
}

TEST(EngineModel, RaggedBatchMatchesSequencesAlone) {
  const auto config = tiny_config();
  const auto weights = tiny_weights(config, 5);
  for (const auto& options : backends()) {
    Qwen3Model model(config, testing::lookup_in(weights), options);
    KvCache cache = cache_for(model);
    const std::vector<std::vector<int64_t>> prompts{{5, 6, 7, 8, 9, 10}, {40}, {11, 12, 13}};
    std::vector<StepSequence> batch;
    for (const auto& prompt : prompts) batch.push_back({cache.add_sequence(), prompt, 0, false});
    const core::Tensor logits = model.forward(cache, batch);
    ASSERT_EQ(logits.dim(0), 3);
    for (std::size_t s = 0; s < prompts.size(); ++s) {
      const auto expected = naive_logits(config, weights, prompts[s]);
      EXPECT_LT(max_relative_error(logits, static_cast<int64_t>(s), expected.back()), 1e-5);
    }
    // A mixed step: one more token for the first sequence, a decode for the others.
    const core::Tensor next = model.forward(
        cache, {{batch[0].sequence, {20}, 6, false}, {batch[1].sequence, {21, 22}, 1, false}});
    EXPECT_LT(
        max_relative_error(next, 0, naive_logits(config, weights, {5, 6, 7, 8, 9, 10, 20}).back()),
        1e-5);
    EXPECT_LT(max_relative_error(next, 1, naive_logits(config, weights, {40, 21, 22}).back()),
              1e-5);
  }
}

TEST(EngineModel, Bf16ComputeStaysCloseToFloat64) {
  const auto config = tiny_config();
  const auto weights = tiny_weights(config, 3, core::DType::BF16);
  for (auto options : backends()) {
    options.dtype = core::DType::BF16;
    Qwen3Model model(config, testing::lookup_in(weights), options);
    KvCache cache = cache_for(model);
    const std::vector<int64_t> prompt{9, 8, 7, 6, 5};
    const auto expected = naive_logits(config, weights, prompt);
    const core::Tensor logits = model.forward(cache, {{cache.add_sequence(), prompt, 0, true}});
    for (int64_t t = 0; t < 5; ++t)
      EXPECT_LT(max_relative_error(logits, t, expected[static_cast<std::size_t>(t)]), 0.05)
          << options.backend;
  }
}

TEST(EngineModel, FusedGraphsComputeTheSameLogits) {
  const auto config = tiny_config();
  const auto weights = tiny_weights(config, 13);
  const auto cache_dir = ::testing::TempDir() + "/yirage-engine-search-cache";
  // The reference backend only: the cpu backend compiles every candidate, which takes longer.
  for (auto options : backends()) {
    if (options.backend != "reference") continue;
    options.fused = true;
    options.search_seconds = 0.5;
    options.fused_keep_faster = false;  // run whatever the search found
    options.search_cache_dir = cache_dir;
    Qwen3Model model(config, testing::lookup_in(weights), options);
    KvCache cache = cache_for(model);
    const std::vector<int64_t> prompt{2, 7, 1, 8};
    const auto expected = naive_logits(config, weights, prompt);
    const core::Tensor logits = model.forward(cache, {{cache.add_sequence(), prompt, 0, true}});
    for (int64_t t = 0; t < 4; ++t)
      EXPECT_LT(max_relative_error(logits, t, expected[static_cast<std::size_t>(t)]), 1e-5)
          << options.backend;
    EXPECT_EQ(model.counters().searches, kNumStepGraphs);
    EXPECT_LE(model.counters().fused_kernels, model.counters().kernels);
  }
}

TEST(EngineModel, MissingOrMisshapenWeightsAreNamed) {
  const auto config = tiny_config();
  auto weights = tiny_weights(config, 1);
  weights.erase("model.layers.1.mlp.up_proj.weight");
  EXPECT_USER_ERROR([&] { Qwen3Model(config, testing::lookup_in(weights), {}); },
                    "model.layers.1.mlp.up_proj.weight", "missing", "[48, 32]");
  weights = tiny_weights(config, 1);
  weights["model.norm.weight"] = core::Tensor::empty({31}, core::DType::F32);
  EXPECT_USER_ERROR([&] { Qwen3Model(config, testing::lookup_in(weights), {}); },
                    "model.norm.weight", "[31]", "[32]");
}

TEST(EngineModel, ContextAndVocabularyLimitsAreUserErrors) {
  const auto config = tiny_config();
  const auto weights = tiny_weights(config, 1);
  Qwen3Model model(config, testing::lookup_in(weights), {});
  KvCache cache = cache_for(model);
  const int64_t seq = cache.add_sequence();
  EXPECT_USER_ERROR([&] { model.forward(cache, {{seq, {1}, 64, false}}); }, "context of 64");
  EXPECT_USER_ERROR(
      [&] {
        model.forward(cache, {{seq, {64}, 0, false}});
      },
      "token id 64", "vocabulary of 64");
}

TEST(EngineModel, FullKvCacheIsAUserError) {
  const auto config = tiny_config();
  const auto weights = tiny_weights(config, 1);
  Qwen3Model model(config, testing::lookup_in(weights), {});
  KvCache cache = cache_for(model, 8);  // two blocks of four
  const int64_t seq = cache.add_sequence();
  EXPECT_USER_ERROR(
      [&] {
        model.forward(cache, {{seq, {1, 2, 3, 4, 5, 6, 7, 8, 9}, 0, false}});
      },
      "KV cache is full", "9 tokens", "only 2 of 2 blocks are free");
}

}  // namespace
}  // namespace yirage::llm
