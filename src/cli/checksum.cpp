#include "cli/checksum.h"

#include <cmath>
#include <cstdint>
#include <sstream>

#include "yirage/core/dtype.h"

namespace yirage::cli {

Checksum checksum(const core::Tensor& tensor) {
  Checksum result;
  const int64_t count = tensor.numel();
  double abs_sum = 0.0;
  for (int64_t i = 0; i < count; ++i) {
    const double value = tensor.get(i);
    result.sum += value;
    abs_sum += std::fabs(value);
  }
  if (count > 0) result.mean_abs = abs_sum / static_cast<double>(count);
  return result;
}

std::string describe_tensor(const core::Tensor& tensor) {
  const Checksum sums = checksum(tensor);
  std::ostringstream text;
  text << core::dtype_name(tensor.dtype()) << core::shape_to_string(tensor.shape())
       << "  sum=" << sums.sum << "  mean|x|=" << sums.mean_abs;
  return text.str();
}

}  // namespace yirage::cli
