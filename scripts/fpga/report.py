#!/usr/bin/env python3
"""Resource and timing report of one FPGA build (scripts/fpga/build.sh).

Reads yosys `stat -json` of the whole board design and of the array alone,
nextpnr's `--report` JSON and the generator's manifest.json; writes
report.json and report.md into --out and prints the table. Python 3 stdlib.

Counts: LUT4, flip-flops, carry cells, DSP, block RAM are yosys cells after
synthesis (iCE40: SB_LUT4, SB_DFF*, SB_CARRY, SB_MAC16, SB_RAM40_4K; ECP5:
LUT4, TRELLIS_FF, CCU2C (2 bits each), MULT18X18D, DP16KD); "logic cells" is
nextpnr's packed count (ICESTORM_LC / TRELLIS_COMB) against the device.
ops/cycle = 2 * macs_per_cycle (multiply and add); GOPS = ops/cycle * MHz / 1000.
"""
import argparse
import json
import os


def load_json(path):
    with open(path) as f:
        text = f.read()
    return json.loads(text[text.index("{"):])


def cells(stat):
    """Cell counts by type of the (single, flattened) top module."""
    mods = stat.get("modules", {})
    if not mods:
        return {}
    top = max(mods.values(), key=lambda m: m.get("num_cells", 0))
    return top.get("num_cells_by_type", {})


def classify(by_type):
    def total(pred):
        return sum(n for t, n in by_type.items() if pred(t))
    return {
        "lut4": total(lambda t: t in ("SB_LUT4", "LUT4", "$lut")),
        "ff": total(lambda t: t.startswith("SB_DFF") or t == "TRELLIS_FF" or t.startswith("$_DFF")),
        "carry": total(lambda t: t in ("SB_CARRY", "CCU2C")),
        "dsp": total(lambda t: t in ("SB_MAC16", "MULT18X18D", "ALU54B")),
        "bram": total(lambda t: t in ("SB_RAM40_4K", "DP16KD", "PDPW16KD")),
        "spram": total(lambda t: t == "SB_SPRAM256KA"),
        "lutram": total(lambda t: t in ("TRELLIS_DPR16X4", "DPR16X4")),
        "wide_mux": total(lambda t: t in ("PFUMX", "L6MUX21")),
    }


def scope(cell):
    """The instance path of a placed cell: its leading `u_*`/`g_*` components."""
    parts = []
    for p in cell.split("."):
        if not (p.startswith("u_") or p.startswith("g_")):
            break
        parts.append(p)
    return ".".join(parts) or cell.split(".")[0]


