// Cheap identity of a kernel graph's structure for the program cache: a hash computed in one
// walk over the nodes without building text, and an exact comparison that confirms a match.
// Two graphs are the same structure when their nodes (ops, operand references, attributes with
// floats compared bit for bit, output types, block graphs by identity), inputs and outputs agree.
#pragma once

#include <cstdint>

#include "yirage/ir/kernel_graph.h"

namespace yirage::backend::cuda {

/// A hash of `graph`'s structure (within this process: block graphs hash by address).
uint64_t structure_hash(const ir::KernelGraph& graph);

/// Whether `a` and `b` have the same structure (what structure_hash covers, compared exactly).
bool same_structure(const ir::KernelGraph& a, const ir::KernelGraph& b);

}  // namespace yirage::backend::cuda
