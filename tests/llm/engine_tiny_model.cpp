#include "llm/engine_tiny_model.h"

#include <cmath>
#include <random>

#include "yirage/llm/checkpoint.h"

namespace yirage::testing {

namespace {

using Matrix = std::vector<std::vector<double>>;

std::vector<double> values_of(const core::Tensor& tensor) {
  std::vector<double> values(static_cast<std::size_t>(tensor.numel()));
  for (int64_t i = 0; i < tensor.numel(); ++i) values[static_cast<std::size_t>(i)] = tensor.get(i);
  return values;
}

// x @ w^T for a Hugging Face Linear weight w [out, in].
Matrix linear(const Matrix& x, const core::Tensor& w) {
  const int64_t out = w.dim(0), in = w.dim(1);
  const auto wv = values_of(w);
  Matrix y(x.size(), std::vector<double>(static_cast<std::size_t>(out)));
  for (std::size_t r = 0; r < x.size(); ++r)
    for (int64_t o = 0; o < out; ++o) {
      double sum = 0.0;
      for (int64_t i = 0; i < in; ++i)
        sum += x[r][static_cast<std::size_t>(i)] * wv[static_cast<std::size_t>(o * in + i)];
      y[r][static_cast<std::size_t>(o)] = sum;
    }
  return y;
}

// RMSNorm of each width-`width` piece of each row.
Matrix rms_norm(const Matrix& x, const core::Tensor& weight, double eps) {
  const auto g = values_of(weight);
  const std::size_t width = g.size();
  Matrix y = x;
  for (auto& row : y)
    for (std::size_t start = 0; start < row.size(); start += width) {
      double squares = 0.0;
      for (std::size_t i = 0; i < width; ++i) squares += row[start + i] * row[start + i];
      const double scale = 1.0 / std::sqrt(squares / static_cast<double>(width) + eps);
      for (std::size_t i = 0; i < width; ++i) row[start + i] *= scale * g[i];
    }
  return y;
}

// Rotates each head (width d) of row r by position r, halves layout.
void rope(Matrix& x, int64_t d, double theta) {
  const int64_t half = d / 2;
  for (std::size_t r = 0; r < x.size(); ++r)
    for (std::size_t start = 0; start < x[r].size(); start += static_cast<std::size_t>(d))
      for (int64_t i = 0; i < half; ++i) {
        const double angle =
            static_cast<double>(r) *
            std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(d));
        const double c = std::cos(angle), s = std::sin(angle);
        double& a = x[r][start + static_cast<std::size_t>(i)];
        double& b = x[r][start + static_cast<std::size_t>(half + i)];
        const double a0 = a, b0 = b;
        a = a0 * c - b0 * s;
        b = b0 * c + a0 * s;
      }
}

}  // namespace

llm::Qwen3Config tiny_config(bool tied) {
  llm::Qwen3Config config;
  config.vocab_size = 64;
  config.hidden_size = 32;
  config.intermediate_size = 48;
  config.num_hidden_layers = 2;
  config.num_attention_heads = 4;
  config.num_key_value_heads = 2;
  config.head_dim = 8;
  config.max_position_embeddings = 64;
  config.rms_norm_eps = 1e-6;
  config.rope_theta = 10000.0;
  config.tie_word_embeddings = tied;
  config.torch_dtype = core::DType::F32;
  config.eos_token_ids = {63};
  return config;
}

std::map<std::string, core::Tensor> tiny_weights(const llm::Qwen3Config& config, uint64_t seed,
                                                 core::DType dtype) {
  std::mt19937_64 rng(seed);
  std::map<std::string, core::Tensor> weights;
  for (const auto& [name, shape] : llm::qwen3_weight_shapes(config)) {
    const bool norm = shape.size() == 1;
    const bool embedding = name == "model.embed_tokens.weight";
    // Norm weights near 1, embeddings of unit size, matrices that keep activations near it.
    const double scale = norm        ? 0.2
                         : embedding ? 1.0
                                     : 1.0 / std::sqrt(static_cast<double>(shape.back()));
    std::normal_distribution<double> normal(0.0, scale);
    core::Tensor tensor = core::Tensor::empty(shape, dtype);
    for (int64_t i = 0; i < tensor.numel(); ++i)
      core::store_from_double(tensor.data(), dtype, static_cast<std::size_t>(i),
                              (norm ? 1.0 : 0.0) + normal(rng));
    weights[name] = tensor;
  }
  return weights;
}

