// A Qwen3 model resident on the GPU: weights uploaded once in the compute dtype, activations in
// preallocated buffers, the KV cache in device memory, attention and the small ops as generated
// kernels (cuda_kernels.h), products of decode steps (up to kGemvMaxRows rows) through GEMV
// kernels over [out, in] copies of the weights, longer ones through cuBLASLt (over the same
// copies, one copy of the model on the device, where cuBLASLt is present); a decode step of
// each batch size is captured once as a CUDA graph and replayed: for steps of few rows, both
// ways (GEMVs and cuBLASLt) are captured, timed over a few replays, and the faster graph kept.
// Kernels launch as programmatic dependents where the device allows (sm_90). Only logits (or
// argmax ids) come back. Environment: YIRAGE_CUDA_GEMV=0 runs every product on cuBLASLt (over
// the [in, out] weights), YIRAGE_CUDA_GEMV=1 runs steps of few rows on the GEMVs without
// timing, YIRAGE_CUDA_GRAPHS=0 launches every step kernel by kernel (on the GEMVs),
// YIRAGE_CUDA_PDL=0 launches without programmatic dependence.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "yirage/core/tensor.h"
#include "yirage/llm/config.h"
#include "yirage/llm/kv_cache.h"
#include "yirage/llm/model_weights.h"
#include "yirage/llm/paged_attention.h"

namespace yirage::llm {

/// The rows of one forward step, checked and with their cache slots reserved.
struct StepRows {
  std::vector<int64_t> ids;         ///< token id of each row
  std::vector<AttentionRow> rows;   ///< sequence and position of each row
  std::vector<int64_t> logit_rows;  ///< rows whose logits are wanted, in output order
};

/// Counts of how device steps ran.
struct CudaModelStats {
  int64_t eager_steps = 0;            ///< steps launched kernel by kernel
  int64_t graph_captures = 0;         ///< CUDA graphs captured (one per batch size and output kind)
  int64_t graph_replays = 0;          ///< steps replayed from a captured graph
  bool gemv = false;                  ///< steps of few rows multiply through the GEMV kernels
  std::vector<int64_t> gemv_won;      ///< step sizes whose timed GEMV graph beat cuBLASLt's
  std::vector<int64_t> cublaslt_won;  ///< step sizes whose timed cuBLASLt graph was faster
};

/// The device-resident model. Every call needs a KvCache with a CUDA layout.
class CudaModel {
 public:
  /// Uploads `weights` (in `dtype`, laid out by load_weights; the host tensors are released as
  /// they are copied) and compiles the kernels. UserError when CUDA is unavailable or the
  /// model's shape is not supported by the kernels.
  CudaModel(const Qwen3Config& config, Qwen3Weights weights, core::DType dtype);
  ~CudaModel();
  CudaModel(const CudaModel&) = delete;
  CudaModel& operator=(const CudaModel&) = delete;

  /// Runs `step` and returns float32 logits [logit_rows, vocab] on the host.
  core::Tensor logits(KvCache& cache, const StepRows& step);
  /// Runs `step` and returns, per logit row, the first id of the largest logit among ids
  /// [0, limit) (greedy decoding without copying logits back).
  std::vector<int64_t> argmax(KvCache& cache, const StepRows& step, int64_t limit);
  /// How steps ran so far.
  const CudaModelStats& stats() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace yirage::llm
