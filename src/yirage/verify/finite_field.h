// Arithmetic in the two prime fields of the finite-field equivalence check.
//
// Each tensor element is a pair (a mod p, b mod q) with p = 2q + 1 and p, q prime. Ring
// operations act on both components. exp maps the q-component (an exponent) to g^b mod p,
// with g = 4 of order q in Z_p*, so exp(x + y) = exp(x) * exp(y) holds exactly. p and q are
// close to 2^62 and 2^61: the chance that two different polynomial circuits of degree d agree
// on a random point is at most d / q per trial (Schwartz-Zippel), about 2^-40 for d = 2^20.
#pragma once

#include <cstdint>

namespace yirage::verify {

/// A safe-prime pair (p = 2q + 1) and a generator of the order-q subgroup of Z_p*.
struct FieldPair {
  uint64_t p;  ///< the value field's modulus
  uint64_t q;  ///< the exponent field's modulus, (p - 1) / 2
  uint64_t g;  ///< an element of order q in Z_p*
};

/// The two pairs used by the verifier (trial t uses pair t % 2).
inline constexpr FieldPair kFieldPairs[2] = {
    {4611686018427377339ull, 2305843009213688669ull, 4},
    {4611686018427376319ull, 2305843009213688159ull, 4},
};

/// (a + b) mod m for a, b < m < 2^63.
inline uint64_t mod_add(uint64_t a, uint64_t b, uint64_t m) {
  const uint64_t sum = a + b;
  return sum >= m ? sum - m : sum;
}
/// (a - b) mod m for a, b < m.
inline uint64_t mod_sub(uint64_t a, uint64_t b, uint64_t m) {
  return a >= b ? a - b : a + m - b;
}
/// Unsigned 128-bit integers (a compiler extension on every supported target).
__extension__ typedef unsigned __int128 uint128_t;

/// (a * b) mod m.
inline uint64_t mod_mul(uint64_t a, uint64_t b, uint64_t m) {
  return static_cast<uint64_t>(static_cast<uint128_t>(a) * b % m);
}

/// Reduction modulo a fixed m, fast for the moduli of kFieldPairs: when m = 2^k - c with
/// 60 <= k <= 63 and c < 2^16, a 128-bit x folds as (x >> k) * c + (x mod 2^k) twice and one
/// conditional subtraction, instead of a 128-bit division. Other moduli take the division.
/// Every result is the canonical residue, the same as the `%` of mod_mul.
class Modulus {
 public:
  /// Reduction modulo `m` (1 <= m < 2^63).
  explicit Modulus(uint64_t m);
  /// The modulus.
  uint64_t value() const { return m_; }
  /// x mod m for any 128-bit x.
  uint64_t reduce(uint128_t x) const {
    if (shift_ == 0) return static_cast<uint64_t>(x % m_);
    const uint128_t mask = (static_cast<uint128_t>(1) << shift_) - 1;
    const uint128_t once = (x >> shift_) * c_ + (x & mask);  // below 2^84 + 2^k
    const uint64_t twice =
        static_cast<uint64_t>((once >> shift_) * c_ + (once & mask));  // below 2^k + 2^41
    return twice >= m_ ? twice - m_ : twice;
  }
  /// (a * b) mod m for a, b < 2^64.
  uint64_t mul(uint64_t a, uint64_t b) const { return reduce(static_cast<uint128_t>(a) * b); }
  /// base^exponent mod m.
  uint64_t pow(uint64_t base, uint64_t exponent) const;
  /// The inverse of a mod m for prime m (0 maps to 0), as mod_inverse.
  uint64_t inverse(uint64_t a) const;

 private:
  uint64_t m_;
  unsigned shift_ = 0;  // k when m = 2^k - c qualifies, else 0 (divide)
  uint64_t c_ = 0;
};
/// base^exponent mod m.
uint64_t mod_pow(uint64_t base, uint64_t exponent, uint64_t m);
/// The inverse of a mod prime m (0 maps to 0: the check treats a division by zero as a
/// value like any other; it happens with probability about 1/q per division).
uint64_t mod_inverse(uint64_t a, uint64_t m);
/// The exact image of a finite double in Z_m: every finite double is k * 2^e, mapped to
/// k * 2^e mod m (2^-1 being the inverse of 2), a ring homomorphism on dyadic rationals.
uint64_t mod_from_double(double value, uint64_t m);

}  // namespace yirage::verify
