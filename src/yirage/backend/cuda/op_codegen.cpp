#include "yirage/backend/cuda/op_codegen.h"

#include <algorithm>

#include "yirage/backend/cuda/code_writer.h"
#include "yirage/backend/cuda/device_code.h"
#include "yirage/core/error.h"

namespace yirage::backend::cuda {

namespace {

using core::Shape;
using ir::OpKind;
using ir::TensorType;

constexpr unsigned kThreads = 256;

std::string num(int64_t value) {
  return std::to_string(value) + "LL";
}

// extern "C" __global__ signature: operands, outputs, extra parameters.
std::string signature(const std::vector<TensorType>& inputs, const std::vector<TensorType>& outputs,
                      const std::string& extra = "") {
  std::string text =
      "extern \"C\" __global__ void __launch_bounds__(" + std::to_string(kThreads) + ") yr_kernel(";
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    text +=
        "const " + storage_type(inputs[i].dtype) + "* __restrict__ in" + std::to_string(i) + ", ";
  }
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    text += storage_type(outputs[i].dtype) + "* __restrict__ out" + std::to_string(i) +
            (i + 1 < outputs.size() || !extra.empty() ? ", " : "");
  }
  return text + extra + ")";
}

std::string load(const TensorType& type, const std::string& pointer, const std::string& index) {
  return "yr_load_" + dtype_tag(type.dtype) + "(" + pointer + ", " + index + ")";
}

std::string store(const TensorType& type, const std::string& pointer, const std::string& index,
                  const std::string& value) {
  return "yr_store_" + dtype_tag(type.dtype) + "(" + pointer + ", " + index + ", " + value + ");";
}

unsigned blocks_for(int64_t work) {
  return static_cast<unsigned>(std::clamp<int64_t>((work + kThreads - 1) / kThreads, 1, 65536));
}

KernelSource finish(CodeWriter& code, unsigned blocks) {
  KernelSource kernel;
  kernel.source = device_prelude() + code.str();
  kernel.grid = {blocks, 1, 1};
  kernel.block = {kThreads, 1, 1};
  return kernel;
}

// Opens a grid-stride loop over `count` items as `i`.
void open_grid_loop(CodeWriter& code, int64_t count) {
  code.open("for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < " +
            num(count) + "; i += (long long)gridDim.x * blockDim.x)");
}

KernelSource elementwise(const ir::Node& node, const std::vector<TensorType>& inputs) {
  const TensorType& out = node.outputs[0];
  const int64_t n = core::shape_numel(out.shape);
  CodeWriter code;
  code.open(signature(inputs, node.outputs));
  open_grid_loop(code, n);
  std::vector<std::string> offsets;
  std::vector<std::vector<int64_t>> strides;
  bool needs_index = false;
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    if (inputs[k].shape == out.shape) {
      offsets.push_back("i");
      strides.emplace_back();
    } else {
      offsets.push_back("o" + std::to_string(k));
      strides.push_back(broadcast_strides(inputs[k].shape, out.shape));
      code.line("long long o" + std::to_string(k) + " = 0;");
      needs_index = true;
    }
  }
  if (needs_index) {
    code.line("long long r = i, c;");
    for (int64_t d = static_cast<int64_t>(out.shape.size()) - 1; d >= 0; --d) {
      code.line("c = r % " + num(out.shape[d]) + "; r /= " + num(out.shape[d]) + ";");
      for (std::size_t k = 0; k < inputs.size(); ++k) {
        if (!strides[k].empty() && strides[k][d] != 0)
          code.line("o" + std::to_string(k) + " += c * " + num(strides[k][d]) + ";");
      }
    }
  }
  std::string value;
  const ir::OpInfo& info = ir::op_info(node.op);
  if (info.category == ir::OpCategory::Unary) {
    const double s = node.attrs.has("scalar") ? node.attrs.get_float("scalar") : 0.0;
    code.line("const float x = " + load(inputs[0], "in0", offsets[0]) + ";");
    value = unary_expression(node.op, "x", s);
  } else {
    code.line("const float x = " + load(inputs[0], "in0", offsets[0]) + ";");
    code.line("const float y = " + load(inputs[1], "in1", offsets[1]) + ";");
    value = binary_expression(node.op, "x", "y");
  }
  code.line(store(out, "out0", "i", value));
  code.close().close();
  return finish(code, blocks_for(n));
}

