// Equivalence checking of a candidate program against the graph it replaces.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "yirage/ir/kernel_graph.h"

namespace yirage::verify {

/// How to check.
struct VerifyOptions {
  int trials = 2;           ///< finite-field trials (at least 2), alternating the two field pairs
  uint64_t seed = 0;        ///< seeds inputs and oracles; the same seed repeats the check
  bool float_check = true;  ///< also compare float64 results on random non-zero inputs
  /// When set and it becomes true, the check stops early: not equivalent, reason "cancelled".
  const std::atomic<bool>* cancel = nullptr;
  /// When positive, the check stops after this many seconds: not equivalent, reason says so.
  double time_limit_seconds = 0.0;
};

/// The verdict, with the evidence.
struct VerifyResult {
  bool equivalent = false;              ///< true when every check passed
  std::string method;                   ///< the checks that ran, e.g. "finite-field x2 + float"
  int trials = 0;                       ///< finite-field trials run
  double max_rel_error = 0.0;           ///< float check: largest error relative to the output's max
  std::string reason;                   ///< why not equivalent (empty when equivalent)
  std::vector<int> output_permutation;  ///< candidate output matched to each reference output
  double seconds = 0.0;                 ///< wall time of the check
};

/// The float-check bound on error relative to the largest reference magnitude of an output,
/// for outputs of `dtype`: 1e-3 (float32), 1e-2 (float16), 2e-2 (bfloat16). Both sides round
/// only at their outputs on the reference backend; the margin leaves room for backends that
/// compute in the output's precision with float32 accumulation.
double float_error_bound(core::DType dtype);

/// Checks that `candidate` computes what `reference` computes: the same input types, and
/// outputs equal up to a permutation (1) exactly, in `trials` finite-field evaluations on fresh
/// random inputs (see field_algebra.h for each op's treatment), and (2) within
/// float_error_bound, in float64 on random non-zero inputs. Bad options are UserErrors; a
/// mismatch is a result with the reason, not an exception. A check stopped by `cancel` or
/// `time_limit_seconds` is never equivalent; its reason begins "not verified: ".
VerifyResult verify(const ir::KernelGraph& reference, const ir::KernelGraph& candidate,
                    const VerifyOptions& options = {});

}  // namespace yirage::verify
