#include "yirage/llm/cuda_kernels.h"

#include <cmath>
#include <cstdio>
#include <sstream>
#include <vector>

#include "yirage/backend/cuda/dependent_launch.h"
#include "yirage/backend/cuda/device_code.h"
#include "yirage/core/error.h"

namespace yirage::llm {

namespace {

namespace cuda = backend::cuda;

// Element access and the 16-byte unpacking for the compute dtype.
std::string dtype_helpers(core::DType dtype) {
  const std::string tag = cuda::dtype_tag(dtype);
  std::ostringstream s;
  s << "typedef " << cuda::storage_type(dtype) << " T;\n"
    << "__device__ __forceinline__ float ld(const T* p, long long i) { return yr_load_" << tag
    << "(p, i); }\n"
    << "__device__ __forceinline__ void st(T* p, long long i, float v) { yr_store_" << tag
    << "(p, i, v); }\n"
    << "// v rounded to T, as a stored intermediate would be.\n"
    << "__device__ __forceinline__ float rnd(float v) { T t; st(&t, 0, v); return ld(&t, 0); }\n"
    << "// The VEC elements of one 16-byte load as float.\n"
    << "__device__ __forceinline__ void unpack(const uint4 u, float* f) {\n"
    << "  const unsigned w[4] = {u.x, u.y, u.z, u.w};\n";
  if (dtype == core::DType::F32) {
    s << "  for (int j = 0; j < 4; ++j) f[j] = __uint_as_float(w[j]);\n";
  } else {
    const std::string convert = dtype == core::DType::BF16 ? "yr_bf16_to_f32" : "yr_f16_to_f32";
    s << "  for (int j = 0; j < 4; ++j) {\n"
      << "    f[2 * j] = " << convert << "((unsigned short)(w[j] & 0xffffu));\n"
      << "    f[2 * j + 1] = " << convert << "((unsigned short)(w[j] >> 16));\n"
      << "  }\n";
  }
  s << "}\n";
  return s.str();
}

std::string constants(const CudaKernelShape& shape) {
  std::ostringstream s;
  s << "constexpr int HIDDEN = " << shape.hidden << ";\n"
    << "constexpr int HEADS = " << shape.heads << ";\n"
    << "constexpr int KV_HEADS = " << shape.kv_heads << ";\n"
    << "constexpr int GROUP = " << shape.heads / shape.kv_heads << ";\n"
    << "constexpr int HEAD_DIM = " << shape.head_dim << ";\n"
    << "constexpr int INTER = " << shape.intermediate << ";\n"
    << "constexpr int QKV = " << (shape.heads + 2 * shape.kv_heads) * shape.head_dim << ";\n"
    << "constexpr int VEC = " << shape.vector_elements() << ";\n"
    << "constexpr int LPK = " << shape.lanes_per_key() << ";\n"
    << "constexpr int ATT_THREADS = " << CudaKernelShape::kAttentionThreads << ";\n"
    << "constexpr int KEY_GROUPS = " << shape.key_groups() << ";\n"
    << "constexpr int MIN_KEYS = " << kMinKeysPerSplit << ";\n"
    << "constexpr float EPS = " << cuda::float_literal(shape.eps) << ";\n"
    << "constexpr float SCALE = "
    << cuda::float_literal(1.0 / std::sqrt(static_cast<double>(shape.head_dim))) << ";\n";
  return s.str();
}

// The kernels, over the constants and helpers above. Row metadata (int32, on the device):
// pos[r] the position of row r, seq[r] its row of `tables` (block ids, table_stride per row).
constexpr const char* kKernels = R"(
// out[r] = table[ids[r]]. grid: rows; block: any.
extern "C" __global__ void yr_embed(const int* __restrict__ ids, const T* __restrict__ table,
                                    T* __restrict__ out) {
  yr_dependent_prologue();
  const long long src = (long long)ids[blockIdx.x] * HIDDEN;
  const long long dst = (long long)blockIdx.x * HIDDEN;
  for (int i = threadIdx.x; i < HIDDEN; i += blockDim.x) out[dst + i] = table[src + i];
}

// Row s = pick ? pick[r] : r: x[s] += delta[s] (when delta is set; rounded to T), then
// out[r] = rms_norm(x[s]) * weight. grid: rows; block: a multiple of 32.
extern "C" __global__ void yr_add_rms_norm(T* __restrict__ x, const T* __restrict__ delta,
                                           const T* __restrict__ weight, T* __restrict__ out,
                                           const int* __restrict__ pick) {
  yr_dependent_prologue();
  const long long src = (long long)(pick ? pick[blockIdx.x] : (int)blockIdx.x) * HIDDEN;
  const long long dst = (long long)blockIdx.x * HIDDEN;
  float sum = 0.0f;
  for (int i = threadIdx.x; i < HIDDEN; i += blockDim.x) {
    float v = ld(x, src + i);
    if (delta) {
      v = rnd(v + ld(delta, src + i));
      st(x, src + i, v);
    }
    sum += v * v;
  }
  const float inv = rsqrtf(yr_block_sum(sum) / (float)HIDDEN + EPS);
  for (int i = threadIdx.x; i < HIDDEN; i += blockDim.x)
    st(out, dst + i, ld(x, src + i) * inv * ld(weight, i));
}

// One warp: the head at src (HEAD_DIM values) RMS-normed with weight w (rounded to T) and
// rotated to position p (cos and sin of pair i at p * HEAD_DIM / 2 + i of rope_cos/rope_sin);
// stored to dst, or, when dst is null, written rounded to T as floats to dst_f. Every lane of
// the warp must call it.
__device__ __forceinline__ void yr_norm_rope(const T* __restrict__ src, const T* __restrict__ w,
                                             int p, const float* __restrict__ rope_cos,
                                             const float* __restrict__ rope_sin, T* dst,
                                             float* dst_f, int lane) {
  float sum = 0.0f;
  for (int i = lane; i < HEAD_DIM; i += 32) {
    const float v = ld(src, i);
    sum += v * v;
  }
  const float inv = rsqrtf(yr_warp_sum(sum) / (float)HEAD_DIM + EPS);
  constexpr int HALF = HEAD_DIM / 2;
  for (int i = lane; i < HALF; i += 32) {
    const float x1 = rnd(ld(src, i) * inv * ld(w, i));
    const float x2 = rnd(ld(src, i + HALF) * inv * ld(w, i + HALF));
    const float c = rope_cos[(long long)p * HALF + i], s = rope_sin[(long long)p * HALF + i];
    if (dst) {
      st(dst, i, x1 * c - x2 * s);
      st(dst, i + HALF, x2 * c + x1 * s);
    } else {
      dst_f[i] = rnd(x1 * c - x2 * s);
      dst_f[i + HALF] = rnd(x2 * c + x1 * s);
    }
  }
}

// The cache slot of position p of the sequence whose block table is `table`.
__device__ __forceinline__ long long yr_slot(const int* __restrict__ table, int p,
                                             int block_size) {
  return (long long)table[p / block_size] * block_size + p % block_size;
}

// One warp per (row, head) of qkv [rows, QKV]: query and key heads get their RMSNorm and the
// rotary embedding at pos[r] (yr_norm_rope); queries go to q [rows, HEADS, HEAD_DIM], keys and
// values to their slot of the layer's cache [slots, KV_HEADS, HEAD_DIM].
// grid: ceil(rows * (HEADS + 2 KV_HEADS) / 4); block: 128.
extern "C" __global__ void yr_qk_rope_store(const T* __restrict__ qkv, const T* __restrict__ q_norm,
                                            const T* __restrict__ k_norm,
                                            const int* __restrict__ pos,
                                            const int* __restrict__ seq,
                                            const int* __restrict__ tables, int table_stride,
                                            int block_size, const float* __restrict__ rope_cos,
                                            const float* __restrict__ rope_sin,
                                            T* __restrict__ q, T* k_cache, T* v_cache, int rows) {
  yr_dependent_prologue();
  constexpr int NH = HEADS + 2 * KV_HEADS;
  const int task = blockIdx.x * 4 + (threadIdx.x >> 5), lane = threadIdx.x & 31;
  if (task >= rows * NH) return;  // the whole warp
  const int r = task / NH, h = task % NH;
  const T* src = qkv + (long long)r * QKV + (long long)h * HEAD_DIM;
  const int p = pos[r];
  const long long slot = yr_slot(tables + (long long)seq[r] * table_stride, p, block_size);
  if (h >= HEADS + KV_HEADS) {
    T* dst = v_cache + (slot * KV_HEADS + (h - HEADS - KV_HEADS)) * HEAD_DIM;
    for (int i = lane; i < HEAD_DIM; i += 32) dst[i] = src[i];
    return;
  }
  T* dst = h < HEADS ? q + ((long long)r * HEADS + h) * HEAD_DIM
                     : k_cache + (slot * KV_HEADS + (h - HEADS)) * HEAD_DIM;
  yr_norm_rope(src, h < HEADS ? q_norm : k_norm, p, rope_cos, rope_sin, dst, nullptr, lane);
}

// Attention of the GROUP query heads of KV head (blockIdx.x % KV_HEADS) of row
// (blockIdx.x / KV_HEADS) over keys [begin, end) of its positions 0 .. pos[r], split blockIdx.y
// of `splits`. LPK threads share a key row (16 bytes each); KEY_GROUPS keys are in flight per
// block, each thread keeping an online softmax (float) of its keys, merged through shared memory
// at the end. With one split the result goes to out [rows, HEADS, HEAD_DIM]; else each split
// writes its unscaled sums to part_acc [rows, HEADS, splits, HEAD_DIM] and (max, sum) to
// part_ml [.., splits, 2], and the last split of a (row, KV head) to finish (counted in
// counters[blockIdx.x], zero before and after the launch) merges them into out.
// grid: (rows * KV_HEADS, splits); block: ATT_THREADS.
//
// FUSED (decode steps, one row per sequence): q points at qkv [rows, QKV] instead, and the block
// norms and rotates its query heads itself (yr_norm_rope); the split holding the row's own
// position also writes that position's key and value to the cache before reading it.
template <bool FUSED>
__device__ __forceinline__ void yr_attention_body(
    const T* __restrict__ q, const T* __restrict__ q_norm, const T* __restrict__ k_norm,
    const int* __restrict__ pos, const int* __restrict__ seq, const int* __restrict__ tables,
    int table_stride, int block_size, const float* __restrict__ rope_cos,
    const float* __restrict__ rope_sin, T* k_cache, T* v_cache, T* __restrict__ out,
    float* __restrict__ part_acc, float* __restrict__ part_ml, unsigned* __restrict__ counters,
    int splits) {
  __shared__ float s_m[KEY_GROUPS][GROUP];
  __shared__ float s_l[KEY_GROUPS][GROUP];
  __shared__ float s_acc[KEY_GROUPS][GROUP][HEAD_DIM];
  __shared__ bool s_last;
  const int row = blockIdx.x / KV_HEADS, kvh = blockIdx.x % KV_HEADS, split = blockIdx.y;
  const int kg = threadIdx.x / LPK, sub = threadIdx.x % LPK;
  const int length = pos[row] + 1;
  int chunk = (length + splits - 1) / splits;
  if (chunk < MIN_KEYS) chunk = MIN_KEYS;
  const int begin = split * chunk;
  const int end = begin + chunk < length ? begin + chunk : length;
  const int* table = tables + (long long)seq[row] * table_stride;

  float qv[GROUP][VEC];
  float m[GROUP], l[GROUP], acc[GROUP][VEC];
  if (FUSED) {
    __shared__ float s_q[GROUP][HEAD_DIM];
    constexpr int WARPS = ATT_THREADS / 32;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, p = length - 1;
    const T* src = q + (long long)row * QKV;
    for (int g = warp; g < GROUP; g += WARPS) {
      yr_norm_rope(src + (kvh * GROUP + g) * HEAD_DIM, q_norm, p, rope_cos, rope_sin, nullptr,
                   s_q[g], lane);
    }
    if (begin < end && end == length) {  // this split holds position p
      const long long at = (yr_slot(table, p, block_size) * KV_HEADS + kvh) * HEAD_DIM;
      if (warp == GROUP % WARPS) {
        yr_norm_rope(src + (HEADS + kvh) * HEAD_DIM, k_norm, p, rope_cos, rope_sin,
                     k_cache + at, nullptr, lane);
      }
      if (warp == (GROUP + 1) % WARPS) {
        const T* v = src + (HEADS + KV_HEADS + kvh) * HEAD_DIM;
        for (int i = lane; i < HEAD_DIM; i += 32) v_cache[at + i] = v[i];
      }
    }
    __syncthreads();
#pragma unroll
    for (int g = 0; g < GROUP; ++g)
#pragma unroll
      for (int j = 0; j < VEC; ++j) qv[g][j] = s_q[g][sub * VEC + j];
  } else {
#pragma unroll
    for (int g = 0; g < GROUP; ++g) {
      const T* qp = q + ((long long)row * HEADS + kvh * GROUP + g) * HEAD_DIM + sub * VEC;
      unpack(*reinterpret_cast<const uint4*>(qp), qv[g]);
    }
  }
#pragma unroll
  for (int g = 0; g < GROUP; ++g) {
#pragma unroll
    for (int j = 0; j < VEC; ++j) {
      qv[g][j] *= SCALE;
      acc[g][j] = 0.0f;
    }
    m[g] = -YR_INF;
    l[g] = 0.0f;
  }
  // Every thread runs the same trip count (the shuffles below need whole warps).
  for (int base = begin; base < end; base += KEY_GROUPS) {
    const int t = base + kg;
    const bool valid = t < end;
    float kf[VEC], vf[VEC];
    if (valid) {
      const long long offset = (yr_slot(table, t, block_size) * KV_HEADS + kvh) * HEAD_DIM + sub * VEC;
      unpack(*reinterpret_cast<const uint4*>(k_cache + offset), kf);
      unpack(*reinterpret_cast<const uint4*>(v_cache + offset), vf);
    } else {
#pragma unroll
      for (int j = 0; j < VEC; ++j) kf[j] = vf[j] = 0.0f;
    }
#pragma unroll
    for (int g = 0; g < GROUP; ++g) {
      float s = 0.0f;
#pragma unroll
      for (int j = 0; j < VEC; ++j) s += qv[g][j] * kf[j];
#pragma unroll
      for (int o = LPK / 2; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
      if (valid) {
        const float top = fmaxf(m[g], s);
        const float keep = __expf(m[g] - top), weight = __expf(s - top);
        l[g] = l[g] * keep + weight;
#pragma unroll
        for (int j = 0; j < VEC; ++j) acc[g][j] = acc[g][j] * keep + weight * vf[j];
        m[g] = top;
      }
    }
  }
#pragma unroll
  for (int g = 0; g < GROUP; ++g) {
    if (sub == 0) {
      s_m[kg][g] = m[g];
      s_l[kg][g] = l[g];
    }
#pragma unroll
    for (int j = 0; j < VEC; ++j) s_acc[kg][g][sub * VEC + j] = acc[g][j];
  }
  __syncthreads();
  for (int idx = threadIdx.x; idx < GROUP * HEAD_DIM; idx += ATT_THREADS) {
    const int g = idx / HEAD_DIM, d = idx % HEAD_DIM;
    float top = -YR_INF;
    for (int k = 0; k < KEY_GROUPS; ++k) top = fmaxf(top, s_m[k][g]);
    float total = 0.0f, value = 0.0f;
    if (top > -YR_INF) {
      for (int k = 0; k < KEY_GROUPS; ++k) {
        const float w = __expf(s_m[k][g] - top);
        total += s_l[k][g] * w;
        value += s_acc[k][g][d] * w;
      }
    }
    const long long head = (long long)row * HEADS + kvh * GROUP + g;
    if (splits == 1) {
      st(out, head * HEAD_DIM + d, value / total);
    } else {
      const long long part = head * splits + split;
      part_acc[part * HEAD_DIM + d] = value;
      if (d == 0) {
        part_ml[2 * part] = top;
        part_ml[2 * part + 1] = total;
      }
    }
  }
  if (splits == 1) return;
  // The last split to finish merges: partials written, fenced, then counted (the pattern of a
  // release before the atomic and an acquire after it).
  __threadfence();
  __syncthreads();
  if (threadIdx.x == 0) s_last = atomicAdd(&counters[blockIdx.x], 1u) == (unsigned)splits - 1;
  __syncthreads();
  if (!s_last) return;
  __threadfence();
  for (int idx = threadIdx.x; idx < GROUP * HEAD_DIM; idx += ATT_THREADS) {
    const int g = idx / HEAD_DIM, d = idx % HEAD_DIM;
    const long long head = (long long)row * HEADS + kvh * GROUP + g;
    float top = -YR_INF;
    for (int s = 0; s < splits; ++s) top = fmaxf(top, part_ml[2 * (head * splits + s)]);
    float total = 0.0f, value = 0.0f;
    for (int s = 0; s < splits; ++s) {
      const long long part = head * splits + s;
      const float mine = part_ml[2 * part];
      if (mine > -YR_INF) {
        const float w = __expf(mine - top);
        total += part_ml[2 * part + 1] * w;
        value += part_acc[part * HEAD_DIM + d] * w;
      }
    }
    st(out, head * HEAD_DIM + d, value / total);
  }
  if (threadIdx.x == 0) counters[blockIdx.x] = 0u;
}

// The attention of rows whose queries are in q [rows, HEADS, HEAD_DIM] and whose keys and values
// are all in the cache. grid: (rows * KV_HEADS, splits); block: ATT_THREADS.
extern "C" __global__ void __launch_bounds__(ATT_THREADS)
    yr_attention(const T* __restrict__ q, const int* __restrict__ pos,
                 const int* __restrict__ seq, const int* __restrict__ tables, int table_stride,
                 int block_size, T* k_cache, T* v_cache, T* __restrict__ out,
                 float* __restrict__ part_acc, float* __restrict__ part_ml,
                 unsigned* __restrict__ counters, int splits) {
  yr_dependent_prologue();
  yr_attention_body<false>(q, nullptr, nullptr, pos, seq, tables, table_stride, block_size,
                           nullptr, nullptr, k_cache, v_cache, out, part_acc, part_ml, counters,
                           splits);
}

// Decode attention straight from qkv [rows, QKV] (one row per sequence): q/k norm, RoPE and the
// cache writes of yr_qk_rope_store folded in. grid: (rows * KV_HEADS, splits); block:
// ATT_THREADS.
extern "C" __global__ void __launch_bounds__(ATT_THREADS)
    yr_decode_attention(const T* __restrict__ qkv, const T* __restrict__ q_norm,
                        const T* __restrict__ k_norm, const int* __restrict__ pos,
                        const int* __restrict__ seq, const int* __restrict__ tables,
                        int table_stride, int block_size, const float* __restrict__ rope_cos,
                        const float* __restrict__ rope_sin, T* k_cache, T* v_cache,
                        T* __restrict__ out, float* __restrict__ part_acc,
                        float* __restrict__ part_ml, unsigned* __restrict__ counters,
                        int splits) {
  yr_dependent_prologue();
  yr_attention_body<true>(qkv, q_norm, k_norm, pos, seq, tables, table_stride, block_size,
                          rope_cos, rope_sin, k_cache, v_cache, out, part_acc, part_ml, counters,
                          splits);
}

// out [rows, INTER] = silu(gate) * up of gu [rows, 2 INTER] (gate columns, then up columns).
// grid-stride.
extern "C" __global__ void yr_silu_mul(const T* __restrict__ gu, T* __restrict__ out, int rows) {
  yr_dependent_prologue();
  const long long n = (long long)rows * INTER;
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
       i += (long long)gridDim.x * blockDim.x) {
    const long long r = i / INTER, c = i % INTER;
    const float g = ld(gu, r * 2 * INTER + c), u = ld(gu, r * 2 * INTER + INTER + c);
    st(out, i, rnd(g / (1.0f + expf(-g))) * u);
  }
}

// out[i] = (float)in[i] for i < n. grid-stride.
extern "C" __global__ void yr_to_f32(const T* __restrict__ in, float* __restrict__ out,
                                     long long n) {
  yr_dependent_prologue();
  for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
       i += (long long)gridDim.x * blockDim.x)
    out[i] = ld(in, i);
}

// out [cols, rows] = in [rows, cols] transposed, through 32 x 32 tiles in shared memory.
// grid: (ceil(cols / 32), ceil(rows / 32)); block: 256.
extern "C" __global__ void yr_transpose(const T* __restrict__ in, T* __restrict__ out, int rows,
                                        int cols) {
  yr_dependent_prologue();
  __shared__ T tile[32][33];
  const int tx = threadIdx.x & 31, ty = threadIdx.x >> 5;
  const int c0 = blockIdx.x * 32, r0 = blockIdx.y * 32;
  for (int j = ty; j < 32; j += 8) {
    const int r = r0 + j, c = c0 + tx;
    if (r < rows && c < cols) tile[j][tx] = in[(long long)r * cols + c];
  }
  __syncthreads();
  for (int j = ty; j < 32; j += 8) {
    const int c = c0 + j, r = r0 + tx;
    if (c < cols && r < rows) out[(long long)c * rows + r] = tile[tx][j];
  }
}

// Asks for the 128-byte line at p to be brought into L2 (a hint: no register waits for it).
__device__ __forceinline__ void yr_prefetch_l2(const void* p) {
#if defined(__CUDA_ARCH__)
  asm volatile("prefetch.global.L2 [%0];" ::"l"(p));
#endif
}

// y [M, n_out] = x [M, k] times w [rows, k] transposed (rows: n_out, or 2 n_out with SILU), for
// few rows M: each warp computes C adjacent output columns (their weight rows read together, so
// each x run loaded and converted once serves all C), each lane reading 16-byte runs of the
// weight rows with U runs (of each weight row) in flight, float accumulation, a warp sum at the
// end. SILU: the warp also reads weight row n_out + column (the up projection) of each column
// and stores silu(gate) * up. NORM: x is the residual stream; the block first computes each
// row's RMS and multiplies by rms_norm(x) * norm (rounded to T) instead, as yr_add_rms_norm
// would have stored it. RESIDUAL: y is the residual stream, and gets the product added (rounded
// to T). Weights never change during a step, so before waiting for the kernel before it (the
// dependent-launch prologue) each warp asks L2 for the first U runs of its weight rows: a block
// that starts while the previous kernel is still finishing streams weights meanwhile.
// k: a multiple of VEC. grid: ceil(n_out / (8 C)); block: 256.
template <int M, int C, bool SILU, bool NORM, bool RESIDUAL>
__device__ __forceinline__ void yr_gemv_body(const T* __restrict__ w, const T* __restrict__ x,
                                             T* y, int n_out, int k,
                                             const T* __restrict__ norm) {
  constexpr int R = SILU ? 2 : 1;
  constexpr int RC = R * C;  // weight rows of a warp: column c's at c * R (gate), c * R + 1 (up)
  constexpr int U = M == 1 ? 8 : (M == 2 ? 4 : 2);
  const int warp_index = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
  const int first = warp_index * C, lane = threadIdx.x & 31;
  const int chunks = k / VEC;
  const T* row[RC];
#pragma unroll
  for (int c = 0; c < C; ++c) {
    // Columns past the end read the last column's rows (their sums are not stored).
    const long long column = first + c < n_out ? first + c : n_out - 1;
    row[c * R] = w + column * k;
    row[c * R + R - 1] = w + (column + (SILU ? n_out : 0)) * k;
  }
  if (first < n_out) {
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int c = lane + 32 * u;
      if (c < chunks) {
#pragma unroll
        for (int q = 0; q < RC; ++q) yr_prefetch_l2(row[q] + (long long)c * VEC);
      }
    }
  }
  yr_dependent_prologue();
  float inv[M];
  if (NORM) {
    // Sum of squares of each row over the whole block (before any warp leaves).
    __shared__ float s_part[8][M];
    float part[M];
#pragma unroll
    for (int m = 0; m < M; ++m) part[m] = 0.0f;
    for (int c = threadIdx.x; c < chunks; c += blockDim.x) {
#pragma unroll
      for (int m = 0; m < M; ++m) {
        float xf[VEC];
        unpack(*reinterpret_cast<const uint4*>(x + (long long)m * k + (long long)c * VEC), xf);
#pragma unroll
        for (int j = 0; j < VEC; ++j) part[m] += xf[j] * xf[j];
      }
    }
#pragma unroll
    for (int m = 0; m < M; ++m) {
      part[m] = yr_warp_sum(part[m]);
      if (lane == 0) s_part[threadIdx.x >> 5][m] = part[m];
    }
    __syncthreads();
#pragma unroll
    for (int m = 0; m < M; ++m) {
      float total = 0.0f;
      for (int i = 0; i < (int)(blockDim.x >> 5); ++i) total += s_part[i][m];
      inv[m] = rsqrtf(total / (float)k + EPS);
    }
  }
  if (first >= n_out) return;  // the whole warp
  float acc[RC][M];
#pragma unroll
  for (int q = 0; q < RC; ++q)
#pragma unroll
    for (int m = 0; m < M; ++m) acc[q][m] = 0.0f;
  for (int c0 = lane; c0 < chunks; c0 += 32 * U) {
    uint4 wv[U][RC];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int c = c0 + 32 * u;
#pragma unroll
      for (int q = 0; q < RC; ++q) {
        if (c < chunks) {
          wv[u][q] = *reinterpret_cast<const uint4*>(row[q] + (long long)c * VEC);
        } else {
          wv[u][q].x = wv[u][q].y = wv[u][q].z = wv[u][q].w = 0u;
        }
      }
    }
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int c = c0 + 32 * u;
      if (c < chunks) {
        float wf[RC][VEC];
#pragma unroll
        for (int q = 0; q < RC; ++q) unpack(wv[u][q], wf[q]);
        float nf[VEC];
        if (NORM) unpack(*reinterpret_cast<const uint4*>(norm + (long long)c * VEC), nf);
#pragma unroll
        for (int m = 0; m < M; ++m) {
          float xf[VEC];
          unpack(*reinterpret_cast<const uint4*>(x + (long long)m * k + (long long)c * VEC), xf);
          if (NORM) {
#pragma unroll
            for (int j = 0; j < VEC; ++j) xf[j] = rnd(xf[j] * inv[m] * nf[j]);
          }
#pragma unroll
          for (int q = 0; q < RC; ++q)
#pragma unroll
            for (int j = 0; j < VEC; ++j) acc[q][m] += wf[q][j] * xf[j];
        }
      }
    }
  }
