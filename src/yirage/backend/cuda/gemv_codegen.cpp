#include "yirage/backend/cuda/gemv_codegen.h"

#include <algorithm>
#include <string>

#include "yirage/backend/cuda/code_writer.h"
#include "yirage/backend/cuda/dependent_launch.h"
#include "yirage/backend/cuda/device_code.h"

namespace yirage::backend::cuda {

namespace {

constexpr int kWarps = 8;   // warps per block, splitting the block's rows of B
constexpr int kUnroll = 8;  // 16-byte loads a thread issues before using them

// Resident blocks per SM a kernel is compiled for (launch bounds cap the registers at 64, 85 or
// 128 a thread); grids stay within one such wave.
int64_t blocks_per_sm(int64_t rows, bool transposed) {
  if (rows == 1) return 4;
  return rows == 2 && !transposed ? 3 : 2;
}

std::string launch_bounds(int64_t blocks) {
  return "__launch_bounds__(256, " + std::to_string(blocks) + ")";
}
constexpr int64_t kMaxXFloats = 6144;   // shared floats for the block's slice of A
constexpr int64_t kMaxHeldFloats = 64;  // floats of A a thread of the transposed GEMV holds

std::string num(int64_t value) {
  return std::to_string(value) + "LL";
}

const char* const kLoadHelpers = R"(__device__ __forceinline__ uint4 yr_load_stream(const void* p) {
  uint4 r;
  asm("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
      : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w) : "l"(p));
  return r;
}
__device__ __forceinline__ void yr_prefetch_l2(const void* p) {
  asm volatile("prefetch.global.L2 [%0];" :: "l"(p));
}
__device__ __forceinline__ float yr_load_coherent(const float* p) {
  float r;
  asm volatile("ld.global.cg.f32 %0, [%1];" : "=f"(r) : "l"(p));
  return r;
}
)";

