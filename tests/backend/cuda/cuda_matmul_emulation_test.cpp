// The tensor-core kernels executed without a GPU: their generated source, with the device
// helpers replaced by the CPU stand-ins of matmul_emulation.h, is compiled by the host C++
// compiler into a shared library and run one thread per CUDA thread; the outputs must match the
// reference backend. This checks the indexing of the generated code (stages, swizzles, fragment
// layouts, warp splits, the epilogue) wherever a C++ compiler is installed; the GPU tests check
// the hardware.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "yirage/backend/cuda/device_code.h"
#include "yirage/backend/cuda/matmul_device_lib.h"
#include "yirage/backend/cuda/matmul_schedule.h"
#include "yirage/backend/random_inputs.h"
#include "yirage/backend/registry.h"
#include "yirage/search/lowering.h"
#include "yirage/workloads/workloads.h"

namespace yirage::backend::cuda {
namespace {

using core::DType;
using workloads::Tiling;
using workloads::Workload;

constexpr int kSm90Shared = 232448;

const ir::BlockGraph& last_block(const ir::KernelGraph& graph) {
  for (auto it = graph.nodes().rbegin(); it != graph.nodes().rend(); ++it) {
    if (it->block_graph) return *it->block_graph;
  }
  throw std::runtime_error("no customized node");
}

// Host C++ for kernel `index` of `graph`: the kernel body and a launcher emu_launch_<index>.
std::string host_source(const ir::BlockGraph& graph, int index) {
  const auto kernel = try_generate_matmul_kernel(graph, kSm90Shared);
  EXPECT_TRUE(kernel.has_value());
  if (!kernel) return "";
  const std::string head = device_prelude() + matmul_device_lib();
  const std::string& source = kernel->kernel.source;
  const std::string shared = "extern __shared__ float4 yr_smem[];";
  const std::string entry = "yr_kernel(";
  const auto at_shared = source.find(shared);
  const auto at_entry = source.find(entry);
  std::ostringstream out;
  out << source.substr(head.size(), at_entry - head.size()) << "yr_kernel_" << index << "("
      << source.substr(at_entry + entry.size(), at_shared - at_entry - entry.size())
      << "float4* yr_smem = reinterpret_cast<float4*>(emu_smem_base);"
      << source.substr(at_shared + shared.size());
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

TEST(CudaMatmulEmulation, ScheduledKernelsMatchTheReferenceOnTheCpu) {
  if (std::system("c++ --version > /dev/null 2>&1") != 0)
    GTEST_SKIP() << "no host C++ compiler (c++) to build the emulated kernels";
  // RMSNorm+matmul with two row tiles a warp pair, a gated MLP in f16 with odd column tiles and
  // contraction warps taking turns, LoRA with its after-loop matmul, and a residual add of a
  // loop-invariant tile.
  std::vector<Workload> list;
  list.push_back(workloads::rms_norm_matmul(20, 256, 128, DType::BF16, Tiling{4, 4}));
  list.push_back(workloads::gated_mlp(20, 64, 48, DType::F16, Tiling{2, 4}));
  list.push_back(workloads::lora(3, 128, 256, 16, DType::BF16, Tiling{4, 2}));
  {  // A projection with a residual add, as the search lowers it: x + a @ w.
    Workload w{"residual", "x[5, 64] a[5, 256] w[256, 64]", {}, {}};
    const auto x = w.naive.input({5, 64}, DType::BF16);
    const auto a = w.naive.input({5, 256}, DType::BF16);
    const auto weight = w.naive.input({256, 64}, DType::BF16);
    w.naive.mark_output(w.naive.binary(ir::OpKind::Add, x, w.naive.matmul(a, weight)));
    search::Frame frame;
    frame.grid = {4, 1, 1};
    frame.forloop = 4;
    frame.imaps = {{1, -1, -1}, {-1, -1, -1}, {1, -1, -1}};
    frame.fmaps = {-1, 1, 0};
    const auto lowered = search::lower_to_frame(w.naive, frame);
    ASSERT_TRUE(lowered.has_value());
    w.fused = *lowered;
    list.push_back(std::move(w));
  }
  {  // The first kernel of a split contraction (partial sums over grid y), alone.
    const auto rms = workloads::rms_norm_matmul(20, 256, 256, DType::BF16, Tiling{2, 4});
    const auto split = search::split_reduction(rms.fused, 2);
    ASSERT_TRUE(split.has_value());
    Workload w{"split first kernel", rms.shape, {}, {}};
    std::vector<ir::TensorRef> inputs;
    for (const auto& type : split->input_types())
      inputs.push_back(w.fused.input(type.shape, type.dtype));
    for (const auto& node : split->nodes()) {
      if (!node.block_graph) continue;
      for (const auto& partial : w.fused.customized(inputs, node.block_graph))
        w.fused.mark_output(partial);
      break;
    }
    w.naive = w.fused;  // the reference backend interprets the block graph itself
    list.push_back(std::move(w));
  }
  const auto dir = std::filesystem::temp_directory_path() /
                   ("yirage-emulation-" + std::to_string(static_cast<long>(getpid())));
  std::filesystem::create_directories(dir);
  {
    std::ofstream out(dir / "kernels.cpp");
    out << "#include \"matmul_emulation.h\"\n";
    for (std::size_t i = 0; i < list.size(); ++i)
      out << host_source(last_block(list[i].fused), static_cast<int>(i));
  }
  const std::string library = (dir / "kernels.so").string();
  std::ostringstream command;
  command << "c++ -std=c++20 -O1 -w -shared -fPIC -I" << YIRAGE_SOURCE_DIR
          << "/tests/backend/cuda -o " << library << " " << (dir / "kernels.cpp").string();
  ASSERT_EQ(std::system(command.str().c_str()), 0) << command.str();
  void* handle = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(handle, nullptr) << dlerror();
  for (std::size_t i = 0; i < list.size(); ++i) {
    const Workload& w = list[i];
    using Launch = void (*)(void**, bool);
    const auto launch =
        reinterpret_cast<Launch>(dlsym(handle, ("emu_launch_" + std::to_string(i)).c_str()));
    ASSERT_NE(launch, nullptr);
    const auto inputs = random_inputs(w.fused, 40 + i);
    const auto expected = get_backend("reference").run(w.naive, inputs);
    for (bool immediate : {false, true}) {
      std::vector<core::Tensor> outputs;
      std::vector<void*> args;
      for (const auto& input : inputs) args.push_back(const_cast<void*>(input.data()));
      for (const auto& type : w.fused.output_types()) {
        outputs.push_back(core::Tensor::empty(type.shape, type.dtype));
        args.push_back(outputs.back().data());
      }
      launch(args.data(), immediate);
      EXPECT_LE(relative_error(outputs[0], expected[0]), 1e-2)
          << w.name << " " << w.shape << (immediate ? " (copies land at once)" : "");
    }
  }
  dlclose(handle);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace yirage::backend::cuda
