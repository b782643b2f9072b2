//! The BitNet forward pass against an independent float64 implementation of
//! the same definition, KV-cache decoding against full recomputation, and the
//! CPU backends against each other.

use std::path::Path;

use lutcore_sw::backend::{LutBackend, RefBackend};
use lutcore_sw::gguf::{GgmlType, GgufFile};
use lutcore_sw::model::synth::{write_model, SynthShape};
use lutcore_sw::model::{Model, Numerics, Session};

/// Largest relative L2 difference between the f32 forward pass and the f64
/// reference. Both quantize activations identically; what remains is f32
/// rounding (norms, attention, the head) and, rarely, an int8 rounding that
/// lands on the other side of .5 in f32 than in f64.
const F64_REFERENCE_REL_L2: f64 = 2e-3;

fn small_shape(arch: &'static str, kv_heads: usize, ternary: GgmlType) -> SynthShape {
    SynthShape {
        name: "test".into(),
        arch,
        hidden: 256,
        ffn: 512,
        layers: 2,
        heads: 4,
        kv_heads,
        vocab: 300,
        rope_theta: 1e4,
        ternary,
        tokenizer: "spm",
    }
}

fn synth(shape: &SynthShape, dir: &Path) -> std::path::PathBuf {
    let path = dir.join(format!("{}-{}.gguf", shape.arch, shape.kv_heads));
    write_model(shape, None, 11, &path, |_, _| {}).unwrap();
    path
}

/// An independent float64 BitNet forward pass over a whole sequence.
mod f64_ref {
    use lutcore_sw::gguf::{ternary_rows, GgufFile};

    pub struct Lin {
        rows: usize,
        cols: usize,
        w: Vec<f64>,
    }

    fn lin(f: &GgufFile, name: &str) -> Lin {
        let t = ternary_rows(&f.tensor(&format!("{name}.weight")).unwrap()).unwrap();
        let g = f64::from(t.per_tensor_scale().unwrap());
        Lin {
            rows: t.rows,
            cols: t.cols,
            w: t.values.iter().map(|&v| f64::from(v) * g).collect(),
        }
    }

    fn vecf(f: &GgufFile, name: &str) -> Vec<f64> {
        f.tensor(name)
            .unwrap()
            .to_f32()
            .unwrap()
            .into_iter()
            .map(f64::from)
            .collect()
    }

    /// BitLinear: int8 quantization of the input, then W·x. Per token
    /// (absmax, BitNet) or, with `llama`, per 256-block as ggml's Q8_K
    /// (`d = m/−127`, `m` the first value of largest magnitude, ties to even).
    fn apply(l: &Lin, x: &[f64], llama: bool) -> Vec<f64> {
        let q: Vec<f64> = if llama {
            x.chunks(256)
                .flat_map(|b| {
                    let m = b
                        .iter()
                        .fold(0f64, |m, &v| if v.abs() > m.abs() { v } else { m });
                    b.iter().map(move |v| {
                        if m == 0.0 {
                            0.0
                        } else {
                            (v * -127.0 / m).round_ties_even().min(127.0) * (m / -127.0)
                        }
                    })
                })
                .collect()
        } else {
            let max = x.iter().fold(0f64, |m, v| m.max(v.abs())).max(1e-5);
            let s = 127.0 / max;
            x.iter()
                .map(|v| (v * s).round().clamp(-128.0, 127.0) / s)
                .collect()
        };
        (0..l.rows)
            .map(|r| (0..l.cols).map(|c| l.w[r * l.cols + c] * q[c]).sum())
            .collect()
    }

    /// `v` rounded to f16 when `on`.
    fn f16r(v: f64, on: bool) -> f64 {
        if on {
            f64::from(half::f16::from_f64(v).to_f32())
        } else {
            v
        }
    }

    fn norm(x: &[f64], w: &[f64], eps: f64) -> Vec<f64> {
        let ms = x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64;
        x.iter()
            .zip(w)
            .map(|(v, g)| v / (ms + eps).sqrt() * g)
            .collect()
    }

    fn rope(x: &mut [f64], pos: usize, theta: f64) {
        let d = x.len();
        for i in 0..d / 2 {
            let a = pos as f64 * theta.powf(-2.0 * i as f64 / d as f64);
            let (x0, x1) = (x[i], x[i + d / 2]);
            x[i] = x0 * a.cos() - x1 * a.sin();
            x[i + d / 2] = x0 * a.sin() + x1 * a.cos();
        }
    }

