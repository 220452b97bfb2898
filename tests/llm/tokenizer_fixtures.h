// Shared by the tokenizer tests: the Qwen3 tokenizer files of the repository, loaded once, and
// the conformance fixture that tests/llm/tokenizer_corpus.py writes.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "llm/temp_dir.h"
#include "yirage/llm/tokenizer.h"
#include "yirage/llm/tokenizer_bpe.h"
#include "yirage/llm/tokenizer_text.h"

namespace yirage::testing {

/// The repository's root (YIRAGE_SOURCE_DIR, set by tests/CMakeLists.txt).
inline std::filesystem::path repo_root() {
  return std::filesystem::path(YIRAGE_SOURCE_DIR);
}

/// models/qwen3-tokenizer.
inline std::string qwen3_tokenizer_dir() {
  return (repo_root() / "models" / "qwen3-tokenizer").string();
}

/// The Qwen3 tokenizer, loaded on first use and shared by every test.
inline const std::shared_ptr<const llm::Tokenizer>& qwen3_tokenizer() {
  static const std::shared_ptr<const llm::Tokenizer> tokenizer =
      llm::Tokenizer::from_file(qwen3_tokenizer_dir());
  return tokenizer;
}

/// tests/fixtures/llm/qwen3_tokenizer_corpus.json, parsed once.
inline const nlohmann::json& tokenizer_fixture() {
  static const nlohmann::json fixture = [] {
    std::ifstream in(repo_root() / "tests" / "fixtures" / "llm" / "qwen3_tokenizer_corpus.json");
    return nlohmann::json::parse(in);
  }();
  return fixture;
}

/// A small byte-level BPE tokenizer.json in Qwen3's layout: the 256 byte tokens, the merges
/// "h e", "l l", "he ll", "hell o" and the special token <|end|>.
inline nlohmann::json tiny_tokenizer_json() {
  nlohmann::json vocab = nlohmann::json::object();
  for (unsigned byte = 0; byte < 256; ++byte) {
    std::string token;
    llm::text::append_utf8(token, llm::byte_to_char(static_cast<unsigned char>(byte)));
    vocab[token] = byte;
  }
  vocab["he"] = 256;
  vocab["ll"] = 257;
  vocab["hell"] = 258;
  vocab["hello"] = 259;
  const nlohmann::json byte_level = {{"type", "ByteLevel"},
                                     {"add_prefix_space", false},
                                     {"trim_offsets", false},
                                     {"use_regex", false}};
  return {
      {"version", "1.0"},
      {"added_tokens", nlohmann::json::array({{{"id", 260},
                                               {"content", "<|end|>"},
                                               {"single_word", false},
                                               {"lstrip", false},
                                               {"rstrip", false},
                                               {"normalized", false},
                                               {"special", true}}})},
      {"normalizer", {{"type", "NFC"}}},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers", nlohmann::json::array({{{"type", "Split"},
                                                  {"pattern", {{"Regex", "\\s+|\\w+|[^\\s\\w]+"}}},
                                                  {"behavior", "Isolated"},
                                                  {"invert", false}},
                                                 byte_level})}}},
      {"post_processor", byte_level},
      {"decoder", byte_level},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", nullptr},
        {"fuse_unk", false},
        {"byte_fallback", false},
        {"vocab", vocab},
        {"merges",
         nlohmann::json::array(
             {nlohmann::json::array({"h", "e"}), nlohmann::json::array({"l", "l"}),
              nlohmann::json::array({"he", "ll"}), nlohmann::json::array({"hell", "o"})})}}}};
}

/// Writes `contents` to `name` inside `dir` and returns the file's path.
inline std::string write_file(const TempDir& dir, const std::string& name,
                              const std::string& contents) {
  const std::string path = dir.file(name);
  write_bytes(path, contents);
  return path;
}

}  // namespace yirage::testing
