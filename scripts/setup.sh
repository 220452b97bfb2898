#!/usr/bin/env bash
# Installs what yirage needs on a Debian 12 machine: the system packages that are missing and a
# Python virtual environment in .venv. Safe to run again; quick when everything is in place.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

packages=(cmake ninja-build g++ libgtest-dev libgmock-dev nlohmann-json3-dev libcli11-dev
          clang-format pkg-config libpcre2-dev libutf8proc-dev)
packages+=(libdnnl-dev)  # oneDNN GEMMs of the mkl backend
if ! command -v python3 >/dev/null 2>&1; then
  packages+=(python3 python3-venv)
elif ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
  packages+=(python3-venv)
fi

if command -v dpkg >/dev/null 2>&1; then
  missing=()
  for package in "${packages[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
  done
  if ((${#missing[@]} > 0)); then
    sudo=()
    if [[ "$(id -u)" != 0 ]]; then sudo=(sudo); fi
    echo "setup: installing ${missing[*]}"
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
else
  echo "setup: no dpkg here; install by hand: ${packages[*]}" >&2
fi

venv="$root/.venv"
if [[ ! -x "$venv/bin/python" ]]; then
  echo "setup: creating $venv"
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import nanobind, numpy, ml_dtypes, pytest, scikit_build_core
import tokenizers, jinja2' >/dev/null 2>&1; then
  echo "setup: installing Python packages into $venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet nanobind numpy ml_dtypes pytest scikit-build-core \
    tokenizers jinja2
fi
