// libFuzzer entry point for the safetensors header parser: any input must either parse into
// entries that lie inside the input or be rejected with a UserError.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <span>
#include <string>

#include "yirage/core/error.h"
#include "yirage/llm/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  try {
    std::map<std::string, std::string> metadata;
    const auto entries = yirage::llm::parse_safetensors(std::span<const uint8_t>(data, size),
                                                        "fuzz input", &metadata);
    for (const auto& entry : entries) {
      if (entry.begin > entry.end || entry.end > size) std::abort();
    }
  } catch (const yirage::core::UserError&) {
    // Rejected with a message: the expected outcome for malformed input.
  }
  return 0;
}