#pragma unroll
  for (int q = 0; q < RC; ++q)
#pragma unroll
    for (int m = 0; m < M; ++m) acc[q][m] = yr_warp_sum(acc[q][m]);
  if (lane == 0) {
#pragma unroll
    for (int c = 0; c < C; ++c) {
      const int column = first + c;
      if (column >= n_out) continue;
#pragma unroll
      for (int m = 0; m < M; ++m) {
        const long long at = (long long)m * n_out + column;
        if (SILU) {
          const float g = rnd(acc[c * R][m]), u = rnd(acc[c * R + R - 1][m]);
          st(y, at, rnd(g / (1.0f + expf(-g))) * u);
        } else if (RESIDUAL) {
          st(y, at, ld(y, at) + rnd(acc[c * R][m]));
        } else {
          st(y, at, acc[c * R][m]);
        }
      }
    }
  }
}

// out[r] = the first column of the largest value among columns [0, limit) of row r of logits
// [rows, columns]. grid: rows; block: 1024.
extern "C" __global__ void yr_argmax(const T* __restrict__ logits, int* __restrict__ out,
                                     int columns, int limit) {
  yr_dependent_prologue();
  __shared__ float s_best[32];
  __shared__ int s_index[32];
  const T* row = logits + (long long)blockIdx.x * columns;
  float best = -YR_INF;
  int index = 0x7fffffff;
  // 16-byte loads where rows are aligned to them, then the columns left one by one.
  const int vectors = columns % VEC == 0 ? limit / VEC : 0;
  for (int c = threadIdx.x; c < vectors; c += blockDim.x) {
    float f[VEC];
    unpack(*reinterpret_cast<const uint4*>(row + (long long)c * VEC), f);
#pragma unroll
    for (int j = 0; j < VEC; ++j) {
      if (f[j] > best) {
        best = f[j];
        index = c * VEC + j;
      }
    }
  }
  for (int i = vectors * VEC + threadIdx.x; i < limit; i += blockDim.x) {
    const float v = ld(row, i);
    if (v > best || (v == best && i < index)) {
      best = v;
      index = i;
    }
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  for (int o = 16; o > 0; o >>= 1) {
    const float other = __shfl_xor_sync(0xffffffffu, best, o);
    const int at = __shfl_xor_sync(0xffffffffu, index, o);
    if (other > best || (other == best && at < index)) {
      best = other;
      index = at;
    }
  }
  if (lane == 0) {
    s_best[warp] = best;
    s_index[warp] = index;
  }
  __syncthreads();
  if (warp == 0) {
    best = lane < warps ? s_best[lane] : -YR_INF;
    index = lane < warps ? s_index[lane] : 0x7fffffff;
    for (int o = 16; o > 0; o >>= 1) {
      const float other = __shfl_xor_sync(0xffffffffu, best, o);
      const int at = __shfl_xor_sync(0xffffffffu, index, o);
      if (other > best || (other == best && at < index)) {
        best = other;
        index = at;
      }
    }
    if (lane == 0) out[blockIdx.x] = index == 0x7fffffff ? 0 : index;
  }
}
)";

}  // namespace

