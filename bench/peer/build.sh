#!/usr/bin/env bash
# Build the llama.cpp (ggml) peer of the lutcore GEMV benchmark.
#
# Idempotent: downloads the llama-cpp-python sdist (which vendors llama.cpp,
# ggml included) into build/peer/ once, unpacks it once, builds only ggml's
# base + CPU backend (static, Release, GGML_NATIVE=ON, no CUDA/Metal/BLAS) and
# links bench/peer/ggml_gemv.c against it into build/peer/ggml-gemv.
# Quiet on success apart from one line naming the ggml version/commit built.
# Logs of each step: build/peer/logs/.
#
# Environment: PEER_SDIST_VERSION (default 0.3.36), JOBS (default nproc).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SRC_HARNESS="$ROOT/bench/peer/ggml_gemv.c"
VER="${PEER_SDIST_VERSION:-0.3.36}"
OUT="$ROOT/build/peer"
SDIST="$OUT/llama_cpp_python-$VER.tar.gz"
TREE="$OUT/llama_cpp_python-$VER"
GGML_SRC="$TREE/vendor/llama.cpp/ggml"
GGML_BUILD="$OUT/ggml-build"
BIN="$OUT/ggml-gemv"
LOGS="$OUT/logs"
JOBS="${JOBS:-$(nproc 2>/dev/null || echo 2)}"

mkdir -p "$OUT" "$LOGS"

fail() { # fail STEP LOG
    echo "bench/peer/build.sh: $1 failed; last lines of $2:" >&2
    tail -n 30 "$2" >&2 || true
    exit 1
}

# 1. cmake (>= 3.14). pip's is the quickest to get; apt as a fallback.
have_cmake() {
    command -v cmake >/dev/null 2>&1 || return 1
    local v; v="$(cmake --version | sed -n 's/^cmake version \([0-9]*\)\.\([0-9]*\).*/\1 \2/p')"
    set -- $v
    [ "${1:-0}" -gt 3 ] || { [ "${1:-0}" -eq 3 ] && [ "${2:-0}" -ge 14 ]; }
}
if ! have_cmake; then
    { python3 -m pip install --quiet cmake; } >"$LOGS/cmake-install.log" 2>&1 || true
    hash -r
    if ! have_cmake; then
        { apt-get update && apt-get install -y cmake; } >>"$LOGS/cmake-install.log" 2>&1 \
            || fail "installing cmake" "$LOGS/cmake-install.log"
        hash -r
    fi
fi

# 2. The sdist. Only llama-cpp-python itself is taken as source: with
# `--no-binary :all:` pip would also build its build dependencies (cmake!)
# from source just to read the sdist's metadata, which takes many minutes.
if [ ! -s "$SDIST" ]; then
    python3 -m pip download --quiet --no-deps --no-binary llama-cpp-python \
        "llama-cpp-python==$VER" -d "$OUT" >"$LOGS/download.log" 2>&1 \
        || fail "downloading llama-cpp-python==$VER" "$LOGS/download.log"
fi
if [ ! -f "$GGML_SRC/CMakeLists.txt" ]; then
    rm -rf "$TREE"
    tar -xzf "$SDIST" -C "$OUT" >"$LOGS/unpack.log" 2>&1 || fail "unpacking $SDIST" "$LOGS/unpack.log"
fi

# The sdist leaves out ggml.pc.in, which ggml's CMakeLists configures (a
# pkg-config file we do not use): an empty one lets the configure step pass.
[ -f "$GGML_SRC/ggml.pc.in" ] || : >"$GGML_SRC/ggml.pc.in"

# 3. ggml: base + CPU backend only. GGML_LLAMAFILE=ON and OpenMP match what a
# default llama.cpp build uses on x86 (the standalone ggml default for
# LLAMAFILE is OFF; llama.cpp's top-level CMakeLists turns it ON).
if [ ! -f "$GGML_BUILD/CMakeCache.txt" ]; then
    cmake -S "$GGML_SRC" -B "$GGML_BUILD" \
        -DCMAKE_BUILD_TYPE=Release \
        -DBUILD_SHARED_LIBS=OFF \
        -DGGML_STATIC=OFF \
        -DGGML_NATIVE=ON \
        -DGGML_CPU=ON \
        -DGGML_LLAMAFILE=ON \
        -DGGML_OPENMP=ON \
        -DGGML_BACKEND_DL=OFF \
        -DGGML_BLAS=OFF -DGGML_CUDA=OFF -DGGML_METAL=OFF -DGGML_VULKAN=OFF \
        -DGGML_OPENCL=OFF -DGGML_SYCL=OFF -DGGML_HIP=OFF -DGGML_RPC=OFF \
        -DGGML_BUILD_TESTS=OFF -DGGML_BUILD_EXAMPLES=OFF \
        >"$LOGS/cmake-configure.log" 2>&1 || { rm -f "$GGML_BUILD/CMakeCache.txt"; fail "cmake configure" "$LOGS/cmake-configure.log"; }
fi
cmake --build "$GGML_BUILD" --target ggml-base ggml-cpu -j "$JOBS" \
    >"$LOGS/cmake-build.log" 2>&1 || fail "building ggml" "$LOGS/cmake-build.log"

LIB_CPU="$(find "$GGML_BUILD" -name 'libggml-cpu.a' | head -n 1)"
LIB_BASE="$(find "$GGML_BUILD" -name 'libggml-base.a' | head -n 1)"
[ -n "$LIB_CPU" ] && [ -n "$LIB_BASE" ] || { echo "bench/peer/build.sh: ggml static libraries not found under $GGML_BUILD" >&2; exit 1; }

# 4. The harness. Relinked when its source or the libraries are newer.
if [ ! -x "$BIN" ] || [ "$SRC_HARNESS" -nt "$BIN" ] || [ "$LIB_CPU" -nt "$BIN" ] || [ "$LIB_BASE" -nt "$BIN" ]; then
    ${CC:-gcc} -O2 -std=c11 -Wall -Wextra -I"$GGML_SRC/include" "$SRC_HARNESS" \
        "$LIB_CPU" "$LIB_BASE" -fopenmp -lstdc++ -lpthread -lm -o "$BIN.tmp" \
        >"$LOGS/harness.log" 2>&1 || fail "compiling the harness" "$LOGS/harness.log"
    mv -f "$BIN.tmp" "$BIN"
fi

echo "peer: $("$BIN" --version) (llama-cpp-python $VER) -> ${BIN#$ROOT/}"
