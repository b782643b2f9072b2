//! `lutcore regress`: the seeded regression runner.
//!
//! A run draws `--configs C` distinct array configs from the space
//! [`RawArrayConfig::validate`] accepts (arch, rows, k_groups, g, weight type,
//! act_bits, max_k; arrays larger than `--max-pe` lanes are redrawn, because each
//! config is one Verilator build), then runs cases `0..N` round-robin over them:
//! case `i` belongs to config `i % C`. Each case is a matmul `M×K` with `n`
//! tokens, run through the Verilated RTL, the software LUT reference
//! ([`gemv_lut`]) and every CPU kernel that takes the weight type (int8
//! activations only), and compared with the plain integer reference
//! ([`gemv_plain`]).
//!
//! The first four cases of every config are the extremes: `K = max_k`, all
//! activations at the low or high end of their range, all weights at their
//! largest or smallest value, and a mix of both ends. The others draw the
//! shape (M and K often not multiples of the tile), the batch and the value
//! distributions.
//!
//! Reproducibility: the config pool comes from ChaCha8 seeded with the run
//! seed (stream 0); case `i` from the same seed on stream `i + 1`. So a case
//! depends only on the seed, `--configs`, `--max-pe`, `--max-cycles` and its
//! index, and `--case i` replays exactly case `i` of any run with those
//! options without drawing the others. Every failure prints that command.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use lutcore_contract::config::{Arch, ArrayConfig, RawArrayConfig};
use lutcore_contract::reference::{gemv_lut, gemv_plain};
use lutcore_contract::{Activation, BitPlanes, WeightMatrix, WeightType};
use lutcore_sim::{run_gemm, BuildStatus, PackedWeights, SimLibrary, SimModel};
use lutcore_sw::kernels::{Isa, KernelOptions, LutGemm, Scheme, TableMode};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::output::write_atomic;

/// Cases of a run when `-n` is not given.
pub const DEFAULT_CASES: usize = 200;

/// Largest `M·K` (weights) and `n·K` (activations) of a case: keeps the
/// reference's multiplications and the input generation under a second.
const MAX_ELEMENTS: usize = 1 << 22;

/// `lutcore regress`: random matmuls through the RTL and every CPU kernel, against the plain reference.
#[derive(Args, Debug, Clone)]
#[command(after_long_help = "\
Every failure prints a replay command (`lutcore regress --seed S --case I`, plus any non-default
--configs/--max-pe/--max-cycles) that reruns exactly that case. Exit status: 0 all cases passed,
1 a case failed (or, with --report, a result is missing), 2 the run itself could not start.

On a cluster (cases are independent; tasks share one --out directory and the model cache,
so each config is compiled by the first task that needs it and reused by the others):
  sbatch --array=0-19 --wrap 'lutcore regress --seed 7 --jobs 1 --case $((SLURM_ARRAY_TASK_ID*50))-$((SLURM_ARRAY_TASK_ID*50+49)) --out /shared/regress'
  lutcore regress -n 1000 --seed 7 --report /shared/regress --junit junit.xml --json regress.json
(--array=0-999 with --case $SLURM_ARRAY_TASK_ID runs one case per task.) Use the same
--seed/--configs/--max-pe/--max-cycles for --list, --case and --report.")]
pub struct RegressArgs {
    /// Cases of the run: indices 0..N (default 200).
    #[arg(short = 'n', long = "cases", value_name = "N")]
    pub cases: Option<usize>,
    /// Seed of the run (ChaCha8). Default: a fresh random seed, printed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Distinct array configs the cases are spread over; each is one Verilator build
    /// (10–60 s, cached in target/lutcore-sim by hash).
    #[arg(long, value_name = "C", default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub configs: u32,
    /// Largest array drawn, in lanes (rows × k_groups × g; the accepted space goes up to
    /// 256 × 32 × 5 = 40960, whose builds take many minutes).
    #[arg(long, value_name = "P", default_value_t = 512, value_parser = clap::value_parser!(u32).range(2..=40960))]
    pub max_pe: u32,
    /// Cycle budget of a random case's RTL run (M, then n, then K shrink to fit). The
    /// extreme cases always use K = max_k.
    #[arg(long, value_name = "CYCLES", default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_cycles: u64,
    /// Parallel cases (and parallel Verilator builds). Default: the number of cores.
    #[arg(long, value_name = "J", value_parser = clap::value_parser!(u32).range(1..))]
    pub jobs: Option<u32>,
    /// Print the cases (index, config, shape, batch, kind) and exit.
    #[arg(long, conflicts_with_all = ["case", "report"])]
    pub list: bool,
    /// Run only these cases: an index `I`, a range `A-B` (inclusive) or a comma-separated
    /// list of both, e.g. one task of a cluster job array.
    #[arg(long, value_name = "I", conflicts_with = "report")]
    pub case: Option<String>,
    /// Write every case's result as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write a JUnit XML report to FILE (one testcase per case; failures carry the replay command).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Also write each case's result to DIR/cases/<index>.json (for --report).
    #[arg(long, value_name = "DIR", conflicts_with = "report")]
    pub out: Option<PathBuf>,
    /// Run nothing: merge the case results in DIR/cases (written with --out) into the summary,
    /// --json and --junit; with -n, every case of 0..N must be there.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    /// Test hook: add 1 to one RTL result of case I (proves that failures are caught and reported).
    #[arg(long, value_name = "I", hide = true)]
    pub inject_fault: Option<usize>,
}

/// Everything a case depends on besides its index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gen {
    /// Run seed.
    pub seed: u64,
    /// Configs in the pool.
    pub configs: u32,
    /// Largest array drawn (lanes).
    pub max_pe: u32,
    /// Cycle budget of a random case.
    pub max_cycles: u64,
}

impl Gen {
    /// The command that reruns case `index` alone.
    pub fn replay(&self, index: usize) -> String {
        let mut s = format!("lutcore regress --seed {} --case {index}", self.seed);
        let d = Gen::defaults(self.seed);
        if self.configs != d.configs {
            let _ = write!(s, " --configs {}", self.configs);
        }
        if self.max_pe != d.max_pe {
            let _ = write!(s, " --max-pe {}", self.max_pe);
        }
        if self.max_cycles != d.max_cycles {
            let _ = write!(s, " --max-cycles {}", self.max_cycles);
        }
        s
    }

    /// The options' defaults, with `seed`.
    pub fn defaults(seed: u64) -> Gen {
        Gen {
            seed,
            configs: 6,
            max_pe: 512,
            max_cycles: 100_000,
        }
    }
}

/// Integer drawn with a uniform exponent: small values as likely as large ones.
fn log_uniform(rng: &mut ChaCha8Rng, lo: u64, hi: u64) -> u64 {
    debug_assert!(1 <= lo && lo <= hi);
    let (elo, ehi) = (63 - lo.leading_zeros(), 63 - hi.leading_zeros());
    let e = rng.gen_range(elo..=ehi);
    let (a, b) = ((1u64 << e).max(lo), ((1u64 << e) * 2 - 1).min(hi));
    rng.gen_range(a..=b)
}