def critical_path(pnr):
    """Launching net, capturing instance, logic levels and delay of the worst intra-clock path."""
    paths = [c for c in pnr.get("critical_paths", []) if c.get("from") == c.get("to")]
    if not paths or not paths[0].get("path"):
        return None
    path = paths[0]["path"]
    return {
        # the first routed net is the launching register's output (its name survives packing)
        "from": next((s["net"] for s in path if s.get("type") == "routing" and s.get("net")), scope(path[0]["from"]["cell"])),
        "to": scope(path[-1]["to"]["cell"]),
        "logic_levels": sum(1 for s in path if s.get("type") == "logic"),
        "delay_ns": round(sum(s.get("delay", 0.0) for s in path), 2),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--board", required=True)
    ap.add_argument("--device", required=True, help="the board description's `device`")
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--stat", required=True)
    ap.add_argument("--core-stat", required=True)
    ap.add_argument("--pnr", required=True)
    ap.add_argument("--target-mhz", type=float, required=True)
    ap.add_argument("--target-fmax", type=float, required=True, help="Fmax of the run constrained at the target")
    ap.add_argument("--clock-mhz", type=float, required=True, help="clock the bitstream runs at")
    ap.add_argument("--bitstream", required=True)
    ap.add_argument("--pnr-target", help="nextpnr report of the run at the target clock (its critical path)")
    ap.add_argument("--times", nargs="*", default=[], help="step=seconds")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    man = load_json(a.manifest)
    pnr = load_json(a.pnr)
    whole = classify(cells(load_json(a.stat)))
    core = classify(cells(load_json(a.core_stat)))
    util = pnr.get("utilization", pnr.get("utilisation", {}))
    lc_key = "ICESTORM_LC" if "ICESTORM_LC" in util else "TRELLIS_COMB"
    lc = util.get(lc_key, {"used": 0, "available": 0})
    fmax_clock = min(v["achieved"] for v in pnr["fmax"].values())
    fmax = max(fmax_clock, a.target_fmax)
    ops = 2.0 * man["macs_per_cycle"]
    times = {k: float(v) for k, v in (t.split("=", 1) for t in a.times)}
    device = a.device
    cfg = man["config"]
    rep = {
        "board": a.board,
        "device": device,
        "config": cfg,
        "top": man["top"],
        "macs_per_cycle": man["macs_per_cycle"],
        "ops_per_cycle": ops,
        "target_mhz": a.target_mhz,
        "fmax_mhz": round(fmax, 2),
        "fmax_at_target_constraint_mhz": round(a.target_fmax, 2),
        "target_met": a.target_fmax >= a.target_mhz,
        "target_missed_by_mhz": round(max(0.0, a.target_mhz - a.target_fmax), 2),
        "clock_mhz": a.clock_mhz,
        "fmax_at_clock_constraint_mhz": round(fmax_clock, 2),
        "timing_met_at_clock": fmax_clock >= a.clock_mhz,
        "gops_at_fmax": round(ops * fmax / 1000.0, 4),
        "gops_at_clock": round(ops * a.clock_mhz / 1000.0, 4),
        "whole_design": whole,
        "array_only": core,
        "logic_cells": {"kind": lc_key, "used": lc["used"], "available": lc["available"]},
        "utilization": util,
        "ops_per_cycle_per_lut4": round(ops / whole["lut4"], 5) if whole["lut4"] else None,
        "ops_per_cycle_per_array_lut4": round(ops / core["lut4"], 5) if core["lut4"] else None,
        "critical_path": critical_path(load_json(a.pnr_target) if a.pnr_target else pnr),
        "bitstream": a.bitstream,
        "bitstream_bytes": os.path.getsize(a.bitstream) if os.path.exists(a.bitstream) else None,
        "tool_seconds": times,
    }
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "report.json"), "w") as f:
        json.dump(rep, f, indent=2)
        f.write("\n")

    c = cfg
    cfg_s = f"{c['arch']} rows={c['rows']} k_groups={c['k_groups']} g={c['g']} {c['weights']} max_k={c['max_k']}"
    rows = [
        ("device", device),
        ("array", cfg_s),
        ("LUT4 (whole / array)", f"{whole['lut4']} / {core['lut4']}"),
        ("flip-flops (whole / array)", f"{whole['ff']} / {core['ff']}"),
        ("carry (whole / array)", f"{whole['carry']} / {core['carry']}"),
        ("DSP", f"{whole['dsp']}"),
        ("block RAM", f"{whole['bram']}" + (f" (+{whole['spram']} SPRAM)" if whole["spram"] else "")),
        (f"logic cells ({lc_key})", f"{lc['used']} / {lc['available']} ({100.0 * lc['used'] / max(1, lc['available']):.0f}%)"),
        ("Fmax (nextpnr, bitstream build)", f"{fmax:.1f} MHz"),
        ("target", f"{a.target_mhz:.0f} MHz: " + ("met" if rep["target_met"] else f"MISSED by {rep['target_missed_by_mhz']:.1f} MHz (Fmax {a.target_fmax:.1f} MHz when constrained at the target)")),
        ("bitstream clock", f"{a.clock_mhz:.0f} MHz, timing " + ("met" if rep["timing_met_at_clock"] else "NOT met")),
        ("critical path", "{from} -> {to}: {logic_levels} logic levels, {delay_ns} ns".format(**rep["critical_path"])
         if rep["critical_path"] else "-"),
        ("ops/cycle", f"{ops:g}"),
        ("GOPS at Fmax / at clock", f"{rep['gops_at_fmax']:.3f} / {rep['gops_at_clock']:.3f}"),
        ("ops/cycle per 1k LUT4 (whole / array)",
         f"{1000 * ops / max(1, whole['lut4']):.2f} / {1000 * ops / max(1, core['lut4']):.2f}"),
        ("tool time", ", ".join(f"{k} {v:.1f}s" for k, v in times.items())),
    ]
    w = max(len(r[0]) for r in rows)
    md = [f"## {a.board}", "", "| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows]
    with open(os.path.join(a.out, "report.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    print(f"fpga report: {a.board} ({a.out}/report.json)")
    for k, v in rows:
        print(f"  {k:<{w}}  {v}")


if __name__ == "__main__":
    main()
