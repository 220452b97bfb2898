// The cpu backend: every kernel graph on x86-64, unfused ops through SIMD kernels and a blocked
// GEMM, customized nodes through block graphs compiled at run time (block_compiler.h).
#pragma once

#include <memory>
#include <string>

#include "yirage/backend/backend.h"
#include "yirage/backend/cost_model.h"

namespace yirage::backend {

/// Creates the cpu backend (available everywhere; scalar kernels where SIMD is missing).
std::unique_ptr<Backend> make_cpu_backend();

namespace cpu {

/// The SIMD level the cpu kernels use here: "avx512-bf16", "avx512", "avx2" or "scalar".
std::string isa_level();

/// The machine numbers the cpu backend's estimate_cost uses, from the core count and ISA level
/// only (nothing is measured): per core 2.5 GHz at half the peak f32 FMA rate of the ISA
/// (avx512 64, avx2 32, scalar 4 FLOP/cycle), 12 GB/s of memory bandwidth per thread capped
/// at 200 GB/s, and 5 us to hand one kernel to the thread pool.
MachineModel cpu_machine_model();

}  // namespace cpu

}  // namespace yirage::backend
