// `yirage bench cuda-kernels`: the kernel rows on the CUDA backend, timed on the GPU.
#pragma once

namespace CLI {
class App;
}  // namespace CLI

namespace yirage::cli {

/// Adds the `cuda-kernels` subcommand to `bench`.
void add_cuda_kernels_bench(CLI::App& bench);

}  // namespace yirage::cli
