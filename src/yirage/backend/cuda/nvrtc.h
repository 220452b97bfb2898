// NVRTC, CUDA's run-time compiler, loaded with dlopen: CUDA C++ source to a cubin for one
// architecture, with an on-disk cache keyed by a hash of the source, options and compiler.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace yirage::backend::cuda {

/// Whether NVRTC could be loaded and, when not, why.
bool nvrtc_available(std::string* why = nullptr);
/// NVRTC's version as "major.minor" (empty when unavailable).
std::string nvrtc_version();

/// A compiled kernel image.
struct CompiledModule {
  std::vector<char> cubin;  ///< machine code for the requested architecture
  bool from_cache = false;  ///< true when read from the disk cache
};

/// Compiles `source` for `arch` (e.g. "sm_90"), reading and filling the disk cache under
/// cache_dir() (unless YIRAGE_CUDA_NO_CACHE is set). A compile error is a UserError holding the
/// compiler log with the offending lines; an unavailable NVRTC is a UserError with the reason.
CompiledModule compile_cuda(const std::string& source, const std::string& arch);

/// Compiles `source` to PTX for virtual architecture `arch` (e.g. "compute_90"), skipping the
/// machine-code assembler: a fast front-end check of generated code. Returns the PTX size in
/// bytes; compile errors are InternalErrors with the log, as in compile_cuda.
std::size_t compile_cuda_ptx(const std::string& source, const std::string& arch);

/// Directory of the kernel cache: $YIRAGE_CACHE_DIR/cuda, else $XDG_CACHE_HOME/yirage/cuda, else
/// ~/.cache/yirage/cuda.
std::string cache_dir();

/// A 128-bit hash of `text` as 32 hex digits (FNV-1a, two seeds); the cache key.
std::string source_hash(const std::string& text);

}  // namespace yirage::backend::cuda
