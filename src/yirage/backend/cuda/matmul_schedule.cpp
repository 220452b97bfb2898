#include "yirage/backend/cuda/matmul_schedule.h"

#include <algorithm>
#include <map>
#include <set>

#include "yirage/backend/cuda/code_writer.h"
#include "yirage/backend/cuda/dependent_launch.h"
#include "yirage/backend/cuda/device_code.h"
#include "yirage/backend/cuda/matmul_device_lib.h"
#include "yirage/backend/cuda/matmul_plan.h"
#include "yirage/core/error.h"

namespace yirage::backend::cuda {

namespace {

using core::Shape;
using ir::AccumKind;
using ir::BlockNode;
using ir::BlockNodeKind;
using ir::OpKind;
using ir::Phase;
using ir::TensorRef;

std::string num(int64_t value) {
  return std::to_string(value);
}
std::string lnum(int64_t value) {
  return std::to_string(value) + "LL";
}

const char* const kAxes[3] = {"blockIdx.x", "blockIdx.y", "blockIdx.z"};

class MatmulEmitter {
 public:
  MatmulEmitter(const ir::BlockGraph& graph, const MatmulPlan& plan)
      : g_(graph),
        p_(plan),
        threads_(32 * plan.warps),
        m_tiles_((plan.rows + 15) / 16 / plan.warps_m),
        chunks_(plan.depth / plan.chunk),
        pipeline_((plan.pipeline_bytes + 127) / 128 * 128) {}

  BlockKernel generate() {
    allocate();
    code_.raw(device_prelude());
    code_.raw(matmul_device_lib());
    emit_signature();
    for (std::size_t j = 0; j < p_.weight_streams.size(); ++j) emit_swizzle(j);
    code_.line("extern __shared__ float4 yr_smem[];");
    code_.line("unsigned char* const smem = reinterpret_cast<unsigned char*>(yr_smem);");
    code_.line("float* const T = reinterpret_cast<float*>(smem);");
    code_.line("const unsigned smem_u = yr_mm_smem_u32(smem);");
    code_.line("const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;");
    code_.line("const int wk = warp % " + num(p_.warps_k) + ", wm = (warp / " + num(p_.warps_k) +
               ") % " + num(p_.warps_m) + ", wn = warp / " + num(p_.warps_k * p_.warps_m) + ";");
    code_.line("const int g = lane >> 2, t = lane & 3;");
    code_.line("(void)wm; (void)wn; (void)g; (void)t;");
    emit_sources();
    emit_load_lambda();
    emit_main_loop();
    emit_partials();
    mark_inlined();
    for (std::size_t n = 0; n < g_.nodes().size(); ++n) {
      const BlockNode& node = g_.nodes()[n];
      if (node.phase != Phase::Loop && node.kind == BlockNodeKind::Op && !inlined_[n]) {
        code_.line("// node " + num(static_cast<int64_t>(n)));
        code_.open("");
        emit_op(n);
        code_.close();
      }
    }
    for (std::size_t k = 0; k < g_.outputs().size(); ++k) emit_output(k);
    code_.close();

    BlockKernel result;
    result.kernel.source = code_.str();
    const auto& grid = g_.grid_dims();
    result.kernel.grid = {static_cast<unsigned>(grid[0]), static_cast<unsigned>(grid[1]),
                          static_cast<unsigned>(grid[2])};
    result.kernel.block = {static_cast<unsigned>(threads_), 1, 1};
    result.kernel.shared_bytes = static_cast<int>(pipeline_ + p_.persistent_bytes);
    result.kernel.dependent = true;
    return result;
  }

 private:
  const std::vector<BlockNode>& nodes() const { return g_.nodes(); }
  const Shape& shape_of(TensorRef ref) const { return g_.type(ref).shape; }
  const Shape& shape_of(int32_t node) const { return nodes()[node].outputs[0].shape; }
  std::string tile(TensorRef ref) const {
    return "(T + " + num(offsets_.at(ref.node).at(ref.output)) + ")";
  }
  std::string tile(std::size_t node) const {
    return tile(TensorRef{static_cast<int32_t>(node), 0});
  }
  std::string in_name(int32_t node) const { return "in" + num(nodes()[node].input_index); }
  std::string tag() const { return dtype_tag(p_.dtype); }
  bool is_stream(int32_t node) const {
    for (const auto& s : p_.row_streams) {
      if (s.node == node) return true;
    }
    for (const auto& s : p_.weight_streams) {
      if (s.node == node) return true;
    }
    return false;
  }
  const PlannedStream& weight_stream(int32_t node) const {
    for (const auto& s : p_.weight_streams) {
      if (s.node == node) return s;
    }
    YR_INTERNAL_ERROR("node " << node << " is not a weight stream");
  }
  std::size_t weight_index(int32_t node) const {
    for (std::size_t j = 0; j < p_.weight_streams.size(); ++j) {
      if (p_.weight_streams[j].node == node) return j;
    }
    YR_INTERNAL_ERROR("node " << node << " is not a weight stream");
  }

