#include "yirage/ir/block_graph.h"

#include <sstream>
#include <string>

#include "yirage/core/error.h"

namespace yirage::ir {

namespace {

constexpr const char* kAxisNames[] = {"x", "y", "z"};

struct AccumInfo {
  AccumKind kind;
  std::string_view name;
  int operands;
};

constexpr AccumInfo kAccumulators[] = {
#define YR_ACCUM_INFO(id, name, operands) {AccumKind::id, name, operands},
    YIRAGE_ACCUMULATORS(YR_ACCUM_INFO)
#undef YR_ACCUM_INFO
};

std::string dim3_to_string(const Dim3& dims) {
  std::ostringstream out;
  out << '(' << dims[0] << ", " << dims[1] << ", " << dims[2] << ')';
  return out.str();
}

// Checks that map entries name distinct dims of a rank-`rank` tensor, or -1.
void check_dim_map(const char* what, const DimMap& map, const TensorType& type) {
  const auto rank = static_cast<int>(type.shape.size());
  for (int axis = 0; axis < 3; ++axis) {
    YR_USER_CHECK(map[axis] >= -1 && map[axis] < rank,
                  what << " " << dim_map_to_string(map) << " maps grid axis " << kAxisNames[axis]
                       << " to dim " << map[axis] << " of " << type.to_string()
                       << "; expected -1 or a dim in [0, " << rank << ")");
    for (int other = 0; other < axis; ++other) {
      YR_USER_CHECK(map[axis] < 0 || map[axis] != map[other],
                    what << " " << dim_map_to_string(map) << " maps grid axes " << kAxisNames[other]
                         << " and " << kAxisNames[axis] << " to the same dim " << map[axis]
                         << "; expected each dim partitioned by at most one axis");
    }
  }
}

}  // namespace

std::string_view accum_name(AccumKind kind) {
  return kAccumulators[static_cast<int>(kind)].name;
}

int accum_operands(AccumKind kind) {
  return kAccumulators[static_cast<int>(kind)].operands;
}

std::optional<AccumKind> accum_from_name(std::string_view name) {
  for (const auto& info : kAccumulators) {
    if (info.name == name) return info.kind;
  }
  return std::nullopt;
}

AccumKind parse_accum(std::string_view name) {
  if (auto kind = accum_from_name(name)) return *kind;
  std::string known;
  for (const auto& info : kAccumulators)
    known += (known.empty() ? "" : ", ") + std::string(info.name);
  YR_USER_ERROR("unknown accumulator '" << name << "'; expected one of " << known);
}

std::string dim_map_to_string(const DimMap& map) {
  std::ostringstream out;
  out << '(' << map[0] << ", " << map[1] << ", " << map[2] << ')';
  return out.str();
}

BlockGraph::BlockGraph(Dim3 grid_dims, Dim3 block_dims, int64_t forloop_range,
                       int64_t reduction_dimx)
    : grid_dims_(grid_dims),
      block_dims_(block_dims),
      forloop_range_(forloop_range),
      reduction_dimx_(reduction_dimx) {
  for (int axis = 0; axis < 3; ++axis) {
    YR_USER_CHECK(grid_dims[axis] >= 1 && grid_dims[axis] <= kMaxGridDims[axis],
                  "grid_dim " << dim3_to_string(grid_dims) << " has extent " << grid_dims[axis]
                              << " on axis " << kAxisNames[axis] << "; expected 1 to "
                              << kMaxGridDims[axis]);
    YR_USER_CHECK(block_dims[axis] >= 1 && block_dims[axis] <= kMaxThreadsPerBlock,
                  "block_dim " << dim3_to_string(block_dims) << " has extent " << block_dims[axis]
                               << " on axis " << kAxisNames[axis] << "; expected 1 to "
                               << kMaxThreadsPerBlock);
  }
  YR_USER_CHECK(num_blocks() <= kMaxBlocks,
                "grid_dim " << dim3_to_string(grid_dims) << " has " << num_blocks()
                            << " blocks; expected at most " << kMaxBlocks);
  const int64_t threads = block_dims[0] * block_dims[1] * block_dims[2];
  YR_USER_CHECK(threads <= kMaxThreadsPerBlock,
                "block_dim " << dim3_to_string(block_dims) << " has " << threads
                             << " threads; expected at most " << kMaxThreadsPerBlock);
  YR_USER_CHECK(forloop_range >= 1,
                "forloop_range " << forloop_range << " is not positive; expected >= 1");
  YR_USER_CHECK(reduction_dimx >= 1,
                "reduction_dimx " << reduction_dimx << " is not positive; expected >= 1");
}

void BlockGraph::check_ref(TensorRef tensor, const char* role) const {
  YR_USER_CHECK(tensor.node >= 0 && tensor.node < static_cast<int32_t>(nodes_.size()) &&
                    tensor.output >= 0 &&
                    tensor.output < static_cast<int32_t>(nodes_[tensor.node].outputs.size()),
                role << " refers to tensor %" << tensor.node << ":" << tensor.output
                     << ", which this block graph does not have; expected a tile created by it");
}

const TensorType& BlockGraph::type(TensorRef tensor) const {
  check_ref(tensor, "tensor");
  return nodes_[tensor.node].outputs[tensor.output];
}

Phase BlockGraph::phase(TensorRef tensor) const {
  check_ref(tensor, "tensor");
  return nodes_[tensor.node].phase;
}

std::vector<TensorRef> BlockGraph::append(BlockNode node) {
  nodes_.push_back(std::move(node));
  return output_refs(static_cast<int32_t>(nodes_.size() - 1), nodes_.back().outputs.size());
}

TensorRef BlockGraph::input(const TensorType& dtensor, DimMap input_map, int forloop_dim) {
  const auto rank = static_cast<int>(dtensor.shape.size());
  check_dim_map("input_map", input_map, dtensor);
  YR_USER_CHECK(forloop_dim >= -1 && forloop_dim < rank,
                "forloop_dim " << forloop_dim << " is out of range for " << dtensor.to_string()
                               << "; expected -1 or a dim in [0, " << rank << ")");
  TensorType tile = dtensor;
  for (int axis = 0; axis < 3; ++axis) {
    const int dim = input_map[axis];
    if (dim < 0) continue;
    YR_USER_CHECK(tile.shape[dim] % grid_dims_[axis] == 0,
                  "input_map " << dim_map_to_string(input_map) << " splits dim " << dim << " of "
                               << dtensor.to_string() << " (extent " << dtensor.shape[dim]
                               << ") over grid axis " << kAxisNames[axis] << " of extent "
                               << grid_dims_[axis] << ", which does not divide it");
    tile.shape[dim] /= grid_dims_[axis];
  }
  if (forloop_dim >= 0) {
    YR_USER_CHECK(tile.shape[forloop_dim] % forloop_range_ == 0,
                  "forloop_dim " << forloop_dim << " of " << dtensor.to_string() << " has extent "
                                 << tile.shape[forloop_dim] << " per block, which forloop_range "
                                 << forloop_range_ << " does not divide");
    tile.shape[forloop_dim] /= forloop_range_;
  }
  BlockNode node;
  node.kind = BlockNodeKind::Input;
  node.outputs.push_back(tile);
  node.phase = forloop_dim >= 0 ? Phase::Loop : Phase::Invariant;
  node.input_index = static_cast<int32_t>(inputs_.size());
  const TensorRef ref = append(std::move(node))[0];
  inputs_.push_back({dtensor, input_map, forloop_dim, ref.node});
  return ref;
}

std::vector<TensorRef> BlockGraph::add_op(OpKind op, const std::vector<TensorRef>& inputs,
                                          Attrs attrs) {
  const OpInfo& info = op_info(op);
  const bool allowed = info.category != OpCategory::Structural || op == OpKind::Matmul ||
                       op == OpKind::RmsNorm || op == OpKind::Softmax || op == OpKind::Concat ||
                       op == OpKind::Transpose;
  YR_USER_CHECK(allowed,
                "block graphs apply matmul, element-wise ops, reductions, rms_norm, "
                "softmax, concat and transpose; '"
                    << info.name << "' is a kernel-level op only");
  YR_USER_CHECK(
      info.arity < 0 || static_cast<int>(inputs.size()) == info.arity,
      "block " << info.name << " takes " << info.arity << " inputs; got " << inputs.size());
  YR_USER_CHECK(!inputs.empty(), "block " << info.name << " takes at least one input; got none");
  std::vector<TensorType> types;
  bool loop = false, after = false;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const std::string role = "block " + std::string(info.name) + " input " + std::to_string(i);
    check_ref(inputs[i], role.c_str());
    types.push_back(type(inputs[i]));
    loop = loop || phase(inputs[i]) == Phase::Loop;
    after = after || phase(inputs[i]) == Phase::AfterLoop;
  }
  YR_USER_CHECK(!(loop && after), "block " << info.name
                                           << " mixes a per-iteration tile with an accumulated "
                                              "(after-loop) tile; expected operands of one phase: "
                                              "accumulate the loop tile first");
  // Attribute checking and shape inference are the kernel-level ones, applied to tiles.
  KernelGraph scratch;
  std::vector<TensorRef> scratch_inputs;
  for (const auto& tile : types) scratch_inputs.push_back(scratch.input(tile.shape, tile.dtype));
  const auto scratch_outputs = scratch.add_node(op, scratch_inputs, attrs);
  const Node& inferred = scratch.node(scratch_outputs[0].node);
  BlockNode node;
  node.kind = BlockNodeKind::Op;
  node.op = op;
  node.inputs = inputs;
  node.attrs = inferred.attrs;
  node.outputs = inferred.outputs;
  node.phase = after ? Phase::AfterLoop : (loop ? Phase::Loop : Phase::Invariant);
  return append(std::move(node));
}

