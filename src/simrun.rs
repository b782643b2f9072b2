//! `lutcore sim-model`: a BitNet forward pass with every BitLinear matmul on
//! the Verilated array (`lutcore_sim::RtlBackend`), each matmul checked bit
//! for bit against the CPU backend, with per-matmul cycle accounting, the
//! same run on the baseline arrays (by default the config's MAC and add/sub twins), and
//! modeled board throughput at a clock and a weight bandwidth. With
//! `--trace F.fst` the main array is the trace build and one chosen matmul
//! (`--trace-matmul N` or `--trace-name NAME`; default the first) is dumped
//! to F (FST, or VCD for a `.vcd` name).
//!
//! On an array with floating-point activations (e.g. `"activations": "fp16"`)
//! the model runs with FP BitLinear inputs ([`Numerics::Fp`]: each value rounded
//! to the format, binary32 matmuls in the array's summation order), checked
//! against the CPU reference backend (`ref`, the contract's FP functions), and
//! the report adds how far those logits are from the int8 path's on the CPU
//! (docs/decisions.md §19).
//!
//! This module owns the command's arguments, the run ([`run`]: model synthesis,
//! the token schedule, the comparisons, returning a [`ModelRun`]) and its report
//! ([`ModelRun::print`], and [`ModelRun::json`] for `--json`); the simulation and
//! the accounting live in `lutcore_sim::rtl_backend`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use lutcore_contract::config::{Arch, ArrayConfig, RawArrayConfig};
use lutcore_sim::{
    CostModel, MatmulRecord, RtlBackend, RtlOptions, TraceRequest, TraceSelect, TRACE_CYCLE,
};
use lutcore_sw::backend::{Backend, FpMatmul, LutBackend, RefBackend};
use lutcore_sw::model::sample::argmax;
use lutcore_sw::model::synth::{write_model, SynthShape};
use lutcore_sw::model::{Model, Numerics, Session};

use crate::args::CpuBackend;
use crate::args::{load_config, ConfigArgs, ConfigSource};
use crate::output::check_outputs;

/// Arguments of `lutcore sim-model`.
#[derive(Args, Debug, Clone)]
pub struct SimModelArgs {
    /// The main array: --preset NAME (default `default`) or --config FILE.
    #[command(flatten)]
    pub array: ConfigArgs,
    /// BitNet GGUF model. Default: a small synthetic BitNet-shaped model
    /// (hidden 256, FFN 768, 2 layers, 4 heads, vocabulary 512, TQ2_0)
    /// written to a temporary directory.
    #[arg(short = 'm', long = "model", value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// Prompt length in tokens (fixed token ids; no tokenizer needed). --prompt plus
    /// --decode at most 4096.
    #[arg(long, default_value_t = 8)]
    pub prompt: usize,
    /// Tokens decoded greedily after the prompt, one forward pass each.
    #[arg(long, default_value_t = 3)]
    pub decode: usize,
    /// Modeled array clock in MHz.
    #[arg(long, default_value_t = 100.0)]
    pub clock_mhz: f64,
    /// Modeled weight bandwidth in GB/s (10^9 bytes/s).
    #[arg(long, default_value_t = 1.0)]
    pub bandwidth_gbs: f64,
    /// CPU backend every matmul is checked against: `lut` or `ref`. Arrays
    /// with floating-point activations are always checked against `ref` (the
    /// LUT kernels run int8 activations only).
    #[arg(long, value_enum, default_value_t = CpuBackend::Lut)]
    pub check: CpuBackend,
    /// Baseline array preset; repeat for several. Default: the config with
    /// each other datapath that takes its weights (for `default`: its MAC and
    /// add/sub twins, as `mac-default` and `addsub-default`).
    #[arg(long, value_name = "PRESET", conflicts_with = "no_compare")]
    pub baseline_preset: Vec<String>,
    /// Baseline array config file; repeat for several.
    #[arg(long, value_name = "FILE", conflicts_with = "no_compare")]
    pub baseline_config: Vec<PathBuf>,
    /// Do not run any baseline array.
    #[arg(long)]
    pub no_compare: bool,
    /// Benchmark one decoder layer of a named model shape (`700m`, `3b`,
    /// `2b4t`, `tiny`): one token through a single synthetic layer; prints
    /// the layer's wall time and the simulator's cycles per second.
    #[arg(long, value_name = "SHAPE", conflicts_with = "model")]
    pub bench_layer: Option<String>,
    /// Seed of the synthetic model.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print one row per matmul call (default: only when there are at most 200).
    #[arg(long)]
    pub full_table: bool,
    /// Test hook: corrupt one bit of the result of matmul number N (from 0)
    /// on the main array, to show that the check catches it.
    #[arg(long, value_name = "N", hide = true)]
    pub inject_fault: Option<usize>,
    /// Dump the waves of one matmul on the main array to FILE: FST, or VCD
    /// if FILE ends in `.vcd`. Builds (and caches) the trace variant of the
    /// array; the matmul is `--trace-matmul` or `--trace-name`, default the first.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// The matmul call to trace, counting from 0 in run order (see the table).
    #[arg(
        long,
        value_name = "N",
        requires = "trace",
        conflicts_with = "trace_name"
    )]
    pub trace_matmul: Option<usize>,
    /// Trace the first call on this matrix, e.g. `blk.0.attn_q`.
    #[arg(long, value_name = "NAME", requires = "trace")]
    pub trace_name: Option<String>,
    /// Also write the summary as JSON to FILE: per array its matmuls, mismatches, cycles,
    /// utilization and modeled tokens/s; the logits check (not an input file; written
    /// whole or not at all).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