  // Float tiles of every node outside the loop (16-byte aligned slots): loop-invariant inputs
  // after the stages, the others over the stages.
  void allocate() {
    int64_t post = 0, persistent = pipeline_ / 4;
    for (std::size_t n = 0; n < nodes().size(); ++n) {
      const BlockNode& node = nodes()[n];
      if (node.phase == Phase::Loop) continue;
      int64_t& next = persistent_tile(g_, static_cast<int32_t>(n)) ? persistent : post;
      for (const auto& type : node.outputs) {
        offsets_[static_cast<int32_t>(n)].push_back(next);
        next += (core::shape_numel(type.shape) + 3) / 4 * 4;
      }
    }
    YR_INTERNAL_CHECK(post * 4 <= pipeline_ && persistent * 4 == pipeline_ + p_.persistent_bytes,
                      "tensor-core tiles overflow the planned shared memory");
    post_end_ = post;
  }

  // The 16-byte piece index of (contraction row k, piece q) of weight stream j in its chunk.
  void emit_swizzle(std::size_t j) {
    const PlannedStream& s = p_.weight_streams[j];
    const int64_t pitch = s.pitch_bytes / 16;
    std::string body;
    if (s.swizzle == 2) {
      body = "k * " + num(pitch) + " + (q ^ (k & 7))";
    } else if (s.swizzle == 1) {
      body = "(k * " + num(pitch) + " + q) ^ (((k * " + num(pitch) + " + q) >> 3) & 7)";
    } else {
      body = "k * " + num(pitch) + " + q";
    }
    code_.line("const auto yr_swz" + num(static_cast<int64_t>(j)) +
               " = [](int k, int q) { return " + body + "; };");
  }

  void emit_signature() {
    std::string params;
    for (std::size_t k = 0; k < g_.inputs().size(); ++k) {
      params += "const " + storage_type(g_.inputs()[k].dtensor.dtype) + "* __restrict__ in" +
                num(static_cast<int64_t>(k)) + ", ";
    }
    for (std::size_t k = 0; k < g_.outputs().size(); ++k) {
      params += storage_type(g_.outputs()[k].dtensor.dtype) + "* __restrict__ out" +
                num(static_cast<int64_t>(k)) + ", ";
    }
    params += "float* __restrict__ scratch";
    code_.open("extern \"C\" __global__ void __launch_bounds__(" + num(threads_) + ", " +
               num(p_.min_blocks) + ") yr_kernel(" + params + ")");
    code_.line("(void)scratch;");
    // Launched as a programmatic dependent: scheduled while the kernel before it finishes,
    // reading nothing before that kernel's writes are visible.
    code_.raw(dependent_prologue());
  }

  // Element offset of the block's box of input or output tensor `whole` along `map`, as a
  // long long expression.
  std::string box_base(const Shape& whole, const Shape& box, const ir::DimMap& map) const {
    const auto strides = core::contiguous_strides(whole);
    std::string base = "0LL";
    for (int axis = 0; axis < 3; ++axis) {
      const int dim = map[axis];
      if (dim < 0) continue;
      const auto d = static_cast<std::size_t>(dim);
      base += std::string(" + (long long)") + kAxes[axis] + " * " + lnum(box[d] * strides[d]);
    }
    return base;
  }

  // Streamed inputs: pointers to the block's box at contraction index 0.
  void emit_sources() {
    for (const auto& input : g_.inputs()) {
      if (!is_stream(input.node)) continue;
      const Shape& whole = input.dtensor.shape;
      Shape box = whole;
      for (int axis = 0; axis < 3; ++axis) {
        if (input.input_map[axis] >= 0)
          box[static_cast<std::size_t>(input.input_map[axis])] /= g_.grid_dims()[axis];
      }
      code_.line("const unsigned short* const src" + num(input.node) + " = " + in_name(input.node) +
                 " + (" + box_base(whole, box, input.input_map) + ");");
    }
  }

  int64_t row_stride(int32_t node) const {
    const auto& whole = g_.inputs()[static_cast<std::size_t>(nodes()[node].input_index)].dtensor;
    return whole.shape.size() == 2 ? whole.shape[1] : 0;
  }

  // A fully unrolled loop giving each thread its share i of `count` 16-byte copies.
  void open_copy_loop(int64_t count) {
    const int64_t rounds = (count + threads_ - 1) / threads_;
    guarded_ = count % threads_ != 0;
    code_.line("#pragma unroll");
    code_.open("for (int round = 0; round < " + num(rounds) + "; ++round)");
    code_.line("const int i = tid + round * " + num(threads_) + ";");
    if (guarded_) code_.open("if (i < " + num(count) + ")");
  }
  void close_copy_loop() {
    if (guarded_) code_.close();
    code_.close();
  }

