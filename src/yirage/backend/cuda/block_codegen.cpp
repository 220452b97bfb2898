#include "yirage/backend/cuda/block_codegen.h"

#include <algorithm>

#include "yirage/backend/cuda/attention_schedule.h"
#include "yirage/backend/cuda/code_writer.h"
#include "yirage/backend/cuda/dependent_launch.h"
#include "yirage/backend/cuda/device_code.h"
#include "yirage/backend/cuda/elementwise_schedule.h"
#include "yirage/backend/cuda/matmul_schedule.h"
#include "yirage/core/error.h"

namespace yirage::backend::cuda {

namespace {

using core::Shape;
using ir::AccumKind;
using ir::BlockNode;
using ir::BlockNodeKind;
using ir::OpKind;
using ir::Phase;
using ir::TensorRef;

constexpr unsigned kThreads = 256;

std::string num(int64_t value) {
  return std::to_string(value);
}
std::string lnum(int64_t value) {
  return std::to_string(value) + "LL";
}

class Emitter {
 public:
  Emitter(const ir::BlockGraph& graph) : g_(graph) {}

  BlockKernel generate(int shared_limit) {
    allocate();
    const bool in_shared = total_ * 4 <= shared_limit;
    code_.raw(device_prelude());
    std::string params;
    for (std::size_t k = 0; k < g_.inputs().size(); ++k) {
      params += "const " + storage_type(g_.inputs()[k].dtensor.dtype) + "* __restrict__ in" +
                num(static_cast<int64_t>(k)) + ", ";
    }
    for (std::size_t k = 0; k < g_.outputs().size(); ++k) {
      params += storage_type(g_.outputs()[k].dtensor.dtype) + "* __restrict__ out" +
                num(static_cast<int64_t>(k)) + ", ";
    }
    params += "float* __restrict__ scratch";
    code_.open("extern \"C\" __global__ void __launch_bounds__(" + num(kThreads) + ") yr_kernel(" +
               params + ")");
    // A programmatic dependent (such as the combining kernel after a split contraction's
    // first): nothing, scratch included, is touched before the kernel before it has finished.
    code_.raw(dependent_prologue());
    if (in_shared) {
      code_.line("extern __shared__ float4 yr_smem[];");
      code_.line("float* __restrict__ T = reinterpret_cast<float*>(yr_smem);");
    } else {
      code_.line(
          "float* __restrict__ T = scratch + ((long long)blockIdx.x + (long long)gridDim.x * "
          "(blockIdx.y + (long long)gridDim.y * blockIdx.z)) * " +
          lnum(total_) + ";");
    }
    emit_phase(Phase::Invariant);
    for (std::size_t n = 0; n < nodes().size(); ++n) {
      if (nodes()[n].kind == BlockNodeKind::Accumulate) emit_accum_init(n);
    }
    code_.line("__syncthreads();");
    code_.open("for (int it = 0; it < " + num(g_.forloop_range()) + "; ++it)");
    emit_phase(Phase::Loop);
    for (std::size_t n = 0; n < nodes().size(); ++n) {
      if (nodes()[n].kind == BlockNodeKind::Accumulate) emit_accum_step(n);
    }
    code_.close();
    for (std::size_t n = 0; n < nodes().size(); ++n) {
      if (nodes()[n].kind == BlockNodeKind::Accumulate) emit_accum_finish(n);
    }
    emit_phase(Phase::AfterLoop);
    for (std::size_t k = 0; k < g_.outputs().size(); ++k) emit_output(k);
    code_.close();

    BlockKernel result;
    result.kernel.source = code_.str();
    const auto& grid = g_.grid_dims();
    result.kernel.grid = {static_cast<unsigned>(grid[0]), static_cast<unsigned>(grid[1]),
                          static_cast<unsigned>(grid[2])};
    result.kernel.block = {kThreads, 1, 1};
    result.kernel.dependent = true;
    if (in_shared) {
      result.kernel.shared_bytes = static_cast<int>(total_ * 4);
    } else {
      result.scratch_bytes = static_cast<std::size_t>(total_ * 4 * g_.num_blocks());
    }
    return result;
  }

 private:
  const std::vector<BlockNode>& nodes() const { return g_.nodes(); }
  const Shape& shape_of(TensorRef ref) const { return g_.type(ref).shape; }
  std::string tile(TensorRef ref) const {
    return "(T + " + num(offsets_[ref.node][ref.output]) + ")";
  }
  std::string tile(std::size_t node) const {
    return tile(TensorRef{static_cast<int32_t>(node), 0});
  }

