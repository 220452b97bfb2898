#include "yirage/llm/cuda_model.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <tuple>

#include "yirage/backend/cuda/cublaslt.h"
#include "yirage/backend/cuda/dependent_launch.h"
#include "yirage/backend/cuda/op_codegen.h"
#include "yirage/backend/cuda/runtime.h"
#include "yirage/core/error.h"
#include "yirage/core/log.h"
#include "yirage/core/thread_pool.h"
#include "yirage/ir/kernel_graph.h"
#include "yirage/llm/cuda_kernels.h"

namespace yirage::llm {

namespace {

namespace cuda = backend::cuda;
using Grid = std::array<unsigned, 3>;

// At most this many splits of the KV length per (row, KV head).
constexpr int64_t kMaxSplits = 64;
// Threads of the row-wise kernels (norms, embedding) and the grid-stride ones.
constexpr unsigned kRowThreads = 256;

enum class Output : int { Logits, Argmax };

struct DeviceLayer {
  core::Tensor input_norm, qkv, q_norm, k_norm, o, post_norm, gate_up, down;
  // [out, in] copies of the products for the GEMV kernels (undefined without them).
  core::Tensor qkv_t, o_t, gate_up_t, down_t;
};

unsigned to_unsigned(int64_t value) {
  YR_INTERNAL_CHECK(value >= 1 && value <= 0x7fffffff, "grid size " << value << " out of range");
  return static_cast<unsigned>(value);
}

char* bytes_of(const core::Tensor& tensor) {
  return static_cast<char*>(tensor.data());
}

// [rows, 2 cols]: row k holds gate row k, then up row k.
core::Tensor concat_columns(const core::Tensor& gate, const core::Tensor& up) {
  const int64_t rows = gate.dim(0), cols = gate.dim(1);
  const std::size_t row_bytes = static_cast<std::size_t>(cols) * core::dtype_size(gate.dtype());
  core::Tensor out = core::Tensor::empty({rows, 2 * cols}, gate.dtype());
  const char* g = bytes_of(gate);
  const char* u = bytes_of(up);
  char* o = bytes_of(out);
  core::ThreadPool::global().parallel_for(rows, 64, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const auto i = static_cast<std::size_t>(r);
      std::memcpy(o + 2 * i * row_bytes, g + i * row_bytes, row_bytes);
      std::memcpy(o + (2 * i + 1) * row_bytes, u + i * row_bytes, row_bytes);
    }
  });
  return out;
}

// True when the environment variable `name` is set to "0".
bool disabled_by_environment(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr && std::string(value) == "0";
}

// True when the environment variable `name` is set to "1".
bool forced_by_environment(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr && std::string(value) == "1";
}

// Replays of each candidate graph timed when choosing between GEMVs and cuBLASLt.
constexpr int kChoiceRounds = 4;

}  // namespace

struct CudaModel::State {
  cuda::Runtime& runtime;
  Qwen3Config config;
  core::DType dtype;
  CudaKernelShape shape;
  int64_t qkv_width = 0;

  cuda::Kernel embed, add_rms_norm, qk_rope, attention, decode_attention, silu_mul, to_f32, argmax;

  core::Tensor embed_table, final_norm, lm_head, rope_cos, rope_sin;
  std::vector<DeviceLayer> layers;

  // Buffers for `rows` step rows and `logit_rows` logit rows; reallocating them drops graphs.
  int64_t rows = 0, logit_rows = 0, partial_units = 0;
  core::Tensor x, h, qkv, q, attn, o, gu, a, down, part_acc, part_ml, counters;
  core::Tensor logits, logits32, ids_out;

  // The KV cache the graphs were captured for (addresses and geometry) and its metadata buffer.
  std::tuple<const void*, const void*, int64_t, int64_t> bound{nullptr, nullptr, 0, 0};
  char* keys_base = nullptr;
  char* values_base = nullptr;
  int64_t table_stride = 0, block_size = 0, layer_elements = 0;
  core::Tensor meta;  // int32: ids [rows], pos [rows], seq [rows], pick [rows], tables
  std::vector<int32_t> host_meta;

