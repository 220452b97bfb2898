// The vectorisable exp of the cpu kernels: accuracy over its range and its special values.
#include "yirage/backend/cpu/cpu_math.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace yirage::backend::cpu {
namespace {

TEST(CpuMathTest, ExpIsWithinThreeUlpOverItsRange) {
  double worst = 0.0;
  for (float x = -86.4f; x < 88.5f; x += 0.001953125f * 7.0f) {
    const double want = std::exp(static_cast<double>(x));
    const double ulp = std::ldexp(1.0, std::ilogb(want) - 23);
    worst = std::max(worst, std::fabs(static_cast<double>(exp_approx(x)) - want) / ulp);
  }
  EXPECT_LT(worst, 3.0);
}

TEST(CpuMathTest, ExpSpecialValues) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(exp_approx(0.0f), 1.0f);
  EXPECT_EQ(exp_approx(89.0f), inf);
  EXPECT_EQ(exp_approx(inf), inf);
  EXPECT_EQ(exp_approx(-inf), 0.0f);
  EXPECT_EQ(exp_approx(-100.0f), 0.0f);
  EXPECT_TRUE(std::isnan(exp_approx(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_GT(exp_approx(88.7f), 3.0e38f);
}

}  // namespace
}  // namespace yirage::backend::cpu
