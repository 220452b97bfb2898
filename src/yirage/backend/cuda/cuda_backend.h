// The CUDA backend: kernel graphs on an NVIDIA GPU through the driver API and NVRTC, both loaded
// at run time; unavailable (with the reason) where either is missing.
#pragma once

#include <memory>

#include "yirage/backend/backend.h"

namespace yirage::backend {

/// Creates the CUDA backend ("cuda"). run() takes host tensors (copied in, outputs copied back)
/// or CUDA tensors (no copies; outputs stay on the device and the call does not wait).
std::unique_ptr<Backend> make_cuda_backend();

}  // namespace yirage::backend
