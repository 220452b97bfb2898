// The micro-kernels behind cpu_gemm.h: each computes one register tile of C in f32 for one
// instruction set. Internal to the cpu backend.
#pragma once

#include <cstdint>

#include "yirage/core/dtype.h"

namespace yirage::backend::cpu {

/// One micro-tile: C[rows, nr] (+)= A[rows, k] @ B[k, nr], C float32 with row stride ldc.
struct TileArgs {
  const void* a = nullptr;                 ///< A rows: float32, or bfloat16 for bf16-A kernels
  int64_t lda = 0;                         ///< row stride of A, in elements
  const void* b = nullptr;                 ///< B rows of b_dtype; nr readable columns each
  int64_t ldb = 0;                         ///< row stride of B, in elements
  core::DType b_dtype = core::DType::F32;  ///< element type of B
  int64_t k = 0;                           ///< depth
  int rows = 0;                            ///< rows of A and C, 1..mr
  float* c = nullptr;                      ///< accumulators, row stride ldc
  int64_t ldc = 0;                         ///< row stride of C, in floats (>= nr)
  int64_t prefetch = 0;     ///< bytes from each row of B to bytes it should prefetch (0: none)
  bool accumulate = false;  ///< add to C (true) or overwrite it (false)
  bool paired = false;      ///< B is a panel made by GemmKernel::pack, not rows
};

/// A micro-kernel and its register tile.
struct GemmKernel {
  int mr = 0;                               ///< most rows per tile
  int nr = 0;                               ///< columns per tile
  bool bf16_a = false;                      ///< A is read as bfloat16 (else float32)
  void (*tile)(const TileArgs&) = nullptr;  ///< computes one tile
  /// Packs `depth` rows of `cols` (<= nr) columns of B (row stride ldb, in elements) into
  /// `panel` in the kernel's own layout, read back with TileArgs::paired; null: rows are copied.
  void (*pack)(const void* b, int64_t ldb, int64_t depth, int64_t cols, void* panel) = nullptr;
  bool always_pack = false;  ///< B is packed for every tile (the kernel cannot read rows)
};

/// Portable C++ kernel.
GemmKernel scalar_gemm_kernel();
/// AVX2 + FMA + F16C kernel (cpu_gemm_avx2.cpp).
GemmKernel avx2_gemm_kernel();
/// AVX-512F kernel (cpu_gemm_avx512.cpp).
GemmKernel avx512_gemm_kernel();
/// AVX512-BF16 dot-product kernel for bfloat16 A and B (cpu_gemm_avx512.cpp).
GemmKernel avx512_bf16_gemm_kernel();
/// AMX-BF16 tile kernel for bfloat16 A and B (cpu_gemm_amx.cpp); needs amx_usable().
GemmKernel amx_gemm_kernel();
/// True when the CPU has AMX-BF16 and the OS granted this process the tile state.
bool amx_usable();

}  // namespace yirage::backend::cpu
