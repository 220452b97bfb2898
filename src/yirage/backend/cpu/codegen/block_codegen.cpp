#include "yirage/backend/cpu/codegen/block_codegen.h"

#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "yirage/backend/cpu/codegen/code_writer.h"
#include "yirage/backend/cpu/codegen/prelude.h"
#include "yirage/core/error.h"

namespace yirage::backend::cpu::codegen {

namespace {

using core::DType;
using core::Shape;
using ir::AccumKind;
using ir::BlockGraph;
using ir::BlockNode;
using ir::BlockNodeKind;
using ir::OpCategory;
using ir::OpKind;
using ir::Phase;

constexpr const char* kAxisVars[] = {"bx", "by", "bz"};
constexpr int64_t kSlotAlignment = 16;  // floats: 64 bytes

std::string str(int64_t value) {
  return std::to_string(value);
}

// A float literal that reads back as float(value).
std::string float_literal(double value) {
  const auto f = static_cast<float>(value);
  if (std::isnan(f)) return "std::numeric_limits<float>::quiet_NaN()";
  if (std::isinf(f)) {
    return f > 0 ? "std::numeric_limits<float>::infinity()"
                 : "-std::numeric_limits<float>::infinity()";
  }
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.9g", static_cast<double>(f));
  std::string text = buffer;
  if (text.find_first_of(".eEn") == std::string::npos) text += ".0";
  return text + "f";
}

int64_t extent_product(const Shape& shape, std::size_t begin, std::size_t end) {
  int64_t product = 1;
  for (std::size_t i = begin; i < end; ++i) product *= shape[i];
  return product;
}

int64_t numel(const Shape& shape) {
  return extent_product(shape, 0, shape.size());
}

std::vector<int64_t> contiguous(const Shape& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (int64_t d = static_cast<int64_t>(shape.size()) - 2; d >= 0; --d)
    strides[d] = strides[d + 1] * shape[d + 1];
  return strides;
}

// Element strides of `shape` broadcast (NumPy rules) to `target`; 0 on broadcast dims.
std::vector<int64_t> broadcast_strides(const Shape& shape, const Shape& target) {
  std::vector<int64_t> strides(target.size(), 0);
  const auto own = contiguous(shape);
  const std::size_t skip = target.size() - shape.size();
  for (std::size_t i = 0; i < shape.size(); ++i) strides[skip + i] = shape[i] == 1 ? 0 : own[i];
  return strides;
}

// sum_d vars[d] * strides[d] as C++ text ("0" when every stride is 0).
std::string linear(const std::vector<std::string>& vars, const std::vector<int64_t>& strides) {
  std::string text;
  for (std::size_t d = 0; d < strides.size(); ++d) {
    if (strides[d] == 0) continue;
    if (!text.empty()) text += " + ";
    text += strides[d] == 1 ? vars[d] : vars[d] + std::string(" * ") + str(strides[d]);
  }
  return text.empty() ? "0" : text;
}

const char* storage_type(DType dtype) {
  switch (dtype) {
    case DType::F32:
      return "float";
    case DType::F16:
    case DType::BF16:
      return "uint16_t";
    case DType::I32:
      return "int32_t";
    case DType::I64:
      return "int64_t";
  }
  YR_INTERNAL_CHECK(false, "unhandled dtype " << static_cast<int>(dtype));
}

std::string load_expr(DType dtype, const std::string& value) {
  switch (dtype) {
    case DType::F32:
      return value;
    case DType::F16:
      return std::string("yr_f16_to_f32(") + value + ")";
    case DType::BF16:
      return std::string("yr_bf16_to_f32(") + value + ")";
    case DType::I32:
    case DType::I64:
      return std::string("static_cast<float>(") + value + ")";
  }
  YR_INTERNAL_CHECK(false, "unhandled dtype " << static_cast<int>(dtype));
}

std::string store_expr(DType dtype, const std::string& value) {
  switch (dtype) {
    case DType::F32:
      return value;
    case DType::F16:
      return std::string("yr_f32_to_f16(") + value + ")";
    case DType::BF16:
      return std::string("yr_f32_to_bf16(") + value + ")";
    case DType::I32:
      return std::string("yr_f32_to_i32(") + value + ")";
    case DType::I64:
      return std::string("yr_f32_to_i64(") + value + ")";
  }
  YR_INTERNAL_CHECK(false, "unhandled dtype " << static_cast<int>(dtype));
}

// The f32 expression of element-wise unary op `op` applied to `x` (ops.def semantics).
std::string unary_expr(OpKind op, const std::string& x, double scalar) {
  const std::string p = std::string("(") + x + ")";
  switch (op) {
    case OpKind::Exp:
      return std::string("std::exp(") + x + ")";
    case OpKind::Silu:
      return std::string("(") + p + std::string(" / (1.0f + std::exp(-") + p + ")))";
    case OpKind::Gelu:
      return std::string("(0.5f * ") + p + std::string(" * (1.0f + std::erf(") + p +
             " * 0.707106781f)))";
    case OpKind::Relu:
      return std::string("(") + p + std::string(" > 0.0f ? ") + p + " : 0.0f)";
    case OpKind::Sigmoid:
      return std::string("(1.0f / (1.0f + std::exp(-") + p + ")))";
    case OpKind::Sqrt:
      return std::string("std::sqrt(") + x + ")";
    case OpKind::Rsqrt:
      return std::string("(1.0f / std::sqrt(") + x + "))";
    case OpKind::Square:
      return std::string("(") + p + std::string(" * ") + p + ")";
    case OpKind::Neg:
      return std::string("(-") + p + ")";
    case OpKind::MulScalar:
      return std::string("(") + p + std::string(" * ") + float_literal(scalar) + ")";
    case OpKind::AddScalar:
      return std::string("(") + p + std::string(" + ") + float_literal(scalar) + ")";
    default:
      break;
  }
  YR_INTERNAL_CHECK(false, "no f32 expression for unary op " << ir::op_name(op));
}

// The f32 expression of element-wise binary op `op` (ops.def semantics).
std::string binary_expr(OpKind op, const std::string& x, const std::string& y) {
  switch (op) {
    case OpKind::Add:
      return std::string("(") + x + std::string(" + ") + y + ")";
    case OpKind::Sub:
      return std::string("(") + x + std::string(" - ") + y + ")";
    case OpKind::Mul:
      return std::string("(") + x + std::string(" * ") + y + ")";
    case OpKind::Div:
      return std::string("(") + x + std::string(" / ") + y + ")";
    case OpKind::Pow:
      return std::string("std::pow(") + x + std::string(", ") + y + ")";
    default:
      break;
  }
  YR_INTERNAL_CHECK(false, "no f32 expression for binary op " << ir::op_name(op));
}

bool is_elementwise(const BlockNode& node) {
  if (node.kind != BlockNodeKind::Op) return false;
  const OpCategory category = ir::op_info(node.op).category;
  return category == OpCategory::Unary || category == OpCategory::Binary;
}

// Where a computed value goes: a tile buffer (assigned) or an accumulator (folded in).
struct Dest {
  std::string buffer;
  bool accumulate = false;
  AccumKind accum = AccumKind::Sum;
};

class Generator {
 public:
  explicit Generator(const BlockGraph& graph) : g_(graph), nodes_(graph.nodes()) {}

