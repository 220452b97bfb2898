// Depth-first search of the block graphs of one frame that compute a target program.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include "yirage/search/abstract_expr.h"
#include "yirage/search/egraph.h"
#include "yirage/search/frames.h"
#include "yirage/search/superoptimizer.h"

namespace yirage::search {

/// What the block search needs to know about the target.
struct Target {
  const ir::KernelGraph* graph = nullptr;   ///< the program to reproduce
  std::vector<ir::TensorType> inputs;       ///< its input types
  std::vector<ir::TensorType> outputs;      ///< its output types
  std::vector<double> constants;            ///< scalars the target uses (eps, 1/n, scales)
  ExprPool* pool = nullptr;                 ///< terms (shared with the e-graph)
  const EGraph* egraph = nullptr;           ///< the target's outputs, saturated
  std::vector<ExprId> input_exprs;          ///< Var terms of the inputs
  std::vector<bool> ops;                    ///< per OpKind: may appear in a block graph
  std::vector<ir::AccumKind> accumulators;  ///< accumulators worth trying
  bool transposes = false;                  ///< the target transposes something
  bool online_softmax = false;              ///< the target has a softmax a for-loop may split
};

/// The block ops and accumulators a fused form of `graph` can need: each op of the graph and
/// the primitive ops it expands to (rms_norm: square, sum, mul_scalar, add_scalar, rsqrt, mul;
/// softmax: max, sub, exp, sum, div; mean: sum, mul_scalar), plus sum accumulation, and max
/// with rescaled sums when the graph exponentiates (online softmax); and the scalars worth
/// trying: the graph's own and 1/n for each mean's extent.
void derive_vocabulary(const ir::KernelGraph& graph, Target& target);

/// Shared counters and limits of one superoptimize call.
struct SearchState {
  const SearchOptions* options = nullptr;       ///< budgets, pruning switch, callbacks
  std::chrono::steady_clock::time_point start;  ///< when the search began
  SearchProgress progress;                      ///< counters
  bool stopped = false;                         ///< a budget ran out or the caller cancelled
  double next_report = 0.0;                     ///< when on_progress is next called
  /// True (and `stopped` set) once a budget is spent or cancellation was asked for.
  bool should_stop();
};

/// A verified fused program found by the search, with its cost estimate.
struct Found {
  ir::KernelGraph program;  ///< one customized kernel computing the target's outputs
  double cost = 0.0;        ///< estimate_cost(program)
};

/// Enumerates block graphs in `frame` one op at a time in canonical order, pruning partial
/// candidates whose tensors are not subexpressions of the target, verifying every complete
/// one; at most `max_ops` ops and `state_budget` states. Appends verified programs to `found`.
void search_frame(const Target& target, const Frame& frame, int max_ops, int64_t state_budget,
                  SearchState& state, std::vector<Found>& found);

}  // namespace yirage::search
