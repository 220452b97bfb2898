#include "yirage/ir/op.h"

#include <charconv>
#include <sstream>

#include "yirage/core/error.h"

namespace yirage::ir {

namespace {

std::vector<AttrSpec> parse_attr_spec(std::string_view spec) {
  std::vector<AttrSpec> result;
  std::istringstream words{std::string(spec)};
  std::string word;
  while (words >> word) {
    const auto colon = word.find(':');
    YR_INTERNAL_CHECK(colon != std::string::npos, "attribute spec '" << word << "' lacks a type");
    const std::string type = word.substr(colon + 1);
    AttrType parsed;
    if (type == "int") {
      parsed = AttrType::Int;
    } else if (type == "float") {
      parsed = AttrType::Float;
    } else if (type == "bool") {
      parsed = AttrType::Bool;
    } else {
      YR_INTERNAL_CHECK(type == "ints", "attribute spec '" << word << "' has an unknown type");
      parsed = AttrType::Ints;
    }
    result.push_back({word.substr(0, colon), parsed});
  }
  return result;
}

std::vector<OpInfo> build_table() {
  std::vector<OpInfo> table;
#define YR_STRUCTURAL_INFO(id, name, arity, outputs, spec) \
  table.push_back(                                         \
      {OpKind::id, name, OpCategory::Structural, arity, outputs, parse_attr_spec(spec)});
#define YR_UNARY_INFO(id, name, spec, expr) \
  table.push_back({OpKind::id, name, OpCategory::Unary, 1, 1, parse_attr_spec(spec)});
#define YR_BINARY_INFO(id, name, expr) \
  table.push_back({OpKind::id, name, OpCategory::Binary, 2, 1, {}});
#define YR_REDUCE_INFO(id, name, init, step, finish) \
  table.push_back(                                   \
      {OpKind::id, name, OpCategory::Reduce, 1, 1, parse_attr_spec("dim:int keepdim:bool")});
  YIRAGE_STRUCTURAL_OPS(YR_STRUCTURAL_INFO)
  YIRAGE_UNARY_OPS(YR_UNARY_INFO)
  YIRAGE_BINARY_OPS(YR_BINARY_INFO)
  YIRAGE_REDUCE_OPS(YR_REDUCE_INFO)
#undef YR_STRUCTURAL_INFO
#undef YR_UNARY_INFO
#undef YR_BINARY_INFO
#undef YR_REDUCE_INFO
  for (std::size_t i = 0; i < table.size(); ++i) {
    YR_INTERNAL_CHECK(static_cast<std::size_t>(table[i].kind) == i, "op table out of order");
  }
  return table;
}

const std::vector<OpInfo>& table() {
  static const std::vector<OpInfo> ops = build_table();
  return ops;
}

}  // namespace

int num_ops() {
  return static_cast<int>(table().size());
}

const OpInfo& op_info(OpKind kind) {
  const auto index = static_cast<std::size_t>(kind);
  YR_INTERNAL_CHECK(index < table().size(), "op kind " << index << " is out of range");
  return table()[index];
}

std::string_view op_name(OpKind kind) {
  return op_info(kind).name;
}

std::optional<OpKind> op_from_name(std::string_view name) {
  for (const auto& info : table()) {
    if (info.name == name) return info.kind;
  }
  return std::nullopt;
}

std::string_view attr_type_name(AttrType type) {
  switch (type) {
    case AttrType::Int:
      return "int";
    case AttrType::Float:
      return "float";
    case AttrType::Bool:
      return "bool";
    case AttrType::Ints:
      return "ints";
  }
  YR_INTERNAL_ERROR("unhandled attribute type");
}

Attrs& Attrs::set(const std::string& name, AttrValue value) {
  values_[name] = std::move(value);
  return *this;
}

const AttrValue& Attrs::get(const std::string& name) const {
  const auto found = values_.find(name);
  YR_INTERNAL_CHECK(found != values_.end(), "attribute '" << name << "' is missing");
  return found->second;
}

int64_t Attrs::get_int(const std::string& name) const {
  const auto* value = std::get_if<int64_t>(&get(name));
  YR_INTERNAL_CHECK(value != nullptr, "attribute '" << name << "' is not an int");
  return *value;
}

double Attrs::get_float(const std::string& name) const {
  const auto* value = std::get_if<double>(&get(name));
  YR_INTERNAL_CHECK(value != nullptr, "attribute '" << name << "' is not a float");
  return *value;
}

bool Attrs::get_bool(const std::string& name) const {
  const auto* value = std::get_if<bool>(&get(name));
  YR_INTERNAL_CHECK(value != nullptr, "attribute '" << name << "' is not a bool");
  return *value;
}

const std::vector<int64_t>& Attrs::get_ints(const std::string& name) const {
  const auto* value = std::get_if<std::vector<int64_t>>(&get(name));
  YR_INTERNAL_CHECK(value != nullptr, "attribute '" << name << "' is not a list of ints");
  return *value;
}

AttrType attr_value_type(const AttrValue& value) {
  return static_cast<AttrType>(value.index());
}

std::string attr_value_to_string(const AttrValue& value) {
  std::ostringstream out;
  switch (attr_value_type(value)) {
    case AttrType::Int:
      out << std::get<int64_t>(value);
      break;
    case AttrType::Float: {
      // The shortest text that reads back to the same double: 0.1, 1e-06, 10000, nan, -inf.
      char buffer[64];
      const auto result = std::to_chars(buffer, buffer + sizeof(buffer), std::get<double>(value));
      YR_INTERNAL_CHECK(result.ec == std::errc(), "to_chars failed for a double");
      out.write(buffer, result.ptr - buffer);
      break;
    }
    case AttrType::Bool:
      out << (std::get<bool>(value) ? "true" : "false");
      break;
    case AttrType::Ints: {
      out << '[';
      const auto& list = std::get<std::vector<int64_t>>(value);
      for (std::size_t i = 0; i < list.size(); ++i) out << (i ? ", " : "") << list[i];
      out << ']';
      break;
    }
  }
  return out.str();
}

}  // namespace yirage::ir
