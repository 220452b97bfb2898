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

std::vector<Frame> candidate_frames(const std::vector<ir::TensorType>& inputs,
                                    const ir::TensorType& output,
                                    const std::vector<int64_t>& reduced_extents) {
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
      for (const auto& input : inputs) {
        std::vector<int> options = {-1};
        int walked = -1;
        for (int dim = 0; dim < static_cast<int>(input.shape.size()); ++dim) {
          if (out_dim >= 0 && input.shape[dim] == split_extent && input.shape[dim] % blocks == 0) {
            options.push_back(dim);
          }
          if (walked < 0 && loop_extent > 0 && input.shape[dim] == loop_extent) walked = dim;
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
  return frames;
}

}  // namespace yirage::search
