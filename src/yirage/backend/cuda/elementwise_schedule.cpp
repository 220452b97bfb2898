#include "yirage/backend/cuda/elementwise_schedule.h"

#include <string>
#include <vector>

#include "yirage/backend/cuda/code_writer.h"
#include "yirage/backend/cuda/dependent_launch.h"
#include "yirage/backend/cuda/device_code.h"

namespace yirage::backend::cuda {

namespace {

using core::DType;
using core::Shape;
using ir::BlockNode;
using ir::BlockNodeKind;
using ir::OpKind;

constexpr int64_t kWidth = 8;       // elements a thread owns per vector
constexpr int64_t kMaxVectors = 4;  // vectors a thread owns at most

std::string num(int64_t value) {
  return std::to_string(value);
}
std::string lnum(int64_t value) {
  return std::to_string(value) + "LL";
}

bool is_float(DType dtype) {
  return dtype == DType::F32 || dtype == DType::BF16 || dtype == DType::F16;
}

// Whether `shape` broadcasts to `target` (right-aligned; each dim equal or 1).
bool broadcasts_to(const Shape& shape, const Shape& target) {
  if (shape.size() > target.size()) return false;
  const std::size_t skip = target.size() - shape.size();
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] != 1 && shape[d] != target[d + skip]) return false;
  }
  return true;
}

class Emitter {
 public:
  explicit Emitter(const ir::BlockGraph& graph) : g_(graph) {}

  std::optional<BlockKernel> generate() {
    if (!plan()) return std::nullopt;
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
    code_.open("extern \"C\" __global__ void __launch_bounds__(" + num(threads_) + ") yr_kernel(" +
               params + ")");
    code_.raw(dependent_prologue());
    code_.line("(void)scratch;");
    for (std::size_t n = 0; n < g_.nodes().size(); ++n) {
      const BlockNode& node = g_.nodes()[n];
      code_.line("// node " + num(static_cast<int64_t>(n)));
      code_.line("float " + reg(n) + "[" + num(vectors_) + "][8];");
      code_.open("");
      if (node.kind == BlockNodeKind::Input) {
        emit_input(n);
      } else if (node.op == OpKind::RmsNorm) {
        emit_rms_norm(n);
      } else {
        emit_elementwise(n);
      }
      code_.close();
    }
    for (std::size_t k = 0; k < g_.outputs().size(); ++k) emit_output(k);
    code_.close();

    BlockKernel result;
    result.kernel.source = code_.str();
    const auto& grid = g_.grid_dims();
    result.kernel.grid = {static_cast<unsigned>(grid[0]), static_cast<unsigned>(grid[1]),
                          static_cast<unsigned>(grid[2])};
    result.kernel.block = {static_cast<unsigned>(threads_), 1, 1};
    result.kernel.dependent = true;
    return result;
  }

 private:
  // Checks that the schedule applies and picks the threads and vectors per thread.
  bool plan() {
    if (g_.forloop_range() != 1 || g_.outputs().empty()) return false;
    tile_ = g_.type(g_.outputs()[0].tile).shape;
    if (tile_.empty()) return false;
    width_ = tile_.back();
    const int64_t count = core::shape_numel(tile_);
    if (width_ % kWidth != 0 || count % kWidth != 0) return false;
    const int64_t slots = count / kWidth;
    for (int64_t threads : {512, 1024, 256, 128, 64, 32}) {
      if (slots % threads == 0 && slots / threads <= kMaxVectors) {
        threads_ = threads;
        break;
      }
    }
    if (threads_ == 0) return false;
    vectors_ = slots / threads_;
    const int64_t group = width_ / kWidth;
    if (group > 32 && width_ % (32 * kWidth) != 0) return false;
    if (group <= 32 && (group & (group - 1)) != 0) return false;
    for (const BlockNode& node : g_.nodes()) {
      if (node.outputs.size() != 1 || !broadcasts_to(node.outputs[0].shape, tile_)) return false;
      if (node.kind == BlockNodeKind::Input) {
        const ir::BlockInput& input = g_.inputs()[node.input_index];
        const Shape& box = node.outputs[0].shape;
        if (!is_float(input.dtensor.dtype) || box.empty()) return false;
        if (box.back() != 1 && (box.back() != width_ || input.dtensor.shape.back() % kWidth != 0))
          return false;
        continue;
      }
      if (node.kind != BlockNodeKind::Op) return false;
      const auto category = ir::op_info(node.op).category;
      if (category == ir::OpCategory::Unary || category == ir::OpCategory::Binary) continue;
      if (node.op != OpKind::RmsNorm) return false;
      const Shape& x = g_.type(node.inputs[0]).shape;
      const Shape& w = g_.type(node.inputs[1]).shape;
      if (x.empty() || x.back() != width_ || w.empty() || w.back() != width_ ||
          core::shape_numel(w) != width_)
        return false;
    }
    for (const ir::BlockOutput& output : g_.outputs()) {
      if (g_.type(output.tile).shape != tile_ || !is_float(output.dtensor.dtype) ||
          output.dtensor.shape.back() % kWidth != 0)
        return false;
    }
    return true;
  }

