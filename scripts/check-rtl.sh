#!/usr/bin/env bash
# Generate every preset (or the presets given as arguments) and check the
# Verilog: `verilator --lint-only -Wall` must print nothing, and yosys must
# synthesize it with `check -assert` and no latches. Writes build/<preset>/rtl
# and build/<preset>/synth.log. Then, for each board description
# (boards/*.json) whose preset was checked, lint the board bridge
# (hdl/lutcore_board.v and the modules under it) around that array with the
# board's parameters (the bridge's files: hdl/files.txt). manifest.json is read by scripts/manifest.py (JSON).
#
# usage: scripts/check-rtl.sh LUTCORE_BINARY [PRESET ...]
set -euo pipefail
lutcore=$1; shift
presets=("$@")
if [ ${#presets[@]} -eq 0 ]; then
  mapfile -t presets < <("$lutcore" gen --list-presets | tail -n +2 | awk '{print $1}')
fi

manifest() { "$(dirname "$0")/manifest.py" "$@"; }

fail=0
printf '%-12s %-28s %-6s %-6s %s\n' preset top lint synth cells
for p in "${presets[@]}"; do
  dir=build/$p/rtl
  "$lutcore" gen --preset "$p" --out "$dir" >/dev/null
  top=$(manifest "$dir" top)
  files=$(manifest "$dir" files)
  lint_out=$(verilator --lint-only -Wall --top-module "$top" $files 2>&1) && lint_rc=0 || lint_rc=$?
  if [ $lint_rc -eq 0 ] && [ -z "$lint_out" ]; then lint=ok; else lint=FAIL; fail=1; fi
  if "$(dirname "$0")/yosys-retry" yosys -q -l "build/$p/synth.log" -p "read_verilog -sv $files; synth -top $top; check -assert; select -assert-none t:\$*latch* t:\$_DLATCH*; tee -o build/$p/synth_stat.txt stat" >/dev/null 2>&1; then
    synth=ok
  else
    synth=FAIL; fail=1
  fi
  cells=$(awk '/Number of cells:/ {n=$4} END {print n}' "build/$p/synth_stat.txt" 2>/dev/null || true)
  printf '%-12s %-28s %-6s %-6s %s\n' "$p" "$top" "$lint" "$synth" "$cells"
  if [ "$lint" = FAIL ]; then echo "$lint_out" | head -20; fi
  if [ "$synth" = FAIL ]; then tail -20 "build/$p/synth.log"; fi
done

root=$(dirname "$0")/..
hdl=$(grep -v '^#' "$root/hdl/files.txt" | sed "s|^|$root/hdl/|" | tr '\n' ' ')
for desc in "$root"/boards/*.json; do
  board=$(basename "$desc" .json)
  p=$("$root/scripts/fpga/board.py" "$desc" get preset)
  dir=build/$p/rtl
  [[ " ${presets[*]} " == *" $p "* ]] || continue
  # baud divider 4: the co-simulation's (any value >= 4 lints the same)
  params=$("$root/scripts/fpga/board.py" "$desc" bridge-params "$dir/manifest.json" 4 \
    | sed 's/^\([^ ]*\) /-G\1=/' | tr '\n' ' ')
  # shellcheck disable=SC2086 # word lists
  lint_out=$(verilator --lint-only -Wall --top-module lutcore_board $params $hdl $(manifest "$dir" files) 2>&1) \
    && lint_rc=0 || lint_rc=$?
  if [ $lint_rc -eq 0 ] && [ -z "$lint_out" ]; then lint=ok; else lint=FAIL; fail=1; fi
  printf '%-12s %-28s %-6s\n' "$board" lutcore_board "$lint"
  if [ "$lint" = FAIL ]; then echo "$lint_out" | head -20; fi
done
exit $fail
