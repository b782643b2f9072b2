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
//! ([`QuantizedActivations`]), runs the exact integer matmul on the backend,
//! and scales by γ · (max|x| / 127).

use half::f16;
use half::slice::HalfFloatSliceExt;

use super::{BitLinear, Embeddings, FfnAct, Model, ModelError};
use crate::dtype::QuantizedActivations;

/// The logits buffer, shared by the head's threads, each writing its own rows.
struct SharedOut(*mut f32);
// SAFETY: every thread writes a disjoint range (see `Session::logits`).
unsafe impl Sync for SharedOut {}

/// Keys and values of every layer for the positions seen so far.
pub struct KvCache {
    /// Per layer: `len × kv_dim` keys.
    pub k: Vec<Vec<f32>>,
    /// Per layer: `len × kv_dim` values.
    pub v: Vec<Vec<f32>>,
    /// Positions stored.
    pub len: usize,
}

/// A decoding session: the model, its KV cache and the thread count for the
/// float parts (logits, attention).
pub struct Session<'m> {
    /// The model.
    pub model: &'m Model,
    /// The cache.
    pub cache: KvCache,
    /// Threads for the output head.
    pub threads: usize,
}

/// `x / sqrt(mean(x²) + eps) · w`, in place.
pub fn rmsnorm(x: &mut [f32], w: &[f32], eps: f32) {
    let ms = x.iter().map(|v| f64::from(*v) * f64::from(*v)).sum::<f64>() / x.len() as f64;
    let r = (1.0 / (ms + f64::from(eps)).sqrt()) as f32;
    for (v, g) in x.iter_mut().zip(w) {
        *v = *v * r * g;
    }
}

/// Apply a BitLinear to `n` tokens: `xs` is `n × cols`, the result `n × rows`.
pub fn bitlinear(l: &BitLinear, xs: &[f32], n: usize) -> Result<Vec<f32>, ModelError> {
    let (m, k) = (l.mat.rows(), l.mat.cols());
    let mut q = Vec::with_capacity(n * k);
    let mut scales = Vec::with_capacity(n);
    for t in 0..n {
        let a = QuantizedActivations::quantize_absmax(&xs[t * k..(t + 1) * k]);
        q.extend_from_slice(&a.values);
        scales.push(a.scale);
    }
    let mut acc = vec![0i32; n * m];
    l.mat.gemm(&q, n, &mut acc).map_err(|e| match e {
        crate::backend::BackendError::Failed { backend, detail, .. } => {
            ModelError::Backend(crate::backend::BackendError::Failed { backend, matrix: l.name.clone(), detail })
        }
    })?;
    Ok(acc
        .chunks(m)
        .zip(&scales)
        .flat_map(|(row, s)| {
            let f = l.scale * s;
            row.iter().map(move |&v| v as f32 * f)
        })
        .collect())
}

/// Cosines and sines of the NEOX rotary embedding at one position: pair `i`
/// (elements `i` and `i + d/2`) turns by `pos · theta^(-2i/d)`.
pub fn rope_angles(pos: usize, d: usize, theta: f32) -> Vec<(f32, f32)> {
    (0..d / 2)
        .map(|i| {
            let freq = f64::from(theta).powf(-2.0 * i as f64 / d as f64);
            let (sin, cos) = (pos as f64 * freq).sin_cos();
            (cos as f32, sin as f32)
        })
        .collect()
}

/// Rotate one head vector by precomputed [`rope_angles`].
pub fn rope(x: &mut [f32], angles: &[(f32, f32)]) {
    let half = x.len() / 2;
    for (i, &(cos, sin)) in angles.iter().enumerate().take(half) {
        let (a, b) = (x[i], x[i + half]);
        x[i] = a * cos - b * sin;
        x[i + half] = a * sin + b * cos;
    }
}

/// `Σ row[i]·x[i]` for an f16 row: AVX2 + F16C + FMA when the CPU has
/// them (checked once), else converting through `half`'s slice routine.
fn dot_f16(row: &[f16], x: &[f32], scratch: &mut [f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        static FAST: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        let fast = *FAST.get_or_init(|| {
            std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("f16c")
                && std::arch::is_x86_feature_detected!("fma")
        });
        if fast {
            // SAFETY: the CPU features were checked above.
            return unsafe { dot_f16_avx2(row, x) };
        }
    }
    row.convert_to_f32_slice(scratch);
    dot(scratch, x)
}

