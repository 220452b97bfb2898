// cuDNN loaded at run time: libcudnn.so.9 found with dlopen (YIRAGE_CUDNN_LIBRARY, the loader's
// paths, the CUDA toolkit, PyTorch's nvidia-cudnn wheel), the entry points of its backend (graph)
// API, and one handle on the CUDA backend's stream.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>

namespace yirage::backend::cudnn {

/// The cuDNN entry points the backend uses (enums passed as int, descriptors as void*).
struct CudnnApi {
  std::size_t (*get_version)();                           ///< cudnnGetVersion
  const char* (*get_error_string)(int status);            ///< cudnnGetErrorString
  int (*create)(void** handle);                           ///< cudnnCreate
  int (*set_stream)(void* handle, void* stream);          ///< cudnnSetStream
  int (*create_descriptor)(int type, void** descriptor);  ///< cudnnBackendCreateDescriptor
  int (*destroy_descriptor)(void* descriptor);            ///< cudnnBackendDestroyDescriptor
  int (*finalize)(void* descriptor);                      ///< cudnnBackendFinalize
  int (*set_attribute)(void* descriptor, int name, int type, int64_t count,
                       const void* elements);  ///< cudnnBackendSetAttribute
  int (*get_attribute)(void* descriptor, int name, int type, int64_t requested, int64_t* count,
                       void* elements);                          ///< cudnnBackendGetAttribute
  int (*execute)(void* handle, void* plan, void* variant_pack);  ///< cudnnBackendExecute
};

/// True when this build has cuDNN's headers (its graph API enums); without them the backend is
/// unavailable.
bool built_with_cudnn_headers();

/// The loaded API, or nullptr with the reason in `why` (no library, a missing symbol, a version
/// before 9).
const CudnnApi* cudnn_api(std::string* why = nullptr);

/// The version of the loaded library, e.g. "9.10.2", and the file it came from.
std::string cudnn_description();

/// Why the cudnn backend cannot run here (no cuDNN headers in the build, no CUDA, no libcudnn
/// 9), or empty when it can. Cheap after the first call; creates no handle.
std::string cudnn_unavailable_reason();

/// The process-wide handle, created on first use and bound to the CUDA backend's stream
/// (UserError when unavailable or when cuDNN cannot create it).
void* cudnn_handle();

/// Serializes use of the handle (cuDNN handles are not thread-safe).
std::mutex& handle_mutex();

/// cuDNN's name for `status`.
std::string cudnn_status_text(int status);

}  // namespace yirage::backend::cudnn