    /// Logits at every position of `tokens`; `llama`: llama.cpp's roundings
    /// (Q8_K activations, f16 q/k/v, softmax weights and head input).
    pub fn forward(f: &GgufFile, tokens: &[u32], relu2: bool, llama: bool) -> Vec<Vec<f64>> {
        let arch = f.get_str("general.architecture").unwrap().to_string();
        let h = f.get_usize(&format!("{arch}.embedding_length")).unwrap();
        let layers = f.get_usize(&format!("{arch}.block_count")).unwrap();
        let heads = f
            .get_usize(&format!("{arch}.attention.head_count"))
            .unwrap();
        let kvh = f
            .get_usize(&format!("{arch}.attention.head_count_kv"))
            .unwrap();
        let eps = f64::from(
            f.get_f32(&format!("{arch}.attention.layer_norm_rms_epsilon"))
                .unwrap(),
        );
        let theta = f64::from(f.get_f32(&format!("{arch}.rope.freq_base")).unwrap());
        let d = h / heads;
        let emb = vecf(f, "token_embd.weight");
        let vocab = emb.len() / h;
        let mut xs: Vec<Vec<f64>> = tokens
            .iter()
            .map(|&t| emb[t as usize * h..(t as usize + 1) * h].to_vec())
            .collect();
        for l in 0..layers {
            let p = |s: &str| format!("blk.{l}.{s}");
            let (an, asn, fnn, fsn) = (
                vecf(f, &p("attn_norm.weight")),
                vecf(f, &p("attn_sub_norm.weight")),
                vecf(f, &p("ffn_norm.weight")),
                vecf(f, &p("ffn_sub_norm.weight")),
            );
            let (wq, wk, wv, wo) = (
                lin(f, &p("attn_q")),
                lin(f, &p("attn_k")),
                lin(f, &p("attn_v")),
                lin(f, &p("attn_output")),
            );
            let (wg, wu, wd) = (
                lin(f, &p("ffn_gate")),
                lin(f, &p("ffn_up")),
                lin(f, &p("ffn_down")),
            );
            let mut qs = Vec::new();
            let mut ks = Vec::new();
            let mut vs = Vec::new();
            for (pos, x) in xs.iter().enumerate() {
                let hn = norm(x, &an, eps);
                let mut q = apply(&wq, &hn, llama);
                let mut k = apply(&wk, &hn, llama);
                for hd in 0..heads {
                    rope(&mut q[hd * d..(hd + 1) * d], pos, theta);
                }
                for hd in 0..kvh {
                    rope(&mut k[hd * d..(hd + 1) * d], pos, theta);
                }
                qs.push(q.into_iter().map(|v| f16r(v, llama)).collect::<Vec<_>>());
                ks.push(k.into_iter().map(|v| f16r(v, llama)).collect::<Vec<_>>());
                vs.push(
                    apply(&wv, &hn, llama)
                        .into_iter()
                        .map(|v| f16r(v, llama))
                        .collect::<Vec<_>>(),
                );
            }
            for (pos, x) in xs.iter_mut().enumerate() {
                let mut att = vec![0f64; h];
                for hd in 0..heads {
                    let kv = hd / (heads / kvh);
                    let q = &qs[pos][hd * d..(hd + 1) * d];
                    let s: Vec<f64> = (0..=pos)
                        .map(|p| {
                            q.iter()
                                .zip(&ks[p][kv * d..(kv + 1) * d])
                                .map(|(a, b)| a * b)
                                .sum::<f64>()
                                / (d as f64).sqrt()
                        })
                        .collect();
                    let m = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let e: Vec<f64> = s.iter().map(|v| (v - m).exp()).collect();
                    let z: f64 = e.iter().sum();
                    for (p, ev) in e.iter().enumerate() {
                        for j in 0..d {
                            att[hd * d + j] += f16r(ev / z, llama) * vs[p][kv * d + j];
                        }
                    }
                }
                let o = apply(&wo, &norm(&att, &asn, eps), llama);
                x.iter_mut().zip(&o).for_each(|(a, b)| *a += b);
                let hn = norm(x, &fnn, eps);
                let g = apply(&wg, &hn, llama);
                let u = apply(&wu, &hn, llama);
                let inner: Vec<f64> = g
                    .iter()
                    .zip(&u)
                    .map(|(g, u)| {
                        if relu2 {
                            g.max(0.0).powi(2) * u
                        } else {
                            g / (1.0 + (-g).exp()) * u
                        }
                    })
                    .collect();
                let dn = apply(&wd, &norm(&inner, &fsn, eps), llama);
                x.iter_mut().zip(&dn).for_each(|(a, b)| *a += b);
            }
        }
        let on = vecf(f, "output_norm.weight");
        xs.iter()
            .map(|x| {
                let hn: Vec<f64> = norm(x, &on, eps)
                    .into_iter()
                    .map(|v| f16r(v, llama))
                    .collect();
                (0..vocab)
                    .map(|v| {
                        emb[v * h..(v + 1) * h]
                            .iter()
                            .zip(&hn)
                            .map(|(a, b)| a * b)
                            .sum()
                    })
                    .collect()
            })
            .collect()
    }
}

