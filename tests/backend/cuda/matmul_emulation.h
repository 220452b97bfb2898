// A CPU stand-in for the device side of the tensor-core kernels, so that their generated source
// (less the prelude and device library) compiles as host C++ and runs one thread per CUDA
// thread: __syncthreads is a barrier of the block's threads; warp collectives (shuffles,
// ldmatrix, mma.sync) exchange values through a barrier of the warp's 32 threads and follow the
// PTX fragment layouts; cp.async copies land when a wait_group retires their group (or at once
// with emu_immediate). Compiled at test time by cuda_matmul_emulation_test.cpp, not part of the
// library.
#pragma once

#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

struct uint4 {
  unsigned x, y, z, w;
};
struct float4 {
  float x, y, z, w;
};
struct EmuDim {
  unsigned x = 0, y = 0, z = 0;
};
inline thread_local EmuDim threadIdx, blockIdx;
inline EmuDim gridDim, blockDim;
inline thread_local unsigned char* emu_smem_base;
struct EmuWarp {
  std::barrier<>* bar;
  uint32_t slots[32][8];
};
inline thread_local EmuWarp* emu_warp;
inline thread_local int emu_lane;
inline std::barrier<>* emu_block_barrier;
inline bool emu_immediate = false;
inline void __syncthreads() {
  emu_block_barrier->arrive_and_wait();
}
#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __restrict__ __restrict
#define YR_INF __int_as_float(0x7f800000)

