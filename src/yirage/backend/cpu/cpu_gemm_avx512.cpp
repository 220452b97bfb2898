// AVX-512 GEMM micro-kernels: a 6x64 f32 register tile (24 zmm accumulators) fed by f32, bf16
// or f16 rows of B, and a bf16 kernel on AVX512-BF16 dot products over pairs of k.
#include <immintrin.h>

#include <cstring>

#include "yirage/backend/cpu/cpu_gemm_kernels.h"
#include "yirage/core/error.h"

#define YR_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,f16c,fma")))
#define YR_AVX512_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

namespace yirage::backend::cpu {

namespace {

constexpr int kRows = 6;
constexpr int kCols = 64;

// 16 consecutive elements of B as f32.
template <core::DType B>
YR_AVX512 inline __m512 load16(const void* row, int offset) {
  if constexpr (B == core::DType::F32) {
    return _mm512_loadu_ps(static_cast<const float*>(row) + offset);
  } else {
    const __m256i half = _mm256_loadu_si256(
        reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(row) + offset));
    if constexpr (B == core::DType::BF16) {
      // The maskz forms avoid GCC 12's maybe-uninitialized false positive in the unmasked ones.
      const __m512i wide = _mm512_maskz_cvtepu16_epi32(0xffff, half);
      return _mm512_castsi512_ps(_mm512_maskz_slli_epi32(0xffff, wide, 16));
    } else {
      return _mm512_maskz_cvtph_ps(0xffff, half);
    }
  }
}

template <core::DType B>
constexpr int64_t element_bytes() {
  return B == core::DType::F32 ? 4 : 2;
}

template <core::DType B, int R>
YR_AVX512 void tile_f32(const TileArgs& t) {
  __m512 acc[R][4];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) acc[r][j] = _mm512_setzero_ps();
  }
  const auto* a = static_cast<const float*>(t.a);
  const auto* b = static_cast<const char*>(t.b);
  const int64_t row_bytes = t.ldb * element_bytes<B>();
  for (int64_t p = 0; p < t.k; ++p) {
    const char* row = b + p * row_bytes;
    if (t.prefetch != 0) {
      for (int64_t line = 0; line < kCols * element_bytes<B>(); line += 64)
        _mm_prefetch(row + t.prefetch + line, _MM_HINT_T0);
    }
    const __m512 b0 = load16<B>(row, 0), b1 = load16<B>(row, 16);
    const __m512 b2 = load16<B>(row, 32), b3 = load16<B>(row, 48);
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const __m512 x = _mm512_set1_ps(a[r * t.lda + p]);
      acc[r][0] = _mm512_fmadd_ps(x, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(x, b1, acc[r][1]);
      acc[r][2] = _mm512_fmadd_ps(x, b2, acc[r][2]);
      acc[r][3] = _mm512_fmadd_ps(x, b3, acc[r][3]);
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      float* c = t.c + r * t.ldc + j * 16;
      const __m512 sum = t.accumulate ? _mm512_add_ps(_mm512_loadu_ps(c), acc[r][j]) : acc[r][j];
      _mm512_storeu_ps(c, sum);
    }
  }
}

template <core::DType B>
void tile_f32_rows(const TileArgs& t) {
  switch (t.rows) {
    case 1:
      return tile_f32<B, 1>(t);
    case 2:
      return tile_f32<B, 2>(t);
    case 3:
      return tile_f32<B, 3>(t);
    case 4:
      return tile_f32<B, 4>(t);
    case 5:
      return tile_f32<B, 5>(t);
    case 6:
      return tile_f32<B, 6>(t);
    default:
      break;
  }
  YR_INTERNAL_ERROR("avx512 gemm tile of " << t.rows << " rows");
}

void tile_avx512(const TileArgs& t) {
  switch (t.b_dtype) {
    case core::DType::F32:
      return tile_f32_rows<core::DType::F32>(t);
    case core::DType::BF16:
      return tile_f32_rows<core::DType::BF16>(t);
    case core::DType::F16:
      return tile_f32_rows<core::DType::F16>(t);
    default:
      break;
  }
  YR_INTERNAL_ERROR("avx512 gemm of " << core::dtype_name(t.b_dtype));
}

