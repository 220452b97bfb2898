// Python bindings of search/: the superoptimizer, run with the GIL released. Progress comes back
// to Python about every 0.1 s on the calling thread, where pending signals are handled too, so
// Ctrl-C (KeyboardInterrupt) stops the search and returns the best verified result so far.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bindings.h"
#include "yirage/core/error.h"
#include "yirage/ir/block_graph.h"
#include "yirage/ir/kernel_graph.h"
#include "yirage/ir/printer.h"
#include "yirage/search/superoptimizer.h"

namespace yirage::python {

namespace {

using namespace nb::literals;

// How a search reports back to Python: the user's callback, the cancel flag the search polls,
// and what Python raised meanwhile.
struct ProgressBridge {
  nb::object callback;                    // None or a callable taking a SearchProgress
  std::atomic<bool> cancel{false};        // set on KeyboardInterrupt or an error in the callback
  bool interrupted = false;               // KeyboardInterrupt arrived (not an error: best so far)
  std::optional<nb::python_error> error;  // another exception from the callback, raised after

  // Called by the search with the GIL released.
  void report(const search::SearchProgress& progress) {
    nb::gil_scoped_acquire acquire;
    try {
      if (PyErr_CheckSignals() != 0) throw nb::python_error();
      if (!callback.is_none()) callback(progress);
    } catch (nb::python_error& raised) {
      take(std::move(raised));
    }
  }

