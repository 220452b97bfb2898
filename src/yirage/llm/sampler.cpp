// Token sampling in Hugging Face's processor order: repetition penalty, then temperature,
// top-k, top-p and min-p, then one draw from a counter-based generator.
#include "yirage/llm/sampler.h"
#include "yirage/core/hash.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "yirage/core/error.h"

namespace yirage::llm {

namespace {

// Temperatures below this are greedy (dividing by them would only overflow).
constexpr double kGreedyTemperature = 1e-5;
// Top-p buckets tokens by log-weight, 64 buckets per nat down to e^-64 (the last holds the rest).
constexpr std::size_t kTopPBuckets = 4096;
constexpr double kTopPBucketsPerNat = 64.0;

using core::mix64;

// Draw number `counter` of the stream `seed`: uniform in [0, 1) with 53 random bits.
double uniform01(uint64_t seed, uint64_t counter) {
  const uint64_t bits =
      mix64(mix64(seed ^ 0x6a09e667f3bcc909ull) + 0x9e3779b97f4a7c15ull * counter);
  return static_cast<double>(bits >> 11) * 0x1p-53;
}

}  // namespace

void SamplingParams::validate() const {
  YR_USER_CHECK(std::isfinite(temperature) && temperature >= 0,
                "temperature must be a finite number >= 0 (0: greedy); got " << temperature);
  YR_USER_CHECK(top_k >= -1, "top_k must be -1 or 0 (off) or a positive count; got " << top_k);
  YR_USER_CHECK(std::isfinite(top_p) && top_p > 0 && top_p <= 1,
                "top_p must be in (0, 1] (1: off); got " << top_p);
  YR_USER_CHECK(std::isfinite(min_p) && min_p >= 0 && min_p <= 1,
                "min_p must be in [0, 1] (0: off); got " << min_p);
  YR_USER_CHECK(
      std::isfinite(repetition_penalty) && repetition_penalty > 0,
      "repetition_penalty must be a finite number > 0 (1: off); got " << repetition_penalty);
  YR_USER_CHECK(max_tokens >= 1, "max_tokens must be at least 1; got " << max_tokens);
  for (const int64_t id : stop_token_ids) {
    YR_USER_CHECK(id >= 0, "stop_token_ids must hold token ids >= 0; got " << id);
  }
  for (const std::string& text : stop) {
    YR_USER_CHECK(!text.empty(), "stop strings must not be empty");
  }
}

Sampler::Sampler(const SamplingParams& params) : params_(params) {
  params_.validate();
}

int64_t Sampler::sample(std::span<const float> logits, std::span<const int64_t> seen) {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  const auto vocab = static_cast<int64_t>(logits.size());
  YR_USER_CHECK(vocab > 0, "cannot sample from empty logits");
  const float* values = logits.data();

  // Repetition penalty (each distinct seen token once): shrink positive logits, grow negative.
  if (params_.repetition_penalty != 1.0 && !seen.empty()) {
    scratch_.assign(logits.begin(), logits.end());
    order_.assign(seen.begin(), seen.end());
    std::sort(order_.begin(), order_.end());
    order_.erase(std::unique(order_.begin(), order_.end()), order_.end());
    const auto penalty = static_cast<float>(params_.repetition_penalty);
    for (const int64_t id : order_) {
      YR_USER_CHECK(id >= 0 && id < vocab,
                    "seen token id " << id << " is outside the vocabulary of " << vocab);
      float& logit = scratch_[id];
      logit = logit < 0 ? logit * penalty : logit / penalty;
    }
    values = scratch_.data();
  }

  // One pass checks the logits and finds the first largest (argmax's choice among ties).
  int64_t best = 0;
  float best_value = -kInf;
  for (int64_t id = 0; id < vocab; ++id) {
    const float value = values[id];
    if (!(value < kInf)) {
      YR_USER_ERROR("logit of token " << id << " is " << logits[id]
                                      << "; expected a finite number or -inf (masked)");
    }
    if (value > best_value) {
      best_value = value;
      best = id;
    }
  }
  YR_USER_CHECK(best_value > -kInf, "every logit is -inf; nothing can be sampled");
  if (params_.temperature < kGreedyTemperature) return best;
  const uint64_t draw = counter_++;

  // Candidates: top-k keeps every token whose logit reaches the k-th largest (ties included);
  // without it, every token that is not masked.
  order_.clear();
  const int64_t k = params_.top_k;
  if (k > 0 && k < vocab) {
    top_.clear();  // a min-heap of the k largest logits
    for (int64_t id = 0; id < vocab; ++id) {
      const float value = values[id];
      if (static_cast<int64_t>(top_.size()) < k) {
        top_.push_back(value);
        std::push_heap(top_.begin(), top_.end(), std::greater<>());
      } else if (value > top_.front()) {
        std::pop_heap(top_.begin(), top_.end(), std::greater<>());
        top_.back() = value;
        std::push_heap(top_.begin(), top_.end(), std::greater<>());
      }
    }
    const float kth = std::max(top_.front(), -std::numeric_limits<float>::max());
    for (int64_t id = 0; id < vocab; ++id) {
      if (values[id] >= kth) order_.push_back(id);
    }
  } else {
    for (int64_t id = 0; id < vocab; ++id) {
      if (values[id] > -kInf) order_.push_back(id);
    }
  }

  // Unnormalised probabilities exp((logit - max) / T), by token id: the largest is 1.
  weights_.resize(static_cast<std::size_t>(vocab));
  const double inverse_temperature = 1.0 / params_.temperature;
  for (const int64_t id : order_) {
    weights_[id] = std::exp(
        static_cast<float>((static_cast<double>(values[id]) - best_value) * inverse_temperature));
  }

  // Top-p keeps the most likely tokens while the mass before them is below top_p. Tokens go to
  // buckets by log-weight (monotone in the logit); the bucket where the mass crosses top_p is the
  // only one that needs sorting.
  if (params_.top_p < 1.0) {
    const auto bucket_of = [&](int64_t id) {
      const double depth =
          (static_cast<double>(best_value) - values[id]) * inverse_temperature * kTopPBucketsPerNat;
      return depth < kTopPBuckets - 1 ? static_cast<std::size_t>(depth) : kTopPBuckets - 1;
    };
    bucket_mass_.assign(kTopPBuckets, 0.0);
    double target = 0;
    for (const int64_t id : order_) {
      target += weights_[id];
      bucket_mass_[bucket_of(id)] += weights_[id];
    }
    target *= params_.top_p;
    std::size_t crossing = 0;
    double mass = 0;  // of the buckets above `crossing`
    while (crossing + 1 < kTopPBuckets && mass + bucket_mass_[crossing] < target) {
      mass += bucket_mass_[crossing++];
    }
    // Buckets above the crossing one first, then the crossing one sorted, then the rest.
    const auto above = std::partition(order_.begin(), order_.end(),
                                      [&](int64_t id) { return bucket_of(id) < crossing; });
    const auto at_crossing =
        std::partition(above, order_.end(), [&](int64_t id) { return bucket_of(id) == crossing; });
    std::sort(above, at_crossing, [values](int64_t a, int64_t b) {
      return values[a] != values[b] ? values[a] > values[b] : a < b;
    });
    auto keep = above;
    while (keep != at_crossing && mass < target) mass += weights_[*keep++];
    order_.erase(keep == order_.begin() ? keep + 1 : keep, order_.end());
  }

  // Min-p then drops tokens below min_p times the most likely one.
  if (params_.min_p > 0) {
    std::erase_if(order_, [&](int64_t id) { return weights_[id] < params_.min_p; });
  }

  double total = 0;
  for (const int64_t id : order_) total += weights_[id];
  const double target = uniform01(params_.seed, draw) * total;
  double mass = 0;
  for (const int64_t id : order_) {
    mass += weights_[id];
    if (target < mass) return id;
  }
  return order_.back();  // rounding left the target at the very end
}

}  // namespace yirage::llm
