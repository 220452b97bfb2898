#include "yirage/backend/cuda/matmul_plan.h"

#include <algorithm>

#include "yirage/core/tensor.h"

namespace yirage::backend::cuda {

namespace {

using ir::AccumKind;
using ir::BlockNode;
using ir::BlockNodeKind;
using ir::OpCategory;
using ir::OpKind;
using ir::Phase;

// sm_70 allows 96 KB of opt-in shared memory per block and sm_75 64 KB; sm_80 and newer 99 KB
// or more. The tensor-core kernel needs sm_80 (cp.async, bf16 mma).
constexpr int kSm80MinShared = 101376;
// Blocks the kernel expects on one SM at once are estimated against an H100-sized device.
constexpr int64_t kAssumedSms = 132;
constexpr int64_t kMaxAccumulators = 64;
constexpr int64_t kMaxChunk = 512;
constexpr int kMaxStages = 8;

int64_t round_up(int64_t value, int64_t to) {
  return (value + to - 1) / to * to;
}

enum class Role : uint8_t { None, RowInput, WeightInput, RowOp, Product, RowSum, Accum, Epilogue };

// The node-level analysis: roles, shapes and the streams, before the launch shape is chosen.
class Recogniser {
 public:
  explicit Recogniser(const ir::BlockGraph& graph) : g_(graph) {}

  bool run(MatmulPlan& plan) {
    const auto& nodes = g_.nodes();
    roles_.assign(nodes.size(), Role::None);
    users_.assign(nodes.size(), {});
    for (std::size_t n = 0; n < nodes.size(); ++n) {
      for (const auto& ref : nodes[n].inputs) users_[ref.node].push_back(static_cast<int32_t>(n));
    }
    if (!classify_inputs(plan)) return false;
    for (std::size_t n = 0; n < nodes.size(); ++n) {
      if (nodes[n].kind != BlockNodeKind::Input && !classify(static_cast<int32_t>(n), plan))
        return false;
    }
    if (plan.products.empty() || plan.rows <= 0 || plan.tile_depth <= 0) return false;
    // Row tiles with more than one row must have the products' rows.
    for (const auto& stream : plan.row_streams) {
      if (stream.rows != 1 && stream.rows != plan.rows) return false;
    }
    for (int32_t op : plan.row_ops) {
      const core::Shape& s = shape(op);
      if (s.size() == 2 && s[0] != 1 && s[0] != plan.rows) return false;
    }
    plan.depth = plan.tile_depth * g_.forloop_range();
    return plan.depth % 16 == 0;
  }

 private:
  const core::Shape& shape(int32_t node) const { return g_.nodes()[node].outputs[0].shape; }
  const BlockNode& node(int32_t n) const { return g_.nodes()[n]; }

  // The dtype of every streamed tile must be one 16-bit type.
  bool same_dtype(core::DType dtype, MatmulPlan& plan) {
    if (dtype != core::DType::BF16 && dtype != core::DType::F16) return false;
    if (!dtype_set_) plan.dtype = dtype;
    dtype_set_ = true;
    return plan.dtype == dtype;
  }

  bool same_depth(int64_t depth, MatmulPlan& plan) {
    if (plan.tile_depth == 0) plan.tile_depth = depth;
    return plan.tile_depth == depth;
  }

  // Offsets of the block's box: every grid step along a dim a multiple of 8 elements (16 bytes).
  bool aligned_box(const ir::BlockInput& input) const {
    const auto strides = core::contiguous_strides(input.dtensor.shape);
    for (int axis = 0; axis < 3; ++axis) {
      const int dim = input.input_map[axis];
      if (dim < 0) continue;
      const auto d = static_cast<std::size_t>(dim);
      if (input.dtensor.shape[d] / g_.grid_dims()[axis] * strides[d] % 8 != 0) return false;
    }
    return true;
  }

  bool classify_inputs(MatmulPlan& plan) {
    for (const auto& input : g_.inputs()) {
      const int32_t n = input.node;
      if (node(n).phase != Phase::Loop) {
        roles_[n] = Role::Epilogue;
        epilogue_input_.push_back(n);
        continue;
      }
      const core::Shape& tile = shape(n);
      const core::Shape& whole = input.dtensor.shape;
      bool weight = false;
      for (int32_t user : users_[n]) {
        const BlockNode& u = node(user);
        if (u.kind == BlockNodeKind::Op && u.op == OpKind::Matmul && u.inputs[1].node == n)
          weight = true;
      }
      if (!same_dtype(input.dtensor.dtype, plan) || !aligned_box(input)) return false;
      PlannedStream stream;
      stream.node = n;
      if (weight) {
        for (int32_t user : users_[n]) {
          const BlockNode& u = node(user);
          if (u.kind != BlockNodeKind::Op || u.op != OpKind::Matmul || u.inputs[0].node == n)
            return false;
        }
        if (tile.size() != 2 || input.forloop_dim != 0 || tile[1] % 8 != 0 || whole[1] % 8 != 0)
          return false;
        if (!same_depth(tile[0], plan)) return false;
        stream.pieces_per_row = tile[1] / 8;
        roles_[n] = Role::WeightInput;
        plan.weight_streams.push_back(stream);
      } else {
        const auto rank = static_cast<int>(tile.size());
        if (rank < 1 || rank > 2 || input.forloop_dim != rank - 1) return false;
        if (!same_depth(tile.back(), plan)) return false;
        stream.rows = rank == 2 ? tile[0] : 1;
        if (stream.rows > 1 && whole.back() % 8 != 0) return false;
        roles_[n] = Role::RowInput;
        plan.row_streams.push_back(stream);
      }
    }
    return true;
  }

