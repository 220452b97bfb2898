// Structural fingerprints. Every tensor gets a hash from what it is, never from where it sits:
//   input tensor: its position among the graph inputs and its type;
//   op output:    the op's name, its attributes (by name, typed, floats by bit pattern), all
//                 output types of its node, which output it is, and the hashes of the operand
//                 tensors in order (no op is treated as commutative);
//   customized:   the same, with the structure of its block graph in place of attributes.
// The graph hash combines the input types in order and the output tensor hashes in order, so
// nodes that no output depends on do not contribute. Values are fed to a splitmix64-style mixer
// in a fixed encoding (every list preceded by its length, every string by its size), which
// makes the result independent of the process, machine and build.
//
// Changing anything here changes every fingerprint and so invalidates caches kept on disk.
#include "yirage/ir/fingerprint.h"
#include "yirage/core/hash.h"

#include <bit>
#include <cstring>

#include "yirage/core/error.h"
#include "yirage/ir/block_graph.h"

namespace yirage::ir {

namespace {

using core::mix64;

// An order-sensitive accumulator of 64-bit words.
class Hasher {
 public:
  explicit Hasher(std::string_view domain) { add(domain); }

  Hasher& add(uint64_t word) {
    state_ = mix64(state_ ^ mix64(word + 0x9e3779b97f4a7c15ULL)) + 0x632be59bd9b4e019ULL;
    return *this;
  }
  Hasher& add_signed(int64_t word) { return add(static_cast<uint64_t>(word)); }
  Hasher& add(double value) { return add(std::bit_cast<uint64_t>(value)); }
  // Size, then the FNV-1a hash of the bytes.
  Hasher& add(std::string_view text) {
    uint64_t fnv = 0xcbf29ce484222325ULL;
    for (unsigned char c : text) fnv = (fnv ^ c) * 0x100000001b3ULL;
    return add(static_cast<uint64_t>(text.size())).add(fnv);
  }
  Hasher& add(const std::vector<int64_t>& words) {
    add(static_cast<uint64_t>(words.size()));
    for (int64_t word : words) add_signed(word);
    return *this;
  }
  Hasher& add(const TensorType& type) { return add(core::dtype_name(type.dtype)).add(type.shape); }
  Hasher& add(const std::vector<TensorType>& types) {
    add(static_cast<uint64_t>(types.size()));
    for (const auto& type : types) add(type);
    return *this;
  }
  // Attributes sorted by name (Attrs keeps them so), each with its type and value.
  Hasher& add(const Attrs& attrs) {
    add(static_cast<uint64_t>(attrs.values().size()));
    for (const auto& [name, value] : attrs.values()) {
      add(std::string_view(name)).add(attr_type_name(attr_value_type(value)));
      switch (attr_value_type(value)) {
        case AttrType::Int:
          add_signed(std::get<int64_t>(value));
          break;
        case AttrType::Float:
          add(std::get<double>(value));
          break;
        case AttrType::Bool:
          add(static_cast<uint64_t>(std::get<bool>(value)));
          break;
        case AttrType::Ints:
          add(std::get<std::vector<int64_t>>(value));
          break;
      }
    }
    return *this;
  }
  template <std::size_t N>
  Hasher& add(const std::array<int64_t, N>& words) {
    for (int64_t word : words) add_signed(word);
    return *this;
  }
  template <std::size_t N>
  Hasher& add(const std::array<int, N>& words) {
    for (int word : words) add_signed(word);
    return *this;
  }

  uint64_t value() const { return state_; }

