// GPU: build-gpu/tests/yirage_tests --gtest_filter='Cuda*:Conformance*' (the register schedule of
// element-wise block graphs runs in the conformance suite and the bench ntrans row).
// The unfused path's generated kernels executed on the host, without a GPU: each source is
// compiled by the host C++ compiler against a small emulation of the CUDA built-ins (blocks one
// after another, a thread per CUDA thread, barriers for __syncthreads and warp shuffles) and its
// results are compared with the reference backend. Catches indexing, vector-width, reduction and
// split-K mistakes; skips when no host compiler is found.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "yirage/backend/cuda/block_codegen.h"
#include "yirage/backend/cuda/device_code.h"
#include "yirage/backend/cuda/gemv_codegen.h"
#include "yirage/backend/cuda/op_codegen.h"
#include "yirage/backend/random_inputs.h"
#include "yirage/backend/registry.h"
#include "yirage/ir/block_graph.h"
#include "yirage/workloads/workloads.h"

namespace yirage::backend::cuda {
namespace {

using core::DType;
using ir::OpKind;

// CUDA built-ins on the host; __shared__ is static storage (blocks run one at a time).
constexpr const char* kEmulation = R"(#include <barrier>
#include <bit>
#include <cmath>
#include <cstring>
#include <math.h>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>
struct uint4 { unsigned x, y, z, w; };
struct uint2 { unsigned x, y; };
inline uint4 make_uint4(unsigned a, unsigned b, unsigned c, unsigned d) { return {a, b, c, d}; }
struct emu_dim3 { unsigned x = 0, y = 0, z = 0; };
static thread_local emu_dim3 threadIdx, blockIdx;
static emu_dim3 blockDim, gridDim;
static std::barrier<>* emu_block = nullptr;
static std::vector<std::unique_ptr<std::barrier<>>> emu_warps;
static unsigned long long emu_lanes[1024];
static std::mutex emu_atomics;
#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
#define __restrict__
inline void __syncthreads() { emu_block->arrive_and_wait(); }
inline void __threadfence() {}
inline float __uint_as_float(unsigned u) { return std::bit_cast<float>(u); }
inline unsigned __float_as_uint(float f) { return std::bit_cast<unsigned>(f); }
inline float __int_as_float(int i) { return std::bit_cast<float>(i); }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline unsigned atomicAdd(unsigned* p, unsigned v) {
  std::lock_guard<std::mutex> lock(emu_atomics); const unsigned old = *p; *p = old + v; return old;
}
inline int atomicCAS(int* p, int expected, int v) {
  std::lock_guard<std::mutex> lock(emu_atomics); const int old = *p; if (old == expected) *p = v;
  return old;
}
inline uint4 yr_load_stream(const void* p) { uint4 r; std::memcpy(&r, p, 16); return r; }
inline float yr_load_coherent(const float* p) { return *p; }
inline void yr_prefetch_l2(const void*) {}
template <typename V> V __shfl_xor_sync(unsigned, V v, int offset) {
  const unsigned t = threadIdx.x;
  std::memcpy(&emu_lanes[t], &v, sizeof(V));
  emu_warps[t / 32]->arrive_and_wait();
  V other;
  std::memcpy(&other, &emu_lanes[t ^ offset], sizeof(V));
  emu_warps[t / 32]->arrive_and_wait();
  return other;
}
template <typename F> void emu_launch(const unsigned* grid, unsigned threads, F body) {
  blockDim = {threads, 1, 1};
  gridDim = {grid[0], grid[1], grid[2]};
  for (unsigned z = 0; z < grid[2]; ++z)
    for (unsigned y = 0; y < grid[1]; ++y)
      for (unsigned x = 0; x < grid[0]; ++x) {
        std::barrier<> block(threads);
        emu_block = &block;
        emu_warps.clear();
        for (unsigned w = 0; w * 32 < threads; ++w)
          emu_warps.push_back(std::make_unique<std::barrier<>>(32));
        std::vector<std::thread> lanes;
        for (unsigned t = 0; t < threads; ++t)
          lanes.emplace_back([=] { threadIdx = {t, 0, 0}; blockIdx = {x, y, z}; body(); });
        for (auto& lane : lanes) lane.join();
      }
}
)";

// Device-only pieces replaced for the host: f16 conversions, the GEMV's load helpers.
std::string for_host(std::string source) {
  auto replace = [&](const std::string& from, const std::string& to) {
    for (auto at = source.find(from); at != std::string::npos; at = source.find(from, at + 1))
      source.replace(at, from.size(), to);
  };
  replace("asm(\"cvt.f32.f16 %0, %1;\" : \"=f\"(f) : \"h\"(h));",
          "f = (float)std::bit_cast<_Float16>(h);");
  replace("asm(\"cvt.rn.f16.f32 %0, %1;\" : \"=h\"(h) : \"f\"(f));",
          "h = std::bit_cast<unsigned short>((_Float16)f);");
  const auto helpers = source.find("__device__ __forceinline__ uint4 yr_load_stream");
  if (helpers != std::string::npos)
    source.erase(helpers, source.find("extern \"C\"", helpers) - helpers);
  return source;
}

struct Case {
  std::string name;
  ir::KernelGraph graph;  // its last node is the op under test, its inputs are graph inputs
  KernelSource kernel;
  bool gemv = false;
  bool block = false;  // a customized node: block-graph kernel with a trailing scratch pointer
  std::size_t partial_bytes = 0, counter_bytes = 0;
};

Case op_case(std::string name, ir::KernelGraph graph) {
  const ir::Node& node = graph.nodes().back();
  std::vector<ir::TensorType> inputs;
  for (const auto& ref : node.inputs) inputs.push_back(graph.type(ref));
  KernelSource kernel = generate_op_kernel(node, inputs, 1);  // one SM: grid-stride loops
  return {std::move(name), std::move(graph), std::move(kernel)};
}

Case gemv_case(int64_t batches, int64_t m, int64_t n, int64_t k, bool transposed, DType dtype) {
  ir::KernelGraph g;
  auto shape = [&](int64_t rows, int64_t cols) {
    return batches > 1 ? core::Shape{batches, rows, cols} : core::Shape{rows, cols};
  };
  const auto a = g.input(shape(m, k), dtype);
  const auto b = g.input(transposed ? shape(n, k) : shape(k, n), dtype);
  g.mark_output(g.matmul(a, transposed ? g.transpose(b, -2, -1) : b));
  GemmShape s;
  s.m = m;
  s.n = n;
  s.k = k;
  s.batches = batches;
  s.a_stride = batches > 1 ? m * k : 0;
  s.b_stride = batches > 1 ? n * k : 0;
  s.b_transposed = transposed;
  s.dtype = dtype;
  const auto kernel = generate_gemv_kernel(s, 4);
  EXPECT_TRUE(kernel.has_value());
  Case c{"gemv " + std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k) +
             (transposed ? " B^T" : "") + " splits " + std::to_string(kernel->splits),
         std::move(g), kernel->kernel};
  c.gemv = true;
  c.partial_bytes = kernel->partial_bytes;
  c.counter_bytes = kernel->counter_bytes;
  return c;
}

