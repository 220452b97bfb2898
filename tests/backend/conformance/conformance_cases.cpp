// The case list of the conformance suite and its coverage check.
#include <functional>
#include <memory>
#include <set>
#include <sstream>

#include "backend/conformance/conformance.h"
#include "yirage/ir/block_graph.h"
#include "yirage/workloads/workloads.h"

namespace yirage::backend::conformance {

namespace {

using core::DType;
using core::Shape;
using ir::AccumKind;
using ir::Attrs;
using ir::BlockGraph;
using ir::KernelGraph;
using ir::OpKind;
using ir::TensorRef;

constexpr double kEps = 1e-6;

Attrs attrs_dim(int64_t dim, bool keepdim) {
  Attrs attrs;
  attrs.set("dim", dim).set("keepdim", keepdim);
  return attrs;
}

// "[3, 67] [67, 45]": the input shapes of a graph, for case names.
std::string input_text(const KernelGraph& graph) {
  std::ostringstream text;
  bool first = true;
  for (const auto& type : graph.input_types()) {
    text << (first ? "" : " ") << core::shape_to_string(type.shape);
    if (!core::dtype_is_float(type.dtype)) text << ":" << core::dtype_name(type.dtype);
    first = false;
  }
  return text.str();
}

// Collects cases with deterministic names and seeds.
class CaseList {
 public:
  explicit CaseList(std::vector<Case>& cases) : cases_(cases) {}

  void add(const std::string& label, DType dtype, KernelGraph graph,
           std::vector<Values> values = {}) {
    Case c;
    c.name = label + " " + std::string(core::dtype_name(dtype)) + " " + input_text(graph);
    c.dtype = dtype;
    c.values = std::move(values);
    c.values.resize(graph.input_types().size(), Values::Signed);
    c.graph = std::move(graph);
    // Seeded by name, so adding a case leaves the inputs of the others as they were.
    c.seed = 14695981039346656037ULL;
    for (unsigned char ch : c.name) c.seed = (c.seed ^ ch) * 1099511628211ULL;
    cases_.push_back(std::move(c));
  }

