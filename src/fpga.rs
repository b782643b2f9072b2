//! `lutcore fpga`: GEMVs on the FPGA board through its UART protocol
//! (hdl/README.md), on a real board over a serial port or on the Verilated
//! board top. Both use the same host driver, `lutcore_sim::board::BoardDriver`.

use std::io::ErrorKind;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use lutcore_contract::config::ArrayConfig;
use lutcore_contract::layout::WeightMatrix;
use lutcore_contract::reference::gemv_plain;
use lutcore_sim::board::{
    board_design, BoardDriver, BoardError, BoardParams, BoardSpec, SimUart, MAX_AW,
};
use lutcore_sim::SimLibrary;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::args::{BoardPreset, ConfigArgs, Shape};

/// `lutcore fpga ...`
#[derive(Args)]
pub struct FpgaArgs {
    #[command(subcommand)]
    command: FpgaCommand,
}

/// Most weights (M·K) of one `fpga run` GEMV: 2^24, 4 MiB of ternary weight
/// beats, about 6 minutes of UART traffic at 115200 baud (64 MiB of weight
/// values in memory).
pub const MAX_RUN_WEIGHTS: usize = 1 << 24;

/// Most weights (M·K) of one `fpga cosim` GEMV: 2^20; every byte costs the
/// Verilated board 40 clock cycles at baud divider 4 (ice40, 1024x1024 with
/// `--wgt-aw 16 --res-aw 16`: 263 kB over the UART pins in 1.7 s).
pub const MAX_COSIM_WEIGHTS: usize = 1 << 20;

/// Baud rates `fpga run --baud` accepts: the board's UART needs at least 4
/// clocks per bit (3 Mbaud at the iCEBreaker's 12 MHz), the FTDI goes no lower
/// than 300.
const BAUD_RANGE: std::ops::RangeInclusive<i64> = 300..=3_000_000;

/// Read timeout of the serial port: no byte from the board for this long is an error.
const READ_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Subcommand)]
enum FpgaCommand {
    /// Run a random GEMV on a board (built with `make bitstream`) over its
    /// serial port and compare every result with the software reference.
    ///
    /// The port is opened raw 8N1 at --baud, no flow control, 2 s read
    /// timeout. iCEBreaker: the FTDI's second interface, usually
    /// /dev/ttyUSB1; ULX3S: /dev/ttyUSB0. The config (--preset, default
    /// ice40; ULX3S: ecp5; or --config FILE) must be the one the board was
    /// built with. M·K is at most 2^24. Exits with status 1 on any mismatch.
    Run(RunArgs),
    /// The same GEMV through the Verilated board top and its UART pins
    /// (co-simulation; baud divider 4, small buffers unless given).
    ///
    /// The config is --preset (default ice40) or --config FILE, a LUT array
    /// (arch=lut). M·K is at most 2^20; one row tile of K must fit the
    /// weight RAM (2^--wgt-aw beats).
    Cosim(CosimArgs),
}

#[derive(Args)]
struct GemvArgs {
    /// --preset NAME (default ice40, the iCEBreaker build) or --config FILE.
    #[command(flatten)]
    config: ConfigArgs<BoardPreset>,
    /// GEMV shape as MxK (M output rows, K ≤ the config's max_k).
    #[arg(long, value_name = "MxK", default_value = "64x256")]
    shape: Shape,
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
    /// Baud rate, 300..=3000000: the board description's uart.baud the board
    /// was built with (default: boards/icebreaker.json's).
    #[arg(long, default_value_t = BoardSpec::default_board().uart.baud, value_parser = clap::value_parser!(u32).range(BAUD_RANGE))]
    baud: u32,
}

#[derive(Args)]
struct CosimArgs {
    #[command(flatten)]
    gemv: GemvArgs,
    /// log2 of the weight RAM depth in beats, 1..=16 (the protocol's RAM
    /// addresses are 16 bits; default: the iCEBreaker build's, boards/icebreaker.json).
    #[arg(long, default_value_t = BoardSpec::default_board().ram.wgt_aw, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_AW)))]
    wgt_aw: u32,
    /// log2 of the result RAM depth in beats, 1..=16 (default: the iCEBreaker build's).
    #[arg(long, default_value_t = BoardSpec::default_board().ram.res_aw, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_AW)))]
    res_aw: u32,
}

impl GemvArgs {
    /// The config (`ice40` when neither --preset nor --config is given), with the
    /// shape checked against it and against `max_weights` (M·K) of `lutcore {cmd}`,
    /// before anything is allocated, opened or built.
    fn checked_config(&self, max_weights: usize, cmd: &str) -> Result<ArrayConfig> {
        let (name, cfg) = self.config.load()?;
        self.shape.check_fits(&name, &cfg)?;
        self.shape.check_weights(max_weights, cmd)?;
        Ok(cfg)
    }

