// Tensors: owning and borrowed storage, strides, views and their errors.
#include "yirage/core/tensor.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "test_util.h"

namespace {

using yirage::core::Device;
using yirage::core::DeviceKind;
using yirage::core::DType;
using yirage::core::Shape;
using yirage::core::Tensor;

TEST(Shape, NumelStridesAndText) {
  EXPECT_EQ(yirage::core::shape_numel({2, 3, 4}), 24);
  EXPECT_EQ(yirage::core::shape_numel({}), 1);
  EXPECT_EQ(yirage::core::shape_numel({5, 0, 2}), 0);
  EXPECT_EQ(yirage::core::contiguous_strides({2, 3, 4}), (std::vector<int64_t>{12, 4, 1}));
  EXPECT_EQ(yirage::core::contiguous_strides({7}), (std::vector<int64_t>{1}));
  EXPECT_TRUE(yirage::core::contiguous_strides({}).empty());
  EXPECT_EQ(yirage::core::shape_to_string({2, 3, 4}), "[2, 3, 4]");
  EXPECT_EQ(yirage::core::shape_to_string({}), "[]");
}

TEST(Shape, NegativeExtentsAreUserErrors) {
  EXPECT_USER_ERROR(
      [] {
        yirage::core::shape_numel({2, -1});
      },
      "shape [2, -1]", "negative extent", "expected extents >= 0");
  EXPECT_USER_ERROR([] { Tensor::empty({-3}, DType::F32); }, "[-3]", "negative extent");
  float data[4] = {};
  EXPECT_USER_ERROR(
      [&] {
        Tensor::borrow(data, {4, -2}, {}, DType::F32, Device{}, nullptr);
      },
      "[4, -2]", "negative extent");
}

TEST(Shape, ElementCountsPast64BitsAreUserErrors) {
  const int64_t big = int64_t{1} << 32;
  EXPECT_USER_ERROR(
      [&] {
        yirage::core::shape_numel({big, big});
      },
      "shape [4294967296, 4294967296]", "has too many elements");
  EXPECT_USER_ERROR([&] { Tensor::empty({big, big, 2}, DType::F32); }, "has too many elements");
  EXPECT_EQ(yirage::core::shape_numel({big, big / 2 - 1}), (big * (big / 2 - 1)));
  EXPECT_EQ(yirage::core::shape_numel({0, big, big, big}), 0);
}

TEST(Tensor, EmptyIsZeroedAlignedAndContiguous) {
  for (DType dtype : {DType::F32, DType::F16, DType::BF16, DType::I32, DType::I64}) {
    for (const Shape& shape : {Shape{3}, Shape{2, 3, 5}, Shape{1, 1, 7}, Shape{}, Shape{33, 3}}) {
      const Tensor tensor = Tensor::empty(shape, dtype);
      ASSERT_TRUE(tensor.defined());
      EXPECT_EQ(tensor.shape(), shape);
      EXPECT_EQ(tensor.dtype(), dtype);
      EXPECT_EQ(tensor.strides(), yirage::core::contiguous_strides(shape));
      EXPECT_TRUE(tensor.is_contiguous());
      EXPECT_EQ(tensor.device(), Device{});
      EXPECT_TRUE(tensor.storage()->owned());
      EXPECT_EQ(reinterpret_cast<uintptr_t>(tensor.data()) % yirage::core::kTensorAlignment, 0u);
      EXPECT_EQ(tensor.nbytes(),
                static_cast<std::size_t>(tensor.numel()) * yirage::core::dtype_size(dtype));
      EXPECT_EQ(tensor.storage()->bytes(), tensor.nbytes());
      const auto* bytes = static_cast<const unsigned char*>(tensor.data());
      for (std::size_t i = 0; i < tensor.nbytes(); ++i) ASSERT_EQ(bytes[i], 0) << i;
    }
  }
  const Tensor nothing = Tensor::empty({4, 0}, DType::F32);
  EXPECT_EQ(nothing.numel(), 0);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(nothing.data()) % yirage::core::kTensorAlignment, 0u);
}

