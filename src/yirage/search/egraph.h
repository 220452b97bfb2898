// A small e-graph: the target's abstract expression saturated under the pruning axioms, so that
// "is this term a subexpression of the target, modulo the axioms?" is a lookup.
//
// Axioms (applied in both directions where both make sense): commutativity and associativity
// of add and mul; mul distributes over add; a/c + b/c = (a+b)/c; a*(b/c) = (a*b)/c;
// (a/b)/c = a/(b*c); sum(n, a + b) = sum(n, a) + sum(n, b); sum(n, a*c) = sum(n, a)*c and
// sum(n, a/c) = sum(n, a)/c (pulling out factors constant along the reduction: the abstraction
// does not track dims, so this over-approximates, which pruning tolerates); a sum over n
// splits into sum(p, sum(n/p, a)) for the extents the candidates use (in the pool nested
// sums are flattened, so this is implicit; the e-graph flattens a sum whose operand class
// holds a sum, and contains() accepts a partial sum, below); and constants fold: c1 + c2,
// c1 * c2 and c1 / c2 become one constant, a * 1 = a and a / 1 = a.
//
// The structure: e-classes under union-find, hash-consed e-nodes whose operands are classes,
// congruence restored after merges (rebuild), and each round matches every rule against the
// e-nodes whose classes changed and applies all the matches. Class and node numbering depend
// only on the terms and their order in the pool, never on addresses.
#pragma once

#include <array>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "yirage/search/abstract_expr.h"

namespace yirage::search {

/// Bounds on saturation.
struct SaturationLimits {
  std::size_t max_nodes = 20000;  ///< stop adding e-nodes beyond this
  int max_iterations = 30;        ///< rounds of rule application
  double max_seconds = 2.0;       ///< wall-time bound
};

/// What saturation did.
struct SaturationStats {
  std::size_t nodes = 0;    ///< e-nodes at the end
  std::size_t classes = 0;  ///< e-classes at the end
  int iterations = 0;       ///< rounds run
  bool saturated = false;   ///< true when a round added nothing (a fixpoint)
  double seconds = 0.0;     ///< wall time
};

/// An e-graph over the terms of an ExprPool. It keeps a reference to the pool, which must
/// outlive it; contains() reads terms added to the pool later, too. The const members may run
/// concurrently as long as nobody adds to the pool meanwhile.
class EGraph {
 public:
  /// An e-graph holding the terms reachable from `roots` (typically the target's outputs; a
  /// root may be kUnknownExpr).
  EGraph(const ExprPool& pool, const std::vector<ExprId>& roots);
  /// Applies the axioms until a fixpoint or a limit; may be called again with other limits.
  SaturationStats saturate(const SaturationLimits& limits = {});
  /// True when term `id` of the pool (and so each of its subterms) is represented: it equals,
  /// modulo the axioms applied, a subterm of some form of the roots. Also true for a partial
  /// sum sum(m, e) of a represented sum(n, e) with m dividing n, for a max of a represented
  /// term (a stabilizer the abstraction drops), and for kUnknownExpr (never pruned); terms over
  /// a partial sum or a max are not represented unless the target has them.
  bool contains(ExprId id) const { return contains(pool_, id); }
  /// contains() for a term of `pool`, a copy of the e-graph's pool extended with more terms
  /// (each search thread extends its own copy).
  bool contains(const ExprPool& pool, ExprId id) const;
  /// True when the term is equivalent to root `root_index`'s class (also for kUnknownExpr
  /// and for an unknown root: the verifier decides those).
  bool equivalent_to_root(ExprId id, std::size_t root_index) const {
    return equivalent_to_root(pool_, id, root_index);
  }
  /// equivalent_to_root() for a term of `pool`, an extended copy of the e-graph's pool.
  bool equivalent_to_root(const ExprPool& pool, ExprId id, std::size_t root_index) const;

 private:
  using ClassId = int32_t;
  // A term node whose operands are e-classes.
  struct ENode {
    ExprKind kind = ExprKind::Var;
    int64_t value = 0;
    ClassId a = -1;
    ClassId b = -1;
    bool operator==(const ENode& other) const = default;
  };
  struct ENodeHash {
    std::size_t operator()(const ENode& n) const;
  };
  struct EClass {
    std::vector<int32_t> nodes;    // its e-nodes (indices into nodes_; dead ones are skipped)
    std::vector<int32_t> parents;  // e-nodes that have it as an operand
  };
  // What a rule found: up to three e-nodes to add in order (operand -2 - i names the i-th one
  // added), the last merged into `target`; with none, `alias` is merged into `target`.
  struct Rewrite {
    ClassId target = -1;
    ClassId alias = -1;
    int count = 0;
    std::array<ENode, 3> steps{};
  };

  ClassId find(ClassId id) const;
  ENode canonical(ENode node) const;
  ClassId add(ENode node);
  bool merge(ClassId a, ClassId b);
  void rebuild();
  void apply(const Rewrite& rewrite);
  // Orders every class's e-nodes by kind (then index), for the rules' lookups by kind.
  void sort_class_nodes();
  // The class of pool term `id`, kContainedOnly when it is represented without a class of its
  // own (a partial sum, a max), or -1 when absent; `memo` caches answers within one query.
  ClassId resolve(const ExprPool& pool, ExprId id, std::unordered_map<ExprId, ClassId>& memo) const;
  // Rules (egraph_rules.cpp): every rewrite that applies to an e-node of class `cls`.
  void search(ClassId cls, const ENode& node, std::vector<Rewrite>& out) const;

  const ExprPool& pool_;
  std::vector<ClassId> parent_;  // union-find over classes
  std::vector<EClass> classes_;  // by class id; meaningful for roots
  std::vector<ENode> nodes_;     // every e-node added, operands canonical after rebuild()
  std::vector<ClassId> node_class_;
  std::vector<char> dead_;  // e-nodes that turned out duplicates of others
  std::unordered_map<ENode, int32_t, ENodeHash> memo_;  // live e-node -> its index
  std::vector<ClassId> pending_;                        // merged classes awaiting rebuild()
  std::vector<ClassId> roots_;                          // class of each root, -1 if unknown
  // Semi-naive search: an e-node is matched again only when it or an operand class is new.
  std::vector<int32_t> changed_;    // per class: the epoch in which it last gained e-nodes
  int32_t epoch_ = 0;               // advanced at each search
  int32_t searched_epoch_ = 0;      // epoch of the last complete search
  std::size_t searched_nodes_ = 0;  // e-nodes that existed at the last complete search
  std::size_t live_nodes_ = 0;
  std::size_t created_ = 0;  // e-nodes ever added
  std::size_t merges_ = 0;   // successful merges
};

}  // namespace yirage::search
