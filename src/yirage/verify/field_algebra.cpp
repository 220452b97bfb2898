#include "yirage/verify/field_algebra.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "yirage/core/error.h"
#include "yirage/core/hash.h"

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
  return core::mix64(x + 0x9e3779b97f4a7c15ull);
}

uint64_t double_bits(double value) {
  uint64_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

// Blocking of FieldAlgebra::matmul_accumulate: products summed between reductions, rows and
// columns of a block.
constexpr int64_t kBatch = 15, kRows = 16, kColumns = 32;

// sum_a[r][j] (and sum_b[r][j] when kExponents) += a[r * k + p] * b[p * stride + j] over p in
// [start, stop), for r < rows and j < columns: two rows at a time, summed in registers.
template <bool kExponents>
void accumulate_batch(uint128_t (*sum_a)[kColumns], uint128_t (*sum_b)[kColumns],
                      const FieldValue* a, int64_t k, const FieldValue* b, int64_t stride,
                      int64_t rows, int64_t columns, int64_t start, int64_t stop) {
  int64_t r = 0;
  for (; r + 1 < rows; r += 2) {
    const FieldValue* a0 = a + r * k;
    const FieldValue* a1 = a0 + k;
    for (int64_t j = 0; j < columns; ++j) {
      uint128_t s0a = sum_a[r][j], s1a = sum_a[r + 1][j], s0b = 0, s1b = 0;
      if constexpr (kExponents) {
        s0b = sum_b[r][j];
        s1b = sum_b[r + 1][j];
      }
      for (int64_t p = start; p < stop; ++p) {
        const FieldValue y = b[p * stride + j];
        s0a += static_cast<uint128_t>(a0[p].a) * y.a;
        s1a += static_cast<uint128_t>(a1[p].a) * y.a;
        if constexpr (kExponents) {
          s0b += static_cast<uint128_t>(a0[p].b) * y.b;
          s1b += static_cast<uint128_t>(a1[p].b) * y.b;
        }
      }
      sum_a[r][j] = s0a;
      sum_a[r + 1][j] = s1a;
      if constexpr (kExponents) {
        sum_b[r][j] = s0b;
        sum_b[r + 1][j] = s1b;
      }
    }
  }
  for (; r < rows; ++r) {
    const FieldValue* a0 = a + r * k;
    for (int64_t j = 0; j < columns; ++j) {
      uint128_t s0a = sum_a[r][j], s0b = 0;
      if constexpr (kExponents) s0b = sum_b[r][j];
      for (int64_t p = start; p < stop; ++p) {
        const FieldValue y = b[p * stride + j];
        s0a += static_cast<uint128_t>(a0[p].a) * y.a;
        if constexpr (kExponents) s0b += static_cast<uint128_t>(a0[p].b) * y.b;
      }
      sum_a[r][j] = s0a;
      if constexpr (kExponents) sum_b[r][j] = s0b;
    }
  }
}

}  // namespace

FieldAlgebra::FieldAlgebra(const FieldPair& pair, uint64_t seed, bool exponents)
    : pair_(pair), seed_(seed), exponents_(exponents), p_(pair.p), q_(pair.q) {
  auto powers = std::make_shared<std::vector<uint64_t>>(8 * 256);
  uint64_t base = pair.g % pair.p;  // g^(256^w)
  for (std::size_t w = 0; w < 8; ++w) {
    uint64_t power = 1 % pair.p;
    for (std::size_t d = 0; d < 256; ++d) {
      (*powers)[w * 256 + d] = power;
      power = p_.mul(power, base);
    }
    base = power;  // g^(256^w * 256)
  }
  powers_ = std::move(powers);
}

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
  return {p_.reduce(h), q_.reduce(splitmix(h))};
}

FieldValue FieldAlgebra::with_oracle_exponent(uint64_t tag, uint64_t a) const {
  return {a, oracle(tag, a).b};
}

FieldValue FieldAlgebra::exp(Value x) const {
  // g^b as the product of g^(d_w * 256^w) over the base-256 digits d_w of b.
  const uint64_t* powers = powers_->data();
  uint64_t result = powers[x.b & 255];
  for (std::size_t w = 1; w < 8; ++w)
    result = p_.mul(result, powers[w * 256 + ((x.b >> (8 * w)) & 255)]);
  return with_oracle_exponent(kTagExponent, result);
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

void FieldAlgebra::matmul_accumulate(Value* out, const Value* a, const Value* b, int64_t m,
                                     int64_t k, int64_t n, int64_t stride) const {
  // Products of residues below 2^62 are below 2^124: fifteen of them and a residue fit in 128
  // bits, so the sums are reduced once per 15 steps instead of once per product. A block of
  // kRows rows and kColumns columns keeps its sums, and the 15 rows of b of a step, in L1.
  uint128_t sum_a[kRows][kColumns], sum_b[kRows][kColumns];
  for (int64_t i0 = 0; i0 < m; i0 += kRows) {
    const int64_t rows = std::min(kRows, m - i0);
    for (int64_t j0 = 0; j0 < n; j0 += kColumns) {
      const int64_t columns = std::min(kColumns, n - j0);
      for (int64_t r = 0; r < rows; ++r) {
        const Value* row = out + (i0 + r) * stride + j0;
        for (int64_t j = 0; j < columns; ++j) {
          sum_a[r][j] = row[j].a;
          sum_b[r][j] = exponents_ ? row[j].b : 0;
        }
      }
      for (int64_t start = 0; start < k; start += kBatch) {
        const int64_t stop = std::min(k, start + kBatch);
        const Value* a_block = a + i0 * k;
        const Value* b_block = b + j0;
        if (exponents_) {
          accumulate_batch<true>(sum_a, sum_b, a_block, k, b_block, stride, rows, columns, start,
                                 stop);
        } else {
          accumulate_batch<false>(sum_a, sum_b, a_block, k, b_block, stride, rows, columns, start,
                                  stop);
        }
        for (int64_t r = 0; r < rows; ++r) {
          for (int64_t j = 0; j < columns; ++j) {
            sum_a[r][j] = p_.reduce(sum_a[r][j]);
            sum_b[r][j] = exponents_ ? q_.reduce(sum_b[r][j]) : 0;
          }
        }
      }
      for (int64_t r = 0; r < rows; ++r) {
        Value* row = out + (i0 + r) * stride + j0;
        for (int64_t j = 0; j < columns; ++j) {
          row[j] = {static_cast<uint64_t>(sum_a[r][j]), static_cast<uint64_t>(sum_b[r][j])};
        }
      }
    }
  }
}

FieldValue FieldAlgebra::unary(ir::OpKind op, Value x, double s) const {
  using ir::OpKind;
  const Value zero = lowest();
  switch (op) {
    case OpKind::Exp:
      return exp(x);
    case OpKind::Sigmoid:
      return div(one(), add(one(), exp(sub(zero, x))));
    case OpKind::Silu:
      return mul(x, div(one(), add(one(), exp(sub(zero, x)))));
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
      return sub(zero, x);
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
