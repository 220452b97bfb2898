// Data movement: concat, split, transpose and embedding, copying whole registers of up to 16
// bytes where the contiguous runs allow, and a shared-memory tiled transpose of the last two dims.
#include <algorithm>

#include "yirage/backend/cuda/device_code.h"
#include "yirage/backend/cuda/op_codegen_parts.h"

namespace yirage::backend::cuda::opgen {

namespace {

using core::Shape;
using ir::TensorType;

// Elements copied as one register: 16 bytes at most, dividing every contiguous run `runs`.
int64_t copy_width(const TensorType& type, const std::vector<int64_t>& runs) {
  int64_t width = vector_width({type});
  for (int64_t run : runs) width = dividing_width(width, run);
  return width;
}

// `pointer` viewed as registers of `width` elements.
std::string as_registers(const TensorType& type, int64_t width, const std::string& pointer,
                         bool is_const) {
  const std::string raw = raw_of(type, width);
  return "reinterpret_cast<" + std::string(is_const ? "const " : "") + raw + "*>(" + pointer + ")";
}

// Transpose of the last two dims: 32 x 32 tiles through shared memory (both sides coalesced),
// tiles walked by a grid-stride loop.
KernelSource tiled_transpose(const ir::Node& node, const TensorType& x) {
  const std::size_t rank = x.shape.size();
  const int64_t rows = x.shape[rank - 2], cols = x.shape[rank - 1];
  const int64_t batch = product(x.shape, 0, rank - 2);
  const int64_t tiles_r = (rows + 31) / 32, tiles_c = (cols + 31) / 32;
  const int64_t tiles = batch * tiles_r * tiles_c;
  CodeWriter code;
  open_kernel(code, signature({x}, node.outputs));
  code.line("__shared__ " + storage_type(x.dtype) + " tile[32][33];");
  code.line("const int tx = threadIdx.x & 31, ty = threadIdx.x >> 5;");
  code.open("for (long long t = blockIdx.x; t < " + num(tiles) + "; t += gridDim.x)");
  code.line("const long long b = t / " + num(tiles_r * tiles_c) + ", rest = t % " +
            num(tiles_r * tiles_c) + ";");
  code.line("const long long r0 = rest / " + num(tiles_c) + " * 32, c0 = rest % " + num(tiles_c) +
            " * 32, base = b * " + num(rows * cols) + ";");
  code.open("for (int k = ty; k < 32; k += 8)");
  code.line("const long long r = r0 + k, c = c0 + tx;");
  code.line("if (r < " + num(rows) + " && c < " + num(cols) + ") tile[k][tx] = in0[base + r * " +
            num(cols) + " + c];");
  code.close();
  code.line("__syncthreads();");
  code.open("for (int k = ty; k < 32; k += 8)");
  code.line("const long long c = c0 + k, r = r0 + tx;");
  code.line("if (c < " + num(cols) + " && r < " + num(rows) + ") out0[base + c * " + num(rows) +
            " + r] = tile[tx][k];");
  code.close();
  code.line("__syncthreads();");
  code.close().close();
  return finish(code, static_cast<unsigned>(std::clamp<int64_t>(tiles, 1, 65536)));
}

}  // namespace

KernelSource concat(const ir::Node& node, const std::vector<TensorType>& inputs) {
  const auto dim = static_cast<std::size_t>(node.attrs.get_int("dim"));
  const TensorType& out = node.outputs[0];
  const int64_t elements_inner = product(out.shape, dim + 1, out.shape.size());
  const int64_t width = copy_width(out, {elements_inner});
  const int64_t inner = elements_inner / width;  // in registers
  const int64_t extent = out.shape[dim];
  const int64_t n = core::shape_numel(out.shape) / width;
  CodeWriter code;
  open_kernel(code, signature(inputs, node.outputs));
  code.line("auto* dst = " + as_registers(out, width, "out0", false) + ";");
  open_grid_loop(code, n);
  code.line("const long long in = i % " + num(inner) + ", k = (i / " + num(inner) + ") % " +
            num(extent) + ", o = i / " + num(inner * extent) + ";");
  int64_t start = 0;
  for (std::size_t p = 0; p < inputs.size(); ++p) {
    const int64_t part = inputs[p].shape[dim];
    code.line(std::string(p == 0 ? "" : "else ") + "if (k < " + num(start + part) +
              ") dst[i] = " + as_registers(inputs[p], width, "in" + std::to_string(p), true) +
              "[(o * " + num(part) + " + k - " + num(start) + ") * " + num(inner) + " + in];");
    start += part;
  }
  code.close().close();
  return finish(code, blocks_for(n));
}

KernelSource split(const ir::Node& node, const TensorType& x) {
  const auto dim = static_cast<std::size_t>(node.attrs.get_int("dim"));
  const int64_t elements_inner = product(x.shape, dim + 1, x.shape.size());
  const int64_t width = copy_width(x, {elements_inner});
  const int64_t inner = elements_inner / width;
  const int64_t extent = x.shape[dim];
  const int64_t n = core::shape_numel(x.shape) / width;
  CodeWriter code;
  open_kernel(code, signature({x}, node.outputs));
  code.line("const auto* src = " + as_registers(x, width, "in0", true) + ";");
  open_grid_loop(code, n);
  code.line("const long long in = i % " + num(inner) + ", k = (i / " + num(inner) + ") % " +
            num(extent) + ", o = i / " + num(inner * extent) + ";");
  int64_t start = 0;
  for (std::size_t p = 0; p < node.outputs.size(); ++p) {
    const int64_t part = node.outputs[p].shape[dim];
    code.line(std::string(p == 0 ? "" : "else ") + "if (k < " + num(start + part) + ") " +
              as_registers(node.outputs[p], width, "out" + std::to_string(p), false) + "[(o * " +
              num(part) + " + k - " + num(start) + ") * " + num(inner) + " + in] = src[i];");
    start += part;
  }
  code.close().close();
  return finish(code, blocks_for(n));
}

KernelSource transpose(const ir::Node& node, const TensorType& x) {
  const auto dim0 = static_cast<std::size_t>(node.attrs.get_int("dim0"));
  const auto dim1 = static_cast<std::size_t>(node.attrs.get_int("dim1"));
  const std::size_t rank = x.shape.size();
  if (dim0 == dim1) {  // a copy
    ir::Node copy = node;
    copy.attrs.set("dim", int64_t{0});
    return split(copy, x);
  }
  if (std::min(dim0, dim1) == rank - 2 && std::max(dim0, dim1) == rank - 1)
    return tiled_transpose(node, x);
  // The last dim stays in place (or moves as a whole): copy registers along the contiguous run.
  const bool last_moves = std::max(dim0, dim1) == rank - 1;
  const int64_t width = last_moves ? 1 : copy_width(x, {x.shape.back()});
  Shape in_shape = x.shape;
  in_shape.back() /= width;
  Shape shape = in_shape;
  std::swap(shape[dim0], shape[dim1]);
  auto strides = core::contiguous_strides(in_shape);
  std::swap(strides[dim0], strides[dim1]);
  const int64_t n = core::shape_numel(shape);
  CodeWriter code;
  open_kernel(code, signature({x}, node.outputs));
  code.line("const auto* src = " + as_registers(x, width, "in0", true) + ";");
  code.line("auto* dst = " + as_registers(node.outputs[0], width, "out0", false) + ";");
  open_grid_loop(code, n);
  code.line("long long r = i, c, s = 0;");
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    code.line("c = r % " + num(shape[d]) + "; r /= " + num(shape[d]) + "; s += c * " +
              num(strides[d]) + ";");
  }
  code.line("dst[i] = src[s];");
  code.close().close();
  return finish(code, blocks_for(n));
}

