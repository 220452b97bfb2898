#include "yirage/verify/field_algebra.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "yirage/core/error.h"

namespace yirage::verify {

namespace {

// Oracle tags, one per uninterpreted function.
enum : uint64_t {
  kTagExponent = 1,
  kTagSqrt,
  kTagGelu,
  kTagRelu,
  kTagPow,
  kTagRopeCos,
  kTagRopeSin,
};

uint64_t splitmix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t double_bits(double value) {
  uint64_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

}  // namespace

FieldValue FieldAlgebra::from_index(int64_t i) const {
  const auto reduce = [](int64_t value, uint64_t m) {
    const auto magnitude = static_cast<uint64_t>(value < 0 ? -value : value) % m;
    return value < 0 ? mod_sub(0, magnitude, m) : magnitude;
  };
  return {reduce(i, pair_.p), reduce(i, pair_.q)};
}

int64_t FieldAlgebra::index(Value v) const {
  return v.a > pair_.p / 2 ? -static_cast<int64_t>(pair_.p - v.a) : static_cast<int64_t>(v.a);
}

FieldValue FieldAlgebra::oracle(uint64_t tag, uint64_t x, uint64_t y) const {
  const uint64_t h = splitmix(seed_ ^ splitmix(tag ^ splitmix(x ^ splitmix(y))));
  return {h % pair_.p, splitmix(h) % pair_.q};
}

FieldValue FieldAlgebra::with_oracle_exponent(uint64_t tag, uint64_t a) const {
  return {a, oracle(tag, a).b};
}

FieldValue FieldAlgebra::exp(Value x) const {
  return with_oracle_exponent(kTagExponent, mod_pow(pair_.g, x.b, pair_.p));
}

FieldValue FieldAlgebra::sqrt(Value x) const {
  return oracle(kTagSqrt, x.a);
}

FieldValue FieldAlgebra::rope_cos(int64_t position, int64_t i, int64_t d, double theta) const {
  return oracle(kTagRopeCos, static_cast<uint64_t>(position),
                splitmix(static_cast<uint64_t>(i)) ^ splitmix(static_cast<uint64_t>(d) << 32) ^
                    double_bits(theta));
}

FieldValue FieldAlgebra::rope_sin(int64_t position, int64_t i, int64_t d, double theta) const {
  return oracle(kTagRopeSin, static_cast<uint64_t>(position),
                splitmix(static_cast<uint64_t>(i)) ^ splitmix(static_cast<uint64_t>(d) << 32) ^
                    double_bits(theta));
}

void FieldAlgebra::multiply_accumulate(Value* row, const Value* a_row, const Value* b, int64_t k,
                                       int64_t n) const {
  // Products of residues below 2^62 are below 2^124: fifteen of them and a residue fit in 128
  // bits, so the sums are reduced once per 15 steps instead of once per product.
  constexpr int64_t kBatch = 15;
  std::vector<uint128_t> sum_a(static_cast<std::size_t>(n)), sum_b(static_cast<std::size_t>(n));
  for (int64_t j = 0; j < n; ++j) {
    sum_a[j] = row[j].a;
    sum_b[j] = row[j].b;
  }
  for (int64_t start = 0; start < k; start += kBatch) {
    const int64_t stop = std::min(k, start + kBatch);
    for (int64_t p = start; p < stop; ++p) {
      const uint128_t x_a = a_row[p].a, x_b = a_row[p].b;
      const Value* b_row = b + p * n;
      for (int64_t j = 0; j < n; ++j) {
        sum_a[j] += x_a * b_row[j].a;
        sum_b[j] += x_b * b_row[j].b;
      }
    }
    for (int64_t j = 0; j < n; ++j) {
      sum_a[j] %= pair_.p;
      sum_b[j] %= pair_.q;
    }
  }
  for (int64_t j = 0; j < n; ++j)
    row[j] = {static_cast<uint64_t>(sum_a[j]), static_cast<uint64_t>(sum_b[j])};
}

FieldValue FieldAlgebra::unary(ir::OpKind op, Value x, double s) const {
  using ir::OpKind;
  const Value one = constant(1.0);
  switch (op) {
    case OpKind::Exp:
      return exp(x);
    case OpKind::Sigmoid:
      return div(one, add(one, exp(sub(constant(0.0), x))));
    case OpKind::Silu:
      return mul(x, div(one, add(one, exp(sub(constant(0.0), x)))));
    case OpKind::Gelu:
      return oracle(kTagGelu, x.a);
    case OpKind::Relu:
      return oracle(kTagRelu, x.a);
    case OpKind::Sqrt:
      return sqrt(x);
    case OpKind::Rsqrt:
      return rsqrt(x);
    case OpKind::Square:
      return mul(x, x);
    case OpKind::Neg:
      return sub(constant(0.0), x);
    case OpKind::MulScalar:
      return mul(x, constant(s));
    case OpKind::AddScalar:
      return add(x, constant(s));
    default:
      break;
  }
  YR_INTERNAL_ERROR("not a unary op: " << ir::op_name(op));
}

FieldValue FieldAlgebra::binary(ir::OpKind op, Value x, Value y) const {
  using ir::OpKind;
  switch (op) {
    case OpKind::Add:
      return add(x, y);
    case OpKind::Sub:
      return sub(x, y);
    case OpKind::Mul:
      return mul(x, y);
    case OpKind::Div:
      return div(x, y);
    case OpKind::Pow:
      return oracle(kTagPow, x.a, y.a);
    default:
      break;
  }
  YR_INTERNAL_ERROR("not a binary op: " << ir::op_name(op));
}

FieldValue FieldAlgebra::reduce_init(ir::OpKind op) const {
  (void)op;
  return lowest();  // zero for sum and mean, the order's bottom for max
}

FieldValue FieldAlgebra::reduce_step(ir::OpKind op, Value acc, Value x) const {
  using ir::OpKind;
  switch (op) {
    case OpKind::Sum:
    case OpKind::Mean:
      return add(acc, x);
    case OpKind::Max:
      return greater(x, acc) ? x : acc;
    default:
      break;
  }
  YR_INTERNAL_ERROR("not a reduction: " << ir::op_name(op));
}

FieldValue FieldAlgebra::reduce_finish(ir::OpKind op, Value acc, int64_t n) const {
  return op == ir::OpKind::Mean ? div(acc, from_index(n)) : acc;
}

}  // namespace yirage::verify