CudaKernelShape CudaKernelShape::of(const Qwen3Config& config, core::DType dtype) {
  CudaKernelShape shape;
  shape.hidden = config.hidden_size;
  shape.heads = config.num_attention_heads;
  shape.kv_heads = config.num_key_value_heads;
  shape.head_dim = config.head_dim;
  shape.intermediate = config.intermediate_size;
  shape.eps = config.rms_norm_eps;
  shape.theta = config.rope_theta;
  shape.dtype = dtype;
  return shape;
}

int64_t CudaKernelShape::vector_elements() const {
  return 16 / static_cast<int64_t>(core::dtype_size(dtype));
}

int64_t CudaKernelShape::attention_shared_bytes() const {
  const int64_t group = heads / std::max<int64_t>(kv_heads, 1);
  return key_groups() * group * (head_dim + 2) * 4 + group * head_dim * 4;
}

std::string CudaKernelShape::unsupported_reason() const {
  std::ostringstream why;
  if (!core::dtype_is_float(dtype)) {
    why << "dtype " << core::dtype_name(dtype) << " is not float32, bfloat16 or float16";
  } else if (hidden < 1 || heads < 1 || kv_heads < 1 || intermediate < 1 || heads % kv_heads) {
    why << "sizes must be positive and heads a multiple of KV heads";
  } else if (head_dim % vector_elements() != 0 || head_dim > 1024) {
    why << "head_dim " << head_dim << " must be a multiple of " << vector_elements()
        << " and at most 1024";
  } else {
    const int64_t lanes = lanes_per_key();
    if (lanes > 32 || (lanes & (lanes - 1)) != 0) {
      why << "head_dim " << head_dim << " must be " << vector_elements()
          << " times a power of two up to 32";
    } else if (attention_shared_bytes() > 48 * 1024) {
      why << heads / kv_heads << " query heads per KV head of " << head_dim
          << " need more than 48 KiB of shared memory in the attention kernel";
    }
  }
  return why.str();
}