 private:
  std::vector<Case>& cases_;
};

// A graph with one input per shape (all of `dtype`) and `body` marking the outputs.
KernelGraph graph_of(const std::vector<Shape>& shapes, DType dtype,
                     const std::function<void(KernelGraph&, const std::vector<TensorRef>&)>& body) {
  KernelGraph graph;
  std::vector<TensorRef> inputs;
  for (const auto& shape : shapes) inputs.push_back(graph.input(shape, dtype));
  body(graph, inputs);
  return graph;
}

// --- Kernel-level ops ---

void add_matmul_cases(CaseList& list, DType d) {
  const std::vector<std::pair<Shape, Shape>> problems = {
      {{3, 67}, {67, 45}},          // nothing a multiple of 16
      {{1, 131}, {131, 97}},        // one row: decode
      {{13, 33}, {33, 1}},          // one column
      {{64, 128}, {128, 96}},       // every extent a multiple of 16
      {{3, 5, 19}, {19, 23}},       // batched x shared weight
      {{2, 1, 7, 17}, {3, 17, 9}},  // broadcasting batch dims
      {{4, 6, 24}, {4, 24, 10}},    // batched x batched
  };
  for (const auto& [a, b] : problems) {
    list.add("matmul", d, graph_of({a, b}, d, [](KernelGraph& g, const auto& in) {
               g.mark_output(g.matmul(in[0], in[1]));
             }));
  }
}

void add_unary_cases(CaseList& list, DType d) {
  const std::vector<Shape> shapes = {{1037}, {7, 149}, {3, 5, 67}, {2, 3, 5}};
  std::size_t next = 0;
  for (int k = 0; k < ir::num_ops(); ++k) {
    const auto op = static_cast<OpKind>(k);
    const auto& info = ir::op_info(op);
    if (info.category != ir::OpCategory::Unary) continue;
    const bool positive = op == OpKind::Sqrt || op == OpKind::Rsqrt;
    const double scalar = op == OpKind::MulScalar ? -1.75 : 0.625;
    for (int variant = 0; variant < 2; ++variant) {
      const Shape& shape = shapes[next++ % shapes.size()];
      list.add(std::string(info.name), d,
               graph_of({shape}, d,
                        [&](KernelGraph& g, const auto& in) {
                          g.mark_output(g.unary(op, in[0], scalar));
                        }),
               {positive ? Values::Positive : Values::Signed});
    }
  }
}

void add_binary_cases(CaseList& list, DType d) {
  const std::vector<std::pair<Shape, Shape>> pairs = {
      {{7, 45}, {7, 45}}, {{7, 45}, {45}}, {{3, 1, 45}, {5, 1}}, {{1}, {9, 17}}};
  for (int k = 0; k < ir::num_ops(); ++k) {
    const auto op = static_cast<OpKind>(k);
    const auto& info = ir::op_info(op);
    if (info.category != ir::OpCategory::Binary) continue;
    const Values values = op == OpKind::Pow ? Values::Positive : Values::Signed;
    for (const auto& [a, b] : pairs) {
      list.add(std::string(info.name), d,
               graph_of({a, b}, d,
                        [&](KernelGraph& g, const auto& in) {
                          g.mark_output(g.binary(op, in[0], in[1]));
                        }),
               {values, values});
    }
  }
}

void add_reduce_cases(CaseList& list, DType d) {
  struct Problem {
    Shape shape;
    int64_t dim;
    bool keepdim;
  };
  const std::vector<Problem> problems = {
      {{7, 45}, 1, false}, {{3, 5, 19}, 1, true}, {{37, 6}, 0, false}, {{3, 5, 131}, -1, false}};
  for (int k = 0; k < ir::num_ops(); ++k) {
    const auto op = static_cast<OpKind>(k);
    const auto& info = ir::op_info(op);
    if (info.category != ir::OpCategory::Reduce) continue;
    for (const auto& p : problems) {
      list.add(
          std::string(info.name) + " dim " + std::to_string(p.dim) + (p.keepdim ? " keepdim" : ""),
          d, graph_of({p.shape}, d, [&](KernelGraph& g, const auto& in) {
            g.mark_output(g.reduce(op, in[0], p.dim, p.keepdim));
          }));
    }
  }
}

void add_structural_cases(CaseList& list, DType d) {
  for (const auto& [x, w] : std::vector<std::pair<Shape, Shape>>{
           {{7, 72}, {72}}, {{2, 3, 45}, {45}}, {{1, 1031}, {1031}}}) {
    list.add("rms_norm", d, graph_of({x, w}, d, [](KernelGraph& g, const auto& in) {
               g.mark_output(g.rms_norm(in[0], in[1], kEps));
             }));
  }
  for (const auto& [shape, dim] :
       std::vector<std::pair<Shape, int64_t>>{{{7, 45}, -1}, {{3, 5, 19}, 1}, {{9, 3}, 0}}) {
    list.add("softmax dim " + std::to_string(dim), d,
             graph_of({shape}, d, [&](KernelGraph& g, const auto& in) {
               g.mark_output(g.softmax(in[0], dim));
             }));
  }
  for (const auto& [shapes, dim] : std::vector<std::pair<std::vector<Shape>, int64_t>>{
           {{{3, 5}, {3, 17}, {3, 1}}, 1}, {{{2, 7}, {5, 7}}, 0}, {{{2, 3, 5}, {2, 4, 5}}, 1}}) {
    list.add("concat dim " + std::to_string(dim), d,
             graph_of(shapes, d,
                      [&](KernelGraph& g, const auto& in) { g.mark_output(g.concat(in, dim)); }));
  }
  list.add("split", d, graph_of({{5, 29}}, d, [](KernelGraph& g, const auto& in) {
             for (const auto& part : g.split(in[0], {3, 17, 9}, 1)) g.mark_output(part);
           }));
  list.add("chunk", d, graph_of({{6, 10}}, d, [](KernelGraph& g, const auto& in) {
             for (const auto& part : g.chunk(in[0], 3, 0)) g.mark_output(part);
           }));
  list.add("reshape", d, graph_of({{6, 35}}, d, [](KernelGraph& g, const auto& in) {
             g.mark_output(g.reshape(in[0], {3, 70}));
           }));
  list.add("reshape then add", d,
           graph_of({{2, 3, 35}, {35}}, d, [](KernelGraph& g, const auto& in) {
             g.mark_output(g.binary(OpKind::Add, g.reshape(in[0], {-1, 35}), in[1]));
           }));
  list.add("transpose 0 2", d, graph_of({{3, 5, 19}}, d, [](KernelGraph& g, const auto& in) {
             g.mark_output(g.transpose(in[0], 0, 2));
           }));
  list.add("transpose then matmul", d,
           graph_of({{33, 7}, {33, 20}}, d, [](KernelGraph& g, const auto& in) {
             g.mark_output(g.matmul(g.transpose(in[0], 0, 1), in[1]));
           }));
  for (const auto& [ids, table, id_type] : std::vector<std::tuple<Shape, Shape, DType>>{
           {{3, 5}, {37, 45}, DType::I32}, {{7}, {11, 24}, DType::I64}}) {
    KernelGraph g;
    const TensorRef i = g.input(ids, id_type);
    const TensorRef t = g.input(table, d);
    g.mark_output(g.embedding(i, t));
    list.add("embedding", d, std::move(g));
  }
  struct Rope {
    Shape x, positions;
    DType position_type;
    double theta;
  };
  for (const auto& r : std::vector<Rope>{{{5, 3, 24}, {5}, DType::I32, 10000.0},
                                         {{2, 7, 2, 64}, {2, 7}, DType::I64, 1000000.0}}) {
    KernelGraph g;
    const TensorRef x = g.input(r.x, d);
    const TensorRef p = g.input(r.positions, r.position_type);
    g.mark_output(g.rope(x, p, r.theta));
    list.add("rope", d, std::move(g));
  }
}

// Sizes past the cpu backend's thresholds: GEMM row and depth blocks, element-wise pieces split
// over threads, long rows.
void add_large_cases(CaseList& list, DType d) {
  list.add("large matmul", d,
           graph_of({{100, 300}, {300, 70}}, d,
                    [](KernelGraph& g, const auto& in) { g.mark_output(g.matmul(in[0], in[1])); }));
  list.add("large exp", d, graph_of({{37, 1031}}, d, [](KernelGraph& g, const auto& in) {
             g.mark_output(g.unary(OpKind::Exp, in[0]));
           }));
  list.add("large add", d, graph_of({{37, 1031}, {1031}}, d, [](KernelGraph& g, const auto& in) {
             g.mark_output(g.binary(OpKind::Add, in[0], in[1]));
           }));
  list.add("large sum dim 1", d, graph_of({{67, 1031}}, d, [](KernelGraph& g, const auto& in) {
             g.mark_output(g.reduce(OpKind::Sum, in[0], 1));
           }));
  list.add("large max dim 0", d, graph_of({{300, 67}}, d, [](KernelGraph& g, const auto& in) {
             g.mark_output(g.reduce(OpKind::Max, in[0], 0));
           }));
  list.add("large softmax", d, graph_of({{67, 1031}}, d, [](KernelGraph& g, const auto& in) {
             g.mark_output(g.softmax(in[0], -1));
           }));
  list.add("large rms_norm", d,
           graph_of({{67, 1031}, {1031}}, d, [](KernelGraph& g, const auto& in) {
             g.mark_output(g.rms_norm(in[0], in[1], kEps));
           }));
  list.add("large transpose", d, graph_of({{67, 131}}, d, [](KernelGraph& g, const auto& in) {
             g.mark_output(g.transpose(in[0], 0, 1));
           }));
}

// --- Block graphs ---

// A kernel graph of one customized node over inputs of the block graph's input types.
KernelGraph program_of(const std::shared_ptr<BlockGraph>& block) {
  KernelGraph graph;
  std::vector<TensorRef> inputs;
  for (const auto& input : block->inputs()) {
    inputs.push_back(graph.input(input.dtensor.shape, input.dtensor.dtype));
  }
  for (const auto& output : graph.customized(inputs, block)) graph.mark_output(output);
  return graph;
}

TensorRef op(BlockGraph& b, OpKind kind, std::vector<TensorRef> inputs, Attrs attrs = {}) {
  return b.add_op(kind, inputs, std::move(attrs))[0];
}

void add_workload_cases(CaseList& list, DType d) {
  using workloads::Tiling;
  std::vector<workloads::Workload> set;
  set.push_back(workloads::rms_norm_matmul(3, 72, 40, d, Tiling{4, 4}));
  set.push_back(workloads::gated_mlp(5, 48, 36, d, Tiling{3, 3}));
  set.push_back(workloads::lora(3, 40, 24, 5, d, Tiling{2, 4}));
  set.push_back(workloads::attention_decode(2, 3, 96, 24, d, false, Tiling{2, 4}));
  set.push_back(workloads::attention_decode(2, 3, 60, 24, d, false, Tiling{1, 5}));
  set.push_back(workloads::attention_decode(2, 3, 96, 24, d, true, Tiling{2, 4}));
  for (auto& w : set) {
    list.add(w.name + " naive", d, std::move(w.naive));
    list.add(w.name + " fused", d, std::move(w.fused));
  }
}

void add_block_cases(CaseList& list, DType d) {
  {  // Every accumulator over a for-loop of 5 tiles, rows over the grid.
    auto b = std::make_shared<BlockGraph>(ir::Dim3{3, 1, 1}, ir::Dim3{128, 1, 1}, 5, 64);
    const TensorRef x = b->input({{6, 60}, d}, {0, -1, -1}, 1);  // tiles [2, 12]
    b->output(b->accumulate(AccumKind::Sum, op(*b, OpKind::Silu, {x})), {0, -1, -1});
    b->output(b->accumulate(AccumKind::Mean, x), {0, -1, -1});
    b->output(b->accumulate(AccumKind::Rms, x), {0, -1, -1});
    b->output(b->accumulate(AccumKind::Max, x), {0, -1, -1});
    const TensorRef m = op(*b, OpKind::Max, {x}, attrs_dim(1, true));
    const TensorRef e = op(*b, OpKind::Exp, {op(*b, OpKind::Sub, {x, m})});
    b->output(b->accumulate(AccumKind::RescaledSum, e, m), {0, -1, -1});
    b->output(b->accumulate(AccumKind::Max, m), {0, -1, -1});
    list.add("block accumulators", d, program_of(b));
  }
  {  // reduce_to_dimx inside the loop (then summed) and on a loop-invariant tile.
    auto b = std::make_shared<BlockGraph>(ir::Dim3{5, 1, 1}, ir::Dim3{128, 1, 1}, 3, 4);
    const TensorRef x = b->input({{5, 72}, d}, {0, -1, -1}, 1);  // tiles [1, 24]
    const TensorRef y = b->input({{5, 20}, d}, {0, -1, -1}, -1);
    b->output(b->accumulate(AccumKind::Sum, b->reduce_to_dimx(x, 1)), {0, -1, -1});
    b->output(b->reduce_to_dimx(y, 1), {0, -1, -1});
    list.add("block reduce_to_dimx", d, program_of(b));
  }
  {  // Transposed weight tiles, and a transposed result.
    auto b = std::make_shared<BlockGraph>(ir::Dim3{2, 1, 1}, ir::Dim3{128, 1, 1}, 3, 64);
    const TensorRef x = b->input({{5, 36}, d}, {-1, -1, -1}, 1);  // [5, 12]
    const TensorRef w = b->input({{20, 36}, d}, {0, -1, -1}, 1);  // [10, 12]
    Attrs swap;
    swap.set("dim0", int64_t{0}).set("dim1", int64_t{1});
    const TensorRef product = b->accumulate(
        AccumKind::Sum, op(*b, OpKind::Matmul, {x, op(*b, OpKind::Transpose, {w}, swap)}));
    b->output(product, {1, -1, -1});
    b->output(op(*b, OpKind::Transpose, {product}, swap), {0, -1, -1});
    list.add("block transposes", d, program_of(b));
  }
  {  // concat of accumulated tiles along columns, and of loop tiles along rows.
    auto b = std::make_shared<BlockGraph>(ir::Dim3{2, 1, 1}, ir::Dim3{128, 1, 1}, 3, 64);
    const TensorRef x = b->input({{4, 30}, d}, {-1, -1, -1}, 1);   // [4, 10]
    const TensorRef w1 = b->input({{30, 14}, d}, {1, -1, -1}, 0);  // [10, 7]
    const TensorRef w2 = b->input({{30, 14}, d}, {1, -1, -1}, 0);
    Attrs columns, rows;
    columns.set("dim", int64_t{1});
    rows.set("dim", int64_t{0});
    const TensorRef g1 = b->accumulate(AccumKind::Sum, op(*b, OpKind::Matmul, {x, w1}));
    const TensorRef g2 = b->accumulate(AccumKind::Sum, op(*b, OpKind::Matmul, {x, w2}));
    b->output(op(*b, OpKind::Concat, {g1, g2}, columns), {1, -1, -1});
    const TensorRef stacked = op(*b, OpKind::Concat, {x, op(*b, OpKind::Square, {x})}, rows);
    b->output(b->accumulate(AccumKind::Mean, stacked), {1, -1, -1});
    list.add("block concat", d, program_of(b));
  }
  {  // A 3-D grid over batched operands.
    auto b = std::make_shared<BlockGraph>(ir::Dim3{4, 2, 2}, ir::Dim3{128, 1, 1}, 2, 64);
    const TensorRef x = b->input({{4, 6, 32}, d}, {0, 1, -1}, 2);   // [1, 3, 16]
    const TensorRef w = b->input({{4, 32, 10}, d}, {0, -1, 2}, 1);  // [1, 16, 5]
    const TensorRef y = b->accumulate(AccumKind::Sum, op(*b, OpKind::Matmul, {x, w}));
    b->output(op(*b, OpKind::Sigmoid, {y}), {0, 1, 2});
    list.add("block 3-D grid", d, program_of(b));
  }
  {  // Every op a block may apply, on loop-invariant tiles.
    auto b = std::make_shared<BlockGraph>(ir::Dim3{2, 1, 1}, ir::Dim3{128, 1, 1}, 1, 64);
    const TensorRef x = b->input({{6, 45}, d}, {0, -1, -1}, -1);  // [3, 45]
    const TensorRef y = b->input({{6, 45}, d}, {0, -1, -1}, -1);
    const TensorRef p = b->input({{6, 45}, d}, {0, -1, -1}, -1);
    const TensorRef gain = b->input({{45}, d}, {-1, -1, -1}, -1);
    for (int k = 0; k < ir::num_ops(); ++k) {
      const auto kind = static_cast<OpKind>(k);
      const auto category = ir::op_info(kind).category;
      if (category == ir::OpCategory::Unary) {
        const bool positive = kind == OpKind::Sqrt || kind == OpKind::Rsqrt;
        Attrs scalar;
        if (kind == OpKind::MulScalar || kind == OpKind::AddScalar) scalar.set("scalar", 0.375);
        b->output(op(*b, kind, {positive ? p : x}, scalar), {0, -1, -1});
      } else if (category == ir::OpCategory::Binary) {
        b->output(kind == OpKind::Pow ? op(*b, kind, {p, x}) : op(*b, kind, {x, y}), {0, -1, -1});
      } else if (category == ir::OpCategory::Reduce) {
        b->output(op(*b, kind, {x}, attrs_dim(1, true)), {0, -1, -1});
      }
    }
    Attrs eps, last;
    eps.set("eps", kEps);
    last.set("dim", int64_t{1});
    b->output(op(*b, OpKind::RmsNorm, {x, gain}, eps), {0, -1, -1});
    b->output(op(*b, OpKind::Softmax, {x}, last), {0, -1, -1});
    list.add("block ops", d, program_of(b),
             {Values::Signed, Values::Signed, Values::Positive, Values::Signed});
  }
}

std::vector<Case> build_cases() {
  std::vector<Case> cases;
  CaseList list(cases);
  for (const DType d : {DType::F32, DType::BF16}) {
    add_matmul_cases(list, d);
    add_unary_cases(list, d);
    add_binary_cases(list, d);
    add_reduce_cases(list, d);
    add_structural_cases(list, d);
    add_large_cases(list, d);
    add_workload_cases(list, d);
    add_block_cases(list, d);
  }
  return cases;
}

}  // namespace

const std::vector<Case>& all_cases() {
  static const std::vector<Case> cases = build_cases();
  return cases;
}

std::vector<std::string> missing_coverage(const std::vector<Case>& cases) {
  std::vector<std::string> missing;
  for (const DType d : {DType::F32, DType::BF16}) {
    std::set<OpKind> kernel_ops, block_ops;
    std::set<AccumKind> accums;
    bool reduce_to_dimx = false;
    for (const auto& c : cases) {
      if (c.dtype != d) continue;
      for (const auto& node : c.graph.nodes()) {
        kernel_ops.insert(node.op);
        if (!node.block_graph) continue;
        for (const auto& block_node : node.block_graph->nodes()) {
          if (block_node.kind == ir::BlockNodeKind::Op) block_ops.insert(block_node.op);
          if (block_node.kind == ir::BlockNodeKind::Accumulate) accums.insert(block_node.accum);
          if (block_node.kind == ir::BlockNodeKind::ReduceToDimx) reduce_to_dimx = true;
        }
      }
    }
    const std::string in = " in " + std::string(core::dtype_name(d));
    for (int k = 0; k < ir::num_ops(); ++k) {
      const auto kind = static_cast<OpKind>(k);
      const auto& info = ir::op_info(kind);
      if (kernel_ops.count(kind) == 0)
        missing.push_back("op '" + std::string(info.name) + "'" + in);
      const bool block_op = info.category != ir::OpCategory::Structural || kind == OpKind::Matmul ||
                            kind == OpKind::RmsNorm || kind == OpKind::Softmax ||
                            kind == OpKind::Concat || kind == OpKind::Transpose;
      if (block_op && block_ops.count(kind) == 0)
        missing.push_back("block op '" + std::string(info.name) + "'" + in);
    }
#define YR_CHECK_ACCUM(id, name, operands) \
  if (accums.count(AccumKind::id) == 0) missing.push_back("accumulator '" name "'" + in);
    YIRAGE_ACCUMULATORS(YR_CHECK_ACCUM)
#undef YR_CHECK_ACCUM
    if (!reduce_to_dimx) missing.push_back("reduce_to_dimx" + in);
  }
  return missing;
}

}  // namespace yirage::backend::conformance
