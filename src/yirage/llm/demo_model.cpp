// Demo checkpoints: Qwen3-architecture models with deterministic pseudo-random weights.
//
// Element i of weight t (its position in qwen3_weight_shapes) is a hash of (t, i) mapped to a
// uniform value in (-1, 1), multiplied by the weight's amplitude (plus an exact offset for norms)
// in double and rounded once to bfloat16, then stored in the requested dtype. Integer hashing and
// correctly rounded IEEE arithmetic give the same bytes on every machine, and the bf16, f16 and
// f32 files of a preset hold the same values (float16 rounds only magnitudes below 2^-17).
//
// Scales keep activations finite in bfloat16 over many layers and make every layer count:
// projections are uniform in +-sqrt(3/fan_in) (variance preserving), norm weights lie in
// [0.75, 1.25], and the tied embedding has variance 4/hidden, small beside what the layers add to
// the residual stream (so the model does not just echo its input token) while the logits of a
// normalised hidden state have a standard deviation near 2.
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <vector>

#include "yirage/core/error.h"
#include "yirage/core/hash.h"
#include "yirage/core/thread_pool.h"
#include "yirage/llm/checkpoint.h"
#include "yirage/llm/demo_weights.h"

namespace yirage::llm {

namespace {

namespace fs = std::filesystem;

// Qwen3's special token ids: <|endoftext|> and <|im_end|>.
constexpr int64_t kEndOfText = 151643;
constexpr int64_t kImEnd = 151645;
// The vocabulary (embedding rows) of every Qwen3 model, the tokenizer's ids and padding.
constexpr int64_t kQwen3Vocab = 151936;

using core::mix64;

// How the uniform values of a weight are scaled: amplitude and offset.
struct WeightScale {
  double amplitude;
  double offset;
};

WeightScale scale_of(const std::string& name, const core::Shape& shape, const Qwen3Config& config) {
  if (name.ends_with("norm.weight")) return {0.25, 1.0};
  if (name == "model.embed_tokens.weight" || name == "lm_head.weight") {
    return {std::sqrt(12.0 / static_cast<double>(config.hidden_size)), 0.0};
  }
  return {std::sqrt(3.0 / static_cast<double>(shape.back())), 0.0};
}

void copy_into(const fs::path& from, const fs::path& to) {
  std::error_code error;
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, error);
  YR_USER_CHECK(!error, to.string()
                            << ": cannot copy " << from.string() << ": " << error.message());
}

void write_text(const fs::path& path, const std::string& text) {
  const fs::path temporary = path.string() + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    YR_USER_CHECK(out.good(), path.string() << ": cannot write the file");
    out << text;
    out.close();
    YR_USER_CHECK(!out.fail(), path.string() << ": writing failed");
  }
  std::error_code error;
  fs::rename(temporary, path, error);
  YR_USER_CHECK(!error, path.string() << ": cannot write the file: " << error.message());
}

std::string generation_config_json(const Qwen3Config& config) {
  std::string eos;
  for (int64_t id : config.eos_token_ids) eos += (eos.empty() ? "" : ", ") + std::to_string(id);
  // Qwen3's own sampling defaults.
  return "{\n  \"bos_token_id\": " + std::to_string(config.bos_token_id) +
         ",\n  \"do_sample\": true,\n  \"eos_token_id\": [" + eos +
         "],\n  \"pad_token_id\": " + std::to_string(kEndOfText) +
         ",\n  \"temperature\": 0.6,\n  \"top_k\": 20,\n  \"top_p\": 0.95\n}\n";
}

}  // namespace

double demo_uniform(uint64_t tensor, uint64_t element) {
  const uint64_t hash = mix64(mix64(0x9e3779b97f4a7c15ull * (tensor + 1)) + element);
  // 24 bits give 2^24 odd multiples of 2^-24, symmetric around zero, all exact in a double.
  const auto bits = static_cast<int64_t>(hash >> 40);
  return static_cast<double>(2 * bits - (int64_t{1} << 24) + 1) * 0x1p-24;
}

void fill_demo_weight(const Qwen3Config& config, std::size_t index, const std::string& name,
                      const core::Shape& shape, std::span<uint8_t> bytes) {
  const core::DType dtype = config.torch_dtype;
  const std::size_t element_bytes = core::dtype_size(dtype);
  const WeightScale scale = scale_of(name, shape, config);
  const auto count = static_cast<int64_t>(bytes.size() / element_bytes);
  core::ThreadPool::global().parallel_for(count, 1 << 14, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const double value =
          scale.offset + scale.amplitude * demo_uniform(index, static_cast<uint64_t>(i));
      const uint16_t bf16 = core::double_to_bf16(value);
      uint8_t* out = bytes.data() + i * static_cast<int64_t>(element_bytes);
      if (dtype == core::DType::BF16) {
        std::memcpy(out, &bf16, 2);
      } else if (dtype == core::DType::F16) {
        const uint16_t f16 = core::double_to_f16(core::bf16_to_float(bf16));
        std::memcpy(out, &f16, 2);
      } else {
        const float f32 = core::bf16_to_float(bf16);
        std::memcpy(out, &f32, 4);
      }
    }
  });
}

