// JSON form of kernel graphs, version 1:
//
//   {"format": "yirage.kernel_graph", "version": 1,
//    "nodes": [{"op": "rms_norm", "inputs": [[0, 0], [1, 0]], "attrs": {"eps": 1e-06},
//               "outputs": [{"shape": [8, 4096], "dtype": "bfloat16"}]}, ...],
//    "outputs": [[2, 0]]}
//
// Nodes appear in graph order (input nodes included, in the order the graph takes them); an
// input [n, k] names output k of node n, which must come earlier. Attribute values follow the
// op's spec: int and ints as JSON integers, bool as a JSON boolean, float as a JSON number
// (written so it reads back to the same double) or one of the strings "NaN", "Infinity",
// "-Infinity". Reading rebuilds the graph through KernelGraph, so every shape is checked
// again, and the stored output types must equal the inferred ones.
//
// A customized node holds its block graph in place of attributes:
//
//   {"op": "customized", "inputs": [[0, 0], [1, 0]], "block_graph": {
//      "grid_dims": [4, 1, 1], "block_dims": [128, 1, 1], "forloop_range": 8,
//      "reduction_dimx": 64,
//      "inputs": [{"dtensor": {"shape": [8, 64], "dtype": "float32"}, "input_map": [-1, -1, -1],
//                  "forloop_dim": 1}, ...],
//      "nodes": [{"kind": "input", "input": 0},
//                {"kind": "op", "op": "matmul", "inputs": [[0, 0], [1, 0]], "attrs": {}},
//                {"kind": "accumulate", "accum": "sum", "inputs": [[2, 0]]},
//                {"kind": "reduce_to_dimx", "inputs": [[3, 0]], "attrs": {"dim": 1}}, ...],
//      "outputs": [{"tile": [3, 0], "output_map": [1, -1, -1]}]},
//    "outputs": [{"shape": [8, 128], "dtype": "float32"}]}
//
// Block nodes are listed in creation order, input nodes included ({"kind": "input", "input": k}
// reads block input k; they come in the order of the inputs, possibly between other nodes), so
// a reference [n, k] inside the block graph names output k of block node n, which must come
// earlier. Reading rebuilds the block graph through BlockGraph, so maps, tile shapes and phases
// are checked again, then adds it with KernelGraph::customized.
#include "yirage/ir/serialize.h"

#include <array>
#include <cmath>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "yirage/core/error.h"
#include "yirage/ir/block_graph.h"