  std::string run() {
    g_.check_complete();
    analyse();
    plan_buffers();
    w_.comment("Fused block kernel generated by yirage from a block graph: grid (" +
               str(g_.grid_dims()[0]) + std::string(", ") + str(g_.grid_dims()[1]) + ", " +
               str(g_.grid_dims()[2]) + std::string("), for-loop range ") +
               str(g_.forloop_range()) + ".");
    w_.raw(prelude());
    w_.blank();
    emit_entry();
    return w_.str();
  }

 private:
  const BlockNode& node(int32_t n) const { return nodes_[n]; }
  const Shape& shape(int32_t n) const { return nodes_[n].outputs[0].shape; }
  std::string buf(int32_t n) const { return std::string("t") + str(n); }

  void analyse() {
    const auto count = nodes_.size();
    uses_.assign(count, 0);
    consumer_.assign(count, -1);
    is_output_.assign(count, false);
    inlined_.assign(count, false);
    into_accum_.assign(count, -1);
    for (std::size_t n = 0; n < count; ++n) {
      for (const auto& ref : nodes_[n].inputs) {
        YR_INTERNAL_CHECK(ref.output == 0, "block ops have one output; got output " << ref.output);
        ++uses_[ref.node];
        consumer_[ref.node] = static_cast<int>(n);
      }
    }
    for (const auto& output : g_.outputs()) {
      ++uses_[output.tile.node];
      is_output_[output.tile.node] = true;
    }
    for (std::size_t n = 0; n < count; ++n) {
      const BlockNode& producer = nodes_[n];
      if (uses_[n] != 1 || is_output_[n] || consumer_[n] < 0) continue;
      const BlockNode& user = nodes_[consumer_[n]];
      if (is_elementwise(producer) && is_elementwise(user) && producer.phase == user.phase &&
          producer.outputs[0].shape == user.outputs[0].shape) {
        inlined_[n] = true;
        continue;
      }
      const bool matmul = producer.kind == BlockNodeKind::Op && producer.op == OpKind::Matmul;
      if ((matmul || is_elementwise(producer)) && user.kind == BlockNodeKind::Accumulate &&
          user.inputs.size() == 1 && producer.phase == Phase::Loop) {
        const bool sum_like = user.accum == AccumKind::Sum || user.accum == AccumKind::Mean;
        if (sum_like || (!matmul && (user.accum == AccumKind::Rms || user.accum == AccumKind::Max)))
          into_accum_[n] = consumer_[n];
      }
    }
  }

