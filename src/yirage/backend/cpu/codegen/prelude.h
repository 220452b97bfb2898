// The fixed head of every generated kernel: includes, dtype conversions and tile helpers.
#pragma once

#include <string_view>

namespace yirage::backend::cpu::codegen {

/// The prelude text: standard includes, bf16/f16 conversions rounding to nearest even exactly
/// as core/dtype.h does, saturating integer stores, the online-softmax rescale factor and the
/// tile matmul (AVX-512 when the compiler targets it, portable loops otherwise).
std::string_view prelude();

}  // namespace yirage::backend::cpu::codegen