  std::string reg(std::size_t node) const {
    std::string name = num(static_cast<int64_t>(node));
    name.insert(name.begin(), 'r');
    return name;
  }
  std::string reg(ir::TensorRef ref) const { return reg(static_cast<std::size_t>(ref.node)); }

  // Opens the loop over the thread's vectors.
  void open_vectors() {
    code_.line("#pragma unroll");
    code_.open("for (int v = 0; v < " + num(vectors_) + "; ++v)");
  }

  // Declares c0..c{rank-1}: the tile coordinates of the first element of vector v.
  void coordinates() {
    code_.line("int r_ = (v * " + num(threads_) + " + (int)threadIdx.x) * 8;");
    for (int64_t d = static_cast<int64_t>(tile_.size()) - 1; d >= 0; --d) {
      code_.line("const int c" + num(d) + " = r_ % " + num(tile_[d]) + "; r_ /= " + num(tile_[d]) +
                 ";");
    }
    code_.line("(void)r_;");
  }

  // The element offset in a tensor of `whole` shape of the tile position c* of a `box` tile
  // (right-aligned against the schedule's tile, broadcast dims contributing nothing).
  std::string offset(const Shape& box, const Shape& whole) const {
    const auto strides = core::contiguous_strides(whole);
    const std::size_t skip = tile_.size() - box.size();
    std::string text = "base";
    for (std::size_t d = 0; d < box.size(); ++d) {
      if (box[d] != 1)
        text += " + (long long)c" + num(static_cast<int64_t>(d + skip)) + " * " + lnum(strides[d]);
    }
    return text;
  }

  void emit_input(std::size_t n) {
    const BlockNode& node = g_.nodes()[n];
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
    code_.line("const long long base = " + base + ";");
    const std::string in = "in" + num(node.input_index);
    const std::string r = reg(n);
    const DType dtype = input.dtensor.dtype;
    open_vectors();
    coordinates();
    code_.line("const long long at = " + offset(box, whole) + ";");
    if (box.back() == 1) {
      code_.line("const float s = yr_load_" + dtype_tag(dtype) + "(" + in + ", at);");
      code_.line("#pragma unroll");
      code_.line("for (int j = 0; j < 8; ++j) " + r + "[v][j] = s;");
    } else if (dtype == DType::F32) {
      code_.line("const uint4 a = *reinterpret_cast<const uint4*>(" + in + " + at);");
      code_.line("const uint4 b = *reinterpret_cast<const uint4*>(" + in + " + at + 4);");
      code_.line(r + "[v][0] = __uint_as_float(a.x); " + r + "[v][1] = __uint_as_float(a.y); " + r +
                 "[v][2] = __uint_as_float(a.z); " + r + "[v][3] = __uint_as_float(a.w);");
      code_.line(r + "[v][4] = __uint_as_float(b.x); " + r + "[v][5] = __uint_as_float(b.y); " + r +
                 "[v][6] = __uint_as_float(b.z); " + r + "[v][7] = __uint_as_float(b.w);");
    } else {
      const std::string convert = dtype == DType::BF16 ? "yr_bf16_to_f32" : "yr_f16_to_f32";
      code_.line("const uint4 u = *reinterpret_cast<const uint4*>(" + in + " + at);");
      code_.line("const unsigned w[4] = {u.x, u.y, u.z, u.w};");
      code_.line("#pragma unroll");
      code_.open("for (int q = 0; q < 4; ++q)");
      code_.line(r + "[v][2 * q] = " + convert + "((unsigned short)(w[q] & 0xffffu));");
      code_.line(r + "[v][2 * q + 1] = " + convert + "((unsigned short)(w[q] >> 16));");
      code_.close();
    }
    code_.close();
  }

  void emit_elementwise(std::size_t n) {
    const BlockNode& node = g_.nodes()[n];
    open_vectors();
    code_.line("#pragma unroll");
    code_.open("for (int j = 0; j < 8; ++j)");
    code_.line("const float x = " + reg(node.inputs[0]) + "[v][j];");
    if (ir::op_info(node.op).category == ir::OpCategory::Unary) {
      const double s = node.attrs.has("scalar") ? node.attrs.get_float("scalar") : 0.0;
      code_.line(reg(n) + "[v][j] = " + unary_expression(node.op, "x", s) + ";");
    } else {
      code_.line("const float y = " + reg(node.inputs[1]) + "[v][j];");
      code_.line(reg(n) + "[v][j] = " + binary_expression(node.op, "x", "y") + ";");
    }
    code_.close();
    code_.close();
  }