  // Graphs by (rows, output kind, argmax limit).
  std::map<std::tuple<int64_t, int, int64_t>, std::shared_ptr<void>> graphs;
  std::set<std::tuple<int64_t, int, int64_t>> warmed;
  bool use_graphs = !disabled_by_environment("YIRAGE_CUDA_GRAPHS");
  // Steps of at most kGemvMaxRows rows multiply through the GEMV kernels over [out, in] copies
  // of the weights (YIRAGE_CUDA_GEMV=0: cuBLASLt for every product).
  bool use_gemv = false;
  // YIRAGE_CUDA_GEMV=1: every decode step of few rows on the GEMVs, without timing cuBLASLt.
  bool force_gemv = forced_by_environment("YIRAGE_CUDA_GEMV");
  // For each step size n <= kGemvMaxRows whose graphs were timed: whether the GEMVs won.
  std::map<int64_t, bool> gemv_for;
  std::array<std::vector<cuda::Kernel>, 5> gemv;  // by GemvKind, then rows - 1
  cuda::Kernel transpose;
  core::Tensor lm_head_t;

  // Generated matmul kernels for when cuBLASLt cannot run a product, by (m, n, k).
  std::map<std::tuple<int64_t, int64_t, int64_t>, std::pair<cuda::KernelSource, cuda::Kernel>>
      fallback_gemms;

  CudaModelStats stats;

  State(const Qwen3Config& c, core::DType d)
      : runtime(cuda::Runtime::get()), config(c), dtype(d), shape(CudaKernelShape::of(c, d)) {
    qkv_width = (config.num_attention_heads + 2 * config.num_key_value_heads) * config.head_dim;
  }

  // Launches one of the model's kernels (each opens with the dependent-launch prologue) as a
  // programmatic dependent of the kernel before it, where the device supports that.
  template <typename... Args>
  void launch(const cuda::Kernel& kernel, Grid grid, Grid block, Args... args) {
    cuda::launch_dependent(runtime, kernel, grid, block, {static_cast<void*>(&args)...});
  }

  // Whether steps of n rows multiply through the GEMVs (else cuBLASLt).
  bool gemv_step(int64_t n) const {
    if (!use_gemv || n > kGemvMaxRows) return false;
    const auto found = gemv_for.find(n);
    return found == gemv_for.end() || found->second;
  }

  // Whether steps of n rows still need timing both ways before their graph is kept.
  bool gemv_undecided(int64_t n) const {
    return use_gemv && !force_gemv && n <= kGemvMaxRows && gemv_for.count(n) == 0;
  }

  void gemm(int64_t m, int64_t n, int64_t k, const void* a_ptr, const void* b_ptr, void* c_ptr) {
    cuda::GemmShape s;
    s.m = m;
    s.n = n;
    s.k = k;
    s.dtype = dtype;
    if (cuda::cublaslt_matmul(runtime, s, a_ptr, b_ptr, c_ptr)) return;
    auto& slot = fallback_gemms[{m, n, k}];
    if (!slot.second.function) {
      ir::KernelGraph g;
      const auto lhs = g.input({m, k}, dtype);
      const auto rhs = g.input({k, n}, dtype);
      const auto product = g.matmul(lhs, rhs);
      slot.first = cuda::generate_op_kernel(g.nodes()[static_cast<std::size_t>(product.node)],
                                            {g.type(lhs), g.type(rhs)});
      slot.second = runtime.kernel(slot.first.source, slot.first.entry, slot.first.shared_bytes);
    }
    // A plain launch: the generated matmul has no dependent-launch prologue.
    void* a_arg = const_cast<void*>(a_ptr);
    void* b_arg = const_cast<void*>(b_ptr);
    runtime.launch(slot.second, slot.first.grid, slot.first.block, {&a_arg, &b_arg, &c_ptr});
  }

  // y [n, out] = x [n, in] @ w [in, out] on cuBLASLt, or, where only the [out, in] copy w_t was
  // kept, x @ w_t^T (on cuBLASLt, else on the GEMVs, kGemvMaxRows rows at a time).
  void matmul(int64_t n, int64_t out, int64_t in, const void* x_ptr, const core::Tensor& w,
              const core::Tensor& w_t, void* y_ptr) {
    if (w.defined()) {
      gemm(n, out, in, x_ptr, w.data(), y_ptr);
      return;
    }
    YR_INTERNAL_CHECK(w_t.defined(), "a product without weights");
    cuda::GemmShape s;
    s.m = n;
    s.n = out;
    s.k = in;
    s.dtype = dtype;
    s.b_transposed = true;
    if (cuda::cublaslt_matmul(runtime, s, x_ptr, w_t.data(), y_ptr)) return;
    const std::size_t elem = core::dtype_size(dtype);
    for (int64_t r = 0; r < n; r += kGemvMaxRows) {
      const int64_t rows_here = std::min(kGemvMaxRows, n - r);
      gemv_launch(GemvKind::Plain, rows_here, out, in, w_t,
                  const_cast<char*>(static_cast<const char*>(x_ptr)) +
                      static_cast<std::size_t>(r * in) * elem,
                  static_cast<char*>(y_ptr) + static_cast<std::size_t>(r * out) * elem, nullptr);
    }
  }

