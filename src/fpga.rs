//! `lutcore fpga`: GEMVs on the FPGA board through its UART protocol
//! (hdl/README.md), on a real board over a serial port or on the Verilated
//! board top. Both use the same host driver, `lutcore_sim::board::BoardDriver`.

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use lutcore_sim::board::{board_design, BoardDriver, BoardParams, SimUart};
use lutcore_sim::SimLibrary;
use lutcore_sw::config::{ArrayConfig, RawArrayConfig};
use lutcore_sw::layout::{check_fits, WeightMatrix};
use lutcore_sw::reference::gemv_plain;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `lutcore fpga ...`
#[derive(Args)]
pub struct FpgaArgs {
    #[command(subcommand)]
    command: FpgaCommand,
}

#[derive(Subcommand)]
enum FpgaCommand {
    /// Run a random GEMV on a board (built with `make bitstream`) over its
    /// serial port and compare every result with the software reference.
    ///
    /// The port is set to raw 8N1 at --baud with `stty` (2 s read timeout).
    /// iCEBreaker: the FTDI's second interface, usually /dev/ttyUSB1;
    /// ULX3S: /dev/ttyUSB0. Exits with status 1 on any mismatch.
    Run(RunArgs),
    /// The same GEMV through the Verilated board top and its UART pins
    /// (co-simulation; baud divider 4, small buffers unless given).
    Cosim(CosimArgs),
}

#[derive(Args)]
struct GemvArgs {
    /// A named preset; must be the one the board was built with
    /// (iCEBreaker: ice40, ULX3S: ecp5).
    #[arg(long, default_value = "ice40")]
    preset: String,
    /// A JSON config file instead of --preset.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// GEMV shape as MxK.
    #[arg(long, default_value = "64x256", value_parser = parse_shape)]
    shape: (usize, usize),
    /// Seed of the random weights and activations.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    gemv: GemvArgs,
    /// Serial device of the board's UART.
    #[arg(long, default_value = "/dev/ttyUSB1")]
    port: PathBuf,
    /// Baud rate (the board tops' BAUD parameter; 115200 as built).
    #[arg(long, default_value_t = 115_200)]
    baud: u32,
}

#[derive(Args)]
struct CosimArgs {
    #[command(flatten)]
    gemv: GemvArgs,
    /// log2 of the weight RAM depth in beats (the iCEBreaker build uses 11).
    #[arg(long, default_value_t = 11)]
    wgt_aw: u32,
    /// log2 of the result RAM depth in beats (the iCEBreaker build uses 8).
    #[arg(long, default_value_t = 8)]
    res_aw: u32,
}

fn parse_shape(s: &str) -> std::result::Result<(usize, usize), String> {
    let (m, k) = s.split_once(['x', 'X']).ok_or_else(|| format!("`{s}`: expected MxK, e.g. 64x256"))?;
    let p = |v: &str| v.trim().parse::<usize>().map_err(|e| format!("`{s}`: {e}"));
    Ok((p(m)?, p(k)?))
}

impl GemvArgs {
    fn config(&self) -> Result<ArrayConfig> {
        if let Some(path) = &self.config {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            let raw: RawArrayConfig = serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
            return Ok(raw.validate()?);
        }
        Ok(lutcore_sw::config::preset(&self.preset)?)
    }

    fn problem(&self, cfg: &ArrayConfig) -> Result<(WeightMatrix, Vec<i8>)> {
        let (m, k) = self.shape;
        check_fits(cfg, k)?;
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let (lo, hi) = (cfg.weights().min_value(), cfg.weights().max_value());
        let values: Vec<i32> = (0..m * k).map(|_| rng.gen_range(lo..=hi)).collect();
        let w = WeightMatrix::from_values(m, k, cfg.weights(), &values)?;
        let x: Vec<i8> = (0..k).map(|_| rng.gen()).collect();
        Ok((w, x))
    }
}

/// `lutcore fpga run|cosim`.
pub fn cmd_fpga(a: &FpgaArgs) -> Result<ExitCode> {
    match &a.command {
        FpgaCommand::Run(r) => cmd_run(r),
        FpgaCommand::Cosim(c) => cmd_cosim(c),
    }
}

fn cmd_run(a: &RunArgs) -> Result<ExitCode> {
    let cfg = a.gemv.config()?;
    let port = a.port.display().to_string();
    let status = Command::new("stty")
        .args(["-F", &port, &a.baud.to_string(), "raw", "-echo", "-ixon", "-ixoff", "-crtscts", "cs8", "-cstopb", "-parenb"])
        .args(["min", "0", "time", "20"])
        .status()
        .context("running stty")?;
    if !status.success() {
        bail!("stty could not configure {port} ({status})");
    }
    let file = std::fs::OpenOptions::new().read(true).write(true).open(&a.port).with_context(|| format!("opening {port}"))?;
    let driver = BoardDriver::new(Box::new(file));
    gemv_on(driver, &cfg, &a.gemv, &format!("board on {port} at {} baud", a.baud))
}

fn cmd_cosim(a: &CosimArgs) -> Result<ExitCode> {
    let cfg = a.gemv.config()?;
    let mut params = BoardParams::for_config(&cfg);
    params.wgt_aw = a.wgt_aw;
    params.res_aw = a.res_aw;
    let t = Instant::now();
    let lib = SimLibrary::build(&board_design(&cfg, &params)?)?;
    println!("model      board top {} in {:.1} s", lib.status(), t.elapsed().as_secs_f64());
    let uart = SimUart::new(lib.instantiate()?, params.baud_div)?;
    gemv_on(BoardDriver::new(Box::new(uart)), &cfg, &a.gemv, "Verilated board top, baud divider 4")
}

fn gemv_on(mut d: BoardDriver<'_>, cfg: &ArrayConfig, g: &GemvArgs, what: &str) -> Result<ExitCode> {
    let (w, x) = g.problem(cfg)?;
    let info = d.check_config(cfg)?;
    println!("board      {what}: clock {} MHz, buffers 2^{} act / 2^{} wgt / 2^{} res beats", info.clk_hz as f64 / 1e6, info.act_aw, info.wgt_aw, info.res_aw);
    println!("config     {cfg}");
    println!("shape      {} x {}, seed {}", w.rows(), w.cols(), g.seed);
    let t = Instant::now();
    let run = d.gemv(cfg, &w, &x)?;
    let wall = t.elapsed().as_secs_f64();
    let want: Vec<i64> = gemv_plain(&w, &x);
    let bad = run.results.iter().zip(&want).filter(|(h, s)| i64::from(**h) != **s).count();
    let macs = (w.rows() * w.cols()) as f64;
    println!(
        "array      {} cycles in {} run(s): {:.2} MAC/cycle{}",
        run.cycles,
        run.runs,
        macs / run.cycles.max(1) as f64,
        if info.clk_hz > 0 { format!(", {:.3} GOPS at {} MHz", 2.0 * macs / (run.cycles as f64 / info.clk_hz as f64) / 1e9, info.clk_hz as f64 / 1e6) } else { String::new() }
    );
    println!("uart       {} bytes out, {} bytes in, {wall:.2} s wall", run.bytes_out, run.bytes_in);
    if bad == 0 {
        println!("check      all {} results match the software reference", want.len());
        Ok(ExitCode::SUCCESS)
    } else {
        println!("check      MISMATCH in {bad} of {} results", want.len());
        Ok(ExitCode::from(1))
    }
}
