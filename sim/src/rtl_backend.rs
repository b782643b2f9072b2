//! The Verilated array as a matmul backend: [`RtlBackend`] implements
//! [`lutcore_sw::backend::Backend`], so a BitNet forward pass
//! (`lutcore_sw::model`) runs every BitLinear matmul on the simulated RTL.
//!
//! This module owns the backend, its per-matmul accounting
//! ([`MatmulRecord`]: cycles, array utilization, simulation wall time, the
//! bit-exact check against a CPU backend) and the board cost model
//! ([`CostModel`]: modeled time at a clock and a weight bandwidth).
//!
//! * One Verilated model per backend instance, behind a mutex: matmuls run
//!   one at a time, so every [`Linear`] it prepares is `Send + Sync`.
//! * [`Backend::prepare`] packs the weight beats of each matrix once
//!   ([`PackedWeights`]); [`Linear::gemm`] streams them with [`run_gemm`];
//!   the [`gemv`](crate::gemv) module docs give the schedule (row tiles
//!   outer, groups of `cfg.tokens()` tokens inner, the last group padded
//!   with zero vectors; weights fetched once per matmul).
//! * With a check backend (`RtlOptions::check`, e.g. `LutBackend`), every
//!   matmul's integers are compared with the CPU's; the result is recorded
//!   and, with `fail_on_mismatch`, a mismatch is an error.
//! * On an array with floating-point activations, [`Linear::gemm_fp`] streams
//!   raw codes with [`run_gemm_fp`] and checks the binary32 bits the same way
//!   (the check backend must run FP matmuls: `RefBackend`); the model's
//!   [`FpMatmul`] must be the one the array computes.
//! * [`RtlBackend::inject_fault`] flips one result bit of a chosen matmul
//!   after the RTL ran and before the check: a test hook proving that the
//!   check catches a wrong RTL result.
//! * [`RtlBackend::with_trace`] builds the trace variant of the library and
//!   dumps the waves of one chosen matmul ([`TraceRequest`]): the trace is
//!   opened just before that call's [`run_gemm`] and closed right after, so
//!   the file holds its reset (2 cycles) and streaming cycles only
//!   ([`RtlBackend::trace_record`]).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use lutcore_contract::config::ArrayConfig;
use lutcore_contract::layout::WeightMatrix;
use lutcore_sw::backend::{check_shape, Backend, BackendError, FpMatmul, Linear};

use crate::gemv::{run_gemm, run_gemm_fp, GemmRun, PackedWeights};
use crate::library::{BuildOptions, SimLibrary};
use crate::model::{SimModel, TraceSummary};
use crate::SimError;

/// How the modeled board time of a matmul is computed: the array runs at
/// `clock_hz` and weights arrive at `weight_bytes_per_s`; a matmul takes
/// `max(cycles / clock, weight bytes / bandwidth)` (compute and weight
/// streaming overlap; activations and results are small and ignored).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CostModel {
    /// Array clock in Hz.
    pub clock_hz: f64,
    /// Weight bandwidth in bytes per second.
    pub weight_bytes_per_s: f64,
}

impl Default for CostModel {
    /// 100 MHz, 1 GB/s.
    fn default() -> Self {
        CostModel {
            clock_hz: 100e6,
            weight_bytes_per_s: 1e9,
        }
    }
}

impl CostModel {
    /// Seconds for `cycles` at the clock.
    pub fn compute_seconds(&self, cycles: u64) -> f64 {
        cycles as f64 / self.clock_hz
    }
    /// Seconds to stream `bytes` of weights.
    pub fn weight_seconds(&self, bytes: u64) -> f64 {
        bytes as f64 / self.weight_bytes_per_s
    }
    /// `max(cycles / clock, bytes / bandwidth)`.
    pub fn seconds(&self, cycles: u64, bytes: u64) -> f64 {
        self.compute_seconds(cycles).max(self.weight_seconds(bytes))
    }
}

/// The outcome of the bit-exact check of one matmul.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckOutcome {
    /// No check backend was configured.
    NotChecked,
    /// Every integer equals the CPU backend's.
    Exact,
    /// Some integers differ.
    Mismatch {
        /// How many of the `n·M` results differ.
        count: usize,
        /// Token of the first difference.
        token: usize,
        /// Row of the first difference.
        row: usize,
        /// The RTL's value there.
        rtl: ResultWord,
        /// The CPU backend's value there.
        cpu: ResultWord,
    },
}