  void emit_load_lambda() {
    const int64_t chunk = p_.chunk;
    code_.open("auto load_chunk = [&](int c, int s)");
    code_.line("const unsigned stage = smem_u + (unsigned)s * " + num(p_.stage_bytes) + "u;");
    for (const auto& s : p_.row_streams) {
      open_copy_loop(s.rows * s.pieces_per_row);
      code_.line("const int r = i / " + num(s.pieces_per_row) + ", q = i % " +
                 num(s.pieces_per_row) + ";");
      code_.line("yr_mm_cp_async16(stage + " + num(s.stage_offset) + "u + r * " +
                 num(s.pitch_bytes) + " + q * 16, src" + num(s.node) + " + (long long)r * " +
                 lnum(row_stride(s.node)) + " + (long long)c * " + lnum(chunk) + " + q * 8);");
      close_copy_loop();
    }
    for (std::size_t j = 0; j < p_.weight_streams.size(); ++j) {
      const PlannedStream& s = p_.weight_streams[j];
      const int64_t pieces = chunk * s.pieces_per_row;
      const auto& whole =
          g_.inputs()[static_cast<std::size_t>(nodes()[s.node].input_index)].dtensor.shape;
      // Strips of whole 256-byte segments (the block's columns and the row pitch multiples of
      // 128 elements) fetch each segment into L2 at once.
      const bool wide = s.pieces_per_row % 16 == 0 && whole[1] % 128 == 0;
      open_copy_loop(pieces);
      code_.line("const int k = i / " + num(s.pieces_per_row) + ", q = i % " +
                 num(s.pieces_per_row) + ";");
      code_.line(std::string(wide ? "yr_mm_cp_async16_wide" : "yr_mm_cp_async16") + "(stage + " +
                 num(s.stage_offset) + "u + yr_swz" + num(static_cast<int64_t>(j)) +
                 "(k, q) * 16, src" + num(s.node) + " + ((long long)c * " + lnum(chunk) +
                 " + k) * " + lnum(whole[1]) + " + q * 8);");
      close_copy_loop();
    }
    code_.close(";");
  }

  // Row expressions needed per A fragment element pair, in node order.
  std::set<int32_t> row_values_needed() const {
    std::set<int32_t> needed;
    std::vector<int32_t> stack;
    for (const auto& product : p_.products) stack.push_back(product.a);
    for (const auto& sum : p_.row_sums) stack.push_back(sum.x);
    while (!stack.empty()) {
      const int32_t n = stack.back();
      stack.pop_back();
      if (!needed.insert(n).second) continue;
      if (nodes()[n].kind == BlockNodeKind::Op) {
        for (const auto& ref : nodes()[n].inputs) stack.push_back(ref.node);
      }
    }
    return needed;
  }

  std::string v(int32_t node, int e) const { return "v" + num(node) + "_" + num(e); }

  void emit_main_loop() {
    const int64_t mt = m_tiles_;
    for (std::size_t j = 0; j < p_.products.size(); ++j) {
      const int64_t ntw = p_.products[j].cols / 8 / p_.warps_n;
      code_.line("float acc" + num(static_cast<int64_t>(j)) + "[" + num(mt) + "][" + num(ntw) +
                 "][4] = {};");
    }
    for (std::size_t i = 0; i < p_.row_sums.size(); ++i)
      code_.line("float rsum" + num(static_cast<int64_t>(i)) + "[" + num(mt) + "][2] = {};");
    code_.line("int arow[" + num(mt) + "][2];");
    code_.line("bool rvalid[" + num(mt) + "][2];");
    code_.line("#pragma unroll");
    code_.open("for (int mt = 0; mt < " + num(mt) + "; ++mt)");
    code_.line("#pragma unroll");
    code_.open("for (int rh = 0; rh < 2; ++rh)");
    code_.line("const int r = (wm * " + num(m_tiles_) + " + mt) * 16 + g + rh * 8;");
    code_.line("arow[mt][rh] = r < " + num(p_.rows) + " ? r : " + num(p_.rows - 1) + ";");
    code_.line("rvalid[mt][rh] = r < " + num(p_.rows) + " && wn == 0;");
    code_.close();
    code_.close();
    code_.line("(void)rvalid;");
    code_.line("const int l_row = (lane & 7) + ((lane >> 3) & 1) * 8, l_col = lane >> 4;");
    code_.line("(void)l_col;");
    const int stages = p_.stages;
    code_.line("#pragma unroll");
    code_.open("for (int s = 0; s < " + num(stages - 1) + "; ++s)");
    code_.line("if (s < " + num(chunks_) + ") load_chunk(s, s);");
    code_.line("yr_mm_cp_async_commit();");
    code_.close();
    emit_invariant_inputs();
    code_.open("for (int c = 0; c < " + num(chunks_) + "; ++c)");
    code_.line("yr_mm_cp_async_wait<" + num(stages - 2) + ">();");
    code_.line("__syncthreads();");
    code_.line("if (c + " + num(stages - 1) + " < " + num(chunks_) + ") load_chunk(c + " +
               num(stages - 1) + ", (c + " + num(stages - 1) + ") % " + num(stages) + ");");
    code_.line("yr_mm_cp_async_commit();");
    code_.line("const int s = c % " + num(stages) + ";");
    code_.line("const unsigned char* const st = smem + s * " + num(p_.stage_bytes) + ";");
    code_.line("const unsigned st_u = smem_u + (unsigned)s * " + num(p_.stage_bytes) + "u;");
    code_.line("(void)st; (void)st_u;");
    code_.line("#pragma unroll");
    code_.open("for (int kq = 0; kq < " + num(p_.chunk / 16 / p_.warps_k) + "; ++kq)");
    code_.line("const int ks = wk + kq * " + num(p_.warps_k) + ";");
    emit_fragments();
    for (std::size_t j = 0; j < p_.products.size(); ++j) emit_product(j);
    code_.close();
    code_.close();
    code_.line("yr_mm_cp_async_wait<0>();");
    code_.line("__syncthreads();");
  }

