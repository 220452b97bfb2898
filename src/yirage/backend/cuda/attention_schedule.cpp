#include "yirage/backend/cuda/attention_schedule.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "yirage/backend/cuda/attention_pattern.h"
#include "yirage/backend/cuda/dependent_launch.h"
#include "yirage/backend/cuda/device_code.h"
#include "yirage/core/error.h"

namespace yirage::backend::cuda {

namespace {

using core::DType;

constexpr int kWarps = 4;      // warps of a block (but for blocks of 128 query rows)
constexpr int kWideWarps = 8;  // warps of a block of 128 query rows
constexpr int kTuringShared = 65536;
constexpr int kCombineThreads = 256;
constexpr int kReservedShared = 1024;  // shared memory the device keeps per block
constexpr int kCombineSplits = 4;      // most splits a lane of the combine holds (32 lanes a row)

std::string num(int64_t value) {
  return std::to_string(value);
}

// Replaces every "$NAME" of `text` (NAME: capitals, digits and underscores) by its value.
std::string fill(const std::string& text,
                 const std::vector<std::pair<std::string, std::string>>& values) {
  std::string result;
  std::size_t at = 0;
  for (std::size_t found = text.find('$'); found != std::string::npos; found = text.find('$', at)) {
    result.append(text, at, found - at);
    std::size_t end = found + 1;
    while (end < text.size() &&
           (std::isupper(static_cast<unsigned char>(text[end])) ||
            std::isdigit(static_cast<unsigned char>(text[end])) || text[end] == '_'))
      ++end;
    const std::string name = text.substr(found + 1, end - found - 1);
    const auto value = std::find_if(values.begin(), values.end(),
                                    [&](const auto& entry) { return entry.first == name; });
    YR_INTERNAL_CHECK(value != values.end(), "attention schedule: no value for $" << name);
    result += value->second;
    at = end;
  }
  result.append(text, at, std::string::npos);
  return result;
}

// Device helpers of the schedule, guarded so that several kernels can share one source.
const std::string& helpers() {
  static const std::string text = R"(#ifndef YR_ATTENTION_HELPERS
#define YR_ATTENTION_HELPERS
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
#error "the attention schedule needs sm_80 or later: cp.async, mma.sync m16n8k16 on bf16 and f16"
#endif
      __device__ __forceinline__ unsigned
      ya_smem_addr(const void* p) {
    return static_cast<unsigned>(__cvta_generic_to_shared(p));
  }
  __device__ __forceinline__ void ya_cp_async16(unsigned dst, const void* src) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(dst), "l"(src) : "memory");
  }
  // The same with only `bytes` (0 or 16) read, the rest of the 16 zero-filled.
  __device__ __forceinline__ void ya_cp_async16_zfill(unsigned dst, const void* src,
                                                      unsigned bytes) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(bytes)
                 : "memory");
  }
  __device__ __forceinline__ void ya_cp_commit() {
    asm volatile("cp.async.commit_group;\n" ::: "memory");
  }
  template <int N>
  __device__ __forceinline__ void ya_cp_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
  }
  __device__ __forceinline__ void ya_ldsm_x4(unsigned addr, unsigned& r0, unsigned& r1,
                                             unsigned& r2, unsigned& r3) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
                 : "r"(addr)
                 : "memory");
  }
  __device__ __forceinline__ void ya_ldsm_x4_trans(unsigned addr, unsigned& r0, unsigned& r1,
                                                   unsigned& r2, unsigned& r3) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
                 : "r"(addr)
                 : "memory");
  }
  __device__ __forceinline__ void ya_mma_bf16(float* c, const unsigned* a, unsigned b0,
                                              unsigned b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
        "{%8, %9}, {%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
  __device__ __forceinline__ void ya_mma_f16(float* c, const unsigned* a, unsigned b0,
                                             unsigned b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
        "{%8, %9}, {%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
  // Two floats as one register of two bf16 (f16): `lo` in the low half.
  __device__ __forceinline__ unsigned ya_pack_bf16(float lo, float hi) {
    unsigned r;
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;\n" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
  }
  __device__ __forceinline__ unsigned ya_pack_f16(float lo, float hi) {
    unsigned r;
    asm("cvt.rn.f16x2.f32 %0, %1, %2;\n" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
  }
  __device__ __forceinline__ float ya_lo_bf16(unsigned w) {
    return __uint_as_float(w << 16);
  }
  __device__ __forceinline__ float ya_hi_bf16(unsigned w) {
    return __uint_as_float(w & 0xffff0000u);
  }
  __device__ __forceinline__ float ya_lo_f16(unsigned w) {
    return yr_f16_to_f32((unsigned short)(w & 0xffffu));
  }
  __device__ __forceinline__ float ya_hi_f16(unsigned w) {
    return yr_f16_to_f32((unsigned short)(w >> 16));
  }
  __device__ __forceinline__ float ya_exp2(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
    return y;
  }
#endif
)";
  return text;
}

std::string params(const ir::BlockGraph& graph) {
  std::string text;
  for (std::size_t k = 0; k < graph.inputs().size(); ++k) {
    text += "const " + storage_type(graph.inputs()[k].dtensor.dtype) + "* __restrict__ in" +
            num(static_cast<int64_t>(k)) + ", ";
  }
  for (std::size_t k = 0; k < graph.outputs().size(); ++k) {
    text += storage_type(graph.outputs()[k].dtensor.dtype) + "* __restrict__ out" +
            num(static_cast<int64_t>(k)) + ", ";
  }
  return text + "float* __restrict__ scratch";
}

// How the loop kernel divides a block's work.
struct Plan {
  int row_warps = 1;  // warps along query rows (16 rows each)
  int kv_warps = 1;   // warps splitting each KV tile
  int tile = 64;      // KV rows per pipeline stage
  int stages = 3;     // pipeline depth
  int buffers = 3;    // stage buffers in shared memory (fewer when the range has fewer tiles)
  int64_t row_blocks = 1;
  int shared = 0;      // bytes of dynamic shared memory
  int min_blocks = 1;  // blocks per SM the registers must leave room for (launch bounds)
};

// Whether the K rows' rms_norm factors are computed once per tile by all warps together and
// shared through shared memory (several row warps would each compute all of them otherwise).
bool shared_k_factors(const AttentionPattern& p, const Plan& plan) {
  return p.k_gain >= 0 && !p.k_transposed && plan.kv_warps == 1 && plan.row_warps > 1;
}

std::optional<Plan> plan_attention(const AttentionPattern& p, int shared_limit,
                                   const AttentionOptions& options) {
  // Head dims a multiple of 8 (16-byte rows), padded with zeros to a multiple of 16 in
  // shared memory (the mma's k and the ldmatrix pairs).
  if (p.head_dim % 8 != 0 || p.head_dim > 128) return std::nullopt;
  if (p.k_transposed && p.kv_block % 8 != 0) return std::nullopt;  // 16-byte runs of KV
  const int64_t d = (p.head_dim + 15) / 16 * 16;
  Plan plan;
  const int64_t row_tiles = (p.rows + 15) / 16;
  plan.row_warps = row_tiles >= 4 ? 4 : (row_tiles >= 2 ? 2 : 1);
  // 128 rows a block (8 warps) where the grid still has blocks enough: each K/V tile loaded
  // into shared memory once for twice the rows (half the L2 traffic).
  if (row_tiles >= kWideWarps &&
      p.heads * p.splits * ((row_tiles + kWideWarps - 1) / kWideWarps) >= options.wide_min_blocks)
    plan.row_warps = kWideWarps;
  plan.row_blocks = (row_tiles + plan.row_warps - 1) / plan.row_warps;
  bool found = false;
  for (int kv_warps = std::max(1, kWarps / plan.row_warps); kv_warps >= 1 && !found; --kv_warps) {
    for (int tile : {64, 48, 32, 16}) {
      if (p.kv_block % tile == 0 && tile % (16 * kv_warps) == 0) {
        plan.kv_warps = kv_warps;
        plan.tile = tile;
        found = true;
        break;
      }
    }
  }
  if (!found) {
    // A KV range that is no multiple of 16: tiles of 64, the rows past the range masked.
    plan.kv_warps = std::max(1, kWarps / plan.row_warps);
    plan.tile = 64;
  }
  const int64_t tiles = (p.kv_block + plan.tile - 1) / plan.tile;
  const int64_t block_rows = 16 * plan.row_warps;
  // Warps that split the KV tiles merge through shared memory; a warp alone stores from its
  // registers.
  const int64_t merge_bytes = plan.kv_warps > 1 ? plan.kv_warps * block_rows * (d + 6) * 4 : 0;
  // Three stages (two tiles in flight while one is used) where there are two tiles or more;
  // buffers only for the stages a short range uses.
  for (int stages : {3, 2}) {
    if (stages == 3 && tiles < 2) continue;
    const int64_t buffers = std::min<int64_t>(stages, tiles);
    const int64_t stage_bytes = 2 * plan.tile * d * 2;
    const int64_t factor_bytes = shared_k_factors(p, plan) ? plan.tile * 4 : 0;
    const int64_t bytes = std::max(buffers * stage_bytes + factor_bytes, merge_bytes);
    if (bytes <= shared_limit) {
      plan.stages = stages;
      plan.buffers = static_cast<int>(buffers);
      plan.shared = static_cast<int>(bytes);
      // Four blocks per SM (128 registers a thread) where shared memory allows as many and the
      // accumulators, query fragments and scores of a thread leave room (or one tile keeps
      // nothing across iterations), so that grids of up to four blocks per SM run in one wave;
      // else no register bound.
      const int64_t fit = (shared_limit + kReservedShared) / (bytes + kReservedShared);
      // (Blocks of 8 warps: two; grids of two blocks a SM or fewer: two, no register bound.)
      const int64_t fragments = d / 8 * 4 + d / 16 * 4 + plan.tile / plan.kv_warps / 8 * 4;
      const int64_t blocks = p.heads * p.splits * plan.row_blocks;
      const int target = plan.row_warps * plan.kv_warps >= 8 || blocks <= 2 * options.sms ? 2 : 4;
      plan.min_blocks = fit >= target && (fragments <= 96 || tiles == 1) ? target : 1;
      return plan;
    }
  }
  return std::nullopt;
}

std::string lnum(int64_t value) {
  return std::to_string(value) + "LL";
}

// The loop kernel, one block per (head, split, 16 * row_warps query rows).
BlockKernel attention_kernel(const ir::BlockGraph& graph, const AttentionPattern& p,
                             const Plan& plan) {
  const bool bf16 = p.dtype == DType::BF16;
  const std::string half = bf16 ? "bf16" : "f16";
  const int64_t d = p.head_dim, padded = (d + 15) / 16 * 16;
  const bool masked = p.kv_block % plan.tile != 0;
  const bool fold = p.scale > 0.0;
  // The K rows' rms_norm factors of the tile, computed once: LPR lanes per row (a 16-byte
  // chunk each), the warps taking turns over the rows.
  std::string k_factor_pass;
  if (shared_k_factors(p, plan)) {
    int64_t lanes = 1;
    while (lanes < padded / 8) lanes *= 2;
    k_factor_pass = fill(R"(    {
      constexpr int LPR = $LPR, RPP = 32 / LPR;
      const int sub = lane / LPR, c = lane % LPR;
      const unsigned short* kt = Ks + stage * BN * DK;
      for (int first = warp * RPP; first < BN; first += (NT / 32) * RPP) {
        const int r = first + sub;
        float squares = 0.0f;
        if (r < BN && c < DK / 8) {
          const uint4 u = *reinterpret_cast<const uint4*>(kt + r * DK + ((c ^ (r & SWZ)) << 3));
          const unsigned word[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
          for (int i = 0; i < 4; ++i) {
            const float lo = ya_lo_$HALF(word[i]), hi = ya_hi_$HALF(word[i]);
            squares += lo * lo + hi * hi;
          }
        }
#pragma unroll
        for (int x = LPR / 2; x > 0; x >>= 1) squares += __shfl_xor_sync(0xffffffffu, squares, x);
        if (c == 0 && r < BN) Kf[r] = rsqrtf(squares / $DF + $KEPS);
      }
    }
)",
                         {{"LPR", num(lanes)},
                          {"HALF", half},
                          {"DF", float_literal(static_cast<double>(d))},
                          {"KEPS", float_literal(p.k_eps)}});
  }
  const std::string scale2 = float_literal(p.scale / std::log(2.0));
  std::string exps;
  for (int i = 0; i < 4; ++i) {
    const std::string entry = "sc[n][" + num(i) + "]", base = i < 2 ? "b0" : "b1";
    exps += "      " + entry + " = ya_exp2(" +
            (fold ? "fmaf(" + entry + ", " + scale2 + ", -" + base + ")" : entry + " - " + base) +
            ");\n";
  }
  exps.pop_back();
  const int threads = 32 * plan.row_warps * plan.kv_warps;
  const int64_t chunks = padded / 8;
  const int swizzle = chunks % 8 == 0 ? 7 : (chunks % 4 == 0 ? 3 : 1);
  const std::string in = "in";
  // K and V copies: rows of D (16-byte chunks c of row r at chunk c ^ (r & SWZ)); K stored as
  // [H, D, N] copies D rows of BN KV entries instead (chunk c of row d at c ^ (d & SWZK)).
  const int64_t k_chunks = plan.tile / 8;
  const int k_swizzle = k_chunks % 8 == 0 ? 7 : (k_chunks % 4 == 0 ? 3 : 1);
  auto copy = [&](const std::string& dst, const std::string& src, const std::string& base,
                  const std::string& live) {
    return masked ? "        ya_cp_async16_zfill(" + dst + ", " + live + " ? " + src + " : " +
                        base + ", " + live + " ? 16u : 0u);\n"
                  : "        ya_cp_async16(" + dst + ", " + src + ");\n";
  };
  std::string load_kv = masked ? "        const bool live = tile * BN + r < KV;\n" : "";
  if (!p.k_transposed) load_kv += copy("kd + at", "ks + r * D + c * 8", "k", "live");
  load_kv += copy("vd + at", "vs + r * D + c * 8", "v", "live");
  std::string load_kt;
  if (p.k_transposed) {
    load_kt =
        "#pragma unroll\n"
        "    for (int j = 0; j < (D * (BN / 8) + NT - 1) / NT; ++j) {\n"
        "      const int i = tid + j * NT;\n"
        "      if (D * (BN / 8) % NT == 0 || i < D * (BN / 8)) {\n"
        "        const int d = i / (BN / 8), c = i % (BN / 8);\n"
        "        const unsigned at = (unsigned)(d * BN + ((c ^ (d & SWZK)) << 3)) * 2u;\n" +
        std::string(masked ? "        const bool live = tile * BN + c * 8 < KV;\n" : "") +
        copy("kd + at", "k + (long long)d * " + lnum(p.kv_len) + " + tile * BN + c * 8", "k",
             "live") +
        "      }\n    }";
  }
  std::string padding;
  if (padded != d && !p.k_transposed) {
    padding =
        "  // The padding chunk of every K and V row stays zero.\n"
        "  for (int r = tid; r < 2 * NB * BN; r += NT)\n"
        "    *reinterpret_cast<uint4*>(Ks + r * DK + ((DC ^ (r & SWZ)) << 3)) = uint4{0u, 0u, 0u, "
        "0u};";
  } else if (padded != d) {
    padding =
        "  // The padding chunk of every V row and the padding rows of K stay zero.\n"
        "  for (int r = tid; r < NB * BN; r += NT)\n"
        "    *reinterpret_cast<uint4*>(Vs + r * DK + ((DC ^ (r & SWZ)) << 3)) = uint4{0u, 0u, 0u, "
        "0u};\n"
        "  for (int i = tid; i < NB * (DK - D) * (BN / 8); i += NT) {\n"
        "    const int b = i / ((DK - D) * (BN / 8)), rest = i % ((DK - D) * (BN / 8));\n"
        "    *reinterpret_cast<uint4*>(Ks + b * BN * DK + (D + rest / (BN / 8)) * BN +\n"
        "                              rest % (BN / 8) * 8) = uint4{0u, 0u, 0u, 0u};\n"
        "  }";
  }
  // The query's rms_norm gain and the K gain (it multiplies the contracted dim: folded into
  // the query), per column of the fragments.
  std::string gain_expression;
  for (int gain : {p.q_gain, p.k_gain}) {
    if (gain < 0) continue;
    const std::string load =
        "yr_load_" + dtype_tag(graph.inputs()[static_cast<std::size_t>(gain)].dtensor.dtype) +
        "(in" + num(gain) + ", col + h)";
    gain_expression = gain_expression.empty() ? load : gain_expression + " * " + load;
  }
  std::string qfrag;
  if (!gain_expression.empty()) {
    qfrag =
        "    // Rounded to $HALF after the rms_norm: (x * rms factor of its row) * gains.\n"
        "    float gains[DK / 16][2][2];\n"
        "#pragma unroll\n"
        "    for (int kk = 0; kk < DK / 16; ++kk) {\n"
        "#pragma unroll\n"
        "      for (int c = 0; c < 2; ++c) {\n"
        "        const int col = 16 * kk + 2 * t4 + 8 * c;\n"
        "#pragma unroll\n"
        "        for (int h = 0; h < 2; ++h) gains[kk][c][h] = col < D ? " +
        gain_expression +
        " : 0.0f;\n"
        "      }\n"
        "    }\n";
    if (p.q_gain >= 0) {
      // Row g's entries are words 0 and 2 of every kk, row g + 8's words 1 and 3; the quad's
      // four lanes together hold the whole rows.
      qfrag +=
          "    float sa = 0.0f, sb = 0.0f;\n"
          "#pragma unroll\n"
          "    for (int kk = 0; kk < DK / 16; ++kk) {\n"
          "#pragma unroll\n"
          "      for (int i = 0; i < 4; ++i) {\n"
          "        const float lo = ya_lo_$HALF(qa[kk][i]), hi = ya_hi_$HALF(qa[kk][i]);\n"
          "        if (i & 1)\n"
          "          sb += lo * lo + hi * hi;\n"
          "        else\n"
          "          sa += lo * lo + hi * hi;\n"
          "      }\n"
          "    }\n"
          "    sa += __shfl_xor_sync(0xffffffffu, sa, 1);\n"
          "    sa += __shfl_xor_sync(0xffffffffu, sa, 2);\n"
          "    sb += __shfl_xor_sync(0xffffffffu, sb, 1);\n"
          "    sb += __shfl_xor_sync(0xffffffffu, sb, 2);\n"
          "    const float qn[2] = {rsqrtf(sa / " +
          float_literal(static_cast<double>(d)) + " + " + float_literal(p.q_eps) +
          "), rsqrtf(sb / " + float_literal(static_cast<double>(d)) + " + " +
          float_literal(p.q_eps) + ")};\n";
    } else {
      qfrag += "    const float qn[2] = {1.0f, 1.0f};\n";
    }
    qfrag +=
        "#pragma unroll\n"
        "    for (int kk = 0; kk < DK / 16; ++kk) {\n"
        "#pragma unroll\n"
        "      for (int i = 0; i < 4; ++i) {\n"
        "        const float f = qn[i & 1];\n"
        "        const float* gn = gains[kk][i >> 1];\n"
        "        qa[kk][i] = ya_pack_$HALF(ya_lo_$HALF(qa[kk][i]) * f * gn[0],\n"
        "                                 ya_hi_$HALF(qa[kk][i]) * f * gn[1]);\n"
        "      }\n"
        "    }\n";
  }
  std::vector<std::pair<std::string, std::string>> values = {
      {"THREADS", num(threads)},
      {"HD", num(d)},
      {"HK", num(padded)},
      {"PADDING", padding},
      {"BN", num(plan.tile)},
      {"STAGES", num(plan.stages)},
      {"BUFFERS", num(plan.buffers)},
      {"ROWW", num(plan.row_warps)},
      {"KVW", num(plan.kv_warps)},
      {"ROWS", num(p.rows)},
      {"TILES", num((p.kv_block + plan.tile - 1) / plan.tile)},
      {"KV", num(p.kv_block)},
      {"LOADKV", load_kv},
      {"LOADKT", load_kt},
      {"KROW", p.k_transposed
                   ? "      const int r = (lane & 7) + (((lane >> 3) & 1) << 3);  // d - 16 kk\n"
                     "      const int kc = (wk * WN + 16 * j) / 8 + (lane >> 4);"
                   : "      const int r = wk * WN + 16 * j + (lane & 7) + ((lane >> 4) << 3);"},
      {"KFRAG", p.k_transposed ? "        const int d = 16 * kk + r;\n"
                                 "        ya_ldsm_x4_trans(kb + (unsigned)(d * BN + ((kc ^ (d & "
                                 "SWZK)) << 3)) * 2u, b0, "
                                 "b1, b2, b3);"
                               : "        const int c = 2 * kk + ((lane >> 3) & 1);\n"
                                 "        ya_ldsm_x4(kb + (unsigned)(r * DK + ((c ^ (r & SWZ)) << "
                                 "3)) * 2u, b0, b1, b2, "
                                 "b3);"},
      {"SWZK", num(k_swizzle)},
      {"MASK", masked ? "\n        if (tile * BN + wk * WN + 8 * n + 2 * t4 + (i & 1) >= KV) "
                        "sc[n][i] = -YR_INF;"
                      : ""},
      // Rows with every score so far masked have a max of -inf: exponents taken against 0.
      {"BASES",
       masked
           ? "    const float b0 = mx0 == -YR_INF ? 0.0f : mx0, b1 = mx1 == -YR_INF ? 0.0f : mx1;"
           : "    const float b0 = mx0, b1 = mx1;"},
      {"SWZ", num(swizzle)},
      // A positive scale commutes with the max: the scores stay unscaled, the scale folded
      // into the exponent's fused multiply-add (and into the tile max, once per row).
      {"MAX0", fold ? "-YR_INF" : "mrow[0]"},
      {"MAX1", fold ? "-YR_INF" : "mrow[1]"},
      {"SCALING", fold ? "" : "sc[n][i] *= " + scale2 + ";"},
      {"FOLDMAX", fold ? "\n    mx0 = fmaxf(mrow[0], mx0 * " + scale2 +
                             ");\n"
                             "    mx1 = fmaxf(mrow[1], mx1 * " +
                             scale2 + ");"
                       : ""},
      {"EXPS", exps},
      {"KFACTORS", k_factor_pass},
      {"KFPTR", k_factor_pass.empty()
                    ? ""
                    : "\n  float* Kf = reinterpret_cast<float*>(Vs + NB * BN * DK);  // K rows' "
                      "rms_norm factors"},
      {"HALF", half},
      {"QFRAG", fill(qfrag, {{"HALF", half}})},
      {"QP", in + num(p.q)},
      {"KP", in + num(p.k)},
      {"VP", in + num(p.v)},
      {"QX", lnum(p.q_at.x)},
      {"QY", lnum(p.q_at.y)},
      {"KX", lnum(p.k_at.x)},
      {"KY", lnum(p.k_at.y)},
      {"VX", lnum(p.v_at.x)},
      {"VY", lnum(p.v_at.y)},
  };
  std::string text = device_prelude() + helpers();
  text += "extern \"C\" __global__ void __launch_bounds__(" + num(threads) + ", " +
          num(plan.min_blocks) + ") yr_kernel(" + params(graph) + ") {\n";
  text += dependent_prologue();
  text += fill(
      R"(  // attention schedule: flash loop ($STAGES-stage cp.async, ldmatrix, mma.sync m16n8k16 $HALF)
  // D: head dim (row length in global memory); DK: rows in shared memory, zero-padded to 16.
  constexpr int D = $HD, DK = $HK, DC = D / 8, BN = $BN, NS = $STAGES, NB = $BUFFERS;
  constexpr int WR = $ROWW, WK = $KVW;
  constexpr int WN = BN / WK, BM = 16 * WR, M = $ROWS, TILES = $TILES, NT = $THREADS, SWZ = $SWZ;
  constexpr int KV = $KV;  // KV rows of the block: TILES tiles of BN, the last masked past KV
  constexpr int SWZK = $SWZK;  // K stored as [H, D, N]: the swizzle of its D rows of BN
  (void)KV;
  (void)SWZK;
  extern __shared__ float4 yr_smem[];
  unsigned short* Ks = reinterpret_cast<unsigned short*>(yr_smem);
  unsigned short* Vs = Ks + NB * BN * DK;$KFPTR
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int wr = warp / WK, wk = warp % WK, g = lane >> 2, t4 = lane & 3;
  const int row0 = blockIdx.z * BM;
  const unsigned short* q = $QP + (long long)blockIdx.x * $QX + (long long)blockIdx.y * $QY;
  const unsigned short* k = $KP + (long long)blockIdx.x * $KX + (long long)blockIdx.y * $KY;
  const unsigned short* v = $VP + (long long)blockIdx.x * $VX + (long long)blockIdx.y * $VY;
  // K and V rows [tile * BN, tile * BN + BN) into stage `stage`: 16-byte chunks, chunk c of
  // row r stored at chunk c ^ (r & SWZ).
  auto load_tile = [&](int tile, int stage) {
    const unsigned short* ks = k + (long long)tile * BN * D;
    const unsigned short* vs = v + (long long)tile * BN * D;
    (void)ks;
    const unsigned kd = ya_smem_addr(Ks + stage * BN * DK);
    const unsigned vd = ya_smem_addr(Vs + stage * BN * DK);
#pragma unroll
    for (int j = 0; j < (BN * DC + NT - 1) / NT; ++j) {
      const int i = tid + j * NT;
      if (BN * DC % NT == 0 || i < BN * DC) {
        const int r = i / DC, c = i % DC;
        const unsigned at = (unsigned)(r * DK + ((c ^ (r & SWZ)) << 3)) * 2u;
$LOADKV      }
    }
$LOADKT
  };
#pragma unroll
  for (int s = 0; s < NS - 1; ++s) {
    if (s < TILES) load_tile(s, s);
    ya_cp_commit();
  }
$PADDING
  // The query rows straight into mma A fragments (this lane: rows g and g + 8 of the warp's
  // 16, columns 16 kk + 2 t4 (+1) and + 8), zero past the rows and the head dim; normalised
  // and rounded to $HALF. Every load is issued before any is used: one memory latency.
  unsigned qa[DK / 16][4];
  {
    const int ra = row0 + 16 * wr + g, rb = ra + 8;
#pragma unroll
    for (int kk = 0; kk < DK / 16; ++kk) {
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int row = (i & 1) ? rb : ra, col = 16 * kk + 2 * t4 + ((i >> 1) << 3);
        qa[kk][i] = (row < M && col < D)
                        ? *reinterpret_cast<const unsigned*>(q + (long long)row * D + col)
                        : 0u;
      }
    }
$QFRAG
  }
  float o[DK / 8][4];
#pragma unroll
  for (int n = 0; n < DK / 8; ++n) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;
  float mrow[2] = {-YR_INF, -YR_INF}, lrow[2] = {0.0f, 0.0f};
  for (int tile = 0; tile < TILES; ++tile) {
    ya_cp_wait<NS - 2>();
    __syncthreads();
    if (tile + NS - 1 < TILES) load_tile(tile + NS - 1, (tile + NS - 1) % NS);
    ya_cp_commit();
    const int stage = tile % NS;
    const unsigned kb = ya_smem_addr(Ks + stage * BN * DK);
    const unsigned vb = ya_smem_addr(Vs + stage * BN * DK);
$KFACTORS    // S = Q K^T over this warp's WN rows of the tile.
    float sc[WN / 8][4];
#pragma unroll
    for (int n = 0; n < WN / 8; ++n) sc[n][0] = sc[n][1] = sc[n][2] = sc[n][3] = 0.0f;
#pragma unroll
    for (int j = 0; j < WN / 16; ++j) {
$KROW
)",
      values);
  const bool k_factors = shared_k_factors(p, plan);
  if (p.k_gain >= 0 && !k_factors) text += "      float ka = 0.0f, kb2 = 0.0f;\n";
  text += fill(R"(#pragma unroll
      for (int kk = 0; kk < DK / 16; ++kk) {
        unsigned b0, b1, b2, b3;
$KFRAG
        ya_mma_$HALF(sc[2 * j], qa[kk], b0, b1);
        ya_mma_$HALF(sc[2 * j + 1], qa[kk], b2, b3);
)",
               values);
  if (p.k_gain >= 0 && !k_factors) {
    // Row sums of squares of K, for the rms_norm of its rows: this lane holds K row
    // 16j + g (b0, b1) and 16j + 8 + g (b2, b3); the quad together holds the whole row.
    text += fill(
        R"(        ka += ya_lo_$HALF(b0) * ya_lo_$HALF(b0) + ya_hi_$HALF(b0) * ya_hi_$HALF(b0) +
              ya_lo_$HALF(b1) * ya_lo_$HALF(b1) + ya_hi_$HALF(b1) * ya_hi_$HALF(b1);
        kb2 += ya_lo_$HALF(b2) * ya_lo_$HALF(b2) + ya_hi_$HALF(b2) * ya_hi_$HALF(b2) +
               ya_lo_$HALF(b3) * ya_lo_$HALF(b3) + ya_hi_$HALF(b3) * ya_hi_$HALF(b3);
)",
        values);
  }
  text += "      }\n";
  if (p.k_gain >= 0 && !k_factors) {
    // Column n of the S tile is K row n: its factor comes from lane 4 n of the quad layout.
    text += fill(R"(      ka += __shfl_xor_sync(0xffffffffu, ka, 1);
      ka += __shfl_xor_sync(0xffffffffu, ka, 2);
      kb2 += __shfl_xor_sync(0xffffffffu, kb2, 1);
      kb2 += __shfl_xor_sync(0xffffffffu, kb2, 2);
      const float ra = rsqrtf(ka / $DF + $KEPS), rb = rsqrtf(kb2 / $DF + $KEPS);
      const float f0 = __shfl_sync(0xffffffffu, ra, 8 * t4);
      const float f1 = __shfl_sync(0xffffffffu, ra, 8 * t4 + 4);
      const float f2 = __shfl_sync(0xffffffffu, rb, 8 * t4);
      const float f3 = __shfl_sync(0xffffffffu, rb, 8 * t4 + 4);
      sc[2 * j][0] *= f0;
      sc[2 * j][1] *= f1;
      sc[2 * j][2] *= f0;
      sc[2 * j][3] *= f1;
      sc[2 * j + 1][0] *= f2;
      sc[2 * j + 1][1] *= f3;
      sc[2 * j + 1][2] *= f2;
      sc[2 * j + 1][3] *= f3;
)",
                 {{"DF", float_literal(static_cast<double>(d))}, {"KEPS", float_literal(p.k_eps)}});
  }
  text += "    }\n";
  if (k_factors) {
    // Every warp's factors are in shared memory once all have passed this barrier; the next
    // tile's are written only after every warp has passed the next tile's barrier.
    text +=
        "    __syncthreads();\n"
        "#pragma unroll\n"
        "    for (int n = 0; n < WN / 8; ++n) {\n"
        "      const float2 f = *reinterpret_cast<const float2*>(Kf + wk * WN + 8 * n + 2 * t4);\n"
        "      sc[n][0] *= f.x;\n"
        "      sc[n][1] *= f.y;\n"
        "      sc[n][2] *= f.x;\n"
        "      sc[n][3] *= f.y;\n"
        "    }\n";
  }
  text += fill(
      R"(    // Online softmax in the log2 domain: rows g (entries 0, 1) and g + 8 (entries 2, 3).
    float mx0 = $MAX0, mx1 = $MAX1;
#pragma unroll
    for (int n = 0; n < WN / 8; ++n) {
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        $SCALING$MASK
      }
      mx0 = fmaxf(mx0, fmaxf(sc[n][0], sc[n][1]));
      mx1 = fmaxf(mx1, fmaxf(sc[n][2], sc[n][3]));
    }
    mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
    mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
    mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
    mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));$FOLDMAX
