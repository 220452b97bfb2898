#include "yirage/search/superoptimizer.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>
#include <utility>

#include "yirage/backend/cost_model.h"
#include "yirage/backend/random_inputs.h"
#include "yirage/backend/registry.h"
#include "yirage/core/error.h"
#include "yirage/core/thread_pool.h"
#include "yirage/ir/block_graph.h"
#include "yirage/ir/fingerprint.h"
#include "yirage/search/block_search.h"
#include "yirage/search/cache.h"
#include "yirage/search/lowering.h"
#include "yirage/search/partition.h"
#include "yirage/verify/verifier.h"

namespace yirage::search {

namespace {

// The extents the graph reduces over (matmul contractions, reductions, softmax, rms_norm):
// the candidates for a for-loop. (The scalars come from derive_vocabulary.)
std::vector<int64_t> reduced_extents(const ir::KernelGraph& graph) {
  std::set<int64_t> reduced;
  for (const auto& node : graph.nodes()) {
    const auto& first = node.inputs.empty() ? ir::TensorType{} : graph.type(node.inputs[0]);
    int64_t extent = 0;
    if (node.op == ir::OpKind::Matmul || node.op == ir::OpKind::RmsNorm) {
      extent = first.shape.back();
    } else if (node.attrs.has("dim") && (node.op == ir::OpKind::Softmax ||
                                         ir::op_info(node.op).category == ir::OpCategory::Reduce)) {
      extent = first.shape[static_cast<std::size_t>(node.attrs.get_int("dim"))];
    }
    if (extent > 1) reduced.insert(extent);
  }
  return {reduced.begin(), reduced.end()};
}

// The graph inputs that some output's expression reads.
std::vector<bool> needed_inputs(const ExprPool& pool, const std::vector<ExprId>& roots,
                                std::size_t inputs) {
  std::vector<bool> needed(inputs, false);
  std::vector<char> seen(pool.size(), 0);
  std::vector<ExprId> stack;
  for (ExprId root : roots) {
    if (root == kUnknownExpr) return std::vector<bool>(inputs, true);  // unknown: assume all
    stack.push_back(root);
  }
  while (!stack.empty()) {
    const ExprId id = stack.back();
    stack.pop_back();
    if (seen[static_cast<std::size_t>(id)]) continue;
    seen[static_cast<std::size_t>(id)] = 1;
    const ExprNode& term = pool.node(id);
    if (term.kind == ExprKind::Var) needed[static_cast<std::size_t>(term.value)] = true;
    if (expr_arity(term.kind) >= 1) stack.push_back(term.a);
    if (expr_arity(term.kind) == 2) stack.push_back(term.b);
  }
  return needed;
}

// Frames searched together, in parallel; a fixed number, so that which frames are searched
// (and so the result) does not depend on the number of threads.
constexpr int64_t kFramesPerBatch = 8;

}  // namespace

double estimate_cost(const ir::KernelGraph& graph) {
  return backend::estimate_microseconds(graph);
}

namespace {

// Profiles the `top_k` cheapest of `found` and `original` on `backend`, returning the index
// into `found` of the fastest, or -1 when the original graph is faster.
int64_t profile_fastest(backend::Backend& backend, const ir::KernelGraph& original,
                        const std::vector<Found>& found, const SearchOptions& options,
                        SearchReport& report) {
  const auto inputs = backend::random_inputs(original, options.seed);
  double best = backend.profile(original, inputs, options.profile_iterations);
  report.original_seconds = best;
  int64_t chosen = -1;
  const auto count =
      std::min<std::size_t>(found.size(), static_cast<std::size_t>(options.profile_top_k));
  for (std::size_t i = 0; i < count; ++i) {
    const double seconds = backend.profile(found[i].program, inputs, options.profile_iterations);
    ++report.profiled;
    if (seconds < best) {
      best = seconds;
      chosen = static_cast<int64_t>(i);
    }
  }
  report.best_seconds = best;
  return chosen;
}

// Streaming forms derived by lowering the graph into each frame (lowering.h), and their
// split-reduction variants, cheapest first by the cost model; the first kMaxDerived that verify
// join `found` (as frame -1, ahead of searched frames on equal cost).
int64_t derive(const Target& target, const std::vector<Frame>& frames, const SearchOptions& options,
               SearchState& state, std::vector<Found>& found, SearchReport& report) {
  constexpr std::size_t kMaxDerived = 2;
  constexpr std::size_t kMaxAttempts = 6;
  std::vector<std::pair<double, ir::KernelGraph>> candidates;
  std::set<std::string> seen;
  const auto consider = [&](ir::KernelGraph program) {
    if (!seen.insert(ir::graph_fingerprint_hex(program)).second) return;
    const double cost = target.backend->estimate_cost(program);
    candidates.emplace_back(cost, std::move(program));
  };
  int64_t states = 0;  // each frame lowered into is a state of the budget
  for (const Frame& frame : frames) {
    if (states >= options.state_budget || state.should_stop()) break;
    ++states;
    state.states.fetch_add(1, std::memory_order_relaxed);
    auto program = lower_to_frame(*target.graph, frame);
    if (!program) continue;
    for (int64_t splits : {2, 4, 8, 16, 32}) {
      if (auto split = split_reduction(*program, splits)) consider(std::move(*split));
    }
    consider(std::move(*program));
  }
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::size_t verified = 0;
  const auto wanted = std::min<std::size_t>(
      kMaxDerived, static_cast<std::size_t>(std::max<int64_t>(1, options.max_verified)));
  for (std::size_t i = 0; i < candidates.size() && i < kMaxAttempts && verified < wanted; ++i) {
    if (state.should_stop()) break;
    ++report.derived;
    const verify::VerifyResult verdict = verify::verify(*target.graph, candidates[i].second,
                                                        {2, options.seed, true, options.cancel});
    if (!verdict.equivalent) {
      state.rejected.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    state.verified.fetch_add(1, std::memory_order_relaxed);
    found.push_back({std::move(candidates[i].second), candidates[i].first, -1,
                     static_cast<int64_t>(verified++)});
  }
  report.derived_verified = static_cast<int64_t>(verified);
  return states;
}

// The search itself, without the cache.
OptimizedProgram search(const ir::KernelGraph& graph, const SearchOptions& options,
                        backend::Backend& backend) {
  SearchState state;
  state.options = &options;
  state.start = std::chrono::steady_clock::now();
  state.caller = std::this_thread::get_id();

  ExprPool pool;
  const auto exprs = abstract_kernel_graph(pool, graph);
  std::vector<ExprId> roots;
  for (const auto& output : graph.outputs()) roots.push_back(exprs[output.node][output.output]);
  EGraph egraph(pool, roots);
  egraph.saturate();

  Target target;
  target.graph = &graph;
  target.inputs = graph.input_types();
  target.outputs = graph.output_types();
  target.pool = &pool;
  target.egraph = &egraph;
  target.backend = &backend;
  for (std::size_t k = 0; k < target.inputs.size(); ++k)
    target.input_exprs.push_back(pool.var(static_cast<int64_t>(k)));
  target.needed_inputs = needed_inputs(pool, roots, target.inputs.size());
  derive_vocabulary(graph, target);

  OptimizedProgram result{graph, {}};
  SearchReport& report = result.report;
  report.kernels_before = graph.num_kernels();
  report.original_cost = backend.estimate_cost(graph);
  // Frames most promising first, a batch at a time across the thread pool; within a frame,
  // iterative deepening (short programs first) up to a share of the state budget, so that no
  // frame takes the whole budget. Every frame's search depends only on the frame and its
  // budget, and the batches are fixed, so the result does not depend on thread timing.
  std::vector<Found> found;
  const auto frames = candidate_frames(target.inputs, target.outputs[0], reduced_extents(graph),
                                       reduced_input_dims(graph));
  const int64_t per_frame = std::max<int64_t>(20000, options.state_budget / 100);
  int64_t states_used = 0;
  if (options.derive) states_used += derive(target, frames, options, state, found, report);
  for (std::size_t first = 0; first < frames.size(); first += kFramesPerBatch) {
    if (state.should_stop() || static_cast<int64_t>(found.size()) >= options.max_verified ||
        states_used >= options.state_budget) {
      break;
    }
    const auto count =
        std::min<int64_t>(kFramesPerBatch, static_cast<int64_t>(frames.size() - first));
    const int64_t left = options.state_budget - states_used;
    const int64_t budget = std::min(per_frame, (left + count - 1) / count);
    std::vector<FrameResult> results(static_cast<std::size_t>(count));
    core::ThreadPool::global().parallel_for(count, 1, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const auto index = static_cast<int64_t>(first) + i;
        results[static_cast<std::size_t>(i)] =
            search_frame(target, frames[static_cast<std::size_t>(index)], index,
                         options.max_block_ops, budget, state);
      }
    });
    report.frames += count;
    for (auto& frame : results) {
      states_used += frame.states;
      for (auto& program : frame.found) found.push_back(std::move(program));
    }
  }
  state.should_stop();
  report.totals = state.progress();
  report.cancelled = options.cancel != nullptr && options.cancel->load();
  report.budget_exhausted =
      !report.cancelled && (state.stopped.load() || states_used >= options.state_budget);
  // Cheapest first; ties go to the earlier frame, then the earlier find.
  std::sort(found.begin(), found.end(), [](const Found& a, const Found& b) {
    return std::tie(a.cost, a.frame, a.order) < std::tie(b.cost, b.frame, b.order);
  });
  std::ostringstream summary;
  if (report.cancelled) summary << "Cancelled; the best verified result so far. ";
  summary << report.totals.states << " states (" << report.totals.pruned << " pruned) in "
          << report.frames << " frames, " << report.derived_verified << " of " << report.derived
          << " derived streaming forms verified, " << report.totals.verified << " verified and "
          << report.totals.rejected << " rejected candidates, " << report.totals.seconds << " s. ";
  int64_t chosen = found.empty() || found[0].cost >= report.original_cost ? -1 : 0;
  if (!found.empty() && backend.can_profile() && options.profile_top_k > 0 && !report.cancelled) {
    chosen = profile_fastest(backend, graph, found, options, report);
    summary << "Profiled " << report.profiled << " candidate(s) and the input graph on "
            << backend.name() << ". ";
  }
  if (chosen >= 0) {
    const Found& best = found[static_cast<std::size_t>(chosen)];
    result.graph = best.program;
    report.improved = true;
    report.best_cost = best.cost;
    summary << "Chose a verified program of " << result.graph.num_kernels()
            << " kernel(s), estimated " << best.cost << " us against " << report.original_cost
            << " us for the input graph.";
  } else {
    report.best_cost = report.original_cost;
    summary << "Found nothing better within the budget: the result is the input graph, unchanged.";
  }
  report.kernels_after = result.graph.num_kernels();
  report.summary = summary.str();
  return result;
}

// A graph larger than max_fragment_ops: each fragment (partition.h) is superoptimized on its
// own, with an equal share of the remaining time, and the results are stitched and verified as
// a whole; if the whole does not verify, the result is the input graph.
OptimizedProgram search_partitioned(const ir::KernelGraph& graph, const SearchOptions& options,
                                    backend::Backend& backend) {
  const auto start = std::chrono::steady_clock::now();
  const auto fragments = partition(graph, options.max_fragment_ops);
  OptimizedProgram result{graph, {}};
  SearchReport& report = result.report;
  report.kernels_before = graph.num_kernels();
  report.original_cost = backend.estimate_cost(graph);
  report.fragments = static_cast<int64_t>(fragments.size());
  std::vector<ir::KernelGraph> programs;
  int64_t improved = 0;
  for (std::size_t f = 0; f < fragments.size(); ++f) {
    const ir::KernelGraph& piece = fragments[f].graph;
    const double spent =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const bool cancelled = options.cancel != nullptr && options.cancel->load();
    if (piece.num_kernels() < 2 || cancelled || spent >= options.time_budget_seconds) {
      programs.push_back(piece);  // one op (or no time left): nothing to fuse
      continue;
    }
    SearchOptions sub = options;
    sub.time_budget_seconds =
        (options.time_budget_seconds - spent) / static_cast<double>(fragments.size() - f);
    const OptimizedProgram part = superoptimize(piece, sub, backend);
    programs.push_back(part.graph);
    improved += part.report.improved ? 1 : 0;
    report.totals.states += part.report.totals.states;
    report.totals.pruned += part.report.totals.pruned;
    report.totals.verified += part.report.totals.verified;
    report.totals.rejected += part.report.totals.rejected;
    report.frames += part.report.frames;
    report.derived += part.report.derived;
    report.derived_verified += part.report.derived_verified;
    report.budget_exhausted = report.budget_exhausted || part.report.budget_exhausted;
  }
  report.cancelled = options.cancel != nullptr && options.cancel->load();
  std::ostringstream summary;
  if (report.cancelled) summary << "Cancelled; the best verified result so far. ";
  summary << "Partitioned into " << fragments.size() << " fragments, " << improved << " improved; "
          << report.totals.states << " states, " << report.derived_verified
          << " derived streaming forms verified. ";
  ir::KernelGraph stitched = stitch(graph, fragments, programs);
  const verify::VerifyResult whole = verify::verify(graph, stitched, {2, options.seed, true});
  const double cost = backend.estimate_cost(stitched);
  if (whole.equivalent && improved > 0 && cost < report.original_cost) {
    result.graph = std::move(stitched);
    report.improved = true;
    report.best_cost = cost;
    summary << "The stitched program verified: " << result.graph.num_kernels()
            << " kernel(s), estimated " << cost << " us against " << report.original_cost
            << " us for the input graph.";
  } else {
    report.best_cost = report.original_cost;
    summary << (whole.equivalent ? "Found nothing better within the budget"
                                 : "The stitched program did not verify (" + whole.reason + ")")
            << ": the result is the input graph, unchanged.";
  }
  report.totals.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  report.kernels_after = result.graph.num_kernels();
  report.summary = summary.str();
  return result;
}

}  // namespace

