// Versioned JSON serialization of kernel graphs.
#pragma once

#include <string>
#include <string_view>

#include "yirage/ir/kernel_graph.h"

namespace yirage::ir {

/// Version written into every serialized graph ("version" field); readers accept only this one.
inline constexpr int kGraphFormatVersion = 1;

/// Serializes `graph` to JSON (`indent` < 0: one line), block graphs of customized nodes
/// included. Loading the text gives back an equal graph.
std::string graph_to_json(const KernelGraph& graph, int indent = 2);
/// Parses JSON written by graph_to_json, rebuilding the graph through its builder so every
/// shape is checked again. Malformed text, an unknown version or op, missing fields, wrong
/// types and truncated input are UserErrors that say what and where.
KernelGraph graph_from_json(std::string_view text);

}  // namespace yirage::ir
