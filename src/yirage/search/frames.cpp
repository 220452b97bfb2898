#include "yirage/search/frames.h"

#include <algorithm>
#include <cstdlib>
#include <set>

namespace yirage::search {

namespace {

// Grid extents for splitting an output dim of `extent` entries.
std::vector<int64_t> grid_extents(int64_t extent) {
  std::vector<int64_t> result;
  for (int64_t blocks : {128, 64, 32, 16, 8, 4, 2}) {
    if (extent % blocks == 0 && extent / blocks >= 8) result.push_back(blocks);
  }
  if (extent > 1 && extent <= 128 &&
      std::find(result.begin(), result.end(), extent) == result.end()) {
    result.insert(result.begin(), extent);  // one block per entry of a short dim (e.g. heads)
  }
  return result;
}

// Every combination of per-input choices, as index vectors.
std::vector<std::vector<int>> combinations(const std::vector<std::vector<int>>& choices) {
  std::vector<std::vector<int>> result = {{}};
  for (const auto& options : choices) {
    std::vector<std::vector<int>> next;
    for (const auto& prefix : result) {
      for (int option : options) {
        next.push_back(prefix);
        next.back().push_back(option);
      }
    }
    result = std::move(next);
  }
  return result;
}

}  // namespace

std::vector<std::vector<bool>> reduced_input_dims(const ir::KernelGraph& graph) {
  using Origins = std::vector<std::vector<std::pair<int, int>>>;  // per dim: (input, dim)
  const auto& nodes = graph.nodes();
  std::vector<std::vector<Origins>> origins(nodes.size());
  std::vector<std::vector<bool>> reduced;
  for (const auto& type : graph.input_types()) reduced.emplace_back(type.shape.size(), false);
  const auto mark = [&](const Origins& dims, std::size_t dim) {
    for (const auto& [input, input_dim] : dims[dim]) reduced[input][input_dim] = true;
  };
  int next_input = 0;
  for (std::size_t n = 0; n < nodes.size(); ++n) {
    const ir::Node& node = nodes[n];
    std::vector<const Origins*> in;
    for (const auto& ref : node.inputs) in.push_back(&origins[ref.node][ref.output]);
    const auto rank = [&](std::size_t output) { return node.outputs[output].shape.size(); };
    Origins out(rank(0));
    const ir::OpCategory category = ir::op_info(node.op).category;
    if (node.op == ir::OpKind::Input) {
      for (std::size_t d = 0; d < out.size(); ++d) out[d] = {{next_input, static_cast<int>(d)}};
      ++next_input;
    } else if (category == ir::OpCategory::Unary || category == ir::OpCategory::Binary ||
               node.op == ir::OpKind::Softmax || node.op == ir::OpKind::RmsNorm ||
               node.op == ir::OpKind::Rope || node.op == ir::OpKind::Concat) {
      // Right-aligned, non-broadcast dims carry their operands' origins.
      for (std::size_t k = 0; k < in.size(); ++k) {
        if (node.op == ir::OpKind::Rope && k > 0) break;
        const auto& operand = graph.type(node.inputs[k]).shape;
        const std::size_t skip = out.size() - std::min(out.size(), operand.size());
        for (std::size_t d = 0; d < operand.size() && skip + d < out.size(); ++d) {
          if (operand[d] == node.outputs[0].shape[skip + d] || node.op == ir::OpKind::Concat) {
            out[skip + d].insert(out[skip + d].end(), (*in[k])[d].begin(), (*in[k])[d].end());
          }
        }
      }
      if (node.op == ir::OpKind::Softmax)
        mark(out, static_cast<std::size_t>(node.attrs.get_int("dim")));
      if (node.op == ir::OpKind::RmsNorm) mark(out, out.size() - 1);
    } else if (category == ir::OpCategory::Reduce) {
      const auto dim = static_cast<std::size_t>(node.attrs.get_int("dim"));
      mark(*in[0], dim);
      for (std::size_t d = 0, o = 0; d < in[0]->size(); ++d) {
        if (d == dim && !node.attrs.get_bool("keepdim")) continue;
        if (d != dim) out[o] = (*in[0])[d];
        ++o;
      }
    } else if (node.op == ir::OpKind::Matmul) {
      const Origins& a = *in[0];
      const Origins& b = *in[1];
      mark(a, a.size() - 1);
      mark(b, b.size() - 2);
      const std::size_t r = out.size();
      for (std::size_t d = 0; d + 2 < r; ++d) {  // batch dims, right-aligned
        if (d + a.size() >= r) out[d] = a[d + a.size() - r];
        if (d + b.size() >= r) {
          const auto& more = b[d + b.size() - r];
          out[d].insert(out[d].end(), more.begin(), more.end());
        }
      }
      out[r - 2] = a[a.size() - 2];
      out[r - 1] = b[b.size() - 1];
    } else if (node.op == ir::OpKind::Transpose) {
      out = *in[0];
      std::swap(out[static_cast<std::size_t>(node.attrs.get_int("dim0"))],
                out[static_cast<std::size_t>(node.attrs.get_int("dim1"))]);
    } else if (node.op == ir::OpKind::Split) {
      out = *in[0];
    } else if (node.op == ir::OpKind::Embedding) {
      out.back() = (*in[1])[1];
    }
    // Reshape, customized: layouts this coarse analysis does not follow.
    origins[n].assign(node.outputs.size(), out);
    for (std::size_t o = 1; o < node.outputs.size(); ++o) origins[n][o].resize(rank(o));
  }
  return reduced;
}

std::vector<Frame> candidate_frames(const std::vector<ir::TensorType>& inputs,
                                    const ir::TensorType& output,
                                    const std::vector<int64_t>& reduced_extents,
                                    const std::vector<std::vector<bool>>& reduced_dims) {
  // Grids: (output dim, blocks), or a single block.
  std::vector<std::pair<int, int64_t>> grids;
  for (int dim = 0; dim < static_cast<int>(output.shape.size()); ++dim) {
    for (int64_t blocks : grid_extents(output.shape[dim])) grids.emplace_back(dim, blocks);
  }
  std::stable_sort(grids.begin(), grids.end(), [](const auto& a, const auto& b) {
    return std::llabs(a.second - 64) < std::llabs(b.second - 64);
  });
  grids.emplace_back(-1, 1);
  // For-loops: (extent walked, steps), or none.
  std::vector<std::pair<int64_t, int64_t>> loops;
  const std::set<int64_t> extents(reduced_extents.begin(), reduced_extents.end());
  for (int64_t extent : extents) {
    for (int64_t steps : {8, 16, 4, 2}) {
      if (extent % steps == 0 && extent / steps >= 8) loops.emplace_back(extent, steps);
    }
  }
  loops.emplace_back(0, 1);

  std::vector<Frame> frames;
  for (const auto& [out_dim, blocks] : grids) {
    const int64_t split_extent = out_dim >= 0 ? output.shape[out_dim] : 0;
    for (const auto& [loop_extent, steps] : loops) {
      // Per input: the dims it could map to grid x, and the dim the loop walks.
      std::vector<std::vector<int>> imap_choices;
      std::vector<int> fmaps;
      bool any_walks = false;
      for (std::size_t k = 0; k < inputs.size(); ++k) {
        const auto& input = inputs[k];
        std::vector<int> options = {-1};
        int walked = -1;
        for (int dim = 0; dim < static_cast<int>(input.shape.size()); ++dim) {
          const bool reduced = reduced_dims[k][static_cast<std::size_t>(dim)];
          if (out_dim >= 0 && !reduced && input.shape[dim] == split_extent &&
              input.shape[dim] % blocks == 0) {
            options.push_back(dim);
          }
          if (walked < 0 && reduced && loop_extent > 0 && input.shape[dim] == loop_extent) {
            walked = dim;
          }
        }
        imap_choices.push_back(options);
        fmaps.push_back(walked);
        any_walks = any_walks || walked >= 0;
      }
      if (loop_extent > 0 && !any_walks) continue;
      for (const auto& choice : combinations(imap_choices)) {
        bool splits = out_dim < 0, valid = true;
        Frame frame;
        frame.grid = {blocks, 1, 1};
        frame.forloop = steps;
        for (std::size_t k = 0; k < inputs.size(); ++k) {
          // One dim is either split across blocks or walked by the loop, not both.
          if (choice[k] >= 0 && choice[k] == fmaps[k]) valid = false;
          frame.imaps.push_back({choice[k], -1, -1});
          frame.fmaps.push_back(fmaps[k]);
          splits = splits || choice[k] >= 0;
        }
        if (valid && splits) frames.push_back(std::move(frame));  // some input is split
      }
    }
  }
  // Frames that split more inputs first: data each block reads alone beats data every block
  // reads again.
  const auto split_inputs = [](const Frame& frame) {
    int count = 0;
    for (const auto& map : frame.imaps) count += map[0] >= 0;
    return count;
  };
  std::stable_sort(frames.begin(), frames.end(), [&](const Frame& a, const Frame& b) {
    return split_inputs(a) > split_inputs(b);
  });
  return frames;
}

}  // namespace yirage::search
