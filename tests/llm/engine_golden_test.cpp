// The model against Hugging Face transformers: logits and greedy continuations of the tiny demo
// checkpoint, from the fixtures scripts/golden_logits.py wrote (tests/fixtures/qwen3-demo).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "llm/temp_dir.h"
#include "yirage/backend/registry.h"
#include "yirage/llm/checkpoint.h"
#include "yirage/llm/model.h"

namespace yirage::llm {
namespace {

const std::string kFixtures = std::string(YIRAGE_SOURCE_DIR) + "/tests/fixtures/qwen3-demo";

nlohmann::json read_fixture(const std::string& dtype) {
  std::ifstream in(kFixtures + "/tiny-" + dtype + ".json");
  EXPECT_TRUE(in.good()) << "missing fixture " << kFixtures << "/tiny-" << dtype << ".json";
  return in.good() ? nlohmann::json::parse(in) : nlohmann::json{};
}

// The cpu backend when it runs here (the reference backend, slower on the 151936-wide LM head,
// is checked against a plain forward pass in engine_model_test.cpp), else the reference.
std::string golden_backend() {
  for (const auto* backend : backend::all_backends()) {
    if (backend->name() == "cpu" && backend->available().available) return "cpu";
  }
  return "reference";
}

// Largest |ours - golden| over max |golden| across the fixture's sampled logits of a prompt.
double logit_error(const core::Tensor& logits, const nlohmann::json& prompt) {
  const int64_t vocab = logits.dim(1);
  const auto* data = logits.data_as<float>();
  double worst = 0.0, scale = 0.0;
  const auto& rows = prompt["rows"];
  const int64_t stride = rows["stride"];
  for (std::size_t r = 0; r < rows["positions"].size(); ++r) {
    const int64_t position = rows["positions"][r];
    const auto& values = rows["values"][r];
    for (std::size_t i = 0; i < values.size(); ++i) {
      const double golden = values[i];
      scale = std::max(scale, std::abs(golden));
      worst = std::max(
          worst, std::abs(data[position * vocab + static_cast<int64_t>(i) * stride] - golden));
    }
  }
  const int64_t last = logits.dim(0) - 1;
  for (std::size_t i = 0; i < prompt["last_top_ids"].size(); ++i) {
    const int64_t id = prompt["last_top_ids"][i];
    const double golden = prompt["last_top_logits"][i];
    scale = std::max(scale, std::abs(golden));
    worst = std::max(worst, std::abs(data[last * vocab + id] - golden));
  }
  return worst / scale;
}

int64_t argmax_row(const core::Tensor& logits, int64_t row) {
  const auto* begin = logits.data_as<float>() + row * logits.dim(1);
  return std::max_element(begin, begin + logits.dim(1)) - begin;
}

// Checks logits and greedy continuations of every fixture prompt; `tolerance` bounds the
// relative logit error, greedy steps are compared where the golden margin exceeds `margin`.
void check_against_fixture(const std::string& dtype_name, double tolerance, double margin) {
  const nlohmann::json fixture = read_fixture(dtype_name);
  ASSERT_FALSE(fixture.is_null());
  testing::TempDir dir;
  write_demo_model(dir.file("tiny"), DemoPreset::Tiny, default_tokenizer_dir({}),
                   core::parse_dtype(fixture["checkpoint"]["stored_dtype"].get<std::string>()));
  const Checkpoint checkpoint = Checkpoint::open(dir.file("tiny"));
  {
    const std::string backend = golden_backend();
    ModelOptions options;
    options.backend = backend;
    options.dtype = core::parse_dtype(dtype_name);
    Qwen3Model model(
        checkpoint.config(),
        [&](const std::string& name) {
          return checkpoint.has_weight(name) ? checkpoint.weight(name) : core::Tensor{};
        },
        options);
    for (const auto& prompt : fixture["prompts"]) {
      const std::vector<int64_t> ids = prompt["ids"];
      const std::string label = backend + " " + dtype_name + " prompt " + prompt["text"].dump();
      KvCache cache(model.kv_layout(), {256, 0, 16});
      const int64_t seq = cache.add_sequence();
      const core::Tensor logits = model.forward(cache, {{seq, ids, 0, true}});
      EXPECT_LT(logit_error(logits, prompt), tolerance) << label;
      // The greedy continuation through the KV cache, one token at a time, fed the golden
      // tokens: every step whose golden margin (best minus second-best logit) exceeds `margin`
      // must pick the same token.
      const auto& golden = prompt["greedy_ids"];
      const auto& margins = prompt["greedy_margins"];
      int64_t best = argmax_row(logits, logits.dim(0) - 1);
      auto position = static_cast<int64_t>(ids.size());
      for (std::size_t step = 0; step < golden.size(); ++step) {
        const int64_t expected = golden[step];
        if (margins[step].get<double>() > margin) {
          EXPECT_EQ(best, expected) << label << " greedy step " << step;
        }
        best = argmax_row(model.forward(cache, {{seq, {expected}, position++, false}}), 0);
      }
    }
  }
}

TEST(EngineGolden, Float32LogitsAndGreedyMatchTransformers) {
  check_against_fixture("float32", 1e-5, 1e-4);
}

TEST(EngineGolden, Bfloat16LogitsStayCloseToTransformers) {
  check_against_fixture("bfloat16", 0.03, 0.25);
}

}  // namespace
}  // namespace yirage::llm
