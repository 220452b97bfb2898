#include "yirage/backend/cuda/op_codegen_parts.h"

#include <algorithm>

#include "yirage/backend/cuda/dependent_launch.h"
#include "yirage/backend/cuda/device_code.h"
#include "yirage/core/error.h"

namespace yirage::backend::cuda::opgen {

using ir::TensorType;

std::string num(int64_t value) {
  return std::to_string(value) + "LL";
}

// extern "C" __global__ signature: operands, outputs, extra parameters.
std::string signature(const std::vector<TensorType>& inputs, const std::vector<TensorType>& outputs,
                      const std::string& extra, unsigned threads) {
  std::string text =
      "extern \"C\" __global__ void __launch_bounds__(" + std::to_string(threads) + ") yr_kernel(";
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    text +=
        "const " + storage_type(inputs[i].dtype) + "* __restrict__ in" + std::to_string(i) + ", ";
  }
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    text += storage_type(outputs[i].dtype) + "* __restrict__ out" + std::to_string(i) +
            (i + 1 < outputs.size() || !extra.empty() ? ", " : "");
  }
  return text + extra + ")";
}

void open_kernel(CodeWriter& code, const std::string& signature) {
  code.open(signature);
  code.raw(dependent_prologue());
}

std::string load(const TensorType& type, const std::string& pointer, const std::string& index) {
  return "yr_load_" + dtype_tag(type.dtype) + "(" + pointer + ", " + index + ")";
}

std::string store(const TensorType& type, const std::string& pointer, const std::string& index,
                  const std::string& value) {
  return "yr_store_" + dtype_tag(type.dtype) + "(" + pointer + ", " + index + ", " + value + ");";
}

unsigned blocks_for(int64_t work) {
  return static_cast<unsigned>(std::clamp<int64_t>((work + kThreads - 1) / kThreads, 1, 65536));
}

KernelSource finish(CodeWriter& code, unsigned blocks) {
  KernelSource kernel;
  kernel.source = device_prelude() + code.str();
  kernel.grid = {blocks, 1, 1};
  kernel.block = {kThreads, 1, 1};
  return kernel;
}

// Opens a grid-stride loop over `count` items as `i`.
void open_grid_loop(CodeWriter& code, int64_t count) {
  code.open("for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < " +
            num(count) + "; i += (long long)gridDim.x * blockDim.x)");
}

// ---- vector access: 16-byte loads and stores of V elements, converted to and from float ----

// Register type of `bytes` bytes (2, 4, 8 or 16).
std::string raw_type(int64_t bytes) {
  switch (bytes) {
    case 16:
      return "uint4";
    case 8:
      return "uint2";
    case 4:
      return "unsigned";
    case 2:
      return "unsigned short";
    default:
      break;
  }
  YR_INTERNAL_ERROR("no register type of " << bytes << " bytes");
}

std::string raw_of(const TensorType& type, int64_t width) {
  return raw_type(width * static_cast<int64_t>(core::dtype_size(type.dtype)));
}

// Declares `float name[width]` holding the raw register value `raw` unpacked.
void unpack(CodeWriter& code, const TensorType& type, int64_t width, const std::string& raw,
            const std::string& name) {
  const std::string w = std::to_string(width), t = storage_type(type.dtype);
  code.line("float " + name + "[" + w + "];");
  code.open("");
  code.line("const " + t + "* part = reinterpret_cast<const " + t + "*>(&(" + raw + "));");
  code.line("#pragma unroll");
  code.line("for (int j = 0; j < " + w + "; ++j) " + name + "[j] = yr_load_" +
            dtype_tag(type.dtype) + "(part, j);");
  code.close();
}

// Declares `float name[width]` loaded from the aligned vector at pointer + index.
void load_vector(CodeWriter& code, const TensorType& type, int64_t width,
                 const std::string& pointer, const std::string& index, const std::string& name) {
  const std::string raw = raw_of(type, width);
  code.line("const " + raw + " " + name + "_raw = *reinterpret_cast<const " + raw + "*>(" +
            pointer + " + (" + index + "));");
  unpack(code, type, width, name + "_raw", name);
}

// Stores the float expression `value` (over j in [0, width)) as an aligned vector.
void store_vector(CodeWriter& code, const TensorType& type, int64_t width,
                  const std::string& pointer, const std::string& index, const std::string& value) {
  const std::string w = std::to_string(width), t = storage_type(type.dtype);
  const std::string raw = raw_of(type, width);
  code.open("");
  code.line(raw + " packed;");
  code.line(t + "* part = reinterpret_cast<" + t + "*>(&packed);");
  code.line("#pragma unroll");
  code.line("for (int j = 0; j < " + w + "; ++j) yr_store_" + dtype_tag(type.dtype) + "(part, j, " +
            value + ");");
  code.line("*reinterpret_cast<" + raw + "*>(" + pointer + " + (" + index + ")) = packed;");
  code.close();
}

// Elements per 16-byte vector of the widest of `types`.
int64_t vector_width(const std::vector<TensorType>& types) {
  std::size_t widest = 1;
  for (const auto& type : types) widest = std::max(widest, core::dtype_size(type.dtype));
  return static_cast<int64_t>(16 / widest);
}

int64_t dividing_width(int64_t widest, int64_t extent) {
  int64_t width = std::max<int64_t>(widest, 1);
  while (width > 1 && extent % width != 0) width /= 2;
  return width;
}

}  // namespace yirage::backend::cuda::opgen
