// Demo checkpoints: deterministic bytes, sensible scales, the same values in every dtype.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>

#include "llm/temp_dir.h"
#include "test_util.h"
#include "yirage/llm/checkpoint.h"
#include "yirage/llm/demo_weights.h"

namespace yirage::llm {
namespace {

using core::DType;
using testing::TempDir;

// 64-bit FNV-1a of a string of bytes.
uint64_t fnv1a(const std::string& bytes) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (const char c : bytes) {
    hash ^= static_cast<uint8_t>(c);
    hash *= 0x100000001b3ull;
  }
  return hash;
}

std::string tokenizer_dir() {
  return default_tokenizer_dir({});
}

TEST(DemoModel, UniformValuesAreSymmetricAndSpread) {
  double sum = 0, sum_squares = 0, low = 1, high = -1;
  const int count = 100000;
  for (int i = 0; i < count; ++i) {
    const double u = demo_uniform(3, static_cast<uint64_t>(i));
    ASSERT_GT(u, -1.0);
    ASSERT_LT(u, 1.0);
    sum += u;
    sum_squares += u * u;
    low = std::min(low, u);
    high = std::max(high, u);
  }
  EXPECT_NEAR(sum / count, 0.0, 0.01);
  EXPECT_NEAR(sum_squares / count, 1.0 / 3.0, 0.01);  // variance of uniform(-1, 1)
  EXPECT_LT(low, -0.999);
  EXPECT_GT(high, 0.999);
  EXPECT_NE(demo_uniform(0, 0), demo_uniform(1, 0));
  EXPECT_NE(demo_uniform(0, 0), demo_uniform(0, 1));
}

TEST(DemoModel, PresetsHaveQwen3Shapes) {
  const Qwen3Config tiny = demo_config(DemoPreset::Tiny, DType::BF16);
  EXPECT_EQ(tiny.num_hidden_layers, 2);
  EXPECT_EQ(tiny.hidden_size, 64);
  EXPECT_EQ(tiny.num_attention_heads, 4);
  EXPECT_EQ(tiny.num_key_value_heads, 2);
  EXPECT_EQ(tiny.head_dim, 16);
  EXPECT_EQ(tiny.intermediate_size, 128);
  EXPECT_EQ(tiny.vocab_size, 151936);
  EXPECT_TRUE(tiny.tie_word_embeddings);
  const Qwen3Config big = demo_config(DemoPreset::Qwen3_0_6B, DType::F16);
  EXPECT_EQ(big.num_hidden_layers, 28);
  EXPECT_EQ(big.hidden_size, 1024);
  EXPECT_EQ(big.num_attention_heads, 16);
  EXPECT_EQ(big.num_key_value_heads, 8);
  EXPECT_EQ(big.head_dim, 128);
  EXPECT_EQ(big.intermediate_size, 3072);
  EXPECT_DOUBLE_EQ(big.rope_theta, 1e6);
  EXPECT_DOUBLE_EQ(big.rms_norm_eps, 1e-6);
  EXPECT_EQ(big.torch_dtype, DType::F16);
  EXPECT_EQ(parse_demo_preset("qwen3-0.6b-shape"), DemoPreset::Qwen3_0_6B);
  EXPECT_USER_ERROR([] { parse_demo_preset("huge"); }, "'huge'",
                    "tiny, qwen3-0.6b-shape or qwen3-8b-shape");
  EXPECT_USER_ERROR([] { demo_config(DemoPreset::Tiny, DType::I32); }, "int32");
}

TEST(DemoModel, TinyCheckpointOpensWithTheSameBytesEverywhere) {
  TempDir dir;
  const std::string bf16_dir = dir.file("bf16");
  const std::string f32_dir = dir.file("f32");
  write_demo_model(bf16_dir, DemoPreset::Tiny, tokenizer_dir(), DType::BF16);
  write_demo_model(f32_dir, DemoPreset::Tiny, tokenizer_dir(), DType::F32);
  // The checksum pins the generator: any machine writes exactly these bytes.
  EXPECT_EQ(fnv1a(testing::read_bytes(bf16_dir + "/model.safetensors")), 0xb1b02517e62e7be3ull);

  const Checkpoint bf16 = Checkpoint::open(bf16_dir);
  const Checkpoint f32 = Checkpoint::open(f32_dir);
  EXPECT_EQ(bf16.config().torch_dtype, DType::BF16);
  EXPECT_EQ(f32.config().torch_dtype, DType::F32);
  EXPECT_TRUE(std::filesystem::exists(bf16.tokenizer_path()));
  EXPECT_TRUE(std::filesystem::exists(bf16_dir + "/tokenizer_config.json"));
  EXPECT_EQ(bf16.generation().top_k, 20);

  for (const auto& [name, shape] : qwen3_weight_shapes(bf16.config())) {
    const core::Tensor a = bf16.weight(name);
    const core::Tensor b = f32.weight(name);
    ASSERT_EQ(a.dtype(), DType::BF16);
    ASSERT_EQ(b.dtype(), DType::F32);
    const bool norm = name.ends_with("norm.weight");
    const double bound = norm ? 1.25
                         : name == "model.embed_tokens.weight"
                             ? std::sqrt(12.0 / 64.0)
                             : std::sqrt(3.0 / static_cast<double>(shape.back()));
    double sum_squares = 0;
    // Every element of the small weights; a spread sample of the 9.7M-element embedding.
    const int64_t step = a.numel() > 100000 ? 61 : 1;
    int64_t checked = 0;
    for (int64_t i = 0; i < a.numel(); i += step, ++checked) {
      const double value = a.get(i);
      ASSERT_EQ(value, b.get(i)) << name << " element " << i;  // the same values in every dtype
      ASSERT_LE(std::fabs(value), bound * (1 + 1.0 / 128)) << name;
      if (norm) {
        ASSERT_GE(value, 0.75 * (1 - 1.0 / 128)) << name;
      }
      sum_squares += value * value;
    }
    if (!norm) {  // uniform in +-bound: mean square bound^2 / 3
      EXPECT_NEAR(sum_squares / static_cast<double>(checked), bound * bound / 3,
                  bound * bound * 0.05)
          << name;
    }
  }
}

TEST(DemoModel, Qwen3_8BShapedPresetIsUntiedWithEightBillionParameters) {
  const Qwen3Config config = demo_config(parse_demo_preset("qwen3-8b-shape"), DType::BF16);
  EXPECT_EQ(config.num_hidden_layers, 36);
  EXPECT_EQ(config.hidden_size, 4096);
  EXPECT_EQ(config.intermediate_size, 12288);
  EXPECT_EQ(config.num_attention_heads, 32);
  EXPECT_EQ(config.num_key_value_heads, 8);
  EXPECT_EQ(config.head_dim, 128);
  EXPECT_EQ(config.vocab_size, 151936);
  EXPECT_FALSE(config.tie_word_embeddings);
  int64_t parameters = 0;
  for (const auto& [name, shape] : qwen3_weight_shapes(config))
    parameters += core::shape_numel(shape);
  EXPECT_EQ(parameters, 8190735360);
}

TEST(DemoModel, WeightsGeneratedInMemoryEqualTheWrittenCheckpoint) {
  TempDir dir;
  write_demo_model(dir.path().string(), DemoPreset::Tiny, tokenizer_dir(), DType::F16);
  const Checkpoint checkpoint = Checkpoint::open(dir.path().string());
  const WeightLookup lookup = demo_weight_lookup(checkpoint.config());
  for (const auto& [name, shape] : qwen3_weight_shapes(checkpoint.config())) {
    const core::Tensor stored = checkpoint.weight(name);
    const core::Tensor generated = lookup(name);
    ASSERT_EQ(generated.shape(), shape) << name;
    ASSERT_EQ(generated.dtype(), DType::F16) << name;
    EXPECT_EQ(std::memcmp(generated.data(), stored.contiguous().data(), stored.nbytes()), 0)
        << name;
  }
  EXPECT_FALSE(lookup("no.such.weight").defined());
}

TEST(DemoModel, BadTokenizerDirectoryIsAClearError) {
  TempDir dir;
  EXPECT_USER_ERROR(
      [&] { write_demo_model(dir.file("m"), DemoPreset::Tiny, dir.file("none"), DType::BF16); },
      "none", "no tokenizer.json");
}

TEST(DemoModel, DefaultTokenizerDirectoryPrefersTheAnchors) {
  TempDir dir;
  EXPECT_TRUE(std::filesystem::exists(default_tokenizer_dir({}) + "/tokenizer.json"));
  const auto installed = dir.path() / "prefix" / "share" / "yirage" / "qwen3-tokenizer";
  std::filesystem::create_directories(installed);
  testing::write_bytes((installed / "tokenizer.json").string(), "{}");
  std::filesystem::create_directories(dir.path() / "prefix" / "bin");
  EXPECT_EQ(default_tokenizer_dir({(dir.path() / "prefix" / "bin").string()}),
            std::filesystem::weakly_canonical(installed).string());
}

}  // namespace
}  // namespace yirage::llm
