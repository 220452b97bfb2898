#include "yirage/verify/finite_field.h"

#include <cmath>

#include "yirage/core/error.h"

namespace yirage::verify {

uint64_t mod_pow(uint64_t base, uint64_t exponent, uint64_t m) {
  uint64_t result = 1 % m;
  base %= m;
  while (exponent > 0) {
    if (exponent & 1) result = mod_mul(result, base, m);
    base = mod_mul(base, base, m);
    exponent >>= 1;
  }
  return result;
}

uint64_t mod_inverse(uint64_t a, uint64_t m) {
  a %= m;
  return a == 0 ? 0 : mod_pow(a, m - 2, m);
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
  uint64_t result = integer % m;
  const uint64_t scale = exponent >= 0
                             ? mod_pow(2, static_cast<uint64_t>(exponent), m)
                             : mod_pow(mod_inverse(2, m), static_cast<uint64_t>(-exponent), m);
  result = mod_mul(result, scale, m);
  return value < 0 ? mod_sub(0, result, m) : result;
}

}  // namespace yirage::verify
