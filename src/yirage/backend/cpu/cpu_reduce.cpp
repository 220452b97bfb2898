// Reductions over one dimension, softmax and RMS normalization, in float32 with one rounding on
// store. Every op views its input as [outer, extent, inner] around the reduced dimension.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "yirage/backend/cpu/cpu_convert.h"
#include "yirage/backend/cpu/cpu_math.h"
#include "yirage/backend/cpu/cpu_ops.h"
#include "yirage/core/error.h"
#include "yirage/core/thread_pool.h"

namespace yirage::backend::cpu {

namespace {

constexpr int64_t kColumns = 256;  // inner columns handled together when inner > 1

struct Extents {
  int64_t outer = 1, extent = 1, inner = 1;
};

Extents split_at(const core::Shape& shape, int64_t dim) {
  Extents e;
  for (int64_t i = 0; i < dim; ++i) e.outer *= shape[i];
  e.extent = shape[dim];
  for (std::size_t i = static_cast<std::size_t>(dim) + 1; i < shape.size(); ++i)
    e.inner *= shape[i];
  return e;
}

const char* byte_at(const core::Tensor& t, int64_t element) {
  return static_cast<const char*>(t.data()) +
         element * static_cast<int64_t>(core::dtype_size(t.dtype()));
}

char* byte_at_mut(const core::Tensor& t, int64_t element) {
  return static_cast<char*>(t.data()) + element * static_cast<int64_t>(core::dtype_size(t.dtype()));
}

// A per-thread float buffer of at least `count` elements.
float* scratch(int64_t count) {
  thread_local std::vector<float> buffer;
  if (static_cast<int64_t>(buffer.size()) < count) buffer.resize(static_cast<std::size_t>(count));
  return buffer.data();
}

// Sum of `count` floats over 16 interleaved partial sums (vectorisable, and more accurate than
// one running sum).
YR_CPU_CLONES float sum_of(const float* v, int64_t count) {
  float partial[16] = {};
  int64_t i = 0;
  for (; i + 16 <= count; i += 16) {
    for (int j = 0; j < 16; ++j) partial[j] += v[i + j];
  }
  for (; i < count; ++i) partial[i % 16] += v[i];
  for (int width = 8; width >= 1; width /= 2) {
    for (int j = 0; j < width; ++j) partial[j] += partial[j + width];
  }
  return partial[0];
}

// Sum of squares of `count` floats, as sum_of.
YR_CPU_CLONES float sum_of_squares(const float* v, int64_t count) {
  float partial[16] = {};
  int64_t i = 0;
  for (; i + 16 <= count; i += 16) {
    for (int j = 0; j < 16; ++j) partial[j] += v[i + j] * v[i + j];
  }
  for (; i < count; ++i) partial[i % 16] += v[i] * v[i];
  for (int width = 8; width >= 1; width /= 2) {
    for (int j = 0; j < width; ++j) partial[j] += partial[j + width];
  }
  return partial[0];
}

// values[k, i] = e^(values[k, i] - peak[i]); total[i] += values[k, i], over `extent` rows of
// `width` columns.
YR_CPU_CLONES void exponentiate(float* values, int64_t extent, int64_t width, const float* peak,
                                float* total) {
  if (width == 1) {
    float partial[16] = {};
    for (int64_t k = 0; k < extent; ++k) {
      const float v = exp_approx(values[k] - peak[0]);
      values[k] = v;
      partial[k % 16] += v;
    }
    for (float p : partial) total[0] += p;
    return;
  }
  for (int64_t k = 0; k < extent; ++k) {
    for (int64_t i = 0; i < width; ++i) {
      const float v = exp_approx(values[k * width + i] - peak[i]);
      values[k * width + i] = v;
      total[i] += v;
    }
  }
}

int64_t grain_for(int64_t work_per_item) {
  return std::max<int64_t>(1, 16384 / std::max<int64_t>(1, work_per_item));
}

}  // namespace

void reduce_op(const ir::Node& node, const core::Tensor& x, const core::Tensor& out) {
  const Extents e = split_at(x.shape(), node.attrs.get_int("dim"));
  const bool is_max = node.op == ir::OpKind::Max;
  const bool is_mean = node.op == ir::OpKind::Mean;
  const float init = is_max ? -std::numeric_limits<float>::infinity() : 0.0f;
  const int64_t column_blocks = (e.inner + kColumns - 1) / kColumns;
  // Items: (outer index, block of inner columns); each reduces `extent` rows of its columns.
  core::ThreadPool::global().parallel_for(
      e.outer * column_blocks, grain_for(e.extent * std::min(e.inner, kColumns)),
      [&](int64_t begin, int64_t end) {
        float* row = scratch(std::max(kColumns, std::min<int64_t>(e.extent, 4096)) * 2);
        float* acc = row + std::max(kColumns, std::min<int64_t>(e.extent, 4096));
        for (int64_t item = begin; item < end; ++item) {
          const int64_t o = item / column_blocks, c0 = (item % column_blocks) * kColumns;
          const int64_t width = std::min(kColumns, e.inner - c0);
          if (e.inner == 1) {  // a contiguous row: reduce in pieces
            float total = init;
            for (int64_t k0 = 0; k0 < e.extent; k0 += 4096) {
              const int64_t length = std::min<int64_t>(4096, e.extent - k0);
              load_floats(byte_at(x, o * e.extent + k0), x.dtype(), length, row);
              if (is_max) {
                for (int64_t k = 0; k < length; ++k) total = std::max(total, row[k]);
              } else {
                total += sum_of(row, length);
              }
            }
            acc[0] = total;
          } else {
            std::fill_n(acc, width, init);
            for (int64_t k = 0; k < e.extent; ++k) {
              load_floats(byte_at(x, (o * e.extent + k) * e.inner + c0), x.dtype(), width, row);
              if (is_max) {
                for (int64_t i = 0; i < width; ++i) acc[i] = std::max(acc[i], row[i]);
              } else {
                for (int64_t i = 0; i < width; ++i) acc[i] += row[i];
              }
            }
          }
          if (is_mean) {
            const float scale = 1.0f / static_cast<float>(e.extent);
            for (int64_t i = 0; i < width; ++i) acc[i] *= scale;
          }
          store_floats(acc, out.dtype(), width, byte_at_mut(out, o * e.inner + c0));
        }
      });
}

void softmax_op(const ir::Node& node, const core::Tensor& x, const core::Tensor& out) {
  const Extents e = split_at(x.shape(), node.attrs.get_int("dim"));
  const int64_t width_max = e.inner == 1 ? 1 : std::min<int64_t>(e.inner, 64);
  const int64_t column_blocks = (e.inner + width_max - 1) / width_max;
  core::ThreadPool::global().parallel_for(
      e.outer * column_blocks, grain_for(e.extent * width_max), [&](int64_t begin, int64_t end) {
        float* values = scratch(e.extent * width_max + 2 * width_max);
        float* peak = values + e.extent * width_max;
        float* total = peak + width_max;
        for (int64_t item = begin; item < end; ++item) {
          const int64_t o = item / column_blocks, c0 = (item % column_blocks) * width_max;
          const int64_t width = std::min(width_max, e.inner - c0);
          // values[k * width + i] = x[o, k, c0 + i]
          if (e.inner == 1) {
            load_floats(byte_at(x, o * e.extent), x.dtype(), e.extent, values);
          } else {
            for (int64_t k = 0; k < e.extent; ++k) {
              load_floats(byte_at(x, (o * e.extent + k) * e.inner + c0), x.dtype(), width,
                          values + k * width);
            }
          }
          std::fill_n(peak, width, -std::numeric_limits<float>::infinity());
          std::fill_n(total, width, 0.0f);
          for (int64_t k = 0; k < e.extent; ++k) {
            for (int64_t i = 0; i < width; ++i) peak[i] = std::max(peak[i], values[k * width + i]);
          }
          exponentiate(values, e.extent, width, peak, total);
          for (int64_t i = 0; i < width; ++i) total[i] = 1.0f / total[i];
          for (int64_t k = 0; k < e.extent; ++k) {
            for (int64_t i = 0; i < width; ++i) values[k * width + i] *= total[i];
          }
          if (e.inner == 1) {
            store_floats(values, out.dtype(), e.extent, byte_at_mut(out, o * e.extent));
          } else {
            for (int64_t k = 0; k < e.extent; ++k) {
              store_floats(values + k * width, out.dtype(), width,
                           byte_at_mut(out, (o * e.extent + k) * e.inner + c0));
            }
          }
        }
      });
}

void rms_norm_op(const ir::Node& node, const core::Tensor& x, const core::Tensor& weight,
                 const core::Tensor& out) {
  const float eps = static_cast<float>(node.attrs.get_float("eps"));
  const int64_t d = x.shape().back();
  const int64_t rows = x.numel() / d;
  std::vector<float> w(static_cast<std::size_t>(d));
  load_floats(weight.data(), weight.dtype(), d, w.data());
  core::ThreadPool::global().parallel_for(rows, grain_for(d), [&](int64_t begin, int64_t end) {
    float* row = scratch(d);
    for (int64_t r = begin; r < end; ++r) {
      load_floats(byte_at(x, r * d), x.dtype(), d, row);
      const float sum_squares = sum_of_squares(row, d);
      const float scale = 1.0f / std::sqrt(sum_squares / static_cast<float>(d) + eps);
      for (int64_t i = 0; i < d; ++i) row[i] = row[i] * scale * w[static_cast<std::size_t>(i)];
      store_floats(row, out.dtype(), d, byte_at_mut(out, r * d));
    }
  });
}

}  // namespace yirage::backend::cpu
