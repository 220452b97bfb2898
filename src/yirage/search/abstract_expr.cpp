#include "yirage/search/abstract_expr.h"

#include <bit>
#include <charconv>
#include <cmath>

#include "yirage/core/error.h"
#include "yirage/ir/op.h"

namespace yirage::search {

namespace {

using ir::OpKind;
using ir::TensorType;

int64_t double_bits(double value) {
  return std::bit_cast<int64_t>(value);
}

double bits_double(int64_t bits) {
  return std::bit_cast<double>(bits);
}

// Builds the primitive forms of the header over a pool; operands may be kUnknownExpr, which
// makes the result unknown too.
class Abstractor {
 public:
  explicit Abstractor(ExprPool& pool) : pool_(pool) {}

  ExprId constant(double value) { return pool_.constant(value); }
  ExprId mul(ExprId a, ExprId b) { return pool_.binary(ExprKind::Mul, a, b); }
  ExprId div(ExprId a, ExprId b) { return pool_.binary(ExprKind::Div, a, b); }
  ExprId sqrt(ExprId a) { return pool_.unary(ExprKind::Sqrt, a); }
  ExprId rsqrt(ExprId a) { return div(constant(1.0), sqrt(a)); }
  ExprId mean(int64_t extent, ExprId a) {
    return mul(pool_.sum(extent, a), constant(1.0 / static_cast<double>(extent)));
  }
  ExprId max(int64_t extent, ExprId a) { return pool_.make({ExprKind::Max, extent, a, -1}); }

  // add(a, b), except that adding mul(m, -1) for a Max term m is dropping m.
  ExprId add(ExprId a, ExprId b) {
    if (is_negated_max(b)) return a;
    if (is_negated_max(a)) return b;
    return pool_.binary(ExprKind::Add, a, b);
  }
  // sub(a, b) = add(a, mul(b, -1)); a Max term b is dropped.
  ExprId sub(ExprId a, ExprId b) {
    if (pool_.node(b).kind == ExprKind::Max) return a;
    return pool_.binary(ExprKind::Add, a, mul(b, constant(-1.0)));
  }

  // The outputs of `op` over operands `in` of types `types`.
  std::vector<ExprId> op(OpKind op, const ir::Attrs& attrs, const std::vector<TensorType>& types,
                         const std::vector<ExprId>& in, std::size_t num_outputs) {
    for (ExprId operand : in) {
      if (operand == kUnknownExpr) return std::vector<ExprId>(num_outputs, kUnknownExpr);
    }
    switch (op) {
      case OpKind::Split:
        return std::vector<ExprId>(num_outputs, in[0]);
      case OpKind::Concat: {
        for (ExprId part : in) {
          if (part != in[0]) return {kUnknownExpr};
        }
        return {in[0]};
      }
      default:
        return {single(op, attrs, types, in)};
    }
  }

 private:
  bool is_negated_max(ExprId id) const {
    const ExprNode& node = pool_.node(id);
    if (node.kind != ExprKind::Mul) return false;
    const auto is_minus_one = [&](ExprId e) {
      return pool_.node(e).kind == ExprKind::Const && bits_double(pool_.node(e).value) == -1.0;
    };
    const auto is_max = [&](ExprId e) { return pool_.node(e).kind == ExprKind::Max; };
    return (is_max(node.a) && is_minus_one(node.b)) || (is_minus_one(node.a) && is_max(node.b));
  }

