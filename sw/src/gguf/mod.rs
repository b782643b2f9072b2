//! GGUF v3 files: reading (memory-mapped), decoding tensors to f32 or
//! ternary, and writing.
//!
//! This module owns everything about the GGUF container and the ggml tensor
//! encodings that BitNet b1.58 models use:
//!
//! * [`GgufFile`]: parse a file (v2 or v3, little endian), its metadata
//!   ([`MetadataValue`], typed getters), tensor infos ([`TensorInfo`]) and
//!   tensor data ([`TensorView`], raw bytes borrowed from the map).
//! * [`codec`]: F32 / F16 / BF16 to f32, and TQ1_0 / TQ2_0 / I2_S to ternary
//!   values ([`TernaryMatrix`]), plus the quantizers that write them
//!   (bit-exact with ggml's `quantize_row_tq{1,2}_0_ref` and bitnet.cpp's
//!   `quantize_i2_s`).
//! * [`GgufWriter`]: write metadata and tensors with alignment padding.
//!
//! Every error is a [`GgufError`] that names the file, the tensor or key and
//! what was expected. No byte sequence makes the reader panic or allocate
//! more than the file could describe: every count read from the file is
//! checked against the bytes that remain before anything is reserved.
//!
//! Shapes follow GGUF: `dims[0]` is the innermost (contiguous) dimension.
//! A 2-D weight with `dims = [cols, rows]` is `rows` rows of `cols` values.
//!
//! I2_S (bitnet.cpp) uses ggml type id 36, which upstream ggml assigned to a
//! since-removed type; the reader maps id 36 to [`GgmlType::I2S`] only when
//! `general.architecture` starts with `bitnet` and otherwise reports it as
//! [`GgmlType::Other`].

pub mod codec;
mod error;
mod reader;
mod types;
mod value;
mod writer;

pub use codec::{ternary_rows, TernaryMatrix, TernaryScale};
pub use error::GgufError;
pub use reader::{GgufFile, TensorInfo, TensorView};
pub use types::GgmlType;
pub use value::{MetadataArray, MetadataValue, ValueType};
pub use writer::GgufWriter;

/// The four bytes every GGUF file starts with.
pub const GGUF_MAGIC: [u8; 4] = *b"GGUF";
/// The version this module writes (it reads 2 and 3, which share a layout).
pub const GGUF_VERSION: u32 = 3;
/// Tensor data alignment when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: u32 = 32;
/// Metadata key holding the tensor data alignment (a u32 power of two).
pub const ALIGNMENT_KEY: &str = "general.alignment";
/// Metadata key holding the model architecture name.
pub const ARCHITECTURE_KEY: &str = "general.architecture";
/// Most dimensions a ggml tensor can have.
pub const MAX_DIMS: usize = 4;
/// Weights per TQ1_0 / TQ2_0 block (ggml's `QK_K`).
pub const QK_K: usize = 256;
/// Bytes per TQ1_0 block: `qs[48]`, `qh[4]`, `d` (f16).
pub const TQ1_0_BLOCK_BYTES: usize = 54;
/// Bytes per TQ2_0 block: `qs[64]`, `d` (f16).
pub const TQ2_0_BLOCK_BYTES: usize = 66;
/// Weights per I2_S block in bitnet.cpp's x86 layout (`QK_I2_S`).
pub const I2S_BLOCK: usize = 128;
/// Bytes after the packed I2_S codes: the f32 scale, padded to 32 bytes.
pub const I2S_TRAILER_BYTES: usize = 32;

/// Round `x` up to a multiple of `align` (a power of two), `None` on overflow.
pub(crate) fn align_up(x: u64, align: u64) -> Option<u64> {
    let mask = align - 1;
    x.checked_add(mask).map(|v| v & !mask)
}
