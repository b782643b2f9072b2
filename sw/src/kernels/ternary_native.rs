//! Native ternary LUT GEMM (bitnet.cpp TL2 style): 3 weights per table
//! lookup, 5 bits per 3 weights, exact.
//!
//! Weights are packed once by [`crate::layout::ternary_native`]: per group of
//! 3 weights a 4-bit index into the 14 mirror-halved combinations plus a sign
//! bit. Per token and group of 3 activations the kernel builds the 16-entry
//! table (14 used) of exact signed sums `T[e] ∈ [−384, 383]`, split into a
//! low byte (unsigned) and a high byte (signed).
//!
//! AVX2 (`vpshufb`): one step handles 16 rows × 2 groups (one group per
//! 128-bit lane). Two shuffles give the low and high bytes of `T[idx]`; the
//! sign is applied bytewise with XOR against a 0/−1 mask, which gives
//! `s·T − [s<0]` once the bytes are interleaved into i16 (`~v = −v − 1`); the
//! per-row count of negated groups is added back at the end. i16 accumulators
//! sum at most 80 steps (|value| ≤ 385 → < 32768) before they are widened to
//! i32. All `n` tokens' tables are built first; each weight vector is loaded
//! once per block of up to 4 tokens and applied to each of them.
//!
//! The generic kernel walks the same layout with scalar code. There is no
//! AVX-512 kernel: [`Isa::Avx512`] runs the AVX2 one (every AVX-512 CPU has
//! AVX2; see [`super::SimdPath::TernaryNative`]).

use std::ops::Range;

use super::{Isa, KernelError};
use crate::layout::ternary_native::{
    entry_weights, Block32, TernaryNativeLayout, ENTRIES, GROUPS_PER_SUPERSTEP, ROW_BLOCK,
    SUPERSTEP_BYTES,
};
use lutcore_contract::dtype::WeightType;
use lutcore_contract::layout::WeightMatrix;

/// A ternary weight matrix packed once for the native ternary kernels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TernaryNativeWeights {
    layout: TernaryNativeLayout,
}

impl TernaryNativeWeights {
    /// Pack `w`, which must be [`WeightType::Ternary`] (else [`KernelError::Unsupported`]).
    pub fn pack(w: &WeightMatrix) -> Result<TernaryNativeWeights, KernelError> {
        if w.wtype() != WeightType::Ternary {
            return Err(KernelError::Unsupported(format!(
                "the native ternary kernel needs ternary weights, got {}; use the bit-plane scheme for uint weights",
                w.wtype()
            )));
        }
        let layout =
            TernaryNativeLayout::new(w).map_err(|e| KernelError::Unsupported(e.to_string()))?;
        Ok(TernaryNativeWeights { layout })
    }

    /// Bytes of packed weights streamed per GEMM (5 bits per 3 weights plus
    /// row/K padding; excludes the 4-byte per-row negation counts).
    pub fn weight_bytes(&self) -> usize {
        self.layout.byte_len()
    }
    /// Output rows (M).
    pub fn rows(&self) -> usize {
        self.layout.rows()
    }
    /// Reduction length (K).
    pub fn cols(&self) -> usize {
        self.layout.cols()
    }
    /// The packed layout.
    pub fn layout(&self) -> &TernaryNativeLayout {
        &self.layout
    }
}

/// Exact: `out[t*M + r] = Σ_c value(r,c)·x[t*K + c]` for `r` in `rows`, every
/// token `t < n` (`M = w.rows()`, `K = k = w.cols()`). Only the `rows` entries
/// of each token are written. Single-threaded.
///
/// # Panics
/// On a shape mismatch or an ISA this CPU cannot run; see [`try_gemm_rows`]
/// for the checked form.
pub fn gemm_rows(
    w: &TernaryNativeWeights,
    x: &[i8],
    n: usize,
    k: usize,
    rows: Range<usize>,
    out: &mut [i32],
    isa: Isa,
) {
    if let Err(e) = try_gemm_rows(w, x, n, k, rows, out, isa) {
        panic!("ternary_native::gemm_rows: {e}");
    }
}

