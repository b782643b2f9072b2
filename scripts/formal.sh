#!/usr/bin/env bash
# Formal checks of generated arrays with plain yosys `sat` (no SymbiYosys):
#
#   pass  one GEMV pass of an array (controller, table precompute, table reads,
#         PEs / multipliers / add-sub terms, accumulators, finalize) equals the
#         hand-written multiply-accumulate reference scripts/formal/pass_check.sv
#         for every activation vector and every weight code (bounded proof over
#         the whole pass from reset, DUT registers otherwise arbitrary). Each
#         config has max_k = k_tile, so its accumulator is as narrow as the
#         generator ever makes it for that K-tile, and extreme inputs are in the
#         proof: it also proves that the derived widths do not overflow there.
#   ctrl  the valid/ready rules of lutcore_ctrl with free valid/ready/last
#         inputs (scripts/formal/ctrl_check.sv), bounded over several passes,
#         plus a reachability check that two whole passes fit in the bound.
#
# Usage: scripts/formal.sh [LUTCORE] [--broken] [--deep]
#   --broken  prove against a deliberately wrong reference: must FAIL and show
#             the counterexample (the script then exits 1, as for any failure)
#   --deep    also wider tiles (g=3 ternary, g=4), a two-K-tile pass and a
#             deeper uint3 controller check (many minutes)
# FORMAL_ONLY=REGEX runs only the checks whose name matches.
# Exit status 0 only if every proof holds.
set -euo pipefail

LUTCORE=target/release/lutcore
BROKEN=0
DEEP=0
for a in "$@"; do
  case "$a" in
    --broken) BROKEN=1 ;;
    --deep) DEEP=1 ;;
    *) LUTCORE=$a ;;
  esac
done
ROOT=$(cd "$(dirname "$0")/.." && pwd)
FORMAL="$ROOT/scripts/formal"
OUT=${FORMAL_OUT:-$ROOT/build/formal}
mkdir -p "$OUT"
command -v yosys >/dev/null || { echo "formal: yosys not found (make deps)" >&2; exit 2; }
[ -x "$LUTCORE" ] || { echo "formal: $LUTCORE not built (make build)" >&2; exit 2; }

FAILED=0
START=$(date +%s.%N)

# gen NAME ARCH ROWS K_GROUPS G WEIGHTS ACT_BITS MAX_K -> $OUT/NAME/
gen() {
  local dir="$OUT/$1"
  rm -rf "$dir" "$dir.json"
  printf '{"arch":"%s","rows":%s,"k_groups":%s,"g":%s,"weights":"%s","act_bits":%s,"max_k":%s}\n' \
    "$2" "$3" "$4" "$5" "$6" "$7" "$8" >"$dir.json"
  "$LUTCORE" gen --config "$dir.json" --out "$dir" >/dev/null
}

# run NAME WHAT SCRIPT EXPECT: run a yosys script in $OUT/NAME, report, count failures.
run() {
  local name=$1 what=$2 script=$3 expect=$4 t0 t1 verdict
  t0=$(date +%s.%N)
  if (cd "$OUT/$name" && yosys -q -l yosys.log -s "$script" >/dev/null 2>&1); then verdict=PROVED; else verdict=FAILED; fi
  if grep -q "model found: FAIL" "$OUT/$name/yosys.log"; then verdict=FAILED; fi
  [ "$expect" = reach ] && { grep -q "SAT solving finished - model found" "$OUT/$name/yosys.log" && verdict=REACHED || verdict=FAILED; }
  t1=$(date +%s.%N)
  printf '%-8s %-34s %-44s %6.1f s\n' "$verdict" "$name" "$what" "$(echo "$t1 - $t0" | bc)"
  if [ "$verdict" = FAILED ]; then
    FAILED=$((FAILED + 1))
    echo "---- $OUT/$name/yosys.log (counterexample / error) ----"
    grep -E "ERROR|FAIL|Time Signal|^ +(init|[0-9]+) \\\\(ok_|p[1-4]_|cnt|ntiles|xs|codes|res_data|res_valid|act_valid|act_last|wgt_valid|res_ready|acts|wgts) " \
      "$OUT/$name/yosys.log" | head -150
    echo "----"
  fi
}

