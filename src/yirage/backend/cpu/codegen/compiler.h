// Run-time compilation of generated C++ into cached, loaded shared objects.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace yirage::backend::cpu::codegen {

/// The system compiler as used for generated kernels.
struct Toolchain {
  std::string command;             ///< $CXX, else "c++" (a shell word list)
  std::string identity;            ///< first line of `command --version`
  std::vector<std::string> flags;  ///< flags for this CPU's ISA, -shared -fPIC included
  /// The flags joined by spaces.
  std::string flag_text() const;
};

/// The toolchain for the current $CXX (probed once per distinct command).
Toolchain current_toolchain();

/// A shared object loaded with dlopen; closed when the last reference goes.
class SharedObject {
 public:
  /// Loads `path`; an InternalError with dlerror()'s message when it cannot.
  explicit SharedObject(const std::filesystem::path& path);
  ~SharedObject();
  SharedObject(const SharedObject&) = delete;
  SharedObject& operator=(const SharedObject&) = delete;
  /// The address of `name`; an InternalError when the object lacks it.
  void* symbol(const char* name) const;
  /// The file loaded.
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  void* handle_ = nullptr;
};

/// The directory holding compiled kernels: YIRAGE_CACHE_DIR, else $XDG_CACHE_HOME/yirage, else
/// ~/.cache/yirage; then cpu-kernels/.
std::filesystem::path kernel_cache_dir();

/// The cache key of `source` under `toolchain`: a hash of the source, the flags, the compiler's
/// identity and the host CPU, as hex.
std::string cache_key(const std::string& source, const Toolchain& toolchain);

/// Returns `source` compiled and loaded: from the in-process map, else from the on-disk cache,
/// else compiled with the current toolchain (written atomically into the cache). With
/// YIRAGE_DUMP=dir the source is also written to dir. A failing compiler is an InternalError
/// naming the source file and quoting the compiler's first error lines.
std::shared_ptr<const SharedObject> load_compiled(const std::string& source);

/// How many times this process has run the compiler on a kernel source.
int64_t compiler_invocations();

/// Forgets the in-process map, so the next load_compiled of a source comes from disk (objects
/// still referenced stay loaded).
void forget_loaded_objects();

}  // namespace yirage::backend::cpu::codegen