/// What a run found, for the exit status and tests.
#[derive(Debug, Clone, PartialEq)]
pub struct SimModelReport {
    /// Matmuls run on the main array.
    pub matmuls: usize,
    /// Of those, how many differed from the CPU backend.
    pub mismatches: usize,
    /// Matmuls and mismatches on the baseline arrays, summed (0, 0 without any).
    pub baseline: (usize, usize),
    /// Whether every logits row equalled the CPU backend's, bit for bit, with every
    /// value finite (NaN or infinite logits are never identical).
    pub logits_identical: bool,
    /// Total cycles on the main array.
    pub cycles: u64,
    /// The traced matmul (with `--trace`).
    pub trace: Option<lutcore_sim::TraceRecord>,
}

impl SimModelReport {
    /// Whether the run passed: every matmul bit-exact and identical logits.
    pub fn passed(&self) -> bool {
        self.mismatches == 0 && self.baseline.1 == 0 && self.logits_identical
    }
}

/// Run `lutcore sim-model`: exit status 1 on any mismatch.
pub fn cmd_sim_model(a: &SimModelArgs) -> Result<ExitCode> {
    let report = run_and_report(a)?;
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// [`run`], then the report: printed, and written to `--json` if given.
fn run_and_report(a: &SimModelArgs) -> Result<SimModelReport> {
    let run = run(a)?;
    run.print(a);
    if let Some(path) = &a.json {
        crate::output::write_json(path, &run.json())?;
    }
    Ok(run.report())
}

/// The same config with each other datapath that accepts its weights
/// (add/sub takes only ternary weights).
fn twins(cfg: &ArrayConfig, name: &str) -> Vec<(String, ArrayConfig)> {
    Arch::ALL
        .into_iter()
        .filter(|&a| a != cfg.arch())
        .filter_map(|arch| {
            RawArrayConfig {
                arch,
                ..cfg.raw().clone()
            }
            .validate()
            .ok()
        })
        .map(|t| (format!("{} twin of {name}", t.arch()), t))
        .collect()
}

/// The baseline arrays of a run: those named on the command line, else the twins.
fn baselines(
    a: &SimModelArgs,
    cfg: &ArrayConfig,
    name: &str,
) -> Result<Vec<(String, ArrayConfig)>> {
    if a.no_compare {
        return Ok(vec![]);
    }
    let presets = a.baseline_preset.iter().map(|p| ConfigSource::Preset(p));
    let files = a.baseline_config.iter().map(|f| ConfigSource::File(f));
    let v = presets
        .chain(files)
        .map(load_config)
        .collect::<Result<Vec<_>>>()?;
    Ok(if v.is_empty() { twins(cfg, name) } else { v })
}

/// The default built-in model: BitNet-shaped, small enough to simulate in seconds.
fn builtin_shape() -> SynthShape {
    SynthShape {
        name: "sim-model".into(),
        vocab: 512,
        ..SynthShape::tiny()
    }
}

/// One decoder layer of a named shape, with a small vocabulary.
fn bench_shape(name: &str) -> Result<SynthShape> {
    let mut s = crate::model_cmd::synth_shape("--bench-layer", name)?;
    s.name = format!("{name}-layer");
    s.layers = 1;
    s.vocab = 256;
    Ok(s)
}

/// The forward-pass numerics for an array of `cfg`: its FP matmul for
/// floating-point activations, else BitNet's int8 activations.
fn numerics_of(cfg: &ArrayConfig) -> Numerics {
    FpMatmul::of_config(cfg).map_or(Numerics::BitNet, Numerics::Fp)
}

/// The CPU backend the matmuls of an array of `cfg` are checked against:
/// `--check`, or `ref` for floating-point activations.
fn check_name(cfg: &ArrayConfig, check: CpuBackend) -> CpuBackend {
    if cfg.act_float().is_some() {
        CpuBackend::Ref
    } else {
        check
    }
}

fn build(
    cfg: &ArrayConfig,
    label: &str,
    check: CpuBackend,
    trace: Option<TraceRequest>,
) -> Result<RtlBackend> {
    let check = check_name(cfg, check);
    let traced = if trace.is_some() { " with tracing" } else { "" };
    let sp = crate::progress::spinner(&format!(
        "building the Verilated {label} array{traced} (cached after the first run)"
    ));
    let t = Instant::now();
    let opts = RtlOptions {
        check: Some(check.build(1)),
        fail_on_mismatch: false,
    };
    let b = match trace {
        Some(tr) => RtlBackend::with_trace(cfg, opts, tr),
        None => RtlBackend::new(cfg, opts),
    };
    sp.finish_and_clear();
    let b = b.with_context(|| format!("building the {label} array {cfg}"))?;
    println!(
        "{label:<10} {} in {:.1} s ({})",
        b.library().status(),
        t.elapsed().as_secs_f64(),
        b.library().dir().display()
    );
    Ok(b)
}

fn load(path: &Path, backend: &dyn Backend, what: &str) -> Result<(Model, Duration)> {
    let bar = crate::progress::bar(0, &format!("packing weights for {what}"));
    let t = Instant::now();
    let m = Model::load(path, backend, |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    });
    bar.finish_and_clear();
    Ok((
        m.with_context(|| format!("loading {} on {what}", path.display()))?,
        t.elapsed(),
    ))
}

/// The token steps of a run and every step's last-position logits.
struct Generated {
    steps: Vec<Vec<u32>>,
    logits: Vec<Vec<f32>>,
    wall: Duration,
}

/// The prompt, then one decoded token per step (greedy on the main array's logits).
fn generate(model: &Model, numerics: Numerics, prompt: &[u32], decode: usize) -> Result<Generated> {
    let t = Instant::now();
    let mut s = Session::new(model, 1);
    s.numerics = numerics;
    let mut steps = vec![prompt.to_vec()];
    let mut logits = vec![s.forward(prompt, false)?.pop().context("no logits")?];
    for _ in 0..decode {
        let tok = argmax(logits.last().context("no logits")?);
        steps.push(vec![tok]);
        logits.push(s.forward(&[tok], false)?.pop().context("no logits")?);
    }
    Ok(Generated {
        steps,
        logits,
        wall: t.elapsed(),
    })
}