  // y [n, out] = x [n, in] @ w [in, out], through the GEMV over w_t [out, in] for few rows.
  void linear(bool gemv_path, int64_t n, int64_t out, int64_t in, const void* x_ptr,
              const core::Tensor& w, const core::Tensor& w_t, void* y_ptr) {
    if (gemv_path && n <= kGemvMaxRows && w_t.defined()) {
      gemv_launch(GemvKind::Plain, n, out, in, w_t, const_cast<void*>(x_ptr), y_ptr, nullptr);
      return;
    }
    matmul(n, out, in, x_ptr, w, w_t, y_ptr);
  }

  // The GEMV of `kind` for n rows: y_ptr from x_ptr through w_t [out (2 out for Silu), in].
  void gemv_launch(GemvKind kind, int64_t n, int64_t out, int64_t in, const core::Tensor& w_t,
                   void* x_ptr, void* y_ptr, void* norm) {
    const int out_arg = static_cast<int>(out), in_arg = static_cast<int>(in);
    const auto& kernels = gemv[static_cast<std::size_t>(kind)];
    YR_INTERNAL_CHECK(n >= 1 && n <= static_cast<int64_t>(kernels.size()),
                      "no GEMV of this kind for " << n << " rows");
    const int64_t per_block = 8 * gemv_columns_per_warp(n);
    launch(kernels[static_cast<std::size_t>(n - 1)],
           Grid{to_unsigned((out + per_block - 1) / per_block), 1, 1}, Grid{256, 1, 1}, w_t.data(),
           x_ptr, y_ptr, out_arg, in_arg, norm);
  }

  // The [cols, rows] transpose of the device matrix `m` [rows, cols].
  core::Tensor transposed(const core::Tensor& m) {
    const int64_t r = m.dim(0), c = m.dim(1);
    core::Tensor out = runtime.empty({c, r}, m.dtype());
    const int rows_arg = static_cast<int>(r), cols_arg = static_cast<int>(c);
    launch(transpose, Grid{to_unsigned((c + 31) / 32), to_unsigned((r + 31) / 32), 1},
           Grid{256, 1, 1}, m.data(), out.data(), rows_arg, cols_arg);
    return out;
  }

  int64_t splits_for(int64_t n) const {
    const int64_t work = n * config.num_key_value_heads;
    const int64_t target = 2 * std::max(runtime.properties().multiprocessors, 1);
    return std::clamp<int64_t>((target + work - 1) / work, 1, kMaxSplits);
  }

  void ensure_buffers(int64_t n, int64_t wanted) {
    if (n <= rows && wanted <= logit_rows) return;
    const int64_t r = std::max(n, rows), w = std::max(wanted, logit_rows);
    runtime.synchronize();  // work in flight may still use the old buffers
    graphs.clear();
    warmed.clear();
    const auto buffer = [&](int64_t elements, core::DType type) {
      return runtime.empty({std::max<int64_t>(elements, 1)}, type);
    };
    const int64_t hidden = config.hidden_size, inter = config.intermediate_size;
    const int64_t head_width = config.num_attention_heads * config.head_dim;
    if (r > rows) {
      x = buffer(r * hidden, dtype);
      h = buffer(std::max(r, w) * hidden, dtype);
      qkv = buffer(r * qkv_width, dtype);
      q = buffer(r * head_width, dtype);
      attn = buffer(r * head_width, dtype);
      o = buffer(r * hidden, dtype);
      gu = buffer(r * 2 * inter, dtype);
      a = buffer(r * inter, dtype);
      down = buffer(r * hidden, dtype);
      int64_t units = 0;
      for (int64_t k = 1; k <= r; ++k) units = std::max(units, k * splits_for(k));
      part_acc = buffer(units * head_width, core::DType::F32);
      part_ml = buffer(units * config.num_attention_heads * 2, core::DType::F32);
      partial_units = units;
      // The attention's split counters start at zero (and each launch leaves them so).
      counters = buffer(r * config.num_key_value_heads, core::DType::I32);
      const std::vector<int32_t> zeros(static_cast<std::size_t>(counters.numel()), 0);
      runtime.copy_to_device(counters.data(), zeros.data(), zeros.size() * sizeof(int32_t));
      runtime.synchronize();
      rows = r;
      meta = core::Tensor();
    }
    if (w > logit_rows) {
      if (w > rows) h = buffer(w * hidden, dtype);
      logits = buffer(w * config.vocab_size, dtype);
      logits32 = buffer(w * config.vocab_size, core::DType::F32);
      ids_out = buffer(w, core::DType::I32);
      logit_rows = w;
    }
    if (!meta.defined() && table_stride > 0)
      meta = buffer(4 * rows + rows * table_stride, core::DType::I32);
  }

