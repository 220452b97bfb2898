#include "yirage/backend/cuda/code_writer.h"

#include "yirage/core/error.h"

namespace yirage::backend::cuda {

CodeWriter& CodeWriter::line(const std::string& text) {
  out_ << std::string(static_cast<std::size_t>(depth_) * 2, ' ') << text << "\n";
  return *this;
}

CodeWriter& CodeWriter::open(const std::string& text) {
  line(text + " {");
  ++depth_;
  return *this;
}

CodeWriter& CodeWriter::close(const std::string& suffix) {
  YR_INTERNAL_CHECK(depth_ > 0, "CodeWriter::close without a matching open");
  --depth_;
  return line("}" + suffix);
}

CodeWriter& CodeWriter::raw(const std::string& text) {
  out_ << text;
  return *this;
}

}  // namespace yirage::backend::cuda
