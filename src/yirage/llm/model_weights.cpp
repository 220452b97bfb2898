#include "yirage/llm/model_weights.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <vector>

#include "yirage/core/error.h"
#include "yirage/core/thread_pool.h"
#include "yirage/llm/checkpoint.h"
#include "yirage/llm/float_rows.h"

namespace yirage::llm {

namespace {

std::string layer_name(int64_t layer, const std::string& suffix) {
  return "model.layers." + std::to_string(layer) + "." + suffix;
}

// The weight `name`, checked against its shape in `shapes`.
core::Tensor fetch(const std::map<std::string, core::Shape>& shapes, const WeightLookup& lookup,
                   const std::string& name) {
  const core::Shape& expected = shapes.at(name);
  core::Tensor tensor = lookup(name);
  YR_USER_CHECK(tensor.defined(), "weight '" << name << "' is missing; expected a tensor of shape "
                                             << core::shape_to_string(expected));
  YR_USER_CHECK(tensor.shape() == expected,
                "weight '" << name << "' has shape " << core::shape_to_string(tensor.shape())
                           << "; the config implies " << core::shape_to_string(expected));
  YR_USER_CHECK(core::dtype_is_float(tensor.dtype()),
                "weight '" << name << "' is " << core::dtype_name(tensor.dtype())
                           << "; expected float32, bfloat16 or float16");
  return tensor.contiguous();
}

// `tensor` (contiguous) in `dtype`: itself when it has that dtype, else a converted copy.
core::Tensor converted(const core::Tensor& tensor, core::DType dtype) {
  if (tensor.dtype() == dtype) return tensor;
  core::Tensor out = core::Tensor::empty(tensor.shape(), dtype);
  const int64_t count = tensor.numel(), chunk = 1 << 16;
  const std::size_t in_size = core::dtype_size(tensor.dtype()), out_size = core::dtype_size(dtype);
  core::ThreadPool::global().parallel_for(
      (count + chunk - 1) / chunk, 1, [&](int64_t begin, int64_t end) {
        std::vector<float> buffer(static_cast<std::size_t>(chunk));
        for (int64_t c = begin; c < end; ++c) {
          const int64_t first = c * chunk, n = std::min(chunk, count - first);
          load_floats(static_cast<const uint8_t*>(tensor.data()) + first * in_size, tensor.dtype(),
                      buffer.data(), n);
          store_floats(buffer.data(), dtype, static_cast<uint8_t*>(out.data()) + first * out_size,
                       n);
        }
      });
  return out;
}

// Writes the transpose of the [rows, cols] matrix `source` (of `dtype`) into columns
// [column, column + rows) of `destination`, a [cols, width] matrix of `dtype`.
void transpose_into(const core::Tensor& source, core::Tensor& destination, int64_t column) {
  const int64_t rows = source.dim(0), cols = source.dim(1), width = destination.dim(1);
  const std::size_t size = core::dtype_size(source.dtype());
  const auto* in = static_cast<const uint8_t*>(source.data());
  auto* out = static_cast<uint8_t*>(destination.data());
  constexpr int64_t kTile = 64;
  core::ThreadPool::global().parallel_for(
      (rows + kTile - 1) / kTile, 1, [&](int64_t begin, int64_t end) {
        for (int64_t tile = begin; tile < end; ++tile) {
          const int64_t r0 = tile * kTile, r1 = std::min(rows, r0 + kTile);
          for (int64_t c0 = 0; c0 < cols; c0 += kTile) {
            const int64_t c1 = std::min(cols, c0 + kTile);
            for (int64_t c = c0; c < c1; ++c) {
              for (int64_t r = r0; r < r1; ++r) {
                std::memcpy(out + static_cast<std::size_t>(c * width + column + r) * size,
                            in + static_cast<std::size_t>(r * cols + c) * size, size);
              }
            }
          }
        }
      });
}

// The [in, out] form of Linear weights [out_i, in] stacked along out.
core::Tensor transposed(const std::vector<core::Tensor>& parts, core::DType dtype) {
  int64_t width = 0;
  for (const auto& part : parts) width += part.dim(0);
  core::Tensor out = core::Tensor::empty({parts.front().dim(1), width}, dtype);
  int64_t column = 0;
  for (const auto& part : parts) {
    transpose_into(converted(part, dtype), out, column);
    column += part.dim(0);
  }
  return out;
}

}  // namespace

Qwen3Weights load_weights(const Qwen3Config& config, const WeightLookup& lookup,
                          core::DType dtype) {
  YR_USER_CHECK(core::dtype_is_float(dtype), "model dtype " << core::dtype_name(dtype)
                                                            << " is not a float type; expected "
                                                               "float32, bfloat16 or float16");
  std::map<std::string, core::Shape> shapes;
  for (const auto& [name, shape] : qwen3_weight_shapes(config)) shapes[name] = shape;
  shapes["lm_head.weight"] = {config.vocab_size, config.hidden_size};
  const auto get = [&](const std::string& name) { return fetch(shapes, lookup, name); };
  Qwen3Weights weights;
  const core::Tensor embed = get("model.embed_tokens.weight");
  weights.embed = converted(embed, dtype);
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    const auto name = [i](const char* suffix) { return layer_name(i, suffix); };
    LayerWeights layer;
    layer.input_norm = converted(get(name("input_layernorm.weight")), dtype);
    layer.qkv =
        transposed({get(name("self_attn.q_proj.weight")), get(name("self_attn.k_proj.weight")),
                    get(name("self_attn.v_proj.weight"))},
                   dtype);
    layer.q_norm = converted(get(name("self_attn.q_norm.weight")), dtype);
    layer.k_norm = converted(get(name("self_attn.k_norm.weight")), dtype);
    layer.o = transposed({get(name("self_attn.o_proj.weight"))}, dtype);
    layer.post_norm = converted(get(name("post_attention_layernorm.weight")), dtype);
    layer.gate = transposed({get(name("mlp.gate_proj.weight"))}, dtype);
    layer.up = transposed({get(name("mlp.up_proj.weight"))}, dtype);
    layer.down = transposed({get(name("mlp.down_proj.weight"))}, dtype);
    weights.layers.push_back(std::move(layer));
  }
  weights.final_norm = converted(get("model.norm.weight"), dtype);
  weights.lm_head = transposed({config.tie_word_embeddings ? embed : get("lm_head.weight")}, dtype);
  return weights;
}

}  // namespace yirage::llm