/// [`gemm_rows`] returning [`KernelError::Shape`] / [`KernelError::IsaUnavailable`]
/// instead of panicking.
pub fn try_gemm_rows(
    w: &TernaryNativeWeights,
    x: &[i8],
    n: usize,
    k: usize,
    rows: Range<usize>,
    out: &mut [i32],
    isa: Isa,
) -> Result<(), KernelError> {
    let m = w.layout.rows();
    if out.len() < n * m {
        return Err(KernelError::Shape(format!(
            "out has {} values, n·M = {n}·{m} = {} needed",
            out.len(),
            n * m
        )));
    }
    try_gemm_rows_with(w, x, n, k, rows, isa, |t, r0, vals| {
        out[t * m + r0..t * m + r0 + vals.len()].copy_from_slice(vals)
    })
}

/// [`try_gemm_rows`] handing each token's results to `write(t, first_row,
/// values)` (consecutive rows from `first_row`, within `rows`) instead of an
/// `n × M` buffer: threads that own different row ranges write straight
/// into one shared output.
pub fn try_gemm_rows_with(
    w: &TernaryNativeWeights,
    x: &[i8],
    n: usize,
    k: usize,
    rows: Range<usize>,
    isa: Isa,
    write: impl FnMut(usize, usize, &[i32]),
) -> Result<(), KernelError> {
    let lay = &w.layout;
    let m = lay.rows();
    if rows.start > rows.end || rows.end > m {
        return Err(KernelError::Shape(format!(
            "row range {rows:?} is not within 0..{m}"
        )));
    }
    let tables = NativeTables::new(w, x, n, k, isa)?;
    if rows.is_empty() {
        return Ok(());
    }
    tables.run_rows(w, rows, write);
    Ok(())
}

/// The tables of `n` tokens for one call, built once and shared by every
/// thread of the call ([`NativeTables::run_rows`] on disjoint row ranges).
pub struct NativeTables {
    n: usize,
    kind: TableKind,
}

enum TableKind {
    Generic(Tables),
    #[cfg(target_arch = "x86_64")]
    Avx2(Vec<Block32>),
}

impl TableKind {
    /// The ISA of the kernel these tables are for.
    fn isa(&self) -> Isa {
        match self {
            TableKind::Generic(_) => Isa::Generic,
            #[cfg(target_arch = "x86_64")]
            TableKind::Avx2(_) => Isa::Avx2,
        }
    }
}

impl NativeTables {
    /// Check the shapes and build the tables of `x` (`n` tokens of `k` values) for `w`.
    pub fn new(
        w: &TernaryNativeWeights,
        x: &[i8],
        n: usize,
        k: usize,
        isa: Isa,
    ) -> Result<NativeTables, KernelError> {
        let lay = &w.layout;
        if k != lay.cols() {
            return Err(KernelError::Shape(format!(
                "k = {k} but the packed weights have K = {}",
                lay.cols()
            )));
        }
        if x.len() < n * k {
            return Err(KernelError::Shape(format!(
                "x has {} values, n·K = {n}·{k} = {} needed",
                x.len(),
                n * k
            )));
        }
        if !isa.is_available() {
            return Err(KernelError::IsaUnavailable(isa));
        }
        let groups = lay.supersteps() * GROUPS_PER_SUPERSTEP;
        let kind = match isa {
            Isa::Generic => TableKind::Generic(Tables::new(x, n, k, groups)),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `isa.is_available()` was checked above and every AVX-512 CPU
            // (F+BW+VL) also has AVX2; `groups` is even and ≥ ceil(k/3).
            Isa::Avx2 | Isa::Avx512 => TableKind::Avx2(unsafe { avx2_tables(x, n, k, groups) }),
            #[cfg(not(target_arch = "x86_64"))]
            _ => unreachable!("non-generic ISAs are unavailable off x86-64"),
        };
        super::note(super::SimdPath::TernaryNative, kind.isa());
        Ok(NativeTables { n, kind })
    }

    /// Tokens.
    pub fn tokens(&self) -> usize {
        self.n
    }

