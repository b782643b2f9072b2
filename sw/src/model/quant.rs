//! Activation quantization of a BitLinear's input: per-token absmax int8
//! (BitNet's definition; AVX2 or generic by [`Dispatch`]) or ggml's Q8_K
//! blocks ([`Numerics::LlamaCpp`]).

use super::{ModelError, Numerics};
use crate::kernels::{Dispatch, Isa, SimdPath};

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
    /// Quantize `n` tokens of `k` values each (per token absmax), on the ISA
    /// `cpu` gives [`SimdPath::Quantize`]; every ISA gives the same bytes.
    pub fn new(cpu: Dispatch, xs: &[f32], n: usize, k: usize) -> QuantizedTokens {
        let isa = cpu.isa(SimdPath::Quantize);
        crate::kernels::note(SimdPath::Quantize, isa);
        let mut values = vec![0i8; n * k];
        let mut scales = Vec::with_capacity(n);
        for (x, q) in xs[..n * k].chunks_exact(k).zip(values.chunks_exact_mut(k)) {
            let max = abs_max(x).max(1e-5);
            let s = 127.0 / max;
            let done = match isa {
                Isa::Generic => 0,
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `Dispatch` gives this path AVX2 only on a CPU that has it.
                Isa::Avx2 | Isa::Avx512 => unsafe { quantize_avx2(x, s, q) },
                #[cfg(not(target_arch = "x86_64"))]
                _ => 0,
            };
            for (q, v) in q[done..].iter_mut().zip(&x[done..]) {
                *q = round_half_away(v * s).clamp(-128.0, 127.0) as i8;
            }
            scales.push(1.0 / s);
        }
        QuantizedTokens {
            values,
            scales,
            block: k,
        }
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
        for (x, q) in xs[..n * k]
            .chunks_exact(Q8K_BLOCK)
            .zip(values.chunks_exact_mut(Q8K_BLOCK))
        {
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
        Ok(QuantizedTokens {
            values,
            scales,
            block: Q8K_BLOCK,
        })
    }

    /// Quantize as `numerics` says.
    pub fn with(
        cpu: Dispatch,
        numerics: Numerics,
        xs: &[f32],
        n: usize,
        k: usize,
    ) -> Result<QuantizedTokens, ModelError> {
        match numerics {
            Numerics::BitNet => Ok(QuantizedTokens::new(cpu, xs, n, k)),
            Numerics::LlamaCpp => QuantizedTokens::q8k(xs, n, k),
            Numerics::Fp(fp) => Err(ModelError::Input(format!(
                "numerics with {fp} keep BitLinear inputs in floating point: they have no int8 quantization"
            ))),
        }
    }

    /// Scales per token.
    pub(crate) fn blocks_per_token(&self, n: usize) -> usize {
        self.scales.len() / n.max(1)
    }

    /// One token per block for per-block sums with a full-K kernel: token
    /// `t·B + b` holds block `b` of token `t` and zeros elsewhere (`B` blocks per token).
    pub(crate) fn split_blocks(&self, n: usize) -> Vec<i8> {
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
    let (half, mhalf, one) = (
        _mm256_set1_ps(0.5),
        _mm256_set1_ps(-0.5),
        _mm256_set1_ps(1.0),
    );
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
            _mm256_storeu_si256(
                q.as_mut_ptr().add(i).cast(),
                _mm256_permutevar8x32_epi32(v, perm),
            );
        }
        i += 32;
    }
    n
}

/// `max |x_i|` (0 for an empty slice; NaNs are skipped as by `f32::max`), in
/// eight interleaved lanes so that it vectorizes.
pub(crate) fn abs_max(x: &[f32]) -> f32 {
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

/// `y.round()` (half away from zero) for `|y| < 2^31` and NaN (which stays
/// NaN-free: it gives 0 after the `as i8` cast, like `round`), without the libm call.
#[inline(always)]
pub(crate) fn round_half_away(y: f32) -> f32 {
    if y.is_nan() || y.abs() >= 2147483520.0 {
        return y.round();
    }
    let t = y as i32 as f32; // toward zero, exact
    let f = y - t; // exact for |y| < 2^24; for larger |y|, y is an integer and f = 0
    t + f32::from(u8::from(f >= 0.5)) - f32::from(u8::from(f <= -0.5))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::QuantizedActivations;

    /// Every ISA's quantization gives the bytes and scales of
    /// `QuantizedActivations::quantize_absmax`, and runs the ISA dispatched.
    #[test]
    fn token_quantization_equals_quantize_absmax() {
        // Token 0: exact halves after scaling (max 127 gives s = 1), in the SIMD part and the tail.
        let special = [
            127.0,
            0.5,
            -0.5,
            1.5,
            -2.5,
            0.49999997,
            -0.49999997,
            126.5,
            -126.5,
            0.0,
            -0.0,
            3.5,
            1e-7,
            -127.0,
        ];
        let mut xs: Vec<f32> = special.iter().cycle().take(1001).copied().collect();
        xs.extend((0..3000).map(|i| ((i as f32) * 0.7311).sin() * (1.0 + (i % 13) as f32)));
        xs.extend(special);
        xs.extend(std::iter::repeat_n(0.0, 5 * 1001 - xs.len()));
        for isa in Isa::available() {
            let cpu = Dispatch::new(isa).unwrap();
            crate::kernels::ran::take();
            let q = QuantizedTokens::new(cpu, &xs, 5, 1001);
            let ran = crate::kernels::ran::take();
            assert_eq!(
                ran,
                [(SimdPath::Quantize, cpu.isa(SimdPath::Quantize))].into(),
                "selected {isa}"
            );
            for t in 0..5 {
                let want = QuantizedActivations::quantize_absmax(&xs[t * 1001..(t + 1) * 1001]);
                assert_eq!(
                    q.values[t * 1001..(t + 1) * 1001],
                    want.values[..],
                    "{isa}, token {t}"
                );
                assert_eq!(q.scales[t].to_bits(), want.scale.to_bits());
            }
        }
        for y in [
            0.5f32,
            -0.5,
            1.5,
            2.5,
            -2.5,
            0.49999997,
            8388607.5,
            1e9,
            -1e9,
            3e9,
            f32::NAN,
            f32::INFINITY,
        ] {
            let (a, b) = (round_half_away(y), y.round());
            assert!(
                a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                "{y}: {a} vs {b}"
            );
        }
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
        let e = QuantizedTokens::q8k(&x[..320], 1, 320)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("256") && e.contains("320"), "{e}");
    }
}
