// CPU stand-ins for the attention schedule's device helpers (ya_*), on top of the tensor-core
// emulation of matmul_emulation.h: cp.async with zero fill, ldmatrix without transposition,
// __shfl_sync, the packing and unpacking of bf16/f16 pairs. Compiled at test time by
// cuda_attention_emulation_test.cpp, not part of the library.
#pragma once

#include "matmul_emulation.h"

struct float2 {
  float x, y;
};
inline float2 make_float2(float x, float y) {
  return {x, y};
}
inline float __shfl_sync(unsigned, float v, int source) {
  const uint32_t bits = __float_as_uint(v);
  emu_share(&bits, 1);
  const float result = __uint_as_float(emu_warp->slots[source & 31][0]);
  emu_done();
  return result;
}
inline unsigned ya_smem_addr(const void* p) {
  return yr_mm_smem_u32(p);
}
inline void ya_cp_async16(unsigned dst, const void* src) {
  yr_mm_cp_async16(dst, src);
}
alignas(16) inline const unsigned char emu_zeros[16] = {};
inline void ya_cp_async16_zfill(unsigned dst, const void* src, unsigned bytes) {
  if (bytes != 0 && bytes != 16) emu_fail("cp.async zero fill of a part");
  yr_mm_cp_async16(dst, bytes == 16 ? src : emu_zeros);
}
inline void ya_cp_commit() {
  yr_mm_cp_async_commit();
}
template <int N>
inline void ya_cp_wait() {
  yr_mm_cp_async_wait<N>();
}
// ldmatrix: matrix i's rows start at the addresses of lanes 8i..8i+7; lane l receives elements
// (l / 4, 2 (l % 4)) and (l / 4, 2 (l % 4) + 1) of each matrix.
inline void ya_ldsm_x4(unsigned addr, unsigned& r0, unsigned& r1, unsigned& r2, unsigned& r3) {
  if (addr % 16 != 0) emu_fail("misaligned ldmatrix");
  emu_share(&addr, 1);
  const int l = emu_lane;
  unsigned r[4];
  for (int i = 0; i < 4; ++i)
    std::memcpy(&r[i], emu_smem_base + emu_warp->slots[8 * i + l / 4][0] + 4 * (l % 4), 4);
  emu_done();
  r0 = r[0];
  r1 = r[1];
  r2 = r[2];
  r3 = r[3];
}
inline void ya_ldsm_x4_trans(unsigned addr, unsigned& r0, unsigned& r1, unsigned& r2,
                             unsigned& r3) {
  unsigned r[4];
  yr_mm_ldsm_x4_trans(r, addr);
  r0 = r[0];
  r1 = r[1];
  r2 = r[2];
  r3 = r[3];
}
inline void ya_mma_bf16(float* c, const unsigned* a, unsigned b0, unsigned b1) {
  emu_mma(c, a, b0, b1, false);
}
inline void ya_mma_f16(float* c, const unsigned* a, unsigned b0, unsigned b1) {
  emu_mma(c, a, b0, b1, true);
}
inline unsigned ya_pack_bf16(float lo, float hi) {
  return yr_mm_pack_bf16(lo, hi);
}
inline unsigned ya_pack_f16(float lo, float hi) {
  return yr_mm_pack_f16(lo, hi);
}
inline float ya_lo_bf16(unsigned w) {
  return __uint_as_float(w << 16);
}
inline float ya_hi_bf16(unsigned w) {
  return __uint_as_float(w & 0xffff0000u);
}
inline float ya_lo_f16(unsigned w) {
  return yr_f16_to_f32(static_cast<unsigned short>(w & 0xffffu));
}
inline float ya_hi_f16(unsigned w) {
  return yr_f16_to_f32(static_cast<unsigned short>(w >> 16));
}
inline float ya_exp2(float x) {
  return std::exp2(x);
}
