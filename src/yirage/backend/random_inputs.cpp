#include "yirage/backend/random_inputs.h"

#include <random>

#include "yirage/ir/index_bounds.h"

namespace yirage::backend {

std::vector<core::Tensor> random_inputs(const ir::KernelGraph& graph, uint64_t seed) {
  std::mt19937_64 generator(seed);
  const auto bounds = ir::index_bounds(graph);
  const auto types = graph.input_types();
  std::vector<core::Tensor> inputs;
  for (std::size_t k = 0; k < types.size(); ++k) {
    core::Tensor tensor = core::Tensor::empty(types[k].shape, types[k].dtype);
    const auto count = static_cast<std::size_t>(tensor.numel());
    for (std::size_t i = 0; i < count; ++i) {
      double value;
      if (bounds[k] > 0) {
        value = static_cast<double>(generator() % static_cast<uint64_t>(bounds[k]));
      } else {
        // 53 random bits -> [0, 1), then magnitude in [0.1, 1) and a random sign.
        const double unit = static_cast<double>(generator() >> 11) * 0x1.0p-53;
        value = (0.1 + 0.9 * unit) * ((generator() & 1) ? 1.0 : -1.0);
      }
      core::store_from_double(tensor.data(), types[k].dtype, i, value);
    }
    inputs.push_back(std::move(tensor));
  }
  return inputs;
}

}  // namespace yirage::backend
