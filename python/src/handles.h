// Tensor handles as Python sees them: a DTensor names an output of a kernel-graph node, an
// STensor a tile of a block graph. Each keeps its graph alive and is checked to belong to the
// graph it is used with.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "yirage/ir/block_graph.h"
#include "yirage/ir/kernel_graph.h"

namespace yirage::python {

/// A kernel graph as the bound methods receive it (the Python object kept alive).
using GraphPtr = std::shared_ptr<ir::KernelGraph>;
/// A block graph as the bound methods receive it (the Python object kept alive).
using BlockPtr = std::shared_ptr<ir::BlockGraph>;

/// A tensor of a kernel graph (DTensor): the graph and which node output.
struct GraphTensor {
  GraphPtr graph;     ///< the graph the tensor belongs to
  ir::TensorRef ref;  ///< the node output it names
  /// Shape and dtype.
  const ir::TensorType& type() const { return graph->type(ref); }
};

/// A tile of a block graph (STensor): the graph and which node output.
struct BlockTensor {
  BlockPtr graph;     ///< the block graph the tile belongs to
  ir::TensorRef ref;  ///< the node output it names
  /// Tile shape and dtype.
  const ir::TensorType& type() const { return graph->type(ref); }
};

/// The reference of `tensor`, checked to be a tensor of `graph`; `op` and `role` name the call
/// in the UserError otherwise.
ir::TensorRef ref_in(const GraphPtr& graph, const GraphTensor& tensor, std::string_view op,
                     std::string_view role);
/// The reference of `tile`, checked to be a tile of `graph`; `op` and `role` name the call in the
/// UserError otherwise.
ir::TensorRef ref_in(const BlockPtr& graph, const BlockTensor& tile, std::string_view op,
                     std::string_view role);

/// The references of `tensors`, each checked as by ref_in (roles "tensor 0", "tensor 1", ...).
template <typename Ptr, typename Tensor>
std::vector<ir::TensorRef> refs_in(const Ptr& graph, const std::vector<Tensor>& tensors,
                                   std::string_view op) {
  std::vector<ir::TensorRef> refs;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    refs.push_back(ref_in(graph, tensors[i], op, "tensor " + std::to_string(i)));
  }
  return refs;
}

}  // namespace yirage::python
