// `yirage info`: what this build is and what it finds on this machine.
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/gpu_probe.h"
#include "yirage/backend/registry.h"
#include "yirage/core/cpu_features.h"
#include "yirage/core/thread_pool.h"

namespace yirage::cli {

namespace {

const char* yes_no(bool value) {
  return value ? "yes" : "no";
}

void print_row(const std::string& key, const std::string& value) {
  std::cout << "  " << std::left << std::setw(14) << key << value << '\n';
}

void print_cpu() {
  const core::CpuFeatures& cpu = core::cpu_features();
  std::cout << "CPU\n";
  print_row("model", cpu.model.empty() ? "unknown" : cpu.model);
  print_row("threads", std::to_string(cpu.hardware_threads) + " hardware, " +
                           std::to_string(core::ThreadPool::global().num_threads()) +
                           " used (YIRAGE_NUM_THREADS)");
  print_row("AVX2", yes_no(cpu.avx2));
  print_row("AVX-512", cpu.avx512f ? std::string("yes") + (cpu.avx512bw ? " (F, BW)" : " (F)")
                                   : std::string("no"));
  print_row("AVX512-BF16", yes_no(cpu.avx512_bf16));
  print_row("AVX512-FP16", yes_no(cpu.avx512_fp16));
  std::string amx = yes_no(cpu.amx_tile);
  if (cpu.amx_tile) {
    amx += std::string(" (bf16: ") + yes_no(cpu.amx_bf16) + ", int8: " + yes_no(cpu.amx_int8) + ")";
  }
  print_row("AMX", amx);
}

std::string format_gib(uint64_t bytes) {
  std::ostringstream text;
  text << std::fixed << std::setprecision(1) << static_cast<double>(bytes) / (1024.0 * 1024 * 1024)
       << " GiB";
  return text.str();
}

void print_gpus() {
  const CudaProbe probe = probe_cuda();
  std::cout << "GPU\n";
  if (!probe.driver_found) {
    print_row("CUDA", "no CUDA driver found (" + probe.problem + ")");
    return;
  }
  std::string driver = "libcuda.so.1";
  if (probe.driver_version > 0) {
    driver += ", CUDA " + std::to_string(probe.driver_version / 1000) + "." +
              std::to_string(probe.driver_version % 1000 / 10);
  }
  print_row("CUDA driver", driver);
  print_row("devices", std::to_string(probe.devices.size()) +
                           (probe.problem.empty() ? "" : " (" + probe.problem + ")"));
  for (std::size_t i = 0; i < probe.devices.size(); ++i) {
    const CudaDevice& device = probe.devices[i];
    print_row("  cuda:" + std::to_string(i),
              (device.name.empty() ? std::string("unnamed") : device.name) + ", " +
                  format_gib(device.memory_bytes) + ", compute capability " +
                  std::to_string(device.compute_major) + "." +
                  std::to_string(device.compute_minor));
  }
}

void print_backends() {
  std::cout << "Backends\n";
  for (const backend::Backend* backend : backend::all_backends()) {
    const backend::Availability availability = backend->available();
    std::cout << "  " << std::left << std::setw(12) << backend->name() << std::setw(15)
              << (availability.available ? "available" : "unavailable") << backend->description()
              << '\n';
    if (availability.available) {
      std::cout << std::string(29, ' ') << "runs on: " << backend->device_info().name << '\n';
    } else {
      std::cout << std::string(29, ' ') << "reason: " << availability.reason << '\n';
    }
  }
}

void run_info() {
  std::cout << "yirage " << YIRAGE_VERSION << "\n\n";
  print_cpu();
  std::cout << '\n';
  print_gpus();
  std::cout << '\n';
  print_backends();
}

}  // namespace

void add_info_command(CLI::App& app) {
  CLI::App* info = app.add_subcommand("info", "Show the version, CPU features, GPUs and backends");
  info->callback(run_info);
}

}  // namespace yirage::cli
