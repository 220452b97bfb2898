// Reading and writing the files the `yirage` command works on.
#pragma once

#include <string>

#include "yirage/ir/kernel_graph.h"

namespace yirage::cli {

/// The whole file at `path`; a UserError naming it when it cannot be read.
std::string read_text_file(const std::string& path);
/// Writes `text` to `path`; a UserError naming it when it cannot be written.
void write_text_file(const std::string& path, const std::string& text);
/// A kernel graph from a JSON file; errors name the file.
ir::KernelGraph load_graph(const std::string& path);

}  // namespace yirage::cli