  int64_t slot(int64_t floats) {
    const int64_t at = arena_;
    arena_ += (floats + kSlotAlignment - 1) / kSlotAlignment * kSlotAlignment;
    return at;
  }

  void plan_buffers() {
    offset_.assign(nodes_.size(), -1);
    scratch_.assign(nodes_.size(), -1);
    for (std::size_t n = 0; n < nodes_.size(); ++n) {
      if (inlined_[n] || into_accum_[n] >= 0) continue;
      offset_[n] = slot(numel(nodes_[n].outputs[0].shape));
      if (nodes_[n].kind == BlockNodeKind::Accumulate &&
          nodes_[n].accum == AccumKind::RescaledSum) {
        // running max, then the old and new rescale factors, each of the max operand's shape
        const int64_t m = numel(shape(nodes_[n].inputs[1].node));
        scratch_[n] = slot(m);
        slot(m);
        slot(m);
      }
    }
  }

  void emit_entry() {
    w_.line(std::string("extern \"C\" void ") + kBlockEntryPoint +
            "(const void* const* inputs, void* const* outputs, int64_t first_block,");
    auto entry = w_.block("                             int64_t last_block)");
    for (std::size_t k = 0; k < g_.inputs().size(); ++k) {
      const std::string type = storage_type(g_.inputs()[k].dtensor.dtype);
      w_.declare(std::string("const ") + type + "* __restrict",
                 std::string("in") + str(static_cast<int64_t>(k)),
                 std::string("static_cast<const ") + type + std::string("*>(inputs[") +
                     str(static_cast<int64_t>(k)) + "])");
    }
    for (std::size_t k = 0; k < g_.outputs().size(); ++k) {
      const std::string type = storage_type(g_.outputs()[k].dtensor.dtype);
      w_.declare(type + "* __restrict", std::string("out") + str(static_cast<int64_t>(k)),
                 std::string("static_cast<") + type + std::string("*>(outputs[") +
                     str(static_cast<int64_t>(k)) + "])");
    }
    w_.comment("Every tile and accumulator of a block, f32, 64-byte aligned slots.");
    w_.declare("float* const", "arena",
               std::string("static_cast<float*>(std::aligned_alloc(64, ") +
                   str(std::max<int64_t>(arena_, 16)) + " * sizeof(float)))");
    for (std::size_t n = 0; n < nodes_.size(); ++n) {
      const auto id = static_cast<int32_t>(n);
      if (offset_[n] >= 0) {
        w_.declare("float* __restrict const", buf(id), std::string("arena + ") + str(offset_[n]));
      }
      if (scratch_[n] >= 0) {
        const int64_t m = numel(shape(nodes_[n].inputs[1].node));
        const int64_t step = (m + kSlotAlignment - 1) / kSlotAlignment * kSlotAlignment;
        w_.declare("float* __restrict const", std::string("run") + str(id),
                   std::string("arena + ") + str(scratch_[n]));
        w_.declare("float* __restrict const", std::string("old") + str(id),
                   std::string("arena + ") + str(scratch_[n] + step));
        w_.declare("float* __restrict const", std::string("new") + str(id),
                   std::string("arena + ") + str(scratch_[n] + 2 * step));
      }
    }
    const auto& grid = g_.grid_dims();
    {
      auto blocks = w_.for_loop("block", "first_block", "last_block");
      w_.declare("const int64_t", "bx", std::string("block % ") + str(grid[0]));
      w_.declare("const int64_t", "by",
                 std::string("(block / ") + str(grid[0]) + std::string(") % ") + str(grid[1]));
      w_.declare("const int64_t", "bz", std::string("block / ") + str(grid[0] * grid[1]));
      w_.statement("(void)bx");
      w_.statement("(void)by");
      w_.statement("(void)bz");
      emit_phase(Phase::Invariant, "0");
      emit_accumulator_init();
      {
        auto loop = w_.for_loop("it", g_.forloop_range());
        emit_phase(Phase::Loop, "it");
        emit_accumulator_steps();
      }
      emit_accumulator_finish();
      emit_phase(Phase::AfterLoop, "0");
      emit_outputs();
    }
    w_.statement("std::free(arena)");
  }

  void emit_phase(Phase phase, const std::string& iteration) {
    for (std::size_t n = 0; n < nodes_.size(); ++n) {
      const auto id = static_cast<int32_t>(n);
      const BlockNode& current = nodes_[n];
      if (current.phase != phase) continue;
      switch (current.kind) {
        case BlockNodeKind::Input:
          emit_input(id, iteration);
          break;
        case BlockNodeKind::ReduceToDimx:
          emit_reduce_to_dimx(id);
          break;
        case BlockNodeKind::Op:
          if (!inlined_[n]) emit_op(id);
          break;
        case BlockNodeKind::Accumulate:
          break;
      }
    }
  }