    fn problem(&self, cfg: &ArrayConfig) -> Result<(WeightMatrix, Vec<i8>)> {
        let (m, k) = self.shape.dims();
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let w = crate::bench::random_weights(&mut rng, cfg.weights(), m, k)?;
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
    let cfg = a.gemv.checked_config(MAX_RUN_WEIGHTS, "fpga run")?;
    let port = open_port(&a.port, a.baud)?;
    let name = a.port.display();
    gemv_on(BoardDriver::new(Box::new(port)), &cfg, &a.gemv, &format!("board on {name} at {} baud", a.baud)).map_err(|e| {
        match e.downcast_ref::<BoardError>() {
            Some(BoardError::Io(io)) if io.kind() == ErrorKind::TimedOut => anyhow::anyhow!(
                "no answer from the board on {name} within {} s ({io}): is the board programmed with the lutcore bitstream \
                 (`make bitstream`), is {name} its UART (iCEBreaker: the FTDI's second interface, usually /dev/ttyUSB1), \
                 and was it built for {} baud?",
                READ_TIMEOUT.as_secs(),
                a.baud
            ),
            _ => e.context(format!("GEMV on the board on {name}")),
        }
    })
}

/// The board's serial port, raw 8N1 at `baud`, no flow control, with the
/// read timeout; every failure names the port and what to do.
fn open_port(path: &Path, baud: u32) -> Result<serialport::TTYPort> {
    let name = path.display();
    let hint = "iCEBreaker: the FTDI's second interface, usually /dev/ttyUSB1; ULX3S: /dev/ttyUSB0; `ls /dev/ttyUSB*` lists them";
    match std::fs::metadata(path) {
        Err(e) if e.kind() == ErrorKind::NotFound => {
            bail!("serial port {name}: no such device: is the board plugged in? ({hint})")
        }
        Err(e) => bail!("serial port {name}: {e}"),
        Ok(m) if !m.file_type().is_char_device() => {
            let what = if m.is_dir() {
                "a directory"
            } else if m.is_file() {
                "a regular file"
            } else {
                "not a character device"
            };
            bail!("serial port {name} is not a serial device ({what}); give the board's tty with --port ({hint})")
        }
        Ok(_) => {}
    }
    let builder = serialport::new(name.to_string(), baud)
        .data_bits(serialport::DataBits::Eight)
        .parity(serialport::Parity::None)
        .stop_bits(serialport::StopBits::One)
        .flow_control(serialport::FlowControl::None)
        .timeout(READ_TIMEOUT);
    builder.open_native().map_err(|e| {
        let msg = match e.kind() {
            serialport::ErrorKind::Io(ErrorKind::PermissionDenied) => {
                "permission denied: add yourself to the serial group (`sudo usermod -aG dialout $USER`, then log in again)".to_string()
            }
            serialport::ErrorKind::Io(ErrorKind::NotFound) => format!("no such device: is the board plugged in? ({hint})"),
            serialport::ErrorKind::NoDevice => "busy: another program (a terminal, another lutcore) has it open".to_string(),
            // ENOTTY: a character device that is no terminal (e.g. /dev/null).
            _ if ["Not a typewriter", "Inappropriate ioctl"].iter().any(|t| e.description.contains(t)) => {
                format!("not a serial device (a character device but no terminal); {hint}")
            }
            _ => format!("cannot open it as a serial port at {baud} baud 8N1: {e}"),
        };
        anyhow::anyhow!("serial port {name}: {msg}")
    })
}

fn cmd_cosim(a: &CosimArgs) -> Result<ExitCode> {
    let cfg = a.gemv.checked_config(MAX_COSIM_WEIGHTS, "fpga cosim")?;
    let mut params = BoardParams::for_config(&cfg);
    params.wgt_aw = a.wgt_aw;
    params.res_aw = a.res_aw;
    if params.act_aw > MAX_AW {
        bail!(
            "config max_k = {} needs 2^{} activation beats of {} activations; the board's RAMs hold at most 2^{MAX_AW} beats \
             (16-bit protocol addresses): lower max_k",
            cfg.max_k(),
            params.act_aw,
            cfg.k_tile()
        );
    }
    let shape = a.gemv.shape;
    params.check_gemv(&cfg, shape.k).map_err(|e| {
        anyhow::anyhow!(
            "--shape {shape} on the board top (--wgt-aw {}, --res-aw {}): {e}",
            a.wgt_aw,
            a.res_aw
        )
    })?;
    let design = board_design(&cfg, &params)?;
    let t = Instant::now();
    let lib = SimLibrary::build(&design)?;
    println!(
        "model      board top {} in {:.1} s",
        lib.status(),
        t.elapsed().as_secs_f64()
    );
    let uart = SimUart::new(lib.instantiate()?, params.baud_div)?;
    let what = format!("Verilated board top, baud divider {}", params.baud_div);
    gemv_on(BoardDriver::new(Box::new(uart)), &cfg, &a.gemv, &what)
}

fn gemv_on(
    mut d: BoardDriver<'_>,
    cfg: &ArrayConfig,
    g: &GemvArgs,
    what: &str,
) -> Result<ExitCode> {
    let (w, x) = g.problem(cfg)?;
    let info = d.check_config(cfg)?;
    println!(
        "board      {what}: clock {} MHz, buffers 2^{} act / 2^{} wgt / 2^{} res beats",
        info.clk_hz as f64 / 1e6,
        info.act_aw,
        info.wgt_aw,
        info.res_aw
    );
    println!("config     {cfg}");
    println!("shape      {} x {}, seed {}", w.rows(), w.cols(), g.seed);
    let t = Instant::now();
    let run = d.gemv(cfg, &w, &x)?;
    let wall = t.elapsed().as_secs_f64();
    let want: Vec<i64> = gemv_plain(&w, &x);
    let bad = run
        .results
        .iter()
        .zip(&want)
        .filter(|(h, s)| i64::from(**h) != **s)
        .count();
    let macs = (w.rows() * w.cols()) as f64;
    println!(
        "array      {} cycles in {} run(s): {:.2} MAC/cycle{}",
        run.cycles,
        run.runs,
        macs / run.cycles.max(1) as f64,
        if info.clk_hz > 0 {
            format!(
                ", {:.3} GOPS at {} MHz",
                2.0 * macs / (run.cycles as f64 / info.clk_hz as f64) / 1e9,
                info.clk_hz as f64 / 1e6
            )
        } else {
            String::new()
        }
    );
    println!(
        "uart       {} bytes out, {} bytes in, {wall:.2} s wall",
        run.bytes_out, run.bytes_in
    );
    if bad == 0 {
        println!(
            "check      all {} results match the software reference",
            want.len()
        );
        Ok(ExitCode::SUCCESS)
    } else {
        println!("check      MISMATCH in {bad} of {} results", want.len());
        Ok(ExitCode::from(1))
    }
}

#[cfg(test)]
mod tests {
    //! `fpga run` end to end over a real terminal: the command opens the slave
    //! of a pseudo-terminal pair as its serial port, and a thread bridges the
    //! master to the Verilated board top's UART pins. Every byte crosses the
    //! port settings of [`open_port`] (raw: no CR/LF or XON/XOFF handling).

    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicBool, Ordering};

