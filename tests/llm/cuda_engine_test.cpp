// The Qwen3 model on the CUDA backend against the host model: logits of prefill and decode steps
// (eager, captured and replayed as CUDA graphs) at batch 1 and 3, and greedy continuations.
// Skips without a GPU. On a GPU machine:
//   cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DYIRAGE_BUILD_PYTHON=OFF
//   ninja -C build-gpu yirage_tests yirage_cli
//   build-gpu/tests/yirage_tests --gtest_filter='CudaEngine*'
//   python3 bench/qwen3_decode_cuda.py --yirage build-gpu/src/cli/yirage   # writes
//       bench/results/cuda-h100-qwen3-decode.json (add --torch-compile for the compiled peer;
//       variants: auto (timed GEMV/cuBLASLt choice), gemv, cublaslt, auto_no_pdl)
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "llm/engine_tiny_model.h"
#include "test_util.h"
#include "yirage/backend/registry.h"
#include "yirage/llm/checkpoint.h"
#include "yirage/llm/demo_weights.h"
#include "yirage/llm/engine.h"
#include "yirage/llm/kv_cache.h"
#include "yirage/llm/model.h"

namespace yirage::llm {
namespace {

#define YR_REQUIRE_GPU()                                            \
  do {                                                              \
    const auto a = backend::get_backend("cuda").available();        \
    if (!a.available) GTEST_SKIP() << "no CUDA here: " << a.reason; \
  } while (0)

// ||a - b|| / ||b|| of two float32 tensors of one shape; NaN when a holds a non-finite value.
double relative_error(const core::Tensor& a, const core::Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  double diff = 0.0, norm = 0.0;
  for (int64_t i = 0; i < b.numel(); ++i) {
    const double x = a.data_as<float>()[i], y = b.data_as<float>()[i];
    if (!std::isfinite(x)) return std::nan("");
    diff += (x - y) * (x - y);
    norm += y * y;
  }
  return std::sqrt(diff / std::max(norm, 1e-30));
}

ModelOptions options_for(const std::string& backend, core::DType dtype) {
  ModelOptions options;
  options.backend = backend;
  options.dtype = dtype;
  return options;
}

// Runs the same steps on the host model and the CUDA model and compares every step's logits.
void expect_steps_match(const Qwen3Config& config, const WeightLookup& lookup, core::DType dtype,
                        const std::vector<std::vector<int64_t>>& prompts, double tolerance) {
  Qwen3Model host(config, lookup, options_for(default_backend_name(), dtype));
  Qwen3Model device(config, lookup, options_for("cuda", dtype));
  ASSERT_TRUE(device.on_device());
  const char* gemv = std::getenv("YIRAGE_CUDA_GEMV");
  EXPECT_EQ(device.device_model()->stats().gemv, gemv == nullptr || std::string(gemv) != "0");
  EXPECT_EQ(device.kv_layout().device, core::DeviceKind::Cuda);
  const KvCacheOptions kv{512, 0, 4};
  KvCache host_cache(host.kv_layout(), kv);
  KvCache device_cache(device.kv_layout(), kv);
  std::vector<StepSequence> host_batch, device_batch;
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    // Prefill: the first sequence wants every row's logits, the others their last row's.
    host_batch.push_back({host_cache.add_sequence(), prompts[i], 0, i == 0});
    device_batch.push_back({device_cache.add_sequence(), prompts[i], 0, i == 0});
  }
  const std::string what =
      std::to_string(prompts.size()) + " sequences, " + std::string(core::dtype_name(dtype));
  const core::Tensor expected = host.forward(host_cache, host_batch);
  const core::Tensor actual = device.forward(device_cache, device_batch);
  EXPECT_LE(relative_error(actual, expected), tolerance) << "prefill, " << what;
  // Decode steps: the first runs kernel by kernel, the second is captured, the rest replay.
  for (int step = 0; step < 5; ++step) {
    for (std::size_t i = 0; i < prompts.size(); ++i) {
      const int64_t next = (7 * step + 3 * static_cast<int64_t>(i) + 1) % 50;
      for (auto* batch : {&host_batch, &device_batch}) {
        StepSequence& seq = (*batch)[i];
        seq.position += static_cast<int64_t>(seq.tokens.size());
        seq.tokens = {next};
        seq.all_logits = false;
      }
    }
    const core::Tensor want = host.forward(host_cache, host_batch);
    const core::Tensor got = device.forward(device_cache, device_batch);
    EXPECT_LE(relative_error(got, want), tolerance) << "decode step " << step << ", " << what;
    const auto ids = device.forward_greedy(device_cache, device_batch, config.vocab_size);
    ASSERT_EQ(ids.size(), prompts.size());
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const float* row = got.data_as<float>() + static_cast<int64_t>(i) * got.dim(1);
      EXPECT_EQ(row[ids[i]], *std::max_element(row, row + got.dim(1))) << "row " << i;
    }
    // forward_greedy ran the same step again, writing the same keys and values.
  }
  const auto& stats = device.device_model()->stats();
  EXPECT_GE(stats.graph_captures, 1) << what;
  EXPECT_GE(stats.graph_replays, 3) << what;
}

