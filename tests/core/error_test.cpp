// User and internal errors: messages, locations and the checking macros.
#include "yirage/core/error.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "test_util.h"

namespace {

using yirage::core::Error;
using yirage::core::InternalError;
using yirage::core::UserError;

int check_user_value(int value) {
  YR_USER_CHECK(value > 0, "value " << value << " is not positive; expected value > 0");
  return value * 2;
}

int check_internal_value(int value) {
  YR_INTERNAL_CHECK(value != 3, "three is "
                                    << "reserved");
  return value;
}

TEST(Error, UserErrorCarriesTheMessageAloneAndItsLocation) {
  try {
    check_user_value(-4);
    FAIL() << "no exception";
  } catch (const UserError& error) {
    EXPECT_STREQ(error.what(), "value -4 is not positive; expected value > 0");
    EXPECT_EQ(error.file(), "error_test.cpp");
    EXPECT_GT(error.line(), 0);
  }
  EXPECT_EQ(check_user_value(5), 10);
}

TEST(Error, InternalErrorNamesConditionFileAndLine) {
  try {
    check_internal_value(3);
    FAIL() << "no exception";
  } catch (const InternalError& error) {
    const std::string expected =
        "internal error at error_test.cpp:" + std::to_string(error.line()) +
        ": check 'value != 3' failed: three is reserved";
    EXPECT_EQ(error.what(), expected);
    EXPECT_EQ(error.condition(), "value != 3");
    EXPECT_EQ(error.file(), "error_test.cpp");
  }
  EXPECT_EQ(check_internal_value(4), 4);
}

TEST(Error, InternalErrorWithoutMessageEndsAtTheCondition) {
  const InternalError error("x < y", "", "ir/op.cpp", 12);
  EXPECT_STREQ(error.what(), "internal error at ir/op.cpp:12: check 'x < y' failed");
}

TEST(Error, HierarchyIsCatchableAsStandardExceptions) {
  EXPECT_THROW(check_user_value(0), Error);
  EXPECT_THROW(check_user_value(0), std::runtime_error);
  EXPECT_THROW(check_internal_value(3), Error);
  EXPECT_THROW(check_internal_value(3), std::runtime_error);
  // The two kinds are distinct.
  bool caught_as_user = false;
  try {
    check_internal_value(3);
  } catch (const UserError&) {
    caught_as_user = true;
  } catch (const InternalError&) {
  }
  EXPECT_FALSE(caught_as_user);
}

TEST(Error, MessagesAreBuiltOnlyOnFailure) {
  int evaluations = 0;
  auto count = [&] {
    ++evaluations;
    return "counted";
  };
  YR_USER_CHECK(true, count());
  YR_INTERNAL_CHECK(1 + 1 == 2, count());
  EXPECT_EQ(evaluations, 0);
  EXPECT_USER_ERROR([&] { YR_USER_CHECK(false, count() << " " << 42); }, "counted 42");
  EXPECT_EQ(evaluations, 1);
}

TEST(Error, UserErrorMacroStreamsMixedValues) {
  EXPECT_USER_ERROR([] { YR_USER_ERROR("a=" << 1 << " b=" << 2.5 << " c=" << 'x'); },
                    "a=1 b=2.5 c=x");
}

TEST(Error, MacrosNestInIfElseWithoutBraces) {
  auto pick = [](bool fail) {
    if (fail)
      YR_USER_ERROR("failed");
    else
      YR_USER_CHECK(true, "unused");
    return 1;
  };
  EXPECT_EQ(pick(false), 1);
  EXPECT_USER_ERROR([&] { pick(true); }, "failed");
}

TEST(Error, ShortFileKeepsThePathBelowSrc) {
  using yirage::core::detail::short_file;
  EXPECT_STREQ(short_file("/home/u/yirage/src/yirage/ir/kernel_graph.cpp"),
               "yirage/ir/kernel_graph.cpp");
  EXPECT_STREQ(short_file("/tmp/build/tests/core/error_test.cpp"), "error_test.cpp");
  EXPECT_STREQ(short_file("plain.cpp"), "plain.cpp");
}

}  // namespace
