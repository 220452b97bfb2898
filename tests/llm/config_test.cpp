// Qwen3Config: parsing Hugging Face config.json, validation errors, and writing it back.
#include "yirage/llm/config.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "llm/temp_dir.h"
#include "test_util.h"

namespace yirage::llm {
namespace {

using nlohmann::json;

// Qwen3-0.6B's config.json, as published.
json qwen3_0_6b() {
  return json::parse(R"({
    "architectures": ["Qwen3ForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
    "bos_token_id": 151643, "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu",
    "hidden_size": 1024, "initializer_range": 0.02, "intermediate_size": 3072,
    "max_position_embeddings": 40960, "max_window_layers": 28, "model_type": "qwen3",
    "num_attention_heads": 16, "num_hidden_layers": 28, "num_key_value_heads": 8,
    "rms_norm_eps": 1e-06, "rope_scaling": null, "rope_theta": 1000000, "sliding_window": null,
    "tie_word_embeddings": true, "torch_dtype": "bfloat16", "transformers_version": "4.51.0",
    "use_cache": true, "use_sliding_window": false, "vocab_size": 151936})");
}

TEST(Qwen3Config, ParsesTheQwen3_0_6BConfig) {
  const Qwen3Config config = Qwen3Config::from_json(qwen3_0_6b().dump(), "config.json");
  EXPECT_EQ(config.vocab_size, 151936);
  EXPECT_EQ(config.hidden_size, 1024);
  EXPECT_EQ(config.intermediate_size, 3072);
  EXPECT_EQ(config.num_hidden_layers, 28);
  EXPECT_EQ(config.num_attention_heads, 16);
  EXPECT_EQ(config.num_key_value_heads, 8);
  EXPECT_EQ(config.head_dim, 128);
  EXPECT_EQ(config.max_position_embeddings, 40960);
  EXPECT_DOUBLE_EQ(config.rms_norm_eps, 1e-6);
  EXPECT_DOUBLE_EQ(config.rope_theta, 1e6);
  EXPECT_TRUE(config.tie_word_embeddings);
  EXPECT_EQ(config.torch_dtype, core::DType::BF16);
  EXPECT_EQ(config.bos_token_id, 151643);
  EXPECT_EQ(config.eos_token_ids, (std::vector<int64_t>{151645}));
}

TEST(Qwen3Config, OptionalKeysTakeHuggingFaceDefaults) {
  json text = qwen3_0_6b();
  for (const char* key : {"head_dim", "rope_theta", "rms_norm_eps", "tie_word_embeddings",
                          "torch_dtype", "bos_token_id", "eos_token_id"}) {
    text.erase(key);
  }
  text["eos_token_id"] = {151645, 151643};
  const Qwen3Config config = Qwen3Config::from_json(text.dump(), "config.json");
  EXPECT_EQ(config.head_dim, 1024 / 16);
  EXPECT_DOUBLE_EQ(config.rope_theta, 10000.0);
  EXPECT_DOUBLE_EQ(config.rms_norm_eps, 1e-6);
  EXPECT_FALSE(config.tie_word_embeddings);
  EXPECT_EQ(config.bos_token_id, -1);
  EXPECT_EQ(config.eos_token_ids, (std::vector<int64_t>{151645, 151643}));
  text["rope_parameters"] = {{"rope_theta", 5e5}, {"rope_type", "default"}};
  EXPECT_DOUBLE_EQ(Qwen3Config::from_json(text.dump(), "c").rope_theta, 5e5);
}

TEST(Qwen3Config, ToJsonRoundTrips) {
  Qwen3Config config = Qwen3Config::from_json(qwen3_0_6b().dump(), "config.json");
  config.torch_dtype = core::DType::F32;
  config.eos_token_ids = {1, 2};
  const Qwen3Config again = Qwen3Config::from_json(config.to_json(), "round trip");
  EXPECT_EQ(again.hidden_size, config.hidden_size);
  EXPECT_EQ(again.head_dim, config.head_dim);
  EXPECT_EQ(again.num_key_value_heads, config.num_key_value_heads);
  EXPECT_DOUBLE_EQ(again.rope_theta, config.rope_theta);
  EXPECT_EQ(again.torch_dtype, core::DType::F32);
  EXPECT_EQ(again.eos_token_ids, config.eos_token_ids);
  EXPECT_EQ(again.tie_word_embeddings, config.tie_word_embeddings);
  EXPECT_EQ(json::parse(config.to_json())["architectures"][0], "Qwen3ForCausalLM");
}

TEST(Qwen3Config, UnsupportedArchitecturesAndFeaturesAreNamed) {
  json text = qwen3_0_6b();
  text["architectures"] = {"LlamaForCausalLM"};
  EXPECT_USER_ERROR([&] { Qwen3Config::from_json(text.dump(), "m/config.json"); }, "m/config.json",
                    "unsupported architecture", "LlamaForCausalLM", "Qwen3ForCausalLM");
  text.erase("architectures");
  EXPECT_USER_ERROR([&] { Qwen3Config::from_json(text.dump(), "c"); },
                    "missing key 'architectures'");
  const std::vector<std::pair<std::string, json>> unsupported = {
      {"attention_bias", true},
      {"hidden_act", "gelu"},
      {"model_type", "qwen3_moe"},
      {"use_sliding_window", true},
      {"rope_scaling", {{"rope_type", "yarn"}, {"factor", 4.0}}},
      {"quantization_config", {{"quant_method", "awq"}}},
      {"torch_dtype", "float64"}};
  for (const auto& [key, value] : unsupported) {
    json bad = qwen3_0_6b();
    bad[key] = value;
    EXPECT_USER_ERROR([&] { Qwen3Config::from_json(bad.dump(), "c.json"); }, "c.json", key,
                      "not supported");
  }
}

TEST(Qwen3Config, MissingKeysAndBadValuesAreNamed) {
  for (const char* key :
       {"vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
        "num_attention_heads", "num_key_value_heads", "max_position_embeddings"}) {
    json text = qwen3_0_6b();
    text.erase(key);
    EXPECT_USER_ERROR([&] { Qwen3Config::from_json(text.dump(), "c.json"); }, "c.json",
                      std::string("missing key '") + key + "'");
    text[key] = -4;
    EXPECT_USER_ERROR([&] { Qwen3Config::from_json(text.dump(), "c.json"); }, key,
                      "positive integer", "-4");
    text[key] = "64";
    EXPECT_USER_ERROR([&] { Qwen3Config::from_json(text.dump(), "c.json"); }, key,
                      "positive integer", "\"64\"");
  }
  json text = qwen3_0_6b();
  text["num_key_value_heads"] = 3;
  EXPECT_USER_ERROR([&] { Qwen3Config::from_json(text.dump(), "c"); }, "num_attention_heads (16)",
                    "multiple of num_key_value_heads (3)");
  text = qwen3_0_6b();
  text["rms_norm_eps"] = 0;
  EXPECT_USER_ERROR([&] { Qwen3Config::from_json(text.dump(), "c"); }, "rms_norm_eps",
                    "positive number");
  text = qwen3_0_6b();
  text["eos_token_id"] = 200000;
  EXPECT_USER_ERROR([&] { Qwen3Config::from_json(text.dump(), "c"); }, "eos_token_id",
                    "[0, 151936)");
  text = qwen3_0_6b();
  text["head_dim"] = 7;
  EXPECT_USER_ERROR([&] { Qwen3Config::from_json(text.dump(), "c"); }, "head_dim", "even");
  EXPECT_USER_ERROR([&] { Qwen3Config::from_json("{\"a\": ", "c.json"); }, "c.json",
                    "not valid JSON");
  EXPECT_USER_ERROR([&] { Qwen3Config::from_json("[]", "c.json"); }, "c.json", "JSON object");
}

TEST(Qwen3Config, FromFileNamesAMissingFile) {
  testing::TempDir dir;
  EXPECT_USER_ERROR([&] { Qwen3Config::from_file(dir.file("config.json")); }, "config.json",
                    "cannot read");
  testing::write_bytes(dir.file("config.json"), qwen3_0_6b().dump());
  EXPECT_EQ(Qwen3Config::from_file(dir.file("config.json")).hidden_size, 1024);
}

}  // namespace
}  // namespace yirage::llm