fn rel_l2(a: &[f32], b: &[f64]) -> f64 {
    let num: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| (f64::from(*x) - y).powi(2))
        .sum();
    let den: f64 = b.iter().map(|y| y * y).sum();
    (num / den).sqrt()
}

const TOKENS: [u32; 7] = [1, 17, 250, 3, 99, 42, 7];

#[test]
fn forward_matches_float64_reference_both_architectures() {
    let dir = tempfile::tempdir().unwrap();
    for (arch, kv, relu2, ty) in [
        ("bitnet", 4, false, GgmlType::TQ2_0),
        ("bitnet-b1.58", 2, true, GgmlType::I2S),
    ] {
        let path = synth(&small_shape(arch, kv, ty), dir.path());
        let model = Model::load(&path, &RefBackend, |_, _| {}).unwrap();
        let mut s = Session::new(&model, 1);
        let got = s.forward(&TOKENS, true).unwrap();
        let want = f64_ref::forward(&GgufFile::open(&path).unwrap(), &TOKENS, relu2, false);
        for (pos, (g, w)) in got.iter().zip(&want).enumerate() {
            let e = rel_l2(g, w);
            assert!(
                e < F64_REFERENCE_REL_L2,
                "{arch} position {pos}: relative L2 {e:.2e} > {F64_REFERENCE_REL_L2:.0e}"
            );
        }
    }
}

#[test]
fn llama_cpp_numerics_match_float64_reference_on_both_backends() {
    let dir = tempfile::tempdir().unwrap();
    let path = synth(&small_shape("bitnet", 4, GgmlType::TQ2_0), dir.path());
    let want = f64_ref::forward(&GgufFile::open(&path).unwrap(), &TOKENS, false, true);
    let bitnet = f64_ref::forward(&GgufFile::open(&path).unwrap(), &TOKENS, false, false);
    let mut logits = Vec::new();
    for model in [
        Model::load(&path, &RefBackend, |_, _| {}).unwrap(),
        Model::load(&path, &LutBackend { threads: 2 }, |_, _| {}).unwrap(),
    ] {
        let mut s = Session::new(&model, 2);
        s.numerics = Numerics::LlamaCpp;
        let got = s.forward(&TOKENS, true).unwrap();
        for (pos, (g, w)) in got.iter().zip(&want).enumerate() {
            let e = rel_l2(g, w);
            assert!(
                e < F64_REFERENCE_REL_L2,
                "position {pos}: relative L2 {e:.2e} > {F64_REFERENCE_REL_L2:.0e}"
            );
        }
        logits.push(got);
    }
    // The LUT kernels' per-block sums are the reference's, bit for bit.
    assert_eq!(logits[0], logits[1]);
    // And the two numerics really differ (the flag is not ignored).
    let far = logits[0]
        .iter()
        .zip(&bitnet)
        .map(|(g, w)| rel_l2(g, w))
        .fold(0f64, f64::max);
    assert!(
        far > 2.0 * F64_REFERENCE_REL_L2,
        "llama.cpp numerics within {far:.1e} of BitNet's"
    );
}

