// Builds the RMSNorm + QKV matmul graph of a Qwen3-0.6B layer with the C++ API and runs it on
// the reference backend.
#include <cmath>
#include <cstdint>
#include <exception>
#include <iostream>
#include <vector>

#include "yirage/backend/registry.h"
#include "yirage/core/dtype.h"
#include "yirage/core/error.h"
#include "yirage/core/tensor.h"
#include "yirage/ir/kernel_graph.h"

namespace yr = yirage;

// Fills a tensor with deterministic values in [-1, 1].
yr::core::Tensor make_input(const yr::core::Shape& shape, int64_t salt) {
  yr::core::Tensor tensor = yr::core::Tensor::empty(shape, yr::core::DType::BF16);
  for (int64_t i = 0; i < tensor.numel(); ++i) {
    const double value = std::sin(0.37 * static_cast<double>(i) + static_cast<double>(salt));
    yr::core::store_from_double(tensor.data(), tensor.dtype(), static_cast<std::size_t>(i), value);
  }
  return tensor;
}

int main() {
  try {
    const int64_t batch = 8, hidden = 1024, qkv = 4096;
    yr::ir::KernelGraph graph;
    const auto x = graph.input({batch, hidden}, yr::core::DType::BF16);
    const auto norm_weight = graph.input({hidden}, yr::core::DType::BF16);
    const auto w_qkv = graph.input({hidden, qkv}, yr::core::DType::BF16);
    graph.mark_output(graph.matmul(graph.rms_norm(x, norm_weight, 1e-6), w_qkv));

    const std::vector<yr::core::Tensor> inputs = {
        make_input({batch, hidden}, 1), make_input({hidden}, 2), make_input({hidden, qkv}, 3)};
    yr::backend::Backend& reference = yr::backend::get_available_backend("reference");
    const std::vector<yr::core::Tensor> outputs = reference.run(graph, inputs);

    const yr::core::Tensor& y = outputs.at(0);
    double sum = 0.0;
    for (int64_t i = 0; i < y.numel(); ++i) sum += y.get(i);
    std::cout << "output " << yr::core::dtype_name(y.dtype())
              << yr::core::shape_to_string(y.shape()) << ", checksum " << sum << '\n';
    return 0;
  } catch (const yr::core::Error& e) {
    std::cerr << "error: " << e.what() << '\n';
    return 1;
  }
}
