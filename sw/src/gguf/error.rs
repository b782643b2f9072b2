//! The one error type of the GGUF module.

use std::path::PathBuf;

/// Everything that can go wrong reading, decoding or writing a GGUF file.
///
/// `file` is the path given to [`GgufFile::open`](super::GgufFile::open) (or
/// the name given to `from_bytes`, or the writer's output path).
#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    /// The operating system refused to open, map, read or write the file.
    #[error("{file}: {action}")]
    Io {
        /// The file.
        file: PathBuf,
        /// What was being done.
        action: &'static str,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The path names a directory, a FIFO or a device rather than a regular file.
    #[error("{file} is {kind}, not a GGUF file: pass the path of a .gguf model file")]
    NotAFile {
        /// The path.
        file: PathBuf,
        /// What it is instead (`a directory`, `not a regular file`).
        kind: &'static str,
    },
    /// The file does not start with `GGUF`.
    #[error("{file}: not a GGUF file: magic is {found:02x?}, expected \"GGUF\" (47 47 55 46)")]
    BadMagic {
        /// The file.
        file: PathBuf,
        /// The first bytes found.
        found: Vec<u8>,
    },
    /// A version other than 2 or 3.
    #[error("{file}: unsupported GGUF version {version} (expected 2 or 3{hint})")]
    UnsupportedVersion {
        /// The file.
        file: PathBuf,
        /// Version read.
        version: u32,
        /// Extra hint (e.g. big-endian).
        hint: &'static str,
    },
    /// The file ends before something it declares.
    #[error("{file}: truncated: {what} needs bytes {start}..{end} but the file has {len} bytes")]
    Truncated {
        /// The file.
        file: PathBuf,
        /// What was being read (names the key or tensor).
        what: String,
        /// First byte needed.
        start: u64,
        /// One past the last byte needed.
        end: u64,
        /// File length.
        len: u64,
    },
    /// A count in the file that the remaining bytes cannot hold.
    #[error("{file}: {what} is {count}, but at most {limit} fit in the remaining file")]
    AbsurdCount {
        /// The file.
        file: PathBuf,
        /// Which count (names the key or tensor).
        what: String,
        /// Count read.
        count: u64,
        /// Largest count the rest of the file could describe.
        limit: u64,
    },
    /// A metadata value type id outside 0..=12.
    #[error("{file}: metadata key `{key}` has unknown value type {type_id} (expected 0..=12)")]
    BadValueType {
        /// The file.
        file: PathBuf,
        /// The key.
        key: String,
        /// Type id read.
        type_id: u32,
    },
    /// A string that is not UTF-8.
    #[error("{file}: {what} is not valid UTF-8")]
    InvalidUtf8 {
        /// The file.
        file: PathBuf,
        /// Which string (key name, value of key, tensor name).
        what: String,
    },
    /// Arrays nested deeper than the reader accepts.
    #[error("{file}: metadata key `{key}` nests arrays deeper than {limit}")]
    NestingTooDeep {
        /// The file.
        file: PathBuf,
        /// The key.
        key: String,
        /// Deepest nesting accepted.
        limit: usize,
    },
    /// The same metadata key twice.
    #[error("{file}: duplicate metadata key `{key}`")]
    DuplicateKey {
        /// The file.
        file: PathBuf,
        /// The key.
        key: String,
    },
    /// The same tensor name twice.
    #[error("{file}: duplicate tensor name `{tensor}`")]
    DuplicateTensor {
        /// The file.
        file: PathBuf,
        /// The tensor.
        tensor: String,
    },
    /// `general.alignment` that is zero or not a power of two.
    #[error("{file}: general.alignment = {value}, expected a power of two")]
    BadAlignment {
        /// The file.
        file: PathBuf,
        /// Value read.
        value: u64,
    },
    /// A tensor whose data offset is not a multiple of the alignment.
    #[error("{file}: tensor `{tensor}` data offset {offset} is not a multiple of the alignment {alignment}")]
    Misaligned {
        /// The file.
        file: PathBuf,
        /// The tensor.
        tensor: String,
        /// Offset relative to the data section.
        offset: u64,
        /// Alignment in force.
        alignment: u64,
    },
    /// A tensor info that cannot describe a ggml tensor.
    #[error("{file}: tensor `{tensor}`: {detail}")]
    BadTensorInfo {
        /// The file.
        file: PathBuf,
        /// The tensor.
        tensor: String,
        /// What is wrong.
        detail: String,
    },
    /// A metadata key that is absent.
    #[error("{file}: missing metadata key `{key}`")]
    MissingKey {
        /// The file.
        file: PathBuf,
        /// The key.
        key: String,
    },
    /// A metadata key of another type than the caller asked for.
    #[error("{file}: metadata key `{key}` is {found}, expected {expected}")]
    WrongKeyType {
        /// The file.
        file: PathBuf,
        /// The key.
        key: String,
        /// Type asked for.
        expected: &'static str,
        /// Type found.
        found: String,
    },
    /// A metadata value out of the range the caller accepts.
    #[error("{file}: metadata key `{key}` = {value} does not fit {expected}")]
    ValueOutOfRange {
        /// The file.
        file: PathBuf,
        /// The key.
        key: String,
        /// The value, printed.
        value: String,
        /// Type asked for.
        expected: &'static str,
    },
    /// A tensor that is absent.
    #[error("{file}: missing tensor `{tensor}`")]
    MissingTensor {
        /// The file.
        file: PathBuf,
        /// The tensor.
        tensor: String,
    },
    /// A tensor whose shape is not the one expected.
    #[error("{file}: tensor `{tensor}` has shape {found:?}, expected {expected:?} (GGUF order, innermost first)")]
    WrongShape {
        /// The file.
        file: PathBuf,
        /// The tensor.
        tensor: String,
        /// Shape expected.
        expected: Vec<u64>,
        /// Shape found.
        found: Vec<u64>,
    },
    /// A tensor whose type the requested conversion does not handle.
    #[error(
        "{file}: tensor `{tensor}` has type {ggml_type}, but {conversion} needs one of {expected}"
    )]
    UnsupportedType {
        /// The file.
        file: PathBuf,
        /// The tensor.
        tensor: String,
        /// Its type.
        ggml_type: String,
        /// The conversion asked for.
        conversion: &'static str,
        /// Types the conversion handles.
        expected: &'static str,
    },
    /// Tensor data that its type cannot hold (e.g. code 3 in I2_S).
    #[error("{file}: tensor `{tensor}`: {detail}")]
    BadTensorData {
        /// The file.
        file: PathBuf,
        /// The tensor.
        tensor: String,
        /// What is wrong.
        detail: String,
    },
    /// A writer call with inconsistent arguments.
    #[error("GGUF writer: {what}: {detail}")]
    Writer {
        /// Key or tensor concerned.
        what: String,
        /// What is wrong.
        detail: String,
    },
}