  // A fragments of every product's row expression, and the row sums, from the stage.
  void emit_fragments() {
    const std::set<int32_t> needed = row_values_needed();
    std::set<int32_t> a_nodes;
    for (const auto& product : p_.products) a_nodes.insert(product.a);
    for (int32_t a : a_nodes) code_.line("unsigned a" + num(a) + "[" + num(m_tiles_) + "][4];");
    code_.line("#pragma unroll");
    code_.open("for (int mt = 0; mt < " + num(m_tiles_) + "; ++mt)");
    code_.line("#pragma unroll");
    code_.open("for (int h = 0; h < 2; ++h)");
    code_.line("const int k = ks * 16 + h * 8 + 2 * t;");
    code_.line("#pragma unroll");
    code_.open("for (int rh = 0; rh < 2; ++rh)");
    code_.line("const int r = arow[mt][rh];");
    code_.line("(void)r;");
    for (const auto& s : p_.row_streams) {
      if (needed.count(s.node) == 0) continue;
      const std::string row = s.rows > 1 ? " + r * " + num(s.pitch_bytes) : "";
      code_.line("const unsigned w" + num(s.node) + " = *reinterpret_cast<const unsigned*>(st + " +
                 num(s.stage_offset) + row + " + k * 2);");
      code_.line("float " + v(s.node, 0) + ", " + v(s.node, 1) + ";");
      code_.line("yr_mm_unpack_" + tag() + "(w" + num(s.node) + ", " + v(s.node, 0) + ", " +
                 v(s.node, 1) + ");");
    }
    for (int32_t op : p_.row_ops) {
      if (needed.count(op) == 0) continue;
      const BlockNode& node = nodes()[op];
      for (int e = 0; e < 2; ++e) {
        std::string value;
        if (ir::op_info(node.op).category == ir::OpCategory::Unary) {
          const double s = node.attrs.has("scalar") ? node.attrs.get_float("scalar") : 0.0;
          value = unary_expression(node.op, v(node.inputs[0].node, e), s);
        } else {
          value = binary_expression(node.op, v(node.inputs[0].node, e), v(node.inputs[1].node, e));
        }
        code_.line("const float " + v(op, e) + " = " + value + ";");
      }
    }
    for (int32_t a : a_nodes) {
      const bool leaf = nodes()[a].kind == BlockNodeKind::Input;
      code_.line(
          "a" + num(a) + "[mt][rh + 2 * h] = " +
          (leaf ? "w" + num(a) : "yr_mm_pack_" + tag() + "(" + v(a, 0) + ", " + v(a, 1) + ")") +
          ";");
    }
    for (std::size_t i = 0; i < p_.row_sums.size(); ++i) {
      const int32_t x = p_.row_sums[i].x;
      code_.line("if (rvalid[mt][rh]) rsum" + num(static_cast<int64_t>(i)) +
                 "[mt][rh] += " + v(x, 0) + " + " + v(x, 1) + ";");
    }
    code_.close();
    code_.close();
    code_.close();
  }

  void emit_product(std::size_t j) {
    const PlannedProduct& product = p_.products[j];
    const int64_t ntw = product.cols / 8 / p_.warps_n;
    const std::size_t w = weight_index(product.b);
    const PlannedStream& s = weight_stream(product.b);
    const std::string acc = "acc" + num(static_cast<int64_t>(j));
    const std::string a = "a" + num(product.a);
    const std::string mma = "yr_mm_mma_" + tag();
    const std::string swz = "yr_swz" + num(static_cast<int64_t>(w));
    const std::string base = "st_u + " + num(s.stage_offset) + "u";
    if (ntw >= 2) {
      code_.line("#pragma unroll");
      code_.open("for (int u = 0; u < " + num(ntw / 2) + "; ++u)");
      code_.line("unsigned b[4];");
      code_.line("yr_mm_ldsm_x4_trans(b, " + base + " + " + swz + "(ks * 16 + l_row, wn * " +
                 num(ntw) + " + 2 * u + l_col) * 16);");
      code_.line("#pragma unroll");
      code_.open("for (int mt = 0; mt < " + num(m_tiles_) + "; ++mt)");
      code_.line(mma + "(" + acc + "[mt][2 * u], " + a + "[mt], b[0], b[1]);");
      code_.line(mma + "(" + acc + "[mt][2 * u + 1], " + a + "[mt], b[2], b[3]);");
      code_.close();
      code_.close();
    }
    if (ntw % 2 == 1) {
      code_.open("");
      code_.line("unsigned b[2];");
      code_.line("yr_mm_ldsm_x2_trans(b, " + base + " + " + swz + "(ks * 16 + l_row, wn * " +
                 num(ntw) + " + " + num(ntw - 1) + ") * 16);");
      code_.line("#pragma unroll");
      code_.open("for (int mt = 0; mt < " + num(m_tiles_) + "; ++mt)");
      code_.line(mma + "(" + acc + "[mt][" + num(ntw - 1) + "], " + a + "[mt], b[0], b[1]);");
      code_.close();
      code_.close();
    }
  }