#[test]
fn kv_cache_decode_equals_full_recompute() {
    let dir = tempfile::tempdir().unwrap();
    let path = synth(&small_shape("bitnet-b1.58", 2, GgmlType::TQ2_0), dir.path());
    let model = Model::load(&path, &LutBackend { threads: 2 }, |_, _| {}).unwrap();
    for numerics in [Numerics::BitNet, Numerics::LlamaCpp] {
        let mut s = Session::new(&model, 2);
        s.numerics = numerics;
        let full = s.forward(&TOKENS, true).unwrap();
        let mut s = Session::new(&model, 2);
        s.numerics = numerics;
        let mut step = s.forward(&TOKENS[..3], true).unwrap();
        for &t in &TOKENS[3..] {
            step.extend(s.forward(&[t], false).unwrap());
        }
        // Same integers, same float operations in the same order: identical bits.
        assert_eq!(full, step, "{numerics:?}");
    }
}

#[test]
fn lut_and_reference_backends_give_identical_logits() {
    let dir = tempfile::tempdir().unwrap();
    let path = synth(&small_shape("bitnet", 4, GgmlType::TQ2_0), dir.path());
    let a = Model::load(&path, &RefBackend, |_, _| {}).unwrap();
    let b = Model::load(&path, &LutBackend { threads: 1 }, |_, _| {}).unwrap();
    let la = Session::new(&a, 1).forward(&TOKENS, true).unwrap();
    let lb = Session::new(&b, 1).forward(&TOKENS, true).unwrap();
    assert_eq!(la, lb);
}

#[test]
fn bad_inputs_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = synth(&small_shape("bitnet", 4, GgmlType::TQ2_0), dir.path());
    let model = Model::load(&path, &RefBackend, |_, _| {}).unwrap();
    let mut s = Session::new(&model, 1);
    let e = s.forward(&[300], false).unwrap_err().to_string();
    assert!(e.contains("300") && e.contains("vocabulary"), "{e}");
    assert!(s.forward(&[], false).is_err());
    // A file that is not a model.
    let e = Model::load(Path::new("/nonexistent.gguf"), &RefBackend, |_, _| {})
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("nonexistent"), "{e}");
}

// ------------------------------------------------ load-time validation (issue 14)

mod validation {
    use std::path::{Path, PathBuf};

    use half::f16;
    use lutcore_sw::backend::RefBackend;
    use lutcore_sw::gguf::{GgmlType, GgufFile, GgufWriter, MetadataArray, MetadataValue};
    use lutcore_sw::model::synth::{write_model, write_toy_vocab};
    use lutcore_sw::model::{tokenizer_from_gguf, KvCache, Model, Session, MAX_CONTEXT};

    /// hidden 256, 4 heads of 64, ffn 512, 2 layers, 320 embedding rows, the
    /// toy vocabulary padded to 320 tokens: 2 + 11·2 = 24 tensors.
    fn base(dir: &Path) -> PathBuf {
        let vocab = dir.join("toy-vocab.gguf");
        write_toy_vocab(&vocab).unwrap();
        let mut shape = super::small_shape("bitnet", 4, GgmlType::TQ2_0);
        shape.vocab = 320;
        let path = dir.join("base.gguf");
        write_model(&shape, Some(&vocab), 5, &path, |_, _| {}).unwrap();
        path
    }

    /// A copy of `base` edited by `edit`, written next to it as `name`.
    fn edited(base: &Path, name: &str, edit: impl FnOnce(&mut GgufWriter, &GgufFile)) -> PathBuf {
        let f = GgufFile::open(base).unwrap();
        let mut w = GgufWriter::copy_of(&f).unwrap();
        edit(&mut w, &f);
        let path = base.with_file_name(name);
        w.write(&path).unwrap();
        path
    }

    fn load_err(path: &Path) -> String {
        match Model::load(path, &RefBackend, |_, _| {}) {
            Ok(_) => panic!("{} loaded", path.display()),
            Err(e) => e.to_string(),
        }
    }

    fn assert_has(msg: &str, parts: &[&str]) {
        for p in parts {
            assert!(msg.contains(p), "{p:?} missing from: {msg}");
        }
    }

    fn set(key: &'static str, v: MetadataValue) -> impl FnOnce(&mut GgufWriter, &GgufFile) {
        move |w, _| w.set(key, v).unwrap()
    }

    #[test]
    fn base_model_loads_and_its_tokenizer_matches() {
        let dir = tempfile::tempdir().unwrap();
        let path = base(dir.path());
        let f = GgufFile::open(&path).unwrap();
        assert_eq!(f.tensor_infos().len(), 24);
        let tok = tokenizer_from_gguf(&f).unwrap();
        assert_eq!(tok.n_tokens(), 320);
        // "▁t" "h" "e": the toy vocabulary has single letters and ▁-letters only.
        let ids = tok.encode("the", true);
        assert_eq!(
            ids,
            [
                1,
                259 + 2 * (b't' - b'a') as u32 + 2,
                259 + 2 * (b'h' - b'a') as u32 + 1,
                259 + 2 * (b'e' - b'a') as u32 + 1
            ]
        );
        let m = Model::load(&path, &RefBackend, |_, _| {}).unwrap();
        assert_eq!(
            (m.config.vocab, m.config.context, m.config.layers),
            (320, 2048, 2)
        );
    }