// A block-graph kernel that must take the register (element-wise) schedule.
Case block_case(std::string name, ir::KernelGraph graph) {
  const BlockKernel block = generate_block_kernel(*graph.nodes().back().block_graph, 232448);
  EXPECT_EQ(block.kernel.source.find("yr_smem"), std::string::npos) << name;
  EXPECT_EQ(block.scratch_bytes, 0u) << name;
  Case c{std::move(name), std::move(graph), block.kernel};
  c.block = true;
  return c;
}

// Rows scaled, shifted, activated and normalised over 1024 columns, two rows' vectors per
// thread (rows spanning warps), with a per-row broadcast and a row-vector broadcast.
ir::KernelGraph broadcast_norm_graph() {
  const DType bf16 = DType::BF16;
  ir::KernelGraph g;
  const auto x = g.input({16, 1024}, bf16);
  const auto s = g.input({16, 1}, bf16);
  const auto b = g.input({1024}, bf16);
  const auto w = g.input({1024}, bf16);
  auto block = std::make_shared<ir::BlockGraph>(ir::Dim3{2, 1, 1});
  const auto bx = block->input(g.type(x), {0, -1, -1}, -1);
  const auto bs = block->input(g.type(s), {0, -1, -1}, -1);
  const auto bb = block->input(g.type(b), {-1, -1, -1}, -1);
  const auto bw = block->input(g.type(w), {-1, -1, -1}, -1);
  const auto shifted =
      block->add_op(OpKind::Add, {block->add_op(OpKind::Mul, {bx, bs}, {})[0], bb}, {})[0];
  const auto active = block->add_op(OpKind::Silu, {shifted}, {})[0];
  ir::Attrs eps;
  eps.set("eps", 1e-6);
  ir::Attrs half;
  half.set("scalar", 0.5);
  const auto normed = block->add_op(OpKind::RmsNorm, {active, bw}, eps)[0];
  block->output(block->add_op(OpKind::MulScalar, {normed}, half)[0], {0, -1, -1});
  block->output(active, {0, -1, -1});
  for (const auto& out : g.customized({x, s, b, w}, block)) g.mark_output(out);
  return g;
}

