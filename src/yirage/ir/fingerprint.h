// Stable structural fingerprints of kernel graphs.
#pragma once

#include <cstdint>
#include <string>

#include "yirage/ir/kernel_graph.h"

namespace yirage::ir {

/// A 64-bit hash of the graph's structure: ops, attributes, types, how tensors connect, the
/// order of inputs and outputs. Independent of the order in which independent nodes were
/// inserted, and of the process, machine and build (no pointer or std::hash values).
uint64_t graph_fingerprint(const KernelGraph& graph);
/// The fingerprint as 16 lowercase hex digits.
std::string graph_fingerprint_hex(const KernelGraph& graph);

}  // namespace yirage::ir
