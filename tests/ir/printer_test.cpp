#include "yirage/ir/printer.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "ir/random_graph.h"
#include "yirage/ir/block_graph.h"
#include "yirage/workloads/workloads.h"

namespace yirage::ir {
namespace {

using core::DType;

// x [8, 4096], weight [4096], projection [4096, 1024]: matmul(rms_norm(x, weight), projection).
KernelGraph rms_norm_matmul() {
  KernelGraph g;
  const TensorRef x = g.input({8, 4096}, DType::BF16);
  const TensorRef w = g.input({4096}, DType::BF16);
  const TensorRef proj = g.input({4096, 1024}, DType::BF16);
  g.mark_output(g.matmul(g.rms_norm(x, w, 1e-6), proj));
  return g;
}

// x [8, 6] split into [8, 2] and [8, 4]; exp of the second piece; both are outputs.
KernelGraph split_graph() {
  KernelGraph g;
  const auto pieces = g.split(g.input({8, 6}, DType::F32), {2, 4}, -1);
  g.mark_output(g.unary(OpKind::Exp, pieces[1]));
  g.mark_output(pieces[0]);
  return g;
}

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// Checks that braces and brackets balance outside quoted strings and that quotes close.
void expect_balanced_dot(const std::string& dot) {
  int braces = 0;
  int brackets = 0;
  bool quoted = false;
  for (std::size_t i = 0; i < dot.size(); ++i) {
    const char c = dot[i];
    if (quoted) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        quoted = false;
      }
      continue;
    }
    if (c == '"') quoted = true;
    if (c == '{') ++braces;
    if (c == '}') --braces;
    if (c == '[') ++brackets;
    if (c == ']') --brackets;
    ASSERT_GE(braces, 0);
    ASSERT_GE(brackets, 0);
  }
  EXPECT_FALSE(quoted);
  EXPECT_EQ(braces, 0);
  EXPECT_EQ(brackets, 0);
}

// Runs Graphviz on `dot` when it is installed; true when it is not or when it accepts the text.
bool graphviz_accepts(const std::string& dot) {
  if (std::system("command -v dot > /dev/null 2>&1") != 0) return true;
  // Through a pipe, not a file: tests run in parallel processes.
  FILE* pipe = popen("dot -Tsvg -o /dev/null", "w");
  if (pipe == nullptr) return false;
  const bool written = std::fwrite(dot.data(), 1, dot.size(), pipe) == dot.size();
  return pclose(pipe) == 0 && written;
}

TEST(Printer, TextOfRmsNormMatmul) {
  EXPECT_EQ(graph_to_text(rms_norm_matmul()),
            "%0 = input() : bfloat16[8, 4096]\n"
            "%1 = input() : bfloat16[4096]\n"
            "%2 = input() : bfloat16[4096, 1024]\n"
            "%3 = rms_norm(%0, %1) {eps=1e-06} : bfloat16[8, 4096]\n"
            "%4 = matmul(%3, %2) : bfloat16[8, 1024]\n"
            "outputs: %4\n");
}

TEST(Printer, TextOfSplit) {
  EXPECT_EQ(graph_to_text(split_graph()),
            "%0 = input() : float32[8, 6]\n"
            "%1:0, %1:1 = split(%0) {dim=1, sizes=[2, 4]} : float32[8, 2], float32[8, 4]\n"
            "%2 = exp(%1:1) : float32[8, 4]\n"
            "outputs: %2, %1:0\n");
}

TEST(Printer, TextOfAttributesOfEveryType) {
  KernelGraph g;
  const TensorRef x = g.input({2, 4}, DType::F16);
  const TensorRef p = g.input({2}, DType::I32);
  const TensorRef scaled = g.unary(OpKind::MulScalar, x, 2.0);
  const TensorRef r = g.rope(scaled, p, 10000.0);
  g.reduce(OpKind::Sum, r, -1, true);
  g.transpose(r, 0, -1);
  g.reshape(r, {4, -1});
  EXPECT_EQ(graph_to_text(g),
            "%0 = input() : float16[2, 4]\n"
            "%1 = input() : int32[2]\n"
            "%2 = mul_scalar(%0) {scalar=2.0} : float16[2, 4]\n"
            "%3 = rope(%2, %1) {theta=10000.0} : float16[2, 4]\n"
            "%4 = sum(%3) {dim=1, keepdim=true} : float16[2, 1]\n"
            "%5 = transpose(%3) {dim0=0, dim1=1} : float16[4, 2]\n"
            "%6 = reshape(%3) {shape=[4, 2]} : float16[4, 2]\n"
            "outputs: (none)\n");
}

