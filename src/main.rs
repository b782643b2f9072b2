//! `lutcore`: the command line. It only wires the library crates together:
//! `gen` writes Verilog, `sim` runs a GEMV through the Verilated RTL and the
//! software reference and compares them bit for bit.

mod bench;
mod dse;
mod fpga;
mod model_cmd;
mod simrun;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use lutcore_sw::config::{presets, ArrayConfig, RawArrayConfig};
use lutcore_sw::layout::{check_fits, BitPlanes};
use lutcore_sw::reference::{gemv_lut, gemv_plain};
use lutcore_sw::{QuantizedActivations, WeightType};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[derive(Parser)]
#[command(name = "lutcore", version, about = "LUT-based low-bit matmul: software reference, generated Verilog, Verilator co-simulation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate the Verilog and manifest.json of an array config.
    ///
    /// Output: one module per .sv file (leaves first, top last) and
    /// manifest.json (config, ports, derived widths, file list, SHA-256).
    Gen(GenArgs),
    /// Run a random GEMV through the Verilated RTL and the software reference.
    ///
    /// Builds the config's Verilog with Verilator (cached by its hash), streams
    /// int8 activations and the weight matrix through the array, and compares
    /// every result with the software LUT reference and a plain dot product.
    /// Exits with status 1 on any mismatch.
    Sim(SimArgs),
    /// A BitNet forward pass with every BitLinear matmul on the Verilated
    /// array, checked bit for bit against the CPU, with cycle accounting,
    /// modeled board tokens/s and the MAC and add/sub baselines on the same layers.
    /// Exits with status 1 on any mismatch.
    SimModel(simrun::SimModelArgs),
    /// GEMVs on the FPGA board over its UART: `fpga run --port /dev/ttyUSB1` on a real
    /// board, `fpga cosim` on the Verilated board top.
    Fpga(fpga::FpgaArgs),
    /// BitNet model files (see `lutcore model synth --help`).
    #[command(subcommand)]
    Model(model_cmd::ModelCommand),
    /// Generate text with a BitNet GGUF model: streams the text, then prints
    /// prompt and decode speed in tokens/s.
    Run(model_cmd::RunArgs),
    /// Teacher-forced logits of a token sequence: one forward pass over all
    /// tokens, the logits of every position written as little-endian f32
    /// (positions × vocabulary) — for parity checks against other runtimes.
    Logits(model_cmd::LogitsArgs),
    /// Design-space exploration: sweep LUT core and baseline configs through
    /// yosys on iCE40, ECP5 and an ASIC proxy; area per MAC/cycle, ratios, plots.
    ///
    /// Each point is an independent, resumable synthesis job (`--list`,
    /// `--point ID` for cluster job arrays, `--report` to tabulate).
    Dse(dse::DseArgs),
    /// Benchmarks (see `lutcore bench gemv --help`).
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Time the CPU LUT kernels on GEMV/GEMM shapes, cold (weights from DRAM)
    /// and hot, against the DRAM read bandwidth measured in the same run and,
    /// with --peer, llama.cpp's kernels on the same shapes.
    ///
    /// Without --shape/--weights/--batch/--threads it runs the full matrix:
    /// BitNet-3B and -700M shapes plus 1000x1000, every weight format, batch 1
    /// and 8, 1 and 2 threads.
    Gemv(BenchGemvArgs),
}

