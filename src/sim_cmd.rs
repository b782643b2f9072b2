//! `lutcore sim`: one random GEMV through the Verilated array
//! ([`lutcore_sim::Simulator`]), compared with the software LUT reference and a
//! plain dot product (integer activations), or with the contract's
//! floating-point reference bits and, for its error, an exact f64 dot product
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
use lutcore_sim::GemvRun;
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
    /// Clock cycles of one GEMV (the same in every run).
    cycles: u64,
    /// The first row where the RTL differs from the reference: (row, RTL, reference), printed.
    mismatch: Option<(usize, String, String)>,
    /// Wall time of each run.
    walls: Vec<Duration>,
    /// Floating-point activations: the format and the results' error against f64.
    fp: Option<(FpFormat, FpError)>,
    /// Exact accumulation: the error the binary32 accumulation of the same
    /// datapath has on the same inputs (its contract reference).
    fp32_error: Option<FpError>,
}

/// Check the flags, build the model, run the GEMV `--repeats` times and compare the
/// results with the references; prints progress (config, shape, model, trace) as it goes.
fn run(a: &SimArgs) -> Result<SimRun> {
    let (name, cfg) = a.config.load()?;
    check_flags(a, &name, &cfg)?;
    let (m, k) = a.shape.dims();
    let mut rng = ChaCha8Rng::seed_from_u64(a.seed);
    let w = crate::bench::random_weights(&mut rng, cfg.weights(), m, k)?;
    let c = match cfg.act_float() {
        Some(fmt) => run_fp(a, &name, &cfg, fmt, &mut rng, &w)?,
        None => run_int(a, &name, &cfg, &mut rng, &w)?,
    };
    Ok(SimRun {
        name,
        cfg,
        shape: a.shape,
        seed: a.seed,
        cycles: c.cycles,
        mismatch: c.mismatch,
        walls: c.walls,
        fp: c.fp,
        fp32_error: c.fp32_error,
    })
}

/// What [`run_int`] and [`run_fp`] measure: [`SimRun`]'s fields past the flags.
struct Compared {
    cycles: u64,
    mismatch: Option<(usize, String, String)>,
    walls: Vec<Duration>,
    fp: Option<(FpFormat, FpError)>,
    fp32_error: Option<FpError>,
}

/// [`run`] for an array with int8 activations: absmax-quantized random
/// activations, compared with the software LUT reference, itself checked
/// against the plain dot product.
fn run_int(
    a: &SimArgs,
    name: &str,
    cfg: &ArrayConfig,
    rng: &mut ChaCha8Rng,
    w: &WeightMatrix,
) -> Result<Compared> {
    if a.extremes {
        bail!("--extremes mixes edge values into floating-point activations, and config {name} has {} activations: drop --extremes or use a config with \"activations\": \"fp16\" (or bf16, fp8-e4m3, fp8-e5m2)", cfg.act_type());
    }
    let (m, k) = a.shape.dims();
    let x = random_activations(rng, k);
    println!("config     {name}: {cfg}");
    println!(
        "shape      {m} x {k}, {} weights, int8 activations (seed {})",
        cfg.weights(),
        a.seed
    );
    let (results, cycles, walls) = simulate(a, cfg, |sim| sim.gemv(w, &x.values))?;
    let golden = gemv_lut(&BitPlanes::new(w, cfg.g()), cfg.weights(), &x.values);
    if golden != gemv_plain(w, &x.values) {
        bail!("software LUT reference disagrees with the plain dot product: this is a bug in lutcore_sw");
    }
    let mismatch = results
        .iter()
        .zip(&golden)
        .position(|(r, g)| i64::from(*r) != *g)
        .map(|r| (r, results[r].to_string(), golden[r].to_string()));
    Ok(Compared {
        cycles,
        mismatch,
        walls,
        fp: None,
        fp32_error: None,
    })
}

