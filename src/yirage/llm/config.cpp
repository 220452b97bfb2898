// Qwen3Config: parsing and validating a Hugging Face config.json, and writing one.
#include "yirage/llm/config.h"

#include <cmath>
#include <fstream>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "yirage/core/error.h"

namespace yirage::llm {

namespace {

using Json = nlohmann::ordered_json;

constexpr const char* kArchitecture = "Qwen3ForCausalLM";

// A required (or, with `fallback`, optional) positive integer.
int64_t positive_int(const Json& config, const char* key, const std::string& origin,
                     std::optional<int64_t> fallback = std::nullopt) {
  if (!config.contains(key) || config[key].is_null()) {
    YR_USER_CHECK(fallback.has_value(),
                  origin << ": missing key '" << key << "' (a positive integer)");
    return *fallback;
  }
  const Json& value = config[key];
  YR_USER_CHECK(value.is_number_integer() && value.get<int64_t>() > 0,
                origin << ": '" << key << "' must be a positive integer; got " << value.dump());
  return value.get<int64_t>();
}

// An optional positive finite number.
double positive_number(const Json& config, const char* key, const std::string& origin,
                       double fallback) {
  if (!config.contains(key) || config[key].is_null()) return fallback;
  const Json& value = config[key];
  YR_USER_CHECK(value.is_number() && std::isfinite(value.get<double>()) && value.get<double>() > 0,
                origin << ": '" << key << "' must be a positive number; got " << value.dump());
  return value.get<double>();
}

// A token id in [0, vocab_size).
int64_t token_id(const Json& value, const char* key, int64_t vocab_size,
                 const std::string& origin) {
  YR_USER_CHECK(
      value.is_number_integer() && value.get<int64_t>() >= 0 && value.get<int64_t>() < vocab_size,
      origin << ": '" << key << "' must hold token ids in [0, " << vocab_size << "); got "
             << value.dump());
  return value.get<int64_t>();
}

// Keys whose presence with anything but the given value means a feature yirage lacks.
void check_unsupported(const Json& config, const std::string& origin) {
  if (config.contains("model_type")) {
    YR_USER_CHECK(config["model_type"] == "qwen3",
                  origin << ": model_type " << config["model_type"].dump()
                         << " is not supported; expected \"qwen3\"");
  }
  if (config.contains("hidden_act")) {
    YR_USER_CHECK(config["hidden_act"] == "silu", origin << ": hidden_act "
                                                         << config["hidden_act"].dump()
                                                         << " is not supported; expected \"silu\"");
  }
  if (config.contains("attention_bias")) {
    YR_USER_CHECK(config["attention_bias"] == false, origin << ": attention_bias "
                                                            << config["attention_bias"].dump()
                                                            << " is not supported; expected false");
  }
  if (config.contains("use_sliding_window")) {
    YR_USER_CHECK(config["use_sliding_window"] == false,
                  origin << ": use_sliding_window " << config["use_sliding_window"].dump()
                         << " is not supported; expected false");
  }
  if (config.contains("rope_scaling") && !config["rope_scaling"].is_null()) {
    const Json& scaling = config["rope_scaling"];
    const bool plain = scaling.is_object() &&
                       ((scaling.contains("rope_type") && scaling["rope_type"] == "default") ||
                        (scaling.contains("type") && scaling["type"] == "default"));
    YR_USER_CHECK(plain, origin << ": rope_scaling " << scaling.dump()
                                << " is not supported; expected null (plain RoPE)");
  }
  YR_USER_CHECK(!config.contains("quantization_config"),
                origin << ": quantized checkpoints (quantization_config) are not supported; "
                          "expected bfloat16, float16 or float32 weights");
}

}  // namespace

Qwen3Config Qwen3Config::from_json(const std::string& text, const std::string& origin) {
  Json config;
  try {
    config = Json::parse(text);
  } catch (const nlohmann::json::exception& error) {
    YR_USER_ERROR(origin << ": not valid JSON: " << error.what());
  }
  YR_USER_CHECK(config.is_object(),
                origin << ": expected a JSON object; got a " << config.type_name());

  YR_USER_CHECK(config.contains("architectures"),
                origin << ": missing key 'architectures' (expected [\"" << kArchitecture << "\"])");
  const Json& architectures = config["architectures"];
  YR_USER_CHECK(
      architectures.is_array() && !architectures.empty(),
      origin << ": 'architectures' must be a non-empty list; got " << architectures.dump());
  bool qwen3 = false;
  for (const Json& name : architectures) qwen3 = qwen3 || name == kArchitecture;
  YR_USER_CHECK(qwen3, origin << ": unsupported architecture " << architectures.dump()
                              << "; yirage runs " << kArchitecture);
  check_unsupported(config, origin);

  Qwen3Config result;
  result.vocab_size = positive_int(config, "vocab_size", origin);
  result.hidden_size = positive_int(config, "hidden_size", origin);
  result.intermediate_size = positive_int(config, "intermediate_size", origin);
  result.num_hidden_layers = positive_int(config, "num_hidden_layers", origin);
  result.num_attention_heads = positive_int(config, "num_attention_heads", origin);
  result.num_key_value_heads = positive_int(config, "num_key_value_heads", origin);
  result.max_position_embeddings = positive_int(config, "max_position_embeddings", origin);
  YR_USER_CHECK(result.num_attention_heads % result.num_key_value_heads == 0,
                origin << ": num_attention_heads (" << result.num_attention_heads
                       << ") must be a multiple of num_key_value_heads ("
                       << result.num_key_value_heads << ")");
  if (!config.contains("head_dim") || config["head_dim"].is_null()) {
    YR_USER_CHECK(result.hidden_size % result.num_attention_heads == 0,
                  origin << ": without 'head_dim', hidden_size (" << result.hidden_size
                         << ") must be a multiple of num_attention_heads ("
                         << result.num_attention_heads << ")");
  }
  result.head_dim =
      positive_int(config, "head_dim", origin, result.hidden_size / result.num_attention_heads);
  YR_USER_CHECK(result.head_dim % 2 == 0,
                origin << ": 'head_dim' must be even for RoPE; got " << result.head_dim);

  result.rms_norm_eps = positive_number(config, "rms_norm_eps", origin, 1e-6);
  // Newer configs nest the RoPE base in rope_parameters; the Qwen3 default base is 10000.
  double theta = 10000.0;
  if (config.contains("rope_parameters") && config["rope_parameters"].is_object()) {
    theta = positive_number(config["rope_parameters"], "rope_theta", origin, theta);
  }
  result.rope_theta = positive_number(config, "rope_theta", origin, theta);

  if (config.contains("tie_word_embeddings")) {
    const Json& tied = config["tie_word_embeddings"];
    YR_USER_CHECK(tied.is_boolean(),
                  origin << ": 'tie_word_embeddings' must be true or false; got " << tied.dump());
    result.tie_word_embeddings = tied.get<bool>();
  }
  for (const char* key : {"torch_dtype", "dtype"}) {
    if (!config.contains(key) || config[key].is_null()) continue;
    const Json& dtype = config[key];
    const std::string name = dtype.is_string() ? dtype.get<std::string>() : dtype.dump();
    YR_USER_CHECK(name == "bfloat16" || name == "float16" || name == "float32",
                  origin << ": '" << key << "' " << dtype.dump()
                         << " is not supported; expected \"bfloat16\", \"float16\" or "
                            "\"float32\"");
    result.torch_dtype = core::parse_dtype(name);
  }
  if (config.contains("bos_token_id") && !config["bos_token_id"].is_null()) {
    result.bos_token_id =
        token_id(config["bos_token_id"], "bos_token_id", result.vocab_size, origin);
  }
  if (config.contains("eos_token_id") && !config["eos_token_id"].is_null()) {
    const Json& eos = config["eos_token_id"];
    if (eos.is_array()) {
      for (const Json& id : eos) {
        result.eos_token_ids.push_back(token_id(id, "eos_token_id", result.vocab_size, origin));
      }
    } else {
      result.eos_token_ids.push_back(token_id(eos, "eos_token_id", result.vocab_size, origin));
    }
  }
  return result;
}

Qwen3Config Qwen3Config::from_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  YR_USER_CHECK(in.good(), path << ": cannot read the model configuration (missing or "
                                   "unreadable config.json)");
  std::ostringstream text;
  text << in.rdbuf();
  return from_json(text.str(), path);
}

