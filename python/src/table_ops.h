// Graph methods generated from the op table (ops.def): one per element-wise and reduction op,
// for the kernel graph and the block graph alike. A graph class plugs in through a Traits type:
//
//   using Graph = ...;   // what a bound method receives as self (GraphPtr, BlockPtr)
//   using Tensor = ...;  // its tensor handles (GraphTensor, BlockTensor), checked by ref_in
//   static constexpr bool kKeepdim = ...;  // default of keepdim in reductions
//   static Tensor apply(const Graph&, ir::OpKind, std::vector<ir::TensorRef>, ir::Attrs);
#pragma once

#include <nanobind/nanobind.h>

#include <cstdint>
#include <string>
#include <utility>

#include "handles.h"
#include "yirage/core/error.h"
#include "yirage/ir/op.h"

namespace yirage::python {

/// Binds the element-wise unary op `op` as method `name`: x, plus its float attribute if any.
template <typename Traits, typename Class>
void def_unary_op(Class& cls, ir::OpKind op, const char* name) {
  namespace nb = nanobind;
  using Graph = typename Traits::Graph;
  using Tensor = typename Traits::Tensor;
  const ir::OpInfo& info = ir::op_info(op);
  if (info.attributes.empty()) {
    const std::string doc = std::string("Element-wise ") + name + ".";
    cls.def(
        name,
        [op](const Graph& self, const Tensor& x) {
          return Traits::apply(self, op, {ref_in(self, x, ir::op_name(op), "x")}, {});
        },
        nb::arg("x"), doc.c_str());
    return;
  }
  YR_INTERNAL_CHECK(info.attributes.size() == 1 && info.attributes[0].type == ir::AttrType::Float,
                    "unary op " << name << " has attributes other than one float");
  const std::string& scalar = info.attributes[0].name;
  const std::string doc =
      std::string("Element-wise ") + name + " with the constant `" + scalar + "`.";
  cls.def(
      name,
      [op, scalar](const Graph& self, const Tensor& x, double value) {
        ir::Attrs attrs;
        attrs.set(scalar, value);
        return Traits::apply(self, op, {ref_in(self, x, ir::op_name(op), "x")}, std::move(attrs));
      },
      nb::arg("x"), nb::arg(scalar.c_str()), doc.c_str());
}

/// Binds the element-wise binary op `op` as method `name`(a, b).
template <typename Traits, typename Class>
void def_binary_op(Class& cls, ir::OpKind op, const char* name) {
  namespace nb = nanobind;
  using Graph = typename Traits::Graph;
  using Tensor = typename Traits::Tensor;
  const std::string doc = std::string("Element-wise ") + name + " with NumPy broadcasting.";
  cls.def(
      name,
      [op](const Graph& self, const Tensor& a, const Tensor& b) {
        const auto op_name = ir::op_name(op);
        return Traits::apply(self, op,
                             {ref_in(self, a, op_name, "a"), ref_in(self, b, op_name, "b")}, {});
      },
      nb::arg("a"), nb::arg("b"), doc.c_str());
}

/// Binds the reduction `op` as method `name`(x, dim, keepdim).
template <typename Traits, typename Class>
void def_reduce_op(Class& cls, ir::OpKind op, const char* name) {
  namespace nb = nanobind;
  using Graph = typename Traits::Graph;
  using Tensor = typename Traits::Tensor;
  const std::string doc = std::string(name) +
                          " over dimension dim, which is dropped unless keepdim (then it stays "
                          "with extent 1).";
  cls.def(
      name,
      [op](const Graph& self, const Tensor& x, int64_t dim, bool keepdim) {
        ir::Attrs attrs;
        attrs.set("dim", dim).set("keepdim", keepdim);
        return Traits::apply(self, op, {ref_in(self, x, ir::op_name(op), "x")}, std::move(attrs));
      },
      nb::arg("x"), nb::arg("dim"), nb::arg("keepdim") = Traits::kKeepdim, doc.c_str());
}

/// Binds one method per element-wise and reduction op of ops.def.
template <typename Traits, typename Class>
void def_table_ops(Class& cls) {
#define YR_DEF_UNARY(id, name, spec, expr) def_unary_op<Traits>(cls, ir::OpKind::id, name);
#define YR_DEF_BINARY(id, name, expr) def_binary_op<Traits>(cls, ir::OpKind::id, name);
#define YR_DEF_REDUCE(id, name, init, step, finish) \
  def_reduce_op<Traits>(cls, ir::OpKind::id, name);
  YIRAGE_UNARY_OPS(YR_DEF_UNARY)
  YIRAGE_BINARY_OPS(YR_DEF_BINARY)
  YIRAGE_REDUCE_OPS(YR_DEF_REDUCE)
#undef YR_DEF_UNARY
#undef YR_DEF_BINARY
#undef YR_DEF_REDUCE
}

}  // namespace yirage::python
