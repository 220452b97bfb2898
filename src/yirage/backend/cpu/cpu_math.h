// Branch-free float math that compilers vectorise (plain libm calls are not, without fast-math).
#pragma once

#include <bit>
#include <cstdint>
#include <limits>

namespace yirage::backend::cpu {

/// e^x in float within about 2 ulp: x = n ln2 + r with |r| <= ln2/2, e^r by its degree-6
/// Taylor polynomial (truncation below 1.2e-7 relative), times 2 * 2^(n-1) built in the exponent
/// bits. Overflow gives +inf; results below e^-86.5 (about 2.7e-38) flush to 0; NaN stays NaN.
inline float exp_approx(float x) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2High = 0.693145751953125f;  // ln 2 split so that n * kLn2High is exact
  constexpr float kLn2Low = 1.428606765330187045e-06f;
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float clamped = x < -86.5f ? -86.5f : (x > 88.72f ? 88.72f : x);
  const float n = (clamped * kLog2e + kRound) - kRound;
  const float r = (clamped - n * kLn2High) - n * kLn2Low;
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const auto exponent = static_cast<uint32_t>(static_cast<int32_t>(n) + 126) << 23;
  float result = (p + p) * std::bit_cast<float>(exponent);
  result = x > 88.72283935546875f ? std::numeric_limits<float>::infinity() : result;
  result = x < -86.5f ? 0.0f : result;
  return x != x ? x : result;
}

}  // namespace yirage::backend::cpu