OptimizedProgram superoptimize(const ir::KernelGraph& graph, const SearchOptions& options) {
  return superoptimize(graph, options, backend::get_available_backend(options.backend));
}

OptimizedProgram superoptimize(const ir::KernelGraph& graph, const SearchOptions& options,
                               backend::Backend& target) {
  const auto start = std::chrono::steady_clock::now();
  YR_USER_CHECK(!graph.outputs().empty(),
                "superoptimize: the graph has no outputs; expected at least one mark_output");
  YR_USER_CHECK(options.time_budget_seconds > 0, "superoptimize: time budget "
                                                     << options.time_budget_seconds
                                                     << " s is not positive");
  YR_USER_CHECK(options.max_fragment_ops >= 1, "superoptimize: max_fragment_ops "
                                                   << options.max_fragment_ops
                                                   << " is not positive");
  const backend::Availability availability = target.available();
  YR_USER_CHECK(availability.available, "superoptimize: backend '"
                                            << target.name()
                                            << "' is not available: " << availability.reason);
  const auto elapsed = [&start] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  std::string dir;
  CacheKey key;
  if (options.use_cache) {
    dir = options.cache_dir.empty() ? default_cache_dir() : options.cache_dir;
    key = cache_key(graph, options, device_fingerprint(target));
    key.backend = std::string(target.name());
    if (auto cached = cache_load(dir, key, graph, options)) {
      cached->report.seconds = elapsed();
      return std::move(*cached);
    }
  }
  OptimizedProgram result = graph.num_kernels() > options.max_fragment_ops
                                ? search_partitioned(graph, options, target)
                                : search(graph, options, target);
  // A cancelled search saw only part of the space, and one that found nothing before its
  // budget ran out may find something with a larger one: neither is worth keeping.
  const SearchReport& report = result.report;
  if (options.use_cache && !report.cancelled && (report.improved || !report.budget_exhausted)) {
    cache_store(dir, key, result, options);
  }
  result.report.seconds = elapsed();
  return result;
}

}  // namespace yirage::search
