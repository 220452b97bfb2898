#include "yirage/ir/serialize.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "ir/random_graph.h"
#include "yirage/core/error.h"
#include "yirage/ir/fingerprint.h"

namespace yirage::ir {
namespace {

using core::DType;
using Json = nlohmann::json;

// The message of the UserError `action` throws; a test failure if it throws none.
std::string user_error(const std::function<void()>& action) {
  try {
    action();
  } catch (const core::UserError& error) {
    return error.what();
  }
  ADD_FAILURE() << "expected a UserError";
  return "";
}

// Loads `text` expecting a UserError whose message contains `expected`.
void expect_load_error(const std::string& text, const std::string& expected) {
  const std::string message = user_error([&] { graph_from_json(text); });
  EXPECT_NE(message.find(expected), std::string::npos)
      << "message: " << message << "\nexpected to contain: " << expected << "\ninput: " << text;
}

void expect_document_error(const Json& document, const std::string& expected) {
  expect_load_error(document.dump(), expected);
}

void expect_same_nodes(const KernelGraph& a, const KernelGraph& b) {
  ASSERT_EQ(a.nodes().size(), b.nodes().size());
  for (std::size_t i = 0; i < a.nodes().size(); ++i) {
    const Node& x = a.nodes()[i];
    const Node& y = b.nodes()[i];
    EXPECT_EQ(x.op, y.op) << "node " << i;
    EXPECT_EQ(x.inputs, y.inputs) << "node " << i;
    EXPECT_EQ(x.attrs, y.attrs) << "node " << i;
    EXPECT_EQ(x.outputs, y.outputs) << "node " << i;
  }
  EXPECT_EQ(a.input_nodes(), b.input_nodes());
  EXPECT_EQ(a.outputs(), b.outputs());
}

// x [8, 16] and w [16] -> rms_norm -> split [4, 12] along dim 1 -> sum of piece 1 (keepdim).
KernelGraph small_graph() {
  KernelGraph g;
  const TensorRef x = g.input({8, 16}, DType::F32);
  const TensorRef w = g.input({16}, DType::F32);
  const TensorRef y = g.rms_norm(x, w, 1e-6);
  const auto pieces = g.split(y, {4, 12}, -1);
  const TensorRef s = g.reduce(OpKind::Sum, pieces[1], 1, true);
  g.mark_output(s);
  g.mark_output(pieces[0]);
  return g;
}

Json small_document() {
  return Json::parse(graph_to_json(small_graph()));
}

TEST(Serialize, GoldenFormat) {
  // The version 1 format, spelled out: changing it needs a new version number.
  const std::string expected =
      R"({"format":"yirage.kernel_graph","version":1,"nodes":[)"
      R"({"op":"input","inputs":[],"attrs":{},"outputs":[{"shape":[8,16],"dtype":"float32"}]},)"
      R"({"op":"input","inputs":[],"attrs":{},"outputs":[{"shape":[16],"dtype":"float32"}]},)"
      R"({"op":"rms_norm","inputs":[[0,0],[1,0]],"attrs":{"eps":1e-06},)"
      R"("outputs":[{"shape":[8,16],"dtype":"float32"}]},)"
      R"({"op":"split","inputs":[[2,0]],"attrs":{"dim":1,"sizes":[4,12]},)"
      R"("outputs":[{"shape":[8,4],"dtype":"float32"},{"shape":[8,12],"dtype":"float32"}]},)"
      R"({"op":"sum","inputs":[[3,1]],"attrs":{"dim":1,"keepdim":true},)"
      R"("outputs":[{"shape":[8,1],"dtype":"float32"}]}],"outputs":[[4,0],[3,0]]})";
  EXPECT_EQ(graph_to_json(small_graph(), -1), expected);
  // Indented output is the same document.
  EXPECT_EQ(Json::parse(graph_to_json(small_graph(), 2)), Json::parse(expected));
  EXPECT_NE(graph_to_json(small_graph(), 2).find("\n  \"version\": 1"), std::string::npos);
}

TEST(Serialize, RoundTripOfRandomGraphsIsExact) {
  for (uint64_t seed = 0; seed < 250; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    const KernelGraph graph = testing::random_kernel_graph(seed, 1 + static_cast<int>(seed % 40));
    const std::string text = graph_to_json(graph);
    const KernelGraph loaded = graph_from_json(text);
    EXPECT_EQ(graph_to_json(loaded), text);
    EXPECT_EQ(graph_to_json(loaded, -1), graph_to_json(graph, -1));
    EXPECT_EQ(graph_fingerprint(loaded), graph_fingerprint(graph));
    expect_same_nodes(graph, loaded);
    expect_same_nodes(graph, graph_from_json(graph_to_json(graph, -1)));
  }
}

TEST(Serialize, RandomGraphsCoverEveryKernelOp) {
  // The round trip above is only as good as the graphs it sees: every op but customized (whose
  // block graphs block_graph_serialize_test.cpp covers), both keepdim values and several output
  // counts must occur.
  std::set<OpKind> ops;
  std::set<bool> keepdims;
  std::set<std::size_t> output_counts;
  for (uint64_t seed = 0; seed < 250; ++seed) {
    const KernelGraph graph = testing::random_kernel_graph(seed, 1 + static_cast<int>(seed % 40));
    output_counts.insert(graph.outputs().size());
    for (const auto& node : graph.nodes()) {
      ops.insert(node.op);
      if (node.attrs.has("keepdim")) keepdims.insert(node.attrs.get_bool("keepdim"));
    }
  }
  EXPECT_EQ(ops.size(), static_cast<std::size_t>(num_ops() - 1));
  EXPECT_EQ(ops.count(OpKind::Customized), 0u);
  EXPECT_EQ(keepdims.size(), 2u);
  EXPECT_EQ(output_counts, (std::set<std::size_t>{1, 2, 3}));
}

TEST(Serialize, FloatAttributesRoundTripBitForBit) {
  const double values[] = {0.1,
                           -0.0,
                           0.0,
                           1e-300,
                           std::numeric_limits<double>::denorm_min(),
                           std::numeric_limits<double>::max(),
                           -std::numeric_limits<double>::lowest(),
                           1.0 / 3.0,
                           std::nextafter(1e-6, 1.0),
                           std::numeric_limits<double>::infinity(),
                           -std::numeric_limits<double>::infinity()};
  for (double value : values) {
    KernelGraph g;
    g.mark_output(g.unary(OpKind::MulScalar, g.input({3}, DType::F32), value));
    const KernelGraph loaded = graph_from_json(graph_to_json(g));
    const double back = loaded.node(1).attrs.get_float("scalar");
    EXPECT_EQ(std::bit_cast<uint64_t>(back), std::bit_cast<uint64_t>(value)) << value;
  }
  KernelGraph g;
  g.mark_output(g.unary(OpKind::AddScalar, g.input({3}, DType::F32),
                        std::numeric_limits<double>::quiet_NaN()));
  const std::string text = graph_to_json(g, -1);
  EXPECT_NE(text.find(R"("scalar":"NaN")"), std::string::npos) << text;
  EXPECT_TRUE(std::isnan(graph_from_json(text).node(1).attrs.get_float("scalar")));
}

TEST(Serialize, IntegerValuedFloatsStayFloats) {
  KernelGraph g;
  g.mark_output(g.rope(g.input({2, 4}, DType::BF16), g.input({2}, DType::I64), 10000.0));
  const std::string text = graph_to_json(g, -1);
  EXPECT_NE(text.find(R"("theta":10000.0)"), std::string::npos) << text;
  // A float attribute written as a JSON integer is accepted.
  Json document = Json::parse(text);
  document["nodes"][2]["attrs"]["theta"] = 500;
  EXPECT_EQ(graph_from_json(document.dump()).node(2).attrs.get_float("theta"), 500.0);
}

TEST(Serialize, EmptyGraphRoundTrips) {
  const KernelGraph empty;
  const KernelGraph loaded = graph_from_json(graph_to_json(empty));
  EXPECT_TRUE(loaded.nodes().empty());
  EXPECT_TRUE(loaded.outputs().empty());
}

TEST(SerializeErrors, MalformedAndTruncatedText) {
  const std::string text = graph_to_json(small_graph());
  for (std::size_t cut : {std::size_t{0}, std::size_t{1}, text.size() / 4, text.size() / 2,
                          text.size() - 2, text.size() - 1}) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    const std::string truncated = text.substr(0, cut);
    const std::string message = user_error([&] { graph_from_json(truncated); });
    // Cut mid-token, the parser stops past the end: "truncated after N bytes"; cut between
    // tokens, it stops at the end: "malformed JSON at byte N of N".
    const bool truncated_form = message.find("graph JSON: truncated after " + std::to_string(cut) +
                                             " bytes: ") != std::string::npos;
    const bool malformed_form =
        message.find("graph JSON: malformed JSON at byte ") != std::string::npos &&
        message.find(" of " + std::to_string(cut) + ": ") != std::string::npos;
    EXPECT_TRUE(truncated_form || malformed_form) << message;
    EXPECT_EQ(message.find("byte " + std::to_string(cut + 1) + " of"), std::string::npos)
        << message;
    EXPECT_EQ(message.find("[json.exception"), std::string::npos) << message;
  }
  expect_load_error("{\"format\": yirage}", "graph JSON: malformed JSON at byte 12 of 18");
  expect_load_error(text + " trailing", "malformed JSON at byte");
}

TEST(SerializeErrors, TopLevel) {
  expect_load_error("[1, 2]", "graph JSON: the top level: expected an object, got array");
  Json document = small_document();
  document["format"] = "yirage.block_graph";
  expect_document_error(
      document, R"(graph JSON: format is "yirage.block_graph"; expected "yirage.kernel_graph")");
  document = small_document();
  document["version"] = 7;
  expect_document_error(document,
                        "graph JSON: version 7 is not supported; this build reads version 1");
  document["version"] = 0;
  expect_document_error(document,
                        "graph JSON: version 0 is not supported; this build reads version 1");
  document["version"] = "1";
  expect_document_error(document, "graph JSON: version: expected an integer, got string");
  document["version"] = 1.5;
  expect_document_error(document, "graph JSON: version: expected an integer, got number 1.5");
  document["version"] = std::numeric_limits<uint64_t>::max();
  expect_document_error(document, "graph JSON: version: integer 18446744073709551615 is too large");
  document = small_document();
  document["extra"] = true;
  expect_document_error(document,
                        "graph JSON: the top level: unknown field 'extra'; expected only format, "
                        "version, nodes, outputs");
  document = small_document();
  document["nodes"] = Json::object();
  expect_document_error(document, "graph JSON: nodes: expected an array of nodes, got object");
  document = small_document();
  document["outputs"] = 4;
  expect_document_error(
      document, "graph JSON: outputs: expected an array of [node, output] pairs, got integer 4");
}

TEST(SerializeErrors, EveryMissingFieldIsNamed) {
  for (const char* field : {"format", "version", "nodes", "outputs"}) {
    Json document = small_document();
    document.erase(field);
    expect_document_error(document,
                          std::string("graph JSON: the top level: missing field '") + field + "'");
  }
  for (const char* field : {"op", "inputs", "attrs", "outputs"}) {
    Json document = small_document();
    document["nodes"][3].erase(field);
    expect_document_error(document,
                          std::string("graph JSON: nodes[3]: missing field '") + field + "'");
  }
  for (const char* field : {"shape", "dtype"}) {
    Json document = small_document();
    document["nodes"][3]["outputs"][1].erase(field);
    expect_document_error(
        document, std::string("graph JSON: nodes[3].outputs[1]: missing field '") + field + "'");
  }
}

TEST(SerializeErrors, UnknownOpAndDtype) {
  Json document = small_document();
  document["nodes"][2]["op"] = "layer_norm";
  expect_document_error(document, "graph JSON: nodes[2].op: unknown op 'layer_norm'");
  document["nodes"][2]["op"] = 3;
  expect_document_error(document, "graph JSON: nodes[2].op: expected an op name, got integer 3");
  document = small_document();
  document["nodes"][0]["outputs"][0]["dtype"] = "float8";
  expect_document_error(
      document,
      "graph JSON: nodes[0].outputs[0].dtype: unknown dtype 'float8'; expected one "
      "of float32, float16, bfloat16, int32, int64");
  document["nodes"][0]["outputs"][0]["dtype"] = nullptr;
  expect_document_error(document,
                        "graph JSON: nodes[0].outputs[0].dtype: expected a dtype name, got null");
}

TEST(SerializeErrors, WrongTypes) {
  struct Case {
    std::function<void(Json&)> edit;
    std::string expected;
  };
  const Case cases[] = {
      {[](Json& d) { d["nodes"][2]["attrs"]["eps"] = "small"; },
       "graph JSON: nodes[2].attrs.eps: expected a number, got string \"small\""},
      {[](Json& d) { d["nodes"][2]["attrs"]["eps"] = true; },
       "graph JSON: nodes[2].attrs.eps: expected a number, got boolean true"},
      {[](Json& d) { d["nodes"][3]["attrs"]["dim"] = 1.5; },
       "graph JSON: nodes[3].attrs.dim: expected an integer, got number 1.5"},
      {[](Json& d) { d["nodes"][3]["attrs"]["sizes"] = 16; },
       "graph JSON: nodes[3].attrs.sizes: expected an array of integers, got integer 16"},
      {[](Json& d) { d["nodes"][3]["attrs"]["sizes"][1] = "12"; },
       "graph JSON: nodes[3].attrs.sizes[1]: expected an integer, got string"},
      {[](Json& d) { d["nodes"][4]["attrs"]["keepdim"] = 1; },
       "graph JSON: nodes[4].attrs.keepdim: expected a boolean, got integer 1"},
      {[](Json& d) { d["nodes"][2]["attrs"] = Json::array(); },
       "graph JSON: nodes[2].attrs: expected an object, got array"},
      {[](Json& d) { d["nodes"][2]["inputs"] = "x"; },
       "graph JSON: nodes[2].inputs: expected an array of [node, output] pairs, got string"},
      {[](Json& d) { d["nodes"][2]["inputs"][1] = Json::array({1}); },
       "graph JSON: nodes[2].inputs[1]: expected a pair [node, output] of integers, got array"},
      {[](Json& d) { d["nodes"][2]["inputs"][1][0] = "1"; },
       "graph JSON: nodes[2].inputs[1][0]: expected an integer, got string"},
      {[](Json& d) { d["nodes"][2]["inputs"][1][1] = -1; },
       "graph JSON: nodes[2].inputs[1][1]: index -1 is out of range; expected a non-negative"},
      {[](Json& d) { d["nodes"][0]["outputs"] = Json::object(); },
       "graph JSON: nodes[0].outputs: expected an array of {\"shape\", \"dtype\"} objects, got "
       "object"},
      {[](Json& d) { d["nodes"][0]["outputs"][0]["shape"] = "8x16"; },
       "graph JSON: nodes[0].outputs[0].shape: expected an array of integers, got string"},
      {[](Json& d) { d["nodes"][0]["outputs"][0]["shape"][0] = 8.0; },
       "graph JSON: nodes[0].outputs[0].shape[0]: expected an integer, got number 8.0"},
      {[](Json& d) { d["nodes"][1] = Json::array(); },
       "graph JSON: nodes[1]: expected an object, got array"},
      {[](Json& d) { d["nodes"][1]["extra"] = 1; },
       "graph JSON: nodes[1]: unknown field 'extra'; expected only op, inputs, attrs, outputs"},
      {[](Json& d) { d["outputs"][1] = 3; },
       "graph JSON: outputs[1]: expected a pair [node, output] of integers, got integer 3"},
  };
  for (const auto& c : cases) {
    Json document = small_document();
    c.edit(document);
    expect_document_error(document, c.expected);
  }
}

TEST(SerializeErrors, ReferencesMustPointBackwardAndInRange) {
  Json document = small_document();
  document["nodes"][2]["inputs"][0] = Json::array({3, 0});
  expect_document_error(document,
                        "graph JSON: nodes[2].inputs[0]: refers to node 3, but node 2 can only use "
                        "outputs of earlier nodes");
  document["nodes"][2]["inputs"][0] = Json::array({2, 0});
  expect_document_error(document, "graph JSON: nodes[2].inputs[0]: refers to node 2, but node 2");
  document = small_document();
  document["nodes"][4]["inputs"][0] = Json::array({3, 2});
  expect_document_error(
      document,
      "graph JSON: nodes[4].inputs[0]: refers to output 2 of node 3 (split), which "
      "has 2 outputs");
  document = small_document();
  document["outputs"][0] = Json::array({5, 0});
  expect_document_error(document,
                        "graph JSON: outputs[0]: refers to node 5, but the graph has 5 nodes");
  document["outputs"][0] = Json::array({0, 1});
  expect_document_error(
      document, "graph JSON: outputs[0]: refers to output 1 of node 0 (input), which has 1 output");
}

TEST(SerializeErrors, AttributesMissingOrUnknown) {
  Json document = small_document();
  document["nodes"][2]["attrs"].erase("eps");
  expect_document_error(
      document,
      "graph JSON: nodes[2]: rms_norm: attribute 'eps' is missing; expected a value "
      "of type float");
  document = small_document();
  document["nodes"][2]["attrs"]["epsilon"] = 1e-5;
  expect_document_error(
      document,
      "graph JSON: nodes[2].attrs: rms_norm has no attribute 'epsilon'; expected only "
      "eps");
  document = small_document();
  document["nodes"][0]["attrs"]["dim"] = 0;
  expect_document_error(document,
                        "graph JSON: nodes[0].attrs: input has no attribute 'dim'; expected no "
                        "attributes");
}

TEST(SerializeErrors, ShapesAreCheckedAgain) {
  // The builder rejects the weight, and the message carries the node's location.
  Json document = small_document();
  document["nodes"][1]["outputs"][0]["shape"] = Json::array({15});
  expect_document_error(document,
                        "graph JSON: nodes[2]: rms_norm: weight float32[15] does not match input "
                        "float32[8, 16]");
  document = small_document();
  document["nodes"][3]["attrs"]["sizes"] = Json::array({4, 4});
  expect_document_error(document, "graph JSON: nodes[3]: split: sizes [4, 4] add up to 8");
  document = small_document();
  document["nodes"][0]["outputs"][0]["shape"] = Json::array({8, 0});
  expect_document_error(document, "graph JSON: nodes[0]: input of shape [8, 0] has an extent < 1");
  document = small_document();
  document["nodes"][0]["inputs"] = Json::array({Json::array({0, 0})});
  expect_document_error(document, "graph JSON: nodes[0].inputs[0]: refers to node 0, but node 0");
  document = small_document();
  document["nodes"][0]["outputs"].push_back(document["nodes"][0]["outputs"][0]);
  expect_document_error(document,
                        "graph JSON: nodes[0]: an input node has exactly one output type; got 2");
}

TEST(SerializeErrors, StoredTypesMustMatchInferredOnes) {
  Json document = small_document();
  document["nodes"][2]["outputs"][0]["shape"] = Json::array({8, 17});
  expect_document_error(
      document,
      "graph JSON: nodes[2].outputs[0]: the stored type float32[8, 17] differs from "
      "the inferred type float32[8, 16]");
  document = small_document();
  document["nodes"][4]["outputs"][0]["dtype"] = "bfloat16";
  expect_document_error(
      document,
      "graph JSON: nodes[4].outputs[0]: the stored type bfloat16[8, 1] differs from "
      "the inferred type float32[8, 1]");
  document = small_document();
  document["nodes"][3]["outputs"].erase(1);
  expect_document_error(
      document,
      "graph JSON: nodes[3].outputs: 1 output types are stored, but split with these "
      "inputs and attributes has 2");
}

}  // namespace
}  // namespace yirage::ir
