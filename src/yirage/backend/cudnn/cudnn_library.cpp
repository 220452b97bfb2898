#include "yirage/backend/cudnn/cudnn_library.h"

#include <dlfcn.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <vector>

#include "yirage/backend/cuda/runtime.h"
#include "yirage/core/error.h"
#include "yirage/core/log.h"

#if __has_include(<cudnn_graph.h>) && __has_include(<cuda_runtime_api.h>)
#define YIRAGE_HAVE_CUDNN_HEADERS 1
#else
#define YIRAGE_HAVE_CUDNN_HEADERS 0
#endif

namespace yirage::backend::cudnn {

namespace {

constexpr std::size_t kMinimumVersion = 90000;  // the v9 backend API and its attention engines

struct Loaded {
  CudnnApi api{};
  bool ok = false;
  std::string why;
  std::string path;
  std::size_t version = 0;
};

template <typename Fn>
bool resolve(void* library, const char* symbol, Fn& slot, std::string& why) {
  void* address = dlsym(library, symbol);
  if (address == nullptr) {
    why = std::string("libcudnn lacks ") + symbol;
    return false;
  }
  slot = reinterpret_cast<Fn>(address);
  return true;
}

// The lib folder of PyTorch's nvidia-cudnn wheel, asked of the python3 on PATH (empty when
// there is none or it lacks the wheel).
std::string wheel_library_dir() {
  FILE* pipe =
      popen("python3 -c 'import nvidia.cudnn as m; print(list(m.__path__)[0])' 2>/dev/null", "r");
  if (pipe == nullptr) return "";
  std::array<char, 4096> buffer{};
  std::string text;
  while (std::fgets(buffer.data(), static_cast<int>(buffer.size()), pipe) != nullptr)
    text += buffer.data();
  pclose(pipe);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text.empty() ? "" : text + "/lib";
}

void* open_library(std::string& tried) {
  if (const char* forced = std::getenv("YIRAGE_CUDNN_LIBRARY"); forced != nullptr && *forced) {
    void* library = dlopen(forced, RTLD_NOW | RTLD_LOCAL);
    if (library == nullptr)
      tried = std::string("YIRAGE_CUDNN_LIBRARY=") + forced + ": " + dlerror();
    return library;
  }
  std::vector<std::string> candidates = {"libcudnn.so.9", "/usr/local/cuda/lib64/libcudnn.so.9",
                                         "/usr/local/cuda/lib/libcudnn.so.9",
                                         "/usr/lib/x86_64-linux-gnu/libcudnn.so.9"};
  for (const std::string& name : candidates) {
    if (void* library = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL)) return library;
  }
  const std::string wheel = wheel_library_dir();
  if (!wheel.empty()) {
    candidates.push_back(wheel + "/libcudnn.so.9");
    if (void* library = dlopen(candidates.back().c_str(), RTLD_NOW | RTLD_LOCAL)) return library;
  }
  tried = "libcudnn.so.9 could not be loaded (tried";
  for (const std::string& name : candidates) tried += " " + name;
  tried += "; set YIRAGE_CUDNN_LIBRARY to its path)";
  return nullptr;
}

Loaded load() {
  Loaded loaded;
  void* library = open_library(loaded.why);
  if (library == nullptr) return loaded;
  CudnnApi& a = loaded.api;
  std::string& w = loaded.why;
  const bool resolved =
      resolve(library, "cudnnGetVersion", a.get_version, w) &&
      resolve(library, "cudnnGetErrorString", a.get_error_string, w) &&
      resolve(library, "cudnnCreate", a.create, w) &&
      resolve(library, "cudnnSetStream", a.set_stream, w) &&
      resolve(library, "cudnnBackendCreateDescriptor", a.create_descriptor, w) &&
      resolve(library, "cudnnBackendDestroyDescriptor", a.destroy_descriptor, w) &&
      resolve(library, "cudnnBackendFinalize", a.finalize, w) &&
      resolve(library, "cudnnBackendSetAttribute", a.set_attribute, w) &&
      resolve(library, "cudnnBackendGetAttribute", a.get_attribute, w) &&
      resolve(library, "cudnnBackendExecute", a.execute, w);
  if (!resolved) return loaded;
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(a.get_version), &info) != 0 && info.dli_fname != nullptr)
    loaded.path = info.dli_fname;
  loaded.version = a.get_version();
  if (loaded.version < kMinimumVersion) {
    loaded.why = "libcudnn is version " + std::to_string(loaded.version) + "; 9.0 or later needed";
    return loaded;
  }
  loaded.ok = true;
  loaded.why.clear();
  return loaded;
}

const Loaded& loaded() {
  static const Loaded instance = load();
  return instance;
}

struct HandleState {
  std::mutex mutex;
  void* handle = nullptr;
  bool tried = false;
  std::string why;
};

HandleState& handle_state() {
  static HandleState* state = new HandleState();  // lives for the process, as the runtime does
  return *state;
}

// Creates the handle once; empty on success, else why it failed.
std::string ensure_handle() {
  HandleState& state = handle_state();
  std::lock_guard<std::mutex> lock(state.mutex);
  if (state.tried) return state.why;
  state.tried = true;
  cuda::Runtime& runtime = cuda::Runtime::get();
  runtime.make_current();
  const CudnnApi& api = loaded().api;
  void* handle = nullptr;
  const int created = api.create(&handle);
  if (created != 0) {
    state.why = "cudnnCreate failed: " + cudnn_status_text(created);
    return state.why;
  }
  const int bound = api.set_stream(handle, runtime.stream());
  if (bound != 0) {
    state.why = "cudnnSetStream failed: " + cudnn_status_text(bound);
    return state.why;
  }
  state.handle = handle;
  return "";
}

std::string compute_unavailable_reason() {
  if (!built_with_cudnn_headers())
    return "built without cuDNN's headers (cudnn_graph.h); install cuDNN 9 and rebuild";
  const std::string cuda_reason = cuda::cuda_unavailable_reason();
  if (!cuda_reason.empty()) return "CUDA is not available: " + cuda_reason;
  return loaded().ok ? "" : loaded().why;
}

}  // namespace

bool built_with_cudnn_headers() {
  return YIRAGE_HAVE_CUDNN_HEADERS != 0;
}

const CudnnApi* cudnn_api(std::string* why) {
  if (!loaded().ok) {
    if (why != nullptr) *why = loaded().why;
    return nullptr;
  }
  return &loaded().api;
}

std::string cudnn_description() {
  if (!loaded().ok) return loaded().why;
  const std::size_t v = loaded().version;
  return std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." +
         std::to_string(v % 100) + " (" + loaded().path + ")";
}

std::string cudnn_unavailable_reason() {
  static const std::string reason = compute_unavailable_reason();
  return reason;
}

void* cudnn_handle() {
  const std::string reason = cudnn_unavailable_reason();
  YR_USER_CHECK(reason.empty(), "the cudnn backend is not available: " << reason);
  const std::string failed = ensure_handle();
  YR_USER_CHECK(failed.empty(), "the cudnn backend cannot run: " << failed);
  return handle_state().handle;
}

std::mutex& handle_mutex() {
  static std::mutex* mutex = new std::mutex();
  return *mutex;
}

std::string cudnn_status_text(int status) {
  const char* text = loaded().ok ? loaded().api.get_error_string(status) : nullptr;
  return (text != nullptr ? std::string(text) : std::string("cuDNN status")) + " (" +
         std::to_string(status) + ")";
}

}  // namespace yirage::backend::cudnn
