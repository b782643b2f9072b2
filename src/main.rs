//! `lutcore`: the command line. This file defines the commands and their limits
//! and dispatches each to its module. Most commands wire the library crates
//! together (`lutcore_sw`: CPU kernels, BitNet models; `lutcore_gen`: Verilog;
//! `lutcore_sim`: Verilator co-simulation). Two carry logic of their own because
//! nothing else uses it: `regress` (its case generator and reports) and `dse`
//! (about 1.9k lines: the sweeps, yosys scripts, result files, tables and plots).
//!
//! * [`args`]: the arguments commands share (`--preset`/`--config`, `--shape MxK`).
//! * [`output`]: output files: checked before any work, written atomically.
//! * [`progress`]: the progress bar and spinner of long commands.
//! * [`gen_cmd`], [`testbench_cmd`]: `gen` and its `--testbench`.
//! * [`sim_cmd`]: `sim`, one GEMV on the Verilated array; [`simrun`]: `sim-model`,
//!   a BitNet forward pass on it.
//! * [`fpga`]: `fpga run|cosim`, GEMVs over the board's UART.
//! * [`model_cmd`]: `model synth`, `run`, `logits`.
//! * [`bench`]: `bench gemv`, CPU kernel timing against DRAM bandwidth and llama.cpp.
//! * [`regress`]: `regress`, the seeded random regression.
//! * [`dse`]: `dse`, the design-space exploration (yosys on iCE40, ECP5, an ASIC proxy).

mod args;
mod bench;
mod dse;
mod fpga;
mod gen_cmd;
mod int8_peak;
mod model_cmd;
mod output;
mod progress;
mod regress;
mod sim_cmd;
mod simrun;
mod testbench_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    /// Largest `--config` file (bytes): [`lutcore_contract::config::MAX_CONFIG_BYTES`].
    pub const MAX_CONFIG_BYTES: usize = lutcore_contract::config::MAX_CONFIG_BYTES;
}

#[derive(Parser)]
#[command(
    name = "lutcore",
    version,
    about = "LUT-based low-bit matmul: software reference, generated Verilog, Verilator co-simulation"
)]
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
    Gen(gen_cmd::GenArgs),
    /// Run a random GEMV through the Verilated RTL and the software reference.
    ///
    /// Builds the config's Verilog with Verilator (cached by its hash), streams
    /// int8 activations and the weight matrix through the array, and compares
    /// every result with the software LUT reference and a plain dot product.
    /// Exits with status 1 on any mismatch.
    Sim(sim_cmd::SimArgs),
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
    /// Time the CPU LUT kernels and the int8 prefill kernel on GEMV/GEMM
    /// shapes, cold (weights from DRAM) and hot, against the DRAM read
    /// bandwidth and this core's int8 multiply-add peak (both measured in the
    /// same run) and, with --peer, llama.cpp's kernels on the same shapes.
    ///
    /// Without --shape/--weights/--batch/--threads it runs the full matrix:
    /// BitNet-3B and -700M shapes plus 1000x1000, every weight format, batch 1
    /// and 8, 1 and 2 threads.
    Gemv(bench::BenchGemvArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Gen(a) => gen_cmd::cmd_gen(&a),
        Command::Sim(a) => sim_cmd::cmd_sim(&a),
        Command::Bench(BenchCommand::Gemv(a)) => bench::cmd_bench_gemv(&a),
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn long_help(path: &[&str]) -> String {
        let mut cmd = Cli::command();
        let mut sub = &mut cmd;
        for name in path {
            sub = sub
                .find_subcommand_mut(name)
                .unwrap_or_else(|| panic!("no subcommand {name}"));
        }
        sub.render_long_help().to_string()
    }

    #[test]
    fn help_texts_quote_the_limits() {
        let sim = long_help(&["sim"]);
        for v in [
            limits::MAX_DIM.to_string(),
            limits::MAX_WEIGHTS.to_string(),
            limits::MAX_SIM_REPEATS.to_string(),
            "max_k".into(),
        ] {
            assert!(
                sim.contains(&v),
                "`lutcore sim --help` does not say {v}:\n{sim}"
            );
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
            assert!(
                bench.contains(&v),
                "`lutcore bench gemv --help` does not say {v}:\n{bench}"
            );
        }
        let model = long_help(&["sim-model"]);
        assert!(
            model.contains(&limits::MAX_SIM_MODEL_TOKENS.to_string()),
            "{model}"
        );
        let gen = long_help(&["gen"]);
        assert!(
            gen.contains(&format!("{} MiB", limits::MAX_CONFIG_BYTES >> 20)),
            "{gen}"
        );
    }
}
