//! `lutcore`: the command line. It only wires the library crates together:
//! `gen` writes Verilog, `sim` runs a GEMV through the Verilated RTL and the
//! software reference and compares them bit for bit.

mod bench;
mod dse;
mod fpga;
mod model_cmd;
mod regress;
mod simrun;
mod testbench_cmd;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use lutcore_sw::config::{presets, ArrayConfig};
use lutcore_sw::layout::{check_fits, BitPlanes};
use lutcore_sw::reference::{gemv_lut, gemv_plain};
use lutcore_sw::{QuantizedActivations, WeightType};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Every size a flag or an input file can set, checked before anything is
/// allocated. The `--help` texts quote these values (a unit test checks that).
pub(crate) mod limits {
    /// Largest M and largest K of a `--shape MxK`: 2^24.
    pub const MAX_DIM: usize = 1 << 24;
    /// Largest M·K of `sim --shape` and `bench gemv --shape`: 2^28 weights (BitNet-3B's
    /// largest matrix, 8640x3200, has 2^24.7).
    pub const MAX_WEIGHTS: usize = 1 << 28;
    /// Largest `sim --repeats`.
    pub const MAX_SIM_REPEATS: u32 = 1000;
    /// Largest `bench gemv --repeats` (hot runs take 4x as many calls).
    pub const MAX_BENCH_REPEATS: usize = 1000;
    /// Largest `bench gemv --batch`.
    pub const MAX_BATCH: usize = 512;
    /// Largest `bench gemv --threads`.
    pub const MAX_THREADS: usize = 256;
    /// Largest batch·K (activations) and batch·M (results) of one `bench gemv` call: 2^26.
    pub const MAX_BATCH_ELEMENTS: usize = 1 << 26;
    /// Largest `bench gemv --peer` file (bytes).
    pub const MAX_PEER_BYTES: u64 = 64 << 20;
    /// Largest `sim-model --prompt` plus `--decode` (tokens).
    pub const MAX_SIM_MODEL_TOKENS: usize = 4096;
    /// Largest `--config` file (bytes): [`lutcore_sw::config::MAX_CONFIG_BYTES`].
    pub const MAX_CONFIG_BYTES: usize = lutcore_sw::config::MAX_CONFIG_BYTES;
}

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
    /// Seeded regression: random matmuls (configs, shapes, batches, extreme values) through
    /// the Verilated RTL and every CPU kernel, compared with the plain integer reference.
    ///
    /// Each case is independent and replayable (`--list`, `--case I`; `--out DIR` and
    /// `--report DIR` for cluster job arrays); `--json` and `--junit` write the results.
    Regress(regress::RegressArgs),
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
    /// Shapes MxK (repeatable). Default: the BitNet matrix. M and K at most 16777216 (2^24)
    /// each, M·K at most 268435456 (2^28) weights, batch·M and batch·K at most 67108864 (2^26).
    #[arg(long, value_parser = parse_shape)]
    shape: Vec<(usize, usize)>,
    /// Weight formats: ternary, int1..int4 (N-bit codes; also spelled uintN). Repeatable.
    #[arg(long, value_parser = parse_bench_weights)]
    weights: Vec<WeightType>,
    /// Tokens per call (repeatable), 1..=512. Default: 1 and 8.
    #[arg(long, value_parser = parse_batch)]
    batch: Vec<usize>,
    /// Threads (repeatable), 1..=256. Default: 1 and 2.
    #[arg(long, value_parser = parse_threads)]
    threads: Vec<usize>,
    /// Timed calls per cold measurement (hot runs 4x as many), 1..=1000.
    #[arg(long, default_value_t = 15, value_parser = parse_bench_repeats)]
    repeats: usize,
    /// Skip the native ternary kernel (run only the bit-plane one).
    #[arg(long)]
    no_native: bool,
    /// llama.cpp results from bench/peer/run.py, to print ratios against (at most 64 MiB).
    #[arg(long, value_name = "FILE")]
    peer: Option<PathBuf>,
    /// Write the rows as JSON to FILE (not an input file; written whole or not at all).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