namespace yirage::ir {

namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

constexpr const char* kFormatName = "yirage.kernel_graph";
constexpr const char* kNaN = "NaN";
constexpr const char* kInfinity = "Infinity";
constexpr const char* kNegativeInfinity = "-Infinity";

// The attribute a reduce_to_dimx block node carries.
const std::vector<AttrSpec>& reduce_to_dimx_attributes() {
  static const std::vector<AttrSpec> specs = {{"dim", AttrType::Int}};
  return specs;
}

// ---------------------------------------------------------------------------------------------
// Writing

OrderedJson float_to_json(double value) {
  if (std::isnan(value)) return kNaN;
  if (std::isinf(value)) return value > 0 ? kInfinity : kNegativeInfinity;
  return value;
}

OrderedJson attr_to_json(const AttrValue& value) {
  switch (attr_value_type(value)) {
    case AttrType::Int:
      return std::get<int64_t>(value);
    case AttrType::Float:
      return float_to_json(std::get<double>(value));
    case AttrType::Bool:
      return std::get<bool>(value);
    case AttrType::Ints:
      return std::get<std::vector<int64_t>>(value);
  }
  YR_INTERNAL_ERROR("unhandled attribute type");
}

OrderedJson ref_to_json(TensorRef ref) {
  return OrderedJson::array({ref.node, ref.output});
}

OrderedJson type_to_json(const TensorType& type) {
  return {{"shape", type.shape}, {"dtype", core::dtype_name(type.dtype)}};
}

// The attributes `specs` declare, in declaration order, which is also how they read best.
OrderedJson attrs_to_json(const Attrs& attrs, const std::vector<AttrSpec>& specs,
                          std::string_view owner) {
  OrderedJson result = OrderedJson::object();
  for (const auto& spec : specs) {
    const auto found = attrs.values().find(spec.name);
    YR_INTERNAL_CHECK(found != attrs.values().end(), owner << " lacks attribute " << spec.name);
    result[spec.name] = attr_to_json(found->second);
  }
  return result;
}

OrderedJson refs_to_json(const std::vector<TensorRef>& refs) {
  OrderedJson result = OrderedJson::array();
  for (const auto& ref : refs) result.push_back(ref_to_json(ref));
  return result;
}

template <typename T, std::size_t N>
OrderedJson array_to_json(const std::array<T, N>& values) {
  OrderedJson result = OrderedJson::array();
  for (const T& value : values) result.push_back(value);
  return result;
}

OrderedJson block_node_to_json(const BlockNode& node, std::size_t index) {
  switch (node.kind) {
    case BlockNodeKind::Input:
      return {{"kind", "input"}, {"input", node.input_index}};
    case BlockNodeKind::Op:
      return {{"kind", "op"},
              {"op", op_name(node.op)},
              {"inputs", refs_to_json(node.inputs)},
              {"attrs", attrs_to_json(node.attrs, op_info(node.op).attributes,
                                      "block node " + std::to_string(index))}};
    case BlockNodeKind::Accumulate:
      return {{"kind", "accumulate"},
              {"accum", accum_name(node.accum)},
              {"inputs", refs_to_json(node.inputs)}};
    case BlockNodeKind::ReduceToDimx:
      return {{"kind", "reduce_to_dimx"},
              {"inputs", refs_to_json(node.inputs)},
              {"attrs", attrs_to_json(node.attrs, reduce_to_dimx_attributes(),
                                      "block node " + std::to_string(index))}};
  }
  YR_INTERNAL_ERROR("unhandled block node kind");
}

OrderedJson block_graph_to_json(const BlockGraph& block) {
  OrderedJson inputs = OrderedJson::array();
  for (const auto& input : block.inputs()) {
    inputs.push_back({{"dtensor", type_to_json(input.dtensor)},
                      {"input_map", array_to_json(input.input_map)},
                      {"forloop_dim", input.forloop_dim}});
  }
  OrderedJson nodes = OrderedJson::array();
  for (std::size_t i = 0; i < block.nodes().size(); ++i) {
    nodes.push_back(block_node_to_json(block.nodes()[i], i));
  }
  OrderedJson outputs = OrderedJson::array();
  for (const auto& output : block.outputs()) {
    outputs.push_back(
        {{"tile", ref_to_json(output.tile)}, {"output_map", array_to_json(output.output_map)}});
  }
  return {{"grid_dims", array_to_json(block.grid_dims())},
          {"block_dims", array_to_json(block.block_dims())},
          {"forloop_range", block.forloop_range()},
          {"reduction_dimx", block.reduction_dimx()},
          {"inputs", inputs},
          {"nodes", nodes},
          {"outputs", outputs}};
}

OrderedJson node_to_json(const Node& node, std::size_t index) {
  OrderedJson outputs = OrderedJson::array();
  for (const auto& type : node.outputs) outputs.push_back(type_to_json(type));
  if (node.op == OpKind::Customized) {
    YR_INTERNAL_CHECK(node.block_graph != nullptr,
                      "customized node " << index << " has no block graph");
    return {{"op", op_name(node.op)},
            {"inputs", refs_to_json(node.inputs)},
            {"block_graph", block_graph_to_json(*node.block_graph)},
            {"outputs", outputs}};
  }
  return {
      {"op", op_name(node.op)},
      {"inputs", refs_to_json(node.inputs)},
      {"attrs", attrs_to_json(node.attrs, op_info(node.op).attributes,
                              std::string(op_name(node.op)) + " node " + std::to_string(index))},
      {"outputs", outputs}};
}

// ---------------------------------------------------------------------------------------------
// Reading

// Rethrows a UserError raised while loading with the JSON location in front of its message.
[[noreturn]] void rethrow_at(const std::string& path, const core::UserError& error) {
  throw core::UserError("graph JSON: " + path + ": " + error.what(), error.file().c_str(),
                        error.line());
}

// A JSON value's kind in words, as used in "expected ..., got KIND".
std::string kind_of(const Json& value) {
  if (value.is_number_integer()) return "integer " + value.dump();
  if (value.is_number_float()) return "number " + value.dump();
  if (value.is_boolean()) return std::string("boolean ") + (value.get<bool>() ? "true" : "false");
  return value.type_name();
}

[[noreturn]] void wrong_type(const std::string& path, const char* expected, const Json& value) {
  YR_USER_ERROR("graph JSON: " << path << ": expected " << expected << ", got " << kind_of(value));
}

// Checks that `object` is a JSON object holding exactly the fields `names`.
void check_fields(const Json& object, const std::string& path,
                  std::initializer_list<const char*> names) {
  const std::string where = path.empty() ? "the top level" : path;
  if (!object.is_object()) wrong_type(where, "an object", object);
  for (const char* name : names) {
    YR_USER_CHECK(object.contains(name),
                  "graph JSON: " << where << ": missing field '" << name << "'");
  }
  for (const auto& [key, value] : object.items()) {
    bool known = false;
    for (const char* name : names) known = known || key == name;
    if (known) continue;
    std::string list;
    for (const char* name : names) list += (list.empty() ? "" : ", ") + std::string(name);
    YR_USER_ERROR("graph JSON: " << where << ": unknown field '" << key << "'; expected only "
                                 << list);
  }
}

std::string join(const std::string& path, const std::string& field) {
  return path.empty() ? field : path + "." + field;
}

std::string at(const std::string& path, std::size_t index) {
  return path + "[" + std::to_string(index) + "]";
}

int64_t read_int(const Json& value, const std::string& path) {
  if (value.is_number_unsigned()) {
    const auto unsigned_value = value.get<uint64_t>();
    YR_USER_CHECK(unsigned_value <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()),
                  "graph JSON: " << path << ": integer " << unsigned_value
                                 << " is too large; expected a value below 2^63");
    return static_cast<int64_t>(unsigned_value);
  }
  if (!value.is_number_integer()) wrong_type(path, "an integer", value);
  return value.get<int64_t>();
}

