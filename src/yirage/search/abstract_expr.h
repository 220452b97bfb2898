// Abstract expressions: what each tensor computes, up to layout, as a term over graph inputs.
//
// The search keeps a partial candidate only if every tensor's abstract expression is a
// subexpression of the target's (modulo the axioms of egraph.h). Terms are hash-consed in an
// ExprPool: equal terms have equal ids. Primitive forms: sub(a, b) = add(a, mul(b, -1)),
// neg = mul(a, -1), square(a) = mul(a, a), rsqrt(a) = div(1, sqrt(a)), mean over n = mul(sum(n,
// a), 1/n), matmul = sum(k, mul(a, b)), rms_norm(x, w) = mul(mul(x, w), rsqrt(mean(x*x) + eps)),
// softmax(x) = div(exp(x), sum(n, exp(x))). Nested sums flatten: sum(a, sum(b, e)) = sum(ab, e).
// A value subtracted from a tensor before exp that is a max of it (softmax stabilization,
// online-softmax rescaling) is dropped: it does not change what is computed. So sub(a, b) and
// add(a, mul(b, -1)) are `a` when b is a Max term, a max accumulator is Max(F, x), a
// rescaled_sum(x, m) over F iterations is sum(F, x), and softmax has no max.
//
// Layout is not tracked: reshape, transpose and the pieces of a split have their operand's
// expression; a concat of parts with one common expression has it. A concat of parts that
// differ has no single term: its expression is -1 (unknown), and so is everything computed
// from it; pruning never rejects an unknown expression (see EGraph::contains).
//
// Constants are compared after rounding to 40 fraction bits (round_constant), so that
// folded products like (1/3)(1/5) meet 1/15.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "yirage/ir/block_graph.h"
#include "yirage/ir/kernel_graph.h"

namespace yirage::search {

/// Kinds of abstract-expression nodes.
enum class ExprKind : uint8_t {
  Var,      ///< graph input `value`
  Const,    ///< the double whose bits are `value`
  Add,      ///< a + b
  Mul,      ///< a * b
  Div,      ///< a / b
  Exp,      ///< exp(a)
  Sqrt,     ///< sqrt(a)
  Silu,     ///< silu(a)
  Gelu,     ///< gelu(a)
  Relu,     ///< relu(a)
  Sigmoid,  ///< sigmoid(a)
  Pow,      ///< pow(a, b)
  Sum,      ///< sum of a over `value` elements
  Max,      ///< max of a over `value` elements
  Rope,     ///< rotary embedding of a by positions b
  Gather,   ///< rows of b picked by a (embedding)
};

/// Index of a term in an ExprPool; -1 for none.
using ExprId = int32_t;

/// The expression of a tensor that no single term describes (a concat of differing parts).
inline constexpr ExprId kUnknownExpr = -1;

/// Number of operands of a node of `kind` (0, 1 or 2).
int expr_arity(ExprKind kind);

/// Lower-case name of `kind`, as to_string prints it ("add", "sum", ...).
const char* expr_kind_name(ExprKind kind);

/// `value` rounded to the precision at which abstract expressions compare constants (40
/// fraction bits; -0 becomes 0).
double round_constant(double value);

/// One hash-consed term.
struct ExprNode {
  ExprKind kind = ExprKind::Var;  ///< what it is
  int64_t value = 0;              ///< Var: input index; Const: double bits; Sum/Max: extent
  ExprId a = -1;                  ///< first operand
  ExprId b = -1;                  ///< second operand
  /// Equality of every field.
  bool operator==(const ExprNode& other) const = default;
};

/// A store of hash-consed terms; make() returns the existing id for an equal term.
class ExprPool {
 public:
  /// The id of `node` (added when new): nested sums (and maxes) flatten, a sum or max over
  /// one element is its operand, constants are rounded (round_constant) and unused fields
  /// cleared. An operand that is not in the pool is an InternalError.
  ExprId make(ExprNode node);
  /// Term `id`.
  const ExprNode& node(ExprId id) const { return nodes_[static_cast<std::size_t>(id)]; }
  /// Number of terms.
  std::size_t size() const { return nodes_.size(); }
  /// Shorthands.
  ExprId var(int64_t index) { return make({ExprKind::Var, index}); }
  /// The constant `value`.
  ExprId constant(double value);
  /// A binary term.
  ExprId binary(ExprKind kind, ExprId a, ExprId b) { return make({kind, 0, a, b}); }
  /// A unary term.
  ExprId unary(ExprKind kind, ExprId a) { return make({kind, 0, a, -1}); }
  /// sum over `extent` elements (extent 1: `a` itself).
  ExprId sum(int64_t extent, ExprId a);
  /// Text form, e.g. "sum(64, mul(x0, x2))" (constants to 12 significant digits;
  /// kUnknownExpr is "unknown").
  std::string to_string(ExprId id) const;

 private:
  struct Hash {
    std::size_t operator()(const ExprNode& n) const;
  };
  std::vector<ExprNode> nodes_;
  std::unordered_map<ExprNode, ExprId, Hash> index_;
};

/// Abstract expressions of every tensor of `graph`: result[node][output]. Inputs are Var(k)
/// for the k-th graph input; customized nodes are abstracted through their block graphs.
std::vector<std::vector<ExprId>> abstract_kernel_graph(ExprPool& pool,
                                                       const ir::KernelGraph& graph);

/// Abstract expressions of every tensor of a block graph whose inputs have expressions
/// `inputs` (one per block input): result[node][output]. Tiles abstract like whole tensors;
/// matmul and reductions over tiles sum over the tile's extent; accumulators sum over the
/// for-loop range (mean, rms as their definitions); max and rescaled_sum as in the header.
std::vector<std::vector<ExprId>> abstract_block_graph(ExprPool& pool, const ir::BlockGraph& graph,
                                                      const std::vector<ExprId>& inputs);

}  // namespace yirage::search