/// Largest `max_k` (up to 2^20) that `raw` validates with.
fn largest_max_k(raw: &RawArrayConfig) -> u32 {
    let ok = |m: u32| {
        RawArrayConfig {
            max_k: m,
            ..raw.clone()
        }
        .validate()
        .is_ok()
    };
    let (mut lo, mut hi) = (1u32, 1u32 << 20);
    if ok(hi) {
        return hi;
    }
    // Accumulator width grows with max_k: ok(lo) and !ok(hi).
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if ok(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// One config of `arch`: every field drawn over its accepted range (rows, k_groups and
/// max_k log-uniformly; max_k exactly at its largest valid value a quarter of the time).
fn draw_config(rng: &mut ChaCha8Rng, arch: Arch, max_pe: u32) -> ArrayConfig {
    loop {
        let weights = if arch == Arch::AddSub {
            WeightType::Ternary
        } else {
            WeightType::ALL[rng.gen_range(0..WeightType::ALL.len())]
        };
        let g = rng.gen_range(2..=5u32);
        let act_bits = if rng.gen_bool(0.5) { 8 } else { 16 };
        let rows = log_uniform(rng, 1, 256) as u32;
        let k_groups = log_uniform(rng, 1, 32) as u32;
        if rows * k_groups * g > max_pe {
            continue;
        }
        let mut raw = RawArrayConfig {
            arch,
            rows,
            k_groups,
            g,
            weights,
            act: lutcore_contract::ActType::int(act_bits).expect("drawn from 8 and 16"),
            max_k: 1,
            tokens: 1,
            accumulate: lutcore_contract::Accumulate::Fp32,
        };
        let top = largest_max_k(&raw);
        raw.max_k = if rng.gen_bool(0.25) {
            top
        } else {
            log_uniform(rng, 1, u64::from(top)) as u32
        };
        if let Ok(c) = raw.validate() {
            return c;
        }
    }
}

/// The run's `C` configs: the archs in turn (from a seeded start), the other fields drawn.
pub fn config_pool(gen: &Gen) -> Vec<ArrayConfig> {
    let mut rng = ChaCha8Rng::seed_from_u64(gen.seed);
    let start = rng.gen_range(0..Arch::ALL.len());
    let mut pool: Vec<ArrayConfig> = Vec::new();
    let mut redraws = 0;
    while pool.len() < gen.configs as usize {
        let c = draw_config(
            &mut rng,
            Arch::ALL[(start + pool.len()) % Arch::ALL.len()],
            gen.max_pe,
        );
        // A tiny --max-pe may not hold C distinct configs: then repeats are allowed.
        if !pool.contains(&c) || redraws > 1000 {
            pool.push(c);
        } else {
            redraws += 1;
        }
    }
    pool
}

/// What a case tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// K = max_k, every activation at its minimum, every weight at its maximum.
    ExtremeLowMax,
    /// K = max_k, every activation at its maximum, every weight at its maximum.
    ExtremeHighMax,
    /// K = max_k, every activation at its minimum, every weight at its minimum.
    ExtremeLowMin,
    /// K = max_k, activations and weights each at one end of their range, at random;
    /// two tokens, the second with the activations' ends swapped.
    ExtremeMixed,
    /// Random shape, batch and values.
    Random,
}

impl Kind {
    /// Whether this is one of the extreme-value cases.
    pub fn is_extreme(self) -> bool {
        self != Kind::Random
    }
    fn name(self) -> &'static str {
        match self {
            Kind::ExtremeLowMax => "extreme-low-max",
            Kind::ExtremeHighMax => "extreme-high-max",
            Kind::ExtremeLowMin => "extreme-low-min",
            Kind::ExtremeMixed => "extreme-mixed",
            Kind::Random => "random",
        }
    }
}

/// How the values of a random case are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Values {
    /// Weights and activations uniform over their ranges.
    Uniform,
    /// Weights mostly 0 (value), activations small (|x| ≤ 3).
    Sparse,
    /// Activations as BitNet quantizes them (absmax of a bell-shaped vector), weights uniform.
    Absmax,
    /// Weights and activations each at one end of their range, at random.
    Ends,
}

/// A case: everything but the values, which [`CaseSpec::inputs`] draws.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseSpec {
    /// Index in the run.
    pub index: usize,
    /// Index of its config in the pool.
    pub config: usize,
    /// Output rows M.
    pub m: usize,
    /// Reduction length K.
    pub k: usize,
    /// Tokens n.
    pub n: usize,
    /// Extreme or random.
    pub kind: Kind,
    /// Value distribution of a random case.
    pub values: Values,
    /// Activation bits of the inputs (8, or 16 on an int16 array; int8 inputs also run on int16 arrays).
    pub act_bits: u32,
}

/// The inputs of a case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseInputs {
    /// M×K weights.
    pub w: WeightMatrix,
    /// n·K activations, token-major (int8 or int16 values).
    pub x: Vec<i32>,
}

impl CaseInputs {
    /// SHA-256 of the shape, the weight codes and the activations.
    pub fn digest(&self) -> String {
        let mut h = Sha256::new();
        for v in [self.w.rows(), self.w.cols(), self.x.len()] {
            h.update((v as u64).to_le_bytes());
        }
        for r in 0..self.w.rows() {
            let row: Vec<u8> = (0..self.w.cols()).map(|c| self.w.code(r, c)).collect();
            h.update(&row);
        }
        for v in &self.x {
            h.update(v.to_le_bytes());
        }
        format!("{:x}", h.finalize())
    }
}

/// Estimated cycles of an `m×k`, `n`-token matmul on `cfg` (passes × beats per pass, plus a
/// little pipeline per pass).
fn cycles(cfg: &ArrayConfig, m: usize, k: usize, n: usize) -> u64 {
    let per_pass = k.div_ceil(cfg.k_tile()) * cfg.beats_per_tile() + 8;
    (m.div_ceil(cfg.rows()) * n * per_pass) as u64
}

/// The run: its options and config pool.
pub struct Plan {
    /// Options every case depends on.
    pub gen: Gen,
    /// The configs.
    pub pool: Vec<ArrayConfig>,
}

impl Plan {
    /// The plan of `gen`.
    pub fn new(gen: Gen) -> Plan {
        Plan {
            pool: config_pool(&gen),
            gen,
        }
    }

    fn case_rng(&self, index: usize) -> ChaCha8Rng {
        let mut rng = ChaCha8Rng::seed_from_u64(self.gen.seed);
        rng.set_stream(index as u64 + 1);
        rng
    }