  Dest dest_of(int32_t n) const {
    if (into_accum_[n] >= 0) return {buf(into_accum_[n]), true, nodes_[into_accum_[n]].accum};
    return {buf(n), false, AccumKind::Sum};
  }

  // Writes `value` (an f32 expression) into dest[index].
  void store(const Dest& dest, const std::string& index, const std::string& value) {
    const std::string target = dest.buffer + std::string("[") + index + "]";
    if (!dest.accumulate) {
      w_.statement(target + std::string(" = ") + value);
      return;
    }
    switch (dest.accum) {
      case AccumKind::Sum:
      case AccumKind::Mean:
        w_.statement(target + std::string(" += ") + value);
        return;
      case AccumKind::Rms:
        w_.declare("const float", "v", value);
        w_.statement(target + " += v * v");
        return;
      case AccumKind::Max:
        w_.declare("const float", "v", value);
        w_.statement(target + std::string(" = ") + target + std::string(" < v ? v : ") + target);
        return;
      case AccumKind::RescaledSum:
        break;
    }
    YR_INTERNAL_CHECK(false, "no fused store for accumulator " << ir::accum_name(dest.accum));
  }

  // Copies a box of `box` extents at `offsets` between a global tensor of `global` extents and a
  // contiguous f32 tile; rows that are contiguous in both are merged into one inner loop.
  void emit_box_copy(bool load, const std::string& global_ptr, DType dtype, const Shape& global,
                     const Shape& box, const std::vector<std::string>& offsets,
                     const std::string& tile) {
    auto copy = w_.scope();
    const auto rank = static_cast<int64_t>(box.size());
    if (rank == 0) {
      if (load) {
        w_.statement(tile + std::string("[0] = ") + load_expr(dtype, global_ptr + "[0]"));
      } else {
        w_.statement(global_ptr + std::string("[0] = ") + store_expr(dtype, tile + "[0]"));
      }
      return;
    }
    const auto strides = contiguous(global);
    int64_t d = rank - 1, run = box[rank - 1];
    while (d > 0 && box[d] == global[d]) {
      --d;
      run *= box[d];
    }
    std::string base;
    for (int64_t i = 0; i <= d; ++i) {
      if (offsets[i] == "0") continue;
      if (!base.empty()) base += " + ";
      base += std::string("(") + offsets[i] + std::string(") * ") + str(strides[i]);
    }
    w_.declare("const int64_t", "base", base.empty() ? "0" : base);
    std::vector<std::string> vars;
    std::vector<CodeWriter::Scope> loops;
    std::vector<int64_t> outer_strides, tile_strides;
    int64_t tile_stride = run;
    for (int64_t i = d - 1; i >= 0; --i) {
      tile_strides.insert(tile_strides.begin(), tile_stride);
      tile_stride *= box[i];
    }
    for (int64_t i = 0; i < d; ++i) {
      vars.push_back(std::string("c") + str(i));
      outer_strides.push_back(strides[i]);
      loops.push_back(w_.for_loop(vars.back(), box[i]));
    }
    const std::string g_row = global_ptr + std::string(" + base + ") + linear(vars, outer_strides);
    const std::string t_row = tile + std::string(" + ") + linear(vars, tile_strides);
    if (load) {
      w_.declare(std::string("const ") + std::string(storage_type(dtype)) + "* __restrict", "src",
                 g_row);
      w_.declare("float* __restrict", "dst", t_row);
      w_.line("#pragma omp simd");
      auto inner = w_.for_loop("c", run);
      w_.statement(std::string("dst[c] = ") + load_expr(dtype, "src[c]"));
    } else {
      w_.declare("const float* __restrict", "src", t_row);
      w_.declare(std::string(storage_type(dtype)) + "* __restrict", "dst", g_row);
      w_.line("#pragma omp simd");
      auto inner = w_.for_loop("c", run);
      w_.statement(std::string("dst[c] = ") + store_expr(dtype, "src[c]"));
    }
    while (!loops.empty()) loops.pop_back();
  }

  void emit_input(int32_t n, const std::string& iteration) {
    const auto& input = g_.inputs()[node(n).input_index];
    const Shape& box = shape(n);
    std::vector<std::string> offsets(box.size(), "0");
    for (int axis = 0; axis < 3; ++axis) {
      const int dim = input.input_map[axis];
      if (dim < 0) continue;
      const int64_t part = input.dtensor.shape[dim] / g_.grid_dims()[axis];
      offsets[dim] = std::string(kAxisVars[axis]) + std::string(" * ") + str(part);
    }
    if (input.forloop_dim >= 0 && iteration != "0") {
      std::string& offset = offsets[input.forloop_dim];
      const std::string term = iteration + std::string(" * ") + str(box[input.forloop_dim]);
      offset = offset == "0" ? term : offset + std::string(" + ") + term;
    }
    w_.comment(std::string("input ") + str(node(n).input_index) + std::string(": tile ") +
               node(n).outputs[0].to_string());
    emit_box_copy(true, std::string("in") + str(node(n).input_index), input.dtensor.dtype,
                  input.dtensor.shape, box, offsets, buf(n));
  }