std::string qwen3_cuda_source(const CudaKernelShape& shape) {
  const std::string why = shape.unsupported_reason();
  YR_USER_CHECK(why.empty(), "the CUDA model kernels do not support this model: " << why);
  std::ostringstream entries;
  for (int64_t m = 1; m <= kGemvMaxRows; ++m) {
    for (const GemvKind kind : {GemvKind::Plain, GemvKind::Silu, GemvKind::Residual,
                                GemvKind::NormPlain, GemvKind::NormSilu}) {
      const bool norm = kind == GemvKind::NormPlain || kind == GemvKind::NormSilu;
      if (norm && m > kGemvNormMaxRows) continue;
      const bool silu = kind == GemvKind::Silu || kind == GemvKind::NormSilu;
      entries << "extern \"C\" __global__ void __launch_bounds__(256) " << gemv_entry(m, kind)
              << "(const T* __restrict__ w, const T* __restrict__ x, T* y, int n_out, int k, "
                 "const T* __restrict__ norm) {\n  yr_gemv_body<"
              << m << ", " << gemv_columns_per_warp(m) << ", " << (silu ? "true" : "false") << ", "
              << (norm ? "true" : "false") << ", "
              << (kind == GemvKind::Residual ? "true" : "false")
              << ">(w, x, y, n_out, k, norm);\n}\n";
    }
  }
  // Every entry point opens with this: the model launches them as programmatic dependents.
  const std::string prologue =
      std::string("__device__ __forceinline__ void yr_dependent_prologue() {\n") +
      cuda::dependent_prologue() + "}\n";
  return cuda::device_prelude() + constants(shape) + dtype_helpers(shape.dtype) + prologue +
         kKernels + entries.str();
}

