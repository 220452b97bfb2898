#include "yirage/search/block_search.h"

#include <algorithm>
#include <limits>
#include <memory>
#include <set>
#include <tuple>

#include "yirage/core/error.h"
#include "yirage/verify/verifier.h"

namespace yirage::search {

namespace {

using ir::AccumKind;
using ir::OpKind;
using ir::Phase;
using ir::TensorRef;

// One way to extend a partial block graph by one node.
struct Step {
  enum class Kind { Op, Accumulate } kind = Kind::Op;
  OpKind op = OpKind::Input;
  AccumKind accum = AccumKind::Sum;
  std::vector<int> operands;  // tensor indices
  ir::Attrs attrs;
  int code = 0;  // orders steps with equal operands
};

// Canonical order: a step may follow another only if its key is larger, so independent steps
// are built in one order only and dependent ones (a larger operand index) always may.
using StepKey = std::tuple<int, std::vector<int>, int, std::string>;

StepKey key_of(const Step& step) {
  int latest = -1;
  for (int operand : step.operands) latest = std::max(latest, operand);
  std::string attrs;
  for (const auto& [name, value] : step.attrs.values())
    attrs += name + "=" + ir::attr_value_to_string(value) + ";";
  return {latest, step.operands, step.code, attrs};
}

// A partial candidate: the block graph so far and what each of its tensors computes.
struct Partial {
  std::shared_ptr<const ir::BlockGraph> graph;
  std::vector<TensorRef> tensors;  // every tile, in creation order
  std::vector<ExprId> exprs;       // abstract expression of each tile
  std::vector<uint8_t> used;       // per tile: some op reads it
  StepKey last{-1, {}, -1, ""};
  int ops = 0;
  bool after_loop = false;  // an op on after-loop tensors was added: only such ops follow
};

class FrameSearch {
 public:
  FrameSearch(const Target& target, const Frame& frame, int64_t frame_index, int max_ops,
              int64_t state_budget, SearchState& state)
      : target_(target),
        frame_(frame),
        frame_index_(frame_index),
        max_depth_(max_ops),
        state_limit_(state_budget),
        state_(state),
        pool_(*target.pool) {}

  FrameResult run() {
    auto graph =
        std::make_shared<ir::BlockGraph>(frame_.grid, ir::Dim3{128, 1, 1}, frame_.forloop, 64);
    Partial root;
    try {
      for (std::size_t k = 0; k < target_.inputs.size(); ++k) {
        root.tensors.push_back(graph->input(target_.inputs[k], frame_.imaps[k], frame_.fmaps[k]));
        root.exprs.push_back(target_.input_exprs[k]);
        root.used.push_back(0);
      }
    } catch (const core::UserError&) {
      return {};  // the frame does not tile these inputs
    }
    root.graph = graph;
    if (frame_.forloop > 1) search_recipes(root);
    for (int depth = 2; depth <= max_depth_ && result_.found.empty() && !exhausted(); ++depth) {
      max_ops_ = depth;
      dfs(root);
    }
    return std::move(result_);
  }

 private:
  // Loop frames, accumulators first: a program with a for-loop is a loop body whose tiles
  // feed accumulators, then after-loop ops on those. Recipes (short loop-body chains ending in
  // one accumulator whose expression the target contains) are collected once; then each
  // combination of up to kMaxRecipes of them is built and the after-loop ops are searched
  // depth-first on top. This reaches programs too deep for the plain search (ten ops for
  // RMSNorm+MatMul with the division after the matmul) in few states.
  static constexpr int kRecipeOps = 3;     // most ops of one recipe, the accumulator included
  static constexpr int kMaxRecipes = 3;    // recipes combined
  static constexpr int kAfterLoopOps = 5;  // after-loop ops searched on top
  static constexpr std::size_t kRecipeLimit = 48;

  void search_recipes(const Partial& root) {
    std::vector<std::vector<Step>> recipes;
    std::set<ExprId> seen;
    std::vector<Step> path;
    collect_recipes(root, path, recipes, seen);
    std::vector<std::size_t> chosen;
    const auto combine = [&](const auto& self, std::size_t from) -> void {
      if (!chosen.empty()) try_recipes(root, recipes, chosen);
      if (chosen.size() == static_cast<std::size_t>(kMaxRecipes)) return;
      for (std::size_t r = from; r < recipes.size(); ++r) {
        if (exhausted() || frame_done() || state_.should_stop()) return;
        chosen.push_back(r);
        self(self, r + 1);
        chosen.pop_back();
      }
    };
    combine(combine, 0);
  }

