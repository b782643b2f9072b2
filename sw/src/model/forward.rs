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
//! and scales by γ · (max|x| / 127).

use half::f16;
use half::slice::HalfFloatSliceExt;

use super::{BitLinear, Embeddings, FfnAct, Model, ModelError};
use crate::kernels::pool::SpinPool;

/// An output buffer shared by the pool's threads, each writing its own range.
struct SharedOut(*mut f32);
// SAFETY: every thread writes a disjoint range (see `for_pieces`).
unsafe impl Sync for SharedOut {}

/// Cut `out` into pieces of `piece` values and hand each claimed run of
/// pieces to `f(index of its first value, values)`: on `pool` (guided
/// chunks, see [`SpinPool::run_chunks`]) when there is one, else all of
/// `out` in one call.
fn for_pieces(pool: Option<&SpinPool>, out: &mut [f32], piece: usize, f: &(dyn Fn(usize, &mut [f32]) + Sync)) {
    let Some(pool) = pool else { return f(0, out) };
    let len = out.len();
    let outp = SharedOut(out.as_mut_ptr());
    let outp = &outp;
    pool.run_chunks(len.div_ceil(piece), 1, &|ps| {
        let (lo, hi) = (ps.start * piece, (ps.end * piece).min(len));
        // SAFETY: every piece is in exactly one claimed chunk: the runs are disjoint.
        f(lo, unsafe { std::slice::from_raw_parts_mut(outp.0.add(lo), hi - lo) });
    });
}

/// Keys and values of every layer for the positions seen so far, head-major:
/// one attention head reads its positions as one contiguous run (which the
/// hardware prefetcher streams), not `head_dim` floats at a `kv_dim` stride.
pub struct KvCache {
    /// `k[layer][kv_head]`: `len × head_dim` keys.
    pub k: Vec<Vec<Vec<f32>>>,
    /// `v[layer][kv_head]`: `len × head_dim` values.
    pub v: Vec<Vec<Vec<f32>>>,
    /// Positions stored.
    pub len: usize,
}

impl KvCache {
    /// An empty cache for `layers` layers of `kv_heads` heads.
    pub fn new(layers: usize, kv_heads: usize) -> KvCache {
        KvCache { k: vec![vec![Vec::new(); kv_heads]; layers], v: vec![vec![Vec::new(); kv_heads]; layers], len: 0 }
    }

    /// Make room for `positions` positions of `d`-value heads in every layer
    /// and write the new memory once, so that its first-touch page faults
    /// happen now and not while decoding (llama.cpp likewise allocates and
    /// clears its KV buffer when the context is created).
    ///
    /// The size is computed with checked arithmetic and reserved with
    /// `try_reserve`: a cache that cannot be had is an error naming its size.
    pub fn reserve(&mut self, positions: usize, d: usize) -> Result<(), ModelError> {
        let heads = self.k.iter().chain(self.v.iter()).map(Vec::len).sum::<usize>();
        let per_head = positions.checked_mul(d);
        let total = per_head.and_then(|n| n.checked_mul(heads)).and_then(|n| n.checked_mul(std::mem::size_of::<f32>()));
        let too_big = |detail: String| {
            ModelError::Input(format!(
                "the KV cache for {positions} positions ({heads} heads of {d} values, keys and values) {detail}: ask for fewer positions (shorter prompt, smaller -n)"
            ))
        };
        let (Some(per_head), Some(total)) = (per_head, total) else {
            return Err(too_big("overflows the address space".into()));
        };
        for head in self.k.iter_mut().chain(self.v.iter_mut()).flatten() {
            let len = head.len();
            if per_head > len {
                head.try_reserve_exact(per_head - len)
                    .map_err(|e| too_big(format!("needs {:.2} GiB, which cannot be allocated ({e})", total as f64 / (1u64 << 30) as f64)))?;
                head.resize(per_head, 0.0);
                head.truncate(len);
            }
        }
        Ok(())
    }

    /// Append `n` tokens' keys and values of `layer` (token-major, `n × kv_dim`
    /// each, heads of `d` values side by side).
    fn append(&mut self, layer: usize, k: &[f32], v: &[f32], d: usize) {
        for (cache, new) in [(&mut self.k[layer], k), (&mut self.v[layer], v)] {
            let kvd = cache.len() * d;
            for token in new.chunks_exact(kvd) {
                for (head, part) in cache.iter_mut().zip(token.chunks_exact(d)) {
                    head.extend_from_slice(part);
                }
            }
        }
    }
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
    /// How the tied output head is computed ([`HeadMode::Exact`] by default).
    pub head: HeadMode,
    /// Activation quantization and roundings ([`Numerics::BitNet`] by default).
    pub numerics: Numerics,
}

/// How [`Session::forward`] computes the tied output head.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum HeadMode {
    /// Every logit in f32 from the stored (f16/f32) embedding rows.
    #[default]
    Exact,
    /// For greedy decoding: an int8 copy of the embedding rows (per-row
    /// scale) against int16 activations gives every logit with a proven
    /// error bound ([`Int8Head`]); every row whose bound reaches the best
    /// lower bound is recomputed exactly. The argmax (first index of the
    /// maximum) is therefore the exact head's, and those logits are bit for
    /// bit the exact head's; all others are approximations (measured relative
    /// error ~1e-3 of the logit spread, see the tests) and lie below the maximum.
    /// Reads half the bytes of an f16 head.
    Int8Refined,
}

