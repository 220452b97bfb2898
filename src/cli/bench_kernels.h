// `yirage bench kernels`: fused and unfused kernels on a CPU backend against the library peer.
#pragma once

namespace CLI {
class App;
}  // namespace CLI

namespace yirage::cli {

/// Adds `kernels` to the `bench` command.
void add_bench_kernels_command(CLI::App& bench);

}  // namespace yirage::cli
