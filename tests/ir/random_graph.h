// Seeded random kernel graphs for property tests.
#pragma once

#include <cstdint>

#include "yirage/ir/kernel_graph.h"

namespace yirage::testing {

/// A small deterministic generator (splitmix64): the same seed gives the same numbers on every
/// platform, unlike the standard distributions.
class Rng {
 public:
  /// A generator started from `seed`.
  explicit Rng(uint64_t seed) : state_(seed) {}
  /// The next 64 random bits.
  uint64_t next();
  /// A uniform integer in [lo, hi] (inclusive); lo <= hi.
  int64_t uniform(int64_t lo, int64_t hi);
  /// True with probability `p`.
  bool chance(double p);
  /// A uniform double in [lo, hi).
  double real(double lo, double hi);

 private:
  uint64_t state_;
};

/// A valid kernel graph of `num_ops` ops besides its inputs, drawn from every op category
/// (unary, binary with broadcasting, reductions with and without keepdim, matmul, rms_norm,
/// softmax, concat, split and chunk, reshape, transpose, embedding, rope) over small shapes,
/// with inputs created along the way and one to three outputs. One seed, one graph.
ir::KernelGraph random_kernel_graph(uint64_t seed, int num_ops);

/// Rebuilds `graph` with its nodes in another topological order drawn from `seed`. Input nodes
/// keep their relative order (so the graph takes the same inputs) and outputs their order.
ir::KernelGraph reorder_kernel_graph(const ir::KernelGraph& graph, uint64_t seed);

}  // namespace yirage::testing
