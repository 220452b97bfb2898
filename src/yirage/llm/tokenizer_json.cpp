// tokenizer.json in one SAX pass: model.vocab and model.merges (hundreds of thousands of
// entries) go straight into lists, everything else into a small JSON tree. Building a tree for
// the whole file would take most of the load time.
#include "yirage/llm/tokenizer_json.h"

#include <limits>

#include "yirage/core/error.h"

namespace yirage::llm {

namespace {

using nlohmann::json;

class DocumentBuilder {
 public:
  explicit DocumentBuilder(TokenizerDocument& document) : document_(document) {}

  bool null() { return scalar(json(nullptr), "null"); }
  bool boolean(bool value) { return scalar(json(value), "a boolean"); }
  bool number_integer(json::number_integer_t value) { return integer(value); }
  bool number_unsigned(json::number_unsigned_t value) {
    if (value > static_cast<json::number_unsigned_t>(std::numeric_limits<int64_t>::max())) {
      return scalar(json(value), "an integer out of range");
    }
    return integer(static_cast<int64_t>(value));
  }
  bool number_float(json::number_float_t value, const json::string_t&) {
    return scalar(json(value), "a number");
  }
  bool binary(json::binary_t&) { return fail("the document holds binary data"); }

  bool string(json::string_t& value) {
    switch (mode()) {
      case Mode::Vocab:
        return fail("model.vocab[\"" + key_ + "\"] is a string; expected an integer id");
      case Mode::Merges: {  // the older form: "left right"
        const std::size_t space = value.find(' ');
        if (space == std::string::npos || value.find(' ', space + 1) != std::string::npos) {
          return fail(merge_path() + " is '" + value +
                      "'; expected two tokens separated by one space");
        }
        document_.merges->emplace_back(value.substr(0, space), value.substr(space + 1));
        return true;
      }
      case Mode::MergePair:
        if (pair_.size() == 2) return fail(merge_path() + " has more than two tokens");
        pair_.push_back(std::move(value));
        return true;
      case Mode::Tree:
        break;
    }
    return insert(json(std::move(value)));
  }

  bool start_object(std::size_t) {
    if (mode() != Mode::Tree) return scalar(json(), "an object");
    if (in_model() && key_ == "vocab") {
      document_.vocab.emplace();
      document_.vocab->reserve(1 << 17);
      stack_.push_back({nullptr, Mode::Vocab, false});
      return true;
    }
    const bool model = stack_.size() == 1 && key_ == "model";
    json* value = open(json::object());
    stack_.push_back({value, Mode::Tree, model});
    return true;
  }

  bool start_array(std::size_t) {
    if (mode() == Mode::Merges) {
      pair_.clear();
      stack_.push_back({nullptr, Mode::MergePair, false});
      return true;
    }
    if (mode() != Mode::Tree) return scalar(json(), "an array");
    if (in_model() && key_ == "merges") {
      document_.merges.emplace();
      document_.merges->reserve(1 << 17);
      stack_.push_back({nullptr, Mode::Merges, false});
      return true;
    }
    json* value = open(json::array());
    stack_.push_back({value, Mode::Tree, false});
    return true;
  }

  bool key(json::string_t& value) {
    key_ = std::move(value);
    return true;
  }

  bool end_object() {
    stack_.pop_back();
    return true;
  }

  bool end_array() {
    if (mode() == Mode::MergePair) {
      if (pair_.size() != 2)
        return fail(merge_path() + " has " + std::to_string(pair_.size()) +
                    " tokens; expected a pair of token strings");
      document_.merges->emplace_back(std::move(pair_[0]), std::move(pair_[1]));
    }
    stack_.pop_back();
    return true;
  }

  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& error) {
    syntax_error_ = true;
    message_ = error.what();
    return false;
  }

  bool syntax_error() const { return syntax_error_; }
  const std::string& message() const { return message_; }

 private:
  enum class Mode { Tree, Vocab, Merges, MergePair };
  struct Frame {
    json* value;  // the container being filled (Tree only)
    Mode mode;
    bool model;  // the top-level "model" object
  };

  Mode mode() const { return stack_.empty() ? Mode::Tree : stack_.back().mode; }
  bool in_model() const { return !stack_.empty() && stack_.back().model; }

  std::string merge_path() const {
    return "model.merges[" + std::to_string(document_.merges->size()) + "]";
  }

  bool fail(std::string message) {
    message_ = std::move(message);
    return false;
  }

  bool integer(int64_t value) {
    if (mode() == Mode::Vocab) {
      document_.vocab->emplace_back(std::move(key_), value);
      return true;
    }
    return scalar(json(value), "an integer");
  }

  // A scalar (or, with a null `value`, a container) where the current mode allows only some.
  bool scalar(json value, const char* what) {
    switch (mode()) {
      case Mode::Vocab:
        return fail("model.vocab[\"" + key_ + "\"] is " + what + "; expected an integer id");
      case Mode::Merges:
      case Mode::MergePair:
        return fail(merge_path() + " holds " + what + "; expected token strings");
      case Mode::Tree:
        break;
    }
    return insert(std::move(value));
  }

  bool insert(json value) {
    open(std::move(value));
    return true;
  }

  // Puts `value` where the parser is (the root, the current key or the end of the current
  // array) and returns where it now lives.
  json* open(json value) {
    if (stack_.empty()) {
      document_.tree = std::move(value);
      return &document_.tree;
    }
    json& parent = *stack_.back().value;
    if (parent.is_object()) {
      json& slot = parent[key_];
      slot = std::move(value);
      return &slot;
    }
    parent.push_back(std::move(value));
    return &parent.back();
  }

  TokenizerDocument& document_;
  std::vector<Frame> stack_;
  std::string key_;
  std::vector<std::string> pair_;
  bool syntax_error_ = false;
  std::string message_;
};

}  // namespace

TokenizerDocument parse_tokenizer_json(const std::string& text, const std::string& file) {
  TokenizerDocument document;
  DocumentBuilder builder(document);
  if (!json::sax_parse(text, &builder)) {
    if (builder.syntax_error()) {
      YR_USER_ERROR("'" << file << "' is not valid JSON (" << builder.message() << ")");
    }
    YR_USER_ERROR("'" << file << "': " << builder.message());
  }
  return document;
}

}  // namespace yirage::llm
