// The split-contraction forms that `yirage bench cuda-kernels` times (search::split_reduction of
// a fused tiling): the tensor-core schedule takes their first kernel (partial sums, contraction
// split over grid y) at every such tiling, within the register and shared-memory bounds, and
// it compiles through NVRTC for sm_80 and sm_90.
//
// On a GPU (the split forms against the reference backend, and their bench rows):
//   build-gpu/tests/yirage_tests --gtest_filter='CudaMatmul*'
//   build-gpu/src/cli/yirage bench cuda-kernels --only rmsnorm --json /tmp/rms.json
//   build-gpu/src/cli/yirage bench cuda-kernels --only gated_mlp --json /tmp/mlp.json
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "yirage/backend/cuda/block_codegen.h"
#include "yirage/backend/cuda/device_code.h"
#include "yirage/backend/cuda/matmul_device_lib.h"
#include "yirage/backend/cuda/matmul_plan.h"
#include "yirage/backend/cuda/matmul_schedule.h"
#include "yirage/backend/cuda/nvrtc.h"
#include "yirage/search/lowering.h"
#include "yirage/workloads/workloads.h"

namespace yirage::backend::cuda {
namespace {

using core::DType;
using workloads::Tiling;

constexpr int kSm80Shared = 166912;
constexpr int kSm90Shared = 232448;

struct SplitForm {
  std::string label;
  ir::KernelGraph graph;
};

// The bench's split forms (rows, tilings and splits as in src/cli/cuda_bench.cpp).
std::vector<SplitForm> bench_split_forms() {
  const DType bf16 = DType::BF16;
  std::vector<SplitForm> list;
  const auto add = [&](const workloads::Workload& w, int64_t splits) {
    auto split = search::split_reduction(w.fused, splits);
    ASSERT_TRUE(split.has_value()) << w.shape << " split " << splits;
    list.push_back({w.shape + " split " + std::to_string(splits), std::move(*split)});
  };
  for (int64_t bs : {1, 2, 8, 16, 64}) {
    for (auto [t, s] : {std::pair{Tiling{48, 32}, 2}, {Tiling{32, 32}, 4}, {Tiling{24, 32}, 4}})
      add(workloads::rms_norm_matmul(bs, 4096, 6144, bf16, t), s);
  }
  for (int64_t bs : {1, 64}) {
    for (auto [t, s] : {std::pair{Tiling{64, 4}, 2}, {Tiling{32, 4}, 4}, {Tiling{16, 8}, 8}})
      add(workloads::rms_norm_matmul(bs, 1024, 4096, bf16, t), s);
    for (auto [t, s] : {std::pair{Tiling{64, 16}, 2},
                        {bs == 1 ? Tiling{32, 16} : Tiling{48, 16}, bs == 1 ? 4 : 2}})
      add(workloads::gated_mlp(bs, 4096, 12288, bf16, t), s);
  }
  for (auto [t, s] : {std::pair{Tiling{64, 32}, 2}, {Tiling{32, 32}, 4}})
    add(workloads::gated_mlp(8, 4096, 4096, bf16, t), s);
  return list;
}

const ir::BlockGraph& first_block(const ir::KernelGraph& graph) {
  for (const auto& node : graph.nodes()) {
    if (node.block_graph) return *node.block_graph;
  }
  throw std::runtime_error("no customized node");
}

TEST(CudaMatmulSplit, FirstKernelOfEveryBenchSplitIsScheduled) {
  const auto list = bench_split_forms();
  ASSERT_EQ(list.size(), 27u);
  for (const auto& form : list) {
    const ir::BlockGraph& first = first_block(form.graph);
    EXPECT_GT(first.grid_dims()[1], 1) << form.label;
    // Both kernels launch as programmatic dependents: the combining one is scheduled while
    // the first finishes.
    const ir::BlockGraph* second = nullptr;
    for (const auto& node : form.graph.nodes()) {
      if (node.block_graph) second = node.block_graph.get();
    }
    ASSERT_NE(second, &first) << form.label;
    for (const ir::BlockGraph* block : {&first, second}) {
      const BlockKernel kernel = generate_block_kernel(*block, kSm90Shared);
      EXPECT_TRUE(kernel.kernel.dependent) << form.label;
      EXPECT_NE(kernel.kernel.source.find("griddepcontrol.wait;"), std::string::npos);
    }
    for (int shared : {kSm80Shared, kSm90Shared}) {
      const auto plan = plan_matmul(first, shared);
      ASSERT_TRUE(plan.has_value()) << form.label << " at " << shared;
      EXPECT_LE(plan->accumulator_registers, 128) << form.label;
      EXPECT_GE(plan->stages, 2) << form.label;
      EXPECT_LE(plan->pipeline_bytes + plan->persistent_bytes, shared) << form.label;
      EXPECT_EQ(plan->depth % plan->chunk, 0) << form.label;
    }
  }
}

// The first kernels in one translation unit (entry points renamed yr_kernel_<n>); `every`
// false keeps one of each form (decode and batch-64 RMSNorm+QKV, gated MLP).
std::string merged_first_kernels(int shared, bool every) {
  const std::string head = device_prelude() + matmul_device_lib();
  std::string merged = head;
  int count = 0;
  const auto list = bench_split_forms();
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (!every && i != 0 && i != 14 && i != 24) continue;
    const auto kernel = try_generate_matmul_kernel(first_block(list[i].graph), shared);
    EXPECT_TRUE(kernel.has_value()) << list[i].label;
    if (!kernel) continue;
    std::string source = kernel->kernel.source.substr(head.size());
    const auto at = source.find("yr_kernel(");
    EXPECT_NE(at, std::string::npos);
    if (at == std::string::npos) continue;
    source.replace(at, 10, "yr_kernel_" + std::to_string(count++) + "(");
    merged += "// " + list[i].label + "\n" + source;
  }
  return merged;
}

TEST(CudaMatmulSplit, FirstKernelsCompileThroughNvrtcForSm80AndSm90) {
  std::string why;
  if (!nvrtc_available(&why)) GTEST_SKIP() << why;
  // The front end for every first kernel; machine code (ptxas) for one of each form.
  EXPECT_GT(compile_cuda_ptx(merged_first_kernels(kSm90Shared, true), "compute_90"), 10000u);
  for (const auto& [arch, shared] : {std::pair{"sm_80", kSm80Shared}, {"sm_90", kSm90Shared}})
    EXPECT_GT(compile_cuda(merged_first_kernels(shared, false), arch).cubin.size(), 10000u) << arch;
}

}  // namespace
}  // namespace yirage::backend::cuda
