// Cache entries, version 2: one file per key, named by the key's hash:
//
//   {"format": "yirage.search_cache", "version": 2,
//    "key": {"graph": "3f0c...", "backend": "reference", "device": "cpu ...; avx2,avx512f",
//            "config_version": 2, "prune": true, "max_block_ops": 12, "max_verified": 8,
//            "derive": true, "max_fragment_ops": 8},
//    "search": {"time_budget_seconds": 30.0, "state_budget": 2000000},
//    "report": {"states": 1964, "pruned": 1390, "verified": 1, "rejected": 0, "seconds": 0.02,
//               "frames": 5, "improved": true, "budget_exhausted": false, "summary": "..."},
//    "program": {"format": "yirage.kernel_graph", ...}, "seal": "9c1e..."}
//
// "program" is the optimized graph as graph_to_json writes it, verified by the search before it
// was stored; "seal" hashes the key, the searched graph's fingerprint and the program text.
// Reading back, the program is rebuilt through the graph builder, its input and output types
// compared with the graph searched for, and its seal checked (verifying again would take
// seconds at model shapes; the seal makes a hit milliseconds); kernel counts and costs are
// recomputed.
#include "yirage/search/cache.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <system_error>
#include <utility>
#include <variant>

#include "yirage/core/cpu_features.h"
#include "yirage/core/error.h"
#include "yirage/core/log.h"
#include "yirage/ir/fingerprint.h"
#include "yirage/ir/serialize.h"
#include "yirage/verify/verifier.h"

namespace yirage::search {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kFormat = "yirage.search_cache";

int count_kernels(const ir::KernelGraph& graph) {
  int kernels = 0;
  for (const auto& node : graph.nodes()) kernels += node.op != ir::OpKind::Input;
  return kernels;
}

json key_to_json(const CacheKey& key) {
  return {{"graph", key.graph},
          {"backend", key.backend},
          {"device", key.device},
          {"config_version", key.config_version},
          {"prune", key.prune},
          {"max_block_ops", key.max_block_ops},
          {"max_verified", key.max_verified},
          {"derive", key.derive},
          {"max_fragment_ops", key.max_fragment_ops}};
}

CacheKey key_from_json(const json& value) {
  CacheKey key;
  key.graph = value.at("graph").get<std::string>();
  key.backend = value.at("backend").get<std::string>();
  key.device = value.at("device").get<std::string>();
  key.config_version = value.at("config_version").get<int>();
  key.prune = value.at("prune").get<bool>();
  key.max_block_ops = value.at("max_block_ops").get<int>();
  key.max_verified = value.at("max_verified").get<int64_t>();
  key.derive = value.at("derive").get<bool>();
  key.max_fragment_ops = value.at("max_fragment_ops").get<int>();
  return key;
}

// Reports a directory that cannot be written once per process, not at every search.
void warn_unwritable(const std::string& dir, const std::string& reason) {
  static std::mutex mutex;
  static std::set<std::string> warned;
  const std::lock_guard<std::mutex> lock(mutex);
  if (!warned.insert(dir).second) return;
  YR_LOG(Warn) << "search cache: cannot write to '" << dir << "' (" << reason
               << "); search results are not cached";
}

// A corrupt or mismatched entry: said once, then removed so that it is not said again.
void reject_entry(const fs::path& path, const std::string& reason) {
  YR_LOG(Warn) << "search cache: ignoring " << path.string() << ": " << reason
               << "; searching again";
  std::error_code ignored;
  fs::remove(path, ignored);
}

// The seal of an entry: FNV-1a over its key (which holds the searched graph's fingerprint) and
// the program's JSON text. The search verified the program before storing it; a program whose
// seal does not match was changed since (or belongs to another key).
std::string seal(const CacheKey& key, const json& program) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (const std::string& part : {key_to_json(key).dump(), program.dump()}) {
    for (unsigned char c : part) hash = (hash ^ c) * 0x100000001b3ULL;
    hash = (hash ^ 0x1fU) * 0x100000001b3ULL;
  }
  std::ostringstream text;
  text << std::hex << std::setw(16) << std::setfill('0') << hash;
  return text.str();
}

