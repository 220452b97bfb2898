// Element types: the one list of dtypes, their sizes and names, and exact conversions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace yirage::core {

// X(Id, name, C++ storage type, size in bytes, is floating point)
#define YIRAGE_DTYPES(X)                 \
  X(F32, "float32", float, 4, true)      \
  X(F16, "float16", uint16_t, 2, true)   \
  X(BF16, "bfloat16", uint16_t, 2, true) \
  X(I32, "int32", int32_t, 4, false)     \
  X(I64, "int64", int64_t, 8, false)

/// An element type.
enum class DType : uint8_t {
#define YR_DTYPE_ENUM(id, name, ctype, size, is_float) id,
  YIRAGE_DTYPES(YR_DTYPE_ENUM)
#undef YR_DTYPE_ENUM
};

/// Number of dtypes in YIRAGE_DTYPES.
inline constexpr int kNumDTypes = 5;

/// Bytes per element.
std::size_t dtype_size(DType dtype);
/// The canonical name ("float32", "bfloat16", ...).
std::string_view dtype_name(DType dtype);
/// True for float32, float16 and bfloat16.
bool dtype_is_float(DType dtype);
/// Looks a dtype up by canonical name; nullopt when unknown.
std::optional<DType> dtype_from_name(std::string_view name);
/// Looks a dtype up by name and throws a UserError listing the known names when unknown.
DType parse_dtype(std::string_view name);

/// bfloat16 bits -> float (exact).
float bf16_to_float(uint16_t bits);
/// float16 bits -> float (exact, subnormals included).
float f16_to_float(uint16_t bits);
/// double -> bfloat16 bits, round to nearest even (one rounding step; NaN stays NaN).
uint16_t double_to_bf16(double value);
/// double -> float16 bits, round to nearest even (one rounding step; overflow gives infinity).
uint16_t double_to_f16(double value);

/// Reads element `index` of a buffer of `dtype` as a double (exact for every dtype but int64
/// beyond 2^53).
double load_as_double(const void* data, DType dtype, std::size_t index);
/// Writes `value` to element `index` of a buffer of `dtype`, rounding to nearest even for
/// floats and toward zero for integers (saturating at the type's limits).
void store_from_double(void* data, DType dtype, std::size_t index, double value);

}  // namespace yirage::core
