// Parsing tokenizer.json (internal): one pass over the text that hands model.vocab and
// model.merges over as plain lists (the bulk of the file) and keeps the rest as a JSON tree.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace yirage::llm {

/// tokenizer.json, parsed.
struct TokenizerDocument {
  /// Everything but model.vocab and model.merges when those had the expected shape.
  nlohmann::json tree;
  /// model.vocab as (token, id) in file order, when it was an object of integers.
  std::optional<std::vector<std::pair<std::string, int64_t>>> vocab;
  /// model.merges as (left, right) in rank order, when it was an array of "left right" strings
  /// or of string pairs.
  std::optional<std::vector<std::pair<std::string, std::string>>> merges;
};

/// Parses `text`, the contents of the file `file`. UserError naming the file when it is not
/// JSON, or names the entry of model.vocab or model.merges that is malformed.
TokenizerDocument parse_tokenizer_json(const std::string& text, const std::string& file);

}  // namespace yirage::llm
