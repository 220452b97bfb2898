// `yirage graph show|dot|run FILE.json`: print, draw or run a serialized kernel graph.
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iomanip>
#include <iostream>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/checksum.h"
#include "cli/commands.h"
#include "cli/graph_files.h"
#include "yirage/backend/random_inputs.h"
#include "yirage/backend/registry.h"
#include "yirage/core/error.h"
#include "yirage/ir/fingerprint.h"
#include "yirage/ir/printer.h"
#include "yirage/ir/serialize.h"

namespace yirage::cli {

namespace {

struct GraphOptions {
  std::string file;
  std::string dot_output;
  std::string backend = "reference";
  uint64_t seed = 0;
};

void show_graph(const GraphOptions& options) {
  const ir::KernelGraph graph = load_graph(options.file);
  std::cout << ir::graph_to_text(graph);
  std::cout << "fingerprint " << ir::graph_fingerprint_hex(graph) << '\n';
}

void dot_graph(const GraphOptions& options) {
  const ir::KernelGraph graph = load_graph(options.file);
  const std::string dot = ir::graph_to_dot(graph);
  if (options.dot_output.empty()) {
    std::cout << dot;
  } else {
    write_text_file(options.dot_output, dot);
    std::cout << "wrote " << options.dot_output << '\n';
  }
}

void run_graph(const GraphOptions& options) {
  const ir::KernelGraph graph = load_graph(options.file);
  backend::Backend& target = backend::get_available_backend(options.backend);
  const std::vector<core::Tensor> inputs = backend::random_inputs(graph, options.seed);
  std::cout << "graph " << options.file << " (fingerprint " << ir::graph_fingerprint_hex(graph)
            << "), random inputs with seed " << options.seed << '\n';
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    std::cout << "  input " << i << ": " << describe_tensor(inputs[i]) << '\n';
  }
  const auto start = std::chrono::steady_clock::now();
  const std::vector<core::Tensor> outputs = target.run(graph, inputs);
  target.synchronize();
  const std::chrono::duration<double, std::milli> elapsed =
      std::chrono::steady_clock::now() - start;
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    std::cout << "  output " << i << ": " << describe_tensor(outputs[i]) << '\n';
  }
  std::cout << "elapsed " << std::fixed << std::setprecision(2) << elapsed.count()
            << " ms on backend " << target.name() << '\n'
            << std::defaultfloat;
}

}  // namespace

void add_graph_command(CLI::App& app) {
  auto options = std::make_shared<GraphOptions>();
  CLI::App* graph = app.add_subcommand("graph", "Inspect or run a kernel graph saved as JSON");
  graph->require_subcommand(1);

  CLI::App* show = graph->add_subcommand("show", "Print the graph as text with its fingerprint");
  show->add_option("file", options->file, "graph JSON file")->required();
  show->callback([options] { show_graph(*options); });

  CLI::App* dot = graph->add_subcommand("dot", "Print the graph in Graphviz DOT");
  dot->add_option("file", options->file, "graph JSON file")->required();
  dot->add_option("-o,--output", options->dot_output, "write the DOT text to this file");
  dot->callback([options] { dot_graph(*options); });

  CLI::App* run = graph->add_subcommand(
      "run", "Run the graph on random non-zero inputs; print output shapes and checksums");
  run->add_option("file", options->file, "graph JSON file")->required();
  run->add_option("--backend", options->backend, "backend to run on")->capture_default_str();
  run->add_option("--seed", options->seed, "seed of the random inputs")->capture_default_str();
  run->callback([options] { run_graph(*options); });
}

}  // namespace yirage::cli