TEST(Tensor, DefaultIsUndefined) {
  const Tensor tensor;
  EXPECT_FALSE(tensor.defined());
  EXPECT_EQ(tensor.to_string(), "Tensor(undefined)");
  EXPECT_THROW(tensor.data(), yirage::core::InternalError);
}

TEST(Tensor, DimCountsFromEitherEnd) {
  const Tensor tensor = Tensor::empty({2, 3, 4}, DType::F32);
  EXPECT_EQ(tensor.rank(), 3);
  EXPECT_EQ(tensor.dim(0), 2);
  EXPECT_EQ(tensor.dim(2), 4);
  EXPECT_EQ(tensor.dim(-1), 4);
  EXPECT_EQ(tensor.dim(-3), 2);
  EXPECT_USER_ERROR([&] { tensor.dim(3); }, "dimension 3 is out of range",
                    "tensor of shape [2, 3, 4]", "expected -3 <= dim < 3");
  EXPECT_USER_ERROR([&] { tensor.dim(-4); }, "dimension -4 is out of range");
  const Tensor scalar = Tensor::empty({}, DType::F32);
  EXPECT_USER_ERROR([&] { scalar.dim(0); }, "dimension 0", "shape []");
}

TEST(Tensor, ToStringAndDevices) {
  EXPECT_EQ(Tensor::empty({2, 3}, DType::BF16).to_string(), "Tensor(bfloat16[2, 3], cpu)");
  EXPECT_EQ(Device{}.to_string(), "cpu");
  EXPECT_EQ((Device{DeviceKind::Cuda, 1}).to_string(), "cuda:1");
  EXPECT_NE((Device{DeviceKind::Cuda, 0}), (Device{DeviceKind::Cuda, 1}));
}

TEST(Tensor, BorrowKeepsTheOwnerAliveUntilTheLastView) {
  auto owner = std::make_shared<std::vector<float>>(std::vector<float>{1, 2, 3, 4, 5, 6});
  std::weak_ptr<std::vector<float>> watch = owner;
  float* raw = owner->data();
  {
    Tensor view = Tensor::borrow(raw, {2, 3}, {}, DType::F32, Device{}, owner);
    EXPECT_EQ(owner.use_count(), 2);
    EXPECT_FALSE(view.storage()->owned());
    EXPECT_EQ(view.data(), raw);
    EXPECT_EQ(view.storage()->bytes(), 6 * sizeof(float));
    Tensor copy = view;  // shares the storage, not a second keep-alive
    EXPECT_EQ(owner.use_count(), 2);
    owner.reset();
    EXPECT_FALSE(watch.expired());
    EXPECT_EQ(copy.get(5), 6.0);  // still readable through the view
    view = Tensor();
    EXPECT_FALSE(watch.expired());
  }
  EXPECT_TRUE(watch.expired());
}

