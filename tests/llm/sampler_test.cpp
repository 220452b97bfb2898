// The sampler: greedy, temperature, top-k, top-p, min-p and repetition penalty, each checked
// against the distribution it should draw from (fixed seeds: the checks cannot flake).
#include "yirage/llm/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "test_util.h"

namespace yirage::llm {
namespace {

// Logits whose softmax is exactly `probabilities`.
std::vector<float> logits_of(const std::vector<double>& probabilities) {
  std::vector<float> logits;
  for (const double p : probabilities) {
    logits.push_back(p > 0 ? static_cast<float>(std::log(p))
                           : -std::numeric_limits<float>::infinity());
  }
  return logits;
}

// Counts of `draws` samples.
std::vector<int64_t> histogram(Sampler& sampler, const std::vector<float>& logits, int draws) {
  std::vector<int64_t> counts(logits.size(), 0);
  for (int i = 0; i < draws; ++i) ++counts.at(static_cast<std::size_t>(sampler.sample(logits, {})));
  return counts;
}

// Pearson's chi-square of `counts` against `expected` probabilities (zero-probability tokens
// must never be drawn).
double chi_square(const std::vector<int64_t>& counts, const std::vector<double>& expected) {
  int64_t total = 0;
  for (const int64_t c : counts) total += c;
  double statistic = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    if (expected[i] == 0) {
      EXPECT_EQ(counts[i], 0) << "token " << i << " has probability 0";
      continue;
    }
    const double e = expected[i] * static_cast<double>(total);
    statistic += (static_cast<double>(counts[i]) - e) * (static_cast<double>(counts[i]) - e) / e;
  }
  return statistic;
}

// Chi-square critical values at p = 1e-4 for 1..7 degrees of freedom: a correct sampler exceeds
// them one time in 10,000 seeds; the seeds here are fixed, so the outcome is too.
double critical(std::size_t degrees) {
  static const double kValues[] = {15.14, 18.42, 21.11, 23.51, 25.74, 27.86, 29.88};
  return kValues[degrees - 1];
}

std::vector<double> normalised(std::vector<double> weights) {
  double total = 0;
  for (const double w : weights) total += w;
  for (double& w : weights) w /= total;
  return weights;
}

TEST(SamplingParams, InvalidValuesNameTheFieldAndRange) {
  const auto invalid = [](auto change, const char* field, const char* range) {
    SamplingParams params;
    change(params);
    EXPECT_USER_ERROR([&] { params.validate(); }, field, range);
    EXPECT_USER_ERROR([&] { Sampler sampler(params); }, field);
  };
  invalid([](SamplingParams& p) { p.temperature = -0.5; }, "temperature", ">= 0");
  invalid([](SamplingParams& p) { p.temperature = std::nan(""); }, "temperature", ">= 0");
  invalid([](SamplingParams& p) { p.top_k = -2; }, "top_k", "-1 or 0");
  invalid([](SamplingParams& p) { p.top_p = 0; }, "top_p", "(0, 1]");
  invalid([](SamplingParams& p) { p.top_p = 1.5; }, "top_p", "(0, 1]");
  invalid([](SamplingParams& p) { p.min_p = -0.1; }, "min_p", "[0, 1]");
  invalid([](SamplingParams& p) { p.min_p = 2; }, "min_p", "[0, 1]");
  invalid([](SamplingParams& p) { p.repetition_penalty = 0; }, "repetition_penalty", "> 0");
  invalid([](SamplingParams& p) { p.max_tokens = 0; }, "max_tokens", "at least 1");
  invalid([](SamplingParams& p) { p.stop_token_ids = {4, -1}; }, "stop_token_ids", ">= 0");
  invalid([](SamplingParams& p) { p.stop = {""}; }, "stop strings", "empty");
  SamplingParams fine;
  fine.top_k = -1;
  fine.temperature = 0;
  EXPECT_NO_THROW(fine.validate());
}

TEST(Sampler, BadLogitsAndSeenIdsAreErrors) {
  Sampler sampler(SamplingParams{});
  EXPECT_USER_ERROR([&] { sampler.sample({}, {}); }, "empty logits");
  const std::vector<float> with_nan = {0.f, std::nanf(""), 1.f};
  EXPECT_USER_ERROR([&] { sampler.sample(with_nan, {}); }, "token 1", "nan");
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> masked = {-inf, -inf};
  EXPECT_USER_ERROR([&] { sampler.sample(masked, {}); }, "every logit is -inf");
  SamplingParams penalised;
  penalised.repetition_penalty = 1.3;
  Sampler with_penalty(penalised);
  const std::vector<float> logits = {0.f, 1.f};
  const std::vector<int64_t> seen = {1, 7};
  EXPECT_USER_ERROR([&] { with_penalty.sample(logits, seen); }, "seen token id 7",
                    "vocabulary of 2");
}

TEST(Sampler, GreedyTakesTheFirstLargestLogit) {
  SamplingParams params;
  params.temperature = 0;
  Sampler sampler(params);
  const std::vector<float> logits = {0.5f, 3.f, -1.f, 3.f, 2.f};
  EXPECT_EQ(sampler.sample(logits, {}), 1);
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> masked = {-inf, -2.f, -inf};
  EXPECT_EQ(sampler.sample(masked, {}), 1);
}

TEST(Sampler, TopKOfOneIsGreedy) {
  std::mt19937_64 rng(17);
  std::normal_distribution<float> normal(0.f, 3.f);
  SamplingParams greedy_params;
  greedy_params.temperature = 0;
  Sampler greedy(greedy_params);
  for (uint64_t seed = 0; seed < 50; ++seed) {
    std::vector<float> logits(1000);
    for (float& logit : logits) logit = normal(rng);
    SamplingParams params;
    params.top_k = 1;
    params.temperature = 1.7;
    params.seed = seed;
    Sampler top1(params);
    EXPECT_EQ(top1.sample(logits, {}), greedy.sample(logits, {}));
  }
}

TEST(Sampler, TemperatureDrawsFromTheScaledSoftmax) {
  const std::vector<double> p = {0.05, 0.1, 0.2, 0.3, 0.15, 0.12, 0.06, 0.02};
  for (const double temperature : {1.0, 0.5, 2.0}) {
    SamplingParams params;
    params.temperature = temperature;
    params.seed = 1234;
    Sampler sampler(params);
    std::vector<double> expected;
    for (const double q : p) expected.push_back(std::pow(q, 1.0 / temperature));
    const auto counts = histogram(sampler, logits_of(p), 20000);
    EXPECT_LT(chi_square(counts, normalised(expected)), critical(7))
        << "temperature " << temperature;
  }
}

TEST(Sampler, TopKKeepsTheKMostLikely) {
  const std::vector<double> p = {0.05, 0.1, 0.2, 0.3, 0.15, 0.12, 0.06, 0.02};
  SamplingParams params;
  params.top_k = 3;
  params.seed = 99;
  Sampler sampler(params);
  const auto counts = histogram(sampler, logits_of(p), 20000);
  EXPECT_LT(chi_square(counts, normalised({0, 0, 0.2, 0.3, 0.15, 0, 0, 0})), critical(2));
}

TEST(Sampler, TopPKeepsTheSmallestPrefixReachingTheMass) {
  const std::vector<double> p = {0.15, 0.5, 0.05, 0.3};
  // Sorted: 0.5 (id 1), 0.3 (id 3), 0.15 (id 0), 0.05 (id 2).
  const std::vector<std::pair<double, std::vector<double>>> cases = {
      {0.4, {0, 1, 0, 0}},
      {0.75, {0, 0.5, 0, 0.3}},
      {0.85, {0.15, 0.5, 0, 0.3}},
      {0.99, {0.15, 0.5, 0.05, 0.3}},
  };
  for (const auto& [top_p, kept] : cases) {
    SamplingParams params;
    params.top_p = top_p;
    params.seed = 5;
    Sampler sampler(params);
    const auto counts = histogram(sampler, logits_of(p), 20000);
    std::size_t degrees = 0;
    for (const double q : kept) degrees += q > 0;
    if (degrees == 1) {
      EXPECT_EQ(counts[1], 20000);
    } else {
      EXPECT_LT(chi_square(counts, normalised(kept)), critical(degrees - 1)) << "top_p " << top_p;
    }
  }
}

TEST(Sampler, TopPOverAFlatVocabularyKeepsTheRightCount) {
  // 20,000 equally likely tokens: top_p 0.3 keeps the 6,000 lowest ids (ties go to low ids), all
  // in one log-weight bucket that has to be sorted.
  std::vector<float> logits(20000, 0.f);
  SamplingParams params;
  params.top_p = 0.3;
  params.seed = 8;
  Sampler sampler(params);
  int64_t highest = 0;
  for (int i = 0; i < 100; ++i) highest = std::max(highest, sampler.sample(logits, {}));
  EXPECT_LT(highest, 6000);
  EXPECT_GT(highest, 5400);
}

TEST(Sampler, TopPMatchesAFullSortOnRandomLogits) {
  std::mt19937_64 rng(31);
  std::normal_distribution<float> normal(0.f, 5.f);
  for (int trial = 0; trial < 3; ++trial) {
    std::vector<float> logits(3000);
    for (float& logit : logits) logit = normal(rng);
    SamplingParams params;
    params.temperature = 0.7;
    params.top_p = 0.8;
    params.seed = static_cast<uint64_t>(trial);
    // The reference: sort everything, keep while the mass before a token is below top_p.
    std::vector<int64_t> order(logits.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
    std::sort(order.begin(), order.end(),
              [&](int64_t a, int64_t b) { return logits[a] > logits[b]; });
    std::vector<double> p(logits.size());
    double total = 0;
    for (std::size_t i = 0; i < p.size(); ++i) {
      total += p[i] = std::exp((logits[i] - logits[order[0]]) / params.temperature);
    }
    std::set<int64_t> kept;
    double mass = 0;
    for (const int64_t id : order) {
      if (mass >= params.top_p * total) break;
      kept.insert(id);
      mass += p[id];
    }
    Sampler sampler(params);
    std::map<int64_t, int> drawn;
    for (int i = 0; i < 1500; ++i) ++drawn[sampler.sample(logits, {})];
    for (const auto& [id, count] : drawn) EXPECT_TRUE(kept.count(id)) << "token " << id;
    for (const int64_t id : kept) {
      if (p[id] / mass > 0.01) {
        EXPECT_GT(drawn[id], 0) << "token " << id << " never drawn";
      }
    }
  }
}

TEST(Sampler, MinPDropsTokensBelowTheFractionOfTheBest) {
  const std::vector<double> p = {0.5, 0.3, 0.15, 0.05};
  SamplingParams params;
  params.min_p = 0.2;  // keeps probabilities >= 0.1
  params.seed = 21;
  Sampler sampler(params);
  const auto counts = histogram(sampler, logits_of(p), 20000);
  EXPECT_LT(chi_square(counts, normalised({0.5, 0.3, 0.15, 0})), critical(2));
}

TEST(Sampler, RepetitionPenaltyDividesPositiveAndMultipliesNegativeLogits) {
  SamplingParams params;
  params.temperature = 0;
  params.repetition_penalty = 2;
  Sampler sampler(params);
  const std::vector<float> logits = {2.f, -1.f, 1.5f, 0.9f};
  const std::vector<int64_t> seen = {0, 1, 0};
  // Penalised: {1, -2, 1.5, 0.9}: token 2 wins.
  EXPECT_EQ(sampler.sample(logits, seen), 2);
  const std::vector<int64_t> seen_all = {0, 2};  // {1, -1, 0.75, 0.9}
  EXPECT_EQ(sampler.sample(logits, seen_all), 0);

  // Sampled: token 0's probability follows the penalised logits.
  SamplingParams sampled;
  sampled.repetition_penalty = 2;
  sampled.seed = 3;
  Sampler random(sampled);
  const std::vector<float> two = {2.f, 1.f};
  const std::vector<int64_t> seen_zero = {0};
  std::vector<int64_t> counts(2, 0);
  for (int i = 0; i < 20000; ++i) ++counts[random.sample(two, seen_zero)];
  EXPECT_LT(chi_square(counts, {0.5, 0.5}), critical(1));
}

TEST(Sampler, TheSameSeedGivesTheSameDraws) {
  std::mt19937_64 rng(4);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<float> logits(5000);
  for (float& logit : logits) logit = normal(rng);
  SamplingParams params;
  params.temperature = 0.8;
  params.top_p = 0.9;
  params.top_k = 50;
  params.seed = 42;
  Sampler first(params), second(params);
  params.seed = 43;
  Sampler other(params);
  std::vector<int64_t> a, b, c;
  for (int i = 0; i < 64; ++i) {
    a.push_back(first.sample(logits, {}));
    b.push_back(second.sample(logits, {}));
    c.push_back(other.sample(logits, {}));
  }
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_GT(std::set<int64_t>(a.begin(), a.end()).size(), 10u);  // successive draws differ
}

}  // namespace
}  // namespace yirage::llm
