// The `mkl` backend: plain GEMMs through oneDNN, every other op through the `cpu` backend.
#pragma once

#include <memory>

#include "yirage/backend/backend.h"

namespace yirage::backend {

/// Creates the mkl backend: float32 and bfloat16 matmul nodes run as oneDNN GEMMs (float32
/// accumulation), every other node on the `cpu` backend. Unavailable, with the reason, in a
/// build without oneDNN.
std::unique_ptr<Backend> make_mkl_backend();

}  // namespace yirage::backend
