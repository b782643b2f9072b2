#!/usr/bin/env bash
# lutcore vs llama.cpp: teacher-forced logit parity and decode speed on BitNet GGUF files.
# Dev-only; never run by `cargo test`. See bench/parity/README.md.
#
#   bench/parity/run.sh [parity.py options]      e.g. --skip-speed, --emulate, --models build/models/tiny.gguf
#
# Writes build/parity/report.{json,md} and prints the markdown table.
# Environment:
#   PARITY_NO_BUILD=1   don't run `cargo build --release` (use target/release/lutcore as it is)
#   PARITY_VENV=DIR     venv location (default build/parity-venv)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
VER=0.3.36
VENV="${PARITY_VENV:-$ROOT/build/parity-venv}"
mkdir -p build/parity/logs

# 1. llama-cpp-python built from source (its sdist vendors llama.cpp), in a project-local venv.
#    --no-binary only for llama-cpp-python: `:all:` would rebuild cmake and numpy from source too.
if ! "$VENV/bin/python" -c "import llama_cpp, numpy, sys; sys.exit(llama_cpp.__version__ != '$VER')" 2>/dev/null; then
    echo "[parity] installing llama-cpp-python $VER from source into $VENV (about 5 min on 2 cores)" >&2
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}" \
        "$VENV/bin/pip" install --no-binary llama-cpp-python "llama-cpp-python==$VER" numpy \
        > build/parity/logs/pip-install.log 2>&1 \
        || { echo "[parity] pip install failed; see build/parity/logs/pip-install.log" >&2; tail -20 build/parity/logs/pip-install.log >&2; exit 1; }
fi

# 2. lutcore itself.
if [ "${PARITY_NO_BUILD:-0}" != 1 ]; then
    cargo build --release --quiet \
        || { echo "[parity] cargo build --release failed (PARITY_NO_BUILD=1 uses target/release/lutcore as it is)" >&2; exit 1; }
fi
LUTCORE="$ROOT/target/release/lutcore"
[ -x "$LUTCORE" ] || { echo "[parity] $LUTCORE missing (cargo build --release)" >&2; exit 1; }

# 3. The synthetic models, when missing (they need the tokenizer vocabularies).
for shape in tiny 700m; do
    f="build/models/$shape.gguf"
    if [ ! -s "$f" ]; then
        [ -s build/vocab/ggml-vocab-llama-spm.gguf ] || scripts/fetch_vocab.sh build/vocab
        mkdir -p build/models
        echo "[parity] synthesizing $f" >&2
        "$LUTCORE" model synth --shape "$shape" --out "$f"
    fi
done

# numpy (emulation) on one core: the machine is shared and llama.cpp/lutcore are timed in the same run.
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}" PYTHONDONTWRITEBYTECODE=1
exec "$VENV/bin/python" bench/parity/parity.py --lutcore "$LUTCORE" "$@"