int32_t read_index(const Json& value, const std::string& path) {
  const int64_t index = read_int(value, path);
  YR_USER_CHECK(index >= 0 && index <= std::numeric_limits<int32_t>::max(),
                "graph JSON: " << path << ": index " << index
                               << " is out of range; expected a non-negative index");
  return static_cast<int32_t>(index);
}

double read_float(const Json& value, const std::string& path) {
  if (value.is_number()) return value.get<double>();
  if (value.is_string()) {
    const auto& text = value.get_ref<const std::string&>();
    if (text == kNaN) return std::numeric_limits<double>::quiet_NaN();
    if (text == kInfinity) return std::numeric_limits<double>::infinity();
    if (text == kNegativeInfinity) return -std::numeric_limits<double>::infinity();
    YR_USER_ERROR("graph JSON: " << path << ": expected a number, got string \"" << text
                                 << "\" (the only strings read as numbers are \"" << kNaN
                                 << "\", \"" << kInfinity << "\" and \"" << kNegativeInfinity
                                 << "\")");
  }
  wrong_type(path, "a number", value);
}

std::vector<int64_t> read_ints(const Json& value, const std::string& path) {
  if (!value.is_array()) wrong_type(path, "an array of integers", value);
  std::vector<int64_t> result;
  for (std::size_t i = 0; i < value.size(); ++i) result.push_back(read_int(value[i], at(path, i)));
  return result;
}

AttrValue read_attr(const Json& value, AttrType type, const std::string& path) {
  switch (type) {
    case AttrType::Int:
      return read_int(value, path);
    case AttrType::Float:
      return read_float(value, path);
    case AttrType::Bool:
      if (!value.is_boolean()) wrong_type(path, "a boolean", value);
      return value.get<bool>();
    case AttrType::Ints:
      return read_ints(value, path);
  }
  YR_INTERNAL_ERROR("unhandled attribute type");
}

