#!/usr/bin/env python3
"""Read a board description (boards/BOARD.json) for the FPGA scripts.

The description holds every fact of one board: device, flow (tools and
nextpnr flags), clock (oscillator, target, PLL settings), UART baud, RAM
depths and pins. This script is the only reader on the shell side; Rust reads
the same file (lutcore_sim::board::BoardSpec). Python 3 stdlib.

usage: board.py BOARD_JSON get KEY[.KEY...]
           print a value (a list: its items, one per line)
       board.py BOARD_JSON clocks
           the clocks the build may run at, fastest first: every PLL
           setting, then the oscillator itself
       board.py BOARD_JSON params MANIFEST CLK_MHZ
           the parameters of the board top, `NAME VALUE` per line: the
           array's beat widths (manifest.json), the log2 RAM depths, the
           clock, the baud rate and the PLL setting of CLK_MHZ
       board.py BOARD_JSON bridge-params MANIFEST BAUD_DIV
           the parameters of lutcore_board alone (widths, depths, the baud
           divider, CLK_HZ 0), for linting the bridge
       board.py BOARD_JSON constraints OUT
           write the pin constraints (.pcf or .lpf) to OUT
"""
import json
import sys


def die(msg):
    print(f"board.py: {msg}", file=sys.stderr)
    sys.exit(2)


def field(d, path, where):
    """d[path] for a dotted path; a clear error naming the file and the key."""
    v = d
    for k in path.split("."):
        if not isinstance(v, dict) or k not in v:
            die(f"{where}: no `{path}` (see boards/icebreaker.json for the fields)")
        v = v[k]
    return v


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except OSError as e:
        die(f"cannot read the board description {path}: {e.strerror}")
    except json.JSONDecodeError as e:
        die(f"{path}: not valid JSON: {e}")


def clocks(b, where):
    settings = field(b, "clock.pll_settings", where)
    osc = field(b, "clock.oscillator_mhz", where)
    mhz = [s["mhz"] for s in settings] + [osc]
    return sorted(set(mhz), reverse=True)


def array_widths(manifest):
    """ACT_W, WGT_W, RES_W and ACT_AW (log2 activation beats for max_k) of a generated array,
    as its manifest.json records them."""
    m = load(manifest)
    c, w = m["config"], m["widths"]
    if c["arch"] != "lut":
        die(f"{manifest}: the board tops wrap lutcore_lut_array; this config has arch={c['arch']}")
    if "act_addr" not in w:
        die(f"{manifest}: no widths.act_addr (written by an older lutcore): generate it again with `lutcore gen`")
    return [("ACT_W", w["act_beat"]), ("WGT_W", w["weight_beat"]), ("RES_W", w["result_beat"]),
            ("ACT_AW", w["act_addr"])]


def ram(b, where):
    """The board's weight and result RAM address widths."""
    return [("WGT_AW", field(b, "ram.wgt_aw", where)), ("RES_AW", field(b, "ram.res_aw", where))]


def params(b, where, manifest, mhz):
    osc = field(b, "clock.oscillator_mhz", where)
    out = array_widths(manifest) + ram(b, where)
    out += [("CLK_MHZ", mhz), ("BAUD", field(b, "uart.baud", where))]
    if mhz == osc:
        return out + [("USE_PLL", 0)]
    match = [s for s in field(b, "clock.pll_settings", where) if s["mhz"] == mhz]
    if not match:
        die(f"{where}: no PLL setting for {mhz} MHz; the board runs at {clocks(b, where)} MHz")
    return out + [("USE_PLL", 1)] + [(k, v) for k, v in match[0].items() if k != "mhz"]


def constraints(b, where, out):
    fmt = field(b, "flow.constraints.format", where)
    doc = field(b, "doc", where)
    lines = [f"# {b['name']}: {doc}",
             f"# Written by scripts/fpga/board.py from {where}; pins of hdl/boards/{b['top']}.v."]
    for p in field(b, "pins", where):
        note = f"  # {p['doc']}" if "doc" in p else ""
        if fmt == "pcf":
            lines.append(f"set_io -nowarn {p['port']} {p['site']}{note}")
        elif fmt == "lpf":
            if "doc" in p:
                lines.append(f"# {p['doc']}")
            lines.append(f'LOCATE COMP "{p["port"]}" SITE "{p["site"]}";')
            lines.append(f'IOBUF PORT "{p["port"]}" {p["io"]};')
            if p.get("clock"):
                lines.append(f'FREQUENCY PORT "{p["port"]}" {field(b, "clock.oscillator_mhz", where)} MHZ;')
        else:
            die(f"{where}: constraints format `{fmt}` unknown (pcf, lpf)")
    if fmt == "lpf":
        lines[2:2] = b.get("constraints_preamble", [])
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")


def number(text, what):
    try:
        return int(text)
    except ValueError:
        die(f"{what} must be a whole number, got `{text}`")


def main():
    if len(sys.argv) < 3:
        die(__doc__)
    where, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    b = load(where)
    if cmd == "get" and len(args) == 1:
        v = field(b, args[0], where)
        print("\n".join(map(str, v)) if isinstance(v, list) else v)
    elif cmd == "clocks" and not args:
        print(" ".join(map(str, clocks(b, where))))
    elif cmd == "params" and len(args) == 2:
        for k, v in params(b, where, args[0], number(args[1], "CLK_MHZ")):
            print(k, v)
    elif cmd == "bridge-params" and len(args) == 2:
        for k, v in array_widths(args[0]) + ram(b, where) + [
                ("BAUD_DIV", number(args[1], "BAUD_DIV")), ("CLK_HZ", 0)]:
            print(k, v)
    elif cmd == "constraints" and len(args) == 1:
        constraints(b, where, args[0])
    else:
        die(f"bad arguments {sys.argv[2:]}\n{__doc__}")


if __name__ == "__main__":
    main()
