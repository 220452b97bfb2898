#include "yirage/backend/cuda/cublaslt.h"

#include <dlfcn.h>

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "yirage/backend/cuda/autotune.h"
#include "yirage/backend/cuda/runtime.h"
#include "yirage/core/error.h"

namespace yirage::backend::cuda {

namespace {

using Handle = void*;
using Desc = void*;
using Layout = void*;
using Preference = void*;

struct Algo {
  uint64_t data[8];
};

struct HeuristicResult {
  Algo algo;
  std::size_t workspace;
  int state;
  float waves;
  int reserved[4];
};

constexpr int kComputeF32 = 68;        // CUBLAS_COMPUTE_32F
constexpr int kRealF32 = 0;            // CUDA_R_32F
constexpr int kRealF16 = 2;            // CUDA_R_16F
constexpr int kRealBF16 = 14;          // CUDA_R_16BF
constexpr int kLayoutBatchCount = 5;   // CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT
constexpr int kLayoutBatchOffset = 6;  // CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET
constexpr int kPrefMaxWorkspace = 1;   // CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES
constexpr int kPrefAlignA = 5;         // CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES
constexpr int kPrefAlignB = 6;         // CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES
constexpr int kPrefAlignC = 7;         // CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES
constexpr int kPrefAlignD = 8;         // CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES
constexpr int kDescTransA = 3;         // CUBLASLT_MATMUL_DESC_TRANSA
constexpr int kOpTranspose = 1;        // CUBLAS_OP_T
constexpr int kCandidates = 8;         // heuristic results timed on first use
constexpr std::size_t kWorkspaceBytes = std::size_t{32} << 20;

struct Api {
  int (*create)(Handle*);
  int (*desc_create)(Desc*, int compute, int scale);
  int (*desc_set)(Desc, int attribute, const void* value, std::size_t size);
  int (*layout_create)(Layout*, int type, uint64_t rows, uint64_t cols, int64_t ld);
  int (*layout_set)(Layout, int attribute, const void* value, std::size_t size);
  int (*pref_create)(Preference*);
  int (*pref_set)(Preference, int attribute, const void* value, std::size_t size);
  int (*pref_destroy)(Preference);
  int (*heuristic)(Handle, Desc, Layout, Layout, Layout, Layout, Preference, int, HeuristicResult*,
                   int*);
  int (*matmul)(Handle, Desc, const void*, const void*, Layout, const void*, Layout, const void*,
                const void*, Layout, void*, Layout, const Algo*, void*, std::size_t, void*);
};

struct Loaded {
  Api api{};
  bool ok = false;
  std::string why;
};

template <typename Fn>
bool resolve(void* library, const char* symbol, Fn& slot, std::string& why) {
  void* address = dlsym(library, symbol);
  if (address == nullptr) {
    why = std::string("libcublasLt lacks ") + symbol;
    return false;
  }
  slot = reinterpret_cast<Fn>(address);
  return true;
}

Loaded load() {
  Loaded loaded;
  void* library = nullptr;
  for (const char* name : {"libcublasLt.so", "libcublasLt.so.13", "libcublasLt.so.12",
                           "libcublasLt.so.11", "/usr/local/cuda/lib64/libcublasLt.so"}) {
    library = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (library != nullptr) break;
  }
  if (library == nullptr) {
    loaded.why = "libcublasLt.so could not be loaded";
    return loaded;
  }
  Api& a = loaded.api;
  std::string& w = loaded.why;
  loaded.ok = resolve(library, "cublasLtCreate", a.create, w) &&
              resolve(library, "cublasLtMatmulDescCreate", a.desc_create, w) &&
              resolve(library, "cublasLtMatmulDescSetAttribute", a.desc_set, w) &&
              resolve(library, "cublasLtMatrixLayoutCreate", a.layout_create, w) &&
              resolve(library, "cublasLtMatrixLayoutSetAttribute", a.layout_set, w) &&
              resolve(library, "cublasLtMatmulPreferenceCreate", a.pref_create, w) &&
              resolve(library, "cublasLtMatmulPreferenceSetAttribute", a.pref_set, w) &&
              resolve(library, "cublasLtMatmulPreferenceDestroy", a.pref_destroy, w) &&
              resolve(library, "cublasLtMatmulAlgoGetHeuristic", a.heuristic, w) &&
              resolve(library, "cublasLtMatmul", a.matmul, w);
  return loaded;
}

const Loaded& loaded() {
  static const Loaded instance = load();
  return instance;
}

// A prepared product: descriptors, the heuristic's candidate algorithms and, once timed, the
// fastest of them (kept for the process).
struct Plan {
  Desc desc = nullptr;
  Layout a = nullptr, b = nullptr, c = nullptr;
  std::vector<Algo> algos;  // best guess first
  int chosen = -1;          // index into algos once timed
};

int data_type(core::DType dtype) {
  switch (dtype) {
    case core::DType::BF16:
      return kRealBF16;
    case core::DType::F16:
      return kRealF16;
    default:
      return kRealF32;
  }
}

Layout make_layout(const Api& api, int type, int64_t rows, int64_t cols, int64_t ld,
                   int64_t batches, int64_t stride) {
  Layout layout = nullptr;
  if (api.layout_create(&layout, type, static_cast<uint64_t>(rows), static_cast<uint64_t>(cols),
                        ld) != 0)
    return nullptr;
  if (batches > 1) {
    const int32_t count = static_cast<int32_t>(batches);
    api.layout_set(layout, kLayoutBatchCount, &count, sizeof(count));
    api.layout_set(layout, kLayoutBatchOffset, &stride, sizeof(stride));
  }
  return layout;
}

// Largest power of two up to 256 dividing the address of every matrix of an operand.
uint32_t alignment(const void* pointer, int64_t stride_bytes) {
  uint64_t bits = reinterpret_cast<uintptr_t>(pointer) | 256u;
  if (stride_bytes > 0) bits |= static_cast<uint64_t>(stride_bytes);
  return static_cast<uint32_t>(bits & (~bits + 1));
}

// Descriptors and candidate algorithms for `s` with operands aligned to `align` bytes ({A, B, C}
// of the row-major product). Row-major C = A B is column-major C^T = B^T A^T: B goes first.
Plan make_plan(const Api& api, Handle handle, const GemmShape& s,
               const std::array<uint32_t, 3>& align) {
  Plan plan;
  const int type = data_type(s.dtype);
  if (api.desc_create(&plan.desc, kComputeF32, kRealF32) != 0) return plan;
  if (s.b_transposed) {  // B stored n x k row-major: column-major k x n, used transposed
    const int32_t op = kOpTranspose;
    if (api.desc_set(plan.desc, kDescTransA, &op, sizeof(op)) != 0) return plan;
    plan.a = make_layout(api, type, s.k, s.n, s.k, s.batches, s.b_stride);
  } else {
    plan.a = make_layout(api, type, s.n, s.k, s.n, s.batches, s.b_stride);
  }
  plan.b = make_layout(api, type, s.k, s.m, s.k, s.batches, s.a_stride);
  plan.c = make_layout(api, type, s.n, s.m, s.n, s.batches, s.m * s.n);
  Preference preference = nullptr;
  if (!plan.a || !plan.b || !plan.c || api.pref_create(&preference) != 0) return plan;
  const uint64_t limit = kWorkspaceBytes;
  api.pref_set(preference, kPrefMaxWorkspace, &limit, sizeof(limit));
  api.pref_set(preference, kPrefAlignA, &align[1], sizeof(uint32_t));
  api.pref_set(preference, kPrefAlignB, &align[0], sizeof(uint32_t));
  api.pref_set(preference, kPrefAlignC, &align[2], sizeof(uint32_t));
  api.pref_set(preference, kPrefAlignD, &align[2], sizeof(uint32_t));
  std::array<HeuristicResult, kCandidates> results{};
  int count = 0;
  if (api.heuristic(handle, plan.desc, plan.a, plan.b, plan.c, plan.c, preference, kCandidates,
                    results.data(), &count) == 0) {
    for (int i = 0; i < count; ++i) {
      if (results[i].state == 0 && results[i].workspace <= kWorkspaceBytes)
        plan.algos.push_back(results[i].algo);
    }
  }
  api.pref_destroy(preference);
  return plan;
}

}  // namespace

bool matmul_gemm_shape(const ir::KernelGraph& graph, const ir::Node& node, GemmShape& shape) {
  const auto& a = graph.type(node.inputs[0]);
  const auto& b = graph.type(node.inputs[1]);
  const auto& out = node.outputs[0].shape;
  if (!core::dtype_is_float(a.dtype)) return false;
  const std::size_t rank = out.size();
  shape.m = out[rank - 2];
  shape.n = out[rank - 1];
  shape.k = a.shape.back();
  shape.dtype = a.dtype;
  shape.batches = 1;
  for (std::size_t d = 0; d + 2 < rank; ++d) shape.batches *= out[d];
  auto stride = [&](const core::Shape& operand, int64_t matrix, int64_t& result) {
    const int64_t own = core::shape_numel(operand) / matrix;
    if (own == 1) {
      result = 0;
      return true;
    }
    const core::Shape batch(out.begin(), out.end() - 2);
    const core::Shape operand_batch(operand.begin(), operand.end() - 2);
    core::Shape padded(batch.size() - operand_batch.size(), 1);
    padded.insert(padded.end(), operand_batch.begin(), operand_batch.end());
    result = matrix;
    return padded == batch;
  };
  return stride(a.shape, shape.m * shape.k, shape.a_stride) &&
         stride(b.shape, shape.k * shape.n, shape.b_stride);
}

bool cublaslt_available(std::string* why) {
  if (!loaded().ok && why != nullptr) *why = loaded().why;
  return loaded().ok;
}

bool cublaslt_matmul(Runtime& runtime, const GemmShape& s, const void* a, const void* b, void* c) {
  if (!loaded().ok || s.dtype == core::DType::I32 || s.dtype == core::DType::I64) return false;
  const Api& api = loaded().api;
  static std::mutex mutex;
  static Handle handle = nullptr;
  static std::shared_ptr<void> workspace;
  static std::map<std::array<int64_t, 11>, Plan> plans;
  std::lock_guard<std::mutex> lock(mutex);
  if (handle == nullptr) {
    if (api.create(&handle) != 0) return false;
    workspace = runtime.allocate(kWorkspaceBytes);
  }
  const int64_t size = static_cast<int64_t>(core::dtype_size(s.dtype));
  const int64_t batched = s.batches > 1 ? 1 : 0;
  const std::array<uint32_t, 3> align = {alignment(a, batched * s.a_stride * size),
                                         alignment(b, batched * s.b_stride * size),
                                         alignment(c, batched * s.m * s.n * size)};
  const std::array<int64_t, 11> key = {s.m,
                                       s.n,
                                       s.k,
                                       s.batches,
                                       s.a_stride,
                                       s.b_stride,
                                       static_cast<int64_t>(s.dtype),
                                       s.b_transposed ? 1 : 0,
                                       align[0],
                                       align[1],
                                       align[2]};
  auto found = plans.find(key);
  if (found == plans.end()) found = plans.emplace(key, make_plan(api, handle, s, align)).first;
  Plan& plan = found->second;
  if (plan.algos.empty()) return false;
  const float alpha = 1.0f, beta = 0.0f;
  auto run = [&](const Algo& algo) {
    return api.matmul(handle, plan.desc, &alpha, b, plan.a, a, plan.b, &beta, c, plan.c, c, plan.c,
                      &algo, workspace.get(), kWorkspaceBytes, runtime.stream());
  };
  if (plan.chosen < 0 && plan.algos.size() > 1) {
    std::vector<std::function<bool()>> candidates;
    for (const Algo& algo : plan.algos) candidates.push_back([&, algo] { return run(algo) == 0; });
    plan.chosen = fastest_candidate(runtime, candidates);
  } else if (plan.chosen < 0) {
    plan.chosen = 0;
  }
  const int status = run(plan.algos[std::max(plan.chosen, 0)]);
  YR_USER_CHECK(status == 0, "cuBLASLt matmul failed with status " << status);
  return true;
}

}  // namespace yirage::backend::cuda
