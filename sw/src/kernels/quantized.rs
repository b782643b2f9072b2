//! Lossy `TableMode::QuantizedInt8` (T-MAC style): per group of 4
//! activations a 16-entry table of exact subset sums `P[i]` is quantized to
//! int8 with one scale per block of [`SCALE_GROUPS`] groups; lookups are
//! summed exactly in integers within a block, then scaled in `f32`. The
//! `zero_point·Σx` correction stays exact. Never mixed with the exact mode.
//! Portable code (one kernel for every ISA; the exact mode is the fast path).

use std::ops::Range;

use super::lut_gemm::OutPtr;
use crate::layout::simd::{SimdWeights, G};

/// Groups sharing one table scale (cuts K into scale blocks of 64 weights).
pub const SCALE_GROUPS: usize = 16;

/// Largest absolute error one lookup can add to a result, before its plane
/// weight `2^p`: a subset sum of 4 int8 values has `|P| ≤ 512`, the block
/// scale is `s ≤ 512/127`, rounding `P/s` to an integer errs by at most
/// `s/2 ≤ 256/127`. A result of `b`-bit weights and K columns is therefore
/// within `(2^b − 1) · ceil(K/4) · MAX_ABS_ERROR_PER_LOOKUP` of the exact
/// value (plus `f32` rounding of the final sums).
pub const MAX_ABS_ERROR_PER_LOOKUP: f32 = 256.0 / 127.0;

/// Quantized tables of all tokens of one call.
pub(crate) struct QuantTables {
    /// Token `t`'s int8 entries at `t·stride`, 16 per group.
    pub entries: Vec<i8>,
    /// Entries per token.
    pub stride: usize,
    /// Scales, `SCALE_GROUPS` groups each, `blocks` per token.
    pub scales: Vec<f32>,
    /// Scale blocks per token.
    pub blocks: usize,
}

impl QuantTables {
    /// Build the tables of `n` tokens of `k` activations for weights `w`.
    pub fn new(w: &SimdWeights, x: &[i8], n: usize) -> Self {
        let k = w.cols;
        let groups = w.group_pairs * 2;
        let blocks = groups.div_ceil(SCALE_GROUPS);
        let stride = groups * 16;
        let mut entries = vec![0i8; n * stride];
        let mut scales = vec![0f32; n * blocks];
        let mut p = vec![0i32; SCALE_GROUPS * 16];
        for t in 0..n {
            let xt = &x[t * k..(t + 1) * k];
            for b in 0..blocks {
                p.fill(0);
                let mut max = 1i32;
                for gi in 0..SCALE_GROUPS {
                    let j = b * SCALE_GROUPS + gi;
                    let xs: Vec<i32> = (0..G)
                        .map(|e| xt.get(j * G + e).map_or(0, |&v| i32::from(v)))
                        .collect();
                    for i in 0..16 {
                        let s: i32 = (0..G).filter(|e| (i >> e) & 1 == 1).map(|e| xs[e]).sum();
                        p[gi * 16 + i] = s;
                        max = max.max(s.abs());
                    }
                }
                let scale = max as f32 / 127.0;
                scales[t * blocks + b] = scale;
                for gi in 0..SCALE_GROUPS {
                    let j = b * SCALE_GROUPS + gi;
                    if j >= groups {
                        break;
                    }
                    for i in 0..16 {
                        let q = (p[gi * 16 + i] as f32 / scale).round().clamp(-127.0, 127.0);
                        entries[t * stride + j * 16 + i] = q as i8;
                    }
                }
            }
        }
        QuantTables {
            entries,
            stride,
            scales,
            blocks,
        }
    }
}

/// Everything one quantized call shares among its row chunks.
pub(crate) struct QuantJob<'a> {
    /// Packed weights.
    pub w: &'a SimdWeights,
    /// Tables.
    pub tables: &'a QuantTables,
    /// Tokens.
    pub n: usize,
    /// `zero_point·Σx` per token.
    pub offset: &'a [f32],
    /// Output.
    pub out: OutPtr<f32>,
}

/// Quantized kernel on row blocks `rbs`.
pub(crate) fn run(job: &QuantJob<'_>, rbs: Range<usize>) {
    let w = job.w;
    let (r, np, n) = (w.rows_per_block, w.plane_pairs, job.n);
    let tb = job.tables;
    let mut acc = vec![0f32; n * r];
    let mut iacc = vec![0i32; n * r];
    for rb in rbs {
        acc.fill(0.0);
        let block = w.block(rb);
        for sb in 0..tb.blocks {
            iacc.fill(0);
            let q0 = sb * SCALE_GROUPS / 2;
            let q1 = w.group_pairs.min((sb + 1) * SCALE_GROUPS / 2);
            for q in q0..q1 {
                for pp in 0..np {
                    let v = &block[(q * np + pp) * 2 * r..(q * np + pp + 1) * 2 * r];
                    for (at, &b) in v.iter().enumerate() {
                        if b == 0 {
                            continue;
                        }
                        let (kk, p) = (at / 2, 2 * pp + at % 2);
                        for t in 0..n {
                            let e = &tb.entries[t * tb.stride + 2 * q * 16..];
                            let s = i32::from(e[usize::from(b & 15)])
                                + i32::from(e[16 + usize::from(b >> 4)]);
                            iacc[t * r + kk] += s << p;
                        }
                    }
                }
            }
            for t in 0..n {
                let scale = tb.scales[t * tb.blocks + sb];
                for kk in 0..r {
                    acc[t * r + kk] += iacc[t * r + kk] as f32 * scale;
                }
            }
        }
        for t in 0..n {
            for kk in 0..r {
                // SAFETY: this chunk owns row block `rb`.
                unsafe {
                    job.out
                        .write(t, rb * r + kk, acc[t * r + kk] - job.offset[t])
                };
            }
        }
    }
}