    #[test]
    fn sizes_from_the_file_are_checked_before_allocating() {
        let dir = tempfile::tempdir().unwrap();
        let b = base(dir.path());
        // 24 tensors hold at most (24 - 2) / 11 = 2 layers.
        for (n, v) in [("1e9", 1_000_000_000u64), ("3", 3), ("max", u64::MAX)] {
            let p = edited(
                &b,
                &format!("layers-{n}.gguf"),
                set("bitnet.block_count", MetadataValue::U64(v)),
            );
            assert_has(
                &load_err(&p),
                &[
                    &format!("bitnet.block_count = {v}"),
                    "holds 24 tensors",
                    "at most 2 layers",
                ],
            );
        }
        let p = edited(
            &b,
            "layers-0.gguf",
            set("bitnet.block_count", MetadataValue::U32(0)),
        );
        assert_has(&load_err(&p), &["bitnet.block_count = 0"]);
        let p = edited(
            &b,
            "hidden-0.gguf",
            set("bitnet.embedding_length", MetadataValue::U32(0)),
        );
        assert_has(&load_err(&p), &["bitnet.embedding_length is 0"]);
        let p = edited(
            &b,
            "hidden-512.gguf",
            set("bitnet.embedding_length", MetadataValue::U32(512)),
        );
        assert_has(
            &load_err(&p),
            &["token_embd.weight", "[256, 320]", "= 512 values long"],
        );
        // 768 is not the 512 rows of the FFN tensors: the first one met is named, with the keys.
        let p = edited(
            &b,
            "ffn-768.gguf",
            set("bitnet.feed_forward_length", MetadataValue::U32(768)),
        );
        assert_has(
            &load_err(&p),
            &[
                "blk.0.ffn_gate.weight",
                "[256, 512]",
                "[256, 768]",
                "bitnet.feed_forward_length = 768",
            ],
        );
        let p = edited(
            &b,
            "ffn-0.gguf",
            set("bitnet.feed_forward_length", MetadataValue::U32(0)),
        );
        assert_has(&load_err(&p), &["bitnet.feed_forward_length is 0"]);
        for h in [0u32, 3, 512] {
            let p = edited(
                &b,
                &format!("heads-{h}.gguf"),
                set("bitnet.attention.head_count", MetadataValue::U32(h)),
            );
            assert_has(
                &load_err(&p),
                &[&format!(
                    "bitnet.attention.head_count = {h} does not divide"
                )],
            );
        }
        let p = edited(
            &b,
            "kv-3.gguf",
            set("bitnet.attention.head_count_kv", MetadataValue::U32(3)),
        );
        assert_has(&load_err(&p), &["bitnet.attention.head_count_kv = 3"]);
    }

    #[test]
    fn context_length_is_bounded_at_load_and_enforced_at_run_time() {
        let dir = tempfile::tempdir().unwrap();
        let b = base(dir.path());
        for v in [0u64, MAX_CONTEXT as u64 + 1, u64::MAX] {
            let p = edited(
                &b,
                "ctx.gguf",
                set("bitnet.context_length", MetadataValue::U64(v)),
            );
            assert_has(
                &load_err(&p),
                &[&format!("bitnet.context_length = {v}"), "1..=1048576"],
            );
        }
        // The upper edge loads (nothing is reserved for it).
        let p = edited(
            &b,
            "ctx-max.gguf",
            set(
                "bitnet.context_length",
                MetadataValue::U64(MAX_CONTEXT as u64),
            ),
        );
        assert!(Model::load(&p, &RefBackend, |_, _| {}).is_ok());
        let p = edited(
            &b,
            "ctx-4.gguf",
            set("bitnet.context_length", MetadataValue::U32(4)),
        );
        let m = Model::load(&p, &RefBackend, |_, _| {}).unwrap();
        let e = Session::new(&m, 1)
            .forward(&[1, 2, 3, 4, 5], false)
            .unwrap_err()
            .to_string();
        assert_has(&e, &["positions 0..5", "context length 4"]);
        let mut s = Session::new(&m, 1);
        s.forward(&[1, 2, 3], false).unwrap();
        s.forward(&[4], false).unwrap();
        let e = s.forward(&[5], false).unwrap_err().to_string();
        assert_has(&e, &["positions 4..5", "context length 4"]);
    }

