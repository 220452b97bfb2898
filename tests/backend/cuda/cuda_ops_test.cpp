// The unfused CUDA path. Without a GPU: the GEMV generator's sources compile through NVRTC for
// sm_80 and sm_90 and it declines shapes it cannot run; the single-op generators pick vector,
// row and tile layouts as the shapes allow; the program's buffer plan (reshape aliases, fresh
// output buffers, transposes folded into GEMMs). On a GPU: every GEMM kernel choice against the
// reference, and the host time of a program run.
// On a GPU: build-gpu/tests/yirage_tests --gtest_filter='Cuda*:*Conformance*'
//           build-gpu/src/cli/yirage bench cuda-kernels --json /tmp/x.json
// (A/B: YIRAGE_CUDA_PDL=0 launches ordinarily; YIRAGE_CUDA_GEMM=cublaslt|gemv|tiled forces the
// GEMM kernel instead of the timed choice.)
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "yirage/backend/cuda/device_code.h"
#include "yirage/backend/cuda/gemv_codegen.h"
#include "yirage/backend/cuda/nvrtc.h"
#include "yirage/backend/cuda/op_codegen.h"
#include "yirage/backend/cuda/program.h"
#include "yirage/backend/cuda/program_plan.h"
#include "yirage/backend/cuda/runtime.h"
#include "yirage/backend/random_inputs.h"
#include "yirage/backend/registry.h"
#include "yirage/workloads/workloads.h"