TEST(Printer, FloatsPrintInTheShortestFormThatReadsBack) {
  EXPECT_EQ(attr_value_to_string(0.1), "0.1");
  EXPECT_EQ(attr_value_to_string(1.0 / 3.0), "0.3333333333333333");
  EXPECT_EQ(attr_value_to_string(1e-6), "1e-06");
  EXPECT_EQ(attr_value_to_string(10000.0), "10000");
  EXPECT_EQ(attr_value_to_string(-0.0), "-0");
  KernelGraph g;
  g.unary(OpKind::MulScalar, g.input({2}, DType::F32), 0.1);
  g.unary(OpKind::AddScalar, g.input({2}, DType::F32), -0.0);
  EXPECT_EQ(graph_to_text(g),
            "%0 = input() : float32[2]\n"
            "%1 = mul_scalar(%0) {scalar=0.1} : float32[2]\n"
            "%2 = input() : float32[2]\n"
            "%3 = add_scalar(%2) {scalar=-0.0} : float32[2]\n"
            "outputs: (none)\n");
}

TEST(Printer, DotOfRmsNormMatmul) {
  const std::string dot = graph_to_dot(rms_norm_matmul());
  EXPECT_EQ(dot.rfind("digraph kernel_graph {\n", 0), 0u) << dot;
  EXPECT_EQ(dot.substr(dot.size() - 2), "}\n");
  EXPECT_NE(dot.find(R"(n0 [label="%0 input\nbfloat16[8, 4096]", shape=ellipse)"),
            std::string::npos)
      << dot;
  EXPECT_NE(dot.find(R"(n3 [label="%3 rms_norm\neps=1e-06\nbfloat16[8, 4096]"])"),
            std::string::npos)
      << dot;
  EXPECT_NE(dot.find(R"(n4 [label="%4 matmul\nbfloat16[8, 1024]"])"), std::string::npos) << dot;
  EXPECT_NE(dot.find(R"(n0 -> n3 [label="arg 0: bfloat16[8, 4096]"];)"), std::string::npos) << dot;
  EXPECT_NE(dot.find(R"(n1 -> n3 [label="arg 1: bfloat16[4096]"];)"), std::string::npos) << dot;
  EXPECT_NE(dot.find(R"(n3 -> n4 [label="arg 0: bfloat16[8, 4096]"];)"), std::string::npos) << dot;
  EXPECT_NE(dot.find(R"(n2 -> n4 [label="arg 1: bfloat16[4096, 1024]"];)"), std::string::npos)
      << dot;
  EXPECT_NE(dot.find(R"(out0 [label="output 0", shape=doubleoctagon)"), std::string::npos) << dot;
  EXPECT_NE(dot.find(R"(n4 -> out0 [label="%4 bfloat16[8, 1024]"];)"), std::string::npos) << dot;
  EXPECT_EQ(count(dot, "->"), 5u);
  expect_balanced_dot(dot);
  EXPECT_TRUE(graphviz_accepts(dot)) << dot;
}

TEST(Printer, DotOfSplitNamesTheOutputs) {
  const std::string dot = graph_to_dot(split_graph());
  EXPECT_NE(dot.find(R"(n1 [label="%1 split\ndim=1\nsizes=[2, 4]\nfloat32[8, 2]\nfloat32[8, 4]"])"),
            std::string::npos)
      << dot;
  EXPECT_NE(dot.find(R"(n1 -> n2 [label="%1:1 float32[8, 4]"];)"), std::string::npos) << dot;
  EXPECT_NE(dot.find(R"(n1 -> out1 [label="%1:0 float32[8, 2]"];)"), std::string::npos) << dot;
  expect_balanced_dot(dot);
  EXPECT_TRUE(graphviz_accepts(dot)) << dot;
}

