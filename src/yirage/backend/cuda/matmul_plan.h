// Recognising block graphs whose for-loop is a matmul over a streamed contraction dim, and the
// launch shape of their tensor-core kernel.
//
// The form: 16-bit row tiles x [M, Kt] (and broadcast rows such as an rms_norm gain [Kt]) and
// weight tiles w [Kt, N] walked along Kt by the for-loop; element-wise ops on row tiles; matmuls
// of a row expression by a weight tile and row sums over Kt of row expressions, each feeding
// sum (or mean) accumulators; anything on after-loop and loop-invariant tiles afterwards. Such
// a loop is a sum over the block's whole contraction range, so the kernel re-chunks that range
// into pipeline stages of its own size, independent of the graph's for-loop range.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "yirage/core/dtype.h"
#include "yirage/ir/block_graph.h"

namespace yirage::backend::cuda {

/// A matmul of the loop: row expression `a` (node) times weight input `b` (Input node).
struct PlannedProduct {
  int32_t node = -1;  ///< the Matmul node
  int32_t a = -1;     ///< node of the row expression [rows, Kt]
  int32_t b = -1;     ///< Input node of the weight tile [Kt, cols]
  int64_t cols = 0;   ///< columns of the product in one block
};

/// A sum over the contraction dim of a row expression (a Sum or Mean reduce in the loop).
struct PlannedRowSum {
  int32_t node = -1;   ///< the Reduce node
  int32_t x = -1;      ///< node of the summed row expression [rows, Kt]
  double scale = 1.0;  ///< 1 for sum, 1 / Kt for mean
};

/// A streamed input: its Input node, the rows its tile has (1 for a broadcast row) and where a
/// stage keeps its chunk.
struct PlannedStream {
  int32_t node = -1;           ///< Input node
  int64_t rows = 0;            ///< row inputs: rows of the tile (1: a broadcast row)
  int64_t pitch_bytes = 0;     ///< bytes from one row of the chunk in shared memory to the next
  int64_t stage_offset = 0;    ///< byte offset of the chunk within a stage
  int64_t pieces_per_row = 0;  ///< 16-byte pieces per row of the chunk (weights: cols / 8)
  int swizzle = 0;             ///< weights: 0 none (odd pitch), 1 XOR of the piece's bits 3-5
                               ///< (rows of 1, 2 or 4 pieces), 2 XOR with the row (8n pieces)
};

/// Everything the tensor-core emitter needs: roles of the nodes and the launch shape.
struct MatmulPlan {
  core::DType dtype = core::DType::BF16;      ///< dtype of every streamed tile
  int64_t rows = 0;                           ///< M: rows of the row tiles and products
  int64_t depth = 0;                          ///< contraction elements a block walks: Kt x range
  int64_t tile_depth = 0;                     ///< Kt: contraction extent of one graph iteration
  std::vector<PlannedStream> row_streams;     ///< row inputs (contraction dim last)
  std::vector<PlannedStream> weight_streams;  ///< weight inputs (contraction dim first)
  std::vector<PlannedProduct> products;       ///< the loop's matmuls
  std::vector<PlannedRowSum> row_sums;        ///< the loop's row sums
  std::vector<int32_t> row_ops;               ///< element-wise loop nodes on row tiles, in order
  int warps = 8;                              ///< warps per block
  int warps_m = 1;                            ///< warps splitting the 16-row tiles
  int warps_n = 1;                            ///< warps splitting the columns of every product
  int warps_k = 8;                            ///< warps splitting the contraction steps of a chunk
  int64_t chunk = 0;                          ///< contraction elements per pipeline stage
  int stages = 0;                             ///< pipeline stages
  int64_t stage_bytes = 0;                    ///< bytes of one stage
  int64_t post_bytes = 0;                     ///< float tiles made after the loop (over the stages)
  int64_t persistent_bytes = 0;       ///< float tiles of loop-invariant inputs (after the stages)
  int64_t pipeline_bytes = 0;         ///< the stages, or the post tiles if more
  int64_t accumulator_registers = 0;  ///< f32 accumulators per thread
};

/// The plan for `graph` on a device with `shared_limit` bytes of opt-in shared memory per
/// block, or nullopt when the graph is not of the form above, its operands are not 16-bit or
/// not 16-byte aligned, or the device is older than sm_80 (less than 99 KB of opt-in shared
/// memory: sm_70 and sm_75).
std::optional<MatmulPlan> plan_matmul(const ir::BlockGraph& graph, int shared_limit);

/// Whether node `node` of a planned graph keeps its float tile over the whole kernel (a
/// loop-invariant input, read before the loop) rather than in the space of the stages.
bool persistent_tile(const ir::BlockGraph& graph, int32_t node);

}  // namespace yirage::backend::cuda
