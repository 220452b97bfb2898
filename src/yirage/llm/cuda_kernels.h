// The CUDA kernels of the device-resident Qwen3 model, generated as one NVRTC source per model
// shape: embedding gather, residual add + RMSNorm, q/k norm + RoPE + KV cache write, paged
// attention (flash-decoding: the KV length split over blocks, the last split merging), SiLU
// gate, argmax, transposes and few-row GEMVs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "yirage/core/dtype.h"
#include "yirage/llm/config.h"

namespace yirage::llm {

/// The sizes the kernels are generated for.
struct CudaKernelShape {
  int64_t hidden = 0;                     ///< model width
  int64_t heads = 0;                      ///< query heads
  int64_t kv_heads = 0;                   ///< key/value heads
  int64_t head_dim = 0;                   ///< width of one head
  int64_t intermediate = 0;               ///< gated MLP width
  double eps = 1e-6;                      ///< RMSNorm epsilon
  double theta = 1e6;                     ///< RoPE base (of the tables, rope_tables)
  core::DType dtype = core::DType::BF16;  ///< activations, weights and KV cache

  /// The shape of `config` computing in `dtype`.
  static CudaKernelShape of(const Qwen3Config& config, core::DType dtype);
  /// Elements of one 16-byte vector of `dtype` (8 for 16-bit types, 4 for float32).
  int64_t vector_elements() const;
  /// Threads that share one key row of one head in the attention kernel.
  int64_t lanes_per_key() const { return head_dim / vector_elements(); }
  /// Key rows one attention block works on at once.
  int64_t key_groups() const { return kAttentionThreads / lanes_per_key(); }
  /// Static shared memory of the attention kernel, bytes.
  int64_t attention_shared_bytes() const;
  /// Empty when the kernels support this shape, else why not (for the UserError).
  std::string unsupported_reason() const;

  /// Threads of an attention block.
  static constexpr int64_t kAttentionThreads = 128;
};

/// Fewest keys an attention split works on (short contexts use fewer splits).
inline constexpr int64_t kMinKeysPerSplit = 32;

/// Most activation rows the GEMV kernels serve (decode steps of up to this many sequences).
inline constexpr int64_t kGemvMaxRows = 8;

/// The complete source (prelude included) with the entry points yr_embed, yr_add_rms_norm,
/// yr_qk_rope_store, yr_attention, yr_decode_attention, yr_silu_mul, yr_to_f32, yr_argmax,
/// yr_transpose and the GEMVs named by gemv_entry. Parameters of each are listed in
/// cuda_kernels.cpp beside its code.
std::string qwen3_cuda_source(const CudaKernelShape& shape);

/// cos and sin of the rotary angles, [positions, head_dim / 2] each, computed in double.
struct RopeTables {
  std::vector<float> cos;  ///< cos(p * theta^(-2i / head_dim)) at p * head_dim / 2 + i
  std::vector<float> sin;  ///< sin of the same angles
};

/// The tables yr_qk_rope_store reads for positions 0 .. positions - 1.
RopeTables rope_tables(double theta, int64_t head_dim, int64_t positions);

/// What a GEMV does with its product (yr_gemv_body in cuda_kernels.cpp).
enum class GemvKind {
  Plain,      ///< y = x w^T
  Silu,       ///< y = silu(x w_gate^T) * (x w_up^T), gate and up rows stacked in w
  Residual,   ///< y += x w^T (y: the residual stream)
  NormPlain,  ///< y = rms_norm(x) w^T, the norm computed in the kernel (x: the residual stream)
  NormSilu,   ///< Silu over rms_norm(x)
};

/// Most rows the Norm kinds serve (each block reads the rows whole to compute their norms).
inline constexpr int64_t kGemvNormMaxRows = 2;

/// Output columns each warp of the GEMV for `rows` activation rows computes (its grid:
/// ceil(n_out / (8 columns_per_warp)) blocks of 256 threads).
int64_t gemv_columns_per_warp(int64_t rows);

/// The GEMV entry point of `kind` for `rows` activation rows (1 .. kGemvMaxRows, or
/// kGemvNormMaxRows for the Norm kinds), e.g. "yr_gemv_silu_3". Parameters: (w, x, y, n_out, k,
/// norm weight or null).
std::string gemv_entry(int64_t rows, GemvKind kind);

}  // namespace yirage::llm
