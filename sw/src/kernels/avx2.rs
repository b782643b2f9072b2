//! AVX2 kernels: vectorised exact table precompute and the exact
//! `vpshufb` lookup kernel over [`crate::layout::simd`] (R = 16 rows per
//! 32-byte vector). Compiled on x86-64 only; callers check AVX2 at run time.
#![cfg(target_arch = "x86_64")]

use std::arch::x86_64::*;
use std::ops::Range;

use super::lut_gemm::{ExactJob, TABLE_BYTES};
use crate::layout::simd::{G, PAIRS_PER_BLOCK};

/// Shuffle controls selecting activation `t` of the lane's group for every
/// table index with bit `t` set (else zero): lane `c` reads byte `4c + t`.
const fn select_ctl(t: usize) -> [i8; 32] {
    let mut c = [0i8; 32];
    let mut i = 0;
    while i < 32 {
        let (lane, idx) = (i / 16, i % 16);
        c[i] = if (idx >> t) & 1 == 1 {
            (4 * lane + t) as i8
        } else {
            -128
        };
        i += 1;
    }
    c
}
const SEL: [[i8; 32]; 4] = [select_ctl(0), select_ctl(1), select_ctl(2), select_ctl(3)];

/// Exact tables of one token (layout of [`super::generic::build_tables`]),
/// two groups per 256-bit vector.
///
/// # Safety
/// AVX2 must be available; `tables` must hold `ceil(x.len()/8)·2` groups.
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn build_tables(x: &[i8], tables: &mut [u8]) {
    let pairs = x.len().div_ceil(2 * G);
    assert!(tables.len() >= pairs * 2 * TABLE_BYTES);
    let sel: [__m256i; 4] = std::array::from_fn(|t| {
        // SAFETY: SEL[t] is 32 bytes; unaligned load.
        unsafe { _mm256_loadu_si256(SEL[t].as_ptr().cast()) }
    });
    let m4 = _mm256_set1_epi8(0x0f);
    let eight = _mm256_set1_epi8(8);
    for c in 0..pairs {
        let mut buf = [0i8; 8];
        let src = &x[c * 2 * G..x.len().min((c + 1) * 2 * G)];
        buf[..src.len()].copy_from_slice(src);
        let v = _mm256_set1_epi64x(i64::from_le_bytes(buf.map(|b| b as u8)));
        let xl = _mm256_and_si256(v, m4);
        // h = ((v >> 4) & 15) sign-extended from 4 bits = x >> 4 (arithmetic).
        let xh = _mm256_sub_epi8(
            _mm256_xor_si256(_mm256_and_si256(_mm256_srli_epi16(v, 4), m4), eight),
            eight,
        );
        let mut tl = _mm256_setzero_si256();
        let mut th = _mm256_setzero_si256();
        for s in &sel {
            tl = _mm256_add_epi8(tl, _mm256_shuffle_epi8(xl, *s));
            th = _mm256_add_epi8(th, _mm256_shuffle_epi8(xh, *s));
        }
        let a = _mm256_permute2x128_si256(tl, th, 0x20);
        let b = _mm256_permute2x128_si256(tl, th, 0x31);
        let dst = tables[c * 2 * TABLE_BYTES..(c + 1) * 2 * TABLE_BYTES].as_mut_ptr();
        // SAFETY: dst holds 64 bytes (slice above); unaligned stores.
        unsafe {
            _mm256_storeu_si256(dst.cast(), a);
            _mm256_storeu_si256(dst.add(32).cast(), b);
        }
    }
}

