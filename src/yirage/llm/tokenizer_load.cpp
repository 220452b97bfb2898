// Tokenizer::from_file: reads tokenizer.json (and tokenizer_config.json beside it), checks every
// part against what the byte-level BPE pipeline supports, and compiles it.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <utility>

#include "yirage/core/error.h"
#include "yirage/llm/tokenizer_impl.h"
#include "yirage/llm/tokenizer_json.h"

namespace yirage::llm {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// GPT-2's pre-tokenizer pattern, which a ByteLevel pre-tokenizer with use_regex applies.
constexpr char kByteLevelPattern[] =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// "'FILE': PATH", the start of a message about PATH in FILE.
std::string located(const std::string& file, const std::string& path) {
  std::string text;
  text.reserve(file.size() + path.size() + 4);
  text.append(1, '\'').append(file).append("'");
  if (!path.empty()) text.append(": ").append(path);
  return text;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  YR_USER_CHECK(in, "cannot read the tokenizer file '" << path.string() << "'");
  std::string contents;
  in.seekg(0, std::ios::end);
  contents.resize(static_cast<std::size_t>(in.tellg()));
  in.seekg(0, std::ios::beg);
  in.read(contents.data(), static_cast<std::streamsize>(contents.size()));
  YR_USER_CHECK(in, "cannot read the tokenizer file '" << path.string() << "'");
  return contents;
}

json parse_json(const fs::path& path) {
  const std::string contents = read_file(path);
  try {
    return json::parse(contents);
  } catch (const json::parse_error& error) {
    YR_USER_ERROR("'" << path.string() << "' is not valid JSON (" << error.what() << ")");
  }
}

// Reads the parts of one JSON document, naming the file and the key in every complaint.
class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  const std::string& file() const { return file_; }

  [[noreturn]] void fail(const std::string& key, const std::string& problem) const {
    YR_USER_ERROR("'" << file_ << "': " << key << " " << problem);
  }

  const json& member(const json& object, const std::string& key, const std::string& path) const {
    const auto found = object.find(key);
    if (found == object.end()) fail(path, "is missing");
    return *found;
  }

  const json& object(const json& value, const std::string& path) const {
    if (!value.is_object()) fail(path, "is " + kind(value) + "; expected an object");
    return value;
  }

  const json& array(const json& value, const std::string& path) const {
    if (!value.is_array()) fail(path, "is " + kind(value) + "; expected an array");
    return value;
  }

  const std::string& string(const json& value, const std::string& path) const {
    if (!value.is_string()) fail(path, "is " + kind(value) + "; expected a string");
    return value.get_ref<const std::string&>();
  }

  int64_t integer(const json& value, const std::string& path) const {
    if (!value.is_number_integer()) fail(path, "is " + kind(value) + "; expected an integer");
    return value.get<int64_t>();
  }

  // An optional boolean member (absent or null: `fallback`).
  bool flag(const json& object, const std::string& key, const std::string& path,
            bool fallback) const {
    const auto found = object.find(key);
    if (found == object.end() || found->is_null()) return fallback;
    if (!found->is_boolean()) fail(path + "." + key, "is " + kind(*found) + "; expected a boolean");
    return found->get<bool>();
  }

  // The "type" of a component.
  const std::string& type(const json& value, const std::string& path) const {
    return string(member(object(value, path), "type", path + ".type"), path + ".type");
  }

  [[noreturn]] void unsupported(const std::string& path, const std::string& type,
                                const std::string& expected) const {
    fail(path, "has the type '" + type + "', which is not supported; expected " + expected);
  }

 private:
  static std::string kind(const json& value) {
    switch (value.type()) {
      case json::value_t::null:
        return "null";
      case json::value_t::object:
        return "an object";
      case json::value_t::array:
        return "an array";
      case json::value_t::string:
        return "a string";
      case json::value_t::boolean:
        return "a boolean";
      case json::value_t::number_float:
        return "a number";
      default:
        return "an integer";
    }
  }

  std::string file_;
};

std::vector<text::NormalForm> read_normalizer(const Reader& reader, const json& value,
                                              const std::string& path) {
  if (value.is_null()) return {};
  const std::string& type = reader.type(value, path);
  if (type == "Sequence") {
    std::vector<text::NormalForm> forms;
    const json& list = reader.array(reader.member(value, "normalizers", path + ".normalizers"),
                                    path + ".normalizers");
    for (std::size_t i = 0; i < list.size(); ++i) {
      for (text::NormalForm form :
           read_normalizer(reader, list[i], path + ".normalizers[" + std::to_string(i) + "]")) {
        forms.push_back(form);
      }
    }
    return forms;
  }
  if (type == "NFC") return {text::NormalForm::NFC};
  if (type == "NFD") return {text::NormalForm::NFD};
  if (type == "NFKC") return {text::NormalForm::NFKC};
  if (type == "NFKD") return {text::NormalForm::NFKD};
  reader.unsupported(path, type, "NFC, NFD, NFKC, NFKD or a Sequence of them");
}

