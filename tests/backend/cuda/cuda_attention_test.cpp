// The attention schedule for block graphs: which graphs it takes, the shape of what it
// generates, and that every kernel it generates compiles (NVRTC and ptxas, sm_80 and sm_90; no
// GPU needed). The kernels also run on the CPU under tensor-core emulation
// (cuda_attention_emulation_test.cpp). Results are checked on a GPU by the conformance suite and
// the CUDA backend tests:
//   tests/gpu/run.sh build-gpu   (Cuda* and *Conformance*: the conformance suite's bf16
//                                 attention cases, D = 24, run through this schedule; the
//                                 CudaBackend workload graphs, every path of the schedule)
//   build-gpu/src/cli/yirage bench cuda-kernels --only gqa --json /tmp/gqa.json
//   build-gpu/src/cli/yirage bench cuda-kernels --only qknorm --json /tmp/qknorm.json
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "backend/cuda/cuda_test_graphs.h"
#include "yirage/backend/cuda/attention_pattern.h"
#include "yirage/backend/cuda/attention_schedule.h"
#include "yirage/backend/cuda/block_codegen.h"
#include "yirage/backend/cuda/device_code.h"
#include "yirage/backend/cuda/nvrtc.h"
#include "yirage/ir/block_graph.h"
#include "yirage/search/lowering.h"
#include "yirage/workloads/workloads.h"

