// The structured C++ printer: indentation, scopes, loops and comments.
#include "yirage/backend/cpu/codegen/code_writer.h"

#include <gtest/gtest.h>

namespace yirage::backend::cpu::codegen {
namespace {

TEST(CpuCodegenCodeWriterTest, NestsScopesAndLoops) {
  CodeWriter w;
  w.comment("two lines\nof comment");
  {
    auto f = w.block("void f()");
    w.declare("int", "x", "0");
    {
      auto loop = w.for_loop("i", 4);
      w.statement("x += i");
    }
    auto inner = w.scope();
    w.declare("float", "y");
  }
  w.directive("#define Z 1");
  {
    auto s = w.block("struct S", ";");
    EXPECT_EQ(w.depth(), 1);
  }
  EXPECT_EQ(w.depth(), 0);
  EXPECT_EQ(w.str(),
            "// two lines\n"
            "// of comment\n"
            "void f() {\n"
            "  int x = 0;\n"
            "  for (int64_t i = 0; i < 4; ++i) {\n"
            "    x += i;\n"
            "  }\n"
            "  {\n"
            "    float y;\n"
            "  }\n"
            "}\n"
            "#define Z 1\n"
            "struct S {\n"
            "};\n");
}

TEST(CpuCodegenCodeWriterTest, LoopsWithSymbolicBounds) {
  CodeWriter w;
  {
    auto loop = w.for_loop("b", "first", "last");
    w.blank();
  }
  EXPECT_EQ(w.str(), "for (int64_t b = first; b < last; ++b) {\n\n}\n");
}

}  // namespace
}  // namespace yirage::backend::cpu::codegen
