// Host CPU description: vendor string, core count and the SIMD extensions usable here.
#pragma once

#include <string>
#include <vector>

namespace yirage::core {

/// What the host CPU offers and the operating system has enabled.
struct CpuFeatures {
  std::string model;         ///< brand string, e.g. "Intel(R) Xeon(R) ..."
  int hardware_threads = 1;  ///< logical CPUs
  bool avx2 = false;         ///< AVX2 + FMA
  bool avx512f = false;      ///< AVX-512 foundation (with OS support for the zmm state)
  bool avx512bw = false;     ///< AVX-512 byte/word
  bool avx512_bf16 = false;  ///< AVX512-BF16 dot products
  bool avx512_fp16 = false;  ///< AVX512-FP16 arithmetic
  bool amx_tile = false;     ///< AMX tiles (with OS support for the tile state)
  bool amx_bf16 = false;     ///< AMX bf16 tile multiply
  bool amx_int8 = false;     ///< AMX int8 tile multiply
  /// Names of the extensions present, in a fixed order ("avx2", "avx512f", ...).
  std::vector<std::string> names() const;
};

/// Detects the host CPU once (cpuid and xgetbv on x86-64; nothing elsewhere).
const CpuFeatures& cpu_features();

}  // namespace yirage::core
