// Helpers shared by the C++ tests: error-message assertions, seeded random tensors and small
// float64 index arithmetic for writing expected values by hand.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <random>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

#include "yirage/core/dtype.h"
#include "yirage/core/error.h"
#include "yirage/core/tensor.h"

namespace yirage::testing {

/// Succeeds when `fn()` throws a core::UserError whose what() contains every one of
/// `substrings`; otherwise fails with what happened instead.
template <typename Fn, typename... Substrings>
::testing::AssertionResult user_error_matches(Fn&& fn, const Substrings&... substrings) {
  try {
    fn();
  } catch (const core::UserError& error) {
    const std::string message = error.what();
    for (std::string_view expected : {std::string_view(substrings)...}) {
      if (message.find(expected) == std::string::npos) {
        return ::testing::AssertionFailure()
               << "UserError message \"" << message << "\" lacks \"" << expected << "\"";
      }
    }
    return ::testing::AssertionSuccess() << message;
  } catch (const std::exception& error) {
    return ::testing::AssertionFailure()
           << "expected a UserError; got " << typeid(error).name() << ": " << error.what();
  } catch (...) {
    return ::testing::AssertionFailure() << "expected a UserError; got a non-standard exception";
  }
  return ::testing::AssertionFailure() << "expected a UserError; nothing was thrown";
}

/// Asserts (non-fatally) that the callable throws a UserError mentioning every substring:
/// EXPECT_USER_ERROR([&] { g.matmul(a, b); }, "inner dimensions", "[2, 3]").
#define EXPECT_USER_ERROR(...) EXPECT_TRUE(::yirage::testing::user_error_matches(__VA_ARGS__))

/// Sets an environment variable for the lifetime of the object and restores the old value.
class ScopedEnv {
 public:
  /// Sets `name` to `value`, or unsets it when `value` is null.
  ScopedEnv(const char* name, const char* value) : name_(name) {
    const char* old = std::getenv(name);
    had_old_ = old != nullptr;
    if (had_old_) old_ = old;
    if (value != nullptr) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (had_old_) {
      setenv(name_.c_str(), old_.c_str(), 1);
    } else {
      unsetenv(name_.c_str());
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::string old_;
  bool had_old_ = false;
};

/// A uniform value in [lo, hi] whose magnitude is at least `min_magnitude` (never zero).
inline double nonzero_uniform(std::mt19937_64& rng, double lo, double hi,
                              double min_magnitude = 1.0 / 64) {
  std::uniform_real_distribution<double> dist(lo, hi);
  while (true) {
    const double value = dist(rng);
    if (std::fabs(value) >= min_magnitude) return value;
  }
}

/// A new contiguous tensor of `shape` and float `dtype` holding non-zero values from [lo, hi],
/// stored with the dtype's rounding (so the tensor holds exactly what values() reads back).
inline core::Tensor random_tensor(const core::Shape& shape, core::DType dtype, std::mt19937_64& rng,
                                  double lo = -1.0, double hi = 1.0) {
  core::Tensor tensor = core::Tensor::empty(shape, dtype);
  for (int64_t i = 0; i < tensor.numel(); ++i) {
    core::store_from_double(tensor.data(), dtype, static_cast<std::size_t>(i),
                            nonzero_uniform(rng, lo, hi));
  }
  return tensor;
}

/// A new contiguous integer tensor of `shape` with values uniform in [lo, hi].
inline core::Tensor random_int_tensor(const core::Shape& shape, core::DType dtype,
                                      std::mt19937_64& rng, int64_t lo, int64_t hi) {
  core::Tensor tensor = core::Tensor::empty(shape, dtype);
  std::uniform_int_distribution<int64_t> dist(lo, hi);
  for (int64_t i = 0; i < tensor.numel(); ++i) {
    core::store_from_double(tensor.data(), dtype, static_cast<std::size_t>(i),
                            static_cast<double>(dist(rng)));
  }
  return tensor;
}

/// A new contiguous tensor of `shape` and `dtype` holding `values` (rounded to the dtype).
inline core::Tensor tensor_of(const core::Shape& shape, core::DType dtype,
                              const std::vector<double>& values) {
  core::Tensor tensor = core::Tensor::empty(shape, dtype);
  EXPECT_EQ(static_cast<int64_t>(values.size()), tensor.numel());
  for (std::size_t i = 0; i < values.size(); ++i) {
    core::store_from_double(tensor.data(), dtype, i, values[i]);
  }
  return tensor;
}

/// Every element of `tensor` in row-major order, as doubles (honours strides).
inline std::vector<double> values(const core::Tensor& tensor) {
  std::vector<double> result(static_cast<std::size_t>(tensor.numel()));
  for (int64_t i = 0; i < tensor.numel(); ++i) result[i] = tensor.get(i);
  return result;
}

/// The multi-index of row-major position `flat` in `shape`.
inline std::vector<int64_t> unravel(int64_t flat, const core::Shape& shape) {
  std::vector<int64_t> index(shape.size());
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    index[d] = flat % shape[d];
    flat /= shape[d];
  }
  return index;
}

/// The row-major position in `shape` of the trailing-aligned multi-index `index` of a
/// broadcast result (dims of extent 1 in `shape` read position 0), as NumPy broadcasting does.
inline int64_t broadcast_flat(const std::vector<int64_t>& index, const core::Shape& shape) {
  const std::size_t skip = index.size() - shape.size();
  int64_t flat = 0;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    flat = flat * shape[d] + (shape[d] == 1 ? 0 : index[skip + d]);
  }
  return flat;
}

/// Row-major position of a full multi-index in `shape`.
inline int64_t ravel(const std::vector<int64_t>& index, const core::Shape& shape) {
  return broadcast_flat(index, shape);
}

/// Compares a float tensor with expected doubles: |actual - expected| <= atol + rtol * |expected|
/// everywhere; the failure names the first index that is off.
inline ::testing::AssertionResult all_close(const core::Tensor& actual,
                                            const std::vector<double>& expected, double rtol,
                                            double atol) {
  if (actual.numel() != static_cast<int64_t>(expected.size())) {
    return ::testing::AssertionFailure() << actual.to_string() << " has " << actual.numel()
                                         << " elements; expected " << expected.size();
  }
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const double value = actual.get(static_cast<int64_t>(i));
    if (!(std::fabs(value - expected[i]) <= atol + rtol * std::fabs(expected[i]))) {
      return ::testing::AssertionFailure()
             << "element " << i << " is " << value << "; expected " << expected[i] << " (rtol "
             << rtol << ", atol " << atol << ")";
    }
  }
  return ::testing::AssertionSuccess();
}

