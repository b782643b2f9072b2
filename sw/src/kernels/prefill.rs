//! Prefill GEMM: low-bit weights × int8 activations for a batch of tokens
//! (a prompt), with the weights amortized across the tokens.
//!
//! The LUT kernels ([`super::LutGemm`]) build tables per token and look them
//! up per weight and token, so a batch of `n` tokens costs about `n` times
//! one. Here each weight is decoded once per tile of tokens and multiplied
//! with int8 instructions: the cost per token is a few int8 multiply-adds
//! per weight, and above a few tokens the kernel is bound by the multiplier,
//! not by the weight stream.
//!
//! # Arithmetic (exact)
//! Weights are their unsigned codes `c ∈ 0..=15` (value `c − zero_point`),
//! activations `x ∈ −128..=127`:
//! `out[t, r] = Σ_k c[r, k]·x[t, k] − zero_point·Σ_k x[t, k]`, all in i32
//! (`|Σ c·x| ≤ K·15·128 < 2^31` for `K ≤` [`super::MAX_K`]). The products
//! are `u8 × i8`, which is what `vpmaddubsw` (AVX2) and `vpdpbusd` (VNNI)
//! multiply; every result equals [`lutcore_contract::reference::gemv_plain`] bit for bit.
//!
//! # Layout ([`PrefillWeights`])
//! Codes are stored at `CB` bits (2 for ternary, uint1, uint2; 4 for uint3,
//! uint4), `8/CB` per byte. Rows are cut into blocks of 16, K into steps of
//! `4·8/CB` weights; one 64-byte record holds one block × one step: byte
//! `32·h + 4·i + j` (rows `8h + i`, `h ∈ 0..2`, `i ∈ 0..8`, `j ∈ 0..4`) holds
//! in bits `CB·s ..` the code of column `step·4·(8/CB) + 4s + j`. Shifting a
//! record right by `CB·s` and masking gives 64 bytes in exactly the order
//! `vpdpbusd` wants (4 consecutive columns of one row per 32-bit lane; rows
//! in lanes): one zmm is 16 rows, one ymm 8 rows. `vpmaddubsw` sums byte
//! pairs of the same row into i16 lanes, which are summed pairwise to i32 at
//! flushes. Rows and K are padded with code 0; the activations are copied
//! into a zero-padded buffer, so padding never contributes.
//!
//! # Kernels ([`PrefillIsa`])
//! * `Avx512Vnni`: zmm `vpdpbusd`, 16 rows × up to 8 tokens per pass.
//! * `AvxVnni`: ymm `vpdpbusd` (VEX), 16 rows × up to 4 tokens.
//! * `Avx2`: ymm `vpmaddubsw` into i16 accumulators, widened to i32 every
//!   `⌊32767 / (2·max_code·128·8/CB)⌋` steps (ternary 15, uint4 4), before
//!   any i16 can overflow; 16 rows × up to 4 tokens.
//! * `Generic`: the same layout in scalar code, any CPU.
//!
//! Which one runs is decided with every other SIMD path by
//! [`super::Dispatch::prefill`] (so `LUTCORE_KERNEL=generic` reaches the
//! generic kernel); [`PrefillIsa::detect`] is that choice for the process's
//! selection.
//!
//! Threads split the row blocks (dynamic chunks on the shared
//! [`super::pool::SpinPool`]); each thread walks its rows once per block of
//! tokens whose activations fit in L2.

use std::ops::Range;
use std::sync::Arc;

use super::lut_gemm::{check_batch, check_matrix, check_threads, OutPtr};
use super::pool::SpinPool;
use super::{Isa, KernelError};
use lutcore_contract::dtype::WeightType;
use lutcore_contract::layout::WeightMatrix;

