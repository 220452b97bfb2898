// The backend interface: one small abstract class every execution target implements.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "yirage/core/tensor.h"
#include "yirage/ir/kernel_graph.h"

namespace yirage::backend {

/// Whether a backend can run here and, when not, why.
struct Availability {
  bool available = false;  ///< true when the backend can run on this machine
  std::string reason;      ///< why not (empty when available)
};

/// What a backend runs on.
struct DeviceInfo {
  std::string name;  ///< e.g. the CPU brand string or GPU name
  std::vector<std::pair<std::string, std::string>> properties;  ///< key/value details
};

/// An execution target. Backends are created once and owned by the registry.
class Backend {
 public:
  virtual ~Backend() = default;
  /// Registry name, e.g. "reference".
  virtual std::string_view name() const = 0;
  /// One line: what this backend is.
  virtual std::string_view description() const = 0;
  /// Whether it runs here, with the reason when it does not.
  virtual Availability available() const = 0;
  /// The device it runs on (meaningful only when available).
  virtual DeviceInfo device_info() const = 0;
  /// True when kernel graphs containing `op` run on this backend.
  virtual bool supports(ir::OpKind op) const = 0;
  /// Runs `graph` on `inputs` (one per graph input, matching its shape and dtype) and returns
  /// the outputs in marked order. Bad inputs are UserErrors; an unavailable backend throws a
  /// UserError with its reason.
  virtual std::vector<core::Tensor> run(const ir::KernelGraph& graph,
                                        const std::vector<core::Tensor>& inputs) = 0;
  /// Runs `graph` writing its outputs into `outputs`: caller-allocated tensors, one per graph
  /// output, of the output types (contiguous; they may be views into larger buffers). The
  /// default runs run() and copies; backends that can write in place override it.
  virtual void run_into(const ir::KernelGraph& graph, const std::vector<core::Tensor>& inputs,
                        const std::vector<core::Tensor>& outputs);
  /// Waits for queued work to finish (no-op for synchronous backends).
  virtual void synchronize() {}

  // --- What the search asks of a backend ---

  /// Estimated microseconds of `graph` here, for ranking candidates. The default is the
  /// machine model of cost_model.h with this backend's fast_memory_bytes and parallel_units.
  virtual double estimate_cost(const ir::KernelGraph& graph) const;
  /// On-chip memory one block may keep its tiles in (shared memory, or a core's L2); working
  /// sets beyond it spill. The default is a nominal 228 KiB.
  virtual int64_t fast_memory_bytes() const { return 228 * 1024; }
  /// Blocks that run at once (SMs, cores). The default is a nominal 132.
  virtual int64_t parallel_units() const { return 132; }
  /// True when profile() measures real time on this machine.
  virtual bool can_profile() const { return false; }
  /// Median wall-clock seconds of one run of `graph` on `inputs` over `iterations` runs after a
  /// warm-up run. The default times run() and synchronize(); it throws a UserError when the
  /// backend is unavailable.
  virtual double profile(const ir::KernelGraph& graph, const std::vector<core::Tensor>& inputs,
                         int iterations);
};

/// Checks what every backend's run() needs: one input per graph input with matching shape
/// and dtype, every op supported by `backend`, at least one output. UserError otherwise.
void check_run_arguments(const Backend& backend, const ir::KernelGraph& graph,
                         const std::vector<core::Tensor>& inputs);

/// Checks run_into's output tensors: one per graph output, of its type, contiguous, and on
/// `device` when given. UserError naming the first that is not.
void check_output_tensors(const ir::KernelGraph& graph, const std::vector<core::Tensor>& outputs,
                          std::optional<core::DeviceKind> device = std::nullopt);

}  // namespace yirage::backend
