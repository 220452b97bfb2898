// Device helpers of the tensor-core kernels, as inline PTX (NVRTC compiles them without CUDA
// headers): shared-memory addresses, cp.async copies and groups, ldmatrix, mma.sync and the
// 16-bit pair conversions. Needs sm_80 or newer; the source stops with #error below that.
#pragma once

#include <string>

namespace yirage::backend::cuda {

/// The helpers, to append after device_prelude(): yr_mm_smem_u32, yr_mm_cp_async16,
/// yr_mm_cp_async_commit, yr_mm_cp_async_wait<N>, yr_mm_ldsm_x4_trans, yr_mm_ldsm_x2_trans,
/// yr_mm_mma_bf16/yr_mm_mma_f16 (m16n8k16, f32 accumulate), yr_mm_pack_bf16/yr_mm_pack_f16 (two
/// floats to a 16-bit pair), yr_mm_unpack_bf16/yr_mm_unpack_f16 (a pair to two floats).
const std::string& matmul_device_lib();

}  // namespace yirage::backend::cuda