    /// Compute rows `rows` (within `0..w.rows()`) of every token and hand them
    /// to `write(t, rows.start, values)`. `w` must be the weights the tables were built for.
    ///
    /// # Panics
    /// If `rows` is outside the matrix.
    pub fn run_rows(
        &self,
        w: &TernaryNativeWeights,
        rows: Range<usize>,
        mut write: impl FnMut(usize, usize, &[i32]),
    ) {
        let lay = &w.layout;
        let n = self.n;
        assert!(
            rows.start <= rows.end && rows.end <= lay.rows(),
            "row range {rows:?} is not within 0..{}",
            lay.rows()
        );
        if n == 0 || rows.is_empty() {
            return;
        }
        let rb = rows.start / ROW_BLOCK..rows.end.div_ceil(ROW_BLOCK);
        let nrb = rb.len();
        // Per token, the i32 sums of the covered row blocks.
        let mut acc = vec![0i32; n * nrb * ROW_BLOCK];
        let add_neg = match &self.kind {
            TableKind::Generic(tables) => {
                run_generic(lay, tables, n, rb.clone(), &mut acc);
                false
            }
            #[cfg(target_arch = "x86_64")]
            TableKind::Avx2(split) => {
                // SAFETY: these tables exist only if AVX2 is available (`new`);
                // `run_avx2` asserts the sizes it relies on.
                unsafe { run_avx2(lay, split, n, rb.clone(), &mut acc) };
                true
            }
        };
        let r0 = rb.start * ROW_BLOCK;
        let negs = &lay.neg_count()[rows.clone()];
        for t in 0..n {
            let a = &mut acc[t * nrb * ROW_BLOCK + (rows.start - r0)..][..rows.len()];
            if add_neg {
                for (v, &ng) in a.iter_mut().zip(negs) {
                    *v += ng;
                }
            }
            write(t, rows.start, a);
        }
    }
}

/// Weights of table entries 0..16 (entries 14, 15 are zero), per position.
const ENTRY_W: [[i16; 16]; 3] = {
    let mut w = [[0i16; 16]; 3];
    let mut e = 0;
    while e < ENTRIES {
        let ew = entry_weights(e);
        w[0][e] = ew[0] as i16;
        w[1][e] = ew[1] as i16;
        w[2][e] = ew[2] as i16;
        e += 1;
    }
    w
};

/// Exact tables of every token: `[token][group][16]` i16.
struct Tables {
    groups: usize,
    t: Vec<[i16; 16]>,
}

impl Tables {
    fn new(x: &[i8], n: usize, k: usize, groups: usize) -> Tables {
        let mut t = vec![[0i16; 16]; n * groups];
        for tok in 0..n {
            let xs = &x[tok * k..(tok + 1) * k];
            let tt = &mut t[tok * groups..(tok + 1) * groups];
            let full = k / 3;
            for (j, chunk) in xs.chunks_exact(3).enumerate() {
                tt[j] = group_table([chunk[0], chunk[1], chunk[2]]);
            }
            if !k.is_multiple_of(3) {
                let mut g = [0i8; 3];
                g[..k % 3].copy_from_slice(&xs[full * 3..]);
                tt[full] = group_table(g);
            }
        }
        Tables { groups, t }
    }
}
#[inline]
fn group_table(x: [i8; 3]) -> [i16; 16] {
    let (a, b, c) = (i16::from(x[0]), i16::from(x[1]), i16::from(x[2]));
    std::array::from_fn(|e| ENTRY_W[0][e] * a + ENTRY_W[1][e] * b + ENTRY_W[2][e] * c)
}

/// Portable kernel: `acc[t][rb_local·16 + i] = Σ s·T` over all groups.
fn run_generic(
    lay: &TernaryNativeLayout,
    tables: &Tables,
    n: usize,
    rb: Range<usize>,
    acc: &mut [i32],
) {
    let bytes = lay.bytes();
    let nrb = rb.len();
    for c in 0..lay.chunks() {
        let ssr = lay.chunk_supersteps(c);
        for (s_in, ss) in ssr.enumerate() {
            for (rbl, b) in rb.clone().enumerate() {
                let at = lay.record_offset(c, b, s_in);
                let rec = &bytes[at..at + SUPERSTEP_BYTES];
                for st in 0..8 {
                    for lane in 0..2 {
                        let g = ss * GROUPS_PER_SUPERSTEP + 2 * st + lane;
                        for i in 0..ROW_BLOCK {
                            let byte = 16 * lane + i;
                            let idx =
                                usize::from((rec[32 * (st / 2) + byte] >> (4 * (st % 2))) & 0xf);
                            let neg = (rec[128 + byte] >> (7 - st)) & 1 == 1;
                            if idx == 0 {
                                continue;
                            }
                            for t in 0..n {
                                let v = i32::from(tables.t[t * tables.groups + g][idx]);
                                acc[(t * nrb + rbl) * ROW_BLOCK + i] += if neg { -v } else { v };
                            }
                        }
                    }
                }
            }
        }
    }
}