/// An integer flag value in `lo..=hi`; the error names the flag, the value and the range.
fn parse_bounded(s: &str, flag: &str, lo: usize, hi: usize) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if (lo..=hi).contains(&n) => Ok(n),
        Ok(n) => Err(format!("{flag} {n} is out of range: allowed {lo}..={hi}")),
        Err(_) => Err(format!("{flag} `{s}` is not a whole number in {lo}..={hi}")),
    }
}

fn parse_batch(s: &str) -> Result<usize, String> {
    parse_bounded(s, "--batch", 1, limits::MAX_BATCH)
}

fn parse_threads(s: &str) -> Result<usize, String> {
    parse_bounded(s, "--threads", 1, limits::MAX_THREADS)
}

fn parse_bench_repeats(s: &str) -> Result<usize, String> {
    parse_bounded(s, "--repeats", 1, limits::MAX_BENCH_REPEATS)
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
pub(crate) struct ConfigArgs {
    /// A named preset (see `lutcore gen --list-presets`).
    #[arg(long)]
    pub(crate) preset: Option<String>,
    /// A JSON config file with the fields of a preset (see README, "The command line"):
    /// one object, every field once, at most 1 MiB.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
}

impl ConfigArgs {
    /// The validated config and a name for it; `default` when neither is given.
    pub(crate) fn load(&self) -> Result<(String, ArrayConfig)> {
        load_config(self.preset.as_deref(), self.config.as_deref(), "default")
    }
}

/// The one config loader of every command: the file `config` if given, else the
/// preset `preset`, else the preset `default`; the validated config and a name for it.
pub(crate) fn load_config(preset: Option<&str>, config: Option<&Path>, default: &str) -> Result<(String, ArrayConfig)> {
    if let Some(path) = config {
        return Ok((path.display().to_string(), read_config_file(path)?));
    }
    let name = preset.unwrap_or(default);
    Ok((name.to_string(), lutcore_sw::config::preset(name)?))
}

/// Read and validate a JSON config file (`ArrayConfig::from_json`).
pub(crate) fn read_config_file(path: &Path) -> Result<ArrayConfig> {
    let text = read_text_file("config file", path, limits::MAX_CONFIG_BYTES as u64)?;
    ArrayConfig::from_json(&text).with_context(|| format!("in config file {}", path.display()))
}

/// The text of an input file, refusing a folder, a file over `limit` bytes (read no
/// further) and bytes that are not UTF-8; `what` names the file in errors.
pub(crate) fn read_text_file(what: &str, path: &Path, limit: u64) -> Result<String> {
    use std::io::Read;
    let shown = path.display();
    let file = std::fs::File::open(path).with_context(|| format!("reading {what} {shown}"))?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        bail!("{what} {shown} is a folder; expected a file");
    }
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes).with_context(|| format!("reading {what} {shown}"))?;
    if bytes.len() as u64 > limit {
        bail!("{what} {shown} is larger than the limit of {limit} bytes");
    }
    String::from_utf8(bytes).map_err(|e| anyhow::anyhow!("{what} {shown} is not UTF-8 text (byte {} is not)", e.utf8_error().valid_up_to()))
}