$BASES
    const float a0 = ya_exp2(mrow[0] - b0), a1 = ya_exp2(mrow[1] - b1);
    mrow[0] = mx0;
    mrow[1] = mx1;
    float l0 = 0.0f, l1 = 0.0f;
#pragma unroll
    for (int n = 0; n < WN / 8; ++n) {
$EXPS
      l0 += sc[n][0] + sc[n][1];
      l1 += sc[n][2] + sc[n][3];
    }
    lrow[0] = lrow[0] * a0 + l0;
    lrow[1] = lrow[1] * a1 + l1;
#pragma unroll
    for (int n = 0; n < DK / 8; ++n) {
      o[n][0] *= a0;
      o[n][1] *= a0;
      o[n][2] *= a1;
      o[n][3] *= a1;
    }
    // O += P V: P from the S registers, V through transposing ldmatrix.
#pragma unroll
    for (int kj = 0; kj < WN / 16; ++kj) {
      const unsigned pa[4] = {ya_pack_$HALF(sc[2 * kj][0], sc[2 * kj][1]),
                              ya_pack_$HALF(sc[2 * kj][2], sc[2 * kj][3]),
                              ya_pack_$HALF(sc[2 * kj + 1][0], sc[2 * kj + 1][1]),
                              ya_pack_$HALF(sc[2 * kj + 1][2], sc[2 * kj + 1][3])};
      const int r = wk * WN + 16 * kj + (lane & 7) + (((lane >> 3) & 1) << 3);
#pragma unroll
      for (int jd = 0; jd < DK / 16; ++jd) {
        const int c = 2 * jd + (lane >> 4);
        unsigned b0, b1, b2, b3;
        ya_ldsm_x4_trans(vb + (unsigned)(r * DK + ((c ^ (r & SWZ)) << 3)) * 2u, b0, b1, b2,
                         b3);
        ya_mma_$HALF(o[2 * jd], pa, b0, b1);
        ya_mma_$HALF(o[2 * jd + 1], pa, b2, b3);
      }
    }
  }
  ya_cp_wait<0>();
  lrow[0] += __shfl_xor_sync(0xffffffffu, lrow[0], 1);
  lrow[0] += __shfl_xor_sync(0xffffffffu, lrow[0], 2);
  lrow[1] += __shfl_xor_sync(0xffffffffu, lrow[1], 1);
  lrow[1] += __shfl_xor_sync(0xffffffffu, lrow[1], 2);
)",
      values);
  const auto& outs = graph.outputs();
  auto base = [&](int index) {
    const BlockOffsets& at = p.out_at[static_cast<std::size_t>(index)];
    return "(long long)blockIdx.x * " + lnum(at.x) + " + (long long)blockIdx.y * " + lnum(at.y);
  };
  auto store = [&](int index, const std::string& offset, const std::string& value) {
    const DType type = outs[static_cast<std::size_t>(index)].dtensor.dtype;
    return "    yr_store_" + dtype_tag(type) + "(out" + num(index) + ", " + base(index) + " + " +
           offset + ", " + value + ");\n";
  };
  // The max is stored in its dtype; O and L are rescaled to the stored (rounded) max, so that
  // the combine's weights exp(X_s - max X) are exact for what this block summed.
  std::string fix;
  if (p.partial) {
    const DType x_type = outs[static_cast<std::size_t>(p.out_x)].dtensor.dtype;
    const std::string natural = "mx * " + float_literal(std::log(2.0));
    std::string rounded = "xn";
    if (x_type == DType::BF16) rounded = "yr_bf16_to_f32(yr_f32_to_bf16(xn))";
    if (x_type == DType::F16) rounded = "yr_f16_to_f32(yr_f32_to_f16(xn))";
    fix = "    const float xn = " + natural + ", xr = " + rounded + ", fix = expf(xn - xr);\n";
  }
  if (plan.kv_warps == 1) {
    // One warp per 16 rows: O (and L, X) stored from the registers, two entries at a time.
    const BlockOffsets& at = p.out_at[static_cast<std::size_t>(p.out_o)];
    const DType o_type = outs[static_cast<std::size_t>(p.out_o)].dtensor.dtype;
    const std::string o_at = base(p.out_o) + " + (long long)row * D + d";
    std::string pair;
    if (at.x % 2 == 0 && at.y % 2 == 0 && (o_type == DType::BF16 || o_type == DType::F16)) {
      pair = "          *reinterpret_cast<unsigned*>(out" + num(p.out_o) + " + " + o_at +
             ") = ya_pack_" + dtype_tag(o_type) + "(o[n][2 * h] * f, o[n][2 * h + 1] * f);\n";
    } else if (at.x % 2 == 0 && at.y % 2 == 0 && o_type == DType::F32) {
      pair = "          *reinterpret_cast<float2*>(out" + num(p.out_o) + " + " + o_at +
             ") = make_float2(o[n][2 * h] * f, o[n][2 * h + 1] * f);\n";
    } else {
      pair = "      " + store(p.out_o, "(long long)row * D + d", "o[n][2 * h] * f") + "      " +
             store(p.out_o, "(long long)row * D + d + 1", "o[n][2 * h + 1] * f");
    }
    text += R"(#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const int row = row0 + 16 * wr + g + 8 * h;
    if (row >= M) continue;
    const float mx = mrow[h], sum = lrow[h];
    (void)mx;
)";
    text += p.partial ? fix + "    const float f = fix;\n" : "    const float f = 1.0f / sum;\n";
    text += R"(#pragma unroll
    for (int n = 0; n < DK / 8; ++n) {
      const int d = 8 * n + 2 * t4;
      if (8 * n < D) {
)" + pair + "      }\n    }\n";
    if (p.partial) {
      text += "    if (t4 == 0) {\n  " + store(p.out_l, "row", "sum * fix") + "  " +
              store(p.out_x, "row", "xr") + "    }\n";
    }
    text += "  }\n}\n";
  } else {
    text += fill(R"(  __syncthreads();
  // Every warp's (max, sum, O) into shared memory (over the K/V stages), merged per row.
  constexpr int DP = DK + 4;
  float* Fo = reinterpret_cast<float*>(Ks);
  float* Fm = Fo + WK * BM * DP;
  float* Fl = Fm + WK * BM;
  {
    const int r = 16 * wr + g;
    float* fo = Fo + (wk * BM + r) * DP + 2 * t4;
#pragma unroll
    for (int n = 0; n < DK / 8; ++n) {
      fo[8 * n] = o[n][0];
      fo[8 * n + 1] = o[n][1];
      fo[8 * DP + 8 * n] = o[n][2];
      fo[8 * DP + 8 * n + 1] = o[n][3];
    }
    if (t4 == 0) {
      Fm[wk * BM + r] = mrow[0];
      Fm[wk * BM + r + 8] = mrow[1];
      Fl[wk * BM + r] = lrow[0];
      Fl[wk * BM + r + 8] = lrow[1];
    }
  }
  __syncthreads();
  for (int e = tid; e < BM * D; e += NT) {
    const int r = e / D, d = e % D, row = row0 + r;
    if (row >= M) break;
    float mx = -YR_INF;
#pragma unroll
    for (int w = 0; w < WK; ++w) mx = fmaxf(mx, Fm[w * BM + r]);
    float acc = 0.0f, sum = 0.0f;
#pragma unroll
    for (int w = 0; w < WK; ++w) {
      const float f = ya_exp2(Fm[w * BM + r] - mx);
      acc += f * Fo[(w * BM + r) * DP + d];
      sum += f * Fl[w * BM + r];
    }
)",
                 values);
    if (!p.partial) {
      text += store(p.out_o, "(long long)row * D + d", "acc / sum");
    } else {
      text += fix;
      text += store(p.out_o, "(long long)row * D + d", "acc * fix");
      text += "    if (d == 0) {\n  ";
      text += store(p.out_l, "row", "sum * fix");
      text += "  ";
      text += store(p.out_x, "row", "xr");
      text += "    }\n";
    }
    text += "  }\n}\n";
  }

  BlockKernel result;
  result.kernel.source = std::move(text);
  result.kernel.grid = {static_cast<unsigned>(graph.grid_dims()[0]),
                        static_cast<unsigned>(graph.grid_dims()[1]),
                        static_cast<unsigned>(plan.row_blocks)};
  result.kernel.block = {static_cast<unsigned>(threads), 1, 1};
  result.kernel.shared_bytes = plan.shared;
  result.kernel.dependent = true;
  return result;
}