    /// Case `index`'s spec and the generator its inputs continue from.
    fn draw(&self, index: usize) -> (CaseSpec, ChaCha8Rng) {
        let mut rng = self.case_rng(index);
        let c = self.pool.len();
        let config = index % c;
        let cfg = &self.pool[config];
        let (rows, kt, max_k) = (cfg.rows(), cfg.k_tile(), cfg.max_k());
        let kind = match index / c {
            0 => Kind::ExtremeLowMax,
            1 => Kind::ExtremeHighMax,
            2 => Kind::ExtremeLowMin,
            3 => Kind::ExtremeMixed,
            _ => Kind::Random,
        };
        let act_bits = if cfg.act_bits() == 16 && (kind.is_extreme() || rng.gen_bool(0.75)) {
            16
        } else {
            8
        };
        let (m, k, n, values) = if kind.is_extreme() {
            let k = max_k;
            let n = if kind == Kind::ExtremeMixed { 2 } else { 1 };
            let mut m = rng.gen_range(1..=rows + 1);
            if cycles(cfg, m, k, n) > self.gen.max_cycles {
                m = m.min(rows);
            }
            (m.min((MAX_ELEMENTS / k).max(1)), k, n, Values::Ends)
        } else {
            let mut m = match rng.gen_range(0..6) {
                0 => 1,
                1 => rows,
                2 => rows + 1,
                3 => rows.saturating_sub(1).max(1),
                4 => rng.gen_range(1..=3 * rows + 7),
                _ => rng.gen_range(1..=64),
            };
            let mut k = match rng.gen_range(0..7) {
                0 => 1,
                1 => kt,
                2 => kt + 1,
                3 => kt.saturating_sub(1).max(1),
                4 => rng.gen_range(1..=4 * kt + 3),
                5 => log_uniform(&mut rng, 1, max_k as u64) as usize,
                _ => rng.gen_range(1..=max_k.min(2048)),
            }
            .min(max_k);
            let mut n = if rng.gen_bool(0.5) {
                1
            } else {
                rng.gen_range(2..=5)
            };
            // Shrink to the budgets: first M (to one tile), then n, then K.
            while cycles(cfg, m, k, n) > self.gen.max_cycles
                || m * k > MAX_ELEMENTS
                || n * k > MAX_ELEMENTS
            {
                if m > rows {
                    m = (m / 2).max(rows);
                } else if n > 1 {
                    n -= 1;
                } else if k > 1 {
                    k = k.div_ceil(2);
                } else {
                    break;
                }
            }
            let values = match rng.gen_range(0..8) {
                0..=3 => Values::Uniform,
                4 => Values::Sparse,
                5 | 6 => Values::Absmax,
                _ => Values::Ends,
            };
            (m, k, n, values)
        };
        (
            CaseSpec {
                index,
                config,
                m,
                k,
                n,
                kind,
                values,
                act_bits,
            },
            rng,
        )
    }

    /// Case `index`'s spec.
    pub fn spec(&self, index: usize) -> CaseSpec {
        self.draw(index).0
    }

    /// Case `index`'s spec and inputs.
    pub fn case(&self, index: usize) -> (CaseSpec, CaseInputs) {
        let (spec, mut rng) = self.draw(index);
        let cfg = &self.pool[spec.config];
        let inputs = spec.inputs(cfg.weights(), &mut rng);
        (spec, inputs)
    }

    /// One line of `--list`.
    pub fn describe(&self, s: &CaseSpec) -> String {
        let what = if s.kind.is_extreme() {
            s.kind.name().to_string()
        } else {
            format!("random/{:?}", s.values).to_lowercase()
        };
        format!(
            "{} {} {}x{} n={} {} int{}",
            s.index,
            self.pool[s.config].slug(),
            s.m,
            s.k,
            s.n,
            what,
            s.act_bits
        )
    }
}

impl CaseSpec {
    /// Draw the values.
    fn inputs(&self, wtype: WeightType, rng: &mut ChaCha8Rng) -> CaseInputs {
        let (m, k, n) = (self.m, self.k, self.n);
        let half = 1i32 << (self.act_bits - 1);
        let (lo, hi) = (-half, half - 1);
        let top = wtype.max_code();
        // Code 0 is the smallest value, `top` the largest.
        let codes: Vec<u8> = match (self.kind, self.values) {
            (Kind::ExtremeLowMax | Kind::ExtremeHighMax, _) => vec![top; m * k],
            (Kind::ExtremeLowMin, _) => vec![0; m * k],
            (_, Values::Ends) => (0..m * k)
                .map(|_| if rng.gen_bool(0.5) { top } else { 0 })
                .collect(),
            (_, Values::Sparse) => {
                let zero = wtype.code(0).unwrap_or(0);
                (0..m * k)
                    .map(|_| {
                        if rng.gen_bool(0.8) {
                            zero
                        } else {
                            rng.gen_range(0..=top)
                        }
                    })
                    .collect()
            }
            _ => (0..m * k).map(|_| rng.gen_range(0..=top)).collect(),
        };
        let w = WeightMatrix::from_codes(m, k, wtype, codes)
            .expect("codes drawn within the type's range");
        let x: Vec<i32> = match (self.kind, self.values) {
            (Kind::ExtremeLowMax | Kind::ExtremeLowMin, _) => vec![lo; n * k],
            (Kind::ExtremeHighMax, _) => vec![hi; n * k],
            (Kind::ExtremeMixed, _) => {
                let first: Vec<i32> = (0..k)
                    .map(|_| if rng.gen_bool(0.5) { hi } else { lo })
                    .collect();
                let mut x = first.clone();
                for t in 1..n {
                    x.extend(
                        first
                            .iter()
                            .map(|&v| if (v == lo) == (t % 2 == 1) { hi } else { lo }),
                    );
                }
                x
            }
            (_, Values::Ends) => (0..n * k)
                .map(|_| if rng.gen_bool(0.5) { hi } else { lo })
                .collect(),
            (_, Values::Sparse) => (0..n * k).map(|_| rng.gen_range(-3..=3)).collect(),
            (_, Values::Absmax) => {
                let mut x = Vec::with_capacity(n * k);
                for _ in 0..n {
                    let v: Vec<f64> = (0..k)
                        .map(|_| (0..4).map(|_| rng.gen_range(-1.0..1.0)).sum())
                        .collect();
                    let max = v.iter().fold(1e-9f64, |a, b| a.max(b.abs()));
                    x.extend(
                        v.iter()
                            .map(|f| ((f / max * f64::from(hi)).round() as i32).clamp(lo, hi)),
                    );
                }
                x
            }
            _ => (0..n * k).map(|_| rng.gen_range(lo..=hi)).collect(),
        };
        CaseInputs { w, x }
    }
}

/// The activations in their type.
enum Acts {
    I8(Vec<i8>),
    I16(Vec<i16>),
}

impl Acts {
    fn new(x: &[i32], bits: u32) -> Acts {
        if bits == 8 {
            Acts::I8(x.iter().map(|&v| v as i8).collect())
        } else {
            Acts::I16(x.iter().map(|&v| v as i16).collect())
        }
    }
}

/// The first disagreement of `got` with `want` (both token-major `n × m`), as a failure message.
pub fn compare(backend: &str, got: &[i64], want: &[i64], m: usize) -> Option<String> {
    if got.len() != want.len() {
        return Some(format!(
            "{backend}: {} results, expected {}",
            got.len(),
            want.len()
        ));
    }
    let bad = got.iter().zip(want).filter(|(g, w)| g != w).count();
    let first = got.iter().zip(want).position(|(g, w)| g != w)?;
    Some(format!(
        "{backend}: {bad} of {} results differ; first at token {} row {}: got {}, want {}",
        want.len(),
        first / m.max(1),
        first % m.max(1),
        got[first],
        want[first]
    ))
}