/// AVX2 tables of `n` tokens, `[token][pair][lo, hi]` (`groups / 2` pairs per
/// token): block `lo` holds the low bytes of group `2p`'s 16 entries in lane 0
/// and of group `2p+1` in lane 1, block `hi` the high (sign-carrying) bytes.
///
/// # Safety
/// The CPU must support AVX2; `x.len() ≥ n·k`, `groups ≥ ceil(k/3)` and even.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn avx2_tables(x: &[i8], n: usize, k: usize, groups: usize) -> Vec<Block32> {
    use std::arch::x86_64::*;
    let pairs = groups / 2;
    let mut out = vec![Block32::default(); n * pairs * 2];
    // SAFETY: `ENTRY_W` rows are 16 i16 = 32 bytes; unaligned loads.
    let wv: [__m256i; 3] =
        unsafe { std::array::from_fn(|t| _mm256_loadu_si256(ENTRY_W[t].as_ptr().cast())) };
    let low = _mm256_set1_epi16(0xff);
    let table = |g: [i8; 3]| -> __m256i {
        let t0 = _mm256_sign_epi16(_mm256_set1_epi16(i16::from(g[0])), wv[0]);
        let t1 = _mm256_sign_epi16(_mm256_set1_epi16(i16::from(g[1])), wv[1]);
        let t2 = _mm256_sign_epi16(_mm256_set1_epi16(i16::from(g[2])), wv[2]);
        _mm256_add_epi16(_mm256_add_epi16(t0, t1), t2)
    };
    let group = |xs: &[i8], j: usize| -> [i8; 3] {
        std::array::from_fn(|t| xs.get(3 * j + t).copied().unwrap_or(0))
    };
    let full = k / 3;
    for tok in 0..n {
        let xs = &x[tok * k..(tok + 1) * k];
        let o = &mut out[tok * pairs * 2..(tok + 1) * pairs * 2];
        for p in 0..pairs {
            let (ja, jb) = (2 * p, 2 * p + 1);
            if ja > full {
                break; // only zero tables from here on (already zero)
            }
            let (ta, tb) = if jb < full {
                let c = &xs[3 * ja..3 * ja + 6];
                (table([c[0], c[1], c[2]]), table([c[3], c[4], c[5]]))
            } else {
                (table(group(xs, ja)), table(group(xs, jb)))
            };
            // packus/packs interleave 8-entry halves per lane; permute restores
            // [a0..15 | b0..15].
            let lo = _mm256_packus_epi16(_mm256_and_si256(ta, low), _mm256_and_si256(tb, low));
            let hi = _mm256_packs_epi16(_mm256_srai_epi16::<8>(ta), _mm256_srai_epi16::<8>(tb));
            // SAFETY: blocks 2p, 2p+1 of this token are inside `o`; Block32 is 32-byte aligned.
            unsafe {
                _mm256_store_si256(
                    o[2 * p].0.as_mut_ptr().cast(),
                    _mm256_permute4x64_epi64::<0xD8>(lo),
                );
                _mm256_store_si256(
                    o[2 * p + 1].0.as_mut_ptr().cast(),
                    _mm256_permute4x64_epi64::<0xD8>(hi),
                );
            }
        }
    }
    out
}