KernelSource reduction(const ir::Node& node, const TensorType& x) {
  const auto dim = static_cast<std::size_t>(node.attrs.get_int("dim"));
  const int64_t outer = product(x.shape, 0, dim), extent = x.shape[dim];
  const int64_t inner = product(x.shape, dim + 1, x.shape.size());
  const bool is_max = node.op == OpKind::Max;
  const std::string init = is_max ? "-YR_INF" : "0.0f";
  const std::string step = is_max ? "acc = fmaxf(acc, v);" : "acc += v;";
  const std::string result =
      node.op == OpKind::Mean ? "acc / " + float_literal(static_cast<double>(extent)) : "acc";
  CodeWriter code;
  code.open(signature({x}, node.outputs));
  if (inner == 1) {  // one block per output: a strided pass and a block reduction
    code.open("for (long long row = blockIdx.x; row < " + num(outer) + "; row += gridDim.x)");
    code.line("float acc = " + init + ";");
    code.open("for (long long k = threadIdx.x; k < " + num(extent) + "; k += blockDim.x)");
    code.line("const float v = " + load(x, "in0", "row * " + num(extent) + " + k") + ";");
    code.line(step);
    code.close();
    code.line(std::string("acc = ") + (is_max ? "yr_block_max(acc);" : "yr_block_sum(acc);"));
    code.line("if (threadIdx.x == 0) " + store(node.outputs[0], "out0", "row", result));
    code.close().close();
    return finish(code, static_cast<unsigned>(std::min<int64_t>(outer, 65536)));
  }
  open_grid_loop(code, outer * inner);
  code.line("const long long o = i / " + num(inner) + ", in = i % " + num(inner) + ";");
  code.line("float acc = " + init + ";");
  code.open("for (long long k = 0; k < " + num(extent) + "; ++k)");
  code.line("const float v = " +
            load(x, "in0", "(o * " + num(extent) + " + k) * " + num(inner) + " + in") + ";");
  code.line(step);
  code.close();
  code.line(store(node.outputs[0], "out0", "i", result));
  code.close().close();
  return finish(code, blocks_for(outer * inner));
}

KernelSource rms_norm(const ir::Node& node, const std::vector<TensorType>& inputs) {
  const TensorType& x = inputs[0];
  const int64_t d = x.shape.back();
  const int64_t rows = core::shape_numel(x.shape) / d;
  CodeWriter code;
  code.open(signature(inputs, node.outputs));
  code.open("for (long long row = blockIdx.x; row < " + num(rows) + "; row += gridDim.x)");
  code.line("const long long base = row * " + num(d) + ";");
  code.line("float acc = 0.0f;");
  code.open("for (long long k = threadIdx.x; k < " + num(d) + "; k += blockDim.x)");
  code.line("const float v = " + load(x, "in0", "base + k") + "; acc += v * v;");
  code.close();
  code.line("const float scale = rsqrtf(yr_block_sum(acc) / " +
            float_literal(static_cast<double>(d)) + " + " +
            float_literal(node.attrs.get_float("eps")) + ");");
  code.open("for (long long k = threadIdx.x; k < " + num(d) + "; k += blockDim.x)");
  code.line(store(node.outputs[0], "out0", "base + k",
                  load(x, "in0", "base + k") + " * scale * " + load(inputs[1], "in1", "k")));
  code.close().close().close();
  return finish(code, static_cast<unsigned>(std::min<int64_t>(rows, 65536)));
}

