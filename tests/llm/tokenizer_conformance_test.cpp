// The tokenizer against Hugging Face `tokenizers` and the chat template against jinja2: every
// case of the fixture that tests/llm/tokenizer_corpus.py wrote from them.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "llm/tokenizer_fixtures.h"
#include "yirage/core/log.h"
#include "yirage/llm/tokenizer.h"

namespace yirage::llm {
namespace {

using testing::qwen3_tokenizer;
using testing::tokenizer_fixture;

std::string show(const std::vector<int64_t>& ids) {
  std::ostringstream text;
  for (int64_t id : ids) text << id << ' ';
  return text.str();
}

TEST(TokenizerConformance, CorpusMatchesHuggingFace) {
  const auto& cases = tokenizer_fixture().at("cases");
  ASSERT_GE(cases.size(), 1000u);
  const Tokenizer& tokenizer = *qwen3_tokenizer();
  int mismatches = 0;
  for (const auto& entry : cases) {
    const std::string text = entry.at("text").get<std::string>();
    const std::vector<int64_t> expected = entry.at("ids").get<std::vector<int64_t>>();
    const std::vector<int64_t> ids = tokenizer.encode(text);
    if (ids != expected && ++mismatches <= 10) {
      ADD_FAILURE() << "text " << entry.at("text").dump() << "\n  got      " << show(ids)
                    << "\n  expected " << show(expected);
    }
  }
  EXPECT_EQ(mismatches, 0) << "of " << cases.size() << " strings";
}

TEST(TokenizerConformance, DecodeRoundTrips) {
  // Decoding gives the text back, normalised (NFC) where the text was not.
  const Tokenizer& tokenizer = *qwen3_tokenizer();
  int checked = 0;
  for (const auto& entry : tokenizer_fixture().at("cases")) {
    const std::vector<int64_t> ids = entry.at("ids").get<std::vector<int64_t>>();
    const std::string expected = entry.value("decoded", entry.at("text").get<std::string>());
    ASSERT_EQ(tokenizer.decode(ids), expected) << entry.at("text").dump();
    ASSERT_EQ(tokenizer.encode(tokenizer.decode(ids)), ids) << entry.at("text").dump();
    ++checked;
  }
  EXPECT_GE(checked, 1000);
}

TEST(TokenizerConformance, AddedTokenFlagsMatchHuggingFace) {
  // Qwen3's tokenizer.json with other added tokens: single_word, lstrip, rstrip, normalized.
  std::string document;
  {
    std::ifstream in(testing::repo_root() / "models" / "qwen3-tokenizer" / "tokenizer.json");
    document.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const std::size_t begin = document.find("\"added_tokens\"");
  const std::size_t end = document.find("\"normalizer\"", begin);
  ASSERT_NE(end, std::string::npos);
  document.replace(begin, end - begin,
                   "\"added_tokens\": " + tokenizer_fixture().at("added_tokens").dump() + ",\n");
  testing::TempDir dir;
  // Tokens already in the vocabulary take their vocabulary ids, with a warning (as in
  // `tokenizers`), which this test expects and keeps out of its output.
  const core::LogLevel level = core::log_level();
  core::set_log_level(core::LogLevel::Error);
  const auto tokenizer = Tokenizer::from_file(testing::write_file(dir, "tokenizer.json", document));
  core::set_log_level(level);
  for (const auto& entry : tokenizer_fixture().at("added_token_cases")) {
    EXPECT_EQ(show(tokenizer->encode(entry.at("text").get<std::string>())),
              show(entry.at("ids").get<std::vector<int64_t>>()))
        << entry.at("text").dump();
  }
}

TEST(TokenizerConformance, ChatTemplateMatchesJinja) {
  const auto& cases = tokenizer_fixture().at("chat_cases");
  ASSERT_GE(cases.size(), 40u);
  for (const auto& entry : cases) {
    std::vector<ChatMessage> messages;
    for (const auto& message : entry.at("messages")) {
      messages.push_back(
          {message.at("role").get<std::string>(), message.at("content").get<std::string>()});
    }
    EXPECT_EQ(apply_chat_template(messages, entry.at("add_generation_prompt").get<bool>(),
                                  entry.at("enable_thinking").get<bool>()),
              entry.at("text").get<std::string>())
        << entry.dump();
  }
}

}  // namespace
}  // namespace yirage::llm
