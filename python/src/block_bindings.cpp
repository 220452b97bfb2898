// Python bindings of block graphs (uGraphs), under Mirage's names: new_threadblock_graph, the
// block graph with new_input / new_output / forloop_accum, and its tiles (STensor). Element-wise
// and reduction methods are generated from ops.def (table_ops.h) as for the kernel graph; the
// structural ops a block may apply are bound by hand.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bindings.h"
#include "handles.h"
#include "table_ops.h"
#include "yirage/core/error.h"
#include "yirage/ir/block_graph.h"

namespace yirage::python {

ir::TensorRef ref_in(const BlockPtr& graph, const BlockTensor& tile, std::string_view op,
                     std::string_view role) {
  YR_USER_CHECK(tile.graph.get() == graph.get(),
                op << ": " << role << " (" << tile.type().to_string()
                   << ") belongs to another block graph; expected a tile created by this graph");
  return tile.ref;
}

namespace {

using namespace nb::literals;
using BlockClass = nb::class_<ir::BlockGraph>;

BlockTensor wrap(const BlockPtr& graph, ir::TensorRef ref) {
  return {graph, ref};
}

// How the methods generated from the op table (table_ops.h) build block-graph nodes.
struct BlockOps {
  using Graph = BlockPtr;
  using Tensor = BlockTensor;
  static constexpr bool kKeepdim = true;  // tiles keep their rank, as in Mirage
  static Tensor apply(const Graph& self, ir::OpKind op, const std::vector<ir::TensorRef>& inputs,
                      ir::Attrs attrs) {
    return wrap(self, self->add_op(op, inputs, std::move(attrs))[0]);
  }
};

// Grid or block extents given as 1 to 3 numbers (x[, y[, z]]); missing axes are 1.
ir::Dim3 dim3_argument(const std::vector<int64_t>& values, const char* what) {
  YR_USER_CHECK(!values.empty() && values.size() <= 3,
                what << " has " << values.size() << " extents; expected 1 to 3 (x, y, z)");
  ir::Dim3 dims = {1, 1, 1};
  for (std::size_t axis = 0; axis < values.size(); ++axis) dims[axis] = values[axis];
  return dims;
}

// A dim index as the block-graph builder takes it (an int); values that do not fit an int are
// out of range for every tensor, so they are refused here rather than narrowed.
int dim_argument(int64_t value, const char* what) {
  YR_USER_CHECK(value >= -1 && value <= std::numeric_limits<int>::max(),
                what << " " << value << " is out of range; expected -1 or a dim of the tensor");
  return static_cast<int>(value);
}

// A grid-axis -> dim map given as 1 to 3 entries (x[, y[, z]]); missing axes are -1.
ir::DimMap map_argument(const std::vector<int64_t>& values, const char* what) {
  YR_USER_CHECK(!values.empty() && values.size() <= 3,
                what << " has " << values.size()
                     << " entries; expected 1 to 3 (a dim or -1 per grid axis x, y, z)");
  ir::DimMap map = {-1, -1, -1};
  for (std::size_t axis = 0; axis < values.size(); ++axis) {
    map[axis] = dim_argument(values[axis], what);
  }
  return map;
}

nb::tuple tuple_of(const ir::Dim3& dims) {
  return nb::make_tuple(dims[0], dims[1], dims[2]);
}

nb::tuple tuple_of(const ir::DimMap& map) {
  return nb::make_tuple(map[0], map[1], map[2]);
}

const char* phase_name(ir::Phase phase) {
  switch (phase) {
    case ir::Phase::Invariant:
      return "invariant";
    case ir::Phase::Loop:
      return "loop";
    case ir::Phase::AfterLoop:
      return "after_loop";
  }
  YR_INTERNAL_ERROR("unhandled phase");
}

std::string tile_repr(const BlockTensor& self) {
  return "STensor(" + self.type().to_string() +
         ", phase=" + phase_name(self.graph->phase(self.ref)) +
         ", node=" + std::to_string(self.ref.node) + ")";
}

std::string block_repr(const ir::BlockGraph& self) {
  const auto grid = self.grid_dims();
  return "<BlockGraph: grid (" + std::to_string(grid[0]) + ", " + std::to_string(grid[1]) + ", " +
         std::to_string(grid[2]) + "), forloop_range " + std::to_string(self.forloop_range()) +
         ", " + std::to_string(self.inputs().size()) + " inputs, " +
         std::to_string(self.outputs().size()) + " outputs, " +
         std::to_string(self.nodes().size()) + " nodes>";
}

ir::BlockGraph make_block_graph(const std::vector<int64_t>& grid_dim,
                                const std::vector<int64_t>& block_dim, int64_t forloop_range,
                                int64_t reduction_dimx) {
  return ir::BlockGraph(dim3_argument(grid_dim, "grid_dim"), dim3_argument(block_dim, "block_dim"),
                        forloop_range, reduction_dimx);
}

void bind_tile(nb::module_& m) {
  nb::class_<BlockTensor>(m, "STensor",
                          "A tile of a block graph, as one block sees it (a handle; holds no "
                          "data).")
      .def_prop_ro(
          "dims", [](const BlockTensor& self) { return nb::tuple(nb::cast(self.type().shape)); },
          "Tile extents, outermost first.")
      .def_prop_ro(
          "dtype", [](const BlockTensor& self) { return self.type().dtype; }, "Element type.")
      .def_prop_ro(
          "num_dims", [](const BlockTensor& self) { return self.type().shape.size(); },
          "Number of dimensions.")
      .def_prop_ro(
          "phase",
          [](const BlockTensor& self) {
            return std::string(phase_name(self.graph->phase(self.ref)));
          },
          "When the tile exists: 'loop' (one value per for-loop iteration), 'after_loop' (once, "
          "after an accumulator) or 'invariant' (the same in every iteration).")
      .def_prop_ro(
          "node", [](const BlockTensor& self) { return self.ref.node; },
          "Index of the block-graph node that produces this tile.")
      .def("__eq__",
           [](const BlockTensor& self, const BlockTensor& other) {
             return self.graph.get() == other.graph.get() && self.ref == other.ref;
           })
      .def("__hash__",
           [](const BlockTensor& self) {
             return std::hash<const void*>()(self.graph.get()) ^
                    (static_cast<std::size_t>(self.ref.node) << 8) ^
                    static_cast<std::size_t>(self.ref.output);
           })
      .def("__repr__", &tile_repr);
}

void def_structure(BlockClass& cls) {
  cls.def(
      "__init__",
      [](ir::BlockGraph* self, const std::vector<int64_t>& grid_dim,
         const std::vector<int64_t>& block_dim, int64_t forloop_range, int64_t reduction_dimx) {
        new (self)
            ir::BlockGraph(make_block_graph(grid_dim, block_dim, forloop_range, reduction_dimx));
      },
      "grid_dim"_a, "block_dim"_a = std::vector<int64_t>{128, 1, 1}, "forloop_range"_a = 1,
      "reduction_dimx"_a = 64, "Same as yr.new_threadblock_graph.");
  cls.def(
      "new_input",
      [](const BlockPtr& self, const GraphTensor& dtensor, const std::vector<int64_t>& input_map,
         int64_t forloop_dim) {
        return wrap(self, self->input(dtensor.type(), map_argument(input_map, "input_map"),
                                      dim_argument(forloop_dim, "forloop_dim")));
      },
      "dtensor"_a, "input_map"_a, "forloop_dim"_a,
      "new_input(dtensor, input_map, forloop_dim) -> STensor: the next block input, reading the "
      "kernel-graph tensor `dtensor` (the k-th call reads customized's k-th input). "
      "input_map[a] is the dim that grid axis a splits evenly over its blocks, or -1 to give "
      "every block the whole extent; forloop_dim is the dim the for-loop walks in forloop_range "
      "equal parts, or -1 for the same tile every iteration.");
  cls.def(
      "new_output",
      [](const BlockPtr& self, const BlockTensor& stensor, const std::vector<int64_t>& output_map) {
        self->output(ref_in(self, stensor, "new_output", "stensor"),
                     map_argument(output_map, "output_map"));
      },
      "stensor"_a, "output_map"_a,
      "Writes an after-loop (or loop-invariant) tile to the next output of the kernel; "
      "output_map[a] is the dim along which the blocks of grid axis a lay their tiles, or -1 "
      "(only for axes of extent 1).");
  cls.def(
      "forloop_accum",
      [](const BlockPtr& self, const BlockTensor& x, std::optional<std::string> acc,
         std::optional<BlockTensor> rescale) {
        const ir::AccumKind kind = acc ? ir::parse_accum(*acc) : ir::AccumKind::Sum;
        std::optional<ir::TensorRef> m;
        if (rescale) m = ref_in(self, *rescale, "forloop_accum", "rescale");
        return wrap(self, self->accumulate(kind, ref_in(self, x, "forloop_accum", "x"), m));
      },
      "x"_a, "acc"_a = "sum", "rescale"_a = nb::none(),
      "Combines the tile over all for-loop iterations; the result is an after-loop tile. acc is "
      "'sum' (also None, Mirage's no-reduction accumulator), 'mean', 'rms', 'max' or "
      "'rescaled_sum', which takes rescale, the per-iteration max the tile is relative to.");
  cls.def(
      "forloop_accum_rescale",
      [](const BlockPtr& self, const BlockTensor& x, const BlockTensor& rescale) {
        return wrap(self,
                    self->accumulate(ir::AccumKind::RescaledSum,
                                     ref_in(self, x, "forloop_accum_rescale", "x"),
                                     ref_in(self, rescale, "forloop_accum_rescale", "rescale")));
      },
      "x"_a, "rescale"_a,
      "sum_i x_i * exp(m_i - M) over the for-loop, M = max_i m_i, for rescale = m: the rescaled "
      "sum of an online softmax.");
  cls.def(
      "forloop_accum_max",
      [](const BlockPtr& self, const BlockTensor& x) {
        return wrap(
            self, self->accumulate(ir::AccumKind::Max, ref_in(self, x, "forloop_accum_max", "x")));
      },
      "x"_a, "Element-wise max of the tile over the for-loop.");
  cls.def_prop_ro(
      "grid_dim", [](const ir::BlockGraph& self) { return tuple_of(self.grid_dims()); },
      "Blocks along x, y, z.");
  cls.def_prop_ro(
      "block_dim", [](const ir::BlockGraph& self) { return tuple_of(self.block_dims()); },
      "Threads per block along x, y, z (a hint for GPU backends).");
  cls.def_prop_ro("forloop_range", &ir::BlockGraph::forloop_range, "Iterations of the for-loop.");
  cls.def_prop_ro("reduction_dimx", &ir::BlockGraph::reduction_dimx,
                  "Extent reduction_to_dimx reduces a dim to.");
  cls.def_prop_ro(
      "num_inputs", [](const ir::BlockGraph& self) { return self.inputs().size(); },
      "Number of block inputs.");
  cls.def_prop_ro(
      "num_outputs", [](const ir::BlockGraph& self) { return self.outputs().size(); },
      "Number of block outputs.");
  cls.def_prop_ro(
      "num_nodes", [](const ir::BlockGraph& self) { return self.nodes().size(); },
      "Number of block-graph nodes, inputs included.");
  cls.def_prop_ro(
      "input_maps",
      [](const ir::BlockGraph& self) {
        nb::list maps;
        for (const auto& input : self.inputs()) {
          maps.append(nb::make_tuple(tuple_of(input.input_map), input.forloop_dim));
        }
        return maps;
      },
      "(input_map, forloop_dim) of each input, in order.");
  cls.def_prop_ro(
      "input_types",
      [](const ir::BlockGraph& self) {
        std::vector<ir::TensorType> types;
        for (const auto& input : self.inputs()) types.push_back(input.dtensor);
        return types;
      },
      "Kernel-level types the inputs read, in order.");
  cls.def_prop_ro(
      "output_types",
      [](const ir::BlockGraph& self) {
        std::vector<ir::TensorType> types;
        for (const auto& output : self.outputs()) types.push_back(output.dtensor);
        return types;
      },
      "Kernel-level types of the outputs, in order.");
  cls.def("__repr__", &block_repr);
}

// The structural ops a block may apply, and Mirage's reduction names.
void def_structural_ops(BlockClass& cls) {
  const auto apply = [](const BlockPtr& self, ir::OpKind op, std::vector<ir::TensorRef> inputs,
                        ir::Attrs attrs = {}) {
    return wrap(self, self->add_op(op, inputs, std::move(attrs))[0]);
  };
  const auto keepdim_reduce = [apply](const BlockPtr& self, ir::OpKind op, const BlockTensor& x,
                                      int64_t dim, const char* name) {
    ir::Attrs attrs;
    attrs.set("dim", dim).set("keepdim", true);
    return apply(self, op, {ref_in(self, x, name, "x")}, std::move(attrs));
  };
  cls.def(
      "matmul",
      [apply](const BlockPtr& self, const BlockTensor& a, const BlockTensor& b) {
        return apply(self, ir::OpKind::Matmul,
                     {ref_in(self, a, "matmul", "a"), ref_in(self, b, "matmul", "b")});
      },
      "a"_a, "b"_a, "Tile matmul a[..., M, K] @ b[..., K, N].");
  cls.def(
      "rms_norm",
      [apply](const BlockPtr& self, const BlockTensor& x, const BlockTensor& weight, double eps) {
        ir::Attrs attrs;
        attrs.set("eps", eps);
        return apply(self, ir::OpKind::RmsNorm,
                     {ref_in(self, x, "rms_norm", "x"), ref_in(self, weight, "rms_norm", "weight")},
                     std::move(attrs));
      },
      "x"_a, "weight"_a, "eps"_a = 1e-6,
      "RMSNorm of the tile over its last dim: x / sqrt(mean(x^2) + eps) * weight.");
  cls.def(
      "softmax",
      [apply](const BlockPtr& self, const BlockTensor& x, int64_t dim) {
        ir::Attrs attrs;
        attrs.set("dim", dim);
        return apply(self, ir::OpKind::Softmax, {ref_in(self, x, "softmax", "x")},
                     std::move(attrs));
      },
      "x"_a, "dim"_a = -1, "Softmax of the tile over dimension dim.");
  cls.def(
      "concat",
      [apply](const BlockPtr& self, const std::vector<BlockTensor>& tensors, int64_t dim) {
        ir::Attrs attrs;
        attrs.set("dim", dim);
        return apply(self, ir::OpKind::Concat, refs_in(self, tensors, "concat"), std::move(attrs));
      },
      "tensors"_a, "dim"_a, "Concatenation of tiles along dim.");
  cls.def(
      "transpose",
      [apply](const BlockPtr& self, const BlockTensor& x, int64_t dim0, int64_t dim1) {
        ir::Attrs attrs;
        attrs.set("dim0", dim0).set("dim1", dim1);
        return apply(self, ir::OpKind::Transpose, {ref_in(self, x, "transpose", "x")},
                     std::move(attrs));
      },
      "x"_a, "dim0"_a, "dim1"_a, "Swaps two dims of the tile.");
  cls.def(
      "reduction",
      [keepdim_reduce](const BlockPtr& self, const BlockTensor& x, int64_t dim) {
        return keepdim_reduce(self, ir::OpKind::Sum, x, dim, "reduction");
      },
      "x"_a, "dim"_a, "reduction(x, dim) -> STensor: Mirage's name for sum(x, dim, keepdim=True).");
  cls.def(
      "reduction_max",
      [keepdim_reduce](const BlockPtr& self, const BlockTensor& x, int64_t dim) {
        return keepdim_reduce(self, ir::OpKind::Max, x, dim, "reduction_max");
      },
      "x"_a, "dim"_a, "max(x, dim, keepdim=True).");
  cls.def(
      "reduction_to_dimx",
      [](const BlockPtr& self, const BlockTensor& x, int64_t dim) {
        return wrap(self, self->reduce_to_dimx(ref_in(self, x, "reduction_to_dimx", "x"), dim));
      },
      "x"_a, "dim"_a,
      "Sums groups of consecutive entries of dim so that reduction_dimx entries remain.");
}

}  // namespace

void bind_block(nb::module_& m) {
  bind_tile(m);
  BlockClass cls(m, "BlockGraph",
                 "A block graph (uGraph): one fused kernel as a grid of blocks, each running a "
                 "for-loop over tiles of its inputs. Tile shapes are inferred, and checked, at "
                 "each call; embed it in a kernel graph with KernelGraph.customized.");
  def_structure(cls);
  def_table_ops<BlockOps>(cls);
  def_structural_ops(cls);
  m.def("new_threadblock_graph", &make_block_graph, "grid_dim"_a,
        "block_dim"_a = std::vector<int64_t>{128, 1, 1}, "forloop_range"_a = 1,
        "reduction_dimx"_a = 64,
        "new_threadblock_graph(grid_dim, block_dim=(128, 1, 1), forloop_range=1, "
        "reduction_dimx=64) -> BlockGraph: an empty block graph running grid_dim blocks (1 to 3 "
        "extents), each with a for-loop of forloop_range iterations.");
}

}  // namespace yirage::python
