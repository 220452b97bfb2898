#include "yirage/backend/cpu/codegen/block_codegen.h"

#include <array>
#include <cmath>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "yirage/backend/cpu/codegen/code_writer.h"
#include "yirage/backend/cpu/codegen/prelude.h"
#include "yirage/core/error.h"

// GCC 12 reports a false -Wrestrict inside std::string for `"literal" + std::string(...)`
// (GCC bug 105329); this file builds source text that way throughout.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
#pragma GCC diagnostic ignored "-Wrestrict"
#endif

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
constexpr int64_t kSlotAlignment = 16;       // floats: 64 bytes
constexpr int64_t kGroupFloats = 64 * 1024;  // private state of a group of blocks: 256 KiB
constexpr int64_t kMaxGroup = 16;            // blocks per group

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
    text += strides[d] == 1 ? vars[d] : vars[d] + " * " + str(strides[d]);
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
      return "yr_f16_to_f32(" + value + ")";
    case DType::BF16:
      return "yr_bf16_to_f32(" + value + ")";
    case DType::I32:
    case DType::I64:
      return "static_cast<float>(" + value + ")";
  }
  YR_INTERNAL_CHECK(false, "unhandled dtype " << static_cast<int>(dtype));
}

std::string store_expr(DType dtype, const std::string& value) {
  switch (dtype) {
    case DType::F32:
      return value;
    case DType::F16:
      return "yr_f32_to_f16(" + value + ")";
    case DType::BF16:
      return "yr_f32_to_bf16(" + value + ")";
    case DType::I32:
      return "yr_f32_to_i32(" + value + ")";
    case DType::I64:
      return "yr_f32_to_i64(" + value + ")";
  }
  YR_INTERNAL_CHECK(false, "unhandled dtype " << static_cast<int>(dtype));
}

// The f32 expression of element-wise unary op `op` applied to `x` (ops.def semantics).
std::string unary_expr(OpKind op, const std::string& x, double scalar) {
  const std::string p = "(" + x + ")";
  switch (op) {
    case OpKind::Exp:
      return "yr_exp(" + x + ")";
    case OpKind::Silu:
      return "(" + p + " / (1.0f + yr_exp(-" + p + ")))";
    case OpKind::Gelu:
      return "(0.5f * " + p + " * (1.0f + std::erf(" + p + " * 0.707106781f)))";
    case OpKind::Relu:
      return "(" + p + " > 0.0f ? " + p + " : 0.0f)";
    case OpKind::Sigmoid:
      return "(1.0f / (1.0f + yr_exp(-" + p + ")))";
    case OpKind::Sqrt:
      return "std::sqrt(" + x + ")";
    case OpKind::Rsqrt:
      return "(1.0f / std::sqrt(" + x + "))";
    case OpKind::Square:
      return "(" + p + " * " + p + ")";
    case OpKind::Neg:
      return "(-" + p + ")";
    case OpKind::MulScalar:
      return "(" + p + " * " + float_literal(scalar) + ")";
    case OpKind::AddScalar:
      return "(" + p + " + " + float_literal(scalar) + ")";
    default:
      break;
  }
  YR_INTERNAL_CHECK(false, "no f32 expression for unary op " << ir::op_name(op));
}