  int64_t take(int64_t count) {
    const int64_t offset = total_;
    total_ += (count + 3) / 4 * 4;
    return offset;
  }

  // Float slots for every tile, plus per-node auxiliary space (running max, row statistics).
  void allocate() {
    offsets_.resize(nodes().size());
    aux_.assign(nodes().size(), -1);
    for (std::size_t n = 0; n < nodes().size(); ++n) {
      const BlockNode& node = nodes()[n];
      for (const auto& type : node.outputs)
        offsets_[n].push_back(take(core::shape_numel(type.shape)));
      if (node.kind == BlockNodeKind::Accumulate && node.accum == AccumKind::RescaledSum) {
        aux_[n] = take(core::shape_numel(shape_of(node.inputs[1])));
      } else if (node.kind == BlockNodeKind::Op && node.op == OpKind::RmsNorm) {
        const Shape& x = shape_of(node.inputs[0]);
        aux_[n] = take(core::shape_numel(x) / x.back());
      } else if (node.kind == BlockNodeKind::Op && node.op == OpKind::Softmax) {
        aux_[n] = take(2 * core::shape_numel(shape_of(node.inputs[0])));
      }
    }
  }

  // Declares int c0..c{rank-1}: the coordinates of flat index `flat` in `shape`.
  void coordinates(const Shape& shape, const std::string& flat) {
    code_.line("int r_ = " + flat + ";");
    for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
      code_.line("const int c" + num(d) + " = r_ % " + num(shape[d]) + "; r_ /= " + num(shape[d]) +
                 ";");
    }
    code_.line("(void)r_;");
  }

  // Offset expression of an operand of `operand` shape broadcast to `target` coordinates c*.
  std::string broadcast_offset(const Shape& operand, const Shape& target) {
    const auto strides = broadcast_strides(operand, target);
    std::string text = "0";
    for (std::size_t d = 0; d < target.size(); ++d) {
      if (strides[d] != 0) text += " + c" + num(static_cast<int64_t>(d)) + " * " + num(strides[d]);
    }
    return text;
  }

  void open_tile_loop(int64_t count, int64_t step = 1) {
    code_.open("for (int e = threadIdx.x * " + num(step) + "; e < " + num(count) +
               "; e += blockDim.x * " + num(step) + ")");
  }
  void close_tile_loop() {
    code_.close();
    code_.line("__syncthreads();");
  }

  void emit_phase(Phase phase) {
    for (std::size_t n = 0; n < nodes().size(); ++n) {
      const BlockNode& node = nodes()[n];
      if (node.phase != phase || node.kind == BlockNodeKind::Accumulate) continue;
      code_.line("// node " + num(static_cast<int64_t>(n)));
      code_.open("");
      switch (node.kind) {
        case BlockNodeKind::Input:
          emit_input(n);
          break;
        case BlockNodeKind::ReduceToDimx:
          emit_reduce_to_dimx(n);
          break;
        case BlockNodeKind::Op:
          emit_op(n);
          break;
        case BlockNodeKind::Accumulate:
          break;
      }
      code_.close();
    }
  }

