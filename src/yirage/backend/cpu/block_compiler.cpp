#include "yirage/backend/cpu/block_compiler.h"

#include "yirage/backend/cpu/codegen/block_codegen.h"
#include "yirage/backend/cpu/codegen/compiler.h"
#include "yirage/core/error.h"
#include "yirage/core/thread_pool.h"

namespace yirage::backend::cpu {

namespace {

// A generated kernel loaded from its shared object.
class CompiledBlockKernel final : public BlockKernel {
 public:
  CompiledBlockKernel(const ir::BlockGraph& graph, std::string source,
                      std::shared_ptr<const codegen::SharedObject> object)
      : source_(std::move(source)), object_(std::move(object)), blocks_(graph.num_blocks()) {
    for (const auto& input : graph.inputs()) inputs_.push_back(input.dtensor);
    for (const auto& output : graph.outputs()) outputs_.push_back(output.dtensor);
    entry_ = reinterpret_cast<codegen::BlockEntryFn>(object_->symbol(codegen::kBlockEntryPoint));
  }

  void run(const std::vector<core::Tensor>& inputs,
           const std::vector<core::Tensor>& outputs) const override {
    YR_USER_CHECK(inputs.size() == inputs_.size(),
                  "fused kernel takes " << inputs_.size() << " inputs; got " << inputs.size());
    YR_USER_CHECK(outputs.size() == outputs_.size(),
                  "fused kernel writes " << outputs_.size() << " outputs; got " << outputs.size());
    std::vector<const void*> in(inputs.size());
    std::vector<void*> out(outputs.size());
    for (std::size_t k = 0; k < inputs.size(); ++k) {
      check("input", k, inputs[k], inputs_[k]);
      in[k] = inputs[k].data();
    }
    for (std::size_t k = 0; k < outputs.size(); ++k) {
      check("output", k, outputs[k], outputs_[k]);
      out[k] = outputs[k].data();
    }
    const auto entry = entry_;
    core::ThreadPool::global().parallel_for(
        blocks_, 1, [&](int64_t begin, int64_t end) { entry(in.data(), out.data(), begin, end); });
  }

  const std::string& source() const override { return source_; }

 private:
  static void check(const char* role, std::size_t k, const core::Tensor& tensor,
                    const ir::TensorType& type) {
    YR_USER_CHECK(tensor.defined() && tensor.device().kind == core::DeviceKind::Cpu &&
                      tensor.is_contiguous() && tensor.dtype() == type.dtype &&
                      tensor.shape() == type.shape,
                  "fused kernel " << role << " " << k << " is "
                                  << (tensor.defined() ? tensor.to_string() : "undefined")
                                  << "; expected a contiguous host tensor " << type.to_string());
  }

  std::string source_;
  std::shared_ptr<const codegen::SharedObject> object_;
  codegen::BlockEntryFn entry_ = nullptr;
  int64_t blocks_;
  std::vector<ir::TensorType> inputs_;
  std::vector<ir::TensorType> outputs_;
};

}  // namespace

std::shared_ptr<const BlockKernel> compile_block_graph(const ir::BlockGraph& graph) {
  std::string source = codegen::generate_block_source(graph);
  auto object = codegen::load_compiled(source);
  return std::make_shared<CompiledBlockKernel>(graph, std::move(source), std::move(object));
}

}  // namespace yirage::backend::cpu