/// `x / sqrt(mean(x²) + eps) · w`, in place (the sum of squares in f64, in
/// eight interleaved partial sums so that it vectorizes instead of waiting on
/// one long chain of dependent adds).
pub fn rmsnorm(x: &mut [f32], w: &[f32], eps: f32) {
    let mut acc = [0f64; 8];
    let chunks = x.chunks_exact(8);
    let tail: f64 = chunks.remainder().iter().map(|v| f64::from(*v) * f64::from(*v)).sum();
    for c in chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a += f64::from(*v) * f64::from(*v);
        }
    }
    let ms = (acc.iter().sum::<f64>() + tail) / x.len() as f64;
    let r = (1.0 / (ms + f64::from(eps)).sqrt()) as f32;
    for (v, g) in x.iter_mut().zip(w) {
        *v = *v * r * g;
    }
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
}

/// Values per block of ggml's Q8_K activation quantization.
pub const Q8K_BLOCK: usize = 256;

/// `n` tokens quantized for a BitLinear: int8 values (token-major) and one
/// scale per `block` values of a token: per token (`block` = K) exactly as
/// [`crate::dtype::QuantizedActivations::quantize_absmax`], or per 256-block ([`Self::q8k`]).
pub struct QuantizedTokens {
    /// `n × cols` int8 values.
    pub values: Vec<i8>,
    /// Per block, token-major: the value of one int8 step (`max|x| / 127`).
    pub scales: Vec<f32>,
    /// Values per scale.
    pub block: usize,
}

impl QuantizedTokens {
    /// Quantize `n` tokens of `k` values each (per token absmax).
    pub fn new(xs: &[f32], n: usize, k: usize) -> QuantizedTokens {
        let mut values = vec![0i8; n * k];
        let mut scales = Vec::with_capacity(n);
        for (x, q) in xs[..n * k].chunks_exact(k).zip(values.chunks_exact_mut(k)) {
            let max = abs_max(x).max(1e-5);
            let s = 127.0 / max;
            let mut done = 0;
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: AVX2 was checked.
                done = unsafe { quantize_avx2(x, s, q) };
            }
            for (q, v) in q[done..].iter_mut().zip(&x[done..]) {
                *q = round_half_away(v * s).clamp(-128.0, 127.0) as i8;
            }
            scales.push(1.0 / s);
        }
        QuantizedTokens { values, scales, block: k }
    }

    /// Quantize `n` tokens of `k` values as ggml's `quantize_row_q8_K_ref`: per
    /// 256-block, `d = m / −127` with `m` the (first) value of largest magnitude,
    /// `q = min(127, round_half_even(x / d))`; an all-zero block gets `d = 0`.
    pub fn q8k(xs: &[f32], n: usize, k: usize) -> Result<QuantizedTokens, ModelError> {
        if !k.is_multiple_of(Q8K_BLOCK) {
            return Err(ModelError::Input(format!(
                "llama.cpp numerics quantize activations in blocks of {Q8K_BLOCK} (Q8_K), but a layer input has {k} values per token"
            )));
        }
        let mut values = vec![0i8; n * k];
        let mut scales = Vec::with_capacity(n * k / Q8K_BLOCK);
        for (x, q) in xs[..n * k].chunks_exact(Q8K_BLOCK).zip(values.chunks_exact_mut(Q8K_BLOCK)) {
            let (mut amax, mut max) = (0f32, 0f32);
            for &v in x {
                if v.abs() > amax {
                    (amax, max) = (v.abs(), v);
                }
            }
            if amax == 0.0 {
                scales.push(0.0);
                continue;
            }
            let iscale = -127.0 / max;
            for (q, &v) in q.iter_mut().zip(x) {
                *q = (iscale * v).round_ties_even().min(127.0) as i8;
            }
            scales.push(1.0 / iscale);
        }
        Ok(QuantizedTokens { values, scales, block: Q8K_BLOCK })
    }

    /// Quantize as `numerics` says.
    pub fn with(numerics: Numerics, xs: &[f32], n: usize, k: usize) -> Result<QuantizedTokens, ModelError> {
        match numerics {
            Numerics::BitNet => Ok(QuantizedTokens::new(xs, n, k)),
            Numerics::LlamaCpp => QuantizedTokens::q8k(xs, n, k),
        }
    }

    /// Scales per token.
    fn blocks_per_token(&self, n: usize) -> usize {
        self.scales.len() / n.max(1)
    }

    /// One token per block for per-block sums with a full-K kernel: token
    /// `t·B + b` holds block `b` of token `t` and zeros elsewhere (`B` blocks per token).
    fn split_blocks(&self, n: usize) -> Vec<i8> {
        let (per, k) = (self.blocks_per_token(n), self.values.len() / n.max(1));
        let mut x = vec![0i8; n * per * k];
        for (t, token) in self.values.chunks_exact(k).enumerate() {
            for (b, part) in token.chunks_exact(self.block).enumerate() {
                let at = (t * per + b) * k + b * self.block;
                x[at..at + self.block].copy_from_slice(part);
            }
        }
        x
    }
}

