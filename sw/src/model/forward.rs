//! The BitNet forward pass (llama.cpp's `bitnet` graph; the 2B-4T variant
//! differs only in the FFN activation and grouped-query attention):
//!
//! ```text
//! x = embed[token]
//! per layer:  h = rmsnorm(x)·attn_norm;  q,k,v = BitLinear(h);  RoPE (NEOX pairs i, i+d/2)
//!             a = causal attention over the KV cache;  x += BitLinear_o(rmsnorm(a)·attn_sub_norm)
//!             h = rmsnorm(x)·ffn_norm;  f = act(BitLinear_gate(h)) · BitLinear_up(h)
//!             x += BitLinear_down(rmsnorm(f)·ffn_sub_norm)
//! logits = embed · (rmsnorm(x)·output_norm)            (tied head)
//! ```
//! BitLinear quantizes each token's input to int8 with absmax
//! ([`crate::dtype::QuantizedActivations`]), runs the exact integer matmul on the backend,
//! and scales by γ · (max|x| / 127). With [`Numerics::Fp`] it instead rounds the
//! input to the FP format (FP16, nearest-even), runs the floating-point matmul
//! ([`crate::backend::Linear::gemm_fp`], binary32 results) and scales by γ
//! (docs/decisions.md §19).
//!
//! The parts live beside this file: activation quantization in [`super::quant`],
//! RMSNorm, RoPE and the f32 SIMD helpers in [`super::f32ops`], the output head in
//! [`super::head`], the cache in [`super::kv_cache`]. Every SIMD path runs the ISA
//! [`Session::isa`] selects ([`Dispatch`]).

use super::f32ops::{axpy, dot, rmsnorm, rope, rope_angles, round_f16, silu_mul};
use super::kv_cache::HeadRows;
use super::par::for_pieces;
use super::quant::QuantizedTokens;
use super::{BitLinear, FfnAct, HeadMode, KvCache, Model, ModelError};
use crate::backend::FpMatmul;
use crate::kernels::{Dispatch, Isa};

/// A decoding session: the model, its KV cache, the thread count for the
/// float parts (logits, attention) and the ISA of the SIMD paths.
pub struct Session<'m> {
    /// The model.
    pub model: &'m Model,
    /// The cache.
    pub cache: KvCache,
    /// Threads for the output head.
    pub threads: usize,
    /// How the tied output head is computed ([`HeadMode::Exact`] by default).
    pub head: HeadMode,
    /// Activation quantization and roundings ([`Numerics::BitNet`] by default).
    pub numerics: Numerics,
    /// Instruction set of the quantization, f32 and output-head paths
    /// ([`Isa::detect`] by default, the selection the model's LUT matrices were
    /// packed with by [`crate::backend::LutBackend`]); must be available.
    pub isa: Isa,
}

/// Which roundings a forward pass makes besides the ternary weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Numerics {
    /// BitNet b1.58's definition: per-token absmax int8 activations, f32 everywhere else.
    #[default]
    BitNet,
    /// llama.cpp's on TQ1_0/TQ2_0 files, for parity checks against it: activations
    /// quantized per 256-value block as ggml's Q8_K ([`QuantizedTokens::q8k`]), q, k, v
    /// and the softmax weights rounded to f16 (its f16 KV cache), the head's input
    /// rounded to f16. Needs every BitLinear's K to be a multiple of 256.
    LlamaCpp,
    /// Floating-point BitLinear activations: each input value rounded to
    /// `fmt` (nearest-even, no scale), the matmul in binary32 in the datapath's
    /// order ([`FpMatmul`]), the result times γ; f32 everywhere else.
    Fp(FpMatmul),
}

/// Apply BitLinears of the same input `xs` (`n × k`, token-major) under
/// `numerics`: int8 quantization and [`bitlinear_many`], or FP codes and
/// [`bitlinear_fp_many`].
fn bitlinear_in(
    cpu: Dispatch,
    numerics: Numerics,
    ls: &[&BitLinear],
    xs: &[f32],
    n: usize,
    k: usize,
) -> Result<Vec<Vec<f32>>, ModelError> {
    match numerics {
        Numerics::Fp(fp) => bitlinear_fp_many(ls, fp, &fp_codes(fp, &xs[..n * k]), n),
        _ => bitlinear_many(ls, &QuantizedTokens::with(cpu, numerics, xs, n, k)?, n),
    }
}

