//! lutcore co-simulation: build a generated design with Verilator at run
//! time, load it into the process and drive it from Rust.
//!
//! * [`library`]: runs Verilator and the C++ compiler into a content-addressed
//!   cache and yields a [`SimLibrary`] (the loadable `.so`).
//! * [`shim`]: the `extern "C"` C++ shim compiled into that library, and the
//!   Rust types of its functions (both halves of the C ABI).
//! * [`model`]: [`SimModel`], a safe handle on one Verilated model instance.
//! * [`board`]: the FPGA board's UART protocol: host driver [`BoardDriver`]
//!   (any byte stream), the co-simulation board design and [`SimUart`].
//! * [`gemv`]: the stream protocol driver ([`run_gemm`], [`run_gemv`] on
//!   [`PackedWeights`]) and the convenience [`Simulator`] (config → design →
//!   library → model).
//! * [`fpcheck`]: random floating-point activations with the format's edge
//!   values, the contract's golden bits of a config, the error against f64.
//! * [`rtl_backend`]: [`RtlBackend`], the array as a
//!   `lutcore_sw::backend::Backend` with per-matmul cycle accounting and a
//!   bit-exact check against a CPU backend.
//!
//! ```no_run
//! # fn main() -> Result<(), lutcore_sim::SimError> {
//! let cfg = lutcore_contract::config::preset("tiny").expect("preset");
//! let mut sim = lutcore_sim::Simulator::new(&cfg)?;
//! let w = lutcore_contract::WeightMatrix::from_values(2, 3, cfg.weights(), &[0, 1, 2, 3, 2, 1])
//!     .expect("weights");
//! let run = sim.gemv(&w, &[1i8, -2, 3])?; // int8 activations (i16 for an int16 array)
//! assert_eq!(run.results, vec![4, 2]);
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

pub mod board;
pub mod coverage;
pub mod fpcheck;
pub mod gemv;
pub mod library;
pub mod model;
pub mod rtl_backend;
pub mod shim;

use std::path::PathBuf;

pub use board::{
    board_design, BoardDriver, BoardError, BoardGemv, BoardInfo, BoardParams, SimUart,
};
pub use gemv::{
    run_gemm, run_gemm_fp, run_gemv, run_gemv_fp, GemmRun, GemvRun, PackedWeights, Simulator,
};
pub use library::{cache_root, verilator_version, BuildOptions, BuildStatus, SimLibrary};
pub use model::{SimModel, StreamBeats, StreamFired, TraceSummary};
pub use rtl_backend::{
    CheckOutcome, CostModel, MatmulRecord, RtlBackend, RtlOptions, TraceRecord, TraceRequest,
    TraceSelect,
};
pub use shim::{TraceFormat, TRACE_CYCLE, TRACE_HALF_CYCLE};

/// Everything that can go wrong while building, loading or driving a model.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// Verilator (or another required tool) is not installed.
    #[error("`{tool}` was not found on PATH: {hint}")]
    ToolMissing {
        /// The program looked for.
        tool: String,
        /// How to install it.
        hint: String,
    },
    /// An external tool ran but failed.
    #[error("command failed ({status}): {command}\n--- stderr (tail) ---\n{stderr_tail}")]
    ToolFailed {
        /// The command line, as run.
        command: String,
        /// Exit status.
        status: String,
        /// The last lines of its standard error (and output).
        stderr_tail: String,
    },
    /// A file-system operation failed.
    #[error("{what} `{}`: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The shared library could not be loaded or lacks a shim symbol.
    #[error("loading simulation library `{}`: {source}", path.display())]
    Load {
        /// The library.
        path: PathBuf,
        /// The loader's error.
        #[source]
        source: libloading::Error,
    },
    /// The model could not be constructed.
    #[error("the Verilated model of `{top}` could not be constructed")]
    ModelCreate {
        /// Top module.
        top: String,
    },
    /// A port was named or used wrongly.
    #[error("port `{port}`: {detail}")]
    Port {
        /// The port name (or index).
        port: String,
        /// What was wrong.
        detail: String,
    },
    /// A GEMV whose shapes or types do not fit the array.
    #[error("GEMV does not fit the array: {0}")]
    Shape(String),
    /// A layout error from `lutcore_contract`.
    #[error(transparent)]
    Layout(#[from] lutcore_contract::layout::LayoutError),
    /// The design could not be generated.
    #[error(transparent)]
    Generate(#[from] lutcore_gen::GenError),
    /// A top or a hand-written instance lacks the stream interface.
    #[error(transparent)]
    Interface(#[from] lutcore_contract::interface::InterfaceError),
    /// A waveform trace could not be started.
    #[error("trace `{}`: {detail}", path.display())]
    Trace {
        /// The trace file.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// The design stopped making progress.
    #[error("simulation deadlock: no completion after {cycles} cycles ({detail})")]
    Deadlock {
        /// Cycles simulated.
        cycles: u64,
        /// State of the streams when giving up.
        detail: String,
    },
}
