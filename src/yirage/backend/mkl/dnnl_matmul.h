// Plain (batched, broadcasting) GEMMs through oneDNN, when this build links it.
#pragma once

#include <string>

#include "yirage/core/tensor.h"

namespace yirage::backend::mkl {

/// True when this build was configured with oneDNN (libdnnl-dev).
bool built_with_dnnl();

/// "oneDNN 2.6.3 (cpu runtime OMP, isa avx512_core_amx)"; "none" without oneDNN.
std::string dnnl_description();

/// c = a @ b: a [..., M, K], b [..., K, N], c [..., M, N] with NumPy broadcasting of the batch
/// dims; all three contiguous host tensors of one dtype, float32 or bfloat16 (accumulated in
/// float32). InternalError when oneDNN rejects the problem or the build lacks oneDNN.
void dnnl_matmul(const core::Tensor& a, const core::Tensor& b, const core::Tensor& c);

}  // namespace yirage::backend::mkl
