// The one registry of backends compiled into this build.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "yirage/backend/backend.h"

namespace yirage::backend {

/// Every backend this build knows, in a fixed order (reference first), available or not.
const std::vector<Backend*>& all_backends();
/// The backend called `name`; a UserError listing the known names when there is none.
Backend& get_backend(std::string_view name);
/// The backend called `name`, checked to be available here; a UserError with its reason if not.
Backend& get_available_backend(std::string_view name);

}  // namespace yirage::backend