KernelSource softmax(const ir::Node& node, const TensorType& x) {
  const auto dim = static_cast<std::size_t>(node.attrs.get_int("dim"));
  const int64_t outer = product(x.shape, 0, dim), extent = x.shape[dim];
  const int64_t inner = product(x.shape, dim + 1, x.shape.size());
  const TensorType& out = node.outputs[0];
  CodeWriter code;
  code.open(signature({x}, node.outputs));
  if (inner == 1) {
    code.open("for (long long row = blockIdx.x; row < " + num(outer) + "; row += gridDim.x)");
    code.line("const long long base = row * " + num(extent) + ";");
    code.line("float peak = -YR_INF;");
    code.open("for (long long k = threadIdx.x; k < " + num(extent) + "; k += blockDim.x)");
    code.line("peak = fmaxf(peak, " + load(x, "in0", "base + k") + ");");
    code.close();
    code.line("peak = yr_block_max(peak);");
    code.line("float total = 0.0f;");
    code.open("for (long long k = threadIdx.x; k < " + num(extent) + "; k += blockDim.x)");
    code.line("total += expf(" + load(x, "in0", "base + k") + " - peak);");
    code.close();
    code.line("const float inv = 1.0f / yr_block_sum(total);");
    code.open("for (long long k = threadIdx.x; k < " + num(extent) + "; k += blockDim.x)");
    code.line(
        store(out, "out0", "base + k", "expf(" + load(x, "in0", "base + k") + " - peak) * inv"));
    code.close().close().close();
    return finish(code, static_cast<unsigned>(std::min<int64_t>(outer, 65536)));
  }
  open_grid_loop(code, outer * inner);
  code.line("const long long o = i / " + num(inner) + ", in = i % " + num(inner) + ";");
  code.line("const long long base = o * " + num(extent * inner) + " + in;");
  code.line("float peak = -YR_INF, total = 0.0f;");
  code.open("for (long long k = 0; k < " + num(extent) + "; ++k)");
  code.line("peak = fmaxf(peak, " + load(x, "in0", "base + k * " + num(inner)) + ");");
  code.close();
  code.open("for (long long k = 0; k < " + num(extent) + "; ++k)");
  code.line("total += expf(" + load(x, "in0", "base + k * " + num(inner)) + " - peak);");
  code.close();
  code.open("for (long long k = 0; k < " + num(extent) + "; ++k)");
  code.line(store(out, "out0", "base + k * " + num(inner),
                  "expf(" + load(x, "in0", "base + k * " + num(inner)) + " - peak) / total"));
  code.close().close().close();
  return finish(code, blocks_for(outer * inner));
}

KernelSource concat(const ir::Node& node, const std::vector<TensorType>& inputs) {
  const auto dim = static_cast<std::size_t>(node.attrs.get_int("dim"));
  const TensorType& out = node.outputs[0];
  const int64_t inner = product(out.shape, dim + 1, out.shape.size());
  const int64_t extent = out.shape[dim];
  const int64_t n = core::shape_numel(out.shape);
  CodeWriter code;
  code.open(signature(inputs, node.outputs));
  open_grid_loop(code, n);
  code.line("const long long in = i % " + num(inner) + ", k = (i / " + num(inner) + ") % " +
            num(extent) + ", o = i / " + num(inner * extent) + ";");
  int64_t start = 0;
  for (std::size_t p = 0; p < inputs.size(); ++p) {
    const int64_t part = inputs[p].shape[dim];
    code.line(std::string(p == 0 ? "" : "else ") + "if (k < " + num(start + part) +
              ") out0[i] = in" + std::to_string(p) + "[(o * " + num(part) + " + k - " + num(start) +
              ") * " + num(inner) + " + in];");
    start += part;
  }
  code.close().close();
  return finish(code, blocks_for(n));
}

KernelSource split(const ir::Node& node, const TensorType& x) {
  const auto dim = static_cast<std::size_t>(node.attrs.get_int("dim"));
  const int64_t inner = product(x.shape, dim + 1, x.shape.size());
  const int64_t extent = x.shape[dim];
  const int64_t n = core::shape_numel(x.shape);
  CodeWriter code;
  code.open(signature({x}, node.outputs));
  open_grid_loop(code, n);
  code.line("const long long in = i % " + num(inner) + ", k = (i / " + num(inner) + ") % " +
            num(extent) + ", o = i / " + num(inner * extent) + ";");
  int64_t start = 0;
  for (std::size_t p = 0; p < node.outputs.size(); ++p) {
    const int64_t part = node.outputs[p].shape[dim];
    code.line(std::string(p == 0 ? "" : "else ") + "if (k < " + num(start + part) + ") out" +
              std::to_string(p) + "[(o * " + num(part) + " + k - " + num(start) + ") * " +
              num(inner) + " + in] = in0[i];");
    start += part;
  }
  code.close().close();
  return finish(code, blocks_for(n));
}

