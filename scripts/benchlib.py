"""Shared by scripts/bench_threads.py and scripts/bench_prompt.py: the common
flags' checks, the competing busy loop and the JSON report. Standard library only."""
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time


def check_args(prog, a):
    """Exit with a message naming `prog` unless --rounds is at least 1 and --lutcore runs."""
    if a.rounds < 1:
        sys.exit(f"{prog}: --rounds must be at least 1")
    if not os.access(a.lutcore, os.X_OK):
        sys.exit(f"{prog}: {a.lutcore} is not an executable; run `cargo build --release` (or `make build`) first")


@contextlib.contextmanager
def busy_loop(prog, core, on=True):
    """For the `with` block, a busy loop pinned to `core` (`taskset -c CORE`) when `on`,
    given half a second to start; killed afterwards (only it)."""
    if not on:
        yield
        return
    if shutil.which("taskset") is None:
        sys.exit(f"{prog}: taskset not found (util-linux); it pins the competing busy loop to one core")
    busy = subprocess.Popen(["taskset", "-c", str(core), "sh", "-c", "while :; do :; done"])
    try:
        time.sleep(0.5)
        yield
    finally:
        busy.kill()
        busy.wait()


def write_json(path, report):
    """Write `report` to `path` (indented), making its folder."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(report, f, indent=1)