#[derive(Args)]
struct GenArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Output folder (created if missing). It ends up holding exactly the new .sv files and
    /// manifest.json: files an earlier `lutcore gen` listed in its manifest.json there are
    /// removed; a folder holding any other file is refused.
    #[arg(long, value_name = "DIR", required_unless_present = "list_presets")]
    out: Option<PathBuf>,
    /// List the presets and exit.
    #[arg(long)]
    list_presets: bool,
    /// Also write a self-checking testbench (tb_<top>.sv), its vectors (vectors/) and
    /// run_icarus.sh, run_verilator.sh (Icarus Verilog, Verilator) into the output directory.
    #[arg(long)]
    testbench: bool,
    /// Shape MxK of the testbench's random case (default (2·rows+1) x (3·k_tile+1));
    /// all vectors together are capped at 1 MiB.
    #[arg(long, value_name = "MxK", value_parser = parse_shape, requires = "testbench")]
    tb_shape: Option<(usize, usize)>,
    /// Seed of the testbench's vectors and default stimulus.
    #[arg(long, value_name = "S", default_value_t = 1, requires = "testbench")]
    tb_seed: u64,
}

#[derive(Args)]
struct SimArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// GEMV shape as MxK (output rows x reduction length). M and K at most 16777216 (2^24)
    /// each, M·K at most 268435456 (2^28) weights; K at most the config's max_k.
    #[arg(long, default_value = "1536x1536", value_parser = parse_shape)]
    shape: (usize, usize),
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
}

/// The one parser of a `--shape MxK`: M and K whole numbers in 1..=[`limits::MAX_DIM`].
pub(crate) fn parse_shape(s: &str) -> Result<(usize, usize), String> {
    let (m, k) = s.split_once(['x', 'X']).ok_or_else(|| format!("shape `{s}` is not MxK (e.g. 1536x1536)"))?;
    let max = limits::MAX_DIM;
    let parse = |v: &str, what: &str| -> Result<usize, String> {
        let v = v.trim();
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("{what} `{v}` in shape `{s}` must be a whole number in 1..={max} (digits only)"));
        }
        match v.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            Ok(0) => Err(format!("{what} = 0 in shape `{s}`: M and K must be at least 1")),
            _ => Err(format!("{what} = {v} in shape `{s}` is over the limit: M and K are at most {max} (2^24)")),
        }
    };
    Ok((parse(m, "M")?, parse(k, "K")?))
}

/// `M·K` of a shape, refused above [`limits::MAX_WEIGHTS`]; `flag` names where it came from.
pub(crate) fn check_weights(flag: &str, (m, k): (usize, usize)) -> Result<()> {
    match m.checked_mul(k) {
        Some(n) if n <= limits::MAX_WEIGHTS => Ok(()),
        _ => bail!(
            "{flag} {m}x{k}: M·K = {} weights is over the limit of {} (2^28) weights",
            u128::from(m as u64) * u128::from(k as u64),
            limits::MAX_WEIGHTS
        ),
    }
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
        Command::Regress(a) => regress::cmd_regress(&a),
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
    check_parent_folders("--out", out)?;
    let design = lutcore_gen::generate(&cfg);
    design.write_to(out).with_context(|| format!("--out {}", out.display()))?;
    println!("{name}: {cfg}");
    for f in &design.files {
        println!("  {}", out.join(&f.name).display());
    }
    println!("  {}", out.join("manifest.json").display());
    if a.testbench {
        testbench_cmd::write_testbench(&design, out, a.tb_shape, a.tb_seed)?;
    }
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
    check_weights("--shape", (m, k))?;
    check_fits(&cfg, k)
        .with_context(|| format!("--shape {m}x{k} does not fit config {name} (`lutcore gen --list-presets` shows each preset's max_k)"))?;
    let inputs: Vec<(&str, &Path)> = a.config.config.iter().map(|c| ("--config", c.as_path())).collect();
    if let Some(j) = &a.json {
        check_output("--json", j, &inputs)?;
    }
    if let Some(t) = &a.trace {
        check_output("--trace", t, &inputs)?;
        if let Some(j) = a.json.as_deref().filter(|j| same_file(j, t)) {
            bail!("--json {} and --trace {} are the same file", j.display(), t.display());
        }
    }
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
        repeats: a.repeats,
        native_ternary: !a.no_native,
    };
    // The value parsers bound each flag; these are the limits of their combinations.
    for &(m, k) in &plan.shapes {
        check_weights("--shape", (m, k))?;
        for &b in &plan.batches {
            if b.saturating_mul(m.max(k)) > limits::MAX_BATCH_ELEMENTS {
                bail!(
                    "--batch {b} with --shape {m}x{k}: batch·max(M, K) = {} is over the limit of {} (2^26) activations or results per call",
                    b as u128 * m.max(k) as u128,
                    limits::MAX_BATCH_ELEMENTS
                );
            }
        }
    }
    let inputs: Vec<(&str, &Path)> = a.peer.iter().map(|p| ("--peer", p.as_path())).collect();
    if let Some(j) = &a.json {
        check_output("--json", j, &inputs)?;
    }
    let peers = match &a.peer {
        Some(p) => bench::read_peers(p)?,
        None => Vec::new(),
    };
    let per_combo = plan.batches.len() * plan.threads.len() * 2;
    let total: usize = plan.shapes.len() * plan.weights.iter().map(|&w| bench::schemes(&plan, w).len()).sum::<usize>() * per_combo;
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