    #[test]
    fn kv_cache_size_is_checked() {
        let mut c = KvCache::new(2, 4);
        let e = c.reserve(usize::MAX / 2, 64).unwrap_err().to_string();
        assert_has(&e, &["KV cache", "overflows"]);
        // 2^40 positions × 64 values × 16 heads × 4 bytes = 2^52 bytes: not to be had.
        let e = c.reserve(1 << 40, 64).unwrap_err().to_string();
        assert_has(&e, &["KV cache", "GiB", "cannot be allocated"]);
        c.reserve(10, 64).unwrap();
        assert!(c.k[1][3].capacity() >= 640 && c.k[1][3].is_empty());
    }

    #[test]
    fn float_hyper_parameters_must_be_finite_and_positive() {
        let dir = tempfile::tempdir().unwrap();
        let b = base(dir.path());
        let eps = "bitnet.attention.layer_norm_rms_epsilon";
        for (n, v) in [
            ("nan", f32::NAN),
            ("zero", 0.0),
            ("neg", -1e-5),
            ("inf", f32::INFINITY),
        ] {
            let p = edited(
                &b,
                &format!("eps-{n}.gguf"),
                set(eps, MetadataValue::F32(v)),
            );
            assert_has(
                &load_err(&p),
                &[&format!("{eps} = {v}"), "finite epsilon > 0"],
            );
        }
        for (n, v) in [
            ("nan", f32::NAN),
            ("zero", 0.0),
            ("one", 1.0),
            ("inf", f32::INFINITY),
        ] {
            let p = edited(
                &b,
                &format!("theta-{n}.gguf"),
                set("bitnet.rope.freq_base", MetadataValue::F32(v)),
            );
            assert_has(
                &load_err(&p),
                &[&format!("bitnet.rope.freq_base = {v}"), "finite base > 1"],
            );
        }
        // Absent: the default 10000 applies.
        let p = edited(&b, "theta-absent.gguf", |w, _| {
            assert!(w.remove("bitnet.rope.freq_base"))
        });
        assert_eq!(
            Model::load(&p, &RefBackend, |_, _| {})
                .unwrap()
                .config
                .rope_theta,
            10000.0
        );
    }

    #[test]
    fn rope_dimension_count_must_be_the_head_dimension() {
        let dir = tempfile::tempdir().unwrap();
        let b = base(dir.path());
        // hidden 256 / 4 heads = 64.
        for v in [0u32, 32, 128] {
            let p = edited(
                &b,
                "rot.gguf",
                set("bitnet.rope.dimension_count", MetadataValue::U32(v)),
            );
            assert_has(
                &load_err(&p),
                &[
                    &format!("bitnet.rope.dimension_count = {v}"),
                    "heads of 64",
                    "partial rotary",
                ],
            );
        }
        let p = edited(&b, "rot-absent.gguf", |w, _| {
            assert!(w.remove("bitnet.rope.dimension_count"))
        });
        assert!(Model::load(&p, &RefBackend, |_, _| {}).is_ok());
    }

    #[test]
    fn vocabulary_must_match_the_embedding_rows() {
        let dir = tempfile::tempdir().unwrap();
        let b = base(dir.path());
        let p = edited(&b, "tokens-short.gguf", |w, f| {
            let t = f.get_str_array("tokenizer.ggml.tokens").unwrap()[..300].to_vec();
            w.set(
                "tokenizer.ggml.tokens",
                MetadataValue::Array(MetadataArray::String(t)),
            )
            .unwrap();
        });
        assert_has(
            &load_err(&p),
            &["tokenizer.ggml.tokens has 300 tokens", "320 rows"],
        );
        let p = edited(
            &b,
            "vocab-size.gguf",
            set("bitnet.vocab_size", MetadataValue::U32(32002)),
        );
        assert_has(&load_err(&p), &["bitnet.vocab_size = 32002", "320 rows"]);
    }

