// A streaming GEMV kernel for products with few rows (C[b] = A[b] (m x k) @ B[b] (k x n),
// m <= 8, batched): each thread owns 16 bytes of columns of B and issues 8 independent 16-byte
// loads of consecutive rows before using them; lane groups (a warp, or fewer lanes for narrow B)
// split K inside a block, blocks split K across the grid (partials in a float workspace, summed
// by the last block of each column tile). With B stored transposed (n x k, as keys in q @ k^T),
// lane groups take rows of B^T and reduce dot products with warp shuffles.
#pragma once

#include <cstddef>
#include <optional>

#include "yirage/backend/cuda/cublaslt.h"
#include "yirage/backend/cuda/kernel_source.h"

namespace yirage::backend::cuda {

/// A generated GEMV and what it needs at launch.
struct GemvKernel {
  KernelSource kernel;            ///< parameters: a, b, c, float* partials, unsigned* counters
  int splits = 1;                 ///< blocks along K per column tile
  std::size_t partial_bytes = 0;  ///< float workspace for partial sums (0 when splits == 1)
  std::size_t counter_bytes = 0;  ///< per-tile arrival counters, zeroed once before first use
};

/// Most rows a GEMV handles.
constexpr int64_t kGemvMaxRows = 8;

/// The GEMV for `shape` on a device with `multiprocessors` SMs, or nothing when the shape does
/// not suit it (more than kGemvMaxRows rows, integer dtype, more than 65535 batches, rows of B
/// (of B^T when transposed) that are not a multiple of 16 bytes, or a transposed B with k above
/// 64 vectors of 16 bytes).
std::optional<GemvKernel> generate_gemv_kernel(const GemmShape& shape, int multiprocessors);

}  // namespace yirage::backend::cuda