// --- bf16 dot products ---
//
// vdpbf16ps multiplies pairs of bf16 and adds both products to one f32 lane. B is stored with k
// along rows, so rows p and p+1 are interleaved 16 bits at a time (unpacklo/hi within each
// 128-bit lane); lane l of the "lo" result then holds column 8*(l/4) + l%4 of a 32-column group
// and the "hi" result column 8*(l/4) + 4 + l%4. The tile is put back in column order on store.

YR_AVX512_BF16 inline uint32_t pair_at(const uint16_t* a, int64_t p, bool single) {
  uint32_t word = a[p];
  if (!single) word |= static_cast<uint32_t>(a[p + 1]) << 16;
  return word;
}

// Stores rows p and p+1 (p+1 may be absent) of a 64-column tile as the four pair vectors the
// kernel multiplies, so that panels reused by many row tiles are interleaved once.
YR_AVX512_BF16 void pack_pairs(const void* b, int64_t ldb, int64_t depth, int64_t cols,
                               void* panel) {
  const auto* rows = static_cast<const uint16_t*>(b);
  auto* out = static_cast<uint16_t*>(panel);
  const auto first = static_cast<__mmask32>(cols >= 32 ? 0xffffffffu : (1u << cols) - 1u);
  const auto second = static_cast<__mmask32>(cols >= 64   ? 0xffffffffu
                                             : cols <= 32 ? 0u
                                                          : (1u << (cols - 32)) - 1u);
  for (int64_t p = 0; p < depth; p += 2) {
    const uint16_t* row0 = rows + p * ldb;
    const bool single = p + 1 == depth;
    const __m512i r0a = _mm512_maskz_loadu_epi16(first, row0);
    const __m512i r0b = _mm512_maskz_loadu_epi16(second, row0 + 32);
    const __m512i r1a =
        single ? _mm512_setzero_si512() : _mm512_maskz_loadu_epi16(first, row0 + ldb);
    const __m512i r1b =
        single ? _mm512_setzero_si512() : _mm512_maskz_loadu_epi16(second, row0 + ldb + 32);
    uint16_t* q = out + (p / 2) * 128;
    _mm512_storeu_si512(q, _mm512_unpacklo_epi16(r0a, r1a));
    _mm512_storeu_si512(q + 32, _mm512_unpackhi_epi16(r0a, r1a));
    _mm512_storeu_si512(q + 64, _mm512_unpacklo_epi16(r0b, r1b));
    _mm512_storeu_si512(q + 96, _mm512_unpackhi_epi16(r0b, r1b));
  }
}

