// The checker of the conformance suite: guarded outputs, reference comparison, error bounds.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <map>
#include <random>
#include <sstream>

#include "backend/conformance/conformance.h"
#include "yirage/backend/random_inputs.h"
#include "yirage/backend/registry.h"
#include "yirage/core/error.h"

namespace yirage::backend::conformance {

namespace {

// Bytes of sentinel before and after every output; the leading guard is not a multiple of 64
// in every case, so outputs are not always cache-line aligned.
constexpr std::size_t kGuardBytes = 64;

uint8_t sentinel(std::size_t index) {
  return static_cast<uint8_t>(0xA5 ^ (index * 29));
}

class HostMemory final : public CaseMemory {
 public:
  core::Tensor place(const std::vector<uint8_t>& image, std::size_t offset,
                     const core::Shape& shape, core::DType dtype) override {
    auto buffer = std::make_shared<std::vector<uint8_t>>(image);
    uint8_t* data = buffer->data() + offset;
    buffers_[data] = {buffer, offset};
    return core::Tensor::borrow(data, shape, {}, dtype, core::Device{}, buffer);
  }
  std::vector<uint8_t> read_back(const core::Tensor& view) override {
    const auto found = buffers_.find(static_cast<uint8_t*>(view.data()));
    YR_INTERNAL_CHECK(found != buffers_.end(), "read_back of a tensor that place() did not make");
    return *found->second.first;
  }

