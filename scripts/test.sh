#!/usr/bin/env bash
# Sets the machine up and runs every test: formatting, the C++ tests (Release and ASan+UBSan),
# the Python tests, the `yirage` command, the installed CMake package with examples/cpp, and
# `pip install .` into a fresh virtual environment with examples/python. Prints the time per
# stage. Arguments, when given, name the stages to run (see the end of this file).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
jobs="$(nproc)"
venv_python="$root/.venv/bin/python"

# ---------------------------------------------------------------------------------------------
# Stages and their timing.

stage_names=()
stage_millis=()
current_stage="(start)"
script_start=$(date +%s%N)

report() {
  local status=$?
  echo
  echo "== time per stage"
  for i in "${!stage_names[@]}"; do
    printf '  %-34s %8.1f s\n' "${stage_names[$i]}" "$(awk "BEGIN { print ${stage_millis[$i]} / 1000 }")"
  done
  local total=$((($(date +%s%N) - script_start) / 1000000))
  printf '  %-34s %8.1f s\n' "total" "$(awk "BEGIN { print $total / 1000 }")"
  if ((status != 0)); then
    echo "test.sh: FAILED in stage '$current_stage'" >&2
  else
    echo "test.sh: every test passed"
  fi
}
trap report EXIT

# stage NAME COMMAND...: runs one stage and records how long it took.
stage() {
  local name=$1
  shift
  current_stage=$name
  echo
  echo "== $name"
  local start
  start=$(date +%s%N)
  "$@"
  stage_names+=("$name")
  stage_millis+=($((($(date +%s%N) - start) / 1000000)))
}

# ---------------------------------------------------------------------------------------------
# Checks of the `yirage` command.

# expect_ok PATTERN COMMAND...: the command succeeds and its output has a line matching PATTERN.
expect_ok() {
  local pattern=$1
  shift
  local output
  if ! output="$("$@" 2>&1)"; then
    printf "FAIL: '%s' failed:\n%s\n" "$*" "$output" >&2
    return 1
  fi
  if ! grep -Eq -- "$pattern" <<<"$output"; then
    printf "FAIL: '%s' printed no line matching /%s/:\n%s\n" "$*" "$pattern" "$output" >&2
    return 1
  fi
  echo "ok    $*"
}

# expect_error CODE PATTERN COMMAND...: the command exits with CODE and writes exactly one line
# to stderr, "yirage: error: ..." matching PATTERN.
expect_error() {
  local code=$1 pattern=$2
  shift 2
  local errors status=0
  errors="$("$@" 2>&1 >/dev/null)" || status=$?
  if [[ "$status" != "$code" ]]; then
    printf "FAIL: '%s' exited with %s, expected %s; stderr:\n%s\n" "$*" "$status" "$code" \
      "$errors" >&2
    return 1
  fi
  if [[ -z "$errors" || "$(wc -l <<<"$errors")" != 1 ]]; then
    printf "FAIL: '%s' should write one line to stderr, wrote:\n%s\n" "$*" "$errors" >&2
    return 1
  fi
  if ! grep -Eq -- "^yirage: error: .*$pattern" <<<"$errors"; then
    printf "FAIL: '%s' wrote \"%s\", expected /yirage: error: .*%s/\n" "$*" "$errors" "$pattern" >&2
    return 1
  fi
  echo "ok    $* -> exit $code: $errors"
}