/// Smallest batch for which `backend::LutBackend` runs [`PrefillGemm`]
/// rather than the LUT kernels: a prompt of 2 or more tokens; decoding (one
/// token) stays on the LUT kernels. Measured with `lutcore bench gemv --shape
/// S --weights ternary --batch 1 --batch 2 --batch 3 --batch 4 --threads 1`
/// (2026-12-03, Zen 5 VM, cold µs, 700M shapes 1536x1536 / 4096x1536): at 2
/// tokens the AVX-512 VNNI kernel takes 35 / 73 against the native LUT
/// kernel's 64 / 140, AVX-VNNI (`LUTCORE_KERNEL=avx2`) 45 against 70 on
/// 1536x1536. At 1 token the VNNI kernels are also faster (32 against 41),
/// but the AVX2 kernel only ties the LUT kernel (221 against 223 µs hot on
/// 8640x3200, `docs/decisions.md` §17) and the LUT layout streams 1.67
/// instead of 2 bits per weight, so one token keeps the LUT kernels.
pub const PREFILL_MIN_BATCH: usize = 2;

/// Rows per row block.
pub const ROW_BLOCK: usize = 16;

/// Bytes of one record (one row block × one K step).
const RECORD: usize = 64;

/// One 64-byte aligned record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C, align(64))]
struct Record([u8; RECORD]);

/// Which prefill kernel runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PrefillIsa {
    /// Portable scalar code.
    Generic,
    /// AVX2 `vpmaddubsw` (u8 × i8 pairs into i16).
    Avx2,
    /// AVX-VNNI `vpdpbusd` on ymm (u8 × i8 quads into i32).
    AvxVnni,
    /// AVX-512 VNNI `vpdpbusd` on zmm (with AVX-512 F and BW).
    Avx512Vnni,
}

impl PrefillIsa {
    /// Every prefill kernel, slowest first.
    pub const ALL: [PrefillIsa; 4] = [
        PrefillIsa::Generic,
        PrefillIsa::Avx2,
        PrefillIsa::AvxVnni,
        PrefillIsa::Avx512Vnni,
    ];

    /// Short lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            PrefillIsa::Generic => "generic",
            PrefillIsa::Avx2 => "avx2",
            PrefillIsa::AvxVnni => "avxvnni",
            PrefillIsa::Avx512Vnni => "avx512vnni",
        }
    }

    /// Every kernel this CPU runs, `Generic` first, fastest last.
    pub fn available() -> Vec<PrefillIsa> {
        Self::ALL.into_iter().filter(|k| k.is_available()).collect()
    }

    /// The instruction set the kernel belongs to (as [`super::Dispatch::isa`]
    /// names it for [`super::SimdPath::Prefill`]).
    pub fn isa(self) -> Isa {
        match self {
            PrefillIsa::Generic => Isa::Generic,
            PrefillIsa::Avx2 | PrefillIsa::AvxVnni => Isa::Avx2,
            PrefillIsa::Avx512Vnni => Isa::Avx512,
        }
    }
}

impl std::fmt::Display for PrefillIsa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A weight matrix packed once for the prefill kernels (layout in the module doc).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrefillWeights {
    rows: usize,
    cols: usize,
    wtype: WeightType,
    /// Bits per stored code: 2 or 4.
    cb: u32,
    /// K steps (records per row block).
    steps: usize,
    row_blocks: usize,
    /// K steps the AVX2 kernel accumulates in i16 before widening to i32:
    /// `⌊32767 / (2·max_code·128·8/CB)⌋` (ternary 15, uint4 4).
    flush_steps: usize,
    data: Vec<Record>,
}

