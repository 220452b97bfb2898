// The nominal cost model: bytes moved, FLOPs and launches of a kernel graph on a nominal
// machine. Backends refine it with their own machine numbers.
#pragma once

#include <utility>

#include "yirage/ir/block_graph.h"
#include "yirage/ir/kernel_graph.h"

namespace yirage::backend {

/// Machine numbers a cost estimate is made for.
struct MachineModel {
  double bytes_per_microsecond = 1e6;  ///< memory bandwidth (1e6 = 1 TB/s)
  double flops_per_microsecond = 1e8;  ///< arithmetic rate (1e8 = 100 TFLOP/s)
  double launch_microseconds = 3.0;    ///< fixed cost of one kernel launch
};

/// Bytes of a tensor of `type`.
double bytes_of(const ir::TensorType& type);

/// Bytes a block graph reads (each block reads its tiles, loop tiles once per iteration) and
/// writes, and the FLOPs of its matmuls.
std::pair<double, double> block_traffic(const ir::BlockGraph& graph);

/// Estimated microseconds of running `graph` on `machine`: per kernel, the launch cost plus the
/// larger of its memory and arithmetic times (a ranking, not a prediction).
double estimate_microseconds(const ir::KernelGraph& graph, const MachineModel& machine = {});

}  // namespace yirage::backend
