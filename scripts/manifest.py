#!/usr/bin/env python3
"""Print a field of a generated design's manifest.json (`lutcore gen --out DIR`).

usage: scripts/manifest.py DIR top      the top module
       scripts/manifest.py DIR files    the Verilog files as DIR/NAME, one line,
                                        leaves first (the order to read them)

Used by scripts/check-rtl.sh, scripts/formal.sh, scripts/fpga/build.sh and the
Makefile's stat-ice40, so that no script parses the JSON with regexes. Python 3 stdlib.
"""
import json
import sys


def main():
    if len(sys.argv) != 3 or sys.argv[2] not in ("top", "files"):
        sys.exit(f"usage: {sys.argv[0]} DIR top|files")
    d, key = sys.argv[1], sys.argv[2]
    path = f"{d}/manifest.json"
    try:
        with open(path) as f:
            m = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        sys.exit(f"manifest.py: {path}: {e} (generate it with `lutcore gen --out {d}`)")
    if key not in m:
        sys.exit(f"manifest.py: {path} has no `{key}`")
    print(m["top"] if key == "top" else " ".join(f"{d}/{name}" for name in m["files"]))


if __name__ == "__main__":
    main()
