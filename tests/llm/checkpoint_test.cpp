// Checkpoint::open: single and sharded weights, shape checks against the config, clear errors.
#include "yirage/llm/checkpoint.h"

#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "llm/temp_dir.h"
#include "test_util.h"

namespace yirage::llm {
namespace {

using core::DType;
using testing::TempDir;

Qwen3Config small_config(bool tied) {
  Qwen3Config config;
  config.vocab_size = 32;
  config.hidden_size = 8;
  config.intermediate_size = 16;
  config.num_hidden_layers = 2;
  config.num_attention_heads = 2;
  config.num_key_value_heads = 1;
  config.head_dim = 4;
  config.max_position_embeddings = 64;
  config.tie_word_embeddings = tied;
  config.eos_token_ids = {3};
  return config;
}

// Random weights of every expected shape, `skip` left out and `reshape` given a wrong shape.
std::vector<NamedTensor> weights_of(const Qwen3Config& config, const std::string& skip = "",
                                    const std::string& reshape = "") {
  std::mt19937_64 rng(5);
  std::vector<NamedTensor> weights;
  for (const auto& [name, shape] : qwen3_weight_shapes(config)) {
    if (name == skip) continue;
    core::Shape actual = shape;
    if (name == reshape) std::swap(actual.front(), actual.back()), actual.front() += 1;
    weights.push_back({name, testing::random_tensor(actual, DType::BF16, rng)});
  }
  return weights;
}

void write_checkpoint(const TempDir& dir, const Qwen3Config& config,
                      const std::vector<NamedTensor>& weights) {
  testing::write_bytes(dir.file("config.json"), config.to_json());
  write_safetensors(dir.file("model.safetensors"), weights);
}

TEST(QwenWeights, NamesAndShapesFollowHuggingFace) {
  const auto shapes = qwen3_weight_shapes(small_config(false));
  ASSERT_EQ(shapes.size(), 1u + 2 * 11 + 2);
  EXPECT_EQ(shapes.front().first, "model.embed_tokens.weight");
  EXPECT_EQ(shapes.front().second, (core::Shape{32, 8}));
  EXPECT_EQ(shapes[2].first, "model.layers.0.self_attn.q_proj.weight");
  EXPECT_EQ(shapes[2].second, (core::Shape{8, 8}));  // [heads * head_dim, hidden]
  EXPECT_EQ(shapes[3].second, (core::Shape{4, 8}));  // k_proj: [kv heads * head_dim, hidden]
  EXPECT_EQ(shapes[5].first, "model.layers.0.self_attn.q_norm.weight");
  EXPECT_EQ(shapes[5].second, (core::Shape{4}));
  EXPECT_EQ(shapes[11].first, "model.layers.0.mlp.down_proj.weight");
  EXPECT_EQ(shapes[11].second, (core::Shape{8, 16}));  // [hidden, intermediate]
  EXPECT_EQ(shapes.back().first, "lm_head.weight");
  EXPECT_EQ(qwen3_weight_shapes(small_config(true)).back().first, "model.norm.weight");
}

TEST(Checkpoint, OpensASingleFileCheckpoint) {
  TempDir dir;
  const Qwen3Config config = small_config(false);
  const auto weights = weights_of(config);
  write_checkpoint(dir, config, weights);
  testing::write_bytes(dir.file("generation_config.json"),
                       R"({"do_sample": true, "temperature": 0.6, "top_k": 20, "top_p": 0.95,
                           "eos_token_id": [3, 4]})");
  const Checkpoint checkpoint = Checkpoint::open(dir.path().string());
  EXPECT_EQ(checkpoint.config().hidden_size, 8);
  EXPECT_DOUBLE_EQ(checkpoint.generation().temperature, 0.6);
  EXPECT_EQ(checkpoint.generation().top_k, 20);
  EXPECT_DOUBLE_EQ(checkpoint.generation().top_p, 0.95);
  EXPECT_EQ(checkpoint.generation().eos_token_ids, (std::vector<int64_t>{3, 4}));
  for (const NamedTensor& expected : weights) {
    ASSERT_TRUE(checkpoint.has_weight(expected.name));
    const core::Tensor read = checkpoint.weight(expected.name);
    EXPECT_EQ(read.shape(), expected.tensor.shape());
    EXPECT_EQ(std::memcmp(read.data(), expected.tensor.data(), read.nbytes()), 0);
  }
  EXPECT_FALSE(checkpoint.has_weight("model.layers.2.mlp.up_proj.weight"));
  EXPECT_USER_ERROR([&] { checkpoint.weight("nope"); }, "no weight named 'nope'");
  EXPECT_USER_ERROR([&] { checkpoint.tokenizer_path(); }, "no tokenizer.json");
  testing::write_bytes(dir.file("tokenizer.json"), "{}");
  EXPECT_EQ(checkpoint.tokenizer_path(), dir.file("tokenizer.json"));
}

TEST(Checkpoint, OpensShardedCheckpoints) {
  TempDir dir;
  const Qwen3Config config = small_config(true);
  const auto weights = weights_of(config);
  testing::write_bytes(dir.file("config.json"), config.to_json());
  const std::size_t half = weights.size() / 2;
  write_safetensors(dir.file("model-00001-of-00002.safetensors"),
                    {weights.begin(), weights.begin() + static_cast<std::ptrdiff_t>(half)});
  write_safetensors(dir.file("model-00002-of-00002.safetensors"),
                    {weights.begin() + static_cast<std::ptrdiff_t>(half), weights.end()});
  nlohmann::json index = {{"metadata", {{"total_size", 0}}},
                          {"weight_map", nlohmann::json::object()}};
  for (std::size_t i = 0; i < weights.size(); ++i) {
    index["weight_map"][weights[i].name] =
        i < half ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
  }
  testing::write_bytes(dir.file("model.safetensors.index.json"), index.dump());
  const Checkpoint checkpoint = Checkpoint::open(dir.path().string());
  EXPECT_DOUBLE_EQ(checkpoint.generation().temperature, 1.0);  // no generation_config.json
  for (const NamedTensor& expected : weights) {
    const core::Tensor read = checkpoint.weight(expected.name);
    EXPECT_EQ(std::memcmp(read.data(), expected.tensor.data(), read.nbytes()), 0);
  }
  EXPECT_FALSE(checkpoint.has_weight("lm_head.weight"));

  // A tensor mapped to a shard that lacks it, a missing shard, a path leaving the directory.
  const std::string name = weights.front().name;
  index["weight_map"][name] = "model-00002-of-00002.safetensors";
  testing::write_bytes(dir.file("model.safetensors.index.json"), index.dump());
  EXPECT_USER_ERROR([&] { Checkpoint::open(dir.path().string()); }, "index.json",
                    "tensor '" + name + "'", "does not hold it");
  index["weight_map"][name] = "model-00003-of-00002.safetensors";
  testing::write_bytes(dir.file("model.safetensors.index.json"), index.dump());
  EXPECT_USER_ERROR([&] { Checkpoint::open(dir.path().string()); }, "shard",
                    "model-00003-of-00002.safetensors", "missing");
  index["weight_map"][name] = "../elsewhere.safetensors";
  testing::write_bytes(dir.file("model.safetensors.index.json"), index.dump());
  EXPECT_USER_ERROR([&] { Checkpoint::open(dir.path().string()); }, "../elsewhere.safetensors",
                    "inside the checkpoint directory");
  testing::write_bytes(dir.file("model.safetensors.index.json"), "{\"weight_map\": 3}");
  EXPECT_USER_ERROR([&] { Checkpoint::open(dir.path().string()); }, "index.json", "weight_map");
}

TEST(Checkpoint, MissingOrMisshapenWeightsNameFileAndTensor) {
  const Qwen3Config config = small_config(false);
  {
    TempDir dir;
    write_checkpoint(dir, config, weights_of(config, "model.layers.1.self_attn.k_norm.weight"));
    EXPECT_USER_ERROR([&] { Checkpoint::open(dir.path().string()); },
                      "'model.layers.1.self_attn.k_norm.weight'", "[4]", "missing");
  }
  {
    TempDir dir;
    write_checkpoint(dir, config, weights_of(config, "lm_head.weight"));
    EXPECT_USER_ERROR([&] { Checkpoint::open(dir.path().string()); }, "'lm_head.weight'",
                      "missing");
  }
  {
    TempDir dir;
    write_checkpoint(dir, config, weights_of(config, "", "model.layers.0.mlp.up_proj.weight"));
    EXPECT_USER_ERROR([&] { Checkpoint::open(dir.path().string()); }, "model.safetensors",
                      "'model.layers.0.mlp.up_proj.weight'", "shape [9, 16]",
                      "config.json implies [16, 8]");
  }
}

TEST(Checkpoint, MissingFilesAreClearErrors) {
  TempDir dir;
  EXPECT_USER_ERROR([&] { Checkpoint::open(dir.file("absent")); }, "absent",
                    "not a checkpoint directory");
  EXPECT_USER_ERROR([&] { Checkpoint::open(dir.path().string()); }, "no config.json");
  testing::write_bytes(dir.file("config.json"), small_config(true).to_json());
  EXPECT_USER_ERROR([&] { Checkpoint::open(dir.path().string()); }, "no weights",
                    "model.safetensors");
  testing::write_bytes(dir.file("config.json"), "{\"architectures\": [\"GPT2LMHeadModel\"]}");
  EXPECT_USER_ERROR([&] { Checkpoint::open(dir.path().string()); }, "config.json",
                    "GPT2LMHeadModel");
}

TEST(GenerationConfig, ParsesValuesAndRejectsBadOnes) {
  const GenerationDefaults greedy = parse_generation_config(
      R"({"do_sample": false, "temperature": 0.7, "eos_token_id": 9})", "g.json");
  EXPECT_DOUBLE_EQ(greedy.temperature, 0.0);
  EXPECT_EQ(greedy.eos_token_ids, (std::vector<int64_t>{9}));
  EXPECT_USER_ERROR([] { parse_generation_config(R"({"top_p": 1.5})", "g.json"); }, "g.json",
                    "'top_p'", "(0, 1]");
  EXPECT_USER_ERROR([] { parse_generation_config(R"({"temperature": -1})", "g.json"); },
                    "'temperature'", ">= 0");
  EXPECT_USER_ERROR([] { parse_generation_config(R"({"top_k": 2.5})", "g.json"); }, "'top_k'");
  EXPECT_USER_ERROR([] { parse_generation_config("nope", "g.json"); }, "g.json", "not valid JSON");
}

}  // namespace
}  // namespace yirage::llm
