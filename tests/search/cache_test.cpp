// The search cache: hits after a first run, misses for other graphs and options, and survives
// corrupt entries and directories it cannot write.
#include "yirage/search/cache.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "test_util.h"
#include "yirage/backend/registry.h"
#include "yirage/core/cpu_features.h"
#include "yirage/core/log.h"
#include "yirage/ir/fingerprint.h"
#include "yirage/ir/serialize.h"
#include "yirage/verify/verifier.h"
#include "yirage/workloads/workloads.h"

namespace yirage::search {
namespace {

namespace fs = std::filesystem;
using core::DType;
using nlohmann::json;

class CacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    saved_level_ = core::log_level();
    core::set_log_level(core::LogLevel::Warn);
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("yirage-cache-test-" + std::to_string(::getpid()) + "-" + info->name());
    fs::remove_all(dir_);
    options_.max_verified = 1;
    options_.cache_dir = dir_.string();
  }
  void TearDown() override {
    fs::remove_all(dir_);
    core::set_log_level(saved_level_);
  }

  // The files of the cache directory.
  int count_entries() const {
    if (!fs::exists(dir_)) return 0;
    int entries = 0;
    for (const auto& file : fs::directory_iterator(dir_)) entries += file.is_regular_file();
    return entries;
  }
  fs::path entry_path(const ir::KernelGraph& graph) const {
    const std::string device = device_fingerprint(backend::get_backend("reference"));
    return dir_ / cache_key(graph, options_, device).file_name();
  }
  static json read_json(const fs::path& path) {
    std::ifstream file(path);
    return json::parse(file);
  }
  static void write_text(const fs::path& path, const std::string& text) {
    std::ofstream file(path, std::ios::trunc);
    file << text;
  }
  // Runs the search, returning what it wrote to stderr in `log`.
  OptimizedProgram run(const ir::KernelGraph& graph, std::string& log) {
    ::testing::internal::CaptureStderr();
    OptimizedProgram result = superoptimize(graph, options_);
    log = ::testing::internal::GetCapturedStderr();
    return result;
  }

  core::LogLevel saved_level_ = core::LogLevel::Warn;
  fs::path dir_;
  SearchOptions options_;
  const ir::KernelGraph graph_ = workloads::rms_norm_matmul(4, 128, 256, DType::F32).naive;
};

TEST_F(CacheTest, HitsAfterAFirstRunWithTheSameVerifiedProgram) {
  std::string log;
  const OptimizedProgram first = run(graph_, log);
  EXPECT_TRUE(first.report.improved) << first.report.summary;
  EXPECT_FALSE(first.report.cache_hit);
  EXPECT_EQ(count_entries(), 1);
  ASSERT_TRUE(fs::exists(entry_path(graph_)));

  const OptimizedProgram second = run(graph_, log);
  EXPECT_TRUE(log.empty()) << log;
  EXPECT_TRUE(second.report.cache_hit);
  EXPECT_TRUE(second.report.improved);
  EXPECT_EQ(ir::graph_fingerprint(second.graph), ir::graph_fingerprint(first.graph));
  EXPECT_EQ(second.report.kernels_after, 1);
  EXPECT_EQ(second.report.kernels_before, first.report.kernels_before);
  EXPECT_EQ(second.report.totals.states, first.report.totals.states);
  EXPECT_DOUBLE_EQ(second.report.best_cost, first.report.best_cost);
  EXPECT_NE(second.report.summary.find("From the cache (sealed when verified)"), std::string::npos)
      << second.report.summary;
  EXPECT_TRUE(verify::verify(graph_, second.graph).equivalent);
  std::cout << "[ cache ] search " << first.report.seconds << " s, cached re-run "
            << second.report.seconds << " s\n";

  // Without the cache, the search runs again.
  options_.use_cache = false;
  EXPECT_FALSE(run(graph_, log).report.cache_hit);
}

TEST_F(CacheTest, MissesForAnotherGraph) {
  std::string log;
  run(graph_, log);
  const ir::KernelGraph other = workloads::rms_norm_matmul(4, 128, 128, DType::F32).naive;
  const OptimizedProgram result = run(other, log);
  EXPECT_FALSE(result.report.cache_hit);
  EXPECT_TRUE(result.report.improved);
  EXPECT_EQ(result.graph.output_types(), other.output_types());
  EXPECT_EQ(count_entries(), 2);
}

