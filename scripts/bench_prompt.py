#!/usr/bin/env python3
"""Prompt processing and decode speed of `lutcore run`, beside llama.cpp's on the same file.

Per round, for 1 and 2 threads and every prompt length (tokens), runs
`lutcore run -m MODEL -p <prompt of N tokens> -n DECODE --threads T` and reads
its `prompt:` and `decode:` lines (set-up, the KV cache page-in, is reported
apart and not counted), then, if llama-cpp-python imports (the venv of
bench/parity/run.sh), llama.cpp on the same file, prompt and tokens
(`llama_decode` of the prompt batch, then DECODE greedy steps; the
functions of bench/parity/parity.py). The two alternate within each round and
the order flips every round. Medians over the rounds, and the per-round ratios'
medians. With --busy, a second pass repeats the 1- and 2-thread decode runs
with a busy loop pinned to one core (`taskset -c CORE`).

Writes JSON (--out) and prints a table. Standard library (+ llama-cpp-python, numpy
for the llama.cpp side).

    make bench-prompt                                  # build/models/700m.gguf, 10 rounds
    build/parity-venv/bin/python scripts/bench_prompt.py --model m.gguf --rounds 10 --busy
"""
import argparse
import os
import re
import statistics
import subprocess
import sys

from benchlib import busy_loop, check_args, write_json

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROMPT_RE = re.compile(r"prompt: (\d+) tokens in ([\d.]+) s \(([\d.]+) tokens/s\)")
DECODE_RE = re.compile(r"decode: (\d+) tokens in ([\d.]+) s \(([\d.]+) tokens/s\)")
SETUP_RE = re.compile(r"set-up: ([\d.]+) s")


def prompt_text(n):
    """Text the SPM tokenizers of llama.cpp and lutcore both cut into n tokens with BOS:
    BOS, `▁The`, then n - 2 times `▁the`."""
    return "The" + " the" * max(0, n - 2)


def lutcore_run(exe, model, n, decode, threads, kv):
    cmd = [exe, "run", "-m", model, "-p", prompt_text(n), "-n", str(decode), "--threads", str(threads),
           "--kv", kv]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"bench_prompt: {' '.join(cmd[:4])} ... failed ({p.returncode}):\n{p.stderr[-2000:]}")
    pm, dm, sm = PROMPT_RE.search(p.stderr), DECODE_RE.search(p.stderr), SETUP_RE.search(p.stderr)
    if not (pm and dm and sm):
        sys.exit(f"bench_prompt: cannot read set-up/prompt/decode lines of lutcore run:\n{p.stderr[-2000:]}")
    return {"prompt_tokens": int(pm.group(1)), "prompt_tok_s": float(pm.group(3)),
            "decode_tok_s": float(dm.group(3)), "setup_s": float(sm.group(1))}


class Llama:
    """llama.cpp through bench/parity/parity.py's helpers (llama-cpp-python)."""

    def __init__(self, model):
        sys.path.insert(0, os.path.join(ROOT, "bench", "parity"))
        import parity  # noqa: E402  (imports llama_cpp)
        self.p = parity
        os.makedirs(os.path.join(ROOT, "build", "bench"), exist_ok=True)
        parity.llama_init(os.path.join(ROOT, "build", "bench", "llama-prompt.log"))
        self.lm = parity.LlamaModel(model)
        self.version = parity.L.__version__

    def run(self, n, decode, threads):
        toks = self.lm.tokenize(prompt_text(n))
        runs, _, _ = self.p.llama_decode_speed(self.lm, toks, decode, threads, 1, "auto")
        r = runs[0]
        return {"prompt_tokens": len(toks), "prompt_tok_s": len(toks) / r["prompt_s"], "decode_tok_s": r["tok_s"]}


