#!/usr/bin/env bash
# Fetch llama.cpp's tokenizer test vocabularies for sw/tests/tokenizer.rs.
#
#   scripts/fetch_vocab.sh [DIR]      (default: build/vocab)
#
# Puts into DIR, from the llama-cpp-python sdist on PyPI (which vendors
# llama.cpp's tree):
#   ggml-vocab-llama-spm.gguf{,.inp,.out}   32000-token SentencePiece vocab + test vectors
#   ggml-vocab-llama-bpe.gguf{,.inp,.out}   128256-token Llama-3 BPE vocab + test vectors
# These are not committed. Idempotent and quiet when the files are present.
# Reuses build/peer/llama_cpp_python-$VER.tar.gz (bench/peer/build.sh's
# download) when it is there; otherwise downloads the sdist (76 MB) to a
# temporary directory and removes it afterwards.
#
# Environment: VOCAB_SDIST_VERSION (default 0.3.36).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VER="${VOCAB_SDIST_VERSION:-0.3.36}"
DIR="${1:-$ROOT/build/vocab}"
FILES=()
for v in spm bpe; do
    for ext in "" .inp .out; do
        FILES+=("ggml-vocab-llama-$v.gguf$ext")
    done
done

missing=0
for f in "${FILES[@]}"; do
    [ -s "$DIR/$f" ] || missing=1
done
[ "$missing" -eq 0 ] && exit 0

mkdir -p "$DIR"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

SDIST="$ROOT/build/peer/llama_cpp_python-$VER.tar.gz"
if [ ! -s "$SDIST" ] || ! gzip -t "$SDIST" 2>/dev/null; then
    SDIST="$TMP/llama_cpp_python-$VER.tar.gz"
    # Only llama-cpp-python itself as source: `--no-binary :all:` would make pip
    # build cmake from source just to read the sdist's metadata.
    if ! python3 -m pip download --quiet --no-deps --no-binary llama-cpp-python \
            "llama-cpp-python==$VER" -d "$TMP" >"$TMP/pip.log" 2>&1; then
        echo "fetch_vocab.sh: downloading llama-cpp-python==$VER failed:" >&2
        tail -n 20 "$TMP/pip.log" >&2
        exit 1
    fi
fi

MEMBERS=()
for f in "${FILES[@]}"; do
    MEMBERS+=("llama_cpp_python-$VER/vendor/llama.cpp/models/$f")
done
if ! tar -xzf "$SDIST" -C "$TMP" "${MEMBERS[@]}" 2>"$TMP/tar.log"; then
    echo "fetch_vocab.sh: extracting the vocab files from $SDIST failed:" >&2
    cat "$TMP/tar.log" >&2
    exit 1
fi
# move each file into place atomically (a partial DIR never looks complete)
for f in "${FILES[@]}"; do
    cp "$TMP/llama_cpp_python-$VER/vendor/llama.cpp/models/$f" "$DIR/.$f.tmp"
    mv -f "$DIR/.$f.tmp" "$DIR/$f"
done
echo "fetch_vocab.sh: llama.cpp tokenizer vocabs (llama-cpp-python $VER) in $DIR"