KernelSource embedding(const ir::Node& node, const std::vector<TensorType>& inputs) {
  const TensorType& table = inputs[1];
  const int64_t rows = table.shape[0], d = table.shape[1];
  const int64_t width = copy_width(table, {d});
  const int64_t per_row = d / width;  // registers per row
  const int64_t n = core::shape_numel(node.outputs[0].shape) / width;
  CodeWriter code;
  open_kernel(code, signature(inputs, node.outputs, "int* __restrict__ status"));
  code.line("const auto* src = " + as_registers(table, width, "in1", true) + ";");
  code.line("auto* dst = " + as_registers(node.outputs[0], width, "out0", false) + ";");
  open_grid_loop(code, n);
  code.line("const long long row = i / " + num(per_row) + ", k = i % " + num(per_row) + ";");
  code.line("const long long id = (long long)in0[row];");
  code.open("if (id < 0 || id >= " + num(rows) + ")");
  code.line("if (atomicCAS(status, 0, 1) == 0) { status[1] = (int)id; status[2] = (int)row; }");
  code.line("dst[i] = {};");
  code.close();
  code.line("else dst[i] = src[id * " + num(per_row) + " + k];");
  code.close().close();
  return finish(code, blocks_for(n));
}

}  // namespace yirage::backend::cuda::opgen
