// The subcommands of the `yirage` tool; each one lives in its own file and adds itself to the app.
#pragma once

namespace CLI {
class App;
}  // namespace CLI

namespace yirage::cli {

/// Adds `yirage info`: version, CPU model and features, CUDA devices and every backend.
void add_info_command(CLI::App& app);
/// Adds `yirage graph show|dot|run FILE.json`.
void add_graph_command(CLI::App& app);
/// Adds `yirage bench verify`: verification time of each hand-fused workload.
void add_bench_command(CLI::App& app);
/// Adds `yirage optimize FILE.json`: the superoptimizer, with progress, on a serialized graph.
void add_optimize_command(CLI::App& app);
/// Adds `yirage demo`: the RMSNorm+matmul graph of a Qwen3-0.6B layer, run and checked.
void add_demo_command(CLI::App& app);
/// Adds `yirage make-demo-model DIR`: a Qwen3 checkpoint with deterministic random weights.
void add_make_demo_model_command(CLI::App& app);

}  // namespace yirage::cli
