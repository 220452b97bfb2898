// The `yirage` command: parses the command line and turns every failure into one line on stderr.
#include <exception>
#include <iostream>
#include <new>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "yirage/core/error.h"

namespace {

// Error messages go out as one line, whatever the exception put in them.
std::string one_line(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

// The innermost command selected on the command line, e.g. `graph` for `yirage graph foo`.
const CLI::App& selected_command(const CLI::App& app) {
  const CLI::App* current = &app;
  while (!current->get_subcommands().empty()) current = current->get_subcommands().front();
  return *current;
}

// "yirage graph" for the `graph` command.
std::string command_path(const CLI::App& command) {
  std::string path = command.get_name();
  for (const CLI::App* parent = command.get_parent(); parent != nullptr;
       parent = parent->get_parent()) {
    path = parent->get_name() + " " + path;
  }
  return path;
}

// A usage error; when a command needs a subcommand, says which ones there are.
std::string usage_error(const CLI::App& app, const CLI::ParseError& error) {
  const CLI::App& command = selected_command(app);
  const std::string path = command_path(command);
  const auto subcommands = command.get_subcommands([](const CLI::App*) { return true; });
  std::string message = error.what();
  if (!subcommands.empty()) {
    std::string names;
    for (const CLI::App* subcommand : subcommands) {
      names += (names.empty() ? "" : ", ") + subcommand->get_name();
    }
    const std::vector<std::string> extra = command.remaining();
    message = extra.empty() ? "'" + path + "' needs a command: one of " + names
                            : "'" + extra.front() + "' is not a command of '" + path +
                                  "'; expected one of " + names;
  }
  return message + " (see '" + path + " --help')";
}

int fail(const std::string& message, int code) {
  std::cout.flush();  // what the command printed before failing comes first
  std::cerr << "yirage: " << one_line(message) << '\n';
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"yirage: superoptimizer, compiler and runtime for LLM inference", "yirage"};
  app.set_version_flag("--version", std::string("yirage ") + YIRAGE_VERSION);
  app.require_subcommand(1);
  yirage::cli::add_info_command(app);
  yirage::cli::add_graph_command(app);
  yirage::cli::add_optimize_command(app);
  yirage::cli::add_demo_command(app);
  yirage::cli::add_bench_command(app);
  yirage::cli::add_make_demo_model_command(app);
  try {
    app.parse(argc, argv);
    return 0;
  } catch (const CLI::ParseError& e) {
    // --help and --version arrive as "errors" with a success exit code.
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);
    return fail("error: " + usage_error(app, e), 2);
  } catch (const yirage::core::UserError& e) {
    return fail(std::string("error: ") + e.what(), 1);
  } catch (const yirage::core::InternalError& e) {
    return fail(e.what(), 1);  // reads "internal error at FILE:LINE: ..."
  } catch (const yirage::core::Error& e) {
    return fail(std::string("error: ") + e.what(), 1);
  } catch (const std::bad_alloc&) {
    return fail("error: out of memory", 1);
  } catch (const std::exception& e) {
    return fail(std::string("internal error: ") + e.what(), 1);
  } catch (...) {
    return fail("internal error: unknown exception", 1);
  }
}