  // Accumulate nodes fed by loop node `source`, with the factor each applies.
  std::vector<std::pair<std::size_t, double>> accumulators_of(int32_t source, double scale) const {
    std::vector<std::pair<std::size_t, double>> result;
    for (std::size_t n = 0; n < nodes().size(); ++n) {
      const BlockNode& node = nodes()[n];
      if (node.kind != BlockNodeKind::Accumulate || node.inputs[0].node != source) continue;
      const double mean =
          node.accum == AccumKind::Mean ? 1.0 / static_cast<double>(g_.forloop_range()) : 1.0;
      result.emplace_back(n, scale * mean);
    }
    return result;
  }

  // Writes `value` into element `index` of every accumulator tile of `source`: the first
  // contraction warp stores, the others add in turn, the last applies the factor.
  void emit_accumulator_writes(int32_t source, double scale, const std::string& index,
                               const std::string& value) {
    for (const auto& [node, factor] : accumulators_of(source, scale)) {
      code_.line("{ float* const p = " + tile(node) + " + " + index + "; const float v = (w == 0 " +
                 "? 0.0f : *p) + " + value + "; *p = w == " + num(p_.warps_k - 1) + " ? v * " +
                 float_literal(factor) + " : v; }");
    }
  }

  // The warps' products and row sums meet in the accumulator tiles (over the stages). With room
  // behind those tiles, each contraction warp writes its own slice and all threads then sum the
  // slices; otherwise the contraction warps add into the tiles one after another. Either way the
  // order of the additions is fixed.
  void emit_partials() {
    for (std::size_t i = 0; i < p_.row_sums.size(); ++i) {
      const std::string r = "rsum" + num(static_cast<int64_t>(i));
      code_.line("#pragma unroll");
      code_.open("for (int mt = 0; mt < " + num(m_tiles_) + "; ++mt)");
      code_.line("#pragma unroll");
      code_.open("for (int rh = 0; rh < 2; ++rh)");
      code_.line(r + "[mt][rh] += __shfl_xor_sync(0xffffffffu, " + r + "[mt][rh], 1);");
      code_.line(r + "[mt][rh] += __shfl_xor_sync(0xffffffffu, " + r + "[mt][rh], 2);");
      code_.close();
      code_.close();
    }
    int64_t total_cols = 0;
    std::map<int32_t, int64_t> col_offset;  // product or row-sum node -> column in a slice row
    for (const auto& product : p_.products) {
      col_offset[product.node] = total_cols;
      total_cols += product.cols;
    }
    for (const auto& sum : p_.row_sums) col_offset[sum.node] = total_cols++;
    const int64_t rows = p_.rows;
    const bool slices =
        p_.warps_k > 1 && (post_end_ + p_.warps_k * rows * total_cols) * 4 <= pipeline_;
    const auto slice = [&](const std::string& w, const std::string& r, int32_t source,
                           const std::string& n) {
      return "T[" + num(post_end_) + " + (" + w + " * " + num(rows) + " + " + r + ") * " +
             num(total_cols) + " + " + num(col_offset.at(source)) + " + " + n + "]";
    };
    // Each warp's values: slices, or its turn at the tiles.
    const auto write = [&](int32_t source, double scale, const std::string& r, const std::string& n,
                           const std::string& index, const std::string& value) {
      if (slices) {
        code_.line(slice("wk", r, source, n) + " = " + value + ";");
      } else {
        emit_accumulator_writes(source, scale, index, value);
      }
    };
    if (!slices) {
      code_.open("for (int w = 0; w < " + num(p_.warps_k) + "; ++w)");
      code_.open("if (wk == w)");
    }
    for (std::size_t j = 0; j < p_.products.size(); ++j) {
      const PlannedProduct& product = p_.products[j];
      const int64_t ntw = product.cols / 8 / p_.warps_n;
      code_.line("#pragma unroll");
      code_.open("for (int mt = 0; mt < " + num(m_tiles_) + "; ++mt)");
      code_.line("#pragma unroll");
      code_.open("for (int nl = 0; nl < " + num(ntw) + "; ++nl)");
      code_.line("#pragma unroll");
      code_.open("for (int i = 0; i < 4; ++i)");
      code_.line("const int r = (wm * " + num(m_tiles_) + " + mt) * 16 + g + (i >> 1) * 8;");
      code_.line("const int n = (wn * " + num(ntw) + " + nl) * 8 + 2 * t + (i & 1);");
      code_.open("if (r < " + num(rows) + ")");
      write(product.node, 1.0, "r", "n", "r * " + num(product.cols) + " + n",
            "acc" + num(static_cast<int64_t>(j)) + "[mt][nl][i]");
      code_.close();
      code_.close();
      code_.close();
      code_.close();
    }
    for (std::size_t i = 0; i < p_.row_sums.size(); ++i) {
      const PlannedRowSum& sum = p_.row_sums[i];
      code_.line("#pragma unroll");
      code_.open("for (int mt = 0; mt < " + num(m_tiles_) + "; ++mt)");
      code_.line("#pragma unroll");
      code_.open("for (int rh = 0; rh < 2; ++rh)");
      code_.line("const int r = (wm * " + num(m_tiles_) + " + mt) * 16 + g + rh * 8;");
      code_.open("if (wn == 0 && t == 0 && r < " + num(rows) + ")");
      write(sum.node, sum.scale, "r", "0", "r", "rsum" + num(static_cast<int64_t>(i)) + "[mt][rh]");
      code_.close();
      code_.close();
      code_.close();
    }
    if (!slices) {
      code_.close();
      code_.line("__syncthreads();");
      code_.close();
      return;
    }
    code_.line("__syncthreads();");
    const auto gather = [&](int32_t source, double scale, int64_t cols) {
      for (const auto& [node, factor] : accumulators_of(source, scale)) {
        code_.open("for (int e = tid; e < " + num(rows * cols) + "; e += " + num(threads_) + ")");
        code_.line("const int r = e / " + num(cols) + ", n = e % " + num(cols) + ";");
        code_.line("(void)n;");
        code_.line("float sum = 0.0f;");
        code_.line("#pragma unroll");
        code_.line("for (int w = 0; w < " + num(p_.warps_k) +
                   "; ++w) sum += " + slice("w", "r", source, cols > 1 ? "n" : "0") + ";");
        code_.line(tile(node) + "[e] = sum * " + float_literal(factor) + ";");
        code_.close();
      }
    };
    for (const auto& product : p_.products) gather(product.node, 1.0, product.cols);
    for (const auto& sum : p_.row_sums) gather(sum.node, sum.scale, 1);
    code_.line("__syncthreads();");
  }

