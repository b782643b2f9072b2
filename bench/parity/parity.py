#!/usr/bin/env python3
"""lutcore vs llama.cpp (llama-cpp-python, low-level API): logit parity and decode speed.

Run through bench/parity/run.sh, which makes the venv (build/parity-venv) this needs.
Dev-only: never called by `cargo test`. See bench/parity/README.md.
"""
import argparse
import ctypes
import json
import os
import platform
import re
import subprocess
import sys
import time

import numpy as np
import llama_cpp as L

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# Fixed English paragraph: ~60-70 SentencePiece tokens with the llama vocab.
PARAGRAPH = (
    "The old lighthouse keeper climbed the narrow stairs every evening at dusk. "
    "He trimmed the wick, polished the great lens, and watched the ships pass "
    "along the rocky coast. In winter the storms were fierce, but the light "
    "never failed, and the sailors who saw it knew that they were close to home."
)
DECODE_PROMPT = "Once upon a time, in a small village by the sea,"

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from metrics import COS_TARGET, TOP1_TARGET, compare  # noqa: E402


def log(msg):
    print(f"[parity] {msg}", file=sys.stderr, flush=True)


def loadavg():
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


# ---------------------------------------------------------------- llama.cpp side

_LOG_FH = None


@L.llama_log_callback
def _log_cb(level, text, user_data):
    if _LOG_FH is not None and text:
        _LOG_FH.write(text.decode("utf-8", "replace"))


def llama_init(log_path):
    global _LOG_FH
    _LOG_FH = open(log_path, "a")
    L.llama_log_set(_log_cb, ctypes.c_void_p(0))
    L.llama_backend_init()


class LlamaModel:
    def __init__(self, path):
        mp = L.llama_model_default_params()
        mp.n_gpu_layers = 0
        self.model = L.llama_model_load_from_file(path.encode(), mp)
        if not self.model:
            raise RuntimeError(f"llama.cpp could not load {path}")
        self.vocab = L.llama_model_get_vocab(self.model)
        self.n_vocab = L.llama_vocab_n_tokens(self.vocab)

    def tokenize(self, text, add_bos=True):
        b = text.encode("utf-8")
        buf = (L.llama_token * (len(b) + 16))()
        n = L.llama_tokenize(self.vocab, b, len(b), buf, len(buf), add_bos, False)
        if n < 0:
            raise RuntimeError("tokenize failed")
        return list(buf[:n])

    def piece(self, tok):
        buf = ctypes.create_string_buffer(256)
        n = L.llama_token_to_piece(self.vocab, tok, buf, 256, 0, False)
        return buf.raw[: max(n, 0)]

    def context(self, n_ctx, threads, flash_attn):
        cp = L.llama_context_default_params()
        cp.n_ctx = n_ctx
        cp.n_batch = n_ctx
        cp.n_ubatch = n_ctx
        cp.n_seq_max = 1
        cp.n_threads = threads
        cp.n_threads_batch = threads
        cp.flash_attn_type = {"auto": L.LLAMA_FLASH_ATTN_TYPE_AUTO, "on": L.LLAMA_FLASH_ATTN_TYPE_ENABLED,
                              "off": L.LLAMA_FLASH_ATTN_TYPE_DISABLED}[flash_attn]
        cp.no_perf = False
        ctx = L.llama_init_from_model(self.model, cp)
        if not ctx:
            raise RuntimeError("llama_init_from_model failed")
        return ctx

    def free(self):
        L.llama_model_free(self.model)


def _batch(tokens, pos0, all_logits):
    n = len(tokens)
    b = L.llama_batch_init(n, 0, 1)
    b.n_tokens = n
    for i, t in enumerate(tokens):
        b.token[i] = t
        b.pos[i] = pos0 + i
        b.n_seq_id[i] = 1
        b.seq_id[i][0] = 0
        b.logits[i] = 1 if (all_logits or i == n - 1) else 0
    return b


