//! Fast LUT GEMV/GEMM kernels (T-MAC style) with run-time ISA dispatch.
//!
//! Shared vocabulary of every kernel: which instruction set runs
//! ([`Isa`]), how tables are stored ([`TableMode`]) and how ternary weights
//! are encoded ([`Scheme`]). All exact kernels are bit-exact against
//! [`lutcore_contract::reference::gemv_lut`] / [`lutcore_contract::reference::gemv_plain`].
//!
//! This module is also the one place that reads the CPU's features and the
//! `LUTCORE_KERNEL` switch: [`Isa::detect`] selects an ISA once per process,
//! and [`Dispatch`] says which ISA each [`SimdPath`] (these kernels and the
//! model's quantization, f32 and output-head code) runs for that selection.

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
mod error;
mod generic;
mod lut_gemm;
pub mod pool;
pub mod prefill;
mod quantized;
pub mod ternary_native;

pub use error::KernelError;
pub use lut_gemm::{
    block_bound, flush_blocks, shared_pool, KernelOptions, LutGemm, MAX_K, TABLE_BYTES,
};
pub use quantized::{MAX_ABS_ERROR_PER_LOOKUP, SCALE_GROUPS};

use std::sync::OnceLock;

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
    /// The AVX-512 kernels are not verified on AVX-512 hardware, so they are
    /// opt-in: set `LUTCORE_UNVERIFIED_AVX512=1` (read once per process) to
    /// make them available (the kernel tests then check them bit-exact).
    /// Without it, AVX-512 CPUs run AVX2.
    pub fn is_available(self) -> bool {
        let f = Features::get();
        match self {
            Isa::Generic => true,
            Isa::Avx2 => f.avx2,
            Isa::Avx512 => f.avx512,
        }
    }

    /// Every ISA this CPU can run, `Generic` first, fastest last.
    pub fn available() -> Vec<Isa> {
        [Isa::Generic, Isa::Avx2, Isa::Avx512]
            .into_iter()
            .filter(|i| i.is_available())
            .collect()
    }

    /// The ISA every SIMD path runs by default (see [`SimdPath`]): the fastest
    /// available one, unless env `LUTCORE_KERNEL=generic|avx2|avx512` asks for
    /// another. Decided once per process; an unknown or unavailable request
    /// prints one message to stderr and falls back to the fastest available
    /// ISA (never undefined behaviour).
    pub fn detect() -> Isa {
        static SELECTED: OnceLock<Isa> = OnceLock::new();
        *SELECTED.get_or_init(|| {
            let best = *Isa::available().last().unwrap_or(&Isa::Generic);
            match requested_isa() {
                Some((_, Ok(isa))) if isa.is_available() => isa,
                Some((v, Ok(isa))) => {
                    eprintln!(
                        "lutcore: LUTCORE_KERNEL={v}: {}; using {}",
                        KernelError::IsaUnavailable(isa),
                        best.name()
                    );
                    best
                }
                Some((_, Err(e))) => {
                    eprintln!("lutcore: {e}; using {}", best.name());
                    best
                }
                None => best,
            }
        })
    }
}

/// The non-empty value of env `LUTCORE_KERNEL` and the ISA it names (read
/// once per process).
fn requested_isa() -> Option<(String, Result<Isa, KernelError>)> {
    static REQUEST: OnceLock<Option<(String, Result<Isa, KernelError>)>> = OnceLock::new();
    REQUEST
        .get_or_init(|| match std::env::var("LUTCORE_KERNEL") {
            Ok(v) if !v.trim().is_empty() => {
                let isa = v.trim().parse::<Isa>();
                Some((v, isa))
            }
            _ => None,
        })
        .clone()
}

/// The CPU features the SIMD paths use, read once per process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Features {
    avx2: bool,
    fma: bool,
    f16c: bool,
    /// AVX-512 F, BW and VL, and the opt-in `LUTCORE_UNVERIFIED_AVX512` set.
    avx512: bool,
    /// AVX2 and AVX-VNNI (`vpdpbusd` on ymm, VEX).
    avxvnni: bool,
    /// AVX-512 F, BW and VNNI (no opt-in: the prefill kernels that use it
    /// are verified, see [`prefill`]).
    avx512vnni: bool,
    /// `LUTCORE_KERNEL` named an ISA (a cap on every path, the prefill
    /// kernel included), rather than leaving the choice to the CPU.
    requested: bool,
}