  // Loop-invariant inputs as float tiles (issued after the first stages are in flight).
  void emit_invariant_inputs() {
    for (const auto& input : g_.inputs()) {
      if (is_stream(input.node)) continue;
      const Shape& box = shape_of(input.node);
      const Shape& whole = input.dtensor.shape;
      const auto strides = core::contiguous_strides(whole);
      code_.open("");
      code_.line("const long long base = " + box_base(whole, box, input.input_map) + ";");
      code_.open("for (int e = tid; e < " + num(core::shape_numel(box)) +
                 "; e += " + num(threads_) + ")");
      coordinates(box, "e");
      std::string offset = "base";
      for (std::size_t d = 0; d < box.size(); ++d)
        offset += " + (long long)c" + num(static_cast<int64_t>(d)) + " * " + lnum(strides[d]);
      code_.line(tile(static_cast<std::size_t>(input.node)) + "[e] = yr_load_" +
                 dtype_tag(input.dtensor.dtype) + "(" + in_name(input.node) + ", " + offset + ");");
      code_.close();
      code_.close();
    }
  }

  // Declares int <prefix>0..: the coordinates of flat index `flat` in `shape`.
  void coordinates(const Shape& shape, const std::string& flat, const std::string& prefix = "c") {
    const std::string rest = prefix + "r_";
    code_.line("int " + rest + " = " + flat + ";");
    for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
      code_.line("const int " + prefix + num(d) + " = " + rest + " % " +
                 num(shape[static_cast<std::size_t>(d)]) + "; " + rest +
                 " /= " + num(shape[static_cast<std::size_t>(d)]) + ";");
      code_.line("(void)" + prefix + num(d) + ";");
    }
    code_.line("(void)" + rest + ";");
  }

  std::string broadcast_offset(const Shape& operand, const Shape& target,
                               const std::string& prefix = "c") const {
    const auto strides = broadcast_strides(operand, target);
    std::string text = "0";
    for (std::size_t d = 0; d < target.size(); ++d) {
      if (strides[d] != 0)
        text += " + " + prefix + num(static_cast<int64_t>(d)) + " * " + num(strides[d]);
    }
    return text;
  }

  // After-loop element-wise nodes read only by other such nodes and outputs are computed per
  // output element as it is written, not as tiles of their own.
  void mark_inlined() {
    inlined_.assign(nodes().size(), false);
    std::vector<bool> elementwise(nodes().size(), false);
    for (std::size_t n = 0; n < nodes().size(); ++n) {
      const BlockNode& node = nodes()[n];
      const auto category = ir::op_info(node.op).category;
      elementwise[n] = node.kind == BlockNodeKind::Op && node.phase != Phase::Loop &&
                       (category == ir::OpCategory::Unary || category == ir::OpCategory::Binary);
    }
    std::vector<std::vector<std::size_t>> users(nodes().size());
    for (std::size_t n = 0; n < nodes().size(); ++n) {
      for (const auto& ref : nodes()[n].inputs)
        users[static_cast<std::size_t>(ref.node)].push_back(n);
    }
    for (std::size_t n = nodes().size(); n-- > 0;) {
      if (!elementwise[n]) continue;
      bool inline_it = true;
      for (std::size_t user : users[n]) inline_it = inline_it && inlined_[user];
      inlined_[n] = inline_it;
    }
  }