  void bind(const KvCache& cache) {
    const KvLayout& layout = cache.layout();
    YR_USER_CHECK(layout.device == core::DeviceKind::Cuda,
                  "the CUDA model needs a KV cache in device memory; create it with the model's "
                  "kv_layout()");
    YR_INTERNAL_CHECK(layout.dtype == dtype && layout.num_layers == config.num_hidden_layers &&
                          layout.num_kv_heads == config.num_key_value_heads &&
                          layout.head_dim == config.head_dim,
                      "the KV cache's layout does not match the model");
    const auto key = std::make_tuple(static_cast<const void*>(cache.keys().data()),
                                     static_cast<const void*>(cache.values().data()),
                                     cache.block_size(), cache.num_blocks());
    if (key == bound) return;
    runtime.synchronize();
    graphs.clear();
    warmed.clear();
    bound = key;
    keys_base = bytes_of(cache.keys());
    values_base = bytes_of(cache.values());
    block_size = cache.block_size();
    table_stride = std::max<int64_t>(
        1, std::min(cache.num_blocks(), cache.blocks_for(config.max_position_embeddings)));
    layer_elements = cache.num_blocks() * block_size * layout.num_kv_heads * layout.head_dim;
    meta = core::Tensor();
    if (rows > 0) meta = runtime.empty({4 * rows + rows * table_stride}, core::DType::I32);
  }

  // What upload() found out about a step.
  struct StepKind {
    bool one_row_per_sequence = false;  // no two rows of one sequence
    bool graphable = false;             // and every row's logits, in order: a decode step
  };

  // Writes the step's metadata and copies it to the device.
  StepKind upload(const KvCache& cache, const StepRows& step) {
    const auto n = static_cast<int64_t>(step.ids.size());
    const auto wanted = static_cast<int64_t>(step.logit_rows.size());
    std::map<int64_t, int32_t> table_of;
    host_meta.assign(static_cast<std::size_t>(4 * rows), 0);
    for (int64_t r = 0; r < n; ++r) {
      const auto i = static_cast<std::size_t>(r);
      const AttentionRow& row = step.rows[i];
      auto [it, added] = table_of.emplace(row.sequence, static_cast<int32_t>(table_of.size()));
      if (added) {
        const auto& blocks = cache.block_table(row.sequence);
        YR_INTERNAL_CHECK(static_cast<int64_t>(blocks.size()) <= table_stride,
                          "sequence " << row.sequence << " holds " << blocks.size()
                                      << " blocks; the device tables hold " << table_stride);
        YR_INTERNAL_CHECK(row.position / block_size < static_cast<int64_t>(blocks.size()),
                          "position " << row.position << " is beyond the reserved slots");
        const std::size_t at = host_meta.size();
        host_meta.resize(at + static_cast<std::size_t>(table_stride), 0);
        std::copy(blocks.begin(), blocks.end(),
                  host_meta.begin() + static_cast<std::ptrdiff_t>(at));
      }
      host_meta[i] = static_cast<int32_t>(step.ids[i]);
      host_meta[static_cast<std::size_t>(rows) + i] = static_cast<int32_t>(row.position);
      host_meta[static_cast<std::size_t>(2 * rows) + i] = it->second;
    }
    bool in_order = wanted == n;
    for (int64_t r = 0; r < wanted; ++r) {
      const int64_t pick = step.logit_rows[static_cast<std::size_t>(r)];
      host_meta[static_cast<std::size_t>(3 * rows + r)] = static_cast<int32_t>(pick);
      in_order = in_order && pick == r;
    }
    runtime.copy_to_device(meta.data(), host_meta.data(), host_meta.size() * sizeof(int32_t));
    StepKind kind;
    kind.one_row_per_sequence = static_cast<int64_t>(table_of.size()) == n;
    kind.graphable = in_order && kind.one_row_per_sequence;
    return kind;
  }