/// `xs` rounded to `fp.fmt`, nearest-even (raw codes): a BitLinear's FP input.
pub fn fp_codes(fp: FpMatmul, xs: &[f32]) -> Vec<u32> {
    xs.iter().map(|&v| fp.fmt.round(f64::from(v))).collect()
}

/// Several BitLinears of the same FP activation codes (`x`, `n × cols`):
/// [`crate::backend::Linear::gemm_fp`] on each, the binary32 results times γ.
pub fn bitlinear_fp_many(
    ls: &[&BitLinear],
    fp: FpMatmul,
    x: &[u32],
    n: usize,
) -> Result<Vec<Vec<f32>>, ModelError> {
    ls.iter()
        .map(|l| {
            let mut bits = vec![0u32; n * l.mat.rows()];
            l.mat.gemm_fp(fp, x, n, &mut bits).map_err(|e| match e {
                crate::backend::BackendError::Failed {
                    backend, detail, ..
                } => ModelError::Backend(crate::backend::BackendError::Failed {
                    backend,
                    matrix: l.name.clone(),
                    detail,
                }),
            })?;
            Ok(bits.iter().map(|&b| f32::from_bits(b) * l.scale).collect())
        })
        .collect()
}

/// Apply a BitLinear to `n` quantized tokens (`q`, `n × cols`; quantize with
/// [`QuantizedTokens::with`]): the result is `n × rows`.
pub fn bitlinear_q(l: &BitLinear, q: &QuantizedTokens, n: usize) -> Result<Vec<f32>, ModelError> {
    Ok(bitlinear_many(&[l], q, n)?.pop().expect("one output"))
}

/// Several BitLinears of the same input at once (a layer's q/k/v, or gate/up):
/// one [`crate::backend::gemm_many`] call, so LUT matrices share the table
/// build and one pass of the thread pool. Same values as [`bitlinear_q`] each.
/// With several scales per token (Q8_K), the integer sums of every block come
/// from one call on the per-block split of `q` (`QuantizedTokens::split_blocks`) and are scaled and added in f32.
pub fn bitlinear_many(
    ls: &[&BitLinear],
    q: &QuantizedTokens,
    n: usize,
) -> Result<Vec<Vec<f32>>, ModelError> {
    let per = q.blocks_per_token(n);
    let split;
    let x = if per == 1 {
        &q.values
    } else {
        split = q.split_blocks(n);
        &split
    };
    let mut accs: Vec<Vec<i32>> = ls
        .iter()
        .map(|l| vec![0i32; n * per * l.mat.rows()])
        .collect();
    let mats: Vec<&dyn crate::backend::Linear> = ls.iter().map(|l| &*l.mat).collect();
    let mut outs: Vec<&mut [i32]> = accs.iter_mut().map(|a| a.as_mut_slice()).collect();
    crate::backend::gemm_many(&mats, x, n * per, &mut outs).map_err(|e| match e {
        crate::backend::BackendError::Failed {
            backend, detail, ..
        } => {
            let names: Vec<&str> = ls.iter().map(|l| l.name.as_str()).collect();
            ModelError::Backend(crate::backend::BackendError::Failed {
                backend,
                matrix: names.join("+"),
                detail,
            })
        }
    })?;
    Ok(ls
        .iter()
        .zip(&accs)
        .map(|(l, acc)| {
            let m = l.mat.rows();
            let mut out = vec![0f32; n * m];
            for ((o, a), s) in out
                .chunks_exact_mut(m)
                .zip(acc.chunks_exact(m * per))
                .zip(q.scales.chunks_exact(per))
            {
                for (b, (a, s)) in a.chunks_exact(m).zip(s).enumerate() {
                    let f = l.scale * s;
                    for (o, &v) in o.iter_mut().zip(a) {
                        *o = if b == 0 {
                            v as f32 * f
                        } else {
                            *o + v as f32 * f
                        };
                    }
                }
            }
            out
        })
        .collect())
}

/// Query tokens per attention tile: every key and value row of a head is
/// loaded once per tile and used by all of its tokens (from L1), instead of
/// once per token.
const ATTN_TILE: usize = 16;

