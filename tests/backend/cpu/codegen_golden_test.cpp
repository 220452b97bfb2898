// The generated source of one small block graph, compared with a checked-in golden copy.
// Regenerate with YIRAGE_UPDATE_GOLDEN=1 after an intended change to the generator.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "yirage/backend/cpu/codegen/block_codegen.h"

namespace yirage::backend::cpu::codegen {
namespace {

using core::DType;
using ir::AccumKind;
using ir::OpKind;

// silu(x @ w) over a grid of 2 column blocks and a for-loop of 2 over the hidden dim, bf16.
ir::BlockGraph golden_graph() {
  ir::BlockGraph graph({2, 1, 1}, {128, 1, 1}, 2, 64);
  const auto x = graph.input({{2, 8}, DType::BF16}, {-1, -1, -1}, 1);
  const auto w = graph.input({{8, 32}, DType::BF16}, {1, -1, -1}, 0);
  const auto product = graph.add_op(OpKind::Matmul, {x, w}, {})[0];
  const auto sum = graph.accumulate(AccumKind::Sum, product);
  graph.output(graph.add_op(OpKind::Silu, {sum}, {})[0], {1, -1, -1});
  return graph;
}

// This test's directory: __FILE__ is absolute, or relative to the build directory (the parent
// of the test binary's directory).
std::filesystem::path test_dir() {
  const std::filesystem::path file(__FILE__);
  if (file.is_absolute()) return file.parent_path();
  const auto binary = std::filesystem::read_symlink("/proc/self/exe");
  return (binary.parent_path().parent_path() / file).lexically_normal().parent_path();
}

TEST(CpuCodegenGoldenTest, SourceOfASmallFusedMatmul) {
  const std::filesystem::path golden = test_dir() / "golden" / "silu_matmul.cpp.txt";
  const std::string source = generate_block_source(golden_graph());
  const char* update = std::getenv("YIRAGE_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    std::ofstream(golden, std::ios::binary) << source;
  }
  std::ifstream in(golden, std::ios::binary);
  ASSERT_TRUE(in.good()) << "missing " << golden << "; run with YIRAGE_UPDATE_GOLDEN=1";
  std::stringstream expected;
  expected << in.rdbuf();
  EXPECT_EQ(source, expected.str())
      << "the generated source changed; if intended, rerun with YIRAGE_UPDATE_GOLDEN=1";
}

TEST(CpuCodegenGoldenTest, GenerationIsDeterministic) {
  EXPECT_EQ(generate_block_source(golden_graph()), generate_block_source(golden_graph()));
}

}  // namespace
}  // namespace yirage::backend::cpu::codegen