std::vector<Case> cases() {
  std::vector<Case> list;
  const DType bf16 = DType::BF16;
  {
    ir::KernelGraph g;
    const auto x = g.input({8, 512}, bf16);
    g.mark_output(g.binary(OpKind::Mul, x, g.input({512}, bf16)));
    list.push_back(op_case("mul, row broadcast", std::move(g)));
  }
  {
    ir::KernelGraph g;
    const auto x = g.input({4, 6, 16}, DType::F32);
    g.mark_output(g.binary(OpKind::Div, x, g.input({6, 1}, DType::F32)));
    list.push_back(op_case("div, middle broadcast", std::move(g)));
  }
  {
    ir::KernelGraph g;
    const auto x = g.input({4, 6, 5}, bf16);
    g.mark_output(g.binary(OpKind::Sub, x, g.input({4, 1, 5}, bf16)));
    list.push_back(op_case("sub, strided broadcast", std::move(g)));
  }
  for (const core::Shape& shape : std::vector<core::Shape>{{3, 2048}, {5, 100}, {1, 70000}}) {
    const std::string size = std::to_string(shape[0]) + "x" + std::to_string(shape[1]);
    ir::KernelGraph norm;
    const auto x = norm.input(shape, bf16);
    norm.mark_output(norm.rms_norm(x, norm.input({shape[1]}, bf16), 1e-6));
    list.push_back(op_case("rms_norm " + size, std::move(norm)));
    ir::KernelGraph soft;
    soft.mark_output(soft.softmax(soft.input(shape, DType::F32), -1));
    list.push_back(op_case("softmax " + size, std::move(soft)));
  }
  {
    ir::KernelGraph g;
    g.mark_output(g.reduce(OpKind::Max, g.input({9, 24}, bf16), 1, true));
    list.push_back(op_case("max over rows", std::move(g)));
  }
  {
    ir::KernelGraph g;
    g.mark_output(g.reduce(OpKind::Mean, g.input({4, 30, 6}, bf16), 1));
    list.push_back(op_case("mean over an inner dim", std::move(g)));
  }
  {
    ir::KernelGraph g;
    g.mark_output(g.softmax(g.input({4, 30, 16}, bf16), 1));
    list.push_back(op_case("softmax over an inner dim", std::move(g)));
  }
  {
    ir::KernelGraph g;
    g.mark_output(g.transpose(g.input({3, 40, 33}, bf16), 1, 2));
    list.push_back(op_case("transpose, tiles", std::move(g)));
  }
  {
    ir::KernelGraph g;
    g.mark_output(g.transpose(g.input({4, 6, 16}, bf16), 0, 1));
    list.push_back(op_case("transpose, vectors", std::move(g)));
  }
  {
    ir::KernelGraph g;
    const auto a = g.input({2, 3, 8}, bf16);
    g.mark_output(g.concat({a, g.input({2, 5, 8}, bf16)}, 1));
    list.push_back(op_case("concat", std::move(g)));
  }
  {
    ir::KernelGraph g;
    const auto parts = g.split(g.input({2, 8, 6}, bf16), {3, 5}, 1);
    g.mark_output(parts[0]);
    g.mark_output(parts[1]);
    list.push_back(op_case("split", std::move(g)));
  }
  {
    ir::KernelGraph g;
    const auto ids = g.input({5}, DType::I64);
    g.mark_output(g.embedding(ids, g.input({7, 24}, bf16)));
    list.push_back(op_case("embedding", std::move(g)));
  }
  {
    ir::KernelGraph g;
    const auto x = g.input({2, 5, 3, 16}, DType::F16);
    g.mark_output(g.rope(x, g.input({2, 5}, DType::I64), 10000.0));
    list.push_back(op_case("rope", std::move(g)));
  }
  list.push_back(block_case("ntrans block graph 8x4096", workloads::ntrans(8, 4096, bf16).fused));
  list.push_back(
      block_case("ntrans block graph 4x256 f32", workloads::ntrans(4, 256, DType::F32).fused));
  list.push_back(block_case("broadcast, silu, rms_norm block graph", broadcast_norm_graph()));
  list.push_back(gemv_case(1, 1, 256, 512, false, bf16));
  list.push_back(gemv_case(2, 4, 64, 300, false, DType::F32));
  list.push_back(gemv_case(1, 3, 24, 7, false, bf16));
  list.push_back(gemv_case(2, 4, 96, 64, true, bf16));
  return list;
}

