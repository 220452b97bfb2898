// Converting runs of float32/bfloat16/float16 elements to and from float32.
#pragma once

#include <cstdint>

#include "yirage/core/dtype.h"

namespace yirage::llm {

/// Reads `count` elements of float `dtype` at `source` into `destination` as float32.
void load_floats(const void* source, core::DType dtype, float* destination, int64_t count);
/// Writes `count` float32 values to `destination` as float `dtype` (round to nearest even).
void store_floats(const float* source, core::DType dtype, void* destination, int64_t count);

}  // namespace yirage::llm
