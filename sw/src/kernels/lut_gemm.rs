//! [`LutGemm`]: the public LUT GEMM. Owns option validation, packing (via
//! [`crate::layout::simd`]), per-call table precompute, the thread pool and
//! the run-time dispatch to the generic / AVX2 / AVX-512 kernels.
//!
//! # Algorithm (exact mode)
//! For a group of 4 activations `x_t` split as `x_t = 16·h_t + l_t`
//! (`l_t = x_t & 15 ∈ 0..=15`, `h_t = x_t >> 4 ∈ -8..=7`), two 16-entry byte
//! tables hold the *subset sums* `TL[i] = Σ_{bit t of i} l_t ∈ 0..=60` and
//! `TH[i] = Σ_{bit t of i} h_t ∈ -32..=28`, so `P[i] = 16·TH[i] + TL[i]` is the
//! exact subset sum of the group. This is the reference's signed table in
//! another basis: `T[i] = 2·P[i] − Σx` (mirror-halving is not needed, the full
//! 16 entries fit one `vpshufb`). With bit planes `b_p`,
//! `w·x = Σ_p 2^p Σ_groups P[index_p] − zero_point·Σx`, which is what the
//! kernels compute; it equals the reference's `½(Σ_p 2^p S_p + c·Σx)`.
//!
//! Both byte tables are small enough to add 4 lookups in a byte without
//! overflow (`4·60 = 240 ≤ 255`, `4·(−32) = −128 ≥ −128`), then one
//! `vpmaddubsw` widens a plane pair to i16 with the plane weights; i16
//! accumulators are flushed to i32 every [`flush_blocks`] blocks.

use std::ops::Range;

use super::{generic, quantized, Isa, KernelError, Scheme, TableMode};
use crate::layout::simd::{SimdWeights, G, PAIRS_PER_BLOCK};
use lutcore_contract::dtype::WeightType;
use lutcore_contract::layout::WeightMatrix;

/// Largest K any kernel accepts: keeps `|Σ w·x| ≤ K·128·15 + 128·K` far
/// inside i32 (cuts K at 2^20).
pub const MAX_K: usize = 1 << 20;

/// Bytes of precomputed tables per group of [`G`] activations: 16 `TL` bytes
/// then 16 `TH` bytes.
pub const TABLE_BYTES: usize = 32;

/// Largest magnitude one accumulation block (4 groups of 4 weights) can add to
/// an i16 accumulator for `bits`-bit weights: `4·60·(2^bits − 1)` (the `TL`
/// side; the `TH` side is at most `4·32·(2^bits − 1)`).
pub const fn block_bound(bits: u32) -> i32 {
    (2 * PAIRS_PER_BLOCK as i32) * 60 * ((1 << bits) - 1)
}

/// Blocks (of 16 weights along K) an i16 accumulator can take before it must
/// be flushed to i32: `⌊32767 / block_bound(bits)⌋` (uint1 136, uint2/ternary
/// 45, uint3 19, uint4 9). Cuts K into flush chunks of `16·flush_blocks` weights.
pub const fn flush_blocks(bits: u32) -> usize {
    (i16::MAX as i32 / block_bound(bits)) as usize
}

/// Rows per packed row block, by ISA (the vector holds `2R` bytes).
pub(crate) fn rows_per_block(isa: Isa) -> usize {
    match isa {
        Isa::Avx512 => 32,
        _ => 16,
    }
}

/// Options of a [`LutGemm`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelOptions {
    /// Instruction set to run (must be available, see [`Isa::available`]).
    pub isa: Isa,
    /// Worker threads (≥ 1); rows are split among them.
    pub threads: usize,
    /// Exact or lossy int8 tables.
    pub tables: TableMode,
    /// How ternary weights are encoded.
    pub scheme: Scheme,
}

impl KernelOptions {
    /// The fastest exact configuration: [`Isa::detect`], exact tables, bit planes.
    pub fn best(threads: usize) -> Self {
        KernelOptions {
            isa: Isa::detect(),
            threads,
            tables: TableMode::Exact,
            scheme: Scheme::BitPlanes,
        }
    }
}

/// Packed weights, by scheme.
#[derive(Debug)]
enum Packed {
    Planes(SimdWeights),
    Native(super::ternary_native::TernaryNativeWeights),
}