// B read along its rows (k x n): columns per thread, K split over lane groups and blocks.
std::optional<GemvKernel> column_gemv(const GemmShape& s, int multiprocessors) {
  const int64_t size = static_cast<int64_t>(core::dtype_size(s.dtype));
  const int64_t width = 16 / size;  // columns per thread
  if (s.n % width != 0) return std::nullopt;
  // Lanes per row of B (a power of two up to a warp); a warp reads 32 / lanes rows at once.
  int64_t lanes = 1;
  while (lanes < 32 && lanes * width < s.n) lanes *= 2;
  const int64_t virtual_warps = kWarps * (32 / lanes);  // row readers per block
  const int64_t tile_columns = lanes * width;
  const int64_t tiles = (s.n + tile_columns - 1) / tile_columns;
  const int64_t resident = blocks_per_sm(s.m, false);
  const int64_t target = static_cast<int64_t>(std::max(multiprocessors, 1)) * resident;
  // Splits along K: blocks up to one wave, each reader at least one batch of loads, and the
  // block's slice of A within kMaxXFloats.
  int64_t splits = std::clamp<int64_t>(target / (tiles * s.batches), 1,
                                       std::max<int64_t>(1, s.k / (virtual_warps * kUnroll)));
  int64_t rows_per_reader = 0, block_rows = 0;
  for (;;) {
    rows_per_reader = ((s.k + splits - 1) / splits + virtual_warps - 1) / virtual_warps;
    block_rows = rows_per_reader * virtual_warps;
    if (s.m * block_rows <= kMaxXFloats) break;
    ++splits;
  }
  splits = (s.k + block_rows - 1) / block_rows;
  const std::string t = storage_type(s.dtype), tag = dtype_tag(s.dtype);
  const std::string m = std::to_string(s.m), v = std::to_string(width);
  const std::string rows = std::to_string(block_rows), u = std::to_string(kUnroll);
  const std::string tc = std::to_string(tile_columns), l = std::to_string(lanes);
  CodeWriter code;
  code.raw(kLoadHelpers);
  code.open("extern \"C\" __global__ void " + launch_bounds(resident) + " yr_gemv(const " + t +
            "* __restrict__ a, const " + t + "* __restrict__ b, " + t +
            "* __restrict__ c, float* __restrict__ partial, unsigned* __restrict__ counters)");
  code.line("__shared__ float xs[" + m + "][" + rows + "];");
  // Column lane q's element j at j * (lanes + 1) + q: conflict-free writes and reads.
  code.line("__shared__ float red[" + std::to_string(virtual_warps) + "][" +
            std::to_string(width * (lanes + 1)) + "];");
  if (splits > 1) code.line("__shared__ unsigned last;");
  code.line("const int lane = threadIdx.x & 31;");
  code.line("const int reader = (threadIdx.x >> 5) * " + std::to_string(32 / lanes) + " + lane / " +
            l + ", column_lane = lane % " + l + ";");
  code.line("const long long tile = blockIdx.x, split = blockIdx.y, batch = blockIdx.z;");
  code.line("a += batch * " + num(s.a_stride) + ";");
  code.line("b += batch * " + num(s.b_stride) + ";");
  code.line("c += batch * " + num(s.m * s.n) + ";");
  code.line("const long long k0 = split * " + num(block_rows) + ";");
  code.line("const long long col = (tile * " + l + " + column_lane) * " + v + ";");
  code.line("const bool active = col < " + num(s.n) + ";");
  code.line("const int r0 = reader * " + std::to_string(rows_per_reader) + ", r1 = r0 + " +
            std::to_string(rows_per_reader) + ";");
  // Before waiting for the kernel it depends on (which may write B), the block asks for its first
  // batch of B in L2: a hint only (L2 is where writes land, so no stale value can be read), so
  // the weights stream in while the previous kernel finishes. At most a wave of blocks times
  // one batch each: a few MB, well within L2.
  code.line("#pragma unroll");
  code.open("for (int q = 0; q < " + u + "; ++q)");
  code.line("const long long row = k0 + r0 + q;");
  code.line("if (active && r0 + q < r1 && row < " + num(s.k) + ") yr_prefetch_l2(b + row * " +
            num(s.n) + " + col);");
  code.close();
  code.raw(dependent_prologue());
  // The first batch of B is in flight while the block stages its slice of A.
  auto load_batch = [&] {
    code.line("#pragma unroll");
    code.open("for (int q = 0; q < " + u + "; ++q)");
    code.line("const long long row = k0 + r + q;");
    code.line("if (active && r + q < r1 && row < " + num(s.k) +
              ") raw[q] = yr_load_stream(b + row * " + num(s.n) + " + col);");
    code.line("else raw[q] = make_uint4(0u, 0u, 0u, 0u);");
    code.close();
  };
  code.line("uint4 raw[" + u + "];");
  code.line("int r = r0;");
  load_batch();
  code.open("for (int i = threadIdx.x; i < " + std::to_string(s.m * block_rows) +
            "; i += blockDim.x)");
  code.line("const int mm = i / " + rows + ", kk = i % " + rows + ";");
  code.line("xs[mm][kk] = k0 + kk < " + num(s.k) + " ? yr_load_" + tag + "(a, mm * " + num(s.k) +
            " + k0 + kk) : 0.0f;");
  code.close();
  code.line("__syncthreads();");
  code.line("float acc[" + m + "][" + v + "] = {};");
  code.line("#pragma unroll 1");
  code.open("for (; r < r1; r += " + u + ")");
  code.open("if (r != r0)");
  load_batch();
  code.close();
  code.line("#pragma unroll");
  code.open("for (int q = 0; q < " + u + "; ++q)");
  code.line("const " + t + "* e = reinterpret_cast<const " + t + "*>(&raw[q]);");
  code.line("float w[" + v + "];");
  code.line("#pragma unroll");
  code.line("for (int j = 0; j < " + v + "; ++j) w[j] = yr_load_" + tag + "(e, j);");
  code.line("const int kk = r + q < " + rows + " ? r + q : 0;");
  code.line("#pragma unroll");
  code.open("for (int mm = 0; mm < " + m + "; ++mm)");
  code.line("const float xv = xs[mm][kk];");
  code.line("#pragma unroll");
  code.line("for (int j = 0; j < " + v + "; ++j) acc[mm][j] += xv * w[j];");
  code.close().close().close();
  // Sum the readers' partial columns, one row of C at a time.
  code.line("const long long column = tile * " + num(tile_columns) + " + threadIdx.x;");
  code.open("for (int mm = 0; mm < " + m + "; ++mm)");
  code.line("#pragma unroll");
  code.line("for (int j = 0; j < " + v + "; ++j) red[reader][j * " + std::to_string(lanes + 1) +
            " + column_lane] = acc[mm][j];");
  code.line("__syncthreads();");
  code.open("if (threadIdx.x < " + tc + " && column < " + num(s.n) + ")");
  code.line("float sum = 0.0f;");
  code.line("#pragma unroll 8");
  code.line("for (int w = 0; w < " + std::to_string(virtual_warps) + "; ++w) sum += red[w][" +
            "(threadIdx.x % " + v + ") * " + std::to_string(lanes + 1) + " + threadIdx.x / " + v +
            "];");
  if (splits == 1) {
    code.line("yr_store_" + tag + "(c, mm * " + num(s.n) + " + column, sum);");
  } else {
    code.line("partial[((batch * " + std::to_string(splits) + " + split) * " + m + " + mm) * " +
              num(s.n) + " + column] = sum;");
  }
  code.close();
  code.line("__syncthreads();");
  code.close();
  if (splits > 1) {  // the last block of the tile to finish sums the partials
    code.line("__threadfence();");
    code.line("__syncthreads();");
    code.line("if (threadIdx.x == 0) last = atomicAdd(&counters[batch * " + num(tiles) +
              " + tile], 1u) == " + std::to_string(splits - 1) + "u;");
    code.line("__syncthreads();");
    code.open("if (last)");
    code.line("__threadfence();");
    code.open("if (threadIdx.x < " + tc + " && column < " + num(s.n) + ")");
    code.open("for (int mm = 0; mm < " + m + "; ++mm)");
    code.line("float sum = 0.0f;");
    code.line("#pragma unroll 8");
    code.line("for (int sp = 0; sp < " + std::to_string(splits) +
              "; ++sp) sum += yr_load_coherent(partial + ((batch * " + std::to_string(splits) +
              " + sp) * " + m + " + mm) * " + num(s.n) + " + column);");
    code.line("yr_store_" + tag + "(c, mm * " + num(s.n) + " + column, sum);");
    code.close().close();
    code.line("if (threadIdx.x == 0) counters[batch * " + num(tiles) + " + tile] = 0u;");
    code.close();
  }
  code.close();
  GemvKernel result;
  result.kernel.source = device_prelude() + code.str();
  result.kernel.entry = "yr_gemv";
  result.kernel.grid = {static_cast<unsigned>(tiles), static_cast<unsigned>(splits),
                        static_cast<unsigned>(s.batches)};
  result.kernel.block = {256, 1, 1};
  result.splits = static_cast<int>(splits);
  if (splits > 1) {
    result.partial_bytes = static_cast<std::size_t>(s.batches * splits * s.m * s.n) * sizeof(float);
    result.counter_bytes = static_cast<std::size_t>(s.batches * tiles) * sizeof(unsigned);
  }
  return result;
}