/// The first `32·⌊len/32⌋` values of [`QuantizedTokens::new`]'s loop
/// (`round(v·s)` half away from zero, clamped to i8, NaN → 0); returns how many.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn quantize_avx2(x: &[f32], s: f32, q: &mut [i8]) -> usize {
    use std::arch::x86_64::*;
    let n = x.len().min(q.len()) / 32 * 32;
    let sv = _mm256_set1_ps(s);
    let (half, mhalf, one) = (_mm256_set1_ps(0.5), _mm256_set1_ps(-0.5), _mm256_set1_ps(1.0));
    let (lo, hi) = (_mm256_set1_ps(-128.0), _mm256_set1_ps(127.0));
    let perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    let conv = |p: *const f32| -> __m256i {
        // SAFETY: the caller reads 8 floats inside `x`.
        let y = _mm256_mul_ps(unsafe { _mm256_loadu_ps(p) }, sv);
        let t = _mm256_round_ps::<{ _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC }>(y);
        let f = _mm256_sub_ps(y, t);
        let up = _mm256_and_ps(_mm256_cmp_ps::<_CMP_GE_OQ>(f, half), one);
        let down = _mm256_and_ps(_mm256_cmp_ps::<_CMP_LE_OQ>(f, mhalf), one);
        let r = _mm256_sub_ps(_mm256_add_ps(t, up), down);
        let r = _mm256_and_ps(r, _mm256_cmp_ps::<_CMP_ORD_Q>(y, y)); // NaN -> 0
        _mm256_cvttps_epi32(_mm256_min_ps(_mm256_max_ps(r, lo), hi))
    };
    let mut i = 0;
    while i < n {
        let xp = x.as_ptr();
        // SAFETY: i + 32 ≤ n ≤ len of both slices.
        unsafe {
            let (a, b) = (conv(xp.add(i)), conv(xp.add(i + 8)));
            let (c, d) = (conv(xp.add(i + 16)), conv(xp.add(i + 24)));
            let v = _mm256_packs_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
            _mm256_storeu_si256(q.as_mut_ptr().add(i).cast(), _mm256_permutevar8x32_epi32(v, perm));
        }
        i += 32;
    }
    n
}

/// `max |x_i|` (0 for an empty slice; NaNs are skipped as by `f32::max`), in
/// eight interleaved lanes so that it vectorizes.
fn abs_max(x: &[f32]) -> f32 {
    let mut m = [0f32; 8];
    let chunks = x.chunks_exact(8);
    let tail = chunks.remainder().iter().fold(0f32, |a, v| a.max(v.abs()));
    for c in chunks {
        for (a, v) in m.iter_mut().zip(c) {
            *a = a.max(v.abs());
        }
    }
    m.iter().fold(tail, |a, &b| a.max(b))
}

/// `silu(g)·u = g / (1 + e^−g) · u` elementwise. With AVX2 and FMA, eight at
/// a time with a polynomial `e^x` (Cephes' `expf`; the result within 5e-7
/// relative of an f64 evaluation, checked in the tests); the scalar tail and
/// other CPUs use `f32::exp`.
fn silu_mul(gate: &[f32], up: &[f32]) -> Vec<f32> {
    let mut out = vec![0f32; gate.len().min(up.len())];
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if avx2_fma() {
        // SAFETY: AVX2 and FMA were checked.
        done = unsafe { silu_mul_avx2(gate, up, &mut out) };
    }
    for ((o, &g), &u) in out.iter_mut().zip(gate).zip(up).skip(done) {
        *o = g / (1.0 + (-g).exp()) * u;
    }
    out
}

/// The first `8·⌊len/8⌋` values of [`silu_mul`]; returns how many.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn silu_mul_avx2(gate: &[f32], up: &[f32], out: &mut [f32]) -> usize {
    use std::arch::x86_64::*;
    let n = out.len() / 8 * 8;
    let one = _mm256_set1_ps(1.0);
    let mut i = 0;
    // SAFETY: 8 floats at i ≤ n − 8 ≤ the length of all three slices.
    unsafe {
        while i < n {
            let g = _mm256_loadu_ps(gate.as_ptr().add(i));
            let e = exp_avx2(_mm256_sub_ps(_mm256_setzero_ps(), g));
            let s = _mm256_div_ps(g, _mm256_add_ps(one, e));
            _mm256_storeu_ps(out.as_mut_ptr().add(i), _mm256_mul_ps(s, _mm256_loadu_ps(up.as_ptr().add(i))));
            i += 8;
        }
    }
    n
}

/// `e^x` for eight floats (Cephes `expf`): `x` clamped to [−87.3, 88.3] (so
/// the result stays finite and normal), `x = k·ln2 + r` with `|r| ≤ ln2/2`, a
/// degree-6 polynomial for `e^r`, times `2^k` through the exponent bits.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn exp_avx2(x: std::arch::x86_64::__m256) -> std::arch::x86_64::__m256 {
    use std::arch::x86_64::*;
    let x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3)), _mm256_set1_ps(88.3));
    let k = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm256_mul_ps(x, _mm256_set1_ps(std::f32::consts::LOG2_E)));
    let r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693_359_4), x);
    let r = _mm256_fnmadd_ps(k, _mm256_set1_ps(-2.121_944_4e-4), r);
    let mut p = _mm256_set1_ps(1.987_569_1e-4);
    for c in [1.398_199_9e-3, 8.333_452e-3, 4.166_579_6e-2, 1.666_666_5e-1, 0.5] {
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(c));
    }
    let y = _mm256_add_ps(_mm256_fmadd_ps(_mm256_mul_ps(p, r), r, r), _mm256_set1_ps(1.0));
    let pow2k = _mm256_slli_epi32::<23>(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)));
    _mm256_mul_ps(y, _mm256_castsi256_ps(pow2k))
}

/// `x` rounded to the nearest f16 (as f32).
fn round_f16(x: f32) -> f32 {
    f16::from_f32(x).to_f32()
}

