// AMX GEMM micro-kernel for bfloat16: a 32x32 f32 block of C in four 16x16 accumulator tiles,
// fed 32 k at a time by two A tiles (16 rows x 32 bf16) and two B tiles packed as k pairs
// (16 pair rows x 16 columns).
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "yirage/backend/cpu/cpu_gemm_kernels.h"
#include "yirage/core/error.h"

#define YR_AMX __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw")))

namespace yirage::backend::cpu {

namespace {

constexpr int kRows = 32;
constexpr int kCols = 32;
constexpr int kDepth = 32;  // k per tile multiply

// The tile configuration of palette 1 as ldtilecfg reads it.
struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t bytes_per_row[16] = {};
  uint8_t rows[16] = {};
};

// Tiles 0-3: C (16 x 16 f32); 4, 5: A (16 x 32 bf16); 6, 7: B (16 pairs x 16 columns).
const TileConfig& config() {
  static const TileConfig c = [] {
    TileConfig t;
    for (int i = 0; i < 8; ++i) {
      t.rows[i] = 16;
      t.bytes_per_row[i] = 64;
    }
    return t;
  }();
  return c;
}

// B panel layout: for each chunk of 32 k and each half of 16 columns, one tile of 16 rows
// (k pairs) x 16 columns x 2 (the pair), zero beyond depth and cols.
YR_AMX void pack_amx(const void* b, int64_t ldb, int64_t depth, int64_t cols, void* panel) {
  const auto* rows = static_cast<const uint16_t*>(b);
  auto* out = static_cast<uint16_t*>(panel);
  const int64_t chunks = (depth + kDepth - 1) / kDepth;
  const auto mask = static_cast<__mmask32>(cols >= 32 ? 0xffffffffu : (1u << cols) - 1u);
  // Word 2n + j of a pair row is column n of row j: indices into (row p, row p + 1).
  alignas(64) uint16_t low[32], high[32];
  for (int n = 0; n < 16; ++n) {
    low[2 * n] = static_cast<uint16_t>(n);
    low[2 * n + 1] = static_cast<uint16_t>(32 + n);
    high[2 * n] = static_cast<uint16_t>(16 + n);
    high[2 * n + 1] = static_cast<uint16_t>(48 + n);
  }
  const __m512i low_index = _mm512_load_si512(low);
  const __m512i high_index = _mm512_load_si512(high);
  for (int64_t p = 0; p < chunks * kDepth; p += 2) {
    const __m512i r0 =
        p < depth ? _mm512_maskz_loadu_epi16(mask, rows + p * ldb) : _mm512_setzero_si512();
    const __m512i r1 = p + 1 < depth ? _mm512_maskz_loadu_epi16(mask, rows + (p + 1) * ldb)
                                     : _mm512_setzero_si512();
    const int64_t chunk = p / kDepth, pair = (p % kDepth) / 2;
    _mm512_storeu_si512(out + ((chunk * 2) * 16 + pair) * 32,
                        _mm512_permutex2var_epi16(r0, low_index, r1));
    _mm512_storeu_si512(out + ((chunk * 2 + 1) * 16 + pair) * 32,
                        _mm512_permutex2var_epi16(r0, high_index, r1));
  }
}

YR_AMX void tile_amx(const TileArgs& t) {
  YR_INTERNAL_CHECK(t.b_dtype == core::DType::BF16 && t.paired,
                    "amx gemm needs a packed bf16 panel");
  _tile_loadconfig(&config());
  const int64_t chunks = (t.k + kDepth - 1) / kDepth;
  // A is read in place when the block is whole; edges go through a zero-padded copy.
  const auto* a = static_cast<const uint16_t*>(t.a);
  int64_t lda = t.lda;
  thread_local std::vector<uint16_t> padded;
  if (t.rows < kRows || t.k % kDepth != 0) {
    const int64_t width = chunks * kDepth;
    padded.assign(static_cast<std::size_t>(kRows * width), 0);
    for (int r = 0; r < t.rows; ++r)
      std::memcpy(padded.data() + r * width, a + r * t.lda,
                  static_cast<std::size_t>(t.k) * sizeof(uint16_t));
    a = padded.data();
    lda = width;
  }
  const auto c_stride = static_cast<long>(t.ldc * sizeof(float));
  if (t.accumulate) {
    _tile_loadd(0, t.c, c_stride);
    _tile_loadd(1, t.c + 16, c_stride);
    _tile_loadd(2, t.c + 16 * t.ldc, c_stride);
    _tile_loadd(3, t.c + 16 * t.ldc + 16, c_stride);
  } else {
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
  }
  const auto* panel = static_cast<const uint16_t*>(t.b);
  const auto a_stride = static_cast<long>(lda * sizeof(uint16_t));
  for (int64_t chunk = 0; chunk < chunks; ++chunk) {
    _tile_loadd(4, a + chunk * kDepth, a_stride);
    _tile_loadd(5, a + 16 * lda + chunk * kDepth, a_stride);
    _tile_loadd(6, panel + (chunk * 2) * 16 * 32, 64);
    _tile_loadd(7, panel + (chunk * 2 + 1) * 16 * 32, 64);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  _tile_stored(0, t.c, c_stride);
  _tile_stored(1, t.c + 16, c_stride);
  _tile_stored(2, t.c + 16 * t.ldc, c_stride);
  _tile_stored(3, t.c + 16 * t.ldc + 16, c_stride);
}

}  // namespace

bool amx_usable() {
  // Linux hands out the tile data state only on request (arch_prctl ARCH_REQ_XCOMP_PERM for
  // XFEATURE_XTILEDATA); without it the first tile instruction faults.
  static const bool granted = syscall(SYS_arch_prctl, 0x1023, 18) == 0;
  return granted;
}

GemmKernel amx_gemm_kernel() {
  GemmKernel kernel{kRows, kCols, true, &tile_amx, &pack_amx};
  kernel.always_pack = true;
  return kernel;
}

}  // namespace yirage::backend::cpu
