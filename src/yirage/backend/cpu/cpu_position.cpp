// Ops indexed by integers: embedding (rows of a table by id) and rotary position embedding.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "yirage/backend/cpu/cpu_convert.h"
#include "yirage/backend/cpu/cpu_ops.h"
#include "yirage/core/error.h"
#include "yirage/core/thread_pool.h"

namespace yirage::backend::cpu {

void embedding_op(const core::Tensor& ids, const core::Tensor& table, const core::Tensor& out) {
  const int64_t rows = table.shape()[0];
  const auto row_bytes = static_cast<int64_t>(table.shape()[1] * core::dtype_size(table.dtype()));
  const int64_t count = ids.numel();
  for (int64_t i = 0; i < count; ++i) {  // check every id before writing anything
    const int64_t id = load_index(ids.data(), ids.dtype(), i);
    YR_USER_CHECK(id >= 0 && id < rows, "embedding: id " << id << " at position " << i
                                                         << " is out of range for a table of "
                                                         << rows << " rows; expected 0 <= id < "
                                                         << rows);
  }
  const auto* source = static_cast<const char*>(table.data());
  auto* target = static_cast<char*>(out.data());
  core::ThreadPool::global().parallel_for(
      count, std::max<int64_t>(1, 65536 / std::max<int64_t>(1, row_bytes)),
      [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
          const int64_t id = load_index(ids.data(), ids.dtype(), i);
          std::memcpy(target + i * row_bytes, source + id * row_bytes,
                      static_cast<std::size_t>(row_bytes));
        }
      });
}

void rope_op(const ir::Node& node, const core::Tensor& x, const core::Tensor& positions,
             const core::Tensor& out) {
  const double theta = node.attrs.get_float("theta");
  const int64_t d = x.shape().back(), half = d / 2;
  const int64_t count = positions.numel();
  const int64_t rows_per_position = x.numel() / (count * d);
  // Inverse frequencies theta^(-2i/d), in double: the angle position * frequency is formed in
  // double and only its cosine and sine are rounded to float.
  std::vector<double> frequency(static_cast<std::size_t>(half));
  for (int64_t i = 0; i < half; ++i) {
    frequency[static_cast<std::size_t>(i)] =
        std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(d));
  }
  const auto element = static_cast<int64_t>(core::dtype_size(x.dtype()));
  core::ThreadPool::global().parallel_for(
      count, std::max<int64_t>(1, 8192 / std::max<int64_t>(1, rows_per_position * d)),
      [&](int64_t begin, int64_t end) {
        std::vector<float> cosine(static_cast<std::size_t>(half));
        std::vector<float> sine(static_cast<std::size_t>(half));
        std::vector<float> row(static_cast<std::size_t>(d));
        for (int64_t p = begin; p < end; ++p) {
          const auto position =
              static_cast<double>(load_index(positions.data(), positions.dtype(), p));
          for (int64_t i = 0; i < half; ++i) {
            const double angle = position * frequency[static_cast<std::size_t>(i)];
            cosine[static_cast<std::size_t>(i)] = static_cast<float>(std::cos(angle));
            sine[static_cast<std::size_t>(i)] = static_cast<float>(std::sin(angle));
          }
          for (int64_t r = 0; r < rows_per_position; ++r) {
            const int64_t base = (p * rows_per_position + r) * d;
            load_floats(static_cast<const char*>(x.data()) + base * element, x.dtype(), d,
                        row.data());
            float* x1 = row.data();
            float* x2 = row.data() + half;
            for (int64_t i = 0; i < half; ++i) {
              const float c = cosine[static_cast<std::size_t>(i)];
              const float s = sine[static_cast<std::size_t>(i)];
              const float a = x1[i], b = x2[i];
              x1[i] = a * c - b * s;
              x2[i] = b * c + a * s;
            }
            store_floats(row.data(), out.dtype(), d,
                         static_cast<char*>(out.data()) + base * element);
          }
        }
      });
}

}  // namespace yirage::backend::cpu
