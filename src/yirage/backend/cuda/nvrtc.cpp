#include "yirage/backend/cuda/nvrtc.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include "yirage/core/error.h"

namespace yirage::backend::cuda {

namespace {

using Program = struct NvrtcProgramOpaque*;

struct NvrtcApi {
  int (*version)(int* major, int* minor);
  int (*create_program)(Program* program, const char* source, const char* name, int headers,
                        const char* const* contents, const char* const* names);
  int (*compile_program)(Program program, int count, const char* const* options);
  int (*get_log_size)(Program program, std::size_t* size);
  int (*get_log)(Program program, char* log);
  int (*get_cubin_size)(Program program, std::size_t* size);
  int (*get_cubin)(Program program, char* cubin);
  int (*get_ptx_size)(Program program, std::size_t* size);
  int (*destroy_program)(Program* program);
  const char* (*get_error_string)(int result);
};

struct Loaded {
  NvrtcApi api{};
  bool ok = false;
  std::string why;
  std::string version;
};

template <typename Fn>
bool resolve(void* library, const char* symbol, Fn& slot, std::string& why) {
  void* address = dlsym(library, symbol);
  if (address == nullptr) {
    why = std::string("NVRTC lacks ") + symbol + " (NVRTC older than 11.1)";
    return false;
  }
  slot = reinterpret_cast<Fn>(address);
  return true;
}

void* open_library() {
  std::vector<std::string> names;
  if (const char* path = std::getenv("YIRAGE_NVRTC")) names.emplace_back(path);
  for (const char* name : {"libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2"})
    names.emplace_back(name);
  for (const char* dir : {"/usr/local/cuda/lib64/", "/usr/local/cuda/lib/"}) {
    for (const char* name : {"libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12"})
      names.push_back(std::string(dir) + name);
  }
  for (const auto& name : names) {
    if (void* library = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL)) return library;
  }
  return nullptr;
}

Loaded load() {
  Loaded loaded;
  void* library = open_library();
  if (library == nullptr) {
    loaded.why =
        "no NVRTC: libnvrtc.so could not be loaded (install the CUDA toolkit's NVRTC, "
        "or set YIRAGE_NVRTC to its path)";
    return loaded;
  }
  NvrtcApi& a = loaded.api;
  std::string& w = loaded.why;
  loaded.ok = resolve(library, "nvrtcVersion", a.version, w) &&
              resolve(library, "nvrtcCreateProgram", a.create_program, w) &&
              resolve(library, "nvrtcCompileProgram", a.compile_program, w) &&
              resolve(library, "nvrtcGetProgramLogSize", a.get_log_size, w) &&
              resolve(library, "nvrtcGetProgramLog", a.get_log, w) &&
              resolve(library, "nvrtcGetCUBINSize", a.get_cubin_size, w) &&
              resolve(library, "nvrtcGetCUBIN", a.get_cubin, w) &&
              resolve(library, "nvrtcGetPTXSize", a.get_ptx_size, w) &&
              resolve(library, "nvrtcDestroyProgram", a.destroy_program, w) &&
              resolve(library, "nvrtcGetErrorString", a.get_error_string, w);
  if (loaded.ok) {
    int major = 0, minor = 0;
    a.version(&major, &minor);
    loaded.version = std::to_string(major) + "." + std::to_string(minor);
  }
  return loaded;
}

const Loaded& loaded() {
  static const Loaded instance = load();
  return instance;
}

uint64_t fnv1a(const std::string& text, uint64_t seed) {
  uint64_t hash = seed;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  return hash;
}

std::string with_line_numbers(const std::string& source) {
  std::istringstream in(source);
  std::ostringstream out;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) out << number << ": " << line << "\n";
  return out.str();
}

