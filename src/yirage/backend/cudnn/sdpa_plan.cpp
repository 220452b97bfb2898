#include "yirage/backend/cudnn/sdpa_plan.h"

#include <algorithm>
#include <deque>

#include "yirage/backend/cuda/runtime.h"
#include "yirage/backend/cudnn/cudnn_library.h"
#include "yirage/core/error.h"
#include "yirage/core/log.h"

#if __has_include(<cudnn_graph.h>) && __has_include(<cuda_runtime_api.h>)
#include <cudnn_graph.h>
#define YIRAGE_CUDNN_GRAPH_API 1
#else
#define YIRAGE_CUDNN_GRAPH_API 0
#endif

namespace yirage::backend::cudnn {

#if YIRAGE_CUDNN_GRAPH_API

namespace {

// Unique ids of the tensors the caller binds; virtual tensors count up from kFirstVirtual.
enum Uid : int64_t { kQ = 1, kK = 2, kV = 3, kO = 4, kMask = 5, kScale = 6, kFirstVirtual = 100 };

// The handle attributes of graphs and plans (deprecated names in recent headers, the same
// values in every v9 library).
constexpr auto kOperationGraphHandle = static_cast<cudnnBackendAttributeName_t>(800);
constexpr auto kExecutionPlanHandle = static_cast<cudnnBackendAttributeName_t>(400);

// One backend descriptor, destroyed with the object.
class Descriptor {
 public:
  Descriptor() = default;
  explicit Descriptor(cudnnBackendDescriptorType_t type) {
    const int status = api().create_descriptor(static_cast<int>(type), &raw_);
    if (status != 0) fail("cudnnBackendCreateDescriptor", status);
  }
  ~Descriptor() {
    if (raw_ != nullptr) api().destroy_descriptor(raw_);
  }
  Descriptor(Descriptor&& other) noexcept : raw_(other.raw_) { other.raw_ = nullptr; }
  Descriptor& operator=(Descriptor&& other) noexcept {
    std::swap(raw_, other.raw_);
    return *this;
  }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;

  void* get() const { return raw_; }
  void* release() {
    void* raw = raw_;
    raw_ = nullptr;
    return raw;
  }
  template <typename T>
  Descriptor& set(cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type,
                  const T* values, int64_t count = 1) {
    const int status =
        api().set_attribute(raw_, static_cast<int>(name), static_cast<int>(type), count, values);
    if (status != 0) fail("cudnnBackendSetAttribute " + std::to_string(name), status);
    return *this;
  }
  Descriptor& set(cudnnBackendAttributeName_t name, const Descriptor& value) {
    void* raw = value.get();
    return set(name, CUDNN_TYPE_BACKEND_DESCRIPTOR, &raw);
  }
  Descriptor& finalize() {
    const int status = api().finalize(raw_);
    if (status != 0) fail("cudnnBackendFinalize", status);
    return *this;
  }

  static const CudnnApi& api() { return *cudnn_api(); }
  [[noreturn]] static void fail(const std::string& what, int status) {
    YR_USER_ERROR(what << " failed: " << cudnn_status_text(status));
  }