  ExprId single(OpKind op, const ir::Attrs& attrs, const std::vector<TensorType>& types,
                const std::vector<ExprId>& in) {
    const auto scalar = [&] { return constant(attrs.get_float("scalar")); };
    const auto extent = [&](std::size_t operand, int64_t dim) {
      const auto& shape = types[operand].shape;
      return shape[static_cast<std::size_t>(dim < 0 ? dim + static_cast<int64_t>(shape.size())
                                                    : dim)];
    };
    switch (op) {
      case OpKind::Reshape:
      case OpKind::Transpose:
        return in[0];
      case OpKind::Matmul:
        return pool_.sum(extent(0, -1), mul(in[0], in[1]));
      case OpKind::RmsNorm: {
        const ExprId mean_square = mean(extent(0, -1), mul(in[0], in[0]));
        const ExprId scale = rsqrt(add(mean_square, constant(attrs.get_float("eps"))));
        return mul(mul(in[0], in[1]), scale);
      }
      case OpKind::Softmax: {
        const ExprId e = pool_.unary(ExprKind::Exp, in[0]);
        return div(e, pool_.sum(extent(0, attrs.get_int("dim")), e));
      }
      case OpKind::Embedding:
        return pool_.binary(ExprKind::Gather, in[0], in[1]);
      case OpKind::Rope:
        return pool_.binary(ExprKind::Rope, in[0], in[1]);
      case OpKind::Exp:
        return pool_.unary(ExprKind::Exp, in[0]);
      case OpKind::Silu:
        return pool_.unary(ExprKind::Silu, in[0]);
      case OpKind::Gelu:
        return pool_.unary(ExprKind::Gelu, in[0]);
      case OpKind::Relu:
        return pool_.unary(ExprKind::Relu, in[0]);
      case OpKind::Sigmoid:
        return pool_.unary(ExprKind::Sigmoid, in[0]);
      case OpKind::Sqrt:
        return sqrt(in[0]);
      case OpKind::Rsqrt:
        return rsqrt(in[0]);
      case OpKind::Square:
        return mul(in[0], in[0]);
      case OpKind::Neg:
        return mul(in[0], constant(-1.0));
      case OpKind::MulScalar:
        return mul(in[0], scalar());
      case OpKind::AddScalar:
        return add(in[0], scalar());
      case OpKind::Add:
        return add(in[0], in[1]);
      case OpKind::Sub:
        return sub(in[0], in[1]);
      case OpKind::Mul:
        return mul(in[0], in[1]);
      case OpKind::Div:
        return div(in[0], in[1]);
      case OpKind::Pow:
        return pool_.binary(ExprKind::Pow, in[0], in[1]);
      case OpKind::Sum:
        return pool_.sum(extent(0, attrs.get_int("dim")), in[0]);
      case OpKind::Max:
        return max(extent(0, attrs.get_int("dim")), in[0]);
      case OpKind::Mean:
        return mean(extent(0, attrs.get_int("dim")), in[0]);
      default:
        break;
    }
    YR_INTERNAL_ERROR("no abstract expression for " << ir::op_name(op));
  }