#[derive(Args)]
struct BenchGemvArgs {
    /// Shapes MxK (repeatable). Default: the BitNet matrix.
    #[arg(long, value_parser = parse_shape)]
    shape: Vec<(usize, usize)>,
    /// Weight formats: ternary, int1..int4 (N-bit codes; also spelled uintN). Repeatable.
    #[arg(long, value_parser = parse_bench_weights)]
    weights: Vec<WeightType>,
    /// Tokens per call (repeatable). Default: 1 and 8.
    #[arg(long)]
    batch: Vec<usize>,
    /// Threads (repeatable). Default: 1 and 2.
    #[arg(long)]
    threads: Vec<usize>,
    /// Timed calls per cold measurement (hot runs 4x as many).
    #[arg(long, default_value_t = 15)]
    repeats: usize,
    /// Skip the native ternary kernel (run only the bit-plane one).
    #[arg(long)]
    no_native: bool,
    /// llama.cpp results from bench/peer/run.py, to print ratios against.
    #[arg(long, value_name = "FILE")]
    peer: Option<PathBuf>,
    /// Write the rows as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

fn parse_bench_weights(s: &str) -> Result<WeightType, String> {
    let s = s.trim().to_ascii_lowercase();
    let canonical = match s.strip_prefix("int") {
        Some(bits) => format!("uint{bits}"),
        None => s,
    };
    canonical.parse::<WeightType>().map_err(|e| e.to_string())
}

/// Which config to use.
#[derive(Args)]
#[group(required = false, multiple = false)]
struct ConfigArgs {
    /// A named preset (see `lutcore gen --list-presets`).
    #[arg(long)]
    preset: Option<String>,
    /// A JSON config file with the fields of a preset (see README, "The command line").
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

impl ConfigArgs {
    /// The validated config and a name for it; `default` when neither is given.
    fn load(&self) -> Result<(String, ArrayConfig)> {
        if let Some(path) = &self.config {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading config file {}", path.display()))?;
            let raw: RawArrayConfig = serde_json::from_str(&text).with_context(|| format!("parsing config file {}", path.display()))?;
            let cfg = raw.validate().with_context(|| format!("in config file {}", path.display()))?;
            return Ok((path.display().to_string(), cfg));
        }
        let name = self.preset.clone().unwrap_or_else(|| "default".into());
        let cfg = lutcore_sw::config::preset(&name)?;
        Ok((name, cfg))
    }
}

#[derive(Args)]
struct GenArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Output directory (created if missing).
    #[arg(long, value_name = "DIR", required_unless_present = "list_presets")]
    out: Option<PathBuf>,
    /// List the presets and exit.
    #[arg(long)]
    list_presets: bool,
}

#[derive(Args)]
struct SimArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// GEMV shape as MxK (output rows x reduction length).
    #[arg(long, default_value = "1536x1536", value_parser = parse_shape)]
    shape: (usize, usize),
    /// Seed of the random weights and activations.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Also write the report as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Dump the GEMV's waves to FILE (FST, or VCD for a `.vcd` name); builds the trace variant.
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
    /// Runs of the GEMV (each from reset, each compared with the first); the speed printed is
    /// their median, the range is printed too. With --trace: one run.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    repeats: u32,
}

