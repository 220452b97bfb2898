#include "cli/graph_files.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "yirage/core/error.h"
#include "yirage/ir/serialize.h"

namespace yirage::cli {

std::string read_text_file(const std::string& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), std::fclose);
  YR_USER_CHECK(file != nullptr, "cannot open '" << path << "': " << std::strerror(errno));
  std::string text;
  char chunk[1 << 16];
  std::size_t got = 0;
  while ((got = std::fread(chunk, 1, sizeof(chunk), file.get())) > 0) text.append(chunk, got);
  YR_USER_CHECK(std::ferror(file.get()) == 0,
                "cannot read '" << path << "': " << std::strerror(errno));
  return text;
}

void write_text_file(const std::string& path, const std::string& text) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "wb"), std::fclose);
  YR_USER_CHECK(file != nullptr, "cannot write '" << path << "': " << std::strerror(errno));
  const bool written = std::fwrite(text.data(), 1, text.size(), file.get()) == text.size();
  YR_USER_CHECK(written && std::fflush(file.get()) == 0,
                "cannot write '" << path << "': " << std::strerror(errno));
}

ir::KernelGraph load_graph(const std::string& path) {
  const std::string text = read_text_file(path);
  try {
    return ir::graph_from_json(text);
  } catch (const core::UserError& e) {
    // Say which file was bad; the parser only sees the text.
    throw core::UserError(path + ": " + e.what(), e.file().c_str(), e.line());
  }
}

}  // namespace yirage::cli
