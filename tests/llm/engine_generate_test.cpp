#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

#include "llm/engine_tiny_model.h"
#include "test_util.h"
#include "yirage/llm/engine.h"

namespace yirage::llm {
namespace {

using testing::tiny_config;
using testing::tiny_weights;

// An engine over the tiny model with seeded weights and no tokenizer.
std::unique_ptr<Engine> tiny_engine(EngineOptions options = {}) {
  static const auto config = tiny_config();
  static const auto weights = tiny_weights(config, 21);
  options.model.backend = "reference";
  auto model = std::make_shared<Qwen3Model>(config, testing::lookup_in(weights), options.model);
  return std::make_unique<Engine>(model, nullptr, GenerationDefaults{}, options);
}

SamplingParams greedy(int64_t max_tokens) {
  SamplingParams params;
  params.temperature = 0.0;
  params.max_tokens = max_tokens;
  params.ignore_eos = true;
  return params;
}

TEST(EngineGenerate, GreedyContinuationFollowsThePlainForwardPass) {
  const auto config = tiny_config();
  const auto weights = tiny_weights(config, 21);
  const auto engine = tiny_engine();
  std::vector<int64_t> ids{4, 8, 15, 16, 23, 42};
  const auto outputs = engine->generate({{ids, greedy(10)}});
  ASSERT_EQ(outputs.size(), 1U);
  ASSERT_EQ(outputs[0].token_ids.size(), 10U);
  EXPECT_EQ(outputs[0].finish_reason, "length");
  for (int64_t token : outputs[0].token_ids) {
    const auto logits = testing::naive_logits(config, weights, ids).back();
    const auto best = std::max_element(logits.begin(), logits.end()) - logits.begin();
    EXPECT_EQ(token, best);
    ids.push_back(token);
  }
}

TEST(EngineGenerate, BatchOfDifferentLengthsMatchesOneAtATime) {
  const std::vector<std::vector<int64_t>> prompts{
      {1, 2, 3}, {9}, {10, 11, 12, 13, 14, 15, 16, 17}, {30, 31}, {50, 51, 52, 53}};
  std::vector<GenerationRequest> requests;
  for (std::size_t i = 0; i < prompts.size(); ++i)
    requests.push_back({prompts[i], greedy(static_cast<int64_t>(3 + i))});
  EngineOptions narrow;
  narrow.max_batch = 2;  // requests wait for a free slot and join a running batch
  for (const EngineOptions& options : {EngineOptions{}, narrow}) {
    const auto batched = tiny_engine(options)->generate(requests);
    ASSERT_EQ(batched.size(), prompts.size());
    for (std::size_t i = 0; i < prompts.size(); ++i) {
      const auto alone = tiny_engine()->generate({requests[i]});
      EXPECT_EQ(batched[i].token_ids, alone[0].token_ids) << "request " << i;
      EXPECT_EQ(batched[i].prompt_ids, prompts[i]);
      EXPECT_EQ(batched[i].token_ids.size(), 3 + i);
    }
  }
}

TEST(EngineGenerate, SeededSamplingIsReproducible) {
  SamplingParams params;
  params.temperature = 1.5;
  params.max_tokens = 12;
  params.ignore_eos = true;
  params.seed = 1234;
  const GenerationRequest request{{5, 6, 7}, params};
  const auto first = tiny_engine()->generate({request, request});
  const auto again = tiny_engine()->generate({request});
  EXPECT_EQ(first[0].token_ids, again[0].token_ids);
  EXPECT_EQ(first[1].token_ids, again[0].token_ids);
  params.seed = 99;
  const auto other = tiny_engine()->generate({{{5, 6, 7}, params}});
  EXPECT_NE(other[0].token_ids, again[0].token_ids);
}

TEST(EngineGenerate, StopIdsEndGeneration) {
  const auto engine = tiny_engine();
  const auto free_run = engine->generate({{{3, 1, 4, 1, 5}, greedy(8)}});
  const int64_t third = free_run[0].token_ids[2];
  SamplingParams params = greedy(8);
  params.stop_token_ids = {third};
  const auto stopped = engine->generate({{{3, 1, 4, 1, 5}, params}});
  const auto& ids = stopped[0].token_ids;
  const auto first = std::find(free_run[0].token_ids.begin(), free_run[0].token_ids.end(), third);
  EXPECT_EQ(ids, std::vector<int64_t>(free_run[0].token_ids.begin(), first + 1));
  EXPECT_EQ(stopped[0].finish_reason, "stop");
  // The model's end-of-sequence ids stop it unless ignore_eos is set.
  auto config = tiny_config();
  config.eos_token_ids = {third};
  const auto weights = tiny_weights(config, 21);
  ModelOptions model_options;
  model_options.backend = "reference";
  Engine eos_engine(
      std::make_shared<Qwen3Model>(config, testing::lookup_in(weights), model_options), nullptr,
      GenerationDefaults{}, EngineOptions{});
  params = greedy(8);
  params.ignore_eos = false;
  EXPECT_EQ(eos_engine.generate({{{3, 1, 4, 1, 5}, params}})[0].token_ids, ids);
}

TEST(EngineGenerate, StreamingReportsEveryTokenInOrder) {
  const auto engine = tiny_engine();
  std::vector<std::vector<int64_t>> streamed(2);
  std::vector<int> finished(2, 0);
  const auto outputs =
      engine->generate({{{1, 2}, greedy(4)}, {{7, 8, 9}, greedy(6)}},
                       [&](std::size_t request, int64_t token, std::string_view text, bool done) {
                         EXPECT_TRUE(text.empty());  // no tokenizer, no text
                         streamed[request].push_back(token);
                         finished[request] += done ? 1 : 0;
                       });
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(streamed[i], outputs[i].token_ids);
    EXPECT_EQ(finished[i], 1);
    const auto& times = outputs[i].timings.token_times_s;
    ASSERT_EQ(times.size(), outputs[i].token_ids.size());
    EXPECT_TRUE(std::is_sorted(times.begin(), times.end()));
    EXPECT_EQ(outputs[i].timings.first_token_s, times.front());
    EXPECT_GE(outputs[i].timings.mean_token_latency_s(), 0.0);
  }
}

TEST(EngineGenerate, RequestsBeyondTheContextStopAtIt) {
  const auto engine = tiny_engine();  // context of 64
  const auto outputs = engine->generate({{std::vector<int64_t>(60, 3), greedy(100)}});
  EXPECT_EQ(outputs[0].token_ids.size(), 4U);
  EXPECT_EQ(outputs[0].finish_reason, "length");
}

TEST(EngineGenerate, BadRequestsAreUserErrorsBeforeAnyWork) {
  const auto engine = tiny_engine();
  EXPECT_USER_ERROR(
      [&] {
        engine->generate({{std::vector<int64_t>(64, 3), greedy(1)}});
      },
      "request 0", "64 tokens", "at most 63");
  EXPECT_USER_ERROR([&] { engine->generate({{{}, greedy(1)}}); }, "prompt is empty");
  EXPECT_USER_ERROR(
      [&] {
        engine->generate({{{1}, greedy(1)}, {{64}, greedy(1)}});
      },
      "request 1", "token id 64", "vocabulary of 64");
  SamplingParams bad = greedy(4);
  bad.temperature = -1.0;
  EXPECT_USER_ERROR([&] { engine->generate({{{1}, bad}}); }, "temperature");
  bad = greedy(4);
  bad.top_p = 1.5;
  EXPECT_USER_ERROR([&] { engine->generate({{{1}, bad}}); }, "top_p");
  bad = greedy(4);
  bad.stop = {"x"};
  EXPECT_USER_ERROR([&] { engine->generate({{{1}, bad}}); }, "stop strings need a tokenizer");
}

TEST(EngineGenerate, KvCacheBudget) {
  EngineOptions small;
  small.kv_cache = {32, 0, 4};  // 32 token slots
  const auto engine = tiny_engine(small);
  EXPECT_USER_ERROR(
      [&] {
        engine->generate({{std::vector<int64_t>(30, 2), greedy(5)}});
      },
      "needs 35 tokens of KV cache", "holds 32 tokens");
  // Requests that fit one at a time but not together wait their turn.
  const std::vector<GenerationRequest> requests(3, {std::vector<int64_t>(10, 2), greedy(6)});
  const auto outputs = engine->generate(requests);
  for (const auto& output : outputs) EXPECT_EQ(output.token_ids, outputs[0].token_ids);
  EXPECT_EQ(engine->kv_cache().free_blocks(), engine->kv_cache().num_blocks());
}

// A tokenizer whose vocabulary is smaller than the model's embedding (as Qwen3's 151,669 tokens
// against 151,936 rows): each id decodes to one letter, ids past the vocabulary are errors.
class ShortTokenizer final : public Tokenizer {
 public:
  explicit ShortTokenizer(int64_t size) : size_(size) {}
  std::vector<int64_t> encode(std::string_view text, bool) const override {
    std::vector<int64_t> ids;
    for (char c : text) ids.push_back(static_cast<unsigned char>(c) % size_);
    return ids;
  }
  std::string decode(const std::vector<int64_t>& ids, bool skip) const override {
    return decode_bytes(ids, skip);
  }
  std::string decode_bytes(const std::vector<int64_t>& ids, bool) const override {
    std::string text;
    for (int64_t id : ids) text += id_to_token(id);
    return text;
  }
  int64_t vocab_size() const override { return size_; }
  std::optional<int64_t> token_to_id(std::string_view) const override { return std::nullopt; }
  std::string id_to_token(int64_t id) const override {
    YR_USER_CHECK(id >= 0 && id < size_, "token id " << id << " is out of range");
    return std::string(1, static_cast<char>('a' + id % 26));
  }
  bool is_special(int64_t) const override { return false; }
  const std::string& chat_template() const override { return template_; }

 private:
  int64_t size_;
  std::string template_;
};

TEST(EngineGenerate, PaddingRowsPastTheTokenizerAreNeverSampled) {
  static const auto config = tiny_config();
  static const auto weights = tiny_weights(config, 21);
  ModelOptions model_options;
  model_options.backend = "reference";
  auto model = std::make_shared<Qwen3Model>(config, testing::lookup_in(weights), model_options);
  const int64_t known = config.vocab_size / 2;
  Engine engine(model, std::make_shared<ShortTokenizer>(known), GenerationDefaults{}, {});
  SamplingParams params;
  params.temperature = 50.0;  // nearly uniform over all rows: half of them are padding
  params.max_tokens = 48;     // inside the tiny model's context
  params.ignore_eos = true;
  params.seed = 3;
  const auto outputs = engine.generate({{{1, 2, 3}, params}});
  ASSERT_EQ(outputs[0].token_ids.size(), 48U);
  for (int64_t token : outputs[0].token_ids) EXPECT_LT(token, known);
}

}  // namespace
}  // namespace yirage::llm
