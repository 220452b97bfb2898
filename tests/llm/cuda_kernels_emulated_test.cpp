// The device model's generated kernels run on the host: the source is compiled with the host C++
// compiler against a small emulation of the CUDA built-ins (a thread per CUDA thread, barriers
// for __syncthreads and for warp shuffles, one block at a time) and checked against the host
// implementations (paged_attention, RMSNorm, RoPE). Catches indexing and reduction mistakes
// without a GPU; skips when no host compiler is on the PATH.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <random>
#include <sstream>

#include "llm/temp_dir.h"
#include "yirage/backend/cuda/device_code.h"
#include "yirage/core/dtype.h"
#include "yirage/llm/cuda_kernels.h"
#include "yirage/llm/float_rows.h"
#include "yirage/llm/kv_cache.h"
#include "yirage/llm/paged_attention.h"

namespace yirage::llm {
namespace {

// CUDA built-ins on the host. Blocks run one after another, so __shared__ is static storage.
constexpr const char* kHostShim = R"(
#include <barrier>
#include <bit>
#include <cstring>
#include <functional>
#include <math.h>
#include <memory>
#include <thread>
#include <vector>
struct uint4 { unsigned x, y, z, w; };
struct yr_dim3 { unsigned x = 0, y = 0, z = 0; };
static thread_local yr_dim3 threadIdx, blockIdx;
static yr_dim3 blockDim, gridDim;
static std::barrier<>* yr_block_barrier = nullptr;
static std::vector<std::unique_ptr<std::barrier<>>> yr_warp_barriers;
static unsigned long long yr_lanes[1024];
#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(n)
#define __shared__ static
inline void __syncthreads() { yr_block_barrier->arrive_and_wait(); }
inline float __uint_as_float(unsigned u) { return std::bit_cast<float>(u); }
inline unsigned __float_as_uint(float f) { return std::bit_cast<unsigned>(f); }
inline float __int_as_float(int i) { return std::bit_cast<float>(i); }
inline float __expf(float x) { return expf(x); }
inline void __threadfence() {}
inline unsigned atomicAdd(unsigned* p, unsigned v) { const unsigned old = *p; *p = old + v; return old; }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
template <typename V> V __shfl_xor_sync(unsigned, V v, int offset) {
  const unsigned t = threadIdx.x;
  std::barrier<>& warp = *yr_warp_barriers[t / 32];
  std::memcpy(&yr_lanes[t], &v, sizeof(V));
  warp.arrive_and_wait();
  V other;
  std::memcpy(&other, &yr_lanes[t ^ offset], sizeof(V));
  warp.arrive_and_wait();
  return other;
}
extern "C" void yr_emulate(unsigned gx, unsigned gy, unsigned threads, void (*body)(void*),
                           void* context) {
  blockDim = {threads, 1, 1};
  gridDim = {gx, gy, 1};
  for (unsigned by = 0; by < gy; ++by) {
    for (unsigned bx = 0; bx < gx; ++bx) {
      std::barrier<> block(threads);
      yr_block_barrier = &block;
      yr_warp_barriers.clear();
      for (unsigned w = 0; w * 32 < threads; ++w)
        yr_warp_barriers.push_back(std::make_unique<std::barrier<>>(
            threads - w * 32 < 32 ? threads - w * 32 : 32));
      std::vector<std::thread> pool;
      for (unsigned t = 0; t < threads; ++t) {
        pool.emplace_back([=] {
          threadIdx = {t, 0, 0};
          blockIdx = {bx, by, 0};
          body(context);
        });
      }
      for (auto& thread : pool) thread.join();
    }
  }
}
)";

// The generated source with the device prelude's inline PTX replaced by host conversions.
std::string host_source(const CudaKernelShape& shape) {
  std::string source = qwen3_cuda_source(shape);
  const std::string& prelude = backend::cuda::device_prelude();
  std::string host_prelude;
  std::istringstream lines(prelude);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("cvt.f32.f16") != std::string::npos) {
      line = "  return (float)std::bit_cast<_Float16>(h);";
    } else if (line.find("cvt.rn.f16.f32") != std::string::npos) {
      line = "  return std::bit_cast<unsigned short>((_Float16)f);";
    } else if (line.find("asm") != std::string::npos) {
      ADD_FAILURE() << "the prelude has inline assembly the host shim does not know: " << line;
    }
    host_prelude += line + "\n";
  }
  // The GEMV entry points for 4 to 7 rows are left out (they are not run here; fewer template
  // instances compile faster).
  std::string kernels = source.substr(prelude.size()), kept;
  std::istringstream entries(kernels);
  bool skipping = false;
  for (std::string line; std::getline(entries, line);) {
    if (line.starts_with("extern \"C\"") && line.find("yr_gemv") != std::string::npos) {
      const char rows = line[line.find('(') - 1];
      skipping = rows >= '4' && rows <= '7';
    }
    if (!skipping) kept += line + "\n";
    if (line == "}") skipping = false;
  }
  return kHostShim + host_prelude + kept;
}