double relative_error(const core::Tensor& out, const core::Tensor& ref) {
  double diff = 0, norm = 0;
  for (int64_t i = 0; i < ref.numel(); ++i) {
    const double o = out.get(i), r = ref.get(i);
    if (!std::isfinite(o)) return INFINITY;
    diff += (o - r) * (o - r);
    norm += r * r;
  }
  return std::sqrt(diff / std::max(norm, 1e-30));
}

TEST(CudaEmulated, GeneratedKernelsMatchTheReferenceOnTheHost) {
  const char* compiler = std::getenv("CXX") != nullptr ? std::getenv("CXX") : "c++";
  if (std::system((std::string(compiler) + " --version > /dev/null 2>&1").c_str()) != 0)
    GTEST_SKIP() << "no host C++ compiler (" << compiler << ")";
  std::vector<Case> list = cases();
  // One translation unit: the prelude once, each kernel renamed, with a launcher.
  const std::string prelude = device_prelude();
  std::string unit = std::string(kEmulation) + for_host(prelude);
  for (std::size_t i = 0; i < list.size(); ++i) {
    const Case& c = list[i];
    std::string entry = "emu_kernel";
    entry += std::to_string(i);
    std::string source = for_host(c.kernel.source.substr(prelude.size()));
    const std::string name = c.gemv ? "yr_gemv(" : "yr_kernel(";
    source.replace(source.find(name), name.size(), entry + "(");
    unit += source;
    const ir::Node& node = c.graph.nodes().back();
    std::vector<std::string> types;
    if (c.gemv) {
      const std::string t = storage_type(node.outputs[0].dtype);
      types = {"const " + t + "*", "const " + t + "*", t + "*", "float*", "unsigned*"};
    } else {
      for (const auto& ref : node.inputs)
        types.push_back("const " + storage_type(c.graph.type(ref).dtype) + "*");
      for (const auto& out : node.outputs) types.push_back(storage_type(out.dtype) + "*");
      if (node.op == OpKind::Embedding) types.push_back("int*");
      if (c.block) types.push_back("float*");
    }
    std::string call = entry;
    for (std::size_t p = 0; p < types.size(); ++p)
      call += (p ? ", (" : "((") + types[p] + ")args[" + std::to_string(p) + "]";
    unit += "extern \"C\" void emu_run" + std::to_string(i) +
            "(void** args, const unsigned* grid, unsigned threads) { emu_launch(grid, threads, "
            "[=] { " +
            call + "); }); }\n";
  }
  char pattern[] = "/tmp/yirage-emulated-XXXXXX";
  ASSERT_NE(mkdtemp(pattern), nullptr);
  const std::filesystem::path dir = pattern;
  std::ofstream(dir / "unit.cpp") << unit;
  const std::string command = std::string(compiler) + " -std=c++20 -O0 -w -shared -fPIC -o " +
                              (dir / "unit.so").string() + " " + (dir / "unit.cpp").string() +
                              " -lpthread 2> " + (dir / "log.txt").string();
  const int compiled = std::system(command.c_str());
  std::ifstream log_file(dir / "log.txt");
  const std::string log((std::istreambuf_iterator<char>(log_file)), {});
  ASSERT_EQ(compiled, 0) << log.substr(0, 4000);
  void* library = dlopen((dir / "unit.so").c_str(), RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(library, nullptr) << dlerror();
  for (std::size_t i = 0; i < list.size(); ++i) {
    const Case& c = list[i];
    using Launcher = void (*)(void**, const unsigned*, unsigned);
    const auto run =
        reinterpret_cast<Launcher>(dlsym(library, ("emu_run" + std::to_string(i)).c_str()));
    ASSERT_NE(run, nullptr);
    const auto inputs = random_inputs(c.graph, 100 + i);
    const auto expected = get_backend("reference").run(c.graph, inputs);
    std::vector<core::Tensor> outputs;
    for (const auto& type : c.graph.output_types())
      outputs.push_back(core::Tensor::empty(type.shape, type.dtype));
    // Operands in the node's order (graph inputs may be numbered differently).
    std::vector<void*> args;
    const ir::Node& node = c.graph.nodes().back();
    if (c.gemv) {
      for (const auto& input : inputs) args.push_back(input.data());
    } else {
      for (const auto& ref : node.inputs) {
        for (std::size_t k = 0; k < c.graph.input_nodes().size(); ++k)
          if (c.graph.input_nodes()[k] == ref.node) args.push_back(inputs[k].data());
      }
    }
    for (const auto& output : outputs) args.push_back(output.data());
    std::vector<int> status(3, 0);
    std::vector<float> partial(c.partial_bytes / sizeof(float) + 1);
    std::vector<unsigned> counters(c.counter_bytes / sizeof(unsigned) + 1, 0);
    if (c.gemv) {
      args.push_back(partial.data());
      args.push_back(counters.data());
    } else if (node.op == OpKind::Embedding) {
      args.push_back(status.data());
    } else if (c.block) {
      args.push_back(partial.data());
    }
    run(args.data(), c.kernel.grid.data(), c.kernel.block[0]);
    for (std::size_t o = 0; o < outputs.size(); ++o) {
      const double tolerance = outputs[o].dtype() == DType::F32 ? 1e-5 : 1e-2;
      EXPECT_LE(relative_error(outputs[o], expected[o]), tolerance) << c.name << " output " << o;
    }
    EXPECT_EQ(status[0], 0) << c.name;
    for (unsigned counter : counters) EXPECT_EQ(counter, 0u) << c.name << ": counters left set";
  }
  dlclose(library);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace yirage::backend::cuda
