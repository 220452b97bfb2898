// Streaming forms derived from a kernel graph: where the for-loop of a frame walks a reduced
// dim, the reductions become per-tile ops and accumulators, with the algebra that makes them
// streamable applied on the way (the axioms the e-graph prunes with, used constructively):
//   matmul(rms_norm(x, g), w) = matmul(x * g, w) * rsqrt(sum(x^2) / n + eps)
//       (the per-row factor moves out of the sum: the division comes after the matmul);
//   matmul(softmax(s), v) = rescaled_sum(exp(s - m) @ v) / rescaled_sum(sum(exp(s - m)))
//       (online softmax: m the tile max, the sums rescaled to the running max).
// Every derived program is a candidate like any other: the search verifies it before use.
#pragma once

#include <cstdint>
#include <optional>

#include "yirage/ir/kernel_graph.h"
#include "yirage/search/frames.h"

namespace yirage::search {

/// The one-kernel program computing `graph` in `frame` (its for-loop walking the dims in the
/// frame's fmaps), or nothing when some op cannot be streamed there (a reduction over a walked
/// dim other than those above, a walked tile meeting an after-loop one, an output still inside
/// the loop, a shape the block-graph builder refuses).
std::optional<ir::KernelGraph> lower_to_frame(const ir::KernelGraph& graph, const Frame& frame);

/// `program` (one customized kernel with a for-loop) with its loop split over `splits` blocks
/// along grid axis y: a first kernel writes each split's accumulators (and, for each rescaled
/// sum, the running max it is relative to), a second combines the splits (sum, max, mean, rms
/// and rescaled sums) and runs the after-loop ops. Nothing when the kernel has no for-loop,
/// its range is not a multiple of `splits`, grid y is in use, or an output is not after-loop.
std::optional<ir::KernelGraph> split_reduction(const ir::KernelGraph& program, int64_t splits);

}  // namespace yirage::search
