//! lutcore host software: CPU LUT kernels and their weight packings, the
//! GGUF reader, the BitNet model and its tokenizers, and activation
//! quantization. The hardware contract they build on (array config, number
//! formats, the canonical weight matrix, the reference GEMVs) is
//! `lutcore-contract`.
#![warn(missing_docs)]

pub mod backend;
pub mod dtype;
pub mod gguf;
pub mod kernels;
pub mod layout;
pub mod model;
pub mod tokenizer;

pub use dtype::QuantizedActivations;
