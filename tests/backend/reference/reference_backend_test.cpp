// The reference backend as a whole: the registry, argument checking, dtypes in and out,
// strided inputs and a Qwen3-sized multi-op graph.
#include "yirage/backend/reference/reference_backend.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "test_util.h"
#include "yirage/backend/registry.h"
#include "yirage/ir/kernel_graph.h"

namespace {

namespace yt = yirage::testing;
using yirage::backend::Backend;
using yirage::core::Device;
using yirage::core::DeviceKind;
using yirage::core::DType;
using yirage::core::Shape;
using yirage::core::Tensor;
using yirage::ir::KernelGraph;
using yirage::ir::OpKind;
using yirage::ir::TensorRef;

Backend& reference() {
  return yirage::backend::get_backend("reference");
}

// ---- registry -----------------------------------------------------------------------------

TEST(BackendRegistry, ListsEveryBackendReferenceFirst) {
  const auto& backends = yirage::backend::all_backends();
  ASSERT_GE(backends.size(), 3u);
  EXPECT_EQ(backends[0]->name(), "reference");
  std::vector<std::string> names;
  for (const Backend* backend : backends) {
    names.emplace_back(backend->name());
    EXPECT_FALSE(backend->description().empty()) << backend->name();
  }
  for (const char* name : {"reference", "cpu", "mps", "nki"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
  }
  const auto mps = std::find(names.begin(), names.end(), "mps");
  ASSERT_NE(mps, names.end());
  EXPECT_EQ(&yirage::backend::get_backend("mps"),
            backends[static_cast<std::size_t>(mps - names.begin())]);
}

TEST(BackendRegistry, UnknownNameListsTheKnownOnes) {
  EXPECT_USER_ERROR([] { yirage::backend::get_backend("nope"); }, "unknown backend 'nope'",
                    "known backends: reference, ", "mps", "nki");
  EXPECT_USER_ERROR([] { yirage::backend::get_available_backend("cuda-x"); },
                    "unknown backend 'cuda-x'");
}

TEST(BackendRegistry, ReferenceIsAvailableAndSupportsEveryOp) {
  Backend& backend = reference();
  const auto availability = backend.available();
  EXPECT_TRUE(availability.available);
  EXPECT_EQ(availability.reason, "");
  EXPECT_EQ(&yirage::backend::get_available_backend("reference"), &backend);
  for (int i = 0; i < yirage::ir::num_ops(); ++i) {
    EXPECT_TRUE(backend.supports(static_cast<OpKind>(i))) << i;
  }
  const auto info = backend.device_info();
  EXPECT_FALSE(info.name.empty());
  bool has_precision = false;
  for (const auto& [key, value] : info.properties) {
    has_precision = has_precision || (key == "precision" && value == "float64");
  }
  EXPECT_TRUE(has_precision);
  EXPECT_NO_THROW(backend.synchronize());
}

TEST(BackendRegistry, UnavailableBackendsGiveTheirReason) {
  KernelGraph g;
  const TensorRef x = g.input({2}, DType::F32);
  g.mark_output(g.unary(OpKind::Exp, x));
  const Tensor input = Tensor::empty({2}, DType::F32);
  for (const char* name : {"mps", "nki"}) {
    SCOPED_TRACE(name);
    Backend& backend = yirage::backend::get_backend(name);
    const auto availability = backend.available();
    EXPECT_FALSE(availability.available);
    ASSERT_FALSE(availability.reason.empty());
    EXPECT_FALSE(backend.supports(OpKind::Exp));
    EXPECT_FALSE(backend.supports(OpKind::Matmul));
    const std::string expected = "backend '" + std::string(name) + "' is not available: ";
    EXPECT_USER_ERROR([&] { backend.run(g, {input}); }, expected, availability.reason);
    EXPECT_USER_ERROR([&] { yirage::backend::get_available_backend(name); }, expected,
                      availability.reason);
    EXPECT_USER_ERROR([&] { yirage::backend::check_run_arguments(backend, g, {input}); }, expected,
                      availability.reason);
  }
  EXPECT_NE(yirage::backend::get_backend("mps").available().reason.find("macOS"),
            std::string::npos);
  EXPECT_NE(yirage::backend::get_backend("nki").available().reason.find("Neuron"),
            std::string::npos);
}

TEST(BackendRegistry, MakeReferenceBackendBuildsAnIndependentInstance) {
  const std::unique_ptr<Backend> own = yirage::backend::make_reference_backend();
  EXPECT_EQ(own->name(), "reference");
  EXPECT_NE(own.get(), &reference());
  KernelGraph g;
  g.mark_output(g.unary(OpKind::Neg, g.input({2}, DType::F32)));
  const auto out = own->run(g, {yt::tensor_of({2}, DType::F32, {1.5, -2})});
  EXPECT_EQ(yt::values(out.at(0)), (std::vector<double>{-1.5, 2}));
}

// ---- argument checking --------------------------------------------------------------------

TEST(ReferenceRun, RejectsWrongInputs) {
  KernelGraph g;
  const TensorRef a = g.input({3, 4}, DType::F32);
  const TensorRef b = g.input({4}, DType::F32);
  g.mark_output(g.binary(OpKind::Add, a, b));
  const Tensor good_a = Tensor::empty({3, 4}, DType::F32);
  const Tensor good_b = Tensor::empty({4}, DType::F32);
  EXPECT_USER_ERROR([&] { reference().run(g, {good_a}); }, "the graph takes 2 inputs; got 1");
  EXPECT_USER_ERROR(
      [&] {
        reference().run(g, {good_a, good_b, good_b});
      },
      "the graph takes 2 inputs; got 3");
  EXPECT_USER_ERROR(
      [&] {
        reference().run(g, {Tensor::empty({3, 5}, DType::F32), good_b});
      },
      "input 0 is float32[3, 5]; expected float32[3, 4]");
  EXPECT_USER_ERROR(
      [&] {
        reference().run(g, {good_a, Tensor::empty({4}, DType::F16)});
      },
      "input 1 is float16[4]; expected float32[4]");
  EXPECT_USER_ERROR(
      [&] {
        reference().run(g, {good_a, Tensor::empty({1, 4}, DType::F32)});
      },
      "input 1 is float32[1, 4]; expected float32[4]");
  EXPECT_USER_ERROR(
      [&] {
        reference().run(g, {Tensor(), good_b});
      },
      "input 0 is undefined; expected float32[3, 4]");
  EXPECT_NO_THROW(reference().run(g, {good_a, good_b}));
}

TEST(ReferenceRun, RejectsAGraphWithoutOutputs) {
  KernelGraph g;
  const TensorRef x = g.input({2}, DType::F32);
  g.unary(OpKind::Exp, x);
  EXPECT_USER_ERROR([&] { reference().run(g, {Tensor::empty({2}, DType::F32)}); },
                    "the graph has no outputs",
                    "expected at least one mark_output before running it");
  KernelGraph empty;
  EXPECT_USER_ERROR([&] { reference().run(empty, {}); }, "the graph has no outputs");
}

TEST(ReferenceRun, RejectsDeviceMemory) {
  KernelGraph g;
  g.mark_output(g.unary(OpKind::Exp, g.input({2}, DType::F32)));
  float data[2] = {1, 2};
  const Tensor on_gpu =
      Tensor::borrow(data, {2}, {}, DType::F32, Device{DeviceKind::Cuda, 0}, nullptr);
  EXPECT_USER_ERROR([&] { reference().run(g, {on_gpu}); }, "reads host memory",
                    "got a tensor on cuda:0");
}

// ---- outputs ------------------------------------------------------------------------------

TEST(ReferenceRun, OutputsComeBackInMarkOrderAsNewContiguousTensors) {
  KernelGraph g;
  const TensorRef x = g.input({2, 3}, DType::F32);
  const TensorRef doubled = g.unary(OpKind::MulScalar, x, 2.0);
  g.mark_output(doubled);
  g.mark_output(x);
  g.mark_output(g.reduce(OpKind::Sum, doubled, 1));
  g.mark_output(doubled);
  const Tensor in = yt::tensor_of({2, 3}, DType::F32, {1, 2, 3, 4, 5, 6});
  const auto out = reference().run(g, {in});
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(yt::values(out[0]), (std::vector<double>{2, 4, 6, 8, 10, 12}));
  EXPECT_EQ(yt::values(out[1]), yt::values(in));
  EXPECT_NE(out[1].data(), in.data());  // an output never aliases an input
  EXPECT_EQ(yt::values(out[2]), (std::vector<double>{12, 30}));
  EXPECT_EQ(yt::values(out[3]), yt::values(out[0]));
  for (const auto& tensor : out) {
    EXPECT_TRUE(tensor.is_contiguous());
    EXPECT_TRUE(tensor.storage()->owned());
    EXPECT_EQ(tensor.device(), Device{});
  }
}

TEST(ReferenceRun, RunsTheSameGraphRepeatedly) {
  KernelGraph g;
  g.mark_output(g.unary(OpKind::Square, g.input({3}, DType::F32)));
  for (double base : {1.0, 2.0, 3.0}) {
    const auto out = reference().run(g, {yt::tensor_of({3}, DType::F32, {base, -base, 0.5})});
    EXPECT_EQ(yt::values(out[0]), (std::vector<double>{base * base, base * base, 0.25}));
  }
}

// ---- dtypes -------------------------------------------------------------------------------

TEST(ReferenceDtypes, IntermediatesStayInFloat64) {
  // float16 tops out at 65504: 300^2 = 90000 would be infinite if rounded in between.
  KernelGraph f16;
  f16.mark_output(
      f16.unary(OpKind::MulScalar, f16.unary(OpKind::Square, f16.input({1}, DType::F16)), 1e-3));
  const Tensor y = reference().run(f16, {yt::tensor_of({1}, DType::F16, {300})})[0];
  EXPECT_EQ(yt::bits16(y, 0), yirage::core::double_to_f16(90.0));
  // bfloat16 steps by 2^-7 near 1: 1 + 0.005 + 0.005 rounds to 1 + 2^-7 only if the sum is
  // rounded once, at the end (rounding after each step would leave 1).
  KernelGraph bf16;
  const TensorRef x = bf16.input({1}, DType::BF16);
  bf16.mark_output(bf16.unary(OpKind::AddScalar, bf16.unary(OpKind::AddScalar, x, 0.005), 0.005));
  const Tensor z = reference().run(bf16, {yt::tensor_of({1}, DType::BF16, {1.0})})[0];
  EXPECT_EQ(yt::bits16(z, 0), yirage::core::double_to_bf16(1.01));
  EXPECT_EQ(yt::bits16(z, 0), 0x3F81);
}

TEST(ReferenceDtypes, HalfOutputsRoundToNearestEven) {
  // a + b + c from operands exact in the format; the sums sit on or beside its ties.
  struct Sum {
    double a, b, c;
    uint16_t bits;  // expected output
  };
  const double t8 = std::ldexp(1.0, -8), t11 = std::ldexp(1.0, -11), t20 = std::ldexp(1.0, -20);
  const std::vector<Sum> bf16 = {
      {1.0, t8, 0.0, 0x3F80},            // tie between 0x3F80 and 0x3F81: even
      {1.0 + 2 * t8, t8, 0.0, 0x3F82},   // tie between 0x3F81 and 0x3F82: even
      {1.0, t8, t20, 0x3F81},            // just above a tie (rounding a + b first: 1)
      {1.0 + 2 * t8, t8, -t20, 0x3F81},  // just below a tie
      {-1.0, -t8, 0.0, 0xBF80},          // negative tie
      {-0.0, -0.0, -0.0, 0x8000},        // negative zero
  };
  const std::vector<Sum> f16 = {
      {1.0, t11, 0.0, 0x3C00},      {1.0 + 2 * t11, t11, 0.0, 0x3C02}, {1.0, t11, t20, 0x3C01},
      {65504.0, 16.0, 0.0, 0x7C00},  // 65520 overflows
      {65504.0, 15.5, 0.0, 0x7BFF}, {-65504.0, -16.0, 0.0, 0xFC00},    {-0.0, -0.0, -0.0, 0x8000},
  };
  for (DType dtype : {DType::BF16, DType::F16}) {
    const auto& sums = dtype == DType::BF16 ? bf16 : f16;
    const auto count = static_cast<int64_t>(sums.size());
    KernelGraph g;
    const TensorRef a = g.input({count}, dtype);
    const TensorRef b = g.input({count}, dtype);
    const TensorRef c = g.input({count}, dtype);
    g.mark_output(g.binary(OpKind::Add, g.binary(OpKind::Add, a, b), c));
    std::vector<double> av, bv, cv;
    for (const auto& sum : sums) {
      av.push_back(sum.a);
      bv.push_back(sum.b);
      cv.push_back(sum.c);
    }
    const std::vector<Tensor> in = {yt::tensor_of({count}, dtype, av),
                                    yt::tensor_of({count}, dtype, bv),
                                    yt::tensor_of({count}, dtype, cv)};
    ASSERT_EQ(yt::values(in[0]), av) << "operands must be exact in the format";
    ASSERT_EQ(yt::values(in[1]), bv);
    ASSERT_EQ(yt::values(in[2]), cv);
    const Tensor y = reference().run(g, in)[0];
    for (int64_t i = 0; i < count; ++i) {
      EXPECT_EQ(yt::bits16(y, i), sums[i].bits) << yirage::core::dtype_name(dtype) << " sum " << i
                                                << " got 0x" << std::hex << yt::bits16(y, i);
    }
  }
}

TEST(ReferenceDtypes, FloatInputsOfEveryDtypeAndIntegerIds) {
  std::mt19937_64 rng(21);
  for (DType dtype : {DType::F32, DType::F16, DType::BF16}) {
    for (DType id_type : {DType::I32, DType::I64}) {
      SCOPED_TRACE(std::string(yirage::core::dtype_name(dtype)) + " " +
                   std::string(yirage::core::dtype_name(id_type)));
      KernelGraph g;
      const TensorRef ids = g.input({4}, id_type);
      const TensorRef table = g.input({16, 8}, dtype);
      const TensorRef positions = g.input({4}, id_type);
      const TensorRef rows = g.embedding(ids, table);
      const TensorRef rotated = g.rope(rows, positions, 10000.0);
      g.mark_output(g.reduce(OpKind::Sum, g.unary(OpKind::Square, rotated), -1));
      g.mark_output(g.transpose(g.reshape(ids, {2, 2}), 0, 1));
      const Tensor id_values = yt::random_int_tensor({4}, id_type, rng, 0, 15);
      const Tensor table_values = yt::random_tensor({16, 8}, dtype, rng);
      const Tensor position_values = yt::random_int_tensor({4}, id_type, rng, 0, 100);
      const auto out = reference().run(g, {id_values, table_values, position_values});
      ASSERT_EQ(out.size(), 2u);
      EXPECT_EQ(out[0].dtype(), dtype);
      EXPECT_EQ(out[1].dtype(), id_type);
      // Rotation keeps each row's squared norm: the sum of squares of the embedded row.
      const auto idv = yt::values(id_values), tv = yt::values(table_values);
      std::vector<double> norms;
      for (double id : idv) {
        double total = 0;
        for (int j = 0; j < 8; ++j)
          total += tv[static_cast<int64_t>(id) * 8 + j] * tv[static_cast<int64_t>(id) * 8 + j];
        norms.push_back(total);
      }
      EXPECT_TRUE(yt::all_close(out[0], norms, dtype == DType::F32 ? 1e-6 : 1e-2, 0));
      EXPECT_EQ(yt::values(out[1]), (std::vector<double>{idv[0], idv[2], idv[1], idv[3]}));
    }
  }
}

// ---- strided inputs -----------------------------------------------------------------------

TEST(ReferenceStrided, TransposedBorrowedInputsReadThroughTheirStrides) {
  std::mt19937_64 rng(22);
  for (DType dtype : {DType::F32, DType::BF16, DType::F16}) {
    // A [4, 3] row-major buffer seen as its [3, 4] transpose.
    const Tensor storage = yt::random_tensor({4, 3}, dtype, rng);
    const Tensor view =
        Tensor::borrow(storage.data(), {3, 4}, {1, 3}, dtype, Device{}, storage.storage());
    ASSERT_FALSE(view.is_contiguous());
    const Tensor copy = view.contiguous();
    const Tensor w = yt::random_tensor({4, 2}, dtype, rng);
    const Tensor bias = yt::random_tensor({4}, dtype, rng);
    KernelGraph g;
    const TensorRef x = g.input({3, 4}, dtype);
    g.mark_output(g.matmul(x, g.input({4, 2}, dtype)));
    g.mark_output(g.binary(OpKind::Add, x, g.input({4}, dtype)));
    const auto strided = reference().run(g, {view, w, bias});
    const auto packed = reference().run(g, {copy, w, bias});
    for (int i = 0; i < 2; ++i) EXPECT_EQ(yt::values(strided[i]), yt::values(packed[i]));
    // And against the definition: x[i, j] = storage[j, i].
    const auto sv = yt::values(storage), bv = yt::values(bias);
    std::vector<double> expected(12);
    for (int i = 0; i < 3; ++i) {
      for (int j = 0; j < 4; ++j) expected[i * 4 + j] = sv[j * 3 + i] + bv[j];
    }
    EXPECT_TRUE(yt::rounded_equal(strided[1], expected));
  }
}

TEST(ReferenceStrided, BroadcastViewWithZeroStride) {
  std::vector<float> row = {1, 2, 3};
  const Tensor view = Tensor::borrow(row.data(), {2, 3}, {0, 1}, DType::F32, Device{}, nullptr);
  KernelGraph g;
  g.mark_output(g.reduce(OpKind::Sum, g.input({2, 3}, DType::F32), 0));
  EXPECT_EQ(yt::values(reference().run(g, {view})[0]), (std::vector<double>{2, 4, 6}));
}

// ---- a Qwen3 layer's RMSNorm + projection -------------------------------------------------

// out = rms_norm(x, w, eps) @ W, in float64 from the inputs' values.
std::vector<double> rms_norm_matmul(const Tensor& x, const Tensor& w, const Tensor& W, double eps) {
  const int64_t m = x.dim(0), k = x.dim(1), n = W.dim(1);
  const auto xv = yt::values(x), wv = yt::values(w), Wv = yt::values(W);
  std::vector<double> normed(xv.size()), out(static_cast<std::size_t>(m * n), 0.0);
  for (int64_t i = 0; i < m; ++i) {
    double squares = 0;
    for (int64_t p = 0; p < k; ++p) squares += xv[i * k + p] * xv[i * k + p];
    const double inv_rms = 1.0 / std::sqrt(squares / k + eps);
    for (int64_t p = 0; p < k; ++p) normed[i * k + p] = xv[i * k + p] * inv_rms * wv[p];
  }
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t p = 0; p < k; ++p) {
      const double a = normed[i * k + p];
      for (int64_t j = 0; j < n; ++j) out[i * n + j] += a * Wv[p * n + j];
    }
  }
  return out;
}

