// Text and Graphviz renderings of kernel graphs. Tensors are named after their node: "%3" for
// the output of a single-output node, "%5:1" for output 1 of a node with several; tiles of a
// block graph likewise after their block node: "#4".
//
// A customized node prints its block graph below it, one line per block node and per output,
// each led by when the tile exists (loop: every iteration; after: after the for-loop;
// invariant: the same in every iteration):
//
//   %3 = customized(%0, %1) {grid_dim=(2, 1, 1), block_dim=(128, 1, 1), forloop_range=4,
//                            reduction_dimx=64} : float32[8, 32]          (on one line)
//     loop      #0 = input(%0) {input_map=(-1, -1, -1), forloop_dim=1} : float32[8, 4]
//     loop      #1 = input(%1) {input_map=(1, -1, -1), forloop_dim=0} : float32[4, 16]
//     loop      #2 = matmul(#0, #1) : float32[8, 16]
//     after     #3 = forloop_accum(#2) {acc=sum} : float32[8, 16]
//     output    %3 = #3 {output_map=(1, -1, -1)} : float32[8, 32]
//
// In DOT a customized node is a cluster labelled with its launch shape, holding one node per
// block node (shaded by phase) and one per output tensor; the edges that enter it carry the
// input maps and those to its output tensors the output maps.
#include "yirage/ir/printer.h"

#include <sstream>

#include "yirage/core/error.h"
#include "yirage/ir/block_graph.h"

