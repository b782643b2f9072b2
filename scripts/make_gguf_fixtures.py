#!/usr/bin/env python3
"""Write the small GGUF fixtures of sw/tests/gguf.rs with the reference writer.

Needs `pip install gguf==0.19.0 numpy`. Writes into sw/tests/fixtures/gguf/:

* metadata.gguf  - one key of every GGUF value type, arrays of every element
  type incl. strings (with non-ASCII) and a nested array, general.alignment 64,
  one small F32 tensor.
* tensors.gguf   - one tensor each of F32, F16, BF16, TQ1_0, TQ2_0 (random and
  "BitNet-like" gamma * {-1, 0, 1} inputs), quantized by gguf.quants.
* tensors.json   - for each tensor: type, GGUF dims, the f32 input given to the
  quantizer and gguf-py's own decoding (gguf.quants.dequantize).

Deterministic (fixed seed); re-running rewrites identical files.
"""
import json
import os

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sw", "tests", "fixtures", "gguf")


def write_metadata(path):
    w = gguf.GGUFWriter(path, "bitnet")
    w.add_custom_alignment(64)
    w.add_uint8("test.u8", 200)
    w.add_int8("test.i8", -100)
    w.add_uint16("test.u16", 60000)
    w.add_int16("test.i16", -30000)
    w.add_uint32("test.u32", 4000000000)
    w.add_int32("test.i32", -2000000000)
    w.add_float32("test.f32", 1.5)
    w.add_bool("test.bool", True)
    w.add_string("test.string", "héllo wörld ✓")
    w.add_uint64("test.u64", 2**63 + 5)
    w.add_int64("test.i64", -(2**62))
    w.add_float64("test.f64", -2.25)
    w.add_array("test.arr_str", ["<unk>", "<s>", "</s>", "▁the", "", "日本"])
    w.add_array("test.arr_f32", [0.5, -1.25, 3.0])
    w.add_array("test.arr_i32", [1, -2, 3])
    w.add_array("test.arr_bool", [True, False, True])
    w.add_key_value("test.arr_u8", [1, 2, 255], gguf.GGUFValueType.ARRAY, sub_type=gguf.GGUFValueType.UINT8)
    w.add_key_value("test.arr_u64", [1, 2**64 - 1], gguf.GGUFValueType.ARRAY, sub_type=gguf.GGUFValueType.UINT64)
    w.add_key_value("test.arr_f64", [0.1, -0.2], gguf.GGUFValueType.ARRAY, sub_type=gguf.GGUFValueType.FLOAT64)
    w.add_array("test.arr_nested", [[1, 2], [3]])
    w.add_array("test.arr_empty", [])
    w.add_tensor("small", np.arange(6, dtype=np.float32).reshape(2, 3))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def write_tensors(path, json_path):
    rng = np.random.default_rng(1234)
    w = gguf.GGUFWriter(path, "bitnet")
    expected = {}

    def add(name, arr, qtype, inp=None):
        """arr: numpy (rows, cols) f32 input; qtype: target type."""
        if qtype in (Q.F32,):
            w.add_tensor(name, arr)
            raw = arr
        elif qtype == Q.F16:
            raw = arr.astype(np.float16)
            w.add_tensor(name, raw)
        else:
            raw = gguf.quants.quantize(arr, qtype)
            w.add_tensor(name, raw, raw_dtype=qtype)
        decoded = gguf.quants.dequantize(np.asarray(raw).view(np.uint8) if qtype not in (Q.F32, Q.F16) else raw, qtype)
        expected[name] = {
            "type": qtype.name,
            "dims": list(reversed(arr.shape)),
            "input": [float(v) for v in arr.reshape(-1)],
            "decoded": [float(v) for v in np.asarray(decoded, dtype=np.float32).reshape(-1)],
        }

    specials = np.array([0.0, -0.0, 1.0, -2.5, 65504.0, 1e-7, 6.1e-5, 3.14159], dtype=np.float32)
    f = np.concatenate([specials, rng.standard_normal(16).astype(np.float32)]).reshape(3, 8)
    add("t_f32", f, Q.F32)
    add("t_f16", f, Q.F16)
    add("t_bf16", f, Q.BF16)

    # Gaussian on a 1/64 grid (short JSON, many exact ties): per-block scales
    # differ; includes exact half-way points.
    g = (np.round(rng.standard_normal((2, 256)) * 64) / 64).astype(np.float32)
    g[0, 0] = 4.0
    g[0, 1] = 2.0   # exactly 0.5 * amax: rounds away from zero
    g[0, 2] = -2.0
    add("t_tq2_rand", g, Q.TQ2_0)
    add("t_tq1_rand", g, Q.TQ1_0)

    # BitNet-like: gamma * {-1, 0, 1}, one all-zero block.
    gamma = np.float32(0.0371)
    t = rng.integers(-1, 2, size=(3, 256)).astype(np.float32)
    t[1, :] = 0
    b = (t * gamma).astype(np.float32)
    add("t_tq2_tern", b, Q.TQ2_0)
    add("t_tq1_tern", b, Q.TQ1_0)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    with open(json_path, "w") as fh:
        json.dump(expected, fh, separators=(",", ":"))


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    write_metadata(os.path.join(OUT, "metadata.gguf"))
    write_tensors(os.path.join(OUT, "tensors.gguf"), os.path.join(OUT, "tensors.json"))
    for f in sorted(os.listdir(OUT)):
        print(f, os.path.getsize(os.path.join(OUT, f)))
