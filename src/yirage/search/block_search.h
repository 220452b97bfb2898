// Depth-first search of the block graphs of one frame that compute a target program.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <thread>
#include <vector>

#include "yirage/backend/backend.h"
#include "yirage/search/abstract_expr.h"
#include "yirage/search/egraph.h"
#include "yirage/search/frames.h"
#include "yirage/search/superoptimizer.h"

namespace yirage::search {

/// What the block search needs to know about the target.
struct Target {
  const ir::KernelGraph* graph = nullptr;  ///< the program to reproduce
  std::vector<ir::TensorType> inputs;      ///< its input types
  std::vector<ir::TensorType> outputs;     ///< its output types
  std::vector<double> constants;           ///< scalars the target uses (eps, 1/n, scales)
  const ExprPool* pool = nullptr;  ///< terms of the target (each frame extends its own copy)
  const EGraph* egraph = nullptr;  ///< the target's outputs, saturated
  const backend::Backend* backend = nullptr;  ///< ranks candidates (estimate_cost)
  std::vector<ExprId> input_exprs;            ///< Var terms of the inputs
  std::vector<bool> needed_inputs;            ///< per input: some output depends on it
  std::vector<bool> ops;                      ///< per OpKind: may appear in a block graph
  std::vector<ir::AccumKind> accumulators;    ///< accumulators worth trying
  bool transposes = false;                    ///< the target transposes something
  bool online_softmax = false;                ///< the target has a softmax a for-loop may split
};

/// The block ops and accumulators a fused form of `graph` can need: each op of the graph and
/// the primitive ops it expands to (rms_norm: square, sum, mul_scalar, add_scalar, rsqrt, mul;
/// softmax: max, sub, exp, sum, div; mean: sum, mul_scalar), plus sum accumulation, and max
/// with rescaled sums when the graph exponentiates (online softmax); and the scalars worth
/// trying: the graph's own and 1/n for each mean's extent.
void derive_vocabulary(const ir::KernelGraph& graph, Target& target);

/// Shared state of one superoptimize call: limits, cancellation and the progress counters
/// that every search thread adds to (budgets are counted per frame, so that what a frame
/// finds does not depend on the other threads).
struct SearchState {
  const SearchOptions* options = nullptr;       ///< budgets, pruning switch, callbacks
  std::chrono::steady_clock::time_point start;  ///< when the search began
  std::thread::id caller;                       ///< the thread that reports progress
  std::atomic<int64_t> states{0};               ///< states visited by every thread
  std::atomic<int64_t> pruned{0};               ///< of which pruned
  std::atomic<int64_t> verified{0};             ///< complete candidates that verified
  std::atomic<int64_t> rejected{0};             ///< complete candidates rejected
  std::atomic<bool> stopped{false};             ///< the time ran out or the caller cancelled
  double next_report = 0.0;                     ///< when on_progress is next called
  /// True (and `stopped` set) once the time budget is spent or cancellation was asked for;
  /// on the caller's thread, also reports progress about every 0.1 s.
  bool should_stop();
  /// The counters now.
  SearchProgress progress() const;
};

/// A verified fused program found by the search, with its cost estimate.
struct Found {
  ir::KernelGraph program;  ///< customized kernels computing the target's outputs
  double cost = 0.0;        ///< the backend's estimate_cost(program)
  int64_t frame = 0;        ///< index of the frame it was found in (orders ties)
  int64_t order = 0;        ///< how many programs that frame had found before it
};

/// What the search of one frame did.
struct FrameResult {
  std::vector<Found> found;  ///< verified programs, in the order found
  int64_t states = 0;        ///< states visited
};

/// Enumerates block graphs in `frame` one op at a time in canonical order, pruning partial
/// candidates whose tensors are not subexpressions of the target and those that cannot use
/// every tensor and needed input within the remaining ops, and verifying every complete one.
/// A frame with a for-loop is first searched accumulators first (short loop-body recipes, each
/// ending in an accumulator, combined, then after-loop ops); then every frame by iterative
/// deepening (2 ops, 3 ops, ... up to `max_ops`). Stops after `state_budget` states or
/// max_verified verified programs. Deterministic for a given frame and budget.
FrameResult search_frame(const Target& target, const Frame& frame, int64_t frame_index, int max_ops,
                         int64_t state_budget, SearchState& state);

}  // namespace yirage::search