/// `y.round()` (half away from zero) for `|y| < 2^31` and NaN (which stays
/// NaN-free: it gives 0 after the `as i8` cast, like `round`), without the libm call.
#[inline(always)]
fn round_half_away(y: f32) -> f32 {
    if y.is_nan() || y.abs() >= 2147483520.0 {
        return y.round();
    }
    let t = y as i32 as f32; // toward zero, exact
    let f = y - t; // exact for |y| < 2^24; for larger |y|, y is an integer and f = 0
    t + f32::from(u8::from(f >= 0.5)) - f32::from(u8::from(f <= -0.5))
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
pub fn bitlinear_many(ls: &[&BitLinear], q: &QuantizedTokens, n: usize) -> Result<Vec<Vec<f32>>, ModelError> {
    let per = q.blocks_per_token(n);
    let split;
    let x = if per == 1 {
        &q.values
    } else {
        split = q.split_blocks(n);
        &split
    };
    let mut accs: Vec<Vec<i32>> = ls.iter().map(|l| vec![0i32; n * per * l.mat.rows()]).collect();
    let mats: Vec<&dyn crate::backend::Linear> = ls.iter().map(|l| &*l.mat).collect();
    let mut outs: Vec<&mut [i32]> = accs.iter_mut().map(|a| a.as_mut_slice()).collect();
    crate::backend::gemm_many(&mats, x, n * per, &mut outs).map_err(|e| match e {
        crate::backend::BackendError::Failed { backend, detail, .. } => {
            let names: Vec<&str> = ls.iter().map(|l| l.name.as_str()).collect();
            ModelError::Backend(crate::backend::BackendError::Failed { backend, matrix: names.join("+"), detail })
        }
    })?;
    Ok(ls
        .iter()
        .zip(&accs)
        .map(|(l, acc)| {
            let m = l.mat.rows();
            let mut out = vec![0f32; n * m];
            for ((o, a), s) in out.chunks_exact_mut(m).zip(acc.chunks_exact(m * per)).zip(q.scales.chunks_exact(per)) {
                for (b, (a, s)) in a.chunks_exact(m).zip(s).enumerate() {
                    let f = l.scale * s;
                    for (o, &v) in o.iter_mut().zip(a) {
                        *o = if b == 0 { v as f32 * f } else { *o + v as f32 * f };
                    }
                }
            }
            out
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

/// Whether the CPU has AVX2 and FMA (checked once).
fn avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static FAST: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *FAST.get_or_init(|| std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if avx2_fma() {
        // SAFETY: AVX2 and FMA were checked.
        return unsafe { dot_avx2(a, b) };
    }
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

/// `out += w · v`.
fn axpy(out: &mut [f32], w: f32, v: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    if avx2_fma() {
        // SAFETY: AVX2 and FMA were checked.
        return unsafe { axpy_avx2(out, w, v) };
    }
    for (o, vv) in out.iter_mut().zip(v) {
        *o += w * vv;
    }
}

/// [`dot`] with two 8-lane FMA accumulators.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    let n = a.len().min(b.len());
    let (ap, bp) = (a.as_ptr(), b.as_ptr());
    let mut acc0 = _mm256_setzero_ps();
    let mut acc1 = _mm256_setzero_ps();
    let mut i = 0;
    // SAFETY: every load reads 8 floats at i + 8j ≤ n − 8, inside both slices.
    unsafe {
        while i + 16 <= n {
            acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(ap.add(i)), _mm256_loadu_ps(bp.add(i)), acc0);
            acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(ap.add(i + 8)), _mm256_loadu_ps(bp.add(i + 8)), acc1);
            i += 16;
        }
        if i + 8 <= n {
            acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(ap.add(i)), _mm256_loadu_ps(bp.add(i)), acc0);
            i += 8;
        }
    }
    let s = _mm256_add_ps(acc0, acc1);
    let h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps::<1>(s));
    let h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    let h = _mm_add_ss(h, _mm_shuffle_ps::<1>(h, h));
    _mm_cvtss_f32(h) + a[i..n].iter().zip(&b[i..n]).map(|(x, y)| x * y).sum::<f32>()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn axpy_avx2(out: &mut [f32], w: f32, v: &[f32]) {
    use std::arch::x86_64::*;
    let n = out.len().min(v.len());
    let (op, vp) = (out.as_mut_ptr(), v.as_ptr());
    let wv = _mm256_set1_ps(w);
    let mut i = 0;
    // SAFETY: 8 floats at i ≤ n − 8, inside both slices.
    unsafe {
        while i + 8 <= n {
            _mm256_storeu_ps(op.add(i), _mm256_fmadd_ps(wv, _mm256_loadu_ps(vp.add(i)), _mm256_loadu_ps(op.add(i))));
            i += 8;
        }
    }
    for (o, vv) in out[i..n].iter_mut().zip(&v[i..n]) {
        *o += w * vv;
    }
}

impl<'m> Session<'m> {
    /// A new session with an empty cache.
    pub fn new(model: &'m Model, threads: usize) -> Self {
        let l = model.config.layers;
        Session {
            model,
            cache: KvCache::new(l, model.config.kv_heads),
            threads: threads.max(1),
            head: HeadMode::Exact,
            numerics: Numerics::BitNet,
        }
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
            return Err(ModelError::Input(format!("token id {t} is outside the vocabulary (size {}, ids 0..={})", c.vocab, c.vocab - 1)));
        }
        // The context length is a hard limit: RoPE and attention past it are untrained.
        let end = self.cache.len.saturating_add(n);
        if end > c.context {
            return Err(ModelError::Input(format!(
                "positions {}..{end} exceed the model's context length {} ({}.context_length): {} tokens already in the cache, {n} more asked for; start a new session or shorten the input",
                self.cache.len, c.context, c.arch, self.cache.len
            )));
        }
        let (h, d, kvd) = (c.hidden, c.head_dim, c.kv_dim());
        let p0 = self.cache.len;
        let numerics = self.numerics;
        let llama = numerics == Numerics::LlamaCpp;
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
            let hq = QuantizedTokens::with(numerics, &hs, n, h)?;
            let mut qkv = bitlinear_many(&[&layer.wq, &layer.wk, &layer.wv], &hq, n)?.into_iter();
            let (mut q, mut k, mut v) = (qkv.next().unwrap(), qkv.next().unwrap(), qkv.next().unwrap());
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
            let (kc, vc) = (&self.cache.k[li], &self.cache.v[li]);
            let group = c.heads / c.kv_heads;
            let inv = 1.0 / (d as f32).sqrt();
            let mut att = vec![0f32; n * h];
            // One unit = (token t, head hd): writes att[t·h + hd·d ..][..d] only.
            let unit = |u: usize, out: &mut [f32], scores: &mut Vec<f32>| {
                let (t, hd) = (u / c.heads, u % c.heads);
                let len = p0 + t + 1;
                let (kh, vh) = (&kc[hd / group], &vc[hd / group]);
                let qv = &q[t * h + hd * d..t * h + (hd + 1) * d];
                scores.clear();
                scores.extend(kh[..len * d].chunks_exact(d).map(|kp| dot(qv, kp) * inv));
                let max = scores.iter().fold(f32::NEG_INFINITY, |m, &s| m.max(s));
                let mut sum = 0f32;
                for s in scores.iter_mut() {
                    *s = (*s - max).exp();
                    sum += *s;
                }
                for (s, vp) in scores.iter().zip(vh.chunks_exact(d)) {
                    // llama.cpp multiplies the f16 V by the weights converted to f16.
                    let w = if llama { round_f16(s / sum) } else { s / sum };
                    axpy(out, w, vp);
                }
            };
            let units = n * c.heads;
            let work = units * (p0 + n) * d;
            let pool = if self.threads > 1 && work >= 1 << 14 { crate::kernels::shared_pool(self.threads).ok() } else { None };
            for_pieces(pool.as_deref(), &mut att, d, &|lo, outs| {
                let mut scores = Vec::new();
                for (j, out) in outs.chunks_exact_mut(d).enumerate() {
                    unit(lo / d + j, out, &mut scores);
                }
            });
            for t in 0..n {
                rmsnorm(&mut att[t * h..(t + 1) * h], &layer.attn_sub_norm, c.eps);
            }
            let o = bitlinear_q(&layer.wo, &QuantizedTokens::with(numerics, &att, n, h)?, n)?;
            for (xv, ov) in x.iter_mut().zip(&o) {
                *xv += ov;
            }
            // FFN.
            let mut hs = x.clone();
            for t in 0..n {
                rmsnorm(&mut hs[t * h..(t + 1) * h], &layer.ffn_norm, c.eps);
            }
            let hq = QuantizedTokens::with(numerics, &hs, n, h)?;
            let mut gu = bitlinear_many(&[&layer.w_gate, &layer.w_up], &hq, n)?.into_iter();
            let (gate, up) = (gu.next().unwrap(), gu.next().unwrap());
            let mut f: Vec<f32> = match c.act {
                FfnAct::Silu => silu_mul(&gate, &up),
                FfnAct::Relu2 => gate.iter().zip(&up).map(|(&g, &u)| g.max(0.0) * g.max(0.0) * u).collect(),
            };
            for t in 0..n {
                rmsnorm(&mut f[t * c.ffn..(t + 1) * c.ffn], &layer.ffn_sub_norm, c.eps);
            }
            let down = bitlinear_q(&layer.w_down, &QuantizedTokens::with(numerics, &f, n, c.ffn)?, n)?;
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
                Ok(self.logits(&hv))
            })
            .collect()
    }

    /// The tied output head: `embed · h` for every vocabulary row.
    fn logits(&self, hv: &[f32]) -> Vec<f32> {
        match self.head {
            HeadMode::Exact => self.logits_exact(hv),
            HeadMode::Int8Refined => self.logits_int8(hv),
        }
    }

    /// Exact logit of vocabulary row `r`.
    fn exact_logit(&self, r: usize, hv: &[f32], scratch: &mut [f32]) -> f32 {
        let h = hv.len();
        match &self.model.embeddings {
            Embeddings::F16(e) => dot_f16(&e[r * h..(r + 1) * h], hv, scratch),
            Embeddings::F32(e) => dot(&e[r * h..(r + 1) * h], hv),
        }
    }

    /// Run `f(first_row, rows)` over runs of [`HEAD_ROWS`]-row pieces of
    /// `out`, on the shared pool when the session has several threads.
    fn for_head_chunks(&self, out: &mut [f32], f: &(dyn Fn(usize, &mut [f32]) + Sync)) {
        let pool = if self.threads > 1 { crate::kernels::shared_pool(self.threads).ok() } else { None };
        for_pieces(pool.as_deref(), out, HEAD_ROWS, f);
    }

    fn logits_exact(&self, hv: &[f32]) -> Vec<f32> {
        let mut out = vec![0f32; self.model.config.vocab];
        self.for_head_chunks(&mut out, &|lo, chunk| {
            let mut row = vec![0f32; hv.len()];
            for (j, o) in chunk.iter_mut().enumerate() {
                *o = self.exact_logit(lo + j, hv, &mut row);
            }
        });
        out
    }

    fn logits_int8(&self, hv: &[f32]) -> Vec<f32> {
        let head = self.model.int8_head();
        let x = Int16Act::new(hv, head.cols_padded);
        let vocab = head.rows;
        let mut out = vec![0f32; vocab];
        let mut bound = vec![0f32; vocab];
        let bp = SharedOut(bound.as_mut_ptr());
        let bp = &bp;
        self.for_head_chunks(&mut out, &|lo, chunk| {
            // SAFETY: the chunk's rows lo..lo+len of `bound` belong to this call only.
            let b = unsafe { std::slice::from_raw_parts_mut(bp.0.add(lo), chunk.len()) };
            head.approx_rows(lo, &x, chunk, b);
        });
        // Best lower bound; every row that may reach it is recomputed exactly.
        let floor = out.iter().zip(&bound).map(|(a, b)| a - b).fold(f32::NEG_INFINITY, f32::max);
        let mut row = vec![0f32; hv.len()];
        for r in 0..vocab {
            if out[r] + bound[r] >= floor || !out[r].is_finite() || !bound[r].is_finite() {
                out[r] = self.exact_logit(r, hv, &mut row);
            }
        }
        out
    }
}

