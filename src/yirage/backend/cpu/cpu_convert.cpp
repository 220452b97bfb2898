#include "yirage/backend/cpu/cpu_convert.h"

#include <immintrin.h>

#include "yirage/core/error.h"

namespace yirage::backend::cpu {

namespace {

bool has_f16c() {
  static const bool present = __builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx");
  return present;
}

__attribute__((target("avx,f16c"))) void load_f16_f16c(const uint16_t* src, int64_t count,
                                                       float* dst) {
  int64_t i = 0;
  for (; i + 8 <= count; i += 8) {
    const __m128i half = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(half));
  }
  for (; i < count; ++i) dst[i] = core::f16_to_float(src[i]);
}

__attribute__((target("avx,f16c"))) void store_f16_f16c(const float* src, int64_t count,
                                                        uint16_t* dst) {
  int64_t i = 0;
  for (; i + 8 <= count; i += 8) {
    const __m128i half = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), half);
  }
  for (; i < count; ++i) dst[i] = core::double_to_f16(src[i]);
}

YR_CPU_CLONES void load_bf16(const uint16_t* bits, int64_t count, float* dst) {
  for (int64_t i = 0; i < count; ++i) dst[i] = bf16_bits_to_float(bits[i]);
}

YR_CPU_CLONES void store_bf16(const float* src, int64_t count, uint16_t* bits) {
  for (int64_t i = 0; i < count; ++i) bits[i] = float_to_bf16_bits(src[i]);
}

}  // namespace

void load_floats(const void* src, core::DType dtype, int64_t count, float* dst) {
  switch (dtype) {
    case core::DType::F32:
      std::memcpy(dst, src, static_cast<std::size_t>(count) * sizeof(float));
      return;
    case core::DType::BF16:
      return load_bf16(static_cast<const uint16_t*>(src), count, dst);
    case core::DType::F16: {
      const auto* bits = static_cast<const uint16_t*>(src);
      if (has_f16c()) return load_f16_f16c(bits, count, dst);
      for (int64_t i = 0; i < count; ++i) dst[i] = core::f16_to_float(bits[i]);
      return;
    }
    default:
      break;
  }
  YR_INTERNAL_ERROR("load_floats: " << core::dtype_name(dtype) << " is not a float dtype");
}

void store_floats(const float* src, core::DType dtype, int64_t count, void* dst) {
  switch (dtype) {
    case core::DType::F32:
      std::memcpy(dst, src, static_cast<std::size_t>(count) * sizeof(float));
      return;
    case core::DType::BF16:
      return store_bf16(src, count, static_cast<uint16_t*>(dst));
    case core::DType::F16: {
      auto* bits = static_cast<uint16_t*>(dst);
      if (has_f16c()) return store_f16_f16c(src, count, bits);
      for (int64_t i = 0; i < count; ++i) bits[i] = core::double_to_f16(src[i]);
      return;
    }
    default:
      break;
  }
  YR_INTERNAL_ERROR("store_floats: " << core::dtype_name(dtype) << " is not a float dtype");
}

float load_float(const void* src, core::DType dtype, int64_t index) {
  float value;
  load_floats(static_cast<const char*>(src) + index * static_cast<int64_t>(core::dtype_size(dtype)),
              dtype, 1, &value);
  return value;
}

int64_t load_index(const void* src, core::DType dtype, int64_t index) {
  if (dtype == core::DType::I32) return static_cast<const int32_t*>(src)[index];
  if (dtype == core::DType::I64) return static_cast<const int64_t*>(src)[index];
  YR_INTERNAL_ERROR("load_index: " << core::dtype_name(dtype) << " is not an integer dtype");
}

}  // namespace yirage::backend::cpu
