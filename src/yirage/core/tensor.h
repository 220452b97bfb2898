// Tensors: shape, strides, dtype and device over owning or borrowed storage.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "yirage/core/dtype.h"

namespace yirage::core {

/// Extents of a tensor, outermost first.
using Shape = std::vector<int64_t>;

/// Number of elements of `shape` (1 for a scalar); throws a UserError on a negative extent.
int64_t shape_numel(const Shape& shape);
/// Row-major strides, in elements, of a contiguous tensor of `shape`.
std::vector<int64_t> contiguous_strides(const Shape& shape);
/// Formats a shape as "[2, 3, 4]".
std::string shape_to_string(const Shape& shape);

/// Where a tensor's memory lives.
enum class DeviceKind : uint8_t { Cpu, Cuda };

/// A device: its kind and index (0 for the CPU).
struct Device {
  DeviceKind kind = DeviceKind::Cpu;  ///< kind of memory
  int index = 0;                      ///< device ordinal
  /// Equality of kind and index.
  bool operator==(const Device& other) const = default;
  /// "cpu" or "cuda:N".
  std::string to_string() const;
};

/// Alignment, in bytes, of every allocation yirage owns.
inline constexpr std::size_t kTensorAlignment = 64;

/// A block of memory: owned (64-byte aligned, freed with the last reference) or borrowed (kept
/// alive by a keep-alive handle supplied by the owner).
class Storage {
 public:
  /// Allocates `bytes` zeroed bytes of host memory aligned to kTensorAlignment.
  static std::shared_ptr<Storage> allocate(std::size_t bytes);
  /// Wraps memory owned elsewhere; `keep_alive` holds the owner until the storage dies.
  static std::shared_ptr<Storage> borrow(void* data, std::size_t bytes, Device device,
                                         std::shared_ptr<void> keep_alive);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  /// First byte.
  void* data() const { return data_; }
  /// Size in bytes.
  std::size_t bytes() const { return bytes_; }
  /// Device holding the bytes.
  Device device() const { return device_; }
  /// True when yirage allocated (and will free) the bytes.
  bool owned() const { return owned_; }

 private:
  Storage() = default;
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
  Device device_;
  bool owned_ = false;
  std::shared_ptr<void> keep_alive_;
};

/// An n-dimensional view (shape, element strides, byte offset) of a Storage.
class Tensor {
 public:
  /// An empty, undefined tensor.
  Tensor() = default;
  /// A new zero-filled contiguous host tensor.
  static Tensor empty(const Shape& shape, DType dtype);
  /// A view of borrowed memory; strides in elements (empty: contiguous). The bytes the view
  /// reaches must lie inside [data, data + bytes) of the owner.
  static Tensor borrow(void* data, const Shape& shape, const std::vector<int64_t>& strides,
                       DType dtype, Device device, std::shared_ptr<void> keep_alive);

  /// True unless default-constructed.
  bool defined() const { return storage_ != nullptr; }
  /// Extents.
  const Shape& shape() const { return shape_; }
  /// Extent of dimension `dim` (negative counts from the end).
  int64_t dim(int64_t dim) const;
  /// Strides in elements.
  const std::vector<int64_t>& strides() const { return strides_; }
  /// Number of dimensions.
  int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
  /// Element type.
  DType dtype() const { return dtype_; }
  /// Device of the storage.
  Device device() const { return storage_ ? storage_->device() : Device{}; }
  /// Number of elements.
  int64_t numel() const { return shape_numel(shape_); }
  /// Bytes covered by numel() elements of dtype().
  std::size_t nbytes() const { return static_cast<std::size_t>(numel()) * dtype_size(dtype_); }
  /// True when strides are row-major contiguous.
  bool is_contiguous() const;
  /// Address of element 0.
  void* data() const;
  /// Typed address of element 0.
  template <typename T>
  T* data_as() const {
    return static_cast<T*>(data());
  }
  /// The shared storage.
  const std::shared_ptr<Storage>& storage() const { return storage_; }
  /// Offset in elements of the multi-index `index` (one entry per dimension).
  int64_t offset_of(const std::vector<int64_t>& index) const;
  /// Reads element `flat` (row-major order over the shape) as a double, honouring strides.
  double get(int64_t flat) const;
  /// A contiguous host copy (or this tensor when already contiguous on the host).
  Tensor contiguous() const;
  /// "Tensor(float32[2, 3], cpu)".
  std::string to_string() const;

 private:
  std::shared_ptr<Storage> storage_;
  int64_t offset_ = 0;  // in elements
  Shape shape_;
  std::vector<int64_t> strides_;
  DType dtype_ = DType::F32;
};

}  // namespace yirage::core
