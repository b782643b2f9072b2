//! `lutcore sim`: a random batch of `--tokens` B activation vectors against
//! one random weight matrix through the Verilated array
//! ([`lutcore_sim::Simulator`]; B defaults to the config's tokens per pass M,
//! and runs as `ceil(B / M)` passes per row tile, the last padded with zero
//! vectors), each token compared with the software LUT reference and a plain
//! dot product (integer activations), or with the contract's floating-point
//! reference bits and, for its error, an exact f64 dot product
//! (floating-point activations). [`run`] builds, runs and compares;
//! [`SimRun::print`] and [`SimRun::json`] report.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use clap::Args;
use lutcore_contract::config::{Arch, ArrayConfig};
use lutcore_contract::fp::FpFormat;
use lutcore_contract::layout::{BitPlanes, WeightMatrix};
use lutcore_contract::reference::{gemv_lut, gemv_plain};
use lutcore_sim::fpcheck::{fp_reference, random_fp_activations, Edges, FpError};
use lutcore_sim::{GemmRun, PackedWeights};
use lutcore_sw::QuantizedActivations;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::args::{ConfigArgs, Shape};
use crate::limits;
use crate::output::{check_outputs, create_parent_dir, write_json};

/// Arguments of `lutcore sim`.
#[derive(Args)]
pub(crate) struct SimArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// GEMV shape as MxK (output rows x reduction length). M and K at most 16777216 (2^24)
    /// each, M·K at most 268435456 (2^28) weights; K at most the config's max_k.
    #[arg(long, value_name = "MxK", default_value = "1536x1536")]
    shape: Shape,
    /// Seed of the random weights and activations.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Also write the report as JSON to FILE (not an input file; written whole or not at all).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Dump the GEMV's waves to FILE (FST, or VCD for a `.vcd` name); builds the trace variant.
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
    /// Runs of the GEMV (each from reset, each compared with the first); the speed printed is
    /// their median, the range is printed too. At most 1000. With --trace: one run.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=i64::from(limits::MAX_SIM_REPEATS)))]
    repeats: u32,
    /// Floating-point activations only: mix every edge value of the format into x (also the
    /// largest finite values, ±Inf and NaN), not only ±0, subnormals, the smallest normal and ±1.
    #[arg(long)]
    extremes: bool,
    /// Batch of B random activation vectors (tokens), 1..=512; default: the config's tokens per
    /// pass M. Runs as ceil(B/M) passes per row tile (the last padded with zero vectors); each
    /// token is compared with the reference on its own.
    #[arg(long, value_name = "B", value_parser = clap::value_parser!(u32).range(1..=limits::MAX_BATCH as i64))]
    tokens: Option<u32>,
}