/// Per-token `f` over token-major activations, concatenated.
fn per_token<A: Activation>(x: &[A], k: usize, f: impl Fn(&[A]) -> Vec<i64>) -> Vec<i64> {
    x.chunks(k).flat_map(f).collect()
}

/// The CPU kernels that take `wtype`: every available ISA with bit planes (and the native
/// ternary scheme for ternary weights), one thread; plus the fastest with two threads on
/// every fourth case (the pool's row split).
fn cpu_kernels(wtype: WeightType, index: usize) -> Vec<(String, KernelOptions)> {
    let mut v = Vec::new();
    let isas = Isa::available();
    for &isa in &isas {
        let mut schemes = vec![(Scheme::BitPlanes, "planes")];
        if wtype == WeightType::Ternary {
            schemes.push((Scheme::TernaryNative, "native"));
        }
        for (scheme, name) in schemes {
            let opts = KernelOptions {
                isa,
                threads: 1,
                tables: TableMode::Exact,
                scheme,
            };
            v.push((format!("cpu:{}/{name}", isa.name()), opts));
            if index % 4 == 3 && Some(&isa) == isas.last() {
                v.push((
                    format!("cpu:{}/{name}/2t", isa.name()),
                    KernelOptions { threads: 2, ..opts },
                ));
            }
        }
    }
    v
}

/// How this process got a config's model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BuildInfo {
    /// Config slug.
    pub slug: String,
    /// `built`, `cached` or `failed`.
    pub status: String,
    /// Seconds the build (or cache lookup) took.
    pub seconds: f64,
    /// The build error of a failed build.
    pub error: Option<String>,
}

/// The outcome of one case.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaseResult {
    /// The run's options (a merge checks that every result belongs to the same run).
    pub gen: Gen,
    /// The case.
    pub spec: CaseSpec,
    /// Its config.
    pub config: RawArrayConfig,
    /// Config slug.
    pub slug: String,
    /// SHA-256 of its inputs ([`CaseInputs::digest`]).
    pub inputs_sha256: String,
    /// Everything compared with the plain reference.
    pub backends: Vec<String>,
    /// One message per disagreeing or failing backend; empty if the case passed.
    pub failures: Vec<String>,
    /// Cycles of the RTL run.
    pub rtl_cycles: u64,
    /// Wall time of the case (input generation included).
    pub seconds: f64,
    /// The command that reruns this case alone.
    pub replay: String,
    /// How this process got the config's model (for merged compile accounting).
    pub build: Option<BuildInfo>,
}

impl CaseResult {
    /// Whether every backend agreed with the reference.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    /// The one-line failure report (with the replay command), or `None` if it passed.
    pub fn failure_line(&self) -> Option<String> {
        let first = self.failures.first()?;
        let more = if self.failures.len() > 1 {
            format!(" (+{} more)", self.failures.len() - 1)
        } else {
            String::new()
        };
        Some(format!(
            "FAIL case {} [{} {}x{} n={} {}]: {first}{more}\n  replay: {}",
            self.spec.index,
            self.slug,
            self.spec.m,
            self.spec.k,
            self.spec.n,
            self.spec.kind.name(),
            self.replay
        ))
    }
}

/// The RTL side of a case: a model, or why there is none.
pub enum Rtl<'a> {
    /// The model of the case's config.
    Model(&'a mut SimModel),
    /// Its build failed.
    Failed(String),
}

/// Run case `spec` on `inputs` through the RTL and every backend; compare with the plain reference.
pub fn run_case(
    plan: &Plan,
    spec: &CaseSpec,
    inputs: &CaseInputs,
    rtl: Rtl<'_>,
    inject_fault: bool,
) -> CaseResult {
    let t = Instant::now();
    let cfg = &plan.pool[spec.config];
    let (m, k, n) = (spec.m, spec.k, spec.n);
    let w = &inputs.w;
    let acts = Acts::new(&inputs.x, spec.act_bits);
    let want = match &acts {
        Acts::I8(x) => per_token(x, k, |t| gemv_plain(w, t)),
        Acts::I16(x) => per_token(x, k, |t| gemv_plain(w, t)),
    };
    let mut backends = Vec::new();
    let mut failures = Vec::new();
    let mut check = |name: String, got: Result<Vec<i64>, String>, failures: &mut Vec<String>| {
        match got {
            Ok(got) => failures.extend(compare(&name, &got, &want, m)),
            Err(e) => failures.push(format!("{name}: error: {e}")),
        }
        backends.push(name);
    };
    if let Some(i) = want.iter().position(|v| i32::try_from(*v).is_err()) {
        failures.push(format!("reference: result {} = {} does not fit the arrays' 32-bit results (config validation bug)", i, want[i]));
    }

    // The RTL.
    let mut rtl_cycles = 0;
    let rtl_out = match rtl {
        Rtl::Failed(e) => Err(format!("model build failed: {e}")),
        Rtl::Model(model) => (|| {
            let packed = PackedWeights::new(cfg, w).map_err(|e| e.to_string())?;
            let mut out = vec![0i32; n * m];
            let run = match &acts {
                Acts::I8(x) => run_gemm(model, &packed, x, n, &mut out),
                Acts::I16(x) => run_gemm(model, &packed, x, n, &mut out),
            }
            .map_err(|e| e.to_string())?;
            rtl_cycles = run.cycles;
            if inject_fault {
                if let Some(last) = out.last_mut() {
                    *last = last.wrapping_add(1);
                }
            }
            Ok(out.into_iter().map(i64::from).collect())
        })(),
    };
    check("rtl".into(), rtl_out, &mut failures);

    // The software LUT reference with the array's g (what the LUT datapath computes).
    let planes = BitPlanes::new(w, cfg.g());
    let lut = match &acts {
        Acts::I8(x) => per_token(x, k, |t| gemv_lut(&planes, w.wtype(), t)),
        Acts::I16(x) => per_token(x, k, |t| gemv_lut(&planes, w.wtype(), t)),
    };
    check(format!("ref-lut/g{}", cfg.g()), Ok(lut), &mut failures);

    // The CPU kernels (int8 activations only).
    if let Acts::I8(x) = &acts {
        for (name, opts) in cpu_kernels(w.wtype(), spec.index) {
            let got = LutGemm::new(w, &opts)
                .map_err(|e| e.to_string())
                .and_then(|g| {
                    let mut out = vec![0i32; n * m];
                    g.gemm(x, n, &mut out).map_err(|e| e.to_string())?;
                    Ok(out.into_iter().map(i64::from).collect())
                });
            check(name, got, &mut failures);
        }
    }

    CaseResult {
        gen: plan.gen,
        spec: spec.clone(),
        config: cfg.raw().clone(),
        slug: cfg.slug(),
        inputs_sha256: inputs.digest(),
        backends,
        failures,
        rtl_cycles,
        seconds: t.elapsed().as_secs_f64(),
        replay: plan.gen.replay(spec.index),
        build: None,
    }
}