/// The last-position logits of each step, on `model`.
fn replay(model: &Model, numerics: Numerics, steps: &[Vec<u32>]) -> Result<Vec<Vec<f32>>> {
    let mut s = Session::new(model, 1);
    s.numerics = numerics;
    steps
        .iter()
        .map(|t| s.forward(t, false)?.pop().context("no logits"))
        .collect()
}

/// How two runs' logits compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogitsCheck {
    /// Same shape, every value finite and equal bit for bit.
    Identical,
    /// Some value is NaN or infinite (in either run): never a pass, equal or not.
    NotFinite {
        /// How many values of either run are not finite.
        count: usize,
    },
    /// Finite, but some value or the shape differs.
    Differ,
}

/// Compare logits bit for bit, and require every value to be finite.
fn compare_logits(a: &[Vec<f32>], b: &[Vec<f32>]) -> LogitsCheck {
    let count = a
        .iter()
        .chain(b)
        .flatten()
        .filter(|v| !v.is_finite())
        .count();
    if count > 0 {
        return LogitsCheck::NotFinite { count };
    }
    let same = a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits())
        });
    if same {
        LogitsCheck::Identical
    } else {
        LogitsCheck::Differ
    }
}

/// Totals over a set of records.
#[derive(Default, Clone, Copy)]
struct Totals {
    calls: usize,
    cycles: u64,
    macs: u64,
    bytes: u64,
    wall: Duration,
    modeled: f64,
    compute: f64,
    weights: f64,
    mismatches: usize,
}

fn totals<'a>(recs: impl IntoIterator<Item = &'a MatmulRecord>, cost: &CostModel) -> Totals {
    let mut t = Totals::default();
    for r in recs {
        t.calls += 1;
        t.cycles += r.cycles;
        t.macs += r.macs;
        t.bytes += r.weight_bytes;
        t.wall += r.wall;
        t.modeled += r.modeled_seconds(cost);
        t.compute += cost.compute_seconds(r.cycles);
        t.weights += cost.weight_seconds(r.weight_bytes);
        t.mismatches += usize::from(r.check.is_mismatch());
    }
    t
}

/// BitLinear matmuls of one decoder layer per forward pass: attention q, k, v,
/// output; FFN gate, up, down.
const MATMULS_PER_LAYER: usize = 7;

/// The checked flags of a run: the arrays, the cost model and the token counts.
struct Setup {
    /// The main array's name (preset or file) and config.
    name: String,
    cfg: ArrayConfig,
    /// The baseline arrays, by name.
    baselines: Vec<(String, ArrayConfig)>,
    cost: CostModel,
    prompt_len: usize,
    decode: usize,
}

impl Setup {
    /// Load the configs and check every flag that needs no model or build.
    fn check(a: &SimModelArgs) -> Result<Setup> {
        let positive = |v: f64| v.is_finite() && v > 0.0;
        if !positive(a.clock_mhz) || !positive(a.bandwidth_gbs) {
            bail!("--clock-mhz and --bandwidth-gbs must be positive");
        }
        let cost = CostModel {
            clock_hz: a.clock_mhz * 1e6,
            weight_bytes_per_s: a.bandwidth_gbs * 1e9,
        };
        let (name, cfg) = a.array.load()?;
        let baselines = baselines(a, &cfg, &name)?;
        let (prompt_len, decode) = if a.bench_layer.is_some() {
            (1, 0)
        } else {
            (a.prompt, a.decode)
        };
        if prompt_len == 0 {
            bail!("--prompt 0: need at least one prompt token");
        }
        let max_tokens = crate::limits::MAX_SIM_MODEL_TOKENS;
        if prompt_len.saturating_add(decode) > max_tokens {
            bail!("--prompt {prompt_len} plus --decode {decode} is over the limit of {max_tokens} tokens");
        }
        let mut inputs = a.array.inputs();
        inputs.extend(
            a.baseline_config
                .iter()
                .map(|c| ("--baseline-config", c.as_path())),
        );
        inputs.extend(a.model.iter().map(|m| ("--model", m.as_path())));
        check_outputs(
            &[
                ("--trace", a.trace.as_deref()),
                ("--json", a.json.as_deref()),
            ],
            &inputs,
        )?;
        Ok(Setup {
            name,
            cfg,
            baselines,
            cost,
            prompt_len,
            decode,
        })
    }
}

/// The model file of a run: `--model`, or a synthetic model written to a temporary
/// folder (returned too: the file lives as long as it does).
fn model_file(a: &SimModelArgs) -> Result<(PathBuf, Option<tempfile::TempDir>)> {
    if let Some(p) = &a.model {
        println!("model      {}", p.display());
        return Ok((p.clone(), None));
    }
    let shape = match &a.bench_layer {
        Some(s) => bench_shape(s)?,
        None => builtin_shape(),
    };
    let tmp = tempfile::Builder::new()
        .prefix("lutcore-sim-model-")
        .tempdir()
        .context("creating a temporary directory")?;
    let p = tmp.path().join(format!("{}.gguf", shape.name));
    let sp = crate::progress::spinner(&format!("synthesizing {}", shape.name));
    let r = write_model(&shape, None, a.seed, &p, |_, _| {});
    sp.finish_and_clear();
    r.with_context(|| format!("writing {}", p.display()))?;
    println!(
        "model      synthetic {}: hidden {}, ffn {}, {} layer(s), {} heads, vocab {}, {} (seed {})",
        shape.name,
        shape.hidden,
        shape.ffn,
        shape.layers,
        shape.heads,
        shape.vocab,
        shape.ternary.name(),
        a.seed
    );
    Ok((p, Some(tmp)))
}