WeightLookup demo_weight_lookup(const Qwen3Config& config) {
  auto shapes = std::make_shared<std::vector<std::pair<std::string, core::Shape>>>(
      qwen3_weight_shapes(config));
  return [config, shapes](const std::string& name) {
    for (std::size_t index = 0; index < shapes->size(); ++index) {
      const auto& [weight, shape] = (*shapes)[index];
      if (weight != name) continue;
      core::Tensor tensor = core::Tensor::empty(shape, config.torch_dtype);
      fill_demo_weight(config, index, name, shape,
                       {static_cast<uint8_t*>(tensor.data()), tensor.nbytes()});
      return tensor;
    }
    return core::Tensor{};
  };
}

Qwen3Config demo_config(DemoPreset preset, core::DType dtype) {
  YR_USER_CHECK(
      dtype == core::DType::BF16 || dtype == core::DType::F16 || dtype == core::DType::F32,
      "demo model dtype " << core::dtype_name(dtype)
                          << " is not supported; expected bfloat16, float16 or float32");
  Qwen3Config config;
  config.vocab_size = kQwen3Vocab;
  config.max_position_embeddings = 40960;
  config.rms_norm_eps = 1e-6;
  config.rope_theta = 1e6;
  config.tie_word_embeddings = true;
  config.torch_dtype = dtype;
  config.bos_token_id = kEndOfText;
  config.eos_token_ids = {kImEnd};
  switch (preset) {
    case DemoPreset::Tiny:
      config.hidden_size = 64;
      config.intermediate_size = 128;
      config.num_hidden_layers = 2;
      config.num_attention_heads = 4;
      config.num_key_value_heads = 2;
      config.head_dim = 16;
      break;
    case DemoPreset::Qwen3_0_6B:
      config.hidden_size = 1024;
      config.intermediate_size = 3072;
      config.num_hidden_layers = 28;
      config.num_attention_heads = 16;
      config.num_key_value_heads = 8;
      config.head_dim = 128;
      break;
    case DemoPreset::Qwen3_8B:
      config.hidden_size = 4096;
      config.intermediate_size = 12288;
      config.num_hidden_layers = 36;
      config.num_attention_heads = 32;
      config.num_key_value_heads = 8;
      config.head_dim = 128;
      config.tie_word_embeddings = false;
      break;
  }
  return config;
}

std::string default_tokenizer_dir(const std::vector<std::string>& anchors) {
  std::error_code error;
  std::vector<fs::path> candidates;
  for (const std::string& anchor : anchors) {
    fs::path dir = fs::weakly_canonical(fs::absolute(anchor, error), error);
    while (!dir.empty()) {
      for (const char* relative :
           {"models/qwen3-tokenizer", "share/yirage/qwen3-tokenizer", "qwen3-tokenizer"}) {
        candidates.push_back(dir / relative);
      }
      if (dir == dir.parent_path()) break;
      dir = dir.parent_path();
    }
  }
#ifdef YIRAGE_SOURCE_DIR
  candidates.push_back(fs::path(YIRAGE_SOURCE_DIR) / "models/qwen3-tokenizer");
#endif
  for (const fs::path& candidate : candidates) {
    if (fs::is_regular_file(candidate / "tokenizer.json", error)) return candidate.string();
  }
  std::string searched;
  for (const std::string& anchor : anchors) searched += (searched.empty() ? "" : ", ") + anchor;
  YR_USER_ERROR(
      "cannot find the Qwen3 tokenizer files (models/qwen3-tokenizer or "
      "share/yirage/qwen3-tokenizer above "
      << (searched.empty() ? std::string("nothing") : searched)
      << ", nor in the source tree); pass the directory holding tokenizer.json");
}

DemoPreset parse_demo_preset(const std::string& name) {
  if (name == "tiny") return DemoPreset::Tiny;
  if (name == "qwen3-0.6b-shape") return DemoPreset::Qwen3_0_6B;
  if (name == "qwen3-8b-shape") return DemoPreset::Qwen3_8B;
  YR_USER_ERROR("unknown demo preset '" << name
                                        << "'; expected tiny, qwen3-0.6b-shape or qwen3-8b-shape");
}

void write_demo_model(const std::string& dir, DemoPreset preset, const std::string& tokenizer_dir,
                      core::DType dtype) {
  const Qwen3Config config = demo_config(preset, dtype);
  const fs::path tokenizer_json = fs::path(tokenizer_dir) / "tokenizer.json";
  std::error_code error;
  YR_USER_CHECK(fs::is_regular_file(tokenizer_json, error),
                tokenizer_dir << ": no tokenizer.json (expected a directory holding the Qwen3 "
                                 "tokenizer files, such as models/qwen3-tokenizer)");
  fs::create_directories(dir, error);
  YR_USER_CHECK(!error && fs::is_directory(dir),
                dir << ": cannot create the directory: " << error.message());
  const fs::path root(dir);

  const auto shapes = qwen3_weight_shapes(config);
  std::vector<TensorSpec> specs;
  for (const auto& [name, shape] : shapes) specs.push_back({name, dtype, shape});
  write_safetensors_streamed((root / "model.safetensors").string(), specs,
                             [&](std::size_t index, std::span<uint8_t> bytes) {
                               fill_demo_weight(config, index, shapes[index].first,
                                                shapes[index].second, bytes);
                             },
                             {{"format", "pt"}});

  write_text(root / "config.json", config.to_json());
  write_text(root / "generation_config.json", generation_config_json(config));
  copy_into(tokenizer_json, root / "tokenizer.json");
  const fs::path tokenizer_config = fs::path(tokenizer_dir) / "tokenizer_config.json";
  if (fs::is_regular_file(tokenizer_config, error)) {
    copy_into(tokenizer_config, root / "tokenizer_config.json");
  }
}

}  // namespace yirage::llm
