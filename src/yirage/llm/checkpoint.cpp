// Opening a Hugging Face checkpoint directory: config, generation defaults, mapped weights.
#include "yirage/llm/checkpoint.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "yirage/core/error.h"

namespace yirage::llm {

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

constexpr const char* kSingleFile = "model.safetensors";
constexpr const char* kIndexFile = "model.safetensors.index.json";

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  YR_USER_CHECK(in.good(), path.string() << ": cannot read the file");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

Json parse_json(const std::string& text, const std::string& origin) {
  try {
    return Json::parse(text);
  } catch (const nlohmann::json::exception& error) {
    YR_USER_ERROR(origin << ": not valid JSON: " << error.what());
  }
}

// The shard files named by model.safetensors.index.json, by tensor name.
std::map<std::string, std::string> read_weight_map(const fs::path& index_path) {
  const std::string origin = index_path.string();
  const Json index = parse_json(read_text(index_path), origin);
  YR_USER_CHECK(
      index.is_object() && index.contains("weight_map") && index["weight_map"].is_object(),
      origin << ": expected an object with a 'weight_map' object (tensor name -> "
                "shard file)");
  std::map<std::string, std::string> weight_map;
  for (const auto& [name, file] : index["weight_map"].items()) {
    YR_USER_CHECK(file.is_string(), origin << ": weight_map entry '" << name
                                           << "' must name a file; got " << file.dump());
    const std::string shard = file.get<std::string>();
    const fs::path relative(shard);
    bool inside = !shard.empty() && relative.is_relative();
    for (const fs::path& part : relative) inside = inside && part != "..";
    YR_USER_CHECK(inside, origin << ": weight_map entry '" << name << "' names '" << shard
                                 << "'; expected a file inside the checkpoint directory");
    weight_map[name] = shard;
  }
  return weight_map;
}

}  // namespace

GenerationDefaults parse_generation_config(const std::string& text, const std::string& origin) {
  const Json config = parse_json(text, origin);
  YR_USER_CHECK(config.is_object(), origin << ": expected a JSON object");
  GenerationDefaults defaults;
  if (config.contains("temperature") && !config["temperature"].is_null()) {
    const Json& value = config["temperature"];
    YR_USER_CHECK(
        value.is_number() && std::isfinite(value.get<double>()) && value.get<double>() >= 0,
        origin << ": 'temperature' must be a number >= 0; got " << value.dump());
    defaults.temperature = value.get<double>();
  }
  if (config.contains("top_k") && !config["top_k"].is_null()) {
    const Json& value = config["top_k"];
    YR_USER_CHECK(value.is_number_integer() && value.get<int64_t>() >= 0,
                  origin << ": 'top_k' must be an integer >= 0; got " << value.dump());
    defaults.top_k = value.get<int64_t>();
  }
  if (config.contains("top_p") && !config["top_p"].is_null()) {
    const Json& value = config["top_p"];
    YR_USER_CHECK(value.is_number() && value.get<double>() > 0 && value.get<double>() <= 1,
                  origin << ": 'top_p' must be a number in (0, 1]; got " << value.dump());
    defaults.top_p = value.get<double>();
  }
  if (config.contains("eos_token_id") && !config["eos_token_id"].is_null()) {
    const Json& eos = config["eos_token_id"];
    const Json ids = eos.is_array() ? eos : Json::array({eos});
    for (const Json& id : ids) {
      YR_USER_CHECK(id.is_number_integer() && id.get<int64_t>() >= 0,
                    origin << ": 'eos_token_id' must hold token ids >= 0; got " << eos.dump());
      defaults.eos_token_ids.push_back(id.get<int64_t>());
    }
  }
  if (config.contains("do_sample") && !config["do_sample"].is_null()) {
    YR_USER_CHECK(
        config["do_sample"].is_boolean(),
        origin << ": 'do_sample' must be true or false; got " << config["do_sample"].dump());
    if (!config["do_sample"].get<bool>()) defaults.temperature = 0.0;
  }
  return defaults;
}

std::vector<std::pair<std::string, core::Shape>> qwen3_weight_shapes(const Qwen3Config& config) {
  const int64_t hidden = config.hidden_size;
  const int64_t q_width = config.num_attention_heads * config.head_dim;
  const int64_t kv_width = config.num_key_value_heads * config.head_dim;
  const int64_t inter = config.intermediate_size;
  std::vector<std::pair<std::string, core::Shape>> shapes;
  shapes.emplace_back("model.embed_tokens.weight", core::Shape{config.vocab_size, hidden});
  for (int64_t layer = 0; layer < config.num_hidden_layers; ++layer) {
    const std::string prefix = "model.layers." + std::to_string(layer) + ".";
    shapes.emplace_back(prefix + "input_layernorm.weight", core::Shape{hidden});
    shapes.emplace_back(prefix + "self_attn.q_proj.weight", core::Shape{q_width, hidden});
    shapes.emplace_back(prefix + "self_attn.k_proj.weight", core::Shape{kv_width, hidden});
    shapes.emplace_back(prefix + "self_attn.v_proj.weight", core::Shape{kv_width, hidden});
    shapes.emplace_back(prefix + "self_attn.q_norm.weight", core::Shape{config.head_dim});
    shapes.emplace_back(prefix + "self_attn.k_norm.weight", core::Shape{config.head_dim});
    shapes.emplace_back(prefix + "self_attn.o_proj.weight", core::Shape{hidden, q_width});
    shapes.emplace_back(prefix + "post_attention_layernorm.weight", core::Shape{hidden});
    shapes.emplace_back(prefix + "mlp.gate_proj.weight", core::Shape{inter, hidden});
    shapes.emplace_back(prefix + "mlp.up_proj.weight", core::Shape{inter, hidden});
    shapes.emplace_back(prefix + "mlp.down_proj.weight", core::Shape{hidden, inter});
  }
  shapes.emplace_back("model.norm.weight", core::Shape{hidden});
  if (!config.tie_word_embeddings) {
    shapes.emplace_back("lm_head.weight", core::Shape{config.vocab_size, hidden});
  }
  return shapes;
}

