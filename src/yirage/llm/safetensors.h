// The safetensors format: a validated, memory-mapped reader and a writer.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "yirage/core/tensor.h"

namespace yirage::llm {

/// One tensor of a safetensors file.
struct SafetensorsEntry {
  std::string name;    ///< tensor name, e.g. "model.embed_tokens.weight"
  core::DType dtype;   ///< element type (BF16, F16 or F32)
  core::Shape shape;   ///< extents
  uint64_t begin = 0;  ///< first byte, relative to the data section
  uint64_t end = 0;    ///< one past the last byte, relative to the data section
};

/// A safetensors file mapped read-only. Opening validates everything: the header length, the
/// JSON, dtypes, that each tensor's byte range matches its shape and dtype, lies inside the
/// file and overlaps no other. Any violation is a UserError naming the file and the tensor.
class SafetensorsFile {
 public:
  /// Maps and validates `path`.
  static std::shared_ptr<SafetensorsFile> open(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;
  /// The file's path.
  const std::string& path() const { return path_; }
  /// Entries in file order.
  const std::vector<SafetensorsEntry>& entries() const { return entries_; }
  /// The "__metadata__" string map (empty when absent).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  /// True when the file holds `name`.
  bool contains(const std::string& name) const;
  /// A zero-copy tensor over the mapped bytes (keeps this file mapped while alive); UserError
  /// naming the file when `name` is absent.
  core::Tensor tensor(const std::string& name) const;

 private:
  SafetensorsFile() = default;
  std::string path_;
  std::vector<SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
  std::map<std::string, std::size_t> index_;
  const uint8_t* data_ = nullptr;  // first byte of the data section
  void* mapping_ = nullptr;
  std::size_t mapping_bytes_ = 0;
  std::weak_ptr<SafetensorsFile> self_;
};

/// A named tensor to write.
struct NamedTensor {
  std::string name;     ///< tensor name
  core::Tensor tensor;  ///< contiguous host tensor (BF16, F16 or F32)
};

/// Writes `tensors` (in the given order) and `metadata` to `path` atomically (temporary file,
/// then rename). UserError on an unwritable path or an unsupported dtype.
void write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

/// The name, dtype and shape of a tensor whose bytes a callback produces.
struct TensorSpec {
  std::string name;   ///< tensor name
  core::DType dtype;  ///< element type (BF16, F16 or F32)
  core::Shape shape;  ///< extents
};

/// Fills the little-endian bytes of tensor `index` of the specs (row-major, exactly its size).
using TensorFiller = std::function<void(std::size_t index, std::span<uint8_t> bytes)>;

/// Writes tensors described by `specs` whose bytes `fill` produces one at a time, so files larger
/// than memory can be written; atomic like write_safetensors.
void write_safetensors_streamed(const std::string& path, const std::vector<TensorSpec>& specs,
                                const TensorFiller& fill,
                                const std::map<std::string, std::string>& metadata = {});

/// Parses and validates a whole safetensors image held in memory (the header and every range),
/// throwing the same UserErrors as SafetensorsFile::open; `origin` names it in messages. The
/// entry point for fuzzing the parser.
std::vector<SafetensorsEntry> parse_safetensors(std::span<const uint8_t> bytes,
                                                const std::string& origin,
                                                std::map<std::string, std::string>* metadata);

}  // namespace yirage::llm
