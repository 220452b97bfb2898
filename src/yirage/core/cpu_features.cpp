#include "yirage/core/cpu_features.h"

#include <cstdint>
#include <cstring>
#include <thread>

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#define YR_X86_64 1
#endif

namespace yirage::core {

namespace {

#ifdef YR_X86_64
uint64_t read_xcr0() {
  uint32_t low = 0, high = 0;
  __asm__ volatile("xgetbv" : "=a"(low), "=d"(high) : "c"(0));
  return (static_cast<uint64_t>(high) << 32) | low;
}

bool bit(uint32_t value, int index) {
  return ((value >> index) & 1u) != 0;
}

void detect_x86(CpuFeatures& features) {
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (static_cast<unsigned>(__get_cpuid_max(0x80000000, nullptr)) >= 0x80000004u) {
    char brand[49] = {};
    for (uint32_t leaf = 0; leaf < 3; ++leaf) {
      __get_cpuid(0x80000002 + leaf, &eax, &ebx, &ecx, &edx);
      std::memcpy(brand + leaf * 16, &eax, 4);
      std::memcpy(brand + leaf * 16 + 4, &ebx, 4);
      std::memcpy(brand + leaf * 16 + 8, &ecx, 4);
      std::memcpy(brand + leaf * 16 + 12, &edx, 4);
    }
    features.model = brand;
    const auto first = features.model.find_first_not_of(' ');
    features.model = first == std::string::npos ? "" : features.model.substr(first);
  }
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return;
  const bool osxsave = bit(ecx, 27);
  const bool fma = bit(ecx, 12);
  const uint64_t xcr0 = osxsave ? read_xcr0() : 0;
  const bool ymm_state = (xcr0 & 0x6) == 0x6;
  const bool zmm_state = (xcr0 & 0xe6) == 0xe6;
  const bool tile_state = (xcr0 & (3ull << 17)) == (3ull << 17);
  if (static_cast<unsigned>(__get_cpuid_max(0, nullptr)) < 7u) return;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  features.avx2 = ymm_state && fma && bit(ebx, 5);
  features.avx512f = zmm_state && bit(ebx, 16);
  features.avx512bw = features.avx512f && bit(ebx, 30);
  features.avx512_fp16 = features.avx512f && bit(edx, 23);
  features.amx_bf16 = tile_state && bit(edx, 22);
  features.amx_tile = tile_state && bit(edx, 24);
  features.amx_int8 = tile_state && bit(edx, 25);
  uint32_t sub1_eax = 0, sub1_ebx = 0, sub1_ecx = 0, sub1_edx = 0;
  __cpuid_count(7, 1, sub1_eax, sub1_ebx, sub1_ecx, sub1_edx);
  features.avx512_bf16 = features.avx512f && bit(sub1_eax, 5);
}
#endif

CpuFeatures detect() {
  CpuFeatures features;
  features.hardware_threads = static_cast<int>(std::thread::hardware_concurrency());
  if (features.hardware_threads < 1) features.hardware_threads = 1;
#ifdef YR_X86_64
  detect_x86(features);
#endif
  return features;
}

}  // namespace

std::vector<std::string> CpuFeatures::names() const {
  std::vector<std::string> result;
  const std::pair<bool, const char*> flags[] = {{avx2, "avx2"},
                                                {avx512f, "avx512f"},
                                                {avx512bw, "avx512bw"},
                                                {avx512_bf16, "avx512_bf16"},
                                                {avx512_fp16, "avx512_fp16"},
                                                {amx_tile, "amx_tile"},
                                                {amx_bf16, "amx_bf16"},
                                                {amx_int8, "amx_int8"}};
  for (const auto& [present, name] : flags) {
    if (present) result.emplace_back(name);
  }
  return result;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

}  // namespace yirage::core
