// The blocked GEMM of the cpu backend: C = A @ B for row-major float32, bfloat16 or float16
// matrices, f32 accumulation, one rounding on store, threads over blocks of C.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "yirage/core/dtype.h"

namespace yirage::backend::cpu {

/// One matrix product C[m, n] = A[m, k] @ B[k, n]; all three row-major in `dtype` with leading
/// dimensions (row strides, in elements) lda, ldb and ldc.
struct GemmArgs {
  int64_t m = 0;                         ///< rows of A and C
  int64_t n = 0;                         ///< columns of B and C
  int64_t k = 0;                         ///< columns of A, rows of B
  core::DType dtype = core::DType::F32;  ///< element type of A, B and C
  const void* a = nullptr;               ///< first element of A
  int64_t lda = 0;                       ///< row stride of A
  const void* b = nullptr;               ///< first element of B
  int64_t ldb = 0;                       ///< row stride of B
  void* c = nullptr;                     ///< first element of C (overwritten)
  int64_t ldc = 0;                       ///< row stride of C
};

/// The instruction-set paths of the GEMM micro-kernels.
enum class GemmPath : uint8_t {
  Auto,        ///< the best path this CPU has for the dtype
  Scalar,      ///< portable C++
  Avx2,        ///< AVX2 + FMA (+ F16C), 6x16 f32 register tile
  Avx512,      ///< AVX-512F, 6x64 f32 register tile; bf16/f16 widened to f32
  Avx512Bf16,  ///< AVX512-BF16 dot products (bf16 only; other dtypes take Avx512)
  Amx,         ///< AMX-BF16 tiles, 32x32 blocks (bf16 only; other dtypes take Avx512)
};

/// "scalar", "avx2", "avx512", "avx512-bf16", "amx" or "auto".
std::string_view gemm_path_name(GemmPath path);
/// The paths this CPU can run, Scalar first.
std::vector<GemmPath> available_gemm_paths();
/// The path Auto resolves to for `dtype` on this CPU: the widest of Avx512, Avx2, Scalar
/// (Avx512Bf16 is no faster than Avx512 where measured, so it is taken only when asked for).
GemmPath best_gemm_path(core::DType dtype);

/// Computes `args` with `path` (a UserError when this CPU lacks it), spread over the global
/// thread pool. Auto means the forced path (force_gemm_path) when there is one, else Amx for
/// bf16 products of at least 32 rows where AMX is usable, else best_gemm_path.
void gemm(const GemmArgs& args, GemmPath path = GemmPath::Auto);

/// Makes every later Auto GEMM of this process take `path` (Auto: back to the best path); for
/// tests and benchmarks that exercise one instruction set through whole graphs.
void force_gemm_path(GemmPath path);

/// A plain single-threaded loop (rows of C accumulated in f32 over rows of B) with the same
/// rounding on store; the baseline of benchmarks.
void naive_gemm(const GemmArgs& args);

}  // namespace yirage::backend::cpu