  void emit_input(std::size_t n) {
    const BlockNode& node = nodes()[n];
    const ir::BlockInput& input = g_.inputs()[node.input_index];
    const Shape& box = node.outputs[0].shape;
    const Shape& whole = input.dtensor.shape;
    const auto strides = core::contiguous_strides(whole);
    std::string base = "0LL";
    const char* axis_names[3] = {"blockIdx.x", "blockIdx.y", "blockIdx.z"};
    for (int axis = 0; axis < 3; ++axis) {
      const int dim = input.input_map[axis];
      if (dim < 0) continue;
      const int64_t step = whole[dim] / g_.grid_dims()[axis] * strides[dim];
      base += std::string(" + (long long)") + axis_names[axis] + " * " + lnum(step);
    }
    if (input.forloop_dim >= 0) {
      base += " + (long long)it * " + lnum(box[input.forloop_dim] * strides[input.forloop_dim]);
    }
    code_.line("const long long base = " + base + ";");
    const core::DType dtype = input.dtensor.dtype;
    const std::string in = "in" + num(node.input_index);
    const int64_t vector = dtype == core::DType::F32                                   ? 4
                           : (dtype == core::DType::BF16 || dtype == core::DType::F16) ? 8
                                                                                       : 1;
    const bool wide = vector > 1 && box.back() % vector == 0 && whole.back() % vector == 0;
    const int64_t count = core::shape_numel(box);
    open_tile_loop(count, wide ? vector : 1);
    coordinates(box, "e");
    std::string offset = "base";
    for (std::size_t d = 0; d < box.size(); ++d)
      offset += " + (long long)c" + num(static_cast<int64_t>(d)) + " * " + lnum(strides[d]);
    if (!wide) {
      code_.line(tile(n) + "[e] = yr_load_" + dtype_tag(dtype) + "(" + in + ", " + offset + ");");
    } else {
      code_.line("const uint4 v = *reinterpret_cast<const uint4*>(" + in + " + (" + offset + "));");
      if (dtype == core::DType::F32) {
        code_.line("float* t = " + tile(n) + " + e;");
        code_.line(
            "t[0] = __uint_as_float(v.x); t[1] = __uint_as_float(v.y); t[2] = "
            "__uint_as_float(v.z); t[3] = __uint_as_float(v.w);");
      } else {
        const std::string convert = dtype == core::DType::BF16 ? "yr_bf16_to_f32" : "yr_f16_to_f32";
        code_.line("const unsigned w[4] = {v.x, v.y, v.z, v.w};");
        code_.line("float* t = " + tile(n) + " + e;");
        code_.line("#pragma unroll");
        code_.open("for (int q = 0; q < 4; ++q)");
        code_.line("t[2 * q] = " + convert + "((unsigned short)(w[q] & 0xffffu));");
        code_.line("t[2 * q + 1] = " + convert + "((unsigned short)(w[q] >> 16));");
        code_.close();
      }
    }
    close_tile_loop();
  }

  void emit_reduce_to_dimx(std::size_t n) {
    const BlockNode& node = nodes()[n];
    const Shape& x = shape_of(node.inputs[0]);
    const auto dim = static_cast<std::size_t>(node.attrs.get_int("dim"));
    const int64_t extent = x[dim], dimx = node.outputs[0].shape[dim], group = extent / dimx;
    const int64_t inner = product(x, dim + 1, x.size());
    open_tile_loop(core::shape_numel(node.outputs[0].shape));
    code_.line("const int in = e % " + num(inner) + ", kk = (e / " + num(inner) + ") % " +
               num(dimx) + ", o = e / " + num(inner * dimx) + ";");
    code_.line("float acc = 0.0f;");
    code_.line("for (int k = kk * " + num(group) + "; k < (kk + 1) * " + num(group) +
               "; ++k) acc += " + tile(node.inputs[0]) + "[(o * " + num(extent) + " + k) * " +
               num(inner) + " + in];");
    code_.line(tile(n) + "[e] = acc;");
    close_tile_loop();
  }

  void emit_op(std::size_t n) {
    const BlockNode& node = nodes()[n];
    const Shape& out = node.outputs[0].shape;
    const int64_t count = core::shape_numel(out);
    switch (ir::op_info(node.op).category) {
      case ir::OpCategory::Unary: {
        const double s = node.attrs.has("scalar") ? node.attrs.get_float("scalar") : 0.0;
        open_tile_loop(count);
        code_.line("const float x = " + tile(node.inputs[0]) + "[e];");
        code_.line(tile(n) + "[e] = " + unary_expression(node.op, "x", s) + ";");
        close_tile_loop();
        return;
      }
      case ir::OpCategory::Binary: {
        const Shape& a = shape_of(node.inputs[0]);
        const Shape& b = shape_of(node.inputs[1]);
        open_tile_loop(count);
        if (a != out || b != out) coordinates(out, "e");
        const std::string ia = a == out ? "e" : broadcast_offset(a, out);
        const std::string ib = b == out ? "e" : broadcast_offset(b, out);
        code_.line("const float x = " + tile(node.inputs[0]) + "[" + ia + "];");
        code_.line("const float y = " + tile(node.inputs[1]) + "[" + ib + "];");
        code_.line(tile(n) + "[e] = " + binary_expression(node.op, "x", "y") + ";");
        close_tile_loop();
        return;
      }
      case ir::OpCategory::Reduce: {
        const Shape& x = shape_of(node.inputs[0]);
        const auto dim = static_cast<std::size_t>(node.attrs.get_int("dim"));
        const int64_t extent = x[dim], inner = product(x, dim + 1, x.size());
        const bool is_max = node.op == OpKind::Max;
        open_tile_loop(count);
        code_.line("const int in = e % " + num(inner) + ", o = e / " + num(inner) + ";");
        code_.line(std::string("float acc = ") + (is_max ? "-YR_INF;" : "0.0f;"));
        code_.line("for (int k = 0; k < " + num(extent) + "; ++k) { const float v = " +
                   tile(node.inputs[0]) + "[(o * " + num(extent) + " + k) * " + num(inner) +
                   " + in]; " + (is_max ? "acc = fmaxf(acc, v);" : "acc += v;") + " }");
        const std::string result =
            node.op == OpKind::Mean ? "acc / " + float_literal(static_cast<double>(extent)) : "acc";
        code_.line(tile(n) + "[e] = " + result + ";");
        close_tile_loop();
        return;
      }
      case ir::OpCategory::Structural:
        break;
    }
    switch (node.op) {
      case OpKind::Matmul:
        return emit_matmul(n);
      case OpKind::RmsNorm:
        return emit_rms_norm(n);
      case OpKind::Softmax:
        return emit_softmax(n);
      case OpKind::Concat:
        return emit_concat(n);
      case OpKind::Transpose:
        return emit_transpose(n);
      case OpKind::Reshape:
        open_tile_loop(count);
        code_.line(tile(n) + "[e] = " + tile(node.inputs[0]) + "[e];");
        close_tile_loop();
        return;
      default:
        break;
    }
    YR_INTERNAL_ERROR("no CUDA block codegen for " << ir::op_name(node.op));
  }

