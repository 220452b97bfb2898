// JSON of kernel graphs holding customized nodes: the block-graph format, exact round trips of
// every hand-fused workload at many tilings, and every malformed block graph with its message.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "test_util.h"
#include "yirage/ir/block_graph.h"
#include "yirage/ir/fingerprint.h"
#include "yirage/ir/printer.h"
#include "yirage/ir/serialize.h"
#include "yirage/workloads/workloads.h"

namespace yirage::ir {
namespace {

using core::DType;
using Json = nlohmann::json;
using workloads::Tiling;
using workloads::Workload;

// x [4, 16] -> exp, tiled over 2 blocks and 2 iterations, summed over the loop: one kernel.
KernelGraph tiny_customized() {
  auto block = std::make_shared<BlockGraph>(Dim3{2, 1, 1}, Dim3{128, 1, 1}, 2, 64);
  const TensorRef x = block->input({{4, 16}, DType::F32}, {0, -1, -1}, 1);
  const TensorRef e = block->add_op(OpKind::Exp, {x}, {})[0];
  block->output(block->accumulate(AccumKind::Sum, e), {0, -1, -1});
  KernelGraph g;
  g.mark_output(g.customized({g.input({4, 16}, DType::F32)}, block)[0]);
  return g;
}

// A block graph with every node kind, every accumulator, loop, after-loop and invariant tiles,
// inputs created between ops, float, int and bool attributes, and three outputs.
std::shared_ptr<BlockGraph> every_kind_block() {
  auto b = std::make_shared<BlockGraph>(Dim3{2, 2, 1}, Dim3{64, 2, 1}, 2, 4);
  auto op = [&](OpKind kind, std::vector<TensorRef> inputs, Attrs attrs = {}) {
    return b->add_op(kind, inputs, std::move(attrs))[0];
  };
  const TensorRef x = b->input({{4, 16}, DType::F32}, {0, -1, -1}, 1);  // [2, 8] loop
  const TensorRef e = op(OpKind::Exp, {x});
  const TensorRef w = b->input({{16, 8}, DType::F32}, {-1, 1, -1}, 0);   // [8, 4] loop
  const TensorRef bias = b->input({{4}, DType::F32}, {-1, -1, -1}, -1);  // invariant
  const TensorRef product = op(OpKind::Matmul, {x, w});                  // [2, 4]
  const TensorRef row_max =
      op(OpKind::Max, {x}, Attrs().set("dim", int64_t{-1}).set("keepdim", true));
  const TensorRef grouped = b->reduce_to_dimx(e, -1);  // [2, 4]
  const TensorRef sum = b->accumulate(AccumKind::Sum, product);
  const TensorRef mean = b->accumulate(AccumKind::Mean, grouped);
  const TensorRef rms = b->accumulate(AccumKind::Rms, grouped);
  const TensorRef max = b->accumulate(AccumKind::Max, row_max);
  const TensorRef rescaled = b->accumulate(AccumKind::RescaledSum, grouped, row_max);
  const TensorRef gate = op(OpKind::Silu, {bias});
  const TensorRef gate_sum = b->accumulate(AccumKind::Sum, gate);
  const TensorRef mixed = op(OpKind::Mul, {op(OpKind::Add, {sum, mean}), gate_sum});
  const TensorRef normed = op(OpKind::RmsNorm, {mixed, bias}, Attrs().set("eps", 1e-5));
  const TensorRef joined = op(OpKind::Concat, {normed, rms}, Attrs().set("dim", int64_t{1}));
  const TensorRef scaled =
      op(OpKind::MulScalar, {op(OpKind::Softmax, {joined}, Attrs().set("dim", int64_t{-1}))},
         Attrs().set("scalar", 1.0 / 3.0));
  b->output(scaled, {0, 1, -1});
  b->output(
      op(OpKind::Transpose, {rescaled}, Attrs().set("dim0", int64_t{0}).set("dim1", int64_t{1})),
      {1, 0, -1});
  b->output(max, {0, 1, -1});
  return b;
}

KernelGraph every_kind_graph() {
  KernelGraph g;
  const TensorRef x = g.input({4, 16}, DType::F32);
  const TensorRef w = g.input({16, 8}, DType::F32);
  const TensorRef bias = g.input({4}, DType::F32);
  const auto outputs = g.customized({x, w, bias}, every_kind_block());
  g.mark_output(g.unary(OpKind::Exp, outputs[0]));
  g.mark_output(outputs[2]);
  g.mark_output(outputs[1]);
  return g;
}

void expect_same_block_graph(const BlockGraph& a, const BlockGraph& b) {
  EXPECT_EQ(a.grid_dims(), b.grid_dims());
  EXPECT_EQ(a.block_dims(), b.block_dims());
  EXPECT_EQ(a.forloop_range(), b.forloop_range());
  EXPECT_EQ(a.reduction_dimx(), b.reduction_dimx());
  ASSERT_EQ(a.nodes().size(), b.nodes().size());
  for (std::size_t i = 0; i < a.nodes().size(); ++i) {
    const BlockNode& x = a.nodes()[i];
    const BlockNode& y = b.nodes()[i];
    EXPECT_EQ(x.kind, y.kind) << "block node " << i;
    EXPECT_EQ(x.op, y.op) << "block node " << i;
    EXPECT_EQ(x.accum, y.accum) << "block node " << i;
    EXPECT_EQ(x.inputs, y.inputs) << "block node " << i;
    EXPECT_EQ(x.attrs, y.attrs) << "block node " << i;
    EXPECT_EQ(x.outputs, y.outputs) << "block node " << i;
    EXPECT_EQ(x.phase, y.phase) << "block node " << i;
    EXPECT_EQ(x.input_index, y.input_index) << "block node " << i;
  }
  ASSERT_EQ(a.inputs().size(), b.inputs().size());
  for (std::size_t i = 0; i < a.inputs().size(); ++i) {
    EXPECT_EQ(a.inputs()[i].dtensor, b.inputs()[i].dtensor) << "block input " << i;
    EXPECT_EQ(a.inputs()[i].input_map, b.inputs()[i].input_map) << "block input " << i;
    EXPECT_EQ(a.inputs()[i].forloop_dim, b.inputs()[i].forloop_dim) << "block input " << i;
    EXPECT_EQ(a.inputs()[i].node, b.inputs()[i].node) << "block input " << i;
  }
  ASSERT_EQ(a.outputs().size(), b.outputs().size());
  for (std::size_t i = 0; i < a.outputs().size(); ++i) {
    EXPECT_EQ(a.outputs()[i].tile, b.outputs()[i].tile) << "block output " << i;
    EXPECT_EQ(a.outputs()[i].output_map, b.outputs()[i].output_map) << "block output " << i;
    EXPECT_EQ(a.outputs()[i].dtensor, b.outputs()[i].dtensor) << "block output " << i;
  }
}

// Saves and loads `graph`: the text is reproduced exactly, the graph is the same node for node
// (block graphs included) and so are its fingerprint and printed form.
void expect_exact_round_trip(const KernelGraph& graph) {
  const std::string text = graph_to_json(graph);
  const KernelGraph loaded = graph_from_json(text);
  EXPECT_EQ(graph_to_json(loaded), text);
  EXPECT_EQ(graph_to_json(graph_from_json(graph_to_json(graph, -1)), -1), graph_to_json(graph, -1));
  EXPECT_EQ(graph_fingerprint(loaded), graph_fingerprint(graph));
  EXPECT_EQ(graph_to_text(loaded), graph_to_text(graph));
  ASSERT_EQ(loaded.nodes().size(), graph.nodes().size());
  for (std::size_t i = 0; i < graph.nodes().size(); ++i) {
    const Node& x = graph.nodes()[i];
    const Node& y = loaded.nodes()[i];
    EXPECT_EQ(x.op, y.op) << "node " << i;
    EXPECT_EQ(x.inputs, y.inputs) << "node " << i;
    EXPECT_EQ(x.attrs, y.attrs) << "node " << i;
    EXPECT_EQ(x.outputs, y.outputs) << "node " << i;
    ASSERT_EQ(x.block_graph == nullptr, y.block_graph == nullptr) << "node " << i;
    if (x.block_graph != nullptr) {
      SCOPED_TRACE("block graph of node " + std::to_string(i));
      expect_same_block_graph(*x.block_graph, *y.block_graph);
    }
  }
  EXPECT_EQ(loaded.input_nodes(), graph.input_nodes());
  EXPECT_EQ(loaded.outputs(), graph.outputs());
}

// Every hand-fused workload at small shapes with the given tiling.
std::vector<Workload> small_workloads(Tiling tiling) {
  return {workloads::rms_norm_matmul(4, 64, 32, DType::F32, tiling),
          workloads::gated_mlp(4, 64, 32, DType::BF16, tiling),
          workloads::lora(4, 64, 32, 8, DType::F16, tiling),
          workloads::attention_decode(2, 4, 64, 16, DType::F32, false, tiling),
          workloads::attention_decode(2, 4, 64, 16, DType::BF16, true, tiling)};
}

Json tiny_document() {
  return Json::parse(graph_to_json(tiny_customized()));
}

// Loads `document`, expecting a UserError mentioning every one of `expected`.
template <typename... Substrings>
::testing::AssertionResult load_error(const Json& document, const Substrings&... expected) {
  const std::string text = document.dump();
  return testing::user_error_matches([&] { graph_from_json(text); }, expected...);
}

TEST(BlockGraphJson, GoldenFormat) {
  // Format version 1 for a customized node, spelled out.
  const std::string expected =
      R"({"format":"yirage.kernel_graph","version":1,"nodes":[)"
      R"({"op":"input","inputs":[],"attrs":{},"outputs":[{"shape":[4,16],"dtype":"float32"}]},)"
      R"({"op":"customized","inputs":[[0,0]],"block_graph":{"grid_dims":[2,1,1],)"
      R"("block_dims":[128,1,1],"forloop_range":2,"reduction_dimx":64,"inputs":[)"
      R"({"dtensor":{"shape":[4,16],"dtype":"float32"},"input_map":[0,-1,-1],"forloop_dim":1}],)"
      R"("nodes":[{"kind":"input","input":0},{"kind":"op","op":"exp","inputs":[[0,0]],"attrs":{}},)"
      R"({"kind":"accumulate","accum":"sum","inputs":[[1,0]]}],)"
      R"("outputs":[{"tile":[2,0],"output_map":[0,-1,-1]}]},)"
      R"("outputs":[{"shape":[4,8],"dtype":"float32"}]}],"outputs":[[1,0]]})";
  EXPECT_EQ(graph_to_json(tiny_customized(), -1), expected);
  expect_exact_round_trip(tiny_customized());
}

TEST(BlockGraphJson, EveryNodeKindAndAccumulatorRoundTrips) {
  const KernelGraph graph = every_kind_graph();
  const Json document = Json::parse(graph_to_json(graph));
  std::set<std::string> kinds;
  std::set<std::string> accums;
  for (const auto& node : document["nodes"][3]["block_graph"]["nodes"]) {
    kinds.insert(node["kind"].get<std::string>());
    if (node.contains("accum")) accums.insert(node["accum"].get<std::string>());
  }
  EXPECT_EQ(kinds, (std::set<std::string>{"input", "op", "accumulate", "reduce_to_dimx"}));
  EXPECT_EQ(accums, (std::set<std::string>{"sum", "mean", "rms", "max", "rescaled_sum"}));
  // Inputs interleave with ops: block input 1 is node 2, after the exp of input 0.
  EXPECT_EQ(document["nodes"][3]["block_graph"]["nodes"][2],
            Json::parse(R"({"kind":"input","input":1})"));
  EXPECT_EQ(document["nodes"][3]["block_graph"]["nodes"][6],
            Json::parse(R"({"kind":"reduce_to_dimx","inputs":[[1,0]],"attrs":{"dim":1}})"));
  expect_exact_round_trip(graph);
}

TEST(BlockGraphJson, StandardWorkloadsRoundTripExactly) {
  for (const Workload& workload : workloads::standard_workloads()) {
    SCOPED_TRACE(workload.name + " " + workload.shape);
    expect_exact_round_trip(workload.fused);
    expect_exact_round_trip(workload.naive);
  }
}

TEST(BlockGraphJson, EveryTilingRoundTripsExactly) {
  int customized = 0;
  for (int64_t grid : {1, 2, 4}) {
    for (int64_t forloop : {1, 2, 4}) {
      for (const Workload& workload : small_workloads({grid, forloop})) {
        SCOPED_TRACE(workload.name + " grid " + std::to_string(grid) + " forloop " +
                     std::to_string(forloop));
        expect_exact_round_trip(workload.fused);
        for (const auto& node : workload.fused.nodes()) customized += node.op == OpKind::Customized;
      }
    }
  }
  // Split-KV attention (grid > 1) has two kernels, the rest one.
  EXPECT_EQ(customized, 3 * 3 * 5 + 2 * 3 * 2);
}

TEST(BlockGraphJson, SharedBlockGraphsAreWrittenOncePerNode) {
  auto block = std::make_shared<BlockGraph>(Dim3{1, 1, 1});
  const TensorRef tile = block->input({{4, 8}, DType::F32}, {-1, -1, -1}, -1);
  block->output(block->add_op(OpKind::Sigmoid, {tile}, {})[0], {-1, -1, -1});
  KernelGraph g;
  const TensorRef once = g.customized({g.input({4, 8}, DType::F32)}, block)[0];
  g.mark_output(g.customized({once}, block)[0]);
  const KernelGraph loaded = graph_from_json(graph_to_json(g));
  EXPECT_NE(loaded.node(1).block_graph, loaded.node(2).block_graph);
  expect_same_block_graph(*loaded.node(1).block_graph, *loaded.node(2).block_graph);
  expect_exact_round_trip(g);
}

TEST(BlockGraphJsonErrors, MissingAndUnknownFields) {
  for (const char* field : {"op", "inputs", "block_graph", "outputs"}) {
    Json document = tiny_document();
    document["nodes"][1].erase(field);
    EXPECT_TRUE(
        load_error(document, std::string("graph JSON: nodes[1]: missing field '") + field + "'"));
  }
  for (const char* field : {"grid_dims", "block_dims", "forloop_range", "reduction_dimx", "inputs",
                            "nodes", "outputs"}) {
    Json document = tiny_document();
    document["nodes"][1]["block_graph"].erase(field);
    EXPECT_TRUE(load_error(
        document, std::string("graph JSON: nodes[1].block_graph: missing field '") + field + "'"));
  }
  for (const char* field : {"dtensor", "input_map", "forloop_dim"}) {
    Json document = tiny_document();
    document["nodes"][1]["block_graph"]["inputs"][0].erase(field);
    EXPECT_TRUE(load_error(
        document,
        std::string("graph JSON: nodes[1].block_graph.inputs[0]: missing field '") + field + "'"));
  }
  for (const auto& [node, field] : std::vector<std::pair<int, const char*>>{{0, "kind"},
                                                                            {0, "input"},
                                                                            {1, "op"},
                                                                            {1, "inputs"},
                                                                            {1, "attrs"},
                                                                            {2, "accum"},
                                                                            {2, "inputs"}}) {
    Json document = tiny_document();
    document["nodes"][1]["block_graph"]["nodes"][node].erase(field);
    EXPECT_TRUE(load_error(document, "graph JSON: nodes[1].block_graph.nodes[" +
                                         std::to_string(node) + "]: missing field '" + field +
                                         "'"));
  }
  for (const char* field : {"tile", "output_map"}) {
    Json document = tiny_document();
    document["nodes"][1]["block_graph"]["outputs"][0].erase(field);
    EXPECT_TRUE(load_error(
        document,
        std::string("graph JSON: nodes[1].block_graph.outputs[0]: missing field '") + field + "'"));
  }
  Json document = tiny_document();
  document["nodes"][1]["attrs"] = Json::object();
  EXPECT_TRUE(load_error(document,
                         "graph JSON: nodes[1]: unknown field 'attrs'; expected only op, inputs, "
                         "block_graph, outputs"));
  document = tiny_document();
  document["nodes"][0]["block_graph"] = document["nodes"][1]["block_graph"];
  EXPECT_TRUE(load_error(document,
                         "graph JSON: nodes[0]: unknown field 'block_graph'; expected only op, "
                         "inputs, attrs, outputs"));
  document = tiny_document();
  document["nodes"][1]["block_graph"]["nodes"][2]["attrs"] = Json::object();
  EXPECT_TRUE(load_error(document,
                         "graph JSON: nodes[1].block_graph.nodes[2]: unknown field 'attrs'; "
                         "expected only kind, accum, inputs"));
  document = tiny_document();
  document["nodes"][1]["block_graph"]["nodes"][0]["inputs"] = Json::array();
  EXPECT_TRUE(load_error(document,
                         "graph JSON: nodes[1].block_graph.nodes[0]: unknown field 'inputs'; "
                         "expected only kind, input"));
}

TEST(BlockGraphJsonErrors, WrongTypes) {
  struct Case {
    std::function<void(Json&)> edit;
    std::string expected;
  };
  const Case cases[] = {
      {[](Json& b) {
         b["grid_dims"] = Json::array({2, 1});
       },
       "graph JSON: nodes[1].block_graph.grid_dims: expected an array of 3 integers (grid axes x, "
       "y, z), got array"},
      {[](Json& b) { b["block_dims"][1] = "1"; },
       "graph JSON: nodes[1].block_graph.block_dims[1]: expected an integer, got string"},
      {[](Json& b) { b["forloop_range"] = 2.5; },
       "graph JSON: nodes[1].block_graph.forloop_range: expected an integer, got number 2.5"},
      {[](Json& b) { b["reduction_dimx"] = nullptr; },
       "graph JSON: nodes[1].block_graph.reduction_dimx: expected an integer, got null"},
      {[](Json& b) { b["inputs"] = Json::object(); },
       "graph JSON: nodes[1].block_graph.inputs: expected an array of block inputs, got object"},
      {[](Json& b) {
         b["inputs"][0]["input_map"] = Json::array({0, -1, -1, -1});
       },
       "graph JSON: nodes[1].block_graph.inputs[0].input_map: expected an array of 3 dims or -1"},
      {[](Json& b) { b["inputs"][0]["input_map"][2] = -2; },
       "graph JSON: nodes[1].block_graph.inputs[0].input_map[2]: -2 is out of range; expected -1 "
       "or a dim index"},
      {[](Json& b) { b["inputs"][0]["forloop_dim"] = "1"; },
       "graph JSON: nodes[1].block_graph.inputs[0].forloop_dim: expected an integer, got string"},
      {[](Json& b) { b["inputs"][0]["dtensor"]["dtype"] = "float64"; },
       "graph JSON: nodes[1].block_graph.inputs[0].dtensor.dtype: unknown dtype 'float64'"},
      {[](Json& b) {
         b["inputs"][0]["dtensor"]["shape"] = Json::array({4, 0});
       },
       "graph JSON: nodes[1].block_graph.inputs[0].dtensor: input of shape [4, 0] has an extent < "
       "1"},
      {[](Json& b) { b["nodes"] = 3; },
       "graph JSON: nodes[1].block_graph.nodes: expected an array of block nodes, got integer 3"},
      {[](Json& b) { b["nodes"][1] = Json::array(); },
       "graph JSON: nodes[1].block_graph.nodes[1]: expected an object, got array"},
      {[](Json& b) { b["nodes"][1]["kind"] = 1; },
       "graph JSON: nodes[1].block_graph.nodes[1].kind: expected a block node kind, got integer 1"},
      {[](Json& b) { b["nodes"][0]["input"] = -1; },
       "graph JSON: nodes[1].block_graph.nodes[0].input: index -1 is out of range"},
      {[](Json& b) { b["nodes"][1]["inputs"][0] = 0; },
       "graph JSON: nodes[1].block_graph.nodes[1].inputs[0]: expected a pair [node, output] of "
       "integers, got integer 0"},
      {[](Json& b) { b["nodes"][2]["accum"] = false; },
       "graph JSON: nodes[1].block_graph.nodes[2].accum: expected an accumulator name, got boolean "
       "false"},
      {[](Json& b) { b["outputs"] = "all"; },
       "graph JSON: nodes[1].block_graph.outputs: expected an array of block outputs, got string"},
      {[](Json& b) { b["outputs"][0]["tile"] = Json::array({2}); },
       "graph JSON: nodes[1].block_graph.outputs[0].tile: expected a pair [node, output] of "
       "integers, got array"},
      {[](Json& b) { b["outputs"][0]["output_map"] = "x"; },
       "graph JSON: nodes[1].block_graph.outputs[0].output_map: expected an array of 3 dims or -1 "
       "(grid axes x, y, z), got string"},
      {[](Json& b) { b = Json::array(); },
       "graph JSON: nodes[1].block_graph: expected an object, got array"},
  };
  for (const auto& c : cases) {
    Json document = tiny_document();
    c.edit(document["nodes"][1]["block_graph"]);
    EXPECT_TRUE(load_error(document, c.expected));
  }
}

TEST(BlockGraphJsonErrors, UnknownKindOpAndAccumulator) {
  Json document = tiny_document();
  document["nodes"][1]["block_graph"]["nodes"][1]["kind"] = "loop";
  EXPECT_TRUE(load_error(document,
                         "graph JSON: nodes[1].block_graph.nodes[1].kind: unknown block node kind "
                         "'loop'; expected one of input, op, accumulate, reduce_to_dimx"));
  document = tiny_document();
  document["nodes"][1]["block_graph"]["nodes"][1]["op"] = "tanh";
  EXPECT_TRUE(
      load_error(document, "graph JSON: nodes[1].block_graph.nodes[1].op: unknown op 'tanh'"));
  document = tiny_document();
  document["nodes"][1]["block_graph"]["nodes"][1]["op"] = "reshape";
  document["nodes"][1]["block_graph"]["nodes"][1]["attrs"] = Json::parse(R"({"shape": [64]})");
  EXPECT_TRUE(load_error(document, "graph JSON: nodes[1].block_graph.nodes[1]: ",
                         "'reshape' is a kernel-level op only"));
  document = tiny_document();
  document["nodes"][1]["block_graph"]["nodes"][2]["accum"] = "product";
  EXPECT_TRUE(load_error(document,
                         "graph JSON: nodes[1].block_graph.nodes[2].accum: unknown accumulator "
                         "'product'; expected one of sum, mean, rms, max, rescaled_sum"));
  document = tiny_document();
  document["nodes"][1]["block_graph"]["nodes"][2]["accum"] = "rescaled_sum";
  EXPECT_TRUE(
      load_error(document,
                 "graph JSON: nodes[1].block_graph.nodes[2].inputs: forloop_accum(rescaled_sum) "
                 "takes 2 operands; got 1"));
  document = tiny_document();
  document["nodes"][1]["block_graph"]["nodes"][2]["inputs"].push_back(Json::array({0, 0}));
  EXPECT_TRUE(
      load_error(document,
                 "graph JSON: nodes[1].block_graph.nodes[2].inputs: forloop_accum(sum) takes "
                 "1 operand; got 2"));
}

TEST(BlockGraphJsonErrors, AttributesOfBlockOps) {
  Json document = tiny_document();
  document["nodes"][1]["block_graph"]["nodes"][1]["attrs"]["dim"] = 0;
  EXPECT_TRUE(load_error(document,
                         "graph JSON: nodes[1].block_graph.nodes[1].attrs: exp has no attribute "
                         "'dim'; expected no attributes"));
  document = tiny_document();
  document["nodes"][1]["block_graph"]["nodes"][1]["op"] = "sum";
  document["nodes"][1]["block_graph"]["nodes"][1]["attrs"]["dim"] = 1;
  EXPECT_TRUE(load_error(document,
                         "graph JSON: nodes[1].block_graph.nodes[1]: sum: attribute "
                         "'keepdim' is missing; expected a value of type bool"));
  document["nodes"][1]["block_graph"]["nodes"][1]["attrs"]["keepdim"] = "yes";
  EXPECT_TRUE(load_error(document,
                         "graph JSON: nodes[1].block_graph.nodes[1].attrs.keepdim: expected a "
                         "boolean, got string"));
  // reduce_to_dimx carries exactly its dim.
  document = tiny_document();
  document["nodes"][1]["block_graph"]["reduction_dimx"] = 4;
  document["nodes"][1]["block_graph"]["nodes"][1] =
      Json::parse(R"({"kind": "reduce_to_dimx", "inputs": [[0, 0]], "attrs": {}})");
  EXPECT_TRUE(load_error(document,
                         "graph JSON: nodes[1].block_graph.nodes[1].attrs: reduce_to_dimx: "
                         "attribute 'dim' is missing; expected a value of type int"));
  document["nodes"][1]["block_graph"]["nodes"][1]["attrs"] =
      Json::parse(R"({"dim": 1, "keepdim": true})");
  EXPECT_TRUE(load_error(document,
                         "graph JSON: nodes[1].block_graph.nodes[1].attrs: reduce_to_dimx has "
                         "no attribute 'keepdim'; expected only dim"));
  document["nodes"][1]["block_graph"]["nodes"][1]["attrs"] = Json::parse(R"({"dim": 0})");
  EXPECT_TRUE(load_error(document,
                         "graph JSON: nodes[1].block_graph.nodes[1]: reduce_to_dimx: dim 0 of "
                         "float32[2, 8] has extent 2",
                         "reduction_dimx 4 does not divide"));
  document["nodes"][1]["block_graph"]["nodes"][1]["inputs"].push_back(Json::array({0, 0}));
  EXPECT_TRUE(load_error(document,
                         "graph JSON: nodes[1].block_graph.nodes[1].inputs: reduce_to_dimx "
                         "takes 1 operand; got 2"));
  // With dim 1 the tile becomes [2, 4]; the loaded graph says so.
  document["nodes"][1]["block_graph"]["nodes"][1]["inputs"].erase(1);
  document["nodes"][1]["block_graph"]["nodes"][1]["attrs"]["dim"] = 1;
  document["nodes"][1]["outputs"][0]["shape"] = Json::array({4, 4});
  const KernelGraph loaded = graph_from_json(document.dump());
  EXPECT_EQ(loaded.node(1).block_graph->nodes()[1].outputs[0].shape, (core::Shape{2, 4}));
}

TEST(BlockGraphJsonErrors, ReferencesPointBackwardWithinTheBlockGraph) {
  Json document = tiny_document();
  document["nodes"][1]["block_graph"]["nodes"][1]["inputs"][0] = Json::array({1, 0});
  EXPECT_TRUE(load_error(document,
                         "graph JSON: nodes[1].block_graph.nodes[1].inputs[0]: refers to node 1, "
                         "but block node 1 can only use outputs of earlier nodes"));
  document["nodes"][1]["block_graph"]["nodes"][1]["inputs"][0] = Json::array({0, 1});
  EXPECT_TRUE(load_error(document,
                         "graph JSON: nodes[1].block_graph.nodes[1].inputs[0]: refers to output 1 "
                         "of node 0 (input), which has 1 output"));
  document = tiny_document();
  document["nodes"][1]["block_graph"]["outputs"][0]["tile"] = Json::array({3, 0});
  EXPECT_TRUE(load_error(document,
                         "graph JSON: nodes[1].block_graph.outputs[0].tile: refers to node 3, but "
                         "the block graph has 3 nodes"));
  document["nodes"][1]["block_graph"]["outputs"][0]["tile"] = Json::array({2, 4});
  EXPECT_TRUE(load_error(document,
                         "graph JSON: nodes[1].block_graph.outputs[0].tile: refers to output 4 of "
                         "node 2 (forloop_accum), which has 1 output"));
}

TEST(BlockGraphJsonErrors, InputNodesReadEveryInputInOrder) {
  // Two inputs over the same tensor; their nodes swapped, repeated or missing.
  KernelGraph g;
  auto block = std::make_shared<BlockGraph>(Dim3{1, 1, 1});
  const TensorRef a = block->input({{4, 8}, DType::F32}, {-1, -1, -1}, -1);
  const TensorRef b = block->input({{4, 8}, DType::F32}, {-1, -1, -1}, -1);
  block->output(block->add_op(OpKind::Sub, {a, b}, {})[0], {-1, -1, -1});
  const TensorRef x = g.input({4, 8}, DType::F32);
  g.mark_output(g.customized({x, x}, block)[0]);
  const Json document = Json::parse(graph_to_json(g));
  Json edited = document;
  edited["nodes"][1]["block_graph"]["nodes"][0]["input"] = 1;
  EXPECT_TRUE(load_error(edited,
                         "graph JSON: nodes[1].block_graph.nodes[0].input: block input 1 is "
                         "out of order; expected block input 0"));
  edited = document;
  edited["nodes"][1]["block_graph"]["nodes"][1]["input"] = 2;
  EXPECT_TRUE(load_error(edited,
                         "graph JSON: nodes[1].block_graph.nodes[1].input: refers to block "
                         "input 2, but the block graph has 2 inputs"));
  edited = document;
  edited["nodes"][1]["block_graph"]["nodes"][1]["input"] = 0;
  EXPECT_TRUE(load_error(edited,
                         "graph JSON: nodes[1].block_graph.nodes[1].input: block input 0 is "
                         "out of order; expected block input 1"));
  edited = document;
  edited["nodes"][1]["block_graph"]["inputs"].push_back(
      edited["nodes"][1]["block_graph"]["inputs"][0]);
  EXPECT_TRUE(load_error(edited,
                         "graph JSON: nodes[1].block_graph.inputs[2]: no block node reads "
                         "block input 2; expected a node {\"kind\": \"input\", \"input\": 2}"));
}

TEST(BlockGraphJsonErrors, BuilderChecksRunAgainWithTheirLocation) {
  struct Case {
    std::function<void(Json&)> edit;
    std::vector<std::string> expected;
  };
  const Case cases[] = {
      {[](Json& b) {
         b["grid_dims"] = Json::array({1, 70000, 1});
       },
       {"graph JSON: nodes[1].block_graph: grid_dim (1, 70000, 1) has extent 70000 on axis y"}},
      {[](Json& b) {
         b["block_dims"] = Json::array({64, 32, 1});
       },
       {"graph JSON: nodes[1].block_graph: block_dim (64, 32, 1) has 2048 threads"}},
      {[](Json& b) { b["forloop_range"] = 0; },
       {"graph JSON: nodes[1].block_graph: forloop_range 0 is not positive"}},
      {[](Json& b) { b["reduction_dimx"] = -4; },
       {"graph JSON: nodes[1].block_graph: reduction_dimx -4 is not positive"}},
      {[](Json& b) { b["grid_dims"][0] = 3; },
       {"graph JSON: nodes[1].block_graph.inputs[0]: input_map (0, -1, -1) splits dim 0 of "
        "float32[4, 16] (extent 4) over grid axis x of extent 3, which does not divide it"}},
      {[](Json& b) {
         b["inputs"][0]["input_map"] = Json::array({2, -1, -1});
       },
       {"graph JSON: nodes[1].block_graph.inputs[0]: input_map (2, -1, -1) maps grid axis x to "
        "dim 2 of float32[4, 16]"}},
      {[](Json& b) {
         b["inputs"][0]["input_map"] = Json::array({0, 0, -1});
       },
       {"graph JSON: nodes[1].block_graph.inputs[0]: input_map (0, 0, -1) maps grid axes x and y "
        "to the same dim 0"}},
      {[](Json& b) { b["forloop_range"] = 3; },
       {"graph JSON: nodes[1].block_graph.inputs[0]: forloop_dim 1 of float32[4, 16] has extent 16 "
        "per block, which forloop_range 3 does not divide"}},
      {[](Json& b) { b["inputs"][0]["forloop_dim"] = 2; },
       {"graph JSON: nodes[1].block_graph.inputs[0]: forloop_dim 2 is out of range"}},
      {[](Json& b) {
         b["outputs"][0]["tile"] = Json::array({1, 0});
       },
       {"graph JSON: nodes[1].block_graph.outputs[0]: output of tile %1",
        "is saved before "
        "accumulation"}},
      {[](Json& b) {
         b["outputs"][0]["output_map"] = Json::array({-1, -1, -1});
       },
       {"graph JSON: nodes[1].block_graph.outputs[0]: output_map (-1, -1, -1) leaves grid axis x "
        "(extent 2) unmapped"}},
      {[](Json& b) { b["outputs"] = Json::array(); },
       {"graph JSON: nodes[1].block_graph: the block graph has no outputs"}},
      {[](Json& b) {
         b["nodes"][2] =
             Json::parse(R"({"kind": "op", "op": "add", "inputs": [[1, 0], [2, 0]], "attrs": {}})");
       },
       {"graph JSON: nodes[1].block_graph.nodes[2].inputs[1]: refers to node 2"}},
      {[](Json& b) {
         b["nodes"].push_back(Json::parse(
             R"({"kind": "op", "op": "add", "inputs": [[1, 0], [2, 0]], "attrs": {}})"));
       },
       {"graph JSON: nodes[1].block_graph.nodes[3]: block add mixes a per-iteration tile with an "
        "accumulated (after-loop) tile"}},
      {[](Json& b) {
         b["nodes"].push_back(
             Json::parse(R"({"kind": "accumulate", "accum": "max", "inputs": [[2, 0]]})"));
       },
       {"graph JSON: nodes[1].block_graph.nodes[3]: forloop_accum(max) of a tile that is already "
        "accumulated"}},
      {[](Json& b) {
         b["nodes"].push_back(Json::parse(
             R"({"kind": "op", "op": "matmul", "inputs": [[1, 0], [1, 0]], "attrs": {}})"));
       },
       {"graph JSON: nodes[1].block_graph.nodes[3]: matmul"}},
  };
  for (const auto& c : cases) {
    Json document = tiny_document();
    c.edit(document["nodes"][1]["block_graph"]);
    const std::string text = document.dump();
    const auto matches = [&] {
      for (const auto& expected : c.expected) {
        const auto result = testing::user_error_matches([&] { graph_from_json(text); }, expected);
        if (!result) return result;
      }
      return ::testing::AssertionSuccess();
    }();
    EXPECT_TRUE(matches);
  }
}

TEST(BlockGraphJsonErrors, KernelLevelChecksOfTheCustomizedNode) {
  // The block input must be declared over the type of the tensor the node passes.
  Json document = tiny_document();
  document["nodes"][1]["block_graph"]["inputs"][0]["dtensor"]["dtype"] = "bfloat16";
  document["nodes"][1]["outputs"][0]["dtype"] = "bfloat16";
  EXPECT_TRUE(load_error(document,
                         "graph JSON: nodes[1]: customized: input 0 is float32[4, 16], but "
                         "block input 0 was declared over bfloat16[4, 16]"));
  document = tiny_document();
  document["nodes"][1]["inputs"].push_back(Json::array({0, 0}));
  EXPECT_TRUE(load_error(
      document, "graph JSON: nodes[1]: customized: the block graph has 1 inputs; got 2 tensors"));
  document = tiny_document();
  document["nodes"][1]["inputs"][0] = Json::array({1, 0});
  EXPECT_TRUE(load_error(document,
                         "graph JSON: nodes[1].inputs[0]: refers to node 1, but node 1 can "
                         "only use outputs of earlier nodes"));
  // The stored output types are compared with those the block graph gives.
  document = tiny_document();
  document["nodes"][1]["outputs"][0]["shape"] = Json::array({4, 16});
  EXPECT_TRUE(load_error(document,
                         "graph JSON: nodes[1].outputs[0]: the stored type float32[4, 16] "
                         "differs from the inferred type float32[4, 8]"));
  document = tiny_document();
  document["nodes"][1]["outputs"].push_back(document["nodes"][1]["outputs"][0]);
  EXPECT_TRUE(load_error(document,
                         "graph JSON: nodes[1].outputs: 2 output types are stored, but "
                         "customized with these inputs and block graph has 1"));
  // Tiling by output_map decides the kernel-level shape.
  document = tiny_document();
  document["nodes"][1]["block_graph"]["outputs"][0]["output_map"] = Json::array({1, -1, -1});
  EXPECT_TRUE(load_error(document,
                         "graph JSON: nodes[1].outputs[0]: the stored type float32[4, 8] "
                         "differs from the inferred type float32[2, 16]"));
}

}  // namespace
}  // namespace yirage::ir
