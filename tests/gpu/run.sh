#!/usr/bin/env bash
# GPU test entry point: builds yirage (unless BUILD_DIR already holds the binaries) and runs the
# CUDA and cudnn backends' tests against the reference backend, then the backend-conformance tests.
# Usage: tests/gpu/run.sh [BUILD_DIR]   (run on a machine with an NVIDIA GPU)
set -euo pipefail
cd "$(dirname "$0")/../.."
build="${1:-build-gpu}"
if [[ ! -x "$build/tests/yirage_tests" ]]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DYIRAGE_BUILD_PYTHON=OFF
  ninja -C "$build" yirage_tests yirage_cli
fi
"$build/src/cli/yirage" info || true
"$build/tests/yirage_tests" --gtest_filter='Cuda*:Cudnn*:*Conformance*' --gtest_brief=0
