// The kernel graph: a DAG of operators over device tensors, built with shapes checked per call.
//
// Semantics shared by every op: tensors are dense and row-major; shapes are inferred when a
// node is added and a bad shape is a UserError at that call, naming the shapes. Dims given as
// negative numbers count from the end and are stored normalized, so equal graphs serialize
// equally. Float ops compute in the input dtype's precision or better (the reference executor
// uses float64 throughout); integer tensors only feed embedding, rope positions and data
// movement (concat, split, reshape, transpose).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "yirage/core/dtype.h"
#include "yirage/core/tensor.h"
#include "yirage/ir/op.h"

namespace yirage::ir {

/// Shape and dtype of a tensor in a graph.
struct TensorType {
  core::Shape shape;                     ///< extents, each >= 1
  core::DType dtype = core::DType::F32;  ///< element type
  /// Equality of shape and dtype.
  bool operator==(const TensorType& other) const = default;
  /// "bfloat16[8, 4096]".
  std::string to_string() const;
};

/// Names one output of one node.
struct TensorRef {
  int32_t node = -1;   ///< index into KernelGraph::nodes()
  int32_t output = 0;  ///< which output of that node
  /// Equality of node and output.
  bool operator==(const TensorRef& other) const = default;
};

class BlockGraph;

/// One operator application.
struct Node {
  OpKind op = OpKind::Input;                      ///< the operator
  std::vector<TensorRef> inputs;                  ///< operands, in order
  Attrs attrs;                                    ///< attribute values (normalized)
  std::vector<TensorType> outputs;                ///< inferred output types
  std::shared_ptr<const BlockGraph> block_graph;  ///< the fused kernel of a customized node
};

/// A kernel graph under construction or complete; nodes are kept in insertion order, which is
/// always a topological order.
class KernelGraph {
 public:
  /// Adds a graph input (the k-th call is the k-th input the graph takes).
  TensorRef input(const core::Shape& shape, core::DType dtype);
  /// Adds any op but input: checks arity, attributes and shapes, normalizes attributes and
  /// infers the output types. Returns the new node's outputs.
  std::vector<TensorRef> add_node(OpKind op, const std::vector<TensorRef>& inputs, Attrs attrs);

  /// Batched matmul: a[..., M, K] @ b[..., K, N] with broadcasting batch dims.
  TensorRef matmul(TensorRef a, TensorRef b);
  /// An element-wise unary op; `scalar` feeds mul_scalar and add_scalar.
  TensorRef unary(OpKind op, TensorRef x, double scalar = 0.0);
  /// An element-wise binary op with NumPy broadcasting.
  TensorRef binary(OpKind op, TensorRef a, TensorRef b);
  /// sum, max or mean over `dim`.
  TensorRef reduce(OpKind op, TensorRef x, int64_t dim, bool keepdim = false);
  /// x / sqrt(mean(x^2, last dim) + eps) * weight, weight of shape [x.shape[-1]].
  TensorRef rms_norm(TensorRef x, TensorRef weight, double eps = 1e-6);
  /// Softmax over `dim`.
  TensorRef softmax(TensorRef x, int64_t dim = -1);
  /// Concatenation along `dim`.
  TensorRef concat(const std::vector<TensorRef>& parts, int64_t dim);
  /// Splits `dim` into consecutive pieces of the given sizes (which must add up to the extent).
  std::vector<TensorRef> split(TensorRef x, const std::vector<int64_t>& sizes, int64_t dim);
  /// Splits `dim` into `chunks` equal pieces (the extent must divide evenly).
  std::vector<TensorRef> chunk(TensorRef x, int64_t chunks, int64_t dim);
  /// Same elements, new shape; one extent may be -1 (inferred).
  TensorRef reshape(TensorRef x, const core::Shape& shape);
  /// Swaps two dimensions.
  TensorRef transpose(TensorRef x, int64_t dim0, int64_t dim1);
  /// Rows of `table` [V, D] picked by integer `ids`: result ids.shape + [D].
  TensorRef embedding(TensorRef ids, TensorRef table);
  /// Rotary embedding, NeoX/Hugging Face layout (halves rotated), over the last dim of `x`;
  /// `positions` (integers) has the shape of a leading part of x's shape.
  TensorRef rope(TensorRef x, TensorRef positions, double theta = 10000.0);

  /// A fused kernel: runs the complete block graph `kernel` on `inputs` (one per block input,
  /// of its tensor type) and returns its outputs.
  std::vector<TensorRef> customized(const std::vector<TensorRef>& inputs,
                                    std::shared_ptr<const BlockGraph> kernel);

  /// Marks a tensor as a graph output (in call order).
  void mark_output(TensorRef tensor);

  /// All nodes in insertion (topological) order.
  const std::vector<Node>& nodes() const { return nodes_; }
  /// Node `index`.
  const Node& node(int32_t index) const;
  /// Indices of the input nodes, in the order the graph takes its inputs.
  const std::vector<int32_t>& input_nodes() const { return input_nodes_; }
  /// Outputs, in the order they were marked.
  const std::vector<TensorRef>& outputs() const { return outputs_; }
  /// Shape and dtype of `tensor`; UserError when it does not name a tensor of this graph.
  const TensorType& type(TensorRef tensor) const;
  /// Kernels the graph launches: its nodes other than inputs.
  int num_kernels() const;
  /// Types of the graph inputs, in order.
  std::vector<TensorType> input_types() const;
  /// Types of the graph outputs, in order.
  std::vector<TensorType> output_types() const;

 private:
  void check_ref(TensorRef tensor, const char* role) const;
  std::vector<TensorRef> append(Node node);

  std::vector<Node> nodes_;
  std::vector<int32_t> input_nodes_;
  std::vector<TensorRef> outputs_;
};

/// References to outputs 0 .. count-1 of `node`.
std::vector<TensorRef> output_refs(int32_t node, std::size_t count);

/// Infers the output types of `op` applied to `inputs`, normalizing `attrs` in place (negative
/// dims, inferred extents). Throws a UserError naming the shapes when they do not fit.
std::vector<TensorType> infer_output_types(OpKind op, const std::vector<TensorType>& inputs,
                                           Attrs& attrs);

}  // namespace yirage::ir
