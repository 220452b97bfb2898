// The safetensors reader (validated, memory-mapped, zero-copy) and the atomic writer.
#include "yirage/llm/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>
#include <set>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "yirage/core/error.h"

namespace yirage::llm {

static_assert(std::endian::native == std::endian::little,
              "safetensors stores little-endian bytes; yirage reads them in place");

namespace {

using Json = nlohmann::ordered_json;

// Headers beyond this are refused before parsing (the format's own readers use the same bound).
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

// The safetensors dtype code of each dtype yirage reads.
const char* safetensors_code(core::DType dtype) {
  switch (dtype) {
    case core::DType::F32:
      return "F32";
    case core::DType::F16:
      return "F16";
    case core::DType::BF16:
      return "BF16";
    default:
      return nullptr;
  }
}

// The dtype of a safetensors code; UserError naming the file, the tensor and the code otherwise.
core::DType dtype_of_code(const std::string& code, const std::string& origin,
                          const std::string& name) {
  if (code == "F32") return core::DType::F32;
  if (code == "F16") return core::DType::F16;
  if (code == "BF16") return core::DType::BF16;
  static const std::set<std::string> kKnown = {
      "BOOL", "U8",      "I8",      "U16", "I16",     "U32",     "I32",     "U64", "I64",
      "F64",  "F8_E4M3", "F8_E5M2", "C64", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4",  "F8_E4M3FNUZ"};
  if (kKnown.count(code) != 0) {
    YR_USER_ERROR(origin << ": tensor '" << name << "' has dtype " << code
                         << ", which yirage does not read; expected BF16, F16 or F32");
  }
  YR_USER_ERROR(origin << ": tensor '" << name << "' has unknown dtype '" << code
                       << "'; expected BF16, F16 or F32");
}

// a * b, or nullopt on overflow.
std::optional<uint64_t> checked_mul(uint64_t a, uint64_t b) {
  if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a) return std::nullopt;
  return a * b;
}

// A non-negative JSON integer as uint64; UserError describing `what` otherwise.
uint64_t json_uint(const Json& value, const std::string& origin, const std::string& name,
                   const char* what) {
  YR_USER_CHECK(
      value.is_number_unsigned() || (value.is_number_integer() && value.get<int64_t>() >= 0),
      origin << ": tensor '" << name << "': " << what << " must be non-negative integers; got "
             << value.dump());
  return value.get<uint64_t>();
}

// One header entry, checked against the data section of `data_bytes` bytes.
SafetensorsEntry parse_entry(const std::string& name, const Json& value, uint64_t data_bytes,
                             const std::string& origin) {
  YR_USER_CHECK(value.is_object(), origin << ": tensor '" << name
                                          << "' must be an object with dtype, shape and "
                                             "data_offsets; got "
                                          << value.dump());
  for (const auto& [key, field] : value.items()) {
    (void)field;
    YR_USER_CHECK(key == "dtype" || key == "shape" || key == "data_offsets",
                  origin << ": tensor '" << name << "' has unexpected key '" << key
                         << "'; expected dtype, shape and data_offsets");
  }
  for (const char* key : {"dtype", "shape", "data_offsets"}) {
    YR_USER_CHECK(value.contains(key), origin << ": tensor '" << name << "' lacks '" << key << "'");
  }
  const Json& dtype = value["dtype"];
  YR_USER_CHECK(dtype.is_string(), origin << ": tensor '" << name
                                          << "': dtype must be a string; got " << dtype.dump());
  SafetensorsEntry entry;
  entry.name = name;
  entry.dtype = dtype_of_code(dtype.get<std::string>(), origin, name);

  const Json& shape = value["shape"];
  YR_USER_CHECK(shape.is_array(),
                origin << ": tensor '" << name << "': shape must be a list; got " << shape.dump());
  uint64_t numel = 1;
  for (const Json& extent : shape) {
    const uint64_t e = json_uint(extent, origin, name, "shape extents");
    YR_USER_CHECK(e <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()),
                  origin << ": tensor '" << name << "': extent " << e << " is too large");
    entry.shape.push_back(static_cast<int64_t>(e));
    const auto product = checked_mul(numel, e);
    YR_USER_CHECK(product.has_value(), origin << ": tensor '" << name << "': shape " << shape.dump()
                                              << " has too many elements");
    numel = *product;
  }
  const auto expected_bytes = checked_mul(numel, core::dtype_size(entry.dtype));
  YR_USER_CHECK(expected_bytes.has_value(), origin << ": tensor '" << name << "': shape "
                                                   << shape.dump() << " has too many bytes");

