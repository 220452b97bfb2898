// dtype names and sizes, bf16/f16 round-to-nearest-even conversions and integer saturation.
#include "yirage/core/dtype.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <iterator>
#include <limits>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "test_util.h"

namespace {

using yirage::core::bf16_to_float;
using yirage::core::double_to_bf16;
using yirage::core::double_to_f16;
using yirage::core::DType;
using yirage::core::f16_to_float;

constexpr double kInf = std::numeric_limits<double>::infinity();

// A binary16-style format: 1 sign bit, `exp_bits` exponent bits, `mant_bits` mantissa bits.
struct Format {
  const char* name;
  int exp_bits;
  int mant_bits;
  uint16_t (*from_double)(double);
  float (*to_float)(uint16_t);

  uint16_t exp_mask() const { return static_cast<uint16_t>(((1u << exp_bits) - 1) << mant_bits); }
  uint16_t mant_mask() const { return static_cast<uint16_t>((1u << mant_bits) - 1); }
  uint16_t max_finite() const { return static_cast<uint16_t>(exp_mask() - 1); }
  bool is_nan(uint16_t bits) const {
    return (bits & exp_mask()) == exp_mask() && (bits & mant_mask()) != 0;
  }
  // The value of `bits`, decoded from the IEEE fields without the library's converters.
  double decode(uint16_t bits) const {
    const int bias = (1 << (exp_bits - 1)) - 1;
    const int exponent = (bits & exp_mask()) >> mant_bits;
    const int mantissa = bits & mant_mask();
    double magnitude;
    if (exponent == 0) {
      magnitude = std::ldexp(mantissa, 1 - bias - mant_bits);
    } else if (exponent == (1 << exp_bits) - 1) {
      magnitude = mantissa == 0 ? kInf : std::numeric_limits<double>::quiet_NaN();
    } else {
      magnitude = std::ldexp(mantissa + (1 << mant_bits), exponent - bias - mant_bits);
    }
    return (bits & 0x8000) ? -magnitude : magnitude;
  }
};

// Names the format in test listings instead of dumping its bytes.
void PrintTo(const Format& format, std::ostream* out) {
  *out << format.name;
}

const Format kBf16{"bfloat16", 8, 7, double_to_bf16, bf16_to_float};
const Format kF16{"float16", 5, 10, double_to_f16, f16_to_float};

class HalfFormatTest : public ::testing::TestWithParam<Format> {};

TEST_P(HalfFormatTest, EveryBitPatternDecodesExactlyAndRoundTrips) {
  const Format& format = GetParam();
  int nans = 0;
  for (uint32_t i = 0; i <= 0xFFFF; ++i) {
    const auto bits = static_cast<uint16_t>(i);
    const float value = format.to_float(bits);
    if (format.is_nan(bits)) {
      ++nans;
      EXPECT_TRUE(std::isnan(value)) << std::hex << bits;
      EXPECT_TRUE(format.is_nan(format.from_double(value))) << std::hex << bits;
      continue;
    }
    ASSERT_EQ(static_cast<double>(value), format.decode(bits)) << format.name << std::hex << bits;
    ASSERT_EQ(format.from_double(value), bits) << format.name << " 0x" << std::hex << bits;
    ASSERT_EQ(std::signbit(value), (bits & 0x8000) != 0) << std::hex << bits;
  }
  // Two signs times (2^mant_bits - 1) non-zero mantissas under an all-ones exponent.
  EXPECT_EQ(nans, 2 * ((1 << format.mant_bits) - 1));
}

TEST_P(HalfFormatTest, ExactMidpointsRoundToEven) {
  const Format& format = GetParam();
  for (const uint16_t sign : {uint16_t{0}, uint16_t{0x8000}}) {
    for (uint16_t lower = 0; lower < format.max_finite(); ++lower) {
      const auto a = static_cast<uint16_t>(sign | lower);
      const auto b = static_cast<uint16_t>(sign | (lower + 1));
      const double va = format.decode(a), vb = format.decode(b);
      const double mid = (va + vb) / 2;  // exact: one more mantissa bit than the format has
      ASSERT_EQ(mid - va, vb - mid) << std::hex << a;
      const uint16_t even = (lower % 2 == 0) ? a : b;
      ASSERT_EQ(format.from_double(mid), even) << format.name << " tie above 0x" << std::hex << a;
      // One double ulp away from the tie decides it.
      const double toward_b = std::nextafter(mid, vb), toward_a = std::nextafter(mid, va);
      ASSERT_EQ(format.from_double(toward_b), b)
          << format.name << " just past the tie 0x" << std::hex << a;
      ASSERT_EQ(format.from_double(toward_a), a)
          << format.name << " just before the tie 0x" << std::hex << a;
    }
  }
}

TEST_P(HalfFormatTest, OverflowThresholdIsTheTieAboveTheLargestFinite) {
  const Format& format = GetParam();
  const double max = format.decode(format.max_finite());
  // The next value the format would have with an unbounded exponent.
  const double ulp = max - format.decode(static_cast<uint16_t>(format.max_finite() - 1));
  const double threshold = max + ulp / 2;  // the largest finite mantissa is odd: ties go up
  EXPECT_EQ(format.from_double(threshold), format.exp_mask());
  EXPECT_EQ(format.from_double(-threshold), format.exp_mask() | 0x8000);
  EXPECT_EQ(format.from_double(std::nextafter(threshold, 0.0)), format.max_finite());
  EXPECT_EQ(format.from_double(1e300), format.exp_mask());
  EXPECT_EQ(format.from_double(kInf), format.exp_mask());
  EXPECT_EQ(format.from_double(-kInf), format.exp_mask() | 0x8000);
}

TEST_P(HalfFormatTest, SubnormalsRoundToNearestEven) {
  const Format& format = GetParam();
  const int bias = (1 << (format.exp_bits - 1)) - 1;
  const double tiny = std::ldexp(1.0, 1 - bias - format.mant_bits);  // smallest subnormal
  EXPECT_EQ(format.from_double(tiny), 0x0001);
  EXPECT_EQ(format.from_double(-tiny), 0x8001);
  EXPECT_EQ(format.from_double(tiny / 2), 0x0000);  // tie between 0 and tiny: even is 0
  EXPECT_EQ(format.from_double(-tiny / 2), 0x8000);
  EXPECT_EQ(format.from_double(std::nextafter(tiny / 2, 1.0)), 0x0001);
  EXPECT_EQ(format.from_double(tiny * 1.5), 0x0002);  // tie between 1 and 2 steps: 2 is even
  EXPECT_EQ(format.from_double(tiny * 2.5), 0x0002);  // tie between 2 and 3 steps: 2 is even
  EXPECT_EQ(format.from_double(tiny / 3), 0x0000);
  EXPECT_EQ(format.from_double(1e-300), 0x0000);
  EXPECT_EQ(format.from_double(-1e-300), 0x8000);  // the sign survives underflow
  // The largest subnormal and the smallest normal.
  EXPECT_EQ(format.from_double(format.decode(format.mant_mask())), format.mant_mask());
  EXPECT_EQ(format.from_double(std::ldexp(1.0, 1 - bias)), 1u << format.mant_bits);
  EXPECT_EQ(static_cast<double>(format.to_float(0x0001)), tiny);
}

TEST_P(HalfFormatTest, SpecialValues) {
  const Format& format = GetParam();
  EXPECT_EQ(format.from_double(0.0), 0x0000);
  EXPECT_EQ(format.from_double(-0.0), 0x8000);
  EXPECT_TRUE(std::signbit(format.to_float(0x8000)));
  EXPECT_EQ(format.to_float(0x8000), 0.0f);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_TRUE(format.is_nan(format.from_double(nan)));
  EXPECT_TRUE(format.is_nan(format.from_double(-nan)));
  EXPECT_TRUE(std::isnan(format.to_float(format.from_double(nan))));
  const int bias = (1 << (format.exp_bits - 1)) - 1;
  EXPECT_EQ(format.from_double(1.0), bias << format.mant_bits);
  EXPECT_EQ(format.to_float(format.from_double(-2.0)), -2.0f);
}

// A reference rounding written independently: binary search over the (monotone) bit patterns
// of the positive finite values, then nearest with ties to the even pattern.
uint16_t reference_round(const Format& format, double value) {
  const double magnitude = std::fabs(value);
  const uint16_t sign = std::signbit(value) ? 0x8000 : 0;
  const double max = format.decode(format.max_finite());
  const double ulp_at_max = max - format.decode(static_cast<uint16_t>(format.max_finite() - 1));
  if (magnitude >= max + ulp_at_max / 2) return static_cast<uint16_t>(sign | format.exp_mask());
  uint32_t lo = 0, hi = format.max_finite();  // decode(lo) <= magnitude < decode(hi) + ...
  if (magnitude >= max) {
    lo = hi;
  } else {
    while (hi - lo > 1) {
      const uint32_t mid = (lo + hi) / 2;
      (format.decode(static_cast<uint16_t>(mid)) <= magnitude ? lo : hi) = mid;
    }
  }
  if (lo == format.max_finite()) return static_cast<uint16_t>(sign | lo);
  const long double below = magnitude - static_cast<long double>(format.decode(lo));
  const long double above = static_cast<long double>(format.decode(lo + 1)) - magnitude;
  uint32_t pick = below < above ? lo : (above < below ? lo + 1 : (lo % 2 == 0 ? lo : lo + 1));
  return static_cast<uint16_t>(sign | pick);
}

TEST_P(HalfFormatTest, RandomDoublesMatchAnIndependentRounding) {
  const Format& format = GetParam();
  std::mt19937_64 rng(20240611);
  std::uniform_real_distribution<double> mantissa(1.0, 2.0);
  const int bias = (1 << (format.exp_bits - 1)) - 1;
  std::uniform_int_distribution<int> exponent(-bias - format.mant_bits - 2, bias + 1);
  for (int i = 0; i < 200000; ++i) {
    double value = std::ldexp(mantissa(rng), exponent(rng));
    if (i % 2) value = -value;
    ASSERT_EQ(format.from_double(value), reference_round(format, value))
        << format.name << " " << std::hexfloat << value;
  }
}

INSTANTIATE_TEST_SUITE_P(Formats, HalfFormatTest, ::testing::Values(kBf16, kF16),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(Float16, KnownValues) {
  EXPECT_EQ(double_to_f16(65504.0), 0x7BFF);
  EXPECT_EQ(double_to_f16(65519.99), 0x7BFF);
  EXPECT_EQ(double_to_f16(65520.0), 0x7C00);
  EXPECT_EQ(double_to_f16(-65520.0), 0xFC00);
  EXPECT_EQ(double_to_f16(1.0), 0x3C00);
  EXPECT_EQ(double_to_f16(-2.5), 0xC100);
  EXPECT_EQ(double_to_f16(0.1), 0x2E66);
  EXPECT_EQ(f16_to_float(0x7BFF), 65504.0f);
  EXPECT_EQ(f16_to_float(0x0001), std::ldexp(1.0f, -24));
  EXPECT_TRUE(std::isinf(f16_to_float(0x7C00)));
}

TEST(BFloat16, KnownValues) {
  EXPECT_EQ(double_to_bf16(1.0), 0x3F80);
  EXPECT_EQ(double_to_bf16(-2.5), 0xC020);
  EXPECT_EQ(double_to_bf16(3.140625), 0x4049);
  EXPECT_EQ(double_to_bf16(0.1), 0x3DCD);
  EXPECT_EQ(double_to_bf16(1e39), 0x7F80);  // beyond float's range too
  EXPECT_EQ(bf16_to_float(0x7F7F), 3.3895313892515355e38f);
  EXPECT_EQ(bf16_to_float(0x3F81), 1.0078125f);
}

// Rounding a double through float first can land on a tie of the narrow format and then round
// the wrong way; the conversions must round the double in one step.
TEST(HalfFormats, NoDoubleRoundingThroughFloat) {
  // bfloat16 neighbours 1 (0x3F80, even) and 1 + 2^-7 (0x3F81): tie at 1 + 2^-8.
  const double above_tie = 1.0 + std::ldexp(1.0, -8) + std::ldexp(1.0, -30);
  ASSERT_EQ(static_cast<double>(static_cast<float>(above_tie)), 1.0 + std::ldexp(1.0, -8))
      << "the case must round to an exact tie in float32";
  EXPECT_EQ(double_to_bf16(above_tie), 0x3F81);
  // Neighbours 1 + 2^-7 (0x3F81, odd) and 1 + 2^-6 (0x3F82): just below their tie.
  const double below_tie = 1.0 + 3 * std::ldexp(1.0, -8) - std::ldexp(1.0, -30);
  ASSERT_EQ(static_cast<double>(static_cast<float>(below_tie)), 1.0 + 3 * std::ldexp(1.0, -8));
  EXPECT_EQ(double_to_bf16(below_tie), 0x3F81);
  // float16 neighbours 1 (0x3C00) and 1 + 2^-10 (0x3C01): tie at 1 + 2^-11.
  const double f16_above_tie = 1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40);
  ASSERT_EQ(static_cast<double>(static_cast<float>(f16_above_tie)), 1.0 + std::ldexp(1.0, -11));
  EXPECT_EQ(double_to_f16(f16_above_tie), 0x3C01);
}

TEST(StoreFromDouble, FloatsRoundToNearestEven) {
  std::vector<uint16_t> halves(2);
  yirage::core::store_from_double(halves.data(), DType::BF16, 1, 1.0 + std::ldexp(1.0, -8));
  EXPECT_EQ(halves[1], 0x3F80);
  yirage::core::store_from_double(halves.data(), DType::F16, 0, 65520.0);
  EXPECT_EQ(halves[0], 0x7C00);
  float single = 0;
  yirage::core::store_from_double(&single, DType::F32, 0, 1.0 + std::ldexp(1.0, -24));
  EXPECT_EQ(single, 1.0f);  // tie to even
  yirage::core::store_from_double(&single, DType::F32, 0, 1.0 + std::ldexp(1.0, -24) + 1e-12);
  EXPECT_EQ(single, 1.0f + std::ldexp(1.0f, -23));
}

TEST(StoreFromDouble, IntegersTruncateAndSaturate) {
  int32_t i32[1];
  auto store32 = [&](double value) {
    yirage::core::store_from_double(i32, DType::I32, 0, value);
    return i32[0];
  };
  EXPECT_EQ(store32(3.7), 3);
  EXPECT_EQ(store32(-3.7), -3);
  EXPECT_EQ(store32(2147483647.0), 2147483647);
  EXPECT_EQ(store32(2147483648.0), 2147483647);
  EXPECT_EQ(store32(1e10), std::numeric_limits<int32_t>::max());
  EXPECT_EQ(store32(-2147483648.0), std::numeric_limits<int32_t>::min());
  EXPECT_EQ(store32(-1e10), std::numeric_limits<int32_t>::min());
  EXPECT_EQ(store32(kInf), std::numeric_limits<int32_t>::max());
  EXPECT_EQ(store32(-kInf), std::numeric_limits<int32_t>::min());
  EXPECT_EQ(store32(std::numeric_limits<double>::quiet_NaN()), 0);

  int64_t i64[1];
  auto store64 = [&](double value) {
    yirage::core::store_from_double(i64, DType::I64, 0, value);
    return i64[0];
  };
  EXPECT_EQ(store64(-7.9), -7);
  EXPECT_EQ(store64(std::ldexp(1.0, 62)), int64_t{1} << 62);
  EXPECT_EQ(store64(std::ldexp(1.0, 63)), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(store64(1e19), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(store64(-std::ldexp(1.0, 63)), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(store64(-1e19), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(store64(std::numeric_limits<double>::quiet_NaN()), 0);
}

TEST(LoadAsDouble, ReadsEveryDtype) {
  const float f32[] = {1.5f, -0.25f};
  const uint16_t f16[] = {0x3C00, 0xC100};
  const uint16_t bf16[] = {0x3F80, 0xC020};
  const int32_t i32[] = {7, -2147483647 - 1};
  const int64_t i64[] = {int64_t{1} << 53, -5};
  EXPECT_EQ(yirage::core::load_as_double(f32, DType::F32, 1), -0.25);
  EXPECT_EQ(yirage::core::load_as_double(f16, DType::F16, 1), -2.5);
  EXPECT_EQ(yirage::core::load_as_double(bf16, DType::BF16, 1), -2.5);
  EXPECT_EQ(yirage::core::load_as_double(i32, DType::I32, 1), -2147483648.0);
  EXPECT_EQ(yirage::core::load_as_double(i64, DType::I64, 0), 9007199254740992.0);
  EXPECT_EQ(yirage::core::load_as_double(i64, DType::I64, 1), -5.0);
}

TEST(DTypeTable, NamesSizesAndKinds) {
  struct Expected {
    DType dtype;
    const char* name;
    std::size_t size;
    bool is_float;
  };
  const Expected table[] = {{DType::F32, "float32", 4, true},
                            {DType::F16, "float16", 2, true},
                            {DType::BF16, "bfloat16", 2, true},
                            {DType::I32, "int32", 4, false},
                            {DType::I64, "int64", 8, false}};
  ASSERT_EQ(std::size(table), static_cast<std::size_t>(yirage::core::kNumDTypes));
  for (const auto& entry : table) {
    EXPECT_EQ(yirage::core::dtype_name(entry.dtype), entry.name);
    EXPECT_EQ(yirage::core::dtype_size(entry.dtype), entry.size);
    EXPECT_EQ(yirage::core::dtype_is_float(entry.dtype), entry.is_float);
    EXPECT_EQ(yirage::core::dtype_from_name(entry.name), entry.dtype);
    EXPECT_EQ(yirage::core::parse_dtype(entry.name), entry.dtype);
  }
  EXPECT_EQ(yirage::core::dtype_from_name("float"), std::nullopt);
  EXPECT_EQ(yirage::core::dtype_from_name("Float32"), std::nullopt);
  EXPECT_EQ(yirage::core::dtype_from_name(""), std::nullopt);
}

TEST(DTypeTable, ParseDtypeListsTheKnownNames) {
  EXPECT_USER_ERROR([] { yirage::core::parse_dtype("fp8"); }, "unknown dtype 'fp8'",
                    "float32, float16, bfloat16, int32, int64");
  EXPECT_USER_ERROR([] { yirage::core::parse_dtype(""); }, "unknown dtype ''");
}

}  // namespace