// The entry's program for `graph`, or the reason it cannot be used.
std::variant<OptimizedProgram, std::string> read_entry(const json& entry, const CacheKey& key,
                                                       const ir::KernelGraph& graph,
                                                       const SearchOptions& options) {
  if (!entry.is_object() || !entry.contains("format") || entry.at("format") != kFormat) {
    return std::string("not a yirage search cache entry");
  }
  if (entry.at("version") != kCacheFormatVersion) {
    return "entry format version " + entry.at("version").dump() + ", expected " +
           std::to_string(kCacheFormatVersion);
  }
  if (key_from_json(entry.at("key")) != key) {
    return "its key " + entry.at("key").dump() + " is not the key looked up " +
           key_to_json(key).dump();
  }
  OptimizedProgram result{ir::KernelGraph{}, {}};
  try {
    result.graph = ir::graph_from_json(entry.at("program").dump());
  } catch (const core::UserError& e) {
    return std::string("its program does not load: ") + e.what();
  }
  if (result.graph.input_types() != graph.input_types() ||
      result.graph.output_types() != graph.output_types()) {
    return std::string("its program's input or output types differ from the graph's");
  }
  SearchReport& report = result.report;
  const json& stored = entry.at("report");
  report.totals.states = stored.at("states").get<int64_t>();
  report.totals.pruned = stored.at("pruned").get<int64_t>();
  report.totals.verified = stored.at("verified").get<int64_t>();
  report.totals.rejected = stored.at("rejected").get<int64_t>();
  report.totals.seconds = stored.at("seconds").get<double>();
  report.frames = stored.at("frames").get<int64_t>();
  report.budget_exhausted = stored.at("budget_exhausted").get<bool>();
  const std::string summary = stored.at("summary").get<std::string>();
  if (stored.at("improved").get<bool>() !=
      (ir::graph_fingerprint(result.graph) != ir::graph_fingerprint(graph))) {
    return std::string("its report and its program disagree on whether the graph improved");
  }
  report.improved = stored.at("improved").get<bool>();
  if (entry.at("seal").get<std::string>() != seal(key, entry.at("program"))) {
    return std::string("its program is not the one verified when it was stored (seal mismatch)");
  }
  (void)options;
  report.cache_hit = true;
  report.kernels_before = count_kernels(graph);
  report.kernels_after = count_kernels(result.graph);
  report.original_cost = estimate_cost(graph);
  report.best_cost = report.improved ? estimate_cost(result.graph) : report.original_cost;
  std::ostringstream text;
  text << "From the cache (sealed when verified)";
  text << ". The search that produced it: " << summary;
  report.summary = text.str();
  return result;
}

}  // namespace

std::string CacheKey::file_name() const {
  // FNV-1a over the fields, each followed by a separator byte that no field contains.
  uint64_t hash = 0xcbf29ce484222325ULL;
  const auto feed = [&hash](const std::string& text) {
    for (unsigned char c : text) hash = (hash ^ c) * 0x100000001b3ULL;
    hash = (hash ^ 0x1fU) * 0x100000001b3ULL;
  };
  for (const std::string& field :
       {graph, backend, device, std::to_string(config_version), std::string(prune ? "1" : "0"),
        std::to_string(max_block_ops), std::to_string(max_verified),
        std::string(derive ? "1" : "0"), std::to_string(max_fragment_ops)}) {
    feed(field);
  }
  std::ostringstream name;
  name << std::hex << std::setw(16) << std::setfill('0') << hash << ".json";
  return name.str();
}

CacheKey cache_key(const ir::KernelGraph& graph, const SearchOptions& options,
                   const std::string& device) {
  CacheKey key;
  key.graph = ir::graph_fingerprint_hex(graph);
  key.backend = options.backend;
  key.device = device;
  key.prune = options.prune;
  key.max_block_ops = options.max_block_ops;
  key.max_verified = options.max_verified;
  key.derive = options.derive;
  key.max_fragment_ops = options.max_fragment_ops;
  return key;
}

std::string device_fingerprint(const backend::Backend& backend) {
  std::string text;
  if (backend.name() == "reference") {
    const core::CpuFeatures& cpu = core::cpu_features();
    text = "cpu " + cpu.model + ";";
    for (const std::string& name : cpu.names()) text += " " + name;
    return text;
  }
  const backend::DeviceInfo info = backend.device_info();
  text = info.name;
  for (const auto& [name, value] : info.properties) text += "; " + name + "=" + value;
  return text;
}