// The kernels compiled for the host and loaded.
class EmulatedKernels {
 public:
  explicit EmulatedKernels(const CudaKernelShape& shape) {
    const std::string source_path = (dir_.path() / "kernels.cpp").string();
    const std::string library = (dir_.path() / "kernels.so").string();
    std::ofstream(source_path) << host_source(shape);
    const std::string command = "c++ -std=c++20 -O1 -w -shared -fPIC -pthread -o " + library + " " +
                                source_path + " 2> " + (dir_.path() / "log").string();
    if (std::system(command.c_str()) != 0) {
      std::ifstream log(dir_.path() / "log");
      std::stringstream text;
      text << log.rdbuf();
      ADD_FAILURE() << "host compile failed:\n" << text.str().substr(0, 4000);
      return;
    }
    handle_ = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
    EXPECT_NE(handle_, nullptr) << dlerror();
  }
  ~EmulatedKernels() {
    if (handle_ != nullptr) dlclose(handle_);
  }
  bool ok() const { return handle_ != nullptr; }

  // Runs kernel `name` (of function type F) over grid (gx, gy) of `threads` with `args`.
  template <typename F, typename... Args>
  void run(const char* name, unsigned gx, unsigned gy, unsigned threads, Args... args) {
    auto* kernel = reinterpret_cast<F*>(dlsym(handle_, name));
    ASSERT_NE(kernel, nullptr) << name;
    using Emulate = void(unsigned, unsigned, unsigned, void (*)(void*), void*);
    auto* emulate = reinterpret_cast<Emulate*>(dlsym(handle_, "yr_emulate"));
    ASSERT_NE(emulate, nullptr);
    std::function<void()> body = [&] { kernel(args...); };
    emulate(
        gx, gy, threads, [](void* f) { (*static_cast<std::function<void()>*>(f))(); }, &body);
  }

 private:
  testing::TempDir dir_;
  void* handle_ = nullptr;
};

bool have_host_compiler() {
  return std::system("c++ --version > /dev/null 2>&1") == 0;
}

// Random values of `dtype` (as stored) in [-scale, scale].
std::vector<uint8_t> random_values(int64_t count, core::DType dtype, std::mt19937& rng,
                                   float scale = 1.0F) {
  std::uniform_real_distribution<float> uniform(-scale, scale);
  std::vector<float> values(static_cast<std::size_t>(count));
  for (float& v : values) v = uniform(rng);
  std::vector<uint8_t> bytes(static_cast<std::size_t>(count) * core::dtype_size(dtype));
  store_floats(values.data(), dtype, bytes.data(), count);
  return bytes;
}

std::vector<float> floats(const void* data, core::DType dtype, int64_t count) {
  std::vector<float> out(static_cast<std::size_t>(count));
  load_floats(data, dtype, out.data(), count);
  return out;
}

// max |a - b| / max |b|.
double max_relative(const std::vector<float>& a, const std::vector<float>& b) {
  double worst = 0.0, scale = 1e-30;
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (!std::isfinite(a[i])) return INFINITY;
    worst = std::max(worst, std::abs(static_cast<double>(a[i]) - b[i]));
    scale = std::max(scale, std::abs(static_cast<double>(b[i])));
  }
  return worst / scale;
}

using AttentionKernel = void(const void*, const int*, const int*, const int*, int, int, void*,
                             void*, void*, float*, float*, unsigned*, int);