  // Emits `const float u<n>` for the inlined nodes `root` needs, at the coordinates <prefix>*
  // of flat index `flat` in `out`; returns the float expression of `root` there.
  std::string element_value(int32_t root, const Shape& out, const std::string& flat,
                            const std::string& prefix) {
    std::set<int32_t> needed;
    std::vector<int32_t> stack = {root};
    while (!stack.empty()) {
      const int32_t n = stack.back();
      stack.pop_back();
      if (!inlined_[static_cast<std::size_t>(n)] || !needed.insert(n).second) continue;
      for (const auto& ref : nodes()[n].inputs) stack.push_back(ref.node);
    }
    const auto operand = [&](TensorRef ref) {
      if (inlined_[static_cast<std::size_t>(ref.node)]) return "u" + num(ref.node);
      const Shape& shape = shape_of(ref);
      return tile(ref) + "[" + (shape == out ? flat : broadcast_offset(shape, out, prefix)) + "]";
    };
    for (int32_t n : needed) {
      const BlockNode& node = nodes()[n];
      std::string value;
      if (ir::op_info(node.op).category == ir::OpCategory::Unary) {
        const double s = node.attrs.has("scalar") ? node.attrs.get_float("scalar") : 0.0;
        value = unary_expression(node.op, operand(node.inputs[0]), s);
      } else {
        value = binary_expression(node.op, operand(node.inputs[0]), operand(node.inputs[1]));
      }
      code_.line("const float u" + num(n) + " = " + value + ";");
    }
    return operand(TensorRef{root, 0});
  }

  void open_loop(int64_t count) {
    code_.open("for (int e = tid; e < " + num(count) + "; e += " + num(threads_) + ")");
  }
  void close_loop() {
    code_.close();
    code_.line("__syncthreads();");
  }

  // After-loop and loop-invariant ops on float tiles, one block-wide loop each.
  void emit_op(std::size_t n) {
    const BlockNode& node = nodes()[n];
    const Shape& out = node.outputs[0].shape;
    const int64_t count = core::shape_numel(out);
    switch (ir::op_info(node.op).category) {
      case ir::OpCategory::Unary: {
        const double s = node.attrs.has("scalar") ? node.attrs.get_float("scalar") : 0.0;
        open_loop(count);
        code_.line(tile(n) + "[e] = " + unary_expression(node.op, tile(node.inputs[0]) + "[e]", s) +
                   ";");
        close_loop();
        return;
      }
      case ir::OpCategory::Binary: {
        const Shape& a = shape_of(node.inputs[0]);
        const Shape& b = shape_of(node.inputs[1]);
        open_loop(count);
        if (a != out || b != out) coordinates(out, "e");
        const std::string ia = a == out ? "e" : broadcast_offset(a, out);
        const std::string ib = b == out ? "e" : broadcast_offset(b, out);
        code_.line(tile(n) + "[e] = " +
                   binary_expression(node.op, tile(node.inputs[0]) + "[" + ia + "]",
                                     tile(node.inputs[1]) + "[" + ib + "]") +
                   ";");
        close_loop();
        return;
      }
      case ir::OpCategory::Reduce: {
        const Shape& x = shape_of(node.inputs[0]);
        const auto dim = static_cast<std::size_t>(node.attrs.get_int("dim"));
        const int64_t extent = x[dim], inner = product(x, dim + 1, x.size());
        const bool is_max = node.op == OpKind::Max;
        open_loop(count);
        code_.line("const int in = e % " + num(inner) + ", o = e / " + num(inner) + ";");
        code_.line(std::string("float acc = ") + (is_max ? "-YR_INF;" : "0.0f;"));
        code_.line("for (int k = 0; k < " + num(extent) + "; ++k) { const float x = " +
                   tile(node.inputs[0]) + "[(o * " + num(extent) + " + k) * " + num(inner) +
                   " + in]; " + (is_max ? "acc = fmaxf(acc, x);" : "acc += x;") + " }");
        const std::string result =
            node.op == OpKind::Mean ? "acc / " + float_literal(static_cast<double>(extent)) : "acc";
        code_.line(tile(n) + "[e] = " + result + ";");
        close_loop();
        return;
      }
      case ir::OpCategory::Structural:
        break;
    }
    if (node.op == OpKind::Reshape) {
      open_loop(count);
      code_.line(tile(n) + "[e] = " + tile(node.inputs[0]) + "[e];");
      close_loop();
      return;
    }
    YR_INTERNAL_CHECK(node.op == OpKind::Matmul,
                      "no tensor-core epilogue for " << ir::op_name(node.op));
    emit_matmul(n);
  }