/// Parse `--case`: `I`, `A-B` or a comma-separated list of both; sorted, without repeats.
pub fn parse_cases(s: &str) -> Result<Vec<usize>> {
    let mut v = BTreeSet::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let num = |t: &str| {
            t.trim()
                .parse::<usize>()
                .with_context(|| format!("--case `{s}`: `{t}` is not a case index"))
        };
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                if a > b {
                    bail!("--case `{s}`: range {a}-{b} is empty");
                }
                if b - a >= 10_000_000 {
                    bail!("--case `{s}`: range {a}-{b} is too long");
                }
                v.extend(a..=b);
            }
            None => {
                v.insert(num(part)?);
            }
        }
    }
    if v.is_empty() {
        bail!("--case `{s}`: no case index");
    }
    Ok(v.into_iter().collect())
}

/// Run `lutcore regress`.
pub fn cmd_regress(a: &RegressArgs) -> Result<ExitCode> {
    crate::output::check_outputs(
        &[
            ("--json", a.json.as_deref()),
            ("--junit", a.junit.as_deref()),
        ],
        &[],
    )?;
    if let Some(dir) = &a.report {
        return merge(a, dir);
    }
    let seed = a.seed.unwrap_or_else(rand::random);
    let gen = Gen {
        seed,
        configs: a.configs,
        max_pe: a.max_pe,
        max_cycles: a.max_cycles,
    };
    let plan = Plan::new(gen);
    let n = a.cases.unwrap_or(DEFAULT_CASES);
    if a.list {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        for i in 0..n {
            // A closed pipe (`| head`) ends the listing quietly.
            if writeln!(out, "{}", plan.describe(&plan.spec(i))).is_err() {
                break;
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let indices = match &a.case {
        Some(s) => parse_cases(s)?,
        None => (0..n).collect(),
    };
    let jobs = a.jobs.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        |j| j as usize,
    );
    let kernels: Vec<String> = cpu_kernels(WeightType::Ternary, 3)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    println!(
        "regress    seed {seed}: {} case(s) over {} configs, {jobs} job(s) (replay one: {})",
        indices.len(),
        plan.pool.len(),
        gen.replay(indices[0])
            .replace(&format!("--case {}", indices[0]), "--case I")
    );
    println!(
        "backends   rtl, ref-lut, {} (int8 cases; native = ternary only)",
        kernels.join(", ")
    );
    let used: BTreeSet<usize> = indices.iter().map(|&i| i % plan.pool.len()).collect();
    for (i, c) in plan.pool.iter().enumerate() {
        let mark = if used.contains(&i) {
            ""
        } else {
            " (no case selected)"
        };
        println!("config {i:<3} {}{mark}", c.slug());
    }
    let t = Instant::now();
    let outcome = run_cases(
        &plan,
        &indices,
        jobs,
        a.inject_fault,
        a.out.as_deref(),
        true,
    )?;
    let report = Report::new(
        &plan.gen,
        outcome.results,
        outcome.builds,
        Some(t.elapsed()),
        Some(jobs),
        Vec::new(),
    );
    finish(a, &report)
}

/// Each config's library (or why it has none) and how it was obtained.
type Libraries = HashMap<usize, (Result<SimLibrary, String>, BuildInfo)>;

/// The results of [`run_cases`].
pub struct Outcome {
    /// One per case, by index.
    pub results: Vec<CaseResult>,
    /// One per config built or loaded.
    pub builds: Vec<BuildInfo>,
}

/// Build (or load) the models of the configs `indices` need, then run the cases on `jobs` threads,
/// each with its own model instances (a [`SimModel`] is `Send` but not `Sync`; the loaded
/// [`SimLibrary`] is shared). With `out`, each result is also written to `out/cases/<i>.json`.
pub fn run_cases(
    plan: &Plan,
    indices: &[usize],
    jobs: usize,
    inject: Option<usize>,
    out: Option<&Path>,
    progress: bool,
) -> Result<Outcome> {
    let jobs = jobs.max(1);
    let c = plan.pool.len();
    let needed: Vec<usize> = indices
        .iter()
        .map(|&i| i % c)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let style = |what: &str| {
        indicatif::ProgressStyle::with_template(&format!(
            "{{elapsed_precise}} [{{bar:30}}] {{pos}}/{{len}} {what}, ETA {{eta}} {{msg}}"
        ))
        .expect("valid template")
        .progress_chars("=> ")
    };
    let new_bar = |len: usize, what: &str| {
        let bar = if progress {
            indicatif::ProgressBar::new(len as u64)
        } else {
            indicatif::ProgressBar::hidden()
        };
        bar.set_style(style(what));
        bar.enable_steady_tick(Duration::from_millis(500));
        bar
    };

    // Models: one build per config, `jobs` at a time (each build also compiles on every core).
    let bar = new_bar(needed.len(), "models");
    let next = AtomicUsize::new(0);
    let libs: Mutex<Libraries> = Mutex::new(HashMap::new());
    std::thread::scope(|s| {
        for _ in 0..jobs.min(needed.len()) {
            s.spawn(|| {
                while let Some(&ci) = needed.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let cfg = &plan.pool[ci];
                    let t = Instant::now();
                    // A generator that panics on a config it accepted is a finding, not the end of the run.
                    let lib = catch_unwind(|| lutcore_gen::generate(cfg))
                        .map_err(|p| format!("generator panicked: {}", panic_message(p.as_ref())))
                        .and_then(|design| design.map_err(|e| e.to_string()))
                        .and_then(|design| SimLibrary::build(&design).map_err(|e| e.to_string()));
                    let (status, error) = match &lib {
                        Ok(l) if l.status() == BuildStatus::Built => ("built", None),
                        Ok(_) => ("cached", None),
                        Err(e) => ("failed", Some(e.clone())),
                    };
                    let info = BuildInfo {
                        slug: cfg.slug(),
                        status: status.into(),
                        seconds: t.elapsed().as_secs_f64(),
                        error,
                    };
                    bar.suspend(|| {
                        println!(
                            "model      config {ci} {}: {status} in {:.1} s",
                            info.slug, info.seconds
                        )
                    });
                    bar.inc(1);
                    libs.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(ci, (lib, info));
                }
            });
        }
    });
    bar.finish_and_clear();
    let libs = libs.into_inner().unwrap_or_else(|e| e.into_inner());

    // Cases, handed out one at a time.
    let bar = new_bar(indices.len(), "cases");
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<CaseResult>> = Mutex::new(Vec::with_capacity(indices.len()));
    let failed = AtomicUsize::new(0);
    let write_err: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..jobs.min(indices.len()) {
            s.spawn(|| {
                let mut models: HashMap<usize, Result<SimModel, String>> = HashMap::new();
                while let Some(&i) = indices.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let ci = i % c;
                    let model = models.entry(ci).or_insert_with(|| match libs.get(&ci) {
                        Some((Ok(lib), _)) => lib.instantiate().map_err(|e| e.to_string()),
                        Some((Err(e), _)) => Err(e.clone()),
                        None => Err("no model".into()),
                    });
                    let t = Instant::now();
                    let r = catch_unwind(AssertUnwindSafe(|| {
                        let (spec, inputs) = plan.case(i);
                        let rtl = match model {
                            Ok(m) => Rtl::Model(m),
                            Err(e) => Rtl::Failed(e.clone()),
                        };
                        run_case(plan, &spec, &inputs, rtl, inject == Some(i))
                    }));
                    let mut r = r.unwrap_or_else(|p| {
                        // A panic leaves the model in an unknown state: start a fresh one next time.
                        models.remove(&ci);
                        panicked(plan, i, &p, t.elapsed())
                    });
                    r.build = libs.get(&ci).map(|(_, b)| b.clone());
                    if let Some(line) = r.failure_line() {
                        failed.fetch_add(1, Ordering::Relaxed);
                        bar.suspend(|| eprintln!("{line}"));
                    }
                    if let Some(dir) = out {
                        let path = case_file(dir, i);
                        if let Err(e) = crate::output::write_json(&path, &r) {
                            write_err
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .get_or_insert(e);
                        }
                    }
                    bar.inc(1);
                    let f = failed.load(Ordering::Relaxed);
                    if f > 0 {
                        bar.set_message(format!("{f} FAILED"));
                    }
                    results.lock().unwrap_or_else(|e| e.into_inner()).push(r);
                }
            });
        }
    });
    bar.finish_and_clear();
    if let Some(e) = write_err.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(e.context("writing a case result"));
    }
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.sort_by_key(|r| r.spec.index);
    let mut builds: Vec<(usize, BuildInfo)> =
        libs.into_iter().map(|(ci, (_, b))| (ci, b)).collect();
    builds.sort_by_key(|(ci, _)| *ci);
    Ok(Outcome {
        results,
        builds: builds.into_iter().map(|(_, b)| b).collect(),
    })
}

