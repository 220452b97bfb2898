// `yirage tokenize MODEL TEXT`: the token ids of a text under a model's tokenizer, or (with
// --decode) the text of a list of ids.
#include <nlohmann/json.hpp>

#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "yirage/core/error.h"
#include "yirage/llm/tokenizer.h"

namespace yirage::cli {

namespace {

struct TokenizeOptions {
  std::string model;
  std::string text;
  bool json = false;
  bool add_special_tokens = false;
  bool chat = false;
  bool decode = false;
};

// The ids of "9707 11 1879" or "9707,11,1879".
std::vector<int64_t> parse_ids(const std::string& text) {
  std::string spaced = text;
  for (char& c : spaced) {
    if (c == ',' || c == '[' || c == ']') c = ' ';
  }
  std::istringstream in(spaced);
  std::vector<int64_t> ids;
  std::string word;
  while (in >> word) {
    std::size_t used = 0;
    int64_t id = 0;
    try {
      id = std::stoll(word, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    YR_USER_CHECK(used == word.size() && used > 0,
                  "'" << word << "' is not a token id; expected integers such as '9707 11 1879'");
    ids.push_back(id);
  }
  return ids;
}

void run_tokenize(const TokenizeOptions& options) {
  std::string text = options.text;
  if (text == "-") text.assign(std::istreambuf_iterator<char>(std::cin), {});
  if (options.decode) {
    const std::vector<int64_t> ids = parse_ids(text);  // before the (slower) load
    const auto tokenizer = llm::Tokenizer::from_file(options.model);
    const std::string decoded = tokenizer->decode(ids);
    if (options.json) {
      std::cout << nlohmann::json{{"ids", ids}, {"text", decoded}}.dump() << '\n';
    } else {
      std::cout << decoded << '\n';
    }
    return;
  }
  if (options.chat) text = llm::apply_chat_template({{"user", text}});
  const auto tokenizer = llm::Tokenizer::from_file(options.model);
  const std::vector<int64_t> ids = tokenizer->encode(text, options.add_special_tokens);
  if (options.json) {
    std::vector<std::string> tokens;
    tokens.reserve(ids.size());
    for (int64_t id : ids) tokens.push_back(tokenizer->id_to_token(id));
    std::cout << nlohmann::json{{"ids", ids}, {"tokens", tokens}, {"count", ids.size()}}.dump()
              << '\n';
    return;
  }
  for (std::size_t i = 0; i < ids.size(); ++i) std::cout << (i == 0 ? "" : " ") << ids[i];
  std::cout << '\n';
}

}  // namespace

void add_tokenize_command(CLI::App& app) {
  auto options = std::make_shared<TokenizeOptions>();
  CLI::App* command = app.add_subcommand(
      "tokenize", "Print the token ids of a text under a model's tokenizer (tokenizer.json)");
  command
      ->add_option("model", options->model,
                   "model directory holding tokenizer.json, or a tokenizer.json file")
      ->required();
  command->add_option("text", options->text, "the text ('-' reads standard input)")->required();
  command->add_flag("--json", options->json, "print JSON: ids, token strings and their count");
  command->add_flag("--add-special-tokens", options->add_special_tokens,
                    "add what the tokenizer's post-processor adds (nothing for Qwen3)");
  command->add_flag("--chat", options->chat,
                    "wrap the text as a user turn of the chat template, opening the reply");
  command->add_flag("--decode", options->decode,
                    "read the text as token ids ('9707 11 1879') and print their text instead");
  command->callback([options] { run_tokenize(*options); });
}

}  // namespace yirage::cli