/// Run `lutcore sim`: exit status 1 on a mismatch.
pub(crate) fn cmd_sim(a: &SimArgs) -> Result<ExitCode> {
    let run = run(a)?;
    run.print();
    if let Some(path) = &a.json {
        write_json(path, &run.json())?;
    }
    Ok(if run.mismatch.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// What one `lutcore sim` run found.
struct SimRun {
    /// The config's name (preset or file) and the config.
    name: String,
    cfg: ArrayConfig,
    shape: Shape,
    seed: u64,
    /// Tokens B of the batch.
    tokens: usize,
    /// Passes of one run: row tiles × `ceil(B / M)`.
    passes: usize,
    /// Clock cycles of one run of the batch (the same in every run).
    cycles: u64,
    /// Per token, the first row where the RTL differs from the reference:
    /// (row, RTL, reference), printed.
    mismatches: Vec<Option<(usize, String, String)>>,
    /// The first token and row where the RTL differs: (token, row, RTL, reference).
    mismatch: Option<(usize, usize, String, String)>,
    /// Wall time of each run.
    walls: Vec<Duration>,
    /// Floating-point activations: the format and the results' error against f64.
    fp: Option<(FpFormat, FpError)>,
    /// Exact accumulation: the error the binary32 accumulation of the same
    /// datapath has on the same inputs (its contract reference).
    fp32_error: Option<FpError>,
}

/// Check the flags, build the model, run the batch `--repeats` times and compare the
/// results with the references; prints progress (config, shape, model, trace) as it goes.
fn run(a: &SimArgs) -> Result<SimRun> {
    let (name, cfg) = a.config.load()?;
    check_flags(a, &name, &cfg)?;
    let (m, k) = a.shape.dims();
    let b = batch(a, &cfg);
    let mut rng = ChaCha8Rng::seed_from_u64(a.seed);
    let w = crate::bench::random_weights(&mut rng, cfg.weights(), m, k)?;
    if let Some(fmt) = cfg.act_float() {
        return run_fp(a, name, cfg, fmt, &mut rng, &w);
    }
    if a.extremes {
        bail!("--extremes mixes edge values into floating-point activations, and config {name} has {} activations: drop --extremes or use a config with \"activations\": \"fp16\" (or bf16, fp8-e4m3, fp8-e5m2)", cfg.act_type());
    }
    let xs: Vec<QuantizedActivations> = (0..b).map(|_| random_activations(&mut rng, k)).collect();
    println!("config     {name}: {cfg}");
    println!(
        "shape      {m} x {k}, {} weights, int8 activations{} (seed {})",
        cfg.weights(),
        batch_words(b, &cfg),
        a.seed
    );

    let mut sim = build(&cfg, a.trace.as_deref())?;
    let packed = PackedWeights::new(&cfg, &w)?;
    let x: Vec<i8> = xs.iter().flat_map(|x| x.values.iter().copied()).collect();
    let (results, run, walls) =
        repeat(&mut sim, a, |sim, out| sim.gemm(&packed, &x, b, out), b * m)?;
    let planes = BitPlanes::new(&w, cfg.g());
    let mut golden = Vec::with_capacity(b * m);
    for x in &xs {
        let g = gemv_lut(&planes, cfg.weights(), &x.values);
        if g != gemv_plain(&w, &x.values) {
            bail!("software LUT reference disagrees with the plain dot product: this is a bug in lutcore_sw");
        }
        golden.extend(g);
    }
    let mismatches = compare(
        &results,
        &golden,
        m,
        |r, g| i64::from(*r) == *g,
        |v| v.to_string(),
        |v| v.to_string(),
    );
    Ok(SimRun::new(
        name, cfg, a, b, run, mismatches, walls, None, None,
    ))
}

/// The batch size: `--tokens`, else the config's tokens per pass.
fn batch(a: &SimArgs, cfg: &ArrayConfig) -> usize {
    a.tokens.map_or(cfg.tokens(), |b| b as usize)
}

/// `, a batch of B tokens in P passes of M` for a batch of more than one, for the shape line.
fn batch_words(b: usize, cfg: &ArrayConfig) -> String {
    match (b, cfg.tokens()) {
        (1, 1) => String::new(),
        (b, m) => format!(
            ", a batch of {b} token(s) ({} per pass: {} pass(es) per row tile{})",
            m,
            b.div_ceil(m),
            if b % m == 0 {
                ""
            } else {
                ", the last padded with zero vectors"
            }
        ),
    }
}

/// Per token (`m` results each), the first row where `got` differs from
/// `want` (`same` compares), shown by `show_got` and `show_want`.
fn compare<R, G>(
    got: &[R],
    want: &[G],
    m: usize,
    same: impl Fn(&R, &G) -> bool,
    show_got: impl Fn(&R) -> String,
    show_want: impl Fn(&G) -> String,
) -> Vec<Option<(usize, String, String)>> {
    got.chunks(m)
        .zip(want.chunks(m))
        .map(|(got, want)| {
            got.iter()
                .zip(want)
                .position(|(r, g)| !same(r, g))
                .map(|r| (r, show_got(&got[r]), show_want(&want[r])))
        })
        .collect()
}

/// [`run`] for an array with floating-point activations: random codes of `fmt`
/// with its edge values ([`random_fp_activations`]), compared bit for bit with
/// the contract's reference for the config's datapath ([`fp_reference`]), and
/// the error of both against the exact dot product.
fn run_fp(
    a: &SimArgs,
    name: String,
    cfg: ArrayConfig,
    fmt: FpFormat,
    rng: &mut ChaCha8Rng,
    w: &WeightMatrix,
) -> Result<SimRun> {
    let (m, k) = a.shape.dims();
    let b = batch(a, &cfg);
    let edges = if a.extremes {
        Edges::All
    } else {
        Edges::Finite
    };
    let xs: Vec<Vec<u32>> = (0..b)
        .map(|_| random_fp_activations(rng, fmt, k, edges))
        .collect();
    println!("config     {name}: {cfg}");
    println!(
        "shape      {m} x {k}, {} weights, {fmt} activations with {}{} (seed {})",
        cfg.weights(),
        match edges {
            Edges::All => "every edge value: ±0, subnormals, largest finite, infinities, NaN",
            Edges::Finite => "edge values ±0, subnormals, smallest normal, ±1 (--extremes: all)",
        },
        batch_words(b, &cfg),
        a.seed
    );
    let mut sim = build(&cfg, a.trace.as_deref())?;
    let packed = PackedWeights::new(&cfg, w)?;
    let x: Vec<u32> = xs.concat();
    let (results, run, walls) = repeat(
        &mut sim,
        a,
        |sim, out| sim.gemm_fp(&packed, &x, b, out),
        b * m,
    )?;
    let golden: Vec<u32> = xs.iter().flat_map(|x| fp_reference(&cfg, w, x)).collect();
    let show = |b: &u32| format!("{b:#010x} ({:e})", f32::from_bits(*b));
    let mismatches = compare(&results, &golden, m, |r, g| r == g, show, show);
    let error = batch_error(w, fmt, &xs, &results, m);
    // Exact accumulation: the error its binary32 twin has on the same inputs.
    let fp32_error = cfg
        .act_fixed()
        .and_then(|_| {
            cfg.raw()
                .clone()
                .with_accumulate(lutcore_contract::Accumulate::Fp32)
                .validate()
                .ok()
        })
        .map(|twin| {
            let twin_results: Vec<u32> =
                xs.iter().flat_map(|x| fp_reference(&twin, w, x)).collect();
            batch_error(w, fmt, &xs, &twin_results, m)
        });
    Ok(SimRun::new(
        name,
        cfg,
        a,
        b,
        run,
        mismatches,
        walls,
        Some((fmt, error)),
        fp32_error,
    ))
}

/// The error of a batch's results (`m` per token) against f64, over every token.
fn batch_error(
    w: &WeightMatrix,
    fmt: FpFormat,
    xs: &[Vec<u32>],
    results: &[u32],
    m: usize,
) -> FpError {
    let errors: Vec<FpError> = xs
        .iter()
        .zip(results.chunks(m))
        .map(|(x, got)| FpError::measure(w, fmt, x, got))
        .collect();
    let finite_rows: usize = errors.iter().map(|e| e.finite_rows).sum();
    FpError {
        finite_rows,
        rows: errors.iter().map(|e| e.rows).sum(),
        max_rel: errors.iter().map(|e| e.max_rel).fold(0.0, f64::max),
        mean_rel: if finite_rows == 0 {
            0.0
        } else {
            errors
                .iter()
                .map(|e| e.mean_rel * e.finite_rows as f64)
                .sum::<f64>()
                / finite_rows as f64
        },
    }
}

/// Close the waveform trace, if one was open, and say what it holds.
fn close_trace(sim: &mut lutcore_sim::Simulator, cycles: u64) {
    if let Some(t) = sim.model_mut().trace_close() {
        println!(
            "trace      {} ({}): cycles 0..{} = 2 reset + {cycles} GEMV (time 0..{}, {} units/cycle)",
            t.path.display(),
            t.format,
            t.cycles(),
            t.end_time,
            lutcore_sim::TRACE_CYCLE
        );
    }
}

/// Every check that needs no model: the shape against the limits and the config,
/// the output files against the inputs and each other.
fn check_flags(a: &SimArgs, name: &str, cfg: &ArrayConfig) -> Result<()> {
    a.shape.check_weights(limits::MAX_WEIGHTS, "sim")?;
    a.shape.check_fits(name, cfg)?;
    let (m, k) = a.shape.dims();
    let b = batch(a, cfg);
    let most = b.saturating_mul(m.max(k));
    if most > limits::MAX_BATCH_ELEMENTS {
        bail!(
            "--tokens {b} with --shape {}: {most} activations or results are over the limit of {} (2^{}) of `lutcore sim`: use fewer tokens or a smaller shape",
            a.shape,
            limits::MAX_BATCH_ELEMENTS,
            limits::MAX_BATCH_ELEMENTS.trailing_zeros()
        );
    }
    check_outputs(
        &[
            ("--json", a.json.as_deref()),
            ("--trace", a.trace.as_deref()),
        ],
        &a.config.inputs(),
    )
}

/// Roughly Gaussian activations, quantized per token with absmax as BitNet does.
fn random_activations(rng: &mut ChaCha8Rng, k: usize) -> QuantizedActivations {
    let x: Vec<f32> = (0..k)
        .map(|_| (0..4).map(|_| rng.gen_range(-1.0f32..1.0)).sum())
        .collect();
    QuantizedActivations::quantize_absmax(&x)
}

/// The Verilated model of `cfg` (the trace variant when tracing), built or taken
/// from the cache behind a spinner; prints how it was obtained.
fn build(cfg: &ArrayConfig, trace: Option<&Path>) -> Result<lutcore_sim::Simulator> {
    let spinner =
        crate::progress::spinner("building the Verilated model (cached after the first run)");
    let t = Instant::now();
    let opts = lutcore_sim::BuildOptions {
        trace: trace.map(lutcore_sim::TraceFormat::for_path),
        ..Default::default()
    };
    let sim = lutcore_sim::Simulator::with_options(cfg, &opts);
    spinner.finish_and_clear();
    let sim = sim?;
    println!(
        "model      {} in {:.1} s",
        sim.build_status(),
        t.elapsed().as_secs_f64()
    );
    Ok(sim)
}

/// The batch (`gemm` into a buffer of `len` results, one run from reset) `--repeats`
/// times (once with `--trace`, whose file holds that run): the results and the
/// outcome of the first run (every other run must equal them) and each run's wall time.
fn repeat<R: Clone + Default + PartialEq>(
    sim: &mut lutcore_sim::Simulator,
    a: &SimArgs,
    mut gemm: impl FnMut(
        &mut lutcore_sim::Simulator,
        &mut [R],
    ) -> Result<GemmRun, lutcore_sim::SimError>,
    len: usize,
) -> Result<(Vec<R>, GemmRun, Vec<Duration>)> {
    if let Some(p) = &a.trace {
        create_parent_dir(p)?;
        sim.model_mut().trace_open(p)?;
    }
    let repeats = if a.trace.is_some() {
        1
    } else {
        a.repeats as usize
    };
    let mut first = vec![R::default(); len];
    let run = gemm(sim, &mut first)?;
    close_trace(sim, run.cycles);
    let mut walls = vec![run.wall];
    let mut again = vec![R::default(); len];
    for i in 1..repeats {
        let next = gemm(sim, &mut again)?;
        if again != first || next.cycles != run.cycles {
            bail!("run {} of the same batch gave other results or another cycle count than run 1: the simulation is not deterministic", i + 1);
        }
        walls.push(next.wall);
    }
    Ok((first, run, walls))
}

impl SimRun {
    /// The outcome of `run` on a batch of `tokens`, its per-token `mismatches`.
    #[allow(clippy::too_many_arguments)]
    fn new(
        name: String,
        cfg: ArrayConfig,
        a: &SimArgs,
        tokens: usize,
        run: GemmRun,
        mismatches: Vec<Option<(usize, String, String)>>,
        walls: Vec<Duration>,
        fp: Option<(FpFormat, FpError)>,
        fp32_error: Option<FpError>,
    ) -> SimRun {
        let mismatch = mismatches
            .iter()
            .enumerate()
            .find_map(|(t, m)| m.clone().map(|(r, rtl, sw)| (t, r, rtl, sw)));
        SimRun {
            name,
            cfg,
            shape: a.shape,
            seed: a.seed,
            tokens,
            passes: run.passes,
            cycles: run.cycles,
            mismatches,
            mismatch,
            walls,
            fp,
            fp32_error,
        }
    }

    /// Multiply and add operations per cycle: 2·M·K·B / cycles.
    fn ops_per_cycle(&self) -> f64 {
        2.0 * (self.shape.m * self.shape.k * self.tokens) as f64 / self.cycles as f64
    }

    /// Simulated cycles per second of a run that took `wall`.
    fn speed(&self, wall: Duration) -> f64 {
        self.cycles as f64 / wall.as_secs_f64().max(1e-9)
    }

    /// The median wall time of the runs.
    fn median_wall(&self) -> Duration {
        crate::bench::median(self.walls.clone())
    }

    /// The human report: match, cycles, ops/cycle, simulation speed.
    fn print(&self) {
        let (m, rows) = (self.shape.m, self.cfg.rows());
        let reference = match (self.fp, self.cfg.arch()) {
            (None, _) => "software LUT reference = plain dot product",
            (Some(_), _) if self.cfg.act_fixed().is_some() => {
                "contract reference gemv_fp_exact, binary32 bits"
            }
            (Some(_), Arch::Lut) => "contract reference gemv_fp_lut, binary32 bits",
            (Some(_), _) => "contract reference gemv_fp_mac, binary32 bits",
        };
        let b = self.tokens;
        match &self.mismatch {
            None if b == 1 => println!("match      yes: all {m} results bit-exact (RTL = {reference})"),
            None => println!("match      yes: all {b} x {m} results bit-exact (RTL = {reference})"),
            Some((_, r, rtl, sw)) if b == 1 => println!("match      NO: first mismatch at row {r}: RTL {rtl} != software {sw} ({reference})"),
            Some((t, r, rtl, sw)) => println!("match      NO: first mismatch at token {t} row {r}: RTL {rtl} != software {sw} ({reference})"),
        }
        if b > 1 {
            for (t, mismatch) in self.mismatches.iter().enumerate() {
                match mismatch {
                    None => println!("token {t:<4} bit-exact ({m} results)"),
                    Some((r, rtl, sw)) => println!(
                        "token {t:<4} NO: first mismatch at row {r}: RTL {rtl} != software {sw}"
                    ),
                }
            }
        }
        if let Some((fmt, e)) = self.fp.as_ref().filter(|(_, e)| e.finite_rows == 0) {
            println!(
                "fp error   {fmt}: none of the {} rows has a finite result (edge values: Inf and NaN)",
                e.rows
            );
        } else if let Some((fmt, e)) = &self.fp {
            println!(
                "fp error   {fmt}: max {:.2e}, mean {:.2e} of |y - exact| / sum|w*x| over {} of {} rows with finite results",
                e.max_rel, e.mean_rel, e.finite_rows, e.rows
            );
            if let Some(f) = &self.fp32_error {
                println!(
                    "fp error   {fmt} with fp32 accumulation on the same inputs (its contract reference): max {:.2e}, mean {:.2e} over {} rows",
                    f.max_rel, f.mean_rel, f.finite_rows
                );
            }
        }
        let tokens = self.cfg.tokens();
        if self.tokens == 1 && tokens == 1 {
            println!(
                "cycles     {} ({} row tiles of {rows} rows)",
                self.cycles,
                m.div_ceil(rows)
            );
        } else {
            println!(
                "cycles     {} ({} passes: {} row tiles of {rows} rows x {} group(s) of up to {tokens} token(s))",
                self.cycles,
                self.passes,
                m.div_ceil(rows),
                self.tokens.div_ceil(tokens)
            );
        }
        println!(
            "ops/cycle  {:.1} (2·M·K{} / cycles; peak {:.1})",
            self.ops_per_cycle(),
            if self.tokens == 1 { "" } else { "·tokens" },
            2.0 * self.cfg.macs_per_cycle()
        );
        let wall = self.median_wall();
        let mhz = |wall: Duration| self.speed(wall) / 1e6;
        if self.walls.len() == 1 {
            println!(
                "sim speed  {:.2} M cycles/s ({:.1} ms wall)",
                mhz(wall),
                wall.as_secs_f64() * 1e3
            );
        } else {
            let fastest = self.walls.iter().min().copied().unwrap_or(wall);
            let slowest = self.walls.iter().max().copied().unwrap_or(wall);
            println!(
                "sim speed  {:.2} M cycles/s (median of {} runs, {:.1} ms each; range {:.2}-{:.2}; all runs gave the same results)",
                mhz(wall),
                self.walls.len(),
                wall.as_secs_f64() * 1e3,
                mhz(slowest),
                mhz(fastest)
            );
        }
    }

    /// The report as JSON (`--json`).
    fn json(&self) -> serde_json::Value {
        let wall = self.median_wall();
        let speeds: Vec<f64> = self.walls.iter().map(|&w| self.speed(w)).collect();
        let mut json = serde_json::json!({
            "config_name": self.name,
            "config": self.cfg,
            "shape": [self.shape.m, self.shape.k],
            "seed": self.seed,
            "match": self.mismatch.is_none(),
            "first_mismatch_row": self.mismatch.as_ref().map(|(_, r, _, _)| r),
            "first_mismatch_token": self.mismatch.as_ref().map(|(t, _, _, _)| t),
            "tokens": self.tokens,
            "tokens_per_pass": self.cfg.tokens(),
            "passes": self.passes,
            "token_match": self.mismatches.iter().map(Option::is_none).collect::<Vec<_>>(),
            "activations": self.cfg.act_type().to_string(),
            "fp_error": self.fp.map(|(_, e)| serde_json::json!({
                "max_rel": e.max_rel,
                "mean_rel": e.mean_rel,
                "finite_rows": e.finite_rows,
                "rows": e.rows,
            })),
            "cycles": self.cycles,
            "ops_per_cycle": self.ops_per_cycle(),
            "sim_cycles_per_second": self.speed(wall),
            "sim_cycles_per_second_runs": speeds,
            "sim_wall_seconds": wall.as_secs_f64(),
        });
        // Exact accumulation only: the binary32 accumulation's error on the same inputs.
        if let (Some(e), Some(obj)) = (self.fp32_error, json.as_object_mut()) {
            obj.insert(
                "fp32_accumulation_error".into(),
                serde_json::json!({
                    "max_rel": e.max_rel,
                    "mean_rel": e.mean_rel,
                    "finite_rows": e.finite_rows,
                    "rows": e.rows,
                }),
            );
        }
        json
    }
}