/// The `--trace` request: the file and the matmul to dump.
fn trace_request(a: &SimModelArgs) -> Option<TraceRequest> {
    a.trace.as_ref().map(|path| TraceRequest {
        path: path.clone(),
        select: match (&a.trace_name, a.trace_matmul) {
            (Some(n), _) => TraceSelect::Name(n.clone()),
            (None, n) => TraceSelect::Call(n.unwrap_or(0)),
        },
    })
}

/// Install a progress bar of `total` matmuls on `backend` while `f` runs.
fn with_progress<T>(backend: &RtlBackend, total: usize, label: &str, f: impl FnOnce() -> T) -> T {
    let bar = crate::progress::bar(total, label);
    let b2 = bar.clone();
    let label = label.to_string();
    backend.set_observer(Box::new(move |r| {
        b2.inc(1);
        b2.set_message(format!("{label}: {}", r.name));
    }));
    let out = f();
    bar.finish_and_clear();
    out
}

/// One baseline array's part of a run.
struct BaselineRun {
    name: String,
    cfg: ArrayConfig,
    /// Its matmuls, call for call the main array's.
    records: Vec<MatmulRecord>,
    /// Its logits against the main array's.
    logits: LogitsCheck,
}

/// What a `sim-model` run measured; [`ModelRun::print`] and [`ModelRun::json`] report it.
struct ModelRun {
    setup: Setup,
    /// Decoder layers of the model: [`MATMULS_PER_LAYER`] matmuls each per forward pass.
    layers: usize,
    /// Forward passes: the prompt's, then one per decoded token.
    passes: usize,
    /// The main array's matmuls, in call order.
    records: Vec<MatmulRecord>,
    baselines: Vec<BaselineRun>,
    /// Wall time of the forward passes on the main array (RTL and CPU check) and of
    /// packing its weights.
    forward_wall: Duration,
    load_wall: Duration,
    /// The main array's logits against the CPU backend's.
    logits: LogitsCheck,
    /// That CPU backend (`lut`, or `ref` for FP activations).
    cpu_name: &'static str,
    /// FP activations: the logits against the int8 path's.
    vs_int8: Option<LogitsDiff>,
    /// The traced matmul (with `--trace`).
    trace: Option<lutcore_sim::TraceRecord>,
}

/// Check the flags, build the arrays, run the prompt and the greedy decode on the
/// main array, replay the same token steps on each baseline and on the CPU, and
/// compare the logits; prints progress (arrays, model, builds) as it goes.
fn run(a: &SimModelArgs) -> Result<ModelRun> {
    let setup = Setup::check(a)?;
    println!("array      {}: {}", setup.name, setup.cfg);
    for (bn, bc) in &setup.baselines {
        println!("baseline   {bn}: {bc}");
    }
    let (path, _tmp) = model_file(a)?;
    if let Some(p) = &a.trace {
        crate::output::create_parent_dir(p).context("--trace")?;
    }
    let main = build(&setup.cfg, "main", a.check, trace_request(a))?;
    if let Some(n) = a.inject_fault {
        main.inject_fault(n);
        println!("fault      injecting a one-bit error into matmul #{n} (test hook)");
    }
    let bases = setup
        .baselines
        .iter()
        .map(|(_, bc)| build(bc, &format!("{} base", bc.arch()), a.check, None))
        .collect::<Result<Vec<_>>>()?;

    let (on_main, load_wall) = load(&path, &main, "the main array")?;
    let layers = on_main.config.layers;
    let vocab = on_main.config.vocab;
    let prompt: Vec<u32> = (0..setup.prompt_len)
        .map(|i| ((1 + 37 * i) % vocab) as u32)
        .collect();
    println!(
        "run        {} prompt token(s) + {} decoded; {} BitLinear matmuls per forward pass ({layers} layers x {MATMULS_PER_LAYER}); check against CPU `{}`",
        prompt.len(),
        setup.decode,
        layers * MATMULS_PER_LAYER,
        check_name(&setup.cfg, a.check)
    );
    let numerics = numerics_of(&setup.cfg);
    if let Numerics::Fp(fp) = numerics {
        println!(
            "numerics   BitLinear inputs rounded to {} (nearest-even), binary32 matmuls: {fp}",
            fp.fmt
        );
    }
    let per_run = layers * MATMULS_PER_LAYER * (1 + setup.decode);
    let Generated {
        steps,
        logits,
        wall: forward_wall,
    } = with_progress(&main, per_run, "main array", || {
        generate(&on_main, numerics, &prompt, setup.decode)
    })?;
    drop(on_main);

    let mut baselines = Vec::new();
    for (b, (name, cfg)) in bases.iter().zip(&setup.baselines) {
        let (on_base, _) = load(&path, b, &format!("baseline {name}"))?;
        let replayed = with_progress(b, per_run, &format!("baseline {name}"), || {
            replay(&on_base, numerics_of(cfg), &steps)
        })?;
        baselines.push(BaselineRun {
            name: name.clone(),
            cfg: cfg.clone(),
            records: b.records(),
            logits: compare_logits(&replayed, &logits),
        });
    }
    let lut_cpu = LutBackend { threads: 1 };
    let (cpu_backend, cpu_name): (&dyn Backend, &str) = match numerics {
        Numerics::Fp(_) => (&RefBackend, "ref"),
        _ => (&lut_cpu, "lut"),
    };
    let (on_cpu, _) = load(&path, cpu_backend, "the CPU")?;
    let cpu_logits = replay(&on_cpu, numerics, &steps)?;
    drop(on_cpu);
    let vs_int8 = match numerics {
        Numerics::Fp(fp) => {
            let (on_int8, _) = load(&path, &lut_cpu, "the CPU (int8 activations)")?;
            let int8 = replay(&on_int8, Numerics::BitNet, &steps)?;
            Some(LogitsDiff::new(fp, &logits, &int8))
        }
        _ => None,
    };

    let records = main.records();
    let trace = main.trace_record();
    if let (Some(path), None) = (&a.trace, &trace) {
        let which = match (&a.trace_name, a.trace_matmul) {
            (Some(n), _) => format!(
                "--trace-name {n}: no matmul of that name ran (names: {})",
                names(&records)
            ),
            (None, n) => format!(
                "--trace-matmul {}: the run had {} matmuls (0..{})",
                n.unwrap_or(0),
                records.len(),
                records.len()
            ),
        };
        bail!("nothing traced to {}: {which}", path.display());
    }
    Ok(ModelRun {
        setup,
        layers,
        passes: steps.len(),
        records,
        baselines,
        forward_wall,
        load_wall,
        logits: compare_logits(&logits, &cpu_logits),
        cpu_name,
        vs_int8,
        trace,
    })
}