def llama_logits(lm, tokens, flash_attn):
    """Teacher-forced logits of every position: one llama_decode of the whole sequence, 1 thread."""
    ctx = lm.context(max(64, len(tokens)), 1, flash_attn)
    b = _batch(tokens, 0, True)
    t = time.perf_counter()
    rc = L.llama_decode(ctx, b)
    dt = time.perf_counter() - t
    if rc != 0:
        raise RuntimeError(f"llama_decode returned {rc}")
    out = np.empty((len(tokens), lm.n_vocab), dtype=np.float32)
    for i in range(len(tokens)):
        p = L.llama_get_logits_ith(ctx, i)
        out[i] = np.ctypeslib.as_array(p, shape=(lm.n_vocab,))
    L.llama_batch_free(b)
    L.llama_free(ctx)
    return out, dt


def llama_decode_speed(lm, prompt_tokens, n_predict, threads, repeats, flash_attn):
    """Greedy decode of n_predict tokens after the prompt; wall clock around the decode loop only.

    Mirrors `lutcore run`'s loop: per step, argmax of the last logits, then one forward of that token
    (n_predict forwards in all). Unlike lutcore it does not stop at EOS, so it always times n_predict
    steps. Best of `repeats`; the KV cache is cleared between repeats."""
    ctx = lm.context(len(prompt_tokens) + n_predict + 8, threads, flash_attn)
    mem = L.llama_get_memory(ctx)
    runs = []
    gen = []
    one = L.llama_batch_init(1, 0, 1)
    for _ in range(repeats):
        L.llama_memory_clear(mem, True)
        la = loadavg()
        b = _batch(prompt_tokens, 0, False)
        t = time.perf_counter()
        if L.llama_decode(ctx, b) != 0:
            raise RuntimeError("prompt decode failed")
        prompt_s = time.perf_counter() - t
        L.llama_batch_free(b)
        logits = np.ctypeslib.as_array(L.llama_get_logits_ith(ctx, -1), shape=(lm.n_vocab,))
        pos = len(prompt_tokens)
        gen = []
        t = time.perf_counter()
        for _ in range(n_predict):
            tok = int(np.argmax(logits))
            gen.append(tok)
            one.n_tokens = 1
            one.token[0] = tok
            one.pos[0] = pos
            one.n_seq_id[0] = 1
            one.seq_id[0][0] = 0
            one.logits[0] = 1
            if L.llama_decode(ctx, one) != 0:
                raise RuntimeError("decode failed")
            pos += 1
            logits = np.ctypeslib.as_array(L.llama_get_logits_ith(ctx, -1), shape=(lm.n_vocab,))
        decode_s = time.perf_counter() - t
        runs.append({"prompt_tokens": len(prompt_tokens), "prompt_s": prompt_s, "decode_tokens": n_predict,
                     "decode_s": decode_s, "tok_s": n_predict / decode_s, "loadavg_1m": la})
    L.llama_batch_free(one)
    L.llama_free(ctx)
    text = b"".join(lm.piece(t) for t in gen).decode("utf-8", "replace")
    return runs, gen, text


# ---------------------------------------------------------------- lutcore side

RUN_RE = re.compile(r"prompt: (\d+) tokens in ([\d.]+) s \(([\d.]+) tokens/s\)\s*;?\s*"
                    r"decode: (\d+) tokens in ([\d.]+) s \(([\d.]+) tokens/s\)")


def lutcore_logits(exe, model, tokens, backend, out_path, n_vocab, threads=1, numerics="bitnet"):
    cmd = [exe, "logits", "-m", model, "--tokens", ",".join(map(str, tokens)), "--out", out_path,
           "--backend", backend, "--threads", str(threads), "--numerics", numerics]
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} ... failed (rc {p.returncode}): {p.stderr.strip()[-2000:]}")
    a = np.fromfile(out_path, dtype="<f4")
    if a.size != len(tokens) * n_vocab:
        raise RuntimeError(f"lutcore logits wrote {a.size} floats, expected {len(tokens)} x {n_vocab}")
    m = re.search(r"\(([\d.]+) s\)", p.stdout)
    return a.reshape(len(tokens), n_vocab), (float(m.group(1)) if m else None), wall


