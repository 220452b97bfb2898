#include "yirage/core/tensor.h"

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <sstream>

#include "yirage/core/error.h"

namespace yirage::core {

int64_t shape_numel(const Shape& shape) {
  int64_t count = 1;
  for (int64_t extent : shape) {
    YR_USER_CHECK(extent >= 0, "shape " << shape_to_string(shape)
                                        << " has a negative extent; expected extents >= 0");
    YR_USER_CHECK(
        extent == 0 || count <= std::numeric_limits<int64_t>::max() / extent,
        "shape " << shape_to_string(shape) << " has too many elements; expected at most 2^63 - 1");
    count *= extent;
  }
  return count;
}

std::vector<int64_t> contiguous_strides(const Shape& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (int64_t i = static_cast<int64_t>(shape.size()) - 2; i >= 0; --i) {
    strides[i] = strides[i + 1] * shape[i + 1];
  }
  return strides;
}

std::string shape_to_string(const Shape& shape) {
  std::ostringstream out;
  out << '[';
  for (std::size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << ']';
  return out.str();
}

std::string Device::to_string() const {
  return kind == DeviceKind::Cpu ? std::string("cpu") : "cuda:" + std::to_string(index);
}

std::shared_ptr<Storage> Storage::allocate(std::size_t bytes) {
  // Large buffers (weights, activations of big batches) are aligned to 2 MiB and asked to be
  // backed by huge pages, which spares the TLB misses of streaming through them.
  constexpr std::size_t kHugePage = std::size_t{2} << 20;
  const std::size_t alignment = bytes >= kHugePage ? kHugePage : kTensorAlignment;
  std::size_t rounded = (bytes + alignment - 1) / alignment * alignment;
  if (rounded == 0) rounded = alignment;
  void* data = std::aligned_alloc(alignment, rounded);
  if (data == nullptr) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (alignment == kHugePage) ::madvise(data, rounded, MADV_HUGEPAGE);  // a hint; failure is fine
#endif
  std::memset(data, 0, rounded);
  std::shared_ptr<Storage> storage(new Storage());
  storage->data_ = data;
  storage->bytes_ = bytes;
  storage->owned_ = true;
  return storage;
}

std::shared_ptr<Storage> Storage::borrow(void* data, std::size_t bytes, Device device,
                                         std::shared_ptr<void> keep_alive) {
  std::shared_ptr<Storage> storage(new Storage());
  storage->data_ = data;
  storage->bytes_ = bytes;
  storage->device_ = device;
  storage->keep_alive_ = std::move(keep_alive);
  return storage;
}

Storage::~Storage() {
  if (owned_) std::free(data_);
}

Tensor Tensor::empty(const Shape& shape, DType dtype) {
  Tensor tensor;
  tensor.storage_ =
      Storage::allocate(static_cast<std::size_t>(shape_numel(shape)) * dtype_size(dtype));
  tensor.shape_ = shape;
  tensor.strides_ = contiguous_strides(shape);
  tensor.dtype_ = dtype;
  return tensor;
}

Tensor Tensor::borrow(void* data, const Shape& shape, const std::vector<int64_t>& strides,
                      DType dtype, Device device, std::shared_ptr<void> keep_alive) {
  const int64_t count = shape_numel(shape);
  YR_USER_CHECK(strides.empty() || strides.size() == shape.size(),
                "strides have " << strides.size() << " entries for shape " << shape_to_string(shape)
                                << "; expected one per dimension");
  Tensor tensor;
  tensor.shape_ = shape;
  tensor.strides_ = strides.empty() ? contiguous_strides(shape) : strides;
  tensor.dtype_ = dtype;
  // The byte span the view reaches, for the storage's size.
  int64_t lowest = 0, highest = 0;
  for (std::size_t i = 0; i < shape.size() && count > 0; ++i) {
    const int64_t reach = (shape[i] - 1) * tensor.strides_[i];
    (reach < 0 ? lowest : highest) += reach;
  }
  YR_USER_CHECK(lowest == 0, "tensor of shape " << shape_to_string(shape)
                                                << " has negative strides; expected strides >= 0");
  const std::size_t bytes =
      count == 0 ? 0 : static_cast<std::size_t>(highest + 1) * dtype_size(dtype);
  tensor.storage_ = Storage::borrow(data, bytes, device, std::move(keep_alive));
  return tensor;
}

int64_t Tensor::dim(int64_t dim) const {
  const int64_t r = rank();
  YR_USER_CHECK(dim >= -r && dim < r, "dimension " << dim
                                                   << " is out of range for a tensor of shape "
                                                   << shape_to_string(shape_) << "; expected -" << r
                                                   << " <= dim < " << r);
  return shape_[dim < 0 ? dim + r : dim];
}

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (int64_t i = rank() - 1; i >= 0; --i) {
    if (shape_[i] != 1 && strides_[i] != expected) return false;
    expected *= shape_[i];
  }
  return true;
}

void* Tensor::data() const {
  YR_INTERNAL_CHECK(storage_ != nullptr, "data() of an undefined tensor");
  return static_cast<char*>(storage_->data()) + offset_ * static_cast<int64_t>(dtype_size(dtype_));
}

int64_t Tensor::offset_of(const std::vector<int64_t>& index) const {
  YR_INTERNAL_CHECK(index.size() == shape_.size(),
                    "index rank " << index.size() << " vs tensor rank " << shape_.size());
  int64_t offset = 0;
  for (std::size_t i = 0; i < index.size(); ++i) offset += index[i] * strides_[i];
  return offset;
}

double Tensor::get(int64_t flat) const {
  int64_t offset = 0;
  for (int64_t i = rank() - 1; i >= 0; --i) {
    offset += (flat % shape_[i]) * strides_[i];
    flat /= shape_[i];
  }
  return load_as_double(data(), dtype_, static_cast<std::size_t>(offset));
}

Tensor Tensor::contiguous() const {
  YR_USER_CHECK(device().kind == DeviceKind::Cpu, "cannot copy a tensor on "
                                                      << device().to_string()
                                                      << " on the host; expected a cpu tensor");
  if (is_contiguous()) return *this;
  Tensor copy = empty(shape_, dtype_);
  const std::size_t size = dtype_size(dtype_);
  const int64_t count = numel();
  for (int64_t flat = 0; flat < count; ++flat) {
    int64_t rest = flat, offset = 0;
    for (int64_t i = rank() - 1; i >= 0; --i) {
      offset += (rest % shape_[i]) * strides_[i];
      rest /= shape_[i];
    }
    std::memcpy(static_cast<char*>(copy.data()) + flat * size,
                static_cast<const char*>(data()) + offset * static_cast<int64_t>(size), size);
  }
  return copy;
}

std::string Tensor::to_string() const {
  if (!defined()) return "Tensor(undefined)";
  return "Tensor(" + std::string(dtype_name(dtype_)) + shape_to_string(shape_) + ", " +
         device().to_string() + ")";
}

}  // namespace yirage::core
