//! The model's f32 arithmetic: RMSNorm, RoPE, f16 rounding, and the SIMD
//! helpers of attention, FFN and the exact output head (dot products,
//! `y += a·x`, SiLU·up), each AVX2 or generic as a [`Dispatch`] says.

use half::f16;
use half::slice::HalfFloatSliceExt;

use crate::kernels::{Dispatch, Isa, SimdPath};

/// `x / sqrt(mean(x²) + eps) · w`, in place (the sum of squares in f64, in
/// eight interleaved partial sums so that it vectorizes instead of waiting on
/// one long chain of dependent adds).
pub fn rmsnorm(x: &mut [f32], w: &[f32], eps: f32) {
    let mut acc = [0f64; 8];
    let chunks = x.chunks_exact(8);
    let tail: f64 = chunks
        .remainder()
        .iter()
        .map(|v| f64::from(*v) * f64::from(*v))
        .sum();
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

/// `x` rounded to the nearest f16 (as f32).
pub fn round_f16(x: f32) -> f32 {
    f16::from_f32(x).to_f32()
}

/// `silu(g)·u = g / (1 + e^−g) · u` elementwise. On AVX2 ([`SimdPath::F32`]),
/// eight at a time with a polynomial `e^x` (Cephes' `expf`; the result within
/// 5e-7 relative of an f64 evaluation, checked in the tests); the scalar tail
/// and the generic path use `f32::exp`.
pub fn silu_mul(cpu: Dispatch, gate: &[f32], up: &[f32]) -> Vec<f32> {
    let mut out = vec![0f32; gate.len().min(up.len())];
    let isa = cpu.isa(SimdPath::F32);
    crate::kernels::note(SimdPath::F32, isa);
    let done = match isa {
        Isa::Generic => 0,
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Dispatch` gives this path AVX2 only on a CPU with AVX2 and FMA.
        Isa::Avx2 | Isa::Avx512 => unsafe { silu_mul_avx2(gate, up, &mut out) },
        #[cfg(not(target_arch = "x86_64"))]
        _ => 0,
    };
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
            _mm256_storeu_ps(
                out.as_mut_ptr().add(i),
                _mm256_mul_ps(s, _mm256_loadu_ps(up.as_ptr().add(i))),
            );
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
    let x = _mm256_min_ps(
        _mm256_max_ps(x, _mm256_set1_ps(-87.3)),
        _mm256_set1_ps(88.3),
    );
    let k = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm256_mul_ps(
        x,
        _mm256_set1_ps(std::f32::consts::LOG2_E),
    ));
    let r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693_359_4), x);
    let r = _mm256_fnmadd_ps(k, _mm256_set1_ps(-2.121_944_4e-4), r);
    let mut p = _mm256_set1_ps(1.987_569_1e-4);
    for c in [
        1.398_199_9e-3,
        8.333_452e-3,
        4.166_579_6e-2,
        1.666_666_5e-1,
        0.5,
    ] {
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(c));
    }
    let y = _mm256_add_ps(
        _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, r),
        _mm256_set1_ps(1.0),
    );
    let pow2k = _mm256_slli_epi32::<23>(_mm256_add_epi32(
        _mm256_cvtps_epi32(k),
        _mm256_set1_epi32(127),
    ));
    _mm256_mul_ps(y, _mm256_castsi256_ps(pow2k))
}

/// `Σ row[i]·x[i]` for an f16 row: on AVX2 ([`SimdPath::F16Dot`]) converted
/// and multiplied in registers; otherwise converted into `scratch` (exactly:
/// every f16 is an f32) and handed to [`dot`].
pub fn dot_f16(cpu: Dispatch, row: &[f16], x: &[f32], scratch: &mut [f32]) -> f32 {
    let isa = cpu.isa(SimdPath::F16Dot);
    crate::kernels::note(SimdPath::F16Dot, isa);
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Dispatch` gives this path AVX2 only on a CPU with AVX2, F16C and FMA.
        Isa::Avx2 | Isa::Avx512 => unsafe { dot_f16_avx2(row, x) },
        _ => {
            row.convert_to_f32_slice(scratch);
            dot(cpu, scratch, x)
        }
    }
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

/// `Σ a[i]·b[i]` of two slices of one length: on AVX2 ([`SimdPath::F32`]) with
/// FMA in two 8-lane accumulators, generic in eight plain partial sums. The
/// two differ only in rounding (summation order and fused multiply-adds).
pub fn dot(cpu: Dispatch, a: &[f32], b: &[f32]) -> f32 {
    let isa = cpu.isa(SimdPath::F32);
    crate::kernels::note(SimdPath::F32, isa);
    #[cfg(target_arch = "x86_64")]
    if isa != Isa::Generic {
        // SAFETY: `Dispatch` gives this path AVX2 only on a CPU with AVX2 and FMA.
        return unsafe { dot_avx2(a, b) };
    }
    let mut acc = [0f32; 8];
    let chunks = a.len() / 8 * 8;
    for (ca, cb) in a[..chunks].chunks_exact(8).zip(b[..chunks].chunks_exact(8)) {
        for j in 0..8 {
            acc[j] += ca[j] * cb[j];
        }
    }
    let tail: f32 = a[chunks..]
        .iter()
        .zip(&b[chunks..])
        .map(|(x, y)| x * y)
        .sum();
    acc.iter().sum::<f32>() + tail
}

/// `out += w · v` over the shorter length (fused multiply-adds on AVX2,
/// [`SimdPath::F32`]).
pub fn axpy(cpu: Dispatch, out: &mut [f32], w: f32, v: &[f32]) {
    let isa = cpu.isa(SimdPath::F32);
    crate::kernels::note(SimdPath::F32, isa);
    #[cfg(target_arch = "x86_64")]
    if isa != Isa::Generic {
        // SAFETY: `Dispatch` gives this path AVX2 only on a CPU with AVX2 and FMA.
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
            acc1 = _mm256_fmadd_ps(
                _mm256_loadu_ps(ap.add(i + 8)),
                _mm256_loadu_ps(bp.add(i + 8)),
                acc1,
            );
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
    _mm_cvtss_f32(h)
        + a[i..n]
            .iter()
            .zip(&b[i..n])
            .map(|(x, y)| x * y)
            .sum::<f32>()
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
            _mm256_storeu_ps(
                op.add(i),
                _mm256_fmadd_ps(wv, _mm256_loadu_ps(vp.add(i)), _mm256_loadu_ps(op.add(i))),
            );
            i += 8;
        }
    }
    for (o, vv) in out[i..n].iter_mut().zip(&v[i..n]) {
        *o += w * vv;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SiLU·up of every ISA against an f64 reference: within 4 ulp-ish
    /// (relative 5e-7, or absolute 1e-30 near zero) over the whole useful range,
    /// including values whose `e^−g` is clamped.
    #[test]
    fn silu_mul_matches_f64() {
        let gate: Vec<f32> = (-2000..2000)
            .map(|i| i as f32 * 0.05)
            .chain([-200.0, -90.0, -88.0, 87.0, 90.0, 1e-8, -1e-8, 0.0])
            .collect();
        let up: Vec<f32> = gate
            .iter()
            .enumerate()
            .map(|(i, _)| 0.5 + (i % 7) as f32 * 0.25)
            .collect();
        for isa in Isa::available() {
            let cpu = Dispatch::new(isa).unwrap();
            crate::kernels::ran::take();
            let got = silu_mul(cpu, &gate, &up);
            assert_eq!(
                crate::kernels::ran::take(),
                [(SimdPath::F32, cpu.isa(SimdPath::F32))].into()
            );
            for ((&g, &u), &o) in gate.iter().zip(&up).zip(&got) {
                let (g64, u64_) = (f64::from(g), f64::from(u));
                let want = g64 / (1.0 + (-g64).exp()) * u64_;
                let err = (f64::from(o) - want).abs();
                assert!(
                    err <= 5e-7 * want.abs() + 1e-30,
                    "{isa}: silu({g})·{u}: {o} vs {want}"
                );
            }
        }
    }

    /// Dot products and `y += a·x` of every ISA against f64, over lengths
    /// around the vector widths: within the textbook bound of any summation
    /// order, `n·ε·Σ|a·b|` (`ε = 2^-24`), and `ε·(|a·x| + |y|)` per element;
    /// each call runs the ISA its path is dispatched to.
    #[test]
    fn dots_match_f64_on_every_isa() {
        let eps = f64::from(f32::EPSILON) / 2.0;
        for isa in Isa::available() {
            let cpu = Dispatch::new(isa).unwrap();
            crate::kernels::ran::take();
            for n in [0usize, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 100, 1000] {
                let a: Vec<f32> = (0..n).map(|i| ((i as f32) * 0.37).sin()).collect();
                let b: Vec<f32> = (0..n).map(|i| ((i as f32) * 0.11).cos() * 3.0).collect();
                let row: Vec<f16> = a.iter().map(|&v| f16::from_f32(v)).collect();
                let exact = |x: &mut dyn Iterator<Item = f64>| {
                    x.zip(&b).fold((0f64, 0f64), |(s, m), (x, &y)| {
                        (s + x * f64::from(y), m + (x * f64::from(y)).abs())
                    })
                };
                let (want, mag) = exact(&mut a.iter().map(|&v| f64::from(v)));
                let got = f64::from(dot(cpu, &a, &b));
                assert!(
                    (got - want).abs() <= n as f64 * eps * mag,
                    "{isa}: dot of {n}: {got} vs {want}"
                );
                let (want, mag) = exact(&mut row.iter().map(|v| f64::from(v.to_f32())));
                let got = f64::from(dot_f16(cpu, &row, &b, &mut vec![0f32; n]));
                assert!(
                    (got - want).abs() <= n as f64 * eps * mag,
                    "{isa}: f16 dot of {n}: {got} vs {want}"
                );
                let mut y = b.clone();
                axpy(cpu, &mut y, 0.75, &a);
                for ((&y, &x), &y0) in y.iter().zip(&a).zip(&b) {
                    let (ax, y0) = (0.75 * f64::from(x), f64::from(y0));
                    assert!(
                        (f64::from(y) - (ax + y0)).abs() <= 2.0 * eps * (ax.abs() + y0.abs()),
                        "{isa}: axpy"
                    );
                }
            }
            let ran = crate::kernels::ran::take();
            let want = [
                (SimdPath::F32, cpu.isa(SimdPath::F32)),
                (SimdPath::F16Dot, cpu.isa(SimdPath::F16Dot)),
            ];
            assert!(
                want.iter().all(|p| ran.contains(p))
                    && ran.iter().all(|p| want.contains(p) || p.0 == SimdPath::F32),
                "{isa}: ran {ran:?}"
            );
        }
    }
}
