#!/usr/bin/env bash
# Verilator coverage of the seeded random GEMV regression (the stalling
# driver of sim/tests/mutation.rs, unmutated designs): builds the `default`,
# `tiny`, `mac-tiny` and `addsub-tiny` presets with `--coverage`, runs the
# regression, dumps build/coverage/<preset>/coverage.dat, annotates the sources
# (verilator_coverage --annotate build/coverage/<preset>/annotated) and writes
# a per-module summary (line = line and branch points, toggle = toggle points)
# with every uncovered point of lutcore_ctrl to build/coverage/summary.md.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${LUTCORE_COVERAGE_DIR:-$ROOT/build/coverage}
mkdir -p "$OUT"
cd "$ROOT"
LUTCORE_COVERAGE_DIR="$OUT" cargo test --release --locked -p lutcore-sim --test mutation -- \
  --ignored --nocapture --test-threads 1 coverage_of_the_regression
for d in "$OUT"/*/; do
  [ -f "$d/coverage.dat" ] || continue
  rm -rf "$d/annotated"
  verilator_coverage --annotate "$d/annotated" "$d/coverage.dat" >"$d/annotate.log" 2>&1 || true
done
python3 - "$OUT" <<'PY'
import collections, os, re, sys
out = sys.argv[1]
lines = ["# Coverage of the random GEMV regression (Verilator --coverage)", "",
         "Per module (Verilator merges the instances of a module, e.g. u_pe_*): points hit at least once / all points.",
         "line = Verilator's line and branch points, toggle = every bit of every signal toggled both ways.", ""]
uncovered = []
untoggled = []
for preset in ["default", "tiny", "mac-tiny", "addsub-tiny"]:
    dat = os.path.join(out, preset, "coverage.dat")
    if not os.path.exists(dat):
        continue
    stats = collections.defaultdict(lambda: [0, 0, 0, 0])  # line hit, line all, toggle hit, toggle all
    for raw in open(dat, encoding="latin-1"):
        m = re.match(r"C '(.*)' (\d+)$", raw.rstrip("\n"))
        if not m:
            continue
        fields = dict(kv.split("\x02", 1) for kv in m.group(1).split("\x01") if "\x02" in kv)
        count = int(m.group(2))
        kind, _, module = fields.get("page", "").partition("/")
        s = stats[module]
        if kind in ("v_line", "v_branch"):
            s[0] += count > 0; s[1] += 1
            if count == 0 and module == "lutcore_ctrl":
                src = fields.get("f", "")
                text = ""
                try:
                    text = open(src).read().splitlines()[int(fields.get("l", "0")) - 1].strip()
                except (OSError, IndexError, ValueError):
                    pass
                uncovered.append(f"| {preset} | {kind} {fields.get('o', '')} | {fields.get('l', '?')} | `{text}` |")
        elif kind == "v_toggle":
            s[2] += count > 0; s[3] += 1
            if count == 0:
                untoggled.append((preset, module, fields.get("o", "?")))
    lines += [f"## {preset}", "", "| module | line+branch | % | toggle | % |", "|---|---|---|---|---|"]
    pct = lambda a, b: f"{100.0 * a / b:.1f}" if b else "-"
    for mod in sorted(stats):
        lh, la, th, ta = stats[mod]
        lines.append(f"| {mod} | {lh}/{la} | {pct(lh, la)} | {th}/{ta} | {pct(th, ta)} |")
    lines.append("")
lines += ["## Uncovered line/branch points of lutcore_ctrl", "",
          "| preset | point | line | source |", "|---|---|---|---|"] + (uncovered or ["| (none) | | | |"])
lines += ["", "## Signal bits never toggled", "", "| preset | module | bits |", "|---|---|---|"]
groups = collections.OrderedDict()
for preset, module, bit in untoggled:
    groups.setdefault((preset, module), []).append(bit)
lines += [f"| {p} | {m} | {' '.join(b)} |" for (p, m), b in groups.items()] or ["| (none) | | |"]
open(os.path.join(out, "summary.md"), "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
