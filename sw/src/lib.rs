//! lutcore host software: number formats, the array config shared with the
//! generator and simulator, weight layouts, and the reference GEMVs.
#![warn(missing_docs)]

pub mod backend;
pub mod config;
pub mod dtype;
pub mod gguf;
pub mod kernels;
pub mod layout;
pub mod model;
pub mod reference;
pub mod tokenizer;

pub use config::{Arch, ArrayConfig, ConfigError, RawArrayConfig};
pub use dtype::{Activation, QuantizedActivations, WeightType};
pub use layout::{BitPlanes, WeightMatrix};