/// A packed weight matrix ready for repeated GEMMs with int8 activations.
pub struct LutGemm {
    opts: KernelOptions,
    rows: usize,
    cols: usize,
    wtype: WeightType,
    packed: Packed,
    pool: Option<std::sync::Arc<super::pool::SpinPool>>,
}

impl std::fmt::Debug for LutGemm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LutGemm")
            .field("opts", &self.opts)
            .field("rows", &self.rows)
            .field("cols", &self.cols)
            .field("wtype", &self.wtype)
            .finish_non_exhaustive()
    }
}

/// Raw output pointer shared by the row chunks of one call. Each chunk
/// writes only its own rows, so writes never alias.
#[derive(Clone, Copy)]
pub(crate) struct OutPtr<T> {
    ptr: *mut T,
    /// Row stride of a token (M).
    m: usize,
    /// Tokens.
    n: usize,
}

// SAFETY: the pointer is only written through `OutPtr::write`, at indices
// `t·m + row` with `t < n`, `row < m` (checked there), inside the buffer of
// length `n·m` borrowed mutably for the whole parallel section; chunks own
// disjoint row ranges, so no two threads write the same element.
unsafe impl<T: Send> Send for OutPtr<T> {}
// SAFETY: see `Send`; shared access only performs disjoint writes.
unsafe impl<T: Send> Sync for OutPtr<T> {}

impl<T> OutPtr<T> {
    pub(crate) fn new(out: &mut [T], n: usize, m: usize) -> Self {
        assert_eq!(out.len(), n * m);
        OutPtr {
            ptr: out.as_mut_ptr(),
            m,
            n,
        }
    }

    /// Write `v` at token `t`, row `row`; rows `≥ m` (block padding) are dropped.
    ///
    /// # Safety
    /// The caller's chunk must own `row` (no other thread writes it concurrently).
    #[inline(always)]
    pub(crate) unsafe fn write(&self, t: usize, row: usize, v: T) {
        assert!(t < self.n);
        if row < self.m {
            // SAFETY: t < n and row < m, so the index is inside the n·m buffer;
            // exclusivity is the caller's contract.
            unsafe { self.ptr.add(t * self.m + row).write(v) }
        }
    }

    /// Write `vals` at token `t`, rows `row .. row + vals.len()` (all `< m`).
    ///
    /// # Safety
    /// The caller's chunk must own those rows.
    #[inline]
    pub(crate) unsafe fn write_run(&self, t: usize, row: usize, vals: &[T])
    where
        T: Copy,
    {
        assert!(t < self.n && row + vals.len() <= self.m);
        // SAFETY: inside the n·m buffer (asserted); exclusivity is the caller's contract.
        unsafe {
            std::ptr::copy_nonoverlapping(vals.as_ptr(), self.ptr.add(t * self.m + row), vals.len())
        }
    }
}

/// Everything one exact call shares among its row chunks.
pub(crate) struct ExactJob<'a> {
    /// Packed weights.
    pub w: &'a SimdWeights,
    /// Tables of all tokens: token `t`'s at `t·tstride`.
    pub tables: &'a [u8],
    /// Bytes of one token's tables.
    pub tstride: usize,
    /// Tokens.
    pub n: usize,
    /// `zero_point · Σx` per token, subtracted at the end.
    pub offset: &'a [i32],
    /// Flush interval in blocks.
    pub flush: usize,
    /// Output.
    pub out: OutPtr<i32>,
}

