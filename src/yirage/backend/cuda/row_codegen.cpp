// Row kernels: rms_norm, softmax and reductions over a contiguous last dim (lane groups or a
// block per row, the row held in registers), and the strided forms for inner dims.
#include <algorithm>

#include "yirage/backend/cuda/device_code.h"
#include "yirage/backend/cuda/op_codegen_parts.h"

namespace yirage::backend::cuda::opgen {

namespace {

using ir::OpKind;
using ir::TensorType;

int64_t next_pow2(int64_t value) {
  int64_t p = 1;
  while (p < value) p *= 2;
  return p;
}

// How the threads cover rows of `length` elements: groups of `group` lanes (a power of two up to
// a warp, several rows per 256-thread block) for short rows, a block per row for long ones.
// Each thread holds `per_thread` vectors of the row in registers, or 0: it re-reads the row
// with a strided loop on each pass (very long rows).
struct RowPlan {
  int64_t rows = 0, length = 0, width = 1, vectors = 0;
  bool block = false;
  int64_t group = 32;
  int64_t per_thread = 1;
  unsigned threads = kThreads;
  unsigned blocks = 1;
};

RowPlan plan_rows(int64_t rows, int64_t length, int64_t widest) {
  RowPlan plan;
  plan.rows = rows;
  plan.length = length;
  plan.width = dividing_width(widest, length);
  plan.vectors = length / plan.width;
  if (plan.vectors <= 128) {
    plan.group = std::min<int64_t>(32, next_pow2(plan.vectors));
    plan.per_thread = (plan.vectors + plan.group - 1) / plan.group;
    const int64_t per_block = kThreads / plan.group;
    plan.blocks =
        static_cast<unsigned>(std::clamp<int64_t>((rows + per_block - 1) / per_block, 1, 65536));
  } else {
    plan.block = true;
    plan.group = std::clamp<int64_t>(next_pow2((plan.vectors + 3) / 4), 64, 1024);
    plan.threads = static_cast<unsigned>(plan.group);
    plan.per_thread = (plan.vectors + plan.group - 1) / plan.group;
    if (plan.per_thread > 8) plan.per_thread = 0;
    plan.blocks = static_cast<unsigned>(std::clamp<int64_t>(rows, 1, 65536));
  }
  return plan;
}

// Opens the loop over rows: defines lane, row and valid (the row exists; loops stay uniform
// over a warp so that shuffles see every lane).
void open_rows(CodeWriter& code, const RowPlan& plan) {
  if (plan.block) {
    code.line("const int lane = threadIdx.x;");
    code.open("for (long long row = blockIdx.x; row < " + num(plan.rows) + "; row += gridDim.x)");
    code.line("const bool valid = true;");
    return;
  }
  const std::string per_block = std::to_string(kThreads / plan.group);
  code.line("const int lane = threadIdx.x % " + std::to_string(plan.group) + ";");
  code.open("for (long long base = (long long)blockIdx.x * " + per_block + "; base < " +
            num(plan.rows) + "; base += (long long)gridDim.x * " + per_block + ")");
  code.line("const long long row = base + threadIdx.x / " + std::to_string(plan.group) + ";");
  code.line("const bool valid = row < " + num(plan.rows) + ";");
}

// Combines `var` over the threads of a row ("sum" or "max").
void row_reduce(CodeWriter& code, const RowPlan& plan, const std::string& var, bool max) {
  if (plan.block) {
    code.line(var + " = " + (max ? "yr_block_max(" : "yr_block_sum(") + var + ");");
    return;
  }
  if (plan.group == 1) return;
  const std::string other = "__shfl_xor_sync(0xffffffffu, " + var + ", o)";
  code.line("for (int o = " + std::to_string(plan.group / 2) + "; o > 0; o >>= 1) " + var + " = " +
            (max ? "fmaxf(" + var + ", " + other + ")" : var + " + " + other) + ";");
}

// An operand read along the row: per-row (x: row * length + ...) or shared by all rows (w).
struct RowOperand {
  TensorType type;
  std::string pointer;
  std::string name;
  bool per_row = true;
};

std::string row_index(const RowPlan& plan, const RowOperand& operand) {
  const std::string vector = "idx * " + num(plan.width);
  return operand.per_row ? "row * " + num(plan.length) + " + " + vector : vector;
}

// Loads the cached operands into registers (per_thread > 0).
void cache_row(CodeWriter& code, const RowPlan& plan, const std::vector<RowOperand>& cached) {
  if (plan.per_thread == 0) return;
  for (const auto& operand : cached) {
    code.line(raw_of(operand.type, plan.width) + " " + operand.name + "_r[" +
              std::to_string(plan.per_thread) + "];");
  }
  code.line("#pragma unroll");
  code.open("for (int p = 0; p < " + std::to_string(plan.per_thread) + "; ++p)");
  code.line("const long long idx = lane + p * " + num(plan.group) + ";");
  code.open("if (valid && idx < " + num(plan.vectors) + ")");
  for (const auto& operand : cached) {
    const std::string raw = raw_of(operand.type, plan.width);
    code.line(operand.name + "_r[p] = *reinterpret_cast<const " + raw + "*>(" + operand.pointer +
              " + " + row_index(plan, operand) + ");");
  }
  code.close().close();
}

// Opens a pass over the thread's vectors of the row with `float name[width]` for every operand
// (from registers when cached, else loaded); closed by close_pass.
void open_pass(CodeWriter& code, const RowPlan& plan, const std::vector<RowOperand>& operands) {
  if (plan.per_thread > 0) {
    code.line("#pragma unroll");
    code.open("for (int p = 0; p < " + std::to_string(plan.per_thread) + "; ++p)");
    code.line("const long long idx = lane + p * " + num(plan.group) + ";");
    code.open("if (valid && idx < " + num(plan.vectors) + ")");
    for (const auto& operand : operands)
      unpack(code, operand.type, plan.width, operand.name + "_r[p]", operand.name);
  } else {
    code.open("for (long long idx = lane; valid && idx < " + num(plan.vectors) +
              "; idx += " + num(plan.group) + ")");
    code.open("");
    for (const auto& operand : operands) {
      load_vector(code, operand.type, plan.width, operand.pointer, row_index(plan, operand),
                  operand.name);
    }
  }
}

void close_pass(CodeWriter& code) {
  code.close().close();
}

KernelSource finish_rows(CodeWriter& code, const RowPlan& plan) {
  KernelSource kernel = finish(code, plan.blocks);
  kernel.block = {plan.threads, 1, 1};
  return kernel;
}

KernelSource row_reduction(const ir::Node& node, const TensorType& x, int64_t rows,
                           int64_t extent) {
  const bool is_max = node.op == OpKind::Max;
  const RowPlan plan = plan_rows(rows, extent, vector_width({x, node.outputs[0]}));
  const RowOperand xs{x, "in0", "x", true};
  CodeWriter code;
  open_kernel(code, signature({x}, node.outputs, "", plan.threads));
  open_rows(code, plan);
  code.line(std::string("float acc = ") + (is_max ? "-YR_INF;" : "0.0f;"));
  if (plan.per_thread > 0) cache_row(code, plan, {xs});
  open_pass(code, plan, {xs});
  code.line("#pragma unroll");
  code.line("for (int j = 0; j < " + std::to_string(plan.width) + "; ++j) " +
            (is_max ? "acc = fmaxf(acc, x[j]);" : "acc += x[j];"));
  close_pass(code);
  row_reduce(code, plan, "acc", is_max);
  const std::string result =
      node.op == OpKind::Mean ? "acc / " + float_literal(static_cast<double>(extent)) : "acc";
  code.line("if (valid && lane == 0) " + store(node.outputs[0], "out0", "row", result));
  code.close().close();
  return finish_rows(code, plan);
}

}  // namespace

KernelSource reduction(const ir::Node& node, const TensorType& x) {
  const auto dim = static_cast<std::size_t>(node.attrs.get_int("dim"));
  const int64_t outer = product(x.shape, 0, dim), extent = x.shape[dim];
  const int64_t inner = product(x.shape, dim + 1, x.shape.size());
  if (inner == 1) return row_reduction(node, x, outer, extent);
  // Columns: each thread reduces `width` adjacent columns down the reduced dim with vectors.
  const int64_t width = dividing_width(vector_width({x, node.outputs[0]}), inner);
  const int64_t columns = inner / width, items = outer * columns;
  const bool is_max = node.op == OpKind::Max;
  const std::string w = std::to_string(width);
  const std::string result =
      node.op == OpKind::Mean ? "acc[j] / " + float_literal(static_cast<double>(extent)) : "acc[j]";
  CodeWriter code;
  open_kernel(code, signature({x}, node.outputs));
  open_grid_loop(code, items);
  code.line("const long long o = i / " + num(columns) + ", in = (i % " + num(columns) + ") * " +
            num(width) + ";");
  code.line("float acc[" + w + "];");
  code.line("#pragma unroll");
  code.line("for (int j = 0; j < " + w + "; ++j) acc[j] = " + (is_max ? "-YR_INF;" : "0.0f;"));
  code.open("for (long long k = 0; k < " + num(extent) + "; ++k)");
  load_vector(code, x, width, "in0", "(o * " + num(extent) + " + k) * " + num(inner) + " + in",
              "v");
  code.line("#pragma unroll");
  code.line("for (int j = 0; j < " + w + "; ++j) " +
            (is_max ? "acc[j] = fmaxf(acc[j], v[j]);" : "acc[j] += v[j];"));
  code.close();
  store_vector(code, node.outputs[0], width, "out0", "i * " + num(width), result);
  code.close().close();
  return finish(code, blocks_for(items));
}

KernelSource rms_norm(const ir::Node& node, const std::vector<TensorType>& inputs) {
  const TensorType& x = inputs[0];
  const TensorType& out = node.outputs[0];
  const int64_t d = x.shape.back();
  const RowPlan plan =
      plan_rows(core::shape_numel(x.shape) / d, d, vector_width({x, inputs[1], out}));
  const RowOperand xs{x, "in0", "x", true}, ws{inputs[1], "in1", "w", false};
  CodeWriter code;
  open_kernel(code, signature(inputs, node.outputs, "", plan.threads));
  open_rows(code, plan);
  if (plan.per_thread > 0) cache_row(code, plan, {xs, ws});
  code.line("float acc = 0.0f;");
  open_pass(code, plan, {xs});
  code.line("#pragma unroll");
  code.line("for (int j = 0; j < " + std::to_string(plan.width) + "; ++j) acc += x[j] * x[j];");
  close_pass(code);
  row_reduce(code, plan, "acc", false);
  code.line("const float scale = rsqrtf(acc / " + float_literal(static_cast<double>(d)) + " + " +
            float_literal(node.attrs.get_float("eps")) + ");");
  open_pass(code, plan, {xs, ws});
  store_vector(code, out, plan.width, "out0", row_index(plan, xs), "x[j] * scale * w[j]");
  close_pass(code);
  code.close().close();
  return finish_rows(code, plan);
}

KernelSource softmax(const ir::Node& node, const TensorType& x) {
  const auto dim = static_cast<std::size_t>(node.attrs.get_int("dim"));
  const int64_t outer = product(x.shape, 0, dim), extent = x.shape[dim];
  const int64_t inner = product(x.shape, dim + 1, x.shape.size());
  const TensorType& out = node.outputs[0];
  CodeWriter code;
  if (inner == 1) {
    const RowPlan plan = plan_rows(outer, extent, vector_width({x, out}));
    const RowOperand xs{x, "in0", "x", true};
    open_kernel(code, signature({x}, node.outputs, "", plan.threads));
    open_rows(code, plan);
    if (plan.per_thread > 0) cache_row(code, plan, {xs});
    code.line("float peak = -YR_INF;");
    open_pass(code, plan, {xs});
    code.line("#pragma unroll");
    code.line("for (int j = 0; j < " + std::to_string(plan.width) +
              "; ++j) peak = fmaxf(peak, x[j]);");
    close_pass(code);
    row_reduce(code, plan, "peak", true);
    code.line("float total = 0.0f;");
    open_pass(code, plan, {xs});
    code.line("#pragma unroll");
    code.line("for (int j = 0; j < " + std::to_string(plan.width) +
              "; ++j) total += expf(x[j] - peak);");
    close_pass(code);
    row_reduce(code, plan, "total", false);
    code.line("const float inv = 1.0f / total;");
    open_pass(code, plan, {xs});
    store_vector(code, out, plan.width, "out0", row_index(plan, xs), "expf(x[j] - peak) * inv");
    close_pass(code);
    code.close().close();
    return finish_rows(code, plan);
  }
  // Columns: each thread normalises `width` adjacent columns along the dim with vectors.
  const int64_t width = dividing_width(vector_width({x, out}), inner);
  const int64_t columns = inner / width, items = outer * columns;
  const std::string w = std::to_string(width);
  open_kernel(code, signature({x}, node.outputs));
  open_grid_loop(code, items);
  code.line("const long long base = (i / " + num(columns) + ") * " + num(extent * inner) +
            " + (i % " + num(columns) + ") * " + num(width) + ";");
  code.line("float peak[" + w + "], total[" + w + "];");
  code.line("#pragma unroll");
  code.line("for (int j = 0; j < " + w + "; ++j) { peak[j] = -YR_INF; total[j] = 0.0f; }");
  code.open("for (long long k = 0; k < " + num(extent) + "; ++k)");
  load_vector(code, x, width, "in0", "base + k * " + num(inner), "v");
  code.line("#pragma unroll");
  code.line("for (int j = 0; j < " + w + "; ++j) peak[j] = fmaxf(peak[j], v[j]);");
  code.close();
  code.open("for (long long k = 0; k < " + num(extent) + "; ++k)");
  load_vector(code, x, width, "in0", "base + k * " + num(inner), "v");
  code.line("#pragma unroll");
  code.line("for (int j = 0; j < " + w + "; ++j) total[j] += expf(v[j] - peak[j]);");
  code.close();
  code.open("for (long long k = 0; k < " + num(extent) + "; ++k)");
  load_vector(code, x, width, "in0", "base + k * " + num(inner), "v");
  store_vector(code, out, width, "out0", "base + k * " + num(inner),
               "expf(v[j] - peak[j]) / total[j]");
  code.close().close().close();
  return finish(code, blocks_for(items));
}

}  // namespace yirage::backend::cuda::opgen