RopeTables rope_tables(double theta, int64_t head_dim, int64_t positions) {
  const int64_t half = head_dim / 2;
  RopeTables tables;
  tables.cos.resize(static_cast<std::size_t>(positions * half));
  tables.sin.resize(tables.cos.size());
  std::vector<double> inverse(static_cast<std::size_t>(half));
  for (int64_t i = 0; i < half; ++i) {
    inverse[static_cast<std::size_t>(i)] =
        std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(head_dim));
  }
  for (int64_t p = 0; p < positions; ++p) {
    for (int64_t i = 0; i < half; ++i) {
      const double angle = static_cast<double>(p) * inverse[static_cast<std::size_t>(i)];
      tables.cos[static_cast<std::size_t>(p * half + i)] = static_cast<float>(std::cos(angle));
      tables.sin[static_cast<std::size_t>(p * half + i)] = static_cast<float>(std::sin(angle));
    }
  }
  return tables;
}

int64_t gemv_columns_per_warp(int64_t rows) {
  return rows <= 2 ? 1 : 2;
}

std::string gemv_entry(int64_t rows, GemvKind kind) {
  const bool norm = kind == GemvKind::NormPlain || kind == GemvKind::NormSilu;
  YR_INTERNAL_CHECK(rows >= 1 && rows <= (norm ? kGemvNormMaxRows : kGemvMaxRows),
                    "no GEMV kernel for " << rows << " rows");
  const char* name = "yr_gemv_";
  switch (kind) {
    case GemvKind::Plain:
      break;
    case GemvKind::Silu:
      name = "yr_gemv_silu_";
      break;
    case GemvKind::Residual:
      name = "yr_gemv_residual_";
      break;
    case GemvKind::NormPlain:
      name = "yr_gemv_norm_";
      break;
    case GemvKind::NormSilu:
      name = "yr_gemv_norm_silu_";
      break;
  }
  return name + std::to_string(rows);
}

}  // namespace yirage::llm
