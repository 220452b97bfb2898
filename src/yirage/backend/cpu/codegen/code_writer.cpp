#include "yirage/backend/cpu/codegen/code_writer.h"

#include <string>

#include "yirage/core/error.h"

namespace yirage::backend::cpu::codegen {

CodeWriter::Scope::~Scope() {
  if (writer_ != nullptr) writer_->close(suffix_);
}

CodeWriter::Scope::Scope(Scope&& other) noexcept
    : writer_(other.writer_), suffix_(std::move(other.suffix_)) {
  other.writer_ = nullptr;
}

void CodeWriter::line(std::string_view text) {
  if (text.empty()) {
    out_ += '\n';
    return;
  }
  out_.append(static_cast<std::size_t>(depth_) * 2, ' ');
  out_ += text;
  out_ += '\n';
}

void CodeWriter::statement(std::string_view text) {
  line(std::string(text) + ";");
}

void CodeWriter::comment(std::string_view text) {
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    line(std::string("// ") + std::string(text.substr(start, end - start)));
    start = end + 1;
  }
}

void CodeWriter::blank() {
  out_ += '\n';
}

void CodeWriter::declare(std::string_view type, std::string_view name, std::string_view init) {
  std::string text = std::string(type) + std::string(" ") + std::string(name);
  if (!init.empty()) text += std::string(" = ") + std::string(init);
  statement(text);
}

void CodeWriter::directive(std::string_view text) {
  out_ += text;
  out_ += '\n';
}

void CodeWriter::raw(std::string_view text) {
  out_ += text;
  if (!text.empty() && text.back() != '\n') out_ += '\n';
}

CodeWriter::Scope CodeWriter::block(std::string_view header, std::string suffix) {
  line(std::string(header) + " {");
  ++depth_;
  return Scope(this, std::move(suffix));
}

CodeWriter::Scope CodeWriter::scope() {
  line("{");
  ++depth_;
  return Scope(this, {});
}

CodeWriter::Scope CodeWriter::for_loop(std::string_view var, std::string_view begin,
                                       std::string_view end) {
  const std::string v(var);
  return block(std::string("for (int64_t ") + v + std::string(" = ") + std::string(begin) +
               std::string("; ") + v + " < " + std::string(end) + std::string("; ++") + v + ")");
}

CodeWriter::Scope CodeWriter::for_loop(std::string_view var, int64_t end) {
  return for_loop(var, "0", std::to_string(end));
}

void CodeWriter::close(std::string_view suffix) {
  YR_INTERNAL_CHECK(depth_ > 0, "closing a scope that was never opened");
  --depth_;
  line(std::string("}") + std::string(suffix));
}

}  // namespace yirage::backend::cpu::codegen