 private:
  void* raw_ = nullptr;
};

cudnnDataType_t data_type(core::DType dtype) {
  return dtype == core::DType::F16 ? CUDNN_DATA_HALF : CUDNN_DATA_BFLOAT16;
}

std::vector<int64_t> packed_strides(const std::vector<int64_t>& dims) {
  std::vector<int64_t> strides(dims.size(), 1);
  for (std::size_t i = dims.size() - 1; i > 0; --i) strides[i - 1] = strides[i] * dims[i];
  return strides;
}

Descriptor tensor(int64_t uid, cudnnDataType_t type, const std::vector<int64_t>& dims,
                  const std::vector<int64_t>& strides, bool is_virtual, bool by_value = false) {
  Descriptor d(CUDNN_BACKEND_TENSOR_DESCRIPTOR);
  const int64_t alignment = 16;
  const int64_t rank = static_cast<int64_t>(dims.size());
  d.set(CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, &type)
      .set(CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, dims.data(), rank)
      .set(CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, strides.data(), rank)
      .set(CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, &uid)
      .set(CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, &alignment)
      .set(CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, &is_virtual);
  if (by_value) d.set(CUDNN_ATTR_TENSOR_IS_BY_VALUE, CUDNN_TYPE_BOOLEAN, &by_value);
  return std::move(d.finalize());
}

Descriptor pointwise(cudnnPointwiseMode_t mode, const Descriptor& x, const Descriptor* b,
                     const Descriptor& y) {
  Descriptor op_desc(CUDNN_BACKEND_POINTWISE_DESCRIPTOR);
  const cudnnDataType_t precision = CUDNN_DATA_FLOAT;
  op_desc.set(CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, &mode)
      .set(CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_TYPE_DATA_TYPE, &precision)
      .finalize();
  Descriptor op(CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR);
  op.set(CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, op_desc)
      .set(CUDNN_ATTR_OPERATION_POINTWISE_XDESC, x);
  if (b != nullptr) op.set(CUDNN_ATTR_OPERATION_POINTWISE_BDESC, *b);
  op.set(CUDNN_ATTR_OPERATION_POINTWISE_YDESC, y);
  return std::move(op.finalize());
}

Descriptor reduction(cudnnReduceTensorOp_t mode, const Descriptor& x, const Descriptor& y) {
  Descriptor red(CUDNN_BACKEND_REDUCTION_DESCRIPTOR);
  const cudnnDataType_t precision = CUDNN_DATA_FLOAT;
  red.set(CUDNN_ATTR_REDUCTION_OPERATOR, CUDNN_TYPE_REDUCTION_OPERATOR_TYPE, &mode)
      .set(CUDNN_ATTR_REDUCTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, &precision)
      .finalize();
  Descriptor op(CUDNN_BACKEND_OPERATION_REDUCTION_DESCRIPTOR);
  op.set(CUDNN_ATTR_OPERATION_REDUCTION_XDESC, x)
      .set(CUDNN_ATTR_OPERATION_REDUCTION_YDESC, y)
      .set(CUDNN_ATTR_OPERATION_REDUCTION_DESC, red);
  return std::move(op.finalize());
}

Descriptor matmul(const Descriptor& a, const Descriptor& b, const Descriptor& c) {
  Descriptor mm(CUDNN_BACKEND_MATMUL_DESCRIPTOR);
  const cudnnDataType_t precision = CUDNN_DATA_FLOAT;
  mm.set(CUDNN_ATTR_MATMUL_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, &precision).finalize();
  Descriptor op(CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR);
  op.set(CUDNN_ATTR_OPERATION_MATMUL_ADESC, a)
      .set(CUDNN_ATTR_OPERATION_MATMUL_BDESC, b)
      .set(CUDNN_ATTR_OPERATION_MATMUL_CDESC, c)
      .set(CUDNN_ATTR_OPERATION_MATMUL_DESC, mm);
  return std::move(op.finalize());
}

}  // namespace

// Every descriptor the plan's operation graph refers to, kept alive with the plan.
struct SdpaPlan::Graph {
  std::deque<Descriptor> tensors;  // a deque: references stay valid as it grows
  std::vector<Descriptor> operations;
  Descriptor graph;
  Descriptor engine_config;  // the configuration the plan was finalized with
};

namespace {

// The tensors and operations of the attention graph (no device needed).
void build_operations(const AttentionShape& s, SdpaPlan::Graph& g) {
  const cudnnDataType_t io = data_type(s.dtype);
  const cudnnDataType_t f32 = CUDNN_DATA_FLOAT;
  int64_t next_uid = kFirstVirtual;
  const auto add_tensor = [&](Descriptor d) -> const Descriptor& {
    g.tensors.push_back(std::move(d));
    return g.tensors.back();
  };
  const std::vector<int64_t> q_dims = {s.b, s.h_q, s.s_q, s.d_qk};
  const std::vector<int64_t> kt_dims = {s.b, s.h_kv, s.d_qk, s.s_kv};
  const std::vector<int64_t> kt_strides = {s.h_kv * s.s_kv * s.d_qk, s.s_kv * s.d_qk, 1, s.d_qk};
  const std::vector<int64_t> v_dims = {s.b, s.h_kv, s.s_kv, s.d_v};
  const std::vector<int64_t> o_dims = {s.b, s.h_q, s.s_q, s.d_v};
  const std::vector<int64_t> score_dims = {s.b, s.h_q, s.s_q, s.s_kv};
  const std::vector<int64_t> row_dims = {s.b, s.h_q, s.s_q, 1};
  const std::vector<int64_t> row_strides = {s.h_q * s.s_q, s.s_q, 1, 1};
  const auto scores = [&](cudnnDataType_t type) -> const Descriptor& {
    return add_tensor(tensor(next_uid++, type, score_dims, packed_strides(score_dims), true));
  };
  const auto rows = [&]() -> const Descriptor& {
    return add_tensor(tensor(next_uid++, f32, row_dims, row_strides, true));
  };

  const Descriptor& q = add_tensor(tensor(kQ, io, q_dims, packed_strides(q_dims), false));
  const Descriptor& kt = add_tensor(tensor(kK, io, kt_dims, kt_strides, false));
  const Descriptor& v = add_tensor(tensor(kV, io, v_dims, packed_strides(v_dims), false));
  const Descriptor& o = add_tensor(tensor(kO, io, o_dims, packed_strides(o_dims), false));
  const Descriptor& scale =
      add_tensor(tensor(kScale, f32, {1, 1, 1, 1}, {1, 1, 1, 1}, false, true));

  const Descriptor& raw = scores(f32);
  g.operations.push_back(matmul(q, kt, raw));
  const Descriptor& scaled = scores(f32);
  g.operations.push_back(pointwise(CUDNN_POINTWISE_MUL, raw, &scale, scaled));
  const Descriptor* logits = &scaled;
  if (s.has_mask) {
    const std::vector<int64_t> mask_dims = {s.mask_b, s.mask_h, s.s_q, s.s_kv};
    const Descriptor& mask =
        add_tensor(tensor(kMask, io, mask_dims, packed_strides(mask_dims), false));
    const Descriptor& masked = scores(f32);
    g.operations.push_back(pointwise(CUDNN_POINTWISE_ADD, scaled, &mask, masked));
    logits = &masked;
  }
  // Softmax over the key positions, with the statistics the fused engines expect.
  const Descriptor& row_max = rows();
  g.operations.push_back(reduction(CUDNN_REDUCE_TENSOR_MAX, *logits, row_max));
  const Descriptor& shifted = scores(f32);
  g.operations.push_back(pointwise(CUDNN_POINTWISE_SUB, *logits, &row_max, shifted));
  const Descriptor& exps = scores(f32);
  g.operations.push_back(pointwise(CUDNN_POINTWISE_EXP, shifted, nullptr, exps));
  const Descriptor& row_sum = rows();
  g.operations.push_back(reduction(CUDNN_REDUCE_TENSOR_ADD, exps, row_sum));
  const Descriptor& log_sum = rows();
  g.operations.push_back(pointwise(CUDNN_POINTWISE_LOG, row_sum, nullptr, log_sum));
  const Descriptor& stats = rows();
  g.operations.push_back(pointwise(CUDNN_POINTWISE_ADD, row_max, &log_sum, stats));
  const Descriptor& probabilities = scores(io);
  g.operations.push_back(pointwise(CUDNN_POINTWISE_DIV, exps, &row_sum, probabilities));
  g.operations.push_back(matmul(probabilities, v, o));
}

}  // namespace

std::string SdpaPlan::check_operations(const AttentionShape& shape) {
  std::string why;
  if (cudnn_api(&why) == nullptr) return why;
  try {
    Graph g;
    build_operations(shape, g);
  } catch (const core::UserError& error) {
    return error.what();
  }
  return "";
}

std::shared_ptr<SdpaPlan> SdpaPlan::build(const AttentionShape& s, std::string* why, int skip) {
  const auto refuse = [&](const std::string& reason) -> std::shared_ptr<SdpaPlan> {
    if (why != nullptr) *why = reason;
    return nullptr;
  };
  if (s.dtype != core::DType::BF16 && s.dtype != core::DType::F16)
    return refuse("cuDNN's fused attention takes bfloat16 or float16");
  if (s.d_qk % 8 != 0 || s.d_v % 8 != 0 || s.d_qk > 256 || s.d_v > 256)
    return refuse("head dims must be multiples of 8 up to 256; got " + std::to_string(s.d_qk) +
                  " and " + std::to_string(s.d_v));
  if (s.h_q % s.h_kv != 0) return refuse("query heads are not a multiple of key/value heads");
  void* handle = nullptr;
  try {
    handle = cudnn_handle();
  } catch (const core::UserError& error) {
    return refuse(error.what());
  }
  std::lock_guard<std::mutex> handle_lock(handle_mutex());
  cuda::Runtime& runtime = cuda::Runtime::get();
  runtime.make_current();
  std::shared_ptr<SdpaPlan> plan(new SdpaPlan());
  plan->shape_ = s;
  plan->scale_ = static_cast<float>(s.scale);
  plan->graph_ = std::make_unique<Graph>();
  Graph& g = *plan->graph_;
  try {
    build_operations(s, g);
    std::vector<void*> ops;
    for (const Descriptor& op : g.operations) ops.push_back(op.get());
    g.graph = Descriptor(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
    g.graph
        .set(CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, ops.data(),
             static_cast<int64_t>(ops.size()))
        .set(kOperationGraphHandle, CUDNN_TYPE_HANDLE, &handle)
        .finalize();
  } catch (const core::UserError& error) {
    return refuse(std::string("the attention graph was refused: ") + error.what());
  }

  const CudnnApi& api = Descriptor::api();
  std::string last_error = "the heuristics offered no engine configuration";
  int finalized = 0;  // plans that finalized, counted against `skip`
  for (const cudnnBackendHeurMode_t mode : {CUDNN_HEUR_MODE_A, CUDNN_HEUR_MODE_FALLBACK}) {
    try {
      Descriptor heuristics(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR);
      heuristics.set(CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, g.graph)
          .set(CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, &mode)
          .finalize();
      int64_t count = 0;
      api.get_attribute(heuristics.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS,
                        CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &count, nullptr);
      if (count <= 0) continue;
      std::vector<Descriptor> configs;
      std::vector<void*> raw;
      for (int64_t i = 0; i < count; ++i) {
        configs.emplace_back(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR);
        raw.push_back(configs.back().get());
      }
      int64_t got = 0;
      const int status = api.get_attribute(heuristics.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS,
                                           CUDNN_TYPE_BACKEND_DESCRIPTOR, count, &got, raw.data());
      if (status != 0) {
        last_error = "reading the heuristics' results failed: " + cudnn_status_text(status);
        continue;
      }
      for (int64_t i = 0; i < got; ++i) {
        Descriptor candidate(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
        void* config = raw[static_cast<std::size_t>(i)];
        try {
          candidate.set(kExecutionPlanHandle, CUDNN_TYPE_HANDLE, &handle)
              .set(CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_TYPE_BACKEND_DESCRIPTOR, &config)
              .finalize();
        } catch (const core::UserError& error) {
          last_error = error.what();
          continue;
        }
        if (finalized++ < skip) {
          last_error = "every engine configuration was tried";
          continue;
        }
        int64_t workspace = 0, returned = 0;
        api.get_attribute(candidate.get(), CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE,
                          CUDNN_TYPE_INT64, 1, &returned, &workspace);
        plan->workspace_bytes_ = static_cast<std::size_t>(std::max<int64_t>(workspace, 0));
        if (plan->workspace_bytes_ > 0) plan->workspace_ = runtime.allocate(plan->workspace_bytes_);
        plan->plan_ = candidate.release();
        g.engine_config = std::move(configs[static_cast<std::size_t>(i)]);
        return plan;
      }
    } catch (const core::UserError& error) {
      last_error = error.what();
    }
  }
  return refuse("no cuDNN engine runs this attention: " + last_error);
}

SdpaPlan::~SdpaPlan() {
  if (cudnn_api() == nullptr) return;
  if (pack_ != nullptr) Descriptor::api().destroy_descriptor(pack_);
  if (plan_ != nullptr) Descriptor::api().destroy_descriptor(plan_);
}

void SdpaPlan::execute(const void* q, const void* k, const void* v, const void* mask, void* o) {
  void* handle = cudnn_handle();
  std::lock_guard<std::mutex> lock(handle_mutex());
  const std::vector<const void*> pointers = {q, k, v, o, mask};
  if (pack_ == nullptr || pointers != pack_pointers_) {
    std::vector<int64_t> uids = {kQ, kK, kV, kO, kScale};
    std::vector<void*> data = {const_cast<void*>(q), const_cast<void*>(k), const_cast<void*>(v), o,
                               &scale_};
    if (shape_.has_mask) {
      YR_INTERNAL_CHECK(mask != nullptr, "the attention plan has a mask and none was given");
      uids.push_back(kMask);
      data.push_back(const_cast<void*>(mask));
    }
    void* workspace = workspace_.get();
    Descriptor pack(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR);
    pack.set(CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, uids.data(),
             static_cast<int64_t>(uids.size()))
        .set(CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, data.data(),
             static_cast<int64_t>(data.size()))
        .set(CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, &workspace)
        .finalize();
    if (pack_ != nullptr) Descriptor::api().destroy_descriptor(pack_);
    pack_ = pack.release();
    pack_pointers_ = pointers;
  }
  cuda::Runtime::get().make_current();
  const int status = Descriptor::api().execute(handle, plan_, pack_);
  YR_USER_CHECK(status == 0, "cudnnBackendExecute failed: " << cudnn_status_text(status));
}

#else  // no cuDNN headers in this build

struct SdpaPlan::Graph {};

std::string SdpaPlan::check_operations(const AttentionShape&) {
  return "built without cuDNN's headers";
}

std::shared_ptr<SdpaPlan> SdpaPlan::build(const AttentionShape&, std::string* why, int) {
  if (why != nullptr) *why = "built without cuDNN's headers";
  return nullptr;
}

SdpaPlan::~SdpaPlan() = default;

void SdpaPlan::execute(const void*, const void*, const void*, const void*, void*) {
  YR_USER_ERROR("the cudnn backend was built without cuDNN's headers");
}

#endif

}  // namespace yirage::backend::cudnn
