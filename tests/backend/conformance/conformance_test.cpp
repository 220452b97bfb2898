// Runs the conformance suite on every registered backend but the reference, and checks that
// the suite itself covers the op table and catches the faults it exists to catch.
#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <set>

#include "backend/conformance/conformance.h"
#include "yirage/backend/registry.h"
#include "yirage/core/dtype.h"

namespace yirage::backend::conformance {
namespace {

TEST(ConformanceCasesTest, CoverEveryOpAccumulatorAndReduceToDimxInBothDtypes) {
  const auto missing = missing_coverage(all_cases());
  std::string list;
  for (const auto& line : missing) list += "\n  " + line;
  EXPECT_TRUE(missing.empty()) << "the conformance suite has no case for:" << list;
}

TEST(ConformanceCasesTest, CoverageCheckNamesWhatIsMissing) {
  std::vector<Case> cases;
  for (const auto& c : all_cases()) {
    bool has_rope = false;
    for (const auto& node : c.graph.nodes()) has_rope = has_rope || node.op == ir::OpKind::Rope;
    if (!has_rope) cases.push_back(c);
  }
  const auto missing = missing_coverage(cases);
  EXPECT_EQ(missing, (std::vector<std::string>{"op 'rope' in float32", "op 'rope' in bfloat16"}));
}

TEST(ConformanceCasesTest, NamesAreUniqueAndShapesAvoidMultiplesOfSixteen) {
  std::set<std::string> names;
  int odd_extents = 0;
  for (const auto& c : all_cases()) {
    EXPECT_TRUE(names.insert(c.name).second) << "duplicate case name " << c.name;
    for (const auto& type : c.graph.input_types()) {
      for (int64_t extent : type.shape) odd_extents += extent % 16 != 0 ? 1 : 0;
    }
  }
  EXPECT_GT(odd_extents, 200);
}

// A backend that runs the reference and then injects one fault, to show the checker sees it.
class FaultyBackend final : public Backend {
 public:
  enum class Fault { None, WritePastEnd, WriteBeforeStart, Perturb, SkipLast, ModifyInput };
  explicit FaultyBackend(Fault fault) : fault_(fault) {}
  std::string_view name() const override { return "faulty"; }
  std::string_view description() const override { return "reference plus one injected fault"; }
  Availability available() const override { return {true, ""}; }
  DeviceInfo device_info() const override { return {"host", {}}; }
  bool supports(ir::OpKind) const override { return true; }
  std::vector<core::Tensor> run(const ir::KernelGraph& graph,
                                const std::vector<core::Tensor>& inputs) override {
    return get_backend("reference").run(graph, inputs);
  }
  void run_into(const ir::KernelGraph& graph, const std::vector<core::Tensor>& inputs,
                const std::vector<core::Tensor>& outputs) override {
    const auto results = run(graph, inputs);
    const core::Tensor& out = outputs[0];
    const std::size_t size = core::dtype_size(out.dtype());
    auto* bytes = static_cast<uint8_t*>(out.data());
    std::memcpy(bytes, results[0].data(),
                fault_ == Fault::SkipLast ? out.nbytes() - size : out.nbytes());
    for (std::size_t i = 1; i < outputs.size(); ++i)
      std::memcpy(outputs[i].data(), results[i].data(), outputs[i].nbytes());
    if (fault_ == Fault::WritePastEnd) bytes[out.nbytes()] ^= 1;
    if (fault_ == Fault::WriteBeforeStart) bytes[-1] ^= 1;
    if (fault_ == Fault::ModifyInput) static_cast<uint8_t*>(inputs[0].data())[0] ^= 0x40;
    if (fault_ == Fault::Perturb) {
      const double value = core::load_as_double(bytes, out.dtype(), 0);
      // Ten times the bound, or more, whatever the output's scale.
      const double relative = out.dtype() == core::DType::F32 ? 1e-3 : 0.2;
      core::store_from_double(bytes, out.dtype(), 0, value + relative * (std::abs(value) + 10.0));
    }
  }