namespace yirage::backend::cuda {
namespace {

using core::DType;

GemmShape gemm(int64_t m, int64_t n, int64_t k, DType dtype) {
  GemmShape shape;
  shape.m = m;
  shape.n = n;
  shape.k = k;
  shape.dtype = dtype;
  return shape;
}

// P @ V of GQA decode: 8 kv heads, 4 query rows, 4096 keys, head dim 128.
GemmShape attention_values() {
  GemmShape shape = gemm(4, 128, 4096, DType::BF16);
  shape.batches = 8;
  shape.a_stride = 4 * 4096;
  shape.b_stride = 4096 * 128;
  return shape;
}

// q @ k^T of GQA decode: 8 kv heads, 4 query rows, 4096 keys stored [keys, 128].
GemmShape attention_scores() {
  GemmShape shape = gemm(4, 4096, 128, DType::BF16);
  shape.batches = 8;
  shape.a_stride = 4 * 128;
  shape.b_stride = 4096 * 128;
  shape.b_transposed = true;
  return shape;
}

GemmShape transposed(GemmShape shape) {
  shape.b_transposed = true;
  return shape;
}

TEST(CudaGemv, SourcesCompileThroughNvrtcForSm80AndSm90) {
  std::string why;
  if (!nvrtc_available(&why)) GTEST_SKIP() << why;
  const std::vector<GemmShape> shapes = {
      gemm(1, 6144, 4096, DType::BF16),  // split along K, last-block sum
      gemm(8, 4096, 1024, DType::F16),
      gemm(5, 48, 72, DType::F32),
      gemm(3, 24, 7, DType::BF16),  // one split, a partial tile
      attention_values(),           // batched, 16 lanes per row of B
      attention_scores(),           // B^T rows: dot products reduced by shuffles
      transposed(gemm(3, 50, 24, DType::F32)),
  };
  // One translation unit: the prelude and the load helpers once, entries renamed.
  std::string merged = device_prelude();
  int count = 0;
  for (const GemmShape& shape : shapes) {
    const auto kernel = generate_gemv_kernel(shape, 132);
    ASSERT_TRUE(kernel.has_value());
    std::string source = kernel->kernel.source.substr(device_prelude().size());
    const auto entry = source.find("extern \"C\"");
    ASSERT_NE(entry, std::string::npos);
    if (count == 0) merged += source.substr(0, entry);
    source = source.substr(entry);
    source.replace(source.find("yr_gemv("), 8, "yr_gemv_" + std::to_string(count++) + "(");
    merged += source;
  }
  for (const char* arch : {"compute_80", "compute_90"})
    EXPECT_GT(compile_cuda_ptx(merged, arch), 1000u) << arch;
}

TEST(CudaGemv, SplitsAlongKToFillTheDeviceAndSizesItsWorkspace) {
  const auto kernel = generate_gemv_kernel(gemm(1, 6144, 4096, DType::BF16), 132);
  ASSERT_TRUE(kernel.has_value());
  EXPECT_EQ(kernel->kernel.grid[0], 24u);  // 6144 columns / (32 lanes x 8)
  EXPECT_GT(kernel->splits, 8);
  EXPECT_EQ(kernel->kernel.grid[1], static_cast<unsigned>(kernel->splits));
  EXPECT_EQ(kernel->partial_bytes, static_cast<std::size_t>(kernel->splits) * 6144 * 4);
  EXPECT_EQ(kernel->counter_bytes, 24u * 4);
  const auto values = generate_gemv_kernel(attention_values(), 132);
  ASSERT_TRUE(values.has_value());
  EXPECT_EQ(values->kernel.grid[0], 1u);  // 16 lanes x 8 columns cover the 128 columns
  EXPECT_EQ(values->kernel.grid[2], 8u);
  EXPECT_EQ(values->counter_bytes, 8u * 4);
  const auto small = generate_gemv_kernel(gemm(3, 24, 7, DType::BF16), 132);
  ASSERT_TRUE(small.has_value());
  EXPECT_EQ(small->splits, 1);
  EXPECT_EQ(small->partial_bytes, 0u);
}

TEST(CudaGemv, DeclinesShapesItCannotRun) {
  EXPECT_FALSE(generate_gemv_kernel(gemm(9, 64, 64, DType::BF16), 132));  // too many rows
  EXPECT_FALSE(generate_gemv_kernel(gemm(1, 20, 64, DType::BF16), 132));  // 40-byte rows
  EXPECT_FALSE(generate_gemv_kernel(gemm(1, 64, 64, DType::I32), 132));
  GemmShape batched = gemm(1, 64, 64, DType::BF16);
  batched.batches = 70000;
  EXPECT_FALSE(generate_gemv_kernel(batched, 132));
  GemmShape transposed = gemm(1, 64, 1030, DType::BF16);  // rows of B^T not 16-byte multiples
  transposed.b_transposed = true;
  EXPECT_FALSE(generate_gemv_kernel(transposed, 132));
  transposed.k = 1024;  // more than 64 vectors per row of B^T
  EXPECT_FALSE(generate_gemv_kernel(transposed, 132));
  transposed.k = 128;
  EXPECT_TRUE(generate_gemv_kernel(transposed, 132));
}

// The kernel generated for the last node of `g` on a 132-SM device.
KernelSource last_kernel(const ir::KernelGraph& g) {
  const ir::Node& node = g.nodes().back();
  std::vector<ir::TensorType> inputs;
  for (const auto& ref : node.inputs) inputs.push_back(g.type(ref));
  return generate_op_kernel(node, inputs, 132);
}

bool has(const KernelSource& kernel, const std::string& text) {
  return kernel.source.find(text) != std::string::npos;
}

TEST(CudaOpCodegen, ElementWiseOpsUseVectorsWhereTheShapesAllow) {
  ir::KernelGraph same;
  const auto x = same.input({4096, 4096}, DType::BF16);
  same.binary(ir::OpKind::Add, x, same.input({4096}, DType::BF16));  // row broadcast
  const KernelSource wide = last_kernel(same);
  EXPECT_TRUE(has(wide, "uint4"));
  EXPECT_EQ(wide.grid[0], 132u * 8);  // grid-stride, capped to the device
  // Launched as a programmatic dependent: it waits for its producers before any memory access.
  const auto body = wide.source.find("{\n", wide.source.find("yr_kernel("));
  EXPECT_LT(wide.source.find("griddepcontrol.wait", body), wide.source.find("in0", body));
  ir::KernelGraph odd;
  odd.binary(ir::OpKind::Add, odd.input({3, 5, 7}, DType::BF16), odd.input({5, 1}, DType::BF16));
  const KernelSource scalar = last_kernel(odd);
  EXPECT_FALSE(has(scalar, "uint4"));
  EXPECT_TRUE(has(scalar, "% 5LL"));
  ir::KernelGraph half;  // rows of 12 bf16: 8-byte vectors
  half.unary(ir::OpKind::Exp, half.input({5, 12}, DType::BF16));
  EXPECT_TRUE(has(last_kernel(half), "uint2"));
}

TEST(CudaOpCodegen, RowKernelsPickLaneGroupsBlocksOrStridedPasses) {
  auto norm = [](core::Shape shape) {
    ir::KernelGraph g;
    g.rms_norm(g.input(shape, DType::BF16), g.input({shape.back()}, DType::BF16));
    return last_kernel(g);
  };
  const KernelSource block = norm({3, 4096});  // 512 vectors: 128 threads, 4 each
  EXPECT_EQ(block.block[0], 128u);
  EXPECT_TRUE(has(block, "yr_block_sum"));
  EXPECT_TRUE(has(block, "x_r[4]"));
  const KernelSource lanes = norm({5, 100});  // 25 vectors of 4: a warp per row
  EXPECT_EQ(lanes.block[0], 256u);
  EXPECT_TRUE(has(lanes, "__shfl_xor_sync"));
  EXPECT_TRUE(has(lanes, "uint2"));
  ir::KernelGraph g;
  g.softmax(g.input({1, 150000}, DType::BF16), -1);
  const KernelSource strided = last_kernel(g);  // too long to hold: re-read each pass
  EXPECT_EQ(strided.block[0], 1024u);
  EXPECT_TRUE(has(strided, "idx += 1024LL"));
}

TEST(CudaOpCodegen, TransposesTileTheLastTwoDimsAndCopyVectorsOtherwise) {
  ir::KernelGraph last;
  last.transpose(last.input({3, 40, 33}, DType::BF16), 1, 2);
  EXPECT_TRUE(has(last_kernel(last), "tile[32][33]"));
  ir::KernelGraph outer;
  outer.transpose(outer.input({4, 6, 16}, DType::BF16), 0, 1);
  const KernelSource copy = last_kernel(outer);
  EXPECT_TRUE(has(copy, "const uint4*"));
  EXPECT_FALSE(has(copy, "tile["));
}

TEST(CudaProgramPlan, TransposeReadOnlyByGemmsFoldsIntoThem) {
  const auto w = workloads::attention_decode(2, 4, 256, 64, DType::BF16, false);
  const ir::KernelGraph& g = w.naive;
  const BufferPlan plan = plan_buffers(g, [](int32_t) { return true; });
  int folded = 0, transposed_reads = 0;
  for (std::size_t n = 0; n < g.nodes().size(); ++n) {
    folded += plan.folded[n] ? 1 : 0;
    transposed_reads += plan.reads_b_transposed[n] ? 1 : 0;
    if (plan.folded[n]) {
      EXPECT_EQ(g.nodes()[n].op, ir::OpKind::Transpose);
    }
  }
  EXPECT_EQ(folded, 1);
  EXPECT_EQ(transposed_reads, 1);
  // Without library GEMMs nothing folds.
  const BufferPlan plain = plan_buffers(g, [](int32_t) { return false; });
  for (std::size_t n = 0; n < g.nodes().size(); ++n) EXPECT_FALSE(plain.folded[n]);
}

TEST(CudaProgramPlan, TransposeThatIsAlsoAnOutputStillRuns) {
  ir::KernelGraph g;
  const auto a = g.input({2, 4, 8}, DType::F32);
  const auto b = g.input({2, 16, 8}, DType::F32);
  const auto bt = g.transpose(b, 1, 2);
  g.mark_output(g.matmul(a, bt));
  g.mark_output(bt);
  const BufferPlan plan = plan_buffers(g, [](int32_t) { return true; });
  EXPECT_FALSE(plan.folded[bt.node]);
  EXPECT_TRUE(plan.reads_b_transposed[3]);  // the matmul still reads b in place
  EXPECT_FALSE(swaps_last_two_dims(g.nodes()[g.transpose(b, 0, 2).node]));
}

TEST(CudaProgramPlan, OutputsAreFreshAndReshapesAliasTheirSource) {
  ir::KernelGraph g;
  const auto x = g.input({4, 6}, DType::F32);
  const auto hidden = g.unary(ir::OpKind::Exp, x);  // intermediate: kept across runs
  const auto y = g.unary(ir::OpKind::Neg, hidden);  // output through a reshape
  const auto shaped = g.reshape(y, {24});
  g.mark_output(shaped);
  g.mark_output(g.reshape(x, {6, 4}));  // an input passed through
  const BufferPlan plan = plan_buffers(g, [](int32_t) { return false; });
  EXPECT_EQ(plan.slots(), 5u);
  EXPECT_FALSE(plan.fresh[plan.slot(hidden)]);
  EXPECT_TRUE(plan.fresh[plan.slot(y)]);
  EXPECT_EQ(plan.root[plan.slot(shaped)], plan.slot(y));
  EXPECT_TRUE(plan.input[plan.slot(x)]);
  EXPECT_FALSE(plan.fresh[plan.slot(x)]);
  EXPECT_EQ(plan.root[4], plan.slot(x));
}

// Matmuls of few rows, odd sizes, batches and transposed operands, run by a fresh program with
// each GEMM kernel forced in turn (YIRAGE_CUDA_GEMM), against the reference backend.
TEST(CudaGemm, EveryKernelChoiceMatchesTheReference) {
  const Availability available = get_backend("cuda").available();
  if (!available.available) GTEST_SKIP() << "no CUDA here: " << available.reason;
  std::vector<ir::KernelGraph> graphs;
  auto product = [&](core::Shape a, core::Shape b, DType dtype, bool transpose_b) {
    ir::KernelGraph g;
    const auto x = g.input(a, dtype);
    const auto y = g.input(b, dtype);
    g.mark_output(g.matmul(x, transpose_b ? g.transpose(y, -2, -1) : y));
    graphs.push_back(std::move(g));
  };
  product({1, 1024}, {1024, 768}, DType::BF16, false);  // GEMV split along K
  product({8, 256}, {256, 136}, DType::F16, false);     // partial column tile
  product({5, 72}, {72, 48}, DType::F32, false);
  product({3, 37}, {37, 64}, DType::BF16, false);        // K not a multiple of the unroll
  product({2, 4, 64}, {2, 96, 64}, DType::BF16, true);   // q @ k^T, batched
  product({3, 7, 33}, {33, 10}, DType::F32, false);      // shared B, odd sizes
  product({2, 4, 96}, {2, 96, 64}, DType::BF16, false);  // P @ V, batched, narrow B
  product({4, 8}, {3, 8, 16}, DType::F16, false);        // shared A
  Runtime& runtime = Runtime::get();
  uint64_t seed = 11;
  for (const char* mode : {"cublaslt", "gemv", "tiled", ""}) {
    setenv("YIRAGE_CUDA_GEMM", mode, 1);
    for (const auto& graph : graphs) {
      const auto inputs = random_inputs(graph, seed++);
      const auto expected = get_backend("reference").run(graph, inputs);
      std::vector<core::Tensor> device;
      for (const auto& input : inputs) device.push_back(runtime.to_device(input));
      Program program(runtime, graph);
      for (int run = 0; run < 2; ++run) {  // the second run reuses the kept buffers
        const core::Tensor out = runtime.to_host(program.run(device)[0]);
        double diff = 0, norm = 0;
        for (int64_t i = 0; i < out.numel(); ++i) {
          const double o = out.get(i), r = expected[0].get(i);
          diff += (o - r) * (o - r);
          norm += r * r;
        }
        const double tolerance = out.dtype() == DType::F32 ? 1e-4 : 2e-2;
        EXPECT_LE(std::sqrt(diff / std::max(norm, 1e-30)), tolerance)
            << "mode '" << mode << "' " << graph.type(graph.outputs()[0]).to_string();
      }
    }
  }
  unsetenv("YIRAGE_CUDA_GEMM");
}

// Host time of Program::run for five small kernels (Mirage nTrans: rms_norm, add, mul, add,
// rms_norm on 8 x 4096 bf16), queued back to back; reported, with a generous bound.
TEST(CudaProgram, HostTimePerRunOfFiveSmallKernels) {
  const Availability available = get_backend("cuda").available();
  if (!available.available) GTEST_SKIP() << "no CUDA here: " << available.reason;
  ir::KernelGraph g;
  const auto h = g.input({8, 4096}, DType::BF16);
  const auto x = g.input({8, 4096}, DType::BF16);
  const auto alpha = g.input({8, 4096}, DType::BF16);
  const auto ones = g.input({4096}, DType::BF16);
  const auto inner = g.binary(ir::OpKind::Add, g.rms_norm(h, ones), x);
  g.mark_output(
      g.rms_norm(g.binary(ir::OpKind::Add, x, g.binary(ir::OpKind::Mul, alpha, inner)), ones));
  Runtime& runtime = Runtime::get();
  std::vector<core::Tensor> device;
  for (const auto& input : random_inputs(g, 5)) device.push_back(runtime.to_device(input));
  Program program(runtime, g);
  EXPECT_EQ(program.stats().generated, 5);
  for (int i = 0; i < 10; ++i) program.run(device);
  runtime.synchronize();
  constexpr int kRuns = 100;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kRuns; ++i) program.run(device);
  const double host_us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() /
      kRuns;
  runtime.synchronize();
  std::cout << "host time per Program::run of 5 kernels: " << host_us << " us\n";
  RecordProperty("host_us_per_run", std::to_string(host_us));
  EXPECT_LT(host_us, 200.0);
}

}  // namespace
}  // namespace yirage::backend::cuda
