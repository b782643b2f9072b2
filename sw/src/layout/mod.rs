//! CPU-kernel weight layouts: [`simd`] and [`ternary_native`] repack a
//! [`lutcore_contract::layout::WeightMatrix`] for the host kernels. The
//! canonical matrix, its bit planes and the hardware's stream beats are the
//! hardware contract, [`lutcore_contract::layout`].

pub mod simd;
pub mod ternary_native;