 private:
  Fault fault_;
};

const Case& case_named(const std::string& prefix) {
  for (const auto& c : all_cases()) {
    if (c.name.rfind(prefix, 0) == 0) return c;
  }
  throw std::runtime_error("no case named " + prefix);
}

TEST(ConformanceCheckerTest, CatchesOutOfBoundsWritesWrongValuesAndUnwrittenElements) {
  using Fault = FaultyBackend::Fault;
  using Status = CaseResult::Status;
  auto memory = host_memory();
  for (const char* name : {"matmul float32", "gated_mlp fused bfloat16"}) {
    const Case& c = case_named(name);
    FaultyBackend clean(Fault::None);
    EXPECT_EQ(check_case(clean, c, *memory).status, Status::Passed) << name;
    const std::vector<std::pair<Fault, std::string>> faults = {
        {Fault::WritePastEnd, "past its end"},
        {Fault::WriteBeforeStart, "before its start"},
        {Fault::Perturb, "out of bounds"},
        {Fault::SkipLast, "out of bounds"},
        {Fault::ModifyInput, "input 0 was modified"}};
    for (const auto& [fault, message] : faults) {
      FaultyBackend faulty(fault);
      const CaseResult result = check_case(faulty, c, *memory);
      EXPECT_EQ(result.status, Status::Failed) << name << ": fault not caught: " << message;
      EXPECT_NE(result.message.find(message), std::string::npos) << result.message;
    }
  }
}

TEST(ConformanceCheckerTest, BoundsAreStated) {
  EXPECT_EQ(error_bound(core::DType::F32), 1e-4);
  EXPECT_EQ(error_bound(core::DType::BF16), 2e-2);
  EXPECT_EQ(error_bound(core::DType::I32), 0.0);
}

class ConformanceTest : public ::testing::TestWithParam<std::string> {};

// YIRAGE_CONFORMANCE_FILTER=text runs only the cases whose name contains `text`;
// YIRAGE_CONFORMANCE_VERBOSE=1 prints every case with its worst error.
TEST_P(ConformanceTest, EveryCaseMatchesTheReference) {
  Backend& backend = get_backend(GetParam());
  const Availability availability = backend.available();
  if (!availability.available) {
    GTEST_SKIP() << "backend '" << GetParam() << "' is not available: " << availability.reason;
  }
  const char* filter = std::getenv("YIRAGE_CONFORMANCE_FILTER");
  const bool verbose = std::getenv("YIRAGE_CONFORMANCE_VERBOSE") != nullptr;
  auto memory = host_memory();
  int passed = 0, failed = 0, unsupported = 0;
  double worst_f32 = 0.0, worst_bf16 = 0.0;
  const auto start = std::chrono::steady_clock::now();
  for (const Case& c : all_cases()) {
    if (filter != nullptr && c.name.find(filter) == std::string::npos) continue;
    const CaseResult result = check_case(backend, c, *memory);
    if (verbose) std::cout << "  " << c.name << ": worst error " << result.worst_error << "\n";
    switch (result.status) {
      case CaseResult::Status::Passed:
        ++passed;
        break;
      case CaseResult::Status::Unsupported:
        ++unsupported;
        std::cout << "[ unsupported ] " << GetParam() << ": " << c.name << ": " << result.message
                  << "\n";
        break;
      case CaseResult::Status::Failed:
        ++failed;
        ADD_FAILURE() << GetParam() << ": " << c.name << ": " << result.message;
        break;
    }
    (c.dtype == core::DType::F32 ? worst_f32 : worst_bf16) =
        std::max(c.dtype == core::DType::F32 ? worst_f32 : worst_bf16, result.worst_error);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "[ conformance ] " << GetParam() << ": " << passed << " passed, " << failed
            << " failed, " << unsupported << " unsupported in " << seconds
            << " s; worst error float32 " << worst_f32 << " (bound "
            << error_bound(core::DType::F32) << "), bfloat16 " << worst_bf16 << " (bound "
            << error_bound(core::DType::BF16) << ")\n";
}

INSTANTIATE_TEST_SUITE_P(Backends, ConformanceTest, ::testing::ValuesIn(backends_under_test()),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           std::string name = param.param;
                           for (char& ch : name) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace yirage::backend::conformance