TensorRef BlockGraph::reduce_to_dimx(TensorRef x, int64_t dim) {
  check_ref(x, "reduce_to_dimx input");
  TensorType tile = type(x);
  const auto rank = static_cast<int64_t>(tile.shape.size());
  YR_USER_CHECK(dim >= -rank && dim < rank,
                "reduce_to_dimx: dim " << dim << " is out of range for " << tile.to_string());
  if (dim < 0) dim += rank;
  YR_USER_CHECK(core::dtype_is_float(tile.dtype),
                "reduce_to_dimx: input " << tile.to_string() << " is not a float tile");
  YR_USER_CHECK(tile.shape[dim] % reduction_dimx_ == 0,
                "reduce_to_dimx: dim " << dim << " of " << tile.to_string() << " has extent "
                                       << tile.shape[dim] << ", which reduction_dimx "
                                       << reduction_dimx_ << " does not divide");
  tile.shape[dim] = reduction_dimx_;
  BlockNode node;
  node.kind = BlockNodeKind::ReduceToDimx;
  node.inputs = {x};
  node.attrs.set("dim", dim);
  node.outputs = {tile};
  node.phase = phase(x);
  return append(std::move(node))[0];
}

TensorRef BlockGraph::accumulate(AccumKind kind, TensorRef x, std::optional<TensorRef> m) {
  const std::string name(accum_name(kind));
  check_ref(x, "forloop_accum input");
  YR_USER_CHECK(phase(x) != Phase::AfterLoop,
                "forloop_accum(" << name
                                 << ") of a tile that is already accumulated; expected a "
                                    "per-iteration or loop-invariant tile");
  YR_USER_CHECK(core::dtype_is_float(type(x).dtype), "forloop_accum(" << name << ") of "
                                                                      << type(x).to_string()
                                                                      << "; expected a float tile");
  BlockNode node;
  node.kind = BlockNodeKind::Accumulate;
  node.accum = kind;
  node.inputs = {x};
  if (accum_operands(kind) == 2) {
    YR_USER_CHECK(m.has_value(), "forloop_accum(" << name
                                                  << ") needs a second operand: the per-iteration "
                                                     "max the tile is relative to");
    check_ref(*m, "forloop_accum rescale operand");
    YR_USER_CHECK(phase(*m) != Phase::AfterLoop,
                  "forloop_accum(" << name << ") rescale operand is already accumulated");
    const auto broadcast_ok = [&] {
      const auto& xs = type(x).shape;
      const auto& ms = type(*m).shape;
      if (ms.size() != xs.size()) return false;
      for (std::size_t i = 0; i < xs.size(); ++i) {
        if (ms[i] != xs[i] && ms[i] != 1) return false;
      }
      return true;
    }();
    YR_USER_CHECK(broadcast_ok, "forloop_accum("
                                    << name << ") rescale operand " << type(*m).to_string()
                                    << " does not broadcast to " << type(x).to_string()
                                    << "; expected the same rank with extents equal or 1");
    node.inputs.push_back(*m);
  } else {
    YR_USER_CHECK(!m.has_value(), "forloop_accum(" << name << ") takes one operand; got two");
  }
  node.outputs = {type(x)};
  node.phase = Phase::AfterLoop;
  return append(std::move(node))[0];
}