    use clap::Parser;
    use serialport::{SerialPort, TTYPort};

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        run: RunArgs,
    }

    #[test]
    fn fpga_run_over_a_pseudo_terminal_to_the_verilated_board_is_bit_exact() {
        let cfg = lutcore_contract::config::preset("ice40").unwrap();
        // Small RAMs (the board_uart tests' build): 10x37 takes one run, 37x64 three.
        let params = BoardParams {
            act_aw: 6,
            wgt_aw: 7,
            res_aw: 3,
            baud_div: lutcore_sim::board::SIM_BAUD_DIV,
        };
        let lib = SimLibrary::build(&board_design(&cfg, &params).unwrap())
            .expect("Verilator build of the board top");
        let mut uart = SimUart::new(lib.instantiate().unwrap(), params.baud_div).unwrap();
        uart.timeout_cycles = 2_000; // one poll of the bridge
        let (mut master, slave) = TTYPort::pair().expect("pseudo-terminal pair");
        master.set_timeout(Duration::from_millis(1)).unwrap();
        let port = slave.name().expect("pty name");
        let done = AtomicBool::new(false);
        std::thread::scope(|s| {
            let bridge = s.spawn(|| {
                let mut buf = [0u8; 4096];
                while !done.load(Ordering::Relaxed) {
                    if let Ok(n) = master.read(&mut buf) {
                        uart.write_all(&buf[..n]).unwrap();
                    }
                    if let Ok(n) = uart.read(&mut buf) {
                        master.write_all(&buf[..n]).unwrap();
                    }
                }
            });
            for shape in ["10x37", "37x64"] {
                let cli =
                    Cli::try_parse_from(["run", "--port", &port, "--shape", shape, "--seed", "3"])
                        .unwrap();
                let code = cmd_run(&cli.run).unwrap_or_else(|e| panic!("{shape}: {e:#}"));
                assert_eq!(
                    code,
                    ExitCode::SUCCESS,
                    "{shape}: results differ from the reference"
                );
            }
            done.store(true, Ordering::Relaxed);
            bridge.join().unwrap();
        });
        drop(slave);
    }
}