  void emit_outputs() {
    for (std::size_t k = 0; k < g_.outputs().size(); ++k) {
      const auto& output = g_.outputs()[k];
      const Shape& tile = shape(output.tile.node);
      std::vector<std::string> offsets(tile.size(), "0");
      for (int axis = 0; axis < 3; ++axis) {
        const int dim = output.output_map[axis];
        if (dim >= 0)
          offsets[dim] = std::string(kAxisVars[axis]) + std::string(" * ") + str(tile[dim]);
      }
      w_.comment(std::string("output ") + str(static_cast<int64_t>(k)) + std::string(": ") +
                 output.dtensor.to_string());
      emit_box_copy(false, std::string("out") + str(static_cast<int64_t>(k)), output.dtensor.dtype,
                    output.dtensor.shape, tile, offsets, buf(output.tile.node));
    }
  }

  void emit_op(int32_t n) {
    const BlockNode& current = node(n);
    w_.comment(std::string("%") + str(n) + std::string(" = ") +
               std::string(ir::op_name(current.op)) + " -> " + current.outputs[0].to_string());
    if (is_elementwise(current)) {
      emit_elementwise(n);
      return;
    }
    switch (current.op) {
      case OpKind::Matmul:
        emit_matmul(n);
        return;
      case OpKind::Sum:
      case OpKind::Max:
      case OpKind::Mean:
        emit_reduce(n);
        return;
      case OpKind::RmsNorm:
        emit_rms_norm(n);
        return;
      case OpKind::Softmax:
        emit_softmax(n);
        return;
      case OpKind::Concat:
        emit_concat(n);
        return;
      case OpKind::Transpose:
        emit_transpose(n);
        return;
      default:
        break;
    }
    YR_INTERNAL_CHECK(
        false, "the cpu code generator has no kernel for block op " << ir::op_name(current.op));
  }

  // The expression of node n over leaf accesses given by `leaf(node)`.
  std::string expression(int32_t n, const std::function<std::string(int32_t)>& leaf) const {
    const BlockNode& current = node(n);
    auto operand = [&](std::size_t i) {
      const int32_t source = current.inputs[i].node;
      return inlined_[source] ? expression(source, leaf) : leaf(source);
    };
    if (ir::op_info(current.op).category == OpCategory::Unary) {
      const double scalar = current.attrs.has("scalar") ? current.attrs.get_float("scalar") : 0.0;
      return unary_expr(current.op, operand(0), scalar);
    }
    return binary_expr(current.op, operand(0), operand(1));
  }

  void collect_leaves(int32_t n, std::vector<int32_t>& leaves) const {
    for (const auto& ref : node(n).inputs) {
      if (inlined_[ref.node]) {
        collect_leaves(ref.node, leaves);
      } else {
        leaves.push_back(ref.node);
      }
    }
  }

  void emit_elementwise(int32_t n) {
    const Shape& out = shape(n);
    const Dest dest = dest_of(n);
    std::vector<int32_t> leaves;
    collect_leaves(n, leaves);
    bool flat = true;
    for (int32_t leaf : leaves) flat = flat && (shape(leaf) == out || numel(shape(leaf)) == 1);
    auto scope = w_.scope();
    if (flat) {
      auto leaf = [&](int32_t l) { return buf(l) + (numel(shape(l)) == 1 ? "[0]" : "[i]"); };
      w_.line("#pragma omp simd");
      auto loop = w_.for_loop("i", numel(out));
      store(dest, "i", expression(n, leaf));
      return;
    }
    std::vector<std::string> vars;
    std::vector<CodeWriter::Scope> loops;
    for (std::size_t d = 0; d < out.size(); ++d) {
      vars.push_back(std::string("i") + str(static_cast<int64_t>(d)));
      if (d + 1 == out.size()) w_.line("#pragma omp simd");
      loops.push_back(w_.for_loop(vars.back(), out[d]));
    }
    auto leaf = [&](int32_t l) {
      return buf(l) + std::string("[") + linear(vars, broadcast_strides(shape(l), out)) + "]";
    };
    store(dest, linear(vars, contiguous(out)), expression(n, leaf));
    while (!loops.empty()) loops.pop_back();
  }