using DecodeAttentionKernel = void(const void*, const void*, const void*, const int*, const int*,
                                   const int*, int, int, const float*, const float*, void*, void*,
                                   void*, float*, float*, unsigned*, int);
using RopeKernel = void(const void*, const void*, const void*, const int*, const int*, const int*,
                        int, int, const float*, const float*, void*, void*, void*, int);
using NormKernel = void(void*, const void*, const void*, void*, const int*);
using ArgmaxKernel = void(const void*, int*, int, int);
using SiluKernel = void(const void*, void*, int);
using GemvKernel = void(const void*, const void*, void*, int, int, const void*);
using TransposeKernel = void(const void*, void*, int, int);

void check_shape(const CudaKernelShape& shape, EmulatedKernels& kernels) {
  if (!kernels.ok()) return;
  const core::DType dtype = shape.dtype;
  const std::size_t elem = core::dtype_size(dtype);
  const int64_t heads = shape.heads, kv_heads = shape.kv_heads, d = shape.head_dim;
  const int64_t qkv_width = (heads + 2 * kv_heads) * d;
  const double tolerance = dtype == core::DType::F32 ? 1e-4 : 2e-2;
  std::mt19937 rng(17);

  // A cache of 3 sequences (blocks of 4 slots, deliberately shuffled) and one step of 5 rows:
  // sequence 0 gets 3 new tokens at positions 37..39, sequences 1 and 2 one each (positions 0
  // and 70).
  const KvLayout layout{1, kv_heads, d, dtype};
  KvCache cache(layout, {256, 0, 4});
  const int64_t s0 = cache.add_sequence(), s1 = cache.add_sequence(), s2 = cache.add_sequence();
  cache.reserve(s2, 71);
  cache.reserve(s0, 40);
  cache.reserve(s1, 1);
  const std::vector<AttentionRow> rows{{s0, 37}, {s0, 38}, {s0, 39}, {s1, 0}, {s2, 70}};
  const auto n = static_cast<int64_t>(rows.size());
  const int table_stride = 20;
  std::vector<int32_t> pos, seq, tables(3 * table_stride, 0);
  for (const int64_t s : {s0, s1, s2}) {
    const auto& blocks = cache.block_table(s);
    std::copy(blocks.begin(), blocks.end(), tables.begin() + s * table_stride);
  }
  for (const AttentionRow& row : rows) {
    pos.push_back(static_cast<int32_t>(row.position));
    seq.push_back(static_cast<int32_t>(row.sequence));
  }
  // Earlier positions hold random keys and values.
  for (const auto& [s, length] : std::vector<std::pair<int64_t, int64_t>>{{s0, 37}, {s2, 70}}) {
    for (int64_t p = 0; p < length; ++p) {
      const auto k = random_values(kv_heads * d, dtype, rng);
      const auto v = random_values(kv_heads * d, dtype, rng);
      std::memcpy(cache.key(0, s, p), k.data(), k.size());
      std::memcpy(cache.value(0, s, p), v.data(), v.size());
    }
  }

  // q/k norm, RoPE and the cache writes against a float64 computation.
  const auto qkv = random_values(n * qkv_width, dtype, rng, 2.0F);
  const auto q_norm = random_values(d, dtype, rng), k_norm = random_values(d, dtype, rng);
  std::vector<uint8_t> q(static_cast<std::size_t>(n * heads * d) * elem);
  const RopeTables rope = rope_tables(shape.theta, d, 128);
  kernels.run<RopeKernel>(
      "yr_qk_rope_store", static_cast<unsigned>((n * (heads + 2 * kv_heads) + 3) / 4), 1, 128,
      qkv.data(), q_norm.data(), k_norm.data(), pos.data(), seq.data(), tables.data(), table_stride,
      4, rope.cos.data(), rope.sin.data(), q.data(), cache.keys().data(), cache.values().data(),
      static_cast<int>(n));
  const auto x = floats(qkv.data(), dtype, n * qkv_width);
  const auto qw = floats(q_norm.data(), dtype, d), kw = floats(k_norm.data(), dtype, d);
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t h = 0; h < heads + 2 * kv_heads; ++h) {
      const float* src = x.data() + r * qkv_width + h * d;
      std::vector<float> expected(static_cast<std::size_t>(d));
      if (h >= heads + kv_heads) {
        expected.assign(src, src + d);
      } else {
        double sum = 0.0;
        for (int64_t i = 0; i < d; ++i) sum += double{src[i]} * src[i];
        const double inv = 1.0 / std::sqrt(sum / static_cast<double>(d) + shape.eps);
        const auto& w = h < heads ? qw : kw;
        for (int64_t i = 0; i < d / 2; ++i) {
          const double x1 = src[i] * inv * w[static_cast<std::size_t>(i)];
          const double x2 = src[i + d / 2] * inv * w[static_cast<std::size_t>(i + d / 2)];
          const double angle =
              static_cast<double>(rows[static_cast<std::size_t>(r)].position) *
              std::pow(shape.theta, -2.0 * static_cast<double>(i) / static_cast<double>(d));
          expected[static_cast<std::size_t>(i)] =
              static_cast<float>(x1 * std::cos(angle) - x2 * std::sin(angle));
          expected[static_cast<std::size_t>(i + d / 2)] =
              static_cast<float>(x2 * std::cos(angle) + x1 * std::sin(angle));
        }
      }
      const AttentionRow& row = rows[static_cast<std::size_t>(r)];
      const void* at =
          h < heads ? q.data() + static_cast<std::size_t>((r * heads + h) * d) * elem
          : h < heads + kv_heads
              ? static_cast<const uint8_t*>(cache.key(0, row.sequence, row.position)) +
                    static_cast<std::size_t>((h - heads) * d) * elem
              : static_cast<const uint8_t*>(cache.value(0, row.sequence, row.position)) +
                    static_cast<std::size_t>((h - heads - kv_heads) * d) * elem;
      EXPECT_LE(max_relative(floats(at, dtype, d), expected), tolerance)
          << "qk_rope row " << r << " head " << h;
    }
  }

  // Attention over the cache, in one split and in several (the last split merging), against the
  // host; twice each, as graph replays run it, so the split counters must return to zero.
  core::Tensor q_tensor = core::Tensor::empty({n, heads, d}, dtype);
  std::memcpy(q_tensor.data(), q.data(), q.size());
  const core::Tensor expected = paged_attention(cache, 0, rows, q_tensor);
  const auto want = floats(expected.data(), dtype, expected.numel());
  std::vector<unsigned> counters(static_cast<std::size_t>(n * kv_heads), 0u);
  for (const int splits : {1, 3, 3}) {
    std::vector<uint8_t> out(static_cast<std::size_t>(n * heads * d) * elem);
    std::vector<float> part_acc(static_cast<std::size_t>(n * heads * splits * d), NAN);
    std::vector<float> part_ml(static_cast<std::size_t>(n * heads * splits * 2), NAN);
    kernels.run<AttentionKernel>(
        "yr_attention", static_cast<unsigned>(n * kv_heads), static_cast<unsigned>(splits),
        static_cast<unsigned>(CudaKernelShape::kAttentionThreads), q.data(), pos.data(), seq.data(),
        tables.data(), table_stride, 4, cache.keys().data(), cache.values().data(), out.data(),
        part_acc.data(), part_ml.data(), counters.data(), splits);
    EXPECT_LE(max_relative(floats(out.data(), dtype, n * heads * d), want), tolerance)
        << "attention in " << splits << " splits";
    EXPECT_EQ(std::count(counters.begin(), counters.end(), 0u),
              static_cast<std::ptrdiff_t>(counters.size()));
  }

  // Decode attention straight from qkv: the last three rows are one token per sequence. Their
  // cache slots are spoiled first, so that the result also shows the kernel wrote them.
  {
    const std::vector<AttentionRow> last(rows.begin() + 2, rows.end());
    const auto m = static_cast<int64_t>(last.size());
    const std::vector<int32_t> last_pos(pos.begin() + 2, pos.end());
    const std::vector<int32_t> last_seq(seq.begin() + 2, seq.end());
    std::vector<uint8_t> key_rows, value_rows;
    for (const AttentionRow& row : last) {
      const auto* k = static_cast<const uint8_t*>(cache.key(0, row.sequence, row.position));
      const auto* v = static_cast<const uint8_t*>(cache.value(0, row.sequence, row.position));
      key_rows.insert(key_rows.end(), k, k + kv_heads * d * static_cast<int64_t>(elem));
      value_rows.insert(value_rows.end(), v, v + kv_heads * d * static_cast<int64_t>(elem));
      std::memset(cache.key(0, row.sequence, row.position), 0xff,
                  static_cast<std::size_t>(kv_heads * d) * elem);
      std::memset(cache.value(0, row.sequence, row.position), 0xff,
                  static_cast<std::size_t>(kv_heads * d) * elem);
    }
    const std::vector<float> want_last(want.begin() + 2 * heads * d, want.end());
    for (const int splits : {1, 3}) {
      std::vector<uint8_t> out(static_cast<std::size_t>(m * heads * d) * elem);
      std::vector<float> part_acc(static_cast<std::size_t>(m * heads * splits * d), NAN);
      std::vector<float> part_ml(static_cast<std::size_t>(m * heads * splits * 2), NAN);
      kernels.run<DecodeAttentionKernel>(
          "yr_decode_attention", static_cast<unsigned>(m * kv_heads), static_cast<unsigned>(splits),
          static_cast<unsigned>(CudaKernelShape::kAttentionThreads),
          qkv.data() + static_cast<std::size_t>(2 * qkv_width) * elem, q_norm.data(), k_norm.data(),
          last_pos.data(), last_seq.data(), tables.data(), table_stride, 4, rope.cos.data(),
          rope.sin.data(), cache.keys().data(), cache.values().data(), out.data(), part_acc.data(),
          part_ml.data(), counters.data(), splits);
      EXPECT_LE(max_relative(floats(out.data(), dtype, m * heads * d), want_last), tolerance)
          << "decode attention in " << splits << " splits";
      std::size_t at = 0;
      for (const AttentionRow& row : last) {
        const std::size_t bytes = static_cast<std::size_t>(kv_heads * d) * elem;
        EXPECT_EQ(
            std::memcmp(cache.key(0, row.sequence, row.position), key_rows.data() + at, bytes), 0);
        EXPECT_EQ(
            std::memcmp(cache.value(0, row.sequence, row.position), value_rows.data() + at, bytes),
            0);
        at += bytes;
      }
    }
  }

  // Residual add + RMSNorm of picked rows.
  const int64_t hidden = shape.hidden;
  auto residual = random_values(n * hidden, dtype, rng);
  const auto delta = random_values(n * hidden, dtype, rng);
  const auto weight = random_values(hidden, dtype, rng);
  const auto before = floats(residual.data(), dtype, n * hidden);
  const auto dv = floats(delta.data(), dtype, n * hidden),
             wv = floats(weight.data(), dtype, hidden);
  const std::vector<int32_t> pick{4, 1};
  std::vector<uint8_t> normed(static_cast<std::size_t>(2 * hidden) * elem);
  kernels.run<NormKernel>("yr_add_rms_norm", 2, 1, 256, residual.data(), delta.data(),
                          weight.data(), normed.data(), pick.data());
  const auto after = floats(residual.data(), dtype, n * hidden);
  const auto got = floats(normed.data(), dtype, 2 * hidden);
  for (std::size_t r = 0; r < pick.size(); ++r) {
    const int64_t src = pick[r] * hidden;
    std::vector<float> sums(static_cast<std::size_t>(hidden)),
        out(static_cast<std::size_t>(hidden));
    double total = 0.0;
    for (int64_t i = 0; i < hidden; ++i) {
      sums[static_cast<std::size_t>(i)] =
          before[static_cast<std::size_t>(src + i)] + dv[static_cast<std::size_t>(src + i)];
      total += double{sums[static_cast<std::size_t>(i)]} * sums[static_cast<std::size_t>(i)];
    }
    const double inv = 1.0 / std::sqrt(total / static_cast<double>(hidden) + shape.eps);
    for (int64_t i = 0; i < hidden; ++i)
      out[static_cast<std::size_t>(i)] = static_cast<float>(sums[static_cast<std::size_t>(i)] *
                                                            inv * wv[static_cast<std::size_t>(i)]);
    EXPECT_LE(max_relative({after.begin() + src, after.begin() + src + hidden}, sums), tolerance);
    EXPECT_LE(max_relative({got.begin() + static_cast<int64_t>(r) * hidden,
                            got.begin() + static_cast<int64_t>(r + 1) * hidden},
                           out),
              tolerance)
        << "rms_norm of row " << pick[r];
  }
  // Rows not picked keep their values.
  EXPECT_EQ(max_relative({after.begin(), after.begin() + hidden},
                         {before.begin(), before.begin() + hidden}),
            0.0);

  // SiLU gate.
  const int64_t inter = shape.intermediate;
  const auto gu = random_values(2 * 2 * inter, dtype, rng, 3.0F);
  std::vector<uint8_t> gated(static_cast<std::size_t>(2 * inter) * elem);
  kernels.run<SiluKernel>("yr_silu_mul", 2, 1, 64, gu.data(), gated.data(), 2);
  const auto guv = floats(gu.data(), dtype, 4 * inter);
  std::vector<float> silu(static_cast<std::size_t>(2 * inter));
  for (int64_t r = 0; r < 2; ++r) {
    for (int64_t c = 0; c < inter; ++c) {
      const float g = guv[static_cast<std::size_t>(r * 2 * inter + c)];
      silu[static_cast<std::size_t>(r * inter + c)] =
          g / (1.0F + std::exp(-g)) * guv[static_cast<std::size_t>(r * 2 * inter + inter + c)];
    }
  }
  EXPECT_LE(max_relative(floats(gated.data(), dtype, 2 * inter), silu), tolerance);

  // Argmax: ties go to the first column; columns past the limit are ignored.
  std::vector<float> logits(2 * 3000, -1.0F);
  logits[1234] = 5.0F;
  logits[2345] = 5.0F;
  logits[2999] = 9.0F;  // past the limit
  logits[3000 + 17] = -0.5F;
  logits[3000 + 2897] = -0.5F;  // a tie among the columns read one by one
  std::vector<uint8_t> stored(logits.size() * elem);
  store_floats(logits.data(), dtype, stored.data(), static_cast<int64_t>(logits.size()));
  std::vector<int32_t> ids(2, -1);
  kernels.run<ArgmaxKernel>("yr_argmax", 2, 1, 1024, stored.data(), ids.data(), 3000, 2900);
  EXPECT_EQ(ids[0], 1234);
  EXPECT_EQ(ids[1], 17);

  // GEMVs of every kind: 19 output columns (a partial last block), k of 33 vectors (a partial
  // last round of loads), 1, 2, 3 and 8 rows (8, 4, 2 and 2 loads in flight per weight row).
  const int64_t k = 33 * shape.vector_elements(), columns = 19;
  const auto wt = random_values(2 * columns * k, dtype, rng, 0.5F);
  const auto wtv = floats(wt.data(), dtype, 2 * columns * k);
  const auto norm_weight = random_values(k, dtype, rng);
  const auto nv = floats(norm_weight.data(), dtype, k);
  // Products of rows `in` [m, k] with the plain and the SiLU-gated weights.
  const auto products = [&](const std::vector<float>& in, int64_t m, std::vector<float>& plain_out,
                            std::vector<float>& gated_out) {
    plain_out.assign(static_cast<std::size_t>(m * columns), 0.0F);
    gated_out.assign(plain_out.size(), 0.0F);
    for (int64_t r = 0; r < m; ++r) {
      for (int64_t c = 0; c < columns; ++c) {
        double g = 0.0, u = 0.0;
        for (int64_t i = 0; i < k; ++i) {
          const double xi = in[static_cast<std::size_t>(r * k + i)];
          g += xi * wtv[static_cast<std::size_t>(c * k + i)];
          u += xi * wtv[static_cast<std::size_t>((columns + c) * k + i)];
        }
        plain_out[static_cast<std::size_t>(r * columns + c)] = static_cast<float>(g);
        gated_out[static_cast<std::size_t>(r * columns + c)] =
            static_cast<float>(g / (1.0 + std::exp(-g)) * u);
      }
    }
  };
  for (const int64_t m : {1, 2, 3, 8}) {
    const auto xs = random_values(m * k, dtype, rng);
    const auto xv = floats(xs.data(), dtype, m * k);
    std::vector<float> norm_in(xv.size());
    for (int64_t r = 0; r < m; ++r) {
      double total = 0.0;
      for (int64_t i = 0; i < k; ++i)
        total += double{xv[static_cast<std::size_t>(r * k + i)]} *
                 xv[static_cast<std::size_t>(r * k + i)];
      const double inv = 1.0 / std::sqrt(total / static_cast<double>(k) + shape.eps);
      for (int64_t i = 0; i < k; ++i) {
        const auto at = static_cast<std::size_t>(r * k + i);
        norm_in[at] = static_cast<float>(xv[at] * inv * nv[static_cast<std::size_t>(i)]);
      }
    }
    std::vector<float> plain, gated_out, normed_plain, normed_gated;
    products(xv, m, plain, gated_out);
    products(norm_in, m, normed_plain, normed_gated);
    const auto start_y = random_values(m * columns, dtype, rng);
    const auto start_v = floats(start_y.data(), dtype, m * columns);
    std::vector<float> residual_out(start_v.size());
    for (std::size_t i = 0; i < residual_out.size(); ++i) residual_out[i] = start_v[i] + plain[i];
    for (const auto& [kind, want_y] : std::vector<std::pair<GemvKind, std::vector<float>*>>{
             {GemvKind::Plain, &plain},
             {GemvKind::Silu, &gated_out},
             {GemvKind::Residual, &residual_out},
             {GemvKind::NormPlain, &normed_plain},
             {GemvKind::NormSilu, &normed_gated}}) {
      const bool norm = kind == GemvKind::NormPlain || kind == GemvKind::NormSilu;
      if (norm && m > kGemvNormMaxRows) continue;
      std::vector<uint8_t> y = start_y;
      // The model's grid: warps of 1 (up to 2 rows) or 2 adjacent columns, 8 a block; 19
      // columns leave the last warp of 2 a column past the end.
      const int64_t per_block = 8 * gemv_columns_per_warp(m);
      const auto blocks = static_cast<unsigned>((columns + per_block - 1) / per_block);
      kernels.run<GemvKernel>(gemv_entry(m, kind).c_str(), blocks, 1, 256, wt.data(), xs.data(),
                              y.data(), static_cast<int>(columns), static_cast<int>(k),
                              norm ? static_cast<const void*>(norm_weight.data()) : nullptr);
      EXPECT_LE(max_relative(floats(y.data(), dtype, m * columns), *want_y), tolerance)
          << gemv_entry(m, kind);
    }
  }

  // Transpose of a [37, 45] matrix (partial tiles both ways) is exact.
  const auto matrix = random_values(37 * 45, dtype, rng);
  std::vector<uint8_t> flipped(matrix.size());
  kernels.run<TransposeKernel>("yr_transpose", 2, 2, 256, matrix.data(), flipped.data(), 37, 45);
  const auto before_t = floats(matrix.data(), dtype, 37 * 45);
  const auto after_t = floats(flipped.data(), dtype, 37 * 45);
  int wrong = 0;
  for (int r = 0; r < 37; ++r) {
    for (int c = 0; c < 45; ++c) wrong += after_t[c * 37 + r] != before_t[r * 45 + c];
  }
  EXPECT_EQ(wrong, 0);
}

TEST(CudaEngineKernels, EmulatedOnTheHostMatchTheHostModel) {
  if (!have_host_compiler()) GTEST_SKIP() << "no host C++ compiler (c++) on the PATH";
  // The serving shape (bfloat16, heads of 128: 16 threads share a key row) and a small float32
  // one (heads of 8: 2 threads a row).
  const CudaKernelShape bf16{64, 4, 2, 128, 96, 1e-6, 1e6, core::DType::BF16};
  const CudaKernelShape f32{32, 4, 2, 8, 40, 1e-6, 1e4, core::DType::F32};
  // Both compile at once.
  auto compiling =
      std::async(std::launch::async, [&] { return std::make_unique<EmulatedKernels>(f32); });
  EmulatedKernels bf16_kernels(bf16);
  const auto f32_kernels = compiling.get();
  check_shape(bf16, bf16_kernels);
  check_shape(f32, *f32_kernels);
}

}  // namespace
}  // namespace yirage::llm