// Reads the attributes of an `owner` node declared by `specs`. Declared ones are read with their
// declared type; an undeclared one is an error here, a missing one is reported by the builder.
Attrs read_attrs(const Json& value, std::string_view owner, const std::vector<AttrSpec>& specs,
                 const std::string& path) {
  if (!value.is_object()) wrong_type(path, "an object", value);
  Attrs attrs;
  for (const auto& [name, item] : value.items()) {
    const AttrSpec* spec = nullptr;
    for (const auto& candidate : specs) {
      if (candidate.name == name) spec = &candidate;
    }
    if (spec == nullptr) {
      std::string known;
      for (const auto& candidate : specs) known += (known.empty() ? "" : ", ") + candidate.name;
      YR_USER_ERROR("graph JSON: "
                    << path << ": " << owner << " has no attribute '" << name << "'; expected "
                    << (known.empty() ? std::string("no attributes") : "only " + known));
    }
    attrs.set(name, read_attr(item, spec->type, join(path, name)));
  }
  return attrs;
}

TensorRef read_ref(const Json& value, const std::string& path) {
  if (!value.is_array() || value.size() != 2) {
    wrong_type(path, "a pair [node, output] of integers", value);
  }
  return {read_index(value[0], at(path, 0)), read_index(value[1], at(path, 1))};
}

// Checks that `ref` names an output of one of the first `num_nodes` nodes; `bound` says, for the
// message, what those nodes are. `describe(n)` gives node n's name and number of outputs.
template <typename Describe>
void check_ref(TensorRef ref, std::size_t num_nodes, const std::string& path,
               const std::string& bound, Describe describe) {
  YR_USER_CHECK(static_cast<std::size_t>(ref.node) < num_nodes,
                "graph JSON: " << path << ": refers to node " << ref.node << ", but " << bound);
  const auto [name, num_outputs] = describe(ref.node);
  YR_USER_CHECK(static_cast<std::size_t>(ref.output) < num_outputs,
                "graph JSON: " << path << ": refers to output " << ref.output << " of node "
                               << ref.node << " (" << name << "), which has " << num_outputs
                               << " output" << (num_outputs == 1 ? "" : "s"));
}

void check_ref(const KernelGraph& graph, TensorRef ref, std::size_t num_nodes,
               const std::string& path, const std::string& bound) {
  check_ref(ref, num_nodes, path, bound, [&](int32_t index) {
    const Node& node = graph.node(index);
    return std::make_pair(std::string(op_name(node.op)), node.outputs.size());
  });
}

// What a block node is, for messages: its op, "forloop_accum", "input" or "reduce_to_dimx".
std::string block_node_name(const BlockNode& node) {
  switch (node.kind) {
    case BlockNodeKind::Input:
      return "input";
    case BlockNodeKind::Op:
      return std::string(op_name(node.op));
    case BlockNodeKind::Accumulate:
      return "forloop_accum";
    case BlockNodeKind::ReduceToDimx:
      return "reduce_to_dimx";
  }
  YR_INTERNAL_ERROR("unhandled block node kind");
}

// Reads the operands of node `index` of `block`: earlier block nodes only.
std::vector<TensorRef> read_block_refs(const Json& value, const BlockGraph& block,
                                       std::size_t index, const std::string& path) {
  if (!value.is_array()) wrong_type(path, "an array of [node, output] pairs", value);
  std::vector<TensorRef> refs;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const TensorRef ref = read_ref(value[i], at(path, i));
    check_ref(ref, index, at(path, i),
              "block node " + std::to_string(index) + " can only use outputs of earlier nodes",
              [&](int32_t node) {
                return std::make_pair(block_node_name(block.nodes()[node]),
                                      block.nodes()[node].outputs.size());
              });
    refs.push_back(ref);
  }
  return refs;
}

std::string read_name(const Json& value, const std::string& path, const char* expected) {
  if (!value.is_string()) wrong_type(path, expected, value);
  return value.get<std::string>();
}

