#include "yirage/ir/kernel_graph.h"

#include <string>

#include "yirage/core/error.h"
#include "yirage/ir/block_graph.h"

namespace yirage::ir {

namespace {

// Checks that `attrs` holds exactly the attributes `info` declares, with the declared types.
void check_attributes(const OpInfo& info, const Attrs& attrs) {
  for (const auto& spec : info.attributes) {
    const auto found = attrs.values().find(spec.name);
    YR_USER_CHECK(found != attrs.values().end(), info.name
                                                     << ": attribute '" << spec.name
                                                     << "' is missing; expected a value of type "
                                                     << attr_type_name(spec.type));
    const AttrType actual = attr_value_type(found->second);
    YR_USER_CHECK(actual == spec.type, info.name << ": attribute '" << spec.name << "' is "
                                                 << attr_type_name(actual) << "; expected "
                                                 << attr_type_name(spec.type));
  }
  for (const auto& [name, value] : attrs.values()) {
    bool declared = false;
    for (const auto& spec : info.attributes) declared = declared || spec.name == name;
    if (declared) continue;
    std::string known;
    for (const auto& spec : info.attributes) known += (known.empty() ? "" : ", ") + spec.name;
    YR_USER_ERROR(info.name << ": unknown attribute '" << name << "'; expected "
                            << (known.empty() ? std::string("no attributes") : "only " + known));
  }
}

}  // namespace

std::string TensorType::to_string() const {
  return std::string(core::dtype_name(dtype)) + core::shape_to_string(shape);
}

void KernelGraph::check_ref(TensorRef tensor, const char* role) const {
  YR_USER_CHECK(tensor.node >= 0 && tensor.node < static_cast<int32_t>(nodes_.size()),
                role << " refers to node " << tensor.node << ", but the graph has " << nodes_.size()
                     << " nodes; expected a tensor created by this graph");
  const auto& outputs = nodes_[tensor.node].outputs;
  YR_USER_CHECK(tensor.output >= 0 && tensor.output < static_cast<int32_t>(outputs.size()),
                role << " refers to output " << tensor.output << " of node " << tensor.node << " ("
                     << op_name(nodes_[tensor.node].op) << "), which has " << outputs.size()
                     << " outputs");
}

const Node& KernelGraph::node(int32_t index) const {
  YR_USER_CHECK(
      index >= 0 && index < static_cast<int32_t>(nodes_.size()),
      "node index " << index << " is out of range; the graph has " << nodes_.size() << " nodes");
  return nodes_[index];
}

const TensorType& KernelGraph::type(TensorRef tensor) const {
  check_ref(tensor, "tensor");
  return nodes_[tensor.node].outputs[tensor.output];
}

std::vector<TensorRef> KernelGraph::append(Node node) {
  nodes_.push_back(std::move(node));
  return output_refs(static_cast<int32_t>(nodes_.size() - 1), nodes_.back().outputs.size());
}

std::vector<TensorRef> output_refs(int32_t node, std::size_t count) {
  std::vector<TensorRef> refs;
  for (std::size_t i = 0; i < count; ++i) refs.push_back({node, static_cast<int32_t>(i)});
  return refs;
}

TensorRef KernelGraph::input(const core::Shape& shape, core::DType dtype) {
  YR_USER_CHECK(shape.size() <= 8, "input of shape " << core::shape_to_string(shape) << " has rank "
                                                     << shape.size() << "; expected rank <= 8");
  for (int64_t extent : shape) {
    YR_USER_CHECK(extent >= 1, "input of shape "
                                   << core::shape_to_string(shape)
                                   << " has an extent < 1; expected every extent >= 1");
  }
  core::shape_numel(shape);  // rejects shapes whose element count overflows
  Node node;
  node.op = OpKind::Input;
  node.outputs.push_back({shape, dtype});
  nodes_.push_back(std::move(node));
  const auto index = static_cast<int32_t>(nodes_.size() - 1);
  input_nodes_.push_back(index);
  return {index, 0};
}

std::vector<TensorRef> KernelGraph::add_node(OpKind op, const std::vector<TensorRef>& inputs,
                                             Attrs attrs) {
  const OpInfo& info = op_info(op);
  YR_USER_CHECK(op != OpKind::Input,
                "input nodes are added with input(shape, dtype), not add_node");
  YR_USER_CHECK(
      op != OpKind::Customized,
      "customized nodes carry a block graph: build them with customized(inputs, block_graph)");
  YR_USER_CHECK(info.arity < 0 || static_cast<int>(inputs.size()) == info.arity,
                info.name << " takes " << info.arity << (info.arity == 1 ? " input" : " inputs")
                          << "; got " << inputs.size());
  YR_USER_CHECK(info.arity >= 0 || !inputs.empty(),
                info.name << " takes at least one input; got none");
  std::vector<TensorType> input_types;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const std::string role = std::string(info.name) + " input " + std::to_string(i);
    check_ref(inputs[i], role.c_str());
    input_types.push_back(type(inputs[i]));
  }
  check_attributes(info, attrs);
  Node node;
  node.op = op;
  node.inputs = inputs;
  node.outputs = infer_output_types(op, input_types, attrs);
  node.attrs = std::move(attrs);
  return append(std::move(node));
}

TensorRef KernelGraph::matmul(TensorRef a, TensorRef b) {
  return add_node(OpKind::Matmul, {a, b}, {})[0];
}