/// The folders `path` would be created in: the nearest one that exists must be a
/// folder (not a file), so that creating the rest can work; a clear error otherwise.
pub(crate) fn check_parent_folders(flag: &str, path: &Path) -> Result<()> {
    for dir in path.ancestors().skip(1).filter(|d| !d.as_os_str().is_empty()) {
        match std::fs::metadata(dir) {
            Ok(m) if m.is_dir() => return Ok(()),
            Ok(_) => bail!("{flag} {}: {} is a file, not a folder, so nothing can be created under it", path.display(), dir.display()),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory) => continue,
            Err(e) => bail!("{flag} {}: cannot use the folder {}: {e}", path.display(), dir.display()),
        }
    }
    Ok(())
}

/// Whether `a` and `b` name the same file: the same inode if both exist, else the
/// same absolute path (after resolving the folders that exist).
pub(crate) fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
        return x.dev() == y.dev() && x.ino() == y.ino();
    }
    let resolve = |p: &Path| -> Option<PathBuf> {
        let abs = std::path::absolute(p).ok()?;
        let name = abs.file_name()?.to_owned();
        let dir = abs.parent()?;
        Some(std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf()).join(name))
    };
    matches!((resolve(a), resolve(b)), (Some(x), Some(y)) if x == y)
}

/// Check an output file before any work: not a folder, creatable (no file where a
/// parent folder should be), and none of `inputs` (flag, path), which it would clobber.
pub(crate) fn check_output(flag: &str, out: &Path, inputs: &[(&str, &Path)]) -> Result<()> {
    if out.is_dir() {
        bail!("{flag} {} is a folder; give a file name", out.display());
    }
    check_parent_folders(flag, out)?;
    if let Some((iflag, input)) = inputs.iter().find(|(_, i)| same_file(out, i)) {
        bail!("{flag} {} is the same file as {iflag} {}: an output must not overwrite an input", out.display(), input.display());
    }
    Ok(())
}

