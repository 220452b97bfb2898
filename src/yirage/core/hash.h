// Integer hashing shared by fingerprints, hash tables and counter-based random numbers.
#pragma once

#include <cstdint>

namespace yirage::core {

/// The splitmix64 finalizer: a bijection on 64-bit words with full avalanche.
constexpr uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace yirage::core