  void emit_matmul(int32_t n) {
    const BlockNode& current = node(n);
    const Shape& out = shape(n);
    const Shape& a = shape(current.inputs[0].node);
    const Shape& b = shape(current.inputs[1].node);
    const std::size_t rank = out.size();
    const int64_t m = out[rank - 2], cols = out[rank - 1], k = a.back();
    const Shape batch(out.begin(), out.end() - 2);
    auto a_strides = broadcast_strides({a.begin(), a.end() - 2}, batch);
    auto b_strides = broadcast_strides({b.begin(), b.end() - 2}, batch);
    auto c_strides = contiguous(batch);
    for (auto& s : a_strides) s *= m * k;
    for (auto& s : b_strides) s *= k * cols;
    for (auto& s : c_strides) s *= m * cols;
    const Dest dest = dest_of(n);
    auto scope = w_.scope();
    std::vector<std::string> vars;
    std::vector<CodeWriter::Scope> loops;
    for (std::size_t d = 0; d < batch.size(); ++d) {
      vars.push_back(std::string("b") + str(static_cast<int64_t>(d)));
      loops.push_back(w_.for_loop(vars.back(), batch[d]));
    }
    w_.statement(std::string("yr_matmul<") + str(m) + std::string(", ") + str(cols) +
                 std::string(", ") + str(k) + ", " + (dest.accumulate ? "true" : "false") +
                 std::string(">(") + buf(current.inputs[0].node) + std::string(" + ") +
                 linear(vars, a_strides) + std::string(", ") + buf(current.inputs[1].node) + " + " +
                 linear(vars, b_strides) + std::string(", ") + dest.buffer + std::string(" + ") +
                 linear(vars, c_strides) + ")");
    while (!loops.empty()) loops.pop_back();
  }

  void emit_reduce(int32_t n) {
    const BlockNode& current = node(n);
    const Shape& x = shape(current.inputs[0].node);
    const auto dim = static_cast<std::size_t>(current.attrs.get_int("dim"));
    const int64_t outer = extent_product(x, 0, dim), extent = x[dim];
    const int64_t inner = extent_product(x, dim + 1, x.size());
    const std::string in = buf(current.inputs[0].node), out = buf(n);
    const bool is_max = current.op == OpKind::Max;
    const std::string init = is_max ? "-std::numeric_limits<float>::infinity()" : "0.0f";
    auto scope = w_.scope();
    auto o = w_.for_loop("o", outer);
    if (inner == 1) {
      w_.declare("float", "acc", init);
      w_.declare("const float* __restrict", "row", in + std::string(" + o * ") + str(extent));
      if (!is_max) w_.line("#pragma omp simd reduction(+ : acc)");
      {
        auto k = w_.for_loop("k", extent);
        w_.statement(is_max ? "acc = acc < row[k] ? row[k] : acc" : "acc += row[k]");
      }
      w_.statement(
          out + "[o] = " +
          (current.op == OpKind::Mean ? std::string("acc / ") + float_literal(extent) : "acc"));
      return;
    }
    w_.declare("float* __restrict", "dst", out + std::string(" + o * ") + str(inner));
    {
      auto i = w_.for_loop("i", inner);
      w_.statement(std::string("dst[i] = ") + init);
    }
    {
      auto k = w_.for_loop("k", extent);
      w_.declare("const float* __restrict", "row",
                 in + std::string(" + (o * ") + str(extent) + std::string(" + k) * ") + str(inner));
      w_.line("#pragma omp simd");
      auto i = w_.for_loop("i", inner);
      w_.statement(is_max ? "dst[i] = dst[i] < row[i] ? row[i] : dst[i]" : "dst[i] += row[i]");
    }
    if (current.op == OpKind::Mean) {
      auto i = w_.for_loop("i", inner);
      w_.statement(std::string("dst[i] /= ") + float_literal(extent));
    }
  }

  void emit_rms_norm(int32_t n) {
    const BlockNode& current = node(n);
    const Shape& x = shape(n);
    const int64_t d = x.back(), rows = numel(x) / d;
    const std::string in = buf(current.inputs[0].node), weight = buf(current.inputs[1].node);
    auto scope = w_.scope();
    auto r = w_.for_loop("r", rows);
    w_.declare("const float* __restrict", "row", in + std::string(" + r * ") + str(d));
    w_.declare("float* __restrict", "dst", buf(n) + std::string(" + r * ") + str(d));
    w_.declare("float", "squares", "0.0f");
    w_.line("#pragma omp simd reduction(+ : squares)");
    {
      auto i = w_.for_loop("i", d);
      w_.statement("squares += row[i] * row[i]");
    }
    w_.declare("const float", "scale",
               std::string("1.0f / std::sqrt(squares / ") + float_literal(d) + " + " +
                   float_literal(current.attrs.get_float("eps")) + ")");
    w_.line("#pragma omp simd");
    auto i = w_.for_loop("i", d);
    w_.statement(std::string("dst[i] = row[i] * scale * ") + weight + "[i]");
  }