/// AVX2 driver over row blocks `rb`: chunk-outer, so one chunk's tables
/// (5 KB per token) stay in L1 while every row block uses them; row blocks
/// inner, so the chunk's weights are one sequential run of records
/// ([`TernaryNativeLayout::record_offset`]), which the software prefetch
/// follows into the next chunk's run; tokens in blocks of up to 4, each
/// weight vector loaded once per block.
///
/// # Safety
/// The CPU must support AVX2. `tables` is [`Tables::split_bytes`] of `n`
/// tokens for this layout, `acc` holds `n · rb.len() · 16` values.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn run_avx2(
    lay: &TernaryNativeLayout,
    tables: &[Block32],
    n: usize,
    rb: Range<usize>,
    acc: &mut [i32],
) {
    use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
    let pairs = lay.supersteps() * GROUPS_PER_SUPERSTEP / 2;
    assert_eq!(tables.len(), n * pairs * 2);
    let nrb = rb.len();
    assert_eq!(acc.len(), n * nrb * ROW_BLOCK);
    let bytes = lay.bytes();
    // This call's weights are one run of records per chunk (its row blocks);
    // the software prefetch runs PREFETCH_BYTES ahead along that stream and
    // into the next chunk's run, so no run starts with a cold miss.
    let run_len = |c: usize| nrb * lay.chunk_supersteps(c).len() * SUPERSTEP_BYTES;
    let prefetch_at = |mut c: usize, within: usize| -> *const u8 {
        let mut ahead = within + PREFETCH_BYTES;
        while ahead >= run_len(c) && c + 1 < lay.chunks() {
            ahead -= run_len(c);
            c += 1;
        }
        // Past the end is harmless: prefetches never fault.
        bytes
            .as_ptr()
            .wrapping_add(lay.record_offset(c, rb.start, 0) + ahead)
    };
    // The stream's first PREFETCH_BYTES, which no superstep prefetches: a
    // thread of a pool job runs many short calls (a few row blocks each),
    // and each would start on a cold miss per cache line.
    for at in (0..PREFETCH_BYTES.min(run_len(0))).step_by(64) {
        let p = bytes
            .as_ptr()
            .wrapping_add(lay.record_offset(0, rb.start, 0) + at);
        // A prefetch never faults, whatever the address.
        _mm_prefetch::<_MM_HINT_T0>(p.cast());
    }
    for c in 0..lay.chunks() {
        let ssr = lay.chunk_supersteps(c);
        let nss = ssr.len();
        for (rbl, b) in rb.clone().enumerate() {
            let at = lay.record_offset(c, b, 0);
            assert!(at + nss * SUPERSTEP_BYTES <= bytes.len());
            let pf = prefetch_at(c, rbl * nss * SUPERSTEP_BYTES);
            let mut t0 = 0;
            while t0 < n {
                let nb = (n - t0).min(4);
                let tab = &tables[(t0 * pairs + ssr.start * 8) * 2..];
                let out = &mut acc[(t0 * nrb + rbl) * ROW_BLOCK..];
                // SAFETY: AVX2 is enabled in this function. The record span
                // `at .. at + nss·160` is inside `bytes` (asserted) and 32-byte
                // aligned (records are multiples of 160 = 5·32 bytes from an
                // aligned base); token `t0 + t < n` reads pairs
                // `ssr.start·8 .. (ssr.start + nss)·8 ≤ pairs` of its table, all
                // inside `tables`; `out` row block `t·nrb·16 + 0..16` for
                // `t < nb` is inside `acc` because `t0 + t < n`.
                unsafe {
                    let w = bytes.as_ptr().add(at);
                    match nb {
                        4 => avx2_block::<4>(
                            w,
                            pf,
                            nss,
                            tab.as_ptr(),
                            pairs * 2,
                            out.as_mut_ptr(),
                            nrb * ROW_BLOCK,
                        ),
                        3 => avx2_block::<3>(
                            w,
                            pf,
                            nss,
                            tab.as_ptr(),
                            pairs * 2,
                            out.as_mut_ptr(),
                            nrb * ROW_BLOCK,
                        ),
                        2 => avx2_block::<2>(
                            w,
                            pf,
                            nss,
                            tab.as_ptr(),
                            pairs * 2,
                            out.as_mut_ptr(),
                            nrb * ROW_BLOCK,
                        ),
                        _ => avx2_block::<1>(
                            w,
                            pf,
                            nss,
                            tab.as_ptr(),
                            pairs * 2,
                            out.as_mut_ptr(),
                            nrb * ROW_BLOCK,
                        ),
                    }
                }
                t0 += nb;
            }
        }
    }
}

/// Distance of the software prefetch in the weight stream: far enough ahead
/// to hide a miss to memory for a cold (not cached) matrix; distances of
/// 2–8 KB perform alike on a Zen 3 EPYC.
#[cfg(target_arch = "x86_64")]
const PREFETCH_BYTES: usize = 4096;