impl CheckOutcome {
    /// Whether the check ran and found a difference.
    pub fn is_mismatch(&self) -> bool {
        matches!(self, CheckOutcome::Mismatch { .. })
    }
}

/// Accounting of one matmul ([`Linear::gemm`] call) on the RTL.
#[derive(Clone, Debug, PartialEq)]
pub struct MatmulRecord {
    /// Call number on this backend, from 0.
    pub seq: usize,
    /// Name of the matrix (e.g. `blk.3.attn_q`).
    pub name: String,
    /// Output rows M.
    pub rows: usize,
    /// Reduction length K.
    pub cols: usize,
    /// Tokens n (one pass per row tile and group of `cfg.tokens()` tokens).
    pub tokens: usize,
    /// Passes streamed: row tiles × `ceil(n / cfg.tokens())` token groups.
    pub passes: usize,
    /// Simulated clock cycles.
    pub cycles: u64,
    /// Wall time of the simulation (reset and clocked loop).
    pub wall: Duration,
    /// Weight bytes streamed (once per matmul, padded to whole beats).
    pub weight_bytes: u64,
    /// Useful multiply-accumulates: `n·M·K`.
    pub macs: u64,
    /// The array's peak MACs per cycle (`cfg.macs_per_cycle()`).
    pub peak_macs_per_cycle: f64,
    /// The bit-exact check against the CPU backend.
    pub check: CheckOutcome,
}

impl MatmulRecord {
    /// Array utilization: useful MACs / (cycles × peak MACs per cycle).
    pub fn utilization(&self) -> f64 {
        if self.cycles == 0 {
            return 0.0;
        }
        self.macs as f64 / (self.cycles as f64 * self.peak_macs_per_cycle)
    }
    /// Modeled board time under `cost`.
    pub fn modeled_seconds(&self, cost: &CostModel) -> f64 {
        cost.seconds(self.cycles, self.weight_bytes)
    }
    /// Decoder layer index parsed from a `blk.<i>.<proj>` name.
    pub fn layer(&self) -> Option<usize> {
        self.name
            .strip_prefix("blk.")?
            .split('.')
            .next()?
            .parse()
            .ok()
    }
    /// The projection part of the name (`attn_q` of `blk.3.attn_q`).
    pub fn matrix(&self) -> &str {
        match self.layer() {
            Some(_) => self.name.splitn(3, '.').nth(2).unwrap_or(&self.name),
            None => &self.name,
        }
    }
}

/// Options of an [`RtlBackend`].
#[derive(Default)]
pub struct RtlOptions {
    /// A CPU backend every matmul is checked against, integer for integer.
    pub check: Option<Box<dyn Backend>>,
    /// Return an error from [`Linear::gemm`] on a mismatch (otherwise it is
    /// only recorded and the RTL's result is returned).
    pub fail_on_mismatch: bool,
}

/// A callback told about every finished matmul (progress bars).
pub type Observer = Box<dyn Fn(&MatmulRecord) + Send + Sync>;

struct Shared {
    cfg: ArrayConfig,
    name: String,
    model: Mutex<SimModel>,
    check: Option<Box<dyn Backend>>,
    fail_on_mismatch: bool,
    log: Mutex<Vec<MatmulRecord>>,
    calls: AtomicUsize,
    fault: Mutex<Option<usize>>,
    observer: Mutex<Option<Observer>>,
    trace: Mutex<TraceState>,
}

fn lock<'a, T>(
    m: &'a Mutex<T>,
    backend: &str,
    what: &str,
) -> Result<MutexGuard<'a, T>, BackendError> {
    m.lock().map_err(|_| BackendError::Failed {
        backend: backend.to_string(),
        matrix: String::new(),
        detail: format!("{what} lock poisoned by an earlier panic"),
    })
}

/// The Verilated array of one config as a [`Backend`].
pub struct RtlBackend {
    library: SimLibrary,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for RtlBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RtlBackend")
            .field("name", &self.shared.name)
            .field("library", &self.library)
            .finish_non_exhaustive()
    }
}

