//! The tied output head: `embed · h` for every vocabulary row, exactly in
//! f32 or ([`HeadMode::Int8Refined`]) through an int8 copy with proven error
//! bounds and exact recomputation of every row that may be the maximum.

use super::f32ops::{dot, dot_f16};
use super::par::{for_pieces, SharedOut};
use super::quant::{abs_max, round_half_away};
use super::{Embeddings, Session};
use crate::kernels::{Dispatch, Isa, SimdPath};

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

impl Session<'_> {
    /// The tied output head: `embed · h` for every vocabulary row.
    pub(crate) fn logits(&self, cpu: Dispatch, hv: &[f32]) -> Vec<f32> {
        match self.head {
            HeadMode::Exact => self.logits_exact(cpu, hv),
            HeadMode::Int8Refined => self.logits_int8(cpu, hv),
        }
    }

    /// Exact logit of vocabulary row `r`.
    fn exact_logit(&self, cpu: Dispatch, r: usize, hv: &[f32], scratch: &mut [f32]) -> f32 {
        let h = hv.len();
        match &self.model.embeddings {
            Embeddings::F16(e) => dot_f16(cpu, &e[r * h..(r + 1) * h], hv, scratch),
            Embeddings::F32(e) => dot(cpu, &e[r * h..(r + 1) * h], hv),
        }
    }

    /// Run `f(first_row, rows)` over runs of [`HEAD_ROWS`]-row pieces of
    /// `out`, on the shared pool when the session has several threads.
    fn for_head_chunks(&self, out: &mut [f32], f: &(dyn Fn(usize, &mut [f32]) + Sync)) {
        let pool = if self.threads > 1 {
            crate::kernels::shared_pool(self.threads).ok()
        } else {
            None
        };
        for_pieces(pool.as_deref(), out, HEAD_ROWS, f);
    }

    fn logits_exact(&self, cpu: Dispatch, hv: &[f32]) -> Vec<f32> {
        let mut out = vec![0f32; self.model.config.vocab];
        self.for_head_chunks(&mut out, &|lo, chunk| {
            let mut row = vec![0f32; hv.len()];
            for (j, o) in chunk.iter_mut().enumerate() {
                *o = self.exact_logit(cpu, lo + j, hv, &mut row);
            }
        });
        out
    }

    fn logits_int8(&self, cpu: Dispatch, hv: &[f32]) -> Vec<f32> {
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
            head.approx_rows(cpu, lo, &x, chunk, b);
        });
        // Best lower bound; every row that may reach it is recomputed exactly.
        let floor = out
            .iter()
            .zip(&bound)
            .map(|(a, b)| a - b)
            .fold(f32::NEG_INFINITY, f32::max);
        let mut row = vec![0f32; hv.len()];
        for r in 0..vocab {
            if out[r] + bound[r] >= floor || !out[r].is_finite() || !bound[r].is_finite() {
                out[r] = self.exact_logit(cpu, r, hv, &mut row);
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
        let t = if max_abs > 0.0 {
            max_abs / 32767.0
        } else {
            1.0
        };
        let inv = 1.0 / t;
        let mut p = vec![0i16; padded];
        let mut s = 0f64;
        for (q, v) in p.iter_mut().zip(x) {
            *q = round_half_away(v * inv).clamp(-32767.0, 32767.0) as i16;
            s += f64::from(q.unsigned_abs());
        }
        Int16Act {
            p,
            t,
            sum_abs: (s * f64::from(t)) as f32,
            max_abs,
        }
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
        q.par_chunks_mut(cols_padded)
            .zip(scale.par_iter_mut())
            .zip(l1.par_iter_mut())
            .enumerate()
            .for_each(|(r, ((qr, s), l))| {
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
            });
        Int8Head {
            rows,
            cols_padded,
            q,
            scale,
            l1,
        }
    }

    /// Approximate logits and their error bounds of rows `lo .. lo + out.len()`.
    fn approx_rows(
        &self,
        cpu: Dispatch,
        lo: usize,
        x: &Int16Act,
        out: &mut [f32],
        bound: &mut [f32],
    ) {
        let cp = self.cols_padded;
        for (j, (o, b)) in out.iter_mut().zip(bound.iter_mut()).enumerate() {
            let r = lo + j;
            let qr = &self.q[r * cp..(r + 1) * cp];
            let d = dot_i8_i16(cpu, qr, &x.p);
            let (s, l1) = (self.scale[r], self.l1[r]);
            *o = (f64::from(s) * f64::from(x.t) * d as f64) as f32;
            *b = 1.002 * (0.5 * l1 * x.t + 0.5 * s * x.sum_abs)
                + 1e-5 * l1 * x.max_abs
                + f32::MIN_POSITIVE;
        }
    }
}