void BlockGraph::output(TensorRef tile, DimMap output_map) {
  check_ref(tile, "output");
  YR_USER_CHECK(phase(tile) != Phase::Loop,
                "output of tile %" << tile.node << " (" << type(tile).to_string()
                                   << ") is saved before accumulation; expected an after-loop tile "
                                      "(apply forloop_accum first)");
  const TensorType& tile_type = type(tile);
  check_dim_map("output_map", output_map, tile_type);
  TensorType dtensor = tile_type;
  for (int axis = 0; axis < 3; ++axis) {
    if (output_map[axis] >= 0) {
      dtensor.shape[output_map[axis]] *= grid_dims_[axis];
    } else {
      YR_USER_CHECK(
          grid_dims_[axis] == 1,
          "output_map " << dim_map_to_string(output_map) << " leaves grid axis " << kAxisNames[axis]
                        << " (extent " << grid_dims_[axis]
                        << ") unmapped, so its blocks would overwrite each other; expected "
                           "a dim for every axis of extent > 1");
    }
  }
  outputs_.push_back({tile, output_map, dtensor});
}

void BlockGraph::check_complete() const {
  YR_USER_CHECK(!inputs_.empty(), "the block graph has no inputs; expected at least one new_input");
  YR_USER_CHECK(!outputs_.empty(),
                "the block graph has no outputs; expected at least one new_output");
}

}  // namespace yirage::ir