TensorType read_type(const Json& value, const std::string& path) {
  check_fields(value, path, {"shape", "dtype"});
  TensorType type;
  type.shape = read_ints(value["shape"], join(path, "shape"));
  const std::string dtype = read_name(value["dtype"], join(path, "dtype"), "a dtype name");
  try {
    type.dtype = core::parse_dtype(dtype);
  } catch (const core::UserError& error) {
    rethrow_at(join(path, "dtype"), error);
  }
  return type;
}

std::vector<TensorType> read_types(const Json& value, const std::string& path) {
  if (!value.is_array()) wrong_type(path, "an array of {\"shape\", \"dtype\"} objects", value);
  std::vector<TensorType> types;
  for (std::size_t i = 0; i < value.size(); ++i) types.push_back(read_type(value[i], at(path, i)));
  return types;
}

// Reads an array of exactly three integers (grid axes x, y, z).
std::array<int64_t, 3> read_triple(const Json& value, const std::string& path) {
  if (!value.is_array() || value.size() != 3) {
    wrong_type(path, "an array of 3 integers (grid axes x, y, z)", value);
  }
  return {read_int(value[0], at(path, 0)), read_int(value[1], at(path, 1)),
          read_int(value[2], at(path, 2))};
}

// A dim index or -1 (a map entry or a forloop_dim); the builder checks it against the rank.
int read_dim_or_none(const Json& value, const std::string& path) {
  const int64_t dim = read_int(value, path);
  YR_USER_CHECK(
      dim >= -1 && dim <= std::numeric_limits<int32_t>::max(),
      "graph JSON: " << path << ": " << dim << " is out of range; expected -1 or a dim index");
  return static_cast<int>(dim);
}

DimMap read_map(const Json& value, const std::string& path) {
  if (!value.is_array() || value.size() != 3) {
    wrong_type(path, "an array of 3 dims or -1 (grid axes x, y, z)", value);
  }
  return {read_dim_or_none(value[0], at(path, 0)), read_dim_or_none(value[1], at(path, 1)),
          read_dim_or_none(value[2], at(path, 2))};
}

// A block input as stored, before the builder tiles it.
struct StoredBlockInput {
  TensorType dtensor;
  DimMap input_map;
  int forloop_dim;
};

StoredBlockInput read_block_input(const Json& value, const std::string& path) {
  check_fields(value, path, {"dtensor", "input_map", "forloop_dim"});
  StoredBlockInput input{read_type(value["dtensor"], join(path, "dtensor")),
                         read_map(value["input_map"], join(path, "input_map")),
                         read_dim_or_none(value["forloop_dim"], join(path, "forloop_dim"))};
  try {
    KernelGraph().input(input.dtensor.shape, input.dtensor.dtype);  // the kernel-level checks
  } catch (const core::UserError& error) {
    rethrow_at(join(path, "dtensor"), error);
  }
  return input;
}

