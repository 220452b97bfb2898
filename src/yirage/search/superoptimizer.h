// The superoptimizer: searches fused programs (block graphs) equivalent to a kernel graph,
// verifies every candidate, and keeps the cheapest.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "yirage/backend/backend.h"
#include "yirage/ir/kernel_graph.h"

namespace yirage::search {

/// Where a running search stands, for progress reporting.
struct SearchProgress {
  int64_t states = 0;    ///< partial candidates visited
  int64_t pruned = 0;    ///< partial candidates cut by abstract-expression pruning
  int64_t verified = 0;  ///< complete candidates that verified
  int64_t rejected = 0;  ///< complete candidates the verifier rejected
  double seconds = 0.0;  ///< time since the search started
};

/// How to search.
struct SearchOptions {
  std::string backend = "reference";  ///< where the program is meant to run (registry name)
  double time_budget_seconds = 30.0;  ///< stop after this long
  int64_t state_budget = 2000000;     ///< stop after this many states
  uint64_t seed = 0;                  ///< seeds verification (the search order is deterministic)
  bool prune = true;                  ///< abstract-expression pruning (off: for the ablation)
  int max_block_ops = 12;             ///< most ops in one block graph
  int64_t max_verified = 8;           ///< stop a frame's search after this many verified kernels
  std::function<void(const SearchProgress&)> on_progress;  ///< called about every 0.1 s
  const std::atomic<bool>* cancel = nullptr;               ///< set to stop early (best so far)
  bool use_cache = true;     ///< look the result up in, and store it to, the on-disk cache
  std::string cache_dir;     ///< the cache's directory; empty: default_cache_dir() (cache.h)
  int max_fragment_ops = 8;  ///< larger graphs are partitioned (partition.h) and searched piecewise
  bool derive = true;        ///< also lower the graph into each frame (lowering.h) before searching
  int profile_top_k = 3;     ///< when the backend can profile: time this many cheapest candidates
  int profile_iterations = 5;  ///< timed runs per profiled program (the median counts)
};

/// What the search did and found.
struct SearchReport {
  SearchProgress totals;          ///< final counters
  int64_t frames = 0;             ///< grid/for-loop/map frames explored
  int64_t derived = 0;            ///< derived streaming forms checked (lowering.h)
  int64_t derived_verified = 0;   ///< of which equivalent
  int64_t fragments = 0;          ///< fragments searched separately (0: searched whole)
  int kernels_before = 0;         ///< kernels (non-input nodes) of the input graph
  int kernels_after = 0;          ///< kernels of the result
  double best_cost = 0.0;         ///< cost-model estimate of the result
  double original_cost = 0.0;     ///< cost-model estimate of the input graph
  bool improved = false;          ///< false: the result is the input graph itself
  bool cancelled = false;         ///< stopped by the caller
  bool budget_exhausted = false;  ///< stopped by the time or state budget
  bool cache_hit = false;         ///< the result came from the cache (verified again)
  double seconds = 0.0;           ///< wall time of this call (a hit: lookup and verification)
  int64_t profiled = 0;           ///< candidates timed on the backend (0: the cost model chose)
  double original_seconds = 0.0;  ///< measured seconds of the input graph, when profiled
  double best_seconds = 0.0;      ///< measured seconds of the result, when profiled
  std::string summary;            ///< one paragraph, plain words
};

/// An optimized program and the evidence.
struct OptimizedProgram {
  ir::KernelGraph graph;  ///< verified equivalent to the input (or the input itself)
  SearchReport report;    ///< what the search did
};

/// Searches a fused program for `graph`. Every returned program is verified (finite-field and
/// float checks); when nothing better is found within the budget, the result is `graph`. With
/// `use_cache`, a cached result for the same graph, backend, device and search configuration
/// is verified again and returned instead of searching; a search that ran to completion, or
/// found something before its budget ran out, is stored (a cancelled one is not). An unknown or
/// unavailable backend is a UserError from the registry.
OptimizedProgram superoptimize(const ir::KernelGraph& graph, const SearchOptions& options = {});

/// superoptimize() for `backend` itself rather than the registry's options.backend: its
/// estimate_cost ranks the candidates and, when it can_profile(), the profile_top_k cheapest
/// and the input graph are timed on it and the fastest is kept. UserError when unavailable.
OptimizedProgram superoptimize(const ir::KernelGraph& graph, const SearchOptions& options,
                               backend::Backend& backend);

/// The cost-model estimate of running `graph`: bytes moved between kernels and memory, plus
/// a per-launch overhead, in microseconds on a nominal machine (a ranking, not a prediction).
double estimate_cost(const ir::KernelGraph& graph);

}  // namespace yirage::search
