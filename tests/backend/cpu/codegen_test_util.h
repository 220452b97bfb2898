// Helpers for the cpu code generator's tests: run a block graph through a generated kernel and
// through the reference block interpreter on the same inputs, and compare.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "test_util.h"
#include "yirage/backend/cpu/block_compiler.h"
#include "yirage/backend/reference/block_interpreter.h"
#include "yirage/backend/reference/real_algebra.h"
#include "yirage/backend/reference/tensor_io.h"

namespace yirage::backend::cpu::testing {

/// Relative bound on |kernel - reference| for outputs of `dtype`, scaled by the output's
/// largest magnitude: f32 arithmetic for f32, plus one rounding for 16-bit outputs.
inline double tolerance(core::DType dtype) {
  switch (dtype) {
    case core::DType::BF16:
      return 1e-2;
    case core::DType::F16:
      return 2e-3;
    default:
      return 2e-4;
  }
}

/// Random inputs for `graph` with values in [lo, hi] (never zero), stored in each input's dtype.
inline std::vector<core::Tensor> random_inputs(const ir::BlockGraph& graph, uint64_t seed,
                                               double lo = -1.0, double hi = 1.0) {
  std::mt19937_64 rng(seed);
  std::vector<core::Tensor> inputs;
  for (const auto& input : graph.inputs()) {
    inputs.push_back(
        yirage::testing::random_tensor(input.dtensor.shape, input.dtensor.dtype, rng, lo, hi));
  }
  return inputs;
}

/// Runs `kernel` on `inputs`; outputs start as NaN so an element never written shows.
inline std::vector<core::Tensor> run_kernel(const BlockKernel& kernel, const ir::BlockGraph& graph,
                                            const std::vector<core::Tensor>& inputs) {
  std::vector<core::Tensor> outputs;
  for (const auto& output : graph.outputs()) {
    core::Tensor tensor = core::Tensor::empty(output.dtensor.shape, output.dtensor.dtype);
    for (int64_t i = 0; i < tensor.numel(); ++i)
      core::store_from_double(tensor.data(), tensor.dtype(), static_cast<std::size_t>(i), NAN);
    outputs.push_back(tensor);
  }
  kernel.run(inputs, outputs);
  return outputs;
}

/// The reference backend's float64 result of `graph` on `inputs`.
inline std::vector<reference::Buffer> run_reference(const ir::BlockGraph& graph,
                                                    const std::vector<core::Tensor>& inputs) {
  const reference::RealAlgebra algebra;
  const reference::Interpreter<reference::RealAlgebra> ops(algebra);
  const reference::BlockInterpreter<reference::RealAlgebra> blocks(ops);
  std::vector<reference::Buffer> buffers;
  for (const auto& input : inputs) buffers.push_back(reference::buffer_from_tensor(input));
  std::vector<const reference::Buffer*> pointers;
  for (const auto& buffer : buffers) pointers.push_back(&buffer);
  return blocks.run(graph, pointers);
}

/// Compiles `graph`, runs it and the reference on the same random inputs, and checks every
/// output element within the output dtype's tolerance.
inline void expect_matches_reference(const ir::BlockGraph& graph, uint64_t seed, double lo = -1.0,
                                     double hi = 1.0) {
  const auto kernel = compile_block_graph(graph);
  const auto inputs = random_inputs(graph, seed, lo, hi);
  const auto outputs = run_kernel(*kernel, graph, inputs);
  const auto expected = run_reference(graph, inputs);
  ASSERT_EQ(outputs.size(), expected.size());
  for (std::size_t k = 0; k < outputs.size(); ++k) {
    double scale = 0.0;
    for (double value : expected[k].data) scale = std::max(scale, std::fabs(value));
    const double bound = tolerance(outputs[k].dtype()) * std::max(scale, 1e-3);
    int failures = 0;
    for (int64_t i = 0; i < outputs[k].numel(); ++i) {
      const double got = outputs[k].get(i), want = expected[k].data[i];
      if (!(std::fabs(got - want) <= bound) && ++failures <= 5) {
        ADD_FAILURE() << "output " << k << " " << outputs[k].to_string() << " element " << i
                      << ": kernel " << got << ", reference " << want << " (bound " << bound << ")";
      }
    }
    EXPECT_EQ(failures, 0) << "output " << k << ": " << failures << " elements off";
  }
}

}  // namespace yirage::backend::cpu::testing