impl LutGemm {
    /// Validate `opts` against `w` and pack the weights once.
    pub fn new(w: &WeightMatrix, opts: &KernelOptions) -> Result<LutGemm, KernelError> {
        if !opts.isa.is_available() {
            return Err(KernelError::IsaUnavailable(opts.isa));
        }
        check_threads(opts.threads)?;
        check_matrix(w)?;
        let packed = match opts.scheme {
            Scheme::BitPlanes => Packed::Planes(SimdWeights::new(w, rows_per_block(opts.isa))),
            Scheme::TernaryNative => {
                if w.wtype() != WeightType::Ternary {
                    return Err(KernelError::Unsupported(format!(
                        "scheme TernaryNative needs ternary weights, got {}; use Scheme::BitPlanes",
                        w.wtype()
                    )));
                }
                if opts.tables != TableMode::Exact {
                    return Err(KernelError::Unsupported(
                        "scheme TernaryNative has only exact tables; use TableMode::Exact or Scheme::BitPlanes".into(),
                    ));
                }
                pack_native(w)?
            }
        };
        let pool = if opts.threads > 1 {
            Some(shared_pool(opts.threads)?)
        } else {
            None
        };
        Ok(LutGemm {
            opts: *opts,
            rows: w.rows(),
            cols: w.cols(),
            wtype: w.wtype(),
            packed,
            pool,
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
    /// The options this GEMM was built with.
    pub fn options(&self) -> &KernelOptions {
        &self.opts
    }

    /// Bytes of packed weights streamed per GEMV (including padding).
    pub fn weight_bytes(&self) -> usize {
        match &self.packed {
            Packed::Planes(p) => p.data.len(),
            Packed::Native(p) => p.weight_bytes(),
        }
    }

    fn check(&self, x_len: usize, n: usize, out_len: usize) -> Result<(), KernelError> {
        check_batch(self.rows, self.cols, x_len, n, out_len)
    }

    /// Run `f` on `units` work units, on the pool if there is one: chunks
    /// claimed dynamically (large first, shrinking to one unit), so a worker
    /// that is not awake yet or descheduled leaves its share to the caller.
    fn for_chunks(&self, units: usize, f: impl Fn(Range<usize>) + Sync) {
        match &self.pool {
            None => f(0..units),
            Some(pool) => pool.run_chunks(units, 1, &f),
        }
    }

    /// Exact GEMM: `out[t·M + r] = Σ_c w[r, c] · x[t·K + c]` for `n` tokens,
    /// bit-exact. Needs [`TableMode::Exact`].
    pub fn gemm(&self, x: &[i8], n: usize, out: &mut [i32]) -> Result<(), KernelError> {
        self.check(x.len(), n, out.len())?;
        if self.opts.tables != TableMode::Exact {
            return Err(KernelError::Unsupported(
                "gemm needs TableMode::Exact; this GEMM was built with QuantizedInt8 tables, call gemm_approx".into(),
            ));
        }
        match &self.packed {
            Packed::Planes(w) => {
                let tstride = w.group_pairs * 2 * TABLE_BYTES;
                let mut tables = vec![0u8; n * tstride];
                let zp = self.wtype.zero_point();
                let mut offset = vec![0i32; n];
                for t in 0..n {
                    let xt = &x[t * self.cols..(t + 1) * self.cols];
                    build_tables(
                        self.opts.isa,
                        xt,
                        &mut tables[t * tstride..(t + 1) * tstride],
                    );
                    offset[t] = zp * xt.iter().map(|&v| i32::from(v)).sum::<i32>();
                }
                let job = ExactJob {
                    w,
                    tables: &tables,
                    tstride,
                    n,
                    offset: &offset,
                    flush: flush_blocks(self.wtype.bits()),
                    out: OutPtr::new(out, n, self.rows),
                };
                let isa = self.opts.isa;
                self.for_chunks(w.row_blocks, |rbs| run_exact(isa, &job, rbs));
                Ok(())
            }
            Packed::Native(nw) => {
                let (isa, m, k) = (self.opts.isa, self.rows, self.cols);
                if self.pool.is_none() {
                    super::ternary_native::gemm_rows(nw, x, n, k, 0..m, out, isa);
                    return Ok(());
                }
                Self::native_fused(&[self], x, n, &mut [out])
            }
        }
    }

    /// Several GEMMs of the same `n` tokens `x` at once: `outs[i]` gets
    /// `mats[i]`'s exact result, as [`LutGemm::gemm`] would. When every matrix
    /// uses the native ternary scheme with the same K, ISA and thread count
    /// (e.g. a layer's q/k/v projections), the tables are built once and all
    /// rows of all matrices are one job on the pool; otherwise it runs them
    /// one by one.
    pub fn gemm_many(
        mats: &[&LutGemm],
        x: &[i8],
        n: usize,
        outs: &mut [&mut [i32]],
    ) -> Result<(), KernelError> {
        if mats.len() != outs.len() {
            return Err(KernelError::Shape(format!(
                "{} matrices but {} outputs",
                mats.len(),
                outs.len()
            )));
        }
        for (g, o) in mats.iter().zip(outs.iter()) {
            g.check(x.len(), n, o.len())?;
        }
        let Some(first) = mats.first() else {
            return Ok(());
        };
        let fusable = mats.iter().all(|g| {
            matches!(g.packed, Packed::Native(_))
                && g.cols == first.cols
                && g.opts.isa == first.opts.isa
                && g.opts.threads == first.opts.threads
                && g.opts.tables == TableMode::Exact
        });
        if !fusable || mats.len() == 1 {
            for (g, o) in mats.iter().zip(outs.iter_mut()) {
                g.gemm(x, n, o)?;
            }
            return Ok(());
        }
        Self::native_fused(mats, x, n, outs)
    }

    /// Native ternary matrices of one K, ISA and thread count (`mats`, not
    /// empty, checked by the callers): the tables of `x` are built once,
    /// shared by the threads, and the row quanta of all matrices are one job
    /// on the pool, claimed in chunks (which may span matrices) so that a
    /// thread that wakes up late takes fewer; each chunk writes its rows
    /// straight into `outs`.
    fn native_fused(
        mats: &[&LutGemm],
        x: &[i8],
        n: usize,
        outs: &mut [&mut [i32]],
    ) -> Result<(), KernelError> {
        fn native(g: &LutGemm) -> &super::ternary_native::TernaryNativeWeights {
            match &g.packed {
                Packed::Native(nw) => nw,
                Packed::Planes(_) => unreachable!("native_fused takes native matrices only"),
            }
        }
        let first = mats[0];
        let (isa, k) = (first.opts.isa, first.cols);
        let tables = super::ternary_native::NativeTables::new(native(first), x, n, k, isa)?;
        let outps: Vec<OutPtr<i32>> = mats
            .iter()
            .zip(outs.iter_mut())
            .map(|(g, o)| OutPtr::new(o, n, g.rows))
            .collect();
        // Work units: the row quanta of every matrix, one after another.
        let quanta: Vec<usize> = mats
            .iter()
            .map(|g| g.rows.div_ceil(NATIVE_ROW_QUANTUM))
            .collect();
        let starts: Vec<usize> = quanta
            .iter()
            .scan(0, |acc, &q| {
                let s = *acc;
                *acc += q;
                Some(s)
            })
            .collect();
        let units: usize = quanta.iter().sum();
        let run = |c: Range<usize>| {
            for (i, g) in mats.iter().enumerate() {
                let (lo, hi) = (c.start.max(starts[i]), c.end.min(starts[i] + quanta[i]));
                if lo >= hi {
                    continue;
                }
                let rows = ((lo - starts[i]) * NATIVE_ROW_QUANTUM)
                    ..((hi - starts[i]) * NATIVE_ROW_QUANTUM).min(g.rows);
                let outp = &outps[i];
                tables.run_rows(native(g), rows, |t, r0, vals| {
                    // SAFETY: this chunk owns rows `rows` ⊇ r0 .. r0 + vals.len() of matrix i.
                    unsafe { outp.write_run(t, r0, vals) };
                });
            }
        };
        match &first.pool {
            None => run(0..units),
            Some(pool) => pool.run_chunks(units, 1, &run),
        }
        Ok(())
    }

    /// Approximate GEMM in `f32`. With [`TableMode::QuantizedInt8`] the
    /// tables are int8 with one scale per block of groups (lossy, error bound
    /// [`super::MAX_ABS_ERROR_PER_LOOKUP`] per lookup); with
    /// [`TableMode::Exact`] it is the exact result converted to `f32`.
    pub fn gemm_approx(&self, x: &[i8], n: usize, out: &mut [f32]) -> Result<(), KernelError> {
        self.check(x.len(), n, out.len())?;
        match (self.opts.tables, &self.packed) {
            (TableMode::QuantizedInt8, Packed::Planes(w)) => {
                let tables = quantized::QuantTables::new(w, x, n);
                let zp = self.wtype.zero_point();
                let offset: Vec<f32> = (0..n)
                    .map(|t| {
                        (zp * x[t * self.cols..(t + 1) * self.cols]
                            .iter()
                            .map(|&v| i32::from(v))
                            .sum::<i32>()) as f32
                    })
                    .collect();
                let job = quantized::QuantJob {
                    w,
                    tables: &tables,
                    n,
                    offset: &offset,
                    out: OutPtr::new(out, n, self.rows),
                };
                self.for_chunks(w.row_blocks, |rbs| quantized::run(&job, rbs));
                Ok(())
            }
            _ => {
                let mut exact = vec![0i32; out.len()];
                self.gemm(x, n, &mut exact)?;
                for (o, e) in out.iter_mut().zip(exact) {
                    *o = e as f32;
                }
                Ok(())
            }
        }
    }
}

fn pack_native(w: &WeightMatrix) -> Result<Packed, KernelError> {
    Ok(Packed::Native(
        super::ternary_native::TernaryNativeWeights::pack(w)?,
    ))
}

/// Rows per work unit handed to the native ternary kernel (chunks are whole units).
const NATIVE_ROW_QUANTUM: usize = 64;

/// Fill one token's exact tables (`groups·32` bytes, zero-initialised).
fn build_tables(isa: Isa, x: &[i8], tables: &mut [u8]) {
    debug_assert!(tables.len() >= x.len().div_ceil(G) * TABLE_BYTES);
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AVX2 is available (checked in `LutGemm::new`; AVX-512 machines have AVX2).
        Isa::Avx2 | Isa::Avx512 => unsafe { super::avx2::build_tables(x, tables) },
        _ => generic::build_tables(x, tables),
    }
}

/// Run the exact kernel of `isa` on row blocks `rbs`.
fn run_exact(isa: Isa, job: &ExactJob<'_>, rbs: Range<usize>) {
    super::note(super::SimdPath::LutGemm, isa);
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `LutGemm::new` checked that AVX2 is available.
        Isa::Avx2 => unsafe { super::avx2::run_exact(job, rbs) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `LutGemm::new` checked that AVX-512 F/BW/VL are available.
        Isa::Avx512 => unsafe { super::avx512::run_exact(job, rbs) },
        _ => generic::run_exact(job, rbs),
    }
}

/// A weight matrix every exact kernel takes: both dimensions at least 1 and
/// K at most [`MAX_K`] (the i32 accumulators' bound).
pub(crate) fn check_matrix(w: &WeightMatrix) -> Result<(), KernelError> {
    if w.rows() == 0 || w.cols() == 0 {
        return Err(KernelError::Shape(format!(
            "weight matrix is {}x{}; both dimensions must be at least 1",
            w.rows(),
            w.cols()
        )));
    }
    if w.cols() > MAX_K {
        return Err(KernelError::Shape(format!(
            "K = {} exceeds the kernels' limit of {MAX_K} (i32 accumulators); split the reduction",
            w.cols()
        )));
    }
    Ok(())
}

/// A thread count every kernel takes: at least 1.
pub(crate) fn check_threads(threads: usize) -> Result<(), KernelError> {
    if threads == 0 {
        return Err(KernelError::InvalidOption {
            what: "threads",
            value: "0".into(),
            hint: "need at least 1 worker thread".into(),
        });
    }
    Ok(())
}

/// The buffers of an `n`-token call on an `rows`×`cols` matrix: `n ≥ 1`,
/// `x` holds n·K values and `out` n·M (both token-major).
pub(crate) fn check_batch(
    rows: usize,
    cols: usize,
    x_len: usize,
    n: usize,
    out_len: usize,
) -> Result<(), KernelError> {
    if n == 0 {
        return Err(KernelError::Shape(
            "batch n = 0; pass at least one token".into(),
        ));
    }
    if x_len != n * cols {
        return Err(KernelError::Shape(format!(
            "x has {x_len} values but n·K = {n}·{cols} = {} (token-major, K = cols)",
            n * cols
        )));
    }
    if out_len != n * rows {
        return Err(KernelError::Shape(format!(
            "out has {out_len} values but n·M = {n}·{rows} = {} (token-major, M = rows)",
            n * rows
        )));
    }
    Ok(())
}

/// One [`super::pool::SpinPool`] per thread count, shared by every
/// [`LutGemm`] and the model of the process: a model holds hundreds of
/// matrices, and each owning its own pool would start hundreds of threads.
pub fn shared_pool(threads: usize) -> Result<std::sync::Arc<super::pool::SpinPool>, KernelError> {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};
    type Pools = Mutex<HashMap<usize, Arc<super::pool::SpinPool>>>;
    static POOLS: OnceLock<Pools> = OnceLock::new();
    let mut pools = POOLS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(p) = pools.get(&threads) {
        return Ok(p.clone());
    }
    let pool = super::pool::SpinPool::new(threads).map_err(|e| KernelError::ThreadPool {
        threads,
        reason: e.to_string(),
    })?;
    let pool = Arc::new(pool);
    pools.insert(threads, pool.clone());
    Ok(pool)
}