/// How the FP-activation logits of a run differ from the int8 path's (the same
/// token steps on the CPU with BitNet's absmax int8 activations).
#[derive(Clone, Copy, Debug)]
struct LogitsDiff {
    fp: FpMatmul,
    /// Largest |FP − int8| over every logit of every step.
    max_abs: f64,
    /// Largest |int8 logit|, the scale `max_abs` compares with.
    max_int8: f64,
    /// Steps whose argmax token is the same on both paths, and steps.
    argmax_agree: usize,
    steps: usize,
}

impl LogitsDiff {
    fn new(fp: FpMatmul, fp_logits: &[Vec<f32>], int8: &[Vec<f32>]) -> LogitsDiff {
        let mut d = LogitsDiff {
            fp,
            max_abs: 0.0,
            max_int8: 0.0,
            argmax_agree: 0,
            steps: fp_logits.len().min(int8.len()),
        };
        for (a, b) in fp_logits.iter().zip(int8) {
            for (&x, &y) in a.iter().zip(b) {
                d.max_abs = d.max_abs.max((f64::from(x) - f64::from(y)).abs());
                d.max_int8 = d.max_int8.max(f64::from(y).abs());
            }
            d.argmax_agree += usize::from(argmax(a) == argmax(b));
        }
        d
    }
}

/// Simulated cycles per second of `t`.
fn sim_speed(t: &Totals) -> f64 {
    t.cycles as f64 / t.wall.as_secs_f64().max(1e-9)
}

/// `n / seconds` as text, `-` when there is nothing to divide.
fn per_second(n: usize, seconds: f64) -> String {
    if n > 0 {
        format!("{:.1}", n as f64 / seconds)
    } else {
        "-".into()
    }
}

impl ModelRun {
    /// Matmul calls of the prompt's forward pass.
    fn prompt_calls(&self) -> usize {
        self.layers * MATMULS_PER_LAYER
    }

    /// Totals of `recs`: all, the prompt's pass, the decode passes.
    fn totals(&self, recs: &[MatmulRecord]) -> (Totals, Totals, Totals) {
        let (p, d) = recs.split_at(self.prompt_calls().min(recs.len()));
        let cost = &self.setup.cost;
        (totals(recs, cost), totals(p, cost), totals(d, cost))
    }

    /// What the exit status and the tests see.
    fn report(&self) -> SimModelReport {
        let (all, _, _) = self.totals(&self.records);
        let baseline = self
            .baselines
            .iter()
            .map(|b| totals(&b.records, &self.setup.cost))
            .fold((0, 0), |(c, m), t| (c + t.calls, m + t.mismatches));
        SimModelReport {
            matmuls: all.calls,
            mismatches: all.mismatches,
            baseline,
            logits_identical: self.logits == LogitsCheck::Identical,
            cycles: all.cycles,
            trace: self.trace.clone(),
        }
    }

    /// The human report: the baselines' logits, the per-matmul table, the summary.
    fn print(&self, a: &SimModelArgs) {
        for b in &self.baselines {
            match b.logits {
                LogitsCheck::Identical => {}
                LogitsCheck::Differ => {
                    let why = if numerics_of(&b.cfg) == numerics_of(&self.setup.cfg) {
                        ""
                    } else {
                        " (expected: its matmuls round in another order or take other activations)"
                    };
                    println!(
                        "baseline   {}: logits DIFFER from the main array's{why}",
                        b.name
                    )
                }
                LogitsCheck::NotFinite { count } => println!(
                    "baseline   {}: logits NOT FINITE ({count} NaN or infinite values)",
                    b.name
                ),
            }
        }
        println!();
        if a.full_table || self.records.len() <= 200 {
            self.print_table();
        } else {
            println!(
                "({} matmul calls; pass --full-table to list them)\n",
                self.records.len()
            );
        }
        self.print_summary(a);
        self.print_baselines();
        self.print_checks();
    }

