// Mirage's nTrans workload: the fused element-wise block graph computes the naive graph.
#include <gtest/gtest.h>

#include "yirage/backend/cuda/nvrtc.h"
#include "yirage/backend/cuda/program.h"
#include "yirage/verify/verifier.h"
#include "yirage/workloads/workloads.h"

namespace yirage::workloads {
namespace {

TEST(NtransWorkload, FusedIsOneVerifiedKernel) {
  const Workload w = ntrans(4, 256, core::DType::BF16);
  EXPECT_EQ(w.naive.num_kernels(), 5);
  EXPECT_EQ(w.fused.num_kernels(), 1);
  const verify::VerifyResult result = verify::verify(w.naive, w.fused, {});
  EXPECT_TRUE(result.equivalent) << result.reason;
}

TEST(NtransWorkload, FusedKernelCompilesThroughNvrtcForSm80AndSm90AtTheBenchShape) {
  std::string why;
  if (!backend::cuda::nvrtc_available(&why)) GTEST_SKIP() << why;
  const Workload w = ntrans(8, 4096, core::DType::BF16);
  for (const auto& [arch, shared] :
       {std::pair{"compute_80", 163 * 1024}, {"compute_90", 227 * 1024}}) {
    const auto sources = backend::cuda::generated_sources(w.fused, shared);
    ASSERT_EQ(sources.size(), 1u);
    EXPECT_GT(backend::cuda::compile_cuda_ptx(sources[0], arch), 1000u) << arch;
  }
}

}  // namespace
}  // namespace yirage::workloads
