#include "yirage/backend/cuda/op_codegen.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "yirage/backend/cuda/code_writer.h"
#include "yirage/backend/cuda/device_code.h"
#include "yirage/backend/cuda/op_codegen_parts.h"
#include "yirage/core/error.h"

namespace yirage::backend::cuda {

namespace {

using core::Shape;
using ir::OpKind;
using ir::TensorType;
using opgen::blocks_for;
using opgen::finish;
using opgen::load;
using opgen::load_vector;
using opgen::num;
using opgen::open_grid_loop;
using opgen::open_kernel;
using opgen::signature;
using opgen::store;
using opgen::store_vector;
using opgen::vector_width;

// ---- element-wise ops with broadcasting ----

// How an operand of an element-wise op is addressed from the output's flat index i.
struct Access {
  enum Kind { Same, Scalar, Window, General } kind = Same;
  int64_t inner = 1;             // Window: offset (i / inner) % span
  int64_t span = 1;              //
  std::vector<int64_t> strides;  // General: per output dim, 0 on broadcast dims
};

Access classify(const Shape& shape, const Shape& out) {
  Access access;
  if (shape == out) return access;
  const std::size_t rank = out.size(), skip = rank - shape.size();
  int64_t first = -1, last = -1;
  bool gap = false, contiguous = true;
  for (std::size_t d = 0; d < rank; ++d) {
    const int64_t own = d < skip ? 1 : shape[d - skip];
    if (out[d] == 1) continue;
    if (own == out[d]) {
      if (first < 0) first = static_cast<int64_t>(d);
      if (gap) contiguous = false;
      last = static_cast<int64_t>(d);
    } else if (first >= 0) {
      gap = true;
    }
  }
  if (first < 0) {
    access.kind = Access::Scalar;
  } else if (!contiguous) {
    access.kind = Access::General;
    access.strides = broadcast_strides(shape, out);
  } else {
    access.kind = Access::Window;
    access.inner = product(out, static_cast<std::size_t>(last) + 1, rank);
    access.span = product(out, static_cast<std::size_t>(first), static_cast<std::size_t>(last) + 1);
  }
  return access;
}

// Offset expression of `access` at flat output index `i` (General: a division chain).
std::string offset(const Access& access, const Shape& out, const std::string& i) {
  switch (access.kind) {
    case Access::Same:
      return i;
    case Access::Scalar:
      return "0";
    case Access::Window: {
      std::string value = access.inner == 1 ? i : "(" + i + " / " + num(access.inner) + ")";
      if (access.span * access.inner < core::shape_numel(out))
        value = "(" + value + " % " + num(access.span) + ")";
      return value;
    }
    case Access::General:
      break;
  }
  std::string sum;
  int64_t below = 1;
  for (int64_t d = static_cast<int64_t>(out.size()) - 1; d >= 0; --d) {
    if (access.strides[d] != 0) {
      if (!sum.empty()) sum += " + ";
      sum += "((" + i + " / " + num(below) + ") % " + num(out[d]) + ") * " + num(access.strides[d]);
    }
    below *= out[d];
  }
  return sum.empty() ? "0" : "(" + sum + ")";
}

KernelSource elementwise(const ir::Node& node, const std::vector<TensorType>& inputs) {
  const TensorType& out = node.outputs[0];
  const int64_t n = core::shape_numel(out.shape);
  std::vector<Access> access;
  for (const auto& input : inputs) access.push_back(classify(input.shape, out.shape));
  std::vector<TensorType> types = inputs;
  types.push_back(out);
  // The widest vector (16 bytes of the widest dtype, halved down to 2 elements) every operand
  // can be read with: same shape, a scalar, or a broadcast window the vector does not straddle.
  auto fits = [&](int64_t width) {
    if (n % width != 0) return false;
    for (const Access& a : access) {
      const bool ok = a.kind == Access::Same || a.kind == Access::Scalar ||
                      (a.kind == Access::Window &&
                       (a.inner % width == 0 || (a.inner == 1 && a.span % width == 0)));
      if (!ok) return false;
    }
    return true;
  };
  int64_t width = vector_width(types);
  while (width > 1 && !fits(width)) width /= 2;
  const bool vectorised = width > 1;
  const ir::OpInfo& info = ir::op_info(node.op);
  const double s = node.attrs.has("scalar") ? node.attrs.get_float("scalar") : 0.0;
  auto value = [&](const std::string& x, const std::string& y) {
    return info.category == ir::OpCategory::Unary ? unary_expression(node.op, x, s)
                                                  : binary_expression(node.op, x, y);
  };
  CodeWriter code;
  open_kernel(code, signature(inputs, node.outputs));
  if (!vectorised) {
    open_grid_loop(code, n);
    for (std::size_t k = 0; k < inputs.size(); ++k) {
      code.line("const float x" + std::to_string(k) + " = " +
                load(inputs[k], "in" + std::to_string(k), offset(access[k], out.shape, "i")) + ";");
    }
    code.line(store(out, "out0", "i", value("x0", "x1")));
    code.close().close();
    return finish(code, blocks_for(n));
  }
  // Vectors of `width` elements: one 16-byte access per same-shape operand, one scalar per
  // operand constant over the vector, one aligned vector inside a broadcast row.
  open_grid_loop(code, n / width);
  code.line("const long long e = i * " + num(width) + ";");
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    const std::string index = std::to_string(k);
    std::string name = "x", pointer = "in";
    name += index;
    pointer += index;
    const Access& a = access[k];
    if (a.kind == Access::Same || (a.kind == Access::Window && a.inner == 1)) {
      load_vector(code, inputs[k], width, pointer, offset(a, out.shape, "e"), name);
    } else {
      code.line("const float " + name +
                "_s = " + load(inputs[k], pointer, offset(a, out.shape, "e")) + ";");
      code.line("float " + name + "[" + std::to_string(width) + "];");
      code.line("#pragma unroll");
      code.line("for (int j = 0; j < " + std::to_string(width) + "; ++j) " + name +
                "[j] = " + name + "_s;");
    }
  }
  store_vector(code, out, width, "out0", "e", value("x0[j]", "x1[j]"));
  code.close().close();
  return finish(code, blocks_for(n / width));
}

// Rotary embedding, rotate-half form: each thread rotates `width` consecutive pairs (two
// aligned vectors, one from each half of the row); angles in double as in the reference.
KernelSource rope(const ir::Node& node, const std::vector<TensorType>& inputs) {
  const TensorType& x = inputs[0];
  const TensorType& out = node.outputs[0];
  const int64_t d = x.shape.back(), half = d / 2;
  const int64_t width = opgen::dividing_width(vector_width({x, out}), half);
  const int64_t vectors = half / width;  // per row
  const int64_t count = core::shape_numel(inputs[1].shape);
  const int64_t per_position = core::shape_numel(x.shape) / (count * d);
  const int64_t n = count * per_position * vectors;
  char log_theta[64];
  std::snprintf(log_theta, sizeof(log_theta), "%.17g", std::log(node.attrs.get_float("theta")));
  const std::string w = std::to_string(width);
  CodeWriter code;
  open_kernel(code, signature(inputs, node.outputs));
  open_grid_loop(code, n);
  code.line("const long long pair = (i % " + num(vectors) + ") * " + num(width) + ", row = i / " +
            num(vectors) + ";");
  code.line("const double position = (double)in1[row / " + num(per_position) + "];");
  code.line("const long long base = row * " + num(d) + ";");
  load_vector(code, x, width, "in0", "base + pair", "x1");
  load_vector(code, x, width, "in0", "base + " + num(half) + " + pair", "x2");
  code.line("float c[" + w + "], s[" + w + "];");
  code.line("#pragma unroll");
  code.open("for (int j = 0; j < " + w + "; ++j)");
  code.line("const double angle = position * exp(-2.0 * (double)(pair + j) / " + std::to_string(d) +
            ".0 * " + log_theta + ");");
  code.line("double sn, cs;");
  code.line("sincos(angle, &sn, &cs);");
  code.line("c[j] = (float)cs;");
  code.line("s[j] = (float)sn;");
  code.close();
  store_vector(code, out, width, "out0", "base + pair", "x1[j] * c[j] - x2[j] * s[j]");
  store_vector(code, out, width, "out0", "base + " + num(half) + " + pair",
               "x2[j] * c[j] + x1[j] * s[j]");
  code.close().close();
  return finish(code, blocks_for(n));
}

// Batched matmul with broadcast batch dims: 16x16 output tiles, K in steps of 16 through shared
// memory, float accumulation; grid.z walks the batch.
KernelSource matmul(const ir::Node& node, const std::vector<TensorType>& inputs,
                    bool b_transposed) {
  const Shape& shape = node.outputs[0].shape;
  const std::size_t rank = shape.size();
  const int64_t m = shape[rank - 2], n = shape[rank - 1], k = inputs[0].shape.back();
  const Shape batch(shape.begin(), shape.end() - 2);
  const auto a_strides =
      broadcast_strides({inputs[0].shape.begin(), inputs[0].shape.end() - 2}, batch);
  const auto b_strides =
      broadcast_strides({inputs[1].shape.begin(), inputs[1].shape.end() - 2}, batch);
  const int64_t batches = product(batch, 0, batch.size());
  CodeWriter code;
  open_kernel(code, signature(inputs, node.outputs));
  code.line("__shared__ float ta[16][17], tb[16][17];");
  code.open("for (long long bi = blockIdx.z; bi < " + num(batches) + "; bi += gridDim.z)");
  code.line("long long r = bi, c, oa = 0, ob = 0;");
  for (int64_t d = static_cast<int64_t>(batch.size()) - 1; d >= 0; --d) {
    code.line("c = r % " + num(batch[d]) + "; r /= " + num(batch[d]) + "; oa += c * " +
              num(a_strides[d]) + "; ob += c * " + num(b_strides[d]) + ";");
  }
  code.line("oa *= " + num(m * k) + "; ob *= " + num(k * n) + ";");
  code.line("const int tx = threadIdx.x & 15, ty = threadIdx.x >> 4;");
  code.line(
      "const long long row = (long long)blockIdx.y * 16 + ty, col = (long long)blockIdx.x * 16 + "
      "tx;");
  code.line("float acc = 0.0f;");
  code.open("for (long long k0 = 0; k0 < " + num(k) + "; k0 += 16)");
  code.line("ta[ty][tx] = (row < " + num(m) + " && k0 + tx < " + num(k) + ") ? " +
            load(inputs[0], "in0", "oa + row * " + num(k) + " + k0 + tx") + " : 0.0f;");
  code.line("tb[ty][tx] = (k0 + ty < " + num(k) + " && col < " + num(n) + ") ? " +
            load(inputs[1], "in1",
                 b_transposed ? "ob + col * " + num(k) + " + k0 + ty"
                              : "ob + (k0 + ty) * " + num(n) + " + col") +
            " : 0.0f;");
  code.line("__syncthreads();");
  code.line("#pragma unroll");
  code.line("for (int p = 0; p < 16; ++p) acc += ta[ty][p] * tb[p][tx];");
  code.line("__syncthreads();");
  code.close();
  code.line("if (row < " + num(m) + " && col < " + num(n) + ") " +
            store(node.outputs[0], "out0", "bi * " + num(m * n) + " + row * " + num(n) + " + col",
                  "acc"));
  code.close().close();
  KernelSource kernel = finish(code, 1);
  kernel.grid = {static_cast<unsigned>((n + 15) / 16), static_cast<unsigned>((m + 15) / 16),
                 static_cast<unsigned>(std::min<int64_t>(batches, 65535))};
  YR_USER_CHECK((m + 15) / 16 <= 65535,
                "matmul: " << m << " rows exceed the CUDA kernel's grid limit of 65535 x 16");
  return kernel;
}

}  // namespace