  void take(nb::python_error&& raised) {
    cancel.store(true);
    if (raised.matches(PyExc_KeyboardInterrupt)) {
      interrupted = true;
    } else if (!error) {
      error.emplace(std::move(raised));
    }
  }
};

nb::dict report_dict(const search::SearchReport& report) {
  nb::dict out;
  out["states"] = report.totals.states;
  out["pruned"] = report.totals.pruned;
  out["verified"] = report.totals.verified;
  out["rejected"] = report.totals.rejected;
  out["frames"] = report.frames;
  out["derived"] = report.derived;
  out["derived_verified"] = report.derived_verified;
  out["fragments"] = report.fragments;
  out["profiled"] = report.profiled;
  out["original_seconds"] = report.original_seconds;
  out["best_seconds"] = report.best_seconds;
  out["kernels_before"] = report.kernels_before;
  out["kernels_after"] = report.kernels_after;
  out["original_cost"] = report.original_cost;
  out["best_cost"] = report.best_cost;
  out["improved"] = report.improved;
  out["cancelled"] = report.cancelled;
  out["budget_exhausted"] = report.budget_exhausted;
  out["cache_hit"] = report.cache_hit;
  out["search_seconds"] = report.totals.seconds;
  out["seconds"] = report.seconds;
  out["summary"] = report.summary;
  return out;
}

// Searches `graph` and puts the program into `program` (an empty graph, so that Python gets its
// own KernelGraph subclass back); returns the report as a dict.
nb::dict run_superoptimize(const ir::KernelGraph& graph, ir::KernelGraph& program,
                           const std::string& backend, double time_budget, uint64_t seed,
                           bool cache, const std::string& cache_dir, nb::object progress,
                           std::optional<int64_t> state_budget, bool prune,
                           std::optional<int> max_block_ops, std::optional<int64_t> max_verified,
                           bool derive) {
  YR_USER_CHECK(progress.is_none() || PyCallable_Check(progress.ptr()),
                "progress is a " << nb::cast<std::string>(nb::type_name(progress.type()))
                                 << "; expected a callable taking a SearchProgress, or None");
  YR_USER_CHECK(program.nodes().empty(), "_superoptimize fills an empty graph; this one has "
                                             << program.nodes().size() << " nodes");
  ProgressBridge bridge;
  bridge.callback = std::move(progress);
  search::SearchOptions options;
  options.backend = backend;
  options.time_budget_seconds = time_budget;
  options.seed = seed;
  options.use_cache = cache;
  options.cache_dir = cache_dir;
  options.prune = prune;
  options.derive = derive;
  if (state_budget) options.state_budget = *state_budget;
  if (max_block_ops) options.max_block_ops = *max_block_ops;
  if (max_verified) options.max_verified = *max_verified;
  options.cancel = &bridge.cancel;
  options.on_progress = [&bridge](const search::SearchProgress& now) { bridge.report(now); };
  // The search works on a copy, so other Python threads may go on building the original while
  // the GIL is released.
  const ir::KernelGraph snapshot = graph;
  search::OptimizedProgram result{ir::KernelGraph{}, {}};
  {
    nb::gil_scoped_release release;
    result = search::superoptimize(snapshot, options);
  }
  if (bridge.error) throw std::move(*bridge.error);
  // The last word, so that a progress display can finish at the final counts.
  if (!result.report.cache_hit && !bridge.callback.is_none() && !bridge.interrupted) {
    try {
      bridge.callback(result.report.totals);
    } catch (nb::python_error& raised) {
      if (!raised.matches(PyExc_KeyboardInterrupt)) throw;
    }
  }
  program = std::move(result.graph);
  return report_dict(result.report);
}

// Each kernel of `graph` (its non-input nodes) as (op, input types, output types, block graph or
// None, text); the text is the kernel alone as a one-kernel graph.
nb::list graph_kernels(const ir::KernelGraph& graph) {
  nb::list kernels;
  for (const ir::Node& node : graph.nodes()) {
    if (node.op == ir::OpKind::Input) continue;
    ir::KernelGraph alone;
    std::vector<ir::TensorRef> inputs;
    std::vector<ir::TensorType> input_types;
    for (const ir::TensorRef& input : node.inputs) {
      const ir::TensorType& type = graph.type(input);
      input_types.push_back(type);
      inputs.push_back(alone.input(type.shape, type.dtype));
    }
    const std::vector<ir::TensorRef> outputs = node.op == ir::OpKind::Customized
                                                   ? alone.customized(inputs, node.block_graph)
                                                   : alone.add_node(node.op, inputs, node.attrs);
    for (const ir::TensorRef& output : outputs) alone.mark_output(output);
    nb::object block = nb::none();
    if (node.block_graph) block = nb::cast(ir::BlockGraph(*node.block_graph));
    kernels.append(nb::make_tuple(std::string(ir::op_name(node.op)), input_types, node.outputs,
                                  block, ir::graph_to_text(alone)));
  }
  return kernels;
}

std::string progress_repr(const search::SearchProgress& self) {
  return "SearchProgress(states=" + std::to_string(self.states) +
         ", pruned=" + std::to_string(self.pruned) + ", verified=" + std::to_string(self.verified) +
         ", rejected=" + std::to_string(self.rejected) +
         ", seconds=" + std::to_string(self.seconds) + ")";
}

}  // namespace

void bind_search(nb::module_& m) {
  nb::class_<search::SearchProgress>(m, "SearchProgress",
                                     "Where a running search stands, as passed to the progress "
                                     "callback of KernelGraph.superoptimize.")
      .def_ro("states", &search::SearchProgress::states, "Partial candidates visited.")
      .def_ro("pruned", &search::SearchProgress::pruned,
              "Partial candidates cut by abstract-expression pruning.")
      .def_ro("verified", &search::SearchProgress::verified, "Complete candidates that verified.")
      .def_ro("rejected", &search::SearchProgress::rejected,
              "Complete candidates the verifier rejected.")
      .def_ro("seconds", &search::SearchProgress::seconds, "Time since the search started.")
      .def("__repr__", &progress_repr);
  m.def("_superoptimize", &run_superoptimize, "graph"_a, "program"_a, "backend"_a, "time_budget"_a,
        "seed"_a, "cache"_a, "cache_dir"_a, "progress"_a.none(), "state_budget"_a.none(), "prune"_a,
        "max_block_ops"_a.none(), "max_verified"_a.none(), "derive"_a = true,
        "Searches a fused program for `graph` into the empty graph `program` and returns the "
        "report as a dict (used by KernelGraph.superoptimize).");
  m.def("_kernels", &graph_kernels, "graph"_a,
        "The kernels of a graph as (op, input types, output types, block graph or None, text) "
        "(used by OptimizedProgram.kernels).");
}

}  // namespace yirage::python