    /// One row per matmul call, with each baseline's cycles beside the main array's.
    fn print_table(&self) {
        let mut head = format!(
            "{:>5} {:<12} {:>11} {:>4} {:>10} {:>6} {:>9} {:>5}",
            "layer", "matmul", "shape", "tok", "cycles", "util", "sim ms", "match"
        );
        for b in &self.baselines {
            head += &format!(
                " | {:>10} {:>6} {:>7}",
                format!("{} cyc", b.cfg.arch()),
                "util",
                "x main"
            );
        }
        println!("{head}");
        for (i, r) in self.records.iter().enumerate() {
            let ok = match &r.check {
                lutcore_sim::CheckOutcome::Exact => "yes".to_string(),
                lutcore_sim::CheckOutcome::NotChecked => "-".to_string(),
                lutcore_sim::CheckOutcome::Mismatch {
                    count,
                    token,
                    row,
                    rtl,
                    cpu,
                } => {
                    format!("NO ({count} differ; first token {token} row {row}: RTL {rtl} != CPU {cpu})")
                }
            };
            let mut line = format!(
                "{:>5} {:<12} {:>11} {:>4} {:>10} {:>5.1}% {:>9.2} {:>5}",
                r.layer().map_or("-".to_string(), |l| l.to_string()),
                r.matrix(),
                format!("{}x{}", r.rows, r.cols),
                r.tokens,
                r.cycles,
                100.0 * r.utilization(),
                r.wall.as_secs_f64() * 1e3,
                ok
            );
            for b in self.baselines.iter().filter_map(|b| b.records.get(i)) {
                let bok = if b.check.is_mismatch() {
                    " MISMATCH"
                } else {
                    ""
                };
                line += &format!(
                    " | {:>10} {:>5.1}% {:>6.2}x{bok}",
                    b.cycles,
                    100.0 * b.utilization(),
                    b.cycles as f64 / r.cycles.max(1) as f64
                );
            }
            println!("{line}");
        }
        println!();
    }

    /// Tokens, cycles per token, modeled board speed and simulation speed of the main array.
    fn print_summary(&self, a: &SimModelArgs) {
        let Setup {
            cfg,
            prompt_len,
            decode,
            ..
        } = &self.setup;
        let (prompt_len, decode) = (*prompt_len, *decode);
        let (all, pt, dt) = self.totals(&self.records);
        println!(
            "tokens       {prompt_len} prompt + {decode} decoded ({} forward passes, {} matmuls)",
            self.passes, all.calls
        );
        println!(
            "cycles/token prompt {:.0}, decode {}, overall {:.0}  (utilization {:.1}% of {} MACs/cycle)",
            pt.cycles as f64 / prompt_len as f64,
            if decode > 0 { format!("{:.0}", dt.cycles as f64 / decode as f64) } else { "-".into() },
            all.cycles as f64 / (prompt_len + decode) as f64,
            100.0 * all.macs as f64 / (all.cycles as f64 * cfg.macs_per_cycle()),
            cfg.macs_per_cycle()
        );
        let modeled = |t: &Totals, n: usize, label: &str| {
            if n == 0 || t.calls == 0 {
                return;
            }
            let bound = if t.weights > t.compute {
                "weight-bandwidth-bound"
            } else {
                "compute-bound"
            };
            println!(
                "modeled      {label}: {:.1} tokens/s at {} MHz and {} GB/s ({:.3} ms/token: compute {:.3} ms, weights {:.3} ms; {bound})",
                n as f64 / t.modeled,
                a.clock_mhz,
                a.bandwidth_gbs,
                t.modeled * 1e3 / n as f64,
                t.compute * 1e3 / n as f64,
                t.weights * 1e3 / n as f64
            );
        };
        modeled(&dt, decode, "decode");
        modeled(&pt, prompt_len, "prompt");
        println!("             (BitLinear matmuls only; attention, norms and the output head run on the host)");
        println!(
            "sim speed    {:.3} M cycles/s (Verilator: {} cycles in {:.2} s); forward passes {:.2} s wall incl. CPU check, weights packed in {:.2} s",
            sim_speed(&all) / 1e6,
            all.cycles,
            all.wall.as_secs_f64(),
            self.forward_wall.as_secs_f64(),
            self.load_wall.as_secs_f64()
        );
        if let Some(name) = &a.bench_layer {
            println!(
                "bench        one {name} decoder layer, 1 token: {:.2} s wall (RTL + check), {:.2} s in Verilator, {:.3} M cycles/s",
                self.forward_wall.as_secs_f64(),
                all.wall.as_secs_f64(),
                sim_speed(&all) / 1e6
            );
        }
    }

    /// One line per baseline array: cycles against the main array's, modeled and simulated speed, checks.
    fn print_baselines(&self) {
        let (all, _, _) = self.totals(&self.records);
        for b in &self.baselines {
            let (bt, bp, bd) = self.totals(&b.records);
            println!(
                "baseline     {} ({} {} MACs/cycle): {} cycles = {:.2}x the main array's; decode {}, prompt {:.1} tokens/s modeled; {:.3} M cycles/s simulated; {}",
                b.name,
                b.cfg.arch(),
                b.cfg.macs_per_cycle(),
                bt.cycles,
                bt.cycles as f64 / all.cycles.max(1) as f64,
                per_second(self.setup.decode, bd.modeled),
                self.setup.prompt_len as f64 / bp.modeled,
                sim_speed(&bt) / 1e6,
                if bt.mismatches == 0 { format!("all {} matmuls bit-exact", bt.calls) } else { format!("{} of {} matmuls MISMATCH", bt.mismatches, bt.calls) }
            );
        }
    }