def lutcore_run(exe, model, prompt, n_predict, threads, repeats):
    cmd = [exe, "run", "-m", model, "-p", prompt, "-n", str(n_predict), "--threads", str(threads)]
    runs = []
    text = None
    for _ in range(repeats):
        la = loadavg()
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"lutcore run failed (rc {p.returncode}): {p.stderr.strip()[-2000:]}")
        # `prompt: ...` and `decode: ...` are the last two stderr lines.
        lines = [l for l in p.stderr.strip().splitlines() if l.strip()]
        m = RUN_RE.search("\n".join(lines[-2:])) if lines else None
        if not m:
            raise RuntimeError(f"cannot parse lutcore run's last stderr lines: {lines[-2:]!r}")
        runs.append({"prompt_tokens": int(m.group(1)), "prompt_s": float(m.group(2)),
                     "decode_tokens": int(m.group(4)), "decode_s": float(m.group(5)),
                     "tok_s": float(m.group(6)), "loadavg_1m": la})
        text = p.stdout
    return runs, text


# ---------------------------------------------------------------- comparison

def fmt(x, nd=4):
    return "—" if x is None else f"{x:.{nd}f}"


def runs_str(runs):
    return ", ".join(f"{x['tok_s']:.1f}" for x in runs) or "—"


def write_reports(rep, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "report.json"), "w") as f:
        json.dump(rep, f, indent=1)
    lines = []
    lines.append(f"# lutcore vs llama.cpp parity ({rep['date']})")
    lines.append("")
    lines.append(f"llama-cpp-python {rep['env']['llama_cpp_python']}; lutcore {rep['env']['lutcore']}; "
                 f"{rep['env']['cpu']}; flash_attn {rep['flash_attn']}; load avg (1 min) at start "
                 f"{rep['env']['loadavg_start']}.")
    lines.append("")
    lines.append("## Teacher-forced logits (llama.cpp 1 thread, one batch; lutcore `logits`)")
    lines.append("")
    lines.append(f"Targets: cosine ≥ {COS_TARGET} and top-1 ≥ {TOP1_TARGET:.0f}% per position.")
    lines.append("")
    lines.append("| model | backend | positions | min cos | mean cos | pos. with cos ≥ 0.995 | top-1 % | mean rel. L2 err | meets target |")
    lines.append("|---|---|---|---|---|---|---|---|---|")
    for m in rep["models"]:
        for be, c in m["compare"].items():
            if "error" in c:
                lines.append(f"| {m['name']} | {be} | — | — | — | — | — | — | error: {c['error'][:80]} |")
                continue
            ok = c["cos_min"] >= COS_TARGET and c["top1_pct"] >= TOP1_TARGET
            lines.append(f"| {m['name']} | {be} | {c['positions']} | {c['cos_min']:.5f} | {c['cos_mean']:.5f} | "
                         f"{c['cos_ge_target_pct']:.0f}% | {c['top1_pct']:.1f} | {c['relerr_mean']:.4f} | "
                         f"{'yes' if ok else 'NO'} |")
    for m in rep["models"]:
        for be, c in m["compare"].items():
            if c.get("flips"):
                f = c["flips"]
                ranks = sorted(set(x["ours_top1_rank_in_llama"] + 1 for x in f))
                lines.append("")
                lines.append(f"{m['name']} [{be}]: {len(f)} top-1 flips; in each, lutcore's top-1 is llama.cpp's "
                             f"#{'/#'.join(map(str, ranks))} and llama.cpp's margin between the two is at most "
                             f"{max(x['llama_margin_std'] for x in f):.3f} logit std (median top-1/top-2 gap over all "
                             f"positions: {c['llama_top1_gap_std_median']:.3f} std), i.e. near-ties.")
        if m.get("lut_vs_ref"):
            c = m["lut_vs_ref"]
            lines.append("")
            lines.append(f"{m['name']}: lutcore lut vs ref backend: min cos {c['cos_min']:.7f}, top-1 {c['top1_pct']:.1f}%, "
                         f"max rel. err {c['relerr_max']:.2e}.")
    emu = [m for m in rep["models"] if m.get("emulation") and "error" not in m["emulation"]]
    if emu:
        lines.append("")
        lines.append("## Numpy emulation (bench/parity/emulate.py): which rounding explains the gap")
        lines.append("")
        lines.append("Variants: `bitnet_f64` per-token int8 activations, all else float64 (lutcore's definition); "
                     "`llama_emul` Q8_K activations + f16 q/k/v/attention weights + f16 head input (llama.cpp's); "
                     "`q8k_f64` Q8_K only; `token_f16` per-token + the f16 roundings; `noquant_f64` float activations.")
        lines.append("")
        lines.append("| model | variant | vs llama.cpp: min cos | mean cos | top-1 % | rel. err | vs lutcore: min cos | mean cos | top-1 % | rel. err |")
        lines.append("|---|---|---|---|---|---|---|---|---|---|")
        for m in emu:
            for v, r in m["emulation"].items():
                if "vs_llama" not in r:
                    continue
                a, b = r["vs_llama"], r.get("vs_ours")
                cells = [f"{a['cos_min']:.5f}", f"{a['cos_mean']:.5f}", f"{a['top1_pct']:.1f}", f"{a['relerr_mean']:.4f}"]
                cells += ([f"{b['cos_min']:.5f}", f"{b['cos_mean']:.5f}", f"{b['top1_pct']:.1f}", f"{b['relerr_mean']:.4f}"]
                          if b else ["—"] * 4)
                lines.append(f"| {m['name']} | {v} | " + " | ".join(cells) + " |")
    if rep.get("speed"):
        s = rep["speed"]
        lines.append("")
        lines.append(f"## Decode speed, {s['model']} (greedy, {s['n_predict']} tokens after a "
                     f"{s['prompt_tokens']}-token prompt, best of {s['repeats']})")
        lines.append("")
        lines.append("| threads | llama.cpp tok/s | lutcore tok/s | ours / llama.cpp | median of paired runs | load avg during | all runs llama.cpp / lutcore (alternating) |")
        lines.append("|---|---|---|---|---|---|---|")
        for t in s["threads"]:
            r = s["results"][str(t)]
            la = "—" if r.get("llama_tok_s") is None else f"{r['loadavg']}"
            ratio = None
            if r.get("llama_tok_s") and r.get("lutcore_tok_s"):
                ratio = r["lutcore_tok_s"] / r["llama_tok_s"]
            lines.append(f"| {t} | {fmt(r.get('llama_tok_s'), 2)} | {fmt(r.get('lutcore_tok_s'), 2)} | "
                         f"{fmt(ratio, 3)} | {fmt(r.get('paired_ratio_median'), 3)} | {la} | "
                         f"{runs_str(r['llama_runs'])} / {runs_str(r['lutcore_runs'])} |")
        if s.get("notes"):
            lines.append("")
            for n in s["notes"]:
                lines.append(f"- {n}")
    if rep.get("notes"):
        lines.append("")
        lines.append("## Notes")
        lines.append("")
        for n in rep["notes"]:
            lines.append(f"- {n}")
    lines.append("")
    lines.append(f"Script wall time: {rep['wall_s']:.0f} s.")
    md = "\n".join(lines) + "\n"
    with open(os.path.join(out_dir, "report.md"), "w") as f:
        f.write(md)
    return md


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--models", default="build/models/tiny.gguf,build/models/700m.gguf")
    ap.add_argument("--ref-models", default="tiny", help="models (by file stem) also run with --backend ref")
    ap.add_argument("--lutcore", default="target/release/lutcore")
    ap.add_argument("--out-dir", default="build/parity")
    ap.add_argument("--speed-model", default="build/models/700m.gguf")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--n-predict", type=int, default=64)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--flash-attn", choices=["auto", "on", "off"], default="auto")
    ap.add_argument("--text", default=PARAGRAPH, help="paragraph for the teacher-forced sequence")
    ap.add_argument("--emulate", action="store_true",
                    help="run the numpy emulation (bench/parity/emulate.py) on every model "
                         "(default: only on models that miss the targets)")
    ap.add_argument("--no-emulate", action="store_true", help="never run the numpy emulation")
    ap.add_argument("--no-llama-numerics", action="store_true",
                    help="skip the `lutcore logits --numerics llama-cpp` row (slower: one kernel pass per 256-block)")
    args = ap.parse_args()

    os.chdir(ROOT)
    t_start = time.perf_counter()
    os.makedirs(os.path.join(args.out_dir, "logs"), exist_ok=True)
    llama_init(os.path.join(args.out_dir, "logs", "llama.log"))
    exe = os.path.abspath(args.lutcore)
    try:
        lut_ver = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()
        git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True).stdout.strip()
        lut_ver = f"{lut_ver} ({git}{'-dirty' if dirty else ''})"
    except OSError:
        lut_ver = "?"
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    rep = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "flash_attn": args.flash_attn,
        "env": {"llama_cpp_python": L.__version__, "lutcore": lut_ver, "cpu": f"{cpu}, {os.cpu_count()} cpus",
                "loadavg_start": loadavg(),
                "llama_system_info": L.llama_print_system_info().decode(errors="replace").strip()},
        "targets": {"cos_min": COS_TARGET, "top1_pct": TOP1_TARGET},
        "models": [],
        "notes": [],
    }
    ref_models = set(x for x in args.ref_models.split(",") if x)

    for path in [m for m in args.models.split(",") if m]:
        name = os.path.splitext(os.path.basename(path))[0]
        log(f"{name}: loading in llama.cpp")
        lm = LlamaModel(path)
        tokens = lm.tokenize(args.text, add_bos=True)
        if len(tokens) < 40:
            raise SystemExit(f"the paragraph encodes to {len(tokens)} tokens; need >= 40")
        log(f"{name}: {len(tokens)} tokens; llama.cpp teacher-forced logits (1 thread)")
        ref, llama_s = llama_logits(lm, tokens, args.flash_attn)
        entry = {"name": name, "path": path, "n_vocab": lm.n_vocab, "tokens": tokens,
                 "llama_logits_s": llama_s, "compare": {}, "lutcore_logits_s": {}}
        mdir = os.path.join(args.out_dir, name)
        os.makedirs(mdir, exist_ok=True)
        np.save(os.path.join(mdir, "llama.npy"), ref)
        if name in ref_models:
            # Tokenizer check (lutcore has no tokenize command): token count of the paragraph in `lutcore run`.
            try:
                runs, _ = lutcore_run(exe, path, args.text, 1, 1, 1)
                entry["lutcore_prompt_tokens"] = runs[0]["prompt_tokens"]
                if runs[0]["prompt_tokens"] != len(tokens):
                    rep["notes"].append(f"{name}: the paragraph is {len(tokens)} tokens in llama.cpp but "
                                        f"{runs[0]['prompt_tokens']} in `lutcore run`")
            except RuntimeError as e:
                rep["notes"].append(f"{name}: tokenizer check failed: {e}")
        # (report key, backend, numerics): BitNet's definition on both backends, and the LUT backend
        # with llama.cpp's roundings (Q8_K activations, f16 KV cache), which isolates them as the residual.
        variants = [("lut", "lut", "bitnet")] + ([("ref", "ref", "bitnet")] if name in ref_models else [])
        if not args.no_llama_numerics:
            variants.append(("lut, llama.cpp numerics", "lut", "llama-cpp"))
        ours_by_be = {}
        for be, backend, numerics in variants:
            log(f"{name}: lutcore logits --backend {backend} --numerics {numerics}")
            try:
                ours, s_in, wall = lutcore_logits(exe, path, tokens, backend,
                                                  os.path.join(mdir, f"ours-{backend}-{numerics}.bin"), lm.n_vocab,
                                                  threads=2 if numerics != "bitnet" else 1, numerics=numerics)
            except RuntimeError as e:
                log(f"{name}: {e}")
                entry["compare"][be] = {"error": str(e)}
                continue
            ours_by_be[be] = ours
            entry["lutcore_logits_s"][be] = {"forward_s": s_in, "wall_s": wall}
            c = compare(ref, ours)
            entry["compare"][be] = c
            log(f"{name} [{be}]: cos min {c['cos_min']:.5f} mean {c['cos_mean']:.5f}; top-1 {c['top1_pct']:.1f}% "
                f"over {c['positions']} positions")
        if "lut" in ours_by_be and "ref" in ours_by_be:
            c = compare(ours_by_be["ref"], ours_by_be["lut"])
            entry["lut_vs_ref"] = {k: c[k] for k in ("cos_min", "cos_mean", "top1_pct", "relerr_mean", "relerr_max")}
        missed = any("error" not in c and (c["cos_min"] < COS_TARGET or c["top1_pct"] < TOP1_TARGET)
                     for be, c in entry["compare"].items() if be in ("lut", "ref"))
        if args.emulate or (missed and not args.no_emulate):
            try:
                sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
                import emulate
                log(f"{name}: numpy emulation")
                entry["emulation"] = emulate.run(path, tokens, ref, ours_by_be.get("lut"), compare)
            except Exception as e:  # emulation is an aid, never fatal
                log(f"{name}: emulation failed: {e!r}")
                entry["emulation"] = {"error": repr(e)}
        rep["models"].append(entry)
        lm.free()

    if not args.skip_speed:
        path = args.speed_model
        threads = [int(t) for t in args.threads.split(",")]
        lm = LlamaModel(path)
        ptoks = lm.tokenize(DECODE_PROMPT, add_bos=True)
        speed = {"model": os.path.basename(path), "prompt": DECODE_PROMPT, "prompt_tokens": len(ptoks),
                 "n_predict": args.n_predict, "repeats": args.repeats, "threads": threads, "results": {},
                 "notes": []}
        for t in threads:
            # Alternate the two programs run by run, so that a change in the host's speed during
            # the measurement (this shared VM has slow and fast phases) affects both alike.
            lruns, oruns, otext = [], [], None
            for r in range(args.repeats):
                log(f"speed: llama.cpp {t} thread(s), run {r + 1}/{args.repeats}")
                lr, gen, ltext = llama_decode_speed(lm, ptoks, args.n_predict, t, 1, args.flash_attn)
                lruns += lr
                log(f"speed: lutcore {t} thread(s), run {r + 1}/{args.repeats}")
                try:
                    orr, otext = lutcore_run(exe, path, DECODE_PROMPT, args.n_predict, t, 1)
                    oruns += orr
                except RuntimeError as e:
                    speed["notes"].append(f"lutcore run --threads {t}: {e}")
                    break
            lbest = max(lruns, key=lambda r: r["tok_s"])
            obest = max(oruns, key=lambda r: r["tok_s"]) if oruns else None
            paired = sorted(o["tok_s"] / l["tok_s"] for l, o in zip(lruns, oruns))
            res = {"llama_tok_s": lbest["tok_s"], "lutcore_tok_s": obest["tok_s"] if obest else None,
                   "paired_ratio_median": paired[len(paired) // 2] if paired else None,
                   "llama_runs": lruns, "lutcore_runs": oruns,
                   "loadavg": max([r["loadavg_1m"] or 0 for r in lruns + oruns]),
                   "llama_text": DECODE_PROMPT + ltext, "lutcore_text": otext.rstrip("\n") if otext else None}
            if obest and obest["prompt_tokens"] != len(ptoks):
                speed["notes"].append(f"prompt tokenization differs: llama.cpp {len(ptoks)} tokens, "
                                      f"lutcore {obest['prompt_tokens']}")
            if obest and obest["decode_tokens"] != args.n_predict:
                speed["notes"].append(f"lutcore stopped after {obest['decode_tokens']} tokens (EOS) at {t} thread(s)")
            if otext is not None:
                a, b = res["llama_text"], res["lutcore_text"]
                k = 0
                while k < min(len(a), len(b)) and a[k] == b[k]:
                    k += 1
                res["greedy_text_common_prefix_chars"] = k
                res["greedy_text_equal"] = a == b
            speed["results"][str(t)] = res
            log(f"speed {t}t: llama.cpp {lbest['tok_s']:.2f} tok/s, lutcore "
                f"{obest['tok_s'] if obest else float('nan'):.2f} tok/s")
        r0 = speed["results"][str(threads[0])]
        if "greedy_text_equal" in r0:
            speed["notes"].append(
                f"greedy continuation ({args.n_predict} tokens): texts {'identical' if r0['greedy_text_equal'] else 'differ'}"
                f" (common prefix {r0['greedy_text_common_prefix_chars']} of {len(r0['llama_text'])} chars)")
        speed["notes"].append("llama.cpp timing: wall clock around the decode loop (llama_decode + "
                              "llama_get_logits_ith + numpy argmax per token); lutcore: its own `decode:` "
                              "figure (forward + sampling + writing the piece to stdout per token).")
        rep["speed"] = speed
        lm.free()

    rep["wall_s"] = time.perf_counter() - t_start
    md = write_reports(rep, args.out_dir)
    print(md)


if __name__ == "__main__":
    main()