/// The result of a case whose run panicked.
fn panicked(
    plan: &Plan,
    i: usize,
    payload: &(dyn std::any::Any + Send),
    took: Duration,
) -> CaseResult {
    let msg = panic_message(payload);
    let spec = plan.spec(i);
    let cfg = &plan.pool[spec.config];
    CaseResult {
        gen: plan.gen,
        config: cfg.raw().clone(),
        slug: cfg.slug(),
        spec,
        inputs_sha256: String::new(),
        backends: Vec::new(),
        failures: vec![format!("panicked: {msg}")],
        rtl_cycles: 0,
        seconds: took.as_secs_f64(),
        replay: plan.gen.replay(i),
        build: None,
    }
}

/// The message of a panic payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".into())
}

/// Result file of case `i` under `--out DIR`.
pub fn case_file(dir: &Path, i: usize) -> PathBuf {
    dir.join("cases").join(format!("{i}.json"))
}

/// Everything the summary, `--json` and `--junit` show.
#[derive(Serialize)]
pub struct Report {
    /// The run's options.
    pub gen: Gen,
    /// Cases run (or merged).
    pub cases: usize,
    /// Of those, failed.
    pub failed: usize,
    /// Cases of `0..N` without a result (`--report` only).
    pub missing: Vec<usize>,
    /// Distinct configs the cases used.
    pub configs: usize,
    /// Distinct configs compiled (not found in the cache).
    pub configs_compiled: usize,
    /// Seconds spent building them (per config, summed).
    pub build_seconds: f64,
    /// Wall time of the run (not known for a merge).
    pub wall_seconds: Option<f64>,
    /// Parallel jobs.
    pub jobs: Option<usize>,
    /// Model builds, one per config.
    pub builds: Vec<BuildInfo>,
    /// Every case.
    pub results: Vec<CaseResult>,
}

impl Report {
    fn new(
        gen: &Gen,
        results: Vec<CaseResult>,
        builds: Vec<BuildInfo>,
        wall: Option<Duration>,
        jobs: Option<usize>,
        missing: Vec<usize>,
    ) -> Report {
        let compiled: BTreeMap<&str, f64> = builds
            .iter()
            .filter(|b| b.status == "built")
            .map(|b| (b.slug.as_str(), b.seconds))
            .collect();
        let configs = results
            .iter()
            .map(|r| r.slug.as_str())
            .collect::<BTreeSet<_>>()
            .len();
        Report {
            gen: *gen,
            cases: results.len(),
            failed: results.iter().filter(|r| !r.passed()).count(),
            missing,
            configs,
            configs_compiled: compiled.len(),
            build_seconds: compiled.values().fold(0.0, |a, b| a + b),
            wall_seconds: wall.map(|w| w.as_secs_f64()),
            jobs,
            builds,
            results,
        }
    }

    fn ok(&self) -> bool {
        self.failed == 0 && self.missing.is_empty()
    }