SplitBehavior read_behavior(const Reader& reader, const json& value, const std::string& path) {
  const std::string& name = reader.string(value, path);
  if (name == "Removed") return SplitBehavior::Removed;
  if (name == "Isolated") return SplitBehavior::Isolated;
  if (name == "MergedWithPrevious") return SplitBehavior::MergedWithPrevious;
  if (name == "MergedWithNext") return SplitBehavior::MergedWithNext;
  if (name == "Contiguous") return SplitBehavior::Contiguous;
  reader.fail(path, "is '" + name +
                        "'; expected Removed, Isolated, MergedWithPrevious, MergedWithNext or "
                        "Contiguous");
}

// Appends the steps of `value`; returns true once the ByteLevel step has been read (it has to
// come last, since the BPE model works on the bytes it maps).
bool read_pre_tokenizer(const Reader& reader, const json& value, const std::string& path,
                        std::vector<PreTokenizerStep>& steps) {
  const std::string& type = reader.type(value, path);
  if (type == "Sequence") {
    const json& list = reader.array(reader.member(value, "pretokenizers", path + ".pretokenizers"),
                                    path + ".pretokenizers");
    for (std::size_t i = 0; i < list.size(); ++i) {
      const std::string item = path + ".pretokenizers[" + std::to_string(i) + "]";
      if (read_pre_tokenizer(reader, list[i], item, steps)) {
        if (i + 1 != list.size()) {
          reader.fail(item, "is a ByteLevel step before other steps; expected it last");
        }
        return true;
      }
    }
    return false;
  }
  if (type == "Split") {
    const json& pattern =
        reader.object(reader.member(value, "pattern", path + ".pattern"), path + ".pattern");
    PreTokenizerStep step;
    if (const auto regex = pattern.find("Regex"); regex != pattern.end()) {
      step.regex = std::make_shared<SplitRegex>(reader.string(*regex, path + ".pattern.Regex"),
                                                false, located(reader.file(), path));
    } else if (const auto literal = pattern.find("String"); literal != pattern.end()) {
      step.regex = std::make_shared<SplitRegex>(reader.string(*literal, path + ".pattern.String"),
                                                true, located(reader.file(), path));
    } else {
      reader.fail(path + ".pattern", "has neither Regex nor String");
    }
    step.behavior = read_behavior(reader, reader.member(value, "behavior", path + ".behavior"),
                                  path + ".behavior");
    step.invert = reader.flag(value, "invert", path, false);
    steps.push_back(std::move(step));
    return false;
  }
  if (type == "ByteLevel") {
    if (reader.flag(value, "add_prefix_space", path, true)) {
      PreTokenizerStep step;
      step.kind = PreTokenizerStep::Kind::PrefixSpace;
      steps.push_back(std::move(step));
    }
    if (reader.flag(value, "use_regex", path, true)) {
      PreTokenizerStep step;
      step.regex =
          std::make_shared<SplitRegex>(kByteLevelPattern, false, located(reader.file(), path));
      steps.push_back(std::move(step));
    }
    return true;
  }
  reader.unsupported(path, type, "Sequence, Split or ByteLevel");
}

std::unique_ptr<BpeModel> read_model(const Reader& reader, TokenizerDocument& document) {
  const json& model = reader.object(reader.member(document.tree, "model", "model"), "model");
  if (const auto type = model.find("type"); type != model.end()) {
    const std::string& name = reader.string(*type, "model.type");
    if (name != "BPE") reader.unsupported("model", name, "BPE");
  }
  // The parser hands vocab and merges over as lists when they have the right shape; otherwise
  // they stay in the tree, and the checks below say what is wrong with them.
  BpeSpec spec;
  if (document.vocab) {
    spec.vocab = std::move(*document.vocab);
  } else {
    reader.object(reader.member(model, "vocab", "model.vocab"), "model.vocab");
  }
  if (document.merges) {
    spec.merges = std::move(*document.merges);
  } else {
    reader.array(reader.member(model, "merges", "model.merges"), "model.merges");
  }
  if (const auto dropout = model.find("dropout");
      dropout != model.end() && !dropout->is_null() &&
      !(dropout->is_number() && dropout->get<double>() == 0.0)) {
    reader.fail("model.dropout", "is " + dropout->dump() +
                                     "; BPE dropout is random and not supported (expected null)");
  }
  for (const char* affix : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    const auto found = model.find(affix);
    if (found != model.end() && !found->is_null() &&
        !reader.string(*found, std::string("model.") + affix).empty()) {
      reader.fail(std::string("model.") + affix,
                  "is " + found->dump() + "; byte-level BPE expects it empty or null");
    }
  }
  if (reader.flag(model, "byte_fallback", "model", false)) {
    reader.fail("model.byte_fallback", "is true; byte-level BPE expects false");
  }
  if (const auto unk = model.find("unk_token"); unk != model.end() && !unk->is_null()) {
    spec.unk_token = reader.string(*unk, "model.unk_token");
  }
  spec.fuse_unk = reader.flag(model, "fuse_unk", "model", false);
  spec.ignore_merges = reader.flag(model, "ignore_merges", "model", false);
  return std::make_unique<BpeModel>(std::move(spec), located(reader.file(), ""));
}