fn parse_shape(s: &str) -> Result<(usize, usize), String> {
    let (m, k) = s.split_once(['x', 'X']).ok_or_else(|| format!("shape `{s}` is not MxK (e.g. 1536x1536)"))?;
    let parse = |v: &str, what: &str| -> Result<usize, String> {
        match v.trim().parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!("{what} `{v}` in shape `{s}` must be a positive integer")),
        }
    };
    Ok((parse(m, "M")?, parse(k, "K")?))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Gen(a) => cmd_gen(&a),
        Command::Sim(a) => cmd_sim(&a),
        Command::Bench(BenchCommand::Gemv(a)) => cmd_bench_gemv(&a),
        Command::Model(model_cmd::ModelCommand::Synth(a)) => model_cmd::cmd_synth(&a),
        Command::Run(a) => model_cmd::cmd_run(&a),
        Command::SimModel(a) => simrun::cmd_sim_model(&a),
        Command::Fpga(a) => fpga::cmd_fpga(&a),
        Command::Logits(a) => model_cmd::cmd_logits(&a),
        Command::Dse(a) => dse::cmd_dse(&a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn cmd_gen(a: &GenArgs) -> Result<ExitCode> {
    if a.list_presets {
        println!("{:<12} {:<5} {:>4} {:>8} {:>2} {:<8} {:>7}  about", "preset", "arch", "rows", "k_groups", "g", "weights", "max_k");
        for p in presets() {
            let r = &p.raw;
            println!("{:<12} {:<5} {:>4} {:>8} {:>2} {:<8} {:>7}  {}", p.name, r.arch.to_string(), r.rows, r.k_groups, r.g, r.weights.to_string(), r.max_k, p.about);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let (name, cfg) = a.config.load()?;
    let out = a.out.as_ref().expect("clap requires --out");
    let design = lutcore_gen::generate(&cfg);
    design.write_to(out).with_context(|| format!("writing {}", out.display()))?;
    println!("{name}: {cfg}");
    for f in &design.files {
        println!("  {}", out.join(&f.name).display());
    }
    println!("  {}", out.join("manifest.json").display());
    println!("top {} (sha256 {})", design.top, &design.verilog_sha256()[..16]);
    Ok(ExitCode::SUCCESS)
}

/// Roughly Gaussian activations, quantized per token with absmax as BitNet does.
fn random_activations(rng: &mut ChaCha8Rng, k: usize) -> QuantizedActivations {
    let x: Vec<f32> = (0..k).map(|_| (0..4).map(|_| rng.gen_range(-1.0f32..1.0)).sum()).collect();
    QuantizedActivations::quantize_absmax(&x)
}

fn cmd_sim(a: &SimArgs) -> Result<ExitCode> {
    let (name, cfg) = a.config.load()?;
    let (m, k) = a.shape;
    check_fits(&cfg, k)?;
    let mut rng = ChaCha8Rng::seed_from_u64(a.seed);
    let w = bench::random_weights(&mut rng, cfg.weights(), m, k)?;
    let x = random_activations(&mut rng, k);

    println!("config     {name}: {cfg}");
    println!("shape      {m} x {k}, {} weights, int8 activations (seed {})", cfg.weights(), a.seed);

    let spinner = indicatif::ProgressBar::new_spinner().with_message("building the Verilated model (cached after the first run)");
    spinner.enable_steady_tick(Duration::from_millis(120));
    let t = Instant::now();
    let opts = lutcore_sim::BuildOptions { trace: a.trace.as_deref().map(lutcore_sim::TraceFormat::for_path), ..Default::default() };
    let sim = lutcore_sim::Simulator::with_options(&cfg, &opts);
    spinner.finish_and_clear();
    let mut sim = sim?;
    println!("model      {} in {:.1} s", sim.build_status(), t.elapsed().as_secs_f64());

    if let Some(p) = &a.trace {
        create_parent_dir(p)?;
        sim.model_mut().trace_open(p)?;
    }
    let repeats = if a.trace.is_some() { 1 } else { a.repeats as usize };
    let run = sim.gemv(&w, &x.values)?;
    let mut walls = vec![run.wall];
    for i in 1..repeats {
        let again = sim.gemv(&w, &x.values)?;
        if again.results != run.results || again.cycles != run.cycles {
            bail!("run {} of the same GEMV gave other results or another cycle count than run 1: the simulation is not deterministic", i + 1);
        }
        walls.push(again.wall);
    }
    if let Some(t) = sim.model_mut().trace_close() {
        println!(
            "trace      {} ({}): cycles 0..{} = 2 reset + {} GEMV (time 0..{}, {} units/cycle)",
            t.path.display(), t.format, t.cycles(), run.cycles, t.end_time, lutcore_sim::TRACE_CYCLE
        );
    }
    let golden = gemv_lut(&BitPlanes::new(&w, cfg.g()), cfg.weights(), &x.values);
    let plain = gemv_plain(&w, &x.values);
    if golden != plain {
        bail!("software LUT reference disagrees with the plain dot product: this is a bug in lutcore_sw");
    }
    let mismatch = run.results.iter().zip(&golden).position(|(r, g)| i64::from(*r) != *g);
    let ops_per_cycle = 2.0 * (m * k) as f64 / run.cycles as f64;
    let speed = |wall: Duration| run.cycles as f64 / wall.as_secs_f64().max(1e-9);
    let speeds: Vec<f64> = walls.iter().copied().map(speed).collect();
    let wall = bench::median(walls.clone());
    let cycles_per_s = speed(wall);
    match mismatch {
        None => println!("match      yes: all {m} results bit-exact (RTL = software LUT reference = plain dot product)"),
        Some(r) => println!("match      NO: first mismatch at row {r}: RTL {} != software {}", run.results[r], golden[r]),
    }
    println!("cycles     {} ({} row tiles of {} rows)", run.cycles, m.div_ceil(cfg.rows()), cfg.rows());
    println!("ops/cycle  {ops_per_cycle:.1} (2·M·K / cycles; peak {:.1})", 2.0 * cfg.macs_per_cycle());
    if walls.len() == 1 {
        println!("sim speed  {:.2} M cycles/s ({:.1} ms wall)", cycles_per_s / 1e6, wall.as_secs_f64() * 1e3);
    } else {
        let (fastest, slowest) = (walls.iter().min().copied().unwrap_or(wall), walls.iter().max().copied().unwrap_or(wall));
        println!(
            "sim speed  {:.2} M cycles/s (median of {} runs, {:.1} ms each; range {:.2}-{:.2}; all runs gave the same results)",
            cycles_per_s / 1e6,
            walls.len(),
            wall.as_secs_f64() * 1e3,
            speed(slowest) / 1e6,
            speed(fastest) / 1e6
        );
    }

    if let Some(path) = &a.json {
        let report = serde_json::json!({
            "config_name": name,
            "config": cfg,
            "shape": [m, k],
            "seed": a.seed,
            "match": mismatch.is_none(),
            "first_mismatch_row": mismatch,
            "cycles": run.cycles,
            "ops_per_cycle": ops_per_cycle,
            "sim_cycles_per_second": cycles_per_s,
            "sim_cycles_per_second_runs": speeds,
            "sim_wall_seconds": wall.as_secs_f64(),
        });
        write_json(path, &report)?;
    }
    Ok(if mismatch.is_none() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn cmd_bench_gemv(a: &BenchGemvArgs) -> Result<ExitCode> {
    let or = |v: &Vec<usize>, d: &[usize]| if v.is_empty() { d.to_vec() } else { v.clone() };
    let plan = bench::BenchPlan {
        shapes: if a.shape.is_empty() { bench::DEFAULT_SHAPES.to_vec() } else { a.shape.clone() },
        weights: if a.weights.is_empty() { WeightType::ALL.to_vec() } else { a.weights.clone() },
        batches: or(&a.batch, &[1, 8]),
        threads: or(&a.threads, &[1, 2]),
        repeats: a.repeats.max(1),
        native_ternary: !a.no_native,
    };
    if let Some(&t) = plan.threads.iter().find(|&&t| t == 0) {
        bail!("--threads {t}: need at least 1 thread");
    }
    if let Some(&b) = plan.batches.iter().find(|&&b| b == 0) {
        bail!("--batch {b}: need at least 1 token");
    }
    let peers = match &a.peer {
        Some(p) => bench::read_peers(p)?,
        None => Vec::new(),
    };
    let per_combo = plan.batches.len() * plan.threads.len() * 2;
    let schemes = |w: &WeightType| if plan.native_ternary && *w == WeightType::Ternary { 2 } else { 1 };
    let total: usize = plan.shapes.len() * plan.weights.iter().map(schemes).sum::<usize>() * per_combo;
    let bar = indicatif::ProgressBar::new(total as u64)
        .with_style(indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}").expect("template"));
    bar.set_message("measuring DRAM bandwidth");
    let (bw, rows) = bench::run(&plan, &peers, |r| {
        bar.inc(1);
        bar.set_message(format!("{} {} {} b{} t{} {}", r.shape, r.weights, r.scheme, r.batch, r.threads, r.mode));
    })?;
    bar.finish_and_clear();
    print!("{}", bench::table(&bw, &rows));
    if let Some(path) = &a.json {
        write_json(path, &rows)?;
        println!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Create the directory an output file will be written into, if missing.
pub(crate) fn create_parent_dir(path: &std::path::Path) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    Ok(())
}

/// Write `value` as pretty JSON, creating the parent directory.
fn write_json(path: &std::path::Path, value: &impl serde::Serialize) -> Result<()> {
    create_parent_dir(path)?;
    std::fs::write(path, serde_json::to_string_pretty(value)? + "\n").with_context(|| format!("writing {}", path.display()))
}