  void emit_softmax(int32_t n) {
    const BlockNode& current = node(n);
    const Shape& x = shape(n);
    const auto dim = static_cast<std::size_t>(current.attrs.get_int("dim"));
    const int64_t outer = extent_product(x, 0, dim), extent = x[dim];
    const int64_t inner = extent_product(x, dim + 1, x.size());
    const std::string in = buf(current.inputs[0].node), out = buf(n);
    auto scope = w_.scope();
    auto o = w_.for_loop("o", outer);
    auto i = w_.for_loop("i", inner);
    const std::string at =
        std::string("(o * ") + str(extent) + std::string(" + k) * ") + str(inner) + " + i";
    w_.declare("float", "peak", "-std::numeric_limits<float>::infinity()");
    {
      auto k = w_.for_loop("k", extent);
      w_.statement(std::string("peak = ") + in + std::string("[") + at +
                   std::string("] > peak ? ") + in + std::string("[") + at + "] : peak");
    }
    w_.declare("float", "total", "0.0f");
    {
      auto k = w_.for_loop("k", extent);
      w_.statement(out + std::string("[") + at + std::string("] = std::exp(") + in +
                   std::string("[") + at + "] - peak)");
      w_.statement(std::string("total += ") + out + std::string("[") + at + "]");
    }
    auto k = w_.for_loop("k", extent);
    w_.statement(out + std::string("[") + at + "] /= total");
  }

  void emit_concat(int32_t n) {
    const BlockNode& current = node(n);
    const Shape& out = shape(n);
    const auto dim = static_cast<std::size_t>(current.attrs.get_int("dim"));
    const int64_t outer = extent_product(out, 0, dim);
    const int64_t inner = extent_product(out, dim + 1, out.size());
    int64_t start = 0;
    for (const auto& ref : current.inputs) {
      const int64_t extent = shape(ref.node)[dim];
      auto scope = w_.scope();
      auto o = w_.for_loop("o", outer);
      w_.statement(std::string("std::memcpy(") + buf(n) + std::string(" + (o * ") + str(out[dim]) +
                   std::string(" + ") + str(start) + std::string(") * ") + str(inner) +
                   std::string(", ") + buf(ref.node) + std::string(" + o * ") +
                   str(extent * inner) + std::string(", ") + str(extent * inner) +
                   " * sizeof(float))");
      start += extent;
    }
  }

  void emit_transpose(int32_t n) {
    const BlockNode& current = node(n);
    const Shape& out = shape(n);
    const auto dim0 = static_cast<std::size_t>(current.attrs.get_int("dim0"));
    const auto dim1 = static_cast<std::size_t>(current.attrs.get_int("dim1"));
    auto strides = contiguous(shape(current.inputs[0].node));
    std::swap(strides[dim0], strides[dim1]);
    auto scope = w_.scope();
    std::vector<std::string> vars;
    std::vector<CodeWriter::Scope> loops;
    for (std::size_t d = 0; d < out.size(); ++d) {
      vars.push_back(std::string("i") + str(static_cast<int64_t>(d)));
      loops.push_back(w_.for_loop(vars.back(), out[d]));
    }
    w_.statement(buf(n) + std::string("[") + linear(vars, contiguous(out)) + "] = " +
                 buf(current.inputs[0].node) + std::string("[") + linear(vars, strides) + "]");
    while (!loops.empty()) loops.pop_back();
  }

  void emit_reduce_to_dimx(int32_t n) {
    const BlockNode& current = node(n);
    const Shape& x = shape(current.inputs[0].node);
    const auto dim = static_cast<std::size_t>(current.attrs.get_int("dim"));
    const int64_t extent = x[dim], dimx = shape(n)[dim], group = extent / dimx;
    const int64_t outer = extent_product(x, 0, dim);
    const int64_t inner = extent_product(x, dim + 1, x.size());
    w_.comment(std::string("%") + str(n) + std::string(" = reduce_to_dimx -> ") +
               node(n).outputs[0].to_string());
    auto scope = w_.scope();
    {
      auto i = w_.for_loop("i", numel(shape(n)));
      w_.statement(buf(n) + "[i] = 0.0f");
    }
    auto o = w_.for_loop("o", outer);
    auto k = w_.for_loop("k", extent);
    w_.line("#pragma omp simd");
    auto i = w_.for_loop("i", inner);
    w_.statement(buf(n) + std::string("[(o * ") + str(dimx) + std::string(" + k / ") + str(group) +
                 std::string(") * ") + str(inner) + std::string(" + i] += ") +
                 buf(current.inputs[0].node) + std::string("[(o * ") + str(extent) + " + k) * " +
                 str(inner) + " + i]");
  }

  void emit_accumulator_init() {
    for (std::size_t n = 0; n < nodes_.size(); ++n) {
      const BlockNode& current = nodes_[n];
      if (current.kind != BlockNodeKind::Accumulate) continue;
      const auto id = static_cast<int32_t>(n);
      const std::string init =
          current.accum == AccumKind::Max ? "-std::numeric_limits<float>::infinity()" : "0.0f";
      w_.comment(std::string("%") + str(id) + std::string(" = forloop_accum(") +
                 std::string(ir::accum_name(current.accum)) + std::string(") -> ") +
                 current.outputs[0].to_string());
      {
        auto i = w_.for_loop("i", numel(shape(id)));
        w_.statement(buf(id) + std::string("[i] = ") + init);
      }
      if (scratch_[n] >= 0) {
        auto j = w_.for_loop("j", numel(shape(current.inputs[1].node)));
        w_.statement(std::string("run") + str(id) +
                     "[j] = -std::numeric_limits<float>::infinity()");
      }
    }
  }

