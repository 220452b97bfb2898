// Generated CUDA source compiles through NVRTC for sm_80 and sm_90 (needs NVRTC, not a GPU).
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "backend/cuda/cuda_test_graphs.h"
#include "yirage/backend/cuda/block_codegen.h"
#include "yirage/backend/cuda/device_code.h"
#include "yirage/backend/cuda/nvrtc.h"
#include "yirage/backend/cuda/program.h"
#include "yirage/ir/block_graph.h"
#include "yirage/workloads/workloads.h"

namespace yirage::backend::cuda {
namespace {

constexpr int kSm80Shared = 166912;
constexpr int kSm90Shared = 232448;

// All kernels of all test graphs in one translation unit (one compile per architecture):
// the prelude once, each entry point renamed yr_kernel_<n>.
std::string merged_sources(int shared_limit, int* count) {
  std::vector<std::pair<std::string, ir::KernelGraph>> graphs;
  for (core::DType dtype : {core::DType::F32, core::DType::BF16}) {
    for (auto& entry : testing::cuda_op_graphs(dtype)) graphs.push_back(std::move(entry));
  }
  for (auto& entry : testing::cuda_workload_graphs(core::DType::BF16))
    graphs.push_back(std::move(entry));
  for (auto& w : workloads::standard_workloads()) graphs.emplace_back(w.name, std::move(w.fused));
  const std::string& prelude = device_prelude();
  std::string merged = prelude;
  *count = 0;
  for (const auto& [name, graph] : graphs) {
    for (std::string source : generated_sources(graph, shared_limit)) {
      EXPECT_EQ(source.compare(0, prelude.size(), prelude), 0) << name;
      source = source.substr(prelude.size());
      const std::string entry = "yr_kernel(";
      const auto at = source.find(entry);
      EXPECT_NE(at, std::string::npos) << name;
      source.replace(at, entry.size(), "yr_kernel_" + std::to_string((*count)++) + "(");
      merged += "// " + name + "\n" + source;
    }
  }
  return merged;
}

TEST(CudaCodegen, EveryTestGraphCompilesThroughNvrtcForSm80AndSm90) {
  std::string why;
  if (!nvrtc_available(&why)) GTEST_SKIP() << why;
  // The front end (to PTX) for both architectures; machine code for sm_90 on the op kernels.
  for (const auto& [arch, shared] :
       {std::pair{"compute_80", kSm80Shared}, {"compute_90", kSm90Shared}}) {
    int kernels = 0;
    const std::string source = merged_sources(shared, &kernels);
    EXPECT_GT(kernels, 50);
    EXPECT_GT(compile_cuda_ptx(source, arch), 10000u) << arch;
  }
}

TEST(CudaCodegen, TilesMoveToGlobalScratchWhenSharedMemoryIsTooSmall) {
  // f32 operands: the generic path (16-bit ones take the tensor-core schedule).
  const auto w = workloads::rms_norm_matmul(4, 256, 512, core::DType::F32);
  const auto& graph = *w.fused.nodes().back().block_graph;
  const BlockKernel roomy = generate_block_kernel(graph, kSm90Shared);
  EXPECT_EQ(roomy.scratch_bytes, 0u);
  EXPECT_GT(roomy.kernel.shared_bytes, 0);
  const BlockKernel tight = generate_block_kernel(graph, 1024);
  EXPECT_EQ(tight.kernel.shared_bytes, 0);
  EXPECT_EQ(tight.scratch_bytes,
            static_cast<std::size_t>(roomy.kernel.shared_bytes) * graph.num_blocks());
  EXPECT_NE(tight.kernel.source.find("scratch +"), std::string::npos);
  EXPECT_EQ(tight.kernel.grid[0], static_cast<unsigned>(graph.grid_dims()[0]));
}

TEST(CudaCodegen, WideLoadsForAlignedBf16Rows) {
  const auto w = workloads::gated_mlp(4, 256, 384, core::DType::BF16);
  const auto& graph = *w.fused.nodes().back().block_graph;
  // sm_75's shared memory: the generic path (sm_80 and newer take the tensor-core schedule).
  const std::string source = generate_block_kernel(graph, 65536).kernel.source;
  EXPECT_NE(source.find("uint4"), std::string::npos);
  EXPECT_NE(source.find("yr_store_bf16(out0"), std::string::npos);
}

TEST(CudaCodegen, SourceHashIsStableAndDistinguishesSources) {
  EXPECT_EQ(source_hash("a"), source_hash("a"));
  EXPECT_NE(source_hash("a"), source_hash("b"));
  EXPECT_EQ(source_hash("kernel").size(), 32u);
}

TEST(CudaCodegen, CacheDirFollowsTheEnvironment) {
  const char* old = std::getenv("YIRAGE_CACHE_DIR");
  const std::string saved = old != nullptr ? old : "";
  setenv("YIRAGE_CACHE_DIR", "/tmp/yirage-cache-test", 1);
  EXPECT_EQ(cache_dir(), "/tmp/yirage-cache-test/cuda");
  if (old != nullptr) {
    setenv("YIRAGE_CACHE_DIR", saved.c_str(), 1);
  } else {
    unsetenv("YIRAGE_CACHE_DIR");
  }
}

}  // namespace
}  // namespace yirage::backend::cuda
