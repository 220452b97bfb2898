// The op table: names, categories, arities, attribute specs and attribute values.
#include "yirage/ir/op.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "test_util.h"

namespace {

using yirage::ir::Attrs;
using yirage::ir::AttrSpec;
using yirage::ir::AttrType;
using yirage::ir::AttrValue;
using yirage::ir::OpCategory;
using yirage::ir::OpKind;

// What DESIGN.md section 2 promises, written out independently of ops.def.
struct ExpectedOp {
  OpCategory category;
  int arity;
  int num_outputs;
  std::string attributes;  // "name:type ..." in declaration order
};

const std::map<std::string, ExpectedOp>& expected_ops() {
  static const std::map<std::string, ExpectedOp> ops = {
      {"input", {OpCategory::Structural, 0, 1, ""}},
      {"matmul", {OpCategory::Structural, 2, 1, ""}},
      {"rms_norm", {OpCategory::Structural, 2, 1, "eps:float"}},
      {"softmax", {OpCategory::Structural, 1, 1, "dim:int"}},
      {"concat", {OpCategory::Structural, -1, 1, "dim:int"}},
      {"split", {OpCategory::Structural, 1, -1, "dim:int sizes:ints"}},
      {"reshape", {OpCategory::Structural, 1, 1, "shape:ints"}},
      {"transpose", {OpCategory::Structural, 1, 1, "dim0:int dim1:int"}},
      {"embedding", {OpCategory::Structural, 2, 1, ""}},
      {"rope", {OpCategory::Structural, 2, 1, "theta:float"}},
      {"customized", {OpCategory::Structural, -1, -1, ""}},
      {"exp", {OpCategory::Unary, 1, 1, ""}},
      {"silu", {OpCategory::Unary, 1, 1, ""}},
      {"gelu", {OpCategory::Unary, 1, 1, ""}},
      {"relu", {OpCategory::Unary, 1, 1, ""}},
      {"sigmoid", {OpCategory::Unary, 1, 1, ""}},
      {"sqrt", {OpCategory::Unary, 1, 1, ""}},
      {"rsqrt", {OpCategory::Unary, 1, 1, ""}},
      {"square", {OpCategory::Unary, 1, 1, ""}},
      {"neg", {OpCategory::Unary, 1, 1, ""}},
      {"mul_scalar", {OpCategory::Unary, 1, 1, "scalar:float"}},
      {"add_scalar", {OpCategory::Unary, 1, 1, "scalar:float"}},
      {"add", {OpCategory::Binary, 2, 1, ""}},
      {"sub", {OpCategory::Binary, 2, 1, ""}},
      {"mul", {OpCategory::Binary, 2, 1, ""}},
      {"div", {OpCategory::Binary, 2, 1, ""}},
      {"pow", {OpCategory::Binary, 2, 1, ""}},
      {"sum", {OpCategory::Reduce, 1, 1, "dim:int keepdim:bool"}},
      {"max", {OpCategory::Reduce, 1, 1, "dim:int keepdim:bool"}},
      {"mean", {OpCategory::Reduce, 1, 1, "dim:int keepdim:bool"}},
  };
  return ops;
}

std::string spec_text(const std::vector<AttrSpec>& specs) {
  std::string text;
  for (const auto& spec : specs) {
    text += (text.empty() ? "" : " ") + spec.name + ":" +
            std::string(yirage::ir::attr_type_name(spec.type));
  }
  return text;
}

std::vector<OpKind> all_ops() {
  std::vector<OpKind> ops;
  for (int i = 0; i < yirage::ir::num_ops(); ++i) ops.push_back(static_cast<OpKind>(i));
  return ops;
}

TEST(OpTable, HasExactlyTheDesignedOps) {
  // The count also follows from the X-macro lists themselves.
  int declared = 0;
#define YR_COUNT_OP(...) ++declared;
  YIRAGE_STRUCTURAL_OPS(YR_COUNT_OP)
  YIRAGE_UNARY_OPS(YR_COUNT_OP)
  YIRAGE_BINARY_OPS(YR_COUNT_OP)
  YIRAGE_REDUCE_OPS(YR_COUNT_OP)
#undef YR_COUNT_OP
  EXPECT_EQ(yirage::ir::num_ops(), declared);
  EXPECT_EQ(yirage::ir::num_ops(), static_cast<int>(expected_ops().size()));
  std::set<std::string> names;
  for (OpKind op : all_ops()) {
    const std::string name(yirage::ir::op_name(op));
    EXPECT_TRUE(names.insert(name).second) << "duplicate op name " << name;
    EXPECT_EQ(expected_ops().count(name), 1u) << "unexpected op " << name;
  }
}

TEST(OpTable, EveryEntryMatchesItsDeclaration) {
  for (OpKind op : all_ops()) {
    const auto& info = yirage::ir::op_info(op);
    const std::string name(info.name);
    SCOPED_TRACE(name);
    EXPECT_EQ(info.kind, op);
    const auto found = expected_ops().find(name);
    ASSERT_NE(found, expected_ops().end());
    EXPECT_EQ(info.category, found->second.category);
    EXPECT_EQ(info.arity, found->second.arity);
    EXPECT_EQ(info.num_outputs, found->second.num_outputs);
    EXPECT_EQ(spec_text(info.attributes), found->second.attributes);
  }
}

TEST(OpTable, NamesRoundTripThroughLookup) {
  for (OpKind op : all_ops()) {
    EXPECT_EQ(yirage::ir::op_from_name(yirage::ir::op_name(op)), op) << yirage::ir::op_name(op);
  }
  EXPECT_EQ(yirage::ir::op_from_name("nope"), std::nullopt);
  EXPECT_EQ(yirage::ir::op_from_name("MatMul"), std::nullopt);
  EXPECT_EQ(yirage::ir::op_from_name(""), std::nullopt);
  EXPECT_EQ(yirage::ir::op_from_name("rms_norm"), OpKind::RmsNorm);
}

TEST(OpTable, OutOfRangeKindIsAnInternalError) {
  EXPECT_THROW(yirage::ir::op_info(static_cast<OpKind>(yirage::ir::num_ops())),
               yirage::core::InternalError);
}

TEST(OpTable, AttrTypeNames) {
  EXPECT_EQ(yirage::ir::attr_type_name(AttrType::Int), "int");
  EXPECT_EQ(yirage::ir::attr_type_name(AttrType::Float), "float");
  EXPECT_EQ(yirage::ir::attr_type_name(AttrType::Bool), "bool");
  EXPECT_EQ(yirage::ir::attr_type_name(AttrType::Ints), "ints");
}

TEST(Attrs, SetGetAndReplace) {
  Attrs attrs;
  attrs.set("dim", int64_t{-1}).set("eps", 1e-6).set("keepdim", true);
  attrs.set("sizes", std::vector<int64_t>{2, 3});
  EXPECT_TRUE(attrs.has("dim"));
  EXPECT_FALSE(attrs.has("theta"));
  EXPECT_EQ(attrs.get_int("dim"), -1);
  EXPECT_EQ(attrs.get_float("eps"), 1e-6);
  EXPECT_TRUE(attrs.get_bool("keepdim"));
  EXPECT_EQ(attrs.get_ints("sizes"), (std::vector<int64_t>{2, 3}));
  attrs.set("dim", int64_t{2});
  EXPECT_EQ(attrs.get_int("dim"), 2);
  EXPECT_EQ(attrs.values().size(), 4u);
  // values() is ordered by name.
  std::vector<std::string> names;
  for (const auto& [name, value] : attrs.values()) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"dim", "eps", "keepdim", "sizes"}));
}