TEST(Printer, RandomGraphsPrintOneLinePerNode) {
  for (uint64_t seed = 0; seed < 60; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    const KernelGraph graph = testing::random_kernel_graph(seed, 15);
    const std::string text = graph_to_text(graph);
    EXPECT_EQ(count(text, "\n"), graph.nodes().size() + 1);
    EXPECT_EQ(count(text, " = input() : "), graph.input_nodes().size());
    const std::string dot = graph_to_dot(graph);
    std::size_t operands = 0;
    for (const auto& node : graph.nodes()) operands += node.inputs.size();
    EXPECT_EQ(count(dot, " -> n"), operands);
    EXPECT_EQ(count(dot, " -> out"), graph.outputs().size());
    EXPECT_EQ(count(dot, " [label="),
              graph.nodes().size() + graph.outputs().size() + operands + graph.outputs().size());
    expect_balanced_dot(dot);
  }
  EXPECT_TRUE(graphviz_accepts(graph_to_dot(testing::random_kernel_graph(7, 30))));
}

// The block of `dot` from "subgraph cluster_n<index> {" to its closing brace.
std::string cluster(const std::string& dot, std::size_t index) {
  std::string head = "  subgraph cluster_n";
  head += std::to_string(index);
  head += " {\n";
  const auto begin = dot.find(head);
  if (begin == std::string::npos) return "";
  const auto end = dot.find("\n  }\n", begin);
  return end == std::string::npos ? "" : dot.substr(begin, end + 5 - begin);
}

// The attribute text after the label of every node of `dot` whose label ends with `suffix`
// (e.g. "\nphase=loop"), by node id: `, shape=ellipse, style="filled", fillcolor="#d6e8fa"`.
std::map<std::string, std::string> styles_of_nodes_ending(const std::string& dot,
                                                          const std::string& suffix) {
  std::map<std::string, std::string> styles;
  std::size_t line_start = 0;
  while (line_start < dot.size()) {
    const auto line_end = dot.find('\n', line_start);
    const std::string line = dot.substr(line_start, line_end - line_start);
    line_start = line_end == std::string::npos ? dot.size() : line_end + 1;
    const auto label = line.find(" [label=\"");
    const auto marker = line.find(suffix + "\"");
    if (label == std::string::npos || marker == std::string::npos ||
        line.find("->") != std::string::npos) {
      continue;
    }
    const auto id_start = line.find_first_not_of(' ');
    std::string style = line.substr(marker + suffix.size() + 1);
    styles[line.substr(id_start, label - id_start)] = style;
  }
  return styles;
}

TEST(Printer, TextOfFusedRmsNormMatmul) {
  const auto workload = workloads::rms_norm_matmul(8, 64, 32, DType::BF16, {2, 4});
  EXPECT_EQ(graph_to_text(workload.fused),
            "%0 = input() : bfloat16[8, 64]\n"
            "%1 = input() : bfloat16[64]\n"
            "%2 = input() : bfloat16[64, 32]\n"
            "%3 = customized(%0, %1, %2) {grid_dim=(2, 1, 1), block_dim=(128, 1, 1), "
            "forloop_range=4, reduction_dimx=64} : bfloat16[8, 32]\n"
            "  loop      #0 = input(%0) {input_map=(-1, -1, -1), forloop_dim=1} : bfloat16[8, 16]\n"
            "  loop      #1 = input(%1) {input_map=(-1, -1, -1), forloop_dim=0} : bfloat16[16]\n"
            "  loop      #2 = input(%2) {input_map=(1, -1, -1), forloop_dim=0} : bfloat16[16, 16]\n"
            "  loop      #3 = mul(#0, #1) : bfloat16[8, 16]\n"
            "  loop      #4 = matmul(#3, #2) : bfloat16[8, 16]\n"
            "  after     #5 = forloop_accum(#4) {acc=sum} : bfloat16[8, 16]\n"
            "  loop      #6 = square(#0) : bfloat16[8, 16]\n"
            "  loop      #7 = sum(#6) {dim=1, keepdim=true} : bfloat16[8, 1]\n"
            "  after     #8 = forloop_accum(#7) {acc=sum} : bfloat16[8, 1]\n"
            "  after     #9 = mul_scalar(#8) {scalar=0.015625} : bfloat16[8, 1]\n"
            "  after     #10 = add_scalar(#9) {scalar=1e-06} : bfloat16[8, 1]\n"
            "  after     #11 = rsqrt(#10) : bfloat16[8, 1]\n"
            "  after     #12 = mul(#5, #11) : bfloat16[8, 16]\n"
            "  output    %3 = #12 {output_map=(1, -1, -1)} : bfloat16[8, 32]\n"
            "outputs: %3\n");
}