std::string Qwen3Config::to_json() const {
  Json config = Json::object();
  config["architectures"] = Json::array({kArchitecture});
  config["model_type"] = "qwen3";
  config["attention_bias"] = false;
  config["attention_dropout"] = 0.0;
  if (bos_token_id >= 0) config["bos_token_id"] = bos_token_id;
  if (eos_token_ids.size() == 1) {
    config["eos_token_id"] = eos_token_ids.front();
  } else if (!eos_token_ids.empty()) {
    config["eos_token_id"] = eos_token_ids;
  }
  config["head_dim"] = head_dim;
  config["hidden_act"] = "silu";
  config["hidden_size"] = hidden_size;
  config["initializer_range"] = 0.02;
  config["intermediate_size"] = intermediate_size;
  config["max_position_embeddings"] = max_position_embeddings;
  config["max_window_layers"] = num_hidden_layers;
  config["num_attention_heads"] = num_attention_heads;
  config["num_hidden_layers"] = num_hidden_layers;
  config["num_key_value_heads"] = num_key_value_heads;
  config["rms_norm_eps"] = rms_norm_eps;
  config["rope_scaling"] = nullptr;
  config["rope_theta"] = rope_theta;
  config["sliding_window"] = nullptr;
  config["tie_word_embeddings"] = tie_word_embeddings;
  config["torch_dtype"] = std::string(core::dtype_name(torch_dtype));
  config["use_cache"] = true;
  config["use_sliding_window"] = false;
  config["vocab_size"] = vocab_size;
  return config.dump(2) + "\n";
}

}  // namespace yirage::llm