std::vector<AddedToken> read_added_tokens(const Reader& reader, const json& root) {
  std::vector<AddedToken> tokens;
  const auto found = root.find("added_tokens");
  if (found == root.end() || found->is_null()) return tokens;
  const json& list = reader.array(*found, "added_tokens");
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string path = "added_tokens[" + std::to_string(i) + "]";
    const json& entry = reader.object(list[i], path);
    AddedToken token;
    token.id = reader.integer(reader.member(entry, "id", path + ".id"), path + ".id");
    if (token.id < 0 || token.id >= (int64_t{1} << 31)) {
      reader.fail(path + ".id", "is " + std::to_string(token.id) + "; expected [0, 2^31)");
    }
    token.content =
        reader.string(reader.member(entry, "content", path + ".content"), path + ".content");
    token.special = reader.flag(entry, "special", path, false);
    token.single_word = reader.flag(entry, "single_word", path, false);
    token.lstrip = reader.flag(entry, "lstrip", path, false);
    token.rstrip = reader.flag(entry, "rstrip", path, false);
    token.normalized = reader.flag(entry, "normalized", path, !token.special);
    tokens.push_back(std::move(token));
  }
  return tokens;
}

void check_post_processor_and_decoder(const Reader& reader, const json& root) {
  if (const auto post = root.find("post_processor"); post != root.end() && !post->is_null()) {
    const std::string& type = reader.type(*post, "post_processor");
    if (type != "ByteLevel") reader.unsupported("post_processor", type, "ByteLevel or null");
  }
  const auto decoder = root.find("decoder");
  if (decoder == root.end() || decoder->is_null()) {
    reader.fail("decoder", "is missing; expected a ByteLevel decoder");
  }
  const std::string& type = reader.type(*decoder, "decoder");
  if (type != "ByteLevel") reader.unsupported("decoder", type, "ByteLevel");
}

// The chat template of tokenizer_config.json: a string, or a list of named templates of which
// "default" is the one.
std::string read_chat_template(const fs::path& path) {
  if (!fs::exists(path)) return {};
  const json config = parse_json(path);
  const Reader reader(path.string());
  reader.object(config, "the document");
  const auto found = config.find("chat_template");
  if (found == config.end() || found->is_null()) return {};
  if (found->is_string()) return found->get<std::string>();
  const json& list = reader.array(*found, "chat_template");
  for (const json& entry : list) {
    if (entry.is_object() && entry.value("name", "") == "default" && entry.contains("template")) {
      return reader.string(entry["template"], "chat_template[default].template");
    }
  }
  reader.fail("chat_template", "has no template named 'default'");
}

}  // namespace

std::shared_ptr<const Tokenizer> Tokenizer::from_file(const std::string& path) {
  fs::path file(path);
  std::error_code error;
  YR_USER_CHECK(fs::exists(file, error),
                "the tokenizer path '" << path
                                       << "' does not exist; expected a tokenizer.json file or "
                                          "a model directory holding one");
  if (fs::is_directory(file, error)) {
    file /= "tokenizer.json";
    YR_USER_CHECK(fs::exists(file, error), "the directory '"
                                               << path
                                               << "' has no tokenizer.json; expected a Hugging "
                                                  "Face model directory or a tokenizer.json file");
  }
  TokenizerDocument document = parse_tokenizer_json(read_file(file), file.string());
  const json& root = document.tree;
  const Reader reader(file.string());
  reader.object(root, "the document");

  TokenizerParts parts;
  parts.source = file.string();
  try {
    parts.model = read_model(reader, document);
    if (const auto normalizer = root.find("normalizer"); normalizer != root.end()) {
      parts.normalizer = read_normalizer(reader, *normalizer, "normalizer");
    }
    const auto pre = root.find("pre_tokenizer");
    if (pre == root.end() || pre->is_null() ||
        !read_pre_tokenizer(reader, *pre, "pre_tokenizer", parts.pre_tokenizer)) {
      reader.fail("pre_tokenizer",
                  "has no ByteLevel step; expected byte-level BPE (a ByteLevel pre-tokenizer, "
                  "alone or last in a Sequence)");
    }
    check_post_processor_and_decoder(reader, root);
    parts.added_tokens = read_added_tokens(reader, root);
  } catch (const json::exception& e) {
    YR_USER_ERROR("'" << file.string() << "' is not a tokenizer.json as expected (" << e.what()
                      << ")");
  }
  parts.chat_template = read_chat_template(file.parent_path() / "tokenizer_config.json");
  return std::make_shared<BpeTokenizer>(std::move(parts));
}

}  // namespace yirage::llm
