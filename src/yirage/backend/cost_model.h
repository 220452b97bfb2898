// The nominal cost model: bytes moved, FLOPs and launches of a kernel graph on a nominal
// machine. Backends refine it with their own machine numbers.
#pragma once

#include <cstdint>
#include <utility>

#include "yirage/ir/block_graph.h"
#include "yirage/ir/kernel_graph.h"

namespace yirage::backend {

/// Machine numbers a cost estimate is made for.
struct MachineModel {
  double bytes_per_microsecond = 1e6;         ///< memory bandwidth (1e6 = 1 TB/s)
  double flops_per_microsecond = 1e8;         ///< arithmetic rate (1e8 = 100 TFLOP/s)
  double launch_microseconds = 3.0;           ///< fixed cost of one kernel launch
  int64_t parallel_units = 132;               ///< blocks that run at once (SMs, cores)
  double fast_memory_bytes = 228.0 * 1024.0;  ///< on-chip memory per unit (shared memory, L2)
};

/// Bytes one block of `graph` holds on chip during one iteration: its input tiles (loop tiles
/// for one iteration) and its accumulators.
double block_working_set(const ir::BlockGraph& graph);

/// Estimated microseconds of one block-graph kernel: its traffic at the bandwidth and FLOP rate
/// of the units its blocks occupy; a for-loop of F iterations overlaps loads with compute (all
/// but 1/F of the shorter of the two is hidden, none without a loop); a working set beyond
/// fast memory spills (the excess is written and read back every iteration).
double block_microseconds(const ir::BlockGraph& graph, const MachineModel& machine = {});

/// Bytes of a tensor of `type`.
double bytes_of(const ir::TensorType& type);

/// Bytes a block graph reads (each block reads its tiles, loop tiles once per iteration) and
/// writes, and the FLOPs of its matmuls.
std::pair<double, double> block_traffic(const ir::BlockGraph& graph);

/// Estimated microseconds of running `graph` on `machine`: per kernel, the launch cost plus,
/// for a block graph, block_microseconds, and for another op the larger of its memory and
/// arithmetic times on the whole machine (a ranking, not a prediction).
double estimate_microseconds(const ir::KernelGraph& graph, const MachineModel& machine = {});

}  // namespace yirage::backend