    /// `token_embd.weight` re-encoded from `values` (hidden-major rows) with `dims`.
    fn f16_bytes(values: &[f32]) -> Vec<u8> {
        values
            .iter()
            .flat_map(|&v| f16::from_f32(v).to_le_bytes())
            .collect()
    }

    #[test]
    fn tensors_are_checked_for_type_shape_and_finite_values() {
        let dir = tempfile::tempdir().unwrap();
        let b = base(dir.path());
        // NaN and inf in the embeddings at row 7, column 3 (flat 7·256 + 3).
        for (n, bad, shown) in [("nan", f32::NAN, "NaN"), ("inf", f32::NEG_INFINITY, "-inf")] {
            let p = edited(&b, &format!("embd-{n}.gguf"), |w, f| {
                let mut v = f.tensor("token_embd.weight").unwrap().to_f32().unwrap();
                v[7 * 256 + 3] = bad;
                w.replace_tensor(
                    "token_embd.weight",
                    &[256, 320],
                    GgmlType::F16,
                    f16_bytes(&v),
                )
                .unwrap();
            });
            assert_has(
                &load_err(&p),
                &["token_embd.weight", shown, "row 7 column 3"],
            );
        }
        // F32 embeddings are checked the same way.
        let p = edited(&b, "embd-f32-nan.gguf", |w, f| {
            let mut v = f.tensor("token_embd.weight").unwrap().to_f32().unwrap();
            v[319 * 256 + 255] = f32::NAN;
            let bytes = v.iter().flat_map(|x| x.to_le_bytes()).collect();
            w.replace_tensor("token_embd.weight", &[256, 320], GgmlType::F32, bytes)
                .unwrap();
        });
        assert_has(
            &load_err(&p),
            &["token_embd.weight", "NaN", "row 319 column 255"],
        );
        // A norm with inf at element 5; another with NaN at element 0.
        for (name, at, bad) in [
            ("blk.1.ffn_norm.weight", 5usize, f32::INFINITY),
            ("output_norm.weight", 0, f32::NAN),
        ] {
            let p = edited(&b, "norm.gguf", |w, f| {
                let mut v = f.tensor(name).unwrap().to_f32().unwrap();
                v[at] = bad;
                w.replace_tensor(
                    name,
                    &[256],
                    GgmlType::F32,
                    v.iter().flat_map(|x| x.to_le_bytes()).collect(),
                )
                .unwrap();
            });
            assert_has(&load_err(&p), &[name, &format!("{bad} at element {at}")]);
        }
        // A norm stored as TQ2_0 (256 values: one 66-byte block of ones, d = 1).
        let p = edited(&b, "norm-tq2.gguf", |w, _| {
            let mut block = vec![0xaau8; 64];
            block.extend_from_slice(&f16::from_f32(1.0).to_le_bytes());
            w.replace_tensor("blk.0.attn_norm.weight", &[256], GgmlType::TQ2_0, block)
                .unwrap();
        });
        assert_has(
            &load_err(&p),
            &["blk.0.attn_norm.weight", "TQ2_0", "F32, F16 or BF16"],
        );
        // Transposed embeddings: [320, 256] instead of [256, 320].
        let p = edited(&b, "embd-t.gguf", |w, f| {
            let v = f.tensor("token_embd.weight").unwrap().to_f32().unwrap();
            let t: Vec<f32> = (0..256)
                .flat_map(|c| (0..320).map(move |r| (r, c)))
                .map(|(r, c)| v[r * 256 + c])
                .collect();
            w.replace_tensor(
                "token_embd.weight",
                &[320, 256],
                GgmlType::F16,
                f16_bytes(&t),
            )
            .unwrap();
        });
        assert_has(
            &load_err(&p),
            &["token_embd.weight", "[320, 256]", "transposed"],
        );
        // A NaN projection scale tensor.
        let p = edited(&b, "scale-nan.gguf", |w, _| {
            w.add_raw_tensor(
                "blk.0.attn_q.scale",
                &[1],
                GgmlType::F32,
                f32::NAN.to_le_bytes().to_vec(),
            )
            .unwrap();
        });
        assert_has(&load_err(&p), &["blk.0.attn_q", "scale", "finite"]);
        // The per-tensor γ of a TQ2_0 projection (each block's f16 d) set to inf.
        let p = edited(&b, "gamma-inf.gguf", |w, f| {
            let mut data = f.tensor("blk.1.ffn_up.weight").unwrap().data().to_vec();
            for block in data.chunks_exact_mut(66) {
                block[64..].copy_from_slice(&f16::INFINITY.to_le_bytes());
            }
            w.replace_tensor("blk.1.ffn_up.weight", &[256, 512], GgmlType::TQ2_0, data)
                .unwrap();
        });
        assert_has(&load_err(&p), &["blk.1.ffn_up.weight", "inf", "finite"]);
    }

