// The GEMM driver: blocks of C spread over threads, B tiles packed into L1-sized panels when
// several row tiles reuse them (streamed in place with prefetch otherwise, as in decode), and
// the portable kernel. The ISA kernels live in cpu_gemm_avx2.cpp and cpu_gemm_avx512.cpp.
#include "yirage/backend/cpu/cpu_gemm.h"

#include <immintrin.h>
#include <algorithm>

#include <atomic>
#include <cstring>
#include <vector>

#include "yirage/backend/cpu/cpu_convert.h"
#include "yirage/backend/cpu/cpu_gemm_kernels.h"
#include "yirage/core/cpu_features.h"
#include "yirage/core/error.h"
#include "yirage/core/thread_pool.h"

namespace yirage::backend::cpu {

namespace {

constexpr int kScalarRows = 4;
constexpr int64_t kAmxRows = 32;         // bf16 products of at least this many rows: AMX
constexpr int64_t kStreamingRows = 64;   // at most this many rows of C: stream B
constexpr int64_t kStreamingDepth = 32;  // rows of B per streaming step (even, for bf16 pairs)
constexpr int kScalarCols = 16;

void tile_scalar(const TileArgs& t) {
  float acc[kScalarRows][kScalarCols] = {};
  float b_row[kScalarCols];
  const auto* a = static_cast<const float*>(t.a);
  const auto bytes = static_cast<int64_t>(core::dtype_size(t.b_dtype));
  for (int64_t p = 0; p < t.k; ++p) {
    load_floats(static_cast<const char*>(t.b) + p * t.ldb * bytes, t.b_dtype, kScalarCols, b_row);
    for (int r = 0; r < t.rows; ++r) {
      const float x = a[r * t.lda + p];
      for (int j = 0; j < kScalarCols; ++j) acc[r][j] += x * b_row[j];
    }
  }
  for (int r = 0; r < t.rows; ++r) {
    float* c = t.c + r * t.ldc;
    for (int j = 0; j < kScalarCols; ++j) c[j] = t.accumulate ? c[j] + acc[r][j] : acc[r][j];
  }
}

std::atomic<GemmPath> forced_path{GemmPath::Auto};

bool path_available(GemmPath path) {
  const auto& cpu = core::cpu_features();
  switch (path) {
    case GemmPath::Auto:
    case GemmPath::Scalar:
      return true;
    case GemmPath::Avx2:
      return cpu.avx2 && __builtin_cpu_supports("f16c");
    case GemmPath::Avx512:
      return cpu.avx512f && cpu.avx512bw && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx512dq");
    case GemmPath::Avx512Bf16:
      return path_available(GemmPath::Avx512) && cpu.avx512_bf16;
    case GemmPath::Amx:
      return path_available(GemmPath::Avx512) && cpu.amx_bf16 && amx_usable();
  }
  return false;
}

GemmKernel kernel_for(GemmPath path, core::DType dtype) {
  switch (path) {
    case GemmPath::Scalar:
      return {kScalarRows, kScalarCols, false, &tile_scalar};
    case GemmPath::Avx2:
      return avx2_gemm_kernel();
    case GemmPath::Avx512:
      return avx512_gemm_kernel();
    case GemmPath::Avx512Bf16:
      return dtype == core::DType::BF16 ? avx512_bf16_gemm_kernel() : avx512_gemm_kernel();
    case GemmPath::Amx:
      return dtype == core::DType::BF16 ? amx_gemm_kernel() : avx512_gemm_kernel();
    case GemmPath::Auto:
      break;
  }
  YR_INTERNAL_ERROR("gemm path auto is resolved before choosing a kernel");
}

// A per-thread buffer of at least `bytes` bytes, 64-byte aligned.
template <int Slot>
char* thread_buffer(std::size_t bytes) {
  thread_local std::vector<char> buffer;
  if (buffer.size() < bytes + 64) buffer.resize(bytes + 64);
  const auto address = reinterpret_cast<uintptr_t>(buffer.data());
  return buffer.data() + ((64 - address % 64) % 64);
}

}  // namespace

std::string_view gemm_path_name(GemmPath path) {
  switch (path) {
    case GemmPath::Auto:
      return "auto";
    case GemmPath::Scalar:
      return "scalar";
    case GemmPath::Avx2:
      return "avx2";
    case GemmPath::Avx512:
      return "avx512";
    case GemmPath::Avx512Bf16:
      return "avx512-bf16";
    case GemmPath::Amx:
      return "amx";
  }
  return "unknown";
}

std::vector<GemmPath> available_gemm_paths() {
  std::vector<GemmPath> paths;
  for (GemmPath path :
       {GemmPath::Scalar, GemmPath::Avx2, GemmPath::Avx512, GemmPath::Avx512Bf16, GemmPath::Amx}) {
    if (path_available(path)) paths.push_back(path);
  }
  return paths;
}

GemmPath best_gemm_path(core::DType) {
  // Avx512 before Avx512Bf16 for bf16 too: on Sapphire Rapids vdpbf16ps issues at half the rate
  // of vfmadd, so a dot product does no more work per cycle than two FMAs, and the interleaving
  // of B rows costs shuffles; widened-bf16 FMAs measured 1.0-1.5x faster (yirage_gemm_bench).
  if (path_available(GemmPath::Avx512)) return GemmPath::Avx512;
  if (path_available(GemmPath::Avx2)) return GemmPath::Avx2;
  return GemmPath::Scalar;
}

void force_gemm_path(GemmPath path) {
  YR_USER_CHECK(path_available(path), "gemm path " << gemm_path_name(path)
                                                   << " is not available on this CPU; expected "
                                                      "one of those available_gemm_paths() lists");
  forced_path.store(path);
}

void gemm(const GemmArgs& g, GemmPath path) {
  YR_USER_CHECK(core::dtype_is_float(g.dtype),
                "gemm: " << core::dtype_name(g.dtype) << " is not a float dtype");
  YR_USER_CHECK(g.m >= 1 && g.n >= 1 && g.k >= 1 && g.lda >= g.k && g.ldb >= g.n && g.ldc >= g.n,
                "gemm: bad shape m=" << g.m << " n=" << g.n << " k=" << g.k << " lda=" << g.lda
                                     << " ldb=" << g.ldb << " ldc=" << g.ldc
                                     << "; expected positive extents and strides >= the row");
  if (path == GemmPath::Auto) path = forced_path.load();
  if (path == GemmPath::Auto) {
    // AMX from one whole 32-row block up: measured 1.6-1.9x the AVX-512 kernel at 64 rows and
    // 0.4-0.6x at 8 (16 threads, yirage_gemm_bench).
    const bool tiles = g.dtype == core::DType::BF16 && g.m >= kAmxRows;
    path = tiles && path_available(GemmPath::Amx) ? GemmPath::Amx : best_gemm_path(g.dtype);
  }
  YR_USER_CHECK(path_available(path),
                "gemm path " << gemm_path_name(path) << " is not available on this CPU");
  const GemmKernel kernel = kernel_for(path, g.dtype);
  const auto bytes = static_cast<int64_t>(core::dtype_size(g.dtype));

  // A as the kernel reads it: bf16 in place, f32 in place, else widened to f32 once.
  const void* a = g.a;
  int64_t lda = g.lda;
  std::vector<float> widened;
  if (!kernel.bf16_a && g.dtype != core::DType::F32) {
    widened.resize(static_cast<std::size_t>(g.m * g.k));
    core::ThreadPool::global().parallel_for(
        g.m, std::max<int64_t>(1, 16384 / g.k), [&](int64_t begin, int64_t end) {
          for (int64_t i = begin; i < end; ++i) {
            load_floats(static_cast<const char*>(g.a) + i * g.lda * bytes, g.dtype, g.k,
                        widened.data() + i * g.k);
          }
        });
    a = widened.data();
    lda = g.k;
  }
  const int64_t a_bytes = kernel.bf16_a ? 2 : 4;

  // Work items are (block of up to mc rows, group of column tiles). Within an item, k advances
  // in blocks of kc rows over the whole group. With few rows (decode) the product is bound by
  // reading B once: kc is short, so B is read as kc sequential row streams across the group
  // (hardware prefetch follows them, few pages are live) while the accumulators stay in cache.
  // With many rows each B tile is packed into an L1 panel of kc rows and reused by every
  // row tile of the block.
  const int mr = kernel.mr, nr = kernel.nr;
  const bool streaming = g.m <= kStreamingRows;
  const int64_t mc_max = mr >= 32 ? 256 : 96;  // 8 AMX blocks of 32 rows or 16 tiles of 6
  const int64_t mc = std::min(g.m, mc_max);
  // Panels of f32-kernel tiles are widened to f32 once, so row tiles do not convert B again.
  const bool widen = !streaming && !kernel.bf16_a && g.dtype != core::DType::F32;
  const int64_t panel_bytes = widen ? 4 : bytes;
  const int64_t kc = streaming ? kStreamingDepth : panel_bytes == 4 ? 128 : 256;  // 32 KiB
  const int64_t n_tiles = (g.n + nr - 1) / nr;
  const int64_t m_blocks = (g.m + mc - 1) / mc;
  const int64_t threads = core::ThreadPool::global().num_threads();
  // Accumulators of one item (mc x group columns of f32) stay within 256 KiB, and there are
  // enough items for every thread.
  int64_t group = std::max<int64_t>(1, 65536 / (mc * nr));
  group = std::min(group, std::max<int64_t>(1, (n_tiles * m_blocks + threads - 1) / threads));
  group = std::min(group, n_tiles);
  const int64_t n_groups = (n_tiles + group - 1) / group;
  const int64_t ld_acc = group * nr;

  core::ThreadPool::global().parallel_for(m_blocks * n_groups, 1, [&](int64_t begin, int64_t end) {
    float* acc = reinterpret_cast<float*>(
        thread_buffer<0>(static_cast<std::size_t>((mc + mr) * ld_acc) * sizeof(float)));
    // Room for kc rows of f32, or k rounded up to whole 32-deep AMX chunks of bf16.
    char* panel = thread_buffer<1>(static_cast<std::size_t>((kc + 32) * nr * 4));
    for (int64_t item = begin; item < end; ++item) {
      const int64_t m0 = (item / n_groups) * mc, rows = std::min(mc, g.m - m0);
      const int64_t first_tile = (item % n_groups) * group;
      const int64_t last_tile = std::min(n_tiles, first_tile + group);
      const int64_t group_n0 = first_tile * nr;
      const int64_t group_cols = std::min(g.n, last_tile * nr) - group_n0;
      const int64_t micro = (rows + mr - 1) / mr;
      for (int64_t kb = 0; kb < g.k; kb += kc) {
        const int64_t depth = std::min(kc, g.k - kb);
        for (int64_t tile = first_tile; tile < last_tile; ++tile) {
          const int64_t n0 = tile * nr, cols = std::min<int64_t>(nr, g.n - n0);
          const char* b_tile = static_cast<const char*>(g.b) + (kb * g.ldb + n0) * bytes;
          const bool next_in_row = tile + 1 < last_tile;
          int64_t ldb = g.ldb;
          int64_t prefetch = next_in_row ? nr * bytes : 0;
          bool paired = false;
          core::DType b_dtype = g.dtype;
          if (kernel.pack != nullptr &&
              (kernel.always_pack || cols < nr || (!streaming && micro > 1))) {
            kernel.pack(b_tile, g.ldb, depth, cols, panel);
            b_tile = panel;
            prefetch = 0;
            paired = true;
          } else if (cols < nr || (!streaming && micro > 1)) {
            for (int64_t p = 0; p < depth; ++p) {
              const char* src = b_tile + p * g.ldb * bytes;
              char* dst = panel + p * nr * panel_bytes;
              if (next_in_row) {
                for (int64_t line = 0; line < nr * bytes; line += 64)
                  _mm_prefetch(src + nr * bytes + line, _MM_HINT_T0);
              }
              if (widen) {
                load_floats(src, g.dtype, cols, reinterpret_cast<float*>(dst));
              } else {
                std::memcpy(dst, src, static_cast<std::size_t>(cols * bytes));
              }
              std::memset(dst + cols * panel_bytes, 0,
                          static_cast<std::size_t>((nr - cols) * panel_bytes));
            }
            if (widen) b_dtype = core::DType::F32;
            b_tile = panel;
            ldb = nr;
            prefetch = 0;
          }
          for (int64_t t = 0; t < micro; ++t) {
            TileArgs args;
            args.a = static_cast<const char*>(a) + ((m0 + t * mr) * lda + kb) * a_bytes;
            args.lda = lda;
            args.b = b_tile;
            args.ldb = ldb;
            args.b_dtype = b_dtype;
            args.k = depth;
            args.paired = paired;
            args.rows = static_cast<int>(std::min<int64_t>(mr, rows - t * mr));
            args.c = acc + t * mr * ld_acc + (tile - first_tile) * nr;
            args.ldc = ld_acc;
            args.prefetch = prefetch;
            args.accumulate = kb > 0;
            kernel.tile(args);
          }
        }
      }
      for (int64_t r = 0; r < rows; ++r) {
        store_floats(acc + r * ld_acc, g.dtype, group_cols,
                     static_cast<char*>(g.c) + ((m0 + r) * g.ldc + group_n0) * bytes);
      }
    }
  });
}

void naive_gemm(const GemmArgs& g) {
  const auto bytes = static_cast<int64_t>(core::dtype_size(g.dtype));
  std::vector<float> row(static_cast<std::size_t>(g.n));
  std::vector<float> b_row(static_cast<std::size_t>(g.n));
  for (int64_t i = 0; i < g.m; ++i) {
    std::fill(row.begin(), row.end(), 0.0f);
    for (int64_t p = 0; p < g.k; ++p) {
      const float x = load_float(g.a, g.dtype, i * g.lda + p);
      load_floats(static_cast<const char*>(g.b) + p * g.ldb * bytes, g.dtype, g.n, b_row.data());
      for (int64_t j = 0; j < g.n; ++j)
        row[static_cast<std::size_t>(j)] += x * b_row[static_cast<std::size_t>(j)];
    }
    store_floats(row.data(), g.dtype, g.n, static_cast<char*>(g.c) + i * g.ldc * bytes);
  }
}

}  // namespace yirage::backend::cpu
