// The verifier's fast paths give exactly what the straightforward arithmetic gives, and a
// running check can be stopped.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "test_util.h"
#include "yirage/backend/reference/graph_interpreter.h"
#include "yirage/backend/reference/real_algebra.h"
#include "yirage/verify/field_algebra.h"
#include "yirage/verify/verifier.h"
#include "yirage/workloads/workloads.h"

namespace yirage::verify {
namespace {

// Moduli of both kinds: the pseudo-Mersenne ones of kFieldPairs and ones that divide.
std::vector<uint64_t> test_moduli() {
  std::vector<uint64_t> moduli;
  for (const FieldPair& pair : kFieldPairs) {
    moduli.push_back(pair.p);
    moduli.push_back(pair.q);
  }
  moduli.push_back(1000000007ull);
  moduli.push_back((1ull << 63) - 25);  // the largest prime below 2^63
  return moduli;
}

uint64_t slow_mul(uint64_t a, uint64_t b, uint64_t m) {
  return static_cast<uint64_t>(static_cast<uint128_t>(a) * b % m);
}

uint64_t slow_pow(uint64_t base, uint64_t exponent, uint64_t m) {
  uint64_t result = 1 % m;
  for (base %= m; exponent > 0; exponent >>= 1) {
    if (exponent & 1) result = slow_mul(result, base, m);
    base = slow_mul(base, base, m);
  }
  return result;
}

TEST(FastArithmeticTest, ReductionMatchesDivisionOnEdgesAndRandomValues) {
  std::mt19937_64 random(1);
  for (const uint64_t m : test_moduli()) {
    const Modulus modulus(m);
    EXPECT_EQ(modulus.value(), m);
    const uint128_t top = ~static_cast<uint128_t>(0);
    const uint128_t square = static_cast<uint128_t>(m - 1) * (m - 1);
    std::vector<uint128_t> values = {
        0,   1,       m - 1,  m, m + 1, 2 * static_cast<uint128_t>(m), square, 15 * square + m - 1,
        top, top - 1, top - m};
    for (unsigned k = 55; k < 128; ++k) {
      const uint128_t power = static_cast<uint128_t>(1) << k;
      values.insert(values.end(), {power - 1, power, power + 1, power - m});
    }
    for (int i = 0; i < 2000; ++i) {
      values.push_back((static_cast<uint128_t>(random()) << 64) | random());
      values.push_back(static_cast<uint128_t>(random() % m) * (random() % m));
      values.push_back(static_cast<uint128_t>(m - 1 - random() % 4) * (m - 1 - random() % 4));
    }
    for (const uint128_t x : values) {
      ASSERT_EQ(modulus.reduce(x), static_cast<uint64_t>(x % m))
          << "m = " << m << ", x = " << static_cast<uint64_t>(x >> 64) << ":"
          << static_cast<uint64_t>(x);
    }
  }
}

TEST(FastArithmeticTest, PowersAndInversesMatchTheStraightforwardOnes) {
  std::mt19937_64 random(2);
  for (const uint64_t m : test_moduli()) {
    const Modulus modulus(m);
    for (int i = 0; i < 50; ++i) {
      const uint64_t base = i < 3 ? m - 1 - i : random() % m;
      const uint64_t exponent = i < 3 ? m - 2 : random();
      EXPECT_EQ(modulus.pow(base, exponent), slow_pow(base, exponent, m));
      EXPECT_EQ(mod_pow(base, exponent, m), slow_pow(base, exponent, m));
    }
  }
  // Inverses, remembered per thread and modulus: interleave moduli and repeat values.
  const auto moduli = test_moduli();
  std::vector<uint64_t> values;
  for (int i = 0; i < 40; ++i) values.push_back(1 + random() % 1000);
  for (int round = 0; round < 3; ++round) {
    for (const uint64_t value : values) {
      for (const uint64_t m : moduli) {
        const Modulus modulus(m);
        const uint64_t a = value % m;
        const uint64_t inverse = modulus.inverse(a);
        EXPECT_EQ(inverse, slow_pow(a, m - 2, m)) << "m = " << m << ", a = " << a;
        EXPECT_EQ(modulus.inverse(a), inverse);
        EXPECT_EQ(slow_mul(inverse, a, m), 1u);
      }
    }
  }
  EXPECT_EQ(Modulus(kFieldPairs[0].p).inverse(0), 0u);
  EXPECT_EQ(Modulus(kFieldPairs[0].p).inverse(kFieldPairs[0].p), 0u);
}

TEST(FastArithmeticTest, ExpMatchesThePowerOfTheGenerator) {
  std::mt19937_64 random(3);
  for (const FieldPair& pair : kFieldPairs) {
    const FieldAlgebra algebra(pair, 9);
    std::vector<uint64_t> exponents = {0, 1, 255, 256, 65535, 65536, pair.q - 1, pair.q - 256};
    for (int i = 0; i < 200; ++i) exponents.push_back(random() % pair.q);
    for (const uint64_t b : exponents)
      EXPECT_EQ(algebra.exp({0, b}).a, slow_pow(pair.g, b, pair.p)) << "b = " << b;
  }
}

// FieldAlgebra without its matmul fast path: the interpreter's plain loop.
struct PlainFieldAlgebra : FieldAlgebra {
  using FieldAlgebra::FieldAlgebra;
  void matmul_accumulate(Value*, const Value*, const Value*, int64_t, int64_t, int64_t,
                         int64_t) const = delete;
};

// A graph of one batched matmul.
ir::KernelGraph matmul_graph(const core::Shape& a, const core::Shape& b) {
  ir::KernelGraph graph;
  const auto x = graph.input(a, core::DType::F32);
  const auto y = graph.input(b, core::DType::F32);
  graph.mark_output(graph.matmul(x, y));
  return graph;
}

TEST(FastArithmeticTest, FieldMatmulMatchesThePlainLoopNearTheModulus) {
  using Tensor = backend::reference::Values<FieldValue>;
  std::mt19937_64 random(4);
  // Odd extents: partial row blocks, column blocks and reduction batches; a broadcast batch.
  const std::vector<std::pair<core::Shape, core::Shape>> cases = {
      {{5, 37}, {37, 131}}, {{2, 19, 31}, {31, 300}}, {{3, 1, 64}, {3, 64, 257}}};
  for (const FieldPair& pair : kFieldPairs) {
    const FieldAlgebra fast(pair, 5);
    const PlainFieldAlgebra plain(pair, 5);
    for (const auto& [a_shape, b_shape] : cases) {
      const auto graph = matmul_graph(a_shape, b_shape);
      std::vector<Tensor> inputs;
      for (const auto& shape : {a_shape, b_shape}) {
        Tensor tensor{shape, std::vector<FieldValue>(core::shape_numel(shape))};
        for (auto& value : tensor.data) {
          // Half near the top of the field, where the sums of products are largest.
          value = random() % 2 ? FieldValue{pair.p - 1 - random() % 3, pair.q - 1 - random() % 3}
                               : fast.random(random(), random());
        }
        inputs.push_back(std::move(tensor));
      }
      const auto expected = backend::reference::run_kernel_graph(plain, graph, inputs);
      const auto actual = backend::reference::run_kernel_graph(fast, graph, inputs);
      ASSERT_EQ(expected.size(), 1u);
      EXPECT_TRUE(expected[0].data == actual[0].data);
      EXPECT_EQ(expected[0].shape, actual[0].shape);
      // Without exponents: the same Z_p components, zero Z_q ones.
      const FieldAlgebra values_only(pair, 5, false);
      const auto reduced = backend::reference::run_kernel_graph(values_only, graph, inputs);
      ASSERT_EQ(reduced[0].data.size(), expected[0].data.size());
      for (std::size_t i = 0; i < reduced[0].data.size(); ++i) {
        ASSERT_EQ(reduced[0].data[i].a, expected[0].data[i].a);
        ASSERT_EQ(reduced[0].data[i].b, 0u);
      }
    }
  }
}

// RealAlgebra without its matmul fast path.
struct PlainRealAlgebra : backend::reference::RealAlgebra {
  void matmul_accumulate(double*, const double*, const double*, int64_t, int64_t, int64_t,
                         int64_t) const = delete;
};

TEST(FastArithmeticTest, RealMatmulMatchesThePlainLoopBitForBit) {
  using Tensor = backend::reference::Values<double>;
  std::mt19937_64 random(6);
  std::normal_distribution<double> normal;
  const auto graph = matmul_graph({2, 7, 530}, {530, 1030});
  std::vector<Tensor> inputs;
  for (const core::Shape& shape : {core::Shape{2, 7, 530}, core::Shape{530, 1030}}) {
    Tensor tensor{shape, std::vector<double>(core::shape_numel(shape))};
    for (auto& value : tensor.data) value = normal(random) * 1e3;
    inputs.push_back(std::move(tensor));
  }
  const auto expected = backend::reference::run_kernel_graph(PlainRealAlgebra{}, graph, inputs);
  const auto actual =
      backend::reference::run_kernel_graph(backend::reference::RealAlgebra{}, graph, inputs);
  ASSERT_EQ(expected[0].data.size(), actual[0].data.size());
  EXPECT_EQ(std::memcmp(expected[0].data.data(), actual[0].data.data(),
                        expected[0].data.size() * sizeof(double)),
            0);
}

TEST(FastArithmeticTest, ACancelledCheckIsNotEquivalent) {
  const auto workload = workloads::rms_norm_matmul(4, 128, 256, core::DType::F32);
  std::atomic<bool> cancel{true};
  VerifyOptions options;
  options.cancel = &cancel;
  const VerifyResult result = verify(workload.naive, workload.fused, options);
  EXPECT_FALSE(result.equivalent);
  EXPECT_EQ(result.reason, "not verified: cancelled");
  cancel = false;
  EXPECT_TRUE(verify(workload.naive, workload.fused, options).equivalent);
}

TEST(FastArithmeticTest, ARunningCheckStopsWhenCancelled) {
  // Large enough to take seconds; cancelled after 50 ms, it returns soon after.
  const auto workload = workloads::rms_norm_matmul(16, 4096, 4096, core::DType::BF16);
  std::atomic<bool> cancel{false};
  VerifyOptions options;
  options.cancel = &cancel;
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    cancel = true;
  });
  const VerifyResult result = verify(workload.naive, workload.fused, options);
  canceller.join();
  EXPECT_FALSE(result.equivalent);
  EXPECT_EQ(result.reason, "not verified: cancelled");
  EXPECT_LT(result.seconds, 2.0);  // the whole check takes several seconds
}

TEST(FastArithmeticTest, ACheckStopsAtItsTimeLimit) {
  const auto workload = workloads::rms_norm_matmul(16, 4096, 4096, core::DType::BF16);
  VerifyOptions options;
  options.time_limit_seconds = 0.05;
  const VerifyResult result = verify(workload.naive, workload.fused, options);
  EXPECT_FALSE(result.equivalent);
  EXPECT_EQ(result.reason, "not verified: the time limit of 0.05 s was reached");
  EXPECT_LT(result.seconds, 2.0);  // the whole check takes several seconds
  options.time_limit_seconds = -1.0;
  EXPECT_USER_ERROR([&] { verify(workload.naive, workload.fused, options); }, "time limit",
                    "negative");
}

}  // namespace
}  // namespace yirage::verify
