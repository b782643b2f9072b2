//! lutcore's hardware contract: what a generated array is and how it is fed,
//! shared by the host software (`lutcore-sw`), the Verilog generator
//! (`lutcore-gen`) and the co-simulation (`lutcore-sim`).
//!
//! * [`config`]: [`ArrayConfig`], its validation, every derived width, the presets.
//! * [`dtype`]: the number formats ([`WeightType`], [`ActType`], the [`Activation`] trait).
//! * [`fp`]: the floating-point numerics (formats, rounding, the binary32 operations).
//! * [`layout`]: the canonical [`WeightMatrix`], its [`BitPlanes`], and the
//!   stream beats of the arrays ([`layout::rtl_weight_beats`], [`layout::rtl_act_beats`]).
//! * [`reference`](mod@reference): the golden GEMVs the arrays and kernels are checked against.
//! * [`interface`]: the stream interface every array top has, described once
//!   (names, directions, widths, docs), and the checks that hold a module's
//!   port list or a hand-written instance to it.
//!
//! * [`testing`] (feature `testing`): random problems for the tests of every crate.
//!
//! The crate has no threads, no file access and (outside `testing`) no
//! randomness: what the hardware is can be read here without the host
//! software around it.
#![warn(missing_docs)]

pub mod config;
pub mod dtype;
pub mod fp;
pub mod interface;
pub mod layout;
pub mod reference;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use config::{Accumulate, Arch, ArrayConfig, ConfigError, RawArrayConfig};
pub use dtype::{ActType, Activation, WeightType};
pub use interface::{Dir, StreamPort};
pub use layout::{BitPlanes, WeightMatrix};