/// Vocabulary rows per work unit of the output head.
const HEAD_ROWS: usize = 256;

/// Columns per i32 accumulation block of [`Int8Head`] (then summed in f64):
/// `2·127·32767` per `vpmaddwd` lane, `HEAD_BLOCK / 16` of them per lane, stays < 2^31.
const HEAD_BLOCK: usize = 2048;

/// Activations of the int8 head: `x ≈ t·p`, `p` int16 (`|p| ≤ 32767`), padded with zeros.
struct Int16Act {
    p: Vec<i16>,
    t: f32,
    /// `Σ |t·p_i|`.
    sum_abs: f32,
    /// `max |x_i|`.
    max_abs: f32,
}

impl Int16Act {
    fn new(x: &[f32], padded: usize) -> Int16Act {
        let max_abs = abs_max(x);
        let t = if max_abs > 0.0 { max_abs / 32767.0 } else { 1.0 };
        let inv = 1.0 / t;
        let mut p = vec![0i16; padded];
        let mut s = 0f64;
        for (q, v) in p.iter_mut().zip(x) {
            *q = round_half_away(v * inv).clamp(-32767.0, 32767.0) as i16;
            s += f64::from(q.unsigned_abs());
        }
        Int16Act { p, t, sum_abs: (s * f64::from(t)) as f32, max_abs }
    }
}

