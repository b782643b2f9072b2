"""Per-position logit comparison shared by parity.py and emulate.py."""
import numpy as np

COS_TARGET = 0.995
TOP1_TARGET = 90.0


def compare(ref, ours):
    """Per-position metrics of `ours` against `ref` (llama.cpp)."""
    r = ref.astype(np.float64)
    o = ours.astype(np.float64)
    cos = (r * o).sum(1) / (np.linalg.norm(r, axis=1) * np.linalg.norm(o, axis=1))
    relerr = np.linalg.norm(o - r, axis=1) / np.linalg.norm(r, axis=1)
    a_r = r.argmax(1)
    a_o = o.argmax(1)
    agree = a_r == a_o
    # For disagreements: how close llama.cpp itself has our top-1 to its top-1, in units of the logits'
    # per-position std (a near-tie flips with tiny numerical differences).
    flips = []
    for i in np.nonzero(~agree)[0]:
        std = r[i].std()
        flips.append({"pos": int(i), "llama_top1": int(a_r[i]), "ours_top1": int(a_o[i]),
                      "llama_margin_std": float((r[i, a_r[i]] - r[i, a_o[i]]) / std),
                      "ours_margin_std": float((o[i, a_o[i]] - o[i, a_r[i]]) / o[i].std()),
                      "ours_top1_rank_in_llama": int((r[i] > r[i, a_o[i]]).sum())})
    # how peaked are the logits at all: gap of top-1 to top-2 in std units (median over positions)
    srt = np.sort(r, axis=1)
    gap = (srt[:, -1] - srt[:, -2]) / r.std(1)
    return {
        "positions": int(len(cos)),
        "cos_min": float(cos.min()), "cos_mean": float(cos.mean()), "cos_max": float(cos.max()),
        "cos_ge_target_pct": float(100.0 * (cos >= COS_TARGET).mean()),
        "top1_pct": float(100.0 * agree.mean()),
        "relerr_mean": float(relerr.mean()), "relerr_max": float(relerr.max()),
        "llama_top1_gap_std_median": float(np.median(gap)),
        "flips": flips,
        "per_position": {"cos": [round(float(c), 6) for c in cos], "top1_agree": [bool(x) for x in agree]},
    }