/// Create the folder an output file will be written into, if missing.
pub(crate) fn create_parent_dir(path: &Path) -> Result<()> {
    check_parent_folders("output", path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    Ok(())
}

/// Write `value` as pretty JSON through a temporary file in the same folder, renamed
/// over `path` when complete (`dse::run::write_atomic`): a reader sees the old file
/// or the whole new one.
fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<()> {
    create_parent_dir(path)?;
    dse::run::write_atomic(path, &(serde_json::to_string_pretty(value)? + "\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn long_help(path: &[&str]) -> String {
        let mut cmd = Cli::command();
        let mut sub = &mut cmd;
        for name in path {
            sub = sub.find_subcommand_mut(name).unwrap_or_else(|| panic!("no subcommand {name}"));
        }
        sub.render_long_help().to_string()
    }

    #[test]
    fn help_texts_quote_the_limits() {
        let sim = long_help(&["sim"]);
        for v in [limits::MAX_DIM.to_string(), limits::MAX_WEIGHTS.to_string(), limits::MAX_SIM_REPEATS.to_string(), "max_k".into()] {
            assert!(sim.contains(&v), "`lutcore sim --help` does not say {v}:\n{sim}");
        }
        let bench = long_help(&["bench", "gemv"]);
        for v in [
            limits::MAX_DIM.to_string(),
            limits::MAX_WEIGHTS.to_string(),
            limits::MAX_BATCH_ELEMENTS.to_string(),
            format!("1..={}", limits::MAX_BATCH),
            format!("1..={}", limits::MAX_THREADS),
            format!("1..={}", limits::MAX_BENCH_REPEATS),
            format!("{} MiB", limits::MAX_PEER_BYTES >> 20),
        ] {
            assert!(bench.contains(&v), "`lutcore bench gemv --help` does not say {v}:\n{bench}");
        }
        let model = long_help(&["sim-model"]);
        assert!(model.contains(&limits::MAX_SIM_MODEL_TOKENS.to_string()), "{model}");
        let gen = long_help(&["gen"]);
        assert!(gen.contains(&format!("{} MiB", limits::MAX_CONFIG_BYTES >> 20)), "{gen}");
    }

    #[test]
    fn parse_shape_takes_positive_bounded_whole_numbers() {
        assert_eq!(parse_shape("1536x1536"), Ok((1536, 1536)));
        assert_eq!(parse_shape(" 8X16 "), Ok((8, 16)));
        assert_eq!(parse_shape("16777216x1"), Ok((limits::MAX_DIM, 1)));
        for bad in ["0x5", "5x0", "16777217x1", "1x16777217", "-1x5", "+5x5", "1e3x5", "5", "x", "5x", "x5", "1.5x2", "99999999999999999999999x1"] {
            let e = parse_shape(bad).expect_err(bad);
            assert!(e.contains(bad.trim()) || e.contains("in shape"), "{bad}: {e}");
        }
        assert!(parse_shape("16777217x1").unwrap_err().contains("16777216"));
    }

    #[test]
    fn output_checks_refuse_folders_inputs_and_files_as_folders() {
        let tmp = tempfile::tempdir().unwrap();
        let input = tmp.path().join("in.json");
        std::fs::write(&input, "{}").unwrap();
        let e = check_output("--json", &input, &[("--config", &input)]).unwrap_err().to_string();
        assert!(e.contains("same file as --config"), "{e}");
        // The same file under another name.
        let other = tmp.path().join(".").join("in.json");
        assert!(check_output("--json", &other, &[("--config", &input)]).is_err());
        let e = check_output("--json", tmp.path(), &[]).unwrap_err().to_string();
        assert!(e.contains("is a folder"), "{e}");
        let e = check_output("--json", &input.join("x/y.json"), &[]).unwrap_err().to_string();
        assert!(e.contains("is a file, not a folder"), "{e}");
        check_output("--json", &tmp.path().join("new/dir/out.json"), &[("--config", &input)]).unwrap();
        assert!(same_file(&tmp.path().join("a/../b.json"), &tmp.path().join("a/../b.json")));

        let out = tmp.path().join("sub").join("r.json");
        write_json(&out, &serde_json::json!({"a": 1})).unwrap();
        write_json(&out, &serde_json::json!({"a": 2})).unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "{\n  \"a\": 2\n}\n");
        assert_eq!(std::fs::read_dir(out.parent().unwrap()).unwrap().count(), 1, "no temporary file left behind");
        // The mode a plain write gives (0666 less the umask), not a temporary file's 0600.
        use std::os::unix::fs::PermissionsExt;
        let plain = tmp.path().join("plain.json");
        std::fs::write(&plain, "{}").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&out), mode(&plain));
    }
}
