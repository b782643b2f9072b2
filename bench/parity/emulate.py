#!/usr/bin/env python3
"""Numpy emulation of llama.cpp's `bitnet` graph with switchable numerics, to explain logit gaps.

Reads the GGUF itself (F32/F16/TQ2_0 tensors only), runs a teacher-forced forward in float64 in which
only the chosen roundings happen:

  act = "token"  per-token absmax int8 (BitNet's definition; what lutcore does)
        "q8k"    per-256-block Q8_K as ggml's quantize_row_q8_K_ref (d = max/-127, round half to even)
        "none"   no activation quantization
  f16_attn       q, k, v rounded to f16 (f16 KV cache; ggml converts q to f16 for the K·q product)
                 and the softmax weights rounded to f16 before the V product (non-flash-attention path)
  f16_head       the final normed hidden state rounded to f16 before the F16 tied head (ggml converts
                 src1 to F16, the vec_dot_type of F16 weights)

Used by parity.py --emulate; standalone: emulate.py MODEL.gguf --tokens 1,2,3 [--llama L.npy] [--ours O.bin]
"""
import argparse
import struct
import sys

import numpy as np

GGML_F32, GGML_F16, GGML_TQ2_0 = 0, 1, 35


class Gguf:
    def __init__(self, path):
        self.mm = np.memmap(path, dtype=np.uint8, mode="r")
        self.off = 0
        magic = self._read(4)
        if magic != b"GGUF":
            raise ValueError(f"{path}: not GGUF")
        (self.version,) = self._unpack("<I")
        n_t, n_kv = self._unpack("<QQ")
        self.kv = {}
        for _ in range(n_kv):
            k = self._str()
            (vt,) = self._unpack("<I")
            self.kv[k] = self._val(vt)
        self.tensors = {}
        for _ in range(n_t):
            name = self._str()
            (nd,) = self._unpack("<I")
            dims = self._unpack("<" + "Q" * nd)
            typ, off = self._unpack("<IQ")
            self.tensors[name] = (dims, typ, off)
        align = int(self.kv.get("general.alignment", 32))
        self.data = (self.off + align - 1) // align * align

    def _read(self, n):
        b = bytes(self.mm[self.off:self.off + n])
        self.off += n
        return b

    def _unpack(self, fmt):
        n = struct.calcsize(fmt)
        return struct.unpack(fmt, self._read(n))

    def _str(self):
        (n,) = self._unpack("<Q")
        return self._read(n).decode("utf-8", "replace")

    def _val(self, vt):
        fmts = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
        if vt in fmts:
            return self._unpack(fmts[vt])[0]
        if vt == 8:
            return self._str()
        if vt == 9:
            et, n = self._unpack("<IQ")
            if et in fmts:  # bulk-skip numeric arrays
                sz = struct.calcsize(fmts[et])
                a = np.frombuffer(self._read(sz * n), dtype=np.dtype(fmts[et]))
                return a
            return [self._val(et) for _ in range(n)]
        raise ValueError(f"unknown GGUF value type {vt}")

    def tensor(self, name):
        """float64 array of shape (rows, cols) (or (n,) for 1-D); TQ2_0 also returns its block scales."""
        dims, typ, off = self.tensors[name]
        n = int(np.prod(dims))
        start = self.data + off
        if typ == GGML_F32:
            a = np.frombuffer(self.mm[start:start + 4 * n], dtype="<f4").astype(np.float64)
        elif typ == GGML_F16:
            a = np.frombuffer(self.mm[start:start + 2 * n], dtype="<f2").astype(np.float64)
        elif typ == GGML_TQ2_0:
            nb = n // 256
            blk = np.frombuffer(self.mm[start:start + 66 * nb], dtype=np.uint8).reshape(nb, 66)
            qs = blk[:, :64].reshape(nb, 2, 1, 32)
            sh = (2 * np.arange(4, dtype=np.uint8)).reshape(1, 1, 4, 1)
            v = ((qs >> sh) & 3).astype(np.int8) - 1          # (nb, 2, 4, 32): index h*128 + l*32 + j
            d = blk[:, 64:66].copy().view("<f2").astype(np.float64).reshape(nb)
            a = (v.reshape(nb, 256).astype(np.float64) * d[:, None]).reshape(-1)
        else:
            raise ValueError(f"{name}: ggml type {typ} not supported by the emulation")
        if len(dims) == 1:
            return a
        return a.reshape(int(dims[1]), int(dims[0]))


def f16(x):
    return x.astype(np.float16).astype(np.float64)


def quant_token(x):
    """BitNet per-token absmax int8 (lutcore: s = 127/max|x| in f32, round half away, clamp)."""
    x32 = x.astype(np.float32)
    mx = np.maximum(np.abs(x32).max(axis=1, keepdims=True), np.float32(1e-5))
    s = (np.float32(127.0) / mx).astype(np.float32)
    p = x32 * s
    v = np.clip(np.sign(p) * np.floor(np.abs(p) + np.float32(0.5)), -128, 127)
    return v.astype(np.float64) * (np.float32(1.0) / s).astype(np.float64)


