#include "yirage/backend/cuda/graph_identity.h"

#include <bit>
#include <functional>
#include <string_view>
#include <variant>

namespace yirage::backend::cuda {

namespace {

struct Hasher {
  uint64_t state = 0xcbf29ce484222325ULL;
  void add(uint64_t value) {
    state ^= value + 0x9e3779b97f4a7c15ULL + (state << 6) + (state >> 2);
    state *= 0x100000001b3ULL;
  }
};

void add_value(Hasher& hash, const ir::AttrValue& value) {
  hash.add(value.index());
  if (const auto* i = std::get_if<int64_t>(&value)) {
    hash.add(static_cast<uint64_t>(*i));
  } else if (const auto* d = std::get_if<double>(&value)) {
    hash.add(std::bit_cast<uint64_t>(*d));
  } else if (const auto* b = std::get_if<bool>(&value)) {
    hash.add(*b ? 1 : 0);
  } else if (const auto* list = std::get_if<std::vector<int64_t>>(&value)) {
    hash.add(list->size());
    for (int64_t entry : *list) hash.add(static_cast<uint64_t>(entry));
  }
}

bool same_value(const ir::AttrValue& a, const ir::AttrValue& b) {
  if (a.index() != b.index()) return false;
  if (const auto* d = std::get_if<double>(&a))
    return std::bit_cast<uint64_t>(*d) == std::bit_cast<uint64_t>(std::get<double>(b));
  return a == b;
}

bool same_attrs(const ir::Attrs& a, const ir::Attrs& b) {
  const auto& x = a.values();
  const auto& y = b.values();
  if (x.size() != y.size()) return false;
  for (auto i = x.begin(), j = y.begin(); i != x.end(); ++i, ++j) {
    if (i->first != j->first || !same_value(i->second, j->second)) return false;
  }
  return true;
}

}  // namespace

uint64_t structure_hash(const ir::KernelGraph& graph) {
  Hasher hash;
  hash.add(graph.nodes().size());
  for (const auto& node : graph.nodes()) {
    hash.add(static_cast<uint64_t>(node.op));
    hash.add(node.inputs.size());
    for (const auto& ref : node.inputs) {
      hash.add(static_cast<uint64_t>(ref.node));
      hash.add(static_cast<uint64_t>(ref.output));
    }
    for (const auto& [name, value] : node.attrs.values()) {
      hash.add(std::hash<std::string_view>{}(name));
      add_value(hash, value);
    }
    hash.add(node.outputs.size());
    for (const auto& type : node.outputs) {
      hash.add(static_cast<uint64_t>(type.dtype));
      hash.add(type.shape.size());
      for (int64_t extent : type.shape) hash.add(static_cast<uint64_t>(extent));
    }
    hash.add(reinterpret_cast<uintptr_t>(node.block_graph.get()));
  }
  for (int32_t index : graph.input_nodes()) hash.add(static_cast<uint64_t>(index));
  hash.add(graph.outputs().size());
  for (const auto& ref : graph.outputs()) {
    hash.add(static_cast<uint64_t>(ref.node));
    hash.add(static_cast<uint64_t>(ref.output));
  }
  return hash.state;
}

bool same_structure(const ir::KernelGraph& a, const ir::KernelGraph& b) {
  if (a.nodes().size() != b.nodes().size() || a.input_nodes() != b.input_nodes() ||
      a.outputs() != b.outputs())
    return false;
  for (std::size_t n = 0; n < a.nodes().size(); ++n) {
    const ir::Node& x = a.nodes()[n];
    const ir::Node& y = b.nodes()[n];
    if (x.op != y.op || x.inputs != y.inputs || x.outputs != y.outputs ||
        x.block_graph != y.block_graph || !same_attrs(x.attrs, y.attrs))
      return false;
  }
  return true;
}

}  // namespace yirage::backend::cuda
