#!/usr/bin/env bash
# Sets up, builds the `yirage` command and runs the main job on the CPU: for now the demo that
# builds the RMSNorm + QKV matmul graph of a Qwen3-0.6B layer, runs it and checks the result.
# Extra arguments go to `yirage demo` (e.g. --batch 32).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

"$root/scripts/setup.sh"
# The same configuration as scripts/test.sh, so the two share one build.
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DYIRAGE_WERROR=ON \
  -DYIRAGE_BUILD_TESTS=ON -DYIRAGE_BUILD_PYTHON=ON -DYIRAGE_BUILD_CLI=ON -DYIRAGE_SANITIZE=OFF \
  -DPython_EXECUTABLE="$root/.venv/bin/python" >/dev/null
cmake --build "$root/build" -j"$(nproc)" --target yirage_cli
"$root/build/src/cli/yirage" demo "$@"
