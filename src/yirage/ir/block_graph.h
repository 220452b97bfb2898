// Block graphs (uGraphs): one fused kernel as a grid of blocks, each running a for-loop over tiles.
//
// Semantics. The kernel runs grid_dims[0] x grid_dims[1] x grid_dims[2] blocks. Block input k
// views graph tensor T_k through its input_map (entry a: the dim of T_k that grid axis a splits
// into grid_dims[a] equal parts, or -1 to give every block the whole extent) and its
// forloop_dim (the dim split into forloop_range equal parts, part i read in iteration i; -1:
// the same tile every iteration). Every block runs the for-loop: ops on loop tiles run once per
// iteration; an accumulator combines a tile over all iterations and yields an after-loop
// tensor; ops on after-loop tensors run once after the loop. Each output writes an after-loop
// (or loop-invariant) tile into the graph tensor at the block's position along its
// output_map. Ops are those of the op table; tile shapes follow the kernel-level shape rules.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "yirage/ir/kernel_graph.h"

namespace yirage::ir {

/// For-loop accumulators, from YIRAGE_ACCUMULATORS in ops.def.
enum class AccumKind : uint8_t {
#define YR_ACCUM_ENUM(id, name, operands) id,
  YIRAGE_ACCUMULATORS(YR_ACCUM_ENUM)
#undef YR_ACCUM_ENUM
};

/// The name of an accumulator ("sum", "rescaled_sum", ...).
std::string_view accum_name(AccumKind kind);
/// Number of operands the accumulator takes (1, or 2 for rescaled_sum).
int accum_operands(AccumKind kind);
/// Looks an accumulator up by name; nullopt when unknown.
std::optional<AccumKind> accum_from_name(std::string_view name);
/// Looks an accumulator up by name; a UserError listing the known names when unknown.
AccumKind parse_accum(std::string_view name);

/// Grid axis (x, y, z) -> tensor dim it partitions, or -1.
using DimMap = std::array<int, 3>;
/// Grid or block extents along x, y, z.
using Dim3 = std::array<int64_t, 3>;

/// Largest grid accepted: CUDA's limits per axis and a bound on the block count.
inline constexpr Dim3 kMaxGridDims = {2147483647, 65535, 65535};
/// Most blocks one block graph may launch.
inline constexpr int64_t kMaxBlocks = int64_t{1} << 20;
/// Most threads per block in the block-dims hint.
inline constexpr int64_t kMaxThreadsPerBlock = 1024;

/// When a block-graph tensor exists.
enum class Phase : uint8_t {
  Invariant,  ///< the same in every iteration (inputs without a for-loop dim, ops on them)
  Loop,       ///< one value per iteration
  AfterLoop,  ///< once, after the for-loop (accumulators and ops on them)
};

/// What a block-graph node is.
enum class BlockNodeKind : uint8_t {
  Input,         ///< the tile of a block input
  Op,            ///< an op of the table applied to tiles
  Accumulate,    ///< a for-loop accumulator
  ReduceToDimx,  ///< sums consecutive groups of a dim down to reduction_dimx entries
};

/// One node of a block graph.
struct BlockNode {
  BlockNodeKind kind = BlockNodeKind::Input;  ///< node kind
  OpKind op = OpKind::Input;                  ///< the op (kind Op)
  AccumKind accum = AccumKind::Sum;           ///< the accumulator (kind Accumulate)
  std::vector<TensorRef> inputs;              ///< operands (nodes of this block graph)
  Attrs attrs;                                ///< op attributes; "dim" for ReduceToDimx
  std::vector<TensorType> outputs;            ///< tile types
  Phase phase = Phase::Loop;                  ///< when the outputs exist
  int32_t input_index = -1;                   ///< which block input (kind Input)
};

/// A block input: the graph tensor it reads and how blocks and iterations tile it.
struct BlockInput {
  TensorType dtensor;  ///< the kernel-level tensor
  DimMap input_map;    ///< grid axis -> partitioned dim, or -1
  int forloop_dim;     ///< dim walked by the for-loop, or -1
  int32_t node;        ///< the Input node holding its tile
};

/// A block output: which tile is written where.
struct BlockOutput {
  TensorRef tile;      ///< the after-loop tile written
  DimMap output_map;   ///< grid axis -> dim of the output the blocks are laid along, or -1
  TensorType dtensor;  ///< the resulting kernel-level tensor
};

/// A block graph under construction or complete. Every builder call checks its arguments and
/// throws a UserError that names the maps, shapes or limits at fault.
class BlockGraph {
 public:
  /// A block graph with the given grid, block-dims hint, for-loop range and reduce-to-dimx size.
  BlockGraph(Dim3 grid_dims, Dim3 block_dims = {128, 1, 1}, int64_t forloop_range = 1,
             int64_t reduction_dimx = 64);

  /// Adds block input k (k = call order) over a tensor of type `dtensor`.
  TensorRef input(const TensorType& dtensor, DimMap input_map, int forloop_dim);
  /// Applies an op of the table (matmul, element-wise, reductions, rms_norm, softmax, concat,
  /// transpose) to tiles.
  std::vector<TensorRef> add_op(OpKind op, const std::vector<TensorRef>& inputs, Attrs attrs);
  /// Sums groups of consecutive entries of `dim` so that reduction_dimx entries remain.
  TensorRef reduce_to_dimx(TensorRef x, int64_t dim);
  /// Accumulates `x` over the for-loop; `m` is the second operand of rescaled_sum.
  TensorRef accumulate(AccumKind kind, TensorRef x, std::optional<TensorRef> m = std::nullopt);
  /// Writes an after-loop tile to a new kernel-level output through `output_map`.
  void output(TensorRef tile, DimMap output_map);

  /// Grid extents.
  const Dim3& grid_dims() const { return grid_dims_; }
  /// Block-dims hint (threads per block on a GPU).
  const Dim3& block_dims() const { return block_dims_; }
  /// Iterations of the for-loop.
  int64_t forloop_range() const { return forloop_range_; }
  /// Target extent of reduce_to_dimx.
  int64_t reduction_dimx() const { return reduction_dimx_; }
  /// Number of blocks.
  int64_t num_blocks() const { return grid_dims_[0] * grid_dims_[1] * grid_dims_[2]; }
  /// Nodes in insertion (topological) order.
  const std::vector<BlockNode>& nodes() const { return nodes_; }
  /// Inputs in order.
  const std::vector<BlockInput>& inputs() const { return inputs_; }
  /// Outputs in order.
  const std::vector<BlockOutput>& outputs() const { return outputs_; }
  /// Tile type of `tensor`.
  const TensorType& type(TensorRef tensor) const;
  /// Phase of `tensor`.
  Phase phase(TensorRef tensor) const;
  /// Throws a UserError unless the graph is complete: at least one input and one output.
  void check_complete() const;

 private:
  void check_ref(TensorRef tensor, const char* role) const;
  std::vector<TensorRef> append(BlockNode node);

  Dim3 grid_dims_;
  Dim3 block_dims_;
  int64_t forloop_range_;
  int64_t reduction_dimx_;
  std::vector<BlockNode> nodes_;
  std::vector<BlockInput> inputs_;
  std::vector<BlockOutput> outputs_;
};

/// Formats a map as "(0, -1, 1)".
std::string dim_map_to_string(const DimMap& map);

}  // namespace yirage::ir