    #[test]
    fn a_directory_is_not_a_model() {
        let dir = tempfile::tempdir().unwrap();
        let e = load_err(dir.path());
        assert_has(&e, &["is a directory", "not a GGUF file"]);
    }
}

/// A prompt run as one batch (every BitLinear on the int8 prefill kernel,
/// attention tiled over the prompt's tokens) gives the logits of
/// token-by-token decoding (LUT kernels, one token per call) bit for bit, on
/// the `tiny` shape and on the `700m` shape (its matrices, heads and
/// vocabulary; 2 of its 24 layers to keep the test short), with 1 and 2
/// threads, f32 and f16 KV caches. The prompt is longer than one attention
/// tile and is split in two batches, so later batches start after cached
/// positions.
#[test]
fn prompt_batches_equal_token_by_token_decoding_bit_for_bit() {
    use lutcore_sw::kernels::prefill::PREFILL_MIN_BATCH;
    use lutcore_sw::model::{KvCache, KvPrecision};
    let dir = tempfile::tempdir().unwrap();
    let tokens: Vec<u32> = (0..37u32).map(|i| (i * 7919 + 13) % 32000).collect();
    let (first, second) = tokens.split_at(21);
    assert!(second.len() >= PREFILL_MIN_BATCH);
    for name in ["tiny", "700m"] {
        let mut shape = SynthShape::named(name).unwrap();
        shape.layers = shape.layers.min(2);
        let path = dir.path().join(format!("{name}.gguf"));
        write_model(&shape, None, 5, &path, |_, _| {}).unwrap();
        for threads in [1, 2] {
            let model = Model::load(&path, &LutBackend { threads }, |_, _| {}).unwrap();
            let c = &model.config;
            for kv in [KvPrecision::F32, KvPrecision::F16] {
                let session = || {
                    let mut s = Session::new(&model, threads);
                    s.cache = KvCache::with_precision(c.layers, c.kv_heads, kv);
                    s
                };
                let mut s = session();
                let mut batched = s.forward(first, true).unwrap();
                batched.extend(s.forward(second, true).unwrap());
                let mut s = session();
                let single: Vec<Vec<f32>> = tokens
                    .iter()
                    .flat_map(|&t| s.forward(&[t], true).unwrap())
                    .collect();
                assert_eq!(batched.len(), single.len());
                for (pos, (a, b)) in batched.iter().zip(&single).enumerate() {
                    let differ = a
                        .iter()
                        .zip(b)
                        .filter(|(x, y)| x.to_bits() != y.to_bits())
                        .count();
                    assert_eq!(
                        differ, 0,
                        "{name}, {threads} thread(s), {kv:?} KV: {differ} logits of position {pos} differ between the prompt batch and token-by-token decoding"
                    );
                }
            }
        }
    }
}

/// An f16 KV cache stores keys and values rounded to f16: with llama.cpp's
/// numerics (which round them to f16 already) the logits equal the f32
/// cache's bit for bit; with BitNet's they differ (the precision is not ignored).
#[test]
fn f16_kv_cache_rounds_keys_and_values_only() {
    use lutcore_sw::model::{KvCache, KvPrecision};
    let dir = tempfile::tempdir().unwrap();
    let path = synth(&small_shape("bitnet", 2, GgmlType::TQ2_0), dir.path());
    let model = Model::load(&path, &LutBackend { threads: 1 }, |_, _| {}).unwrap();
    let c = &model.config;
    let run = |numerics, kv| {
        let mut s = Session::new(&model, 1);
        s.numerics = numerics;
        s.cache = KvCache::with_precision(c.layers, c.kv_heads, kv);
        assert_eq!(s.cache.precision(), kv);
        s.forward(&TOKENS, true).unwrap()
    };
    assert_eq!(
        run(Numerics::LlamaCpp, KvPrecision::F32),
        run(Numerics::LlamaCpp, KvPrecision::F16)
    );
    assert_ne!(
        run(Numerics::BitNet, KvPrecision::F32),
        run(Numerics::BitNet, KvPrecision::F16)
    );
}
