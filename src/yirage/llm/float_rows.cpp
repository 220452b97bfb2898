#include "yirage/llm/float_rows.h"

#include <cstring>

#include "yirage/core/error.h"

namespace yirage::llm {

void load_floats(const void* source, core::DType dtype, float* destination, int64_t count) {
  switch (dtype) {
    case core::DType::F32:
      std::memcpy(destination, source, static_cast<std::size_t>(count) * sizeof(float));
      return;
    case core::DType::BF16: {
      const auto* bits = static_cast<const uint16_t*>(source);
      for (int64_t i = 0; i < count; ++i) {
        const uint32_t widened = static_cast<uint32_t>(bits[i]) << 16;
        std::memcpy(&destination[i], &widened, sizeof(float));
      }
      return;
    }
    case core::DType::F16: {
      const auto* bits = static_cast<const uint16_t*>(source);
      for (int64_t i = 0; i < count; ++i) destination[i] = core::f16_to_float(bits[i]);
      return;
    }
    default:
      break;
  }
  YR_INTERNAL_ERROR("load_floats: " << core::dtype_name(dtype) << " is not a float type");
}

void store_floats(const float* source, core::DType dtype, void* destination, int64_t count) {
  switch (dtype) {
    case core::DType::F32:
      std::memcpy(destination, source, static_cast<std::size_t>(count) * sizeof(float));
      return;
    case core::DType::BF16: {
      auto* bits = static_cast<uint16_t*>(destination);
      for (int64_t i = 0; i < count; ++i) bits[i] = core::double_to_bf16(source[i]);
      return;
    }
    case core::DType::F16: {
      auto* bits = static_cast<uint16_t*>(destination);
      for (int64_t i = 0; i < count; ++i) bits[i] = core::double_to_f16(source[i]);
      return;
    }
    default:
      break;
  }
  YR_INTERNAL_ERROR("store_floats: " << core::dtype_name(dtype) << " is not a float type");
}

}  // namespace yirage::llm
