#include "yirage/backend/cpu/codegen/prelude.h"

namespace yirage::backend::cpu::codegen {

namespace {

// clang-format off
constexpr std::string_view kPrelude = R"PRELUDE(#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace {

// bfloat16 bits -> float (exact).
inline float yr_bf16_to_f32(uint16_t bits) {
  const uint32_t widened = static_cast<uint32_t>(bits) << 16;
  float value;
  std::memcpy(&value, &widened, sizeof(value));
  return value;
}

// float -> bfloat16 bits, round to nearest even; NaN becomes the quiet NaN of its sign.
inline uint16_t yr_f32_to_bf16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>(((bits >> 16) & 0x8000u) | 0x7fc0u);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

// float16 bits -> float (exact, subnormals included).
inline float yr_f16_to_f32(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1fu;
  const uint32_t mantissa = bits & 0x3ffu;
  if (exponent == 0) {
    const float magnitude = static_cast<float>(mantissa) * 5.9604644775390625e-8f;
    return sign ? -magnitude : magnitude;
  }
  uint32_t widened = exponent == 31 ? (sign | 0x7f800000u | (mantissa << 13) | (mantissa ? 0x400000u : 0u))
                                    : (sign | ((exponent + 112u) << 23) | (mantissa << 13));
  float value;
  std::memcpy(&value, &widened, sizeof(value));
  return value;
}

// float -> float16 bits, round to nearest even; overflow gives infinity.
inline uint16_t yr_f32_to_f16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);
  if (magnitude >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);
  if (magnitude < 0x38800000u) {
    float small;
    std::memcpy(&small, &magnitude, sizeof(small));
    return static_cast<uint16_t>(sign | static_cast<uint16_t>(std::nearbyint(small * 16777216.0f)));
  }
  const uint32_t rebased = magnitude - 0x38000000u;
  return static_cast<uint16_t>(sign | ((rebased + 0x0fffu + ((rebased >> 13) & 1u)) >> 13));
}

// float -> int32, toward zero, saturating; NaN gives 0.
inline int32_t yr_f32_to_i32(float value) {
  if (value != value) return 0;
  const double truncated = std::trunc(static_cast<double>(value));
  if (truncated <= -2147483648.0) return std::numeric_limits<int32_t>::min();
  if (truncated >= 2147483647.0) return std::numeric_limits<int32_t>::max();
  return static_cast<int32_t>(truncated);
}

// float -> int64, toward zero, saturating; NaN gives 0.
inline int64_t yr_f32_to_i64(float value) {
  if (value != value) return 0;
  const double truncated = std::trunc(static_cast<double>(value));
  if (truncated <= -9223372036854775808.0) return std::numeric_limits<int64_t>::min();
  if (truncated >= 9223372036854775807.0) return std::numeric_limits<int64_t>::max();
  return static_cast<int64_t>(truncated);
}

// e^(from - to), the factor moving a sum relative to max `from` to max `to`; 0 while `from` is
// the initial -infinity (nothing accumulated yet).
inline float yr_rescale(float from, float to) {
  return from == -std::numeric_limits<float>::infinity() ? 0.0f : std::exp(from - to);
}

// c[M, N] (+)= a[M, K] @ b[K, N], row-major f32 tiles.
template <int64_t M, int64_t N, int64_t K, bool Accumulate>
inline void yr_matmul(const float* __restrict a, const float* __restrict b, float* __restrict c) {
  for (int64_t i = 0; i < M; ++i) {
    float* __restrict row = c + i * N;
    if (!Accumulate) {
      for (int64_t j = 0; j < N; ++j) row[j] = 0.0f;
    }
    for (int64_t p = 0; p < K; ++p) {
      const float scale = a[i * K + p];
      const float* __restrict b_row = b + p * N;
#pragma omp simd
      for (int64_t j = 0; j < N; ++j) row[j] += scale * b_row[j];
    }
  }
}

}  // namespace
)PRELUDE";
// clang-format on

}  // namespace

std::string_view prelude() {
  return kPrelude;
}

}  // namespace yirage::backend::cpu::codegen
