// AVX2 GEMM micro-kernel: a 6x16 f32 register tile (12 ymm accumulators) fed by f32, bf16 or
// f16 rows of B (widened with shifts or F16C).
#include <immintrin.h>

#include "yirage/backend/cpu/cpu_gemm_kernels.h"
#include "yirage/core/error.h"

#define YR_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace yirage::backend::cpu {

namespace {

constexpr int kRows = 6;
constexpr int kCols = 16;

template <core::DType B>
YR_AVX2 inline __m256 load8(const void* row, int offset) {
  if constexpr (B == core::DType::F32) {
    return _mm256_loadu_ps(static_cast<const float*>(row) + offset);
  } else {
    const __m128i half = _mm_loadu_si128(
        reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(row) + offset));
    if constexpr (B == core::DType::BF16) {
      return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(half), 16));
    } else {
      return _mm256_cvtph_ps(half);
    }
  }
}

template <core::DType B, int R>
YR_AVX2 void tile(const TileArgs& t) {
  constexpr int64_t bytes = B == core::DType::F32 ? 4 : 2;
  __m256 acc[R][2];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    acc[r][0] = _mm256_setzero_ps();
    acc[r][1] = _mm256_setzero_ps();
  }
  const auto* a = static_cast<const float*>(t.a);
  const auto* b = static_cast<const char*>(t.b);
  const int64_t row_bytes = t.ldb * bytes;
  for (int64_t p = 0; p < t.k; ++p) {
    const char* row = b + p * row_bytes;
    if (t.prefetch != 0) _mm_prefetch(row + t.prefetch, _MM_HINT_T0);
    const __m256 b0 = load8<B>(row, 0), b1 = load8<B>(row, 8);
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const __m256 x = _mm256_broadcast_ss(a + r * t.lda + p);
      acc[r][0] = _mm256_fmadd_ps(x, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(x, b1, acc[r][1]);
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    float* c = t.c + r * t.ldc;
    if (t.accumulate) {
      acc[r][0] = _mm256_add_ps(_mm256_loadu_ps(c), acc[r][0]);
      acc[r][1] = _mm256_add_ps(_mm256_loadu_ps(c + 8), acc[r][1]);
    }
    _mm256_storeu_ps(c, acc[r][0]);
    _mm256_storeu_ps(c + 8, acc[r][1]);
  }
}

template <core::DType B>
void tile_rows(const TileArgs& t) {
  switch (t.rows) {
    case 1:
      return tile<B, 1>(t);
    case 2:
      return tile<B, 2>(t);
    case 3:
      return tile<B, 3>(t);
    case 4:
      return tile<B, 4>(t);
    case 5:
      return tile<B, 5>(t);
    case 6:
      return tile<B, 6>(t);
    default:
      break;
  }
  YR_INTERNAL_ERROR("avx2 gemm tile of " << t.rows << " rows");
}

void tile_avx2(const TileArgs& t) {
  switch (t.b_dtype) {
    case core::DType::F32:
      return tile_rows<core::DType::F32>(t);
    case core::DType::BF16:
      return tile_rows<core::DType::BF16>(t);
    case core::DType::F16:
      return tile_rows<core::DType::F16>(t);
    default:
      break;
  }
  YR_INTERNAL_ERROR("avx2 gemm of " << core::dtype_name(t.b_dtype));
}

}  // namespace

GemmKernel avx2_gemm_kernel() {
  return {kRows, kCols, false, &tile_avx2};
}

}  // namespace yirage::backend::cpu
