// `yirage optimize GRAPH.json`: superoptimizes a serialized kernel graph, showing progress, and
// writes the verified program. Ctrl-C stops the search and keeps the best result so far.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/graph_files.h"
#include "yirage/core/error.h"
#include "yirage/ir/fingerprint.h"
#include "yirage/ir/serialize.h"
#include "yirage/search/cache.h"
#include "yirage/search/superoptimizer.h"

namespace yirage::cli {

namespace {

struct OptimizeOptions {
  std::string file;
  std::string out;
  std::string backend = "reference";
  double budget = 30.0;
  uint64_t seed = 0;
  bool no_cache = false;
  bool no_derive = false;
};

// Set by the SIGINT handler; a lock-free atomic store is safe in a signal handler.
std::atomic<bool> interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free);

extern "C" void on_sigint(int) {
  interrupted.store(true);
}

// Routes Ctrl-C to the cancel flag while alive: the first one stops the search (the handler
// then reverts to the default, so a second one ends the process), and the previous handler
// comes back afterwards.
class SigintGuard {
 public:
  SigintGuard() {
    interrupted.store(false);
    struct sigaction action {};
    action.sa_handler = on_sigint;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESETHAND;
    installed_ = sigaction(SIGINT, &action, &previous_) == 0;
  }
  ~SigintGuard() {
    if (installed_) sigaction(SIGINT, &previous_, nullptr);
  }
  SigintGuard(const SigintGuard&) = delete;
  SigintGuard& operator=(const SigintGuard&) = delete;

 private:
  struct sigaction previous_ {};
  bool installed_ = false;
};

std::string progress_line(const search::SearchProgress& progress) {
  std::ostringstream line;
  line << "search: " << progress.states << " states, " << progress.pruned << " pruned, "
       << progress.verified << " verified, " << std::fixed << std::setprecision(1)
       << progress.seconds << " s";
  return line.str();
}

// Shows progress: on a terminal, one line rewritten in place behind a bar of the time budget
// spent; otherwise a new line each second.
class ProgressDisplay {
 public:
  explicit ProgressDisplay(double budget)
      : terminal_(isatty(STDOUT_FILENO) != 0), budget_(budget) {}
  void update(const search::SearchProgress& progress) {
    if (!terminal_ && progress.seconds < next_line_) return;
    next_line_ = progress.seconds + 1.0;
    show(progress);
  }
  void finish(const search::SearchProgress& progress) {
    show(progress);
    if (terminal_) std::cout << '\n';
  }

 private:
  void show(const search::SearchProgress& progress) {
    std::string line = progress_line(progress);
    if (terminal_) {
      constexpr int kWidth = 20;
      const double spent = std::min(1.0, progress.seconds / budget_);
      const int filled = static_cast<int>(spent * kWidth + 0.5);
      line = "[" + std::string(static_cast<std::size_t>(filled), '#') +
             std::string(static_cast<std::size_t>(kWidth - filled), '.') + "] " + line;
      // Pad over what a longer earlier line left.
      std::cout << '\r' << line << std::string(width_ > line.size() ? width_ - line.size() : 0, ' ')
                << std::flush;
      width_ = line.size();
    } else {
      std::cout << line << '\n' << std::flush;
    }
  }

  bool terminal_;
  double budget_;
  std::size_t width_ = 0;
  double next_line_ = 0.0;
};

void run_optimize(const OptimizeOptions& options) {
  const ir::KernelGraph graph = load_graph(options.file);
  search::SearchOptions search_options;
  search_options.backend = options.backend;
  search_options.time_budget_seconds = options.budget;
  search_options.seed = options.seed;
  search_options.use_cache = !options.no_cache;
  search_options.derive = !options.no_derive;
  std::cout << "optimizing " << options.file << ": " << graph.num_kernels() << " kernel(s), "
            << "fingerprint " << ir::graph_fingerprint_hex(graph) << ", backend " << options.backend
            << ", budget " << options.budget << " s, cache "
            << (options.no_cache ? "off" : search::default_cache_dir()) << '\n'
            << std::flush;

  ProgressDisplay display(options.budget);
  search_options.on_progress = [&display](const search::SearchProgress& now) {
    display.update(now);
  };
  search_options.cancel = &interrupted;
  search::OptimizedProgram result{ir::KernelGraph{}, {}};
  {
    const SigintGuard guard;
    result = search::superoptimize(graph, search_options);
  }
  const search::SearchReport& report = result.report;
  if (report.cache_hit) {
    std::cout << "cache hit (sealed when verified) in " << std::fixed << std::setprecision(3)
              << report.seconds << " s\n"
              << std::defaultfloat;
  } else {
    display.finish(report.totals);
  }
  std::cout << report.summary << '\n'
            << "kernels: " << report.kernels_before << " -> " << report.kernels_after << '\n';
  if (!options.out.empty()) {
    write_text_file(options.out, ir::graph_to_json(result.graph));
    std::cout << "wrote " << options.out << '\n';
  }
}

}  // namespace

void add_optimize_command(CLI::App& app) {
  auto options = std::make_shared<OptimizeOptions>();
  CLI::App* optimize = app.add_subcommand(
      "optimize",
      "Search a verified fused program for a kernel graph (JSON); Ctrl-C keeps the "
      "best so far");
  optimize->add_option("file", options->file, "the graph, as written by graph_to_json")->required();
  optimize->add_option("--budget", options->budget, "time budget of the search, in seconds")
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            double value = 0.0;
            if (CLI::detail::lexical_cast(text, value) && value > 0) return {};
            return "expected a number of seconds above 0, got '" + text + "'";
          },
          "SECONDS > 0"))
      ->capture_default_str();
  optimize->add_option("--seed", options->seed, "seed of the verification")->capture_default_str();
  optimize->add_option("--backend", options->backend, "backend the program is meant for")
      ->capture_default_str();
  optimize->add_flag("--no-cache", options->no_cache,
                     "neither read nor write the search cache (YIRAGE_CACHE_DIR, else "
                     "~/.cache/yirage)");
  optimize->add_flag("--no-derive", options->no_derive,
                     "search depth-first only, without the streaming forms derived by lowering");
  optimize->add_option("--out", options->out, "write the program as JSON to this file");
  optimize->callback([options] { run_optimize(*options); });
}

}  // namespace yirage::cli