Checkpoint Checkpoint::open(const std::string& dir) {
  const fs::path root(dir);
  std::error_code error;
  YR_USER_CHECK(fs::is_directory(root, error),
                dir << ": not a checkpoint directory (it does not exist or is not a directory)");
  Checkpoint checkpoint;
  checkpoint.dir_ = dir;
  const fs::path config_path = root / "config.json";
  YR_USER_CHECK(fs::is_regular_file(config_path, error),
                dir << ": no config.json; a checkpoint directory holds config.json, " << kSingleFile
                    << " (or " << kIndexFile << " and its shards) and "
                    << "tokenizer.json");
  checkpoint.config_ = Qwen3Config::from_file(config_path.string());
  const fs::path generation_path = root / "generation_config.json";
  if (fs::is_regular_file(generation_path, error)) {
    checkpoint.generation_ =
        parse_generation_config(read_text(generation_path), generation_path.string());
  }

  // Every tensor, mapped to the (shared) file that holds it.
  const fs::path index_path = root / kIndexFile;
  const fs::path single_path = root / kSingleFile;
  if (fs::is_regular_file(index_path, error)) {
    std::map<std::string, std::shared_ptr<SafetensorsFile>> shards;
    for (const auto& [name, shard] : read_weight_map(index_path)) {
      std::shared_ptr<SafetensorsFile>& file = shards[shard];
      if (file == nullptr) {
        const fs::path shard_path = root / shard;
        YR_USER_CHECK(fs::is_regular_file(shard_path, error),
                      index_path.string() << ": shard '" << shard << "' of tensor '" << name
                                          << "' is missing from " << dir);
        file = SafetensorsFile::open(shard_path.string());
      }
      YR_USER_CHECK(file->contains(name), index_path.string()
                                              << ": tensor '" << name << "' is mapped to '" << shard
                                              << "', which does not hold it");
      checkpoint.files_by_tensor_[name] = file;
    }
  } else if (fs::is_regular_file(single_path, error)) {
    const std::shared_ptr<SafetensorsFile> file = SafetensorsFile::open(single_path.string());
    for (const SafetensorsEntry& entry : file->entries()) {
      checkpoint.files_by_tensor_[entry.name] = file;
    }
  } else {
    YR_USER_ERROR(dir << ": no weights: expected " << kSingleFile << " or " << kIndexFile);
  }

  for (const auto& [name, shape] : qwen3_weight_shapes(checkpoint.config_)) {
    const auto found = checkpoint.files_by_tensor_.find(name);
    YR_USER_CHECK(found != checkpoint.files_by_tensor_.end(),
                  dir << ": weight '" << name << "' (shape " << core::shape_to_string(shape)
                      << ") is missing from the checkpoint");
    const SafetensorsFile& file = *found->second;
    for (const SafetensorsEntry& entry : file.entries()) {
      if (entry.name != name) continue;
      YR_USER_CHECK(entry.shape == shape, file.path() << ": tensor '" << name << "' has shape "
                                                      << core::shape_to_string(entry.shape)
                                                      << "; config.json implies "
                                                      << core::shape_to_string(shape));
    }
  }
  if (checkpoint.config_.tie_word_embeddings && checkpoint.has_weight("lm_head.weight")) {
    const core::Shape expected{checkpoint.config_.vocab_size, checkpoint.config_.hidden_size};
    const core::Tensor head = checkpoint.weight("lm_head.weight");
    YR_USER_CHECK(head.shape() == expected, dir << ": tensor 'lm_head.weight' has shape "
                                                << core::shape_to_string(head.shape())
                                                << "; config.json implies "
                                                << core::shape_to_string(expected));
  }
  return checkpoint;
}

core::Tensor Checkpoint::weight(const std::string& name) const {
  const auto found = files_by_tensor_.find(name);
  YR_USER_CHECK(found != files_by_tensor_.end(),
                dir_ << ": the checkpoint holds no weight named '" << name << "'");
  return found->second->tensor(name);
}

bool Checkpoint::has_weight(const std::string& name) const {
  return files_by_tensor_.count(name) != 0;
}

std::string Checkpoint::tokenizer_path() const {
  const fs::path path = fs::path(dir_) / "tokenizer.json";
  std::error_code error;
  YR_USER_CHECK(fs::is_regular_file(path, error),
                dir_ << ": no tokenizer.json in the checkpoint directory");
  return path.string();
}

}  // namespace yirage::llm