    /// The logits check, the traced matmul and the verdict.
    fn print_checks(&self) {
        match self.logits {
            LogitsCheck::Identical => println!("logits       identical to the CPU backend's ({}), bit for bit, all finite", self.cpu_name),
            LogitsCheck::Differ => println!("logits       DIFFER from the CPU backend's ({})", self.cpu_name),
            LogitsCheck::NotFinite { count } => println!(
                "logits       NOT FINITE: {count} NaN or infinite values (array or CPU run); a run with such logits fails, equal bits or not"
            ),
        }
        if let Some(d) = &self.vs_int8 {
            println!(
                "vs int8      {} activations against int8 (absmax) on the CPU, same tokens: max |logit difference| {:.3e} (largest |logit| {:.3e}); argmax token agrees at {} of {} steps",
                d.fp.fmt, d.max_abs, d.max_int8, d.argmax_agree, d.steps
            );
        }
        if let Some(t) = &self.trace {
            let before: u64 = self
                .records
                .iter()
                .filter(|r| r.seq < t.call)
                .map(|r| r.cycles)
                .sum();
            let cycles = t.cycles.unwrap_or(0);
            let shape = self
                .records
                .iter()
                .find(|r| r.seq == t.call)
                .map_or(String::new(), |r| {
                    format!(" ({}x{}, {} token(s))", r.rows, r.cols, r.tokens)
                });
            println!(
                "trace        {} ({}): matmul #{} {}{shape}: trace cycles 0..{} = 2 reset + {cycles} streaming (time 0..{}, {TRACE_CYCLE} units/cycle); cycles {before}..{} of the run",
                t.summary.path.display(),
                t.summary.format,
                t.call,
                t.name,
                t.summary.cycles(),
                t.summary.end_time,
                before + cycles
            );
        }
        let all = totals(&self.records, &self.setup.cost);
        if all.mismatches == 0 && self.logits != LogitsCheck::Identical {
            println!(
                "result       all {} matmuls bit-exact, but the logits check FAILED (see above)",
                all.calls
            );
        } else if all.mismatches == 0 {
            println!("result       all {} matmuls bit-exact", all.calls);
        } else {
            println!(
                "result       {} of {} matmuls MISMATCH the CPU backend",
                all.mismatches, all.calls
            );
        }
    }

    /// The summary as JSON (`--json`): per array its cycles, checks and modeled tokens/s.
    fn json(&self) -> serde_json::Value {
        let Setup {
            name,
            cfg,
            cost,
            prompt_len,
            decode,
            ..
        } = &self.setup;
        let array = |name: &str, cfg: &ArrayConfig, recs: &[MatmulRecord]| {
            let (all, pt, dt) = self.totals(recs);
            serde_json::json!({
                "name": name,
                "config": cfg,
                "matmuls": all.calls,
                "mismatches": all.mismatches,
                "cycles": all.cycles,
                "cycles_prompt": pt.cycles,
                "cycles_decode": dt.cycles,
                "utilization": all.macs as f64 / (all.cycles as f64 * cfg.macs_per_cycle()),
                "modeled_prompt_tokens_per_second": *prompt_len as f64 / pt.modeled,
                "modeled_decode_tokens_per_second": if *decode > 0 { Some(*decode as f64 / dt.modeled) } else { None },
                "sim_cycles_per_second": sim_speed(&all),
            })
        };
        let report = self.report();
        serde_json::json!({
            "array": array(name, cfg, &self.records),
            "baselines": self.baselines.iter().map(|b| {
                let mut v = array(&b.name, &b.cfg, &b.records);
                v["logits_identical_to_main"] = (b.logits == LogitsCheck::Identical).into();
                v
            }).collect::<Vec<_>>(),
            "prompt_tokens": prompt_len,
            "decoded_tokens": decode,
            "clock_mhz": cost.clock_hz / 1e6,
            "bandwidth_gbs": cost.weight_bytes_per_s / 1e9,
            "logits_identical": report.logits_identical,
            "activations": self.setup.cfg.act_type().to_string(),
            "logits_vs_int8": self.vs_int8.map(|d| serde_json::json!({
                "max_abs_diff": d.max_abs,
                "max_abs_int8_logit": d.max_int8,
                "argmax_agree": d.argmax_agree,
                "steps": d.steps,
            })),
            "traced_matmul": self.trace.as_ref().map(|t| t.call),
            "passed": report.passed(),
        })
    }
}

