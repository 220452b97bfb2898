// `yirage make-demo-model DIR`: writes a Qwen3-architecture checkpoint with deterministic
// pseudo-random weights and the real Qwen3 tokenizer files.
#include <chrono>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "yirage/core/dtype.h"
#include "yirage/core/error.h"
#include "yirage/llm/checkpoint.h"

namespace yirage::cli {

namespace {

struct MakeDemoModelOptions {
  std::string dir;
  std::string preset = "tiny";
  std::string dtype = "bf16";
  std::string tokenizer;
};

core::DType dtype_of(const std::string& name) {
  if (name == "bf16" || name == "bfloat16") return core::DType::BF16;
  if (name == "f16" || name == "float16") return core::DType::F16;
  if (name == "f32" || name == "float32") return core::DType::F32;
  YR_USER_ERROR("--dtype '" << name << "' is not supported; expected bf16, f16 or f32");
}

// Without --tokenizer: the files beside an installed or in-tree executable, else the source tree.
std::string tokenizer_dir(const std::string& given) {
  if (!given.empty()) return given;
  std::vector<std::string> anchors;
  std::error_code error;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", error);
  if (!error) anchors.push_back(exe.parent_path().string());
  return llm::default_tokenizer_dir(anchors);
}

void run_make_demo_model(const MakeDemoModelOptions& options) {
  const llm::DemoPreset preset = llm::parse_demo_preset(options.preset);
  const core::DType dtype = dtype_of(options.dtype);
  const std::string tokenizers = tokenizer_dir(options.tokenizer);
  const auto start = std::chrono::steady_clock::now();
  llm::write_demo_model(options.dir, preset, tokenizers, dtype);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const llm::Qwen3Config config = llm::demo_config(preset, dtype);
  int64_t parameters = 0;
  for (const auto& [name, shape] : llm::qwen3_weight_shapes(config)) {
    parameters += core::shape_numel(shape);
  }
  std::cout << "wrote " << options.dir << ": Qwen3 demo model '" << options.preset << "', "
            << config.num_hidden_layers << " layers, hidden " << config.hidden_size << ", "
            << parameters << " parameters in " << core::dtype_name(dtype) << " (" << std::fixed
            << std::setprecision(1) << seconds << " s); tokenizer from " << tokenizers << "\n"
            << "the weights are pseudo-random: generated text is noise\n";
}

}  // namespace

void add_make_demo_model_command(CLI::App& app) {
  auto options = std::make_shared<MakeDemoModelOptions>();
  CLI::App* command = app.add_subcommand(
      "make-demo-model",
      "Write a Qwen3-architecture checkpoint with deterministic pseudo-random weights and the "
      "Qwen3 tokenizer files");
  command->add_option("dir", options->dir, "directory to write (created when missing)")->required();
  command
      ->add_option("--preset", options->preset,
                   "model size: tiny, qwen3-0.6b-shape or qwen3-8b-shape (16 GB)")
      ->capture_default_str();
  command->add_option("--dtype", options->dtype, "weight type: bf16, f16 or f32")
      ->capture_default_str();
  command->add_option("--tokenizer", options->tokenizer,
                      "directory holding tokenizer.json (default: models/qwen3-tokenizer of the "
                      "source tree, or share/yirage/qwen3-tokenizer of the installation)");
  command->callback([options] { run_make_demo_model(*options); });
}

}  // namespace yirage::cli