  void collect_recipes(const Partial& partial, std::vector<Step>& path,
                       std::vector<std::vector<Step>>& recipes, std::set<ExprId>& seen) {
    if (static_cast<int>(path.size()) >= kRecipeOps || recipes.size() >= kRecipeLimit ||
        exhausted())
      return;
    for (Step& step : steps(partial)) {
      if (step.kind == Step::Kind::Op && reads_after_loop(partial, step)) continue;
      StepKey key = key_of(step);
      if (!(key > partial.last)) continue;
      auto next = apply(partial, step, key);
      if (!next) continue;
      const ExprId expr = next->exprs.back();
      if (next->graph->phase(next->tensors.back()) == Phase::Invariant) continue;
      ++result_.states;
      state_.states.fetch_add(1, std::memory_order_relaxed);
      if (state_.options->prune && !target_.egraph->contains(pool_, expr)) {
        state_.pruned.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      path.push_back(step);
      if (step.kind == Step::Kind::Accumulate) {
        if (seen.insert(expr).second && recipes.size() < kRecipeLimit) recipes.push_back(path);
      } else {
        collect_recipes(*next, path, recipes, seen);
      }
      path.pop_back();
    }
  }

  // Builds the chosen recipes on `root` (sharing equal loop tiles), then searches the
  // after-loop ops.
  void try_recipes(const Partial& root, const std::vector<std::vector<Step>>& recipes,
                   const std::vector<std::size_t>& chosen) {
    Partial partial = root;
    const auto inputs = static_cast<int>(target_.inputs.size());
    for (std::size_t r : chosen) {
      std::vector<int> local;  // recipe tensor index (past the inputs) -> index in `partial`
      for (const Step& original : recipes[r]) {
        Step step = original;
        for (int& operand : step.operands) {
          if (operand >= inputs) operand = local.at(static_cast<std::size_t>(operand - inputs));
        }
        auto next = apply(partial, step, key_of(step));
        if (!next) return;
        int index = static_cast<int>(next->tensors.size()) - 1;
        for (std::size_t t = 0; t + 1 < next->exprs.size(); ++t) {
          if (next->exprs[t] == next->exprs.back() &&
              next->graph->phase(next->tensors[t]) == next->graph->phase(next->tensors.back()) &&
              next->graph->type(next->tensors[t]) == next->graph->type(next->tensors.back())) {
            index = static_cast<int>(t);  // built already by an earlier recipe: share it
            break;
          }
        }
        if (index + 1 == static_cast<int>(next->tensors.size())) {
          partial = std::move(*next);
        } else {
          for (int operand : step.operands) partial.used[static_cast<std::size_t>(operand)] = 1;
        }
        local.push_back(index);
      }
    }
    ++result_.states;
    state_.states.fetch_add(1, std::memory_order_relaxed);
    // Only after-loop ops follow: the loop segment is closed.
    partial.last = StepKey{std::numeric_limits<int>::max(), {}, 0, ""};
    max_ops_ = partial.ops + kAfterLoopOps;
    if (ops_needed(partial) == 0 && try_complete(partial) && frame_done()) return;
    dfs(partial);
  }

  bool exhausted() const {
    return result_.states >= state_limit_ || state_.stopped.load(std::memory_order_relaxed);
  }

  // A lower bound on the ops still needed after `partial`: in a program without dead code every
  // tile is read by some op or is an output, and every needed input is read; an op reads at
  // most two unread tiles and adds one, so the unread count falls by at most one per op and
  // ends at (at most) one per output. A loop tile still unread needs an accumulator.
  int ops_needed(const Partial& partial) const {
    bool loop_unread = false;
    for (std::size_t t = target_.inputs.size(); t < partial.tensors.size(); ++t) {
      loop_unread = loop_unread ||
                    (!partial.used[t] && partial.graph->phase(partial.tensors[t]) == Phase::Loop);
    }
    const int bound = unread(partial) - static_cast<int>(target_.outputs.size());
    return std::max(bound, loop_unread ? 1 : 0);
  }

  // True when `step` reads an after-loop tensor.
  bool reads_after_loop(const Partial& partial, const Step& step) const {
    for (int index : step.operands) {
      if (partial.graph->phase(partial.tensors[static_cast<std::size_t>(index)]) ==
          Phase::AfterLoop)
        return true;
    }
    return false;
  }

  // True when some loop tile is not read yet.
  bool loop_unread(const Partial& partial) const {
    for (std::size_t t = 0; t < partial.tensors.size(); ++t) {
      if (!partial.used[t] && partial.graph->phase(partial.tensors[t]) == Phase::Loop &&
          (t >= target_.inputs.size() || target_.needed_inputs[t]))
        return true;
    }
    return false;
  }

  // Tiles no op reads yet (counting inputs only when needed).
  int unread(const Partial& partial) const {
    int count = 0;
    for (std::size_t t = 0; t < partial.tensors.size(); ++t) {
      if (partial.used[t]) continue;
      count += t >= target_.inputs.size() || target_.needed_inputs[t] ? 1 : 0;
    }
    return count;
  }

  // ops_needed() of `partial` extended by `step`, without the loop-tile part: cheap enough to
  // run before building the step.
  int ops_needed_after(const Partial& partial, int unread_now, const Step& step) const {
    int count = unread_now + 1;
    for (std::size_t i = 0; i < step.operands.size(); ++i) {
      const auto t = static_cast<std::size_t>(step.operands[i]);
      const bool repeated = i > 0 && step.operands[0] == step.operands[i];
      if (!partial.used[t] && !repeated &&
          (t >= target_.inputs.size() || target_.needed_inputs[t])) {
        --count;
      }
    }
    return count - static_cast<int>(target_.outputs.size());
  }

  std::vector<Step> steps(const Partial& partial) const {
    std::vector<Step> result;
    const ir::BlockGraph& graph = *partial.graph;
    const int count = static_cast<int>(partial.tensors.size());
    for (int i = 0; i < count; ++i) {
      const ir::TensorType& type = graph.type(partial.tensors[i]);
      const Phase phase = graph.phase(partial.tensors[i]);
      const auto rank = static_cast<int64_t>(type.shape.size());
#define YR_SEARCH_UNARY(id, name, spec, expr)                                        \
  if (!allowed(OpKind::id)) {                                                        \
  } else if (ir::op_info(OpKind::id).attributes.empty()) {                           \
    result.push_back({Step::Kind::Op, OpKind::id, AccumKind::Sum, {i}, {}, 0});      \
  } else {                                                                           \
    for (double c : target_.constants) {                                             \
      ir::Attrs attrs;                                                               \
      attrs.set("scalar", c);                                                        \
      result.push_back({Step::Kind::Op, OpKind::id, AccumKind::Sum, {i}, attrs, 0}); \
    }                                                                                \
  }
      YIRAGE_UNARY_OPS(YR_SEARCH_UNARY)
#undef YR_SEARCH_UNARY
      for (OpKind op : {OpKind::Sum, OpKind::Max, OpKind::Mean}) {
        if (!allowed(op) && !(op == OpKind::Max && online_softmax())) continue;
        for (int64_t dim = 0; dim < rank; ++dim) {
          if (type.shape[dim] == 1) continue;
          ir::Attrs attrs;
          attrs.set("dim", dim).set("keepdim", true);
          result.push_back({Step::Kind::Op, op, AccumKind::Sum, {i}, attrs, 0});
        }
      }
      if (allowed(OpKind::Softmax)) {
        for (int64_t dim = 0; dim < rank; ++dim) {
          if (type.shape[dim] == 1) continue;
          ir::Attrs attrs;
          attrs.set("dim", dim);
          result.push_back({Step::Kind::Op, OpKind::Softmax, AccumKind::Sum, {i}, attrs, 0});
        }
      }
      // Tiles are transposed as they load, or after a norm that keeps their layout.
      const ir::BlockNode& producer = graph.nodes()[partial.tensors[i].node];
      const bool loaded =
          producer.kind == ir::BlockNodeKind::Input ||
          (producer.kind == ir::BlockNodeKind::Op && producer.op == OpKind::RmsNorm);
      if (rank >= 2 && target_.transposes && loaded) {
        ir::Attrs attrs;
        attrs.set("dim0", rank - 2).set("dim1", rank - 1);
        result.push_back({Step::Kind::Op, OpKind::Transpose, AccumKind::Sum, {i}, attrs, 0});
      }
      if (phase == Phase::Loop) {
        for (AccumKind accum : target_.accumulators) {
          if (accum == AccumKind::RescaledSum) continue;
          result.push_back({Step::Kind::Accumulate,
                            OpKind::Input,
                            accum,
                            {i},
                            {},
                            100 + static_cast<int>(accum)});
        }
        for (int m = 0; m < count; ++m) {
          const bool rescales = std::find(target_.accumulators.begin(), target_.accumulators.end(),
                                          AccumKind::RescaledSum) != target_.accumulators.end();
          if (rescales && m != i && graph.phase(partial.tensors[m]) == Phase::Loop &&
              pool_.node(partial.exprs[m]).kind == ExprKind::Max) {
            result.push_back(
                {Step::Kind::Accumulate, OpKind::Input, AccumKind::RescaledSum, {i, m}, {}, 110});
          }
        }
      }
      for (int j = 0; j < count; ++j) {
        for (OpKind op : {OpKind::Add, OpKind::Mul}) {
          if (i <= j && allowed(op))
            result.push_back({Step::Kind::Op, op, AccumKind::Sum, {i, j}, {}, 0});
        }
        if (i == j) continue;
        for (OpKind op : {OpKind::Sub, OpKind::Div, OpKind::Matmul}) {
          if (allowed(op)) result.push_back({Step::Kind::Op, op, AccumKind::Sum, {i, j}, {}, 0});
        }
        if (!allowed(OpKind::Sub) && online_softmax() &&
            pool_.node(partial.exprs[j]).kind == ExprKind::Max) {
          result.push_back({Step::Kind::Op, OpKind::Sub, AccumKind::Sum, {i, j}, {}, 0});
        }
        if (allowed(OpKind::RmsNorm) && graph.type(partial.tensors[j]).shape.size() == 1) {
          for (double eps : target_.constants) {
            ir::Attrs attrs;
            attrs.set("eps", eps);
            result.push_back({Step::Kind::Op, OpKind::RmsNorm, AccumKind::Sum, {i, j}, attrs, 0});
          }
        }
      }
    }
    for (Step& step : result) {
      if (step.kind == Step::Kind::Op) step.code = static_cast<int>(step.op);
    }
    return result;
  }

  // Online softmax: a softmax target in a frame whose for-loop splits the rows.
  bool online_softmax() const {
    return target_.online_softmax && frame_.forloop > 1;
  }

  bool allowed(OpKind op) const {
    return target_.ops[static_cast<std::size_t>(op)];
  }

  // The partial candidate extended by `step`, or nullopt when the builder refuses it.
  std::optional<Partial> apply(const Partial& partial, const Step& step, const StepKey& key) {
    auto graph = std::make_shared<ir::BlockGraph>(*partial.graph);
    std::vector<TensorRef> operands;
    for (int index : step.operands) operands.push_back(partial.tensors[index]);
    TensorRef added;
    try {
      if (step.kind == Step::Kind::Accumulate) {
        std::optional<TensorRef> m;
        if (operands.size() > 1) m = operands[1];
        added = graph->accumulate(step.accum, operands[0], m);
      } else {
        added = graph->add_op(step.op, operands, step.attrs)[0];
      }
    } catch (const core::UserError&) {
      return std::nullopt;
    }
    const auto exprs = abstract_block_graph(pool_, *graph, target_.input_exprs);
    Partial next{graph, partial.tensors, partial.exprs, partial.used, key, partial.ops + 1};
    for (int index : step.operands) next.used[static_cast<std::size_t>(index)] = 1;
    next.after_loop =
        partial.after_loop || (step.kind == Step::Kind::Op && reads_after_loop(partial, step));
    next.tensors.push_back(added);
    next.exprs.push_back(exprs[added.node][added.output]);
    next.used.push_back(0);
    return next;
  }

  void dfs(const Partial& partial) {
    if (partial.ops >= max_ops_ || exhausted() || state_.should_stop()) return;
    // Steps on the newest tensors first: a program is a chain of ops on what was just
    // computed far more often than a fresh start, so solutions come early in the traversal.
    const int unread_now = unread(partial);
    std::vector<std::pair<StepKey, Step>> candidates;
    for (Step& step : steps(partial)) {
      if (partial.ops + 1 + ops_needed_after(partial, unread_now, step) > max_ops_) continue;
      // Two segments, each in canonical order: the loop body with its accumulators (and
      // invariant ops), then the ops on after-loop tensors. Every loop tile is read before the
      // second segment begins, since nothing can read it afterwards.
      const bool after = step.kind == Step::Kind::Op && reads_after_loop(partial, step);
      if (partial.after_loop && !after) continue;
      const bool starts_segment = after && !partial.after_loop;
      if (starts_segment && loop_unread(partial)) continue;
      StepKey key = key_of(step);
      if (starts_segment || key > partial.last)
        candidates.emplace_back(std::move(key), std::move(step));
    }
    std::stable_sort(candidates.begin(), candidates.end(), [](const auto& a, const auto& b) {
      return std::get<0>(a.first) > std::get<0>(b.first);
    });
    for (auto& [key, step] : candidates) {
      auto next = apply(partial, step, key);
      if (!next) continue;
      const int needed = ops_needed(*next);
      if (next->ops + needed > max_ops_) continue;  // cannot use everything in time
      const ExprId expr = next->exprs.back();
      const Phase phase = next->graph->phase(next->tensors.back());
      bool duplicate = false;
      for (std::size_t t = 0; t + 1 < next->exprs.size() && !duplicate; ++t) {
        // The same value in the same phase and layout: a transpose keeps its operand's value
        // but not its layout, so it is no duplicate.
        duplicate = next->exprs[t] == expr && next->graph->phase(next->tensors[t]) == phase &&
                    next->graph->type(next->tensors[t]) == next->graph->type(next->tensors.back());
      }
      if (duplicate) continue;
      ++result_.states;
      state_.states.fetch_add(1, std::memory_order_relaxed);
      if (state_.options->prune && !target_.egraph->contains(pool_, expr)) {
        state_.pruned.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      if (needed == 0 && try_complete(*next) && frame_done()) return;
      dfs(*next);
      if (exhausted() || frame_done()) return;
    }
  }

  bool frame_done() const {
    return static_cast<int64_t>(result_.found.size()) >= state_.options->max_verified;
  }

  // When the newest tensor completes a match of every target output, builds and verifies the
  // program. Returns true when a verified program was added.
  bool try_complete(const Partial& partial) {
    const ir::BlockGraph& graph = *partial.graph;
    const ExprId newest = partial.exprs.back();
    bool involves_newest = false;
    std::vector<std::pair<TensorRef, ir::DimMap>> outputs;
    for (std::size_t r = 0; r < target_.outputs.size(); ++r) {
      std::optional<std::pair<TensorRef, ir::DimMap>> match;
      for (std::size_t t = partial.tensors.size(); t-- > 0 && !match;) {
        const TensorRef tile = partial.tensors[t];
        if (graph.phase(tile) == Phase::Loop ||
            !target_.egraph->equivalent_to_root(pool_, partial.exprs[t], r))
          continue;
        if (auto map = output_map(graph.type(tile), target_.outputs[r])) {
          match = std::make_pair(tile, *map);
          involves_newest = involves_newest || partial.exprs[t] == newest;
        }
      }
      if (!match) return false;
      outputs.push_back(*match);
    }
    if (!involves_newest) return false;
    auto complete = std::make_shared<ir::BlockGraph>(graph);
    ir::KernelGraph program;
    try {
      std::vector<TensorRef> inputs;
      for (const auto& type : target_.inputs)
        inputs.push_back(program.input(type.shape, type.dtype));
      for (const auto& [tile, map] : outputs) complete->output(tile, map);
      for (const auto& out : program.customized(inputs, complete)) program.mark_output(out);
    } catch (const core::UserError&) {
      return false;
    }
    const verify::VerifyResult verdict = verify::verify(
        *target_.graph, program, {2, state_.options->seed, true, state_.options->cancel});
    if (!verdict.equivalent) {
      state_.rejected.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    state_.verified.fetch_add(1, std::memory_order_relaxed);
    const double cost = target_.backend->estimate_cost(program);
    const auto order = static_cast<int64_t>(result_.found.size());
    result_.found.push_back({std::move(program), cost, frame_index_, order});
    return true;
  }

  // The output map that writes tiles of `tile` type from this frame's grid into `wanted`.
  std::optional<ir::DimMap> output_map(const ir::TensorType& tile,
                                       const ir::TensorType& wanted) const {
    if (tile.dtype != wanted.dtype || tile.shape.size() != wanted.shape.size()) return std::nullopt;
    const int64_t blocks = frame_.grid[0];
    for (int dim = blocks > 1 ? 0 : -1; dim < static_cast<int>(tile.shape.size()); ++dim) {
      core::Shape shape = tile.shape;
      if (dim >= 0) shape[dim] *= blocks;
      if (shape == wanted.shape) return ir::DimMap{dim, -1, -1};
      if (blocks == 1) break;
    }
    return std::nullopt;
  }

  const Target& target_;
  const Frame& frame_;
  int64_t frame_index_;
  int max_depth_;
  int max_ops_ = 0;  // the depth of the current round of iterative deepening
  int64_t state_limit_;
  SearchState& state_;
  ExprPool pool_;  // the target's terms, extended with this frame's
  FrameResult result_;
};

}  // namespace

bool SearchState::should_stop() {
  if (stopped.load(std::memory_order_relaxed)) return true;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const bool cancelled = options->cancel != nullptr && options->cancel->load();
  if (cancelled || seconds > options->time_budget_seconds) stopped.store(true);
  if (options->on_progress && std::this_thread::get_id() == caller && seconds >= next_report) {
    next_report = seconds + 0.1;
    options->on_progress(progress());
  }
  return stopped.load(std::memory_order_relaxed);
}

SearchProgress SearchState::progress() const {
  SearchProgress result;
  result.states = states.load(std::memory_order_relaxed);
  result.pruned = pruned.load(std::memory_order_relaxed);
  result.verified = verified.load(std::memory_order_relaxed);
  result.rejected = rejected.load(std::memory_order_relaxed);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

FrameResult search_frame(const Target& target, const Frame& frame, int64_t frame_index, int max_ops,
                         int64_t state_budget, SearchState& state) {
  return FrameSearch(target, frame, frame_index, max_ops, state_budget, state).run();
}

void derive_vocabulary(const ir::KernelGraph& graph, Target& target) {
  target.ops.assign(static_cast<std::size_t>(ir::num_ops()), false);
  const auto allow = [&](std::initializer_list<OpKind> ops) {
    for (OpKind op : ops) target.ops[static_cast<std::size_t>(op)] = true;
  };
  bool exponentiates = false;
  for (const auto& node : graph.nodes()) {
    allow({node.op});
    switch (node.op) {
      case OpKind::RmsNorm:
        allow({OpKind::Square, OpKind::Sum, OpKind::MulScalar, OpKind::AddScalar, OpKind::Rsqrt,
               OpKind::Mul});
        break;
      case OpKind::Softmax:
        // Whole rows: softmax itself. Rows split by a for-loop: online softmax, whose max and
        // subtraction the search adds only in loop frames (see steps()).
        allow({OpKind::Exp, OpKind::Sum, OpKind::Div});
        target.online_softmax = true;
        exponentiates = true;
        break;
      case OpKind::Mean:
        allow({OpKind::Sum, OpKind::MulScalar});
        break;
      case OpKind::Exp:
        exponentiates = true;
        break;
      case OpKind::Transpose:
        target.transposes = true;
        break;
      default:
        break;
    }
  }
  for (OpKind structural : {OpKind::Input, OpKind::Customized, OpKind::Reshape, OpKind::Split,
                            OpKind::Embedding, OpKind::Rope, OpKind::Transpose}) {
    target.ops[static_cast<std::size_t>(structural)] = false;
  }
  // Scalars: the graph's own, and 1/n where a mean (or an rms_norm's mean) divides by n.
  std::set<double> scalars;
  for (const auto& node : graph.nodes()) {
    for (const char* name : {"scalar", "eps"}) {
      if (node.attrs.has(name)) scalars.insert(node.attrs.get_float(name));
    }
    if (node.op == OpKind::Mean || node.op == OpKind::RmsNorm) {
      const auto& shape = graph.type(node.inputs[0]).shape;
      const int64_t extent = node.op == OpKind::Mean
                                 ? shape[static_cast<std::size_t>(node.attrs.get_int("dim"))]
                                 : shape.back();
      scalars.insert(1.0 / static_cast<double>(extent));
    }
  }
  target.constants.assign(scalars.begin(), scalars.end());
  target.accumulators = {AccumKind::Sum};
  if (exponentiates)
    target.accumulators.insert(target.accumulators.end(), {AccumKind::Max, AccumKind::RescaledSum});
}

}  // namespace yirage::search
