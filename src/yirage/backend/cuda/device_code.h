// Pieces shared by every generated CUDA kernel: the prelude of device helpers (dtype loads and
// stores without CUDA headers, block reductions), the CUDA spelling of ops of the table, and the
// shape arithmetic the generators share.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "yirage/core/dtype.h"
#include "yirage/core/tensor.h"
#include "yirage/ir/op.h"

namespace yirage::backend::cuda {

/// Device helpers every generated source starts with: yr_load_<dtype>/yr_store_<dtype>
/// converting to and from float, yr_block_sum/yr_block_max over a whole thread block.
const std::string& device_prelude();
/// The storage type of `dtype` in device code ("float", "unsigned short", "int", "long long").
std::string storage_type(core::DType dtype);
/// The dtype's short name used in helper names ("f32", "f16", "bf16", "i32", "i64").
std::string dtype_tag(core::DType dtype);
/// Float expression of element-wise unary `op` applied to expression `x` (scalar attribute `s`).
std::string unary_expression(ir::OpKind op, const std::string& x, double s);
/// Float expression of element-wise binary `op` over expressions `x` and `y`.
std::string binary_expression(ir::OpKind op, const std::string& x, const std::string& y);
/// A float literal that reads back exactly (e.g. "1.000000000e-06f").
std::string float_literal(double value);
/// Product of the extents shape[begin, end).
int64_t product(const core::Shape& shape, std::size_t begin, std::size_t end);
/// Element strides of `shape` right-aligned against `target`, 0 on broadcast dims.
std::vector<int64_t> broadcast_strides(const core::Shape& shape, const core::Shape& target);

}  // namespace yirage::backend::cuda
