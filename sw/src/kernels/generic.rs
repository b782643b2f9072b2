//! Portable exact kernel and table precompute: the same packed layout and
//! tables as the SIMD kernels, in plain integer loops (any CPU).

use std::ops::Range;

use super::lut_gemm::{ExactJob, TABLE_BYTES};
use crate::layout::simd::G;

/// Split one activation into its table bases: `x = 16·h + l`, `l ∈ 0..=15`, `h ∈ -8..=7`.
#[inline]
pub(crate) fn split(x: i8) -> (u8, i8) {
    ((x as u8) & 15, x >> 4)
}

/// Exact tables of one token: per group of [`G`] activations, 16 bytes of
/// `TL[i] = Σ_{bit t of i} l_t` then 16 bytes of `TH[i] = Σ_{bit t of i} h_t`.
pub(crate) fn build_tables(x: &[i8], tables: &mut [u8]) {
    for (j, xs) in x.chunks(G).enumerate() {
        let t = &mut tables[j * TABLE_BYTES..(j + 1) * TABLE_BYTES];
        for i in 0..16 {
            let (mut l, mut h) = (0u8, 0i8);
            for (bit, &v) in xs.iter().enumerate() {
                if (i >> bit) & 1 == 1 {
                    let (vl, vh) = split(v);
                    l += vl;
                    h += vh;
                }
            }
            t[i] = l;
            t[16 + i] = h as u8;
        }
    }
}

/// Exact subset sum `P[i] = 16·TH[i] + TL[i]` of group table `t`.
#[inline]
fn entry(t: &[u8], i: u8) -> i32 {
    i32::from(t[usize::from(i)]) + 16 * i32::from(t[16 + usize::from(i)] as i8)
}

/// Exact kernel on row blocks `rbs`: each weight byte is read once for all tokens.
pub(crate) fn run_exact(job: &ExactJob<'_>, rbs: Range<usize>) {
    let w = job.w;
    let (r, np, n) = (w.rows_per_block, w.plane_pairs, job.n);
    let mut acc = vec![0i32; n * r];
    for rb in rbs {
        acc.fill(0);
        let block = w.block(rb);
        for q in 0..w.group_pairs {
            for pp in 0..np {
                let v = &block[(q * np + pp) * 2 * r..(q * np + pp + 1) * 2 * r];
                for (byte_at, &b) in v.iter().enumerate() {
                    if b == 0 {
                        continue;
                    }
                    let (k, p) = (byte_at / 2, 2 * pp + byte_at % 2);
                    for t in 0..n {
                        let tab = &job.tables[t * job.tstride + 2 * q * TABLE_BYTES..];
                        let s = entry(&tab[..TABLE_BYTES], b & 15)
                            + entry(&tab[TABLE_BYTES..2 * TABLE_BYTES], b >> 4);
                        acc[t * r + k] += s << p;
                    }
                }
            }
        }
        for t in 0..n {
            for k in 0..r {
                // SAFETY: this chunk owns row block `rb`, i.e. rows rb·R .. rb·R+R.
                unsafe { job.out.write(t, rb * r + k, acc[t * r + k] - job.offset[t]) };
            }
        }
    }
}