impl RtlBackend {
    /// Generate `cfg`'s design, build (or reuse from the cache) its
    /// Verilated library and instantiate one model.
    pub fn new(cfg: &ArrayConfig, opts: RtlOptions) -> Result<RtlBackend, SimError> {
        Self::create(cfg, opts, None)
    }

    fn create(
        cfg: &ArrayConfig,
        opts: RtlOptions,
        trace: Option<TraceRequest>,
    ) -> Result<RtlBackend, SimError> {
        let design = lutcore_gen::generate(cfg)?;
        let build = BuildOptions {
            trace: trace
                .as_ref()
                .map(|t| crate::TraceFormat::for_path(&t.path)),
            ..Default::default()
        };
        let library = SimLibrary::build_with(&design, &build)?;
        let model = library.instantiate()?;
        let shared = Shared {
            cfg: cfg.clone(),
            name: format!("rtl:{}", cfg.slug()),
            model: Mutex::new(model),
            check: opts.check,
            fail_on_mismatch: opts.fail_on_mismatch,
            log: Mutex::new(Vec::new()),
            calls: AtomicUsize::new(0),
            fault: Mutex::new(None),
            observer: Mutex::new(None),
            trace: Mutex::new(TraceState {
                request: trace,
                seen: 0,
                done: None,
            }),
        };
        Ok(RtlBackend {
            library,
            shared: Arc::new(shared),
        })
    }

    /// The array config.
    pub fn config(&self) -> &ArrayConfig {
        &self.shared.cfg
    }

    /// The built library (cache directory, whether it was built or reused).
    pub fn library(&self) -> &SimLibrary {
        &self.library
    }

    /// A copy of every matmul record so far, in call order.
    pub fn records(&self) -> Vec<MatmulRecord> {
        self.shared
            .log
            .lock()
            .map(|l| l.clone())
            .unwrap_or_default()
    }

    /// Number of matmuls run so far.
    pub fn calls(&self) -> usize {
        self.shared.calls.load(Ordering::SeqCst)
    }

    /// Call `f` after every matmul (replaces an earlier observer).
    pub fn set_observer(&self, f: Observer) {
        if let Ok(mut o) = self.shared.observer.lock() {
            *o = Some(f);
        }
    }

    /// Test hook: after the RTL computes matmul number `call` (counting from
    /// 0 on this backend), flip bit 0 of its first result before the check,
    /// as a faulty array would. The check must then report a mismatch.
    pub fn inject_fault(&self, call: usize) {
        if let Ok(mut f) = self.shared.fault.lock() {
            *f = Some(call);
        }
    }
}

impl Backend for RtlBackend {
    fn name(&self) -> String {
        self.shared.name.clone()
    }

    fn prepare(&self, name: &str, w: &WeightMatrix) -> Result<Arc<dyn Linear>, BackendError> {
        let err = |detail: String| BackendError::Failed {
            backend: self.shared.name.clone(),
            matrix: name.to_string(),
            detail,
        };
        let packed = PackedWeights::new(&self.shared.cfg, w).map_err(|e| err(e.to_string()))?;
        let reference = match &self.shared.check {
            Some(b) => Some(b.prepare(name, w)?),
            None => None,
        };
        Ok(Arc::new(RtlLinear {
            name: name.to_string(),
            packed,
            reference,
            shared: self.shared.clone(),
        }))
    }
}

struct RtlLinear {
    name: String,
    packed: PackedWeights,
    reference: Option<Arc<dyn Linear>>,
    shared: Arc<Shared>,
}

impl Linear for RtlLinear {
    fn rows(&self) -> usize {
        self.packed.rows()
    }

    fn cols(&self) -> usize {
        self.packed.cols()
    }

    fn gemm(&self, x: &[i8], n: usize, out: &mut [i32]) -> Result<(), BackendError> {
        self.run_checked(
            x,
            n,
            out,
            |model, out| run_gemm(model, &self.packed, x, n, out),
            |r, cpu| r.gemm(x, n, cpu),
        )
    }

