// float64 arithmetic for the reference interpreter: the op semantics of ops.def, verbatim.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include "yirage/core/error.h"
#include "yirage/ir/op.h"

namespace yirage::backend::reference {

/// The real numbers, approximated by double; the reference backend's number system.
struct RealAlgebra {
  /// A real number.
  using Value = double;

  /// The constant `c`.
  Value constant(double c) const { return c; }
  /// The integer `i` (an id, a position, a count).
  Value from_index(int64_t i) const { return static_cast<double>(i); }
  /// An integer-valued Value as an integer (embedding ids, rope positions); a UserError when it
  /// is not an integer within +-2^62.
  int64_t index(Value v) const {
    YR_USER_CHECK(v == std::trunc(v) && std::fabs(v) < 0x1p62,
                  "index value " << v << " is not an integer within +-2^62");
    return static_cast<int64_t>(v);
  }

  /// Element-wise unary op `op` with scalar attribute `s`, from ops.def.
  Value unary(ir::OpKind op, double x, double s) const {
    switch (op) {
#define YR_REAL_UNARY(id, name, spec, expr) \
  case ir::OpKind::id:                      \
    return (expr);
      YIRAGE_UNARY_OPS(YR_REAL_UNARY)
#undef YR_REAL_UNARY
      default:
        break;
    }
    (void)s;
    YR_INTERNAL_ERROR("not a unary op: " << ir::op_name(op));
  }
  /// Element-wise binary op `op`, from ops.def.
  Value binary(ir::OpKind op, double x, double y) const {
    switch (op) {
#define YR_REAL_BINARY(id, name, expr) \
  case ir::OpKind::id:                 \
    return (expr);
      YIRAGE_BINARY_OPS(YR_REAL_BINARY)
#undef YR_REAL_BINARY
      default:
        break;
    }
    YR_INTERNAL_ERROR("not a binary op: " << ir::op_name(op));
  }
  /// Initial accumulator of reduction `op`, from ops.def.
  Value reduce_init(ir::OpKind op) const {
    switch (op) {
#define YR_REAL_REDUCE_INIT(id, name, init, step, finish) \
  case ir::OpKind::id:                                    \
    return (init);
      YIRAGE_REDUCE_OPS(YR_REAL_REDUCE_INIT)
#undef YR_REAL_REDUCE_INIT
      default:
        break;
    }
    YR_INTERNAL_ERROR("not a reduction: " << ir::op_name(op));
  }
  /// Accumulator of reduction `op` after element `x`, from ops.def.
  Value reduce_step(ir::OpKind op, double acc, double x) const {
    switch (op) {
#define YR_REAL_REDUCE_STEP(id, name, init, step, finish) \
  case ir::OpKind::id:                                    \
    return (step);
      YIRAGE_REDUCE_OPS(YR_REAL_REDUCE_STEP)
#undef YR_REAL_REDUCE_STEP
      default:
        break;
    }
    YR_INTERNAL_ERROR("not a reduction: " << ir::op_name(op));
  }
  /// Result of reduction `op` over `n` elements, from ops.def.
  Value reduce_finish(ir::OpKind op, double acc, int64_t n) const {
    switch (op) {
#define YR_REAL_REDUCE_FINISH(id, name, init, step, finish) \
  case ir::OpKind::id:                                      \
    return (finish);
      YIRAGE_REDUCE_OPS(YR_REAL_REDUCE_FINISH)
#undef YR_REAL_REDUCE_FINISH
      default:
        break;
    }
    (void)n;
    YR_INTERNAL_ERROR("not a reduction: " << ir::op_name(op));
  }

  /// a + b.
  Value add(Value a, Value b) const {
    return a + b;
  }
  /// a - b.
  Value sub(Value a, Value b) const {
    return a - b;
  }
  /// a * b.
  Value mul(Value a, Value b) const {
    return a * b;
  }
  /// a / b.
  Value div(Value a, Value b) const {
    return a / b;
  }
  /// e^x.
  Value exp(Value x) const {
    return std::exp(x);
  }
  /// sqrt(x).
  Value sqrt(Value x) const {
    return std::sqrt(x);
  }
  /// 1 / sqrt(x).
  Value rsqrt(Value x) const {
    return 1.0 / std::sqrt(x);
  }
  /// a > b.
  bool greater(Value a, Value b) const {
    return a > b;
  }
  /// Below every value: -infinity.
  Value lowest() const {
    return -std::numeric_limits<double>::infinity();
  }
  /// e^(from - to), the factor that moves a sum relative to max `from` to max `to`; 0 when
  /// `from` is the initial -infinity (nothing accumulated yet).
  Value rescale(Value from, Value to) const {
    return from == lowest() ? 0.0 : std::exp(from - to);
  }
  /// out[i * stride + j] += a[i * k + p] * b[p * stride + j], p ascending, for i < m, j < n:
  /// the plain loop's additions in its order, blocked so that each row of b is read once per
  /// four rows of out.
  void matmul_accumulate(double* out, const double* a, const double* b, int64_t m, int64_t k,
                         int64_t n, int64_t stride) const {
    constexpr int64_t kRows = 4, kColumns = 512;
    for (int64_t i0 = 0; i0 < m; i0 += kRows) {
      const int64_t rows = m - i0 < kRows ? m - i0 : kRows;
      for (int64_t j0 = 0; j0 < n; j0 += kColumns) {
        const int64_t columns = n - j0 < kColumns ? n - j0 : kColumns;
        for (int64_t p = 0; p < k; ++p) {
          const double* b_row = b + p * stride + j0;
          for (int64_t r = 0; r < rows; ++r) {
            const double x = a[(i0 + r) * k + p];
            double* row = out + (i0 + r) * stride + j0;
            for (int64_t j = 0; j < columns; ++j) row[j] += x * b_row[j];
          }
        }
      }
    }
  }
  /// cos(position * theta^(-2i/d)), the NeoX rotary angle of pair i.
  Value rope_cos(int64_t position, int64_t i, int64_t d, double theta) const {
    return std::cos(rope_angle(position, i, d, theta));
  }
  /// sin(position * theta^(-2i/d)).
  Value rope_sin(int64_t position, int64_t i, int64_t d, double theta) const {
    return std::sin(rope_angle(position, i, d, theta));
  }

 private:
  static double rope_angle(int64_t position, int64_t i, int64_t d, double theta) {
    return static_cast<double>(position) *
           std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(d));
  }
};

}  // namespace yirage::backend::reference
