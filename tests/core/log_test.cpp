// Logging: level filtering, line format and the YIRAGE_LOG environment variable.
#include "yirage/core/log.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace {

using yirage::core::LogLevel;

// Restores the process log level when a test ends.
class LogTest : public ::testing::Test {
 protected:
  void SetUp() override { saved_ = yirage::core::log_level(); }
  void TearDown() override { yirage::core::set_log_level(saved_); }

 private:
  LogLevel saved_ = LogLevel::Warn;
};

TEST_F(LogTest, SetLogLevelFiltersLowerSeverities) {
  yirage::core::set_log_level(LogLevel::Warn);
  EXPECT_EQ(yirage::core::log_level(), LogLevel::Warn);
  EXPECT_TRUE(yirage::core::log_enabled(LogLevel::Error));
  EXPECT_TRUE(yirage::core::log_enabled(LogLevel::Warn));
  EXPECT_FALSE(yirage::core::log_enabled(LogLevel::Info));
  EXPECT_FALSE(yirage::core::log_enabled(LogLevel::Trace));

  ::testing::internal::CaptureStderr();
  YR_LOG(Info) << "hidden info";
  YR_LOG(Debug) << "hidden debug";
  YR_LOG(Warn) << "shown warning " << 7;
  YR_LOG(Error) << "shown error";
  const std::string output = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(output.find("hidden"), std::string::npos) << output;
  EXPECT_NE(output.find("yirage [warn] log_test.cpp:"), std::string::npos) << output;
  EXPECT_NE(output.find(": shown warning 7\n"), std::string::npos) << output;
  EXPECT_NE(output.find("yirage [error] log_test.cpp:"), std::string::npos) << output;
  EXPECT_LT(output.find("shown warning"), output.find("shown error"));
}

TEST_F(LogTest, TraceShowsEverythingAndErrorOnlyErrors) {
  yirage::core::set_log_level(LogLevel::Trace);
  ::testing::internal::CaptureStderr();
  YR_LOG(Trace) << "t";
  YR_LOG(Debug) << "d";
  YR_LOG(Info) << "i";
  std::string output = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(output.find("yirage [trace] "), std::string::npos) << output;
  EXPECT_NE(output.find("yirage [debug] "), std::string::npos) << output;
  EXPECT_NE(output.find("yirage [info] "), std::string::npos) << output;

  yirage::core::set_log_level(LogLevel::Error);
  ::testing::internal::CaptureStderr();
  YR_LOG(Warn) << "w";
  YR_LOG(Error) << "e";
  output = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(output.find("[warn]"), std::string::npos) << output;
  EXPECT_NE(output.find("[error]"), std::string::npos) << output;
}

TEST_F(LogTest, OneLinePerStatementWithTheSourceLine) {
  yirage::core::set_log_level(LogLevel::Info);
  ::testing::internal::CaptureStderr();
  const int line = __LINE__ + 1;
  YR_LOG(Info) << "first";
  YR_LOG(Info) << "second";
  const std::string output = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(output, "yirage [info] log_test.cpp:" + std::to_string(line) +
                        ": first\nyirage [info] log_test.cpp:" + std::to_string(line + 1) +
                        ": second\n");
}

TEST_F(LogTest, DisabledLinesDoNotEvaluateTheirArguments) {
  yirage::core::set_log_level(LogLevel::Error);
  int evaluations = 0;
  auto expensive = [&] { return ++evaluations; };
  YR_LOG(Debug) << expensive();
  EXPECT_EQ(evaluations, 0);
  ::testing::internal::CaptureStderr();
  YR_LOG(Error) << expensive();
  ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(evaluations, 1);
}

TEST_F(LogTest, MacroIsSafeInsideIfElse) {
  yirage::core::set_log_level(LogLevel::Info);
  ::testing::internal::CaptureStderr();
  bool took_else = false;
  if (false)
    YR_LOG(Info) << "then branch";
  else
    took_else = true;
  const std::string output = ::testing::internal::GetCapturedStderr();
  EXPECT_TRUE(took_else);
  EXPECT_EQ(output, "");
}

// YIRAGE_LOG is read once per process, so these run in a fresh process each.
TEST(LogEnvironment, YirageLogSelectsTheLevel) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        setenv("YIRAGE_LOG", "debug", 1);
        YR_LOG(Debug) << "debug line";
        YR_LOG(Trace) << "trace line";
        std::exit(yirage::core::log_level() == LogLevel::Debug ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "yirage \\[debug\\] log_test\\.cpp:[0-9]+: debug line");
  EXPECT_EXIT(
      {
        unsetenv("YIRAGE_LOG");
        std::exit(yirage::core::log_level() == LogLevel::Warn ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(LogEnvironment, UnknownLevelWarnsAndKeepsWarn) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        setenv("YIRAGE_LOG", "loud", 1);
        std::exit(yirage::core::log_level() == LogLevel::Warn ? 0 : 1);
      },
      ::testing::ExitedWithCode(0),
      "YIRAGE_LOG='loud' is not a level; expected one of error, warn, info, debug, trace");
}

}  // namespace