    fn gemm_fp(
        &self,
        fp: FpMatmul,
        x: &[u32],
        n: usize,
        out: &mut [u32],
    ) -> Result<(), BackendError> {
        let s = &self.shared;
        let built = FpMatmul::of_config(&s.cfg);
        if built != Some(fp) {
            return Err(BackendError::Failed {
                backend: s.name.clone(),
                matrix: self.name.clone(),
                detail: match built {
                    Some(b) => format!("the model asks for {fp}, but the array computes {b}"),
                    None => format!(
                        "the model asks for {fp}, but the array takes {} activations",
                        s.cfg.act_type()
                    ),
                },
            });
        }
        self.run_checked(
            x,
            n,
            out,
            |model, out| run_gemm_fp(model, &self.packed, x, n, out),
            |r, cpu| r.gemm_fp(fp, x, n, cpu),
        )
    }
}

impl RtlLinear {
    /// One matmul on the RTL (`rtl`, under the model lock and the trace
    /// hooks), the fault hook, the check against the CPU backend (`cpu`) and
    /// its record: the common part of [`Linear::gemm`] and [`Linear::gemm_fp`].
    fn run_checked<A, R: ResultBits>(
        &self,
        x: &[A],
        n: usize,
        out: &mut [R],
        rtl: impl FnOnce(&mut SimModel, &mut [R]) -> Result<GemmRun, SimError>,
        cpu: impl FnOnce(&dyn Linear, &mut [R]) -> Result<(), BackendError>,
    ) -> Result<(), BackendError> {
        let s = &self.shared;
        let (m, k) = (self.packed.rows(), self.packed.cols());
        check_shape(&s.name, m, k, x, n, out)?;
        let err = |detail: String| BackendError::Failed {
            backend: s.name.clone(),
            matrix: self.name.clone(),
            detail,
        };
        let run = {
            let mut model = lock(&s.model, &s.name, "model")?;
            let traced = trace_begin(s, &self.name, &mut model).map_err(|e| err(e.to_string()))?;
            let run = rtl(&mut model, out);
            if let Some(call) = traced {
                trace_end(
                    s,
                    call,
                    &self.name,
                    &mut model,
                    run.as_ref().ok().map(|r| r.cycles),
                )?;
            }
            run.map_err(|e| err(e.to_string()))?
        };
        let seq = s.calls.fetch_add(1, Ordering::SeqCst);
        if *lock(&s.fault, &s.name, "fault")? == Some(seq) {
            if let Some(v) = out.first_mut() {
                *v = v.flip_bit0();
            }
        }
        let check = match &self.reference {
            None => CheckOutcome::NotChecked,
            Some(r) => {
                let mut reference = vec![R::default(); n * m];
                cpu(r.as_ref(), &mut reference)?;
                let mut diff = out
                    .iter()
                    .zip(&reference)
                    .enumerate()
                    .filter(|(_, (a, b))| a != b);
                match diff.next() {
                    None => CheckOutcome::Exact,
                    Some((i, (&rtl, &c))) => CheckOutcome::Mismatch {
                        count: 1 + diff.count(),
                        token: i / m,
                        row: i % m,
                        rtl: rtl.word(),
                        cpu: c.word(),
                    },
                }
            }
        };
        let record = MatmulRecord {
            seq,
            name: self.name.clone(),
            rows: m,
            cols: k,
            tokens: n,
            passes: run.passes,
            cycles: run.cycles,
            wall: run.wall,
            weight_bytes: self.packed.stream_bytes(),
            macs: (n * m * k) as u64,
            peak_macs_per_cycle: s.cfg.macs_per_cycle(),
            check: check.clone(),
        };
        if let Some(f) = lock(&s.observer, &s.name, "observer")?.as_ref() {
            f(&record);
        }
        lock(&s.log, &s.name, "log")?.push(record);
        if let CheckOutcome::Mismatch {
            count,
            token,
            row,
            rtl,
            cpu,
        } = check
        {
            if s.fail_on_mismatch {
                return Err(err(format!(
                    "RTL result differs from the CPU backend in {count} of {} values; first at token {token}, row {row}: RTL {rtl}, CPU {cpu}",
                    n * m
                )));
            }
        }
        Ok(())
    }
}

/// A result word of an array: an int32 (integer activations) or binary32 bits
/// (floating-point activations).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResultWord {
    /// An exact integer dot product.
    Int(i32),
    /// binary32 bits.
    Fp32(u32),
}

