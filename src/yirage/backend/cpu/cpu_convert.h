// Rows of float32, bfloat16 and float16 elements read into and written from float32 buffers.
#pragma once

#include <cstdint>
#include <cstring>

#include "yirage/core/dtype.h"

// Compiles a function for AVX-512 (x86-64-v4), AVX2 + FMA (x86-64-v3) and the baseline, the
// best chosen when the program loads: loops written in plain C++ are vectorised for each.
#if defined(__x86_64__) && defined(__GNUC__)
#define YR_CPU_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define YR_CPU_CLONES
#endif

namespace yirage::backend::cpu {

/// bfloat16 bits -> float (exact).
inline float bf16_bits_to_float(uint16_t bits) {
  const uint32_t word = static_cast<uint32_t>(bits) << 16;
  float value;
  std::memcpy(&value, &word, sizeof value);
  return value;
}

/// float -> bfloat16 bits, round to nearest even; NaN stays a quiet NaN of the same sign.
inline uint16_t float_to_bf16_bits(float value) {
  uint32_t word;
  std::memcpy(&word, &value, sizeof word);
  if ((word & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((word >> 16) | 0x0040u);
  word += 0x7fffu + ((word >> 16) & 1u);
  return static_cast<uint16_t>(word >> 16);
}

/// Reads `count` elements of a float dtype at `src` into `dst` as floats.
void load_floats(const void* src, core::DType dtype, int64_t count, float* dst);
/// Writes `count` floats to `dst` in a float dtype, rounding once to nearest even.
void store_floats(const float* src, core::DType dtype, int64_t count, void* dst);
/// Reads element `index` of a float buffer as a float.
float load_float(const void* src, core::DType dtype, int64_t index);
/// Reads element `index` of an int32 or int64 buffer.
int64_t load_index(const void* src, core::DType dtype, int64_t index);

}  // namespace yirage::backend::cpu
