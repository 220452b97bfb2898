// Operator kinds, their static description (from ops.def) and attribute values.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "yirage/ir/ops.def"

namespace yirage::ir {

/// Every operator, in ops.def order: structural, unary, binary, reduce.
enum class OpKind : uint8_t {
#define YR_OP_ENUM(id, ...) id,
  YIRAGE_STRUCTURAL_OPS(YR_OP_ENUM) YIRAGE_UNARY_OPS(YR_OP_ENUM) YIRAGE_BINARY_OPS(YR_OP_ENUM)
      YIRAGE_REDUCE_OPS(YR_OP_ENUM)
#undef YR_OP_ENUM
};

/// The family an op belongs to, which fixes its shape rule for all but structural ops.
enum class OpCategory : uint8_t { Structural, Unary, Binary, Reduce };

/// Type of an attribute value.
enum class AttrType : uint8_t { Int, Float, Bool, Ints };

/// One declared attribute of an op.
struct AttrSpec {
  std::string name;  ///< attribute name, e.g. "dim"
  AttrType type;     ///< value type
};

/// Static description of an op, from ops.def.
struct OpInfo {
  OpKind kind;                       ///< the op
  std::string_view name;             ///< serialized and Python name, e.g. "rms_norm"
  OpCategory category;               ///< family
  int arity;                         ///< number of inputs; -1 for variadic
  int num_outputs;                   ///< number of outputs; -1 when set by attributes
  std::vector<AttrSpec> attributes;  ///< declared attributes, in declaration order
};

/// Number of ops in the table.
int num_ops();
/// The description of `kind`.
const OpInfo& op_info(OpKind kind);
/// The name of `kind`.
std::string_view op_name(OpKind kind);
/// Looks an op up by name; nullopt when unknown.
std::optional<OpKind> op_from_name(std::string_view name);
/// Name of an attribute type ("int", "float", "bool", "ints").
std::string_view attr_type_name(AttrType type);

/// A single attribute value.
using AttrValue = std::variant<int64_t, double, bool, std::vector<int64_t>>;

/// The attribute values of one node, by name; checked against the op's specs by the graph.
class Attrs {
 public:
  /// Sets (or replaces) an attribute.
  Attrs& set(const std::string& name, AttrValue value);
  /// True when `name` is present.
  bool has(const std::string& name) const { return values_.count(name) != 0; }
  /// Integer attribute; InternalError when absent or of another type.
  int64_t get_int(const std::string& name) const;
  /// Float attribute; InternalError when absent or of another type.
  double get_float(const std::string& name) const;
  /// Bool attribute; InternalError when absent or of another type.
  bool get_bool(const std::string& name) const;
  /// Integer-list attribute; InternalError when absent or of another type.
  const std::vector<int64_t>& get_ints(const std::string& name) const;
  /// All values, ordered by name.
  const std::map<std::string, AttrValue>& values() const { return values_; }
  /// Equality of every name and value.
  bool operator==(const Attrs& other) const = default;

 private:
  const AttrValue& get(const std::string& name) const;
  std::map<std::string, AttrValue> values_;
};

/// The type of `value`.
AttrType attr_value_type(const AttrValue& value);
/// Formats a value for text output: 3, 1e-06, true, [1, 2].
std::string attr_value_to_string(const AttrValue& value);

}  // namespace yirage::ir