// An invariant input created between ops, reduce_to_dimx, a rescaled sum and two outputs, fed
// by a split and consumed by a kernel-level op.
KernelGraph small_block_program() {
  auto block = std::make_shared<BlockGraph>(Dim3{2, 1, 1}, Dim3{32, 1, 1}, 2, 2);
  const TensorRef x = block->input({{4, 8}, DType::F32}, {0, -1, -1}, 1);  // [2, 4] loop
  const TensorRef grouped = block->reduce_to_dimx(x, 1);                   // [2, 2]
  const TensorRef scale = block->input({{2}, DType::F32}, {-1, -1, -1}, -1);
  Attrs keep;
  keep.set("dim", int64_t{1}).set("keepdim", true);
  const TensorRef m = block->add_op(OpKind::Max, {grouped}, keep)[0];
  const TensorRef total = block->accumulate(AccumKind::RescaledSum, grouped, m);
  block->output(block->add_op(OpKind::Mul, {total, scale}, {})[0], {0, -1, -1});
  block->output(block->accumulate(AccumKind::Max, m), {0, -1, -1});
  KernelGraph g;
  const auto pieces = g.split(g.input({4, 10}, DType::F32), {8, 2}, 1);
  const auto outputs = g.customized({pieces[0], g.input({2}, DType::F32)}, block);
  g.mark_output(g.binary(OpKind::Sub, outputs[0], outputs[1]));
  return g;
}

TEST(Printer, TextOfBlockGraphPhasesAndMultipleOutputs) {
  EXPECT_EQ(graph_to_text(small_block_program()),
            "%0 = input() : float32[4, 10]\n"
            "%1:0, %1:1 = split(%0) {dim=1, sizes=[8, 2]} : float32[4, 8], float32[4, 2]\n"
            "%2 = input() : float32[2]\n"
            "%3:0, %3:1 = customized(%1:0, %2) {grid_dim=(2, 1, 1), block_dim=(32, 1, 1), "
            "forloop_range=2, reduction_dimx=2} : float32[4, 2], float32[4, 1]\n"
            "  loop      #0 = input(%1:0) {input_map=(0, -1, -1), forloop_dim=1} : float32[2, 4]\n"
            "  loop      #1 = reduce_to_dimx(#0) {dim=1} : float32[2, 2]\n"
            "  invariant #2 = input(%2) {input_map=(-1, -1, -1), forloop_dim=-1} : float32[2]\n"
            "  loop      #3 = max(#1) {dim=1, keepdim=true} : float32[2, 1]\n"
            "  after     #4 = forloop_accum(#1, #3) {acc=rescaled_sum} : float32[2, 2]\n"
            "  after     #5 = mul(#4, #2) : float32[2, 2]\n"
            "  after     #6 = forloop_accum(#3) {acc=max} : float32[2, 1]\n"
            "  output    %3:0 = #5 {output_map=(0, -1, -1)} : float32[4, 2]\n"
            "  output    %3:1 = #6 {output_map=(0, -1, -1)} : float32[4, 1]\n"
            "%4 = sub(%3:0, %3:1) : float32[4, 2]\n"
            "outputs: %4\n");
}

