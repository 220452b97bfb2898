// The finite-field number system of the equivalence check, for the reference interpreter.
//
// A value is a pair (a mod p, b mod q) of a FieldPair. What each op does, and why it is sound
// (equal real computations give equal pairs; different ones differ with high probability):
//  - add, sub, mul, div (by the modular inverse), neg, square, matmul, sums and means: exact
//    ring operations on both components; constants (eps, scalars, 1/n) are mapped exactly,
//    every double being a dyadic rational (finite_field.h).
//  - exp(x) = g^b mod p: exponents live in Z_q, values in Z_p, so exp(x + y) = exp(x) exp(y)
//    and the rescaling of online softmax cancel exactly. The q-component of a result that is
//    not a ring expression of the inputs (exp, sqrt, gelu, ...) is drawn from a random oracle
//    keyed by its p-component, so it is a function of the value.
//  - sigmoid(x) = 1 / (1 + exp(-x)) and silu(x) = x * sigmoid(x), exactly as defined.
//  - sqrt, gelu, relu, pow and the rotary cos/sin tables: uninterpreted functions, a random
//    oracle (fresh per trial) of the p-component of their arguments. rsqrt(x) = 1 / sqrt(x)
//    keeps the identity between the two. Identities these functions satisfy beyond being
//    functions (sqrt(x)^2 = x, ...) are not used: the check may reject such rewrites, never
//    accept a wrong one.
//  - outputs are compared on their Z_p components only (verifier.cpp): downstream of a non-ring
//    op the Z_q component is an oracle value that two equal computations need not share.
//  - only exp (and the ops made of it: sigmoid, silu, softmax, rescaled sums) reads a Z_q
//    component into a Z_p one, so a check whose graphs have none may leave the Z_q components
//    of matmul results at zero (FieldAlgebra's `exponents` flag): the Z_p results, the only
//    ones compared, are the same.
//  - max (reductions, softmax, accumulators) picks the largest p-component: a total order, so
//    max is associative and commutative and any split of a max gives the same element. Softmax
//    and online softmax are invariant to the value subtracted, so their results do not depend
//    on which element an order picks.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "yirage/ir/op.h"
#include "yirage/verify/finite_field.h"

namespace yirage::verify {

/// An element of Z_p x Z_q.
struct FieldValue {
  uint64_t a = 0;  ///< component in Z_p
  uint64_t b = 0;  ///< component in Z_q (the exponent view)
  /// Equality of both components.
  bool operator==(const FieldValue& other) const = default;
};

/// Z_p x Z_q with the op semantics above; random oracles are keyed by `seed`.
class FieldAlgebra {
 public:
  /// A value of this algebra.
  using Value = FieldValue;

  /// The algebra of `pair` with oracles drawn from `seed`; without `exponents`, matmuls leave
  /// the Z_q components of their results at zero (for graphs without exp, see above).
  FieldAlgebra(const FieldPair& pair, uint64_t seed, bool exponents = true);

  /// The field pair in use.
  const FieldPair& pair() const { return pair_; }
  /// A uniformly random element from a 64-bit random word pair.
  Value random(uint64_t word_a, uint64_t word_b) const {
    return {p_.reduce(word_a), q_.reduce(word_b)};
  }

  /// The exact image of the double `c`.
  Value constant(double c) const {
    return {mod_from_double(c, pair_.p), mod_from_double(c, pair_.q)};
  }
  /// The image of the integer `i`.
  Value from_index(int64_t i) const;
  /// The integer an index value was made from (ids and positions are never computed).
  int64_t index(Value v) const;

  /// Element-wise unary op.
  Value unary(ir::OpKind op, Value x, double s) const;
  /// Element-wise binary op.
  Value binary(ir::OpKind op, Value x, Value y) const;
  /// Initial accumulator of a reduction.
  Value reduce_init(ir::OpKind op) const;
  /// Accumulator after element x.
  Value reduce_step(ir::OpKind op, Value acc, Value x) const;
  /// Result of a reduction over n elements.
  Value reduce_finish(ir::OpKind op, Value acc, int64_t n) const;

  /// x + y.
  Value add(Value x, Value y) const {
    return {mod_add(x.a, y.a, pair_.p), mod_add(x.b, y.b, pair_.q)};
  }
  /// x - y.
  Value sub(Value x, Value y) const {
    return {mod_sub(x.a, y.a, pair_.p), mod_sub(x.b, y.b, pair_.q)};
  }
  /// x * y.
  Value mul(Value x, Value y) const { return {p_.mul(x.a, y.a), q_.mul(x.b, y.b)}; }
  /// x / y by modular inverses.
  Value div(Value x, Value y) const { return mul(x, {p_.inverse(y.a), q_.inverse(y.b)}); }
  /// g^(x.b) in Z_p.
  Value exp(Value x) const;
  /// An uninterpreted function of x.
  Value sqrt(Value x) const;
  /// 1 / sqrt(x).
  Value rsqrt(Value x) const { return div(one(), sqrt(x)); }
  /// The total order used by max.
  bool greater(Value x, Value y) const { return x.a > y.a; }
  /// The smallest element of that order.
  Value lowest() const { return {0, 0}; }
  /// exp(from - to).
  Value rescale(Value from, Value to) const { return exp(sub(from, to)); }
  /// out[i * stride + j] += sum_p a[i * k + p] * b[p * stride + j] for i < m, j < n: blocked,
  /// with sums of products reduced once per 15 steps; the interpreter's matmul fast path.
  void matmul_accumulate(Value* out, const Value* a, const Value* b, int64_t m, int64_t k,
                         int64_t n, int64_t stride) const;
  /// The rotary cosine table, an uninterpreted function of its arguments.
  Value rope_cos(int64_t position, int64_t i, int64_t d, double theta) const;
  /// The rotary sine table, an uninterpreted function of its arguments.
  Value rope_sin(int64_t position, int64_t i, int64_t d, double theta) const;

 private:
  /// A random-oracle value for function `tag` of the words `x` and `y`.
  Value oracle(uint64_t tag, uint64_t x, uint64_t y = 0) const;
  /// Completes a p-component with the oracle's q-component.
  Value with_oracle_exponent(uint64_t tag, uint64_t a) const;

  /// The multiplicative identity.
  static Value one() { return {1, 1}; }

  FieldPair pair_;
  uint64_t seed_;
  bool exponents_;
  Modulus p_, q_;
  /// g^(d * 256^w) mod p at [w * 256 + d], w < 8: exp as eight table products.
  std::shared_ptr<const std::vector<uint64_t>> powers_;
};

}  // namespace yirage::verify