std::string default_cache_dir() {
  const auto env = [](const char* name) -> std::string {
    const char* value = std::getenv(name);
    return value == nullptr ? std::string() : std::string(value);
  };
  if (std::string dir = env("YIRAGE_CACHE_DIR"); !dir.empty()) return dir;
  if (std::string dir = env("XDG_CACHE_HOME"); !dir.empty()) return dir + "/yirage";
  if (std::string dir = env("HOME"); !dir.empty()) return dir + "/.cache/yirage";
  return ".yirage-cache";  // no home directory: next to where the process runs
}

std::optional<OptimizedProgram> cache_load(const std::string& dir, const CacheKey& key,
                                           const ir::KernelGraph& graph,
                                           const SearchOptions& options) {
  const fs::path path = fs::path(dir) / key.file_name();
  std::ifstream file(path, std::ios::binary);
  if (!file) return std::nullopt;  // no entry
  std::ostringstream text;
  text << file.rdbuf();
  if (file.bad()) {
    reject_entry(path, "it cannot be read");
    return std::nullopt;
  }
  const json entry = json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (entry.is_discarded()) {
    reject_entry(path, "it is not valid JSON");
    return std::nullopt;
  }
  try {
    // An entry whose search ran out of budget serves only searches with no larger budget.
    if (entry.is_object() && entry.contains("report") && entry.contains("search") &&
        entry.at("report").at("budget_exhausted").get<bool>()) {
      const json& search = entry.at("search");
      if (options.time_budget_seconds > search.at("time_budget_seconds").get<double>() ||
          options.state_budget > search.at("state_budget").get<int64_t>()) {
        return std::nullopt;
      }
    }
    auto result = read_entry(entry, key, graph, options);
    if (auto* reason = std::get_if<std::string>(&result)) {
      reject_entry(path, *reason);
      return std::nullopt;
    }
    return std::get<OptimizedProgram>(std::move(result));
  } catch (const json::exception& e) {
    reject_entry(path, std::string("a field is missing or of the wrong type: ") + e.what());
    return std::nullopt;
  }
}

bool cache_store(const std::string& dir, const CacheKey& key, const OptimizedProgram& program,
                 const SearchOptions& options) {
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) {
    warn_unwritable(dir, error.message());
    return false;
  }
  const SearchReport& report = program.report;
  const json stored_program = json::parse(ir::graph_to_json(program.graph, -1));
  const json entry = {{"format", kFormat},
                      {"version", kCacheFormatVersion},
                      {"key", key_to_json(key)},
                      {"search",
                       {{"time_budget_seconds", options.time_budget_seconds},
                        {"state_budget", options.state_budget}}},
                      {"report",
                       {{"states", report.totals.states},
                        {"pruned", report.totals.pruned},
                        {"verified", report.totals.verified},
                        {"rejected", report.totals.rejected},
                        {"seconds", report.totals.seconds},
                        {"frames", report.frames},
                        {"improved", report.improved},
                        {"budget_exhausted", report.budget_exhausted},
                        {"summary", report.summary}}},
                      {"program", stored_program},
                      {"seal", seal(key, stored_program)}};
  // A name no other writer uses: the process, and a counter for threads of this process.
  static std::atomic<uint64_t> counter{0};
  const fs::path final_path = fs::path(dir) / key.file_name();
  std::ostringstream temp_name;
  temp_name << '.' << key.file_name() << ".tmp." << ::getpid() << '.' << counter.fetch_add(1);
  const fs::path temp_path = fs::path(dir) / temp_name.str();
  {
    std::ofstream file(temp_path, std::ios::binary | std::ios::trunc);
    file << entry.dump(1) << '\n';
    file.flush();
    if (!file) {
      fs::remove(temp_path, error);
      warn_unwritable(dir, "cannot write " + temp_path.filename().string());
      return false;
    }
  }
  fs::rename(temp_path, final_path, error);
  if (error) {
    const std::string reason = error.message();
    fs::remove(temp_path, error);
    warn_unwritable(dir, "cannot rename into place: " + reason);
    return false;
  }
  return true;
}

}  // namespace yirage::search