// Reads block node `index` (at `path`) and adds it to `block`; input nodes take the next of
// `inputs` (stored at `inputs_path`).
void read_block_node(const Json& value, std::size_t index, const std::string& path,
                     const std::vector<StoredBlockInput>& inputs, const std::string& inputs_path,
                     BlockGraph& block) {
  if (!value.is_object()) wrong_type(path, "an object", value);
  YR_USER_CHECK(value.contains("kind"), "graph JSON: " << path << ": missing field 'kind'");
  const std::string kind = read_name(value["kind"], join(path, "kind"), "a block node kind");
  if (kind == "input") {
    check_fields(value, path, {"kind", "input"});
    const int32_t k = read_index(value["input"], join(path, "input"));
    const std::size_t next = block.inputs().size();
    YR_USER_CHECK(static_cast<std::size_t>(k) < inputs.size(),
                  "graph JSON: " << join(path, "input") << ": refers to block input " << k
                                 << ", but the block graph has " << inputs.size() << " inputs");
    YR_USER_CHECK(static_cast<std::size_t>(k) == next,
                  "graph JSON: " << join(path, "input") << ": block input " << k
                                 << " is out of order; expected block input " << next
                                 << " (input nodes come in the order of the inputs, once each)");
    try {
      block.input(inputs[k].dtensor, inputs[k].input_map, inputs[k].forloop_dim);
    } catch (const core::UserError& error) {
      rethrow_at(at(inputs_path, next), error);
    }
    return;
  }
  if (kind == "op") {
    check_fields(value, path, {"kind", "op", "inputs", "attrs"});
    const std::string name = read_name(value["op"], join(path, "op"), "an op name");
    const auto op = op_from_name(name);
    YR_USER_CHECK(op.has_value(),
                  "graph JSON: " << join(path, "op") << ": unknown op '" << name << "'");
    const auto refs = read_block_refs(value["inputs"], block, index, join(path, "inputs"));
    Attrs attrs =
        read_attrs(value["attrs"], op_info(*op).name, op_info(*op).attributes, join(path, "attrs"));
    try {
      block.add_op(*op, refs, std::move(attrs));
    } catch (const core::UserError& error) {
      rethrow_at(path, error);
    }
    return;
  }
  if (kind == "accumulate") {
    check_fields(value, path, {"kind", "accum", "inputs"});
    const std::string name = read_name(value["accum"], join(path, "accum"), "an accumulator name");
    AccumKind accum;
    try {
      accum = parse_accum(name);
    } catch (const core::UserError& error) {
      rethrow_at(join(path, "accum"), error);
    }
    const auto refs = read_block_refs(value["inputs"], block, index, join(path, "inputs"));
    YR_USER_CHECK(refs.size() == static_cast<std::size_t>(accum_operands(accum)),
                  "graph JSON: " << join(path, "inputs") << ": forloop_accum(" << name << ") takes "
                                 << accum_operands(accum) << " operand"
                                 << (accum_operands(accum) == 1 ? "" : "s") << "; got "
                                 << refs.size());
    try {
      block.accumulate(accum, refs[0],
                       refs.size() == 2 ? std::optional<TensorRef>(refs[1]) : std::nullopt);
    } catch (const core::UserError& error) {
      rethrow_at(path, error);
    }
    return;
  }
  if (kind == "reduce_to_dimx") {
    check_fields(value, path, {"kind", "inputs", "attrs"});
    const auto refs = read_block_refs(value["inputs"], block, index, join(path, "inputs"));
    YR_USER_CHECK(refs.size() == 1, "graph JSON: " << join(path, "inputs")
                                                   << ": reduce_to_dimx takes 1 operand; got "
                                                   << refs.size());
    const Attrs attrs = read_attrs(value["attrs"], "reduce_to_dimx", reduce_to_dimx_attributes(),
                                   join(path, "attrs"));
    YR_USER_CHECK(attrs.has("dim"), "graph JSON: " << join(path, "attrs")
                                                   << ": reduce_to_dimx: attribute 'dim' is "
                                                      "missing; expected a value of type int");
    try {
      block.reduce_to_dimx(refs[0], attrs.get_int("dim"));
    } catch (const core::UserError& error) {
      rethrow_at(path, error);
    }
    return;
  }
  YR_USER_ERROR("graph JSON: " << join(path, "kind") << ": unknown block node kind '" << kind
                               << "'; expected one of input, op, accumulate, reduce_to_dimx");
}

