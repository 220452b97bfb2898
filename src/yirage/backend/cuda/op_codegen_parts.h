// Pieces the single-op kernel generators share: parameter lists, scalar and 16-byte vector
// loads and stores converted to and from float, grid-stride loops and launch shapes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "yirage/backend/cuda/code_writer.h"
#include "yirage/backend/cuda/kernel_source.h"
#include "yirage/ir/kernel_graph.h"

namespace yirage::backend::cuda::opgen {

/// Threads per block of the grid-stride kernels.
constexpr unsigned kThreads = 256;

/// An integer literal of generated code ("12LL").
std::string num(int64_t value);
/// `extern "C" __global__` signature of yr_kernel: a const pointer per operand, a pointer per
/// output, then `extra` parameters; launch bounds of `threads`.
std::string signature(const std::vector<ir::TensorType>& inputs,
                      const std::vector<ir::TensorType>& outputs, const std::string& extra = "",
                      unsigned threads = kThreads);
/// Opens the kernel body of `signature`, starting with the dependent-launch prologue.
void open_kernel(CodeWriter& code, const std::string& signature);
/// Float expression loading element `index` of `pointer`.
std::string load(const ir::TensorType& type, const std::string& pointer, const std::string& index);
/// Statement storing float `value` at element `index` of `pointer`.
std::string store(const ir::TensorType& type, const std::string& pointer, const std::string& index,
                  const std::string& value);
/// Blocks of kThreads for `work` items (1 to 65536).
unsigned blocks_for(int64_t work);
/// The kernel: prelude and code, `blocks` blocks of kThreads.
KernelSource finish(CodeWriter& code, unsigned blocks);
/// Opens a grid-stride loop over `count` items as `i`.
void open_grid_loop(CodeWriter& code, int64_t count);

/// Register type of `bytes` bytes (2, 4, 8 or 16).
std::string raw_type(int64_t bytes);
/// Register type of `width` elements of `type`.
std::string raw_of(const ir::TensorType& type, int64_t width);
/// Declares `float name[width]` holding the register value `raw` unpacked.
void unpack(CodeWriter& code, const ir::TensorType& type, int64_t width, const std::string& raw,
            const std::string& name);
/// Declares `float name[width]` loaded from the aligned vector at pointer + index.
void load_vector(CodeWriter& code, const ir::TensorType& type, int64_t width,
                 const std::string& pointer, const std::string& index, const std::string& name);
/// Stores float expression `value` (over j in [0, width)) as the aligned vector at pointer + index.
void store_vector(CodeWriter& code, const ir::TensorType& type, int64_t width,
                  const std::string& pointer, const std::string& index, const std::string& value);
/// Elements in 16 bytes of the widest of `types`.
int64_t vector_width(const std::vector<ir::TensorType>& types);
/// The largest power of two up to `widest` that divides `extent`.
int64_t dividing_width(int64_t widest, int64_t extent);

/// rms_norm over the last dim.
KernelSource rms_norm(const ir::Node& node, const std::vector<ir::TensorType>& inputs);
/// softmax over attribute dim.
KernelSource softmax(const ir::Node& node, const ir::TensorType& x);
/// sum, max or mean over attribute dim.
KernelSource reduction(const ir::Node& node, const ir::TensorType& x);
/// concat along attribute dim.
KernelSource concat(const ir::Node& node, const std::vector<ir::TensorType>& inputs);
/// split along attribute dim.
KernelSource split(const ir::Node& node, const ir::TensorType& x);
/// transpose of two dims.
KernelSource transpose(const ir::Node& node, const ir::TensorType& x);
/// embedding lookup with an id check word.
KernelSource embedding(const ir::Node& node, const std::vector<ir::TensorType>& inputs);

}  // namespace yirage::backend::cuda::opgen
