// The safetensors reader and writer: round trips, zero-copy views, and every kind of corruption.
#include "yirage/llm/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "llm/temp_dir.h"
#include "test_util.h"
#include "yirage/core/error.h"

namespace yirage::llm {
namespace {

using core::DType;
using testing::safetensors_image;
using testing::TempDir;
using testing::write_bytes;

TEST(Safetensors, RoundTripKeepsOrderBytesAndMetadata) {
  TempDir dir;
  std::mt19937_64 rng(7);
  const core::Tensor a = testing::random_tensor({3, 5}, DType::BF16, rng);
  const core::Tensor b = testing::random_tensor({7}, DType::F32, rng);
  const core::Tensor c = testing::random_tensor({2, 2, 3}, DType::F16, rng);
  const core::Tensor empty = core::Tensor::empty({0, 4}, DType::F32);
  const std::string path = dir.file("x.safetensors");
  write_safetensors(path, {{"z.first", a}, {"a.second", b}, {"m.third", c}, {"empty", empty}},
                    {{"format", "pt"}, {"note", "hello"}});

  const auto file = SafetensorsFile::open(path);
  EXPECT_EQ(file->path(), path);
  ASSERT_EQ(file->entries().size(), 4u);
  EXPECT_EQ(file->entries()[0].name, "z.first");  // file order, not sorted by name
  EXPECT_EQ(file->entries()[1].name, "a.second");
  EXPECT_EQ(file->entries()[2].dtype, DType::F16);
  EXPECT_EQ(file->entries()[2].shape, (core::Shape{2, 2, 3}));
  EXPECT_EQ(file->entries()[1].begin, file->entries()[0].end);
  EXPECT_EQ(file->metadata().at("format"), "pt");
  EXPECT_EQ(file->metadata().at("note"), "hello");
  EXPECT_TRUE(file->contains("m.third"));
  EXPECT_FALSE(file->contains("missing"));

  const std::vector<std::pair<std::string, core::Tensor>> expected = {
      {"z.first", a}, {"a.second", b}, {"m.third", c}};
  for (const auto& [name, tensor] : expected) {
    const core::Tensor read = file->tensor(name);
    EXPECT_EQ(read.dtype(), tensor.dtype());
    EXPECT_EQ(read.shape(), tensor.shape());
    EXPECT_TRUE(read.is_contiguous());
    EXPECT_EQ(std::memcmp(read.data(), tensor.data(), tensor.nbytes()), 0) << name;
  }
  EXPECT_EQ(file->tensor("empty").shape(), (core::Shape{0, 4}));
  // The data section starts 8-byte aligned.
  EXPECT_EQ(reinterpret_cast<uintptr_t>(file->tensor("z.first").data()) % 8, 0u);
}

TEST(Safetensors, TensorsAreZeroCopyViewsThatKeepTheFileMapped) {
  TempDir dir;
  std::mt19937_64 rng(3);
  const core::Tensor w = testing::random_tensor({64, 16}, DType::F32, rng);
  const std::string path = dir.file("w.safetensors");
  write_safetensors(path, {{"w", w}});
  core::Tensor view;
  {
    auto file = SafetensorsFile::open(path);
    view = file->tensor("w");
    EXPECT_FALSE(view.storage()->owned());
    const auto* base = static_cast<const uint8_t*>(file->tensor("w").data());
    EXPECT_EQ(view.data(), base);  // the same mapped bytes, no copy
  }
  // The file object is gone; the view still reads the mapping.
  EXPECT_EQ(std::memcmp(view.data(), w.data(), w.nbytes()), 0);
}

TEST(Safetensors, AbsentTensorNamesTheFile) {
  TempDir dir;
  const std::string path = dir.file("a.safetensors");
  write_safetensors(path, {{"x", core::Tensor::empty({2}, DType::F32)}});
  const auto file = SafetensorsFile::open(path);
  EXPECT_USER_ERROR([&] { file->tensor("y"); }, path, "no tensor named 'y'");
}

TEST(Safetensors, MissingAndTruncatedFiles) {
  TempDir dir;
  EXPECT_USER_ERROR([&] { SafetensorsFile::open(dir.file("nope.safetensors")); },
                    "nope.safetensors", "cannot open");
  const std::string short_file = dir.file("short.safetensors");
  write_bytes(short_file, "abc");
  EXPECT_USER_ERROR([&] { SafetensorsFile::open(short_file); }, short_file, "truncated",
                    "8-byte header length");
  // A header length beyond the end of the file.
  const std::string image = safetensors_image("{}", 0);
  write_bytes(short_file, image.substr(0, 9));
  EXPECT_USER_ERROR([&] { SafetensorsFile::open(short_file); }, short_file, "header length 2",
                    "reaches past the end");
  // A valid file cut inside its data section.
  const std::string full = dir.file("full.safetensors");
  write_safetensors(full, {{"w", core::Tensor::empty({4, 4}, DType::F32)}});
  const std::string bytes = testing::read_bytes(full);
  write_bytes(full, bytes.substr(0, bytes.size() - 10));
  EXPECT_USER_ERROR([&] { SafetensorsFile::open(full); }, full, "tensor 'w'",
                    "reach past the data section", "truncated");
}

TEST(Safetensors, CorruptHeadersAreClearErrors) {
  TempDir dir;
  const std::string path = dir.file("bad.safetensors");
  const auto expect_error = [&](const std::string& header, std::size_t data_bytes,
                                std::vector<std::string> substrings) {
    write_bytes(path, safetensors_image(header, data_bytes));
    try {
      SafetensorsFile::open(path);
      ADD_FAILURE() << "no error for header " << header;
    } catch (const core::UserError& error) {
      const std::string message = error.what();
      substrings.push_back(path);
      for (const std::string& expected : substrings) {
        EXPECT_NE(message.find(expected), std::string::npos)
            << "\"" << message << "\" lacks \"" << expected << "\"";
      }
    }
  };
  expect_error("{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]", 8,
               {"not valid JSON"});
  expect_error("[1, 2]", 0, {"not a JSON object"});
  expect_error(R"({"w": {"dtype": "F64", "shape": [1], "data_offsets": [0, 8]}})", 8,
               {"tensor 'w'", "dtype F64", "expected BF16, F16 or F32"});
  expect_error(R"({"w": {"dtype": "Q4", "shape": [1], "data_offsets": [0, 8]}})", 8,
               {"tensor 'w'", "unknown dtype 'Q4'"});
  expect_error(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                   "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
               12, {"tensor 'b'", "overlaps tensor 'a'"});
  expect_error(R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})", 12,
               {"tensor 'w'", "reach past the data section of 12 bytes"});
  expect_error(R"({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", 8,
               {"tensor 'w'", "hold 8 bytes", "needs 12"});
  expect_error(R"({"w": {"dtype": "BF16", "shape": [2, -1], "data_offsets": [0, 8]}})", 8,
               {"tensor 'w'", "shape extents must be non-negative integers"});
  expect_error(R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}})", 8,
               {"tensor 'w'", "end before they begin"});
  expect_error(R"({"w": {"dtype": "F32", "shape": [2]}})", 8,
               {"tensor 'w'", "lacks 'data_offsets'"});
  expect_error(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                   "w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})",
               8, {"tensor 'w'", "appears twice"});
  expect_error(R"({"__metadata__": {"format": 1}})", 0, {"__metadata__", "'format'"});
  expect_error(
      R"({"w": {"dtype": "F32", "shape": [4611686018427387904, 8], "data_offsets": [0, 8]}})", 8,
      {"tensor 'w'", "too many"});
}