KernelSource transpose(const ir::Node& node, const TensorType& x) {
  const auto dim0 = static_cast<std::size_t>(node.attrs.get_int("dim0"));
  const auto dim1 = static_cast<std::size_t>(node.attrs.get_int("dim1"));
  const Shape& shape = node.outputs[0].shape;
  auto strides = core::contiguous_strides(x.shape);
  std::swap(strides[dim0], strides[dim1]);
  const int64_t n = core::shape_numel(shape);
  CodeWriter code;
  code.open(signature({x}, node.outputs));
  open_grid_loop(code, n);
  code.line("long long r = i, c, s = 0;");
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    code.line("c = r % " + num(shape[d]) + "; r /= " + num(shape[d]) + "; s += c * " +
              num(strides[d]) + ";");
  }
  code.line("out0[i] = in0[s];");
  code.close().close();
  return finish(code, blocks_for(n));
}

KernelSource embedding(const ir::Node& node, const std::vector<TensorType>& inputs) {
  const int64_t rows = inputs[1].shape[0], d = inputs[1].shape[1];
  const int64_t n = core::shape_numel(node.outputs[0].shape);
  CodeWriter code;
  code.open(signature(inputs, node.outputs, "int* __restrict__ status"));
  open_grid_loop(code, n);
  code.line("const long long row = i / " + num(d) + ", k = i % " + num(d) + ";");
  code.line("const long long id = (long long)in0[row];");
  code.open("if (id < 0 || id >= " + num(rows) + ")");
  code.line("if (atomicCAS(status, 0, 1) == 0) { status[1] = (int)id; status[2] = (int)row; }");
  code.line("out0[i] = 0;");
  code.close();
  code.line("else out0[i] = in1[id * " + num(d) + " + k];");
  code.close().close();
  return finish(code, blocks_for(n));
}

KernelSource rope(const ir::Node& node, const std::vector<TensorType>& inputs) {
  const TensorType& x = inputs[0];
  const int64_t d = x.shape.back(), half = d / 2;
  const int64_t count = core::shape_numel(inputs[1].shape);
  const int64_t per_position = core::shape_numel(x.shape) / (count * d);
  const int64_t n = count * per_position * half;
  const double theta = node.attrs.get_float("theta");
  CodeWriter code;
  code.open(signature(inputs, node.outputs));
  open_grid_loop(code, n);
  code.line("const long long pair = i % " + num(half) + ", row = i / " + num(half) + ";");
  code.line("const long long p = row / " + num(per_position) + ";");
  code.line("const double angle = (double)in1[p] * pow(" + std::to_string(theta) +
            ", -2.0 * (double)pair / " + std::to_string(static_cast<double>(d)) + ");");
  code.line("double sn, cs; sincos(angle, &sn, &cs);");
  code.line("const float c = (float)cs, s = (float)sn;");
  code.line("const long long base = row * " + num(d) + ";");
  code.line("const float x1 = " + load(x, "in0", "base + pair") + ";");
  code.line("const float x2 = " + load(x, "in0", "base + " + num(half) + " + pair") + ";");
  code.line(store(node.outputs[0], "out0", "base + pair", "x1 * c - x2 * s"));
  code.line(store(node.outputs[0], "out0", "base + " + num(half) + " + pair", "x2 * c + x1 * s"));
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
  code.open(signature(inputs, node.outputs));
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
      return reduction(node, inputs[0]);
    case ir::OpCategory::Structural:
      break;
  }
  switch (node.op) {
    case OpKind::Matmul:
      return matmul(node, inputs, false);
    case OpKind::RmsNorm:
      return rms_norm(node, inputs);
    case OpKind::Softmax:
      return softmax(node, inputs[0]);
    case OpKind::Concat:
      return concat(node, inputs);
    case OpKind::Split:
      return split(node, inputs[0]);
    case OpKind::Transpose:
      return transpose(node, inputs[0]);
    case OpKind::Embedding:
      return embedding(node, inputs);
    case OpKind::Rope:
      return rope(node, inputs);
    default:
      break;
  }
  YR_INTERNAL_ERROR("no CUDA kernel generator for " << ir::op_name(node.op));
}

}  // namespace yirage::backend::cuda