/// The distinct matrix names of a run, in first-call order.
fn names(recs: &[MatmulRecord]) -> String {
    let mut v: Vec<&str> = Vec::new();
    for r in recs {
        if !v.contains(&r.name.as_str()) {
            v.push(&r.name);
        }
    }
    v.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        a: SimModelArgs,
    }

    /// A 16-row array sized for the built-in model (the config the
    /// `lutcore-sim` model tests build, so the Verilator build is shared).
    fn args(dir: &Path, extra: &[&str]) -> SimModelArgs {
        let raw = RawArrayConfig {
            arch: Arch::Lut,
            rows: 16,
            k_groups: 4,
            g: 4,
            weights: lutcore_contract::WeightType::Ternary,
            act: lutcore_contract::ActType::Int8,
            max_k: 1024,
            tokens: 1,
            accumulate: lutcore_contract::Accumulate::Fp32,
        };
        args_for(dir, &raw, extra)
    }

    /// [`args`] with the array `raw`.
    fn args_for(dir: &Path, raw: &RawArrayConfig, extra: &[&str]) -> SimModelArgs {
        let cfg = dir.join(format!("{}.json", raw.validate().expect("valid").slug()));
        std::fs::write(&cfg, serde_json::to_string(raw).expect("json")).expect("write config");
        let cfg = cfg.display().to_string();
        let mut v = vec![
            "sim-model",
            "--config",
            cfg.as_str(),
            "--prompt",
            "2",
            "--decode",
            "1",
            "--no-compare",
        ];
        v.extend_from_slice(extra);
        Cli::parse_from(v).a
    }

    #[test]
    fn nan_or_infinite_logits_are_never_identical() {
        let ok = vec![vec![0.5f32, -1.0], vec![2.0]];
        assert_eq!(compare_logits(&ok, &ok.clone()), LogitsCheck::Identical);
        let nan = vec![vec![f32::NAN, -1.0], vec![2.0]];
        // The same NaN bits on both sides: still a failure.
        assert_eq!(
            compare_logits(&nan, &nan.clone()),
            LogitsCheck::NotFinite { count: 2 }
        );
        let all_nan = vec![vec![f32::NAN; 4]];
        assert_eq!(
            compare_logits(&all_nan, &all_nan.clone()),
            LogitsCheck::NotFinite { count: 8 }
        );
        let inf = vec![vec![0.5f32, f32::INFINITY], vec![2.0]];
        assert_eq!(
            compare_logits(&inf, &ok),
            LogitsCheck::NotFinite { count: 1 }
        );
        assert_eq!(
            compare_logits(&ok, &inf),
            LogitsCheck::NotFinite { count: 1 }
        );
        let other = vec![vec![0.5f32, -1.0], vec![2.5]];
        assert_eq!(compare_logits(&ok, &other), LogitsCheck::Differ);
        assert_eq!(compare_logits(&ok, &ok[..1]), LogitsCheck::Differ);
        assert_eq!(
            compare_logits(&[vec![0.0]], &[vec![-0.0]]),
            LogitsCheck::Differ
        );
        let report = SimModelReport {
            matmuls: 1,
            mismatches: 0,
            baseline: (0, 0),
            logits_identical: false,
            cycles: 1,
            trace: None,
        };
        assert!(!report.passed());
    }

    #[test]
    fn a_clean_run_passes_and_a_corrupted_matmul_fails() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let json = tmp.path().join("report.json");
        let ok = run_and_report(&args(
            tmp.path(),
            &["--json", json.to_str().expect("utf-8 path")],
        ))
        .expect("run");
        assert!(ok.passed(), "{ok:?}");
        assert_eq!((ok.matmuls, ok.mismatches), (2 * 7 * 2, 0));
        let j: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).expect("--json written"))
                .expect("JSON");
        assert_eq!(j["array"]["matmuls"], 28, "{j}");
        assert_eq!(j["array"]["cycles"], ok.cycles, "{j}");
        assert_eq!(
            (j["passed"].as_bool(), j["logits_identical"].as_bool()),
            (Some(true), Some(true)),
            "{j}"
        );
        assert_eq!(j["array"]["config"]["rows"], 16, "{j}");
        let bad = run_and_report(&args(tmp.path(), &["--inject-fault", "9"])).expect("run");
        assert_eq!(bad.mismatches, 1, "{bad:?}");
        assert!(!bad.passed());
        assert_eq!(
            cmd_sim_model(&args(tmp.path(), &["--inject-fault", "0"])).expect("run"),
            ExitCode::FAILURE
        );
        assert_eq!(
            cmd_sim_model(&args(tmp.path(), &[])).expect("run"),
            ExitCode::SUCCESS
        );
    }

    /// An FP16 LUT array (the 12-row, 3x3 one of `lutcore-sim`'s rtl_model_fp
    /// test, sharing its build): the model runs with FP16 BitLinear inputs, every
    /// matmul and the logits equal the `ref` backend's, and the report carries
    /// the logits' difference from the int8 path.
    #[test]
    fn an_fp16_array_runs_the_model_with_fp16_activations() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let json = tmp.path().join("fp16.json");
        let raw = RawArrayConfig {
            arch: Arch::Lut,
            rows: 12,
            k_groups: 3,
            g: 3,
            weights: lutcore_contract::WeightType::Ternary,
            act: lutcore_contract::ActType::Fp16,
            max_k: 1024,
            tokens: 1,
            accumulate: lutcore_contract::Accumulate::Fp32,
        };
        let a = args_for(
            tmp.path(),
            &raw,
            &["--json", json.to_str().expect("utf-8 path")],
        );
        let r = run_and_report(&a).expect("run");
        assert!(r.passed(), "{r:?}");
        assert_eq!((r.matmuls, r.mismatches), (2 * 7 * 2, 0));
        let j: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).expect("--json written"))
                .expect("JSON");
        assert_eq!(j["activations"], "fp16", "{j}");
        let d = &j["logits_vs_int8"];
        let (diff, scale) = (
            d["max_abs_diff"].as_f64().expect("a difference"),
            d["max_abs_int8_logit"].as_f64().expect("a scale"),
        );
        assert!(diff > 0.0 && diff < 0.1 * scale, "{j}");
        assert_eq!(d["steps"], 2, "{j}");
        assert!(d["argmax_agree"].as_u64().expect("a count") <= 2, "{j}");
        // An int8 run has no such comparison.
        let a = args(tmp.path(), &["--json", json.to_str().expect("utf-8 path")]);
        assert!(run_and_report(&a).expect("run").passed());
        let j: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).expect("--json written"))
                .expect("JSON");
        assert!(j["logits_vs_int8"].is_null(), "{j}");
        assert_eq!(j["activations"], "int8", "{j}");
    }

    #[test]
    fn trace_dumps_the_chosen_matmul() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let vcd = tmp.path().join("waves").join("attn_k.vcd");
        let v = vcd.display().to_string();
        let a = args(
            tmp.path(),
            &["--trace", v.as_str(), "--trace-name", "blk.1.attn_k"],
        );
        let r = run_and_report(&a).expect("run");
        assert!(r.passed(), "{r:?}");
        let t = r.trace.expect("a matmul was traced");
        assert_eq!((t.call, t.name.as_str()), (8, "blk.1.attn_k"));
        assert_eq!(t.summary.path, vcd);
        assert_eq!(t.summary.cycles(), t.cycles.expect("ran") + 2);
        let text = std::fs::read_to_string(&vcd).expect("read the VCD");
        assert!(
            text.contains(" res_valid_o ") && text.contains(" wgt_data_i "),
            "signal names in the VCD"
        );
        assert!(
            text.contains(&format!(
                "#{}",
                t.summary.end_time - lutcore_sim::TRACE_HALF_CYCLE
            )),
            "last dump time"
        );

        let a = args(tmp.path(), &["--trace", v.as_str(), "--trace-matmul", "99"]);
        let e = run_and_report(&a).expect_err("no matmul 99").to_string();
        assert!(
            e.contains("--trace-matmul 99") && e.contains("28 matmuls"),
            "{e}"
        );
    }
}