/// AVX2/F16C/FMA body of [`dot_f16`]: four independent accumulators of
/// eight lanes hide the FMA latency.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,f16c,fma")]
unsafe fn dot_f16_avx2(row: &[f16], x: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let n = row.len().min(x.len());
    let (rp, xp) = (row.as_ptr() as *const u16, x.as_ptr());
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    // SAFETY: every load reads 8 elements at i + 8j < n, inside both slices.
    unsafe {
        while i + 32 <= n {
            for (j, a) in acc.iter_mut().enumerate() {
                let w = _mm256_cvtph_ps(_mm_loadu_si128(rp.add(i + 8 * j) as *const __m128i));
                *a = _mm256_fmadd_ps(w, _mm256_loadu_ps(xp.add(i + 8 * j)), *a);
            }
            i += 32;
        }
        while i + 8 <= n {
            let w = _mm256_cvtph_ps(_mm_loadu_si128(rp.add(i) as *const __m128i));
            acc[0] = _mm256_fmadd_ps(w, _mm256_loadu_ps(xp.add(i)), acc[0]);
            i += 8;
        }
        let s = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
        let mut lanes = [0f32; 8];
        _mm256_storeu_ps(lanes.as_mut_ptr(), s);
        let tail: f32 = (i..n).map(|k| row[k].to_f32() * x[k]).sum();
        lanes.iter().sum::<f32>() + tail
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let chunks = a.len() / 8 * 8;
    for (ca, cb) in a[..chunks].chunks_exact(8).zip(b[..chunks].chunks_exact(8)) {
        for j in 0..8 {
            acc[j] += ca[j] * cb[j];
        }
    }
    let tail: f32 = a[chunks..].iter().zip(&b[chunks..]).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

impl<'m> Session<'m> {
    /// A new session with an empty cache.
    pub fn new(model: &'m Model, threads: usize) -> Self {
        let l = model.config.layers;
        Session { model, cache: KvCache { k: vec![Vec::new(); l], v: vec![Vec::new(); l], len: 0 }, threads: threads.max(1) }
    }

    /// Run `tokens` at the next positions; returns the logits of every token
    /// if `all_logits`, else of the last one only.
    pub fn forward(&mut self, tokens: &[u32], all_logits: bool) -> Result<Vec<Vec<f32>>, ModelError> {
        let c = &self.model.config;
        let n = tokens.len();
        if n == 0 {
            return Err(ModelError::Input("forward needs at least one token".into()));
        }
        if let Some(&t) = tokens.iter().find(|&&t| t as usize >= c.vocab) {
            return Err(ModelError::Input(format!("token id {t} is outside the vocabulary (size {})", c.vocab)));
        }
        let (h, d, kvd) = (c.hidden, c.head_dim, c.kv_dim());
        let p0 = self.cache.len;
        let mut x = vec![0f32; n * h];
        for (t, &tok) in tokens.iter().enumerate() {
            self.model.embeddings.row_into(tok as usize, &mut x[t * h..(t + 1) * h]);
        }
        let angles: Vec<Vec<(f32, f32)>> = (0..n).map(|t| rope_angles(p0 + t, d, c.rope_theta)).collect();
        for (li, layer) in self.model.layers.iter().enumerate() {
            // Attention.
            let mut hs = x.clone();
            for t in 0..n {
                rmsnorm(&mut hs[t * h..(t + 1) * h], &layer.attn_norm, c.eps);
            }
            let mut q = bitlinear(&layer.wq, &hs, n)?;
            let mut k = bitlinear(&layer.wk, &hs, n)?;
            let v = bitlinear(&layer.wv, &hs, n)?;
            for (t, angles) in angles.iter().enumerate() {
                for hd in 0..c.heads {
                    rope(&mut q[t * h + hd * d..t * h + (hd + 1) * d], angles);
                }
                for hd in 0..c.kv_heads {
                    rope(&mut k[t * kvd + hd * d..t * kvd + (hd + 1) * d], angles);
                }
            }
            self.cache.k[li].extend_from_slice(&k);
            self.cache.v[li].extend_from_slice(&v);
            let (kc, vc) = (&self.cache.k[li], &self.cache.v[li]);
            let group = c.heads / c.kv_heads;
            let inv = 1.0 / (d as f32).sqrt();
            let mut att = vec![0f32; n * h];
            let mut scores = Vec::new();
            for t in 0..n {
                let len = p0 + t + 1;
                for hd in 0..c.heads {
                    let kvh = hd / group;
                    let qv = &q[t * h + hd * d..t * h + (hd + 1) * d];
                    scores.clear();
                    scores.extend((0..len).map(|p| dot(qv, &kc[p * kvd + kvh * d..p * kvd + (kvh + 1) * d]) * inv));
                    let max = scores.iter().fold(f32::NEG_INFINITY, |m, &s| m.max(s));
                    let mut sum = 0f32;
                    for s in scores.iter_mut() {
                        *s = (*s - max).exp();
                        sum += *s;
                    }
                    let out = &mut att[t * h + hd * d..t * h + (hd + 1) * d];
                    for (p, s) in scores.iter().enumerate() {
                        let w = s / sum;
                        for (o, vv) in out.iter_mut().zip(&vc[p * kvd + kvh * d..p * kvd + (kvh + 1) * d]) {
                            *o += w * vv;
                        }
                    }
                }
            }
            for t in 0..n {
                rmsnorm(&mut att[t * h..(t + 1) * h], &layer.attn_sub_norm, c.eps);
            }
            let o = bitlinear(&layer.wo, &att, n)?;
            for (xv, ov) in x.iter_mut().zip(&o) {
                *xv += ov;
            }
            // FFN.
            let mut hs = x.clone();
            for t in 0..n {
                rmsnorm(&mut hs[t * h..(t + 1) * h], &layer.ffn_norm, c.eps);
            }
            let gate = bitlinear(&layer.w_gate, &hs, n)?;
            let up = bitlinear(&layer.w_up, &hs, n)?;
            let mut f: Vec<f32> = gate
                .iter()
                .zip(&up)
                .map(|(&g, &u)| match c.act {
                    FfnAct::Silu => g / (1.0 + (-g).exp()) * u,
                    FfnAct::Relu2 => g.max(0.0) * g.max(0.0) * u,
                })
                .collect();
            for t in 0..n {
                rmsnorm(&mut f[t * c.ffn..(t + 1) * c.ffn], &layer.ffn_sub_norm, c.eps);
            }
            let down = bitlinear(&layer.w_down, &f, n)?;
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
                Ok(self.logits(&hv))
            })
            .collect()
    }

    /// The tied output head: `embed · h` for every vocabulary row.
    fn logits(&self, hv: &[f32]) -> Vec<f32> {
        let h = hv.len();
        let vocab = self.model.config.vocab;
        let mut out = vec![0f32; vocab];
        const ROWS: usize = 256;
        let run = |(ci, chunk): (usize, &mut [f32])| {
            let mut row = vec![0f32; h];
            for (j, o) in chunk.iter_mut().enumerate() {
                let r = ci * ROWS + j;
                match &self.model.embeddings {
                    Embeddings::F16(e) => *o = dot_f16(&e[r * h..(r + 1) * h], hv, &mut row),
                    Embeddings::F32(e) => *o = dot(&e[r * h..(r + 1) * h], hv),
                }
            }
        };
        if self.threads > 1 {
            match crate::kernels::shared_pool(self.threads) {
                Ok(pool) => {
                    let threads = pool.threads();
                    let chunks = vocab.div_ceil(ROWS);
                    let outp = SharedOut(out.as_mut_ptr());
                    let outp = &outp;
                    pool.run(&|i| {
                        for ci in (chunks * i / threads)..(chunks * (i + 1) / threads) {
                            let (lo, hi) = (ci * ROWS, ((ci + 1) * ROWS).min(vocab));
                            // SAFETY: thread i owns chunks [chunks·i/threads, chunks·(i+1)/threads).
                            let chunk = unsafe { std::slice::from_raw_parts_mut(outp.0.add(lo), hi - lo) };
                            run((ci, chunk));
                        }
                    });
                }
                Err(_) => out.chunks_mut(ROWS).enumerate().for_each(run),
            }
        } else {
            out.chunks_mut(ROWS).enumerate().for_each(run);
        }
        out
    }
}
