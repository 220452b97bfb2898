#include "yirage/verify/finite_field.h"

#include <cmath>
#include <cstddef>

#include "yirage/core/error.h"

namespace yirage::verify {

uint64_t mod_pow(uint64_t base, uint64_t exponent, uint64_t m) {
  return Modulus(m).pow(base, exponent);
}

Modulus::Modulus(uint64_t m) : m_(m) {
  YR_INTERNAL_CHECK(m >= 1 && m < (1ull << 63), "modulus " << m << " out of range");
  for (unsigned k = 60; k <= 63; ++k) {
    const uint128_t power = static_cast<uint128_t>(1) << k;
    if (power > m && power - m < (1u << 16)) {
      shift_ = k;
      c_ = static_cast<uint64_t>(power - m);
    }
  }
}

uint64_t Modulus::pow(uint64_t base, uint64_t exponent) const {
  uint64_t result = 1 % m_;
  base %= m_;
  while (exponent > 0) {
    if (exponent & 1) result = mul(result, base);
    base = mul(base, base);
    exponent >>= 1;
  }
  return result;
}

uint64_t Modulus::inverse(uint64_t a) const {
  a %= m_;
  if (a == 0) return 0;
  // Divisions by one value come in runs (a softmax row by its total, a norm row by its scale):
  // each thread remembers its last inverse modulo each of the last few moduli.
  struct Entry {
    uint64_t m = 0, a = 0, inverse = 0;
  };
  constexpr std::size_t kEntries = 4;
  thread_local Entry entries[kEntries];
  thread_local std::size_t next = 0;
  Entry* entry = nullptr;
  for (Entry& candidate : entries) {
    if (candidate.m == m_) entry = &candidate;
  }
  if (entry == nullptr) {
    entry = &entries[next];
    next = (next + 1) % kEntries;
    entry->m = m_;
  } else if (entry->a == a) {
    return entry->inverse;
  }
  entry->a = a;
  entry->inverse = pow(a, m_ - 2);
  return entry->inverse;
}

uint64_t mod_inverse(uint64_t a, uint64_t m) {
  return Modulus(m).inverse(a);
}

uint64_t mod_from_double(double value, uint64_t m) {
  YR_USER_CHECK(
      std::isfinite(value),
      "constant " << value << " is not finite; the finite-field check needs finite constants");
  if (value == 0.0) return 0;
  int exponent = 0;
  const double mantissa =
      std::frexp(std::fabs(value), &exponent);  // |value| = mantissa * 2^exponent
  // mantissa * 2^53 is an integer below 2^53.
  const auto integer = static_cast<uint64_t>(std::ldexp(mantissa, 53));
  exponent -= 53;
  const Modulus modulus(m);
  const uint64_t scale = exponent >= 0 ? modulus.pow(2, static_cast<uint64_t>(exponent))
                                       : modulus.pow(m % 2 == 1 ? (m + 1) / 2 : modulus.inverse(2),
                                                     static_cast<uint64_t>(-exponent));
  const uint64_t result = modulus.mul(integer % m, scale);
  return value < 0 ? mod_sub(0, result, m) : result;
}

}  // namespace yirage::verify