/// Int8 copy of the tied output head, made once per model (see [`HeadMode::Int8Refined`]):
/// row `r` is `w_r ≈ s_r · q_r` with `q_r` int8 (round to nearest, `s_r = max|w_r| / 127`).
///
/// Error bound of one logit, with `x ≈ t·p` (int16, `|x − t·p| ≤ t/2`):
/// `|w·x − s t (q·p)| ≤ Σ|w||x − t p| + Σ|w − s q||t p| ≤ L1(w)·t/2 + s/2·Σ|t p|`,
/// widened by 0.2 % for the f32 arithmetic of the bound itself, plus
/// `1e-5·L1(w)·max|x|` for the rounding of the exact f32 dot product
/// (≤ ~60·2^-24 of `Σ|w x|` for the exact kernel's summation order).
pub struct Int8Head {
    rows: usize,
    cols: usize,
    cols_padded: usize,
    q: Vec<i8>,
    scale: Vec<f32>,
    l1: Vec<f32>,
}

impl Int8Head {
    /// Quantize `rows × cols` row-major embeddings.
    pub fn new(e: &Embeddings, rows: usize, cols: usize) -> Int8Head {
        use rayon::prelude::*;
        let cols_padded = cols.div_ceil(32) * 32;
        let mut q = vec![0i8; rows * cols_padded];
        let mut scale = vec![0f32; rows];
        let mut l1 = vec![0f32; rows];
        q.par_chunks_mut(cols_padded).zip(scale.par_iter_mut()).zip(l1.par_iter_mut()).enumerate().for_each(
            |(r, ((qr, s), l))| {
                let mut w = vec![0f32; cols];
                e.row_into(r, &mut w);
                let max = w.iter().fold(0f32, |m, v| m.max(v.abs()));
                *l = w.iter().map(|v| f64::from(v.abs())).sum::<f64>() as f32;
                if max > 0.0 && max.is_finite() {
                    *s = max / 127.0;
                    let inv = 127.0 / max;
                    for (qv, v) in qr.iter_mut().zip(&w) {
                        *qv = (v * inv).round().clamp(-127.0, 127.0) as i8;
                    }
                } else if !max.is_finite() {
                    *s = f32::NAN; // forces the exact path for this row
                }
            },
        );
        Int8Head { rows, cols, cols_padded, q, scale, l1 }
    }

    /// Approximate logits and their error bounds of rows `lo .. lo + out.len()`.
    fn approx_rows(&self, lo: usize, x: &Int16Act, out: &mut [f32], bound: &mut [f32]) {
        let cp = self.cols_padded;
        for (j, (o, b)) in out.iter_mut().zip(bound.iter_mut()).enumerate() {
            let r = lo + j;
            let qr = &self.q[r * cp..(r + 1) * cp];
            let d = dot_i8_i16(qr, &x.p);
            let (s, l1) = (self.scale[r], self.l1[r]);
            *o = (f64::from(s) * f64::from(x.t) * d as f64) as f32;
            *b = 1.002 * (0.5 * l1 * x.t + 0.5 * s * x.sum_abs) + 1e-5 * l1 * x.max_abs + f32::MIN_POSITIVE;
        }
        let _ = self.cols;
    }
}

