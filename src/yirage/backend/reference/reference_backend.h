// The reference backend: a plain C++ executor of every op, in float64, the oracle for all others.
#pragma once

#include <memory>

#include "yirage/backend/backend.h"

namespace yirage::backend {

/// Creates the reference backend (always available; runs on the host CPU).
std::unique_ptr<Backend> make_reference_backend();

}  // namespace yirage::backend
