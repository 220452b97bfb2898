// Plain GEMMs through cuBLASLt, loaded with dlopen (libcublasLt.so); absent, callers fall back
// to generated kernels.
#pragma once

#include <cstdint>
#include <string>

#include "yirage/core/dtype.h"
#include "yirage/ir/kernel_graph.h"

namespace yirage::backend::cuda {

class Runtime;

/// One row-major batched product C[b] = A[b] (m x k) @ B[b] (k x n), strides in elements
/// (0: the operand is shared by every batch).
struct GemmShape {
  int64_t m = 0;                         ///< rows of A and C
  int64_t n = 0;                         ///< columns of B and C
  int64_t k = 0;                         ///< columns of A, rows of B
  int64_t batches = 1;                   ///< number of products
  int64_t a_stride = 0;                  ///< elements between consecutive A matrices
  int64_t b_stride = 0;                  ///< elements between consecutive B matrices
  core::DType dtype = core::DType::F32;  ///< element type of A, B and C (float accumulation)
  bool b_transposed = false;             ///< B is stored as its transpose, n x k row-major
};

/// The cuBLASLt form of matmul `node` of `graph`: a float dtype, and each operand's batch dims
/// either the output's (left-padded with 1s) or all 1 (shared by every product). False when the
/// product has no such form.
bool matmul_gemm_shape(const ir::KernelGraph& graph, const ir::Node& node, GemmShape& shape);

/// Whether cuBLASLt could be loaded, with the reason when not.
bool cublaslt_available(std::string* why = nullptr);

/// Queues the product on the runtime's stream. Returns false (queuing nothing) when cuBLASLt is
/// unavailable or finds no algorithm for the shape. On the first call for a shape and operand
/// alignment outside graph capture, the heuristic's candidate algorithms (split-K ones included)
/// are timed on the operands and the fastest is kept for the process.
bool cublaslt_matmul(Runtime& runtime, const GemmShape& shape, const void* a, const void* b,
                     void* c);

}  // namespace yirage::backend::cuda
