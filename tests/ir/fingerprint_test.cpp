#include "yirage/ir/fingerprint.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "ir/random_graph.h"
#include "yirage/ir/block_graph.h"
#include "yirage/ir/serialize.h"
#include "yirage/workloads/workloads.h"

namespace yirage::ir {
namespace {

using core::DType;

// Two independent branches over two inputs, joined by an add; `exp_first` picks which branch is
// inserted first.
KernelGraph two_branches(bool exp_first) {
  KernelGraph g;
  const TensorRef a = g.input({4, 8}, DType::F32);
  const TensorRef b = g.input({4, 8}, DType::F32);
  TensorRef e;
  TensorRef s;
  if (exp_first) {
    e = g.unary(OpKind::Exp, a);
    s = g.unary(OpKind::Silu, b);
  } else {
    s = g.unary(OpKind::Silu, b);
    e = g.unary(OpKind::Exp, a);
  }
  g.mark_output(g.binary(OpKind::Add, e, s));
  return g;
}

TEST(Fingerprint, IndependentNodesInAnyOrderHashEqual) {
  EXPECT_EQ(graph_fingerprint(two_branches(true)), graph_fingerprint(two_branches(false)));
  EXPECT_NE(graph_to_json(two_branches(true)), graph_to_json(two_branches(false)));
}

TEST(Fingerprint, InputsInterleavedDifferentlyHashEqual) {
  // Input 1 is created before or after the op on input 0.
  KernelGraph early;
  {
    const TensorRef x = early.input({8, 16}, DType::BF16);
    const TensorRef w = early.input({16, 4}, DType::BF16);
    early.mark_output(early.matmul(early.unary(OpKind::Relu, x), w));
  }
  KernelGraph late;
  {
    const TensorRef x = late.input({8, 16}, DType::BF16);
    const TensorRef r = late.unary(OpKind::Relu, x);
    const TensorRef w = late.input({16, 4}, DType::BF16);
    late.mark_output(late.matmul(r, w));
  }
  EXPECT_EQ(graph_fingerprint(early), graph_fingerprint(late));
}

TEST(Fingerprint, SplitConsumersInAnyOrderHashEqual) {
  auto build = [](bool first_piece_first) {
    KernelGraph g;
    const auto pieces = g.chunk(g.input({6, 4}, DType::F16), 2, 0);
    TensorRef a;
    TensorRef b;
    if (first_piece_first) {
      a = g.unary(OpKind::Exp, pieces[0]);
      b = g.reduce(OpKind::Max, pieces[1], -1, true);
    } else {
      b = g.reduce(OpKind::Max, pieces[1], -1, true);
      a = g.unary(OpKind::Exp, pieces[0]);
    }
    g.mark_output(g.binary(OpKind::Sub, a, b));
    g.mark_output(b);
    return g;
  };
  EXPECT_EQ(graph_fingerprint(build(true)), graph_fingerprint(build(false)));
}

TEST(Fingerprint, RandomGraphsRebuiltInAnotherTopologicalOrderHashEqual) {
  int reordered = 0;
  for (uint64_t seed = 0; seed < 120; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    const KernelGraph graph = testing::random_kernel_graph(seed, 4 + static_cast<int>(seed % 30));
    const KernelGraph shuffled = testing::reorder_kernel_graph(graph, seed * 7919 + 1);
    ASSERT_EQ(shuffled.nodes().size(), graph.nodes().size());
    EXPECT_EQ(graph_fingerprint(shuffled), graph_fingerprint(graph));
    EXPECT_EQ(shuffled.input_types(), graph.input_types());
    EXPECT_EQ(shuffled.output_types(), graph.output_types());
    if (graph_to_json(shuffled) != graph_to_json(graph)) ++reordered;
  }
  // The property is only tested where the order really changed.
  EXPECT_GT(reordered, 100);
}

// One small graph with knobs for every kind of perturbation.
struct Knobs {
  double eps = 1e-6;
  int64_t softmax_dim = -1;
  bool keepdim = false;
  double scale = 0.5;
  int64_t rows = 4;
  DType dtype = DType::F32;
  bool swap_sub = false;
  bool swap_matmul = false;
  bool swap_outputs = false;
  bool silu_not_exp = false;
  bool use_second_piece = false;
  bool swap_inputs = false;
  bool mark_twice = false;
};

KernelGraph knob_graph(const Knobs& k) {
  KernelGraph g;
  TensorRef x;
  TensorRef y;
  if (k.swap_inputs) {
    y = g.input({8, 8}, k.dtype);
    x = g.input({k.rows, 8}, k.dtype);
  } else {
    x = g.input({k.rows, 8}, k.dtype);
    y = g.input({8, 8}, k.dtype);
  }
  const TensorRef w = g.input({8}, k.dtype);
  const TensorRef n = g.rms_norm(x, w, k.eps);
  const TensorRef m = g.matmul(y, y);
  const TensorRef a = g.unary(k.silu_not_exp ? OpKind::Silu : OpKind::Exp, n);
  const TensorRef mm = k.swap_matmul ? g.matmul(m, y) : g.matmul(y, m);
  const auto pieces = g.chunk(a, 2, 1);
  const TensorRef piece = pieces[k.use_second_piece ? 1 : 0];
  const TensorRef d = k.swap_sub ? g.binary(OpKind::Sub, piece, g.unary(OpKind::Neg, piece))
                                 : g.binary(OpKind::Sub, g.unary(OpKind::Neg, piece), piece);
  const TensorRef s = g.unary(OpKind::MulScalar, g.softmax(d, k.softmax_dim), k.scale);
  const TensorRef r = g.reduce(OpKind::Mean, mm, 0, k.keepdim);
  if (k.swap_outputs) {
    g.mark_output(r);
    g.mark_output(s);
  } else {
    g.mark_output(s);
    g.mark_output(r);
  }
  if (k.mark_twice) g.mark_output(s);
  return g;
}

TEST(Fingerprint, EveryPerturbationChangesTheHash) {
  const std::pair<const char*, std::function<void(Knobs&)>> perturbations[] = {
      {"eps", [](Knobs& k) { k.eps = 1e-5; }},
      {"eps by one ulp", [](Knobs& k) { k.eps = std::nextafter(1e-6, 1.0); }},
      {"softmax dim", [](Knobs& k) { k.softmax_dim = 0; }},
      {"keepdim", [](Knobs& k) { k.keepdim = true; }},
      {"scalar", [](Knobs& k) { k.scale = 0.25; }},
      {"negative zero scalar", [](Knobs& k) { k.scale = -0.0; }},
      {"shape", [](Knobs& k) { k.rows = 6; }},
      {"dtype", [](Knobs& k) { k.dtype = DType::BF16; }},
      {"sub operand order", [](Knobs& k) { k.swap_sub = true; }},
      {"matmul operand order", [](Knobs& k) { k.swap_matmul = true; }},
      {"output order", [](Knobs& k) { k.swap_outputs = true; }},
      {"op", [](Knobs& k) { k.silu_not_exp = true; }},
      {"wiring to another output", [](Knobs& k) { k.use_second_piece = true; }},
      {"input order", [](Knobs& k) { k.swap_inputs = true; }},
      {"output marked twice", [](Knobs& k) { k.mark_twice = true; }},
  };
  Knobs zero;
  zero.scale = 0.0;
  const uint64_t base = graph_fingerprint(knob_graph({}));
  std::set<uint64_t> seen = {base, graph_fingerprint(knob_graph(zero))};
  for (const auto& [name, perturb] : perturbations) {
    Knobs knobs;
    perturb(knobs);
    const uint64_t hash = graph_fingerprint(knob_graph(knobs));
    EXPECT_NE(hash, base) << name;
    EXPECT_TRUE(seen.insert(hash).second) << name << " collides with another perturbation";
  }
}

TEST(Fingerprint, NodesNoOutputDependsOnDoNotCount) {
  KernelGraph plain;
  plain.mark_output(plain.unary(OpKind::Exp, plain.input({4}, DType::F32)));
  KernelGraph extra;
  const TensorRef x = extra.input({4}, DType::F32);
  extra.unary(OpKind::Sqrt, x);
  extra.mark_output(extra.unary(OpKind::Exp, x));
  EXPECT_EQ(graph_fingerprint(plain), graph_fingerprint(extra));
  // Unused inputs do count: the graph takes them.
  KernelGraph more_inputs;
  more_inputs.mark_output(more_inputs.unary(OpKind::Exp, more_inputs.input({4}, DType::F32)));
  more_inputs.input({4}, DType::F32);
  EXPECT_NE(graph_fingerprint(plain), graph_fingerprint(more_inputs));
}

TEST(Fingerprint, CustomizedNodesHashTheirBlockGraph) {
  auto build = [](OpKind op, int64_t forloop_range) {
    auto block = std::make_shared<BlockGraph>(Dim3{2, 1, 1}, Dim3{128, 1, 1}, forloop_range);
    const TensorRef tile = block->input({{8, 16}, DType::F32}, {0, -1, -1}, 1);
    const TensorRef y = block->add_op(op, {tile}, {})[0];
    block->output(block->accumulate(AccumKind::Sum, y), {0, -1, -1});
    KernelGraph g;
    g.mark_output(g.customized({g.input({8, 16}, DType::F32)}, block)[0]);
    return g;
  };
  const uint64_t base = graph_fingerprint(build(OpKind::Exp, 4));
  EXPECT_EQ(graph_fingerprint(build(OpKind::Exp, 4)), base);
  EXPECT_NE(graph_fingerprint(build(OpKind::Silu, 4)), base);
  EXPECT_NE(graph_fingerprint(build(OpKind::Exp, 2)), base);
}

// One customized kernel, x [8, 16] @ w [16, 8] accumulated over the for-loop, with a knob for
// every part of the block graph's structure.
struct BlockKnobs {
  Dim3 grid = {2, 2, 1};
  Dim3 block = {128, 1, 1};
  int64_t forloop = 2;
  int64_t reduction_dimx = 4;
  DimMap x_map = {0, -1, -1};
  int x_forloop = 1;
  DimMap w_map = {-1, 1, -1};
  int w_forloop = 0;
  DimMap out_map = {0, 1, -1};
  AccumKind accum = AccumKind::Sum;
};

KernelGraph block_knob_graph(const BlockKnobs& k) {
  auto block = std::make_shared<BlockGraph>(k.grid, k.block, k.forloop, k.reduction_dimx);
  const TensorRef x = block->input({{8, 16}, DType::F32}, k.x_map, k.x_forloop);
  const TensorRef w = block->input({{16, 8}, DType::F32}, k.w_map, k.w_forloop);
  const TensorRef product = block->add_op(OpKind::Matmul, {x, w}, {})[0];
  block->output(block->accumulate(k.accum, product), k.out_map);
  KernelGraph g;
  const TensorRef gx = g.input({8, 16}, DType::F32);
  const TensorRef gw = g.input({16, 8}, DType::F32);
  g.mark_output(g.customized({gx, gw}, block)[0]);
  return g;
}

// The same kernel with a grid of one block and a for-loop of one iteration, where maps and
// for-loop dims change no tile type: only the maps themselves can tell the graphs apart.
BlockKnobs single_block() {
  BlockKnobs k;
  k.grid = {1, 1, 1};
  k.forloop = 1;
  k.x_map = {-1, -1, -1};
  k.w_map = {-1, -1, -1};
  k.out_map = {-1, -1, -1};
  return k;
}

TEST(Fingerprint, BlockGraphTilingsMapsAndAccumulatorsAreDistinguished) {
  const std::pair<const char*, std::function<void(BlockKnobs&)>> perturbations[] = {
      {"grid",
       [](BlockKnobs& k) {
         k.grid = {4, 2, 1};
       }},
      {"forloop range", [](BlockKnobs& k) { k.forloop = 4; }},
      {"no for-loop", [](BlockKnobs& k) { k.forloop = 1; }},
      {"block dims",
       [](BlockKnobs& k) {
         k.block = {64, 2, 1};
       }},
      {"reduction_dimx", [](BlockKnobs& k) { k.reduction_dimx = 8; }},
      {"accumulator mean", [](BlockKnobs& k) { k.accum = AccumKind::Mean; }},
      {"accumulator max", [](BlockKnobs& k) { k.accum = AccumKind::Max; }},
      {"grid axes swapped in every map",
       [](BlockKnobs& k) {
         k.x_map = {-1, 0, -1};
         k.w_map = {1, -1, -1};
         k.out_map = {1, 0, -1};
       }},
      {"output map alone swapped",
       [](BlockKnobs& k) {
         k.out_map = {1, 0, -1};
       }},
      {"single block", [](BlockKnobs& k) { k = single_block(); }},
      {"single block, x for-loop dim 0",
       [](BlockKnobs& k) {
         k = single_block();
         k.x_forloop = 0;
       }},
      {"single block, w for-loop dim 1",
       [](BlockKnobs& k) {
         k = single_block();
         k.w_forloop = 1;
       }},
      {"single block, x loop-invariant",
       [](BlockKnobs& k) {
         k = single_block();
         k.x_forloop = -1;
       }},
      {"single block, x input map on x",
       [](BlockKnobs& k) {
         k = single_block();
         k.x_map = {0, -1, -1};
       }},
      {"single block, x input map on z",
       [](BlockKnobs& k) {
         k = single_block();
         k.x_map = {-1, -1, 0};
       }},
      {"single block, w input map",
       [](BlockKnobs& k) {
         k = single_block();
         k.w_map = {1, -1, -1};
       }},
      {"single block, output map",
       [](BlockKnobs& k) {
         k = single_block();
         k.out_map = {-1, 0, -1};
       }},
  };
  const KernelGraph base = block_knob_graph({});
  std::set<uint64_t> seen = {graph_fingerprint(base)};
  for (const auto& [name, perturb] : perturbations) {
    BlockKnobs knobs;
    perturb(knobs);
    const KernelGraph graph = block_knob_graph(knobs);
    const uint64_t hash = graph_fingerprint(graph);
    EXPECT_NE(hash, graph_fingerprint(base)) << name;
    EXPECT_TRUE(seen.insert(hash).second) << name << " collides with another perturbation";
    // What tells them apart survives saving and loading.
    EXPECT_EQ(graph_fingerprint(graph_from_json(graph_to_json(graph))), hash) << name;
  }
  // Pure map changes leave every type as it was.
  BlockKnobs swapped;
  swapped.out_map = {1, 0, -1};
  EXPECT_EQ(block_knob_graph(swapped).output_types(), base.output_types());
  EXPECT_EQ(block_knob_graph(single_block()).output_types(), base.output_types());
}

TEST(Fingerprint, EveryTilingOfAWorkloadHashesDifferently) {
  for (bool attention : {false, true}) {
    std::set<uint64_t> seen;
    int tilings = 0;
    for (int64_t grid : {1, 2, 4}) {
      for (int64_t forloop : {1, 2, 4}) {
        const workloads::Tiling tiling{grid, forloop};
        const KernelGraph graph =
            attention ? workloads::attention_decode(2, 4, 64, 16, DType::F32, false, tiling).fused
                      : workloads::rms_norm_matmul(4, 64, 32, DType::F32, tiling).fused;
        EXPECT_TRUE(seen.insert(graph_fingerprint(graph)).second)
            << (attention ? "attention" : "rms_norm_matmul") << " grid " << grid << " forloop "
            << forloop;
        ++tilings;
      }
    }
    EXPECT_EQ(tilings, 9);
  }
}

TEST(Fingerprint, WorkloadsKeepTheirFingerprintThroughJson) {
  for (const auto& workload : workloads::standard_workloads()) {
    const uint64_t hash = graph_fingerprint(workload.fused);
    EXPECT_EQ(graph_fingerprint(graph_from_json(graph_to_json(workload.fused))), hash)
        << workload.name << " " << workload.shape;
    EXPECT_EQ(graph_fingerprint(graph_from_json(graph_to_json(workload.fused, -1))), hash)
        << workload.name << " " << workload.shape;
    // The fused program is another graph than the naive one it computes.
    EXPECT_NE(graph_fingerprint(workload.naive), hash) << workload.name;
  }
}

TEST(Fingerprint, BlockNodesInAnyOrderHashEqual) {
  // Input w is created before or after the exp of x; the sum and the max branch in either order.
  auto build = [](bool inputs_first, bool sum_first) {
    auto block = std::make_shared<BlockGraph>(Dim3{2, 1, 1}, Dim3{128, 1, 1}, 2);
    const TensorRef x = block->input({{8, 16}, DType::F32}, {-1, -1, -1}, 1);
    TensorRef w;
    if (inputs_first) w = block->input({{16, 8}, DType::F32}, {1, -1, -1}, 0);
    const TensorRef e = block->add_op(OpKind::Exp, {x}, {})[0];
    if (!inputs_first) w = block->input({{16, 8}, DType::F32}, {1, -1, -1}, 0);
    TensorRef sum;
    TensorRef max;
    if (sum_first) {
      sum = block->accumulate(AccumKind::Sum, block->add_op(OpKind::Matmul, {e, w}, {})[0]);
      max = block->accumulate(AccumKind::Max, block->add_op(OpKind::Matmul, {x, w}, {})[0]);
    } else {
      max = block->accumulate(AccumKind::Max, block->add_op(OpKind::Matmul, {x, w}, {})[0]);
      sum = block->accumulate(AccumKind::Sum, block->add_op(OpKind::Matmul, {e, w}, {})[0]);
    }
    block->output(sum, {1, -1, -1});
    block->output(max, {1, -1, -1});
    KernelGraph g;
    const TensorRef gx = g.input({8, 16}, DType::F32);
    const auto outputs = g.customized({gx, g.input({16, 8}, DType::F32)}, block);
    g.mark_output(outputs[0]);
    g.mark_output(outputs[1]);
    return g;
  };
  const KernelGraph base = build(true, true);
  for (const auto& [inputs_first, sum_first] :
       std::vector<std::pair<bool, bool>>{{false, true}, {true, false}, {false, false}}) {
    const KernelGraph other = build(inputs_first, sum_first);
    EXPECT_NE(graph_to_json(other), graph_to_json(base));
    EXPECT_EQ(graph_fingerprint(other), graph_fingerprint(base));
  }
}

TEST(Fingerprint, StableAcrossCallsAndRuns) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const KernelGraph graph = testing::random_kernel_graph(seed, 12);
    EXPECT_EQ(graph_fingerprint(graph), graph_fingerprint(graph));
    EXPECT_EQ(graph_fingerprint(graph), graph_fingerprint(testing::random_kernel_graph(seed, 12)));
  }
  // A fixed graph has a fixed fingerprint on every machine and build. Changing the hashing
  // changes this value and invalidates every cache kept on disk: do so only on purpose.
  KernelGraph g;
  const TensorRef x = g.input({8, 4096}, DType::BF16);
  const TensorRef w = g.input({4096}, DType::BF16);
  const TensorRef proj = g.input({4096, 1024}, DType::BF16);
  g.mark_output(g.matmul(g.rms_norm(x, w, 1e-6), proj));
  EXPECT_EQ(graph_fingerprint_hex(g), "12566dac090c5521");
  // The same for a block graph: its launch shape, maps, nodes and phases.
  EXPECT_EQ(graph_fingerprint_hex(block_knob_graph({})), "c3f73eaa38e112db");
}

TEST(Fingerprint, HexIsSixteenLowercaseDigits) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const KernelGraph graph = testing::random_kernel_graph(seed, 5);
    const std::string hex = graph_fingerprint_hex(graph);
    ASSERT_EQ(hex.size(), 16u);
    EXPECT_EQ(hex.find_first_not_of("0123456789abcdef"), std::string::npos) << hex;
    EXPECT_EQ(std::stoull(hex, nullptr, 16), graph_fingerprint(graph));
  }
}

}  // namespace
}  // namespace yirage::ir
