// Python bindings of ir/: the kernel graph, its tensors, the op table, and one graph method per
// op. Element-wise and reduction methods are generated from the lists of ops.def (table_ops.h);
// structural ops, whose arguments differ from op to op, are bound by hand, and customized embeds
// a block graph (block_bindings.cpp) as one fused kernel.
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/string_view.h>
#include <nanobind/stl/vector.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bindings.h"
#include "handles.h"
#include "table_ops.h"
#include "yirage/core/error.h"
#include "yirage/ir/block_graph.h"
#include "yirage/ir/fingerprint.h"
#include "yirage/ir/kernel_graph.h"
#include "yirage/ir/printer.h"
#include "yirage/ir/serialize.h"

namespace yirage::python {

ir::TensorRef ref_in(const GraphPtr& graph, const GraphTensor& tensor, std::string_view op,
                     std::string_view role) {
  YR_USER_CHECK(tensor.graph.get() == graph.get(),
                op << ": " << role << " (" << tensor.type().to_string()
                   << ") belongs to another kernel graph; expected a tensor created by this graph");
  return tensor.ref;
}

namespace {

using namespace nb::literals;
using GraphClass = nb::class_<ir::KernelGraph>;

GraphTensor wrap(const GraphPtr& graph, ir::TensorRef ref) {
  return {graph, ref};
}

std::vector<GraphTensor> wrap_all(const GraphPtr& graph, const std::vector<ir::TensorRef>& refs) {
  std::vector<GraphTensor> tensors;
  for (const auto& ref : refs) tensors.push_back({graph, ref});
  return tensors;
}

// How the methods generated from the op table (table_ops.h) build kernel-graph nodes.
struct KernelOps {
  using Graph = GraphPtr;
  using Tensor = GraphTensor;
  static constexpr bool kKeepdim = false;
  static Tensor apply(const Graph& self, ir::OpKind op, const std::vector<ir::TensorRef>& inputs,
                      ir::Attrs attrs) {
    return wrap(self, self->add_node(op, inputs, std::move(attrs))[0]);
  }
};

nb::tuple shape_tuple(const core::Shape& shape) {
  return nb::tuple(nb::cast(shape));
}

// A dtype argument: yr.float32 and friends, a name such as "bfloat16", or anything numpy.dtype
// accepts (np.float32, ml_dtypes.bfloat16).
core::DType dtype_argument(nb::handle value) {
  core::DType dtype;
  if (nb::try_cast(value, dtype)) return dtype;
  if (nb::isinstance<nb::str>(value)) return core::parse_dtype(nb::cast<std::string>(value));
  std::string name;
  try {
    name = nb::cast<std::string>(nb::module_::import_("numpy").attr("dtype")(value).attr("name"));
  } catch (const nb::python_error&) {
    YR_USER_ERROR("dtype " << nb::cast<std::string>(nb::repr(value))
                           << " is not a dtype; expected yr.float32, yr.float16, yr.bfloat16, "
                              "yr.int32, yr.int64 or one of their names");
  }
  return core::parse_dtype(name);
}

std::string tensor_repr(const GraphTensor& self) {
  return "DTensor(" + self.type().to_string() + ", node=" + std::to_string(self.ref.node) +
         ", output=" + std::to_string(self.ref.output) + ")";
}

void bind_types(nb::module_& m) {
  nb::class_<ir::TensorType>(m, "TensorType", "Shape and dtype of a tensor in a graph.")
      .def_prop_ro(
          "dims", [](const ir::TensorType& self) { return shape_tuple(self.shape); },
          "Extents, outermost first.")
      .def_ro("dtype", &ir::TensorType::dtype, "Element type.")
      .def("__eq__",
           [](const ir::TensorType& self, const ir::TensorType& other) { return self == other; })
      .def("__repr__", &ir::TensorType::to_string);

  nb::class_<GraphTensor>(m, "DTensor", "A tensor of a kernel graph (a handle; holds no data).")
      .def_prop_ro(
          "dims", [](const GraphTensor& self) { return shape_tuple(self.type().shape); },
          "Extents, outermost first.")
      .def_prop_ro(
          "dtype", [](const GraphTensor& self) { return self.type().dtype; }, "Element type.")
      .def_prop_ro(
          "num_dims", [](const GraphTensor& self) { return self.type().shape.size(); },
          "Number of dimensions.")
      .def(
          "dim",
          [](const GraphTensor& self, int64_t dim) {
            const auto& shape = self.type().shape;
            const auto rank = static_cast<int64_t>(shape.size());
            YR_USER_CHECK(dim >= -rank && dim < rank,
                          "dim " << dim << " is out of range for " << self.type().to_string()
                                 << "; expected -" << rank << " <= dim < " << rank);
            return shape[dim < 0 ? dim + rank : dim];
          },
          "i"_a, "Extent of dimension i (negative counts from the end).")
      .def_prop_ro(
          "node", [](const GraphTensor& self) { return self.ref.node; },
          "Index of the node that produces this tensor.")
      .def_prop_ro(
          "output", [](const GraphTensor& self) { return self.ref.output; },
          "Which output of that node this tensor is.")
      .def("__eq__",
           [](const GraphTensor& self, const GraphTensor& other) {
             return self.graph.get() == other.graph.get() && self.ref == other.ref;
           })
      .def("__hash__",
           [](const GraphTensor& self) {
             return std::hash<const void*>()(self.graph.get()) ^
                    (static_cast<std::size_t>(self.ref.node) << 8) ^
                    static_cast<std::size_t>(self.ref.output);
           })
      .def("__repr__", &tensor_repr);
}

void bind_op_table(nb::module_& m) {
  nb::class_<ir::OpInfo>(m, "OpInfo", "Static description of an op, from the op table.")
      .def_prop_ro(
          "name", [](const ir::OpInfo& self) { return std::string(self.name); },
          "Name, e.g. 'rms_norm'.")
      .def_prop_ro(
          "category",
          [](const ir::OpInfo& self) -> std::string {
            switch (self.category) {
              case ir::OpCategory::Structural:
                return "structural";
              case ir::OpCategory::Unary:
                return "unary";
              case ir::OpCategory::Binary:
                return "binary";
              case ir::OpCategory::Reduce:
                return "reduce";
            }
            YR_INTERNAL_ERROR("unhandled op category");
          },
          "'structural', 'unary', 'binary' or 'reduce'.")
      .def_ro("arity", &ir::OpInfo::arity, "Number of inputs; -1 for variadic.")
      .def_ro("num_outputs", &ir::OpInfo::num_outputs,
              "Number of outputs; -1 when set by attributes.")
      .def_prop_ro(
          "attributes",
          [](const ir::OpInfo& self) {
            nb::list specs;
            for (const auto& spec : self.attributes) {
              specs.append(nb::make_tuple(spec.name, std::string(ir::attr_type_name(spec.type))));
            }
            return specs;
          },
          "Declared attributes as (name, type) pairs.")
      .def("__repr__",
           [](const ir::OpInfo& self) { return "OpInfo('" + std::string(self.name) + "')"; });

  m.def(
      "op_names",
      [] {
        std::vector<std::string> names;
        for (int i = 0; i < ir::num_ops(); ++i) {
          names.emplace_back(ir::op_name(static_cast<ir::OpKind>(i)));
        }
        return names;
      },
      "Names of every op in the op table, in table order.");
  m.def(
      "op_info",
      [](const std::string& name) -> const ir::OpInfo& {
        const auto kind = ir::op_from_name(name);
        YR_USER_CHECK(kind.has_value(), "unknown op '" << name << "'; see yr.op_names()");
        return ir::op_info(*kind);
      },
      "name"_a, nb::rv_policy::reference, "The op table entry of the op called `name`.");
}

// The structural ops (all but input and customized, which have no builder method).
void def_structural_ops(GraphClass& cls) {
  cls.def(
      "matmul",
      [](const GraphPtr& self, const GraphTensor& a, const GraphTensor& b) {
        return wrap(self,
                    self->matmul(ref_in(self, a, "matmul", "a"), ref_in(self, b, "matmul", "b")));
      },
      "a"_a, "b"_a, "Batched a[..., M, K] @ b[..., K, N]; batch dims broadcast.");
  cls.def(
      "rms_norm",
      [](const GraphPtr& self, const GraphTensor& x, const GraphTensor& weight, double eps) {
        return wrap(self, self->rms_norm(ref_in(self, x, "rms_norm", "x"),
                                         ref_in(self, weight, "rms_norm", "weight"), eps));
      },
      "x"_a, "weight"_a, "eps"_a = 1e-6, "RMSNorm: x / sqrt(mean(x^2, last dim) + eps) * weight.");
  cls.def(
      "softmax",
      [](const GraphPtr& self, const GraphTensor& x, int64_t dim) {
        return wrap(self, self->softmax(ref_in(self, x, "softmax", "x"), dim));
      },
      "x"_a, "dim"_a = -1, "Softmax over dimension dim.");
  cls.def(
      "concat",
      [](const GraphPtr& self, const std::vector<GraphTensor>& tensors, int64_t dim) {
        return wrap(self, self->concat(refs_in(self, tensors, "concat"), dim));
      },
      "tensors"_a, "dim"_a, "Concatenation along dim.");
  cls.def(
      "split",
      [](const GraphPtr& self, const GraphTensor& x, const std::vector<int64_t>& sizes,
         int64_t dim) {
        return wrap_all(self, self->split(ref_in(self, x, "split", "x"), sizes, dim));
      },
      "x"_a, "sizes"_a, "dim"_a, "Consecutive pieces of dimension dim with the given sizes.");
  cls.def(
      "chunk",
      [](const GraphPtr& self, const GraphTensor& x, int64_t chunks, int64_t dim) {
        return wrap_all(self, self->chunk(ref_in(self, x, "chunk", "x"), chunks, dim));
      },
      "x"_a, "chunks"_a, "dim"_a, "Dimension dim split into `chunks` equal pieces.");
  cls.def(
      "reshape",
      [](const GraphPtr& self, const GraphTensor& x, const core::Shape& shape) {
        return wrap(self, self->reshape(ref_in(self, x, "reshape", "x"), shape));
      },
      "x"_a, "shape"_a, "Same elements, new shape (one extent may be -1).");
  cls.def(
      "transpose",
      [](const GraphPtr& self, const GraphTensor& x, int64_t dim0, int64_t dim1) {
        return wrap(self, self->transpose(ref_in(self, x, "transpose", "x"), dim0, dim1));
      },
      "x"_a, "dim0"_a, "dim1"_a, "Swaps two dimensions.");
  cls.def(
      "embedding",
      [](const GraphPtr& self, const GraphTensor& ids, const GraphTensor& table) {
        return wrap(self, self->embedding(ref_in(self, ids, "embedding", "ids"),
                                          ref_in(self, table, "embedding", "table")));
      },
      "ids"_a, "table"_a, "Rows of table [V, D] picked by integer ids.");
  cls.def(
      "rope",
      [](const GraphPtr& self, const GraphTensor& x, const GraphTensor& positions, double theta) {
        return wrap(self, self->rope(ref_in(self, x, "rope", "x"),
                                     ref_in(self, positions, "rope", "positions"), theta));
      },
      "x"_a, "positions"_a, "theta"_a = 10000.0,
      "Rotary embedding over the last dim, "
      "NeoX/Hugging Face layout; positions cover the leading dims of x.");
  cls.def(
      "reduction",
      [](const GraphPtr& self, const GraphTensor& x, int64_t dim) {
        return wrap(self, self->reduce(ir::OpKind::Sum, ref_in(self, x, "reduction", "x"), dim,
                                       /*keepdim=*/true));
      },
      "x"_a, "dim"_a, "reduction(x, dim) -> DTensor: Mirage's name for sum(x, dim, keepdim=True).");
  cls.def(
      "customized",
      [](const GraphPtr& self, const std::vector<GraphTensor>& inputs,
         const ir::BlockGraph& bgraph) {
        // The node keeps its own copy: later changes to `bgraph` cannot alter this graph, and the
        // copy lives as long as the graph does.
        auto kernel = std::make_shared<const ir::BlockGraph>(bgraph);
        return wrap_all(self, self->customized(refs_in(self, inputs, "customized"), kernel));
      },
      "inputs"_a, "bgraph"_a,
      "customized(inputs, bgraph) -> list[DTensor]: one fused kernel running the block graph "
      "`bgraph` on `inputs` (one per bgraph.new_input, in that order, of the declared types); "
      "returns one tensor per bgraph.new_output. The graph keeps a copy of bgraph as it is now.");
}

void def_graph_structure(GraphClass& cls) {
  cls.def(nb::init<>(), "An empty kernel graph.");
  cls.def(
      "new_input",
      [](const GraphPtr& self, const core::Shape& dims, nb::handle dtype) {
        return wrap(self, self->input(dims, dtype_argument(dtype)));
      },
      "dims"_a, "dtype"_a = core::DType::F16,
      "The next graph input. dtype is yr.float32, "
      "yr.float16, yr.bfloat16, yr.int32, yr.int64, a name or a NumPy dtype.");
  cls.def(
      "mark_output",
      [](const GraphPtr& self, const GraphTensor& tensor) {
        self->mark_output(ref_in(self, tensor, "mark_output", "tensor"));
      },
      "tensor"_a, "Marks a tensor as the next graph output.");
  cls.def_prop_ro(
      "num_inputs", [](const ir::KernelGraph& self) { return self.input_nodes().size(); },
      "Number of graph inputs.");
  cls.def_prop_ro(
      "num_outputs", [](const ir::KernelGraph& self) { return self.outputs().size(); },
      "Number of marked outputs.");
  cls.def_prop_ro(
      "num_nodes", [](const ir::KernelGraph& self) { return self.nodes().size(); },
      "Number of nodes, inputs included.");
  cls.def_prop_ro(
      "inputs",
      [](const GraphPtr& self) {
        std::vector<GraphTensor> tensors;
        for (int32_t node : self->input_nodes()) tensors.push_back({self, {node, 0}});
        return tensors;
      },
      "The input tensors, in the order the graph takes them.");
  cls.def_prop_ro(
      "outputs", [](const GraphPtr& self) { return wrap_all(self, self->outputs()); },
      "The output tensors, in marked order.");
  cls.def_prop_ro("input_types", &ir::KernelGraph::input_types,
                  "Shapes and dtypes of the inputs, in order.");
  cls.def_prop_ro("output_types", &ir::KernelGraph::output_types,
                  "Shapes and dtypes of the outputs, in order.");
  cls.def(
      "to_json",
      [](const ir::KernelGraph& self, int indent) { return ir::graph_to_json(self, indent); },
      "indent"_a = 2, "Versioned JSON text; yr.graph_from_json gives back an equal graph.");
  cls.def(
      "_load_json",
      [](ir::KernelGraph& self, std::string_view text) {
        YR_USER_CHECK(self.nodes().empty(), "_load_json fills an empty graph; this one already has "
                                                << self.nodes().size() << " nodes");
        self = ir::graph_from_json(text);
      },
      "text"_a, "Fills this empty graph from JSON text (used by yr.graph_from_json).");
  cls.def("to_dot", &ir::graph_to_dot, "Graphviz DOT text of the graph.");
  cls.def("fingerprint", &ir::graph_fingerprint_hex,
          "Structural hash as 16 hex digits; equal graphs hash equal whatever their build "
          "order.");
  cls.def("__str__", &ir::graph_to_text);
  cls.def("__repr__", [](const ir::KernelGraph& self) {
    return "<KernelGraph: " + std::to_string(self.input_nodes().size()) + " inputs, " +
           std::to_string(self.outputs().size()) + " outputs, " +
           std::to_string(self.nodes().size()) + " nodes>";
  });
}

}  // namespace

void bind_ir(nb::module_& m) {
  bind_types(m);
  bind_op_table(m);
  GraphClass cls(m, "KernelGraph",
                 "A kernel graph: inputs, operators over them, and marked outputs. Shapes and "
                 "dtypes are inferred, and checked, at each call.");
  def_graph_structure(cls);
  def_table_ops<KernelOps>(cls);
  def_structural_ops(cls);
}

}  // namespace yirage::python
