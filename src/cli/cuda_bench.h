// `yirage bench kernels --backend cuda` (and `bench cuda-kernels`): the kernel rows on the
// CUDA backend, timed on the GPU, with the cudnn and PyTorch peers measured in the same run.
#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
}  // namespace CLI

namespace yirage::cli {

/// What the CUDA kernel benchmark measures and where it writes.
struct CudaBenchOptions {
  std::string json;                ///< also write the results here (empty: print only)
  std::string only;                ///< only rows whose name contains this text
  int iterations = 200;            ///< most calls per timing round
  std::vector<std::string> peers;  ///< "torch" and/or "cudnn"
  std::string python = "python3";  ///< the interpreter that runs the PyTorch peer script
  std::string peer_script;         ///< bench/cuda_kernels.py (empty: found from here)
};

/// Runs the rows (and the peers), prints a table and writes the JSON.
void run_cuda_kernel_bench(const CudaBenchOptions& options);

/// "torch,cudnn" as a list.
std::vector<std::string> split_peers(const std::string& text);

/// Adds the `cuda-kernels` subcommand to `bench`.
void add_cuda_kernels_bench(CLI::App& bench);

}  // namespace yirage::cli