// The f32 expression of element-wise binary op `op` (ops.def semantics).
std::string binary_expr(OpKind op, const std::string& x, const std::string& y) {
  switch (op) {
    case OpKind::Add:
      return "(" + x + " + " + y + ")";
    case OpKind::Sub:
      return "(" + x + " - " + y + ")";
    case OpKind::Mul:
      return "(" + x + " * " + y + ")";
    case OpKind::Div:
      return "(" + x + " / " + y + ")";
    case OpKind::Pow:
      return "std::pow(" + x + ", " + y + ")";
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
               str(g_.grid_dims()[0]) + ", " + str(g_.grid_dims()[1]) + ", " +
               str(g_.grid_dims()[2]) + "), for-loop range " + str(g_.forloop_range()) + ".");
    w_.raw(prelude());
    w_.blank();
    emit_entry();
    return w_.str();
  }

 private:
  const BlockNode& node(int32_t n) const { return nodes_[n]; }
  const Shape& shape(int32_t n) const { return nodes_[n].outputs[0].shape; }
  std::string buf(int32_t n) const { return "t" + str(n); }

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
    direct_.assign(count, true);
    for (std::size_t n = 0; n < count; ++n) {
      const BlockNode& current = nodes_[n];
      const bool matmul = current.kind == BlockNodeKind::Op && current.op == OpKind::Matmul;
      for (std::size_t i = 0; i < current.inputs.size(); ++i) {
        if (!matmul || i != 1) direct_[current.inputs[i].node] = false;
      }
    }
    for (std::size_t n = 0; n < count; ++n) {
      const BlockNode& current = nodes_[n];
      const Shape& tile = current.outputs[0].shape;
      direct_[n] = direct_[n] && current.kind == BlockNodeKind::Input && uses_[n] > 0 &&
                   !is_output_[n] && core::dtype_is_float(current.outputs[0].dtype) &&
                   extent_product(tile, 0, tile.size() - 2) == 1;
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

  // A node whose buffer each block of a group keeps to itself: loop-invariant tiles and
  // accumulators live across the for-loop; every other tile is scratch shared by the group.
  bool per_block(std::size_t n) const {
    return nodes_[n].phase == Phase::Invariant || nodes_[n].kind == BlockNodeKind::Accumulate;
  }

  static int64_t padded(int64_t floats) {
    return (floats + kSlotAlignment - 1) / kSlotAlignment * kSlotAlignment;
  }

  int64_t running_max_size(std::size_t n) const {
    return padded(numel(shape(nodes_[n].inputs[1].node)));
  }

  void plan_buffers() {
    offset_.assign(nodes_.size(), -1);
    scratch_.assign(nodes_.size(), -1);
    stride_.assign(nodes_.size(), 0);
    // Blocks run in groups, the for-loop outside the blocks of a group, so that a group's reads
    // of one iteration's tiles are neighbours in memory; the group's private state stays small.
    int64_t private_floats = 0;
    for (std::size_t n = 0; n < nodes_.size(); ++n) {
      if (!has_buffer(n) || !per_block(n)) continue;
      private_floats += padded(numel(nodes_[n].outputs[0].shape));
      if (scratch_needed(n)) private_floats += running_max_size(n);
    }
    group_ = 1;
    if (g_.forloop_range() > 1) {
      const int64_t fit = kGroupFloats / std::max<int64_t>(private_floats, 1);
      group_ = std::clamp<int64_t>(std::min(fit, g_.num_blocks()), 1, kMaxGroup);
    }
    for (std::size_t n = 0; n < nodes_.size(); ++n) {
      if (!has_buffer(n)) continue;
      const int64_t size = padded(numel(nodes_[n].outputs[0].shape));
      if (per_block(n)) {
        stride_[n] = size;
        offset_[n] = slot(size * group_);
      } else {
        offset_[n] = slot(size);
      }
      if (scratch_needed(n)) {
        // the running max (private), then the old and new rescale factors (scratch)
        const int64_t m = running_max_size(n);
        scratch_[n] = slot(m * group_);
        slot(m);
        slot(m);
      }
    }
  }

  bool has_buffer(std::size_t n) const { return !inlined_[n] && into_accum_[n] < 0 && !direct_[n]; }

  bool scratch_needed(std::size_t n) const {
    return nodes_[n].kind == BlockNodeKind::Accumulate && nodes_[n].accum == AccumKind::RescaledSum;
  }

  // Opens the loop over the blocks of the current group and declares the block's coordinates,
  // its private buffers and the tiles it reads in place without a for-loop dim.
  [[nodiscard]] CodeWriter::Scope open_blocks() {
    const auto& grid = g_.grid_dims();
    auto loop = w_.for_loop("s", "0", "count");
    w_.declare("const int64_t", "block", "group + s");
    w_.declare("const int64_t", "bx", "block % " + str(grid[0]));
    w_.declare("const int64_t", "by", "(block / " + str(grid[0]) + ") % " + str(grid[1]));
    w_.declare("const int64_t", "bz", "block / " + str(grid[0] * grid[1]));
    w_.statement("(void)bx");
    w_.statement("(void)by");
    w_.statement("(void)bz");
    for (std::size_t n = 0; n < nodes_.size(); ++n) {
      const auto id = static_cast<int32_t>(n);
      if (offset_[n] >= 0 && per_block(n)) {
        w_.declare("float* __restrict const", buf(id), buf(id) + "_group + s * " + str(stride_[n]));
      }
      if (scratch_[n] >= 0) {
        w_.declare("float* __restrict const", "run" + str(id),
                   "run" + str(id) + "_group + s * " + str(running_max_size(n)));
      }
      if (direct_[n] && nodes_[n].phase == Phase::Invariant) emit_input(id, "0");
    }
    return loop;
  }

  void emit_entry() {
    w_.comment("Blocks per group: ranges of whole groups run best.");
    {
      auto group = w_.block(std::string("extern \"C\" int64_t ") + kBlockGroupSymbol + "()");
      w_.statement("return " + str(group_));
    }
    w_.blank();
    w_.line(std::string("extern \"C\" void ") + kBlockEntryPoint +
            "(const void* const* inputs, void* const* outputs, int64_t first_block,");
    auto entry = w_.block("                             int64_t last_block)");
    for (std::size_t k = 0; k < g_.inputs().size(); ++k) {
      const std::string type = storage_type(g_.inputs()[k].dtensor.dtype);
      w_.declare("const " + type + "* __restrict", "in" + str(static_cast<int64_t>(k)),
                 "static_cast<const " + type + "*>(inputs[" + str(static_cast<int64_t>(k)) + "])");
    }
    for (std::size_t k = 0; k < g_.outputs().size(); ++k) {
      const std::string type = storage_type(g_.outputs()[k].dtensor.dtype);
      w_.declare(type + "* __restrict", "out" + str(static_cast<int64_t>(k)),
                 "static_cast<" + type + "*>(outputs[" + str(static_cast<int64_t>(k)) + "])");
    }
    w_.comment("Tiles and accumulators, f32 in 64-byte aligned slots; loop-invariant tiles and");
    w_.comment("accumulators once per block of a group of " + str(group_) + ".");
    w_.declare("float* const", "arena",
               "static_cast<float*>(std::aligned_alloc(64, " + str(std::max<int64_t>(arena_, 16)) +
                   " * sizeof(float)))");
    for (std::size_t n = 0; n < nodes_.size(); ++n) {
      const auto id = static_cast<int32_t>(n);
      if (offset_[n] >= 0) {
        if (per_block(n)) {
          w_.declare("float* const", buf(id) + "_group", "arena + " + str(offset_[n]));
        } else {
          w_.declare("float* __restrict const", buf(id), "arena + " + str(offset_[n]));
        }
      }
      if (scratch_[n] >= 0) {
        const int64_t m = running_max_size(n);
        w_.declare("float* const", "run" + str(id) + "_group", "arena + " + str(scratch_[n]));
        w_.declare("float* __restrict const", "old" + str(id),
                   "arena + " + str(scratch_[n] + group_ * m));
        w_.declare("float* __restrict const", "new" + str(id),
                   "arena + " + str(scratch_[n] + group_ * m + m));
      }
    }
    {
      auto groups = w_.block(
          "for (int64_t group = first_block; group < last_block; group += " + str(group_) + ")");
      w_.declare("const int64_t", "count",
                 "last_block - group < " + str(group_) + " ? last_block - group : " + str(group_));
      {
        auto blocks = open_blocks();
        emit_prefetch("s == 0", "0");
        emit_phase(Phase::Invariant, "0");
        emit_accumulator_init();
      }
      {
        auto loop = w_.for_loop("it", g_.forloop_range());
        auto blocks = open_blocks();
        emit_prefetch("s == 0 && it + 1 < " + str(g_.forloop_range()), "it + 1");
        emit_phase(Phase::Loop, "it");
        emit_accumulator_steps();
      }
      {
        auto blocks = open_blocks();
        emit_accumulator_finish();
        emit_phase(Phase::AfterLoop, "0");
        emit_outputs();
      }
    }
    w_.statement("std::free(arena)");
  }

  // True when node n's tile is the same for every block: it reads only inputs no grid axis
  // splits. Such loop tiles are computed once per iteration by the first block of a group.
  bool block_independent(std::size_t n) const {
    const BlockNode& current = nodes_[n];
    switch (current.kind) {
      case BlockNodeKind::Input:
        return g_.inputs()[current.input_index].input_map == ir::DimMap{-1, -1, -1};
      case BlockNodeKind::Op:
      case BlockNodeKind::ReduceToDimx:
        for (const auto& ref : current.inputs) {
          if (!block_independent(static_cast<std::size_t>(ref.node))) return false;
        }
        return true;
      case BlockNodeKind::Accumulate:
        return false;
    }
    return false;
  }

  void emit_phase(Phase phase, const std::string& iteration) {
    for (std::size_t n = 0; n < nodes_.size(); ++n) {
      const auto id = static_cast<int32_t>(n);
      const BlockNode& current = nodes_[n];
      if (current.phase != phase) continue;
      if (current.kind == BlockNodeKind::Accumulate || inlined_[n]) continue;
      if (direct_[n]) {
        if (phase != Phase::Invariant) emit_input(id, iteration);  // invariant: see open_blocks
        continue;
      }
      // A shared loop tile that is the same for all blocks: the group's first block makes it.
      std::optional<CodeWriter::Scope> once;
      if (phase == Phase::Loop && group_ > 1 && has_buffer(n) && block_independent(n))
        once.emplace(w_.block("if (s == 0)"));
      switch (current.kind) {
        case BlockNodeKind::Input:
          emit_input(id, iteration);
          break;
        case BlockNodeKind::ReduceToDimx:
          emit_reduce_to_dimx(id);
          break;
        case BlockNodeKind::Op:
          emit_op(id);
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
    const std::string target = dest.buffer + "[" + index + "]";
    if (!dest.accumulate) {
      w_.statement(target + " = " + value);
      return;
    }
    switch (dest.accum) {
      case AccumKind::Sum:
      case AccumKind::Mean:
        w_.statement(target + " += " + value);
        return;
      case AccumKind::Rms:
        w_.declare("const float", "v", value);
        w_.statement(target + " += v * v");
        return;
      case AccumKind::Max:
        w_.declare("const float", "v", value);
        w_.statement(target + " = " + target + " < v ? v : " + target);
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
        w_.statement(tile + "[0] = " + load_expr(dtype, global_ptr + "[0]"));
      } else {
        w_.statement(global_ptr + "[0] = " + store_expr(dtype, tile + "[0]"));
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
      base += "(" + offsets[i] + ") * " + str(strides[i]);
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
      vars.push_back("c" + str(i));
      outer_strides.push_back(strides[i]);
      loops.push_back(w_.for_loop(vars.back(), box[i]));
    }
    const std::string g_row = global_ptr + " + base + " + linear(vars, outer_strides);
    const std::string t_row = tile + " + " + linear(vars, tile_strides);
    if (load) {
      w_.declare("const " + std::string(storage_type(dtype)) + "* __restrict", "src", g_row);
      w_.declare("float* __restrict", "dst", t_row);
      w_.line("#pragma omp simd");
      auto inner = w_.for_loop("c", run);
      w_.statement("dst[c] = " + load_expr(dtype, "src[c]"));
    } else {
      w_.declare("const float* __restrict", "src", t_row);
      w_.declare(std::string(storage_type(dtype)) + "* __restrict", "dst", g_row);
      w_.line("#pragma omp simd");
      auto inner = w_.for_loop("c", run);
      w_.statement("dst[c] = " + store_expr(dtype, "src[c]"));
    }
    while (!loops.empty()) loops.pop_back();
  }

  // Offsets, per dim, of the tile of input node `n` for the block at `axes` in `iteration`.
  std::vector<std::string> input_offsets(int32_t n, const std::array<std::string, 3>& axes,
                                         const std::string& iteration) const {
    const auto& input = g_.inputs()[node(n).input_index];
    const Shape& box = shape(n);
    std::vector<std::string> offsets(box.size(), "0");
    for (int axis = 0; axis < 3; ++axis) {
      const int dim = input.input_map[axis];
      if (dim < 0) continue;
      const int64_t part = input.dtensor.shape[dim] / g_.grid_dims()[axis];
      offsets[dim] = axes[axis] + " * " + str(part);
    }
    if (input.forloop_dim >= 0 && iteration != "0") {
      std::string& offset = offsets[input.forloop_dim];
      const std::string term = "(" + iteration + ") * " + str(box[input.forloop_dim]);
      offset = offset == "0" ? term : offset + " + " + term;
    }
    return offsets;
  }

  // Element offset of a box at `offsets` in a contiguous tensor of `global` extents.
  static std::string flat_offset(const Shape& global, const std::vector<std::string>& offsets) {
    const auto strides = contiguous(global);
    std::string text;
    for (std::size_t d = 0; d < offsets.size(); ++d) {
      if (offsets[d] == "0") continue;
      if (!text.empty()) text += " + ";
      text += "(" + offsets[d] + ")";
      if (strides[d] != 1) text += " * " + str(strides[d]);
    }
    return text.empty() ? "0" : text;
  }

  void emit_input(int32_t n, const std::string& iteration) {
    const auto& input = g_.inputs()[node(n).input_index];
    const auto offsets = input_offsets(n, {"bx", "by", "bz"}, iteration);
    const std::string global = "in" + str(node(n).input_index);
    w_.comment("input " + str(node(n).input_index) + ": tile " + node(n).outputs[0].to_string() +
               (direct_[n] ? ", read in place" : ""));
    if (direct_[n]) {
      w_.declare("const " + std::string(storage_type(input.dtensor.dtype)) + "* __restrict const",
                 buf(n), global + " + " + flat_offset(input.dtensor.shape, offsets));
      return;
    }
    emit_box_copy(true, global, input.dtensor.dtype, input.dtensor.shape, shape(n), offsets,
                  buf(n));
  }

  // Prefetches into the cache the tiles of input node `n` that the blocks of the group read in
  // `iteration`: row by row, and within a row block by block, which is memory order when the
  // grid splits the row.
  void emit_group_prefetch(int32_t n, const std::string& iteration) {
    const auto& input = g_.inputs()[node(n).input_index];
    const Shape& box = shape(n);
    const Shape& global = input.dtensor.shape;
    if (box.empty()) return;
    const auto rank = static_cast<int64_t>(box.size());
    int64_t d = rank - 1, run = box[rank - 1];
    while (d > 0 && box[d] == global[d]) {
      --d;
      run *= box[d];
    }
    const auto element = static_cast<int64_t>(core::dtype_size(input.dtensor.dtype));
    const auto strides = contiguous(global);
    const auto& grid = g_.grid_dims();
    auto scope = w_.scope();
    std::vector<std::string> vars;
    std::vector<int64_t> row_strides;
    std::vector<CodeWriter::Scope> loops;
    for (int64_t i = 0; i < d; ++i) {
      vars.push_back("c" + str(i));
      row_strides.push_back(strides[i] * element);
      loops.push_back(w_.for_loop(vars.back(), box[i]));
    }
    // every block of the group reads the same tile unless a grid axis splits the input
    const bool shared = input.input_map == ir::DimMap{-1, -1, -1};
    auto blocks = w_.for_loop("t", "0", shared ? "1" : "count");
    w_.declare("const int64_t", "px", "(group + t) % " + str(grid[0]));
    w_.declare("const int64_t", "py", "((group + t) / " + str(grid[0]) + ") % " + str(grid[1]));
    w_.declare("const int64_t", "pz", "(group + t) / " + str(grid[0] * grid[1]));
    w_.statement("(void)px");
    w_.statement("(void)py");
    w_.statement("(void)pz");
    w_.declare("const uintptr_t", "row",
               "reinterpret_cast<uintptr_t>(in" + str(node(n).input_index) + " + " +
                   flat_offset(global, input_offsets(n, {"px", "py", "pz"}, iteration)) + ") + " +
                   linear(vars, row_strides));
    w_.comment("every cache line the row touches");
    auto lines = w_.block("for (uintptr_t l = row & ~uintptr_t{63}; l < row + " +
                          str(run * element) + "; l += 64)");
    w_.statement("__builtin_prefetch(reinterpret_cast<const char*>(l), 0, 3)");
  }

  std::vector<int32_t> loop_inputs() const {
    std::vector<int32_t> result;
    for (std::size_t n = 0; n < nodes_.size(); ++n) {
      if (nodes_[n].kind == BlockNodeKind::Input && nodes_[n].phase == Phase::Loop && uses_[n] > 0)
        result.push_back(static_cast<int32_t>(n));
    }
    return result;
  }

  // The first block of a group prefetches the tiles the whole group reads in `iteration`.
  void emit_prefetch(const std::string& condition, const std::string& iteration) {
    const auto inputs = loop_inputs();
    if (inputs.empty()) return;
    w_.comment("prefetch the group's tiles of iteration " + iteration);
    auto when = w_.block("if (" + condition + ")");
    for (int32_t n : inputs) emit_group_prefetch(n, iteration);
  }

  void emit_outputs() {
    for (std::size_t k = 0; k < g_.outputs().size(); ++k) {
      const auto& output = g_.outputs()[k];
      const Shape& tile = shape(output.tile.node);
      std::vector<std::string> offsets(tile.size(), "0");
      for (int axis = 0; axis < 3; ++axis) {
        const int dim = output.output_map[axis];
        if (dim >= 0) offsets[dim] = std::string(kAxisVars[axis]) + " * " + str(tile[dim]);
      }
      w_.comment("output " + str(static_cast<int64_t>(k)) + ": " + output.dtensor.to_string());
      emit_box_copy(false, "out" + str(static_cast<int64_t>(k)), output.dtensor.dtype,
                    output.dtensor.shape, tile, offsets, buf(output.tile.node));
    }
  }

  void emit_op(int32_t n) {
    const BlockNode& current = node(n);
    w_.comment("%" + str(n) + " = " + std::string(ir::op_name(current.op)) + " -> " +
               current.outputs[0].to_string());
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
      vars.push_back("i" + str(static_cast<int64_t>(d)));
      if (d + 1 == out.size()) w_.line("#pragma omp simd");
      loops.push_back(w_.for_loop(vars.back(), out[d]));
    }
    auto leaf = [&](int32_t l) {
      return buf(l) + "[" + linear(vars, broadcast_strides(shape(l), out)) + "]";
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
      vars.push_back("b" + str(static_cast<int64_t>(d)));
      loops.push_back(w_.for_loop(vars.back(), batch[d]));
    }
    const int32_t b_node = current.inputs[1].node;
    int kind = 0;
    int64_t ldb = cols;
    if (direct_[b_node]) {
      const auto& input = g_.inputs()[node(b_node).input_index];
      const DType dtype = input.dtensor.dtype;
      kind = dtype == DType::BF16 ? 1 : (dtype == DType::F16 ? 2 : 0);
      ldb = input.dtensor.shape.back();
    }
    w_.statement("yr_matmul<" + str(m) + ", " + str(cols) + ", " + str(k) + ", " +
                 (dest.accumulate ? "true" : "false") + ", " + str(kind) + ">(" +
                 buf(current.inputs[0].node) + " + " + linear(vars, a_strides) + ", " +
                 buf(b_node) + " + " + linear(vars, b_strides) + ", " + str(ldb) + ", " +
                 dest.buffer + " + " + linear(vars, c_strides) + ")");
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
      w_.declare("const float* __restrict", "row", in + " + o * " + str(extent));
      if (!is_max) w_.line("#pragma omp simd reduction(+ : acc)");
      {
        auto k = w_.for_loop("k", extent);
        w_.statement(is_max ? "acc = acc < row[k] ? row[k] : acc" : "acc += row[k]");
      }
      w_.statement(
          out + "[o] = " + (current.op == OpKind::Mean ? "acc / " + float_literal(extent) : "acc"));
      return;
    }
    w_.declare("float* __restrict", "dst", out + " + o * " + str(inner));
    {
      auto i = w_.for_loop("i", inner);
      w_.statement("dst[i] = " + init);
    }
    {
      auto k = w_.for_loop("k", extent);
      w_.declare("const float* __restrict", "row",
                 in + " + (o * " + str(extent) + " + k) * " + str(inner));
      w_.line("#pragma omp simd");
      auto i = w_.for_loop("i", inner);
      w_.statement(is_max ? "dst[i] = dst[i] < row[i] ? row[i] : dst[i]" : "dst[i] += row[i]");
    }
    if (current.op == OpKind::Mean) {
      auto i = w_.for_loop("i", inner);
      w_.statement("dst[i] /= " + float_literal(extent));
    }
  }

  void emit_rms_norm(int32_t n) {
    const BlockNode& current = node(n);
    const Shape& x = shape(n);
    const int64_t d = x.back(), rows = numel(x) / d;
    const std::string in = buf(current.inputs[0].node), weight = buf(current.inputs[1].node);
    auto scope = w_.scope();
    auto r = w_.for_loop("r", rows);
    w_.declare("const float* __restrict", "row", in + " + r * " + str(d));
    w_.declare("float* __restrict", "dst", buf(n) + " + r * " + str(d));
    w_.declare("float", "squares", "0.0f");
    w_.line("#pragma omp simd reduction(+ : squares)");
    {
      auto i = w_.for_loop("i", d);
      w_.statement("squares += row[i] * row[i]");
    }
    w_.declare("const float", "scale",
               "1.0f / std::sqrt(squares / " + float_literal(d) + " + " +
                   float_literal(current.attrs.get_float("eps")) + ")");
    w_.line("#pragma omp simd");
    auto i = w_.for_loop("i", d);
    w_.statement("dst[i] = row[i] * scale * " + weight + "[i]");
  }

  void emit_softmax(int32_t n) {
    const BlockNode& current = node(n);
    const Shape& x = shape(n);
    const auto dim = static_cast<std::size_t>(current.attrs.get_int("dim"));
    const int64_t outer = extent_product(x, 0, dim), extent = x[dim];
    const int64_t inner = extent_product(x, dim + 1, x.size());
    auto scope = w_.scope();
    auto o = w_.for_loop("o", outer);
    auto i = w_.for_loop("i", inner);
    // elements k of the softmax run at row[k * inner]
    w_.declare("const float* __restrict", "row",
               buf(current.inputs[0].node) + " + o * " + str(extent * inner) + " + i");
    w_.declare("float* __restrict", "dst", buf(n) + " + o * " + str(extent * inner) + " + i");
    const std::string at = inner == 1 ? "[k]" : "[k * " + str(inner) + "]";
    w_.declare("float", "peak", "-std::numeric_limits<float>::infinity()");
    {
      auto k = w_.for_loop("k", extent);
      w_.statement("peak = row" + at + " > peak ? row" + at + " : peak");
    }
    w_.declare("float", "total", "0.0f");
    w_.line("#pragma omp simd reduction(+ : total)");
    {
      auto k = w_.for_loop("k", extent);
      w_.statement("dst" + at + " = yr_exp(row" + at + " - peak)");
      w_.statement("total += dst" + at);
    }
    w_.line("#pragma omp simd");
    auto k = w_.for_loop("k", extent);
    w_.statement("dst" + at + " /= total");
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
      w_.statement("std::memcpy(" + buf(n) + " + (o * " + str(out[dim]) + " + " + str(start) +
                   ") * " + str(inner) + ", " + buf(ref.node) + " + o * " + str(extent * inner) +
                   ", " + str(extent * inner) + " * sizeof(float))");
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
      vars.push_back("i" + str(static_cast<int64_t>(d)));
      loops.push_back(w_.for_loop(vars.back(), out[d]));
    }
    w_.statement(buf(n) + "[" + linear(vars, contiguous(out)) +
                 "] = " + buf(current.inputs[0].node) + "[" + linear(vars, strides) + "]");
    while (!loops.empty()) loops.pop_back();
  }

  void emit_reduce_to_dimx(int32_t n) {
    const BlockNode& current = node(n);
    const Shape& x = shape(current.inputs[0].node);
    const auto dim = static_cast<std::size_t>(current.attrs.get_int("dim"));
    const int64_t extent = x[dim], dimx = shape(n)[dim], group = extent / dimx;
    const int64_t outer = extent_product(x, 0, dim);
    const int64_t inner = extent_product(x, dim + 1, x.size());
    w_.comment("%" + str(n) + " = reduce_to_dimx -> " + node(n).outputs[0].to_string());
    auto scope = w_.scope();
    {
      auto i = w_.for_loop("i", numel(shape(n)));
      w_.statement(buf(n) + "[i] = 0.0f");
    }
    auto o = w_.for_loop("o", outer);
    auto k = w_.for_loop("k", extent);
    w_.line("#pragma omp simd");
    auto i = w_.for_loop("i", inner);
    w_.statement(buf(n) + "[(o * " + str(dimx) + " + k / " + str(group) + ") * " + str(inner) +
                 " + i] += " + buf(current.inputs[0].node) + "[(o * " + str(extent) + " + k) * " +
                 str(inner) + " + i]");
  }

  void emit_accumulator_init() {
    for (std::size_t n = 0; n < nodes_.size(); ++n) {
      const BlockNode& current = nodes_[n];
      if (current.kind != BlockNodeKind::Accumulate) continue;
      const auto id = static_cast<int32_t>(n);
      const std::string init =
          current.accum == AccumKind::Max ? "-std::numeric_limits<float>::infinity()" : "0.0f";
      w_.comment("%" + str(id) + " = forloop_accum(" + std::string(ir::accum_name(current.accum)) +
                 ") -> " + current.outputs[0].to_string());
      {
        auto i = w_.for_loop("i", numel(shape(id)));
        w_.statement(buf(id) + "[i] = " + init);
      }
      if (scratch_[n] >= 0) {
        auto j = w_.for_loop("j", numel(shape(current.inputs[1].node)));
        w_.statement("run" + str(id) + "[j] = -std::numeric_limits<float>::infinity()");
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
      w_.comment("step of %" + str(id) + " (" + std::string(ir::accum_name(current.accum)) + ")");
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
          w_.statement(acc + "[i] += " + in + "[i]");
          break;
        case AccumKind::Rms:
          w_.statement(acc + "[i] += " + in + "[i] * " + in + "[i]");
          break;
        case AccumKind::Max:
          w_.statement(acc + "[i] = " + acc + "[i] < " + in + "[i] ? " + in + "[i] : " + acc +
                       "[i]");
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
      w_.declare("const float", "previous", "run" + s + "[j]");
      w_.declare("const float", "current", buf(m) + "[j]");
      w_.declare("const float", "peak", "current > previous ? current : previous");
      w_.statement("run" + s + "[j] = peak");
      w_.statement("old" + s + "[j] = yr_rescale(previous, peak)");
      w_.statement("new" + s + "[j] = yr_rescale(current, peak)");
    }
    const Shape& out = shape(id);
    const auto m_strides = broadcast_strides(shape(m), out);
    std::vector<std::string> vars;
    std::vector<CodeWriter::Scope> loops;
    for (std::size_t d = 0; d < out.size(); ++d) {
      vars.push_back("i" + str(static_cast<int64_t>(d)));
      loops.push_back(w_.for_loop(vars.back(), out[d]));
    }
    const std::string i = linear(vars, contiguous(out)), j = linear(vars, m_strides);
    w_.statement(acc + "[" + i + "] = " + acc + "[" + i + "] * old" + s + "[" + j + "] + " +
                 buf(x) + "[" + i + "] * new" + s + "[" + j + "]");
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
        w_.statement(buf(id) + "[i] /= " + count);
      } else {
        w_.statement(buf(id) + "[i] = std::sqrt(" + buf(id) + "[i] / " + count + ")");
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
  std::vector<bool> direct_;  // input tiles matmuls read in place from the kernel input
  std::vector<int> into_accum_;
  std::vector<int64_t> offset_;
  std::vector<int64_t> scratch_;
  std::vector<int64_t> stride_;  // floats between the private buffers of blocks of a group
  int64_t group_ = 1;
  int64_t arena_ = 0;
};

}  // namespace

std::string generate_block_source(const ir::BlockGraph& graph) {
  return Generator(graph).run();
}

}  // namespace yirage::backend::cpu::codegen