/// `Σ q_i·p_i` exactly (`q.len() == p.len()`, a multiple of 32), on the
/// ISA `cpu` gives [`SimdPath::Int8Dot`]: every ISA gives the same integer.
fn dot_i8_i16(cpu: Dispatch, q: &[i8], p: &[i16]) -> i64 {
    let isa = cpu.isa(SimdPath::Int8Dot);
    crate::kernels::note(SimdPath::Int8Dot, isa);
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Dispatch` gives this path AVX2 only on a CPU that has it.
        Isa::Avx2 | Isa::Avx512 => unsafe { dot_i8_i16_avx2(q, p) },
        _ => q
            .iter()
            .zip(p)
            .map(|(&a, &b)| i64::from(a) * i64::from(b))
            .sum(),
    }
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
                a0 = _mm256_add_epi32(
                    a0,
                    _mm256_madd_epi16(w0, _mm256_loadu_si256(pp.add(i).cast())),
                );
                a1 = _mm256_add_epi32(
                    a1,
                    _mm256_madd_epi16(w1, _mm256_loadu_si256(pp.add(i + 16).cast())),
                );
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
    use crate::gguf::GgmlType;
    use crate::model::synth::{write_model, SynthShape};
    use crate::model::Model;
    use half::f16;

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
            ternary: if hidden.is_multiple_of(256) {
                GgmlType::TQ2_0
            } else {
                GgmlType::I2S
            },
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
                let sd = (le
                    .iter()
                    .map(|&v| (f64::from(v) - mean).powi(2))
                    .sum::<f64>()
                    / le.len() as f64)
                    .sqrt();
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
            assert!(
                worst < 5e-2 && rms < 1e-2,
                "error of the logit standard deviation: worst {worst:.2e}, rms {rms:.2e}"
            );
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
                row[i] = f16::from_bits(if r % 2 == 0 {
                    bits.wrapping_add(1)
                } else {
                    bits.wrapping_sub(1)
                });
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
    fn int8_dot_is_exact() {
        let q: Vec<i8> = (0..4160i32)
            .map(|i| ((i * 7919) % 255) - 127)
            .map(|v| v as i8)
            .collect();
        let p: Vec<i16> = (0..4160i64)
            .map(|i| ((i * 104729) % 65535) - 32767)
            .map(|v| v as i16)
            .collect();
        let want: i64 = q
            .iter()
            .zip(&p)
            .map(|(&a, &b)| i64::from(a) * i64::from(b))
            .sum();
        let (qmax, pmax) = (vec![-127i8; 4160], vec![-32767i16; 4160]);
        for isa in Isa::available() {
            let cpu = Dispatch::new(isa).unwrap();
            crate::kernels::ran::take();
            assert_eq!(dot_i8_i16(cpu, &q, &p), want, "{isa}");
            assert_eq!(dot_i8_i16(cpu, &qmax, &pmax), 4160 * 127 * 32767, "{isa}");
            assert_eq!(
                crate::kernels::ran::take(),
                [(SimdPath::Int8Dot, cpu.isa(SimdPath::Int8Dot))].into()
            );
        }
    }
}