TEST(Printer, DotOfFusedRmsNormMatmulIsAClusterWithMaps) {
  const auto workload = workloads::rms_norm_matmul(8, 64, 32, DType::BF16, {2, 4});
  const std::string dot = graph_to_dot(workload.fused);
  const std::string body = cluster(dot, 3);
  ASSERT_FALSE(body.empty()) << dot;
  // The customized node is the cluster, labelled with its launch shape; it is no node itself.
  EXPECT_NE(body.find(R"(label="%3 customized\ngrid_dim=(2, 1, 1)\nblock_dim=(128, 1, 1)\n)"
                      R"(forloop_range=4\nreduction_dimx=64";)"),
            std::string::npos)
      << body;
  EXPECT_EQ(dot.find("  n3 ["), std::string::npos) << dot;
  // Every block node and the output tensor are declared inside it, and nothing else is.
  for (int j = 0; j < 13; ++j) {
    const std::string id = "    n3_b" + std::to_string(j) + " [label=\"#" + std::to_string(j) + " ";
    EXPECT_NE(body.find(id), std::string::npos) << id;
  }
  EXPECT_EQ(count(body, " [label="), 13u + 1u + 13u + 1u);  // nodes, output, block edges, map
  EXPECT_NE(body.find(R"(n3_b2 [label="#2 input 2\nbfloat16[16, 16]\nphase=loop", shape=ellipse)"),
            std::string::npos)
      << body;
  EXPECT_NE(body.find(R"(n3_b5 [label="#5 forloop_accum\nacc=sum\nbfloat16[8, 16]\nphase=after", )"
                      R"(shape=octagon)"),
            std::string::npos)
      << body;
  EXPECT_NE(body.find(R"(n3_b4 -> n3_b5 [label="bfloat16[8, 16]"];)"), std::string::npos) << body;
  EXPECT_NE(body.find(R"(n3_b3 -> n3_b4 [label="arg 0: bfloat16[8, 16]"];)"), std::string::npos)
      << body;
  EXPECT_NE(body.find(R"(n3_out0 [label="%3\nbfloat16[8, 32]")"), std::string::npos) << body;
  // Input edges enter the cluster carrying the maps; the output edge carries the output map.
  EXPECT_NE(dot.find(R"(n0 -> n3_b0 [label="bfloat16[8, 64]\ninput_map=(-1, -1, -1)\n)"
                     R"(forloop_dim=1"];)"),
            std::string::npos)
      << dot;
  EXPECT_NE(dot.find(R"(n1 -> n3_b1 [label="bfloat16[64]\ninput_map=(-1, -1, -1)\n)"
                     R"(forloop_dim=0"];)"),
            std::string::npos)
      << dot;
  EXPECT_NE(dot.find(R"(n2 -> n3_b2 [label="bfloat16[64, 32]\ninput_map=(1, -1, -1)\n)"
                     R"(forloop_dim=0"];)"),
            std::string::npos)
      << dot;
  EXPECT_NE(body.find(R"~(n3_b12 -> n3_out0 [label="output_map=(1, -1, -1)"];)~"),
            std::string::npos)
      << body;
  EXPECT_NE(dot.find(R"(n3_out0 -> out0 [label="%3 bfloat16[8, 32]"];)"), std::string::npos) << dot;
  EXPECT_EQ(count(dot, "->"), 13u + 1u + 3u + 1u);
  expect_balanced_dot(dot);
  EXPECT_TRUE(graphviz_accepts(dot)) << dot;
}

