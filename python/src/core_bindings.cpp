// Python bindings of core/: dtypes, the two error types, CPU features, and tensor <-> array
// conversion without copies.
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bindings.h"
#include "yirage/core/cpu_features.h"
#include "yirage/core/error.h"
#include "yirage/core/thread_pool.h"

namespace yirage::python {

namespace {

namespace dl = nb::dlpack;

// The DLPack element type that carries `dtype` without reinterpretation.
dl::dtype dlpack_dtype(core::DType dtype) {
  switch (dtype) {
    case core::DType::F32:
      return nb::dtype<float>();
    case core::DType::F16:
      return {static_cast<uint8_t>(dl::dtype_code::Float), 16, 1};
    case core::DType::BF16:
      return {static_cast<uint8_t>(dl::dtype_code::Bfloat), 16, 1};
    case core::DType::I32:
      return nb::dtype<int32_t>();
    case core::DType::I64:
      return nb::dtype<int64_t>();
  }
  YR_INTERNAL_ERROR("unhandled dtype " << static_cast<int>(dtype));
}

// The yirage dtype whose DLPack code is `given`, if any.
std::optional<core::DType> dtype_from_dlpack(dl::dtype given) {
  for (int i = 0; i < core::kNumDTypes; ++i) {
    const auto dtype = static_cast<core::DType>(i);
    if (dlpack_dtype(dtype) == given) return dtype;
  }
  return std::nullopt;
}

// "float64", "uint8", "bool", "float32x4": a DLPack dtype as a person reads it.
std::string dlpack_dtype_name(dl::dtype given) {
  std::string code;
  switch (static_cast<dl::dtype_code>(given.code)) {
    case dl::dtype_code::Int:
      code = "int";
      break;
    case dl::dtype_code::UInt:
      code = "uint";
      break;
    case dl::dtype_code::Float:
      code = "float";
      break;
    case dl::dtype_code::Bfloat:
      code = "bfloat";
      break;
    case dl::dtype_code::Complex:
      code = "complex";
      break;
    case dl::dtype_code::Bool:
      return "bool";
    default:
      code = "dlpack-code-" + std::to_string(given.code) + "-";
      break;
  }
  std::string name = code + std::to_string(given.bits);
  if (given.lanes != 1) name += "x" + std::to_string(given.lanes);
  return name;
}

// "float32, float16, bfloat16, int32, int64".
std::string supported_dtype_names() {
  std::string names;
#define YR_DTYPE_NAME(id, name, ...) names += std::string(names.empty() ? "" : ", ") + name;
  YIRAGE_DTYPES(YR_DTYPE_NAME)
#undef YR_DTYPE_NAME
  return names;
}

// The DLPack device type name of `type` for messages.
std::string dlpack_device_name(int type) {
  switch (type) {
    case nb::device::cpu::value:
      return "cpu";
    case nb::device::cuda::value:
      return "cuda";
    case nb::device::cuda_host::value:
      return "cuda_host";
    case nb::device::opencl::value:
      return "opencl";
    case nb::device::vulkan::value:
      return "vulkan";
    case nb::device::metal::value:
      return "metal";
    case nb::device::rocm::value:
      return "rocm";
    case nb::device::rocm_host::value:
      return "rocm_host";
    case nb::device::cuda_managed::value:
      return "cuda_managed";
    case nb::device::oneapi::value:
      return "oneapi";
    default:
      return "device type " + std::to_string(type);
  }
}

// Where the bytes of `array` live, as a yirage device. Pinned host memory is host memory.
core::Device device_of(const InputArray& array, std::size_t index) {
  switch (array.device_type()) {
    case nb::device::cpu::value:
    case nb::device::cuda_host::value:
      return {core::DeviceKind::Cpu, 0};
    case nb::device::cuda::value:
    case nb::device::cuda_managed::value:
      return {core::DeviceKind::Cuda, array.device_id()};
    default:
      break;
  }
  YR_USER_ERROR("input " << index << " lives on " << dlpack_device_name(array.device_type())
                         << " memory; expected cpu or cuda memory");
}

// Holds an array for a borrowed tensor. The last tensor using it may die on any thread, so the
// release takes the GIL.
std::shared_ptr<void> keep_alive(const InputArray& array) {
  return std::shared_ptr<void>(new InputArray(array), [](void* held) {
    nb::gil_scoped_acquire gil;
    delete static_cast<InputArray*>(held);
  });
}

void bind_dtypes(nb::module_& m) {
  nb::enum_<core::DType> dtype(m, "DType");
#define YR_DTYPE_VALUE(id, name, ...) dtype.value(name, core::DType::id);
  YIRAGE_DTYPES(YR_DTYPE_VALUE)
#undef YR_DTYPE_VALUE
  dtype.def_prop_ro(
      "itemsize", [](core::DType self) { return core::dtype_size(self); }, "Bytes per element.");
  dtype.def_prop_ro(
      "is_float", [](core::DType self) { return core::dtype_is_float(self); },
      "True for float32, float16 and bfloat16.");
}

void bind_errors(nb::module_& m) {
  nb::exception<core::UserError>(m, "UserError", PyExc_ValueError).attr("__doc__") =
      "Bad input: the message says what was wrong and what was expected.";
  nb::exception<core::InternalError>(m, "InternalError", PyExc_RuntimeError).attr("__doc__") =
      "A broken invariant inside yirage: the message names the condition, file and line.";
}

void bind_cpu_features(nb::module_& m) {
  nb::class_<core::CpuFeatures>(m, "CpuFeatures", "What the host CPU offers.")
      .def_ro("model", &core::CpuFeatures::model, "Brand string.")
      .def_ro("hardware_threads", &core::CpuFeatures::hardware_threads, "Logical CPUs.")
      .def_ro("avx2", &core::CpuFeatures::avx2, "AVX2 + FMA.")
      .def_ro("avx512f", &core::CpuFeatures::avx512f, "AVX-512 foundation.")
      .def_ro("avx512bw", &core::CpuFeatures::avx512bw, "AVX-512 byte/word.")
      .def_ro("avx512_bf16", &core::CpuFeatures::avx512_bf16, "AVX512-BF16 dot products.")
      .def_ro("avx512_fp16", &core::CpuFeatures::avx512_fp16, "AVX512-FP16 arithmetic.")
      .def_ro("amx_tile", &core::CpuFeatures::amx_tile, "AMX tiles.")
      .def_ro("amx_bf16", &core::CpuFeatures::amx_bf16, "AMX bf16 tile multiply.")
      .def_ro("amx_int8", &core::CpuFeatures::amx_int8, "AMX int8 tile multiply.")
      .def_prop_ro("features", &core::CpuFeatures::names,
                   "Names of the extensions present, e.g. ['avx2', 'avx512f'].")
      .def("__repr__", [](const core::CpuFeatures& self) {
        std::string features;
        for (const auto& name : self.names()) features += (features.empty() ? "" : " ") + name;
        return "CpuFeatures(model='" + self.model +
               "', hardware_threads=" + std::to_string(self.hardware_threads) + ", features=[" +
               features + "])";
      });
  m.def("cpu_features", &core::cpu_features, nb::rv_policy::reference,
        "Detects the host CPU (once) and describes it.");
  m.def("set_num_threads", &core::set_num_threads, nb::arg("n"),
        "Sets the threads of yirage's global pool (1 to 4096, the caller included).");
  m.def("get_num_threads", &core::num_threads,
        "Threads of yirage's global pool: YIRAGE_NUM_THREADS or all cores unless set.");
}

}  // namespace

core::Tensor tensor_from_array(const InputArray& array, std::optional<core::DType> declared,
                               std::size_t index) {
  const dl::dtype given = array.dtype();
  std::optional<core::DType> dtype = dtype_from_dlpack(given);
  if (declared && declared != dtype) {
    const bool bits16 = given.lanes == 1 && given.bits == 16 &&
                        (given.code == static_cast<uint8_t>(dl::dtype_code::UInt) ||
                         given.code == static_cast<uint8_t>(dl::dtype_code::Int));
    YR_USER_CHECK(bits16 && core::dtype_size(*declared) == 2 && core::dtype_is_float(*declared),
                  "input " << index << " has dtype " << dlpack_dtype_name(given)
                           << " and cannot be read as " << core::dtype_name(*declared)
                           << "; only 16-bit integer arrays carry float16 or bfloat16 bits");
    dtype = declared;
  }
  YR_USER_CHECK(dtype.has_value(), "input " << index << " has dtype " << dlpack_dtype_name(given)
                                            << ", which yirage does not support; expected one of "
                                            << supported_dtype_names());
  const core::Device device = device_of(array, index);
  core::Shape shape(array.ndim());
  std::vector<int64_t> strides(array.ndim());
  for (std::size_t i = 0; i < array.ndim(); ++i) {
    shape[i] = static_cast<int64_t>(array.shape(i));
    strides[i] = array.stride(i);
  }
  return core::Tensor::borrow(const_cast<void*>(array.data()), shape, strides, *dtype, device,
                              keep_alive(array));
}

nb::object tensor_to_array(core::Tensor tensor, ArrayKind kind) {
  const std::size_t ndim = tensor.shape().size();
  std::vector<std::size_t> shape(ndim);
  for (std::size_t i = 0; i < ndim; ++i) shape[i] = static_cast<std::size_t>(tensor.shape()[i]);
  const std::vector<int64_t> strides = tensor.strides();
  const dl::dtype dtype = kind == ArrayKind::Numpy && tensor.dtype() == core::DType::BF16
                              ? nb::dtype<uint16_t>()
                              : dlpack_dtype(tensor.dtype());
  const core::Device device = tensor.device();
  const int device_type =
      device.kind == core::DeviceKind::Cuda ? nb::device::cuda::value : nb::device::cpu::value;
  void* data = tensor.data();
  // The capsule owns a copy of the tensor handle, so the storage lives as long as the array.
  nb::capsule owner(new core::Tensor(std::move(tensor)),
                    [](void* held) noexcept { delete static_cast<core::Tensor*>(held); });
  if (kind == ArrayKind::Numpy) {
    return nb::ndarray<nb::numpy>(data, ndim, shape.data(), owner, strides.data(), dtype,
                                  device_type, device.index)
        .cast();
  }
  return nb::ndarray<nb::array_api>(data, ndim, shape.data(), owner, strides.data(), dtype,
                                    device_type, device.index)
      .cast();
}

void bind_core(nb::module_& m) {
  m.attr("__version__") = YIRAGE_VERSION;
  bind_dtypes(m);
  bind_errors(m);
  bind_cpu_features(m);
}

}  // namespace yirage::python