/// Shape of one attention call.
#[derive(Clone, Copy)]
struct AttnShape {
    /// Query heads.
    heads: usize,
    /// Query heads per KV head.
    group: usize,
    /// Head dimension.
    d: usize,
    /// Positions in the cache before these tokens.
    p0: usize,
    /// Tokens (their keys and values are in the cache already).
    n: usize,
    /// Round the softmax weights to f16 (llama.cpp's numerics).
    llama: bool,
}

/// Causal attention of `n` query tokens (`q`, token-major, `n × heads·d`)
/// over a layer's cache (`kc`, `vc` per KV head): token `t` attends to
/// positions `0 ..= p0 + t`. Returns `n × heads·d`, token-major.
///
/// The work is cut per head into tiles of up to [`ATTN_TILE`] tokens, which
/// the pool's threads claim. Within a tile the loops run over positions
/// outside and tokens inside, but each token's own operations (its dot
/// products, its softmax, its `out += w·v` in position order) are the same
/// as for a tile of one token, so the result does not depend on how many
/// tokens a call holds: a prompt gives the logits of token-by-token decoding
/// bit for bit.
fn attention(
    cpu: Dispatch,
    s: AttnShape,
    q: &[f32],
    kc: &[HeadRows],
    vc: &[HeadRows],
    threads: usize,
) -> Vec<f32> {
    let AttnShape {
        heads,
        group,
        d,
        p0,
        n,
        llama,
    } = s;
    let h = heads * d;
    let inv = 1.0 / (d as f32).sqrt();
    // Head-major output (head, token, d): a claimed run of units is contiguous.
    let mut out_hm = vec![0f32; n * h];
    let tile = |hd: usize, t0: usize, out: &mut [f32], scratch: &mut Scratch| {
        let tt = out.len() / d;
        let len_max = p0 + t0 + tt;
        let Scratch { scores, kbuf, vbuf } = scratch;
        let kh = kc[hd / group].f32_prefix(len_max * d, kbuf);
        let vh = vc[hd / group].f32_prefix(len_max * d, vbuf);
        scores.clear();
        scores.resize(tt * len_max, 0.0);
        for (j, kp) in kh.chunks_exact(d).enumerate() {
            // Token i of the tile sees positions 0 ..= p0 + t0 + i.
            for i in j.saturating_sub(p0 + t0)..tt {
                let t = t0 + i;
                scores[i * len_max + j] =
                    dot(cpu, &q[t * h + hd * d..t * h + (hd + 1) * d], kp) * inv;
            }
        }
        let mut sums = [0f32; ATTN_TILE];
        for (i, sum) in sums[..tt].iter_mut().enumerate() {
            let row = &mut scores[i * len_max..i * len_max + p0 + t0 + i + 1];
            let max = row.iter().fold(f32::NEG_INFINITY, |m, &s| m.max(s));
            for s in row.iter_mut() {
                *s = (*s - max).exp();
                *sum += *s;
            }
        }
        for (j, vp) in vh.chunks_exact(d).enumerate() {
            for i in j.saturating_sub(p0 + t0)..tt {
                let sv = scores[i * len_max + j] / sums[i];
                // llama.cpp multiplies the f16 V by the weights converted to f16.
                let w = if llama { round_f16(sv) } else { sv };
                axpy(cpu, &mut out[i * d..(i + 1) * d], w, vp);
            }
        }
    };
    let units = n * heads;
    let work = units * (p0 + n) * d;
    let pool = if threads > 1 && work >= 1 << 14 {
        crate::kernels::shared_pool(threads).ok()
    } else {
        None
    };
    for_pieces(pool.as_deref(), &mut out_hm, d, &|lo, outs| {
        let mut scratch = Scratch::default();
        // Units lo/d .. are (head, token) pairs, head-major; cut the run
        // into tiles of one head.
        let (mut u, end) = (lo / d, lo / d + outs.len() / d);
        let mut rest = outs;
        while u < end {
            let (hd, t0) = (u / n, u % n);
            let tt = ATTN_TILE.min(n - t0).min(end - u);
            let (cur, next) = rest.split_at_mut(tt * d);
            tile(hd, t0, cur, &mut scratch);
            rest = next;
            u += tt;
        }
    });
    let mut att = vec![0f32; n * h];
    for hd in 0..heads {
        for t in 0..n {
            att[t * h + hd * d..t * h + (hd + 1) * d]
                .copy_from_slice(&out_hm[(hd * n + t) * d..(hd * n + t + 1) * d]);
        }
    }
    att
}