TEST(Printer, DotDrawsLoopAfterLoopAndInvariantTilesDifferently) {
  const std::string dot = graph_to_dot(small_block_program());
  std::set<std::string> box_styles;
  std::size_t nodes = 0;
  for (const char* phase : {"loop", "after", "invariant"}) {
    const auto styles = styles_of_nodes_ending(dot, std::string("\\nphase=") + phase);
    ASSERT_FALSE(styles.empty()) << phase << "\n" << dot;
    nodes += styles.size();
    // Within a phase, nodes of one shape look alike; the fill tells the phases apart.
    std::set<std::string> fills;
    for (const auto& [id, style] : styles) fills.insert(style.substr(style.find("fillcolor=")));
    EXPECT_EQ(fills.size(), 1u) << phase;
    box_styles.insert(*fills.begin());
  }
  EXPECT_EQ(nodes, 7u);
  EXPECT_EQ(box_styles.size(), 3u);
  // After-loop tiles are bold, invariant ones dashed, loop ones neither.
  for (const auto& [id, style] : styles_of_nodes_ending(dot, "\\nphase=after")) {
    EXPECT_NE(style.find("bold"), std::string::npos) << id << style;
  }
  for (const auto& [id, style] : styles_of_nodes_ending(dot, "\\nphase=invariant")) {
    EXPECT_NE(style.find("dashed"), std::string::npos) << id << style;
  }
  for (const auto& [id, style] : styles_of_nodes_ending(dot, "\\nphase=loop")) {
    EXPECT_EQ(style.find("bold"), std::string::npos) << id << style;
    EXPECT_EQ(style.find("dashed"), std::string::npos) << id << style;
  }
  // Split outputs feed the cluster by name; its outputs feed the kernel-level sub.
  EXPECT_NE(
      dot.find(R"(n1 -> n3_b0 [label="float32[4, 8]\ninput_map=(0, -1, -1)\nforloop_dim=1"];)"),
      std::string::npos)
      << dot;
  EXPECT_NE(
      dot.find(R"(n2 -> n3_b2 [label="float32[2]\ninput_map=(-1, -1, -1)\nforloop_dim=-1"];)"),
      std::string::npos)
      << dot;
  EXPECT_NE(dot.find(R"(n3_b0 -> n3_b1 [label="float32[2, 4]"];)"), std::string::npos) << dot;
  EXPECT_NE(dot.find(R"(n3_out0 -> n4 [label="arg 0: %3:0 float32[4, 2]"];)"), std::string::npos)
      << dot;
  EXPECT_NE(dot.find(R"(n3_out1 -> n4 [label="arg 1: %3:1 float32[4, 1]"];)"), std::string::npos)
      << dot;
  EXPECT_NE(dot.find(R"~(n3_b6 -> n3_out1 [label="output_map=(0, -1, -1)"];)~"), std::string::npos)
      << dot;
  expect_balanced_dot(dot);
  EXPECT_TRUE(graphviz_accepts(dot)) << dot;
}

TEST(Printer, EveryWorkloadPrintsOneLinePerNodeAndOneClusterPerKernel) {
  for (const auto& workload : workloads::standard_workloads()) {
    SCOPED_TRACE(workload.name + " " + workload.shape);
    const KernelGraph& graph = workload.fused;
    const std::string text = graph_to_text(graph);
    const std::string dot = graph_to_dot(graph);
    std::size_t lines = graph.nodes().size() + 1;
    std::size_t kernels = 0;
    std::size_t block_outputs = 0;
    std::size_t edges = graph.outputs().size();
    for (std::size_t i = 0; i < graph.nodes().size(); ++i) {
      const Node& node = graph.nodes()[i];
      if (node.op != OpKind::Customized) {
        edges += node.inputs.size();
        continue;
      }
      const BlockGraph& block = *node.block_graph;
      ++kernels;
      lines += block.nodes().size() + block.outputs().size();
      block_outputs += block.outputs().size();
      edges += block.inputs().size() + block.outputs().size();
      for (const auto& block_node : block.nodes()) edges += block_node.inputs.size();
      EXPECT_FALSE(cluster(dot, i).empty()) << i;
    }
    EXPECT_GE(kernels, 1u);
    EXPECT_EQ(count(text, "\n"), lines) << text;
    EXPECT_EQ(count(text, "\n  output    %"), block_outputs) << text;
    EXPECT_EQ(count(dot, "subgraph cluster_"), kernels);
    EXPECT_EQ(count(dot, " -> "), edges);
    expect_balanced_dot(dot);
  }
}

}  // namespace
}  // namespace yirage::ir
