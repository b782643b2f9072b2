//! Fast LUT GEMV/GEMM kernels (T-MAC style) with run-time ISA dispatch.
//!
//! Shared vocabulary of every kernel: which instruction set runs
//! ([`Isa`]), how tables are stored ([`TableMode`]) and how ternary weights
//! are encoded ([`Scheme`]). All exact kernels are bit-exact against
//! [`crate::reference::gemv_lut`] / [`crate::reference::gemv_plain`].

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