  // one_row_per_sequence: every row is the only one of its sequence in the step (decode), so
  // attention may write each row's key and value itself. on_gemv: the products run on the GEMVs
  // (n <= kGemvMaxRows), else on cuBLASLt.
  void enqueue(int64_t n, int64_t wanted, Output output, int64_t limit, bool one_row_per_sequence,
               bool on_gemv) {
    const auto* m = static_cast<int32_t*>(meta.data());
    void* ids = const_cast<int32_t*>(m);
    void* pos = const_cast<int32_t*>(m + rows);
    void* seq = const_cast<int32_t*>(m + 2 * rows);
    void* pick = const_cast<int32_t*>(m + 3 * rows);
    void* tables = const_cast<int32_t*>(m + 4 * rows);
    void* none = nullptr;
    const int rows_arg = static_cast<int>(n);
    const int stride_arg = static_cast<int>(table_stride);
    const int block_arg = static_cast<int>(block_size);
    const int64_t hidden = config.hidden_size, inter = config.intermediate_size;
    const int64_t heads = config.num_attention_heads, kv_heads = config.num_key_value_heads;
    const int64_t d = config.head_dim;
    const std::size_t elem = core::dtype_size(dtype);
    const Grid row_block{kRowThreads, 1, 1};
    const Grid row_grid{to_unsigned(n), 1, 1};

    launch(embed, row_grid, row_block, ids, embed_table.data(), x.data());
    const int64_t splits = splits_for(n);
    // Steps of few rows multiply through the GEMVs, which add the attention and MLP outputs to
    // the residual stream themselves; of at most kGemvNormMaxRows rows, they also compute the
    // RMSNorms they read.
    const bool gemv_path = on_gemv && use_gemv && n <= kGemvMaxRows;
    const bool norm_fused = gemv_path && n <= kGemvNormMaxRows;
    const auto grid_stride_blocks = [](int64_t count) {
      return to_unsigned(std::clamp<int64_t>((count + kRowThreads - 1) / kRowThreads, 1, 4096));
    };
    for (std::size_t l = 0; l < layers.size(); ++l) {
      const DeviceLayer& w = layers[l];
      const std::size_t layer_offset = l * static_cast<std::size_t>(layer_elements) * elem;
      void* k_cache = keys_base + layer_offset;
      void* v_cache = values_base + layer_offset;
      if (gemv_path) {
        // The residual stream already holds the previous layer's output.
        if (norm_fused) {
          gemv_launch(GemvKind::NormPlain, n, qkv_width, hidden, w.qkv_t, x.data(), qkv.data(),
                      w.input_norm.data());
        } else {
          launch(add_rms_norm, row_grid, row_block, x.data(), none, w.input_norm.data(), h.data(),
                 none);
          gemv_launch(GemvKind::Plain, n, qkv_width, hidden, w.qkv_t, h.data(), qkv.data(), none);
        }
      } else {
        launch(add_rms_norm, row_grid, row_block, x.data(), l == 0 ? none : down.data(),
               w.input_norm.data(), h.data(), none);
        matmul(n, qkv_width, hidden, h.data(), w.qkv, w.qkv_t, qkv.data());
      }
      const int splits_arg = static_cast<int>(splits);
      const Grid attention_grid{to_unsigned(n * kv_heads), to_unsigned(splits), 1};
      const Grid attention_block{static_cast<unsigned>(CudaKernelShape::kAttentionThreads), 1, 1};
      if (one_row_per_sequence) {
        launch(decode_attention, attention_grid, attention_block, qkv.data(), w.q_norm.data(),
               w.k_norm.data(), pos, seq, tables, stride_arg, block_arg, rope_cos.data(),
               rope_sin.data(), k_cache, v_cache, attn.data(), part_acc.data(), part_ml.data(),
               counters.data(), splits_arg);
      } else {
        launch(qk_rope, Grid{to_unsigned((n * (heads + 2 * kv_heads) + 3) / 4), 1, 1},
               Grid{128, 1, 1}, qkv.data(), w.q_norm.data(), w.k_norm.data(), pos, seq, tables,
               stride_arg, block_arg, rope_cos.data(), rope_sin.data(), q.data(), k_cache, v_cache,
               rows_arg);
        launch(attention, attention_grid, attention_block, q.data(), pos, seq, tables, stride_arg,
               block_arg, k_cache, v_cache, attn.data(), part_acc.data(), part_ml.data(),
               counters.data(), splits_arg);
      }
      if (gemv_path) {
        gemv_launch(GemvKind::Residual, n, hidden, heads * d, w.o_t, attn.data(), x.data(), none);
        if (norm_fused) {
          gemv_launch(GemvKind::NormSilu, n, inter, hidden, w.gate_up_t, x.data(), a.data(),
                      w.post_norm.data());
        } else {
          launch(add_rms_norm, row_grid, row_block, x.data(), none, w.post_norm.data(), h.data(),
                 none);
          gemv_launch(GemvKind::Silu, n, inter, hidden, w.gate_up_t, h.data(), a.data(), none);
        }
        gemv_launch(GemvKind::Residual, n, hidden, inter, w.down_t, a.data(), x.data(), none);
      } else {
        matmul(n, hidden, heads * d, attn.data(), w.o, w.o_t, o.data());
        launch(add_rms_norm, row_grid, row_block, x.data(), o.data(), w.post_norm.data(), h.data(),
               none);
        matmul(n, 2 * inter, hidden, h.data(), w.gate_up, w.gate_up_t, gu.data());
        launch(silu_mul, Grid{grid_stride_blocks(n * inter), 1, 1}, row_block, gu.data(), a.data(),
               rows_arg);
        matmul(n, hidden, inter, a.data(), w.down, w.down_t, down.data());
      }
    }
    launch(add_rms_norm, Grid{to_unsigned(wanted), 1, 1}, row_block, x.data(),
           gemv_path ? none : down.data(), final_norm.data(), h.data(), pick);
    // The head of a longer step's few logit rows still runs on the GEMV (when chosen).
    linear(on_gemv && use_gemv, wanted, config.vocab_size, hidden, h.data(), lm_head, lm_head_t,
           logits.data());
    if (output == Output::Argmax) {
      launch(argmax, Grid{to_unsigned(wanted), 1, 1}, Grid{1024, 1, 1}, logits.data(),
             ids_out.data(), static_cast<int>(config.vocab_size), static_cast<int>(limit));
    } else {
      const long long count = wanted * config.vocab_size;
      launch(to_f32, Grid{grid_stride_blocks(count), 1, 1}, row_block, logits.data(),
             logits32.data(), count);
    }
  }