/// One row block × one chunk (`nss` ≤ 10 supersteps) × `NB` tokens: adds
/// `Σ (T ^ mask)` per row to `out[t·out_stride + 0..16]`; superstep `s`
/// prefetches the three cache lines at `pf + s·160` (any address).
///
/// # Safety
/// AVX2; `w` is 32-byte aligned with `nss · 160` readable bytes; for `t < NB`,
/// `tab + t·tab_stride` has `nss · 16` readable 32-byte aligned blocks and
/// `out + t·out_stride` 16 writable i32.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn avx2_block<const NB: usize>(
    w: *const u8,
    pf: *const u8,
    nss: usize,
    tab: *const Block32,
    tab_stride: usize,
    out: *mut i32,
    out_stride: usize,
) {
    use std::arch::x86_64::*;
    debug_assert!(nss <= crate::layout::ternary_native::CHUNK_SUPERSTEPS);
    let nib = _mm256_set1_epi8(0x0f);
    let zero = _mm256_setzero_si256();
    let mut acc = [[zero; 2]; NB];
    for s in 0..nss {
        // SAFETY (whole loop body): offsets stay within the ranges the caller
        // guarantees: record `s < nss`, table blocks `(s·8 + st)·2 + {0,1}` < nss·16.
        unsafe {
            let rec = w.add(s * SUPERSTEP_BYTES);
            // Software prefetch of the weight stream, PREFETCH_BYTES ahead:
            // the hardware prefetcher alone leaves a cold matrix waiting on
            // memory. Addresses past the end of the layout are harmless:
            // prefetches never fault.
            let pf = pf.wrapping_add(s * SUPERSTEP_BYTES);
            _mm_prefetch::<_MM_HINT_T0>(pf.cast());
            _mm_prefetch::<_MM_HINT_T0>(pf.wrapping_add(64).cast());
            _mm_prefetch::<_MM_HINT_T0>(pf.wrapping_add(128).cast());
            let mut sg = _mm256_load_si256(rec.add(128).cast());
            let tb = tab.add(s * 16);
            for q in 0..4 {
                let v = _mm256_load_si256(rec.add(32 * q).cast());
                let ids = [
                    _mm256_and_si256(v, nib),
                    _mm256_and_si256(_mm256_srli_epi16::<4>(v), nib),
                ];
                for (h, &idx) in ids.iter().enumerate() {
                    let st = 2 * q + h;
                    // bit 7 of each sign byte is this step's sign; then shift it out.
                    let m = _mm256_cmpgt_epi8(zero, sg);
                    sg = _mm256_add_epi8(sg, sg);
                    for (t, a) in acc.iter_mut().enumerate() {
                        let p = tb.add(t * tab_stride + 2 * st);
                        let tl = _mm256_load_si256(p.cast());
                        let th = _mm256_load_si256(p.add(1).cast());
                        let lo = _mm256_xor_si256(_mm256_shuffle_epi8(tl, idx), m);
                        let hi = _mm256_xor_si256(_mm256_shuffle_epi8(th, idx), m);
                        a[0] = _mm256_add_epi16(a[0], _mm256_unpacklo_epi8(lo, hi));
                        a[1] = _mm256_add_epi16(a[1], _mm256_unpackhi_epi8(lo, hi));
                    }
                }
            }
        }
    }
    for (t, a) in acc.iter().enumerate() {
        // Lane 0 and lane 1 hold the same rows (even / odd groups): widen and add.
        let rows0 = _mm256_add_epi32(
            _mm256_cvtepi16_epi32(_mm256_castsi256_si128(a[0])),
            _mm256_cvtepi16_epi32(_mm256_extracti128_si256::<1>(a[0])),
        );
        let rows8 = _mm256_add_epi32(
            _mm256_cvtepi16_epi32(_mm256_castsi256_si128(a[1])),
            _mm256_cvtepi16_epi32(_mm256_extracti128_si256::<1>(a[1])),
        );
        // SAFETY: `out + t·out_stride` has 16 writable i32 (caller).
        unsafe {
            let o = out.add(t * out_stride).cast::<__m256i>();
            _mm256_storeu_si256(o, _mm256_add_epi32(_mm256_loadu_si256(o), rows0));
            _mm256_storeu_si256(
                o.add(1),
                _mm256_add_epi32(_mm256_loadu_si256(o.add(1)), rows8),
            );
        }
    }
}