namespace yirage::ir {

namespace {

// Attribute values as attr_value_to_string writes them, with ".0" added to integral floats so
// they read as floats ("1e-06", "0.5", "10000.0", "nan", "inf").
std::string format_attr(const AttrValue& value) {
  std::string text = attr_value_to_string(value);
  if (attr_value_type(value) == AttrType::Float &&
      text.find_first_not_of("-0123456789") == std::string::npos) {
    text += ".0";
  }
  return text;
}

// "(2, 1, 1)", as grid and block dims are written in Python and in error messages.
std::string format_dims(const Dim3& dims) {
  std::ostringstream out;
  out << '(' << dims[0] << ", " << dims[1] << ", " << dims[2] << ')';
  return out.str();
}

// "name=value" for each of `attrs` that `specs` declares, in declaration order.
std::vector<std::string> attr_items(const Attrs& attrs, const std::vector<AttrSpec>& specs) {
  std::vector<std::string> items;
  for (const auto& spec : specs) {
    const auto found = attrs.values().find(spec.name);
    if (found != attrs.values().end())
      items.push_back(spec.name + "=" + format_attr(found->second));
  }
  return items;
}

// The attributes of `node`; for a customized node, the launch shape of its block graph.
std::vector<std::string> attr_items(const Node& node) {
  if (node.op != OpKind::Customized) return attr_items(node.attrs, op_info(node.op).attributes);
  if (node.block_graph == nullptr) return {};
  const BlockGraph& block = *node.block_graph;
  return {"grid_dim=" + format_dims(block.grid_dims()),
          "block_dim=" + format_dims(block.block_dims()),
          "forloop_range=" + std::to_string(block.forloop_range()),
          "reduction_dimx=" + std::to_string(block.reduction_dimx())};
}

std::string join(const std::vector<std::string>& items, const char* separator) {
  std::string text;
  for (std::size_t i = 0; i < items.size(); ++i) text += (i ? separator : "") + items[i];
  return text;
}

// "%N" (written by appending: GCC 12 misreports `"%" + std::to_string(n)` under -Wrestrict).
std::string node_name(std::size_t index) {
  std::string name = "%";
  name += std::to_string(index);
  return name;
}

std::string tensor_name(const KernelGraph& graph, TensorRef ref) {
  std::string name = node_name(static_cast<std::size_t>(ref.node));
  if (graph.node(ref.node).outputs.size() != 1) {
    name += ':';
    name += std::to_string(ref.output);
  }
  return name;
}

std::vector<std::string> output_type_names(const Node& node) {
  std::vector<std::string> names;
  for (const auto& type : node.outputs) names.push_back(type.to_string());
  return names;
}

// Escapes a string for use inside a double-quoted DOT string.
std::string dot_escape(const std::string& text) {
  std::string escaped;
  for (char c : text) {
    if (c == '"' || c == '\\') escaped += '\\';
    escaped += c;
  }
  return escaped;
}

// A DOT label of several lines (each escaped, joined by DOT's "\n").
std::string dot_label(const std::vector<std::string>& lines) {
  std::string label;
  for (std::size_t i = 0; i < lines.size(); ++i) label += (i ? "\\n" : "") + dot_escape(lines[i]);
  return "\"" + label + "\"";
}

// When a block-graph tile exists, as printed.
std::string_view phase_name(Phase phase) {
  switch (phase) {
    case Phase::Loop:
      return "loop";
    case Phase::AfterLoop:
      return "after";
    case Phase::Invariant:
      return "invariant";
  }
  YR_INTERNAL_ERROR("unhandled phase");
}

// "#N" for the tile of block node N ("#N:k" for output k of a node with several).
std::string tile_name(const BlockGraph& block, TensorRef ref) {
  std::string name = "#";
  name += std::to_string(ref.node);
  if (block.nodes()[ref.node].outputs.size() != 1) {
    name += ':';
    name += std::to_string(ref.output);
  }
  return name;
}

// What a block node applies, as its Python builder call is named, and its attributes.
struct BlockNodeText {
  std::string name;
  std::vector<std::string> attrs;
};

BlockNodeText describe(const BlockGraph& block, const BlockNode& node) {
  switch (node.kind) {
    case BlockNodeKind::Input: {
      const BlockInput& input = block.inputs()[node.input_index];
      return {"input",
              {"input_map=" + dim_map_to_string(input.input_map),
               "forloop_dim=" + std::to_string(input.forloop_dim)}};
    }
    case BlockNodeKind::Op:
      return {std::string(op_name(node.op)), attr_items(node.attrs, op_info(node.op).attributes)};
    case BlockNodeKind::Accumulate:
      return {"forloop_accum", {"acc=" + std::string(accum_name(node.accum))}};
    case BlockNodeKind::ReduceToDimx:
      return {"reduce_to_dimx", {"dim=" + std::to_string(node.attrs.get_int("dim"))}};
  }
  YR_INTERNAL_ERROR("unhandled block node kind");
}

// The kernel-level tensor block input `input_index` of customized `node` reads.
TensorRef block_input_source(const Node& node, int32_t input_index) {
  YR_INTERNAL_CHECK(input_index >= 0 && static_cast<std::size_t>(input_index) < node.inputs.size(),
                    "block input " << input_index << " has no kernel-level operand");
  return node.inputs[input_index];
}

// `text` padded to the width of the longest line prefix ("invariant").
std::string column(std::string_view text) {
  std::string padded(text);
  if (padded.size() < 9) padded.resize(9, ' ');
  return padded;
}

// The block graph of customized node `index`, one indented line per block node and output.
void print_block_graph(std::ostream& out, const KernelGraph& graph, std::size_t index) {
  const Node& node = graph.nodes()[index];
  const BlockGraph& block = *node.block_graph;
  for (std::size_t j = 0; j < block.nodes().size(); ++j) {
    const BlockNode& block_node = block.nodes()[j];
    std::vector<std::string> results;
    std::vector<std::string> types;
    for (std::size_t i = 0; i < block_node.outputs.size(); ++i) {
      results.push_back(tile_name(block, {static_cast<int32_t>(j), static_cast<int32_t>(i)}));
      types.push_back(block_node.outputs[i].to_string());
    }
    std::vector<std::string> operands;
    if (block_node.kind == BlockNodeKind::Input) {
      operands.push_back(tensor_name(graph, block_input_source(node, block_node.input_index)));
    }
    for (const auto& ref : block_node.inputs) operands.push_back(tile_name(block, ref));
    const BlockNodeText text = describe(block, block_node);
    out << "  " << column(phase_name(block_node.phase)) << " " << join(results, ", ") << " = "
        << text.name << "(" << join(operands, ", ") << ")";
    if (!text.attrs.empty()) out << " {" << join(text.attrs, ", ") << "}";
    out << " : " << join(types, ", ") << "\n";
  }
  for (std::size_t k = 0; k < block.outputs().size(); ++k) {
    const BlockOutput& output = block.outputs()[k];
    out << "  " << column("output") << " "
        << tensor_name(graph, {static_cast<int32_t>(index), static_cast<int32_t>(k)}) << " = "
        << tile_name(block, output.tile) << " {output_map=" << dim_map_to_string(output.output_map)
        << "} : " << output.dtensor.to_string() << "\n";
  }
}

// DOT node ids: "n3" for kernel node 3, "n3_b5" for block node 5 of it, "n3_out1" for output 1
// of a customized node 3 (a customized node is a cluster, not a node).
std::string dot_id(std::size_t index) {
  std::string id = "n";  // appended, as in node_name
  id += std::to_string(index);
  return id;
}

std::string dot_block_id(std::size_t index, std::size_t block_node) {
  return dot_id(index) + "_b" + std::to_string(block_node);
}

std::string dot_tensor_id(const KernelGraph& graph, TensorRef ref) {
  const auto index = static_cast<std::size_t>(ref.node);
  if (graph.node(ref.node).op != OpKind::Customized) return dot_id(index);
  return dot_id(index) + "_out" + std::to_string(ref.output);
}

// An edge label naming the tensor: its type; the output's name when its node has several, the
// operand position when the consumer has several.
std::string operand_label(std::string type, const std::string& name, bool several_outputs,
                          std::size_t position, std::size_t num_operands) {
  if (several_outputs) type = name + " " + type;
  if (num_operands > 1) type = "arg " + std::to_string(position) + ": " + type;
  return type;
}

// Node attributes by phase: loop tiles light blue, after-loop tiles peach with a bold border,
// loop-invariant tiles grey with a dashed border.
std::string dot_phase_style(Phase phase, bool box) {
  std::string style = box ? "rounded,filled" : "filled";
  std::string fill = "#d6e8fa";
  if (phase == Phase::AfterLoop) {
    style += ",bold";
    fill = "#fbd9c4";
  } else if (phase == Phase::Invariant) {
    style += ",dashed";
    fill = "#eeeeee";
  }
  return "style=\"" + style + "\", fillcolor=\"" + fill + "\"";
}

// Customized node `index` as a cluster: block nodes, output tensors and the edges among them.
void dot_block_graph(std::ostream& out, const KernelGraph& graph, std::size_t index) {
  const Node& node = graph.nodes()[index];
  const BlockGraph& block = *node.block_graph;
  std::vector<std::string> title = {node_name(index) + " customized"};
  for (const auto& item : attr_items(node)) title.push_back(item);
  out << "  subgraph cluster_" << dot_id(index) << " {\n"
      << "    label=" << dot_label(title) << ";\n"
      << "    labeljust=l;\n"
      << "    fontname=\"Helvetica\";\n"
      << "    style=\"rounded,filled\";\n"
      << "    fillcolor=\"#fdf6ec\";\n"
      << "    color=\"#c9a36b\";\n";
  for (std::size_t j = 0; j < block.nodes().size(); ++j) {
    const BlockNode& block_node = block.nodes()[j];
    const BlockNodeText text = describe(block, block_node);
    std::string head = tile_name(block, {static_cast<int32_t>(j), 0}) + " " + text.name;
    std::string shape = "box";
    std::vector<std::string> lines;
    if (block_node.kind == BlockNodeKind::Input) {
      // The maps label the edge that enters the cluster.
      lines = {head + " " + std::to_string(block_node.input_index)};
      shape = "ellipse";
    } else {
      lines = {head};
      lines.insert(lines.end(), text.attrs.begin(), text.attrs.end());
      if (block_node.kind == BlockNodeKind::Accumulate) shape = "octagon";
    }
    for (const auto& type : block_node.outputs) lines.push_back(type.to_string());
    lines.push_back("phase=" + std::string(phase_name(block_node.phase)));
    out << "    " << dot_block_id(index, j) << " [label=" << dot_label(lines);
    if (shape != "box") out << ", shape=" << shape;
    out << ", " << dot_phase_style(block_node.phase, shape == "box") << "];\n";
  }
  for (std::size_t k = 0; k < block.outputs().size(); ++k) {
    const TensorRef ref{static_cast<int32_t>(index), static_cast<int32_t>(k)};
    out << "    " << dot_tensor_id(graph, ref)
        << " [label=" << dot_label({tensor_name(graph, ref), node.outputs[k].to_string()})
        << ", style=filled, fillcolor=\"#fde9c8\"];\n";
  }
  for (std::size_t j = 0; j < block.nodes().size(); ++j) {
    const BlockNode& block_node = block.nodes()[j];
    for (std::size_t i = 0; i < block_node.inputs.size(); ++i) {
      const TensorRef ref = block_node.inputs[i];
      const std::string label =
          operand_label(block.type(ref).to_string(), tile_name(block, ref),
                        block.nodes()[ref.node].outputs.size() != 1, i, block_node.inputs.size());
      out << "    " << dot_block_id(index, ref.node) << " -> " << dot_block_id(index, j)
          << " [label=" << dot_label({label}) << "];\n";
    }
  }
  for (std::size_t k = 0; k < block.outputs().size(); ++k) {
    const BlockOutput& output = block.outputs()[k];
    out << "    " << dot_block_id(index, output.tile.node) << " -> "
        << dot_tensor_id(graph, {static_cast<int32_t>(index), static_cast<int32_t>(k)})
        << " [label=" << dot_label({"output_map=" + dim_map_to_string(output.output_map)})
        << "];\n";
  }
  out << "  }\n";
}

}  // namespace

std::string graph_to_text(const KernelGraph& graph) {
  std::ostringstream out;
  for (std::size_t index = 0; index < graph.nodes().size(); ++index) {
    const Node& node = graph.nodes()[index];
    std::vector<std::string> results;
    for (std::size_t i = 0; i < node.outputs.size(); ++i) {
      results.push_back(tensor_name(graph, {static_cast<int32_t>(index), static_cast<int32_t>(i)}));
    }
    std::vector<std::string> operands;
    for (const auto& ref : node.inputs) operands.push_back(tensor_name(graph, ref));
    out << join(results, ", ") << " = " << op_name(node.op) << "(" << join(operands, ", ") << ")";
    const auto attrs = attr_items(node);
    if (!attrs.empty()) out << " {" << join(attrs, ", ") << "}";
    out << " : " << join(output_type_names(node), ", ") << "\n";
    if (node.op == OpKind::Customized && node.block_graph != nullptr) {
      print_block_graph(out, graph, index);
    }
  }
  std::vector<std::string> outputs;
  for (const auto& ref : graph.outputs()) outputs.push_back(tensor_name(graph, ref));
  out << "outputs: " << (outputs.empty() ? std::string("(none)") : join(outputs, ", ")) << "\n";
  return out.str();
}

std::string graph_to_dot(const KernelGraph& graph) {
  std::ostringstream out;
  out << "digraph kernel_graph {\n"
      << "  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n"
      << "  edge [fontname=\"Helvetica\", fontsize=10];\n";
  for (std::size_t index = 0; index < graph.nodes().size(); ++index) {
    const Node& node = graph.nodes()[index];
    if (node.op == OpKind::Customized && node.block_graph != nullptr) {
      dot_block_graph(out, graph, index);
      continue;
    }
    std::vector<std::string> lines = {node_name(index) + " " + std::string(op_name(node.op))};
    for (const auto& item : attr_items(node)) lines.push_back(item);
    for (const auto& type : output_type_names(node)) lines.push_back(type);
    out << "  " << dot_id(index) << " [label=" << dot_label(lines);
    if (node.op == OpKind::Input) {
      out << ", shape=ellipse, style=filled, fillcolor=\"#dbe9f6\"";
    } else if (node.op == OpKind::Customized) {
      out << ", style=\"rounded,filled\", fillcolor=\"#fde9c8\"";
    }
    out << "];\n";
  }
  for (std::size_t index = 0; index < graph.nodes().size(); ++index) {
    const Node& node = graph.nodes()[index];
    if (node.op == OpKind::Customized && node.block_graph != nullptr) {
      // Each block input reads its tensor through its maps.
      const BlockGraph& block = *node.block_graph;
      for (const BlockInput& input : block.inputs()) {
        const TensorRef ref = block_input_source(node, block.nodes()[input.node].input_index);
        out << "  " << dot_tensor_id(graph, ref) << " -> " << dot_block_id(index, input.node)
            << " [label="
            << dot_label({graph.type(ref).to_string(),
                          "input_map=" + dim_map_to_string(input.input_map),
                          "forloop_dim=" + std::to_string(input.forloop_dim)})
            << "];\n";
      }
      continue;
    }
    for (std::size_t i = 0; i < node.inputs.size(); ++i) {
      const TensorRef ref = node.inputs[i];
      const std::string label =
          operand_label(graph.type(ref).to_string(), tensor_name(graph, ref),
                        graph.node(ref.node).outputs.size() != 1, i, node.inputs.size());
      out << "  " << dot_tensor_id(graph, ref) << " -> " << dot_id(index)
          << " [label=" << dot_label({label}) << "];\n";
    }
  }
  for (std::size_t i = 0; i < graph.outputs().size(); ++i) {
    const TensorRef ref = graph.outputs()[i];
    out << "  out" << i << " [label=" << dot_label({"output " + std::to_string(i)})
        << ", shape=doubleoctagon, style=filled, fillcolor=\"#d9f2d9\"];\n";
    out << "  " << dot_tensor_id(graph, ref) << " -> out" << i
        << " [label=" << dot_label({tensor_name(graph, ref) + " " + graph.type(ref).to_string()})
        << "];\n";
  }
  out << "}\n";
  return out.str();
}

}  // namespace yirage::ir
