#include "yirage/verify/verifier.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <sstream>

#include "yirage/backend/random_inputs.h"
#include "yirage/backend/reference/graph_interpreter.h"
#include "yirage/backend/reference/real_algebra.h"
#include "yirage/backend/reference/tensor_io.h"
#include "yirage/core/error.h"
#include "yirage/ir/block_graph.h"
#include "yirage/ir/index_bounds.h"
#include "yirage/verify/field_algebra.h"

namespace yirage::verify {

namespace {

using FieldTensor = backend::reference::Values<FieldValue>;
using Matrix = std::vector<std::vector<bool>>;

std::string types_to_string(const std::vector<ir::TensorType>& types) {
  std::string text = "(";
  for (std::size_t i = 0; i < types.size(); ++i) text += (i ? ", " : "") + types[i].to_string();
  return text + ")";
}

// Finds a perfect matching of reference outputs (rows) to candidate outputs (columns) by
// augmenting paths; returns the column of each row, or an empty vector when there is none.
std::vector<int> match_outputs(const Matrix& possible) {
  const auto n = static_cast<int>(possible.size());
  std::vector<int> row_of(n, -1), column_of(n, -1);
  std::function<bool(int, std::vector<bool>&)> augment = [&](int row, std::vector<bool>& seen) {
    for (int column = 0; column < n; ++column) {
      if (!possible[row][column] || seen[column]) continue;
      seen[column] = true;
      if (row_of[column] < 0 || augment(row_of[column], seen)) {
        row_of[column] = row;
        column_of[row] = column;
        return true;
      }
    }
    return false;
  };
  for (int row = 0; row < n; ++row) {
    std::vector<bool> seen(n, false);
    if (!augment(row, seen)) return {};
  }
  return column_of;
}

// True when `graph` has an op that reads the exponent (Z_q) component of a value into its
// Z_p component: exp and the ops built on it (field_algebra.h).
bool uses_exponents(const ir::KernelGraph& graph) {
  const auto exponential = [](ir::OpKind op) {
    return op == ir::OpKind::Exp || op == ir::OpKind::Sigmoid || op == ir::OpKind::Silu ||
           op == ir::OpKind::Softmax;
  };
  for (const auto& node : graph.nodes()) {
    if (exponential(node.op)) return true;
    if (node.op != ir::OpKind::Customized || node.block_graph == nullptr) continue;
    for (const auto& block_node : node.block_graph->nodes()) {
      if (block_node.kind == ir::BlockNodeKind::Op && exponential(block_node.op)) return true;
      if (block_node.kind == ir::BlockNodeKind::Accumulate &&
          block_node.accum == ir::AccumKind::RescaledSum)
        return true;
    }
  }
  return false;
}

// Runs one finite-field trial and narrows `possible` to the pairs whose values agree.
void field_trial(const ir::KernelGraph& reference, const ir::KernelGraph& candidate,
                 const std::vector<int64_t>& bounds, int trial, uint64_t seed,
                 const std::function<bool()>& stop, Matrix& possible) {
  std::mt19937_64 generator(seed ^ (0x5851f42d4c957f2dull * static_cast<uint64_t>(trial + 1)));
  const FieldAlgebra algebra(kFieldPairs[trial % 2], generator(),
                             uses_exponents(reference) || uses_exponents(candidate));
  std::vector<FieldTensor> inputs;
  const auto types = reference.input_types();
  for (std::size_t k = 0; k < types.size(); ++k) {
    const auto count = static_cast<std::size_t>(core::shape_numel(types[k].shape));
    FieldTensor tensor{types[k].shape, std::vector<FieldValue>(count)};
    for (std::size_t e = 0; e < tensor.data.size(); ++e) {
      if (e % 65536 == 0 && stop && stop()) throw backend::reference::Stopped();
      auto& value = tensor.data[e];
      value = bounds[k] > 0 ? algebra.from_index(static_cast<int64_t>(
                                  generator() % static_cast<uint64_t>(bounds[k])))
                            : algebra.random(generator(), generator());
    }
    inputs.push_back(std::move(tensor));
  }
  const auto expected = backend::reference::run_kernel_graph(algebra, reference, inputs, stop);
  const auto actual = backend::reference::run_kernel_graph(algebra, candidate, inputs, stop);
  // Outputs are compared on their Z_p components: the Z_q component exists to feed exp, and
  // after a non-ring op it is an oracle value, not a function of the real result.
  const auto same_values = [](const FieldTensor& x, const FieldTensor& y) {
    if (x.data.size() != y.data.size()) return false;
    for (std::size_t e = 0; e < x.data.size(); ++e) {
      if (x.data[e].a != y.data[e].a) return false;
    }
    return true;
  };
  for (std::size_t i = 0; i < expected.size(); ++i) {
    for (std::size_t j = 0; j < actual.size(); ++j) {
      possible[i][j] = possible[i][j] && same_values(expected[i], actual[j]);
    }
  }
}

// Largest |actual - expected| over the largest |expected| (1 when all are zero); infinity when
// the candidate produced a NaN or infinity the reference did not.
double relative_error(const core::Tensor& expected, const core::Tensor& actual) {
  double scale = 0.0, worst = 0.0;
  const int64_t count = expected.numel();
  for (int64_t i = 0; i < count; ++i) {
    const double e = expected.get(i), a = actual.get(i);
    if (std::isfinite(e)) scale = std::max(scale, std::fabs(e));
    if (std::isfinite(e) != std::isfinite(a)) return std::numeric_limits<double>::infinity();
    if (std::isfinite(e)) worst = std::max(worst, std::fabs(a - e));
  }
  return worst / (scale > 0.0 ? scale : 1.0);
}

}  // namespace

double float_error_bound(core::DType dtype) {
  switch (dtype) {
    case core::DType::F32:
      return 1e-3;
    case core::DType::F16:
      return 1e-2;
    case core::DType::BF16:
      return 2e-2;
    case core::DType::I32:
    case core::DType::I64:
      return 0.0;
  }
  YR_INTERNAL_ERROR("unhandled dtype");
}

VerifyResult verify(const ir::KernelGraph& reference, const ir::KernelGraph& candidate,
                    const VerifyOptions& options) {
  YR_USER_CHECK(options.trials >= 2, "verify: trials " << options.trials
                                                       << " is too few; expected at least 2 "
                                                          "independent finite-field trials");
  YR_USER_CHECK(options.time_limit_seconds >= 0.0,
                "verify: time limit " << options.time_limit_seconds
                                      << " s is negative; expected 0 (none) or a positive limit");
  const auto start = std::chrono::steady_clock::now();
  VerifyResult result;
  const auto finish = [&](VerifyResult& r) -> VerifyResult {
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return r;
  };
  const auto deadline =
      start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                  std::chrono::duration<double>(std::min(options.time_limit_seconds, 1e9)));
  const auto cancelled = [&] {
    return options.cancel != nullptr && options.cancel->load(std::memory_order_relaxed);
  };
  const auto late = [&] {
    return options.time_limit_seconds > 0.0 && std::chrono::steady_clock::now() >= deadline;
  };
  const std::function<bool()> stop = [&] { return cancelled() || late(); };
  // Not equivalent: stopped before the checks were done.
  const auto stopped = [&](VerifyResult& r) -> VerifyResult {
    r.equivalent = false;
    if (cancelled()) {
      r.reason = "not verified: cancelled";
    } else {
      std::ostringstream reason;
      reason << "not verified: the time limit of " << options.time_limit_seconds
             << " s was reached";
      r.reason = reason.str();
    }
    return finish(r);
  };
  const auto reference_inputs = reference.input_types();
  const auto candidate_inputs = candidate.input_types();
  if (reference_inputs != candidate_inputs) {
    result.reason = "inputs differ: the reference takes " + types_to_string(reference_inputs) +
                    ", the candidate " + types_to_string(candidate_inputs);
    return finish(result);
  }
  const auto reference_outputs = reference.output_types();
  const auto candidate_outputs = candidate.output_types();
  const std::size_t n = reference_outputs.size();
  if (n == 0 || candidate_outputs.size() != n) {
    result.reason = "outputs differ: the reference gives " + types_to_string(reference_outputs) +
                    ", the candidate " + types_to_string(candidate_outputs);
    return finish(result);
  }
  Matrix possible(n, std::vector<bool>(n));
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j)
      possible[i][j] = reference_outputs[i] == candidate_outputs[j];
  }
  // Integer inputs must be valid for both graphs.
  auto bounds = ir::index_bounds(reference);
  const auto candidate_bounds = ir::index_bounds(candidate);
  for (std::size_t k = 0; k < bounds.size(); ++k)
    bounds[k] = std::min(bounds[k], candidate_bounds[k]);

  const auto field_method = [&] { return "finite-field x" + std::to_string(result.trials); };
  for (int trial = 0; trial < options.trials; ++trial) {
    if (stop()) {
      result.method = field_method();
      return stopped(result);
    }
    try {
      field_trial(reference, candidate, bounds, trial, options.seed, stop, possible);
    } catch (const backend::reference::Stopped&) {
      result.method = field_method();
      return stopped(result);
    } catch (const core::UserError& error) {
      result.trials = trial + 1;
      result.reason =
          "finite-field trial " + std::to_string(trial + 1) + " failed: " + error.what();
      result.method = field_method();
      return finish(result);
    }
    result.trials = trial + 1;
    result.output_permutation = match_outputs(possible);
    if (result.output_permutation.empty()) {
      std::ostringstream reason;
      reason << "finite-field trial " << trial + 1 << " (p = " << kFieldPairs[trial % 2].p
             << "): the outputs differ";
      for (std::size_t i = 0; i < n; ++i) {
        bool any = false;
        for (std::size_t j = 0; j < n; ++j) any = any || possible[i][j];
        if (!any) {
          reason << "; reference output " << i << " (" << reference_outputs[i].to_string()
                 << ") equals no candidate output";
          break;
        }
      }
      result.method = field_method();
      result.reason = reason.str();
      return finish(result);
    }
  }
  result.method = field_method();
  if (options.float_check) {
    result.method += " + float64";
    if (stop()) return stopped(result);
    // What the reference backend computes, with the inputs converted to float64 once for both
    // graphs and the runs stoppable.
    std::vector<backend::reference::Buffer> inputs;
    for (const auto& tensor : backend::random_inputs(reference, options.seed ^ 0xf10a7ull))
      inputs.push_back(backend::reference::buffer_from_tensor(tensor));
    const auto run = [&](const ir::KernelGraph& graph) {
      const auto values = backend::reference::run_kernel_graph(backend::reference::RealAlgebra{},
                                                               graph, inputs, stop);
      std::vector<core::Tensor> outputs;
      for (std::size_t i = 0; i < values.size(); ++i) {
        outputs.push_back(backend::reference::tensor_from_buffer(
            values[i], graph.type(graph.outputs()[i]).dtype));
      }
      return outputs;
    };
    std::vector<core::Tensor> expected, actual;
    try {
      expected = run(reference);
      actual = run(candidate);
    } catch (const backend::reference::Stopped&) {
      return stopped(result);
    }
    for (std::size_t i = 0; i < n; ++i) {
      const core::Tensor& produced = actual[result.output_permutation[i]];
      const double error = relative_error(expected[i], produced);
      result.max_rel_error = std::max(result.max_rel_error, error);
      const double bound = float_error_bound(reference_outputs[i].dtype);
      if (!(error <= bound)) {
        std::ostringstream reason;
        reason << "float check: output " << i << " (" << reference_outputs[i].to_string()
               << ") differs from the reference by " << error << " relative to its largest value"
               << " (bound " << bound << ")";
        result.reason = reason.str();
        return finish(result);
      }
    }
  }
  result.equivalent = true;
  return finish(result);
}

}  // namespace yirage::verify
