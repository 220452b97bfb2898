#include "yirage/backend/cpu/cpu_ops.h"

#include "yirage/core/error.h"

namespace yirage::backend::cpu {

void run_op(const ir::Node& node, const TensorList& inputs, const TensorList& outputs) {
  using ir::OpKind;
  switch (ir::op_info(node.op).category) {
    case ir::OpCategory::Unary:
      return unary_op(node, inputs[0], outputs[0]);
    case ir::OpCategory::Binary:
      return binary_op(node, inputs[0], inputs[1], outputs[0]);
    case ir::OpCategory::Reduce:
      return reduce_op(node, inputs[0], outputs[0]);
    case ir::OpCategory::Structural:
      break;
  }
  switch (node.op) {
    case OpKind::Matmul:
      return matmul_op(inputs[0], inputs[1], outputs[0]);
    case OpKind::RmsNorm:
      return rms_norm_op(node, inputs[0], inputs[1], outputs[0]);
    case OpKind::Softmax:
      return softmax_op(node, inputs[0], outputs[0]);
    case OpKind::Concat:
      return concat_op(node, inputs, outputs[0]);
    case OpKind::Split:
      return split_op(node, inputs[0], outputs);
    case OpKind::Reshape:
      return reshape_op(inputs[0], outputs[0]);
    case OpKind::Transpose:
      return transpose_op(node, inputs[0], outputs[0]);
    case OpKind::Embedding:
      return embedding_op(inputs[0], inputs[1], outputs[0]);
    case OpKind::Rope:
      return rope_op(node, inputs[0], inputs[1], outputs[0]);
    default:
      break;
  }
  YR_INTERNAL_ERROR("the cpu backend has no unfused kernel for " << ir::op_name(node.op));
}

}  // namespace yirage::backend::cpu