TEST(Tensor, BorrowedTransposedView) {
  // A row-major [2, 3] buffer viewed as its [3, 2] transpose.
  std::vector<float> data = {1, 2, 3, 4, 5, 6};
  const Tensor view = Tensor::borrow(data.data(), {3, 2}, {1, 3}, DType::F32, Device{}, nullptr);
  EXPECT_FALSE(view.is_contiguous());
  EXPECT_EQ(view.strides(), (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(view.storage()->bytes(), 6 * sizeof(float));
  const std::vector<double> expected = {1, 4, 2, 5, 3, 6};
  EXPECT_EQ(yirage::testing::values(view), expected);
  EXPECT_EQ(view.offset_of({2, 1}), 5);
  EXPECT_EQ(view.offset_of({1, 0}), 1);

  const Tensor copy = view.contiguous();
  EXPECT_TRUE(copy.is_contiguous());
  EXPECT_NE(copy.storage(), view.storage());
  EXPECT_EQ(copy.shape(), (Shape{3, 2}));
  EXPECT_EQ(copy.strides(), (std::vector<int64_t>{2, 1}));
  const float* copied = copy.data_as<float>();
  for (std::size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(copied[i], expected[i]) << i;
  data[1] = 20;  // the copy is independent of the borrowed memory
  EXPECT_EQ(copied[2], 2.0f);
  EXPECT_EQ(view.get(2), 20.0);
}

TEST(Tensor, StridedViewOfEveryOtherColumn) {
  std::vector<uint16_t> data(12);
  for (std::size_t i = 0; i < data.size(); ++i) {
    data[i] = yirage::core::double_to_bf16(static_cast<double>(i));
  }
  // [3, 2] taking columns 0 and 2 of a [3, 4] buffer.
  const Tensor view = Tensor::borrow(data.data(), {3, 2}, {4, 2}, DType::BF16, Device{}, nullptr);
  EXPECT_FALSE(view.is_contiguous());
  EXPECT_EQ(view.storage()->bytes(), 11 * sizeof(uint16_t));
  EXPECT_EQ(yirage::testing::values(view), (std::vector<double>{0, 2, 4, 6, 8, 10}));
  EXPECT_EQ(yirage::testing::values(view.contiguous()), (std::vector<double>{0, 2, 4, 6, 8, 10}));
}

TEST(Tensor, ContiguousOfAContiguousTensorIsTheSameStorage) {
  const Tensor tensor = Tensor::empty({4, 5}, DType::F16);
  EXPECT_EQ(tensor.contiguous().storage(), tensor.storage());
}

TEST(Tensor, SizeOneDimsIgnoreTheirStrides) {
  float data[3] = {1, 2, 3};
  const Tensor view = Tensor::borrow(data, {1, 3, 1}, {99, 1, 7}, DType::F32, Device{}, nullptr);
  EXPECT_TRUE(view.is_contiguous());
  const Tensor column = Tensor::borrow(data, {3, 1}, {1, 1}, DType::F32, Device{}, nullptr);
  EXPECT_TRUE(column.is_contiguous());
  const Tensor broadcast = Tensor::borrow(data, {2, 3}, {0, 1}, DType::F32, Device{}, nullptr);
  EXPECT_FALSE(broadcast.is_contiguous());
  EXPECT_EQ(yirage::testing::values(broadcast), (std::vector<double>{1, 2, 3, 1, 2, 3}));
}

TEST(Tensor, BorrowRejectsBadStrides) {
  float data[6] = {};
  EXPECT_USER_ERROR(
      [&] {
        Tensor::borrow(data, {2, 3}, {3}, DType::F32, Device{}, nullptr);
      },
      "strides have 1 entries for shape [2, 3]", "one per dimension");
  EXPECT_USER_ERROR(
      [&] {
        Tensor::borrow(data + 5, {2, 3}, {-3, 1}, DType::F32, Device{}, nullptr);
      },
      "negative strides", "[2, 3]");
}

TEST(Tensor, ContiguousRefusesDeviceMemory) {
  float data[6] = {};
  const Tensor on_gpu =
      Tensor::borrow(data, {3, 2}, {1, 3}, DType::F32, Device{DeviceKind::Cuda, 0}, nullptr);
  EXPECT_EQ(on_gpu.device(), (Device{DeviceKind::Cuda, 0}));
  EXPECT_USER_ERROR([&] { on_gpu.contiguous(); }, "cuda:0", "expected a cpu tensor");
}

TEST(Storage, AllocateRoundsUpButReportsTheRequestedSize) {
  for (std::size_t bytes : {std::size_t{0}, std::size_t{1}, std::size_t{63}, std::size_t{64},
                            std::size_t{65}, std::size_t{1000}}) {
    const auto storage = yirage::core::Storage::allocate(bytes);
    EXPECT_EQ(storage->bytes(), bytes);
    EXPECT_TRUE(storage->owned());
    ASSERT_NE(storage->data(), nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(storage->data()) % 64, 0u);
  }
}

}  // namespace