TEST(Safetensors, WriterRejectsUnsupportedDtypesAndUnwritablePaths) {
  TempDir dir;
  EXPECT_USER_ERROR(
      [&] {
        write_safetensors(dir.file("i.safetensors"),
                          {{"ids", core::Tensor::empty({2}, DType::I32)}});
      },
      "tensor 'ids'", "int32");
  EXPECT_FALSE(std::filesystem::exists(dir.file("i.safetensors")));
  EXPECT_USER_ERROR(
      [&] {
        write_safetensors(dir.file("no/such/dir/x.safetensors"),
                          {{"x", core::Tensor::empty({2}, DType::F32)}});
      },
      "x.safetensors", "cannot write");
  EXPECT_USER_ERROR(
      [&] {
        write_safetensors(dir.file("d.safetensors"), {{"x", core::Tensor::empty({2}, DType::F32)},
                                                      {"x", core::Tensor::empty({2}, DType::F32)}});
      },
      "tensor 'x'", "given twice");
}

// Random byte flips and cuts of a valid image parse or fail with a UserError; nothing else.
TEST(Safetensors, MutatedImagesNeverCrashTheParser) {
  TempDir dir;
  const std::string path = dir.file("seed.safetensors");
  std::mt19937_64 rng(11);
  write_safetensors(path,
                    {{"a", testing::random_tensor({3, 4}, DType::BF16, rng)},
                     {"b", testing::random_tensor({5}, DType::F32, rng)}},
                    {{"k", "v"}});
  const std::string original = testing::read_bytes(path);
  int rejected = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string bytes = original;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      // Most flips land in the header, where the parser has something to check.
      const std::size_t at = rng() % std::min<std::size_t>(bytes.size(), 8 + 200);
      bytes[at] = static_cast<char>(rng() % 256);
    }
    if (rng() % 4 == 0) bytes.resize(rng() % bytes.size());
    const std::span<const uint8_t> image(reinterpret_cast<const uint8_t*>(bytes.data()),
                                         bytes.size());
    try {
      std::map<std::string, std::string> metadata;
      const auto entries = parse_safetensors(image, "mutated", &metadata);
      for (const SafetensorsEntry& entry : entries) {
        EXPECT_LE(entry.end, bytes.size());
        EXPECT_LE(entry.begin, entry.end);
      }
    } catch (const core::UserError& error) {
      ++rejected;
      EXPECT_NE(std::string(error.what()).find("mutated"), std::string::npos) << error.what();
    }
  }
  EXPECT_GT(rejected, 1000);
}

}  // namespace
}  // namespace yirage::llm
