// The blocked GEMM on every instruction-set path this CPU has, at many shapes (1, primes,
// tile edges, several k and m blocks), with row strides larger than the rows.
#include "yirage/backend/cpu/cpu_gemm.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "test_util.h"
#include "yirage/core/dtype.h"

namespace yirage::backend::cpu {
namespace {

using core::DType;

// Row-major matrix of `rows` x `cols` inside a buffer with row stride `ld`, in `dtype`.
struct Matrix {
  int64_t rows, cols, ld;
  DType dtype;
  std::vector<char> bytes;
  Matrix(int64_t r, int64_t c, int64_t l, DType d)
      : rows(r),
        cols(c),
        ld(l),
        dtype(d),
        bytes(static_cast<std::size_t>(r * l) * core::dtype_size(d), char(0x5a)) {}
  double at(int64_t i, int64_t j) const {
    return core::load_as_double(bytes.data(), dtype, static_cast<std::size_t>(i * ld + j));
  }
};

Matrix random_matrix(int64_t rows, int64_t cols, int64_t ld, DType dtype, std::mt19937& rng) {
  Matrix m(rows, cols, ld, dtype);
  std::uniform_real_distribution<double> value(-1.0, 1.0);
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j)
      core::store_from_double(m.bytes.data(), dtype, static_cast<std::size_t>(i * ld + j),
                              value(rng));
  }
  return m;
}

// Checks C against the float64 product of the (already rounded) inputs; the padding between
// rows of C must keep its guard bytes.
void check_gemm(GemmPath path, DType dtype, int64_t m, int64_t n, int64_t k, int64_t pad) {
  SCOPED_TRACE(std::string(gemm_path_name(path)) + " " + std::string(core::dtype_name(dtype)) +
               " m=" + std::to_string(m) + " n=" + std::to_string(n) + " k=" + std::to_string(k));
  std::mt19937 rng(static_cast<unsigned>(m * 131 + n * 17 + k));
  const Matrix a = random_matrix(m, k, k + pad, dtype, rng);
  const Matrix b = random_matrix(k, n, n + 2 * pad, dtype, rng);
  Matrix c(m, n, n + pad, dtype);
  GemmArgs args;
  args.m = m;
  args.n = n;
  args.k = k;
  args.dtype = dtype;
  args.a = a.bytes.data();
  args.lda = a.ld;
  args.b = b.bytes.data();
  args.ldb = b.ld;
  args.c = c.bytes.data();
  args.ldc = c.ld;
  gemm(args, path);
  const double unit = dtype == DType::F32 ? 0x1p-24 : dtype == DType::BF16 ? 0x1p-8 : 0x1p-11;
  std::vector<double> a_values(static_cast<std::size_t>(m * k));
  std::vector<double> b_values(static_cast<std::size_t>(k * n));
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t p = 0; p < k; ++p) a_values[static_cast<std::size_t>(i * k + p)] = a.at(i, p);
  }
  for (int64_t p = 0; p < k; ++p) {
    for (int64_t j = 0; j < n; ++j) b_values[static_cast<std::size_t>(p * n + j)] = b.at(p, j);
  }
  int failures = 0;
  for (int64_t i = 0; i < m && failures < 5; ++i) {
    for (int64_t j = 0; j < n && failures < 5; ++j) {
      double want = 0.0, magnitude = 0.0;
      for (int64_t p = 0; p < k; ++p) {
        const double term = a_values[static_cast<std::size_t>(i * k + p)] *
                            b_values[static_cast<std::size_t>(p * n + j)];
        want += term;
        magnitude += std::fabs(term);
      }
      // f32 accumulation error plus one rounding of the result to the dtype.
      const double tolerance =
          4.0 * static_cast<double>(k) * 0x1p-24 * magnitude + unit * std::fabs(want) + 1e-30;
      const double got = c.at(i, j);
      if (std::fabs(got - want) > tolerance) {
        ADD_FAILURE() << "C[" << i << ", " << j << "] = " << got << ", expected " << want;
        ++failures;
      }
    }
    const std::size_t row_end = static_cast<std::size_t>((i * c.ld + n)) * core::dtype_size(dtype);
    const std::size_t next_row =
        static_cast<std::size_t>(((i + 1) * c.ld)) * core::dtype_size(dtype);
    for (std::size_t byte = row_end; byte < next_row; ++byte) {
      if (c.bytes[byte] != char(0x5a)) {
        ADD_FAILURE() << "padding after row " << i << " was overwritten";
        ++failures;
        break;
      }
    }
  }
}

struct Shape3 {
  int64_t m, n, k;
};

constexpr Shape3 kShapes[] = {{1, 1, 1},     {1, 67, 37},    {2, 64, 64},   {5, 127, 129},
                              {7, 200, 3},   {13, 65, 1},    {6, 64, 257},  {37, 131, 257},
                              {97, 70, 300}, {1, 1031, 523}, {64, 129, 31}, {3, 17, 1024},
                              {300, 40, 70}};

TEST(CpuGemmTest, EveryPathAtManyShapes) {
  const auto paths = available_gemm_paths();
  ASSERT_FALSE(paths.empty());
  EXPECT_EQ(paths.front(), GemmPath::Scalar);
  for (GemmPath path : paths) {
    for (DType dtype : {DType::F32, DType::BF16, DType::F16}) {
      const bool bf16_only = path == GemmPath::Avx512Bf16 || path == GemmPath::Amx;
      if (bf16_only && dtype != DType::BF16) continue;  // the same kernel as avx512
      for (const Shape3& s : kShapes) check_gemm(path, dtype, s.m, s.n, s.k, 3);
    }
  }
}

TEST(CpuGemmTest, DenseRowsWithoutPadding) {
  for (GemmPath path : available_gemm_paths()) {
    check_gemm(path, DType::BF16, 8, 192, 96, 0);
    check_gemm(path, DType::F32, 11, 64, 250, 0);
  }
}

TEST(CpuGemmTest, BestPathFollowsTheCpu) {
  const auto paths = available_gemm_paths();
  auto has = [&](GemmPath path) {
    return std::find(paths.begin(), paths.end(), path) != paths.end();
  };
  const GemmPath widest = has(GemmPath::Avx512) ? GemmPath::Avx512
                          : has(GemmPath::Avx2) ? GemmPath::Avx2
                                                : GemmPath::Scalar;
  EXPECT_EQ(best_gemm_path(DType::BF16), widest);
  EXPECT_EQ(best_gemm_path(DType::F32), widest);
  EXPECT_EQ(gemm_path_name(GemmPath::Avx512Bf16), "avx512-bf16");
}

TEST(CpuGemmTest, RejectsBadShapes) {
  float a = 1.0f, b = 1.0f, c = 0.0f;
  GemmArgs args;
  args.m = 1;
  args.n = 1;
  args.k = 2;
  args.a = &a;
  args.lda = 1;
  args.b = &b;
  args.ldb = 1;
  args.c = &c;
  args.ldc = 1;
  EXPECT_USER_ERROR([&] { gemm(args); }, "gemm: bad shape", "lda=1");
}

TEST(CpuGemmTest, ForcedPathAppliesToAuto) {
  force_gemm_path(GemmPath::Scalar);
  check_gemm(GemmPath::Auto, DType::BF16, 3, 20, 9, 1);
  force_gemm_path(GemmPath::Auto);
  check_gemm(GemmPath::Auto, DType::BF16, 3, 20, 9, 1);
}

}  // namespace
}  // namespace yirage::backend::cpu