TEST_F(CacheTest, KeyChangesWithEveryOptionThatChangesResults) {
  const std::string device = device_fingerprint(backend::get_backend("reference"));
  const std::string base = cache_key(graph_, options_, device).file_name();
  EXPECT_EQ(base.size(), 16 + 5u);
  EXPECT_EQ(cache_key(graph_, options_, device).file_name(), base);  // stable
  SearchOptions changed = options_;
  changed.prune = false;
  EXPECT_NE(cache_key(graph_, changed, device).file_name(), base);
  changed = options_;
  changed.max_block_ops = 6;
  EXPECT_NE(cache_key(graph_, changed, device).file_name(), base);
  changed = options_;
  changed.max_verified = 8;
  EXPECT_NE(cache_key(graph_, changed, device).file_name(), base);
  changed = options_;
  changed.derive = false;
  EXPECT_NE(cache_key(graph_, changed, device).file_name(), base);
  changed = options_;
  changed.max_fragment_ops = 4;
  EXPECT_NE(cache_key(graph_, changed, device).file_name(), base);
  EXPECT_NE(cache_key(graph_, options_, device + " avx10").file_name(), base);
  CacheKey older = cache_key(graph_, options_, device);
  older.config_version = kSearchConfigVersion - 1;
  EXPECT_NE(older.file_name(), base);
  // Budgets, the seed and callbacks do not change the key.
  changed = options_;
  changed.time_budget_seconds = 1;
  changed.seed = 7;
  EXPECT_EQ(cache_key(graph_, changed, device).file_name(), base);
}

TEST_F(CacheTest, DeviceFingerprintOfTheReferenceBackendNamesTheCpu) {
  const std::string device = device_fingerprint(backend::get_backend("reference"));
  EXPECT_EQ(device.rfind("cpu ", 0), 0u) << device;
  for (const std::string& feature : core::cpu_features().names()) {
    EXPECT_NE(device.find(" " + feature), std::string::npos) << device;
  }
}

TEST_F(CacheTest, DirectoryComesFromTheEnvironment) {
  {
    testing::ScopedEnv cache("YIRAGE_CACHE_DIR", "/some/where");
    EXPECT_EQ(default_cache_dir(), "/some/where");
  }
  testing::ScopedEnv cache("YIRAGE_CACHE_DIR", nullptr);
  {
    testing::ScopedEnv xdg("XDG_CACHE_HOME", "/xdg");
    EXPECT_EQ(default_cache_dir(), "/xdg/yirage");
  }
  testing::ScopedEnv xdg("XDG_CACHE_HOME", nullptr);
  testing::ScopedEnv home("HOME", "/home/someone");
  EXPECT_EQ(default_cache_dir(), "/home/someone/.cache/yirage");
}

TEST_F(CacheTest, CorruptEntryIsReportedOnceAndRewritten) {
  std::string log;
  fs::create_directories(dir_);
  write_text(entry_path(graph_), "{\"format\": \"yirage.search_cache\", \"versi");
  const OptimizedProgram result = run(graph_, log);
  EXPECT_FALSE(result.report.cache_hit);
  EXPECT_TRUE(result.report.improved);
  EXPECT_NE(log.find("search cache: ignoring"), std::string::npos) << log;
  EXPECT_NE(log.find("not valid JSON; searching again"), std::string::npos) << log;
  // The search's result replaced the entry: the next run hits without a warning.
  EXPECT_EQ(read_json(entry_path(graph_)).at("format"), "yirage.search_cache");
  const OptimizedProgram again = run(graph_, log);
  EXPECT_TRUE(again.report.cache_hit);
  EXPECT_TRUE(log.empty()) << log;
}

