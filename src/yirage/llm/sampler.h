// Choosing the next token from logits: greedy, temperature, top-k, top-p, min-p, penalties.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace yirage::llm {

/// How to sample and when to stop (the fields of vLLM's SamplingParams).
struct SamplingParams {
  double temperature = 1.0;             ///< 0 (or below 1e-5): greedy
  int64_t top_k = 0;                    ///< keep the k most likely (0 or -1: off)
  double top_p = 1.0;                   ///< nucleus mass in (0, 1] (1: off)
  double min_p = 0.0;                   ///< drop tokens below min_p * p(max) (0: off)
  double repetition_penalty = 1.0;      ///< > 1 discourages tokens already seen (1: off)
  uint64_t seed = 0;                    ///< reproducible randomness per sequence
  int64_t max_tokens = 16;              ///< most tokens to generate
  std::vector<int64_t> stop_token_ids;  ///< stop after generating any of these
  std::vector<std::string> stop;        ///< stop strings (cut from the output text)
  bool ignore_eos = false;              ///< keep going past end-of-sequence ids

  /// UserError naming the field and its valid range when a value is out of range.
  void validate() const;
};

/// Samples tokens for one sequence: deterministic for a given seed.
class Sampler {
 public:
  /// A sampler for `params` (validated).
  explicit Sampler(const SamplingParams& params);
  /// The next token given the logits over the vocabulary and the ids seen so far (prompt and
  /// generated; used by the repetition penalty).
  int64_t sample(std::span<const float> logits, std::span<const int64_t> seen);

 private:
  SamplingParams params_;
  uint64_t counter_ = 0;  // draws so far: the counter of the counter-based generator
  std::vector<float> scratch_;
  std::vector<int64_t> order_;
  std::vector<double> weights_;      // unnormalised probabilities, by token id
  std::vector<float> top_;           // heap of the top-k logits
  std::vector<double> bucket_mass_;  // top-p: mass of each log-weight bucket
};

}  // namespace yirage::llm
