#!/usr/bin/env bash
# Create (or reuse) the project-local Python venv with the ECP5 tools from
# PyPI, versions pinned: YoWASP builds of Yosys and nextpnr-ecp5 (WebAssembly;
# the first call of each tool compiles it for about a minute and caches the
# result in ~/.cache/YoWASP). Idempotent: quiet when the pinned versions are
# installed.
#
# usage: scripts/fpga/venv.sh VENV_DIR PKG==VERSION...
set -euo pipefail
venv=$1; shift
stamp="$venv/.lutcore-pins"
want=$(printf '%s\n' "$@")
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "fpga-venv: installing $* into $venv (pip)"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check "$@"
printf '%s\n' "$want" > "$stamp"