inline float __uint_as_float(unsigned u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline unsigned __float_as_uint(float f) {
  unsigned u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float __int_as_float(int i) {
  float f;
  std::memcpy(&f, &i, 4);
  return f;
}
inline float rsqrtf(float x) {
  return 1.0f / std::sqrt(x);
}
inline float yr_bf16_to_f32(unsigned short h) {
  return __uint_as_float(static_cast<unsigned>(h) << 16);
}
inline unsigned short yr_f32_to_bf16(float f) {
  unsigned u = __float_as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<unsigned short>((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<unsigned short>(u >> 16);
}
inline float yr_f16_to_f32(unsigned short h) {
  _Float16 x;
  std::memcpy(&x, &h, 2);
  return static_cast<float>(x);
}
inline unsigned short yr_f32_to_f16(float f) {
  const _Float16 x = static_cast<_Float16>(f);
  unsigned short h;
  std::memcpy(&h, &x, 2);
  return h;
}
inline float yr_load_f32(const float* p, long long i) {
  return p[i];
}
inline void yr_store_f32(float* p, long long i, float v) {
  p[i] = v;
}
inline float yr_load_bf16(const unsigned short* p, long long i) {
  return yr_bf16_to_f32(p[i]);
}
inline void yr_store_bf16(unsigned short* p, long long i, float v) {
  p[i] = yr_f32_to_bf16(v);
}
inline float yr_load_f16(const unsigned short* p, long long i) {
  return yr_f16_to_f32(p[i]);
}
inline void yr_store_f16(unsigned short* p, long long i, float v) {
  p[i] = yr_f32_to_f16(v);
}

// Publishes this lane's values to its warp, then waits for every lane.
inline void emu_share(const uint32_t* values, int count) {
  for (int i = 0; i < count; ++i) emu_warp->slots[emu_lane][i] = values[i];
  emu_warp->bar->arrive_and_wait();
}
inline void emu_done() {
  emu_warp->bar->arrive_and_wait();
}
inline float __shfl_xor_sync(unsigned, float v, int mask) {
  const uint32_t bits = __float_as_uint(v);
  emu_share(&bits, 1);
  const float result = __uint_as_float(emu_warp->slots[emu_lane ^ mask][0]);
  emu_done();
  return result;
}
inline void emu_fail(const char* what) {
  std::fprintf(stderr, "emulated kernel: %s\n", what);
  std::abort();
}

inline unsigned yr_mm_smem_u32(const void* p) {
  return static_cast<unsigned>(static_cast<const unsigned char*>(p) - emu_smem_base);
}
struct EmuCopy {
  unsigned dst;
  const void* src;
};
inline thread_local std::vector<std::vector<EmuCopy>> emu_groups;
inline thread_local std::vector<EmuCopy> emu_open;
inline void yr_mm_cp_async16(unsigned dst, const void* src) {
  if (dst % 16 != 0 || reinterpret_cast<uintptr_t>(src) % 16 != 0) emu_fail("misaligned cp.async");
  if (emu_immediate) {
    std::memcpy(emu_smem_base + dst, src, 16);
    return;
  }
  emu_open.push_back({dst, src});
}
inline void yr_mm_cp_async16_wide(unsigned dst, const void* src) {
  yr_mm_cp_async16(dst, src);
}
inline void yr_mm_cp_async_commit() {
  emu_groups.push_back(emu_open);
  emu_open.clear();
}
template <int N>
inline void yr_mm_cp_async_wait() {
  while (static_cast<int>(emu_groups.size()) > N) {
    for (const auto& copy : emu_groups.front()) std::memcpy(emu_smem_base + copy.dst, copy.src, 16);
    emu_groups.erase(emu_groups.begin());
  }
}
// ldmatrix .trans: matrix i's rows start at the addresses of lanes 8i..8i+7; lane l receives
// elements (2 (l % 4), l / 4) and (2 (l % 4) + 1, l / 4) of each matrix.
inline void emu_ldsm_trans(unsigned* r, unsigned addr, int count) {
  if (addr % 16 != 0) emu_fail("misaligned ldmatrix");
  emu_share(&addr, 1);
  const int l = emu_lane;
  const auto element = [](unsigned row, int col) {
    unsigned short h;
    std::memcpy(&h, emu_smem_base + row + 2 * col, 2);
    return static_cast<unsigned>(h);
  };
  for (int i = 0; i < count; ++i) {
    const unsigned lo = element(emu_warp->slots[8 * i + 2 * (l % 4)][0], l / 4);
    const unsigned hi = element(emu_warp->slots[8 * i + 2 * (l % 4) + 1][0], l / 4);
    r[i] = lo | (hi << 16);
  }
  emu_done();
}
inline void yr_mm_ldsm_x4_trans(unsigned* r, unsigned addr) {
  emu_ldsm_trans(r, addr, 4);
}
inline void yr_mm_ldsm_x2_trans(unsigned* r, unsigned addr) {
  emu_ldsm_trans(r, addr, 2);
}
// mma.sync m16n8k16 row.col with f32 accumulators, from the PTX fragment layouts.
inline void emu_mma(float* d, const unsigned* a, unsigned b0, unsigned b1, bool half) {
  const uint32_t mine[6] = {a[0], a[1], a[2], a[3], b0, b1};
  emu_share(mine, 6);
  const auto value = [half](uint32_t bits) {
    const auto h = static_cast<unsigned short>(bits);
    return half ? yr_f16_to_f32(h) : yr_bf16_to_f32(h);
  };
  float A[16][16], B[16][8];
  for (int lane = 0; lane < 32; ++lane) {
    const uint32_t* s = emu_warp->slots[lane];
    const int g = lane / 4, t = lane % 4;
    for (int h = 0; h < 2; ++h) {
      A[g][2 * t + h] = value(s[0] >> (16 * h));
      A[g + 8][2 * t + h] = value(s[1] >> (16 * h));
      A[g][2 * t + 8 + h] = value(s[2] >> (16 * h));
      A[g + 8][2 * t + 8 + h] = value(s[3] >> (16 * h));
      B[2 * t + h][g] = value(s[4] >> (16 * h));
      B[2 * t + 8 + h][g] = value(s[5] >> (16 * h));
    }
  }
  const int g = emu_lane / 4, t = emu_lane % 4;
  for (int i = 0; i < 4; ++i) {
    const int row = g + (i >> 1) * 8, col = 2 * t + (i & 1);
    float sum = 0;
    for (int k = 0; k < 16; ++k) sum += A[row][k] * B[k][col];
    d[i] += sum;
  }
  emu_done();
}
inline void yr_mm_mma_bf16(float* d, const unsigned* a, unsigned b0, unsigned b1) {
  emu_mma(d, a, b0, b1, false);
}
inline void yr_mm_mma_f16(float* d, const unsigned* a, unsigned b0, unsigned b1) {
  emu_mma(d, a, b0, b1, true);
}
inline unsigned yr_mm_pack_bf16(float lo, float hi) {
  return yr_f32_to_bf16(lo) | (static_cast<unsigned>(yr_f32_to_bf16(hi)) << 16);
}
inline unsigned yr_mm_pack_f16(float lo, float hi) {
  return yr_f32_to_f16(lo) | (static_cast<unsigned>(yr_f32_to_f16(hi)) << 16);
}
inline void yr_mm_unpack_bf16(unsigned w, float& lo, float& hi) {
  lo = __uint_as_float(w << 16);
  hi = __uint_as_float(w & 0xffff0000u);
}
inline void yr_mm_unpack_f16(unsigned w, float& lo, float& hi) {
  lo = yr_f16_to_f32(static_cast<unsigned short>(w & 0xffffu));
  hi = yr_f16_to_f32(static_cast<unsigned short>(w >> 16));
}

// Runs `body` (one kernel call) for every block of the grid in turn, `threads` threads each,
// over `shared_bytes` of shared memory filled with 0xFF (NaN) bytes.
inline void emu_run(unsigned gx, unsigned gy, unsigned gz, unsigned threads, int shared_bytes,
                    const std::function<void()>& body) {
  gridDim = {gx, gy, gz};
  blockDim = {threads, 1, 1};
  std::vector<unsigned char> shared(static_cast<std::size_t>(shared_bytes) + 16);
  for (unsigned bz = 0; bz < gz; ++bz) {
    for (unsigned by = 0; by < gy; ++by) {
      for (unsigned bx = 0; bx < gx; ++bx) {
        std::fill(shared.begin(), shared.end(), 0xFF);
        unsigned char* base = shared.data();
        while (reinterpret_cast<uintptr_t>(base) % 16 != 0) ++base;
        std::barrier<> block(threads);
        emu_block_barrier = &block;
        std::vector<EmuWarp> warps(threads / 32);
        std::vector<std::unique_ptr<std::barrier<>>> warp_barriers;
        for (auto& warp : warps) {
          warp_barriers.push_back(std::make_unique<std::barrier<>>(32));
          warp.bar = warp_barriers.back().get();
        }
        std::vector<std::thread> pool;
        for (unsigned t = 0; t < threads; ++t) {
          pool.emplace_back([&, t] {
            threadIdx = {t, 0, 0};
            blockIdx = {bx, by, bz};
            emu_smem_base = base;
            emu_warp = &warps[t / 32];
            emu_lane = static_cast<int>(t % 32);
            emu_groups.clear();
            emu_open.clear();
            body();
          });
        }
        for (auto& thread : pool) thread.join();
      }
    }
  }
}