// Compiles; on success returns the program (the caller destroys it).
Program compile_program(const NvrtcApi& api, const std::string& source, const std::string& arch) {
  Program program = nullptr;
  int status =
      api.create_program(&program, source.c_str(), "yirage_kernel.cu", 0, nullptr, nullptr);
  YR_USER_CHECK(status == 0, "NVRTC could not create a program: " << api.get_error_string(status));
  const std::string gpu_arch = "--gpu-architecture=" + arch;
  const char* options[] = {gpu_arch.c_str(), "--std=c++17", "-default-device", "--fmad=true"};
  status = api.compile_program(program, 4, options);
  std::size_t log_size = 0;
  api.get_log_size(program, &log_size);
  std::string log(log_size, '\0');
  if (log_size > 0) api.get_log(program, log.data());
  if (status != 0) {
    api.destroy_program(&program);
    YR_INTERNAL_ERROR("NVRTC failed to compile a generated kernel for "
                      << arch << ": " << api.get_error_string(status) << "\n"
                      << log << "\nsource:\n"
                      << with_line_numbers(source));
  }
  return program;
}

std::vector<char> compile_uncached(const NvrtcApi& api, const std::string& source,
                                   const std::string& arch) {
  Program program = compile_program(api, source, arch);
  std::size_t size = 0;
  api.get_cubin_size(program, &size);
  std::vector<char> cubin(size);
  api.get_cubin(program, cubin.data());
  api.destroy_program(&program);
  return cubin;
}

}  // namespace

bool nvrtc_available(std::string* why) {
  if (!loaded().ok && why != nullptr) *why = loaded().why;
  return loaded().ok;
}

std::string nvrtc_version() {
  return loaded().version;
}

std::string source_hash(const std::string& text) {
  std::ostringstream out;
  out << std::hex;
  for (uint64_t seed : {14695981039346656037ULL, 0x9e3779b97f4a7c15ULL}) {
    const uint64_t hash = fnv1a(text, seed);
    for (int shift = 60; shift >= 0; shift -= 4) out << ((hash >> shift) & 0xF);
  }
  return out.str();
}

std::string cache_dir() {
  if (const char* dir = std::getenv("YIRAGE_CACHE_DIR"); dir != nullptr && *dir != '\0')
    return std::string(dir) + "/cuda";
  if (const char* dir = std::getenv("XDG_CACHE_HOME"); dir != nullptr && *dir != '\0')
    return std::string(dir) + "/yirage/cuda";
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0')
    return std::string(home) + "/.cache/yirage/cuda";
  return (std::filesystem::temp_directory_path() / "yirage-cuda").string();
}

std::size_t compile_cuda_ptx(const std::string& source, const std::string& arch) {
  const Loaded& nvrtc = loaded();
  YR_USER_CHECK(nvrtc.ok, "cannot compile CUDA kernels: " << nvrtc.why);
  Program program = compile_program(nvrtc.api, source, arch);
  std::size_t size = 0;
  nvrtc.api.get_ptx_size(program, &size);
  nvrtc.api.destroy_program(&program);
  return size;
}

CompiledModule compile_cuda(const std::string& source, const std::string& arch) {
  const Loaded& nvrtc = loaded();
  YR_USER_CHECK(nvrtc.ok, "cannot compile CUDA kernels: " << nvrtc.why);
  const bool use_cache = std::getenv("YIRAGE_CUDA_NO_CACHE") == nullptr;
  namespace fs = std::filesystem;
  const fs::path path =
      fs::path(cache_dir()) /
      (source_hash("nvrtc " + nvrtc.version + " " + arch + "\n" + source) + "." + arch + ".cubin");
  if (use_cache) {
    std::ifstream in(path, std::ios::binary);
    if (in) {
      std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
      if (!bytes.empty()) return {std::move(bytes), true};
    }
  }
  CompiledModule module{compile_uncached(nvrtc.api, source, arch), false};
  if (use_cache) {
    std::error_code error;
    fs::create_directories(path.parent_path(), error);
    const fs::path temporary = path.string() + ".tmp" + std::to_string(::getpid());
    {
      std::ofstream out(temporary, std::ios::binary);
      out.write(module.cubin.data(), static_cast<std::streamsize>(module.cubin.size()));
    }
    fs::rename(temporary, path, error);  // a cache that cannot be written only costs time
    if (error) fs::remove(temporary, error);
  }
  return module;
}

}  // namespace yirage::backend::cuda
