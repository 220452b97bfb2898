// Data movement: concat, split, reshape and transpose, as byte copies of any dtype.
#include <algorithm>
#include <cstring>

#include "yirage/backend/cpu/cpu_ops.h"
#include "yirage/core/error.h"
#include "yirage/core/thread_pool.h"

namespace yirage::backend::cpu {

namespace {

int64_t product(const core::Shape& shape, std::size_t begin, std::size_t end) {
  int64_t p = 1;
  for (std::size_t i = begin; i < end; ++i) p *= shape[i];
  return p;
}

// Copies `outer` blocks of `block` bytes from `src` (stride `src_stride`) to `dst` (stride
// `dst_stride`), spread over the pool.
void copy_blocks(const char* src, int64_t src_stride, char* dst, int64_t dst_stride, int64_t outer,
                 int64_t block) {
  core::ThreadPool::global().parallel_for(
      outer, std::max<int64_t>(1, 65536 / std::max<int64_t>(1, block)),
      [&](int64_t begin, int64_t end) {
        for (int64_t o = begin; o < end; ++o) {
          std::memcpy(dst + o * dst_stride, src + o * src_stride, static_cast<std::size_t>(block));
        }
      });
}

// out[i] = in[offset(i)] for elements of `Size` bytes, rows of the output's last dim at a time.
template <typename Word>
void gather_transpose(const Word* in, Word* out, const core::Shape& shape,
                      const std::vector<int64_t>& strides) {
  const int64_t inner = shape.back();
  const int64_t step = strides.back();
  const int64_t rows = product(shape, 0, shape.size()) / inner;
  core::ThreadPool::global().parallel_for(
      rows, std::max<int64_t>(1, 16384 / inner), [&](int64_t begin, int64_t end) {
        for (int64_t row = begin; row < end; ++row) {
          int64_t offset = 0, rest = row;
          for (int64_t d = static_cast<int64_t>(shape.size()) - 2; d >= 0 && rest > 0; --d) {
            offset += (rest % shape[d]) * strides[d];
            rest /= shape[d];
          }
          const Word* src = in + offset;
          Word* dst = out + row * inner;
          for (int64_t i = 0; i < inner; ++i) dst[i] = src[i * step];
        }
      });
}

}  // namespace

void concat_op(const ir::Node& node, const TensorList& parts, const core::Tensor& out) {
  const auto dim = static_cast<std::size_t>(node.attrs.get_int("dim"));
  const core::Shape& shape = out.shape();
  const auto element = static_cast<int64_t>(core::dtype_size(out.dtype()));
  const int64_t outer = product(shape, 0, dim);
  const int64_t inner = product(shape, dim + 1, shape.size()) * element;
  int64_t start = 0;
  for (const core::Tensor& part : parts) {
    const int64_t extent = part.shape()[dim];
    copy_blocks(static_cast<const char*>(part.data()), extent * inner,
                static_cast<char*>(out.data()) + start * inner, shape[dim] * inner, outer,
                extent * inner);
    start += extent;
  }
}

void split_op(const ir::Node& node, const core::Tensor& x, const TensorList& outputs) {
  const auto dim = static_cast<std::size_t>(node.attrs.get_int("dim"));
  const core::Shape& shape = x.shape();
  const auto element = static_cast<int64_t>(core::dtype_size(x.dtype()));
  const int64_t outer = product(shape, 0, dim);
  const int64_t inner = product(shape, dim + 1, shape.size()) * element;
  int64_t start = 0;
  for (const core::Tensor& piece : outputs) {
    const int64_t extent = piece.shape()[dim];
    copy_blocks(static_cast<const char*>(x.data()) + start * inner, shape[dim] * inner,
                static_cast<char*>(piece.data()), extent * inner, outer, extent * inner);
    start += extent;
  }
}

void reshape_op(const core::Tensor& x, const core::Tensor& out) {
  const int64_t bytes = static_cast<int64_t>(x.nbytes());
  const int64_t block = 1 << 16;
  const int64_t blocks = (bytes + block - 1) / block;
  core::ThreadPool::global().parallel_for(blocks, 4, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const int64_t length = std::min(block, bytes - b * block);
      std::memcpy(static_cast<char*>(out.data()) + b * block,
                  static_cast<const char*>(x.data()) + b * block, static_cast<std::size_t>(length));
    }
  });
}

void transpose_op(const ir::Node& node, const core::Tensor& x, const core::Tensor& out) {
  const auto dim0 = static_cast<std::size_t>(node.attrs.get_int("dim0"));
  const auto dim1 = static_cast<std::size_t>(node.attrs.get_int("dim1"));
  auto strides = core::contiguous_strides(x.shape());
  std::swap(strides[dim0], strides[dim1]);
  const core::Shape& shape = out.shape();
  switch (core::dtype_size(x.dtype())) {
    case 2:
      return gather_transpose(x.data_as<const uint16_t>(), out.data_as<uint16_t>(), shape, strides);
    case 4:
      return gather_transpose(x.data_as<const uint32_t>(), out.data_as<uint32_t>(), shape, strides);
    case 8:
      return gather_transpose(x.data_as<const uint64_t>(), out.data_as<uint64_t>(), shape, strides);
    default:
      break;
  }
  YR_INTERNAL_CHECK(
      false, "transpose: no copy for elements of " << core::dtype_size(x.dtype()) << " bytes");
}

}  // namespace yirage::backend::cpu