# pass NAME ARCH ROWS K_GROUPS G WEIGHTS ACT_BITS T_MAX [DEFINES]
pass() {
  [[ "$1" =~ ${FORMAL_ONLY:-.} ]] || return 0
  local name=$1 arch=$2 rows=$3 kg=$4 g=$5 wt=$6 ab=$7 tmax=$8 defs=${9:-}
  local kt=$((kg * g)) bits zp=0 tern=0 serial=0 bpt=1 top
  case "$wt" in
    ternary) bits=2 zp=1 tern=1 ;;
    uint*) bits=${wt#uint} ;;
  esac
  [ "$arch" = lut ] && serial=1 bpt=$bits
  # max_k = the pass's K: the narrowest accumulator this K-tile gets. The
  # baselines get twice that: at max_k <= k_tile their generator panics
  # (beat_sum_bits > acc_bits, "sext from 11 to 10"), a finding of this check.
  local maxk=$((kt * tmax))
  [ "$arch" != lut ] && maxk=$((2 * kt * tmax))
  local deadline=$((tmax * bpt + 8))
  gen "$name" "$arch" "$rows" "$kg" "$g" "$wt" "$ab" "$maxk"
  top=lutcore_${arch}_array
  local files
  files=$(cd "$OUT/$name" && "$ROOT/scripts/manifest.py" . files)
  cat >"$OUT/$name/pass.ys" <<YS
read_verilog -formal -sv -DDUT=$top $defs $files $FORMAL/pass_check.sv
chparam -set SERIAL $serial -set ROWS $rows -set K_TILE $kt -set B $bits -set ZP $zp -set ACT_BITS $ab -set T_MAX $tmax -set MAX_K $maxk -set TERNARY $tern -set DEADLINE $deadline formal_pass
hierarchy -top formal_pass
proc
flatten
async2sync
opt
wreduce
opt_clean
YS
  # Case split on the weight codes: one SAT proof per assignment of every code
  # of the pass (all of them; ternary without the unused code 3), each for
  # all activations. The multiply-vs-table miter with free codes is hard for
  # CDCL (minutes for a 3-wide tile); with the codes fixed, each case is
  # linear in x and takes a fraction of a second.
  local nbits=$((rows * kt * tmax * bits)) c cases=0 bin
  for ((c = 0; c < (1 << nbits); c++)); do
    bin=$(echo "obase=2; $c" | bc)
    bin=$(printf "%0${nbits}d" "$bin")
    if [ "$tern" = 1 ] && echo "$bin" | grep -Eq '^(..)*11'; then continue; fi
    echo "sat -seq $((deadline + 2)) -prove-asserts -set-at 1 code_in ${nbits}'b$bin -show-inputs -show ok_result,ok_once,ok_beats,ok_deadline,cnt,ntiles,xs,codes,res_valid,res_data -verify" >>"$OUT/$name/pass.ys"
    cases=$((cases + 1))
  done
  run "$name" "pass: $arch r$rows kt$kt g$g $wt a$ab K<=$maxk, $cases cases" pass.ys prove
}

# ctrl NAME ARCH WEIGHTS DEPTH
ctrl() {
  [[ "$1" =~ ${FORMAL_ONLY:-.} ]] || return 0
  local name=$1 arch=$2 wt=$3 depth=$4 bits lut=0 b=1 defs=""
  case "$wt" in ternary) bits=2 ;; uint*) bits=${wt#uint} ;; esac
  if [ "$arch" = lut ]; then lut=1 b=$bits defs="-DCTRL_LUT"; [ "$b" -gt 1 ] && defs="$defs -DCTRL_PLANE"; fi
  gen "$name" "$arch" 1 1 2 "$wt" 8 16
  local head="read_verilog -formal -sv $defs lutcore_ctrl.sv $FORMAL/ctrl_check.sv
chparam -set B $b -set LUT $lut formal_ctrl
hierarchy -top formal_ctrl
proc
flatten
async2sync
opt"
  printf '%s\nsat -seq %s -prove-asserts -show-inputs -show p1_strobes,p2_res_held,p2_idle,p3_order,p3_count,p4_acc,p4_load,p4_drained,cnt,acts,wgts,res_valid -verify\n' \
    "$head" "$depth" >"$OUT/$name/ctrl.ys"
  run "$name" "ctrl: $arch B=$b free valid/ready, $depth steps" ctrl.ys prove
  # Not vacuous: two result beats (two whole passes) are reachable in the bound.
  printf '%s\nsat -seq %s -set-at %s passes 2\n' "$head" "$depth" "$depth" >"$OUT/$name/reach.ys"
  mkdir -p "$OUT/$name-reach" && cp "$OUT/$name"/*.sv "$OUT/$name/reach.ys" "$OUT/$name-reach/"
  run "$name-reach" "ctrl: $arch B=$b two passes reachable" reach.ys reach
}

if [ "$BROKEN" = 1 ]; then
  echo "formal: against a deliberately broken reference (drops the last activation): must fail"
  pass broken-lut-g2 lut 1 1 2 uint1 8 1 -DBROKEN_REF
  exit 1
fi

#    name                 arch   rows kg g wt      act tiles
pass lut-g2-uint1-r2      lut    2    1  2 uint1   8   1
pass lut-g2-ternary       lut    1    1  2 ternary 8   1
pass lut-g2-uint2         lut    1    1  2 uint2   8   1
pass lut-g3-uint1         lut    1    1  3 uint1   8   1
pass lut-g2x2-uint1       lut    1    2  2 uint1   8   1
pass lut-g2-uint1-a16     lut    1    1  2 uint1   16  1
pass mac-g2-uint2         mac    1    1  2 uint2   8   1
pass addsub-g2           addsub 1    1  2 ternary 8   1
if [ "$DEEP" = 1 ]; then
  pass lut-g3-ternary     lut    1    1  3 ternary 8   1
  pass lut-g4-uint1       lut    1    1  4 uint1   8   1
  pass lut-g2-uint1-2tiles lut   1    1  2 uint1   8   2
  ctrl ctrl-lut-uint3     lut    uint3   20
fi
ctrl ctrl-lut-uint1       lut    uint1   16
ctrl ctrl-lut-uint2       lut    uint2   16
ctrl ctrl-mac             mac    uint2   14

END=$(date +%s.%N)
printf 'formal: %d failed, wall %.1f s\n' "$FAILED" "$(echo "$END - $START" | bc)"
[ "$FAILED" = 0 ]