  // The decode step (n rows, `wanted` logit rows) captured as a graph; null when capture fails.
  std::shared_ptr<void> capture(int64_t n, int64_t wanted, Output output, int64_t limit,
                                bool on_gemv) {
    try {
      runtime.begin_capture();
      try {
        enqueue(n, wanted, output, limit, true, on_gemv);
      } catch (...) {
        runtime.end_capture();
        throw;
      }
      return runtime.end_capture();
    } catch (const std::exception&) {
      return nullptr;
    }
  }

  // Replays the GEMV graph and the cuBLASLt graph of one decode step alternately and returns
  // whether the GEMV one was faster. Replaying a decode step again is harmless: it recomputes
  // the same outputs and rewrites the same cache slots.
  bool gemv_faster(const std::shared_ptr<void>& with_gemv, const std::shared_ptr<void>& without) {
    runtime.launch_graph(with_gemv);  // first replays upload the graphs
    runtime.launch_graph(without);
    float gemv_ms = 0.0f, cublaslt_ms = 0.0f;
    for (int round = 0; round < kChoiceRounds; ++round) {
      const auto start = runtime.record_event();
      runtime.launch_graph(with_gemv);
      const auto middle = runtime.record_event();
      runtime.launch_graph(without);
      const auto end = runtime.record_event();
      runtime.synchronize();
      gemv_ms += runtime.elapsed_ms(start.get(), middle.get());
      cublaslt_ms += runtime.elapsed_ms(middle.get(), end.get());
    }
    YR_LOG(Info) << "decode graph replay: GEMVs " << gemv_ms / kChoiceRounds << " ms, cuBLASLt "
                 << cublaslt_ms / kChoiceRounds << " ms";
    return gemv_ms <= cublaslt_ms;
  }

