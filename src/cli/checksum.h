// Checksums that summarize a tensor in one line, for comparing runs by eye or by script.
#pragma once

#include <string>

#include "yirage/core/tensor.h"

namespace yirage::cli {

/// Sum of the elements and mean of their absolute values, both accumulated in float64.
struct Checksum {
  double sum = 0.0;       ///< sum of all elements
  double mean_abs = 0.0;  ///< mean |x| (0 for an empty tensor)
};

/// Computes the checksum of any host tensor.
Checksum checksum(const core::Tensor& tensor);
/// "bfloat16[8, 4096]  sum=-12.3457  mean|x|=0.42"
std::string describe_tensor(const core::Tensor& tensor);

}  // namespace yirage::cli
