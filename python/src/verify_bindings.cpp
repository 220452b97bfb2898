// Python bindings of verify/: checking that a candidate graph (a fused program) computes what a
// reference graph computes, and the verdict with its evidence.
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <cstdint>
#include <sstream>
#include <string>

#include "bindings.h"
#include "yirage/ir/kernel_graph.h"
#include "yirage/verify/verifier.h"

namespace yirage::python {

namespace {

using namespace nb::literals;

std::string result_repr(const verify::VerifyResult& self) {
  std::ostringstream text;
  text << "VerifyResult(equivalent=" << (self.equivalent ? "True" : "False") << ", method='"
       << self.method << "', trials=" << self.trials << ", max_rel_error=" << self.max_rel_error
       << ", seconds=" << self.seconds;
  if (!self.equivalent) text << ", reason='" << self.reason << "'";
  text << ")";
  return text.str();
}

verify::VerifyResult run_verify(const ir::KernelGraph& reference, const ir::KernelGraph& candidate,
                                int trials, uint64_t seed, bool float_check) {
  // The check works on copies, so other Python threads may go on building the originals while
  // the GIL is released.
  const ir::KernelGraph reference_copy = reference;
  const ir::KernelGraph candidate_copy = candidate;
  nb::gil_scoped_release release;
  return verify::verify(reference_copy, candidate_copy,
                        verify::VerifyOptions{trials, seed, float_check});
}

}  // namespace

void bind_verify(nb::module_& m) {
  nb::class_<verify::VerifyResult>(m, "VerifyResult",
                                   "The verdict of yr.verify, with its evidence; true in a "
                                   "boolean context when the graphs are equivalent.")
      .def_ro("equivalent", &verify::VerifyResult::equivalent, "True when every check passed.")
      .def_ro("method", &verify::VerifyResult::method,
              "The checks that ran, e.g. 'finite-field x2 + float64'.")
      .def_ro("trials", &verify::VerifyResult::trials, "Finite-field trials run.")
      .def_ro("max_rel_error", &verify::VerifyResult::max_rel_error,
              "Float check: the largest error relative to an output's largest magnitude.")
      .def_ro("reason", &verify::VerifyResult::reason,
              "Why the graphs are not equivalent (empty when they are).")
      .def_ro("output_permutation", &verify::VerifyResult::output_permutation,
              "For each reference output, the candidate output that matches it.")
      .def_ro("seconds", &verify::VerifyResult::seconds, "Wall time of the check.")
      .def("__bool__", [](const verify::VerifyResult& self) { return self.equivalent; })
      .def("__repr__", &result_repr);
  m.def("verify", &run_verify, "reference"_a, "candidate"_a, "trials"_a = 2, "seed"_a = 0,
        "float_check"_a = true,
        "verify(reference, candidate, trials=2, seed=0, float_check=True) -> VerifyResult: checks "
        "that `candidate` computes what `reference` computes (same input types; outputs equal up "
        "to a permutation), exactly in `trials` finite-field evaluations on random inputs and, "
        "with float_check, in float64 within a per-dtype bound. A mismatch is a result with a "
        "reason, not an exception; bad options raise UserError.");
  m.def("float_error_bound", &verify::float_error_bound, "dtype"_a,
        "The float check's bound on an output's error relative to its largest magnitude, for "
        "outputs of `dtype`.");
}

}  // namespace yirage::python
