#include "yirage/search/egraph.h"

#include <algorithm>
#include <chrono>

#include "yirage/core/error.h"
#include "yirage/core/hash.h"

namespace yirage::search {

namespace {

// resolve(): a term represented without a class of its own.
constexpr int32_t kContainedOnly = -2;

}  // namespace

std::size_t EGraph::ENodeHash::operator()(const ENode& n) const {
  // splitmix64's finalizer over the fields folded together.
  uint64_t h = static_cast<uint64_t>(n.value) * 0x9e3779b97f4a7c15ULL;
  h ^= (static_cast<uint64_t>(static_cast<uint32_t>(n.a)) << 32 | static_cast<uint32_t>(n.b)) +
       static_cast<uint64_t>(n.kind);
  return static_cast<std::size_t>(core::mix64(h));
}

EGraph::EGraph(const ExprPool& pool, const std::vector<ExprId>& roots) : pool_(pool) {
  // Operands precede their terms in the pool, so increasing ids are a topological order.
  std::vector<char> reachable(pool.size(), 0);
  std::vector<ExprId> stack;
  for (ExprId root : roots) {
    YR_INTERNAL_CHECK(root >= kUnknownExpr && root < static_cast<ExprId>(pool.size()),
                      "root " << root << " is not a term of the pool");
    if (root >= 0) stack.push_back(root);
  }
  while (!stack.empty()) {
    const ExprId id = stack.back();
    stack.pop_back();
    if (reachable[static_cast<std::size_t>(id)]) continue;
    reachable[static_cast<std::size_t>(id)] = 1;
    const ExprNode& term = pool.node(id);
    if (expr_arity(term.kind) >= 1) stack.push_back(term.a);
    if (expr_arity(term.kind) == 2) stack.push_back(term.b);
  }
  std::vector<ClassId> class_of(pool.size(), -1);
  for (std::size_t id = 0; id < pool.size(); ++id) {
    if (!reachable[id]) continue;
    const ExprNode& term = pool.node(static_cast<ExprId>(id));
    class_of[id] = add({term.kind, term.value, term.a >= 0 ? class_of[term.a] : -1,
                        term.b >= 0 ? class_of[term.b] : -1});
  }
  for (ExprId root : roots) roots_.push_back(root >= 0 ? class_of[root] : -1);
}

EGraph::ClassId EGraph::find(ClassId id) const {
  while (parent_[static_cast<std::size_t>(id)] != id) id = parent_[static_cast<std::size_t>(id)];
  return id;
}

EGraph::ENode EGraph::canonical(ENode node) const {
  if (node.a >= 0) node.a = find(node.a);
  if (node.b >= 0) node.b = find(node.b);
  return node;
}

EGraph::ClassId EGraph::add(ENode node) {
  node = canonical(node);
  if (const auto it = memo_.find(node); it != memo_.end()) {
    return find(node_class_[static_cast<std::size_t>(it->second)]);
  }
  const auto index = static_cast<int32_t>(nodes_.size());
  const auto cls = static_cast<ClassId>(classes_.size());
  nodes_.push_back(node);
  node_class_.push_back(cls);
  dead_.push_back(0);
  parent_.push_back(cls);
  changed_.push_back(epoch_);
  classes_.push_back({{index}, {}});
  if (node.a >= 0) classes_[static_cast<std::size_t>(node.a)].parents.push_back(index);
  if (node.b >= 0 && node.b != node.a) {
    classes_[static_cast<std::size_t>(node.b)].parents.push_back(index);
  }
  memo_.emplace(node, index);
  ++live_nodes_;
  ++created_;
  return cls;
}

bool EGraph::merge(ClassId a, ClassId b) {
  a = find(a);
  b = find(b);
  if (a == b) return false;
  // Union by size, ties to the smaller id: deterministic and keeps find() chains short.
  const auto size = [&](ClassId c) {
    const EClass& e = classes_[static_cast<std::size_t>(c)];
    return e.nodes.size() + e.parents.size();
  };
  if (size(a) < size(b) || (size(a) == size(b) && b < a)) std::swap(a, b);
  parent_[static_cast<std::size_t>(b)] = a;
  changed_[static_cast<std::size_t>(a)] = epoch_;
  EClass& root = classes_[static_cast<std::size_t>(a)];
  EClass& child = classes_[static_cast<std::size_t>(b)];
  root.nodes.insert(root.nodes.end(), child.nodes.begin(), child.nodes.end());
  root.parents.insert(root.parents.end(), child.parents.begin(), child.parents.end());
  child = {};
  pending_.push_back(a);
  ++merges_;
  return true;
}

// Restores congruence after merges: parents of merged classes are re-canonicalized, and two
// e-nodes that become equal merge their classes (which may make more parents equal).
void EGraph::rebuild() {
  while (!pending_.empty()) {
    std::vector<ClassId> todo;
    todo.swap(pending_);
    for (ClassId& c : todo) c = find(c);
    std::sort(todo.begin(), todo.end());
    todo.erase(std::unique(todo.begin(), todo.end()), todo.end());
    for (ClassId c : todo) {
      if (find(c) != c) continue;  // merged again meanwhile: its new root is pending
      const std::vector<int32_t> parents = classes_[static_cast<std::size_t>(c)].parents;
      for (int32_t p : parents) {
        const auto pi = static_cast<std::size_t>(p);
        if (dead_[pi]) continue;
        const ENode canon = canonical(nodes_[pi]);
        if (canon == nodes_[pi]) continue;
        memo_.erase(nodes_[pi]);  // live e-nodes are the memo entries of their own form
        nodes_[pi] = canon;
        // The class now holds an e-node with new operands: rules with equality conditions on
        // operands (x*y + x*z) may match it anew.
        changed_[static_cast<std::size_t>(find(node_class_[pi]))] = epoch_;
        const auto [it, inserted] = memo_.try_emplace(canon, p);
        if (inserted) continue;
        dead_[pi] = 1;
        --live_nodes_;
        merge(node_class_[static_cast<std::size_t>(it->second)], node_class_[pi]);
      }
      EClass& e = classes_[static_cast<std::size_t>(find(c))];
      const auto is_dead = [&](int32_t n) { return dead_[static_cast<std::size_t>(n)] != 0; };
      e.parents.erase(std::remove_if(e.parents.begin(), e.parents.end(), is_dead), e.parents.end());
      std::sort(e.parents.begin(), e.parents.end());
      e.parents.erase(std::unique(e.parents.begin(), e.parents.end()), e.parents.end());
      e.nodes.erase(std::remove_if(e.nodes.begin(), e.nodes.end(), is_dead), e.nodes.end());
    }
  }
}

void EGraph::sort_class_nodes() {
  for (std::size_t c = 0; c < classes_.size(); ++c) {
    parent_[c] = find(static_cast<ClassId>(c));  // path compression while nothing merges
    auto& list = classes_[c].nodes;
    std::sort(list.begin(), list.end(), [&](int32_t x, int32_t y) {
      const auto kx = nodes_[static_cast<std::size_t>(x)].kind;
      const auto ky = nodes_[static_cast<std::size_t>(y)].kind;
      return kx != ky ? kx < ky : x < y;
    });
  }
}

void EGraph::apply(const Rewrite& rewrite) {
  if (rewrite.count == 0) {
    merge(rewrite.target, rewrite.alias);
    return;
  }
  std::array<ClassId, 3> built{};
  const auto operand = [&](ClassId c) {
    return c <= -2 ? built[static_cast<std::size_t>(-2 - c)] : c;
  };
  for (int i = 0; i < rewrite.count; ++i) {
    ENode node = rewrite.steps[static_cast<std::size_t>(i)];
    node.a = node.a == -1 ? -1 : operand(node.a);
    node.b = node.b == -1 ? -1 : operand(node.b);
    built[static_cast<std::size_t>(i)] = add(node);
  }
  merge(rewrite.target, built[static_cast<std::size_t>(rewrite.count - 1)]);
}

SaturationStats EGraph::saturate(const SaturationLimits& limits) {
  const auto start = std::chrono::steady_clock::now();
  const auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  SaturationStats stats;
  std::vector<Rewrite> rewrites;
  rebuild();
  for (int iteration = 0; iteration < limits.max_iterations; ++iteration) {
    // Search the e-nodes that are new or have an operand class that changed since the last
    // complete search (the others' rewrites were all applied then), then apply the rewrites.
    rewrites.clear();
    sort_class_nodes();
    const int32_t since = searched_epoch_;
    const std::size_t old_nodes = searched_nodes_;
    searched_epoch_ = ++epoch_;
    searched_nodes_ = nodes_.size();
    const auto changed = [&](ClassId c) {
      return c >= 0 && changed_[static_cast<std::size_t>(find(c))] >= since;
    };
    for (std::size_t c = 0; c < classes_.size(); ++c) {
      const auto cls = static_cast<ClassId>(c);
      if (find(cls) != cls) continue;
      for (int32_t n : classes_[c].nodes) {
        const ENode& node = nodes_[static_cast<std::size_t>(n)];
        if (dead_[static_cast<std::size_t>(n)]) continue;
        if (static_cast<std::size_t>(n) < old_nodes && !changed(node.a) && !changed(node.b))
          continue;
        search(cls, node, rewrites);
      }
    }
    // Rewrites that add at most one e-node (commutation, folding, flattening) first: they merge
    // the classes that the longer ones would otherwise fill with forms not yet known equal.
    std::stable_partition(rewrites.begin(), rewrites.end(),
                          [](const Rewrite& r) { return r.count <= 1; });
    const std::size_t created = created_;
    const std::size_t merges = merges_;
    bool limited = false;
    for (std::size_t i = 0; i < rewrites.size() && !limited; ++i) {
      if (live_nodes_ >= limits.max_nodes) rebuild();  // count classes known equal as one
      limited =
          live_nodes_ >= limits.max_nodes || ((i & 1023) == 0 && elapsed() > limits.max_seconds);
      if (!limited) apply(rewrites[i]);
    }
    rebuild();
    if (limited) {  // some rewrites were not applied: search everything next time
      searched_epoch_ = 0;
      searched_nodes_ = 0;
    }
    stats.iterations = iteration + 1;
    if (!limited && created_ == created && merges_ == merges) {
      stats.saturated = true;
      break;
    }
    if (limited || elapsed() > limits.max_seconds) break;
  }
  stats.nodes = live_nodes_;
  for (std::size_t c = 0; c < classes_.size(); ++c) {
    stats.classes += find(static_cast<ClassId>(c)) == static_cast<ClassId>(c) ? 1 : 0;
  }
  stats.seconds = elapsed();
  return stats;
}

EGraph::ClassId EGraph::resolve(const ExprPool& pool, ExprId id,
                                std::unordered_map<ExprId, ClassId>& memo) const {
  if (const auto it = memo.find(id); it != memo.end()) return it->second;
  const ExprNode& term = pool.node(id);
  const int arity = expr_arity(term.kind);
  ENode node{term.kind, term.value, -1, -1};
  ClassId result = -1;
  bool operands_found = true;
  if (arity >= 1) node.a = resolve(pool, term.a, memo);
  if (arity == 2) node.b = resolve(pool, term.b, memo);
  if (arity >= 1 && node.a == -1) operands_found = false;
  if (arity == 2 && node.b == -1) operands_found = false;
  if (operands_found && node.a != kContainedOnly && node.b != kContainedOnly) {
    if (const auto it = memo_.find(canonical(node)); it != memo_.end()) {
      result = find(node_class_[static_cast<std::size_t>(it->second)]);
    }
  }
  if (result == -1 && operands_found && term.kind == ExprKind::Max) {
    // A max of a represented tensor only stabilizes exp: the abstraction drops it.
    result = kContainedOnly;
  } else if (result == -1 && operands_found && term.kind == ExprKind::Sum && node.a >= 0) {
    // A partial sum: sum(m, e) is part of sum(n, e) = sum(n/m, sum(m, e)) when m divides n.
    const ClassId operand = find(node.a);
    for (int32_t p : classes_[static_cast<std::size_t>(operand)].parents) {
      const ENode& parent = nodes_[static_cast<std::size_t>(p)];
      if (!dead_[static_cast<std::size_t>(p)] && parent.kind == ExprKind::Sum &&
          find(parent.a) == operand && parent.value % term.value == 0) {
        result = kContainedOnly;
        break;
      }
    }
  }
  memo.emplace(id, result);
  return result;
}

bool EGraph::contains(const ExprPool& pool, ExprId id) const {
  if (id == kUnknownExpr) return true;
  std::unordered_map<ExprId, ClassId> memo;
  return resolve(pool, id, memo) != -1;
}

bool EGraph::equivalent_to_root(const ExprPool& pool, ExprId id, std::size_t root_index) const {
  YR_INTERNAL_CHECK(root_index < roots_.size(),
                    "root " << root_index << " of an e-graph with " << roots_.size() << " roots");
  const ClassId root = roots_[root_index];
  if (id == kUnknownExpr || root == -1) return true;
  std::unordered_map<ExprId, ClassId> memo;
  const ClassId cls = resolve(pool, id, memo);
  return cls >= 0 && find(cls) == find(root);
}

}  // namespace yirage::search
