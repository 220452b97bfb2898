// Run-time compilation: the in-process and on-disk caches, YIRAGE_DUMP and compiler failures.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "test_util.h"
#include "yirage/backend/cpu/block_compiler.h"
#include "yirage/backend/cpu/codegen/compiler.h"

namespace yirage::backend::cpu {
namespace {

namespace fs = std::filesystem;
using core::DType;
using ir::OpKind;

// A fresh directory under the system temp dir, removed with the object.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() /
            ("yirage-codegen-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code error;
    fs::remove_all(path_, error);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// y = x * s over one block, with `s` unique to this process run so no cache holds it yet.
ir::BlockGraph scale_graph(double salt) {
  const double s =
      1.0 +
      static_cast<double>(std::chrono::steady_clock::now().time_since_epoch().count() % 1000003) *
          1e-9 +
      salt;
  ir::BlockGraph graph({2, 1, 1}, {128, 1, 1}, 1, 64);
  const auto x = graph.input({{4, 4}, DType::F32}, {0, -1, -1}, -1);
  ir::Attrs attrs;
  attrs.set("scalar", s);
  graph.output(graph.add_op(OpKind::MulScalar, {x}, attrs)[0], {0, -1, -1});
  return graph;
}

std::size_t count_files(const fs::path& dir, const std::string& extension) {
  std::size_t count = 0;
  for (const auto& entry : fs::directory_iterator(dir))
    count += entry.path().extension() == extension;
  return count;
}

TEST(CpuCodegenCacheTest, SecondUseNeitherCompilesNorReloads) {
  TempDir cache, dump;
  yirage::testing::ScopedEnv cache_env("YIRAGE_CACHE_DIR", cache.path().c_str());
  yirage::testing::ScopedEnv dump_env("YIRAGE_DUMP", dump.path().c_str());
  const ir::BlockGraph graph = scale_graph(0.0);
  const int64_t before = codegen::compiler_invocations();
  const auto first = compile_block_graph(graph);
  EXPECT_EQ(codegen::compiler_invocations(), before + 1);
  const fs::path kernels = cache.path() / "cpu-kernels";
  EXPECT_EQ(count_files(kernels, ".so"), 1u);
  // YIRAGE_DUMP holds the source that was compiled.
  ASSERT_EQ(count_files(dump.path(), ".cpp"), 1u);
  std::ifstream dumped(fs::directory_iterator(dump.path())->path());
  std::stringstream text;
  text << dumped.rdbuf();
  EXPECT_EQ(text.str(), first->source());

  const auto second = compile_block_graph(graph);  // in-process map
  EXPECT_EQ(codegen::compiler_invocations(), before + 1);
  codegen::forget_loaded_objects();
  const auto third = compile_block_graph(graph);  // on-disk cache
  EXPECT_EQ(codegen::compiler_invocations(), before + 1);

  core::Tensor x = core::Tensor::empty({4, 4}, DType::F32);
  for (int i = 0; i < 16; ++i) x.data_as<float>()[i] = static_cast<float>(i);
  core::Tensor y = core::Tensor::empty({4, 4}, DType::F32);
  third->run({x}, {y});
  const double s = graph.nodes()[1].attrs.get_float("scalar");
  for (int i = 0; i < 16; ++i) EXPECT_FLOAT_EQ(y.data_as<float>()[i], static_cast<float>(i * s));
}

TEST(CpuCodegenCacheTest, BrokenCompilerIsAnInternalErrorNamingTheDumpedSource) {
  TempDir cache, dump;
  yirage::testing::ScopedEnv cache_env("YIRAGE_CACHE_DIR", cache.path().c_str());
  yirage::testing::ScopedEnv dump_env("YIRAGE_DUMP", dump.path().c_str());
  yirage::testing::ScopedEnv compiler("CXX", "false");
  try {
    compile_block_graph(scale_graph(1.0));
    FAIL() << "expected an InternalError";
  } catch (const core::InternalError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(dump.path().string() + "/yirage_kernel_"), std::string::npos) << message;
    EXPECT_NE(message.find("failed (exit status 1)"), std::string::npos) << message;
    EXPECT_EQ(count_files(dump.path(), ".cpp"), 1u);
  }
  EXPECT_EQ(count_files(cache.path() / "cpu-kernels", ".so"), 0u);
}

TEST(CpuCodegenCacheTest, CompilerErrorsAreQuoted) {
  TempDir cache;
  yirage::testing::ScopedEnv cache_env("YIRAGE_CACHE_DIR", cache.path().c_str());
  try {
    codegen::load_compiled("this is not C++\n");
    FAIL() << "expected an InternalError";
  } catch (const core::InternalError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("error"), std::string::npos) << message;
    EXPECT_NE(message.find(cache.path().string()), std::string::npos) << message;
  }
}

TEST(CpuCodegenCacheTest, RejectsTensorsOfTheWrongType) {
  TempDir cache;
  yirage::testing::ScopedEnv cache_env("YIRAGE_CACHE_DIR", cache.path().c_str());
  const ir::BlockGraph graph = scale_graph(2.0);
  const auto kernel = compile_block_graph(graph);
  core::Tensor wrong = core::Tensor::empty({4, 5}, DType::F32);
  core::Tensor y = core::Tensor::empty({4, 4}, DType::F32);
  EXPECT_USER_ERROR([&] { kernel->run({wrong}, {y}); }, "input 0", "float32[4, 5]",
                    "expected a contiguous host tensor float32[4, 4]");
  EXPECT_USER_ERROR([&] { kernel->run({}, {y}); }, "takes 1 inputs; got 0");
}

}  // namespace
}  // namespace yirage::backend::cpu
