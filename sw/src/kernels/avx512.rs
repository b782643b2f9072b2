//! AVX-512 (F + BW) exact kernel: the AVX2 kernel on 512-bit vectors over
//! [`crate::layout::simd`] with R = 32 rows per 64-byte vector. Tables come
//! from the AVX2 precompute (same format, broadcast to four 128-bit lanes).
//! Compiled on x86-64 only; callers check AVX-512 F/BW/VL at run time.
#![cfg(target_arch = "x86_64")]

use std::arch::x86_64::*;
use std::ops::Range;

use super::lut_gemm::{ExactJob, TABLE_BYTES};
use crate::layout::simd::PAIRS_PER_BLOCK;

/// Exact kernel on row blocks `rbs` (32 rows each).
///
/// # Safety
/// AVX-512 F and BW must be available; `job` must come from `LutGemm::gemm`
/// (packed with R = 32, tables of `group_pairs·2` groups per token).
#[target_feature(enable = "avx512f,avx512bw")]
pub(crate) unsafe fn run_exact(job: &ExactJob<'_>, rbs: Range<usize>) {
    assert_eq!(job.w.rows_per_block, 32);
    // SAFETY: same contract as ours.
    unsafe {
        match job.w.plane_pairs {
            1 => kernel::<1>(job, rbs),
            2 => kernel::<2>(job, rbs),
            np => unreachable!("{np} plane pairs (weights have at most 4 bits)"),
        }
    }
}

#[inline(always)]
unsafe fn bcast(p: *const u8) -> __m512i {
    // SAFETY: caller guarantees 16 readable bytes at p.
    unsafe { _mm512_broadcast_i32x4(_mm_loadu_si128(p.cast())) }
}

#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn kernel<const NP: usize>(job: &ExactJob<'_>, rbs: Range<usize>) {
    let w = job.w;
    let n = job.n;
    let nblocks = w.group_pairs / PAIRS_PER_BLOCK;
    assert!(job.tables.len() >= n * job.tstride && job.tstride >= nblocks * 4 * TABLE_BYTES);
    assert!(
        w.data.len() >= w.row_blocks * nblocks * PAIRS_PER_BLOCK * NP * 64
            && rbs.end <= w.row_blocks
    );
    let m4 = _mm512_set1_epi8(0x0f);
    let pw: [__m512i; NP] = std::array::from_fn(|pp| {
        _mm512_set1_epi16((1i16 << (2 * pp)) | (1i16 << (2 * pp + 1 + 8)))
    });
    let mut acc = vec![[_mm512_setzero_si512(); 2]; n];
    for rb in rbs {
        acc.fill([_mm512_setzero_si512(); 2]);
        let wb = w.block(rb).as_ptr();
        let mut b0 = 0;
        while b0 < nblocks {
            let b1 = nblocks.min(b0 + job.flush);
            for (t, acc_t) in acc.iter_mut().enumerate() {
                // SAFETY: table offsets stay below (t+1)·tstride and weight
                // offsets below the block's bytes (asserted sizes above);
                // all loads are unaligned.
                unsafe {
                    let tab = job.tables.as_ptr().add(t * job.tstride);
                    let mut al = _mm512_setzero_si512();
                    let mut ah = _mm512_setzero_si512();
                    for blk in b0..b1 {
                        let tp = tab.add(blk * 4 * TABLE_BYTES);
                        let (tl0, th0) = (bcast(tp), bcast(tp.add(16)));
                        let (tl1, th1) = (bcast(tp.add(32)), bcast(tp.add(48)));
                        let (tl2, th2) = (bcast(tp.add(64)), bcast(tp.add(80)));
                        let (tl3, th3) = (bcast(tp.add(96)), bcast(tp.add(112)));
                        let wp = wb.add(blk * PAIRS_PER_BLOCK * NP * 64);
                        for (pp, pwp) in pw.iter().enumerate() {
                            let w0 = _mm512_loadu_si512(wp.add(pp * 64).cast());
                            let w1 = _mm512_loadu_si512(wp.add((NP + pp) * 64).cast());
                            let lo0 = _mm512_and_si512(w0, m4);
                            let hi0 = _mm512_and_si512(_mm512_srli_epi16(w0, 4), m4);
                            let lo1 = _mm512_and_si512(w1, m4);
                            let hi1 = _mm512_and_si512(_mm512_srli_epi16(w1, 4), m4);
                            let l = _mm512_add_epi8(
                                _mm512_add_epi8(
                                    _mm512_shuffle_epi8(tl0, lo0),
                                    _mm512_shuffle_epi8(tl1, hi0),
                                ),
                                _mm512_add_epi8(
                                    _mm512_shuffle_epi8(tl2, lo1),
                                    _mm512_shuffle_epi8(tl3, hi1),
                                ),
                            );
                            let h = _mm512_add_epi8(
                                _mm512_add_epi8(
                                    _mm512_shuffle_epi8(th0, lo0),
                                    _mm512_shuffle_epi8(th1, hi0),
                                ),
                                _mm512_add_epi8(
                                    _mm512_shuffle_epi8(th2, lo1),
                                    _mm512_shuffle_epi8(th3, hi1),
                                ),
                            );
                            al = _mm512_add_epi16(al, _mm512_maddubs_epi16(l, *pwp));
                            ah = _mm512_add_epi16(ah, _mm512_maddubs_epi16(*pwp, h));
                        }
                    }
                    let le = _mm512_srai_epi32(_mm512_slli_epi32(al, 16), 16);
                    let he = _mm512_srai_epi32(_mm512_slli_epi32(ah, 16), 12);
                    let lo = _mm512_srai_epi32(al, 16);
                    let ho = _mm512_slli_epi32(_mm512_srai_epi32(ah, 16), 4);
                    acc_t[0] = _mm512_add_epi32(acc_t[0], _mm512_add_epi32(le, he));
                    acc_t[1] = _mm512_add_epi32(acc_t[1], _mm512_add_epi32(lo, ho));
                }
            }
            b0 = b1;
        }
        for (t, acc_t) in acc.iter().enumerate() {
            let mut e = [0i32; 16];
            let mut o = [0i32; 16];
            // SAFETY: e and o hold 16 i32 each; unaligned stores.
            unsafe {
                _mm512_storeu_si512(e.as_mut_ptr().cast(), acc_t[0]);
                _mm512_storeu_si512(o.as_mut_ptr().cast(), acc_t[1]);
            }
            for i in 0..16 {
                // SAFETY: this chunk owns row block `rb` (rows rb·32 .. rb·32+32).
                unsafe {
                    job.out.write(t, rb * 32 + 2 * i, e[i] - job.offset[t]);
                    job.out.write(t, rb * 32 + 2 * i + 1, o[i] - job.offset[t]);
                }
            }
        }
    }
}
