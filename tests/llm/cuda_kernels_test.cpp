// The device model's kernels compile through NVRTC for sm_80 and sm_90 for every shape they
// serve (runs without a GPU).
#include <gtest/gtest.h>

#include "test_util.h"
#include "yirage/backend/cuda/nvrtc.h"
#include "yirage/llm/checkpoint.h"
#include "yirage/llm/cuda_kernels.h"

namespace yirage::llm {
namespace {

std::vector<CudaKernelShape> shapes() {
  std::vector<CudaKernelShape> result;
  for (const DemoPreset preset : {DemoPreset::Tiny, DemoPreset::Qwen3_0_6B, DemoPreset::Qwen3_8B}) {
    result.push_back(
        CudaKernelShape::of(demo_config(preset, core::DType::BF16), core::DType::BF16));
  }
  // The engine tests' model (head_dim 8) in float32 and float16.
  CudaKernelShape small = result.front();
  small.hidden = 32;
  small.head_dim = 8;
  for (const core::DType dtype : {core::DType::F32, core::DType::F16}) {
    small.dtype = dtype;
    result.push_back(small);
  }
  return result;
}

TEST(CudaEngineKernels, SourcesCompileForSm80AndSm90) {
  std::string why;
  if (!backend::cuda::nvrtc_available(&why)) GTEST_SKIP() << why;
  const auto all = shapes();
  for (const CudaKernelShape& shape : all) {
    const std::string source = qwen3_cuda_source(shape);
    for (const char* entry :
         {"yr_embed", "yr_add_rms_norm", "yr_qk_rope_store", "yr_attention", "yr_decode_attention",
          "yr_silu_mul", "yr_to_f32", "yr_argmax", "yr_transpose", "yr_gemv_1", "yr_gemv_silu_8"}) {
      EXPECT_NE(source.find(std::string(" ") + entry + "("), std::string::npos) << entry;
    }
  }
  // The presets differ only in constants: the front end for both architectures on the 8B shape,
  // for sm_90 on the float32 and float16 ones, machine code for the 8B shape on sm_90.
  for (const char* arch : {"compute_80", "compute_90"})
    EXPECT_GT(backend::cuda::compile_cuda_ptx(qwen3_cuda_source(all[2]), arch), 1000u) << arch;
  for (std::size_t i = 3; i < all.size(); ++i) {
    EXPECT_GT(backend::cuda::compile_cuda_ptx(qwen3_cuda_source(all[i]), "compute_90"), 1000u)
        << core::dtype_name(all[i].dtype);
  }
  const auto compiled = backend::cuda::compile_cuda(qwen3_cuda_source(all[2]), "sm_90");
  EXPECT_GT(compiled.cubin.size(), 1000u);
}

// The model launches every entry point as a programmatic dependent of the kernel before it, so
// each must wait for that kernel (the prologue, directly or in the GEMV body) before its reads.
TEST(CudaEngineKernels, EveryEntryPointWaitsForTheKernelBefore) {
  const std::string source = qwen3_cuda_source(shapes()[1]);
  int entries = 0;
  for (std::size_t at = source.find("extern \"C\" __global__"); at != std::string::npos;
       at = source.find("extern \"C\" __global__", at + 1)) {
    ++entries;
    const std::size_t end = source.find("\n}\n", at);
    ASSERT_NE(end, std::string::npos);
    const std::string body = source.substr(at, end - at);
    EXPECT_TRUE(body.find("yr_dependent_prologue();") != std::string::npos ||
                body.find("yr_gemv_body<") != std::string::npos)
        << body.substr(0, body.find('('));
  }
  EXPECT_GT(entries, 9 + 5 * static_cast<int>(kGemvNormMaxRows));
  const std::size_t gemv = source.find("void yr_gemv_body(");
  ASSERT_NE(gemv, std::string::npos);
  EXPECT_NE(source.find("yr_dependent_prologue();", gemv), std::string::npos);
  EXPECT_NE(source.find("griddepcontrol.wait"), std::string::npos);
}

TEST(CudaEngineKernels, LayoutOfTheAttentionBlock) {
  const CudaKernelShape shape = shapes()[2];  // 8B: 32 heads over 8 KV heads of 128
  EXPECT_EQ(shape.vector_elements(), 8);
  EXPECT_EQ(shape.lanes_per_key(), 16);
  EXPECT_EQ(shape.key_groups(), 8);
  EXPECT_EQ(shape.attention_shared_bytes(), 8 * 4 * 130 * 4 + 4 * 128 * 4);
  EXPECT_TRUE(shape.unsupported_reason().empty());
}

TEST(CudaEngineKernels, UnsupportedShapesSayWhy) {
  CudaKernelShape shape = shapes()[1];
  shape.head_dim = 100;
  EXPECT_USER_ERROR([&] { qwen3_cuda_source(shape); }, "head_dim 100 must be a multiple of 8");
  shape.head_dim = 8 * 48;
  EXPECT_USER_ERROR([&] { qwen3_cuda_source(shape); }, "times a power of two");
  shape = shapes()[1];
  shape.dtype = core::DType::I32;
  EXPECT_USER_ERROR([&] { qwen3_cuda_source(shape); }, "not float32, bfloat16 or float16");
}

}  // namespace
}  // namespace yirage::llm