std::shared_ptr<BlockGraph> read_block_graph(const Json& value, const std::string& path) {
  check_fields(
      value, path,
      {"grid_dims", "block_dims", "forloop_range", "reduction_dimx", "inputs", "nodes", "outputs"});
  const Dim3 grid_dims = read_triple(value["grid_dims"], join(path, "grid_dims"));
  const Dim3 block_dims = read_triple(value["block_dims"], join(path, "block_dims"));
  const int64_t forloop_range = read_int(value["forloop_range"], join(path, "forloop_range"));
  const int64_t reduction_dimx = read_int(value["reduction_dimx"], join(path, "reduction_dimx"));
  std::shared_ptr<BlockGraph> block;
  try {
    block = std::make_shared<BlockGraph>(grid_dims, block_dims, forloop_range, reduction_dimx);
  } catch (const core::UserError& error) {
    rethrow_at(path, error);
  }

  const std::string inputs_path = join(path, "inputs");
  const Json& inputs_value = value["inputs"];
  if (!inputs_value.is_array()) wrong_type(inputs_path, "an array of block inputs", inputs_value);
  std::vector<StoredBlockInput> inputs;
  for (std::size_t i = 0; i < inputs_value.size(); ++i) {
    inputs.push_back(read_block_input(inputs_value[i], at(inputs_path, i)));
  }

  const std::string nodes_path = join(path, "nodes");
  const Json& nodes = value["nodes"];
  if (!nodes.is_array()) wrong_type(nodes_path, "an array of block nodes", nodes);
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    read_block_node(nodes[i], i, at(nodes_path, i), inputs, inputs_path, *block);
  }
  const std::size_t read = block->inputs().size();
  YR_USER_CHECK(
      read == inputs.size(),
      "graph JSON: " << at(inputs_path, read) << ": no block node reads block input " << read
                     << "; expected a node {\"kind\": \"input\", \"input\": " << read << "}");

  const std::string outputs_path = join(path, "outputs");
  const Json& outputs = value["outputs"];
  if (!outputs.is_array()) wrong_type(outputs_path, "an array of block outputs", outputs);
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const std::string output_path = at(outputs_path, i);
    check_fields(outputs[i], output_path, {"tile", "output_map"});
    const std::string tile_path = join(output_path, "tile");
    const TensorRef tile = read_ref(outputs[i]["tile"], tile_path);
    check_ref(tile, block->nodes().size(), tile_path,
              "the block graph has " + std::to_string(block->nodes().size()) + " nodes",
              [&](int32_t node) {
                return std::make_pair(block_node_name(block->nodes()[node]),
                                      block->nodes()[node].outputs.size());
              });
    const DimMap output_map = read_map(outputs[i]["output_map"], join(output_path, "output_map"));
    try {
      block->output(tile, output_map);
    } catch (const core::UserError& error) {
      rethrow_at(output_path, error);
    }
  }
  try {
    block->check_complete();
  } catch (const core::UserError& error) {
    rethrow_at(path, error);
  }
  return block;
}

void read_node(const Json& value, std::size_t index, KernelGraph& graph) {
  const std::string path = at("nodes", index);
  if (!value.is_object()) wrong_type(path, "an object", value);
  YR_USER_CHECK(value.contains("op"), "graph JSON: " << path << ": missing field 'op'");
  const std::string name = read_name(value["op"], join(path, "op"), "an op name");
  const auto op = op_from_name(name);
  YR_USER_CHECK(op.has_value(),
                "graph JSON: " << join(path, "op") << ": unknown op '" << name << "'");
  const bool customized = *op == OpKind::Customized;
  if (customized) {
    check_fields(value, path, {"op", "inputs", "block_graph", "outputs"});
  } else {
    check_fields(value, path, {"op", "inputs", "attrs", "outputs"});
  }
  const OpInfo& info = op_info(*op);

  const std::string inputs_path = join(path, "inputs");
  const Json& inputs_value = value["inputs"];
  if (!inputs_value.is_array())
    wrong_type(inputs_path, "an array of [node, output] pairs", inputs_value);
  std::vector<TensorRef> inputs;
  for (std::size_t i = 0; i < inputs_value.size(); ++i) {
    const TensorRef ref = read_ref(inputs_value[i], at(inputs_path, i));
    check_ref(graph, ref, index, at(inputs_path, i),
              "node " + std::to_string(index) + " can only use outputs of earlier nodes");
    inputs.push_back(ref);
  }
  Attrs attrs;
  std::shared_ptr<BlockGraph> block;
  if (customized) {
    block = read_block_graph(value["block_graph"], join(path, "block_graph"));
  } else {
    attrs = read_attrs(value["attrs"], info.name, info.attributes, join(path, "attrs"));
  }
  const std::vector<TensorType> stored = read_types(value["outputs"], join(path, "outputs"));

  try {
    if (*op == OpKind::Input) {
      YR_USER_CHECK(inputs.empty(), "an input node takes no inputs; got " << inputs.size());
      YR_USER_CHECK(stored.size() == 1,
                    "an input node has exactly one output type; got " << stored.size());
      graph.input(stored[0].shape, stored[0].dtype);
    } else if (customized) {
      graph.customized(inputs, std::move(block));
    } else {
      graph.add_node(*op, inputs, std::move(attrs));
    }
  } catch (const core::UserError& error) {
    rethrow_at(path, error);
  }
  const Node& node = graph.nodes().back();
  YR_USER_CHECK(stored.size() == node.outputs.size(),
                "graph JSON: " << join(path, "outputs") << ": " << stored.size()
                               << " output types are stored, but " << info.name << " with these "
                               << "inputs and " << (customized ? "block graph" : "attributes")
                               << " has " << node.outputs.size());
  for (std::size_t i = 0; i < stored.size(); ++i) {
    YR_USER_CHECK(stored[i] == node.outputs[i],
                  "graph JSON: " << at(join(path, "outputs"), i) << ": the stored type "
                                 << stored[i].to_string() << " differs from the inferred type "
                                 << node.outputs[i].to_string());
  }
}

}  // namespace

