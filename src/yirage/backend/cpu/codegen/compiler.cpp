#include "yirage/backend/cpu/codegen/compiler.h"

#include <dlfcn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include "yirage/core/cpu_features.h"
#include "yirage/core/error.h"
#include "yirage/core/log.h"

namespace yirage::backend::cpu::codegen {

namespace fs = std::filesystem;

namespace {

std::atomic<int64_t> g_invocations{0};

std::mutex& loaded_mutex() {
  static std::mutex mutex;
  return mutex;
}

std::map<std::string, std::shared_ptr<const SharedObject>>& loaded() {
  static std::map<std::string, std::shared_ptr<const SharedObject>> objects;
  return objects;
}

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? std::string(value) : std::string();
}

// Runs `command` through the shell; returns its stdout and sets `status` to its exit code.
std::string capture(const std::string& command, int& status) {
  std::string output;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    status = -1;
    return output;
  }
  char buffer[512];
  while (std::fgets(buffer, sizeof(buffer), pipe) != nullptr) output += buffer;
  const int raw = pclose(pipe);
  status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return output;
}

std::string quote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

std::vector<std::string> isa_flags() {
  const auto& cpu = core::cpu_features();
  std::vector<std::string> flags;
#if defined(__x86_64__) || defined(__aarch64__)
  flags.push_back("-march=native");
#endif
  if (cpu.avx512f) flags.push_back("-mprefer-vector-width=512");
  return flags;
}

uint64_t fnv1a(const std::string& text, uint64_t hash) {
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 0x100000001b3ull;
  }
  return hash;
}

void write_file(const fs::path& path, const std::string& text) {
  const fs::path temporary = path.string() + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(temporary, std::ios::binary);
    out << text;
    YR_INTERNAL_CHECK(out.good(), "cannot write " << temporary.string());
  }
  fs::rename(temporary, path);
}

std::string first_lines(const fs::path& path, int count) {
  std::ifstream in(path);
  std::string line, text;
  for (int i = 0; i < count && std::getline(in, line); ++i) text += line + "\n";
  return text;
}

}  // namespace

std::string Toolchain::flag_text() const {
  std::string text;
  for (const auto& flag : flags) text += (text.empty() ? "" : " ") + flag;
  return text;
}

Toolchain current_toolchain() {
  static std::mutex mutex;
  static std::map<std::string, Toolchain> probed;
  std::string command = env("CXX");
  if (command.empty()) command = "c++";
  std::lock_guard<std::mutex> lock(mutex);
  auto found = probed.find(command);
  if (found != probed.end()) return found->second;
  Toolchain toolchain;
  toolchain.command = command;
  int status = 0;
  const std::string version = capture(command + " --version 2>/dev/null", status);
  toolchain.identity = version.substr(0, version.find('\n'));
  toolchain.flags = {"-std=c++17",      "-O3",          "-fPIC", "-shared", "-ffp-contract=fast",
                     "-fno-math-errno", "-fopenmp-simd"};
  for (auto& flag : isa_flags()) toolchain.flags.push_back(flag);
  probed.emplace(command, toolchain);
  return toolchain;
}

SharedObject::SharedObject(const fs::path& path) : path_(path) {
  handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  YR_INTERNAL_CHECK(handle_ != nullptr,
                    "cannot load kernel " << path.string() << ": " << dlerror());
}

SharedObject::~SharedObject() {
  if (handle_ != nullptr) dlclose(handle_);
}

void* SharedObject::symbol(const char* name) const {
  void* address = dlsym(handle_, name);
  YR_INTERNAL_CHECK(address != nullptr, "kernel " << path_.string() << " lacks symbol " << name);
  return address;
}

fs::path kernel_cache_dir() {
  fs::path root;
  if (const std::string dir = env("YIRAGE_CACHE_DIR"); !dir.empty()) {
    root = dir;
  } else if (const std::string xdg = env("XDG_CACHE_HOME"); !xdg.empty()) {
    root = fs::path(xdg) / "yirage";
  } else if (const std::string home = env("HOME"); !home.empty()) {
    root = fs::path(home) / ".cache" / "yirage";
  } else {
    root = fs::temp_directory_path() / "yirage";
  }
  return root / "cpu-kernels";
}

std::string cache_key(const std::string& source, const Toolchain& toolchain) {
  const auto& cpu = core::cpu_features();
  std::string cpu_text = cpu.model;
  for (const auto& name : cpu.names()) cpu_text += " " + name;
  const std::string material = source + '\0' + toolchain.command + '\0' + toolchain.identity +
                               '\0' + toolchain.flag_text() + '\0' + cpu_text;
  char hex[33];
  std::snprintf(hex, sizeof(hex), "%016llx%016llx",
                static_cast<unsigned long long>(fnv1a(material, 0xcbf29ce484222325ull)),
                static_cast<unsigned long long>(fnv1a(material, 0x84222325cbf29ce4ull)));
  return hex;
}

std::shared_ptr<const SharedObject> load_compiled(const std::string& source) {
  const Toolchain toolchain = current_toolchain();
  const std::string key = cache_key(source, toolchain);
  std::lock_guard<std::mutex> lock(loaded_mutex());
  if (auto found = loaded().find(key); found != loaded().end()) return found->second;

  const fs::path dir = kernel_cache_dir();
  std::error_code error;
  fs::create_directories(dir, error);
  YR_INTERNAL_CHECK(!error,
                    "cannot create the kernel cache " << dir.string() << ": " << error.message());
  const fs::path source_path = dir / (key + ".cpp");
  const fs::path object_path = dir / (key + ".so");
  fs::path shown_source = source_path;
  if (const std::string dump = env("YIRAGE_DUMP"); !dump.empty()) {
    fs::create_directories(dump, error);
    YR_INTERNAL_CHECK(!error,
                      "cannot create YIRAGE_DUMP directory " << dump << ": " << error.message());
    shown_source = fs::path(dump) / ("yirage_kernel_" + key + ".cpp");
    write_file(shown_source, source);
  }
  if (!fs::exists(object_path)) {
    write_file(source_path, source);
    const std::string suffix = ".tmp" + std::to_string(::getpid());
    const fs::path temporary = object_path.string() + suffix;
    const fs::path log_path = dir / (key + ".log" + suffix);
    const std::string command = toolchain.command + " " + toolchain.flag_text() + " -o " +
                                quote(temporary.string()) + " " + quote(source_path.string()) +
                                " > " + quote(log_path.string()) + " 2>&1";
    ++g_invocations;
    const int raw = std::system(command.c_str());
    const int status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    const std::string diagnostics = first_lines(log_path, 20);
    fs::remove(log_path, error);
    if (status != 0 || !fs::exists(temporary)) {
      fs::remove(temporary, error);
      YR_INTERNAL_CHECK(false, "compiling the generated kernel "
                                   << shown_source.string() << " failed (exit status " << status
                                   << ") with `" << toolchain.command << " "
                                   << toolchain.flag_text() << "`:\n"
                                   << diagnostics);
    }
    fs::rename(temporary, object_path);
  }
  auto object = std::make_shared<const SharedObject>(object_path);
  loaded().emplace(key, object);
  return object;
}

int64_t compiler_invocations() {
  return g_invocations.load();
}

void forget_loaded_objects() {
  std::lock_guard<std::mutex> lock(loaded_mutex());
  loaded().clear();
}

}  // namespace yirage::backend::cpu::codegen