template <int R, bool Paired>
YR_AVX512_BF16 void tile_bf16(const TileArgs& t) {
  __m512 acc[R][4];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) acc[r][j] = _mm512_setzero_ps();
  }
  const auto* a = static_cast<const uint16_t*>(t.a);
  const auto* b = static_cast<const uint16_t*>(t.b);
  for (int64_t p = 0; p < t.k; p += 2) {
    const bool single = p + 1 == t.k;
    __m512bh q0, q1, q2, q3;
    if constexpr (Paired) {
      const uint16_t* q = b + (p / 2) * 128;
      q0 = reinterpret_cast<__m512bh>(_mm512_loadu_si512(q));
      q1 = reinterpret_cast<__m512bh>(_mm512_loadu_si512(q + 32));
      q2 = reinterpret_cast<__m512bh>(_mm512_loadu_si512(q + 64));
      q3 = reinterpret_cast<__m512bh>(_mm512_loadu_si512(q + 96));
    } else {
      const uint16_t* row0 = b + p * t.ldb;
      if (t.prefetch != 0) {
        const char* ahead = reinterpret_cast<const char*>(row0) + t.prefetch;
        _mm_prefetch(ahead, _MM_HINT_T0);
        _mm_prefetch(ahead + 64, _MM_HINT_T0);
        _mm_prefetch(ahead + 2 * t.ldb, _MM_HINT_T0);
        _mm_prefetch(ahead + 2 * t.ldb + 64, _MM_HINT_T0);
      }
      const __m512i r0a = _mm512_loadu_si512(row0);
      const __m512i r0b = _mm512_loadu_si512(row0 + 32);
      const __m512i r1a = single ? _mm512_setzero_si512() : _mm512_loadu_si512(row0 + t.ldb);
      const __m512i r1b = single ? _mm512_setzero_si512() : _mm512_loadu_si512(row0 + t.ldb + 32);
      q0 = reinterpret_cast<__m512bh>(_mm512_unpacklo_epi16(r0a, r1a));
      q1 = reinterpret_cast<__m512bh>(_mm512_unpackhi_epi16(r0a, r1a));
      q2 = reinterpret_cast<__m512bh>(_mm512_unpacklo_epi16(r0b, r1b));
      q3 = reinterpret_cast<__m512bh>(_mm512_unpackhi_epi16(r0b, r1b));
    }
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const __m512bh x = reinterpret_cast<__m512bh>(
          _mm512_set1_epi32(static_cast<int>(pair_at(a + r * t.lda, p, single))));
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], x, q0);
      acc[r][1] = _mm512_dpbf16_ps(acc[r][1], x, q1);
      acc[r][2] = _mm512_dpbf16_ps(acc[r][2], x, q2);
      acc[r][3] = _mm512_dpbf16_ps(acc[r][3], x, q3);
    }
  }
  // Column c (0..15) of a group: lo lane 4*(c/8) + c%8 when c%8 < 4, else hi lane 4*(c/8) + c%8-4;
  // columns 16..31 use 128-bit lanes 2 and 3. Index bit 4 picks the hi operand.
  const __m512i first = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
  const __m512i second =
      _mm512_setr_epi32(8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 2
    for (int g = 0; g < 2; ++g) {
      const __m512 lo = acc[r][2 * g], hi = acc[r][2 * g + 1];
      float* c = t.c + r * t.ldc + g * 32;
      __m512 v0 = _mm512_permutex2var_ps(lo, first, hi);
      __m512 v1 = _mm512_permutex2var_ps(lo, second, hi);
      if (t.accumulate) {
        v0 = _mm512_add_ps(_mm512_loadu_ps(c), v0);
        v1 = _mm512_add_ps(_mm512_loadu_ps(c + 16), v1);
      }
      _mm512_storeu_ps(c, v0);
      _mm512_storeu_ps(c + 16, v1);
    }
  }
}

void tile_avx512_bf16(const TileArgs& t) {
  YR_INTERNAL_CHECK(t.b_dtype == core::DType::BF16,
                    "avx512-bf16 gemm of " << core::dtype_name(t.b_dtype));
  switch (t.rows) {
    case 1:
      return t.paired ? tile_bf16<1, true>(t) : tile_bf16<1, false>(t);
    case 2:
      return t.paired ? tile_bf16<2, true>(t) : tile_bf16<2, false>(t);
    case 3:
      return t.paired ? tile_bf16<3, true>(t) : tile_bf16<3, false>(t);
    case 4:
      return t.paired ? tile_bf16<4, true>(t) : tile_bf16<4, false>(t);
    case 5:
      return t.paired ? tile_bf16<5, true>(t) : tile_bf16<5, false>(t);
    case 6:
      return t.paired ? tile_bf16<6, true>(t) : tile_bf16<6, false>(t);
    default:
      break;
  }
  YR_INTERNAL_ERROR("avx512-bf16 gemm tile of " << t.rows << " rows");
}

}  // namespace

GemmKernel avx512_gemm_kernel() {
  return {kRows, kCols, false, &tile_avx512};
}

GemmKernel avx512_bf16_gemm_kernel() {
  return {kRows, kCols, true, &tile_avx512_bf16, &pack_pairs};
}

}  // namespace yirage::backend::cpu