def quant_q8k(x):
    """ggml quantize_row_q8_K_ref on every 256-block of every row."""
    n, k = x.shape
    x32 = x.astype(np.float32).reshape(n, k // 256, 256)
    idx = np.abs(x32).argmax(axis=2)
    mx = np.take_along_axis(x32, idx[..., None], axis=2)            # signed value of max |x|
    zero = mx == 0
    iscale = np.where(zero, np.float32(0), np.float32(-127.0) / np.where(zero, np.float32(1), mx)).astype(np.float32)
    v = np.minimum(np.rint((iscale * x32).astype(np.float32)), 127)  # rint: half to even (nearest_int)
    d = np.where(zero, np.float32(0), np.float32(1.0) / np.where(zero, np.float32(1), iscale)).astype(np.float32)
    return (v.astype(np.float64) * d.astype(np.float64)).reshape(n, k)


def rmsnorm(x, w, eps):
    return x / np.sqrt((x * x).mean(axis=1, keepdims=True) + eps) * w


def forward(g, tokens, variants):
    """Run all variants in lockstep over the layers (weights dequantized once per layer)."""
    kv = g.kv
    hidden = int(kv["bitnet.embedding_length"])
    layers = int(kv["bitnet.block_count"])
    heads = int(kv["bitnet.attention.head_count"])
    kvh = int(kv.get("bitnet.attention.head_count_kv", heads))
    eps = float(kv["bitnet.attention.layer_norm_rms_epsilon"])
    theta = float(kv.get("bitnet.rope.freq_base", 10000.0))
    d = hidden // heads
    n = len(tokens)
    emb = g.tensor("token_embd.weight")                                 # (vocab, hidden)
    xs = {name: emb[tokens].copy() for name in variants}
    pos = np.arange(n)[:, None]
    freq = theta ** (-2.0 * np.arange(d // 2) / d)
    ang = pos * freq[None, :]
    cos, sin = np.cos(ang), np.sin(ang)
    mask = np.triu(np.full((n, n), -np.inf), 1)

    def rope(t, nh):
        t = t.reshape(n, nh, d)
        a, b = t[..., : d // 2], t[..., d // 2:]
        c, s = cos[:, None, :], sin[:, None, :]
        return np.concatenate([a * c - b * s, a * s + b * c], axis=-1)

    def scale_of(name):
        return float(g.tensor(name)[0]) if name in g.tensors else 1.0

    for il in range(layers):
        p = f"blk.{il}."
        W = {k: g.tensor(p + k + ".weight") * scale_of(p + k + ".scale")
             for k in ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")}
        nrm = {k: g.tensor(p + k + ".weight") for k in ("attn_norm", "attn_sub_norm", "ffn_norm", "ffn_sub_norm")}
        for name, v in variants.items():
            qa = {"token": quant_token, "q8k": quant_q8k, "none": lambda a: a}[v["act"]]
            x = xs[name]
            h = qa(rmsnorm(x, nrm["attn_norm"], eps))
            q = rope(h @ W["attn_q"].T, heads)
            k = rope(h @ W["attn_k"].T, kvh)
            vv = (h @ W["attn_v"].T).reshape(n, kvh, d)
            if v["f16_attn"]:
                q, k, vv = f16(q), f16(k), f16(vv)
            grp = heads // kvh
            k = np.repeat(k, grp, axis=1)
            vv = np.repeat(vv, grp, axis=1)
            s = np.einsum("thd,phd->htp", q, k) / np.sqrt(d) + mask[None]
            s = np.exp(s - s.max(axis=2, keepdims=True))
            w = s / s.sum(axis=2, keepdims=True)
            if v["f16_attn"]:
                w = f16(w)
            att = np.einsum("htp,phd->thd", w, vv).reshape(n, hidden)
            a = qa(rmsnorm(att, nrm["attn_sub_norm"], eps))
            x = x + a @ W["attn_output"].T
            h = qa(rmsnorm(x, nrm["ffn_norm"], eps))
            gt = h @ W["ffn_gate"].T
            up = h @ W["ffn_up"].T
            f = gt / (1.0 + np.exp(-gt)) * up
            f = qa(rmsnorm(f, nrm["ffn_sub_norm"], eps))
            xs[name] = x + f @ W["ffn_down"].T
    onorm = g.tensor("output_norm.weight")
    out = {}
    for name, v in variants.items():
        h = rmsnorm(xs[name], onorm, eps)
        if v["f16_head"]:
            h = f16(h)
        out[name] = h @ emb.T
    return out


VARIANTS = {
    "bitnet_f64": {"act": "token", "f16_attn": False, "f16_head": False},   # lutcore's definition
    "token_f16": {"act": "token", "f16_attn": True, "f16_head": True},      # lutcore + llama.cpp's f16 parts
    "q8k_f64": {"act": "q8k", "f16_attn": False, "f16_head": False},        # llama.cpp's activation quant only
    "llama_emul": {"act": "q8k", "f16_attn": True, "f16_head": True},       # llama.cpp's numerics
    "noquant_f64": {"act": "none", "f16_attn": False, "f16_head": False},   # float activations
}


def run(path, tokens, llama_ref, ours, compare):
    g = Gguf(path)
    outs = forward(g, tokens, VARIANTS)
    keys = ("cos_min", "cos_mean", "top1_pct", "relerr_mean")
    res = {}
    for name, lg in outs.items():
        row = {}
        if llama_ref is not None:
            c = compare(llama_ref, lg)
            row["vs_llama"] = {k: c[k] for k in keys}
        if ours is not None:
            c = compare(lg, ours)
            row["vs_ours"] = {k: c[k] for k in keys}
        res[name] = row
    c = compare(outs["llama_emul"], outs["bitnet_f64"])
    res["bitnet_f64_vs_llama_emul"] = {k: c[k] for k in keys}
    return res


def main():
    import os
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from metrics import compare  # noqa: E402
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--llama", help="llama.cpp logits .npy (parity.py writes build/parity/<model>/llama.npy)")
    ap.add_argument("--ours", help="lutcore logits .bin")
    a = ap.parse_args()
    toks = [int(t) for t in a.tokens.split(",")]
    ref = np.load(a.llama) if a.llama else None
    ours = np.fromfile(a.ours, dtype="<f4").reshape(len(toks), -1) if a.ours else None
    import json
    print(json.dumps(run(a.model, toks, ref, ours, compare), indent=1))


if __name__ == "__main__":
    main()