    /// The human summary: cases per arch, weight type and activation bits; failures; cost.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let mut groups: BTreeMap<(String, String, u32), [usize; 4]> = BTreeMap::new();
        for r in &self.results {
            let key = (
                r.config.arch.to_string(),
                r.config.weights.to_string(),
                r.spec.act_bits,
            );
            let e = groups.entry(key).or_default();
            e[0] += 1;
            e[1] += usize::from(r.spec.kind.is_extreme());
            e[2] += usize::from(!r.passed());
            e[3] = e[3].max(r.backends.len());
        }
        let _ = writeln!(
            s,
            "{:<7} {:<8} {:>4} {:>7} {:>8} {:>7} {:>9}",
            "arch", "weights", "act", "cases", "extreme", "failed", "backends"
        );
        for ((arch, w, act), [cases, ext, failed, backends]) in &groups {
            let _ = writeln!(
                s,
                "{arch:<7} {w:<8} {:>4} {cases:>7} {ext:>8} {failed:>7} {backends:>9}",
                format!("int{act}")
            );
        }
        let ext: usize = groups.values().map(|g| g[1]).sum();
        let _ = writeln!(
            s,
            "{:<7} {:<8} {:>4} {:>7} {:>8} {:>7}",
            "total", "", "", self.cases, ext, self.failed
        );
        let cached = self
            .builds
            .iter()
            .filter(|b| b.status == "cached")
            .map(|b| &b.slug)
            .collect::<BTreeSet<_>>()
            .len();
        let broken = self
            .builds
            .iter()
            .filter(|b| b.status == "failed")
            .map(|b| &b.slug)
            .collect::<BTreeSet<_>>()
            .len();
        let _ = writeln!(
            s,
            "configs    {} distinct: {} compiled ({:.1} s of Verilator/C++ builds), {cached} from the cache{}",
            self.configs,
            self.configs_compiled,
            self.build_seconds,
            if broken > 0 { format!(", {broken} FAILED to build") } else { String::new() }
        );
        if let Some(w) = self.wall_seconds {
            let _ = writeln!(
                s,
                "wall       {w:.1} s with {} job(s)",
                self.jobs.unwrap_or(1)
            );
        }
        if !self.missing.is_empty() {
            let _ = writeln!(
                s,
                "missing    {} case(s) have no result: {}",
                self.missing.len(),
                ranges(&self.missing)
            );
        }
        let verdict = if self.ok() { "PASS" } else { "FAIL" };
        let _ = writeln!(
            s,
            "result     {verdict}: {} of {} case(s) failed (seed {})",
            self.failed, self.cases, self.gen.seed
        );
        for r in self.results.iter().filter(|r| !r.passed()) {
            let _ = writeln!(s, "  replay: {}", r.replay);
        }
        s
    }

    /// The JUnit XML report: one testsuite, one testcase per case (missing ones as errors).
    pub fn junit(&self) -> String {
        let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let total: f64 = self.results.iter().map(|r| r.seconds).sum();
        let time = self.wall_seconds.unwrap_or(total);
        let _ = writeln!(
            s,
            "<testsuites name=\"lutcore regress\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{time:.3}\">",
            self.cases + self.missing.len(),
            self.failed,
            self.missing.len()
        );
        let _ = writeln!(
            s,
            "  <testsuite name=\"lutcore regress seed {}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"0\" time=\"{time:.3}\">",
            self.gen.seed,
            self.cases + self.missing.len(),
            self.failed,
            self.missing.len()
        );
        let _ = writeln!(s, "    <properties>");
        for (name, value) in [
            ("seed", self.gen.seed.to_string()),
            ("configs", self.gen.configs.to_string()),
            ("max_pe", self.gen.max_pe.to_string()),
            ("max_cycles", self.gen.max_cycles.to_string()),
        ] {
            let _ = writeln!(
                s,
                "      <property name=\"{name}\" value=\"{}\"/>",
                xml_escape(&value)
            );
        }
        let _ = writeln!(s, "    </properties>");
        for r in &self.results {
            let name = format!(
                "case {} {}x{} n={} {} int{}",
                r.spec.index,
                r.spec.m,
                r.spec.k,
                r.spec.n,
                r.spec.kind.name(),
                r.spec.act_bits
            );
            let open = format!(
                "    <testcase classname=\"regress.{}\" name=\"{}\" time=\"{:.3}\"",
                xml_escape(&r.slug),
                xml_escape(&name),
                r.seconds
            );
            match r.failures.first() {
                None => {
                    let _ = writeln!(s, "{open}/>");
                }
                Some(first) => {
                    let body = format!("{}\nreplay: {}", r.failures.join("\n"), r.replay);
                    let _ = writeln!(s, "{open}>");
                    // A backend that disagreed is a mismatch; one that could not run (build, panic) an error.
                    let kind = if r
                        .failures
                        .iter()
                        .any(|f| f.contains(": error:") || f.starts_with("panicked"))
                    {
                        "error"
                    } else {
                        "mismatch"
                    };
                    let _ = writeln!(
                        s,
                        "      <failure message=\"{}\" type=\"{kind}\">{}</failure>",
                        xml_escape(first),
                        xml_escape(&body)
                    );
                    let _ = writeln!(s, "    </testcase>");
                }
            }
        }
        for &i in &self.missing {
            let _ = writeln!(
                s,
                "    <testcase classname=\"regress.missing\" name=\"case {i}\" time=\"0\">"
            );
            let _ = writeln!(
                s,
                "      <error message=\"no result file\" type=\"missing\">{}</error>",
                xml_escape(&format!("replay: {}", self.gen.replay(i)))
            );
            let _ = writeln!(s, "    </testcase>");
        }
        s.push_str("  </testsuite>\n</testsuites>\n");
        s
    }
}

/// `text` escaped for XML attribute values and character data; characters XML 1.0 cannot
/// hold (most control characters) become U+FFFD.
pub fn xml_escape(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => s.push_str("&amp;"),
            '<' => s.push_str("&lt;"),
            '>' => s.push_str("&gt;"),
            '"' => s.push_str("&quot;"),
            '\'' => s.push_str("&apos;"),
            '\n' => s.push_str("&#10;"),
            '\t' | '\r' => {
                let _ = write!(s, "&#{};", u32::from(ch));
            }
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => s.push('\u{FFFD}'),
            c => s.push(c),
        }
    }
    s
}

/// `1-3, 7` from sorted indices.
fn ranges(v: &[usize]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j + 1 < v.len() && v[j + 1] == v[j] + 1 {
            j += 1;
        }
        parts.push(if i == j {
            v[i].to_string()
        } else {
            format!("{}-{}", v[i], v[j])
        });
        i = j + 1;
    }
    parts.join(", ")
}

