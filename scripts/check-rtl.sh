#!/usr/bin/env bash
# Generate every preset (or the presets given as arguments) and check the
# Verilog: `verilator --lint-only -Wall` must print nothing, and yosys must
# synthesize it with `check -assert` and no latches. Writes build/<preset>/rtl
# and build/<preset>/synth.log.
#
# usage: scripts/check-rtl.sh LUTCORE_BINARY [PRESET ...]
set -euo pipefail
lutcore=$1; shift
presets=("$@")
if [ ${#presets[@]} -eq 0 ]; then
  mapfile -t presets < <("$lutcore" gen --list-presets | tail -n +2 | awk '{print $1}')
fi

fail=0
printf '%-12s %-28s %-6s %-6s %s\n' preset top lint synth cells
for p in "${presets[@]}"; do
  dir=build/$p/rtl
  "$lutcore" gen --preset "$p" --out "$dir" >/dev/null
  top=$(sed -n 's/^  "top": "\(.*\)",$/\1/p' "$dir/manifest.json")
  files=$(sed -n '/"files": \[/,/\]/s/^ *"\(.*\.sv\)",\{0,1\}$/\1/p' "$dir/manifest.json" | sed "s|^|$dir/|" | tr '\n' ' ')
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
exit $fail
