// Token sampling in Hugging Face's processor order: repetition penalty, then temperature,
// top-k, top-p and min-p, then one draw from a counter-based generator.
#include "yirage/llm/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "yirage/core/error.h"

namespace yirage::llm {

namespace {

// Temperatures below this are greedy (dividing by them would only overflow).
constexpr double kGreedyTemperature = 1e-5;
// Top-p sorts the candidates once selection has narrowed the cut to this many.
constexpr std::size_t kTopPSortBelow = 64;

uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

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
  const auto vocab = static_cast<int64_t>(logits.size());
  YR_USER_CHECK(vocab > 0, "cannot sample from empty logits");
  scratch_.assign(logits.begin(), logits.end());
  for (int64_t id = 0; id < vocab; ++id) {
    YR_USER_CHECK(
        !std::isnan(scratch_[id]) && scratch_[id] != std::numeric_limits<float>::infinity(),
        "logit of token " << id << " is " << scratch_[id]
                          << "; expected a finite number or -inf (masked)");
  }

  // Repetition penalty (each distinct seen token once): shrink positive logits, grow negative.
  if (params_.repetition_penalty != 1.0 && !seen.empty()) {
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
  }

  // Ties go to the lowest id, as argmax does.
  const auto best =
      static_cast<int64_t>(std::max_element(scratch_.begin(), scratch_.end()) - scratch_.begin());
  YR_USER_CHECK(scratch_[best] != -std::numeric_limits<float>::infinity(),
                "every logit is -inf; nothing can be sampled");
  if (params_.temperature < kGreedyTemperature) return best;

  const uint64_t draw = counter_++;
  const double inverse_temperature = 1.0 / params_.temperature;
  const double max_logit = scratch_[best];
  // Candidates: every token that is not masked, ordered by logit (then id) when needed.
  order_.clear();
  for (int64_t id = 0; id < vocab; ++id) {
    if (scratch_[id] != -std::numeric_limits<float>::infinity()) order_.push_back(id);
  }
  const auto higher = [this](int64_t a, int64_t b) {
    return scratch_[a] != scratch_[b] ? scratch_[a] > scratch_[b] : a < b;
  };

  // Top-k keeps every token whose logit reaches the k-th largest (ties included).
  const int64_t k = params_.top_k;
  if (k > 0 && k < static_cast<int64_t>(order_.size())) {
    std::nth_element(order_.begin(), order_.begin() + (k - 1), order_.end(), higher);
    const float kth = scratch_[order_[k - 1]];
    std::erase_if(order_, [&](int64_t id) { return scratch_[id] < kth; });
  }

  // Unnormalised probabilities exp((logit - max) / T), by token id: the largest is 1.
  weights_.resize(static_cast<std::size_t>(vocab));
  for (const int64_t id : order_) {
    weights_[id] = std::exp((static_cast<double>(scratch_[id]) - max_logit) * inverse_temperature);
  }

  // Top-p keeps the most likely tokens while the mass before them is below top_p. Selection
  // halves the unsettled range [lo, hi) of the candidates (ordered by `higher` across ranges)
  // until it is small enough to sort.
  if (params_.top_p < 1.0) {
    double target = 0;
    for (const int64_t id : order_) target += weights_[id];
    target *= params_.top_p;
    const auto mass_of = [&](std::size_t begin, std::size_t end) {
      double mass = 0;
      for (std::size_t i = begin; i < end; ++i) mass += weights_[order_[i]];
      return mass;
    };
    std::size_t lo = 0, hi = order_.size();
    double settled = 0;  // mass of [0, lo), all kept
    while (hi - lo > kTopPSortBelow) {
      const std::size_t mid = lo + (hi - lo) / 2;
      const auto at = [&](std::size_t i) {
        return order_.begin() + static_cast<std::ptrdiff_t>(i);
      };
      std::nth_element(at(lo), at(mid), at(hi), higher);
      const double upper = mass_of(lo, mid);
      if (settled + upper >= target) {
        hi = mid;
      } else {
        settled += upper;
        lo = mid;
      }
    }
    std::sort(order_.begin() + static_cast<std::ptrdiff_t>(lo),
              order_.begin() + static_cast<std::ptrdiff_t>(hi), higher);
    std::size_t keep = lo;
    while (keep < hi && settled < target) settled += weights_[order_[keep++]];
    order_.resize(std::max<std::size_t>(keep, 1));
  }

  // Min-p then drops tokens below min_p times the most likely one.
  if (params_.min_p > 0) {
    std::erase_if(order_, [&](int64_t id) { return weights_[id] < params_.min_p; });
  }

  double total = 0;
  for (const int64_t id : order_) total += weights_[id];

  const double target = uniform01(params_.seed, draw) * total;
  double mass = 0;
  for (std::size_t i = 0; i < order_.size(); ++i) {
    mass += weights_[order_[i]];
    if (target < mass) return order_[i];
  }
  return order_.back();  // rounding left the target at the very end
}

}  // namespace yirage::llm