# cli_checks BINARY WORKDIR: runs the command on good and bad input.
cli_checks() {
  local yirage=$1 work=$2
  rm -rf "$work"
  mkdir -p "$work"

  expect_ok '^yirage [0-9]+\.[0-9]+\.[0-9]+$' "$yirage" --version
  expect_ok 'Usage' "$yirage" --help
  expect_ok 'AVX-512' "$yirage" info
  expect_ok '^  reference +available' "$yirage" info
  expect_ok '^  mps +unavailable' "$yirage" info
  expect_ok 'no CUDA driver found|CUDA driver' "$yirage" info
  expect_ok 'max relative error .*: ok$' "$yirage" demo --batch 2 --save-json "$work/demo.json"
  expect_ok '^output: bfloat16\[2, 4096\]' "$yirage" demo --batch 2 --seed 7
  expect_ok 'rms_norm' "$yirage" graph show "$work/demo.json"
  expect_ok '^fingerprint [0-9a-f]{16}$' "$yirage" graph show "$work/demo.json"
  expect_ok 'digraph' "$yirage" graph dot "$work/demo.json"
  expect_ok "wrote $work/demo.dot" "$yirage" graph dot "$work/demo.json" -o "$work/demo.dot"
  grep -q 'digraph' "$work/demo.dot"
  expect_ok '^  output 0: bfloat16\[2, 4096\]  sum=.*  mean\|x\|=' \
    "$yirage" graph run "$work/demo.json" --seed 3
  expect_ok '^elapsed .* ms on backend reference$' "$yirage" graph run "$work/demo.json"

  # The same seed gives the same checksums; another seed gives others.
  local first second third
  first="$("$yirage" graph run "$work/demo.json" --seed 5 | grep 'output 0')"
  second="$("$yirage" graph run "$work/demo.json" --seed 5 | grep 'output 0')"
  third="$("$yirage" graph run "$work/demo.json" --seed 6 | grep 'output 0')"
  if [[ "$first" != "$second" || "$first" == "$third" ]]; then
    printf 'FAIL: graph run is not reproducible by seed:\n%s\n%s\n%s\n' "$first" "$second" \
      "$third" >&2
    return 1
  fi
  echo "ok    graph run: same seed, same checksums; other seed, other checksums"

  # Integer inputs get values valid for their use: token ids below the embedding table's row
  # count (5 rows here), positions for rope.
  cat >"$work/embed_rope.json" <<'JSON'
{
  "format": "yirage.kernel_graph",
  "version": 1,
  "nodes": [
    {"op": "input", "inputs": [], "attrs": {}, "outputs": [{"shape": [6], "dtype": "int64"}]},
    {"op": "input", "inputs": [], "attrs": {}, "outputs": [{"shape": [5, 8], "dtype": "float32"}]},
    {"op": "input", "inputs": [], "attrs": {}, "outputs": [{"shape": [3, 2], "dtype": "int32"}]},
    {"op": "reshape", "inputs": [[0, 0]], "attrs": {"shape": [2, 3]},
     "outputs": [{"shape": [2, 3], "dtype": "int64"}]},
    {"op": "embedding", "inputs": [[3, 0], [1, 0]], "attrs": {},
     "outputs": [{"shape": [2, 3, 8], "dtype": "float32"}]},
    {"op": "transpose", "inputs": [[2, 0]], "attrs": {"dim0": 0, "dim1": 1},
     "outputs": [{"shape": [2, 3], "dtype": "int32"}]},
    {"op": "rope", "inputs": [[4, 0], [5, 0]], "attrs": {"theta": 10000.0},
     "outputs": [{"shape": [2, 3, 8], "dtype": "float32"}]}
  ],
  "outputs": [[6, 0]]
}
JSON
  expect_ok '^  output 0: float32\[2, 3, 8\]' "$yirage" graph run "$work/embed_rope.json"
  for seed in 1 2 3 4 5 6 7 8; do
    "$yirage" graph run "$work/embed_rope.json" --seed "$seed" >/dev/null
  done
  echo "ok    graph run with embedding ids and rope positions, seeds 1-8"

  # The superoptimizer on the demo graph, with its own cache directory: a short budget finds
  # the one-kernel program on a Release build (a slower build may find nothing in time, which
  # is said plainly); once found, a second run comes from the cache.
  export YIRAGE_CACHE_DIR="$work/cache"
  local optimized
  optimized="$("$yirage" optimize "$work/demo.json" --budget 2 --out "$work/best.json")"
  for pattern in '^optimizing .*demo.json: 2 kernel\(s\), fingerprint [0-9a-f]{16}' \
    '^search: [0-9]+ states, [0-9]+ pruned, [0-9]+ verified, [0-9.]+ s$' \
    '^kernels: 2 -> [12]$' "^wrote $work/best.json$"; do
    if ! grep -Eq -- "$pattern" <<<"$optimized"; then
      printf "FAIL: 'yirage optimize' printed no line matching /%s/:\n%s\n" "$pattern" \
        "$optimized" >&2
      return 1
    fi
  done
  echo "ok    $yirage optimize $work/demo.json --budget 2 --out $work/best.json"
  expect_ok '^fingerprint [0-9a-f]{16}$' "$yirage" graph show "$work/best.json"
  if grep -q '^kernels: 2 -> 1$' <<<"$optimized"; then
    expect_ok '^cache hit \(sealed when verified\) in' "$yirage" optimize "$work/demo.json" --budget 2
    expect_ok '^kernels: 2 -> 1$' "$yirage" optimize "$work/demo.json" --budget 2
  else
    echo "note  the search found nothing within 2 s on this build; the cache check is skipped"
  fi
  expect_ok '^search: .* verified' "$yirage" optimize "$work/demo.json" --budget 0.3 --no-cache
  expect_ok '^search: .* verified' "$yirage" optimize "$work/demo.json" --budget 0.3 --no-cache \
    --no-derive

  # Ctrl-C stops the search: exit 0 with the best result so far, said plainly. (Depth-first
  # only: lowering alone finishes before the signal comes.)
  "$yirage" optimize "$work/demo.json" --budget 60 --no-cache --no-derive >"$work/interrupted.txt" 2>&1 &
  local pid=$! waited=0 status=0
  until grep -q '^search:' "$work/interrupted.txt" || ((waited >= 200)); do
    sleep 0.1
    waited=$((waited + 1))
  done
  kill -INT "$pid"
  wait "$pid" || status=$?
  if [[ "$status" != 0 ]] || ! grep -q '^Cancelled; the best verified result so far' \
    "$work/interrupted.txt"; then
    printf "FAIL: 'yirage optimize' interrupted exited with %s:\n%s\n" "$status" \
      "$(cat "$work/interrupted.txt")" >&2
    return 1
  fi
  echo "ok    yirage optimize stopped by SIGINT: exit 0, best result so far"
  unset YIRAGE_CACHE_DIR

  # Text generation with the tiny demo checkpoint (random weights, so the text is noise).
  "$yirage" make-demo-model "$work/tiny" --preset tiny >/dev/null
  expect_ok '^4 tokens \(length\), first token .* ms/token' \
    "$yirage" generate "$work/tiny" "Hello" --max-tokens 4 --temperature 0 --ignore-eos --stream
  expect_ok '^unfused  batch 2 ' "$yirage" bench model "$work/tiny" --batch-sizes 1 2 \
    --max-tokens 3 --warmup 0 --iters 1 --unfused-only --json "$work/bench-model.json"
  grep -q '"decode_tokens_per_s"' "$work/bench-model.json"
  expect_error 1 "no-such-model" "$yirage" generate "$work/no-such-model" "Hello"
  expect_error 1 "temperature" "$yirage" generate "$work/tiny" "Hello" --temperature -1
  expect_error 2 "prompt" "$yirage" generate "$work/tiny"

  # Bad input: one line on stderr, exit 2 for usage and 1 for other errors.
  expect_error 2 "'yirage' needs a command" "$yirage"
  expect_error 2 'frobnicate' "$yirage" frobnicate
  expect_error 2 '--batch' "$yirage" demo --batch two
  expect_error 2 '--batch' "$yirage" demo --batch 0
  expect_error 2 'file' "$yirage" graph show
  expect_error 2 "'yirage graph' needs a command" "$yirage" graph
  expect_error 1 "cannot open '$work/missing.json'" "$yirage" graph show "$work/missing.json"
  printf 'this is not JSON' >"$work/garbage.json"
  expect_error 1 "garbage.json" "$yirage" graph show "$work/garbage.json"
  head -c 100 "$work/demo.json" >"$work/truncated.json"
  expect_error 1 "truncated.json.*truncated after 100 bytes" "$yirage" graph run "$work/truncated.json"
  sed 's/"rms_norm"/"no_such_op"/' "$work/demo.json" >"$work/unknown_op.json"
  expect_error 1 "no_such_op" "$yirage" graph dot "$work/unknown_op.json"
  expect_error 1 "unknown backend 'nope'; known backends: reference" \
    "$yirage" demo --backend nope
  expect_error 1 "backend 'mps' is not available" "$yirage" graph run "$work/demo.json" \
    --backend mps
  expect_error 1 "cannot write" "$yirage" graph dot "$work/demo.json" -o "$work/no/such/dir.dot"
  expect_error 1 "cannot open '$work/missing.json'" "$yirage" optimize "$work/missing.json"
  expect_error 1 "garbage.json" "$yirage" optimize "$work/garbage.json"
  expect_error 2 '--budget' "$yirage" optimize "$work/demo.json" --budget 0
  expect_error 2 'file' "$yirage" optimize
  expect_error 1 "unknown backend 'nope'; known backends: reference" \
    "$yirage" optimize "$work/demo.json" --backend nope --no-cache
}

