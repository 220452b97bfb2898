// Single-change mutations of fused programs, to check that the verifier rejects wrong kernels.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "yirage/ir/block_graph.h"

namespace yirage::testing {

/// One change to one block graph of a program.
struct Mutation {
  /// What changes.
  enum class Kind {
    InputMap,      ///< input `target`: grid axis `variant % 3` maps another dim
    ForloopDim,    ///< input `target`: the for-loop walks another dim
    Accumulator,   ///< node `target`: another accumulator
    SwapOperands,  ///< node `target` (sub, div, pow, matmul): operands swapped
    DropOp,        ///< node `target`: replaced by its first operand
    Scalar,        ///< node `target`: scalar or eps attribute scaled
    ReduceDim,     ///< node `target`: reduction over another dim
    OutputMap,     ///< output `target`: grid axis `variant % 3` mapped elsewhere
  };
  Kind kind;        ///< what changes
  int kernel = 0;   ///< which customized node of the program (in node order)
  int target = 0;   ///< input, node or output index in that block graph
  int variant = 0;  ///< which alternative
  /// A short description, e.g. "kernel 0 node 5: swap operands".
  std::string describe() const;
};

/// Every mutation worth trying on `program` (its customized nodes' block graphs).
std::vector<Mutation> candidate_mutations(const ir::KernelGraph& program);
/// `program` with `mutation` applied, or nullopt when the result is not a valid program.
std::optional<ir::KernelGraph> apply_mutation(const ir::KernelGraph& program,
                                              const Mutation& mutation);

}  // namespace yirage::testing
