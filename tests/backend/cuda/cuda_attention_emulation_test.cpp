// The attention schedule's kernels executed without a GPU: the loop and combine kernels'
// generated source, with the device helpers replaced by the CPU stand-ins of
// attention_emulation.h (over matmul_emulation.h), is compiled by the host C++ compiler into a
// shared library and run one thread per CUDA thread, kernel after kernel of the fused program;
// the output must match the reference backend. This checks the indexing of the generated code
// (query fragments, QK-norm, pipeline stages, swizzles, masks, the warp merge, the stores from
// registers, split partials and their combine, K stored by columns) wherever a C++ compiler is
// installed; the GPU tests check the hardware.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "backend/cuda/cuda_test_graphs.h"
#include "yirage/backend/cuda/attention_schedule.h"
#include "yirage/backend/cuda/device_code.h"
#include "yirage/backend/random_inputs.h"
#include "yirage/backend/registry.h"
#include "yirage/workloads/workloads.h"

namespace yirage::backend::cuda {
namespace {

using core::DType;
using workloads::Tiling;
using workloads::Workload;

constexpr int kSm90Shared = 232448;

// Host C++ for `graph`'s attention kernel as yr_kernel_<index>, and its launcher
// emu_launch_<index>(args, immediate).
std::string host_source(const ir::BlockGraph& graph, int index, const AttentionOptions& options) {
  const auto kernel = try_generate_attention_kernel(graph, kSm90Shared, options);
  EXPECT_TRUE(kernel.has_value());
  if (!kernel) return "";
  const std::string& source = kernel->kernel.source;
  const std::string shared = "extern __shared__ float4 yr_smem[];";
  const std::string entry = "yr_kernel(";
  const auto at_kernel = source.find("extern \"C\"");
  const auto at_entry = source.find(entry);
  const auto at_shared = source.find(shared);
  std::ostringstream out;
  out << source.substr(at_kernel, at_entry - at_kernel) << "yr_kernel_" << index << "(";
  if (at_shared == std::string::npos) {
    out << source.substr(at_entry + entry.size());
  } else {
    out << source.substr(at_entry + entry.size(), at_shared - at_entry - entry.size())
        << "float4* yr_smem = reinterpret_cast<float4*>(emu_smem_base);"
        << source.substr(at_shared + shared.size());
  }
  const auto& k = kernel->kernel;
  out << "extern \"C\" void emu_launch_" << index << "(void** args, bool immediate) {\n"
      << "  emu_immediate = immediate;\n  emu_run(" << k.grid[0] << ", " << k.grid[1] << ", "
      << k.grid[2] << ", " << k.block[0] << ", " << k.shared_bytes << ", [&] { yr_kernel_" << index
      << "(";
  int arg = 0;
  for (const auto& input : graph.inputs())
    out << "(const " << storage_type(input.dtensor.dtype) << "*)args[" << arg++ << "], ";
  for (const auto& output : graph.outputs())
    out << "(" << storage_type(output.dtensor.dtype) << "*)args[" << arg++ << "], ";
  out << "nullptr); });\n}\n";
  return out.str();
}

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

TEST(CudaAttentionEmulation, LoopAndCombineKernelsMatchTheReferenceOnTheCpu) {
  if (std::system("c++ --version > /dev/null 2>&1") != 0)
    GTEST_SKIP() << "no host C++ compiler (c++) to build the emulated kernels";
  // Warps of 16 rows alone on the KV tiles (QK-norm, rows past the last tile, split partials;
  // unsplit; a masked KV range in f16), decode rows with warps splitting the KV tiles and
  // merging (split in 4, combine lanes of four splits), a head dim padded from 24 to 32 with
  // QK-norm, a combine of 32 splits over lane groups, and f16 QK-norm over six 16-byte chunks a
  // K row (factors shared by four row warps).
  std::vector<Workload> list;
  list.push_back(workloads::attention_decode(2, 70, 256, 32, DType::BF16, true, Tiling{2, 0}));
  list.push_back(workloads::attention_decode(1, 64, 256, 64, DType::BF16, true, Tiling{1, 0}));
  list.push_back(workloads::attention_decode(1, 64, 200, 64, DType::F16, false, Tiling{2, 0}));
  list.push_back(workloads::attention_decode(2, 4, 256, 64, DType::BF16, false, Tiling{4, 0}));
  list.push_back(workloads::attention_decode(2, 3, 96, 24, DType::BF16, true, Tiling{2, 4}));
  list.push_back(workloads::attention_decode(1, 4, 1024, 32, DType::BF16, false, Tiling{32, 0}));
  list.push_back(workloads::attention_decode(1, 64, 128, 48, DType::F16, true, Tiling{1, 0}));
  // K stored as [heads, head_dim, kv] (the reference runs the fused program itself): decode
  // rows split in 2, 64 rows a block storing from registers, a masked f16 range padded to 32.
  for (auto [heads, rows, kv, dim, dtype, splits, loops] :
       {std::tuple{2, 4, 512, 64, DType::BF16, 2, 4}, std::tuple{1, 64, 256, 64, DType::BF16, 1, 4},
        std::tuple{2, 20, 200, 24, DType::F16, 1, 5}}) {
    ir::KernelGraph g =
        testing::attention_with_k_by_columns(heads, rows, kv, dim, dtype, splits, loops);
    list.push_back(Workload{"attention, K by columns", std::to_string(rows) + " rows", g, g});
  }
  // Blocks of 128 rows (8 warps), forced on these small grids: QK-norm with a split and rows
  // past the last tile, and an unsplit pipeline of four tiles.
  std::vector<AttentionOptions> options(list.size());
  list.push_back(workloads::attention_decode(1, 130, 128, 32, DType::BF16, true, Tiling{2, 0}));
  list.push_back(workloads::attention_decode(1, 128, 256, 64, DType::BF16, false, Tiling{1, 0}));
  options.resize(list.size(), AttentionOptions{132, 1});
  for (std::size_t w = options.size() - 2; w < options.size(); ++w) {
    const ir::Node* loop = nullptr;
    for (const auto& node : list[w].fused.nodes())
      if (node.block_graph && !loop) loop = &node;
    ASSERT_NE(loop, nullptr);
    const auto kernel = try_generate_attention_kernel(*loop->block_graph, kSm90Shared, options[w]);
    ASSERT_TRUE(kernel.has_value());
    EXPECT_EQ(kernel->kernel.block[0], 256u) << list[w].shape;
  }
  const auto dir = std::filesystem::temp_directory_path() /
                   ("yirage-attention-emulation-" + std::to_string(static_cast<long>(getpid())));
  std::filesystem::create_directories(dir);
  std::vector<std::vector<int>> kernels(list.size());  // kernel indices per workload
  {
    std::ofstream out(dir / "kernels.cpp");
    out << "#include \"attention_emulation.h\"\n";
    int index = 0;
    for (std::size_t w = 0; w < list.size(); ++w) {
      for (const auto& node : list[w].fused.nodes()) {
        if (!node.block_graph) continue;
        out << host_source(*node.block_graph, index, options[w]);
        kernels[w].push_back(index++);
      }
    }
  }
  const std::string library = (dir / "kernels.so").string();
  std::ostringstream command;
  command << "c++ -std=c++20 -O1 -w -shared -fPIC -I" << YIRAGE_SOURCE_DIR
          << "/tests/backend/cuda -o " << library << " " << (dir / "kernels.cpp").string();
  ASSERT_EQ(std::system(command.str().c_str()), 0) << command.str();
  void* handle = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(handle, nullptr) << dlerror();
  using Launch = void (*)(void**, bool);
  for (std::size_t w = 0; w < list.size(); ++w) {
    const ir::KernelGraph& fused = list[w].fused;
    const auto inputs = random_inputs(fused, 60 + w);
    const auto expected = get_backend("reference").run(list[w].naive, inputs);
    for (bool immediate : {false, true}) {
      // Every tensor of the program by (node, output): inputs, then each kernel's outputs.
      std::map<std::pair<int32_t, int32_t>, core::Tensor> tensors;
      for (std::size_t k = 0; k < fused.input_nodes().size(); ++k)
        tensors[{fused.input_nodes()[k], 0}] = inputs[k];
      std::size_t next = 0;
      for (std::size_t n = 0; n < fused.nodes().size(); ++n) {
        const ir::Node& node = fused.nodes()[n];
        if (!node.block_graph) continue;
        std::vector<void*> args;
        for (const ir::TensorRef& ref : node.inputs)
          args.push_back(const_cast<void*>(tensors.at({ref.node, ref.output}).data()));
        for (std::size_t o = 0; o < node.outputs.size(); ++o) {
          core::Tensor out = core::Tensor::empty(node.outputs[o].shape, node.outputs[o].dtype);
          args.push_back(out.data());
          tensors[{static_cast<int32_t>(n), static_cast<int32_t>(o)}] = out;
        }
        const int index = kernels[w][next++];
        const auto launch = reinterpret_cast<Launch>(
            dlsym(handle, ("emu_launch_" + std::to_string(index)).c_str()));
        ASSERT_NE(launch, nullptr);
        launch(args.data(), immediate);
      }
      const ir::TensorRef result = fused.outputs()[0];
      EXPECT_LE(relative_error(tensors.at({result.node, result.output}), expected[0]), 1e-2)
          << list[w].name << " " << list[w].shape << (immediate ? " (copies land at once)" : "");
    }
  }
  dlclose(handle);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace yirage::backend::cuda