  const Json& offsets = value["data_offsets"];
  YR_USER_CHECK(offsets.is_array() && offsets.size() == 2,
                origin << ": tensor '" << name
                       << "': data_offsets must be a list [begin, end]; got " << offsets.dump());
  entry.begin = json_uint(offsets[0], origin, name, "data_offsets");
  entry.end = json_uint(offsets[1], origin, name, "data_offsets");
  YR_USER_CHECK(entry.begin <= entry.end, origin << ": tensor '" << name << "': data_offsets "
                                                 << offsets.dump() << " end before they begin");
  YR_USER_CHECK(entry.end <= data_bytes,
                origin << ": tensor '" << name << "': data_offsets " << offsets.dump()
                       << " reach past the data section of " << data_bytes
                       << " bytes (the file is truncated or the offsets are wrong)");
  YR_USER_CHECK(entry.end - entry.begin == *expected_bytes,
                origin << ": tensor '" << name << "': data_offsets " << offsets.dump() << " hold "
                       << entry.end - entry.begin << " bytes but shape " << shape.dump() << " of "
                       << dtype.get<std::string>() << " needs " << *expected_bytes);
  return entry;
}

// The header of a safetensors image: entries, metadata and where the data section starts.
struct ParsedHeader {
  std::vector<SafetensorsEntry> entries;
  std::map<std::string, std::string> metadata;
  uint64_t data_offset = 0;
};

ParsedHeader parse_header(std::span<const uint8_t> bytes, const std::string& origin) {
  YR_USER_CHECK(bytes.size() >= 8, origin << ": truncated: " << bytes.size()
                                          << " bytes, shorter than the 8-byte header length");
  uint64_t header_bytes = 0;
  std::memcpy(&header_bytes, bytes.data(), 8);
  YR_USER_CHECK(header_bytes <= bytes.size() - 8,
                origin << ": header length " << header_bytes << " reaches past the end of the "
                       << bytes.size() << "-byte file (truncated or not a safetensors file)");
  YR_USER_CHECK(header_bytes <= kMaxHeaderBytes, origin << ": header length " << header_bytes
                                                        << " exceeds the limit of "
                                                        << kMaxHeaderBytes << " bytes");
  const std::string_view text(reinterpret_cast<const char*>(bytes.data() + 8), header_bytes);
  YR_USER_CHECK(!text.empty() && text.front() == '{',
                origin << ": the header is not a JSON object (it must start with '{')");

  // Duplicate top-level names would silently overwrite each other in the parsed object.
  std::string duplicate;
  std::set<std::string> seen;
  const Json::parser_callback_t on_event = [&](int depth, Json::parse_event_t event, Json& parsed) {
    if (depth == 1 && event == Json::parse_event_t::key) {
      const std::string key = parsed.get<std::string>();
      if (!seen.insert(key).second && duplicate.empty()) duplicate = key;
    }
    return true;
  };
  Json header;
  try {
    header = Json::parse(text.begin(), text.end(), on_event);
  } catch (const nlohmann::json::exception& error) {
    YR_USER_ERROR(origin << ": the header is not valid JSON: " << error.what());
  }
  YR_USER_CHECK(duplicate.empty(),
                origin << ": tensor '" << duplicate << "' appears twice in the header");
  YR_USER_CHECK(header.is_object(), origin << ": the header is not a JSON object");

  ParsedHeader parsed;
  parsed.data_offset = 8 + header_bytes;
  const uint64_t data_bytes = bytes.size() - parsed.data_offset;
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      YR_USER_CHECK(value.is_object(),
                    origin << ": __metadata__ must be an object of strings; got " << value.dump());
      for (const auto& [key, item] : value.items()) {
        YR_USER_CHECK(item.is_string(), origin << ": __metadata__ value of '" << key
                                               << "' must be a string; got " << item.dump());
        parsed.metadata[key] = item.get<std::string>();
      }
      continue;
    }
    parsed.entries.push_back(parse_entry(name, value, data_bytes, origin));
  }

  // No two non-empty ranges may share a byte.
  std::vector<const SafetensorsEntry*> by_begin;
  for (const SafetensorsEntry& entry : parsed.entries) {
    if (entry.end > entry.begin) by_begin.push_back(&entry);
  }
  std::sort(by_begin.begin(), by_begin.end(),
            [](const SafetensorsEntry* a, const SafetensorsEntry* b) {
              return a->begin != b->begin ? a->begin < b->begin : a->name < b->name;
            });
  for (std::size_t i = 1; i < by_begin.size(); ++i) {
    const SafetensorsEntry& previous = *by_begin[i - 1];
    const SafetensorsEntry& current = *by_begin[i];
    YR_USER_CHECK(current.begin >= previous.end,
                  origin << ": tensor '" << current.name << "' (bytes [" << current.begin << ", "
                         << current.end << ")) overlaps tensor '" << previous.name << "' (bytes ["
                         << previous.begin << ", " << previous.end << "))");
  }
  return parsed;
}

