// The `cudnn` backend: the NVIDIA library path and benchmark peer. Attention (matmul -> scale ->
// [mask] -> softmax -> matmul, GQA decode included) runs as cuDNN's fused attention, plain
// matmuls as cuBLASLt GEMMs, every other node through the `cuda` backend's programs.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "yirage/backend/backend.h"

namespace yirage::backend {

/// Creates the cudnn backend. Unavailable, with the reason, without a GPU, without libcudnn.so.9
/// (or cuDNN's headers at build time). Like `cuda`, run() takes host tensors (copied in and
/// back) or CUDA tensors (no copies; outputs stay on the device).
std::unique_ptr<Backend> make_cudnn_backend();

namespace cudnn {

/// How the cudnn backend runs one graph.
struct PlanSummary {
  int fused_attention = 0;      ///< attentions run by cuDNN's fused attention
  int attention_fallbacks = 0;  ///< attentions cuDNN refused, run on the cuda backend's kernels
  int gemms = 0;                ///< matmuls run by cuBLASLt
  int kernels = 0;              ///< other nodes, run through the cuda backend's programs
  std::vector<std::string> fallback_reasons;  ///< one per attention fallback
};

/// The plan of `graph` (prepared on first use, as run() does). UserError when unavailable.
PlanSummary plan_summary(const ir::KernelGraph& graph);

/// Counters over the process: attentions planned on cuDNN and fallbacks (with the last reason,
/// also logged at warn level), and matmuls cuBLASLt refused at run time.
struct Counters {
  int64_t fused_attention = 0;      ///< attention steps planned on cuDNN
  int64_t attention_fallbacks = 0;  ///< attention steps planned on the cuda backend instead
  int64_t gemm_fallbacks = 0;       ///< matmuls cuBLASLt refused (run as generated kernels)
  std::string last_fallback;        ///< why the last attention fell back
};

/// A snapshot of the counters.
Counters counters();

}  // namespace cudnn

}  // namespace yirage::backend
