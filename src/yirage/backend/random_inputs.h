// Seeded random inputs that a kernel graph accepts, for tests, checks and the CLI.
#pragma once

#include <cstdint>
#include <vector>

#include "yirage/core/tensor.h"
#include "yirage/ir/kernel_graph.h"

namespace yirage::backend {

/// One host tensor per graph input: floats uniform in [-1, -0.1] U [0.1, 1] (never zero),
/// integers uniform in [0, bound) with the bounds of ir::index_bounds. The same seed gives the
/// same tensors on every machine.
std::vector<core::Tensor> random_inputs(const ir::KernelGraph& graph, uint64_t seed);

}  // namespace yirage::backend