  void emit_matmul(std::size_t n) {
    const BlockNode& node = nodes()[n];
    const Shape& out = node.outputs[0].shape;
    const Shape& a = shape_of(node.inputs[0]);
    const Shape& b = shape_of(node.inputs[1]);
    const std::size_t rank = out.size();
    const int64_t m = out[rank - 2], nn = out[rank - 1], k = a.back();
    const Shape batch(out.begin(), out.end() - 2);
    const auto a_strides = broadcast_strides({a.begin(), a.end() - 2}, batch);
    const auto b_strides = broadcast_strides({b.begin(), b.end() - 2}, batch);
    open_tile_loop(core::shape_numel(out));
    coordinates(out, "e");
    std::string oa = "0", ob = "0";
    for (std::size_t d = 0; d < batch.size(); ++d) {
      const std::string c = "c" + num(static_cast<int64_t>(d));
      if (a_strides[d] != 0) oa += " + " + c + " * " + num(a_strides[d] * m * k);
      if (b_strides[d] != 0) ob += " + " + c + " * " + num(b_strides[d] * k * nn);
    }
    const std::string ci = "c" + num(static_cast<int64_t>(rank - 2));
    const std::string cj = "c" + num(static_cast<int64_t>(rank - 1));
    code_.line("const float* A = " + tile(node.inputs[0]) + " + " + oa + " + " + ci + " * " +
               num(k) + ";");
    code_.line("const float* B = " + tile(node.inputs[1]) + " + " + ob + " + " + cj + ";");
    code_.line("float acc0 = 0.0f, acc1 = 0.0f;");
    code_.line("int p = 0;");
    code_.line("#pragma unroll 8");
    code_.line("for (; p + 1 < " + num(k) + "; p += 2) { acc0 += A[p] * B[p * " + num(nn) +
               "]; acc1 += A[p + 1] * B[(p + 1) * " + num(nn) + "]; }");
    code_.line("if (p < " + num(k) + ") acc0 += A[p] * B[p * " + num(nn) + "];");
    code_.line(tile(n) + "[e] = acc0 + acc1;");
    close_tile_loop();
  }

  void emit_rms_norm(std::size_t n) {
    const BlockNode& node = nodes()[n];
    const Shape& x = shape_of(node.inputs[0]);
    const int64_t d = x.back(), rows = core::shape_numel(x) / d;
    const std::string stats = "(T + " + num(aux_[n]) + ")";
    const std::string in = tile(node.inputs[0]);
    open_tile_loop(rows);
    code_.line("float acc = 0.0f;");
    code_.line("for (int k = 0; k < " + num(d) + "; ++k) { const float v = " + in + "[e * " +
               num(d) + " + k]; acc += v * v; }");
    code_.line(stats + "[e] = rsqrtf(acc / " + float_literal(static_cast<double>(d)) + " + " +
               float_literal(node.attrs.get_float("eps")) + ");");
    close_tile_loop();
    open_tile_loop(core::shape_numel(x));
    code_.line(tile(n) + "[e] = " + in + "[e] * " + stats + "[e / " + num(d) + "] * " +
               tile(node.inputs[1]) + "[e % " + num(d) + "];");
    close_tile_loop();
  }

