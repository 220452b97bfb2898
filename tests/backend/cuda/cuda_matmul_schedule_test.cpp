// The tensor-core schedule for matmul block graphs: which graphs take it, the launch it picks,
// the shape of its source, and that every scheduled kernel compiles through NVRTC for sm_80 and
// sm_90 (needs NVRTC, not a GPU).
//
// On a GPU (results against the reference backend, guard bytes, and the benchmark rows):
//   build-gpu/tests/yirage_tests --gtest_filter='CudaMatmul*:CudaBackend*:*onformance*'
//   build-gpu/src/cli/yirage bench cuda-kernels --only rmsnorm --json /tmp/rms.json
//   build-gpu/src/cli/yirage bench cuda-kernels --only gated_mlp --json /tmp/mlp.json
//   build-gpu/src/cli/yirage bench cuda-kernels --only lora --json /tmp/lora.json
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "yirage/backend/backend.h"
#include "yirage/backend/cuda/block_codegen.h"
#include "yirage/backend/cuda/device_code.h"
#include "yirage/backend/cuda/matmul_device_lib.h"
#include "yirage/backend/cuda/matmul_plan.h"
#include "yirage/backend/cuda/matmul_schedule.h"
#include "yirage/backend/cuda/nvrtc.h"
#include "yirage/backend/random_inputs.h"
#include "yirage/backend/registry.h"
#include "yirage/ir/block_graph.h"
#include "yirage/search/lowering.h"
#include "yirage/workloads/workloads.h"

