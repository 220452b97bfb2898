#include "yirage/search/superoptimizer.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <sstream>
#include <utility>

#include "yirage/backend/cost_model.h"
#include "yirage/backend/registry.h"
#include "yirage/core/error.h"
#include "yirage/ir/block_graph.h"
#include "yirage/search/block_search.h"
#include "yirage/search/cache.h"

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

}  // namespace

double estimate_cost(const ir::KernelGraph& graph) {
  return backend::estimate_microseconds(graph);
}

namespace {

// The search itself, without the cache.
OptimizedProgram search(const ir::KernelGraph& graph, const SearchOptions& options) {
  SearchState state;
  state.options = &options;
  state.start = std::chrono::steady_clock::now();

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
  for (std::size_t k = 0; k < target.inputs.size(); ++k)
    target.input_exprs.push_back(pool.var(static_cast<int64_t>(k)));
  derive_vocabulary(graph, target);

  OptimizedProgram result{graph, {}};
  SearchReport& report = result.report;
  report.kernels_before = graph.num_kernels();
  report.original_cost = estimate_cost(graph);
  // Frame by frame, most promising first; within a frame, iterative deepening (short programs
  // first) up to a share of the state budget, so that no frame takes the whole budget.
  std::vector<Found> found;
  const auto frames = candidate_frames(target.inputs, target.outputs[0], reduced_extents(graph),
                                       reduced_input_dims(graph));
  const int64_t per_frame = std::max<int64_t>(20000, options.state_budget / 100);
  for (const Frame& frame : frames) {
    if (state.should_stop() || static_cast<int64_t>(found.size()) >= options.max_verified) break;
    ++report.frames;
    const int64_t frame_end = state.progress.states + per_frame;
    const std::size_t before = found.size();
    for (int depth = 2; depth <= options.max_block_ops && found.size() == before &&
                        state.progress.states < frame_end && !state.should_stop();
         ++depth) {
      search_frame(target, frame, depth, frame_end - state.progress.states, state, found);
    }
  }
  state.should_stop();
  report.totals = state.progress;
  report.cancelled = options.cancel != nullptr && options.cancel->load();
  report.budget_exhausted = state.stopped && !report.cancelled;
  const auto best = std::min_element(
      found.begin(), found.end(), [](const Found& a, const Found& b) { return a.cost < b.cost; });
  std::ostringstream summary;
  if (report.cancelled) summary << "Cancelled; the best verified result so far. ";
  summary << report.totals.states << " states (" << report.totals.pruned << " pruned) in "
          << report.frames << " frames, " << report.totals.verified << " verified and "
          << report.totals.rejected << " rejected candidates, " << report.totals.seconds << " s. ";
  if (best != found.end() && best->cost < report.original_cost) {
    result.graph = best->program;
    report.improved = true;
    report.best_cost = best->cost;
    summary << "Chose a verified program of " << result.graph.num_kernels()
            << " kernel(s), estimated " << best->cost << " us against " << report.original_cost
            << " us for the input graph.";
  } else {
    report.best_cost = report.original_cost;
    summary << "Found nothing better within the budget: the result is the input graph, unchanged.";
  }
  report.kernels_after = result.graph.num_kernels();
  report.summary = summary.str();
  return result;
}

}  // namespace

OptimizedProgram superoptimize(const ir::KernelGraph& graph, const SearchOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  YR_USER_CHECK(!graph.outputs().empty(),
                "superoptimize: the graph has no outputs; expected at least one mark_output");
  YR_USER_CHECK(options.time_budget_seconds > 0, "superoptimize: time budget "
                                                     << options.time_budget_seconds
                                                     << " s is not positive");
  const backend::Backend& target = backend::get_available_backend(options.backend);
  const auto elapsed = [&start] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  std::string dir;
  CacheKey key;
  if (options.use_cache) {
    dir = options.cache_dir.empty() ? default_cache_dir() : options.cache_dir;
    key = cache_key(graph, options, device_fingerprint(target));
    if (auto cached = cache_load(dir, key, graph, options)) {
      cached->report.seconds = elapsed();
      return std::move(*cached);
    }
  }
  OptimizedProgram result = search(graph, options);
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