/// The raw 16-bit pattern of element `index` of a float16/bfloat16 tensor.
inline uint16_t bits16(const core::Tensor& tensor, int64_t index) {
  uint16_t bits;
  std::memcpy(&bits, static_cast<const char*>(tensor.data()) + index * 2, sizeof(bits));
  return bits;
}

/// Checks that a contiguous float tensor holds exactly each expected double rounded to its
/// dtype (round to nearest even), allowing `max_ulps` units in the last place for results whose
/// float64 value depends on summation order.
inline ::testing::AssertionResult rounded_equal(const core::Tensor& actual,
                                                const std::vector<double>& expected,
                                                int max_ulps = 0) {
  if (actual.numel() != static_cast<int64_t>(expected.size())) {
    return ::testing::AssertionFailure() << actual.to_string() << " has " << actual.numel()
                                         << " elements; expected " << expected.size();
  }
  for (std::size_t i = 0; i < expected.size(); ++i) {
    int64_t got = 0, want = 0;
    switch (actual.dtype()) {
      case core::DType::F32: {
        const float value = actual.data_as<float>()[i];
        const float rounded = static_cast<float>(expected[i]);
        int32_t a, b;
        std::memcpy(&a, &value, 4);
        std::memcpy(&b, &rounded, 4);
        got = a;
        want = b;
        break;
      }
      case core::DType::F16:
        got = bits16(actual, static_cast<int64_t>(i));
        want = core::double_to_f16(expected[i]);
        break;
      case core::DType::BF16:
        got = bits16(actual, static_cast<int64_t>(i));
        want = core::double_to_bf16(expected[i]);
        break;
      default:
        return ::testing::AssertionFailure() << "rounded_equal needs a float tensor";
    }
    if (std::llabs(got - want) > max_ulps) {
      return ::testing::AssertionFailure()
             << "element " << i << " has bits 0x" << std::hex << got << " (" << std::dec
             << actual.get(static_cast<int64_t>(i)) << "); expected 0x" << std::hex << want
             << std::dec << " from " << expected[i] << " (" << max_ulps << " ulps allowed)";
    }
  }
  return ::testing::AssertionSuccess();
}

}  // namespace yirage::testing
