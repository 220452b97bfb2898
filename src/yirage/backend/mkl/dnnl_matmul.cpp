#include "yirage/backend/mkl/dnnl_matmul.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <sstream>
#include <tuple>
#include <vector>

#include "yirage/core/error.h"
#include "yirage/core/thread_pool.h"

#if defined(YIRAGE_HAVE_DNNL)
#include <dlfcn.h>

#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace yirage::backend::mkl {

#if defined(YIRAGE_HAVE_DNNL)

namespace {

using Dims = dnnl::memory::dims;

// `shape` left-padded with ones to `rank` dims, as oneDNN's broadcasting wants.
Dims padded(const core::Shape& shape, std::size_t rank) {
  Dims dims(rank - shape.size(), 1);
  dims.insert(dims.end(), shape.begin(), shape.end());
  return dims;
}

// Row-major strides of `dims`.
Dims strides_of(const Dims& dims) {
  Dims strides(dims.size(), 1);
  for (std::size_t i = dims.size(); i-- > 1;) strides[i - 1] = strides[i] * dims[i];
  return strides;
}

dnnl::memory::data_type data_type(core::DType dtype) {
  switch (dtype) {
    case core::DType::F32:
      return dnnl::memory::data_type::f32;
    case core::DType::BF16:
      return dnnl::memory::data_type::bf16;
    case core::DType::F16:
    case core::DType::I32:
    case core::DType::I64:
      break;
  }
  YR_INTERNAL_CHECK(
      false, "oneDNN matmul of " << core::dtype_name(dtype) << "; expected float32 or bfloat16");
  return dnnl::memory::data_type::undef;
}

// oneDNN runs on OpenMP threads; it gets as many as yirage's own pool has (YIRAGE_NUM_THREADS),
// so both sides of a comparison use the same cores. The OpenMP runtime is the one oneDNN
// loaded, found by name.
// Returns that count.
int match_thread_count() {
  using SetThreads = void (*)(int);
  static const auto set_threads =
      reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
  const int threads = core::ThreadPool::global().num_threads();
  if (set_threads != nullptr) set_threads(threads);
  return threads;
}

// One engine and stream for the process, and the primitives built so far, by problem.
class Context {
 public:
  static Context& get() {
    static Context context;
    return context;
  }

  struct Entry {
    dnnl::memory::desc a, b, c;
    dnnl::matmul primitive;
  };

  // The primitive for this problem, built on first use.
  const Entry& entry(const Dims& a, const Dims& b, const Dims& c, dnnl::memory::data_type type) {
    // oneDNN fixes a primitive's thread partition when it builds it.
    const int threads = match_thread_count();
    const auto key = std::make_tuple(a, b, c, static_cast<int>(type), threads);
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = cache_.find(key);
    if (found != cache_.end()) return found->second;
    Entry made;
    made.a = dnnl::memory::desc(a, type, strides_of(a));
    made.b = dnnl::memory::desc(b, type, strides_of(b));
    made.c = dnnl::memory::desc(c, type, strides_of(c));
    const dnnl::matmul::primitive_desc desc(dnnl::matmul::desc(made.a, made.b, made.c), engine_);
    made.primitive = dnnl::matmul(desc);
    return cache_.emplace(key, std::move(made)).first->second;
  }

  dnnl::engine& engine() { return engine_; }
  dnnl::stream& stream() { return stream_; }
  std::mutex& run_mutex() { return run_mutex_; }

 private:
  Context() : engine_(dnnl::engine::kind::cpu, 0), stream_(engine_) {}
  dnnl::engine engine_;
  dnnl::stream stream_;
  std::mutex mutex_;
  std::mutex run_mutex_;
  std::map<std::tuple<Dims, Dims, Dims, int, int>, Entry> cache_;
};

}  // namespace

bool built_with_dnnl() {
  return true;
}

std::string dnnl_description() {
  const dnnl_version_t* version = dnnl_version();
  std::ostringstream text;
  text << "oneDNN " << version->major << "." << version->minor << "." << version->patch
       << " (cpu runtime " << (version->cpu_runtime == DNNL_RUNTIME_OMP ? "OMP" : "other")
       << ", isa ";
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::avx512_core_amx:
      text << "avx512_core_amx";
      break;
    case dnnl::cpu_isa::avx512_core_bf16:
      text << "avx512_core_bf16";
      break;
    case dnnl::cpu_isa::avx512_core:
      text << "avx512_core";
      break;
    case dnnl::cpu_isa::avx2:
      text << "avx2";
      break;
    default:
      text << "other";
      break;
  }
  text << ")";
  return text.str();
}

void dnnl_matmul(const core::Tensor& a, const core::Tensor& b, const core::Tensor& c) {
  YR_INTERNAL_CHECK(a.is_contiguous() && b.is_contiguous() && c.is_contiguous(),
                    "oneDNN matmul operands must be contiguous");
  YR_INTERNAL_CHECK(a.dtype() == b.dtype() && a.dtype() == c.dtype(),
                    "oneDNN matmul operands of mixed dtypes");
  const std::size_t rank = std::max({a.shape().size(), b.shape().size(), c.shape().size()});
  const auto type = data_type(a.dtype());
  try {
    Context& context = Context::get();
    const auto& entry = context.entry(padded(a.shape(), rank), padded(b.shape(), rank),
                                      padded(c.shape(), rank), type);
    dnnl::memory a_memory(entry.a, context.engine(), a.data());
    dnnl::memory b_memory(entry.b, context.engine(), b.data());
    dnnl::memory c_memory(entry.c, context.engine(), c.data());
    // One stream for the process: callers on several threads take turns.
    std::lock_guard<std::mutex> lock(context.run_mutex());
    entry.primitive.execute(
        context.stream(),
        {{DNNL_ARG_SRC, a_memory}, {DNNL_ARG_WEIGHTS, b_memory}, {DNNL_ARG_DST, c_memory}});
    context.stream().wait();
  } catch (const dnnl::error& error) {
    YR_INTERNAL_ERROR("oneDNN matmul " << core::shape_to_string(a.shape()) << " @ "
                                       << core::shape_to_string(b.shape()) << " of "
                                       << core::dtype_name(a.dtype())
                                       << " failed: " << error.what());
  }
}

#else  // built without oneDNN

bool built_with_dnnl() {
  return false;
}

std::string dnnl_description() {
  return "none";
}

void dnnl_matmul(const core::Tensor&, const core::Tensor&, const core::Tensor&) {
  YR_INTERNAL_ERROR("oneDNN matmul called in a build without oneDNN");
}

#endif

}  // namespace yirage::backend::mkl