  bool is_row(int32_t n) const { return roles_[n] == Role::RowInput || roles_[n] == Role::RowOp; }

  bool classify(int32_t n, MatmulPlan& plan) {
    const BlockNode& b = node(n);
    if (b.kind == BlockNodeKind::ReduceToDimx) return false;
    if (b.kind == BlockNodeKind::Accumulate) {
      if (b.accum != AccumKind::Sum && b.accum != AccumKind::Mean) return false;
      const Role source = roles_[b.inputs[0].node];
      if (source != Role::Product && source != Role::RowSum) return false;
      roles_[n] = Role::Accum;
      return true;
    }
    if (b.phase != Phase::Loop) {
      for (const auto& ref : b.inputs) {
        if (node(ref.node).phase == Phase::Loop) return false;
      }
      const OpCategory category = ir::op_info(b.op).category;
      const bool supported =
          category != OpCategory::Structural || b.op == OpKind::Matmul || b.op == OpKind::Reshape;
      if (!supported) return false;
      roles_[n] = Role::Epilogue;
      return true;
    }
    const OpCategory category = ir::op_info(b.op).category;
    if (category == OpCategory::Unary || category == OpCategory::Binary) {
      for (const auto& ref : b.inputs) {
        if (!is_row(ref.node)) return false;
      }
      const core::Shape& s = shape(n);
      if (s.empty() || s.size() > 2 || s.back() != plan.tile_depth) return false;
      roles_[n] = Role::RowOp;
      plan.row_ops.push_back(n);
      return only_loop_users(n);
    }
    if (b.op == OpKind::Matmul) {
      const int32_t a = b.inputs[0].node;
      const core::Shape& as = shape(a);
      if (!is_row(a) || roles_[b.inputs[1].node] != Role::WeightInput || as.size() != 2)
        return false;
      if (!same_rows(as[0], plan)) return false;
      roles_[n] = Role::Product;
      plan.products.push_back({n, a, b.inputs[1].node, shape(n)[1]});
      return only_accumulator_users(n);
    }
    if ((b.op == OpKind::Sum || b.op == OpKind::Mean) && category == OpCategory::Reduce) {
      const int32_t x = b.inputs[0].node;
      const core::Shape& xs = shape(x);
      if (!is_row(x) || xs.size() != 2 || b.attrs.get_int("dim") != 1) return false;
      if (!same_rows(xs[0], plan)) return false;
      roles_[n] = Role::RowSum;
      const double scale = b.op == OpKind::Mean ? 1.0 / static_cast<double>(plan.tile_depth) : 1.0;
      plan.row_sums.push_back({n, x, scale});
      return only_accumulator_users(n);
    }
    return false;
  }

  bool same_rows(int64_t rows, MatmulPlan& plan) {
    if (plan.rows == 0) plan.rows = rows;
    return plan.rows == rows;
  }

  bool only_accumulator_users(int32_t n) const {
    for (int32_t user : users_[n]) {
      if (node(user).kind != BlockNodeKind::Accumulate || node(user).inputs[0].node != n)
        return false;
    }
    return true;
  }

  bool only_loop_users(int32_t n) const {
    for (int32_t user : users_[n]) {
      if (node(user).phase != Phase::Loop) return false;
    }
    return true;
  }

