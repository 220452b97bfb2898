// The on-disk cache of search results: one JSON file per (graph, backend, device, search
// configuration), written atomically, read back only when its seal shows the program is the one
// verified.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "yirage/backend/backend.h"
#include "yirage/ir/kernel_graph.h"
#include "yirage/search/superoptimizer.h"

namespace yirage::search {

/// Version of the search's configuration; bumped whenever a change to the search can change
/// what it returns for a graph, so that entries written before the change are not used.
inline constexpr int kSearchConfigVersion = 2;
/// Version of the entry format ("version" field); readers accept only this one.
inline constexpr int kCacheFormatVersion = 2;

/// What identifies a search result: the graph, where it is meant to run, and every option that
/// changes what the search returns.
struct CacheKey {
  std::string graph;                          ///< graph_fingerprint_hex of the input graph
  std::string backend;                        ///< backend name, e.g. "reference"
  std::string device;                         ///< device_fingerprint of that backend
  int config_version = kSearchConfigVersion;  ///< kSearchConfigVersion when written
  bool prune = true;                          ///< SearchOptions::prune
  int max_block_ops = 0;                      ///< SearchOptions::max_block_ops
  int64_t max_verified = 0;                   ///< SearchOptions::max_verified
  bool derive = true;                         ///< SearchOptions::derive
  int max_fragment_ops = 0;                   ///< SearchOptions::max_fragment_ops
  /// The entry's file name: 16 hex digits hashing every field, then ".json".
  std::string file_name() const;
  /// Field-wise equality.
  bool operator==(const CacheKey& other) const = default;
};

/// The key of searching `graph` with `options` on `device` (a device_fingerprint).
CacheKey cache_key(const ir::KernelGraph& graph, const SearchOptions& options,
                   const std::string& device);

/// What a backend's results depend on: for the reference backend the CPU model and the names of
/// its SIMD extensions; for others the device name and properties.
std::string device_fingerprint(const backend::Backend& backend);

/// The cache directory: $YIRAGE_CACHE_DIR when set and not empty, else $XDG_CACHE_HOME/yirage,
/// else $HOME/.cache/yirage (read at each call).
std::string default_cache_dir();

/// Reads the entry of `key` under `dir` for `graph`, searched with `options`. Returns nothing
/// when there is no entry, when the entry came from a search stopped by budgets smaller than
/// `options`' (a larger budget may find more), or when it is corrupt or mismatched (bad JSON,
/// another key, a program that fails to load, has other input or output types, or whose seal
/// does not match: it is not the program the search verified and stored); each corrupt or
/// mismatched entry is reported once with a warning and removed. A returned program is the one
/// the search verified against `graph`; its report has cache_hit set and the counters of the
/// search that produced it.
std::optional<OptimizedProgram> cache_load(const std::string& dir, const CacheKey& key,
                                           const ir::KernelGraph& graph,
                                           const SearchOptions& options);

/// Writes `program` (the result of searching for the graph of `key` with `options`) as the
/// entry of `key` under `dir`, creating the directory: a temporary file in the same directory,
/// then a rename, so readers see either the old entry or the whole new one. Returns false after
/// a warning (once per directory) when the directory or file cannot be written.
bool cache_store(const std::string& dir, const CacheKey& key, const OptimizedProgram& program,
                 const SearchOptions& options);

}  // namespace yirage::search