impl Features {
    fn get() -> Features {
        static FEATURES: OnceLock<Features> = OnceLock::new();
        *FEATURES.get_or_init(|| {
            #[cfg(target_arch = "x86_64")]
            {
                use std::arch::is_x86_feature_detected as has;
                Features {
                    avx2: has!("avx2"),
                    fma: has!("fma"),
                    f16c: has!("f16c"),
                    avx512: std::env::var_os("LUTCORE_UNVERIFIED_AVX512").is_some()
                        && has!("avx512f")
                        && has!("avx512bw")
                        && has!("avx512vl"),
                    avxvnni: has!("avx2") && has!("avxvnni"),
                    avx512vnni: has!("avx512f") && has!("avx512bw") && has!("avx512vnni"),
                    requested: matches!(requested_isa(), Some((_, Ok(_)))),
                }
            }
            #[cfg(not(target_arch = "x86_64"))]
            Features {
                avx2: false,
                fma: false,
                f16c: false,
                avx512: false,
                avxvnni: false,
                avx512vnni: false,
                requested: matches!(requested_isa(), Some((_, Ok(_)))),
            }
        })
    }
}

/// A code path with SIMD versions. Every path runs the ISA its [`Dispatch`]
/// was made for or, where it has no version for that ISA or needs a CPU
/// feature beyond the ISA's base, the fastest lower one it has
/// ([`Dispatch::isa`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SimdPath {
    /// Bit-plane LUT GEMM ([`Scheme::BitPlanes`]): generic, AVX2, AVX-512.
    LutGemm,
    /// Native ternary LUT GEMM ([`Scheme::TernaryNative`]): generic, AVX2
    /// (selected AVX-512 runs AVX2).
    TernaryNative,
    /// Per-token absmax int8 quantization of activations
    /// (`model::quant::QuantizedTokens::new`): generic, AVX2.
    Quantize,
    /// f32 dot product, `y += a·x` and SiLU·up (`model::f32ops`): generic,
    /// AVX2 when the CPU also has FMA.
    F32,
    /// f16·f32 dot product of the exact output head (`model::f32ops`):
    /// generic, AVX2 when the CPU also has F16C and FMA.
    F16Dot,
    /// int8·int16 dot product of the int8 output head (`model::head`): generic, AVX2.
    Int8Dot,
    /// Int8 multiply-add GEMM of a batch of tokens ([`prefill`]): generic,
    /// AVX2 (`vpmaddubsw`, or AVX-VNNI where the CPU has it), AVX-512 (VNNI);
    /// [`Dispatch::prefill`] names the kernel.
    Prefill,
}

impl SimdPath {
    /// Every path, for reports and tests.
    pub const ALL: [SimdPath; 7] = [
        SimdPath::LutGemm,
        SimdPath::TernaryNative,
        SimdPath::Quantize,
        SimdPath::F32,
        SimdPath::F16Dot,
        SimdPath::Int8Dot,
        SimdPath::Prefill,
    ];
}

/// Which ISA each [`SimdPath`] runs, resolved from one selected [`Isa`]
/// against this CPU's features. Only [`Dispatch::new`] makes one (it refuses
/// an unavailable ISA), so a path whose [`Dispatch::isa`] is not
/// [`Isa::Generic`] may rely on the CPU features that ISA's version needs.
/// The model's paths take a `Dispatch`; a [`LutGemm`] takes its ISA from
/// [`KernelOptions::isa`] (checked by [`LutGemm::new`]) and runs the kernel
/// `Dispatch::isa` names for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dispatch {
    selected: Isa,
    features: Features,
}

impl Dispatch {
    /// The paths of `isa`, which must be available ([`KernelError::IsaUnavailable`] otherwise).
    pub fn new(isa: Isa) -> Result<Dispatch, KernelError> {
        if !isa.is_available() {
            return Err(KernelError::IsaUnavailable(isa));
        }
        Ok(Dispatch {
            selected: isa,
            features: Features::get(),
        })
    }

    /// The ISA `path` runs. Every AVX-512 CPU has AVX2, so the paths without
    /// an AVX-512 version run their AVX2 one. The one exception to "no
    /// faster than selected": [`SimdPath::Prefill`] runs its AVX-512 VNNI
    /// kernel under a default AVX2 selection ([`Dispatch::prefill`]).
    #[inline]
    pub fn isa(&self, path: SimdPath) -> Isa {
        let f = &self.features;
        match (self.selected, path) {
            (_, SimdPath::Prefill) => self.prefill().isa(),
            (Isa::Generic, _) => Isa::Generic,
            (isa, SimdPath::LutGemm) => isa,
            (_, SimdPath::TernaryNative | SimdPath::Quantize | SimdPath::Int8Dot) if f.avx2 => {
                Isa::Avx2
            }
            (_, SimdPath::F32) if f.avx2 && f.fma => Isa::Avx2,
            (_, SimdPath::F16Dot) if f.avx2 && f.f16c && f.fma => Isa::Avx2,
            _ => Isa::Generic,
        }
    }

