// A small structured printer for C++ source: indentation, scopes, statements, loops, comments.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace yirage::backend::cpu::codegen {

/// Builds C++ source line by line; every scope it opens it also closes, so the output is
/// always balanced and consistently indented.
class CodeWriter {
 public:
  /// Closes the scope it was returned for when it goes out of scope.
  class Scope {
   public:
    /// Closes the scope (writes "}" plus the suffix given when it was opened).
    ~Scope();
    /// Scopes move but do not copy.
    Scope(Scope&& other) noexcept;
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
    Scope& operator=(Scope&&) = delete;

   private:
    friend class CodeWriter;
    Scope(CodeWriter* writer, std::string suffix) : writer_(writer), suffix_(std::move(suffix)) {}
    CodeWriter* writer_;
    std::string suffix_;
  };

  /// Writes one line at the current indentation (no terminator added).
  void line(std::string_view text);
  /// Writes a statement: `text;`.
  void statement(std::string_view text);
  /// Writes `// text` (one comment line per line of `text`).
  void comment(std::string_view text);
  /// Writes an empty line.
  void blank();
  /// Writes `type name = init;` (or `type name;` when `init` is empty).
  void declare(std::string_view type, std::string_view name, std::string_view init = {});
  /// Writes a preprocessor line at column 0.
  void directive(std::string_view text);
  /// Writes `text` verbatim (a prepared block of lines such as a prelude), unindented.
  void raw(std::string_view text);

  /// Opens `header {`; the returned scope writes `}suffix` when destroyed.
  [[nodiscard]] Scope block(std::string_view header, std::string suffix = {});
  /// Opens a bare `{` scope.
  [[nodiscard]] Scope scope();
  /// Opens `for (int64_t var = begin; var < end; ++var) {`.
  [[nodiscard]] Scope for_loop(std::string_view var, std::string_view begin, std::string_view end);
  /// Opens `for (int64_t var = 0; var < end; ++var) {` for a constant extent.
  [[nodiscard]] Scope for_loop(std::string_view var, int64_t end);

  /// The source written so far.
  const std::string& str() const { return out_; }
  /// Current nesting depth.
  int depth() const { return depth_; }

 private:
  void close(std::string_view suffix);
  std::string out_;
  int depth_ = 0;
};

}  // namespace yirage::backend::cpu::codegen