impl std::fmt::Display for ResultWord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            ResultWord::Int(v) => write!(f, "{v}"),
            ResultWord::Fp32(b) => write!(f, "{b:#010x} ({:e})", f32::from_bits(b)),
        }
    }
}

/// The result types [`RtlLinear::run_checked`] handles.
trait ResultBits: Copy + Default + PartialEq {
    fn word(self) -> ResultWord;
    /// The value with bit 0 flipped (the fault hook).
    fn flip_bit0(self) -> Self;
}

impl ResultBits for i32 {
    fn word(self) -> ResultWord {
        ResultWord::Int(self)
    }
    fn flip_bit0(self) -> Self {
        self ^ 1
    }
}

impl ResultBits for u32 {
    fn word(self) -> ResultWord {
        ResultWord::Fp32(self)
    }
    fn flip_bit0(self) -> Self {
        self ^ 1
    }
}

// ---- Waveform tracing of one chosen matmul ----

/// Which matmul call of a traced backend ([`RtlBackend::with_trace`]) is dumped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TraceSelect {
    /// Call number `n` on the backend, from 0 (in the order the calls run).
    Call(usize),
    /// The first call on the matrix of this name (e.g. `blk.0.attn_q`).
    Name(String),
}

/// Dump the waves of one matmul to a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceRequest {
    /// The trace file: `.vcd` writes VCD, anything else FST
    /// ([`TraceFormat::for_path`](crate::TraceFormat::for_path)).
    pub path: std::path::PathBuf,
    /// The matmul to trace.
    pub select: TraceSelect,
}

/// The matmul a traced backend dumped ([`RtlBackend::trace_record`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceRecord {
    /// Call number on the backend, from 0 (the `seq` of its [`MatmulRecord`]).
    pub call: usize,
    /// Name of the matrix.
    pub name: String,
    /// The file written and the trace time reached. The trace covers
    /// `summary.cycles()` clock cycles from time 0: the 2 reset cycles, then
    /// the matmul's streaming cycles.
    pub summary: TraceSummary,
    /// The matmul's streaming cycles (its [`MatmulRecord::cycles`]); `None`
    /// if the simulation failed.
    pub cycles: Option<u64>,
}

struct TraceState {
    request: Option<TraceRequest>,
    /// Calls seen so far (counted under the model lock, so in run order).
    seen: usize,
    done: Option<TraceRecord>,
}

/// Count this call and, if it is the requested one, open the trace on
/// `model`. Returns the call number when tracing.
fn trace_begin(s: &Shared, name: &str, model: &mut SimModel) -> Result<Option<usize>, SimError> {
    let Ok(mut t) = s.trace.lock() else {
        return Ok(None);
    };
    let call = t.seen;
    t.seen += 1;
    let hit = t.done.is_none()
        && match t.request.as_ref().map(|r| &r.select) {
            Some(TraceSelect::Call(n)) => *n == call,
            Some(TraceSelect::Name(want)) => want == name,
            None => false,
        };
    match (&t.request, hit) {
        (Some(r), true) => {
            model.trace_open(&r.path)?;
            Ok(Some(call))
        }
        _ => Ok(None),
    }
}

/// Close the trace opened for call `call` and record it.
fn trace_end(
    s: &Shared,
    call: usize,
    name: &str,
    model: &mut SimModel,
    cycles: Option<u64>,
) -> Result<(), BackendError> {
    let summary = model.trace_close();
    let mut t = lock(&s.trace, &s.name, "trace")?;
    if let Some(summary) = summary {
        t.done = Some(TraceRecord {
            call,
            name: name.to_string(),
            summary,
            cycles,
        });
    }
    Ok(())
}

impl RtlBackend {
    /// [`RtlBackend::new`] with the trace build of the library (a separate
    /// cache entry), dumping the matmul chosen by `trace` to its file.
    pub fn with_trace(
        cfg: &ArrayConfig,
        opts: RtlOptions,
        trace: TraceRequest,
    ) -> Result<RtlBackend, SimError> {
        Self::create(cfg, opts, Some(trace))
    }

    /// The traced matmul, once it has run (`None` before, or if no call
    /// matched the request, or without tracing).
    pub fn trace_record(&self) -> Option<TraceRecord> {
        self.shared.trace.lock().ok().and_then(|t| t.done.clone())
    }
}
