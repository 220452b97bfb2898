#include "yirage/backend/cpu/codegen/prelude.h"

namespace yirage::backend::cpu::codegen {

namespace {

// clang-format off
constexpr std::string_view kPrelude = R"PRELUDE(#ifndef YIRAGE_KERNEL_PRELUDE
#define YIRAGE_KERNEL_PRELUDE
#include <algorithm>
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

// e^x within 2 ulp, branch-free so that loops over it vectorise: x = n ln2 + r with |r| <= ln2/2,
// e^r by a degree-6 polynomial, 2^n applied in two steps so results underflow gradually.
// Overflows to infinity, underflows to 0, keeps NaN.
inline float yr_exp(float x) {
  const float clamped = x < -104.0f ? -104.0f : (x > 89.0f ? 89.0f : x);
  const float n = (clamped * 1.44269504089f + 12582912.0f) - 12582912.0f;  // round to nearest
  float r = clamped - n * 0.693145751953125f;
  r = r - n * 1.428606765330187e-6f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t whole = static_cast<int32_t>(n);
  const int32_t half = whole / 2;
  const uint32_t first_bits = static_cast<uint32_t>(half + 127) << 23;
  const uint32_t second_bits = static_cast<uint32_t>(whole - half + 127) << 23;
  float first, second;
  std::memcpy(&first, &first_bits, sizeof(first));
  std::memcpy(&second, &second_bits, sizeof(second));
  return x != x ? x : p * first * second;
}

// e^(from - to), the factor moving a sum relative to max `from` to max `to`; 0 while `from` is
// the initial -infinity (nothing accumulated yet).
inline float yr_rescale(float from, float to) {
  return from == -std::numeric_limits<float>::infinity() ? 0.0f : yr_exp(from - to);
}

// Element kinds of a matmul's B operand: 0 f32, 1 bf16, 2 f16 (B may be read straight from a
// kernel input, unconverted).
template <int Kind>
struct YrElement;
template <>
struct YrElement<0> {
  using type = float;
  static float scalar(float value) { return value; }
};
template <>
struct YrElement<1> {
  using type = uint16_t;
  static float scalar(uint16_t value) { return yr_bf16_to_f32(value); }
};
template <>
struct YrElement<2> {
  using type = uint16_t;
  static float scalar(uint16_t value) { return yr_f16_to_f32(value); }
};

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
#define YR_AVX512 1

// 16 consecutive elements of kind `Kind` as f32 lanes; lanes outside `mask` read as 0.
template <int Kind>
inline __m512 yr_load16(const typename YrElement<Kind>::type* p, __mmask16 mask);
template <>
inline __m512 yr_load16<0>(const float* p, __mmask16 mask) {
  return _mm512_maskz_loadu_ps(mask, p);
}
template <>
inline __m512 yr_load16<1>(const uint16_t* p, __mmask16 mask) {
  const __m512i wide = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(mask, p));
  return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
}
template <>
inline __m512 yr_load16<2>(const uint16_t* p, __mmask16 mask) {
  return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask, p));
}

// A register tile: c[R, 16 V] (+)= a[R, k] @ b[k, 16 V]; the last vector is masked by `last`.
template <int Kind, int R, int V>
inline void yr_matmul_tile(const float* __restrict a, int64_t lda,
                           const typename YrElement<Kind>::type* __restrict b, int64_t ldb,
                           float* __restrict c, int64_t ldc, int64_t k, bool accumulate,
                           __mmask16 last) {
  __m512 acc[R][V];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) {
      acc[r][v] = accumulate ? _mm512_maskz_loadu_ps(v == V - 1 ? last : 0xffff, c + r * ldc + 16 * v)
                             : _mm512_setzero_ps();
    }
  }
  for (int64_t p = 0; p < k; ++p) {
    __m512 row[V];
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) row[v] = yr_load16<Kind>(b + p * ldb + 16 * v, v == V - 1 ? last : 0xffff);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const __m512 scale = _mm512_set1_ps(a[r * lda + p]);
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) acc[r][v] = _mm512_fmadd_ps(scale, row[v], acc[r][v]);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) _mm512_mask_storeu_ps(c + r * ldc + 16 * v, v == V - 1 ? last : 0xffff, acc[r][v]);
  }
}
#endif

// c[M, N] (+)= a[M, K] @ b[K, N]: a f32 with row stride lda, b of kind `Kind` with row stride
// ldb, c a row-major f32 tile. AVX-512: register tiles of up to 8 rows by 64 columns; elsewhere
// plain loops.
template <int64_t M, int64_t N, int64_t K, bool Accumulate, int Kind>
inline void yr_matmul(const float* __restrict a, int64_t lda,
                      const typename YrElement<Kind>::type* __restrict b, int64_t ldb,
                      float* __restrict c) {
#if defined(YR_AVX512)
  constexpr int kVectors = N >= 64 ? 4 : static_cast<int>((N + 15) / 16);
  constexpr int kRows = kVectors <= 2 ? 8 : 4;
  constexpr int64_t kBlockCols = 16 * kVectors;
  constexpr int64_t kFullCols = N / kBlockCols * kBlockCols;
  constexpr int64_t kRestCols = N - kFullCols;
  constexpr int kRestVectors = static_cast<int>((kRestCols + 15) / 16);
  constexpr __mmask16 kRestMask =
      kRestCols % 16 ? static_cast<__mmask16>((1u << (kRestCols % 16)) - 1) : 0xffff;
  constexpr int64_t kFullRows = M / kRows * kRows;
  constexpr int kRestRows = static_cast<int>(M - kFullRows);
  for (int64_t j = 0; j < kFullCols; j += kBlockCols) {
    for (int64_t i = 0; i < kFullRows; i += kRows)
      yr_matmul_tile<Kind, kRows, kVectors>(a + i * lda, lda, b + j, ldb, c + i * N + j, N, K, Accumulate, 0xffff);
    if constexpr (kRestRows > 0)
      yr_matmul_tile<Kind, kRestRows, kVectors>(a + kFullRows * lda, lda, b + j, ldb, c + kFullRows * N + j, N, K,
                                                Accumulate, 0xffff);
  }
  if constexpr (kRestVectors > 0) {
    for (int64_t i = 0; i < kFullRows; i += kRows)
      yr_matmul_tile<Kind, kRows, kRestVectors>(a + i * lda, lda, b + kFullCols, ldb, c + i * N + kFullCols, N, K,
                                                Accumulate, kRestMask);
    if constexpr (kRestRows > 0)
      yr_matmul_tile<Kind, kRestRows, kRestVectors>(a + kFullRows * lda, lda, b + kFullCols, ldb,
                                                    c + kFullRows * N + kFullCols, N, K, Accumulate, kRestMask);
  }
#else
  for (int64_t i = 0; i < M; ++i) {
    float* __restrict row = c + i * N;
    if (!Accumulate) {
      for (int64_t j = 0; j < N; ++j) row[j] = 0.0f;
    }
    for (int64_t p = 0; p < K; ++p) {
      const float scale = a[i * lda + p];
      const typename YrElement<Kind>::type* __restrict b_row = b + p * ldb;
#pragma omp simd
      for (int64_t j = 0; j < N; ++j) row[j] += scale * YrElement<Kind>::scalar(b_row[j]);
    }
  }
#endif
}

}  // namespace
#endif  // YIRAGE_KERNEL_PRELUDE
)PRELUDE";
// clang-format on

}  // namespace

std::string_view prelude() {
  return kPrelude;
}

}  // namespace yirage::backend::cpu::codegen