def med(xs):
    return round(statistics.median(xs), 2) if xs else None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lutcore", default=os.path.join(ROOT, "target", "release", "lutcore"))
    ap.add_argument("--model", default=os.path.join(ROOT, "build", "models", "700m.gguf"))
    ap.add_argument("--rounds", type=int, default=10, help="alternating rounds (>= 1, default 10)")
    ap.add_argument("--prompt", type=int, action="append", help="prompt lengths in tokens (default 64, 128, 512)")
    ap.add_argument("--decode", type=int, default=32, help="tokens generated after each prompt (default 32)")
    ap.add_argument("--threads", type=int, action="append", help="thread counts (default 1 and 2)")
    ap.add_argument("--kv", default="f32", choices=["f32", "f16"], help="lutcore's KV cache (default f32)")
    ap.add_argument("--no-llama", action="store_true", help="lutcore only, even if llama-cpp-python imports")
    ap.add_argument("--busy", action="store_true",
                    help="also time 1- and 2-thread decode with a busy loop pinned to --core")
    ap.add_argument("--core", type=int, default=0, help="core of the busy loop (default 0)")
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "bench", "prompt.json"))
    a = ap.parse_args()
    check_args("bench_prompt", a)
    if not os.path.isfile(a.model):
        sys.exit(f"bench_prompt: no model {a.model}; `lutcore model synth --shape 700m --out {a.model}`")
    prompts, threads = a.prompt or [64, 128, 512], a.threads or [1, 2]
    llama = None
    if not a.no_llama:
        try:
            llama = Llama(a.model)
        except ImportError as e:
            print(f"bench_prompt: llama.cpp side skipped ({e}); run with bench/parity/run.sh's venv python",
                  file=sys.stderr)
    # samples[(cond, who, threads, n)] = list of run dicts
    samples = {}
    conds = ["idle"] + (["busy"] if a.busy else [])
    for cond in conds:
        with busy_loop("bench_prompt", a.core, on=cond == "busy"):
            lens = prompts if cond == "idle" else [min(prompts)]
            for r in range(a.rounds):
                for t in threads:
                    for n in lens:
                        order = ["lutcore", "llama.cpp"] if r % 2 == 0 else ["llama.cpp", "lutcore"]
                        for who in order:
                            if who == "llama.cpp" and llama is None:
                                continue
                            print(f"[{cond}] round {r + 1}/{a.rounds}: {who}, {t} thread(s), {n}-token prompt",
                                  file=sys.stderr, flush=True)
                            res = (lutcore_run(a.lutcore, a.model, n, a.decode, t, a.kv) if who == "lutcore"
                                   else llama.run(n, a.decode, t))
                            res["loadavg"] = os.getloadavg()[0]
                            samples.setdefault((cond, who, t, n), []).append(res)
    rows = []
    for (cond, who, t, n), runs in sorted(samples.items()):
        if who != "lutcore":
            continue
        peer = samples.get((cond, "llama.cpp", t, n), [])
        row = {"condition": cond, "threads": t, "prompt_tokens": runs[0]["prompt_tokens"],
               "prompt_tok_s": med([x["prompt_tok_s"] for x in runs]),
               "decode_tok_s": med([x["decode_tok_s"] for x in runs]),
               "setup_s": med([x["setup_s"] for x in runs]),
               "prompt_over_decode": med([x["prompt_tok_s"] / x["decode_tok_s"] for x in runs]),
               "loadavg": med([x["loadavg"] for x in runs]), "runs": runs}
        if peer:
            row.update({"llama_prompt_tokens": peer[0]["prompt_tokens"],
                        "llama_prompt_tok_s": med([x["prompt_tok_s"] for x in peer]),
                        "llama_decode_tok_s": med([x["decode_tok_s"] for x in peer]),
                        "prompt_vs_llama": med([x["prompt_tok_s"] / y["prompt_tok_s"] for x, y in zip(runs, peer)]),
                        "decode_vs_llama": med([x["decode_tok_s"] / y["decode_tok_s"] for x, y in zip(runs, peer)]),
                        "llama_runs": peer})
        rows.append(row)
    # 2 threads against 1 (decode), per condition, from the shortest prompt's runs.
    two_vs_one = {}
    for cond in conds:
        n = min(prompts)
        one, two = samples.get((cond, "lutcore", 1, n), []), samples.get((cond, "lutcore", 2, n), [])
        if one and two:
            two_vs_one[cond] = {"decode_1t": med([x["decode_tok_s"] for x in one]),
                                "decode_2t": med([x["decode_tok_s"] for x in two]),
                                "ratio_2t_1t": med([y["decode_tok_s"] / x["decode_tok_s"] for x, y in zip(one, two)])}
    report = {"model": a.model, "rounds": a.rounds, "decode_tokens": a.decode, "kv": a.kv,
              "llama_cpp_python": llama.version if llama else None, "busy_core": a.core if a.busy else None,
              "cpus": os.cpu_count(), "rows": rows, "decode_2t_vs_1t": two_vs_one}
    write_json(a.out, report)
    print(f"{os.path.basename(a.model)}, {a.rounds} alternating rounds, medians; KV {a.kv}; decode {a.decode} tokens")
    print(f"{'cond':<5} {'thr':>3} {'prompt':>6} {'prompt t/s':>10} {'decode t/s':>10} {'p/d':>5} "
          f"{'llama p t/s':>11} {'llama d t/s':>11} {'p vs llama':>10} {'d vs llama':>10} {'set-up s':>8}")
    for r in rows:
        g = lambda k: "-" if r.get(k) is None else f"{r[k]:.2f}"  # noqa: E731
        print(f"{r['condition']:<5} {r['threads']:>3} {r['prompt_tokens']:>6} {g('prompt_tok_s'):>10} "
              f"{g('decode_tok_s'):>10} {g('prompt_over_decode'):>5} {g('llama_prompt_tok_s'):>11} "
              f"{g('llama_decode_tok_s'):>11} {g('prompt_vs_llama'):>10} {g('decode_vs_llama'):>10} {g('setup_s'):>8}")
    for cond, v in two_vs_one.items():
        print(f"decode, {cond}: 1 thread {v['decode_1t']} t/s, 2 threads {v['decode_2t']} t/s, "
              f"2t/1t (median of paired rounds) {v['ratio_2t_1t']}")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
