// The tokenizer's API on Qwen3's files: ids of known strings, special tokens, decoding with
// U+FFFD for broken UTF-8, streaming, threads, and clear errors for bad files and bad input.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "llm/tokenizer_fixtures.h"
#include "test_util.h"
#include "yirage/llm/tokenizer.h"

namespace yirage::llm {
namespace {

using testing::qwen3_tokenizer;
using testing::TempDir;

using Ids = std::vector<int64_t>;

TEST(Tokenizer, EncodesKnownStrings) {
  const Tokenizer& tokenizer = *qwen3_tokenizer();
  EXPECT_EQ(tokenizer.encode("Hello, world!"), (Ids{9707, 11, 1879, 0}));
  EXPECT_EQ(tokenizer.encode("<|im_start|>user\nHi<|im_end|>"),
            (Ids{151644, 872, 198, 13048, 151645}));
  EXPECT_EQ(tokenizer.encode("你好"), (Ids{108386}));
  EXPECT_EQ(tokenizer.encode("don't"), (Ids{15007, 944}));
  EXPECT_EQ(tokenizer.encode(""), Ids{});
  // Qwen3's post-processor adds nothing.
  EXPECT_EQ(tokenizer.encode("Hello", true), tokenizer.encode("Hello", false));
}

TEST(Tokenizer, Vocabulary) {
  const Tokenizer& tokenizer = *qwen3_tokenizer();
  EXPECT_EQ(tokenizer.vocab_size(), 151669);
  EXPECT_EQ(tokenizer.token_to_id("<|im_end|>"), 151645);
  EXPECT_EQ(tokenizer.token_to_id("Hello"), 9707);
  EXPECT_EQ(tokenizer.token_to_id("Ġworld"), 1879);  // regular tokens in byte-level form
  EXPECT_EQ(tokenizer.token_to_id("no such token"), std::nullopt);
  EXPECT_EQ(tokenizer.id_to_token(1879), "Ġworld");
  EXPECT_EQ(tokenizer.id_to_token(151667), "<think>");
  EXPECT_TRUE(tokenizer.is_special(151643));   // <|endoftext|>
  EXPECT_TRUE(tokenizer.is_special(151645));   // <|im_end|>
  EXPECT_FALSE(tokenizer.is_special(151667));  // <think> is an added token, not a special one
  EXPECT_FALSE(tokenizer.is_special(9707));
  EXPECT_FALSE(tokenizer.is_special(-1));
  EXPECT_NE(tokenizer.chat_template().find("<|im_start|>"), std::string::npos);
}

TEST(Tokenizer, LoadsFromFileOrDirectory) {
  const auto from_file = Tokenizer::from_file(testing::qwen3_tokenizer_dir() + "/tokenizer.json");
  EXPECT_EQ(from_file->encode("Hello, world!"), qwen3_tokenizer()->encode("Hello, world!"));
  EXPECT_EQ(from_file->vocab_size(), 151669);
}

TEST(Tokenizer, DecodesSpecialTokensUnlessSkipped) {
  const Tokenizer& tokenizer = *qwen3_tokenizer();
  const Ids ids{151644, 872, 198, 13048, 151645, 151667};
  EXPECT_EQ(tokenizer.decode(ids), "<|im_start|>user\nHi<|im_end|><think>");
  EXPECT_EQ(tokenizer.decode(ids, true), "user\nHi<think>");
}

TEST(Tokenizer, DecodeReplacesBrokenUtf8) {
  const Tokenizer& tokenizer = *qwen3_tokenizer();
  // '𪚥' is three tokens, none a whole character.
  const Ids ids = tokenizer.encode("𪚥");
  ASSERT_EQ(ids, (Ids{100130, 248, 98}));
  EXPECT_EQ(tokenizer.decode(ids), "𪚥");
  EXPECT_EQ(tokenizer.decode({ids[0]}), "\xEF\xBF\xBD");
  EXPECT_EQ(tokenizer.decode_bytes({ids[0]}).size(), 2u);
  // An incomplete sequence followed by ASCII: one U+FFFD for the maximal broken part.
  EXPECT_EQ(tokenizer.decode({ids[0], 87}), "\xEF\xBF\xBDx");
  EXPECT_EQ(tokenizer.decode({ids[2], ids[1]}), "\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(Tokenizer, StreamDecoderHoldsBackPartialCharacters) {
  const auto tokenizer = qwen3_tokenizer();
  const std::string text = "Hi 🫶🏽 𪚥 <|im_end|> 𩸽x, ok";
  const Ids ids = tokenizer->encode(text);
  for (bool skip : {false, true}) {
    StreamDecoder stream(tokenizer, skip);
    std::string joined;
    for (int64_t id : ids) {
      const std::string piece = stream.push(id);
      EXPECT_EQ(piece.find("\xEF\xBF\xBD"), std::string::npos) << "id " << id;
      joined += piece;
    }
    joined += stream.flush();
    EXPECT_EQ(joined, tokenizer->decode(ids, skip));
  }
  StreamDecoder stream(tokenizer);
  EXPECT_EQ(stream.push(100130), "");  // the first two bytes of a four-byte character
  EXPECT_EQ(stream.flush(), "\xEF\xBF\xBD");
  EXPECT_EQ(stream.push(87), "x");
}

TEST(Tokenizer, ThreadsShareOneTokenizer) {
  const auto tokenizer = qwen3_tokenizer();
  const auto& cases = testing::tokenizer_fixture().at("cases");
  std::vector<int> mismatches(2, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      for (std::size_t i = static_cast<std::size_t>(t); i < cases.size(); i += 3) {
        const auto& entry = cases[i];
        if (tokenizer->encode(entry.at("text").get<std::string>()) != entry.at("ids").get<Ids>()) {
          ++mismatches[static_cast<std::size_t>(t)];
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(mismatches, (std::vector<int>{0, 0}));
}

TEST(Tokenizer, LongInputs) {
  const Tokenizer& tokenizer = *qwen3_tokenizer();
  const std::string spaces(200000, ' ');
  const Ids ids = tokenizer.encode("a" + spaces + "b");
  EXPECT_EQ(tokenizer.decode(ids), "a" + spaces + "b");
  std::string words;
  for (int i = 0; i < 20000; ++i) words += "word" + std::to_string(i % 97) + " ";
  EXPECT_EQ(tokenizer.decode(tokenizer.encode(words)), words);
}

TEST(TokenizerErrors, BadInput) {
  const Tokenizer& tokenizer = *qwen3_tokenizer();
  EXPECT_USER_ERROR([&] { tokenizer.encode("ok \xC3( bad"); }, "not valid UTF-8", "byte 3", "0xC3");
  EXPECT_USER_ERROR([&] { tokenizer.encode(std::string("\xED\xA0\x80")); }, "not valid UTF-8");
  EXPECT_USER_ERROR([&] { tokenizer.decode({9707, 151669}); }, "token id 151669", "[0, 151669)");
  EXPECT_USER_ERROR([&] { tokenizer.decode({-1}); }, "token id -1");
  EXPECT_USER_ERROR([&] { tokenizer.id_to_token(1 << 20); }, "out of range");
  EXPECT_USER_ERROR([] { StreamDecoder(nullptr); }, "needs a tokenizer");
}

TEST(TokenizerErrors, MissingFiles) {
  TempDir dir;
  EXPECT_USER_ERROR([&] { Tokenizer::from_file((dir.path() / "nope.json").string()); }, "nope.json",
                    "does not exist");
  EXPECT_USER_ERROR([&] { Tokenizer::from_file(dir.path().string()); }, "has no tokenizer.json");
}

// The tiny tokenizer.json with `edit` applied, loaded from a temporary file.
template <typename Edit>
std::shared_ptr<const Tokenizer> load_edited(Edit edit) {
  nlohmann::json document = testing::tiny_tokenizer_json();
  edit(document);
  TempDir dir;
  return Tokenizer::from_file(testing::write_file(dir, "tokenizer.json", document.dump()));
}

TEST(Tokenizer, TinyTokenizerMergesByRank) {
  const auto tokenizer = load_edited([](nlohmann::json&) {});
  EXPECT_EQ(tokenizer->vocab_size(), 261);
  EXPECT_EQ(tokenizer->encode("hello"), (Ids{259}));
  EXPECT_EQ(tokenizer->encode("hellx hel<|end|>"), (Ids{258, 'x', ' ', 256, 'l', 260}));
  EXPECT_EQ(tokenizer->decode({259, 260}, true), "hello");
  // Without the merge "he ll", "hell" cannot form: "he" + "ll" stays two tokens.
  const auto fewer = load_edited([](nlohmann::json& d) {
    d["model"]["merges"] = nlohmann::json::array(
        {nlohmann::json::array({"h", "e"}), nlohmann::json::array({"l", "l"})});
  });
  EXPECT_EQ(fewer->encode("hello"), (Ids{256, 257, 'o'}));
  // The older merge form "left right" reads the same.
  const auto strings = load_edited([](nlohmann::json& d) {
    d["model"]["merges"] = nlohmann::json::array({"h e", "l l", "he ll", "hell o"});
  });
  EXPECT_EQ(strings->encode("hello"), (Ids{259}));
}

TEST(TokenizerErrors, MalformedFiles) {
  TempDir dir;
  EXPECT_USER_ERROR(
      [&] { Tokenizer::from_file(testing::write_file(dir, "a.json", "{\"model\": [1, 2")); },
      "a.json", "is not valid JSON");
  EXPECT_USER_ERROR([&] { Tokenizer::from_file(testing::write_file(dir, "b.json", "[1, 2]")); },
                    "b.json", "the document is an array; expected an object");
  EXPECT_USER_ERROR([&] { Tokenizer::from_file(testing::write_file(dir, "c.json", "{}")); },
                    "c.json", "model is missing");
  EXPECT_USER_ERROR(
      [&] {
        Tokenizer::from_file(
            testing::write_file(dir, "d.json", R"({"model": {"type": "BPE", "vocab": {"a": "x"},
                                                   "merges": []}})"));
      },
      "d.json", "model.vocab[\"a\"] is a string; expected an integer id");
  EXPECT_USER_ERROR(
      [&] {
        Tokenizer::from_file(
            testing::write_file(dir, "e.json", R"({"model": {"type": "BPE", "vocab": {"a": 0},
                                                   "merges": [["a"]]}})"));
      },
      "e.json", "model.merges[0] has 1 tokens; expected a pair of token strings");
}

TEST(TokenizerErrors, UnsupportedParts) {
  EXPECT_USER_ERROR(
      [] { load_edited([](nlohmann::json& d) { d["model"]["type"] = "WordPiece"; }); },
      "model has the type 'WordPiece', which is not supported; expected BPE");
  EXPECT_USER_ERROR(
      [] { load_edited([](nlohmann::json& d) {
             d["normalizer"] = {{"type", "Lowercase"}};
           }); },
      "normalizer has the type 'Lowercase'");
  EXPECT_USER_ERROR(
      [] { load_edited([](nlohmann::json& d) {
             d["pre_tokenizer"] = {{"type", "Whitespace"}};
           }); },
      "pre_tokenizer has the type 'Whitespace'", "expected Sequence, Split or ByteLevel");
  EXPECT_USER_ERROR([] { load_edited([](nlohmann::json& d) { d["pre_tokenizer"] = nullptr; }); },
                    "pre_tokenizer has no ByteLevel step");
  EXPECT_USER_ERROR(
      [] {
        load_edited([](nlohmann::json& d) {
          d["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(unclosed";
        });
      },
      "pre_tokenizer.pretokenizers[0]", "does not compile");
  EXPECT_USER_ERROR(
      [] { load_edited([](nlohmann::json& d) {
             d["decoder"] = {{"type", "WordPiece"}};
           }); },
      "decoder has the type 'WordPiece'");
  EXPECT_USER_ERROR(
      [] {
        load_edited([](nlohmann::json& d) {
          d["model"]["merges"][1] = nlohmann::json::array({"l", "no-such-token"});
        });
      },
      "merge 1", "'no-such-token', which is not in model.vocab");
  EXPECT_USER_ERROR([] { load_edited([](nlohmann::json& d) { d["model"]["dropout"] = 0.1; }); },
                    "model.dropout");
}

}  // namespace
}  // namespace yirage::llm
