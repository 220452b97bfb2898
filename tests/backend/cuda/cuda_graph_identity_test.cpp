// The program cache's structural identity of kernel graphs (runs without a GPU).
#include <gtest/gtest.h>

#include "yirage/backend/cuda/graph_identity.h"

namespace yirage::backend::cuda {
namespace {

using core::DType;

ir::KernelGraph norm_graph(int64_t rows, double eps, DType dtype = DType::BF16) {
  ir::KernelGraph g;
  const auto x = g.input({rows, 256}, dtype);
  g.mark_output(g.rms_norm(x, g.input({256}, dtype), eps));
  return g;
}

TEST(CudaGraphIdentity, EqualStructuresHashAndCompareEqual) {
  const auto a = norm_graph(4, 1e-6), b = norm_graph(4, 1e-6);
  EXPECT_EQ(structure_hash(a), structure_hash(b));
  EXPECT_TRUE(same_structure(a, b));
}

TEST(CudaGraphIdentity, ShapesDtypesAttributesAndOutputsTellGraphsApart) {
  const auto base = norm_graph(4, 1e-6);
  for (const auto& other :
       {norm_graph(8, 1e-6), norm_graph(4, 1e-5), norm_graph(4, 1e-6, DType::F16)}) {
    EXPECT_NE(structure_hash(base), structure_hash(other));
    EXPECT_FALSE(same_structure(base, other));
  }
  auto two_outputs = norm_graph(4, 1e-6);
  two_outputs.mark_output({0, 0});
  EXPECT_FALSE(same_structure(base, two_outputs));
  EXPECT_NE(structure_hash(base), structure_hash(two_outputs));
}

}  // namespace
}  // namespace yirage::backend::cuda
