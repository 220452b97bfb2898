// Prints GFLOP/s and GB/s of the cpu backend's GEMM at decode shapes, per instruction-set path,
// next to a plain loop and a parallel read of B. Usage: yirage_gemm_bench [iterations] [json]
// (with a second argument the rows are also written to that file as JSON).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "yirage/backend/cpu/cpu_gemm.h"
#include "yirage/core/cpu_features.h"
#include "yirage/core/dtype.h"
#include "yirage/core/thread_pool.h"

namespace {

using yirage::backend::cpu::GemmArgs;
using yirage::backend::cpu::GemmPath;

template <typename Fn>
double median_seconds(int iterations, Fn&& fn) {
  fn();  // warm-up
  std::vector<double> seconds;
  for (int i = 0; i < iterations; ++i) {
    const auto start = std::chrono::steady_clock::now();
    fn();
    seconds.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(seconds.begin(), seconds.end());
  return seconds[seconds.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int iterations = argc > 1 ? std::atoi(argv[1]) : 9;
  std::FILE* json = argc > 2 ? std::fopen(argv[2], "w") : nullptr;
  if (json != nullptr) {
    const auto& cpu = yirage::core::cpu_features();
    std::string features;
    for (const auto& name : cpu.names())
      features += (features.empty() ? "\"" : ", \"") + name + "\"";
    std::fprintf(json,
                 "{\n  \"benchmark\": \"cpu-gemm\",\n  \"machine\": {\"cpu\": \"%s\", "
                 "\"features\": [%s], \"hardware_threads\": %d, \"threads_used\": %d},\n"
                 "  \"dtype\": \"bfloat16\",\n  \"rows\": [",
                 cpu.model.c_str(), features.c_str(), cpu.hardware_threads,
                 yirage::core::num_threads());
  }
  bool first_row = true;
  const auto dtype = yirage::core::DType::BF16;
  std::printf("cpu: %s, %d threads\n", yirage::core::cpu_features().model.c_str(),
              yirage::core::num_threads());
  std::mt19937 rng(1);
  std::uniform_real_distribution<double> value(-1.0, 1.0);
  struct Case {
    int64_t m, k, n;
  };
  for (const Case c :
       {Case{1, 1024, 4096}, Case{8, 1024, 4096}, Case{64, 1024, 4096}, Case{1, 4096, 12288},
        Case{8, 4096, 12288}, Case{64, 4096, 12288}, Case{512, 1024, 4096}}) {
    std::vector<uint16_t> a(static_cast<std::size_t>(c.m * c.k));
    std::vector<uint16_t> b(static_cast<std::size_t>(c.k * c.n));
    std::vector<uint16_t> out(static_cast<std::size_t>(c.m * c.n));
    for (auto& x : a) x = yirage::core::double_to_bf16(value(rng));
    for (auto& x : b) x = yirage::core::double_to_bf16(value(rng));
    GemmArgs args;
    args.m = c.m;
    args.n = c.n;
    args.k = c.k;
    args.dtype = dtype;
    args.a = a.data();
    args.lda = c.k;
    args.b = b.data();
    args.ldb = c.n;
    args.c = out.data();
    args.ldc = c.n;
    const double flops = 2.0 * c.m * c.n * c.k;
    const double bytes = 2.0 * (c.m * c.k + c.k * c.n + c.m * c.n);
    auto report = [&](const char* what, double seconds) {
      if (json != nullptr) {
        std::fprintf(json,
                     "%s\n    {\"m\": %lld, \"k\": %lld, \"n\": %lld, \"kernel\": \"%s\", "
                     "\"microseconds\": %.2f, \"gflops\": %.2f, \"gbytes_per_s\": %.2f}",
                     first_row ? "" : ",", static_cast<long long>(c.m), static_cast<long long>(c.k),
                     static_cast<long long>(c.n), what, seconds * 1e6, flops / seconds * 1e-9,
                     bytes / seconds * 1e-9);
        first_row = false;
      }
      std::printf("M=%-3lld K=%-5lld N=%-6lld %-12s %9.1f us %8.1f GFLOP/s %7.1f GB/s\n",
                  static_cast<long long>(c.m), static_cast<long long>(c.k),
                  static_cast<long long>(c.n), what, seconds * 1e6, flops / seconds * 1e-9,
                  bytes / seconds * 1e-9);
    };
    for (GemmPath path : yirage::backend::cpu::available_gemm_paths()) {
      if (path == GemmPath::Scalar && c.m * c.k * c.n > (int64_t{1} << 30)) continue;
      report(std::string(yirage::backend::cpu::gemm_path_name(path)).c_str(),
             median_seconds(iterations, [&] { yirage::backend::cpu::gemm(args, path); }));
    }
    // Roofline of the weight read: every thread sums its share of B's bytes as 64-bit words.
    const auto* words = reinterpret_cast<const uint64_t*>(b.data());
    const int64_t count = static_cast<int64_t>(b.size() / 4);
    std::vector<uint64_t> sums(4096);
    const double read = median_seconds(iterations, [&] {
      yirage::core::ThreadPool::global().parallel_for(4096, 1, [&](int64_t begin, int64_t end) {
        for (int64_t part = begin; part < end; ++part) {
          uint64_t sum = 0;
          for (int64_t i = part * count / 4096; i < (part + 1) * count / 4096; ++i) sum += words[i];
          sums[static_cast<std::size_t>(part)] = sum;
        }
      });
    });
    if (json != nullptr) {
      std::fprintf(json,
                   ",\n    {\"m\": %lld, \"k\": %lld, \"n\": %lld, \"kernel\": \"read-B\", "
                   "\"microseconds\": %.2f, \"gbytes_per_s\": %.2f}",
                   static_cast<long long>(c.m), static_cast<long long>(c.k),
                   static_cast<long long>(c.n), read * 1e6,
                   2.0 * static_cast<double>(c.k * c.n) / read * 1e-9);
    }
    std::printf("M=%-3lld K=%-5lld N=%-6lld %-12s %9.1f us %25.1f GB/s (B only)\n",
                static_cast<long long>(c.m), static_cast<long long>(c.k),
                static_cast<long long>(c.n), "read-B", read * 1e6,
                2.0 * static_cast<double>(c.k * c.n) / read * 1e-9);
    report("naive", median_seconds(c.m * c.k * c.n > (int64_t{1} << 28) ? 1 : 3,
                                   [&] { yirage::backend::cpu::naive_gemm(args); }));
  }
  if (json != nullptr) {
    std::fprintf(json, "\n  ]\n}\n");
    std::fclose(json);
  }
  return 0;
}