  void emit_accumulator_steps() {
    for (std::size_t n = 0; n < nodes_.size(); ++n) {
      const BlockNode& current = nodes_[n];
      if (current.kind != BlockNodeKind::Accumulate) continue;
      const auto id = static_cast<int32_t>(n);
      const int32_t x = current.inputs[0].node;
      if (into_accum_[x] == id) continue;  // its producer already folded the tile in
      const std::string acc = buf(id), in = buf(x);
      w_.comment(std::string("step of %") + str(id) + std::string(" (") +
                 std::string(ir::accum_name(current.accum)) + ")");
      auto scope = w_.scope();
      const int64_t count = numel(shape(id));
      if (current.accum == AccumKind::RescaledSum) {
        emit_rescaled_step(id);
        continue;
      }
      w_.line("#pragma omp simd");
      auto i = w_.for_loop("i", count);
      switch (current.accum) {
        case AccumKind::Sum:
        case AccumKind::Mean:
          w_.statement(acc + std::string("[i] += ") + in + "[i]");
          break;
        case AccumKind::Rms:
          w_.statement(acc + std::string("[i] += ") + in + std::string("[i] * ") + in + "[i]");
          break;
        case AccumKind::Max:
          w_.statement(acc + std::string("[i] = ") + acc + std::string("[i] < ") + in +
                       std::string("[i] ? ") + in + std::string("[i] : ") + acc + "[i]");
          break;
        case AccumKind::RescaledSum:
          break;
      }
    }
  }

  void emit_rescaled_step(int32_t id) {
    const BlockNode& current = node(id);
    const int32_t x = current.inputs[0].node, m = current.inputs[1].node;
    const std::string s = str(id), acc = buf(id);
    {
      auto j = w_.for_loop("j", numel(shape(m)));
      w_.declare("const float", "previous", std::string("run") + s + "[j]");
      w_.declare("const float", "current", buf(m) + "[j]");
      w_.declare("const float", "peak", "current > previous ? current : previous");
      w_.statement(std::string("run") + s + "[j] = peak");
      w_.statement(std::string("old") + s + "[j] = yr_rescale(previous, peak)");
      w_.statement(std::string("new") + s + "[j] = yr_rescale(current, peak)");
    }
    const Shape& out = shape(id);
    const auto m_strides = broadcast_strides(shape(m), out);
    std::vector<std::string> vars;
    std::vector<CodeWriter::Scope> loops;
    for (std::size_t d = 0; d < out.size(); ++d) {
      vars.push_back(std::string("i") + str(static_cast<int64_t>(d)));
      loops.push_back(w_.for_loop(vars.back(), out[d]));
    }
    const std::string i = linear(vars, contiguous(out)), j = linear(vars, m_strides);
    w_.statement(acc + std::string("[") + i + std::string("] = ") + acc + std::string("[") + i +
                 std::string("] * old") + s + std::string("[") + j + "] + " + buf(x) +
                 std::string("[") + i + std::string("] * new") + s + std::string("[") + j + "]");
    while (!loops.empty()) loops.pop_back();
  }

  void emit_accumulator_finish() {
    const std::string count = float_literal(static_cast<double>(g_.forloop_range()));
    for (std::size_t n = 0; n < nodes_.size(); ++n) {
      const BlockNode& current = nodes_[n];
      if (current.kind != BlockNodeKind::Accumulate) continue;
      if (current.accum != AccumKind::Mean && current.accum != AccumKind::Rms) continue;
      const auto id = static_cast<int32_t>(n);
      w_.line("#pragma omp simd");
      auto i = w_.for_loop("i", numel(shape(id)));
      if (current.accum == AccumKind::Mean) {
        w_.statement(buf(id) + std::string("[i] /= ") + count);
      } else {
        w_.statement(buf(id) + std::string("[i] = std::sqrt(") + buf(id) + std::string("[i] / ") +
                     count + ")");
      }
    }
  }

  const BlockGraph& g_;
  const std::vector<BlockNode>& nodes_;
  CodeWriter w_;
  std::vector<int> uses_;
  std::vector<int> consumer_;
  std::vector<bool> is_output_;
  std::vector<bool> inlined_;
  std::vector<int> into_accum_;
  std::vector<int64_t> offset_;
  std::vector<int64_t> scratch_;
  int64_t arena_ = 0;
};

}  // namespace

std::string generate_block_source(const ir::BlockGraph& graph) {
  return Generator(graph).run();
}

}  // namespace yirage::backend::cpu::codegen