  void run(KvCache& cache, const StepRows& step, Output output, int64_t limit) {
    runtime.make_current();
    bind(cache);
    const auto n = static_cast<int64_t>(step.ids.size());
    const auto wanted = static_cast<int64_t>(step.logit_rows.size());
    YR_INTERNAL_CHECK(n >= 1 && wanted >= 1 && step.rows.size() == step.ids.size(),
                      "a device step needs rows and logit rows");
    ensure_buffers(n, wanted);
    const StepKind kind = upload(cache, step);
    const bool decode = kind.graphable;
    const auto key =
        std::make_tuple(n, static_cast<int>(output), output == Output::Argmax ? limit : int64_t{0});
    if (decode && use_graphs) {
      if (auto found = graphs.find(key); found != graphs.end()) {
        runtime.launch_graph(found->second);
        ++stats.graph_replays;
        return;
      }
      if (warmed.count(key) != 0) {
        std::shared_ptr<void> graph = capture(n, wanted, output, limit, gemv_step(n));
        if (graph && gemv_undecided(n)) {
          // Both ways were warmed up by the eager step before; keep the faster graph.
          std::shared_ptr<void> other = capture(n, wanted, output, limit, false);
          bool faster = true;
          if (other) faster = gemv_faster(graph, other);
          gemv_for[n] = faster;
          (faster ? stats.gemv_won : stats.cublaslt_won).push_back(n);
          if (!faster) graph = other;
        }
        if (!graph) use_graphs = false;  // run kernel by kernel from now on
        if (graph) {
          graphs[key] = graph;
          ++stats.graph_captures;
          runtime.launch_graph(graph);  // the kept graph's outputs are the step's
          ++stats.graph_replays;
          return;
        }
      }
      warmed.insert(key);
      // Run the cuBLASLt way once too before its capture (its first calls set things up).
      if (use_graphs && gemv_undecided(n)) enqueue(n, wanted, output, limit, true, false);
    }
    enqueue(n, wanted, output, limit, kind.one_row_per_sequence, gemv_step(n));
    ++stats.eager_steps;
  }
};