/// `Σ q_i·p_i` exactly (`q.len() == p.len()`, a multiple of 32).
fn dot_i8_i16(q: &[i8], p: &[i16]) -> i64 {
    #[cfg(target_arch = "x86_64")]
    {
        static FAST: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        if *FAST.get_or_init(|| std::arch::is_x86_feature_detected!("avx2")) {
            // SAFETY: AVX2 was checked above.
            return unsafe { dot_i8_i16_avx2(q, p) };
        }
    }
    q.iter().zip(p).map(|(&a, &b)| i64::from(a) * i64::from(b)).sum()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn dot_i8_i16_avx2(q: &[i8], p: &[i16]) -> i64 {
    use std::arch::x86_64::*;
    let n = q.len().min(p.len());
    assert!(n.is_multiple_of(32));
    let (qp, pp) = (q.as_ptr(), p.as_ptr());
    let mut total = 0i64;
    let mut b0 = 0;
    while b0 < n {
        let b1 = n.min(b0 + HEAD_BLOCK);
        let mut a0 = _mm256_setzero_si256();
        let mut a1 = _mm256_setzero_si256();
        let mut i = b0;
        // SAFETY: i + 32 ≤ n, inside both slices; unaligned loads.
        unsafe {
            while i < b1 {
                let w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(qp.add(i).cast()));
                let w1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(qp.add(i + 16).cast()));
                a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(w0, _mm256_loadu_si256(pp.add(i).cast())));
                a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(w1, _mm256_loadu_si256(pp.add(i + 16).cast())));
                i += 32;
            }
        }
        let s = _mm256_add_epi32(a0, a1);
        let mut lanes = [0i32; 8];
        // SAFETY: 8 i32.
        unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), s) };
        total += lanes.iter().map(|&v| i64::from(v)).sum::<i64>();
        b0 = b1;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::LutBackend;
    use crate::dtype::QuantizedActivations;
    use crate::gguf::GgmlType;
    use crate::model::synth::{write_model, SynthShape};

    fn model(dir: &std::path::Path, hidden: usize, vocab: usize) -> Model {
        let shape = SynthShape {
            name: "head-test".into(),
            arch: "bitnet",
            hidden,
            ffn: 2 * hidden,
            layers: 2,
            heads: 4,
            kv_heads: 4,
            vocab,
            rope_theta: 1e4,
            ternary: if hidden.is_multiple_of(256) { GgmlType::TQ2_0 } else { GgmlType::I2S },
            tokenizer: "spm",
        };
        let path = dir.join("m.gguf");
        write_model(&shape, None, 5, &path, |_, _| {}).unwrap();
        Model::load(&path, &LutBackend { threads: 1 }, |_, _| {}).unwrap()
    }

    fn argmax(v: &[f32]) -> usize {
        crate::model::sample::argmax(v) as usize
    }

    /// Greedy decoding with the int8 head picks the exact head's token at every
    /// step (1 and 2 threads); refined logits are the exact ones bit for bit
    /// and the others stay within a small relative error.
    #[test]
    fn int8_head_keeps_the_greedy_argmax() {
        let dir = tempfile::tempdir().unwrap();
        // hidden 288: not a multiple of 32 (padded columns).
        let m = model(dir.path(), 288, 3001);
        for threads in [1, 2] {
            let mut exact = Session::new(&m, threads);
            let mut fast = Session::new(&m, threads);
            fast.head = HeadMode::Int8Refined;
            let mut tok = vec![1u32, 17, 250, 3];
            let (mut worst, mut sq, mut cnt, mut refined) = (0f64, 0f64, 0usize, 0usize);
            for step in 0..12 {
                let le = exact.forward(&tok, false).unwrap().pop().unwrap();
                let lf = fast.forward(&tok, false).unwrap().pop().unwrap();
                let (ae, af) = (argmax(&le), argmax(&lf));
                assert_eq!(ae, af, "step {step}, {threads} thread(s)");
                assert_eq!(le[ae].to_bits(), lf[af].to_bits());
                let mean = le.iter().map(|&v| f64::from(v)).sum::<f64>() / le.len() as f64;
                let sd = (le.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / le.len() as f64).sqrt();
                for (e, f) in le.iter().zip(&lf) {
                    let d = (f64::from(*e) - f64::from(*f)).abs() / sd;
                    worst = worst.max(d);
                    sq += d * d;
                    cnt += 1;
                    refined += usize::from(e.to_bits() == f.to_bits());
                    assert!(*f <= lf[af]);
                }
                tok = vec![ae as u32];
            }
            // Measured: RMS ~4e-3, worst ~1.5e-2 of the logit spread (int8 weights, per-row scale).
            let rms = (sq / cnt as f64).sqrt();
            assert!(worst < 5e-2 && rms < 1e-2, "error of the logit standard deviation: worst {worst:.2e}, rms {rms:.2e}");
            eprintln!(
                "int8 head, {threads} thread(s): |approx − exact| / σ(logits): rms {rms:.2e}, worst {worst:.2e}; {:.2}% of the logits exact",
                100.0 * refined as f64 / cnt as f64
            );
        }
    }

    /// Near-ties everywhere: every row is the same f16 row with one element
    /// nudged by one ulp, so the int8 values are nearly identical and the
    /// refinement must decide; the result is the exact argmax.
    #[test]
    fn int8_head_resolves_near_ties_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = model(dir.path(), 256, 600);
        let h = m.config.hidden;
        if let Embeddings::F16(e) = &mut m.embeddings {
            let base: Vec<f16> = e[..h].to_vec();
            for r in 1..m.config.vocab {
                let row = &mut e[r * h..(r + 1) * h];
                row.copy_from_slice(&base);
                let i = (r * 37) % h;
                let bits = row[i].to_bits();
                row[i] = f16::from_bits(if r % 2 == 0 { bits.wrapping_add(1) } else { bits.wrapping_sub(1) });
            }
        } else {
            panic!("synthetic embeddings are f16");
        }
        let mut exact = Session::new(&m, 1);
        let mut fast = Session::new(&m, 1);
        fast.head = HeadMode::Int8Refined;
        for toks in [[3u32, 5], [7, 9], [11, 400]] {
            let le = exact.forward(&toks, false).unwrap().pop().unwrap();
            let lf = fast.forward(&toks, false).unwrap().pop().unwrap();
            assert_eq!(argmax(&le), argmax(&lf));
        }
    }

    #[test]
    fn token_quantization_equals_quantize_absmax() {
        // Token 0: exact halves after scaling (max 127 gives s = 1), in the SIMD part and the tail.
        let special = [127.0, 0.5, -0.5, 1.5, -2.5, 0.49999997, -0.49999997, 126.5, -126.5, 0.0, -0.0, 3.5, 1e-7, -127.0];
        let mut xs: Vec<f32> = special.iter().cycle().take(1001).copied().collect();
        xs.extend((0..3000).map(|i| ((i as f32) * 0.7311).sin() * (1.0 + (i % 13) as f32)));
        xs.extend(special);
        xs.extend(std::iter::repeat_n(0.0, 5 * 1001 - xs.len()));
        let q = QuantizedTokens::new(&xs, 5, 1001);
        for t in 0..5 {
            let want = QuantizedActivations::quantize_absmax(&xs[t * 1001..(t + 1) * 1001]);
            assert_eq!(q.values[t * 1001..(t + 1) * 1001], want.values[..], "token {t}");
            assert_eq!(q.scales[t].to_bits(), want.scale.to_bits());
        }
        for y in [0.5f32, -0.5, 1.5, 2.5, -2.5, 0.49999997, 8388607.5, 1e9, -1e9, 3e9, f32::NAN, f32::INFINITY] {
            let (a, b) = (round_half_away(y), y.round());
            assert!(a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()), "{y}: {a} vs {b}");
        }
    }

    #[test]
    fn int8_dot_is_exact() {
        let q: Vec<i8> = (0..4160i32).map(|i| ((i * 7919) % 255) - 127).map(|v| v as i8).collect();
        let p: Vec<i16> = (0..4160i64).map(|i| ((i * 104729) % 65535) - 32767).map(|v| v as i16).collect();
        let want: i64 = q.iter().zip(&p).map(|(&a, &b)| i64::from(a) * i64::from(b)).sum();
        assert_eq!(dot_i8_i16(&q, &p), want);
        let q = vec![-127i8; 4160];
        let p = vec![-32767i16; 4160];
        assert_eq!(dot_i8_i16(&q, &p), 4160 * 127 * 32767);
    }

    /// ggml's Q8_K on hand-worked blocks: the scale comes from the first value of
    /// largest magnitude with its sign, halves round to even, an all-zero block
    /// has scale 0, and a K that is not a multiple of 256 is an error.
    #[test]
    fn q8k_matches_ggml_rounding() {
        let mut x = vec![0f32; 3 * Q8K_BLOCK];
        // Block 0: m = -2 (index 1 comes before +2 at index 9): 1/d = 63.5.
        x[..4].copy_from_slice(&[1.0, -2.0, 0.5, -1.0]);
        x[9] = 2.0;
        // Block 1: m = +4: 1/d = -31.75.
        x[256] = 4.0;
        x[257] = 2.0;
        x[258] = -4.0;
        // Block 2: all zero.
        let q = QuantizedTokens::q8k(&x, 1, 3 * Q8K_BLOCK).unwrap();
        assert_eq!(q.block, Q8K_BLOCK);
        assert_eq!(&q.values[..4], &[64, -127, 32, -64]); // 63.5 → 64, 31.75 → 32, -63.5 → -64
        assert_eq!(q.values[9], 127);
        assert_eq!(&q.values[256..259], &[-127, -64, 127]); // -4·(-31.75) = 127 stays (min 127)
        assert!(q.values[512..].iter().all(|&v| v == 0));
        assert_eq!(q.scales, vec![-2.0 / -127.0, 1.0 / (-127.0f32 / 4.0), 0.0]);
        let e = QuantizedTokens::q8k(&x[..320], 1, 320).err().unwrap().to_string();
        assert!(e.contains("256") && e.contains("320"), "{e}");
    }

    /// The vectorized SiLU·up against an f64 reference: within 4 ulp-ish
    /// (relative 5e-7, or absolute 1e-30 near zero) over the whole useful range,
    /// including values whose `e^−g` is clamped.
    #[test]
    fn silu_mul_matches_f64() {
        let gate: Vec<f32> = (-2000..2000).map(|i| i as f32 * 0.05).chain([-200.0, -90.0, -88.0, 87.0, 90.0, 1e-8, -1e-8, 0.0]).collect();
        let up: Vec<f32> = gate.iter().enumerate().map(|(i, _)| 0.5 + (i % 7) as f32 * 0.25).collect();
        let got = silu_mul(&gate, &up);
        for ((&g, &u), &o) in gate.iter().zip(&up).zip(&got) {
            let (g64, u64_) = (f64::from(g), f64::from(u));
            let want = g64 / (1.0 + (-g64).exp()) * u64_;
            let err = (f64::from(o) - want).abs();
            assert!(err <= 5e-7 * want.abs() + 1e-30, "silu({g})·{u}: {o} vs {want}");
        }
    }
}
