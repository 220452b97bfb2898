#include "yirage/verify/finite_field.h"

#include <gtest/gtest.h>

#include "yirage/verify/field_algebra.h"

namespace yirage::verify {
namespace {

TEST(FiniteFieldTest, PairsAreSafePrimesWithAGeneratorOfOrderQ) {
  for (const FieldPair& pair : kFieldPairs) {
    EXPECT_EQ(pair.p, 2 * pair.q + 1);
    // Fermat checks for both (the primes were chosen by Miller-Rabin).
    for (uint64_t base : {2ull, 3ull, 5ull, 7ull}) {
      EXPECT_EQ(mod_pow(base, pair.p - 1, pair.p), 1u);
      EXPECT_EQ(mod_pow(base, pair.q - 1, pair.q), 1u);
    }
    EXPECT_EQ(mod_pow(pair.g, pair.q, pair.p), 1u);
    EXPECT_NE(pair.g % pair.p, 1u);
  }
}

TEST(FiniteFieldTest, ConstantsMapExactly) {
  const uint64_t p = kFieldPairs[0].p;
  EXPECT_EQ(mod_mul(mod_from_double(0.5, p), 2, p), 1u);
  EXPECT_EQ(mod_from_double(1024.0, p), 1024u);
  EXPECT_EQ(mod_from_double(1.0 / 1024, p), mod_inverse(1024, p));
  EXPECT_EQ(mod_add(mod_from_double(-3.0, p), 3, p), 0u);
  EXPECT_EQ(mod_mul(mod_from_double(0.75, p), 4, p), 3u);
  // 1e-6 is a dyadic rational in binary; its image times 2^k recovers its integer mantissa.
  EXPECT_NE(mod_from_double(1e-6, p), mod_from_double(2e-6, p));
  EXPECT_EQ(mod_add(mod_from_double(1e-6, p), mod_from_double(1e-6, p), p),
            mod_from_double(2e-6, p));
}

TEST(FiniteFieldTest, ExpIsAHomomorphism) {
  const FieldAlgebra algebra(kFieldPairs[1], 42);
  const FieldValue x = algebra.random(123456789, 987654321);
  const FieldValue y = algebra.random(555, 777);
  EXPECT_EQ(algebra.exp(algebra.add(x, y)).a, algebra.mul(algebra.exp(x), algebra.exp(y)).a);
  EXPECT_EQ(algebra.exp(algebra.constant(0.0)).a, 1u);
  EXPECT_EQ(algebra.rsqrt(x).a, algebra.div(algebra.constant(1.0), algebra.sqrt(x)).a);
  EXPECT_EQ(algebra.index(algebra.from_index(-5)), -5);
  EXPECT_EQ(algebra.index(algebra.from_index(4095)), 4095);
}

}  // namespace
}  // namespace yirage::verify