/// [`run`] for an array with floating-point activations: random codes of `fmt`
/// with its edge values ([`random_fp_activations`]), compared bit for bit with
/// the contract's reference for the config's datapath ([`fp_reference`]), and
/// the error of both against the exact dot product.
fn run_fp(
    a: &SimArgs,
    name: &str,
    cfg: &ArrayConfig,
    fmt: FpFormat,
    rng: &mut ChaCha8Rng,
    w: &WeightMatrix,
) -> Result<Compared> {
    let (m, k) = a.shape.dims();
    let edges = if a.extremes {
        Edges::All
    } else {
        Edges::Finite
    };
    let x = random_fp_activations(rng, fmt, k, edges);
    println!("config     {name}: {cfg}");
    println!(
        "shape      {m} x {k}, {} weights, {fmt} activations with {} (seed {})",
        cfg.weights(),
        match edges {
            Edges::All => "every edge value: ±0, subnormals, largest finite, infinities, NaN",
            Edges::Finite => "edge values ±0, subnormals, smallest normal, ±1 (--extremes: all)",
        },
        a.seed
    );
    let (results, cycles, walls) = simulate(a, cfg, |sim| sim.gemv_fp(w, &x))?;
    let golden = fp_reference(cfg, w, &x);
    let show = |b: u32| format!("{b:#010x} ({:e})", f32::from_bits(b));
    let mismatch = results
        .iter()
        .zip(&golden)
        .position(|(r, g)| r != g)
        .map(|r| (r, show(results[r]), show(golden[r])));
    let error = FpError::measure(w, fmt, &x, &results);
    let fp32_error = cfg
        .act_fixed()
        .and_then(|_| {
            cfg.raw()
                .clone()
                .with_accumulate(lutcore_contract::Accumulate::Fp32)
                .validate()
                .ok()
        })
        .map(|twin| FpError::measure(w, fmt, &x, &fp_reference(&twin, w, &x)));
    Ok(Compared {
        cycles,
        mismatch,
        walls,
        fp: Some((fmt, error)),
        fp32_error,
    })
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

/// Build the model of `cfg` (opening `--trace`), run the GEMV (`gemv`, one run from
/// reset) `--repeats` times (once when tracing) and close the trace: the results and
/// cycles of the first run (every other run must equal them) and each run's wall time.
fn simulate<R: PartialEq>(
    a: &SimArgs,
    cfg: &ArrayConfig,
    mut gemv: impl FnMut(&mut lutcore_sim::Simulator) -> Result<GemvRun<R>, lutcore_sim::SimError>,
) -> Result<(Vec<R>, u64, Vec<Duration>)> {
    let mut sim = build(cfg, a.trace.as_deref())?;
    if let Some(p) = &a.trace {
        create_parent_dir(p)?;
        sim.model_mut().trace_open(p)?;
    }
    let repeats = if a.trace.is_some() {
        1
    } else {
        a.repeats as usize
    };
    let first = gemv(&mut sim)?;
    let mut walls = vec![first.wall];
    for i in 1..repeats {
        let again = gemv(&mut sim)?;
        if again.results != first.results || again.cycles != first.cycles {
            bail!("run {} of the same GEMV gave other results or another cycle count than run 1: the simulation is not deterministic", i + 1);
        }
        walls.push(again.wall);
    }
    close_trace(&mut sim, first.cycles);
    Ok((first.results, first.cycles, walls))
}

impl SimRun {
    /// Multiply and add operations per cycle: 2·M·K / cycles.
    fn ops_per_cycle(&self) -> f64 {
        2.0 * (self.shape.m * self.shape.k) as f64 / self.cycles as f64
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
        match &self.mismatch {
            None => println!("match      yes: all {m} results bit-exact (RTL = {reference})"),
            Some((r, rtl, sw)) => println!("match      NO: first mismatch at row {r}: RTL {rtl} != software {sw} ({reference})"),
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
        println!(
            "cycles     {} ({} row tiles of {rows} rows)",
            self.cycles,
            m.div_ceil(rows)
        );
        println!(
            "ops/cycle  {:.1} (2·M·K / cycles; peak {:.1})",
            self.ops_per_cycle(),
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
            "first_mismatch_row": self.mismatch.as_ref().map(|(r, _, _)| r),
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