/// Exact kernel on row blocks `rbs` (16 rows each).
///
/// # Safety
/// AVX2 must be available; `job` must come from `LutGemm::gemm` (packed
/// with R = 16, tables of `group_pairs·2` groups per token).
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn run_exact(job: &ExactJob<'_>, rbs: Range<usize>) {
    assert_eq!(job.w.rows_per_block, 16);
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
unsafe fn bcast(p: *const u8) -> __m256i {
    // SAFETY: caller guarantees 16 readable bytes at p.
    unsafe { _mm256_broadcastsi128_si256(_mm_loadu_si128(p.cast())) }
}

/// Tokens sharing one pass over a weight chunk (their i16 accumulators,
/// 2 per token, plus the nibbles and 8 tables fit the 16 ymm registers).
/// Cuts the batch into tiles of 4 tokens.
const TOKEN_TILE: usize = 4;

/// Add one flush of i16 accumulators `al` (TL side) and `ah` (TH side) to the
/// i32 accumulators: even i16 lanes (rows 2i) and odd (rows 2i+1), P = L + 16·H.
#[inline(always)]
unsafe fn flush(acc: &mut [__m256i; 2], al: __m256i, ah: __m256i) {
    let le = _mm256_srai_epi32(_mm256_slli_epi32(al, 16), 16);
    let he = _mm256_srai_epi32(_mm256_slli_epi32(ah, 16), 12);
    let lo = _mm256_srai_epi32(al, 16);
    let ho = _mm256_slli_epi32(_mm256_srai_epi32(ah, 16), 4);
    acc[0] = _mm256_add_epi32(acc[0], _mm256_add_epi32(le, he));
    acc[1] = _mm256_add_epi32(acc[1], _mm256_add_epi32(lo, ho));
}

/// i16 sums (TL side, TH side) of blocks `blks` of one row block for `TT`
/// tokens: each weight vector is loaded and split into nibbles once for all of them.
///
/// # Safety
/// AVX2; `wb` points at the row block, `tabs[i]` at token i's tables, and
/// both cover the blocks `blks`.
#[inline(always)]
unsafe fn chunk<const NP: usize, const TT: usize>(
    wb: *const u8,
    tabs: [*const u8; TT],
    blks: Range<usize>,
    pw: &[__m256i; NP],
) -> [(__m256i, __m256i); TT] {
    let m4 = _mm256_set1_epi8(0x0f);
    let mut acc = [(_mm256_setzero_si256(), _mm256_setzero_si256()); TT];
    for blk in blks {
        // SAFETY: offsets inside the caller's ranges; unaligned loads.
        unsafe {
            let wp = wb.add(blk * PAIRS_PER_BLOCK * NP * 32);
            for (pp, pwp) in pw.iter().enumerate() {
                let w0 = _mm256_loadu_si256(wp.add(pp * 32).cast());
                let w1 = _mm256_loadu_si256(wp.add((NP + pp) * 32).cast());
                let lo0 = _mm256_and_si256(w0, m4);
                let hi0 = _mm256_and_si256(_mm256_srli_epi16(w0, 4), m4);
                let lo1 = _mm256_and_si256(w1, m4);
                let hi1 = _mm256_and_si256(_mm256_srli_epi16(w1, 4), m4);
                for (tab, a) in tabs.iter().zip(acc.iter_mut()) {
                    let tp = tab.add(blk * 4 * TABLE_BYTES);
                    let l = _mm256_add_epi8(
                        _mm256_add_epi8(
                            _mm256_shuffle_epi8(bcast(tp), lo0),
                            _mm256_shuffle_epi8(bcast(tp.add(32)), hi0),
                        ),
                        _mm256_add_epi8(
                            _mm256_shuffle_epi8(bcast(tp.add(64)), lo1),
                            _mm256_shuffle_epi8(bcast(tp.add(96)), hi1),
                        ),
                    );
                    let h = _mm256_add_epi8(
                        _mm256_add_epi8(
                            _mm256_shuffle_epi8(bcast(tp.add(16)), lo0),
                            _mm256_shuffle_epi8(bcast(tp.add(48)), hi0),
                        ),
                        _mm256_add_epi8(
                            _mm256_shuffle_epi8(bcast(tp.add(80)), lo1),
                            _mm256_shuffle_epi8(bcast(tp.add(112)), hi1),
                        ),
                    );
                    a.0 = _mm256_add_epi16(a.0, _mm256_maddubs_epi16(l, *pwp));
                    a.1 = _mm256_add_epi16(a.1, _mm256_maddubs_epi16(*pwp, h));
                }
            }
        }
    }
    acc
}

#[target_feature(enable = "avx2")]
unsafe fn kernel<const NP: usize>(job: &ExactJob<'_>, rbs: Range<usize>) {
    let w = job.w;
    let n = job.n;
    let nblocks = w.group_pairs / PAIRS_PER_BLOCK;
    assert!(job.tables.len() >= n * job.tstride && job.tstride >= nblocks * 4 * TABLE_BYTES);
    assert!(
        w.data.len() >= w.row_blocks * nblocks * PAIRS_PER_BLOCK * NP * 32
            && rbs.end <= w.row_blocks
    );
    let pw: [__m256i; NP] = std::array::from_fn(|pp| {
        _mm256_set1_epi16((1i16 << (2 * pp)) | (1i16 << (2 * pp + 1 + 8)))
    });
    let mut acc = vec![[_mm256_setzero_si256(); 2]; n];
    for rb in rbs {
        acc.fill([_mm256_setzero_si256(); 2]);
        let wb = w.block(rb).as_ptr();
        let mut b0 = 0;
        while b0 < nblocks {
            let b1 = nblocks.min(b0 + job.flush);
            let mut t = 0;
            while t < n {
                let tt = if n - t >= TOKEN_TILE { TOKEN_TILE } else { 1 };
                // SAFETY: tokens t..t+tt exist; the sizes asserted above bound
                // every table and weight offset of the chunk.
                unsafe {
                    if tt == TOKEN_TILE {
                        let tabs =
                            std::array::from_fn(|i| job.tables.as_ptr().add((t + i) * job.tstride));
                        let r = chunk::<NP, TOKEN_TILE>(wb, tabs, b0..b1, &pw);
                        for (i, v) in r.iter().enumerate() {
                            flush(&mut acc[t + i], v.0, v.1);
                        }
                    } else {
                        let r = chunk::<NP, 1>(
                            wb,
                            [job.tables.as_ptr().add(t * job.tstride)],
                            b0..b1,
                            &pw,
                        );
                        flush(&mut acc[t], r[0].0, r[0].1);
                    }
                }
                t += tt;
            }
            b0 = b1;
        }
        for (t, acc_t) in acc.iter().enumerate() {
            let mut e = [0i32; 8];
            let mut o = [0i32; 8];
            // SAFETY: e and o hold 8 i32 each; unaligned stores.
            unsafe {
                _mm256_storeu_si256(e.as_mut_ptr().cast(), acc_t[0]);
                _mm256_storeu_si256(o.as_mut_ptr().cast(), acc_t[1]);
            }
            for i in 0..8 {
                // SAFETY: this chunk owns row block `rb` (rows rb·16 .. rb·16+16).
                unsafe {
                    job.out.write(t, rb * 16 + 2 * i, e[i] - job.offset[t]);
                    job.out.write(t, rb * 16 + 2 * i + 1, o[i] - job.offset[t]);
                }
            }
        }
    }
}