TEST(ReferenceLayer, Qwen3RmsNormMatmulAt8x1024x4096) {
  const int64_t m = 8, k = 1024, n = 4096;
  for (DType dtype : {DType::F32, DType::BF16}) {
    SCOPED_TRACE(std::string(yirage::core::dtype_name(dtype)));
    std::mt19937_64 rng(23);
    KernelGraph g;
    const TensorRef x = g.input({m, k}, dtype);
    const TensorRef w = g.input({k}, dtype);
    const TensorRef W = g.input({k, n}, dtype);
    g.mark_output(g.matmul(g.rms_norm(x, w, 1e-6), W));
    const Tensor xt = yt::random_tensor({m, k}, dtype, rng, -2, 2);
    const Tensor wt = yt::random_tensor({k}, dtype, rng, 0.5, 1.5);
    const Tensor Wt = yt::random_tensor({k, n}, dtype, rng, -0.05, 0.05);
    const Tensor y = reference().run(g, {xt, wt, Wt})[0];
    ASSERT_EQ(y.shape(), (Shape{m, n}));
    ASSERT_EQ(y.dtype(), dtype);
    // The only rounding is the final store, so the output is the float64 result rounded once
    // (one unit of slack for a float64 sum whose order differs in the last bits).
    EXPECT_TRUE(yt::rounded_equal(y, rms_norm_matmul(xt, wt, Wt, 1e-6), 1));
  }
}

}  // namespace