 private:
  std::map<const uint8_t*, std::pair<std::shared_ptr<std::vector<uint8_t>>, std::size_t>> buffers_;
};

std::vector<uint8_t> bytes_of(const core::Tensor& tensor) {
  const core::Tensor dense = tensor.contiguous();
  const auto* first = static_cast<const uint8_t*>(dense.data());
  return {first, first + dense.nbytes()};
}

// The case's inputs: integers within the graph's index bounds, floats from the case's values.
std::vector<core::Tensor> case_inputs(const Case& test_case) {
  std::vector<core::Tensor> inputs = random_inputs(test_case.graph, test_case.seed);
  std::mt19937_64 rng(test_case.seed ^ 0x9E3779B97F4A7C15ULL);
  std::uniform_real_distribution<double> positive(0.25, 2.0);
  for (std::size_t i = 0; i < inputs.size() && i < test_case.values.size(); ++i) {
    if (test_case.values[i] != Values::Positive || !core::dtype_is_float(inputs[i].dtype()))
      continue;
    for (int64_t k = 0; k < inputs[i].numel(); ++k) {
      core::store_from_double(inputs[i].data(), inputs[i].dtype(), static_cast<std::size_t>(k),
                              positive(rng));
    }
  }
  return inputs;
}

// Compares one output; appends to `failure` and returns false when it does not conform.
bool compare(const core::Tensor& got, const core::Tensor& want, std::size_t output, double& worst,
             std::string& failure) {
  const core::DType dtype = want.dtype();
  const int64_t count = want.numel();
  double scale = 0.0;
  for (int64_t i = 0; i < count; ++i) scale += std::abs(want.get(i));
  scale = count > 0 ? scale / static_cast<double>(count) : 0.0;
  const double bound = error_bound(dtype);
  int64_t bad = 0, first_bad = -1;
  double first_got = 0.0, first_want = 0.0, local_worst = 0.0;
  for (int64_t i = 0; i < count; ++i) {
    const double g = got.get(i);
    const double w = want.get(i);
    double error = 0.0;
    if (!core::dtype_is_float(dtype)) {
      error = g == w ? 0.0 : INFINITY;
    } else if (!std::isfinite(g) || !std::isfinite(w)) {
      error = (std::isnan(g) || std::isnan(w) || g != w) ? INFINITY : 0.0;
    } else {
      error = std::abs(g - w) / std::max({std::abs(w), scale, 1e-30});
    }
    local_worst = std::max(local_worst, error);
    if (error > bound) {
      if (bad++ == 0) {
        first_bad = i;
        first_got = g;
        first_want = w;
      }
    }
  }
  worst = std::max(worst, local_worst);
  if (bad == 0) return true;
  std::ostringstream text;
  text << "output " << output << ": " << bad << " of " << count << " elements out of bounds (bound "
       << bound << ", worst error " << local_worst << "); first at flat index " << first_bad
       << ": got " << first_got << ", expected " << first_want << ". ";
  failure += text.str();
  return false;
}

}  // namespace

double error_bound(core::DType dtype) {
  switch (dtype) {
    case core::DType::F32:
      return 1e-4;
    case core::DType::F16:
      return 5e-3;
    case core::DType::BF16:
      return 2e-2;
    case core::DType::I32:
    case core::DType::I64:
      return 0.0;
  }
  return 0.0;
}

std::unique_ptr<CaseMemory> host_memory() {
  return std::make_unique<HostMemory>();
}

CaseResult check_case(Backend& backend, const Case& test_case, CaseMemory& memory) {
  CaseResult result;
  for (const auto& node : test_case.graph.nodes()) {
    if (!backend.supports(node.op)) {
      result.status = CaseResult::Status::Unsupported;
      result.message = "op '" + std::string(ir::op_name(node.op)) + "' is not supported";
      return result;
    }
  }
  const std::vector<core::Tensor> host_inputs = case_inputs(test_case);
  const std::vector<core::Tensor> expected =
      get_backend("reference").run(test_case.graph, host_inputs);

  // Inputs on the backend's memory; outputs as views between guards, NaN-filled.
  std::vector<core::Tensor> inputs;
  for (const auto& input : host_inputs) {
    inputs.push_back(memory.place(bytes_of(input), 0, input.shape(), input.dtype()));
  }
  std::vector<core::Tensor> outputs;
  std::vector<std::vector<uint8_t>> images;
  std::vector<std::size_t> offsets;
  const auto types = test_case.graph.output_types();
  for (std::size_t i = 0; i < types.size(); ++i) {
    const std::size_t element = core::dtype_size(types[i].dtype);
    const std::size_t bytes = static_cast<std::size_t>(core::shape_numel(types[i].shape)) * element;
    // Alternate between a 64-byte-aligned view and one that is only element-aligned.
    const std::size_t before = kGuardBytes + (i % 2 == 0 ? 0 : element * 3);
    std::vector<uint8_t> image(before + bytes + kGuardBytes, 0xFF);  // 0xFF..: NaN, or -1
    for (std::size_t b = 0; b < before; ++b) image[b] = sentinel(b);
    for (std::size_t b = 0; b < kGuardBytes; ++b) image[before + bytes + b] = sentinel(b + 7);
    outputs.push_back(memory.place(image, before, types[i].shape, types[i].dtype));
    images.push_back(std::move(image));
    offsets.push_back(before);
  }

  try {
    backend.run_into(test_case.graph, inputs, outputs);
    backend.synchronize();
  } catch (const std::exception& error) {
    result.status = CaseResult::Status::Failed;
    result.message = std::string("threw: ") + error.what();
    return result;
  }

  std::string failure;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (memory.read_back(inputs[i]) != bytes_of(host_inputs[i])) {
      failure += "input " + std::to_string(i) + " was modified. ";
    }
  }
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const std::vector<uint8_t> after = memory.read_back(outputs[i]);
    const std::size_t before = offsets[i];
    const std::size_t end = after.size() - kGuardBytes;
    for (std::size_t b = 0; b < after.size(); ++b) {
      if (b >= before && b < end) continue;
      if (after[b] != images[i][b]) {
        std::ostringstream text;
        text << "output " << i << ": guard byte " << (b < before ? "before" : "after")
             << " the tensor was overwritten (" << (b < before ? before - b : b - end + 1)
             << " bytes " << (b < before ? "before its start" : "past its end") << "). ";
        failure += text.str();
        break;
      }
    }
    // The output bytes, as a host tensor, against the reference.
    auto host = std::make_shared<std::vector<uint8_t>>(after.begin() + static_cast<long>(before),
                                                       after.begin() + static_cast<long>(end));
    const core::Tensor got = core::Tensor::borrow(host->data(), types[i].shape, {}, types[i].dtype,
                                                  core::Device{}, host);
    compare(got, expected[i], i, result.worst_error, failure);
  }
  if (!failure.empty()) {
    result.status = CaseResult::Status::Failed;
    result.message = failure;
  }
  return result;
}

std::vector<std::string> backends_under_test() {
  std::vector<std::string> names;
  for (const Backend* backend : all_backends()) {
    if (backend->name() != "reference") names.emplace_back(backend->name());
  }
  return names;
}

}  // namespace yirage::backend::conformance