CudaModel::CudaModel(const Qwen3Config& config, Qwen3Weights weights, core::DType dtype) {
  const std::string why = CudaKernelShape::of(config, dtype).unsupported_reason();
  YR_USER_CHECK(why.empty(), "the CUDA model cannot run this model: " << why);
  state_ = std::make_unique<State>(config, dtype);
  State& s = *state_;
  s.runtime.make_current();
  const std::string source = qwen3_cuda_source(s.shape);
  s.embed = s.runtime.kernel(source, "yr_embed");
  s.add_rms_norm = s.runtime.kernel(source, "yr_add_rms_norm");
  s.qk_rope = s.runtime.kernel(source, "yr_qk_rope_store");
  s.attention = s.runtime.kernel(source, "yr_attention");
  s.decode_attention = s.runtime.kernel(source, "yr_decode_attention");
  s.silu_mul = s.runtime.kernel(source, "yr_silu_mul");
  s.to_f32 = s.runtime.kernel(source, "yr_to_f32");
  s.argmax = s.runtime.kernel(source, "yr_argmax");
  s.transpose = s.runtime.kernel(source, "yr_transpose");
  const int64_t vec = s.shape.vector_elements();
  s.use_gemv = !disabled_by_environment("YIRAGE_CUDA_GEMV") && config.hidden_size % vec == 0 &&
               config.intermediate_size % vec == 0 &&
               (config.num_attention_heads * config.head_dim) % vec == 0;
  s.stats.gemv = s.use_gemv;
  if (s.use_gemv) {
    for (const GemvKind kind : {GemvKind::Plain, GemvKind::Silu, GemvKind::Residual,
                                GemvKind::NormPlain, GemvKind::NormSilu}) {
      const bool norm = kind == GemvKind::NormPlain || kind == GemvKind::NormSilu;
      for (int64_t m = 1; m <= (norm ? kGemvNormMaxRows : kGemvMaxRows); ++m) {
        s.gemv[static_cast<std::size_t>(kind)].push_back(
            s.runtime.kernel(source, gemv_entry(m, kind)));
      }
    }
  }

  // Upload layer by layer, releasing the host copies once each layer's copies are done.
  const auto upload = [&s](core::Tensor& host) {
    core::Tensor device = s.runtime.to_device(host);
    return device;
  };
  {
    const RopeTables rope =
        rope_tables(config.rope_theta, config.head_dim, config.max_position_embeddings);
    const core::Shape shape{config.max_position_embeddings, config.head_dim / 2};
    s.rope_cos = s.runtime.empty(shape, core::DType::F32);
    s.rope_sin = s.runtime.empty(shape, core::DType::F32);
    s.runtime.copy_to_device(s.rope_cos.data(), rope.cos.data(), rope.cos.size() * sizeof(float));
    s.runtime.copy_to_device(s.rope_sin.data(), rope.sin.data(), rope.sin.size() * sizeof(float));
    s.runtime.synchronize();
  }
  s.embed_table = upload(weights.embed);
  s.final_norm = upload(weights.final_norm);
  s.lm_head = upload(weights.lm_head);
  s.runtime.synchronize();
  weights.embed = core::Tensor();
  weights.lm_head = core::Tensor();
  // The [out, in] copies for the GEMVs, made as each layer arrives. Where cuBLASLt runs, it
  // multiplies by the transposed copies too, and the [in, out] weights are dropped (one copy of
  // the model on the device). Where the device lacks the memory for the copies, cuBLASLt runs
  // every product instead.
  const bool one_copy = s.use_gemv && cuda::cublaslt_available();
  bool copies = s.use_gemv;
  const auto no_memory = [&](const core::UserError& error) {
    YR_LOG(Warn) << "no device memory for the GEMV copies of the weights (" << error.what()
                 << "); the products run on cuBLASLt";
    s.runtime.synchronize();
    copies = false;
  };
  if (copies) {
    try {
      // The tied head's [vocab, hidden] form is the embedding itself.
      s.lm_head_t = config.tie_word_embeddings ? s.embed_table : s.transposed(s.lm_head);
      s.runtime.synchronize();
      if (one_copy) s.lm_head = core::Tensor();
    } catch (const core::UserError& error) {
      no_memory(error);
      s.lm_head_t = core::Tensor();
    }
  }
  for (LayerWeights& layer : weights.layers) {
    DeviceLayer d;
    core::Tensor gate_up = concat_columns(layer.gate, layer.up);
    d.input_norm = upload(layer.input_norm);
    d.qkv = upload(layer.qkv);
    d.q_norm = upload(layer.q_norm);
    d.k_norm = upload(layer.k_norm);
    d.o = upload(layer.o);
    d.post_norm = upload(layer.post_norm);
    d.gate_up = upload(gate_up);
    d.down = upload(layer.down);
    s.runtime.synchronize();
    layer = LayerWeights();
    if (copies) {
      try {
        d.qkv_t = s.transposed(d.qkv);
        d.o_t = s.transposed(d.o);
        d.gate_up_t = s.transposed(d.gate_up);
        d.down_t = s.transposed(d.down);
        s.runtime.synchronize();
        if (one_copy) d.qkv = d.o = d.gate_up = d.down = core::Tensor();
      } catch (const core::UserError& error) {
        no_memory(error);
        d.qkv_t = d.o_t = d.gate_up_t = d.down_t = core::Tensor();
      }
    }
    s.layers.push_back(std::move(d));
  }
  if (s.use_gemv && !copies) {
    // Every product on cuBLASLt, over whichever copy each weight has; the transposed copies of
    // weights that kept their [in, out] form are released.
    s.use_gemv = false;
    s.stats.gemv = false;
    if (s.lm_head.defined()) s.lm_head_t = core::Tensor();
    for (DeviceLayer& d : s.layers) {
      if (d.qkv.defined()) d.qkv_t = d.o_t = d.gate_up_t = d.down_t = core::Tensor();
    }
  }
}

CudaModel::~CudaModel() = default;

core::Tensor CudaModel::logits(KvCache& cache, const StepRows& step) {
  State& s = *state_;
  s.run(cache, step, Output::Logits, 0);
  const auto wanted = static_cast<int64_t>(step.logit_rows.size());
  core::Tensor result = core::Tensor::empty({wanted, s.config.vocab_size}, core::DType::F32);
  s.runtime.copy_to_host(result.data(), s.logits32.data(), result.nbytes());
  return result;
}

std::vector<int64_t> CudaModel::argmax(KvCache& cache, const StepRows& step, int64_t limit) {
  State& s = *state_;
  YR_INTERNAL_CHECK(limit >= 1 && limit <= s.config.vocab_size,
                    "argmax over " << limit << " of " << s.config.vocab_size << " logits");
  s.run(cache, step, Output::Argmax, limit);
  std::vector<int32_t> ids(step.logit_rows.size());
  s.runtime.copy_to_host(ids.data(), s.ids_out.data(), ids.size() * sizeof(int32_t));
  return {ids.begin(), ids.end()};
}

const CudaModelStats& CudaModel::stats() const {
  return state_->stats;
}

}  // namespace yirage::llm
