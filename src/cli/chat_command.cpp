// `yirage chat MODEL`: an interactive conversation, streamed, through the chat template.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/llm_options.h"
#include "yirage/llm/engine.h"
#include "yirage/llm/tokenizer.h"

namespace yirage::cli {

namespace {

struct ChatOptions {
  std::string model;
  EngineFlags engine;
  SamplingFlags sampling;
  bool thinking = false;
  std::string system;
  bool timings = false;
};

void run_chat(ChatOptions options) {
  const auto engine = llm::Engine::open(options.model, options.engine.options());
  const llm::SamplingParams params = options.sampling.params(engine->default_params());
  std::vector<llm::ChatMessage> messages;
  if (!options.system.empty()) messages.push_back({"system", options.system});
  std::cout << "Chatting with " << options.model
            << ". Type a message and press Enter; an empty line or end of input quits.\n";
  std::string line;
  while (true) {
    std::cout << "> " << std::flush;
    if (!std::getline(std::cin, line) || line.empty()) break;
    messages.push_back({"user", line});
    const std::string prompt = llm::apply_chat_template(messages, true, options.thinking);
    const auto outputs = engine->generate(
        std::vector<std::string>{prompt}, params,
        [](std::size_t, int64_t, std::string_view text, bool) { std::cout << text << std::flush; });
    std::cout << "\n";
    if (options.timings) std::cerr << timing_line(outputs[0]) << "\n";
    messages.push_back({"assistant", outputs[0].text});
  }
  std::cout << "\n";
}

}  // namespace

void add_chat_command(CLI::App& app) {
  auto options = std::make_shared<ChatOptions>();
  options->sampling.max_tokens = 512;
  CLI::App* command =
      app.add_subcommand("chat", "Chat with a Qwen3 checkpoint interactively, streaming replies");
  command->add_option("model", options->model, "Checkpoint directory")->required();
  add_engine_flags(*command, options->engine, true);
  add_sampling_flags(*command, options->sampling);
  command->add_flag("--thinking", options->thinking,
                    "Let the model think before answering (default: the empty think block)");
  command->add_option("--system", options->system, "A system message");
  command->add_flag("--timings", options->timings, "Print the timing of each reply to stderr");
  command->callback([options] { run_chat(*options); });
}

}  // namespace yirage::cli