  void emit_matmul(std::size_t n) {
    const BlockNode& node = nodes()[n];
    const Shape& out = node.outputs[0].shape;
    const Shape& a = shape_of(node.inputs[0]);
    const Shape& b = shape_of(node.inputs[1]);
    const std::size_t rank = out.size();
    const int64_t m = out[rank - 2], nn = out[rank - 1], k = a.back();
    const Shape batch(out.begin(), out.end() - 2);
    const auto a_strides = broadcast_strides({a.begin(), a.end() - 2}, batch);
    const auto b_strides = broadcast_strides({b.begin(), b.end() - 2}, batch);
    open_loop(core::shape_numel(out));
    coordinates(out, "e");
    std::string oa = "0", ob = "0";
    for (std::size_t d = 0; d < batch.size(); ++d) {
      const std::string c = "c" + num(static_cast<int64_t>(d));
      if (a_strides[d] != 0) oa += " + " + c + " * " + num(a_strides[d] * m * k);
      if (b_strides[d] != 0) ob += " + " + c + " * " + num(b_strides[d] * k * nn);
    }
    const std::string ci = "c" + num(static_cast<int64_t>(rank - 2));
    const std::string cj = "c" + num(static_cast<int64_t>(rank - 1));
    code_.line("const float* A = " + tile(node.inputs[0]) + " + " + oa + " + " + ci + " * " +
               num(k) + ";");
    code_.line("const float* B = " + tile(node.inputs[1]) + " + " + ob + " + " + cj + ";");
    code_.line("float acc = 0.0f;");
    code_.line("for (int p = 0; p < " + num(k) + "; ++p) acc += A[p] * B[p * " + num(nn) + "];");
    code_.line(tile(n) + "[e] = acc;");
    close_loop();
  }

  void emit_output(std::size_t k) {
    const ir::BlockOutput& output = g_.outputs()[k];
    const Shape& box = shape_of(output.tile);
    const Shape& whole = output.dtensor.shape;
    const auto strides = core::contiguous_strides(whole);
    const core::DType dtype = output.dtensor.dtype;
    const std::string out = "out" + num(static_cast<int64_t>(k));
    std::string base = box_base(whole, box, output.output_map);
    const bool half = dtype == core::DType::BF16 || dtype == core::DType::F16;
    bool wide = half && box.back() % 8 == 0 && whole.back() % 8 == 0;
    for (int axis = 0; axis < 3; ++axis) {
      const int dim = output.output_map[axis];
      if (dim >= 0) {
        const auto d = static_cast<std::size_t>(dim);
        wide = wide && box[d] * strides[d] % 8 == 0;
      }
    }
    const int64_t step = wide ? 8 : 1;
    code_.open("");
    code_.line("const long long base = " + base + ";");
    code_.open("for (int e = tid * " + num(step) + "; e < " + num(core::shape_numel(box)) +
               "; e += " + num(threads_ * step) + ")");
    coordinates(box, "e");
    std::string offset = "base";
    for (std::size_t d = 0; d < box.size(); ++d)
      offset += " + (long long)c" + num(static_cast<int64_t>(d)) + " * " + lnum(strides[d]);
    const int32_t root = output.tile.node;
    if (!wide) {
      const std::string value = element_value(root, box, "e", "c");
      code_.line("yr_store_" + dtype_tag(dtype) + "(" + out + ", " + offset + ", " + value + ");");
    } else {
      const std::string convert = dtype == core::DType::BF16 ? "yr_f32_to_bf16" : "yr_f32_to_f16";
      code_.line("float vals[8];");
      code_.line("#pragma unroll");
      code_.open("for (int q = 0; q < 8; ++q)");
      code_.line("const int f = e + q;");
      coordinates(box, "f", "d");
      code_.line("vals[q] = " + element_value(root, box, "f", "d") + ";");
      code_.close();
      code_.line("unsigned w[4];");
      code_.line("#pragma unroll");
      code_.line("for (int q = 0; q < 4; ++q) w[q] = (unsigned)" + convert +
                 "(vals[2 * q]) | ((unsigned)" + convert + "(vals[2 * q + 1]) << 16);");
      code_.line("uint4 v; v.x = w[0]; v.y = w[1]; v.z = w[2]; v.w = w[3];");
      code_.line("*reinterpret_cast<uint4*>(" + out + " + (" + offset + ")) = v;");
    }
    code_.close();
    code_.close();
  }

  const ir::BlockGraph& g_;
  const MatmulPlan& p_;
  const int64_t threads_;
  const int64_t m_tiles_;
  const int64_t chunks_;
  const int64_t pipeline_;
  CodeWriter code_;
  std::map<int32_t, std::vector<int64_t>> offsets_;
  std::vector<bool> inlined_;
  int64_t post_end_ = 0;  // floats of the tiles over the stages
  bool guarded_ = false;
};

}  // namespace

std::optional<BlockKernel> try_generate_matmul_kernel(const ir::BlockGraph& graph,
                                                      int shared_limit) {
  const std::optional<MatmulPlan> plan = plan_matmul(graph, shared_limit);
  if (!plan) return std::nullopt;
  return MatmulEmitter(graph, *plan).generate();
}

}  // namespace yirage::backend::cuda