// The reason of the last failed system call.
std::string errno_text() {
  return std::strerror(errno);
}

}  // namespace

std::vector<SafetensorsEntry> parse_safetensors(std::span<const uint8_t> bytes,
                                                const std::string& origin,
                                                std::map<std::string, std::string>* metadata) {
  ParsedHeader parsed = parse_header(bytes, origin);
  if (metadata != nullptr) *metadata = std::move(parsed.metadata);
  return std::move(parsed.entries);
}

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  YR_USER_CHECK(fd >= 0, path << ": cannot open the safetensors file: " << errno_text());
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    YR_USER_ERROR(path << ": not a regular file");
  }
  const auto size = static_cast<std::size_t>(info.st_size);
  if (size < 8) {
    ::close(fd);
    YR_USER_ERROR(path << ": truncated: " << size
                       << " bytes, shorter than the 8-byte header length");
  }
  // A private writable mapping: a stray write to a weight stays in this process (copy on write)
  // instead of faulting or reaching the file.
  void* mapping = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  ::close(fd);
  YR_USER_CHECK(mapping != MAP_FAILED, path << ": cannot map the file: " << errno_text());

  std::shared_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->path_ = path;
  file->mapping_ = mapping;  // unmapped by the destructor, also when validation throws
  file->mapping_bytes_ = size;
  file->self_ = file;
  const std::span<const uint8_t> bytes(static_cast<const uint8_t*>(mapping), size);
  ParsedHeader parsed = parse_header(bytes, path);
  file->entries_ = std::move(parsed.entries);
  file->metadata_ = std::move(parsed.metadata);
  file->data_ = static_cast<const uint8_t*>(mapping) + parsed.data_offset;
  for (std::size_t i = 0; i < file->entries_.size(); ++i) {
    file->index_.emplace(file->entries_[i].name, i);
  }
  return file;
}

SafetensorsFile::~SafetensorsFile() {
  if (mapping_ != nullptr) ::munmap(mapping_, mapping_bytes_);
}

bool SafetensorsFile::contains(const std::string& name) const {
  return index_.count(name) != 0;
}

core::Tensor SafetensorsFile::tensor(const std::string& name) const {
  const auto found = index_.find(name);
  YR_USER_CHECK(found != index_.end(), path_ << ": no tensor named '" << name
                                             << "' (the file holds " << entries_.size()
                                             << " tensors)");
  const SafetensorsEntry& entry = entries_[found->second];
  const uint8_t* bytes = data_ + entry.begin;
  const std::size_t element = core::dtype_size(entry.dtype);
  if (reinterpret_cast<uintptr_t>(bytes) % element != 0) {
    // Misaligned for its element type (legal in the format, rare in practice): copy.
    core::Tensor copy = core::Tensor::empty(entry.shape, entry.dtype);
    if (entry.end > entry.begin) std::memcpy(copy.data(), bytes, entry.end - entry.begin);
    return copy;
  }
  const std::shared_ptr<const SafetensorsFile> self = self_.lock();
  YR_INTERNAL_CHECK(self != nullptr, "a SafetensorsFile is always owned by a shared_ptr");
  return core::Tensor::borrow(const_cast<uint8_t*>(bytes), entry.shape, {}, entry.dtype,
                              core::Device{}, std::const_pointer_cast<SafetensorsFile>(self));
}