static KernelSource generate_op_kernel_unbounded(const ir::Node& node,
                                                 const std::vector<TensorType>& inputs);

KernelSource generate_matmul_kernel(const ir::Node& node, const std::vector<TensorType>& inputs,
                                    bool b_transposed) {
  return matmul(node, inputs, b_transposed);
}

KernelSource generate_op_kernel(const ir::Node& node, const std::vector<TensorType>& inputs,
                                int multiprocessors) {
  KernelSource kernel = generate_op_kernel_unbounded(node, inputs);
  // Grid-stride kernels: a few resident blocks per SM are enough.
  const bool grid_stride = node.op != OpKind::Matmul;
  if (grid_stride && multiprocessors > 0) {
    kernel.grid[0] = std::min<unsigned>(kernel.grid[0], static_cast<unsigned>(multiprocessors) * 8);
  }
  return kernel;
}

static KernelSource generate_op_kernel_unbounded(const ir::Node& node,
                                                 const std::vector<TensorType>& inputs) {
  switch (ir::op_info(node.op).category) {
    case ir::OpCategory::Unary:
    case ir::OpCategory::Binary:
      return elementwise(node, inputs);
    case ir::OpCategory::Reduce:
      return opgen::reduction(node, inputs[0]);
    case ir::OpCategory::Structural:
      break;
  }
  switch (node.op) {
    case OpKind::Matmul:
      return matmul(node, inputs, false);
    case OpKind::RmsNorm:
      return opgen::rms_norm(node, inputs);
    case OpKind::Softmax:
      return opgen::softmax(node, inputs[0]);
    case OpKind::Concat:
      return opgen::concat(node, inputs);
    case OpKind::Split:
      return opgen::split(node, inputs[0]);
    case OpKind::Transpose:
      return opgen::transpose(node, inputs[0]);
    case OpKind::Embedding:
      return opgen::embedding(node, inputs);
    case OpKind::Rope:
      return rope(node, inputs);
    default:
      break;
  }
  YR_INTERNAL_ERROR("no CUDA kernel generator for " << ir::op_name(node.op));
}

}  // namespace yirage::backend::cuda