TEST_F(CacheTest, MismatchedEntriesAreIgnored) {
  std::string log;
  run(graph_, log);
  const fs::path path = entry_path(graph_);
  const json good = read_json(path);

  // Another key inside the file.
  json entry = good;
  entry["key"]["max_block_ops"] = 3;
  write_text(path, entry.dump());
  OptimizedProgram result = run(graph_, log);
  EXPECT_FALSE(result.report.cache_hit);
  EXPECT_NE(log.find("is not the key looked up"), std::string::npos) << log;

  // A field missing.
  entry = good;
  entry["report"].erase("states");
  write_text(path, entry.dump());
  result = run(graph_, log);
  EXPECT_FALSE(result.report.cache_hit);
  EXPECT_NE(log.find("a field is missing or of the wrong type"), std::string::npos) << log;

  // A program that does not load.
  entry = good;
  entry["program"]["nodes"][0]["op"] = "no_such_op";
  write_text(path, entry.dump());
  result = run(graph_, log);
  EXPECT_FALSE(result.report.cache_hit);
  EXPECT_NE(log.find("its program does not load"), std::string::npos) << log;
  EXPECT_NE(log.find("no_such_op"), std::string::npos) << log;

  // The program of another graph, with other output types.
  const ir::KernelGraph other = workloads::rms_norm_matmul(4, 128, 128, DType::F32).naive;
  run(other, log);
  entry = good;
  entry["program"] = read_json(entry_path(other)).at("program");
  write_text(path, entry.dump());
  result = run(graph_, log);
  EXPECT_FALSE(result.report.cache_hit);
  EXPECT_NE(log.find("input or output types differ"), std::string::npos) << log;

  // A program of the same types that computes something else: (x * x) @ w.
  ir::KernelGraph wrong;
  {
    const auto x = wrong.input({4, 128}, DType::F32);
    wrong.input({128}, DType::F32);
    const auto w = wrong.input({128, 256}, DType::F32);
    wrong.mark_output(wrong.matmul(wrong.binary(ir::OpKind::Mul, x, x), w));
  }
  entry = good;
  entry["program"] = json::parse(ir::graph_to_json(wrong));
  write_text(path, entry.dump());
  result = run(graph_, log);
  EXPECT_FALSE(result.report.cache_hit);
  EXPECT_TRUE(result.report.improved);
  EXPECT_NE(log.find("its program is not the one verified"), std::string::npos) << log;
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 1) << log;
  EXPECT_TRUE(verify::verify(graph_, result.graph).equivalent);

  // Each time the search's result replaced the bad entry.
  result = run(graph_, log);
  EXPECT_TRUE(result.report.cache_hit);
  EXPECT_TRUE(log.empty()) << log;
}

TEST_F(CacheTest, UnwritableDirectoryIsNotFatal) {
  // A directory below a regular file cannot be created, whoever runs the test.
  fs::create_directories(dir_);
  write_text(dir_ / "file", "x");
  options_.cache_dir = (dir_ / "file" / "cache").string();
  std::string log;
  const OptimizedProgram result = run(graph_, log);
  EXPECT_TRUE(result.report.improved);
  EXPECT_FALSE(result.report.cache_hit);
  EXPECT_NE(log.find("search cache: cannot write to '" + options_.cache_dir + "'"),
            std::string::npos)
      << log;
  // Said once per directory.
  EXPECT_TRUE(run(graph_, log).report.improved);
  EXPECT_TRUE(log.empty()) << log;
}

TEST_F(CacheTest, StoresNeitherCancelledSearchesNorEmptyHandedBudgetRuns) {
  std::string log;
  SearchOptions stopped = options_;
  stopped.state_budget = 5;
  stopped.derive = false;  // lowering alone finds a program within 5 states
  const OptimizedProgram starved = superoptimize(graph_, stopped);
  EXPECT_TRUE(starved.report.budget_exhausted);
  EXPECT_FALSE(starved.report.improved);
  EXPECT_EQ(count_entries(), 0);

  const std::atomic<bool> cancel{true};
  stopped = options_;
  stopped.cancel = &cancel;
  const OptimizedProgram cancelled = superoptimize(graph_, stopped);
  EXPECT_TRUE(cancelled.report.cancelled);
  EXPECT_NE(cancelled.report.summary.find("Cancelled"), std::string::npos);
  EXPECT_EQ(count_entries(), 0);

  // A complete search is stored, and serves later runs whatever their budget.
  run(graph_, log);
  EXPECT_EQ(count_entries(), 1);
  stopped = options_;
  stopped.state_budget = 5;
  EXPECT_TRUE(superoptimize(graph_, stopped).report.cache_hit);
}

TEST_F(CacheTest, UnknownBackendListsTheKnownOnes) {
  options_.backend = "nope";
  EXPECT_USER_ERROR([&] { superoptimize(graph_, options_); },
                    "unknown backend 'nope'; known backends: reference");
  options_.backend = "mps";
  EXPECT_USER_ERROR([&] { superoptimize(graph_, options_); }, "backend 'mps' is not available");
}

}  // namespace
}  // namespace yirage::search
