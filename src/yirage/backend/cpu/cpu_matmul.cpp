// Batched matmul with broadcasting batch dimensions, one GEMM per batch entry.
#include <algorithm>

#include "yirage/backend/cpu/cpu_gemm.h"
#include "yirage/backend/cpu/cpu_ops.h"
#include "yirage/core/thread_pool.h"

namespace yirage::backend::cpu {

namespace {

// Element strides of the batch part of `shape` broadcast to `batch` (0 on broadcast dims),
// counting whole matrices of `matrix` elements.
std::vector<int64_t> batch_strides(const core::Shape& shape, const core::Shape& batch,
                                   int64_t matrix) {
  const core::Shape own(shape.begin(), shape.end() - 2);
  std::vector<int64_t> strides(batch.size(), 0);
  int64_t stride = matrix;
  for (int64_t i = static_cast<int64_t>(own.size()) - 1; i >= 0; --i) {
    const auto at = static_cast<std::size_t>(i) + batch.size() - own.size();
    strides[at] = own[static_cast<std::size_t>(i)] == 1 ? 0 : stride;
    stride *= own[static_cast<std::size_t>(i)];
  }
  return strides;
}

int64_t offset_of(int64_t index, const core::Shape& batch, const std::vector<int64_t>& strides) {
  int64_t offset = 0;
  for (int64_t d = static_cast<int64_t>(batch.size()) - 1; d >= 0 && index > 0; --d) {
    offset += (index % batch[static_cast<std::size_t>(d)]) * strides[static_cast<std::size_t>(d)];
    index /= batch[static_cast<std::size_t>(d)];
  }
  return offset;
}

}  // namespace

void matmul_op(const core::Tensor& a, const core::Tensor& b, const core::Tensor& out) {
  const core::Shape& shape = out.shape();
  const std::size_t rank = shape.size();
  const int64_t m = shape[rank - 2], n = shape[rank - 1], k = a.shape().back();
  const core::Shape batch(shape.begin(), shape.end() - 2);
  const auto a_strides = batch_strides(a.shape(), batch, m * k);
  const auto b_strides = batch_strides(b.shape(), batch, k * n);
  int64_t batches = 1;
  for (int64_t extent : batch) batches *= extent;
  const auto bytes = static_cast<int64_t>(core::dtype_size(out.dtype()));
  auto one = [&](int64_t index) {
    GemmArgs args;
    args.m = m;
    args.n = n;
    args.k = k;
    args.dtype = out.dtype();
    args.a = static_cast<const char*>(a.data()) + offset_of(index, batch, a_strides) * bytes;
    args.lda = k;
    args.b = static_cast<const char*>(b.data()) + offset_of(index, batch, b_strides) * bytes;
    args.ldb = n;
    args.c = static_cast<char*>(out.data()) + index * m * n * bytes;
    args.ldc = n;
    gemm(args);
  };
  // Many small products: one per thread (each runs serially inside); few: each one threaded.
  if (batches >= core::ThreadPool::global().num_threads() && m * n * k <= (1 << 22)) {
    core::ThreadPool::global().parallel_for(batches, 1, [&](int64_t begin, int64_t end) {
      for (int64_t index = begin; index < end; ++index) one(index);
    });
  } else {
    for (int64_t index = 0; index < batches; ++index) one(index);
  }
}

}  // namespace yirage::backend::cpu