# ---------------------------------------------------------------------------------------------
# The stages.

setup() { "$root/scripts/setup.sh"; }

check_format() {
  local dirs=() files=()
  for dir in src tests python/src examples; do
    if [[ -d "$root/$dir" ]]; then dirs+=("$dir"); fi
  done
  mapfile -t files < <(cd "$root" && find "${dirs[@]}" -type f \( -name '*.cpp' -o -name '*.h' \) |
    sort)
  clang-format --version
  (cd "$root" && clang-format --dry-run -Werror "${files[@]}")
  echo "${#files[@]} files formatted"
}

build_release() {
  cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DYIRAGE_WERROR=ON \
    -DYIRAGE_BUILD_TESTS=ON -DYIRAGE_BUILD_PYTHON=ON -DYIRAGE_BUILD_CLI=ON -DYIRAGE_SANITIZE=OFF \
    -DPython_EXECUTABLE="$venv_python"
  cmake --build "$root/build" -j"$jobs"
}

cpp_tests() { ctest --test-dir "$root/build" --output-on-failure --no-tests=error -j"$jobs"; }

python_tests() {
  PYTHONPATH="$root/build/python" "$venv_python" -m pytest -q "$root/tests/python"
}

cli_tests() { cli_checks "$root/build/src/cli/yirage" "$root/build/cli-checks"; }