namespace yirage::backend::cuda {
namespace {

using core::DType;
using workloads::Tiling;
using workloads::Workload;

constexpr int kSm75Shared = 65536;
constexpr int kSm80Shared = 166912;
constexpr int kSm90Shared = 232448;

const ir::BlockGraph& last_block(const ir::KernelGraph& graph) {
  for (auto it = graph.nodes().rbegin(); it != graph.nodes().rend(); ++it) {
    if (it->block_graph) return *it->block_graph;
  }
  throw std::runtime_error("no customized node");
}

// The matmul rows of `yirage bench cuda-kernels` at every tiling it times, and small shapes.
std::vector<Workload> scheduled_workloads() {
  const DType bf16 = DType::BF16;
  std::vector<Workload> list;
  for (int64_t bs : {1, 8, 64}) {
    for (Tiling t : {Tiling{96, 16}, Tiling{192, 16}, Tiling{384, 8}, Tiling{48, 32},
                     Tiling{128, 16}, Tiling{64, 32}})
      list.push_back(workloads::rms_norm_matmul(bs, 4096, 6144, bf16, t));
  }
  for (int64_t bs : {1, 64}) {
    for (Tiling t : {Tiling{128, 4}, Tiling{256, 4}, Tiling{64, 8}})
      list.push_back(workloads::rms_norm_matmul(bs, 1024, 4096, bf16, t));
    for (Tiling t :
         {Tiling{192, 16}, Tiling{384, 16}, Tiling{768, 8}, Tiling{128, 16}, Tiling{256, 16}})
      list.push_back(workloads::gated_mlp(bs, 4096, 12288, bf16, t));
  }
  for (Tiling t : {Tiling{96, 4}, Tiling{192, 4}, Tiling{48, 8}, Tiling{128, 4}})
    list.push_back(workloads::gated_mlp(1, 1024, 3072, bf16, t));
  for (Tiling t : {Tiling{64, 1}, Tiling{128, 1}, Tiling{32, 2}})
    list.push_back(workloads::lora(16, 256, 4096, 16, bf16, t));
  for (Tiling t : {Tiling{128, 16}, Tiling{256, 8}, Tiling{64, 32}})
    list.push_back(workloads::gated_mlp(8, 4096, 4096, bf16, t));
  for (auto& w : workloads::standard_workloads()) {
    if (w.name != "gqa_decode" && w.name != "qk_norm_attention") list.push_back(std::move(w));
  }
  list.push_back(workloads::rms_norm_matmul(4, 256, 512, bf16));
  list.push_back(workloads::gated_mlp(4, 256, 384, bf16));
  list.push_back(workloads::lora(4, 256, 512, 16, bf16));
  list.push_back(workloads::rms_norm_matmul(3, 96, 40, DType::F16, Tiling{5, 2}));
  list.push_back(workloads::gated_mlp(20, 64, 48, DType::F16, Tiling{2, 4}));
  return list;
}

TEST(CudaMatmulSchedule, IsChosenForTheMatmulWorkloadsAtEveryBenchTiling) {
  for (const auto& w : scheduled_workloads()) {
    const auto plan = plan_matmul(last_block(w.fused), kSm90Shared);
    ASSERT_TRUE(plan.has_value()) << w.name << " " << w.shape;
    EXPECT_TRUE(plan_matmul(last_block(w.fused), kSm80Shared).has_value()) << w.shape;
    if (w.name == "rms_norm_matmul") {
      EXPECT_EQ(plan->products.size(), 1u);
      ASSERT_EQ(plan->row_sums.size(), 1u);
      EXPECT_EQ(plan->row_streams.size(), 2u);  // x and the gain
      EXPECT_EQ(plan->row_ops.size(), 2u);      // x * g, x^2
    } else {
      ASSERT_EQ(plan->products.size(), 2u) << w.name;
      EXPECT_TRUE(plan->row_sums.empty());
    }
    if (w.name == "gated_mlp") {
      EXPECT_EQ(plan->products[0].a, plan->products[1].a);
      EXPECT_EQ(plan->weight_streams.size(), 2u);
    }
    EXPECT_GE(plan->stages, 2);
    EXPECT_EQ(plan->depth % plan->chunk, 0);
    EXPECT_EQ(plan->chunk % (16 * plan->warps_k), 0);
    EXPECT_EQ(plan->warps, plan->warps_k * plan->warps_m * plan->warps_n);
    EXPECT_EQ((plan->rows + 15) / 16 % plan->warps_m, 0);
    EXPECT_LE(plan->accumulator_registers, 128);
  }
}

TEST(CudaMatmulSchedule, IsChosenForTheSearchsLoopFormsAndSplitContractions) {
  // matmul(rms_norm(x, g), w) and the gated MLP lowered by the search, walking the hidden dim.
  const auto rms = workloads::rms_norm_matmul(4, 1024, 512, DType::BF16);
  search::Frame frame;
  frame.grid = {16, 1, 1};
  frame.forloop = 8;
  frame.imaps = {{-1, -1, -1}, {-1, -1, -1}, {1, -1, -1}};
  frame.fmaps = {1, 0, 0};
  const auto lowered = search::lower_to_frame(rms.naive, frame);
  ASSERT_TRUE(lowered.has_value());
  const auto plan = plan_matmul(last_block(*lowered), kSm90Shared);
  ASSERT_TRUE(plan.has_value());
  EXPECT_EQ(plan->row_sums.size(), 1u);
  const auto mlp = workloads::gated_mlp(4, 1024, 512, DType::BF16);
  frame.imaps = {{-1, -1, -1}, {1, -1, -1}, {1, -1, -1}};
  const auto lowered_mlp = search::lower_to_frame(mlp.naive, frame);
  ASSERT_TRUE(lowered_mlp.has_value());
  EXPECT_TRUE(plan_matmul(last_block(*lowered_mlp), kSm90Shared).has_value());
  // Split over grid y: the first kernel (partial sums) streams; the combining one does not.
  const auto split = search::split_reduction(rms.fused, 2);
  ASSERT_TRUE(split.has_value());
  std::vector<const ir::BlockGraph*> blocks;
  for (const auto& node : split->nodes()) {
    if (node.block_graph) blocks.push_back(node.block_graph.get());
  }
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_TRUE(plan_matmul(*blocks[0], kSm90Shared).has_value());
  EXPECT_FALSE(plan_matmul(*blocks[1], kSm90Shared).has_value());
}

TEST(CudaMatmulSchedule, IsNotChosenForGraphsItCannotRun) {
  const auto blocked = [](const Workload& w, int shared) {
    return !plan_matmul(last_block(w.fused), shared).has_value();
  };
  // Attention (online softmax, rescaled sums), f32 operands, rows not 16-byte aligned, and
  // devices before sm_80.
  EXPECT_TRUE(
      blocked(workloads::attention_decode(8, 4, 4096, 128, DType::BF16, false), kSm90Shared));
  EXPECT_TRUE(
      blocked(workloads::attention_decode(2, 3, 96, 24, DType::BF16, true, {2, 4}), kSm90Shared));
  EXPECT_TRUE(blocked(workloads::rms_norm_matmul(8, 1024, 4096, DType::F32), kSm90Shared));
  EXPECT_TRUE(
      blocked(workloads::rms_norm_matmul(3, 72, 40, DType::BF16, Tiling{4, 4}), kSm90Shared));
  EXPECT_TRUE(blocked(workloads::gated_mlp(5, 48, 36, DType::BF16, Tiling{3, 3}), kSm90Shared));
  EXPECT_TRUE(blocked(workloads::rms_norm_matmul(8, 1024, 4096, DType::BF16), kSm75Shared));
  {  // A transposed weight tile: the operand of the matmul is not a streamed input.
    auto b = std::make_shared<ir::BlockGraph>(ir::Dim3{2, 1, 1}, ir::Dim3{128, 1, 1}, 2, 64);
    const auto x = b->input({{16, 64}, DType::BF16}, {-1, -1, -1}, 1);
    const auto w = b->input({{32, 64}, DType::BF16}, {0, -1, -1}, 1);
    ir::Attrs swap;
    swap.set("dim0", int64_t{0}).set("dim1", int64_t{1});
    const auto wt = b->add_op(ir::OpKind::Transpose, {w}, swap)[0];
    const auto product = b->add_op(ir::OpKind::Matmul, {x, wt}, {})[0];
    b->output(b->accumulate(ir::AccumKind::Sum, product), {1, -1, -1});
    EXPECT_FALSE(plan_matmul(*b, kSm90Shared).has_value());
    EXPECT_FALSE(try_generate_matmul_kernel(*b, kSm90Shared).has_value());
  }
  {  // A max accumulator over the products.
    auto b = std::make_shared<ir::BlockGraph>(ir::Dim3{2, 1, 1}, ir::Dim3{128, 1, 1}, 2, 64);
    const auto x = b->input({{16, 64}, DType::BF16}, {-1, -1, -1}, 1);
    const auto w = b->input({{64, 32}, DType::BF16}, {1, -1, -1}, 0);
    const auto product = b->add_op(ir::OpKind::Matmul, {x, w}, {})[0];
    b->output(b->accumulate(ir::AccumKind::Max, product), {1, -1, -1});
    EXPECT_FALSE(plan_matmul(*b, kSm90Shared).has_value());
    ir::BlockGraph& same = *b;
    const BlockKernel generic = generate_block_kernel(same, kSm90Shared);
    EXPECT_EQ(generic.kernel.source.find("mma.sync"), std::string::npos);
  }
}

TEST(CudaMatmulSchedule, DecodeLaunchKeepsManyBytesInFlightWithinSharedMemory) {
  // Qwen3-8B RMSNorm+QKV at batch 1: a 4096 x 32 weight slice per block.
  const auto w = workloads::rms_norm_matmul(1, 4096, 6144, DType::BF16, Tiling{192, 16});
  const auto plan = plan_matmul(last_block(w.fused), kSm90Shared);
  ASSERT_TRUE(plan.has_value());
  EXPECT_EQ(plan->rows, 1);
  EXPECT_EQ(plan->depth, 4096);
  EXPECT_EQ(plan->warps_n, 1);
  EXPECT_GE(plan->stages, 3);
  EXPECT_GE((plan->stages - 1) * plan->stage_bytes, 32 * 1024);
  const BlockKernel kernel = generate_block_kernel(last_block(w.fused), kSm90Shared);
  EXPECT_LE(kernel.kernel.shared_bytes, kSm90Shared);
  // Two blocks of this grid share an SM: each stays within half of it.
  EXPECT_LE(kernel.kernel.shared_bytes, 2 * (kSm90Shared + 1024) / 2);
  EXPECT_EQ(kernel.kernel.grid[0], 192u);
  EXPECT_EQ(kernel.kernel.block[0], 256u);
  EXPECT_EQ(kernel.scratch_bytes, 0u);
  // Batch 64 with a wide slice splits the row tiles over warps to bound the accumulators.
  const auto wide = workloads::gated_mlp(64, 4096, 12288, DType::BF16, Tiling{192, 16});
  const auto wide_plan = plan_matmul(last_block(wide.fused), kSm90Shared);
  ASSERT_TRUE(wide_plan.has_value());
  EXPECT_EQ(wide_plan->warps_n, 1);
  EXPECT_GT(wide_plan->warps_m, 1);
  EXPECT_LE(wide_plan->accumulator_registers, 64);
}

TEST(CudaMatmulSchedule, SourceStreamsThroughCpAsyncIntoTensorCores) {
  const auto w = workloads::rms_norm_matmul(8, 4096, 6144, DType::BF16, Tiling{192, 16});
  const BlockKernel kernel = generate_block_kernel(last_block(w.fused), kSm90Shared);
  EXPECT_TRUE(kernel.kernel.dependent);  // opens with the dependent-launch prologue
  const std::string& source = kernel.kernel.source;
  for (const char* piece :
       {"mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32", "cp.async.cg.shared.global",
        "cp.async.commit_group", "cp.async.wait_group", "ldmatrix.sync.aligned.m8n8.x4.trans",
        "yr_mm_mma_bf16(acc0", "yr_mm_ldsm_x4_trans(b", "yr_mm_cp_async16(stage",
        "yr_mm_pack_bf16(", "rsum0[mt][rh] +=", "*reinterpret_cast<uint4*>(out0",
        "griddepcontrol.wait;"}) {
    EXPECT_NE(source.find(piece), std::string::npos) << piece;
  }
  EXPECT_EQ(source.find("yr_mm_cp_async16_wide(stage"), std::string::npos);  // 64-byte strips
  // 256-byte strips of the weight rows fill L2 by whole segments.
  const auto wide = workloads::rms_norm_matmul(1, 4096, 6144, DType::BF16, Tiling{48, 32});
  const std::string strips =
      generate_block_kernel(last_block(wide.fused), kSm90Shared).kernel.source;
  EXPECT_NE(strips.find("yr_mm_cp_async16_wide(stage"), std::string::npos);
  const auto f16 = workloads::gated_mlp(20, 64, 48, DType::F16, Tiling{2, 4});
  const std::string half = generate_block_kernel(last_block(f16.fused), kSm90Shared).kernel.source;
  EXPECT_NE(half.find("yr_mm_mma_f16(acc1"), std::string::npos);
  EXPECT_NE(half.find("yr_mm_ldsm_x2_trans(b"), std::string::npos);  // 3 column tiles a product
}

// Scheduled kernels in one translation unit: prelude and library once, entry points renamed
// yr_kernel_<n>.
std::string merged_kernels(const std::vector<Workload>& list, int shared_limit, int* count) {
  const std::string head = device_prelude() + matmul_device_lib();
  std::string merged = head;
  *count = 0;
  for (const auto& w : list) {
    const auto kernel = try_generate_matmul_kernel(last_block(w.fused), shared_limit);
    EXPECT_TRUE(kernel.has_value()) << w.shape;
    if (!kernel) continue;
    std::string source = kernel->kernel.source;
    EXPECT_EQ(source.compare(0, head.size(), head), 0) << w.shape;
    source = source.substr(head.size());
    const std::string entry = "yr_kernel(";
    const auto at = source.find(entry);
    EXPECT_NE(at, std::string::npos);
    source.replace(at, entry.size(), "yr_kernel_" + std::to_string((*count)++) + "(");
    merged += "// " + w.name + " " + w.shape + "\n" + source;
  }
  return merged;
}

TEST(CudaMatmulSchedule, EveryScheduledKernelCompilesThroughNvrtcForSm80AndSm90) {
  std::string why;
  if (!nvrtc_available(&why)) GTEST_SKIP() << why;
  // The front end for the standard kernels; machine code (ptxas checks the inline PTX) for sm_80
  // and sm_90 for one kernel of each form: decode and batch-64 RMSNorm+QKV, gated MLP, LoRA, f16
  // with odd column tiles.
  const DType bf16 = DType::BF16;
  std::vector<Workload> forms;
  forms.push_back(workloads::rms_norm_matmul(1, 4096, 6144, bf16, Tiling{192, 16}));
  forms.push_back(workloads::rms_norm_matmul(64, 4096, 6144, bf16, Tiling{96, 16}));
  forms.push_back(workloads::gated_mlp(1, 4096, 12288, bf16, Tiling{192, 16}));
  forms.push_back(workloads::lora(16, 256, 4096, 16, bf16, Tiling{64, 1}));
  forms.push_back(workloads::gated_mlp(20, 64, 48, DType::F16, Tiling{2, 4}));
  // Every standard workload's fused matmul kernel, and every bench row at its first tiling.
  std::vector<Workload> standard;
  for (auto& w : workloads::standard_workloads()) {
    if (w.name != "gqa_decode" && w.name != "qk_norm_attention") standard.push_back(std::move(w));
  }
  for (int64_t bs : {1, 8, 64})
    standard.push_back(workloads::rms_norm_matmul(bs, 4096, 6144, bf16, Tiling{96, 16}));
  for (int64_t bs : {1, 64}) {
    standard.push_back(workloads::rms_norm_matmul(bs, 1024, 4096, bf16, Tiling{128, 4}));
    standard.push_back(workloads::gated_mlp(bs, 4096, 12288, bf16, Tiling{192, 16}));
  }
  standard.push_back(workloads::gated_mlp(1, 1024, 3072, bf16, Tiling{96, 4}));
  standard.push_back(workloads::lora(16, 256, 4096, 16, bf16, Tiling{64, 1}));
  int kernels = 0;
  const std::string all = merged_kernels(standard, kSm90Shared, &kernels);
  EXPECT_EQ(kernels, 18);
  EXPECT_GT(compile_cuda_ptx(all, "compute_90"), 10000u);
  for (const auto& [arch, shared] : {std::pair{"sm_80", kSm80Shared}, {"sm_90", kSm90Shared}}) {
    const std::string some = merged_kernels(forms, shared, &kernels);
    EXPECT_GT(compile_cuda(some, arch).cubin.size(), 10000u) << arch;
  }
}

// ||out - ref|| / ||ref||; NaN when any output is not finite.
double relative_error(const core::Tensor& out, const core::Tensor& ref) {
  double diff = 0, norm = 0;
  for (int64_t i = 0; i < ref.numel(); ++i) {
    const double o = out.get(i), r = ref.get(i);
    if (!std::isfinite(o)) return std::nan("");
    diff += (o - r) * (o - r);
    norm += r * r;
  }
  return std::sqrt(diff / std::max(norm, 1e-30));
}

TEST(CudaMatmulSchedule, ScheduledKernelsMatchTheReferenceOnTheGpu) {
  Backend& cuda = get_backend("cuda");
  const Availability available = cuda.available();
  if (!available.available) GTEST_SKIP() << "no CUDA here: " << available.reason;
  const DType bf16 = DType::BF16;
  std::vector<Workload> list;
  list.push_back(workloads::rms_norm_matmul(1, 4096, 6144, bf16, Tiling{192, 16}));  // decode
  list.push_back(workloads::rms_norm_matmul(2, 4096, 1536, bf16, Tiling{96, 16}));   // 1 stage row
  list.push_back(workloads::rms_norm_matmul(64, 1024, 512, bf16, Tiling{8, 4}));     // warps_n 4
  list.push_back(workloads::rms_norm_matmul(20, 512, 256, bf16, Tiling{4, 8}));      // 2 m-tiles
  list.push_back(workloads::rms_norm_matmul(3, 96, 40, DType::F16, Tiling{5, 2}));   // 2 warps
  list.push_back(workloads::gated_mlp(1, 1024, 3072, bf16, Tiling{96, 4}));
  list.push_back(workloads::gated_mlp(64, 512, 1024, bf16, Tiling{16, 4}));
  list.push_back(workloads::gated_mlp(20, 64, 48, DType::F16, Tiling{2, 4}));
  list.push_back(workloads::gated_mlp(4, 256, 384, bf16));
  list.push_back(workloads::lora(16, 256, 4096, 16, bf16, Tiling{64, 1}));
  list.push_back(workloads::lora(3, 128, 256, 16, bf16, Tiling{4, 2}));
  for (const auto& w : list)
    ASSERT_TRUE(plan_matmul(last_block(w.fused), kSm80Shared).has_value()) << w.shape;
  // A split contraction (first kernel scheduled) and the search's lowered form.
  const auto rms = workloads::rms_norm_matmul(5, 1024, 512, bf16, Tiling{8, 8});
  list.push_back({"split", rms.shape, rms.naive, *search::split_reduction(rms.fused, 2)});
  search::Frame frame;
  frame.grid = {16, 1, 1};
  frame.forloop = 8;
  frame.imaps = {{-1, -1, -1}, {-1, -1, -1}, {1, -1, -1}};
  frame.fmaps = {1, 0, 0};
  list.push_back({"lowered", rms.shape, rms.naive, *search::lower_to_frame(rms.naive, frame)});
  uint64_t seed = 300;
  for (const auto& w : list) {
    const auto inputs = random_inputs(w.fused, seed++);
    const auto expected = get_backend("reference").run(w.naive, inputs);
    const auto actual = cuda.run(w.fused, inputs);
    ASSERT_EQ(actual.size(), expected.size());
    EXPECT_LE(relative_error(actual[0], expected[0]), 2e-2) << w.name << " " << w.shape;
  }
}

}  // namespace
}  // namespace yirage::backend::cuda