  void emit_softmax(std::size_t n) {
    const BlockNode& node = nodes()[n];
    const Shape& x = shape_of(node.inputs[0]);
    const auto dim = static_cast<std::size_t>(node.attrs.get_int("dim"));
    const int64_t extent = x[dim], inner = product(x, dim + 1, x.size());
    const int64_t rows = core::shape_numel(x) / extent;
    const std::string stats = "(T + " + num(aux_[n]) + ")";
    const std::string in = tile(node.inputs[0]);
    open_tile_loop(rows);
    code_.line("const int in = e % " + num(inner) + ", o = e / " + num(inner) + ";");
    code_.line("const float* row = " + in + " + o * " + num(extent * inner) + " + in;");
    code_.line("float peak = -YR_INF, total = 0.0f;");
    code_.line("for (int k = 0; k < " + num(extent) + "; ++k) peak = fmaxf(peak, row[k * " +
               num(inner) + "]);");
    code_.line("for (int k = 0; k < " + num(extent) + "; ++k) total += expf(row[k * " + num(inner) +
               "] - peak);");
    code_.line(stats + "[2 * e] = peak; " + stats + "[2 * e + 1] = 1.0f / total;");
    close_tile_loop();
    open_tile_loop(core::shape_numel(x));
    code_.line("const int row = (e / " + num(extent * inner) + ") * " + num(inner) + " + e % " +
               num(inner) + ";");
    code_.line(tile(n) + "[e] = expf(" + in + "[e] - " + stats + "[2 * row]) * " + stats +
               "[2 * row + 1];");
    close_tile_loop();
  }

  void emit_concat(std::size_t n) {
    const BlockNode& node = nodes()[n];
    const Shape& out = node.outputs[0].shape;
    const auto dim = static_cast<std::size_t>(node.attrs.get_int("dim"));
    const int64_t inner = product(out, dim + 1, out.size()), extent = out[dim];
    open_tile_loop(core::shape_numel(out));
    code_.line("const int in = e % " + num(inner) + ", k = (e / " + num(inner) + ") % " +
               num(extent) + ", o = e / " + num(inner * extent) + ";");
    int64_t start = 0;
    for (std::size_t p = 0; p < node.inputs.size(); ++p) {
      const int64_t part = shape_of(node.inputs[p])[dim];
      code_.line(std::string(p == 0 ? "" : "else ") + "if (k < " + num(start + part) + ") " +
                 tile(n) + "[e] = " + tile(node.inputs[p]) + "[(o * " + num(part) + " + k - " +
                 num(start) + ") * " + num(inner) + " + in];");
      start += part;
    }
    close_tile_loop();
  }

  void emit_transpose(std::size_t n) {
    const BlockNode& node = nodes()[n];
    const Shape& out = node.outputs[0].shape;
    auto strides = core::contiguous_strides(shape_of(node.inputs[0]));
    std::swap(strides[static_cast<std::size_t>(node.attrs.get_int("dim0"))],
              strides[static_cast<std::size_t>(node.attrs.get_int("dim1"))]);
    open_tile_loop(core::shape_numel(out));
    coordinates(out, "e");
    std::string offset = "0";
    for (std::size_t d = 0; d < out.size(); ++d)
      offset += " + c" + num(static_cast<int64_t>(d)) + " * " + num(strides[d]);
    code_.line(tile(n) + "[e] = " + tile(node.inputs[0]) + "[" + offset + "];");
    close_tile_loop();
  }

  void emit_accum_init(std::size_t n) {
    const BlockNode& node = nodes()[n];
    const std::string init = node.accum == AccumKind::Max ? "-YR_INF" : "0.0f";
    code_.line("for (int e = threadIdx.x; e < " + num(core::shape_numel(node.outputs[0].shape)) +
               "; e += blockDim.x) " + tile(n) + "[e] = " + init + ";");
    if (aux_[n] >= 0) {
      code_.line("for (int e = threadIdx.x; e < " +
                 num(core::shape_numel(shape_of(node.inputs[1]))) + "; e += blockDim.x) T[" +
                 num(aux_[n]) + " + e] = -YR_INF;");
    }
  }