// The combine kernel: a group of G lanes per (head, row, chunk of V entries), lanes over splits.
BlockKernel combine_kernel(const ir::BlockGraph& graph, const CombinePattern& p) {
  int64_t vector = 1;
  if ((p.o_type == DType::BF16 || p.o_type == DType::F16) && p.width % 8 == 0) vector = 8;
  if (p.o_type == DType::F32 && p.width % 4 == 0) vector = 4;
  // The fewest lanes (a power of two) that hold every split at kCombineSplits a lane: few
  // shuffles, each lane's loads in flight together.
  int64_t lanes = 1;
  while (lanes * kCombineSplits < p.splits && lanes < 32) lanes *= 2;
  const int64_t groups = p.heads * p.rows * (p.width / vector);
  const int64_t blocks = (groups * lanes + kCombineThreads - 1) / kCombineThreads;
  const std::string o = "in" + num(p.o), l = "in" + num(p.l), x = "in" + num(p.x);
  std::vector<std::pair<std::string, std::string>> values = {
      {"SPLITS", num(p.splits)},
      {"LANES", num(lanes)},
      {"VEC", num(vector)},
      {"ROWS", num(p.rows)},
      {"WIDTH", num(p.width)},
      {"GROUPS", lnum(groups)},
      {"THREADS", num(kCombineThreads)},
      {"LOADX", "yr_load_" + dtype_tag(p.x_type) + "(" + x + ", "},
      {"LOADL", "yr_load_" + dtype_tag(p.l_type) + "(" + l + ", "},
      {"STORE", "yr_store_" + dtype_tag(p.out_type) + "(out0, "},
  };
  std::string text = device_prelude();
  text += "extern \"C\" __global__ void __launch_bounds__(" + num(kCombineThreads) +
          ") yr_kernel(" + params(graph) + ") {\n";
  text += dependent_prologue();
  // Each lane's splits (at most kCombineSplits) are loaded, O, L and X together, before the
  // max over the splits is known: one memory latency.
  std::string load_o;
  if (vector == 8) {
    const std::string convert = p.o_type == DType::BF16 ? "yr_bf16_to_f32" : "yr_f16_to_f32";
    load_o = "      const uint4 u = *reinterpret_cast<const uint4*>(" + o + " + e);\n" +
             "      const unsigned word[4] = {u.x, u.y, u.z, u.w};\n" +
             "#pragma unroll\n      for (int i = 0; i < 4; ++i) {\n" +
             "        os[k][2 * i] = " + convert + "((unsigned short)(word[i] & 0xffffu));\n" +
             "        os[k][2 * i + 1] = " + convert + "((unsigned short)(word[i] >> 16));\n" +
             "      }";
  } else if (vector == 4) {
    load_o = "      const float4 u = *reinterpret_cast<const float4*>(" + o + " + e);\n" +
             "      os[k][0] = u.x;\n      os[k][1] = u.y;\n      os[k][2] = u.z;\n" +
             "      os[k][3] = u.w;";
  } else {
    load_o = "      os[k][0] = yr_load_" + dtype_tag(p.o_type) + "(" + o + ", e);";
  }
  values.push_back({"LOADO", load_o});
  text +=
      fill(R"(  // attention schedule: split-KV combine ($LANES lanes per chunk of $VEC, one pass)
  constexpr int S = $SPLITS, G = $LANES, V = $VEC, M = $ROWS, D = $WIDTH, SPL = (S + G - 1) / G;
  const long long id = (long long)blockIdx.x * $THREADS + threadIdx.x;
  const long long group = id / G;
  const int s0 = (int)(id % G);
  const bool valid = group < $GROUPS;
  const long long at = valid ? group : 0;
  const int c = (int)(at % (D / V));
  const int r = (int)((at / (D / V)) % M);
  const long long h = at / (D / V) / M;
  const long long first = h * S * M + r;  // the row of split s is first + s * M
  float xs[SPL], ls[SPL], os[SPL][V];
#pragma unroll
  for (int k = 0; k < SPL; ++k) {
    const int s = s0 + k * G;
    const long long row = first + (long long)(s < S ? s : 0) * M;
    const long long e = row * D + (long long)c * V;
    xs[k] = s < S ? $LOADX row) : -YR_INF;
    ls[k] = $LOADL row);
$LOADO
  }
  float mx = -YR_INF;
