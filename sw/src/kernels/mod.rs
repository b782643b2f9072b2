//! Fast LUT GEMV/GEMM kernels (T-MAC style) with run-time ISA dispatch.
//!
//! Shared vocabulary of every kernel: which instruction set runs
//! ([`Isa`]), how tables are stored ([`TableMode`]) and how ternary weights
//! are encoded ([`Scheme`]). All exact kernels are bit-exact against
//! [`crate::reference::gemv_lut`] / [`crate::reference::gemv_plain`].

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
pub mod pool;
pub mod prefill;
mod error;
pub mod ternary_native;
mod generic;
mod lut_gemm;
mod quantized;

pub use error::KernelError;
pub use lut_gemm::{block_bound, flush_blocks, shared_pool, KernelOptions, LutGemm, MAX_K, TABLE_BYTES};
pub use quantized::{MAX_ABS_ERROR_PER_LOOKUP, SCALE_GROUPS};

/// Instruction set of a kernel. `Generic` is portable Rust and always built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Isa {
    /// Portable Rust, any CPU.
    Generic,
    /// x86-64 AVX2 (`vpshufb` on 256-bit registers).
    Avx2,
    /// x86-64 AVX-512 (F, BW, VL; `vpshufb`/`vpermb` on 512-bit registers).
    Avx512,
}

/// How lookup tables are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TableMode {
    /// Exact integer tables: results equal the reference bit for bit.
    Exact,
    /// Lossy: tables quantized to int8 with a scale (as T-MAC does). A
    /// separate, named mode with its own error bound, never mixed with `Exact`.
    QuantizedInt8,
}

/// How ternary weights are encoded for the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Bit planes (ternary as 2-bit codes with zero point 1), g = 4 tables.
    BitPlanes,
    /// Native ternary: 3^g-entry tables, mirror-halved (bitnet.cpp TL-style).
    TernaryNative,
}

impl Isa {
    /// Short lower-case name, as accepted by the `LUTCORE_KERNEL` env variable.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Generic => "generic",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }

    /// Whether this CPU (and build) can run kernels of this ISA.
    ///
    /// The AVX-512 kernels have not yet run on AVX-512 hardware (every machine
    /// they were developed on lacked it), so they are opt-in until verified:
    /// set `LUTCORE_UNVERIFIED_AVX512=1` to make them available (the kernel
    /// tests then check them bit-exact). Without it, AVX-512 CPUs run AVX2.
    pub fn is_available(self) -> bool {
        match self {
            Isa::Generic => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => {
                std::env::var_os("LUTCORE_UNVERIFIED_AVX512").is_some()
                    && std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("avx512vl")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// Every ISA this CPU can run, `Generic` first, fastest last.
    pub fn available() -> Vec<Isa> {
        [Isa::Generic, Isa::Avx2, Isa::Avx512].into_iter().filter(|i| i.is_available()).collect()
    }

    /// The fastest available ISA, unless env `LUTCORE_KERNEL=generic|avx2|avx512`
    /// asks for another; an unknown or unavailable request prints a message to
    /// stderr and falls back to the fastest available ISA (never undefined behaviour).
    pub fn detect() -> Isa {
        let best = *Isa::available().last().unwrap_or(&Isa::Generic);
        match std::env::var("LUTCORE_KERNEL") {
            Ok(v) if !v.trim().is_empty() => match v.trim().parse::<Isa>() {
                Ok(isa) if isa.is_available() => isa,
                Ok(isa) => {
                    eprintln!("lutcore: LUTCORE_KERNEL={v}: {}; using {}", KernelError::IsaUnavailable(isa), best.name());
                    best
                }
                Err(e) => {
                    eprintln!("lutcore: {e}; using {}", best.name());
                    best
                }
            },
            _ => best,
        }
    }
}

impl std::fmt::Display for Isa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Isa {
    type Err = KernelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Isa::Generic, Isa::Avx2, Isa::Avx512]
            .into_iter()
            .find(|i| i.name() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| KernelError::InvalidOption {
                what: "ISA name",
                value: s.to_string(),
                hint: "expected generic, avx2 or avx512".into(),
            })
    }
}

/// Names of the available ISAs, comma separated (for messages).
pub(crate) fn isa_list() -> String {
    Isa::available().iter().map(|i| i.name()).collect::<Vec<_>>().join(", ")
}