impl PrefillWeights {
    /// Pack `w` (any weight type; K at most [`super::MAX_K`], both dimensions ≥ 1).
    pub fn pack(w: &WeightMatrix) -> Result<PrefillWeights, KernelError> {
        check_matrix(w)?;
        let (rows, cols, wtype) = (w.rows(), w.cols(), w.wtype());
        let cb: u32 = if wtype.bits() <= 2 { 2 } else { 4 };
        let cpb = (8 / cb) as usize;
        let kstep = 4 * cpb;
        let steps = cols.div_ceil(kstep);
        let row_blocks = rows.div_ceil(ROW_BLOCK);
        let mut data = vec![Record([0; RECORD]); row_blocks * steps];
        // Row by row, one K step at a time: byte `j` of a row's 4 bytes in a
        // record packs columns `4s + j` of the step, `s ∈ 0..8/CB`.
        let mut codes = vec![0u8; steps * kstep];
        for row in 0..rows {
            for (col, c) in codes[..cols].iter_mut().enumerate() {
                *c = w.code(row, col);
            }
            let (rb, r) = (row / ROW_BLOCK, row % ROW_BLOCK);
            let at = 32 * (r / 8) + 4 * (r % 8);
            for (rec, step) in data[rb * steps..(rb + 1) * steps]
                .iter_mut()
                .zip(codes.chunks_exact(kstep))
            {
                for j in 0..4 {
                    rec.0[at + j] =
                        (0..cpb).fold(0u8, |b, s| b | step[4 * s + j] << (cb as usize * s));
                }
            }
        }
        // Largest i16 step of vpmaddubsw: a pair of products c·x, |·| ≤ 2·max_code·128;
        // `8/CB` of them land in each i16 lane per K step.
        let per_step = 2 * i32::from(wtype.max_code()) * 128 * cpb as i32;
        let flush_steps = (i32::from(i16::MAX) / per_step.max(1)).max(1) as usize;
        Ok(PrefillWeights {
            rows,
            cols,
            wtype,
            cb,
            steps,
            row_blocks,
            flush_steps,
            data,
        })
    }

    /// Output rows (M).
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Reduction length (K).
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// Weight format.
    pub fn wtype(&self) -> WeightType {
        self.wtype
    }
    /// Bytes of packed weights streamed per call (with padding).
    pub fn weight_bytes(&self) -> usize {
        self.data.len() * RECORD
    }
    /// Columns per K step.
    fn kstep(&self) -> usize {
        4 * (8 / self.cb) as usize
    }
    /// K padded to whole steps (the activation stride of the kernels).
    fn kp(&self) -> usize {
        self.steps * self.kstep()
    }
    fn block(&self, rb: usize) -> &[Record] {
        &self.data[rb * self.steps..(rb + 1) * self.steps]
    }
}

/// Activations of one call: `n` tokens zero-padded to the weights' padded K
/// (plus 64 bytes of slack), and `zero_point·Σx` per token.
struct Acts {
    x: Vec<i8>,
    stride: usize,
    offset: Vec<i32>,
}

impl Acts {
    fn new(w: &PrefillWeights, x: &[i8], n: usize) -> Acts {
        let (k, stride) = (w.cols, w.kp());
        let mut xp = vec![0i8; n * stride + 64];
        let zp = w.wtype.zero_point();
        let mut offset = Vec::with_capacity(n);
        for t in 0..n {
            let xt = &x[t * k..(t + 1) * k];
            xp[t * stride..t * stride + k].copy_from_slice(xt);
            offset.push(zp * xt.iter().map(|&v| i32::from(v)).sum::<i32>());
        }
        Acts {
            x: xp,
            stride,
            offset,
        }
    }
}

/// Exact `out[t·M + r] = Σ_c w[r, c]·x[t·K + c]` of `n` tokens on row blocks
/// `rbs`, single-threaded; rows handed to `write(t, first_row, values)`.
fn run_rows(
    w: &PrefillWeights,
    a: &Acts,
    n: usize,
    isa: PrefillIsa,
    rbs: Range<usize>,
    write: &mut dyn FnMut(usize, usize, &[i32]),
) {
    // Tokens per block: their activations (~96 KiB) stay in L2 while the
    // chunk's weights are walked once per block.
    let tb = ((96 << 10) / a.stride.max(1)).clamp(8, 256) / 8 * 8;
    let mut t0 = 0;
    let mut sums = [[0i32; ROW_BLOCK]; 8];
    while t0 < n {
        let t1 = n.min(t0 + tb);
        for rb in rbs.clone() {
            let r0 = rb * ROW_BLOCK;
            let valid = ROW_BLOCK.min(w.rows - r0);
            let mut t = t0;
            while t < t1 {
                let tt = tile_tokens(isa).min(t1 - t);
                run_tile(w, a, isa, rb, t, &mut sums[..tt]);
                for (i, s) in sums[..tt].iter_mut().enumerate() {
                    let off = a.offset[t + i];
                    for v in s.iter_mut() {
                        *v -= off;
                    }
                    write(t + i, r0, &s[..valid]);
                }
                t += tt;
            }
        }
        t0 = t1;
    }
}