/// Per-thread buffers of [`attention`].
#[derive(Default)]
struct Scratch {
    scores: Vec<f32>,
    kbuf: Vec<f32>,
    vbuf: Vec<f32>,
}

impl<'m> Session<'m> {
    /// A new session with an empty cache.
    pub fn new(model: &'m Model, threads: usize) -> Self {
        super::heap::keep_buffers();
        let l = model.config.layers;
        Session {
            model,
            cache: KvCache::new(l, model.config.kv_heads),
            threads: threads.max(1),
            head: HeadMode::Exact,
            numerics: Numerics::BitNet,
            isa: Isa::detect(),
        }
    }

    /// Run `tokens` at the next positions; returns the logits of every token
    /// if `all_logits`, else of the last one only.
    pub fn forward(
        &mut self,
        tokens: &[u32],
        all_logits: bool,
    ) -> Result<Vec<Vec<f32>>, ModelError> {
        let c = &self.model.config;
        let n = tokens.len();
        if n == 0 {
            return Err(ModelError::Input("forward needs at least one token".into()));
        }
        if let Some(&t) = tokens.iter().find(|&&t| t as usize >= c.vocab) {
            return Err(ModelError::Input(format!(
                "token id {t} is outside the vocabulary (size {}, ids 0..={})",
                c.vocab,
                c.vocab - 1
            )));
        }
        // The context length is a hard limit: RoPE and attention past it are untrained.
        let end = self.cache.len.saturating_add(n);
        if end > c.context {
            return Err(ModelError::Input(format!(
                "positions {}..{end} exceed the model's context length {} ({}.context_length): {} tokens already in the cache, {n} more asked for; start a new session or shorten the input",
                self.cache.len, c.context, c.arch, self.cache.len
            )));
        }
        let cpu =
            Dispatch::new(self.isa).map_err(|e| ModelError::Input(format!("session ISA: {e}")))?;
        let (h, d, kvd) = (c.hidden, c.head_dim, c.kv_dim());
        let p0 = self.cache.len;
        let numerics = self.numerics;
        let llama = numerics == Numerics::LlamaCpp;
        let mut x = vec![0f32; n * h];
        for (t, &tok) in tokens.iter().enumerate() {
            self.model
                .embeddings
                .row_into(tok as usize, &mut x[t * h..(t + 1) * h]);
        }
        let angles: Vec<Vec<(f32, f32)>> = (0..n)
            .map(|t| rope_angles(p0 + t, d, c.rope_theta))
            .collect();
        for (li, layer) in self.model.layers.iter().enumerate() {
            // Attention.
            let mut hs = x.clone();
            for t in 0..n {
                rmsnorm(&mut hs[t * h..(t + 1) * h], &layer.attn_norm, c.eps);
            }
            let mut qkv =
                bitlinear_in(cpu, numerics, &[&layer.wq, &layer.wk, &layer.wv], &hs, n, h)?
                    .into_iter();
            let (mut q, mut k, mut v) = (
                qkv.next().unwrap(),
                qkv.next().unwrap(),
                qkv.next().unwrap(),
            );
            for (t, angles) in angles.iter().enumerate() {
                for hd in 0..c.heads {
                    rope(&mut q[t * h + hd * d..t * h + (hd + 1) * d], angles);
                }
                for hd in 0..c.kv_heads {
                    rope(&mut k[t * kvd + hd * d..t * kvd + (hd + 1) * d], angles);
                }
            }
            if llama {
                // llama.cpp's f16 KV cache (and q converted to f16 for the K·q product).
                for v in q.iter_mut().chain(k.iter_mut()).chain(v.iter_mut()) {
                    *v = round_f16(*v);
                }
            }
            self.cache.append(li, &k, &v, d);
            let mut att = attention(
                cpu,
                AttnShape {
                    heads: c.heads,
                    group: c.heads / c.kv_heads,
                    d,
                    p0,
                    n,
                    llama,
                },
                &q,
                &self.cache.k[li],
                &self.cache.v[li],
                self.threads,
            );
            for t in 0..n {
                rmsnorm(&mut att[t * h..(t + 1) * h], &layer.attn_sub_norm, c.eps);
            }
            let o = bitlinear_in(cpu, numerics, &[&layer.wo], &att, n, h)?
                .pop()
                .expect("one output");
            for (xv, ov) in x.iter_mut().zip(&o) {
                *xv += ov;
            }
            // FFN.
            let mut hs = x.clone();
            for t in 0..n {
                rmsnorm(&mut hs[t * h..(t + 1) * h], &layer.ffn_norm, c.eps);
            }
            let mut gu =
                bitlinear_in(cpu, numerics, &[&layer.w_gate, &layer.w_up], &hs, n, h)?.into_iter();
            let (gate, up) = (gu.next().unwrap(), gu.next().unwrap());
            let mut f: Vec<f32> = match c.act {
                FfnAct::Silu => silu_mul(cpu, &gate, &up),
                FfnAct::Relu2 => gate
                    .iter()
                    .zip(&up)
                    .map(|(&g, &u)| g.max(0.0) * g.max(0.0) * u)
                    .collect(),
            };
            for t in 0..n {
                rmsnorm(
                    &mut f[t * c.ffn..(t + 1) * c.ffn],
                    &layer.ffn_sub_norm,
                    c.eps,
                );
            }
            let down = bitlinear_in(cpu, numerics, &[&layer.w_down], &f, n, c.ffn)?
                .pop()
                .expect("one output");
            for (xv, dv) in x.iter_mut().zip(&down) {
                *xv += dv;
            }
        }
        self.cache.len += n;
        let first = if all_logits { 0 } else { n - 1 };
        (first..n)
            .map(|t| {
                let mut hv = x[t * h..(t + 1) * h].to_vec();
                rmsnorm(&mut hv, &self.model.output_norm, c.eps);
                if llama {
                    // ggml converts the head's input to f16, the F16 weights' dot type.
                    hv.iter_mut().for_each(|v| *v = round_f16(*v));
                }
                Ok(self.logits(cpu, &hv))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Backend, BackendError, Linear, LutBackend};
    use crate::gguf::GgmlType;
    use crate::kernels::{ran, SimdPath};
    use crate::model::synth::{write_model, SynthShape};
    use lutcore_contract::layout::WeightMatrix;

    /// Largest difference between a forward pass on [`Isa::Generic`] and one
    /// on the best ISA, in standard deviations of the logits. The integer
    /// parts (matmuls, quantization, the int8 head's dot products) agree bit
    /// for bit; the f32 parts do not: the AVX2 dot products, `y += a·x` and
    /// f16 dots sum in another order with fused multiply-adds, and SiLU uses a
    /// polynomial `e^x` (5e-7 relative). Those ulp-sized differences reach the
    /// next layer's int8 activation quantization, where a value next to a
    /// rounding boundary can move one step (1/127 of its token's maximum),
    /// which the bound leaves room for. Measured on the model below: 8e-7
    /// (no step moved); a wrong result on either path would be of order 1.
    const GENERIC_VS_SIMD_LOGITS: f64 = 1e-3;

    /// [`LutBackend`] with every matrix packed for one ISA, on one thread.
    struct IsaBackend(Isa);

    impl Backend for IsaBackend {
        fn name(&self) -> String {
            format!("lut on {}", self.0)
        }
        fn prepare(
            &self,
            name: &str,
            w: &WeightMatrix,
        ) -> Result<std::sync::Arc<dyn Linear>, BackendError> {
            LutBackend { threads: 1 }.prepare_for(self.0, name, w)
        }
    }

    /// Logits of a 5-token prompt (all positions) and 3 greedy steps, with
    /// both output heads, of a session on `isa` (one thread, so that every
    /// path runs on this thread and [`ran`] sees it).
    fn run(m: &Model, isa: Isa, steps: &[u32]) -> Vec<Vec<f32>> {
        let mut all = Vec::new();
        for head in [HeadMode::Exact, HeadMode::Int8Refined] {
            let mut s = Session::new(m, 1);
            s.isa = isa;
            s.head = head;
            all.extend(s.forward(&[1, 17, 250, 3, 999], true).unwrap());
            for &t in steps {
                all.extend(s.forward(&[t], false).unwrap());
            }
        }
        all
    }

    /// One switch selects every SIMD path: a model packed for and run on
    /// [`Isa::Generic`] reaches only generic code on every path, one on the
    /// best ISA reaches that ISA's code on every path it has; the integer
    /// parts agree bit for bit and the logits within [`GENERIC_VS_SIMD_LOGITS`].
    #[test]
    fn generic_selection_reaches_every_path_and_agrees_with_the_best_isa() {
        let dir = tempfile::tempdir().unwrap();
        let shape = SynthShape {
            name: "isa-test".into(),
            arch: "bitnet",
            hidden: 256,
            ffn: 512,
            layers: 2,
            heads: 4,
            kv_heads: 2,
            vocab: 1000,
            rope_theta: 1e4,
            ternary: GgmlType::TQ2_0,
            tokenizer: "spm",
        };
        let path = dir.path().join("m.gguf");
        write_model(&shape, None, 11, &path, |_, _| {}).unwrap();
        let best = *Isa::available().last().unwrap();
        let model = |isa| Model::load(&path, &IsaBackend(isa), |_, _| {}).unwrap();
        let (mg, mb) = (model(Isa::Generic), model(best));
        // Every path but the bit-plane LUT kernel (the model's ternary
        // matrices use the native scheme).
        let paths: Vec<SimdPath> = SimdPath::ALL
            .into_iter()
            .filter(|&p| p != SimdPath::LutGemm)
            .collect();

        // The first layer's q/k/v projections of the same input: integer code only.
        let (g, b) = (
            Dispatch::new(Isa::Generic).unwrap(),
            Dispatch::new(best).unwrap(),
        );
        let h = mg.config.hidden;
        let mut x = vec![0f32; 3 * h];
        for (t, tok) in [5usize, 600, 42].into_iter().enumerate() {
            mg.embeddings.row_into(tok, &mut x[t * h..(t + 1) * h]);
            rmsnorm(
                &mut x[t * h..(t + 1) * h],
                &mg.layers[0].attn_norm,
                mg.config.eps,
            );
        }
        let qkv = |m: &Model, cpu| {
            let l = &m.layers[0];
            bitlinear_many(
                &[&l.wq, &l.wk, &l.wv],
                &QuantizedTokens::new(cpu, &x, 3, h),
                3,
            )
            .unwrap()
        };
        let bits = |v: Vec<Vec<f32>>| v.concat().iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        ran::take();
        assert_eq!(
            bits(qkv(&mg, g)),
            bits(qkv(&mb, b)),
            "q/k/v of layer 0 on generic and {best}"
        );
        assert!(ran::take().contains(&(SimdPath::Prefill, b.isa(SimdPath::Prefill))));

        // Whole forward passes; the decode steps feed both the same tokens.
        let steps = [7, 300, 12];
        let lg = run(&mg, Isa::Generic, &steps);
        let ran_generic = ran::take();
        let lb = run(&mb, best, &steps);
        let ran_best = ran::take();
        assert_eq!(
            ran_generic,
            paths.iter().map(|&p| (p, Isa::Generic)).collect(),
            "paths run with generic selected"
        );
        assert_eq!(
            ran_best,
            paths.iter().map(|&p| (p, b.isa(p))).collect(),
            "paths run with {best} selected"
        );
        let mut worst = 0f64;
        for (a, c) in lg.iter().zip(&lb) {
            let mean = a.iter().map(|&v| f64::from(v)).sum::<f64>() / a.len() as f64;
            let sd = (a
                .iter()
                .map(|&v| (f64::from(v) - mean).powi(2))
                .sum::<f64>()
                / a.len() as f64)
                .sqrt();
            for (x, y) in a.iter().zip(c) {
                worst = worst.max((f64::from(*x) - f64::from(*y)).abs() / sd);
            }
        }
        eprintln!("generic vs {best}: largest logit difference {worst:.2e} standard deviations");
        assert!(
            worst <= GENERIC_VS_SIMD_LOGITS,
            "generic vs {best}: {worst:.2e} standard deviations"
        );
    }
}
