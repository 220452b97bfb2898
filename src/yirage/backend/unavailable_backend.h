// Backends that this build cannot run on any machine of its kind, listed with the reason.
#pragma once

#include <memory>
#include <string>

#include "yirage/backend/backend.h"

namespace yirage::backend {

/// A backend entry that always reports itself unavailable with `reason` and refuses to run.
std::unique_ptr<Backend> make_unavailable_backend(std::string name, std::string description,
                                                  std::string reason);

}  // namespace yirage::backend