 private:
  uint64_t state_ = 0;
};

// Hashes of every output of every node of a graph, computed in node (topological) order.
using TensorHashes = std::vector<std::vector<uint64_t>>;

uint64_t lookup(const TensorHashes& hashes, TensorRef ref) {
  YR_INTERNAL_CHECK(ref.node >= 0 && static_cast<std::size_t>(ref.node) < hashes.size() &&
                        ref.output >= 0 &&
                        static_cast<std::size_t>(ref.output) < hashes[ref.node].size(),
                    "tensor reference " << ref.node << ":" << ref.output << " out of range");
  return hashes[ref.node][ref.output];
}

// Fills in the hash of each output of a node from the hash of the node itself.
std::vector<uint64_t> output_hashes(uint64_t node_hash, std::size_t num_outputs) {
  std::vector<uint64_t> result;
  for (std::size_t i = 0; i < num_outputs; ++i) {
    result.push_back(Hasher("output").add(node_hash).add(static_cast<uint64_t>(i)).value());
  }
  return result;
}

// Names for block-graph enums, so fingerprints do not depend on enumerator order.
std::string_view block_node_kind_name(BlockNodeKind kind) {
  switch (kind) {
    case BlockNodeKind::Input:
      return "input";
    case BlockNodeKind::Op:
      return "op";
    case BlockNodeKind::Accumulate:
      return "accumulate";
    case BlockNodeKind::ReduceToDimx:
      return "reduce_to_dimx";
  }
  YR_INTERNAL_ERROR("unhandled block node kind");
}

std::string_view phase_name(Phase phase) {
  switch (phase) {
    case Phase::Invariant:
      return "invariant";
    case Phase::Loop:
      return "loop";
    case Phase::AfterLoop:
      return "after_loop";
  }
  YR_INTERNAL_ERROR("unhandled phase");
}

// The structure of a block graph: its launch shape, inputs with their maps, every node reached
// structurally (like kernel-graph nodes) and the outputs with their maps.
uint64_t block_graph_hash(const BlockGraph& block) {
  Hasher hasher("block_graph");
  hasher.add(block.grid_dims())
      .add(block.block_dims())
      .add_signed(block.forloop_range())
      .add_signed(block.reduction_dimx());
  TensorHashes hashes;
  for (const BlockNode& node : block.nodes()) {
    Hasher node_hasher("block_node");
    node_hasher.add(block_node_kind_name(node.kind)).add(phase_name(node.phase)).add(node.outputs);
    switch (node.kind) {
      case BlockNodeKind::Input: {
        YR_INTERNAL_CHECK(node.input_index >= 0 &&
                              static_cast<std::size_t>(node.input_index) < block.inputs().size(),
                          "block input node refers to input " << node.input_index);
        const BlockInput& input = block.inputs()[node.input_index];
        node_hasher.add_signed(node.input_index)
            .add(input.dtensor)
            .add(input.input_map)
            .add_signed(input.forloop_dim);
        break;
      }
      case BlockNodeKind::Op:
        node_hasher.add(op_name(node.op));
        break;
      case BlockNodeKind::Accumulate:
        node_hasher.add(accum_name(node.accum));
        break;
      case BlockNodeKind::ReduceToDimx:
        break;
    }
    node_hasher.add(node.attrs).add(static_cast<uint64_t>(node.inputs.size()));
    for (const auto& ref : node.inputs) node_hasher.add(lookup(hashes, ref));
    hashes.push_back(output_hashes(node_hasher.value(), node.outputs.size()));
  }
  hasher.add(static_cast<uint64_t>(block.inputs().size()));
  for (const auto& input : block.inputs()) hasher.add(input.dtensor);
  hasher.add(static_cast<uint64_t>(block.outputs().size()));
  for (const auto& output : block.outputs()) {
    hasher.add(lookup(hashes, output.tile)).add(output.output_map).add(output.dtensor);
  }
  return hasher.value();
}

}  // namespace

uint64_t graph_fingerprint(const KernelGraph& graph) {
  std::vector<int64_t> input_position(graph.nodes().size(), -1);
  for (std::size_t i = 0; i < graph.input_nodes().size(); ++i) {
    input_position[graph.input_nodes()[i]] = static_cast<int64_t>(i);
  }
  TensorHashes hashes;
  hashes.reserve(graph.nodes().size());
  for (std::size_t index = 0; index < graph.nodes().size(); ++index) {
    const Node& node = graph.nodes()[index];
    Hasher hasher("node");
    hasher.add(op_name(node.op)).add(node.outputs);
    if (node.op == OpKind::Input) {
      YR_INTERNAL_CHECK(input_position[index] >= 0, "input node " << index << " is not listed");
      hasher.add_signed(input_position[index]);
    } else if (node.op == OpKind::Customized) {
      YR_INTERNAL_CHECK(node.block_graph != nullptr, "customized node without a block graph");
      hasher.add(block_graph_hash(*node.block_graph));
    } else {
      hasher.add(node.attrs);
    }
    hasher.add(static_cast<uint64_t>(node.inputs.size()));
    for (const auto& ref : node.inputs) hasher.add(lookup(hashes, ref));
    hashes.push_back(output_hashes(hasher.value(), node.outputs.size()));
  }
  Hasher graph_hasher("yirage.kernel_graph");
  graph_hasher.add(graph.input_types());
  graph_hasher.add(static_cast<uint64_t>(graph.outputs().size()));
  for (const auto& ref : graph.outputs()) graph_hasher.add(lookup(hashes, ref));
  return graph_hasher.value();
}

std::string graph_fingerprint_hex(const KernelGraph& graph) {
  static constexpr char kDigits[] = "0123456789abcdef";
  uint64_t value = graph_fingerprint(graph);
  std::string hex(16, '0');
  for (int i = 15; i >= 0; --i) {
    hex[i] = kDigits[value & 0xf];
    value >>= 4;
  }
  return hex;
}

}  // namespace yirage::ir