TEST(Attrs, WrongTypeOrMissingIsAnInternalError) {
  Attrs attrs;
  attrs.set("dim", int64_t{1});
  EXPECT_THROW(attrs.get_float("dim"), yirage::core::InternalError);
  EXPECT_THROW(attrs.get_bool("dim"), yirage::core::InternalError);
  EXPECT_THROW(attrs.get_ints("dim"), yirage::core::InternalError);
  EXPECT_THROW(attrs.get_int("missing"), yirage::core::InternalError);
  try {
    attrs.get_float("dim");
  } catch (const yirage::core::InternalError& error) {
    EXPECT_NE(std::string(error.what()).find("attribute 'dim' is not a float"), std::string::npos)
        << error.what();
  }
}

TEST(Attrs, EqualityComparesNamesAndValues) {
  Attrs a, b;
  a.set("dim", int64_t{1});
  b.set("dim", int64_t{1});
  EXPECT_EQ(a, b);
  b.set("dim", 1.0);  // same number, other type
  EXPECT_NE(a, b);
  b.set("dim", int64_t{1}).set("keepdim", false);
  EXPECT_NE(a, b);
}

TEST(Attrs, ValueTypesAndText) {
  EXPECT_EQ(yirage::ir::attr_value_type(AttrValue{int64_t{3}}), AttrType::Int);
  EXPECT_EQ(yirage::ir::attr_value_type(AttrValue{0.5}), AttrType::Float);
  EXPECT_EQ(yirage::ir::attr_value_type(AttrValue{true}), AttrType::Bool);
  EXPECT_EQ(yirage::ir::attr_value_type(AttrValue{std::vector<int64_t>{}}), AttrType::Ints);
  EXPECT_EQ(yirage::ir::attr_value_to_string(int64_t{-3}), "-3");
  EXPECT_EQ(yirage::ir::attr_value_to_string(true), "true");
  EXPECT_EQ(yirage::ir::attr_value_to_string(false), "false");
  EXPECT_EQ(yirage::ir::attr_value_to_string(std::vector<int64_t>{1, 2}), "[1, 2]");
  EXPECT_EQ(yirage::ir::attr_value_to_string(std::vector<int64_t>{}), "[]");
  EXPECT_EQ(yirage::ir::attr_value_to_string(0.5), "0.5");
  // Floats print precisely enough to read back the same double.
  for (double value : {1e-6, 10000.0, 0.1, 1.0 / 3.0, -2.5e-300}) {
    EXPECT_EQ(std::stod(yirage::ir::attr_value_to_string(value)), value);
  }
}

}  // namespace