TensorRef KernelGraph::unary(OpKind op, TensorRef x, double scalar) {
  YR_USER_CHECK(op_info(op).category == OpCategory::Unary,
                op_name(op) << " is not an element-wise unary op");
  Attrs attrs;
  if (!op_info(op).attributes.empty()) attrs.set("scalar", scalar);
  return add_node(op, {x}, std::move(attrs))[0];
}

TensorRef KernelGraph::binary(OpKind op, TensorRef a, TensorRef b) {
  YR_USER_CHECK(op_info(op).category == OpCategory::Binary,
                op_name(op) << " is not an element-wise binary op");
  return add_node(op, {a, b}, {})[0];
}

TensorRef KernelGraph::reduce(OpKind op, TensorRef x, int64_t dim, bool keepdim) {
  YR_USER_CHECK(op_info(op).category == OpCategory::Reduce, op_name(op) << " is not a reduction");
  Attrs attrs;
  attrs.set("dim", dim).set("keepdim", keepdim);
  return add_node(op, {x}, std::move(attrs))[0];
}

TensorRef KernelGraph::rms_norm(TensorRef x, TensorRef weight, double eps) {
  Attrs attrs;
  attrs.set("eps", eps);
  return add_node(OpKind::RmsNorm, {x, weight}, std::move(attrs))[0];
}

TensorRef KernelGraph::softmax(TensorRef x, int64_t dim) {
  Attrs attrs;
  attrs.set("dim", dim);
  return add_node(OpKind::Softmax, {x}, std::move(attrs))[0];
}

TensorRef KernelGraph::concat(const std::vector<TensorRef>& parts, int64_t dim) {
  Attrs attrs;
  attrs.set("dim", dim);
  return add_node(OpKind::Concat, parts, std::move(attrs))[0];
}

std::vector<TensorRef> KernelGraph::split(TensorRef x, const std::vector<int64_t>& sizes,
                                          int64_t dim) {
  Attrs attrs;
  attrs.set("dim", dim).set("sizes", sizes);
  return add_node(OpKind::Split, {x}, std::move(attrs));
}

std::vector<TensorRef> KernelGraph::chunk(TensorRef x, int64_t chunks, int64_t dim) {
  const TensorType& x_type = type(x);
  const auto rank = static_cast<int64_t>(x_type.shape.size());
  YR_USER_CHECK(dim >= -rank && dim < rank, "chunk: dim " << dim << " is out of range for "
                                                          << x_type.to_string() << "; expected -"
                                                          << rank << " <= dim < " << rank);
  const int64_t extent = x_type.shape[dim < 0 ? dim + rank : dim];
  YR_USER_CHECK(chunks >= 1 && extent % chunks == 0,
                "chunk: " << chunks << " chunks do not divide dim " << dim << " of "
                          << x_type.to_string() << " (extent " << extent
                          << "); expected a positive divisor of the extent");
  return split(x, std::vector<int64_t>(chunks, extent / chunks), dim);
}

TensorRef KernelGraph::reshape(TensorRef x, const core::Shape& shape) {
  Attrs attrs;
  attrs.set("shape", shape);
  return add_node(OpKind::Reshape, {x}, std::move(attrs))[0];
}

TensorRef KernelGraph::transpose(TensorRef x, int64_t dim0, int64_t dim1) {
  Attrs attrs;
  attrs.set("dim0", dim0).set("dim1", dim1);
  return add_node(OpKind::Transpose, {x}, std::move(attrs))[0];
}

TensorRef KernelGraph::embedding(TensorRef ids, TensorRef table) {
  return add_node(OpKind::Embedding, {ids, table}, {})[0];
}

TensorRef KernelGraph::rope(TensorRef x, TensorRef positions, double theta) {
  Attrs attrs;
  attrs.set("theta", theta);
  return add_node(OpKind::Rope, {x, positions}, std::move(attrs))[0];
}

std::vector<TensorRef> KernelGraph::customized(const std::vector<TensorRef>& inputs,
                                               std::shared_ptr<const BlockGraph> kernel) {
  YR_USER_CHECK(kernel != nullptr, "customized: the block graph is missing");
  kernel->check_complete();
  const auto& block_inputs = kernel->inputs();
  YR_USER_CHECK(inputs.size() == block_inputs.size(), "customized: the block graph has "
                                                          << block_inputs.size() << " inputs; got "
                                                          << inputs.size() << " tensors");
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const std::string role = "customized input " + std::to_string(i);
    check_ref(inputs[i], role.c_str());
    YR_USER_CHECK(type(inputs[i]) == block_inputs[i].dtensor,
                  "customized: input " << i << " is " << type(inputs[i]).to_string()
                                       << ", but block input " << i << " was declared over "
                                       << block_inputs[i].dtensor.to_string());
  }
  Node node;
  node.op = OpKind::Customized;
  node.inputs = inputs;
  for (const auto& output : kernel->outputs()) node.outputs.push_back(output.dtensor);
  node.block_graph = std::move(kernel);
  return append(std::move(node));
}

void KernelGraph::mark_output(TensorRef tensor) {
  check_ref(tensor, "mark_output");
  outputs_.push_back(tensor);
}

int KernelGraph::num_kernels() const {
  int kernels = 0;
  for (const auto& node : nodes_) kernels += node.op != OpKind::Input;
  return kernels;
}

std::vector<TensorType> KernelGraph::input_types() const {
  std::vector<TensorType> types;
  for (int32_t index : input_nodes_) types.push_back(nodes_[index].outputs[0]);
  return types;
}

std::vector<TensorType> KernelGraph::output_types() const {
  std::vector<TensorType> types;
  for (const auto& tensor : outputs_) types.push_back(type(tensor));
  return types;
}

}  // namespace yirage::ir
