// The pieces of the yirage._core extension: one bind function per C++ area, and the conversions
// between yirage tensors and the arrays Python passes in and gets back.
#pragma once

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <cstddef>
#include <optional>

#include "yirage/core/dtype.h"
#include "yirage/core/tensor.h"

namespace yirage::python {

namespace nb = nanobind;

/// Any array a DLPack producer or NumPy hands over: any dtype, strides and device, read-only.
using InputArray = nb::ndarray<nb::ro>;

/// How tensors leave C++: NumPy arrays, or DLPack-exporting objects for other frameworks.
enum class ArrayKind {
  Numpy,  ///< numpy.ndarray views; bfloat16 goes out as its uint16 bits
  DLPack  ///< objects with __dlpack__/__dlpack_device__, every dtype in its own DLPack code
};

/// Registers dtypes, error types, CPU features and the version (core_bindings.cpp).
void bind_core(nb::module_& m);
/// Registers the kernel graph, its tensors and one method per op (ir_bindings.cpp).
void bind_ir(nb::module_& m);
/// Registers block graphs (uGraphs), their tiles and new_threadblock_graph (block_bindings.cpp).
void bind_block(nb::module_& m);
/// Registers the backend listing and graph execution (backend_bindings.cpp).
void bind_backend(nb::module_& m);
/// Registers the equivalence verifier and its result (verify_bindings.cpp).
void bind_verify(nb::module_& m);
/// Registers the superoptimizer, its progress and the kernel listing (search_bindings.cpp).
void bind_search(nb::module_& m);
/// Registers make_demo_model (llm_weights_bindings.cpp).
void bind_llm_weights(nb::module_& m);

/// Wraps `array` as a borrowed tensor that keeps the array alive, without copying. `declared`
/// reinterprets the elements (only uint16 bits as bfloat16 or float16); `index` names the input
/// in error messages. UserError for dtypes and devices yirage cannot read.
core::Tensor tensor_from_array(const InputArray& array, std::optional<core::DType> declared,
                               std::size_t index);
/// Hands `tensor` to Python as an array of `kind` viewing the same memory; the array keeps the
/// tensor's storage alive.
nb::object tensor_to_array(core::Tensor tensor, ArrayKind kind);

}  // namespace yirage::python