#pragma unroll
  for (int k = 0; k < SPL; ++k) mx = fmaxf(mx, xs[k]);
#pragma unroll
  for (int x = G / 2; x > 0; x >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, x));
  float acc[V];
#pragma unroll
  for (int i = 0; i < V; ++i) acc[i] = 0.0f;
  float sum = 0.0f;
#pragma unroll
  for (int k = 0; k < SPL; ++k) {
    const float w = xs[k] == -YR_INF ? 0.0f : expf(xs[k] - mx);
    sum += w * ls[k];
#pragma unroll
    for (int i = 0; i < V; ++i) acc[i] += w * os[k][i];
  }
#pragma unroll
  for (int x = G / 2; x > 0; x >>= 1) {
    sum += __shfl_xor_sync(0xffffffffu, sum, x);
#pragma unroll
    for (int i = 0; i < V; ++i) acc[i] += __shfl_xor_sync(0xffffffffu, acc[i], x);
  }
  if (valid && s0 == 0) {
    const float inv = 1.0f / sum;
#pragma unroll
    for (int i = 0; i < V; ++i) $STORE(h * M + r) * D + (long long)c * V + i, acc[i] * inv);
  }
}
)",
           values);
  BlockKernel result;
  result.kernel.source = std::move(text);
  result.kernel.grid = {static_cast<unsigned>(blocks), 1, 1};
  result.kernel.block = {static_cast<unsigned>(kCombineThreads), 1, 1};
  result.kernel.dependent = true;
  return result;
}

}  // namespace

std::optional<BlockKernel> try_generate_attention_kernel(const ir::BlockGraph& graph,
                                                         int shared_limit,
                                                         const AttentionOptions& options) {
  // cp.async and bf16 mma.sync need sm_80 or later; a device allowing 64 KB of shared memory
  // per block or less is an earlier one (Turing: 64 KB; sm_80 and later: 99 KB or more).
  if (const auto pattern = match_attention(graph); pattern && shared_limit > kTuringShared) {
    if (const auto plan = plan_attention(*pattern, shared_limit, options))
      return attention_kernel(graph, *pattern, *plan);
    return std::nullopt;
  }
  if (const auto pattern = match_combine(graph)) {
    if (pattern->splits <= 32 * kCombineSplits) return combine_kernel(graph, *pattern);
  }
  return std::nullopt;
}

}  // namespace yirage::backend::cuda