TEST(CudaEngine, Float32LogitsMatchTheHostModel) {
  YR_REQUIRE_GPU();
  const auto config = testing::tiny_config();
  const auto weights = testing::tiny_weights(config, 5);
  const auto lookup = testing::lookup_in(weights);
  expect_steps_match(config, lookup, core::DType::F32, {{3, 14, 15, 9, 26}}, 1e-4);
  {
    // Every product on cuBLASLt instead of the GEMV kernels.
    const testing::ScopedEnv no_gemv("YIRAGE_CUDA_GEMV", "0");
    expect_steps_match(config, lookup, core::DType::F32, {{3, 14, 15, 9, 26}, {5}}, 1e-4);
  }
  {
    // Decode steps of few rows always on the GEMVs (by default their graphs are timed against
    // cuBLASLt's and the faster kept).
    const testing::ScopedEnv gemv_only("YIRAGE_CUDA_GEMV", "1");
    expect_steps_match(config, lookup, core::DType::F32, {{3, 14, 15, 9, 26}, {5}, {7, 7}}, 1e-4);
  }
  {
    // Every step kernel by kernel.
    const testing::ScopedEnv no_graphs("YIRAGE_CUDA_GRAPHS", "0");
    Qwen3Model model(config, lookup, options_for("cuda", core::DType::F32));
    KvCache cache(model.kv_layout(), {64, 0, 4});
    const int64_t seq = cache.add_sequence();
    model.forward(cache, {{seq, {1, 2, 3}, 0, false}});
    for (int64_t t = 3; t < 6; ++t) model.forward(cache, {{seq, {t}, t, false}});
    EXPECT_EQ(model.device_model()->stats().graph_replays, 0);
    EXPECT_EQ(model.device_model()->stats().eager_steps, 4);
  }
  expect_steps_match(config, lookup, core::DType::F32,
                     {{3, 14, 15, 9, 26}, {5}, {35, 8, 9, 7, 9, 3, 2, 3, 8}}, 1e-4);
}

TEST(CudaEngine, Bfloat16LogitsOfTheTinyDemoModelMatchTheHostModel) {
  YR_REQUIRE_GPU();
  const auto config = demo_config(DemoPreset::Tiny, core::DType::BF16);
  const auto lookup = demo_weight_lookup(config);
  expect_steps_match(config, lookup, core::DType::BF16, {{1, 2, 3, 4, 5, 6, 7}}, 2e-2);
  // Two sequences: the largest batch whose GEMVs compute the RMSNorms themselves.
  expect_steps_match(config, lookup, core::DType::BF16, {{1, 2, 3}, {9, 8, 7, 6, 5}}, 2e-2);
  expect_steps_match(config, lookup, core::DType::BF16,
                     {{11, 12, 13},
                      {40},
                      {20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38}},
                     2e-2);
}

TEST(CudaEngine, GreedyContinuationsMatchTheHostEngine) {
  YR_REQUIRE_GPU();
  const auto config = demo_config(DemoPreset::Tiny, core::DType::F32);
  const auto lookup = demo_weight_lookup(config);
  std::vector<GenerationRequest> requests;
  for (const auto& prompt :
       std::vector<std::vector<int64_t>>{{9, 8, 7}, {100, 200, 300, 400, 500, 600}, {42}}) {
    SamplingParams params;
    params.temperature = 0.0;
    params.max_tokens = 12;
    params.ignore_eos = true;
    requests.push_back({prompt, params});
  }
  std::vector<std::vector<GenerationOutput>> results;
  for (const std::string& backend : {default_backend_name(), std::string("cuda")}) {
    EngineOptions options;
    options.model = options_for(backend, core::DType::F32);
    options.kv_cache.max_tokens = 256;
    options.max_batch = 3;
    auto model = std::make_shared<Qwen3Model>(config, lookup, options.model);
    Engine engine(model, nullptr, GenerationDefaults{}, options);
    results.push_back(engine.generate(requests));
    if (backend == "cuda") {
      EXPECT_GE(model->device_model()->stats().graph_replays, 5);
    }
  }
  for (std::size_t i = 0; i < requests.size(); ++i) {
    EXPECT_EQ(results[1][i].token_ids, results[0][i].token_ids) << "request " << i;
  }
}

TEST(CudaEngine, HostCachesAndFullCachesAreUserErrors) {
  YR_REQUIRE_GPU();
  const auto config = testing::tiny_config();
  const auto weights = testing::tiny_weights(config, 3);
  Qwen3Model model(config, testing::lookup_in(weights), options_for("cuda", core::DType::F32));
  KvLayout host_layout = model.kv_layout();
  host_layout.device = core::DeviceKind::Cpu;
  KvCache host_cache(host_layout, {64, 0, 4});
  const int64_t seq = host_cache.add_sequence();
  EXPECT_USER_ERROR(
      [&] {
        model.forward(host_cache, {{seq, {1, 2}, 0, false}});
      },
      "KV cache is in host memory");
  KvCache small(model.kv_layout(), {8, 0, 4});
  const int64_t s = small.add_sequence();
  EXPECT_USER_ERROR(
      [&] {
        model.forward(small, {{s, {1, 2, 3, 4, 5, 6, 7, 8, 9}, 0, false}});
      },
      "KV cache is full");
}

}  // namespace
}  // namespace yirage::llm