  const ir::BlockGraph& g_;
  std::vector<Role> roles_;
  std::vector<std::vector<int32_t>> users_;
  std::vector<int32_t> epilogue_input_;
  bool dtype_set_ = false;
};

// Lays the chunks of one stage out for `chunk` contraction elements; returns the stage bytes.
int64_t lay_out_stage(MatmulPlan& plan, int64_t chunk) {
  int64_t offset = 0;
  for (auto& stream : plan.row_streams) {
    stream.pieces_per_row = chunk / 8;
    // A 16-byte pad per row keeps the fragment loads of 8 rows on distinct banks.
    stream.pitch_bytes = stream.rows > 1 ? chunk * 2 + 16 : chunk * 2;
    stream.stage_offset = offset;
    offset = round_up(offset + stream.rows * stream.pitch_bytes, 128);
  }
  for (auto& stream : plan.weight_streams) {
    const int64_t pieces = stream.pieces_per_row;
    int64_t pitch = pieces;
    if (pieces % 8 == 0) {
      stream.swizzle = 2;
    } else if (pieces == 1 || pieces == 2 || pieces == 4) {
      stream.swizzle = 1;
    } else {
      stream.swizzle = 0;
      if (pitch % 2 == 0) ++pitch;  // an odd pitch spreads 8 rows over the 8 bank groups
    }
    stream.pitch_bytes = pitch * 16;
    stream.stage_offset = offset;
    offset = round_up(offset + chunk * stream.pitch_bytes, 128);
  }
  return offset;
}

bool choose_launch(MatmulPlan& plan, const ir::BlockGraph& graph, int shared_limit,
                   int64_t max_accumulators) {
  const int64_t m_tiles = (plan.rows + 15) / 16;
  const int64_t row_sums = static_cast<int64_t>(plan.row_sums.size());
  plan.persistent_bytes = 0;
  plan.post_bytes = 0;
  for (std::size_t n = 0; n < graph.nodes().size(); ++n) {
    const BlockNode& node = graph.nodes()[n];
    if (node.phase == Phase::Loop) continue;
    for (const auto& type : node.outputs) {
      const int64_t bytes = round_up(core::shape_numel(type.shape) * 4, 16);
      (persistent_tile(graph, static_cast<int32_t>(n)) ? plan.persistent_bytes : plan.post_bytes) +=
          bytes;
    }
  }
  const int64_t resident =
      std::clamp<int64_t>((graph.num_blocks() + kAssumedSms - 1) / kAssumedSms, 1, 3);
  const int64_t per_block = (shared_limit + 1024) / resident - 2048;
  const int64_t budget = std::min<int64_t>(per_block, shared_limit) - plan.persistent_bytes;
  // Warps split the contraction steps first, then the row tiles (no work repeated), then the
  // columns (each column warp rebuilds the A fragments), until the accumulators fit.
  for (int warps : {8, 4, 2, 1}) {
    for (int warps_n = 1; warps_n <= warps; warps_n *= 2) {
      for (int warps_m = 1; warps_m * warps_n <= warps; warps_m *= 2) {
        const int warps_k = warps / (warps_n * warps_m);
        bool divides = m_tiles % warps_m == 0;
        int64_t accumulators = row_sums * (m_tiles / warps_m) * 2;
        for (const auto& product : plan.products) {
          const int64_t n_tiles = product.cols / 8;
          divides = divides && n_tiles % warps_n == 0;
          accumulators += (m_tiles / warps_m) * (n_tiles / warps_n) * 4;
        }
        if (!divides || accumulators > max_accumulators) continue;
        const int64_t step = 16 * warps_k;
        if (plan.depth % step != 0) continue;
        // Largest chunk whose stage is at most a quarter of the budget, keeping four or more
        // chunks where the depth allows.
        int64_t chunk = 0;
        for (int64_t c = step; c <= std::min(kMaxChunk, plan.depth); c *= 2) {
          if (plan.depth % c != 0) continue;
          if (chunk != 0 && (lay_out_stage(plan, c) > budget / 4 || plan.depth / c < 4)) break;
          chunk = c;
        }
        if (chunk == 0) continue;
        const int64_t stage = lay_out_stage(plan, chunk);
        const int64_t chunks = plan.depth / chunk;
        int64_t stages = std::min<int64_t>({kMaxStages, budget / stage, chunks + 1});
        if (stages < 2) stages = 2;
        const int64_t pipeline = round_up(std::max(stages * stage, plan.post_bytes), 128);
        if (pipeline + plan.persistent_bytes > shared_limit) continue;
        plan.warps = warps;
        plan.warps_m = warps_m;
        plan.warps_n = warps_n;
        plan.warps_k = warps_k;
        plan.chunk = chunk;
        plan.stages = static_cast<int>(stages);
        plan.stage_bytes = stage;
        plan.pipeline_bytes = pipeline;
        plan.accumulator_registers = accumulators;
        return true;
      }
    }
  }
  return false;
}

}  // namespace

bool persistent_tile(const ir::BlockGraph& graph, int32_t node) {
  const BlockNode& n = graph.nodes()[static_cast<std::size_t>(node)];
  return n.kind == BlockNodeKind::Input && n.phase != Phase::Loop;
}

std::optional<MatmulPlan> plan_matmul(const ir::BlockGraph& graph, int shared_limit) {
  if (shared_limit < kSm80MinShared) return std::nullopt;
  MatmulPlan plan;
  if (!Recogniser(graph).run(plan)) return std::nullopt;
  if (!choose_launch(plan, graph, shared_limit, kMaxAccumulators) &&
      !choose_launch(plan, graph, shared_limit, 2 * kMaxAccumulators))
    return std::nullopt;
  return plan;
}

}  // namespace yirage::backend::cuda