    /// The prefill kernel ([`SimdPath::Prefill`]) this selection runs:
    /// generic for [`Isa::Generic`]; otherwise the fastest the CPU has among
    /// AVX-512 VNNI, AVX-VNNI and AVX2. AVX-512 VNNI needs no opt-in (unlike
    /// the AVX-512 LUT kernels, the prefill kernels are verified on an
    /// AVX-512 VNNI CPU), so a selection of AVX2 runs it too, unless
    /// `LUTCORE_KERNEL=avx2` asked for AVX2 explicitly: then AVX-VNNI (ymm)
    /// is the fastest.
    pub fn prefill(&self) -> prefill::PrefillIsa {
        use prefill::PrefillIsa as P;
        let f = &self.features;
        let zmm = match self.selected {
            Isa::Generic => return P::Generic,
            Isa::Avx512 => true,
            Isa::Avx2 => !f.requested,
        };
        if zmm && f.avx512vnni {
            P::Avx512Vnni
        } else if f.avxvnni {
            P::AvxVnni
        } else if f.avx2 {
            P::Avx2
        } else {
            P::Generic
        }
    }
}

impl prefill::PrefillIsa {
    /// Whether this CPU (and build) can run this prefill kernel (no opt-in
    /// needed; see [`Dispatch::prefill`]).
    pub fn is_available(self) -> bool {
        use prefill::PrefillIsa as P;
        let f = Features::get();
        match self {
            P::Generic => true,
            P::Avx2 => f.avx2,
            P::AvxVnni => f.avxvnni,
            P::Avx512Vnni => f.avx512vnni,
        }
    }

    /// The kernel [`Isa::detect`]'s selection runs ([`Dispatch::prefill`]).
    pub fn detect() -> prefill::PrefillIsa {
        Dispatch::new(Isa::detect())
            .map(|d| d.prefill())
            .unwrap_or(prefill::PrefillIsa::Generic)
    }
}

/// Record that `path` ran on `isa`. Counted only in this crate's unit tests
/// (per thread, see [`ran`]), so a test can prove which code a selection
/// reached; a no-op otherwise.
#[inline(always)]
pub(crate) fn note(path: SimdPath, isa: Isa) {
    #[cfg(test)]
    ran::record(path, isa);
    #[cfg(not(test))]
    let _ = (path, isa);
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
    Isa::available()
        .iter()
        .map(|i| i.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The paths that ran on this thread, with their ISA (unit tests only).
#[cfg(test)]
pub(crate) mod ran {
    use super::{Isa, SimdPath};
    use std::cell::RefCell;
    use std::collections::BTreeSet;

    thread_local! {
        static RAN: RefCell<BTreeSet<(SimdPath, Isa)>> = const { RefCell::new(BTreeSet::new()) };
    }

    pub(crate) fn record(path: SimdPath, isa: Isa) {
        RAN.with(|r| r.borrow_mut().insert((path, isa)));
    }

    /// The (path, ISA) pairs recorded on this thread since the last call.
    pub(crate) fn take() -> BTreeSet<(SimdPath, Isa)> {
        RAN.with(|r| std::mem::take(&mut *r.borrow_mut()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Generic reaches generic code on every path; any other selection gives
    /// each path an ISA this CPU runs, no faster than the one selected (the
    /// prefill kernel: one this CPU runs, see [`Dispatch::prefill`]).
    #[test]
    fn every_path_runs_an_available_isa_no_faster_than_selected() {
        let generic = Dispatch::new(Isa::Generic).unwrap();
        assert!(SimdPath::ALL
            .iter()
            .all(|&p| generic.isa(p) == Isa::Generic));
        for isa in Isa::available() {
            let d = Dispatch::new(isa).unwrap();
            let k = d.prefill();
            assert!(k.is_available() && d.isa(SimdPath::Prefill) == k.isa());
            for p in SimdPath::ALL
                .into_iter()
                .filter(|&p| p != SimdPath::Prefill)
            {
                assert!(
                    d.isa(p).is_available() && d.isa(p) <= isa,
                    "{isa}: {p:?} runs {}",
                    d.isa(p)
                );
            }
        }
        for isa in [Isa::Avx2, Isa::Avx512] {
            if !isa.is_available() {
                assert_eq!(Dispatch::new(isa), Err(KernelError::IsaUnavailable(isa)));
            }
        }
    }
}
