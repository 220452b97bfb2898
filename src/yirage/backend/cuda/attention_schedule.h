// A flash-attention schedule for attention block graphs (see attention_pattern.h), for sm_80
// and later.
//
// The loop kernel: each block takes one head, one KV split and up to 64 query rows (rows of
// the head padded to 16 per warp; 128 rows with 8 warps where the grid keeps enough blocks;
// decode's few GQA rows share one 16-row tile and the warps split the KV tile instead). It opens as
// a programmatic dependent (sm_90: waits for its producers, then lets the combine launch). The
// query rows go from global memory straight into mma A fragments in registers, normalised there
// (QK-norm: row sums over the lane quad; the K gain folded in) and rounded to bf16/f16; K and V
// tiles stream through a cp.async pipeline (16-byte copies, two tiles in flight) into XOR-swizzled
// shared memory; S = Q K^T and O += P V run on mma.sync m16n8k16 fed by ldmatrix (transposing for
// V) with f32 accumulation, P rounded in registers; the online softmax keeps per-row max and sum in
// registers (quad shuffles), a positive scale folded into the exponent's multiply-add; the K
// rows' rms_norm factors come from the K fragments. Head dims that are a multiple of 8 are
// zero-padded to 16 in shared memory; a KV range that is no multiple of 16 has its last tile
// zero-filled and masked. A warp alone on its rows stores them from registers (two entries a
// store); warps that split the KV range merge their (max, sum, O) through shared memory. Split
// partials are written relative to the max as stored. Blocks that fit four to a SM in shared
// memory are held to 128 registers a thread, so that such grids run in one wave. The combine
// kernel (also a programmatic dependent) reads each row's split partials once with 16-byte
// loads, a group of lanes (up to four splits each) per output chunk reducing with shuffles.
#pragma once

#include <cstdint>
#include <optional>

#include "yirage/backend/cuda/block_codegen.h"
#include "yirage/ir/block_graph.h"

namespace yirage::backend::cuda {

/// Choices of the attention schedule that depend on the device's size (tests force them).
struct AttentionOptions {
  /// SMs of the device that grid sizes are judged against (an H100's).
  int64_t sms = 132;
  /// Blocks a grid of 128-query-row blocks (8 warps) must have for the schedule to take them
  /// over 64-row blocks: about two a SM of a 132-SM device.
  int64_t wide_min_blocks = 256;
};

/// The attention or split-KV combine kernel for `graph` when it has one of those forms and fits
/// `shared_limit` bytes of shared memory per block; nullopt otherwise (the generic path).
std::optional<BlockKernel> try_generate_attention_kernel(const ir::BlockGraph& graph,
                                                         int shared_limit,
                                                         const AttentionOptions& options = {});

}  // namespace yirage::backend::cuda