  ExprPool& pool_;
};

}  // namespace

int expr_arity(ExprKind kind) {
  switch (kind) {
    case ExprKind::Var:
    case ExprKind::Const:
      return 0;
    case ExprKind::Exp:
    case ExprKind::Sqrt:
    case ExprKind::Silu:
    case ExprKind::Gelu:
    case ExprKind::Relu:
    case ExprKind::Sigmoid:
    case ExprKind::Sum:
    case ExprKind::Max:
      return 1;
    case ExprKind::Add:
    case ExprKind::Mul:
    case ExprKind::Div:
    case ExprKind::Pow:
    case ExprKind::Rope:
    case ExprKind::Gather:
      return 2;
  }
  YR_INTERNAL_ERROR("unknown expression kind " << static_cast<int>(kind));
}

const char* expr_kind_name(ExprKind kind) {
  switch (kind) {
    case ExprKind::Var:
      return "var";
    case ExprKind::Const:
      return "const";
    case ExprKind::Add:
      return "add";
    case ExprKind::Mul:
      return "mul";
    case ExprKind::Div:
      return "div";
    case ExprKind::Exp:
      return "exp";
    case ExprKind::Sqrt:
      return "sqrt";
    case ExprKind::Silu:
      return "silu";
    case ExprKind::Gelu:
      return "gelu";
    case ExprKind::Relu:
      return "relu";
    case ExprKind::Sigmoid:
      return "sigmoid";
    case ExprKind::Pow:
      return "pow";
    case ExprKind::Sum:
      return "sum";
    case ExprKind::Max:
      return "max";
    case ExprKind::Rope:
      return "rope";
    case ExprKind::Gather:
      return "gather";
  }
  YR_INTERNAL_ERROR("unknown expression kind " << static_cast<int>(kind));
}

double round_constant(double value) {
  if (value == 0.0) return 0.0;
  if (!std::isfinite(value)) return value;
  constexpr int kDroppedBits = 12;  // of the 52 fraction bits
  constexpr uint64_t kHalf = uint64_t{1} << (kDroppedBits - 1);
  constexpr uint64_t kMask = ~((uint64_t{1} << kDroppedBits) - 1);
  // Rounding the bit pattern rounds the magnitude half up; a carry moves into the exponent.
  return std::bit_cast<double>((std::bit_cast<uint64_t>(value) + kHalf) & kMask);
}

std::size_t ExprPool::Hash::operator()(const ExprNode& n) const {
  uint64_t h = static_cast<uint64_t>(n.kind) + 0x9e3779b97f4a7c15ULL;
  for (uint64_t part :
       {static_cast<uint64_t>(n.value), static_cast<uint64_t>(n.a), static_cast<uint64_t>(n.b)}) {
    h ^= part + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  }
  return static_cast<std::size_t>(h);
}

ExprId ExprPool::make(ExprNode node) {
  const int arity = expr_arity(node.kind);
  const ExprId operands[2] = {node.a, node.b};
  for (int i = 0; i < arity; ++i) {
    YR_INTERNAL_CHECK(operands[i] >= 0 && static_cast<std::size_t>(operands[i]) < nodes_.size(),
                      "operand " << operands[i] << " of a " << expr_kind_name(node.kind)
                                 << " term is not in the pool of " << nodes_.size() << " terms");
  }
  if (arity < 2) node.b = -1;
  if (arity < 1) node.a = -1;
  switch (node.kind) {
    case ExprKind::Const:
      node.value = double_bits(round_constant(bits_double(node.value)));
      break;
    case ExprKind::Sum:
    case ExprKind::Max: {
      YR_INTERNAL_CHECK(node.value >= 1, expr_kind_name(node.kind)
                                             << " over " << node.value << " elements");
      if (node.value == 1) return node.a;
      const ExprNode& inner = nodes_[static_cast<std::size_t>(node.a)];
      if (inner.kind == node.kind) {  // sum(a, sum(b, e)) = sum(ab, e); likewise max
        node.value *= inner.value;
        node.a = inner.a;
      }
      break;
    }
    default:
      node.value = node.kind == ExprKind::Var ? node.value : 0;
      break;
  }
  const auto [it, inserted] = index_.try_emplace(node, static_cast<ExprId>(nodes_.size()));
  if (inserted) nodes_.push_back(node);
  return it->second;
}

ExprId ExprPool::constant(double value) {
  return make({ExprKind::Const, double_bits(value)});
}

ExprId ExprPool::sum(int64_t extent, ExprId a) {
  return make({ExprKind::Sum, extent, a, -1});
}

std::string ExprPool::to_string(ExprId id) const {
  std::string text;
  // Appends term `e` to `text`.
  const auto append = [&](const auto& self, ExprId e) -> void {
    if (e == kUnknownExpr) {
      text += "unknown";
      return;
    }
    const ExprNode& n = node(e);
    char buffer[32];
    switch (n.kind) {
      case ExprKind::Var:
        text += 'x';
        text += std::to_string(n.value);
        return;
      case ExprKind::Const: {
        const auto result = std::to_chars(buffer, buffer + sizeof(buffer), bits_double(n.value),
                                          std::chars_format::general, 12);
        text.append(buffer, result.ptr);
        return;
      }
      default:
        break;
    }
    text += expr_kind_name(n.kind);
    text += '(';
    if (n.kind == ExprKind::Sum || n.kind == ExprKind::Max) {
      text += std::to_string(n.value);
      text += ", ";
    }
    self(self, n.a);
    if (expr_arity(n.kind) == 2) {
      text += ", ";
      self(self, n.b);
    }
    text += ')';
  };
  append(append, id);
  return text;
}

std::vector<std::vector<ExprId>> abstract_block_graph(ExprPool& pool, const ir::BlockGraph& graph,
                                                      const std::vector<ExprId>& inputs) {
  YR_INTERNAL_CHECK(inputs.size() == graph.inputs().size(),
                    "block graph takes " << graph.inputs().size() << " inputs; got "
                                         << inputs.size() << " expressions");
  Abstractor build(pool);
  const auto& nodes = graph.nodes();
  const int64_t iterations = graph.forloop_range();
  std::vector<std::vector<ExprId>> result(nodes.size());
  const auto expr = [&](ir::TensorRef ref) { return result[ref.node][ref.output]; };
  for (std::size_t n = 0; n < nodes.size(); ++n) {
    const ir::BlockNode& node = nodes[n];
    switch (node.kind) {
      case ir::BlockNodeKind::Input:
        result[n] = {inputs[static_cast<std::size_t>(node.input_index)]};
        break;
      case ir::BlockNodeKind::Op: {
        std::vector<ExprId> operands;
        std::vector<TensorType> types;
        for (const auto& ref : node.inputs) {
          operands.push_back(expr(ref));
          types.push_back(graph.type(ref));
        }
        result[n] = build.op(node.op, node.attrs, types, operands, node.outputs.size());
        break;
      }
      case ir::BlockNodeKind::ReduceToDimx: {
        const ExprId x = expr(node.inputs[0]);
        const auto dim = static_cast<std::size_t>(node.attrs.get_int("dim"));
        const int64_t group = graph.type(node.inputs[0]).shape[dim] / node.outputs[0].shape[dim];
        result[n] = {x == kUnknownExpr ? kUnknownExpr : pool.sum(group, x)};
        break;
      }
      case ir::BlockNodeKind::Accumulate: {
        const ExprId x = expr(node.inputs[0]);
        if (x == kUnknownExpr) {
          result[n] = {kUnknownExpr};
          break;
        }
        switch (node.accum) {
          case ir::AccumKind::Sum:
          case ir::AccumKind::RescaledSum:
            result[n] = {pool.sum(iterations, x)};
            break;
          case ir::AccumKind::Mean:
            result[n] = {build.mean(iterations, x)};
            break;
          case ir::AccumKind::Rms:
            result[n] = {build.sqrt(build.mean(iterations, build.mul(x, x)))};
            break;
          case ir::AccumKind::Max:
            result[n] = {build.max(iterations, x)};
            break;
        }
        break;
      }
    }
  }
  return result;
}

std::vector<std::vector<ExprId>> abstract_kernel_graph(ExprPool& pool,
                                                       const ir::KernelGraph& graph) {
  Abstractor build(pool);
  const auto& nodes = graph.nodes();
  std::vector<std::vector<ExprId>> result(nodes.size());
  const auto& input_nodes = graph.input_nodes();
  for (std::size_t k = 0; k < input_nodes.size(); ++k) {
    result[static_cast<std::size_t>(input_nodes[k])] = {pool.var(static_cast<int64_t>(k))};
  }
  for (std::size_t n = 0; n < nodes.size(); ++n) {
    const ir::Node& node = nodes[n];
    if (node.op == OpKind::Input) continue;
    std::vector<ExprId> operands;
    std::vector<TensorType> types;
    for (const auto& ref : node.inputs) {
      operands.push_back(result[ref.node][ref.output]);
      types.push_back(graph.type(ref));
    }
    if (node.op != OpKind::Customized) {
      result[n] = build.op(node.op, node.attrs, types, operands, node.outputs.size());
      continue;
    }
    YR_INTERNAL_CHECK(node.block_graph != nullptr,
                      "customized node " << n << " has no block graph");
    const auto block = abstract_block_graph(pool, *node.block_graph, operands);
    for (const auto& output : node.block_graph->outputs()) {
      result[n].push_back(block[output.tile.node][output.tile.output]);
    }
  }
  return result;
}

}  // namespace yirage::search