llm::WeightLookup lookup_in(const std::map<std::string, core::Tensor>& weights) {
  return [&weights](const std::string& name) {
    const auto it = weights.find(name);
    return it == weights.end() ? core::Tensor{} : it->second;
  };
}

std::vector<std::vector<double>> naive_logits(const llm::Qwen3Config& config,
                                              const std::map<std::string, core::Tensor>& weights,
                                              const std::vector<int64_t>& tokens) {
  const auto w = [&](const std::string& name) { return weights.at(name); };
  const int64_t hidden = config.hidden_size, d = config.head_dim;
  const int64_t heads = config.num_attention_heads, kv_heads = config.num_key_value_heads;
  const double eps = config.rms_norm_eps;
  const auto embed = values_of(w("model.embed_tokens.weight"));
  const std::size_t n = tokens.size();
  Matrix x(n, std::vector<double>(static_cast<std::size_t>(hidden)));
  for (std::size_t t = 0; t < n; ++t)
    for (int64_t i = 0; i < hidden; ++i)
      x[t][static_cast<std::size_t>(i)] = embed[static_cast<std::size_t>(tokens[t] * hidden + i)];
  for (int64_t l = 0; l < config.num_hidden_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    const Matrix h = rms_norm(x, w(p + "input_layernorm.weight"), eps);
    Matrix q = rms_norm(linear(h, w(p + "self_attn.q_proj.weight")),
                        w(p + "self_attn.q_norm.weight"), eps);
    Matrix k = rms_norm(linear(h, w(p + "self_attn.k_proj.weight")),
                        w(p + "self_attn.k_norm.weight"), eps);
    const Matrix v = linear(h, w(p + "self_attn.v_proj.weight"));
    rope(q, d, config.rope_theta);
    rope(k, d, config.rope_theta);
    Matrix attn(n, std::vector<double>(static_cast<std::size_t>(heads * d), 0.0));
    for (std::size_t t = 0; t < n; ++t)
      for (int64_t head = 0; head < heads; ++head) {
        const int64_t kv = head / (heads / kv_heads);
        std::vector<double> scores(t + 1);
        double top = -1e300;
        for (std::size_t s = 0; s <= t; ++s) {
          double dot = 0.0;
          for (int64_t i = 0; i < d; ++i)
            dot += q[t][static_cast<std::size_t>(head * d + i)] *
                   k[s][static_cast<std::size_t>(kv * d + i)];
          scores[s] = dot / std::sqrt(static_cast<double>(d));
          top = std::max(top, scores[s]);
        }
        double total = 0.0;
        for (double& score : scores) total += (score = std::exp(score - top));
        for (std::size_t s = 0; s <= t; ++s)
          for (int64_t i = 0; i < d; ++i)
            attn[t][static_cast<std::size_t>(head * d + i)] +=
                scores[s] / total * v[s][static_cast<std::size_t>(kv * d + i)];
      }
    const Matrix o = linear(attn, w(p + "self_attn.o_proj.weight"));
    for (std::size_t t = 0; t < n; ++t)
      for (int64_t i = 0; i < hidden; ++i)
        x[t][static_cast<std::size_t>(i)] += o[t][static_cast<std::size_t>(i)];
    const Matrix h2 = rms_norm(x, w(p + "post_attention_layernorm.weight"), eps);
    Matrix gate = linear(h2, w(p + "mlp.gate_proj.weight"));
    const Matrix up = linear(h2, w(p + "mlp.up_proj.weight"));
    for (std::size_t t = 0; t < n; ++t)
      for (std::size_t i = 0; i < gate[t].size(); ++i)
        gate[t][i] = gate[t][i] / (1.0 + std::exp(-gate[t][i])) * up[t][i];
    const Matrix down = linear(gate, w(p + "mlp.down_proj.weight"));
    for (std::size_t t = 0; t < n; ++t)
      for (int64_t i = 0; i < hidden; ++i)
        x[t][static_cast<std::size_t>(i)] += down[t][static_cast<std::size_t>(i)];
  }
  const Matrix normed = rms_norm(x, w("model.norm.weight"), eps);
  return linear(normed,
                config.tie_word_embeddings ? w("model.embed_tokens.weight") : w("lm_head.weight"));
}

}  // namespace yirage::testing
