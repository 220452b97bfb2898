// The fusions yirage exists to find: each as the naive kernel graph a user writes and the
// hand-written fused program (block graphs) that computes the same thing, at any shape.
// Tests verify the pairs, the search must rediscover the fused forms, benchmarks time both.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "yirage/ir/kernel_graph.h"

namespace yirage::workloads {

/// A naive graph and an equivalent fused program over the same inputs and outputs.
struct Workload {
  std::string name;       ///< e.g. "rms_norm_matmul"
  std::string shape;      ///< e.g. "x[8, 1024] w[1024, 4096]"
  ir::KernelGraph naive;  ///< one kernel per op
  ir::KernelGraph fused;  ///< customized (block-graph) kernels
};

/// How the fused form tiles its work; 0 picks a default that divides the shapes.
struct Tiling {
  int64_t grid = 0;     ///< blocks along the parallel dim (output columns, or KV splits)
  int64_t forloop = 0;  ///< for-loop iterations along the reduced dim
};

/// matmul(rms_norm(x, g), w), x [batch, hidden], w [hidden, out]; fused with the division by
/// the RMS moved after the matmul: one kernel.
Workload rms_norm_matmul(int64_t batch, int64_t hidden, int64_t out, core::DType dtype,
                         Tiling tiling = {});
/// silu(x @ w1) * (x @ w2), x [batch, hidden], w1 and w2 [hidden, inter]; one kernel.
Workload gated_mlp(int64_t batch, int64_t hidden, int64_t inter, core::DType dtype,
                   Tiling tiling = {});
/// x @ w + (x @ a) @ b, a [hidden, rank], b [rank, out]; one kernel.
Workload lora(int64_t batch, int64_t hidden, int64_t out, int64_t rank, core::DType dtype,
              Tiling tiling = {});
/// Decode attention with grouped queries: q [kv_heads, group, head_dim] (the query heads of
/// each KV head, times the batch), k and v [kv_heads, kv_len, head_dim];
/// softmax(q k^T / sqrt(head_dim)) v. Fused with online softmax, the KV length split over
/// tiling.grid blocks per head plus a combine kernel (one kernel when grid is 1). With
/// `qk_norm`, q and k first go through rms_norm over head_dim (Qwen3's QK-norm), fused into the
/// attention kernel.
Workload attention_decode(int64_t kv_heads, int64_t group, int64_t kv_len, int64_t head_dim,
                          core::DType dtype, bool qk_norm, Tiling tiling = {});

/// Mirage's nTrans (normalized-transformer residual update): h, x, alpha [rows, hidden] and
/// ones [hidden]; rms_norm(x + alpha * (rms_norm(h, ones) + x), ones). Fused as one
/// element-wise block graph, a row per block.
Workload ntrans(int64_t rows, int64_t hidden, core::DType dtype);

/// The standard set: each workload at Mirage's benchmark shapes and at Qwen3-0.6B and
/// Qwen3-8B shapes (bf16).
std::vector<Workload> standard_workloads();

}  // namespace yirage::workloads