  void emit_accum_step(std::size_t n) {
    const BlockNode& node = nodes()[n];
    const Shape& shape = node.outputs[0].shape;
    const std::string x = tile(node.inputs[0]);
    code_.line("// accumulate " + std::string(ir::accum_name(node.accum)) + " into node " +
               num(static_cast<int64_t>(n)));
    code_.open("");
    open_tile_loop(core::shape_numel(shape));
    switch (node.accum) {
      case AccumKind::Sum:
      case AccumKind::Mean:
        code_.line(tile(n) + "[e] += " + x + "[e];");
        break;
      case AccumKind::Rms:
        code_.line(tile(n) + "[e] += " + x + "[e] * " + x + "[e];");
        break;
      case AccumKind::Max:
        code_.line(tile(n) + "[e] = fmaxf(" + tile(n) + "[e], " + x + "[e]);");
        break;
      case AccumKind::RescaledSum: {
        const Shape& m = shape_of(node.inputs[1]);
        coordinates(shape, "e");
        const std::string j = broadcast_offset(m, shape);
        const std::string running = "T[" + num(aux_[n]) + " + (" + j + ")]";
        code_.line("const float old_max = " + running + ", mv = " + tile(node.inputs[1]) + "[" + j +
                   "];");
        code_.line("const float new_max = fmaxf(old_max, mv);");
        code_.line("const float keep = old_max == -YR_INF ? 0.0f : expf(old_max - new_max);");
        code_.line("const float add = mv == -YR_INF ? 0.0f : expf(mv - new_max);");
        code_.line(tile(n) + "[e] = " + tile(n) + "[e] * keep + " + x + "[e] * add;");
        close_tile_loop();
        const int64_t count = core::shape_numel(m);
        code_.line("for (int e = threadIdx.x; e < " + num(count) + "; e += blockDim.x) T[" +
                   num(aux_[n]) + " + e] = fmaxf(T[" + num(aux_[n]) + " + e], " +
                   tile(node.inputs[1]) + "[e]);");
        code_.line("__syncthreads();");
        code_.close();
        return;
      }
    }
    close_tile_loop();
    code_.close();
  }

  void emit_accum_finish(std::size_t n) {
    const BlockNode& node = nodes()[n];
    const std::string f = float_literal(static_cast<double>(g_.forloop_range()));
    const std::string count = num(core::shape_numel(node.outputs[0].shape));
    if (node.accum == AccumKind::Mean) {
      code_.line("for (int e = threadIdx.x; e < " + count + "; e += blockDim.x) " + tile(n) +
                 "[e] /= " + f + ";");
    } else if (node.accum == AccumKind::Rms) {
      code_.line("for (int e = threadIdx.x; e < " + count + "; e += blockDim.x) " + tile(n) +
                 "[e] = sqrtf(" + tile(n) + "[e] / " + f + ");");
    }
    code_.line("__syncthreads();");
  }

  void emit_output(std::size_t k) {
    const ir::BlockOutput& output = g_.outputs()[k];
    const Shape& box = shape_of(output.tile);
    const auto strides = core::contiguous_strides(output.dtensor.shape);
    std::string base = "0LL";
    const char* axis_names[3] = {"blockIdx.x", "blockIdx.y", "blockIdx.z"};
    for (int axis = 0; axis < 3; ++axis) {
      const int dim = output.output_map[axis];
      if (dim >= 0)
        base += std::string(" + (long long)") + axis_names[axis] + " * " +
                lnum(box[dim] * strides[dim]);
    }
    code_.open("");
    code_.line("const long long base = " + base + ";");
    code_.open("for (int e = threadIdx.x; e < " + num(core::shape_numel(box)) +
               "; e += blockDim.x)");
    coordinates(box, "e");
    std::string offset = "base";
    for (std::size_t d = 0; d < box.size(); ++d)
      offset += " + (long long)c" + num(static_cast<int64_t>(d)) + " * " + lnum(strides[d]);
    code_.line("yr_store_" + dtype_tag(output.dtensor.dtype) + "(out" +
               num(static_cast<int64_t>(k)) + ", " + offset + ", " + tile(output.tile) + "[e]);");
    code_.close();
    code_.close();
  }

  const ir::BlockGraph& g_;
  CodeWriter code_;
  std::vector<std::vector<int64_t>> offsets_;
  std::vector<int64_t> aux_;
  int64_t total_ = 0;
};

}  // namespace

BlockKernel generate_block_kernel(const ir::BlockGraph& graph, int shared_limit) {
  graph.check_complete();
  if (auto kernel = try_generate_attention_kernel(graph, shared_limit)) return *kernel;
  if (auto kernel = try_generate_matmul_kernel(graph, shared_limit)) return *kernel;
  if (auto kernel = try_generate_elementwise_kernel(graph)) return *kernel;
  return Emitter(graph).generate(shared_limit);
}

}  // namespace yirage::backend::cuda
