// cuDNN's fused attention (flash attention forward) for one AttentionShape, built with the v9
// backend graph API: matmul -> scale -> [add mask] -> softmax (max, sub, exp, sum, div) ->
// matmul over bfloat16/float16 [b, h, s, d] tensors, float intermediates.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "yirage/backend/cudnn/attention_pattern.h"

namespace yirage::backend::cudnn {

/// A finalized execution plan for one attention shape.
class SdpaPlan {
 public:
  /// Builds the operation graph, asks cuDNN's heuristics for engine configurations and keeps the
  /// first that finalizes after skipping `skip` that do. nullptr, with the reason in `why`, when
  /// none is left (or the shape is outside what the engines take).
  static std::shared_ptr<SdpaPlan> build(const AttentionShape& shape, std::string* why,
                                         int skip = 0);
  /// Builds the attention's tensor and operation descriptors alone, which needs no device:
  /// empty when cuDNN accepts them all, else its complaint (or why cuDNN is not loaded).
  static std::string check_operations(const AttentionShape& shape);
  /// Every descriptor of one attention graph (defined where cuDNN's headers are).
  struct Graph;
  ~SdpaPlan();
  SdpaPlan(const SdpaPlan&) = delete;
  SdpaPlan& operator=(const SdpaPlan&) = delete;

  /// Queues the attention on the CUDA backend's stream over packed device tensors: q
  /// [b, h_q, s_q, d], k [b, h_kv, s_kv, d], v [b, h_kv, s_kv, d_v], mask (or nullptr)
  /// [mask_b, mask_h, s_q, s_kv], o [b, h_q, s_q, d_v]. UserError when cuDNN refuses to run.
  void execute(const void* q, const void* k, const void* v, const void* mask, void* o);
  /// Device workspace the plan needs.
  std::size_t workspace_bytes() const { return workspace_bytes_; }
  /// The shape it was built for.
  const AttentionShape& shape() const { return shape_; }

 private:
  SdpaPlan() = default;
  AttentionShape shape_;
  std::unique_ptr<Graph> graph_;
  void* plan_ = nullptr;
  std::size_t workspace_bytes_ = 0;
  std::shared_ptr<void> workspace_;
  float scale_ = 1.0f;
  void* pack_ = nullptr;                    // the variant pack of the last call
  std::vector<const void*> pack_pointers_;  // the addresses it holds
};

}  // namespace yirage::backend::cudnn
