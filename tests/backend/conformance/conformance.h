// The backend conformance suite, written once for every backend: a list of cases (every op of
// the table and every kind of block graph, in float32 and bfloat16, at shapes that are not
// multiples of a vector width or tile) and a checker that runs one case on a backend through
// Backend::run_into, with outputs placed between guard bytes, and compares it with the
// reference backend.
//
// Error bounds. An output element passes when |got - want| <= bound * max(|want|, mean|want|),
// where want is the reference (float64 rounded once to the output dtype) and mean|want| is
// the mean magnitude of that output tensor, so entries near zero after cancellation are judged
// against the tensor's typical size. The bound is 1e-4 for float32 outputs and 2e-2 for
// bfloat16 (about five bfloat16 ulps: a backend rounds every intermediate tensor of a chain to
// bfloat16, the reference rounds once). Integer outputs must be exact. Non-finite values fail.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "yirage/backend/backend.h"
#include "yirage/core/dtype.h"
#include "yirage/core/tensor.h"
#include "yirage/ir/kernel_graph.h"

namespace yirage::backend::conformance {

/// The values a float input is drawn from.
enum class Values : uint8_t {
  Signed,    ///< uniform in [-1, -0.1] U [0.1, 1]
  Positive,  ///< uniform in [0.25, 2] (operands of sqrt, rsqrt and pow)
};

/// One conformance case: a kernel graph and how to draw its inputs.
struct Case {
  std::string name;            ///< e.g. "matmul float32 a[3, 67] b[67, 45]"
  core::DType dtype;           ///< the float dtype under test (float32 or bfloat16)
  ir::KernelGraph graph;       ///< what runs
  std::vector<Values> values;  ///< per graph input (float inputs only; default Signed)
  uint64_t seed = 0;           ///< seed of the inputs
};

/// Every case, deterministic: each op of ops.def at kernel level, the standard workloads'
/// naive graphs and fused programs at small shapes, and hand-built block graphs covering each
/// accumulator, reduce_to_dimx, transposes, concat, 3-D grids and every op a block may apply;
/// each in float32 and bfloat16.
const std::vector<Case>& all_cases();

/// What the cases do not cover: one line per op (kernel level and, for the ops blocks apply,
/// block level), accumulator or reduce_to_dimx missing in float32 or bfloat16. Empty when the
/// suite is complete.
std::vector<std::string> missing_coverage(const std::vector<Case>& cases);

/// The error bound of an output dtype (see the header comment).
double error_bound(core::DType dtype);

/// Where the checker keeps a case's tensors: host memory by default; an entry point for a
/// device backend supplies one that uploads to and reads back from the device.
class CaseMemory {
 public:
  virtual ~CaseMemory() = default;
  /// A new buffer holding `image`, and a view of `type` starting `offset` bytes into it.
  virtual core::Tensor place(const std::vector<uint8_t>& image, std::size_t offset,
                             const core::Shape& shape, core::DType dtype) = 0;
  /// The bytes of the whole buffer behind a view returned by place(), on the host.
  virtual std::vector<uint8_t> read_back(const core::Tensor& view) = 0;
};

/// Host memory: buffers are plain heap allocations.
std::unique_ptr<CaseMemory> host_memory();

/// The outcome of one case on one backend.
struct CaseResult {
  /// Passed: every check held; Failed: see message; Unsupported: the backend does not support
  /// an op of the graph (reported, not failed, as ggml's test-backend-ops does).
  enum class Status : uint8_t { Passed, Failed, Unsupported };
  Status status = Status::Passed;  ///< outcome
  std::string message;             ///< what failed, or which op is unsupported
  double worst_error = 0.0;        ///< largest |got - want| / max(|want|, mean|want|) seen
};

/// Runs `test_case` on `backend` through run_into, its outputs views into larger buffers with
/// a sentinel pattern before and after (checked afterwards) and NaN in between (so unwritten
/// elements fail), then checks the inputs are unchanged and compares every output with the
/// reference backend under error_bound(). Exceptions from the backend are failures.
CaseResult check_case(Backend& backend, const Case& test_case, CaseMemory& memory);

/// Names of every registered backend the suite applies to: all but `reference`, available or
/// not (callers skip unavailable ones with their reason).
std::vector<std::string> backends_under_test();

}  // namespace yirage::backend::conformance
