// Block graph -> one C++ translation unit computing the fused kernel block by block.
#pragma once

#include <cstdint>
#include <string>

#include "yirage/ir/block_graph.h"

namespace yirage::backend::cpu::codegen {

/// Name of the function every generated unit exports, with C linkage: runs blocks
/// [first_block, last_block) of the grid. `inputs` and `outputs` point at contiguous buffers
/// of the block graph's input and output types, in order.
inline constexpr const char* kBlockEntryPoint = "yirage_block";

/// Signature of kBlockEntryPoint.
using BlockEntryFn = void (*)(const void* const* inputs, void* const* outputs, int64_t first_block,
                              int64_t last_block);

/// Generates the C++ source of `graph` (which must be complete): the prelude, then the entry
/// point. Tiles live in f32 buffers sized from their types; element-wise chains are fused into
/// one loop, and matmuls and element-wise ops feeding sum-like accumulators write into them.
std::string generate_block_source(const ir::BlockGraph& graph);

}  // namespace yirage::backend::cpu::codegen
