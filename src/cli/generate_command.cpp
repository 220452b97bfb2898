// `yirage generate MODEL "prompt"`: continues a prompt with a Hugging Face Qwen3 checkpoint.
#include <iostream>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/llm_options.h"
#include "yirage/llm/engine.h"
#include "yirage/llm/tokenizer.h"

namespace yirage::cli {

namespace {

struct GenerateOptions {
  std::string model;
  std::string prompt;
  EngineFlags engine;
  SamplingFlags sampling;
  bool stream = false;
  bool chat = false;
  bool thinking = false;
  std::string system;
};

void run_generate(const GenerateOptions& options) {
  const auto engine = llm::Engine::open(options.model, options.engine.options());
  std::string prompt = options.prompt;
  if (options.chat) {
    std::vector<llm::ChatMessage> messages;
    if (!options.system.empty()) messages.push_back({"system", options.system});
    messages.push_back({"user", options.prompt});
    prompt = llm::apply_chat_template(messages, true, options.thinking);
  }
  const llm::SamplingParams params = options.sampling.params(engine->default_params());
  llm::StreamCallback stream;
  if (options.stream) {
    stream = [](std::size_t, int64_t, std::string_view text, bool) {
      std::cout << text << std::flush;
    };
  }
  const auto outputs = engine->generate(std::vector<std::string>{prompt}, params, stream);
  if (!options.stream) std::cout << outputs[0].text;
  std::cout << "\n" << std::flush;
  std::cerr << timing_line(outputs[0]) << "\n";
}

}  // namespace

void add_generate_command(CLI::App& app) {
  auto options = std::make_shared<GenerateOptions>();
  CLI::App* command = app.add_subcommand(
      "generate", "Continue a prompt with a Qwen3 checkpoint (a Hugging Face directory)");
  command->add_option("model", options->model, "Checkpoint directory")->required();
  command->add_option("prompt", options->prompt, "The prompt")->required();
  add_engine_flags(*command, options->engine, true);
  add_sampling_flags(*command, options->sampling);
  command->add_flag("--stream", options->stream, "Print tokens as they are generated");
  command->add_flag("--chat", options->chat, "Wrap the prompt in the chat template as a user turn");
  command->add_flag("--thinking", options->thinking,
                    "With --chat, let the model think first (default: the empty think block)");
  command->add_option("--system", options->system, "With --chat, a system message");
  command->callback([options] { run_generate(*options); });
}

}  // namespace yirage::cli
