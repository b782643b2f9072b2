//! The one error type of every kernel in [`crate::kernels`]: construction
//! (validation, packing) and calls (shape checks).

use super::Isa;

/// Why a kernel could not be built or run. Every message says what was wrong,
/// the offending value, and what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KernelError {
    /// A combination of options and weights no kernel implements.
    #[error("unsupported kernel configuration: {0}")]
    Unsupported(String),
    /// Buffers or dimensions that do not match the packed weights.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// The requested instruction set is not available on this CPU (or build).
    #[error("instruction set {} is not available on this CPU (available: {}); pick one of those or use KernelOptions::best / Isa::detect", .0.name(), super::isa_list())]
    IsaUnavailable(Isa),
    /// A numeric option outside its valid range.
    #[error("invalid option {what} = {value}: {hint}")]
    InvalidOption {
        /// Which option.
        what: &'static str,
        /// The value given.
        value: String,
        /// What is allowed.
        hint: String,
    },
    /// The thread pool could not be created.
    #[error("could not build a thread pool of {threads} threads: {reason}")]
    ThreadPool {
        /// Requested threads.
        threads: usize,
        /// Error from the pool builder.
        reason: String,
    },
}
