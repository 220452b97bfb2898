#include "yirage/core/dtype.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "yirage/core/error.h"

namespace yirage::core {

namespace {

struct DTypeInfo {
  std::string_view name;
  std::size_t size;
  bool is_float;
};

constexpr DTypeInfo kDTypes[] = {
#define YR_DTYPE_INFO(id, name, ctype, size, is_float) {name, size, is_float},
    YIRAGE_DTYPES(YR_DTYPE_INFO)
#undef YR_DTYPE_INFO
};
static_assert(sizeof(kDTypes) / sizeof(kDTypes[0]) == kNumDTypes);

const DTypeInfo& info(DType dtype) {
  return kDTypes[static_cast<int>(dtype)];
}

// Rounds |value| (finite, non-zero) to a binary format with `exp_bits` exponent bits and
// `mant_bits` stored mantissa bits, in one step, ties to even. Returns the bits without sign.
uint32_t round_to_format(double magnitude, int exp_bits, int mant_bits) {
  const int bias = (1 << (exp_bits - 1)) - 1;
  const int min_exponent = 1 - bias;
  int exponent = 0;
  std::frexp(magnitude, &exponent);
  exponent -= 1;  // magnitude = m * 2^exponent with m in [1, 2)
  if (exponent < min_exponent) exponent = min_exponent;
  const double quantum = std::ldexp(1.0, exponent - mant_bits);
  double steps = std::nearbyint(magnitude / quantum);  // default rounding: ties to even
  const double implicit_one = std::ldexp(1.0, mant_bits);
  if (steps >= 2 * implicit_one) {
    steps /= 2;
    exponent += 1;
  }
  if (exponent > bias) return static_cast<uint32_t>(((1u << exp_bits) - 1) << mant_bits);  // inf
  if (steps < implicit_one) return static_cast<uint32_t>(steps);  // subnormal (exponent field 0)
  const uint32_t exponent_field = static_cast<uint32_t>(exponent + bias);
  return (exponent_field << mant_bits) | static_cast<uint32_t>(steps - implicit_one);
}

uint16_t double_to_half_format(double value, int exp_bits, int mant_bits) {
  const uint16_t sign = std::signbit(value) ? 0x8000 : 0;
  const uint16_t exp_all_ones = static_cast<uint16_t>(((1u << exp_bits) - 1) << mant_bits);
  if (std::isnan(value))
    return static_cast<uint16_t>(sign | exp_all_ones | (1u << (mant_bits - 1)));
  if (std::isinf(value)) return static_cast<uint16_t>(sign | exp_all_ones);
  if (value == 0.0) return sign;
  return static_cast<uint16_t>(sign | round_to_format(std::fabs(value), exp_bits, mant_bits));
}

template <typename Int>
Int saturating_cast(double value) {
  if (std::isnan(value)) return 0;
  const double truncated = std::trunc(value);
  if (truncated <= static_cast<double>(std::numeric_limits<Int>::min()))
    return std::numeric_limits<Int>::min();
  if (truncated >= static_cast<double>(std::numeric_limits<Int>::max()))
    return std::numeric_limits<Int>::max();
  return static_cast<Int>(truncated);
}

}  // namespace

std::size_t dtype_size(DType dtype) {
  return info(dtype).size;
}
std::string_view dtype_name(DType dtype) {
  return info(dtype).name;
}
bool dtype_is_float(DType dtype) {
  return info(dtype).is_float;
}

std::optional<DType> dtype_from_name(std::string_view name) {
  for (int i = 0; i < kNumDTypes; ++i) {
    if (kDTypes[i].name == name) return static_cast<DType>(i);
  }
  return std::nullopt;
}

DType parse_dtype(std::string_view name) {
  if (auto dtype = dtype_from_name(name)) return *dtype;
  std::string known;
  for (const auto& entry : kDTypes) known += (known.empty() ? "" : ", ") + std::string(entry.name);
  YR_USER_ERROR("unknown dtype '" << name << "'; expected one of " << known);
}

float bf16_to_float(uint16_t bits) {
  const uint32_t widened = static_cast<uint32_t>(bits) << 16;
  float result;
  std::memcpy(&result, &widened, sizeof(result));
  return result;
}

float f16_to_float(uint16_t bits) {
  const int exponent = (bits >> 10) & 0x1f;
  const int mantissa = bits & 0x3ff;
  double magnitude;
  if (exponent == 0) {
    magnitude = std::ldexp(static_cast<double>(mantissa), -24);
  } else if (exponent == 31) {
    magnitude = mantissa == 0 ? std::numeric_limits<double>::infinity()
                              : std::numeric_limits<double>::quiet_NaN();
  } else {
    magnitude = std::ldexp(static_cast<double>(mantissa | 0x400), exponent - 25);
  }
  return static_cast<float>((bits & 0x8000) ? -magnitude : magnitude);
}

uint16_t double_to_bf16(double value) {
  return double_to_half_format(value, 8, 7);
}
uint16_t double_to_f16(double value) {
  return double_to_half_format(value, 5, 10);
}

double load_as_double(const void* data, DType dtype, std::size_t index) {
  switch (dtype) {
    case DType::F32:
      return static_cast<const float*>(data)[index];
    case DType::F16:
      return f16_to_float(static_cast<const uint16_t*>(data)[index]);
    case DType::BF16:
      return bf16_to_float(static_cast<const uint16_t*>(data)[index]);
    case DType::I32:
      return static_cast<const int32_t*>(data)[index];
    case DType::I64:
      return static_cast<double>(static_cast<const int64_t*>(data)[index]);
  }
  YR_INTERNAL_ERROR("unhandled dtype " << static_cast<int>(dtype));
}

void store_from_double(void* data, DType dtype, std::size_t index, double value) {
  switch (dtype) {
    case DType::F32:
      static_cast<float*>(data)[index] = static_cast<float>(value);
      return;
    case DType::F16:
      static_cast<uint16_t*>(data)[index] = double_to_f16(value);
      return;
    case DType::BF16:
      static_cast<uint16_t*>(data)[index] = double_to_bf16(value);
      return;
    case DType::I32:
      static_cast<int32_t*>(data)[index] = saturating_cast<int32_t>(value);
      return;
    case DType::I64:
      static_cast<int64_t*>(data)[index] = saturating_cast<int64_t>(value);
      return;
  }
  YR_INTERNAL_ERROR("unhandled dtype " << static_cast<int>(dtype));
}

}  // namespace yirage::core