// B stored transposed (n x k, rows of B^T contiguous, as keys in q @ k^T): a group of lanes
// per row of B^T holds a slice of every row of A in registers and reduces dot products with
// shuffles; groups interleave over rows, blocks over row ranges and batches.
std::optional<GemvKernel> row_gemv(const GemmShape& s, int multiprocessors) {
  const int64_t size = static_cast<int64_t>(core::dtype_size(s.dtype));
  const int64_t width = 16 / size;
  if (s.k % width != 0 || s.k / width > 64) return std::nullopt;
  const int64_t vectors = s.k / width;  // per row
  // Lanes per row of B^T: each holds per_lane vectors of every row of A in registers, at most
  // 2 vectors and 64 floats.
  const int64_t most = std::clamp<int64_t>(kMaxHeldFloats / (s.m * width), 1, 2);
  int64_t lanes = 1;
  while (lanes < 32 && lanes * most < vectors) lanes *= 2;
  const int64_t per_lane = (vectors + lanes - 1) / lanes;
  if (per_lane * s.m * width > kMaxHeldFloats) return std::nullopt;
  // Rows in flight per lane: 8 loads, halved when A takes more than half the held floats.
  const int64_t held = per_lane * s.m * width;
  const int64_t unroll =
      std::max<int64_t>(1, kUnroll / per_lane / (held > kMaxHeldFloats / 2 ? 2 : 1));
  const int64_t groups = kWarps * (32 / lanes);  // per block
  const int64_t resident = blocks_per_sm(s.m, true);
  const int64_t target = static_cast<int64_t>(std::max(multiprocessors, 1)) * resident;
  // Rows per block: a multiple of groups x unroll, about n x batches / target.
  const int64_t step = groups * unroll;
  const int64_t wanted = (s.n * s.batches + target - 1) / target;
  const int64_t block_rows = std::max<int64_t>(1, (wanted + step - 1) / step) * step;
  const int64_t blocks = (s.n + block_rows - 1) / block_rows;
  const std::string t = storage_type(s.dtype), tag = dtype_tag(s.dtype);
  const std::string m = std::to_string(s.m), v = std::to_string(width);
  const std::string pl = std::to_string(per_lane), u = std::to_string(unroll);
  const std::string l = std::to_string(lanes), g = std::to_string(groups);
  CodeWriter code;
  code.raw(kLoadHelpers);
  code.open("extern \"C\" __global__ void " + launch_bounds(resident) + " yr_gemv(const " + t +
            "* __restrict__ a, const " + t + "* __restrict__ b, " + t +
            "* __restrict__ c, float* __restrict__ partial, unsigned* __restrict__ counters)");
  code.raw(dependent_prologue());
  code.line("const int lane = threadIdx.x & 31;");
  code.line("const int group = (threadIdx.x >> 5) * " + std::to_string(32 / lanes) + " + lane / " +
            l + ", group_lane = lane % " + l + ";");
  code.line("const long long batch = blockIdx.y;");
  code.line("a += batch * " + num(s.a_stride) + ";");
  code.line("b += batch * " + num(s.b_stride) + ";");
  code.line("c += batch * " + num(s.m * s.n) + ";");
  code.line("float av[" + m + "][" + pl + "][" + v + "];");
  code.line("#pragma unroll");
  code.open("for (int mm = 0; mm < " + m + "; ++mm)");
  code.line("#pragma unroll");
  code.open("for (int p = 0; p < " + pl + "; ++p)");
  code.line("const int idx = group_lane + p * " + l + ";");
  code.line("uint4 raw = make_uint4(0u, 0u, 0u, 0u);");
  code.line("if (idx < " + std::to_string(vectors) +
            ") raw = *reinterpret_cast<const uint4*>(a + mm * " + num(s.k) + " + idx * " + v +
            ");");
  code.line("const " + t + "* e = reinterpret_cast<const " + t + "*>(&raw);");
  code.line("#pragma unroll");
  code.line("for (int j = 0; j < " + v + "; ++j) av[mm][p][j] = yr_load_" + tag + "(e, j);");
  code.close().close();
  code.line("const long long first = (long long)blockIdx.x * " + num(block_rows) + " + group;");
  code.line("#pragma unroll 1");
  code.open("for (int r = 0; r < " + std::to_string(block_rows / groups) + "; r += " + u + ")");
  code.line("uint4 raw[" + u + "][" + pl + "];");
  code.line("#pragma unroll");
  code.open("for (int q = 0; q < " + u + "; ++q)");
  code.line("const long long row = first + (long long)(r + q) * " + g + ";");
  code.line("#pragma unroll");
  code.open("for (int p = 0; p < " + pl + "; ++p)");
  code.line("const int idx = group_lane + p * " + l + ";");
  code.line("if (row < " + num(s.n) + " && idx < " + std::to_string(vectors) +
            ") raw[q][p] = yr_load_stream(b + row * " + num(s.k) + " + idx * " + v + ");");
  code.line("else raw[q][p] = make_uint4(0u, 0u, 0u, 0u);");
  code.close().close();
  code.line("#pragma unroll");
  code.open("for (int q = 0; q < " + u + "; ++q)");
  code.line("float dot[" + m + "] = {};");
  code.line("#pragma unroll");
  code.open("for (int p = 0; p < " + pl + "; ++p)");
  code.line("const " + t + "* e = reinterpret_cast<const " + t + "*>(&raw[q][p]);");
  code.line("#pragma unroll");
  code.open("for (int j = 0; j < " + v + "; ++j)");
  code.line("const float w = yr_load_" + tag + "(e, j);");
  code.line("#pragma unroll");
  code.line("for (int mm = 0; mm < " + m + "; ++mm) dot[mm] += av[mm][p][j] * w;");
  code.close().close();
  code.line("#pragma unroll");
  code.open("for (int mm = 0; mm < " + m + "; ++mm)");
  code.line("#pragma unroll");
  code.line("for (int o = " + std::to_string(lanes / 2) +
            "; o > 0; o >>= 1) dot[mm] += __shfl_xor_sync(0xffffffffu, dot[mm], o);");
  code.close();
  code.line("const long long row = first + (long long)(r + q) * " + g + ";");
  code.open("if (group_lane == 0 && row < " + num(s.n) + ")");
  code.line("#pragma unroll");
  code.line("for (int mm = 0; mm < " + m + "; ++mm) yr_store_" + tag + "(c, mm * " + num(s.n) +
            " + row, dot[mm]);");
  code.close().close().close().close();
  GemvKernel result;
  result.kernel.source = device_prelude() + code.str();
  result.kernel.entry = "yr_gemv";
  result.kernel.grid = {static_cast<unsigned>(blocks), static_cast<unsigned>(s.batches), 1};
  result.kernel.block = {256, 1, 1};
  return result;
}

}  // namespace

std::optional<GemvKernel> generate_gemv_kernel(const GemmShape& s, int multiprocessors) {
  const bool float_type =
      s.dtype == core::DType::BF16 || s.dtype == core::DType::F16 || s.dtype == core::DType::F32;
  if (!float_type || s.batches < 1 || s.batches > 65535 || s.m < 1 || s.m > kGemvMaxRows ||
      s.n < 1 || s.k < 1)
    return std::nullopt;
  return s.b_transposed ? row_gemv(s, multiprocessors) : column_gemv(s, multiprocessors);
}

}  // namespace yirage::backend::cuda