  // Row sums of squares: within the thread's vector, then across the threads sharing the row
  // (shuffles inside a warp; per-warp partials in shared memory for rows spanning warps).
  void emit_rms_norm(std::size_t n) {
    const BlockNode& node = g_.nodes()[n];
    const std::string x = reg(node.inputs[0]), w = reg(node.inputs[1]);
    const int64_t group = width_ / kWidth;
    const std::string part = "yr_part" + num(static_cast<int64_t>(n));
    if (group > 32)
      code_.line("__shared__ float " + part + "[" + num(vectors_ * threads_ / 32) + "];");
    code_.line("float ss[" + num(vectors_) + "];");
    open_vectors();
    code_.line("float s = 0.0f;");
    code_.line("#pragma unroll");
    code_.line("for (int j = 0; j < 8; ++j) s += " + x + "[v][j] * " + x + "[v][j];");
    if (group <= 32) {
      code_.line("#pragma unroll");
      code_.line("for (int o = " + num(group / 2) +
                 "; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);");
      code_.line("ss[v] = s;");
      code_.close();
    } else {
      code_.line("s = yr_warp_sum(s);");
      code_.line("if ((threadIdx.x & 31u) == 0u) " + part + "[(v * " + num(threads_) +
                 " + (int)threadIdx.x) >> 5] = s;");
      code_.close();
      code_.line("__syncthreads();");
      open_vectors();
      const int64_t per_row = group / 32;
      code_.line("const int row = ((v * " + num(threads_) + " + (int)threadIdx.x) * 8) / " +
                 num(width_) + ";");
      code_.line("float s = 0.0f;");
      code_.line("#pragma unroll");
      code_.line("for (int i = 0; i < " + num(per_row) + "; ++i) s += " + part + "[row * " +
                 num(per_row) + " + i];");
      code_.line("ss[v] = s;");
      code_.close();
    }
    open_vectors();
    code_.line("const float inv = rsqrtf(ss[v] / " + float_literal(static_cast<double>(width_)) +
               " + " + float_literal(node.attrs.get_float("eps")) + ");");
    code_.line("#pragma unroll");
    code_.line("for (int j = 0; j < 8; ++j) " + reg(n) + "[v][j] = " + x + "[v][j] * inv * " + w +
               "[v][j];");
    code_.close();
  }

  void emit_output(std::size_t k) {
    const ir::BlockOutput& output = g_.outputs()[k];
    const auto strides = core::contiguous_strides(output.dtensor.shape);
    std::string base = "0LL";
    const char* axis_names[3] = {"blockIdx.x", "blockIdx.y", "blockIdx.z"};
    for (int axis = 0; axis < 3; ++axis) {
      const int dim = output.output_map[axis];
      if (dim >= 0)
        base += std::string(" + (long long)") + axis_names[axis] + " * " +
                lnum(tile_[dim] * strides[dim]);
    }
    const std::string r = reg(output.tile);
    const std::string out = "out" + num(static_cast<int64_t>(k));
    const DType dtype = output.dtensor.dtype;
    code_.line("// output " + num(static_cast<int64_t>(k)));
    code_.open("");
    code_.line("const long long base = " + base + ";");
    open_vectors();
    coordinates();
    code_.line("const long long at = " + offset(tile_, output.dtensor.shape) + ";");
    if (dtype == DType::F32) {
      code_.line("*reinterpret_cast<uint4*>(" + out + " + at) = make_uint4(__float_as_uint(" + r +
                 "[v][0]), __float_as_uint(" + r + "[v][1]), __float_as_uint(" + r +
                 "[v][2]), __float_as_uint(" + r + "[v][3]));");
      code_.line("*reinterpret_cast<uint4*>(" + out + " + at + 4) = make_uint4(__float_as_uint(" +
                 r + "[v][4]), __float_as_uint(" + r + "[v][5]), __float_as_uint(" + r +
                 "[v][6]), __float_as_uint(" + r + "[v][7]));");
    } else {
      const std::string convert = dtype == DType::BF16 ? "yr_f32_to_bf16" : "yr_f32_to_f16";
      code_.line("unsigned w[4];");
      code_.line("#pragma unroll");
      code_.line("for (int q = 0; q < 4; ++q) w[q] = (unsigned)" + convert + "(" + r +
                 "[v][2 * q]) | ((unsigned)" + convert + "(" + r + "[v][2 * q + 1]) << 16);");
      code_.line("*reinterpret_cast<uint4*>(" + out +
                 " + at) = make_uint4(w[0], w[1], w[2], w[3]);");
    }
    code_.close();
    code_.close();
  }

 private:
  const ir::BlockGraph& g_;
  CodeWriter code_;
  Shape tile_;
  int64_t width_ = 0, threads_ = 0, vectors_ = 0;
};

}  // namespace

std::optional<BlockKernel> try_generate_elementwise_kernel(const ir::BlockGraph& graph) {
  return Emitter(graph).generate();
}

}  // namespace yirage::backend::cuda
