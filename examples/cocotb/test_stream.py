"""cocotb example: drive a lutcore array through its stream interface from Python.

Uses a folder written by `lutcore gen --testbench --out DIR`: the design, its
manifest.json and the vectors in DIR/vectors (the same ones tb_<top>.sv reads).
Streams every pass as docs/interface.md specifies, with random gaps on the
input valids and random back-pressure on res_ready_i, and checks every live
(token, row) result of every result beat (int32, or binary32 bits for FP
activations), placing them by vectors/lanes.hex.

    make -C examples/cocotb TB_DIR=DIR               # Verilator 5.006+ (cocotb 1.x)
    make -C examples/cocotb TB_DIR=DIR SIM=icarus    # Icarus Verilog 11+

Environment: SEED (default 1), GAP and STALL (percent, defaults 25 and 30).
The port names are the stream interface's (lutcore_contract::interface);
tests/interface_instances.rs checks that this file uses exactly those.
"""

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge


def read_words(path):
    """The hex words of a $readmemh file (comments dropped), one list per line."""
    rows = []
    with open(path) as f:
        for line in f:
            words = line.split("//")[0].split()
            if words:
                rows.append([int(w, 16) for w in words])
    return rows


def signed32(v):
    return v - (1 << 32) if v & (1 << 31) else v


@cocotb.test()
async def stream_every_pass(dut):
    vdir = os.path.join(os.environ["TB_DIR"], "vectors")
    with open(os.path.join(vdir, "vectors.json")) as f:
        info = json.load(f)
    rows = info["config"]["rows"]
    acts = [w[0] for w in read_words(os.path.join(vdir, "act.hex"))]
    wgts = [w[0] for w in read_words(os.path.join(vdir, "wgt.hex"))]
    want = [w[0] for w in read_words(os.path.join(vdir, "res.hex"))]
    passes = read_words(os.path.join(vdir, "passes.hex"))  # case, first row, live rows, K-tiles
    pass_tokens = read_words(os.path.join(vdir, "pass_tokens.hex"))  # first token, live tokens
    lanes = read_words(os.path.join(vdir, "lanes.hex"))  # row, token of result lane i
    multi = info["config"].get("tokens", 1) > 1
    fp = "activations" in info["config"]
    last = [t == tiles - 1 for (_, _, _, tiles) in passes for t in range(tiles)]
    assert len(acts) == len(last) == info["act_beats"] and len(wgts) == info["wgt_beats"]

    rng = random.Random(int(os.environ.get("SEED", "1")))
    gap = int(os.environ.get("GAP", "25")) / 100
    stall = int(os.environ.get("STALL", "30")) / 100

    cocotb.start_soon(Clock(dut.clk_i, 10, units="ns").start())
    for port in (dut.act_valid_i, dut.act_last_i, dut.wgt_valid_i, dut.res_ready_i):
        port.value = 0
    dut.act_data_i.value = 0
    dut.wgt_data_i.value = 0
    dut.rst_ni.value = 0
    for _ in range(4):
        await RisingEdge(dut.clk_i)

    a = w = p = 0  # next activation beat, weight beat, pass
    act_on = wgt_on = False
    results = mismatches = cycles = 0
    while p < len(passes):
        # Mid-cycle: drive what the ports show at the next rising edge.
        await FallingEdge(dut.clk_i)
        dut.rst_ni.value = 1
        cycles += 1
        if not act_on and a < len(acts) and rng.random() >= gap:
            dut.act_data_i.value = acts[a]
            dut.act_last_i.value = int(last[a])
            act_on = True
        dut.act_valid_i.value = int(act_on)
        if not wgt_on and w < len(wgts) and rng.random() >= gap:
            dut.wgt_data_i.value = wgts[w]
            wgt_on = True
        dut.wgt_valid_i.value = int(wgt_on)
        dut.res_ready_i.value = int(rng.random() >= stall)
        assert cycles < 100 * (len(acts) + len(wgts)) + 1000, f"no progress: pass {p}, beats {a} {w}"

        # Settled: what transfers at the next rising edge (act_ready_o depends on wgt_valid_i).
        await ReadOnly()
        if act_on and dut.act_ready_o.value:
            a, act_on = a + 1, False
        if wgt_on and dut.wgt_ready_o.value:
            w, wgt_on = w + 1, False
        if dut.res_valid_o.value and dut.res_ready_i.value:
            got = dut.res_data_o.value.integer
            case, row0, live, _ = passes[p]
            tok0, live_tok = pass_tokens[p]
            for i, (r, t) in enumerate(lanes):
                if r >= live or t >= live_tok:
                    continue
                g, x = got >> (32 * i) & 0xFFFFFFFF, want[p] >> (32 * i) & 0xFFFFFFFF
                results += 1
                if g != x:
                    mismatches += 1
                    at = f"token {tok0 + t} row {row0 + r}" if multi else f"row {row0 + r}"
                    shown = f"got {g:08x} want {x:08x}" if fp else f"got {signed32(g)} want {signed32(x)}"
                    dut._log.error(f"MISMATCH case {case} pass {p} {at}: {shown}")
            p += 1

    assert results == info["results"]
    assert mismatches == 0, f"FAIL {mismatches} of {results}"
    dut._log.info(f"PASS {results} results ({len(passes)} passes, {cycles} cycles)")