void write_safetensors_streamed(const std::string& path, const std::vector<TensorSpec>& specs,
                                const TensorFiller& fill,
                                const std::map<std::string, std::string>& metadata) {
  Json header = Json::object();
  if (!metadata.empty()) {
    Json meta = Json::object();
    for (const auto& [key, value] : metadata) meta[key] = value;
    header["__metadata__"] = std::move(meta);
  }
  std::vector<uint64_t> sizes;
  uint64_t offset = 0;
  for (const TensorSpec& spec : specs) {
    const char* code = safetensors_code(spec.dtype);
    YR_USER_CHECK(code != nullptr, path << ": tensor '" << spec.name << "' has dtype "
                                        << core::dtype_name(spec.dtype)
                                        << "; safetensors files written by yirage hold "
                                           "bfloat16, float16 or float32");
    YR_USER_CHECK(spec.name != "__metadata__" && !spec.name.empty(),
                  path << ": '" << spec.name << "' is not a valid tensor name");
    YR_USER_CHECK(!header.contains(spec.name),
                  path << ": tensor '" << spec.name << "' is given twice");
    const uint64_t bytes =
        static_cast<uint64_t>(core::shape_numel(spec.shape)) * core::dtype_size(spec.dtype);
    header[spec.name] = Json{{"dtype", code},
                             {"shape", spec.shape},
                             {"data_offsets", Json::array({offset, offset + bytes})}};
    sizes.push_back(bytes);
    offset += bytes;
  }
  std::string text = header.dump();
  // Pad with spaces so the data section starts 8-byte aligned, as other writers do.
  while ((8 + text.size()) % 8 != 0) text.push_back(' ');

  const std::string temporary = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    YR_USER_CHECK(out.good(), path << ": cannot write (creating " << temporary
                                   << " failed: " << errno_text() << ")");
    const uint64_t header_bytes = text.size();
    char length[8];
    std::memcpy(length, &header_bytes, 8);
    out.write(length, 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    std::vector<uint8_t> buffer;
    try {
      for (std::size_t i = 0; i < specs.size(); ++i) {
        buffer.assign(sizes[i], 0);
        fill(i, std::span<uint8_t>(buffer));
        out.write(reinterpret_cast<const char*>(buffer.data()),
                  static_cast<std::streamsize>(buffer.size()));
        YR_USER_CHECK(out.good(), path << ": writing " << temporary << " failed");
      }
      out.close();
      YR_USER_CHECK(!out.fail(), path << ": writing " << temporary << " failed");
    } catch (...) {
      out.close();
      std::remove(temporary.c_str());
      throw;
    }
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    const std::string reason = errno_text();
    std::remove(temporary.c_str());
    YR_USER_ERROR(path << ": cannot write (renaming " << temporary << " failed: " << reason << ")");
  }
}

void write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<TensorSpec> specs;
  std::vector<core::Tensor> contiguous;
  for (const NamedTensor& named : tensors) {
    YR_USER_CHECK(named.tensor.defined(), path << ": tensor '" << named.name << "' is undefined");
    YR_USER_CHECK(named.tensor.device().kind == core::DeviceKind::Cpu,
                  path << ": tensor '" << named.name << "' is on "
                       << named.tensor.device().to_string() << "; expected host memory");
    specs.push_back({named.name, named.tensor.dtype(), named.tensor.shape()});
    contiguous.push_back(named.tensor.contiguous());
  }
  write_safetensors_streamed(
      path, specs,
      [&](std::size_t index, std::span<uint8_t> bytes) {
        if (!bytes.empty()) std::memcpy(bytes.data(), contiguous[index].data(), bytes.size());
      },
      metadata);
}

}  // namespace yirage::llm