sanitizer_tests() {
  cmake -S "$root" -B "$root/build-asan" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DYIRAGE_SANITIZE=ON \
    -DYIRAGE_BUILD_TESTS=ON -DYIRAGE_BUILD_PYTHON=OFF -DYIRAGE_BUILD_CLI=ON -DYIRAGE_WERROR=ON
  cmake --build "$root/build-asan" -j"$jobs"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir "$root/build-asan" --output-on-failure --no-tests=error -j"$jobs"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    cli_checks "$root/build-asan/src/cli/yirage" "$root/build-asan/cli-checks"
}

installed_package() {
  rm -rf "$root/build/install" "$root/build/example"
  cmake --install "$root/build" --prefix "$root/build/install"
  cmake -S "$root/examples/cpp" -B "$root/build/example" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$root/build/install"
  cmake --build "$root/build/example" -j"$jobs"
  "$root/build/example/rmsnorm_matmul" | tee "$root/build/example/output.txt"
  grep -Eq '^output bfloat16\[8, 4096\], checksum ' "$root/build/example/output.txt"
}

pip_install() {
  local venv="$root/build/wheel-venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet "$root"
  # Run from elsewhere so that nothing but the installed package can be imported.
  (cd "$venv" && bin/python "$root/examples/python/rmsnorm_matmul.py")
  # The README's Python example must run as written.
  awk '/^```python$/ { inside = 1; next } /^```$/ { if (inside) exit } inside' "$root/README.md" \
    >"$venv/readme_example.py"
  (cd "$venv" && bin/python readme_example.py)
  # And the uGraph example of its "Fused kernels" section.
  awk '/^## Fused kernels/ { section = 1 } section && /^```python$/ { inside = 1; next }
       section && /^```$/ { if (inside) exit } inside' "$root/README.md" >"$venv/readme_ugraph.py"
  (cd "$venv" && bin/python readme_ugraph.py | tee readme_ugraph.txt)
  grep -q '^True finite-field x2 + float64' "$venv/readme_ugraph.txt"
  (cd "$venv" && bin/yirage info)
}

# Stages by key; `scripts/test.sh KEY...` runs only those (e.g. `scripts/test.sh build cli`).
all_stages=(setup build cpp python cli asan install wheel format)
selected=("$@")
if ((${#selected[@]} == 0)); then selected=("${all_stages[@]}"); fi
for key in "${selected[@]}"; do
  case "$key" in
    setup) stage "setup" setup ;;
    build) stage "build (Release)" build_release ;;
    cpp) stage "C++ tests (ctest)" cpp_tests ;;
    python) stage "Python tests (pytest)" python_tests ;;
    cli) stage "yirage command" cli_tests ;;
    asan) stage "ASan+UBSan build and tests" sanitizer_tests ;;
    install) stage "cmake --install + examples/cpp" installed_package ;;
    wheel) stage "pip install . + examples/python" pip_install ;;
    format) stage "clang-format" check_format ;;
    *)
      echo "test.sh: unknown stage '$key'; stages: ${all_stages[*]}" >&2
      exit 2
      ;;
  esac
done