namespace yirage::backend::cuda {
namespace {

using core::DType;
using workloads::Tiling;
using workloads::Workload;

constexpr int kSm80Shared = 166912;
constexpr int kSm90Shared = 232448;

// Every attention workload the benchmarks and tests build: the standard set, the benchmark
// tilings and the small test shapes, in bf16 and f16.
std::vector<Workload> attention_workloads() {
  std::vector<Workload> list;
  for (auto& w : workloads::standard_workloads()) {
    if (w.name == "gqa_decode" || w.name == "qk_norm_attention") list.push_back(std::move(w));
  }
  for (DType dtype : {DType::BF16, DType::F16}) {
    for (bool norm : {false, true}) {
      for (Tiling t : {Tiling{16, 4}, Tiling{32, 2}, Tiling{8, 8}, Tiling{64, 0}})
        list.push_back(workloads::attention_decode(8, 4, 4096, 128, dtype, norm, t));
      for (Tiling t : {Tiling{16, 4}, Tiling{32, 4}, Tiling{64, 2}, Tiling{8, 8}, Tiling{4, 16}})
        list.push_back(workloads::attention_decode(16, 256, 4096, 64, dtype, norm, t));
      list.push_back(workloads::attention_decode(2, 4, 256, 64, dtype, norm, {1, 0}));
      list.push_back(workloads::attention_decode(2, 40, 256, 64, dtype, norm, {1, 0}));
      list.push_back(workloads::attention_decode(1, 96, 512, 32, dtype, norm, {2, 0}));
      list.push_back(workloads::attention_decode(2, 4, 96, 16, dtype, norm, {2, 3}));
      // The conformance suite's shape: a head dim padded to 32 in shared memory.
      list.push_back(workloads::attention_decode(2, 3, 96, 24, dtype, norm, {2, 4}));
      list.push_back(workloads::attention_decode(2, 3, 60, 24, dtype, norm, {1, 5}));
      // KV ranges that are no multiple of 16: the last tile's rows past the range masked.
      list.push_back(workloads::attention_decode(2, 4, 200, 64, dtype, norm, {2, 0}));
    }
  }
  return list;
}

std::vector<const ir::BlockGraph*> block_graphs(const ir::KernelGraph& graph) {
  std::vector<const ir::BlockGraph*> result;
  for (const auto& node : graph.nodes()) {
    if (node.op == ir::OpKind::Customized) result.push_back(node.block_graph.get());
  }
  return result;
}

TEST(CudaAttention, ScheduleTakesEveryAttentionWorkloadAndItsCombine) {
  for (const Workload& w : attention_workloads()) {
    const auto graphs = block_graphs(w.fused);
    ASSERT_FALSE(graphs.empty()) << w.shape;
    const auto loop = match_attention(*graphs[0]);
    ASSERT_TRUE(loop.has_value()) << w.name << " " << w.shape;
    EXPECT_EQ(loop->partial, graphs.size() == 2) << w.shape;
    EXPECT_EQ(loop->q_gain >= 0, w.name == "qk_norm_attention");
    EXPECT_EQ(loop->k_gain >= 0, w.name == "qk_norm_attention");
    EXPECT_NEAR(loop->scale, 1.0 / std::sqrt(static_cast<double>(loop->head_dim)), 1e-12);
    const BlockKernel kernel = generate_block_kernel(*graphs[0], kSm90Shared);
    EXPECT_NE(kernel.kernel.source.find("attention schedule: flash"), std::string::npos) << w.shape;
    EXPECT_EQ(kernel.scratch_bytes, 0u);
    EXPECT_LE(kernel.kernel.shared_bytes, kSm90Shared);
    if (graphs.size() == 2) {
      EXPECT_TRUE(match_combine(*graphs[1]).has_value()) << w.shape;
      const std::string combine = generate_block_kernel(*graphs[1], kSm90Shared).kernel.source;
      EXPECT_NE(combine.find("attention schedule: split-KV combine"), std::string::npos);
    }
  }
}

TEST(CudaAttention, ScheduleTakesKStoredByColumns) {
  for (const auto& [graph, splits] :
       {std::pair{testing::attention_with_k_by_columns(2, 4, 512, 64, DType::BF16, 2, 4), 2},
        {testing::attention_with_k_by_columns(2, 20, 200, 24, DType::F16, 1, 5), 1}}) {
    const auto graphs = block_graphs(graph);
    ASSERT_EQ(graphs.size(), splits == 1 ? 1u : 2u);
    const auto loop = match_attention(*graphs[0]);
    ASSERT_TRUE(loop.has_value());
    EXPECT_TRUE(loop->k_transposed);
    EXPECT_EQ(loop->splits, splits);
    const std::string source = generate_block_kernel(*graphs[0], kSm90Shared).kernel.source;
    EXPECT_NE(source.find("d * BN + ((kc ^ (d & SWZK)) << 3)"), std::string::npos);
    if (splits > 1) {
      EXPECT_TRUE(match_combine(*graphs[1]).has_value());
    }
  }
  // K by columns with a KV range that is no multiple of 8 (no 16-byte runs): the generic path.
  const auto ragged = testing::attention_with_k_by_columns(1, 4, 36, 32, DType::BF16, 1, 1);
  EXPECT_TRUE(match_attention(*block_graphs(ragged)[0]).has_value());
  EXPECT_FALSE(try_generate_attention_kernel(*block_graphs(ragged)[0], kSm90Shared).has_value());
}

TEST(CudaAttention, ScheduleTakesTheSearchsLoweredAttentionAndItsSplit) {
  for (bool norm : {false, true}) {
    const Workload w = workloads::attention_decode(4, 8, 512, 64, DType::BF16, norm);
    search::Frame frame;
    frame.grid = {4, 1, 1};
    frame.forloop = 8;
    frame.imaps = {{0, -1, -1}, {0, -1, -1}, {0, -1, -1}};
    frame.fmaps = {-1, 1, 1};
    if (norm) {
      frame.imaps.push_back({-1, -1, -1});
      frame.imaps.push_back({-1, -1, -1});
      frame.fmaps.push_back(-1);
      frame.fmaps.push_back(-1);
    }
    const auto one = search::lower_to_frame(w.naive, frame);
    ASSERT_TRUE(one.has_value());
    const auto loop = match_attention(*block_graphs(*one).at(0));
    ASSERT_TRUE(loop.has_value());
    EXPECT_FALSE(loop->partial);
    EXPECT_EQ(loop->q_gain >= 0, norm);
    const auto split = search::split_reduction(*one, 4);
    ASSERT_TRUE(split.has_value());
    const auto graphs = block_graphs(*split);
    ASSERT_EQ(graphs.size(), 2u);
    const auto partial = match_attention(*graphs[0]);
    ASSERT_TRUE(partial.has_value());
    EXPECT_TRUE(partial->partial);
    EXPECT_EQ(partial->splits, 4);
    EXPECT_EQ(partial->kv_block, 128);
    EXPECT_TRUE(match_combine(*graphs[1]).has_value());
  }
}

TEST(CudaAttention, ScheduleTakesTheSearchsLoweredAttentionWithKByColumns) {
  // Mirage's GQA layout: K as [heads, head_dim, kv], multiplied without a transpose.
  ir::KernelGraph naive;
  const auto q = naive.input({2, 64, 64}, DType::BF16);
  const auto k = naive.input({2, 64, 512}, DType::BF16);
  const auto v = naive.input({2, 512, 64}, DType::BF16);
  const auto scores = naive.unary(ir::OpKind::MulScalar, naive.matmul(q, k), 0.125);
  naive.mark_output(naive.matmul(naive.softmax(scores, -1), v));
  search::Frame frame;
  frame.grid = {2, 1, 1};
  frame.forloop = 8;
  frame.imaps = {{0, -1, -1}, {0, -1, -1}, {0, -1, -1}};
  frame.fmaps = {-1, 2, 1};
  const auto one = search::lower_to_frame(naive, frame);
  ASSERT_TRUE(one.has_value());
  const auto loop = match_attention(*block_graphs(*one).at(0));
  ASSERT_TRUE(loop.has_value());
  EXPECT_TRUE(loop->k_transposed);
  const auto split = search::split_reduction(*one, 4);
  ASSERT_TRUE(split.has_value());
  const auto partial = match_attention(*block_graphs(*split).at(0));
  ASSERT_TRUE(partial.has_value());
  EXPECT_TRUE(partial->partial);
  EXPECT_TRUE(partial->k_transposed);
  EXPECT_EQ(partial->kv_block, 128);
}

TEST(CudaAttention, OtherGraphsKeepTheGenericPath) {
  std::vector<Workload> others;
  others.push_back(workloads::rms_norm_matmul(4, 256, 512, DType::BF16));
  others.push_back(workloads::gated_mlp(4, 256, 384, DType::BF16));
  others.push_back(workloads::lora(4, 256, 512, 16, DType::BF16));
  for (const Workload& w : others) {
    for (const ir::BlockGraph* graph : block_graphs(w.fused)) {
      EXPECT_FALSE(match_attention(*graph).has_value()) << w.name;
      EXPECT_FALSE(match_combine(*graph).has_value()) << w.name;
      EXPECT_FALSE(try_generate_attention_kernel(*graph, kSm90Shared).has_value()) << w.name;
    }
  }
  // f32 attention (no bf16/f16 tensor-core path) and head dims that are not a multiple of 8
  // loop through the generic kernel; their split-KV combine still takes the schedule.
  for (const Workload& w : {workloads::attention_decode(2, 3, 96, 32, DType::F32, false, {2, 4}),
                            workloads::attention_decode(2, 3, 96, 20, DType::BF16, true, {2, 4})}) {
    const auto graphs = block_graphs(w.fused);
    ASSERT_EQ(graphs.size(), 2u);
    EXPECT_FALSE(try_generate_attention_kernel(*graphs[0], kSm90Shared).has_value()) << w.shape;
    const std::string combine = generate_block_kernel(*graphs[1], kSm90Shared).kernel.source;
    EXPECT_NE(combine.find("split-KV combine"), std::string::npos) << w.shape;
  }
  // More splits than the combine's lanes hold (32 lanes of 4): the generic combine.
  {
    const Workload many = workloads::attention_decode(1, 2, 4096, 16, DType::BF16, false, {256, 1});
    const auto graphs = block_graphs(many.fused);
    EXPECT_TRUE(match_combine(*graphs[1]).has_value());
    EXPECT_FALSE(try_generate_attention_kernel(*graphs[1], kSm90Shared).has_value());
    EXPECT_TRUE(try_generate_attention_kernel(*graphs[0], kSm90Shared).has_value());
  }
  // A device allowing 64 KB of shared memory per block is older than sm_80 (no cp.async, no
  // bf16 mma): the generic kernel, though the tiles would fit.
  {
    const Workload small = workloads::attention_decode(2, 4, 256, 64, DType::BF16, false, {1, 0});
    const ir::BlockGraph& graph = *block_graphs(small.fused)[0];
    EXPECT_FALSE(try_generate_attention_kernel(graph, 65536).has_value());
    EXPECT_TRUE(try_generate_attention_kernel(graph, 101376).has_value());  // sm_86, sm_89
  }
  // Too little shared memory for even a two-stage pipeline: the generic kernel.
  const Workload w = workloads::attention_decode(2, 4, 256, 128, DType::BF16, false, {1, 0});
  const ir::BlockGraph& graph = *block_graphs(w.fused)[0];
  EXPECT_FALSE(try_generate_attention_kernel(graph, 8192).has_value());
  EXPECT_EQ(generate_block_kernel(graph, 8192).kernel.source.find("attention schedule"),
            std::string::npos);
}

TEST(CudaAttention, AnExtraOpInTheLoopIsNotAttention) {
  // The workload's loop with the exp replaced by exp followed by a square: no longer softmax.
  auto b = std::make_shared<ir::BlockGraph>(ir::Dim3{2, 1, 1}, ir::Dim3{128, 1, 1}, 4, 64);
  const ir::TensorRef q = b->input({{2, 4, 64}, DType::BF16}, {0, -1, -1}, -1);
  const ir::TensorRef k = b->input({{2, 256, 64}, DType::BF16}, {0, -1, -1}, 1);
  const ir::TensorRef v = b->input({{2, 256, 64}, DType::BF16}, {0, -1, -1}, 1);
  ir::Attrs transpose;
  transpose.set("dim0", int64_t{1}).set("dim1", int64_t{2});
  ir::Attrs reduce;
  reduce.set("dim", int64_t{2}).set("keepdim", true);
  const auto kt = b->add_op(ir::OpKind::Transpose, {k}, transpose)[0];
  const auto s = b->add_op(ir::OpKind::Matmul, {q, kt}, {})[0];
  const auto m = b->add_op(ir::OpKind::Max, {s}, reduce)[0];
  const auto sub = b->add_op(ir::OpKind::Sub, {s, m}, {})[0];
  const auto e = b->add_op(ir::OpKind::Square, {b->add_op(ir::OpKind::Exp, {sub}, {})[0]}, {})[0];
  const auto sum =
      b->accumulate(ir::AccumKind::RescaledSum, b->add_op(ir::OpKind::Sum, {e}, reduce)[0], m);
  const auto out =
      b->accumulate(ir::AccumKind::RescaledSum, b->add_op(ir::OpKind::Matmul, {e, v}, {})[0], m);
  b->output(b->add_op(ir::OpKind::Div, {out, sum}, {})[0], {0, -1, -1});
  EXPECT_FALSE(match_attention(*b).has_value());
  EXPECT_EQ(generate_block_kernel(*b, kSm90Shared).kernel.source.find("attention schedule"),
            std::string::npos);
}

TEST(CudaAttention, LaunchShapesFollowTheHeadsSplitsAndQueryRows) {
  {  // decode: 4 query rows of a KV head in one 16-row tile, 4 warps splitting the KV tiles
    const Workload w = workloads::attention_decode(8, 4, 4096, 128, DType::BF16, false, {32, 2});
    const auto graphs = block_graphs(w.fused);
    const BlockKernel loop = generate_block_kernel(*graphs[0], kSm90Shared);
    EXPECT_EQ(loop.kernel.grid, (std::array<unsigned, 3>{8, 32, 1}));
    EXPECT_EQ(loop.kernel.block, (std::array<unsigned, 3>{128, 1, 1}));
    EXPECT_NE(loop.kernel.source.find("WK = 4"), std::string::npos);
    // Two stages of 64 K and V rows (128 KV rows per block), bf16 (the query rows go straight
    // to registers). Both tiles in flight from the start: three stages, two buffers.
    EXPECT_EQ(loop.kernel.shared_bytes, 2 * (2 * 64 * 128 * 2));
    EXPECT_TRUE(loop.kernel.dependent);
    EXPECT_NE(loop.kernel.source.find("griddepcontrol.wait"), std::string::npos);
    // Fewer than four blocks a SM fit in shared memory: no register bound.
    EXPECT_NE(loop.kernel.source.find("__launch_bounds__(128, 1)"), std::string::npos);
    EXPECT_NE(loop.kernel.source.find("NS = 3, NB = 2"), std::string::npos);
    const BlockKernel combine = generate_block_kernel(*graphs[1], kSm90Shared);
    // 8 heads x 4 rows x 16 chunks of 8, 8 lanes of 4 splits each.
    EXPECT_EQ(combine.kernel.grid[0], 8u * 4 * 16 * 8 / 256);
    EXPECT_NE(combine.kernel.source.find("G = 8"), std::string::npos);
    EXPECT_TRUE(combine.kernel.dependent);
    EXPECT_NE(combine.kernel.source.find("uint4"), std::string::npos);
  }
  {  // one tile per block: one buffer, reused after the loop to merge the 4 warps' results
    const Workload w = workloads::attention_decode(8, 4, 4096, 128, DType::BF16, false, {64, 1});
    const BlockKernel loop = generate_block_kernel(*block_graphs(w.fused)[0], kSm90Shared);
    EXPECT_EQ(loop.kernel.grid, (std::array<unsigned, 3>{8, 64, 1}));
    EXPECT_EQ(loop.kernel.shared_bytes, 4 * 16 * (128 + 6) * 4);
    EXPECT_NE(loop.kernel.source.find("NS = 2, NB = 1"), std::string::npos);
    // 512 blocks: four a SM (one wave), at most 128 registers a thread.
    EXPECT_NE(loop.kernel.source.find("__launch_bounds__(128, 4)"), std::string::npos);
  }
  {  // Mirage GQA: 256 query rows in blocks of 64 (4 warps of 16 rows), 3 stages
    const Workload w = workloads::attention_decode(2, 256, 4096, 64, DType::BF16, true, {16, 4});
    const BlockKernel loop = generate_block_kernel(*block_graphs(w.fused)[0], kSm90Shared);
    EXPECT_EQ(loop.kernel.grid, (std::array<unsigned, 3>{2, 16, 4}));
    // Three stages and the tile's 64 K-row factors of the QK-norm.
    EXPECT_EQ(loop.kernel.shared_bytes, 3 * (2 * 64 * 64 * 2) + 64 * 4);
    // 128 blocks, one a SM: no register bound.
    EXPECT_NE(loop.kernel.source.find("__launch_bounds__(128, 2)"), std::string::npos);
    // One warp per 16 rows: O stored from registers, two entries a store, no merge.
    EXPECT_NE(loop.kernel.source.find("= ya_pack_bf16(o[n][2 * h] * f"), std::string::npos);
    EXPECT_EQ(loop.kernel.source.find("Fo[("), std::string::npos);
  }
  {  // Mirage GQA at batch 8 in 8 splits: 256 blocks of 128 rows (8 warps), two a SM
    const Workload w = workloads::attention_decode(16, 256, 4096, 64, DType::BF16, false, {8, 8});
    const BlockKernel loop = generate_block_kernel(*block_graphs(w.fused)[0], kSm90Shared);
    EXPECT_EQ(loop.kernel.grid, (std::array<unsigned, 3>{16, 8, 2}));
    EXPECT_EQ(loop.kernel.block, (std::array<unsigned, 3>{256, 1, 1}));
    EXPECT_NE(loop.kernel.source.find("__launch_bounds__(256, 2)"), std::string::npos);
    // In 4 splits: 128 such blocks would leave SMs idle; 256 blocks of 64 rows instead.
    const Workload few =
        workloads::attention_decode(16, 256, 4096, 64, DType::BF16, false, {4, 16});
    EXPECT_EQ(generate_block_kernel(*block_graphs(few.fused)[0], kSm90Shared).kernel.block,
              (std::array<unsigned, 3>{128, 1, 1}));
  }
}

TEST(CudaAttention, MaskedKvTilesZeroFillAndMaskOnlyWhenTheRangeNeedsIt) {
  const Workload ragged = workloads::attention_decode(2, 4, 200, 64, DType::BF16, false, {2, 0});
  const std::string masked =
      generate_block_kernel(*block_graphs(ragged.fused)[0], kSm90Shared).kernel.source;
  EXPECT_NE(masked.find("KV = 100"), std::string::npos);
  EXPECT_NE(masked.find("TILES = 2"), std::string::npos);
  EXPECT_NE(masked.find("ya_cp_async16_zfill(kd + at"), std::string::npos);
  EXPECT_NE(masked.find(">= KV) sc[n][i] = -YR_INF"), std::string::npos);
  EXPECT_NE(masked.find("mx0 == -YR_INF ? 0.0f : mx0"), std::string::npos);
  const Workload even = workloads::attention_decode(2, 4, 256, 64, DType::BF16, false, {2, 0});
  const std::string plain =
      generate_block_kernel(*block_graphs(even.fused)[0], kSm90Shared).kernel.source;
  EXPECT_EQ(plain.find("ya_cp_async16_zfill(kd"), std::string::npos);
  EXPECT_EQ(plain.find(">= KV)"), std::string::npos);
}

TEST(CudaAttention, GeneratedSourceHasThePipelineTensorCoresAndOnlineSoftmax) {
  const Workload w = workloads::attention_decode(2, 256, 4096, 64, DType::BF16, true, {16, 4});
  const std::string source =
      generate_block_kernel(*block_graphs(w.fused)[0], kSm90Shared).kernel.source;
  for (const char* piece :
       {"cp.async.cg.shared.global", "cp.async.wait_group", "ldmatrix.sync.aligned.m8n8.x4",
        ".trans.shared.b16", "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32",
        "cvt.rn.bf16x2.f32", "ex2.approx", "__shfl_xor_sync", "c ^ (r & SWZ)", "yr_store_bf16(out2",
        "ya_exp2(fmaf(sc[n][0], "}) {
    EXPECT_NE(source.find(piece), std::string::npos) << piece;
  }
  // QK-norm: the query rows through rsqrt of their mean square, the K rows' factors per column.
  EXPECT_NE(source.find("rsqrtf(sa /"), std::string::npos);
  // Four row warps: the K rows' factors once per tile, through shared memory.
  EXPECT_NE(source.find("Kf[r] = rsqrtf(squares /"), std::string::npos);
  EXPECT_EQ(source.find("rsqrtf(ka /"), std::string::npos);
  // Decode (one row warp): each warp's K rows' factors from its own fragments.
  const Workload decode = workloads::attention_decode(8, 4, 4096, 128, DType::BF16, true, {16, 4});
  const std::string own =
      generate_block_kernel(*block_graphs(decode.fused)[0], kSm90Shared).kernel.source;
  EXPECT_NE(own.find("rsqrtf(ka /"), std::string::npos);
  EXPECT_EQ(own.find("Kf[r] ="), std::string::npos);
  const Workload f16 = workloads::attention_decode(2, 4, 256, 64, DType::F16, false, {1, 0});
  const std::string half =
      generate_block_kernel(*block_graphs(f16.fused)[0], kSm90Shared).kernel.source;
  EXPECT_NE(half.find("ya_mma_f16(sc"), std::string::npos);
  EXPECT_NE(half.find("acc / sum"), std::string::npos);
  EXPECT_EQ(half.find("rsqrtf"), std::string::npos);
}

// Attention kernels in one source: the prelude once, entry points renamed.
std::string merged_sources(const std::vector<ir::KernelGraph>& list, int shared_limit, int* count) {
  const std::string& prelude = device_prelude();
  std::string merged = prelude;
  *count = 0;
  for (const ir::KernelGraph& fused : list) {
    for (const ir::BlockGraph* graph : block_graphs(fused)) {
      std::string source = generate_block_kernel(*graph, shared_limit).kernel.source;
      EXPECT_EQ(source.compare(0, prelude.size(), prelude), 0);
      source = source.substr(prelude.size());
      const auto at = source.find("yr_kernel(");
      EXPECT_NE(at, std::string::npos);
      source.replace(at, 10, "yr_kernel_" + std::to_string((*count)++) + "(");
      merged += source;
    }
  }
  return merged;
}

TEST(CudaAttention, KernelsOfEveryKindCompileToMachineCodeForSm80AndSm90) {
  std::string why;
  if (!nvrtc_available(&why)) GTEST_SKIP() << why;
  // Machine code, so that ptxas checks the inline PTX (cp.async, ldmatrix, mma): bf16 decode
  // with QK-norm and its bf16 combine, f16 many-row tiles in one kernel, D = 32 and D = 16
  // tiles, the combine of f32 partials, D = 24 padded to 32 with QK-norm, a masked KV tile, K
  // stored by columns (bf16; f16 padded and masked). (The
  // standard workloads' kernels go through the front end in
  // CudaCodegen.EveryTestGraphCompilesThroughNvrtcForSm80AndSm90.)
  std::vector<ir::KernelGraph> some;
  for (Workload w : {workloads::attention_decode(8, 4, 4096, 128, DType::BF16, true, {16, 4}),
                     workloads::attention_decode(2, 40, 256, 64, DType::F16, false, {1, 0}),
                     workloads::attention_decode(1, 96, 512, 32, DType::BF16, false, {1, 0}),
                     workloads::attention_decode(2, 4, 96, 16, DType::F16, true, {1, 3}),
                     workloads::attention_decode(2, 3, 96, 24, DType::F32, false, {2, 4}),
                     workloads::attention_decode(2, 3, 96, 24, DType::BF16, true, {2, 4}),
                     workloads::attention_decode(2, 4, 200, 64, DType::BF16, true, {1, 0})})
    some.push_back(std::move(w.fused));
  some.push_back(testing::attention_with_k_by_columns(2, 4, 512, 64, DType::BF16, 1, 4));
  some.push_back(testing::attention_with_k_by_columns(2, 20, 200, 24, DType::F16, 1, 5));
  for (const auto& [arch, shared] : {std::pair{"sm_80", kSm80Shared}, {"sm_90", kSm90Shared}}) {
    int kernels = 0;
    EXPECT_GT(compile_cuda(merged_sources(some, shared, &kernels), arch).cubin.size(), 10000u)
        << arch;
    EXPECT_EQ(kernels, 12);
  }
}

TEST(CudaAttention, EveryBenchmarkTilingCompiles) {
  std::string why;
  if (!nvrtc_available(&why)) GTEST_SKIP() << why;
  // The tilings `yirage bench cuda-kernels` times (batch 1; larger batches change only the
  // head count), through the front end for sm_90.
  std::vector<ir::KernelGraph> list;
  for (Tiling t :
       {Tiling{}, Tiling{16, 4}, Tiling{32, 2}, Tiling{8, 8}, Tiling{64, 1}, Tiling{4, 16}})
    list.push_back(workloads::attention_decode(8, 4, 4096, 128, DType::BF16, false, t).fused);
  for (bool norm : {false, true}) {
    for (Tiling t :
         {Tiling{}, Tiling{16, 4}, Tiling{32, 4}, Tiling{64, 2}, Tiling{8, 8}, Tiling{4, 16}})
      list.push_back(workloads::attention_decode(2, 256, 4096, 64, DType::BF16, norm, t).fused);
  }
  int kernels = 0;
  EXPECT_GT(compile_cuda_ptx(merged_sources(list, kSm90Shared, &kernels), "compute_90"), 10000u);
  EXPECT_EQ(kernels, 36);
}

}  // namespace
}  // namespace yirage::backend::cuda