/// Tokens per register tile of a kernel.
fn tile_tokens(isa: PrefillIsa) -> usize {
    match isa {
        PrefillIsa::Avx512Vnni => 8,
        _ => 4,
    }
}

/// Raw sums `Σ_c code·x` of row block `rb` (16 rows) for tokens `t .. t + out.len()`.
fn run_tile(
    w: &PrefillWeights,
    a: &Acts,
    isa: PrefillIsa,
    rb: usize,
    t: usize,
    out: &mut [[i32; ROW_BLOCK]],
) {
    let recs = w.block(rb);
    let x = &a.x[t * a.stride..];
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `PrefillGemm::new` checked the kernel is available; `recs` has
        // `w.steps` records; token `i < out.len()` has `stride ≥ steps·kstep`
        // activations at `x[i·stride..]` plus 64 bytes of slack after the last.
        PrefillIsa::Avx512Vnni | PrefillIsa::AvxVnni | PrefillIsa::Avx2 => unsafe {
            x86::tile(isa, w.cb, recs, x, a.stride, w.flush_steps, out)
        },
        _ => tile_generic(w, recs, x, a.stride, out),
    }
}

/// Portable kernel: decode every code of the block and multiply.
fn tile_generic(
    w: &PrefillWeights,
    recs: &[Record],
    x: &[i8],
    stride: usize,
    out: &mut [[i32; ROW_BLOCK]],
) {
    let cb = w.cb as usize;
    let (cpb, kstep, mask) = (8 / cb, w.kstep(), (1u8 << cb) - 1);
    for (i, o) in out.iter_mut().enumerate() {
        *o = [0; ROW_BLOCK];
        let xt = &x[i * stride..i * stride + w.kp()];
        for (st, rec) in recs.iter().enumerate() {
            for (byte, &b) in rec.0.iter().enumerate() {
                let (h, r, j) = (byte / 32, (byte % 32) / 4, byte % 4);
                for s in 0..cpb {
                    let c = (b >> (cb * s)) & mask;
                    o[8 * h + r] += i32::from(c) * i32::from(xt[st * kstep + 4 * s + j]);
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{PrefillIsa, Record, ROW_BLOCK};

    /// Dispatch one tile to the kernel of `isa` and code width `cb`, by token count.
    ///
    /// # Safety
    /// The CPU runs `isa`; `recs` are one row block's records; token `i <
    /// out.len()` has `recs.len()·kstep` activations at `x[i·stride..]`, and
    /// 4 more bytes after the last may be read (`x` has 64 bytes of slack).
    pub(super) unsafe fn tile(
        isa: PrefillIsa,
        cb: u32,
        recs: &[Record],
        x: &[i8],
        stride: usize,
        flush: usize,
        out: &mut [[i32; ROW_BLOCK]],
    ) {
        let kstep = 4 * (8 / cb) as usize;
        let tt = out.len();
        assert!(tt >= 1 && x.len() >= (tt - 1) * stride + recs.len() * kstep);
        let (w, xp, steps) = (recs.as_ptr().cast::<u8>(), x.as_ptr(), recs.len());
        // `$n` tokens with `$p` accumulator sets (independent dependency
        // chains, so that a small tile is not bound by the multiply latency).
        macro_rules! by_tokens {
            ($f:ident, $cb:literal, $($n:literal $p:literal),+) => {
                match tt {
                    $($n => { let r = $f::<$cb, $n, $p>(w, steps, xp, stride, flush); out.copy_from_slice(&r); })+
                    _ => unreachable!("tile of {tt} tokens"),
                }
            };
        }
        // SAFETY: the callee's contract is ours (sizes asserted above).
        unsafe {
            match (isa, cb) {
                (PrefillIsa::Avx512Vnni, 2) => {
                    by_tokens!(avx512vnni, 2, 1 4, 2 4, 3 2, 4 2, 5 2, 6 2, 7 2, 8 2)
                }
                (PrefillIsa::Avx512Vnni, _) => {
                    by_tokens!(avx512vnni, 4, 1 2, 2 2, 3 2, 4 2, 5 2, 6 2, 7 2, 8 2)
                }
                (PrefillIsa::AvxVnni, 2) => by_tokens!(avxvnni, 2, 1 4, 2 2, 3 1, 4 1),
                (PrefillIsa::AvxVnni, _) => by_tokens!(avxvnni, 4, 1 2, 2 2, 3 1, 4 1),
                (PrefillIsa::Avx2, 2) => by_tokens!(avx2, 2, 1 4, 2 2, 3 1, 4 1),
                (PrefillIsa::Avx2, _) => by_tokens!(avx2, 4, 1 2, 2 2, 3 1, 4 1),
                (PrefillIsa::Generic, _) => unreachable!("generic runs tile_generic"),
            }
        }
    }

    /// Distance of the software prefetch in the weight stream (as the native
    /// ternary kernel; records of consecutive row blocks are consecutive).
    const PREFETCH_BYTES: usize = 4096;

    /// The 4 activations at `p` as one i32 (to broadcast to every 32-bit lane).
    #[inline(always)]
    unsafe fn quad(p: *const i8) -> i32 {
        // SAFETY: caller guarantees 4 readable bytes.
        unsafe { p.cast::<i32>().read_unaligned() }
    }

    /// zmm `vpdpbusd`: 16 rows × `TT` tokens, i32 accumulators.
    ///
    /// # Safety
    /// AVX-512 F/BW/VNNI; `w` 64-byte aligned with `steps` records; token
    /// `t < TT` has `steps·kstep` readable activations at `x + t·stride`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    unsafe fn avx512vnni<const CB: u32, const TT: usize, const P: usize>(
        w: *const u8,
        steps: usize,
        x: *const i8,
        stride: usize,
        _flush: usize,
    ) -> [[i32; ROW_BLOCK]; TT] {
        let cpb = (8 / CB) as usize;
        let kstep = 4 * cpb;
        let mask = _mm512_set1_epi8(((1u32 << CB) - 1) as i8);
        let cnt = _mm_cvtsi32_si128(CB as i32);
        let mut acc = [[_mm512_setzero_si512(); P]; TT];
        for st in 0..steps {
            // SAFETY: record `st < steps` and activations `st·kstep + 4s + 0..4`
            // of each token are inside the caller's ranges; prefetches never fault.
            unsafe {
                _mm_prefetch::<_MM_HINT_T0>(w.wrapping_add(st * 64 + PREFETCH_BYTES).cast());
                let mut v = _mm512_load_si512(w.add(st * 64).cast());
                let xs = x.add(st * kstep);
                for s in 0..cpb {
                    let ws = _mm512_and_si512(v, mask);
                    v = _mm512_srl_epi16(v, cnt);
                    for (t, a) in acc.iter_mut().enumerate() {
                        let xb = _mm512_set1_epi32(quad(xs.add(t * stride + 4 * s)));
                        a[s % P] = _mm512_dpbusd_epi32(a[s % P], ws, xb);
                    }
                }
            }
        }
        let mut out = [[0i32; ROW_BLOCK]; TT];
        for (o, a) in out.iter_mut().zip(acc) {
            let sum = a[1..].iter().fold(a[0], |s, &v| _mm512_add_epi32(s, v));
            // SAFETY: 16 i32 = 64 bytes; unaligned store.
            unsafe { _mm512_storeu_si512(o.as_mut_ptr().cast(), sum) };
        }
        out
    }

    /// ymm `vpdpbusd` (AVX-VNNI): 2 × 8 rows × `TT` tokens, i32 accumulators.
    ///
    /// # Safety
    /// AVX2 and AVX-VNNI; otherwise as [`avx512vnni`].
    #[target_feature(enable = "avx2,avxvnni")]
    unsafe fn avxvnni<const CB: u32, const TT: usize, const P: usize>(
        w: *const u8,
        steps: usize,
        x: *const i8,
        stride: usize,
        _flush: usize,
    ) -> [[i32; ROW_BLOCK]; TT] {
        let cpb = (8 / CB) as usize;
        let kstep = 4 * cpb;
        let mask = _mm256_set1_epi8(((1u32 << CB) - 1) as i8);
        let cnt = _mm_cvtsi32_si128(CB as i32);
        let mut acc = [[[_mm256_setzero_si256(); 2]; P]; TT];
        for st in 0..steps {
            // SAFETY: as in `avx512vnni`.
            unsafe {
                _mm_prefetch::<_MM_HINT_T0>(w.wrapping_add(st * 64 + PREFETCH_BYTES).cast());
                let mut v0 = _mm256_load_si256(w.add(st * 64).cast());
                let mut v1 = _mm256_load_si256(w.add(st * 64 + 32).cast());
                let xs = x.add(st * kstep);
                for s in 0..cpb {
                    let w0 = _mm256_and_si256(v0, mask);
                    let w1 = _mm256_and_si256(v1, mask);
                    v0 = _mm256_srl_epi16(v0, cnt);
                    v1 = _mm256_srl_epi16(v1, cnt);
                    for (t, a) in acc.iter_mut().enumerate() {
                        let xb = _mm256_set1_epi32(quad(xs.add(t * stride + 4 * s)));
                        let a = &mut a[s % P];
                        a[0] = _mm256_dpbusd_avx_epi32(a[0], w0, xb);
                        a[1] = _mm256_dpbusd_avx_epi32(a[1], w1, xb);
                    }
                }
            }
        }
        let mut out = [[0i32; ROW_BLOCK]; TT];
        for (o, a) in out.iter_mut().zip(acc) {
            let a = a[1..].iter().fold(a[0], |s, v| {
                [_mm256_add_epi32(s[0], v[0]), _mm256_add_epi32(s[1], v[1])]
            });
            // SAFETY: 2 × 8 i32 = 64 bytes; unaligned stores.
            unsafe {
                _mm256_storeu_si256(o.as_mut_ptr().cast(), a[0]);
                _mm256_storeu_si256(o.as_mut_ptr().add(8).cast(), a[1]);
            }
        }
        out
    }

    /// ymm `vpmaddubsw`: 2 × 8 rows × `TT` tokens; i16 accumulators widened
    /// (`vpmaddwd` by ones: the two i16 lanes of a row summed) into i32 every
    /// `flush` steps, before any i16 can overflow.
    ///
    /// # Safety
    /// AVX2; otherwise as [`avx512vnni`]; `flush ≥ 1` and at most
    /// `⌊32767 / (2·max_code·128·8/CB)⌋` for the codes in the records.
    #[target_feature(enable = "avx2")]
    unsafe fn avx2<const CB: u32, const TT: usize, const P: usize>(
        w: *const u8,
        steps: usize,
        x: *const i8,
        stride: usize,
        flush: usize,
    ) -> [[i32; ROW_BLOCK]; TT] {
        let cpb = (8 / CB) as usize;
        let kstep = 4 * cpb;
        let mask = _mm256_set1_epi8(((1u32 << CB) - 1) as i8);
        let cnt = _mm_cvtsi32_si128(CB as i32);
        let ones = _mm256_set1_epi16(1);
        let mut acc32 = [[_mm256_setzero_si256(); 2]; TT];
        let mut st0 = 0;
        while st0 < steps {
            let st1 = steps.min(st0 + flush.max(1));
            let mut acc = [[[_mm256_setzero_si256(); 2]; P]; TT];
            for st in st0..st1 {
                // SAFETY: as in `avx512vnni`.
                unsafe {
                    _mm_prefetch::<_MM_HINT_T0>(w.wrapping_add(st * 64 + PREFETCH_BYTES).cast());
                    let mut v0 = _mm256_load_si256(w.add(st * 64).cast());
                    let mut v1 = _mm256_load_si256(w.add(st * 64 + 32).cast());
                    let xs = x.add(st * kstep);
                    for s in 0..cpb {
                        let w0 = _mm256_and_si256(v0, mask);
                        let w1 = _mm256_and_si256(v1, mask);
                        v0 = _mm256_srl_epi16(v0, cnt);
                        v1 = _mm256_srl_epi16(v1, cnt);
                        for (t, a) in acc.iter_mut().enumerate() {
                            let xb = _mm256_set1_epi32(quad(xs.add(t * stride + 4 * s)));
                            let a = &mut a[s % P];
                            a[0] = _mm256_add_epi16(a[0], _mm256_maddubs_epi16(w0, xb));
                            a[1] = _mm256_add_epi16(a[1], _mm256_maddubs_epi16(w1, xb));
                        }
                    }
                }
            }
            for (a32, a) in acc32.iter_mut().zip(acc) {
                for a in a {
                    a32[0] = _mm256_add_epi32(a32[0], _mm256_madd_epi16(a[0], ones));
                    a32[1] = _mm256_add_epi32(a32[1], _mm256_madd_epi16(a[1], ones));
                }
            }
            st0 = st1;
        }
        let mut out = [[0i32; ROW_BLOCK]; TT];
        for (o, a) in out.iter_mut().zip(acc32) {
            // SAFETY: 2 × 8 i32 = 64 bytes; unaligned stores.
            unsafe {
                _mm256_storeu_si256(o.as_mut_ptr().cast(), a[0]);
                _mm256_storeu_si256(o.as_mut_ptr().add(8).cast(), a[1]);
            }
        }
        out
    }
}

/// A weight matrix packed for the prefill kernels, ready for repeated GEMMs
/// of token batches.
pub struct PrefillGemm {
    w: PrefillWeights,
    isa: PrefillIsa,
    pool: Option<Arc<SpinPool>>,
}

impl std::fmt::Debug for PrefillGemm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrefillGemm")
            .field("rows", &self.w.rows)
            .field("cols", &self.w.cols)
            .field("isa", &self.isa)
            .finish_non_exhaustive()
    }
}

impl PrefillGemm {
    /// Pack `w` for kernel `isa` (must be available) on `threads ≥ 1` threads
    /// (the process-wide pool of that size, [`super::shared_pool`]).
    pub fn new(
        w: &WeightMatrix,
        isa: PrefillIsa,
        threads: usize,
    ) -> Result<PrefillGemm, KernelError> {
        Self::from_packed(PrefillWeights::pack(w)?, isa, threads)
    }

    /// As [`PrefillGemm::new`], from weights packed already.
    pub fn from_packed(
        w: PrefillWeights,
        isa: PrefillIsa,
        threads: usize,
    ) -> Result<PrefillGemm, KernelError> {
        if !isa.is_available() {
            return Err(KernelError::Unsupported(format!(
                "prefill kernel {isa} is not available on this CPU (available: {}); use PrefillIsa::detect",
                PrefillIsa::available().iter().map(|k| k.name()).collect::<Vec<_>>().join(", ")
            )));
        }
        check_threads(threads)?;
        let pool = if threads > 1 {
            Some(super::shared_pool(threads)?)
        } else {
            None
        };
        Ok(PrefillGemm { w, isa, pool })
    }

    /// The kernel that runs.
    pub fn isa(&self) -> PrefillIsa {
        self.isa
    }
    /// Output rows (M).
    pub fn rows(&self) -> usize {
        self.w.rows
    }
    /// Reduction length (K).
    pub fn cols(&self) -> usize {
        self.w.cols
    }
    /// Bytes of packed weights streamed per call.
    pub fn weight_bytes(&self) -> usize {
        self.w.weight_bytes()
    }

    /// Exact GEMM: `out[t·M + r] = Σ_c w[r, c]·x[t·K + c]` for `n ≥ 1` tokens
    /// (`x` token-major, `n·K` values; `out` `n·M`), bit-exact against
    /// [`lutcore_contract::reference::gemv_plain`] per token.
    pub fn gemm(&self, x: &[i8], n: usize, out: &mut [i32]) -> Result<(), KernelError> {
        let (m, k) = (self.w.rows, self.w.cols);
        check_batch(m, k, x.len(), n, out.len())?;
        super::note(super::SimdPath::Prefill, self.isa.isa());
        let acts = Acts::new(&self.w, x, n);
        let o = OutPtr::new(out, n, m);
        let job = |rbs: Range<usize>| {
            run_rows(&self.w, &acts, n, self.isa, rbs, &mut |t, r0, vals| {
                // SAFETY: this chunk owns row blocks `rbs` ⊇ rows r0 .. r0 + vals.len().
                unsafe { o.write_run(t, r0, vals) }
            })
        };
        match &self.pool {
            None => job(0..self.w.row_blocks),
            Some(pool) => pool.run_chunks(self.w.row_blocks, 1, &job),
        }
        Ok(())
    }
}
