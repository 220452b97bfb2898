#!/usr/bin/env bash
# Sets up, builds the `yirage` command and runs the main job on the CPU: writes the tiny demo
# Qwen3 checkpoint (deterministic pseudo-random weights and the real Qwen3 tokenizer) into a
# cache directory, then generates text with it, streaming. The weights are noise, so the text
# is too; a real Qwen3 checkpoint directory works the same way with `yirage generate DIR`.
# Extra arguments go to `yirage generate` (e.g. --temperature 0.8 --seed 3).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

"$root/scripts/setup.sh"
# The same configuration as scripts/test.sh, so the two share one build.
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DYIRAGE_WERROR=ON \
  -DYIRAGE_BUILD_TESTS=ON -DYIRAGE_BUILD_PYTHON=ON -DYIRAGE_BUILD_CLI=ON -DYIRAGE_SANITIZE=OFF \
  -DPython_EXECUTABLE="$root/.venv/bin/python" >/dev/null
cmake --build "$root/build" -j"$(nproc)" --target yirage_cli
yirage="$root/build/src/cli/yirage"

model="${YIRAGE_DEMO_MODEL:-${XDG_CACHE_HOME:-$HOME/.cache}/yirage/demo-tiny}"
if [[ ! -f "$model/model.safetensors" ]]; then
  "$yirage" make-demo-model "$model" --preset tiny
fi
echo "model: $model (tiny demo checkpoint: random weights, so the text is noise)"
"$yirage" generate "$model" "The capital of France is" --max-tokens 32 --stream "$@"
