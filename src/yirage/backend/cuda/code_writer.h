// A structured printer for generated CUDA C++: lines, nested blocks, indentation.
#pragma once

#include <sstream>
#include <string>

namespace yirage::backend::cuda {

/// Accumulates indented source text; open() and close() bracket nested blocks.
class CodeWriter {
 public:
  /// Appends one line at the current depth.
  CodeWriter& line(const std::string& text);
  /// Appends "text {" and indents.
  CodeWriter& open(const std::string& text);
  /// Unindents and appends "}" followed by `suffix`.
  CodeWriter& close(const std::string& suffix = "");
  /// Appends raw text verbatim.
  CodeWriter& raw(const std::string& text);
  /// The text so far.
  std::string str() const { return out_.str(); }

 private:
  std::ostringstream out_;
  int depth_ = 0;
};

}  // namespace yirage::backend::cuda
