#include "yirage/backend/reference/tensor_io.h"

#include "yirage/core/thread_pool.h"

namespace yirage::backend::reference {

Buffer buffer_from_tensor(const core::Tensor& tensor) {
  YR_USER_CHECK(
      tensor.device().kind == core::DeviceKind::Cpu,
      "the reference backend reads host memory; got a tensor on " << tensor.device().to_string());
  const int64_t count = tensor.numel();
  Buffer buffer{tensor.shape(), std::vector<double>(static_cast<std::size_t>(count))};
  if (tensor.is_contiguous()) {
    const void* data = tensor.data();
    const core::DType dtype = tensor.dtype();
    core::ThreadPool::global().parallel_for(count, 1 << 16, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i)
        buffer.data[i] = core::load_as_double(data, dtype, static_cast<std::size_t>(i));
    });
  } else {
    for (int64_t i = 0; i < count; ++i) buffer.data[i] = tensor.get(i);
  }
  return buffer;
}

core::Tensor tensor_from_buffer(const Buffer& buffer, core::DType dtype) {
  core::Tensor tensor = core::Tensor::empty(buffer.shape, dtype);
  for (std::size_t i = 0; i < buffer.data.size(); ++i) {
    core::store_from_double(tensor.data(), dtype, i, buffer.data[i]);
  }
  return tensor;
}

}  // namespace yirage::backend::reference