/// Print the summary, write --json and --junit; the exit status.
fn finish(a: &RegressArgs, report: &Report) -> Result<ExitCode> {
    println!();
    print!("{}", report.summary());
    if let Some(p) = &a.json {
        crate::output::write_json(p, report)?;
        println!("wrote      {}", p.display());
    }
    if let Some(p) = &a.junit {
        write_atomic(p, &report.junit())?;
        println!("wrote      {}", p.display());
    }
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `--report DIR`: merge the case files of one run.
fn merge(a: &RegressArgs, dir: &Path) -> Result<ExitCode> {
    let cases_dir = dir.join("cases");
    let entries = std::fs::read_dir(&cases_dir).with_context(|| {
        format!(
            "reading {} (write it with --out {})",
            cases_dir.display(),
            dir.display()
        )
    })?;
    let mut results: BTreeMap<usize, CaseResult> = BTreeMap::new();
    for e in entries {
        let path = e?.path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let r: CaseResult =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        results.insert(r.spec.index, r);
    }
    let Some(first) = results.values().next() else {
        bail!(
            "no case results in {}: run `lutcore regress --case ... --out {}` first",
            cases_dir.display(),
            dir.display()
        );
    };
    let gen = first.gen;
    if let Some(r) = results.values().find(|r| r.gen != gen) {
        bail!(
            "{} holds cases of two runs: case {} has {:?}, case {} has {:?}",
            cases_dir.display(),
            first.spec.index,
            gen,
            r.spec.index,
            r.gen
        );
    }
    let asked = Gen {
        seed: a.seed.unwrap_or(gen.seed),
        configs: a.configs,
        max_pe: a.max_pe,
        max_cycles: a.max_cycles,
    };
    if asked != gen {
        bail!(
            "the results in {} are of run {:?}, not of the options given ({:?})",
            cases_dir.display(),
            gen,
            asked
        );
    }
    let n = a
        .cases
        .unwrap_or_else(|| results.keys().next_back().map_or(0, |&i| i + 1));
    let missing: Vec<usize> = (0..n).filter(|i| !results.contains_key(i)).collect();
    let results: Vec<CaseResult> = results
        .into_values()
        .filter(|r| a.cases.is_none_or(|n| r.spec.index < n))
        .collect();
    // Compile accounting: a config counts as compiled if any task built it.
    let mut builds: BTreeMap<String, BuildInfo> = BTreeMap::new();
    for b in results.iter().filter_map(|r| r.build.clone()) {
        match builds.get(&b.slug) {
            Some(old)
                if old.status == "built"
                    || (old.status == b.status && old.seconds >= b.seconds) => {}
            _ if b.status == "built" || !builds.contains_key(&b.slug) => {
                builds.insert(b.slug.clone(), b);
            }
            _ => {}
        }
    }
    println!(
        "report     {} case result(s) from {} (seed {})",
        results.len(),
        cases_dir.display(),
        gen.seed
    );
    for r in results.iter().filter(|r| !r.passed()) {
        if let Some(line) = r.failure_line() {
            eprintln!("{line}");
        }
    }
    let report = Report::new(
        &gen,
        results,
        builds.into_values().collect(),
        None,
        None,
        missing,
    );
    finish(a, &report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        Plan::new(Gen {
            seed: 42,
            configs: 3,
            max_pe: 64,
            max_cycles: 20_000,
        })
    }

    #[test]
    fn pool_is_seeded_valid_and_distinct() {
        let a = plan();
        assert_eq!(a.pool, plan().pool, "same seed, same configs");
        assert_eq!(a.pool.len(), 3);
        let archs: BTreeSet<String> = a.pool.iter().map(|c| c.arch().to_string()).collect();
        assert_eq!(archs.len(), 3, "three configs cover the three archs");
        for c in &a.pool {
            assert!(c.rows() * c.k_tile() <= 64, "{c}");
            assert_eq!(c.raw().clone().validate().as_ref(), Ok(c));
        }
        let other = Plan::new(Gen { seed: 43, ..a.gen });
        assert_ne!(a.pool, other.pool);
    }

    #[test]
    fn every_config_starts_with_the_extremes() {
        let p = plan();
        for i in 0..12 {
            let (s, x) = p.case(i);
            let cfg = &p.pool[s.config];
            assert_eq!(s.config, i % 3);
            if i < 12 {
                assert!(s.kind.is_extreme(), "case {i}");
                assert_eq!(s.k, cfg.max_k(), "case {i}: K = max_k");
            }
            let (lo, hi) = cfg.act_range();
            match s.kind {
                Kind::ExtremeLowMax => assert!(x.x.iter().all(|&v| i64::from(v) == lo)),
                Kind::ExtremeHighMax => assert!(x.x.iter().all(|&v| i64::from(v) == hi)),
                _ => assert!(x
                    .x
                    .iter()
                    .all(|&v| i64::from(v) == lo || i64::from(v) == hi)),
            }
        }
        assert_eq!(p.spec(12).kind, Kind::Random);
    }

    #[test]
    fn shapes_are_often_off_the_tile() {
        let p = Plan::new(Gen::defaults(9));
        let specs: Vec<CaseSpec> = (0..600).map(|i| p.spec(i)).collect();
        let off_m = specs
            .iter()
            .filter(|s| s.m % p.pool[s.config].rows() != 0)
            .count();
        let off_k = specs
            .iter()
            .filter(|s| s.k % p.pool[s.config].k_tile() != 0)
            .count();
        assert!(
            off_m > 150 && off_k > 150,
            "M off the tile {off_m}, K off the tile {off_k} of 600"
        );
        assert!(specs.iter().any(|s| s.n > 1));
        for s in &specs {
            let cfg = &p.pool[s.config];
            assert!(s.k >= 1 && s.k <= cfg.max_k() && s.m >= 1 && s.n >= 1);
            if !s.kind.is_extreme() {
                assert!(
                    cycles(cfg, s.m, s.k, s.n) <= p.gen.max_cycles
                        || (s.m <= cfg.rows() && s.n == 1 && s.k == 1)
                );
            }
        }
    }

    #[test]
    fn a_case_is_the_same_alone_or_in_a_run() {
        let p = plan();
        let run: Vec<(CaseSpec, CaseInputs)> = (0..30).map(|i| p.case(i)).collect();
        for i in [0, 7, 29] {
            let alone = plan().case(i);
            assert_eq!(alone, run[i], "case {i}");
            assert_eq!(alone.1.digest(), run[i].1.digest());
        }
        assert_ne!(run[20].1.digest(), run[23].1.digest());
    }

    #[test]
    fn compare_finds_an_off_by_one() {
        let want = vec![5, -7, 9, 11, 0, 3];
        assert_eq!(compare("x", &want, &want, 3), None);
        let mut got = want.clone();
        got[4] += 1;
        let msg = compare("rtl", &got, &want, 3).expect("a mismatch");
        assert!(
            msg.contains("rtl")
                && msg.contains("1 of 6")
                && msg.contains("token 1 row 1")
                && msg.contains("got 1, want 0"),
            "{msg}"
        );
        assert!(compare("rtl", &want[..5], &want, 3).is_some());
    }

    /// A deliberately wrong RTL result (the hidden --inject-fault hook) must make the case fail
    /// with a replay line, the JUnit report carry it, and the other backends still pass.
    #[test]
    fn a_wrong_result_fails_with_a_replay_line() {
        let p = plan();
        let (spec, inputs) = p.case(13);
        // No model needed: a failed build is reported as a failure of the RTL backend.
        let broken = run_case(
            &p,
            &spec,
            &inputs,
            Rtl::Failed("no verilator in this test".into()),
            false,
        );
        assert!(!broken.passed());
        assert!(
            broken.failures.iter().all(|f| f.starts_with("rtl:")),
            "{:?}",
            broken.failures
        );
        let line = broken.failure_line().expect("failed");
        assert!(line.contains("FAIL case 13") && line.contains("replay: lutcore regress --seed 42 --case 13 --configs 3 --max-pe 64 --max-cycles 20000"), "{line}");

        // An off-by-one in one result, on top of an otherwise correct run.
        let mut r = broken.clone();
        r.failures.clear();
        let want: Vec<i64> = inputs
            .x
            .chunks(spec.k)
            .flat_map(|t| gemv_plain(&inputs.w, &t.iter().map(|&v| v as i16).collect::<Vec<_>>()))
            .collect();
        let mut got = want.clone();
        got[0] -= 1;
        r.failures.extend(compare("rtl", &got, &want, spec.m));
        assert!(!r.passed());
        let report = Report::new(
            &p.gen,
            vec![r.clone(), {
                let mut ok = r.clone();
                ok.failures.clear();
                ok.spec.index = 14;
                ok
            }],
            vec![],
            None,
            None,
            vec![15],
        );
        assert_eq!((report.failed, report.ok()), (1, false));
        let xml = report.junit();
        assert!(
            xml.contains("tests=\"3\" failures=\"1\" errors=\"1\""),
            "{xml}"
        );
        assert!(
            xml.contains("<failure message=\"rtl: 1 of")
                && xml.contains("replay: lutcore regress --seed 42 --case 13"),
            "{xml}"
        );
        assert!(
            xml.contains("name=\"case 15\"") && xml.contains("--case 15"),
            "{xml}"
        );
        assert!(
            report.summary().contains("FAIL: 1 of 2"),
            "{}",
            report.summary()
        );
    }

    #[test]
    fn xml_escaping() {
        assert_eq!(
            xml_escape("a<b & \"c\" 'd'>\n\u{1}"),
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;&#10;\u{FFFD}"
        );
    }

    #[test]
    fn case_lists() {
        assert_eq!(parse_cases("3").unwrap(), vec![3]);
        assert_eq!(parse_cases("5-7,1, 6").unwrap(), vec![1, 5, 6, 7]);
        assert!(
            parse_cases("7-5").is_err() && parse_cases("x").is_err() && parse_cases("").is_err()
        );
        assert_eq!(ranges(&[1, 2, 3, 7, 9, 10]), "1-3, 7, 9-10");
    }
}