std::string graph_to_json(const KernelGraph& graph, int indent) {
  OrderedJson nodes = OrderedJson::array();
  for (std::size_t i = 0; i < graph.nodes().size(); ++i) {
    nodes.push_back(node_to_json(graph.nodes()[i], i));
  }
  OrderedJson outputs = OrderedJson::array();
  for (const auto& ref : graph.outputs()) outputs.push_back(ref_to_json(ref));
  const OrderedJson document = {{"format", kFormatName},
                                {"version", kGraphFormatVersion},
                                {"nodes", nodes},
                                {"outputs", outputs}};
  return document.dump(indent < 0 ? -1 : indent);
}

KernelGraph graph_from_json(std::string_view text) {
  Json document;
  try {
    document = Json::parse(text.begin(), text.end());
  } catch (const Json::parse_error& error) {
    // nlohmann's message starts with "[json.exception.parse_error.N] "; keep what follows.
    std::string message = error.what();
    const auto bracket = message.find("] ");
    if (message.rfind("[json.exception", 0) == 0 && bracket != std::string::npos) {
      message.erase(0, bracket + 2);
    }
    // nlohmann counts one past the end when the text stops early: that is a truncation.
    if (error.byte > text.size()) {
      YR_USER_ERROR("graph JSON: truncated after " << text.size() << " bytes: " << message);
    }
    YR_USER_ERROR("graph JSON: malformed JSON at byte " << error.byte << " of " << text.size()
                                                        << ": " << message);
  }
  check_fields(document, "", {"format", "version", "nodes", "outputs"});
  const Json& format = document["format"];
  YR_USER_CHECK(
      format.is_string() && format.get_ref<const std::string&>() == kFormatName,
      "graph JSON: format is " << format.dump() << "; expected \"" << kFormatName << "\"");
  const int64_t version = read_int(document["version"], "version");
  YR_USER_CHECK(version == kGraphFormatVersion, "graph JSON: version "
                                                    << version << " is not supported; this build "
                                                    << "reads version " << kGraphFormatVersion);
  const Json& nodes = document["nodes"];
  if (!nodes.is_array()) wrong_type("nodes", "an array of nodes", nodes);
  KernelGraph graph;
  for (std::size_t i = 0; i < nodes.size(); ++i) read_node(nodes[i], i, graph);

  const Json& outputs = document["outputs"];
  if (!outputs.is_array()) wrong_type("outputs", "an array of [node, output] pairs", outputs);
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const std::string path = at("outputs", i);
    const TensorRef ref = read_ref(outputs[i], path);
    check_ref(graph, ref, graph.nodes().size(), path,
              "the graph has " + std::to_string(graph.nodes().size()) + " nodes");
    graph.mark_output(ref);
  }
  return graph;
}

}  // namespace yirage::ir
