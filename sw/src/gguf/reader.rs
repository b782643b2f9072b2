//! Parsing a GGUF file: header, metadata, tensor infos, tensor data views.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use super::error::GgufError;
use super::types::GgmlType;
use super::value::{MetadataArray, MetadataValue, ValueType};
use super::{align_up, ALIGNMENT_KEY, ARCHITECTURE_KEY, DEFAULT_ALIGNMENT, GGUF_MAGIC, MAX_DIMS};

/// Deepest array-of-array nesting accepted in metadata.
const MAX_ARRAY_NESTING: usize = 4;

/// Where the bytes of a file live.
enum Backing {
    Map(Mmap),
    Owned(Vec<u8>),
}

impl Backing {
    fn bytes(&self) -> &[u8] {
        match self {
            Backing::Map(m) => m,
            Backing::Owned(v) => v,
        }
    }
}

/// One tensor's entry in the tensor info section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    /// Tensor name.
    pub name: String,
    /// Dimensions, innermost first (`dims[0]` is contiguous).
    pub dims: Vec<u64>,
    /// Data encoding.
    pub ggml_type: GgmlType,
    /// Offset of the data from the start of the data section.
    pub offset: u64,
    /// Number of elements (product of `dims`).
    pub n_elements: u64,
    /// Bytes of data: exact for known types; for unknown ids, the bytes up to
    /// the next tensor's data (or the end of the file).
    pub size: u64,
    /// Whether `size` comes from the type (false for unknown ids).
    pub size_known: bool,
}

/// A parsed GGUF file whose tensor data stays in the memory map.
pub struct GgufFile {
    path: PathBuf,
    backing: Backing,
    version: u32,
    metadata: Vec<(String, MetadataValue)>,
    key_index: HashMap<String, usize>,
    tensors: Vec<TensorInfo>,
    tensor_index: HashMap<String, usize>,
    alignment: u64,
    data_offset: u64,
}

impl std::fmt::Debug for GgufFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgufFile")
            .field("path", &self.path)
            .field("version", &self.version)
            .field("metadata_keys", &self.metadata.len())
            .field("tensors", &self.tensors.len())
            .field("alignment", &self.alignment)
            .field("data_offset", &self.data_offset)
            .finish()
    }
}

/// A tensor's raw data, borrowed from its [`GgufFile`].
#[derive(Clone, Copy, Debug)]
pub struct TensorView<'a> {
    file: &'a Path,
    info: &'a TensorInfo,
    data: &'a [u8],
}

impl<'a> TensorView<'a> {
    /// Build a view over `data` (e.g. bytes produced in memory); `file` only
    /// names the source in errors. Errors if `data` is not `info.size` bytes.
    pub fn new(file: &'a Path, info: &'a TensorInfo, data: &'a [u8]) -> Result<Self, GgufError> {
        if data.len() as u64 != info.size {
            return Err(GgufError::BadTensorData {
                file: file.to_path_buf(),
                tensor: info.name.clone(),
                detail: format!(
                    "{} bytes given, the tensor info says {}",
                    data.len(),
                    info.size
                ),
            });
        }
        Ok(TensorView { file, info, data })
    }
    /// The file the tensor came from (for error messages).
    pub fn file(&self) -> &'a Path {
        self.file
    }
    /// The tensor info.
    pub fn info(&self) -> &'a TensorInfo {
        self.info
    }
    /// Tensor name.
    pub fn name(&self) -> &'a str {
        &self.info.name
    }
    /// Data encoding.
    pub fn ggml_type(&self) -> GgmlType {
        self.info.ggml_type
    }
    /// Dimensions, innermost first.
    pub fn dims(&self) -> &'a [u64] {
        &self.info.dims
    }
    /// Raw data bytes.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }
    /// Number of elements.
    pub fn n_elements(&self) -> u64 {
        self.info.n_elements
    }
    /// Row length: `dims[0]` (1 for a 0-D tensor).
    pub fn cols(&self) -> u64 {
        self.info.dims.first().copied().unwrap_or(1)
    }
    /// Number of rows: the product of `dims[1..]`.
    pub fn rows(&self) -> u64 {
        self.info.dims.iter().skip(1).product()
    }
    /// Error unless the dimensions are exactly `dims` (innermost first).
    pub fn expect_shape(&self, dims: &[u64]) -> Result<(), GgufError> {
        if self.info.dims != dims {
            return Err(GgufError::WrongShape {
                file: self.file.to_path_buf(),
                tensor: self.info.name.clone(),
                expected: dims.to_vec(),
                found: self.info.dims.clone(),
            });
        }
        Ok(())
    }
    /// Decode F32, F16 or BF16 data to f32 (row-major, innermost first).
    pub fn to_f32(&self) -> Result<Vec<f32>, GgufError> {
        super::codec::to_f32(self)
    }
    /// Decode TQ1_0, TQ2_0 or I2_S data to ternary rows; see [`super::ternary_rows`].
    pub fn to_ternary(&self) -> Result<super::TernaryMatrix, GgufError> {
        super::codec::ternary_rows(self)
    }
}

/// A bounds-checked little-endian reader over the file bytes.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    file: &'a Path,
}

impl<'a> Cursor<'a> {
    fn remaining(&self) -> u64 {
        (self.buf.len() - self.pos) as u64
    }

    fn truncated(&self, what: String, need: u64) -> GgufError {
        GgufError::Truncated {
            file: self.file.to_path_buf(),
            what,
            start: self.pos as u64,
            end: (self.pos as u64).saturating_add(need),
            len: self.buf.len() as u64,
        }
    }

    fn take(&mut self, n: u64, what: &dyn Fn() -> String) -> Result<&'a [u8], GgufError> {
        if n > self.remaining() {
            return Err(self.truncated(what(), n));
        }
        let n = n as usize;
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self, what: &dyn Fn() -> String) -> Result<[u8; N], GgufError> {
        let s = self.take(N as u64, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    fn u32(&mut self, what: &dyn Fn() -> String) -> Result<u32, GgufError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &dyn Fn() -> String) -> Result<u64, GgufError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// Guard a count read from the file: a count larger than the whole file
    /// is [`GgufError::AbsurdCount`]; otherwise the result is a capacity to
    /// reserve, capped by what the remaining bytes can hold (`min_size` bytes
    /// per item), so a merely truncated file fails later with `Truncated`
    /// naming the item that is cut off.
    fn check_count(
        &self,
        count: u64,
        min_size: u64,
        what: &dyn Fn() -> String,
    ) -> Result<(usize, usize), GgufError> {
        let limit = self.remaining() / min_size.max(1);
        if count > limit && count > self.buf.len() as u64 {
            return Err(GgufError::AbsurdCount {
                file: self.file.to_path_buf(),
                what: what(),
                count,
                limit,
            });
        }
        // `count` is at most the buffer length here, so this fits usize.
        Ok((count as usize, count.min(limit) as usize))
    }

    fn string(&mut self, what: &dyn Fn() -> String) -> Result<String, GgufError> {
        let len = self.u64(&|| format!("{} (length)", what()))?;
        let bytes = self.take(len, what)?;
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_owned()),
            Err(_) => Err(GgufError::InvalidUtf8 {
                file: self.file.to_path_buf(),
                what: what(),
            }),
        }
    }
}

macro_rules! read_vec {
    ($cur:expr, $n:expr, $ty:ty, $what:expr) => {{
        const SZ: usize = std::mem::size_of::<$ty>();
        let bytes = $cur.take(($n as u64).saturating_mul(SZ as u64), $what)?;
        bytes
            .chunks_exact(SZ)
            .map(|c| {
                let mut a = [0u8; SZ];
                a.copy_from_slice(c);
                <$ty>::from_le_bytes(a)
            })
            .collect::<Vec<$ty>>()
    }};
}

fn read_scalar(
    cur: &mut Cursor<'_>,
    ty: ValueType,
    key: &str,
    depth: usize,
) -> Result<MetadataValue, GgufError> {
    let what = &|| format!("value of metadata key `{key}`");
    Ok(match ty {
        ValueType::U8 => MetadataValue::U8(cur.array::<1>(what)?[0]),
        ValueType::I8 => MetadataValue::I8(i8::from_le_bytes(cur.array(what)?)),
        ValueType::U16 => MetadataValue::U16(u16::from_le_bytes(cur.array(what)?)),
        ValueType::I16 => MetadataValue::I16(i16::from_le_bytes(cur.array(what)?)),
        ValueType::U32 => MetadataValue::U32(u32::from_le_bytes(cur.array(what)?)),
        ValueType::I32 => MetadataValue::I32(i32::from_le_bytes(cur.array(what)?)),
        ValueType::F32 => MetadataValue::F32(f32::from_le_bytes(cur.array(what)?)),
        ValueType::Bool => MetadataValue::Bool(cur.array::<1>(what)?[0] != 0),
        ValueType::String => MetadataValue::String(cur.string(what)?),
        ValueType::U64 => MetadataValue::U64(u64::from_le_bytes(cur.array(what)?)),
        ValueType::I64 => MetadataValue::I64(i64::from_le_bytes(cur.array(what)?)),
        ValueType::F64 => MetadataValue::F64(f64::from_le_bytes(cur.array(what)?)),
        ValueType::Array => MetadataValue::Array(read_array(cur, key, depth + 1)?),
    })
}

fn value_type(cur: &Cursor<'_>, id: u32, key: &str) -> Result<ValueType, GgufError> {
    ValueType::from_id(id).ok_or_else(|| GgufError::BadValueType {
        file: cur.file.to_path_buf(),
        key: key.to_string(),
        type_id: id,
    })
}

fn read_array(cur: &mut Cursor<'_>, key: &str, depth: usize) -> Result<MetadataArray, GgufError> {
    if depth > MAX_ARRAY_NESTING {
        return Err(GgufError::NestingTooDeep {
            file: cur.file.to_path_buf(),
            key: key.to_string(),
            limit: MAX_ARRAY_NESTING,
        });
    }
    let id = cur.u32(&|| format!("array element type of metadata key `{key}`"))?;
    let ty = value_type(cur, id, key)?;
    let count = cur.u64(&|| format!("array length of metadata key `{key}`"))?;
    let (n, cap) = cur.check_count(count, ty.min_size(), &|| {
        format!(
            "array length of metadata key `{key}` ({} elements)",
            ty.name()
        )
    })?;
    let what = &|| format!("array elements of metadata key `{key}`");
    Ok(match ty {
        ValueType::U8 => MetadataArray::U8(cur.take(n as u64, what)?.to_vec()),
        ValueType::I8 => MetadataArray::I8(read_vec!(cur, n, i8, what)),
        ValueType::U16 => MetadataArray::U16(read_vec!(cur, n, u16, what)),
        ValueType::I16 => MetadataArray::I16(read_vec!(cur, n, i16, what)),
        ValueType::U32 => MetadataArray::U32(read_vec!(cur, n, u32, what)),
        ValueType::I32 => MetadataArray::I32(read_vec!(cur, n, i32, what)),
        ValueType::F32 => MetadataArray::F32(read_vec!(cur, n, f32, what)),
        ValueType::U64 => MetadataArray::U64(read_vec!(cur, n, u64, what)),
        ValueType::I64 => MetadataArray::I64(read_vec!(cur, n, i64, what)),
        ValueType::F64 => MetadataArray::F64(read_vec!(cur, n, f64, what)),
        ValueType::Bool => {
            MetadataArray::Bool(cur.take(n as u64, what)?.iter().map(|&b| b != 0).collect())
        }
        ValueType::String => {
            let mut v = Vec::with_capacity(cap);
            for i in 0..n {
                v.push(cur.string(&|| format!("element {i} of metadata key `{key}`"))?);
            }
            MetadataArray::String(v)
        }
        ValueType::Array => {
            let mut v = Vec::with_capacity(cap);
            for _ in 0..n {
                v.push(read_array(cur, key, depth + 1)?);
            }
            MetadataArray::Array(v)
        }
    })
}

/// Whether `arch` is a BitNet architecture, whose files use bitnet.cpp's type ids.
pub(crate) fn is_bitnet_arch(arch: &str) -> bool {
    arch.to_ascii_lowercase().starts_with("bitnet")
}

impl GgufFile {
    /// Open and parse `path`, memory-mapping it.
    pub fn open(path: impl AsRef<Path>) -> Result<GgufFile, GgufError> {
        let path = path.as_ref().to_path_buf();
        let io = |action, source| GgufError::Io {
            file: path.clone(),
            action,
            source,
        };
        // Look before opening: mapping a directory fails with a baffling
        // "No such device", and opening a FIFO would block.
        let meta = std::fs::metadata(&path).map_err(|e| io("open", e))?;
        if meta.is_dir() {
            return Err(GgufError::NotAFile {
                file: path,
                kind: "a directory",
            });
        }
        if !meta.is_file() {
            return Err(GgufError::NotAFile {
                file: path,
                kind: "not a regular file (a FIFO, socket or device)",
            });
        }
        let file = File::open(&path).map_err(|e| io("open", e))?;
        let len = file.metadata().map_err(|e| io("stat", e))?.len();
        let backing = if len == 0 {
            Backing::Owned(Vec::new())
        } else {
            // SAFETY: the map is read-only; like every mmap-based reader we
            // rely on the file not being truncated or rewritten while open.
            Backing::Map(unsafe { Mmap::map(&file) }.map_err(|e| io("mmap", e))?)
        };
        Self::parse(path, backing)
    }

    /// Parse a file held in memory; `name` names it in errors.
    pub fn from_bytes(name: impl Into<PathBuf>, bytes: Vec<u8>) -> Result<GgufFile, GgufError> {
        Self::parse(name.into(), Backing::Owned(bytes))
    }

    fn parse(path: PathBuf, backing: Backing) -> Result<GgufFile, GgufError> {
        let buf = backing.bytes();
        let file_len = buf.len() as u64;
        let mut cur = Cursor {
            buf,
            pos: 0,
            file: &path,
        };
        let magic: [u8; 4] = match cur.array(&|| "magic".into()) {
            Ok(m) => m,
            Err(_) => {
                return Err(GgufError::BadMagic {
                    file: path.clone(),
                    found: buf.to_vec(),
                })
            }
        };
        if magic != GGUF_MAGIC {
            return Err(GgufError::BadMagic {
                file: path.clone(),
                found: magic.to_vec(),
            });
        }
        let version = cur.u32(&|| "header version".into())?;
        if version != 2 && version != 3 {
            let hint = if version.swap_bytes() <= 3 {
                "; this looks like a big-endian file"
            } else {
                ""
            };
            return Err(GgufError::UnsupportedVersion {
                file: path.clone(),
                version,
                hint,
            });
        }
        let n_tensors = cur.u64(&|| "header tensor count".into())?;
        let n_kv = cur.u64(&|| "header metadata count".into())?;
        // Smallest metadata entry: key length (8) + type (4) + 1 byte value.
        let (n_kv, cap) = cur.check_count(n_kv, 13, &|| "metadata key count".into())?;

        let mut metadata = Vec::with_capacity(cap);
        let mut key_index = HashMap::with_capacity(cap);
        for i in 0..n_kv {
            let key = cur.string(&|| format!("key of metadata entry {i}"))?;
            let id = cur.u32(&|| format!("value type of metadata key `{key}`"))?;
            let ty = value_type(&cur, id, &key)?;
            let value = read_scalar(&mut cur, ty, &key, 0)?;
            if key_index.insert(key.clone(), metadata.len()).is_some() {
                return Err(GgufError::DuplicateKey {
                    file: path.clone(),
                    key,
                });
            }
            metadata.push((key, value));
        }

        let alignment = match key_index.get(ALIGNMENT_KEY).map(|&i| &metadata[i].1) {
            None => u64::from(DEFAULT_ALIGNMENT),
            Some(v) => match v {
                MetadataValue::U8(_)
                | MetadataValue::U16(_)
                | MetadataValue::U32(_)
                | MetadataValue::U64(_)
                | MetadataValue::I8(_)
                | MetadataValue::I16(_)
                | MetadataValue::I32(_)
                | MetadataValue::I64(_) => {
                    let a = v.as_i128().unwrap_or(0);
                    if a <= 0 || a > (1 << 30) || (a as u64).count_ones() != 1 {
                        return Err(GgufError::BadAlignment {
                            file: path.clone(),
                            value: a.max(0) as u64,
                        });
                    }
                    a as u64
                }
                other => {
                    return Err(GgufError::WrongKeyType {
                        file: path.clone(),
                        key: ALIGNMENT_KEY.into(),
                        expected: "u32",
                        found: other.describe(),
                    })
                }
            },
        };
        let bitnet_fork = matches!(
            key_index.get(ARCHITECTURE_KEY).map(|&i| &metadata[i].1),
            Some(MetadataValue::String(a)) if is_bitnet_arch(a)
        );

        // Smallest tensor info: name length (8) + n_dims (4) + type (4) + offset (8).
        let (n_tensors, cap) = cur.check_count(n_tensors, 24, &|| "tensor count".into())?;
        let mut tensors = Vec::with_capacity(cap);
        let mut tensor_index = HashMap::with_capacity(cap);
        for i in 0..n_tensors {
            let name = cur.string(&|| format!("name of tensor info {i}"))?;
            let bad = |detail: String| GgufError::BadTensorInfo {
                file: path.clone(),
                tensor: name.clone(),
                detail,
            };
            let n_dims = cur.u32(&|| format!("dimension count of tensor `{name}`"))?;
            if n_dims as usize > MAX_DIMS {
                return Err(bad(format!(
                    "has {n_dims} dimensions, ggml allows at most {MAX_DIMS}"
                )));
            }
            let dims = read_vec!(cur, n_dims, u64, &|| format!(
                "dimensions of tensor `{name}`"
            ));
            let type_id = cur.u32(&|| format!("type of tensor `{name}`"))?;
            let offset = cur.u64(&|| format!("data offset of tensor `{name}`"))?;
            let n_elements = dims
                .iter()
                .try_fold(1u64, |acc, &d| acc.checked_mul(d))
                .filter(|&n| n <= i64::MAX as u64)
                .ok_or_else(|| bad(format!("element count of dims {dims:?} overflows")))?;
            let ggml_type = GgmlType::from_id(type_id, bitnet_fork);
            let ne0 = dims.first().copied().unwrap_or(1);
            let size = ggml_type
                .data_size(ne0, n_elements)
                .map_err(|e| bad(format!("{e} (dims {dims:?})")))?;
            if offset % alignment != 0 {
                return Err(GgufError::Misaligned {
                    file: path.clone(),
                    tensor: name,
                    offset,
                    alignment,
                });
            }
            if tensor_index.insert(name.clone(), tensors.len()).is_some() {
                return Err(GgufError::DuplicateTensor {
                    file: path.clone(),
                    tensor: name,
                });
            }
            tensors.push(TensorInfo {
                name,
                dims,
                ggml_type,
                offset,
                n_elements,
                size: size.unwrap_or(0),
                size_known: size.is_some(),
            });
        }

        let data_offset = if tensors.is_empty() {
            align_up(cur.pos as u64, alignment)
                .unwrap_or(u64::MAX)
                .min(file_len)
        } else {
            align_up(cur.pos as u64, alignment).unwrap_or(u64::MAX)
        };

        // Sizes of unknown types run to the next tensor's data or the end.
        let mut starts: Vec<u64> = tensors.iter().map(|t| t.offset).collect();
        starts.sort_unstable();
        for t in &mut tensors {
            let start = data_offset.checked_add(t.offset);
            if !t.size_known {
                let next = starts.iter().copied().find(|&s| s > t.offset);
                let end = match next {
                    Some(s) => data_offset.saturating_add(s).min(file_len),
                    None => file_len,
                };
                t.size = end.saturating_sub(start.unwrap_or(u64::MAX));
            }
            let end = start.and_then(|s| s.checked_add(t.size));
            match (start, end) {
                (Some(s), Some(e)) if e <= file_len && s <= file_len => {}
                _ => {
                    return Err(GgufError::Truncated {
                        file: path.clone(),
                        what: format!(
                            "data of tensor `{}` ({}, dims {:?})",
                            t.name, t.ggml_type, t.dims
                        ),
                        start: start.unwrap_or(u64::MAX),
                        end: end.unwrap_or(u64::MAX),
                        len: file_len,
                    })
                }
            }
        }

        Ok(GgufFile {
            path,
            backing,
            version,
            metadata,
            key_index,
            tensors,
            tensor_index,
            alignment,
            data_offset,
        })
    }

    /// The path (or name) the file was opened with.
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// GGUF version (2 or 3).
    pub fn version(&self) -> u32 {
        self.version
    }
    /// Tensor data alignment (`general.alignment`, default 32).
    pub fn alignment(&self) -> u64 {
        self.alignment
    }
    /// Absolute file offset of the tensor data section.
    pub fn data_offset(&self) -> u64 {
        self.data_offset
    }
    /// The whole file.
    pub fn bytes(&self) -> &[u8] {
        self.backing.bytes()
    }
    /// Metadata entries in file order.
    pub fn metadata(&self) -> &[(String, MetadataValue)] {
        &self.metadata
    }
    /// Tensor infos in file order.
    pub fn tensor_infos(&self) -> &[TensorInfo] {
        &self.tensors
    }
    /// The tensor info of `name`, if present.
    pub fn tensor_info(&self, name: &str) -> Option<&TensorInfo> {
        self.tensor_index.get(name).map(|&i| &self.tensors[i])
    }
    /// Whether `general.architecture` names a BitNet architecture (then
    /// ggml type id 36 is read as I2_S).
    pub fn is_bitnet_fork(&self) -> bool {
        matches!(self.get(ARCHITECTURE_KEY), Some(MetadataValue::String(a)) if is_bitnet_arch(a))
    }

    /// The data of tensor `name`.
    pub fn tensor(&self, name: &str) -> Result<TensorView<'_>, GgufError> {
        let info = self
            .tensor_info(name)
            .ok_or_else(|| GgufError::MissingTensor {
                file: self.path.clone(),
                tensor: name.to_string(),
            })?;
        // Bounds were checked at parse time; the `get` keeps this panic-free.
        let start = self.data_offset.saturating_add(info.offset);
        let end = start.saturating_add(info.size);
        let data = usize::try_from(start)
            .ok()
            .zip(usize::try_from(end).ok())
            .and_then(|(s, e)| self.bytes().get(s..e))
            .ok_or_else(|| GgufError::Truncated {
                file: self.path.clone(),
                what: format!("data of tensor `{name}`"),
                start,
                end,
                len: self.bytes().len() as u64,
            })?;
        Ok(TensorView {
            file: &self.path,
            info,
            data,
        })
    }

    /// The data of tensor `name`, which must have dimensions `dims` (innermost first).
    pub fn expect_shape(&self, name: &str, dims: &[u64]) -> Result<TensorView<'_>, GgufError> {
        let t = self.tensor(name)?;
        t.expect_shape(dims)?;
        Ok(t)
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&MetadataValue> {
        self.key_index.get(key).map(|&i| &self.metadata[i].1)
    }

    /// The value of `key`, or [`GgufError::MissingKey`].
    pub fn value(&self, key: &str) -> Result<&MetadataValue, GgufError> {
        self.get(key).ok_or_else(|| GgufError::MissingKey {
            file: self.path.clone(),
            key: key.to_string(),
        })
    }

    fn wrong(&self, key: &str, expected: &'static str, v: &MetadataValue) -> GgufError {
        GgufError::WrongKeyType {
            file: self.path.clone(),
            key: key.to_string(),
            expected,
            found: v.describe(),
        }
    }

    fn int<T: TryFrom<i128>>(&self, key: &str, expected: &'static str) -> Result<T, GgufError> {
        let v = self.value(key)?;
        let i = v.as_i128().ok_or_else(|| self.wrong(key, expected, v))?;
        T::try_from(i).map_err(|_| GgufError::ValueOutOfRange {
            file: self.path.clone(),
            key: key.to_string(),
            value: v.to_string(),
            expected,
        })
    }

    /// An optional key read with `get` (one of the typed getters): `None`
    /// when absent, the getter's error when present with the wrong type.
    pub fn opt<'a, T>(
        &'a self,
        key: &str,
        get: impl FnOnce(&'a Self, &str) -> Result<T, GgufError>,
    ) -> Result<Option<T>, GgufError> {
        self.get(key).map(|_| get(self, key)).transpose()
    }

    /// An integer key (of any integer type) that fits u32.
    pub fn get_u32(&self, key: &str) -> Result<u32, GgufError> {
        self.int(key, "u32")
    }
    /// An integer key (of any integer type) that fits u64.
    pub fn get_u64(&self, key: &str) -> Result<u64, GgufError> {
        self.int(key, "u64")
    }
    /// An integer key (of any integer type) that fits usize.
    pub fn get_usize(&self, key: &str) -> Result<usize, GgufError> {
        self.int(key, "usize")
    }
    /// An integer key (of any integer type) that fits i32.
    pub fn get_i32(&self, key: &str) -> Result<i32, GgufError> {
        self.int(key, "i32")
    }
    /// An integer key (of any integer type) that fits i64.
    pub fn get_i64(&self, key: &str) -> Result<i64, GgufError> {
        self.int(key, "i64")
    }
    /// A float key (f32, or f64 narrowed).
    pub fn get_f32(&self, key: &str) -> Result<f32, GgufError> {
        match self.value(key)? {
            MetadataValue::F32(v) => Ok(*v),
            MetadataValue::F64(v) => Ok(*v as f32),
            v => Err(self.wrong(key, "f32", v)),
        }
    }
    /// A float key (f32 widened, or f64).
    pub fn get_f64(&self, key: &str) -> Result<f64, GgufError> {
        match self.value(key)? {
            MetadataValue::F32(v) => Ok(f64::from(*v)),
            MetadataValue::F64(v) => Ok(*v),
            v => Err(self.wrong(key, "f64", v)),
        }
    }
    /// A bool key.
    pub fn get_bool(&self, key: &str) -> Result<bool, GgufError> {
        match self.value(key)? {
            MetadataValue::Bool(v) => Ok(*v),
            v => Err(self.wrong(key, "bool", v)),
        }
    }
    /// A string key.
    pub fn get_str(&self, key: &str) -> Result<&str, GgufError> {
        match self.value(key)? {
            MetadataValue::String(v) => Ok(v),
            v => Err(self.wrong(key, "string", v)),
        }
    }
    /// An array key of any element type.
    pub fn get_array(&self, key: &str) -> Result<&MetadataArray, GgufError> {
        match self.value(key)? {
            MetadataValue::Array(a) => Ok(a),
            v => Err(self.wrong(key, "array", v)),
        }
    }
    /// An array-of-string key (e.g. `tokenizer.ggml.tokens`).
    pub fn get_str_array(&self, key: &str) -> Result<&[String], GgufError> {
        match self.value(key)? {
            MetadataValue::Array(MetadataArray::String(a)) => Ok(a),
            v => Err(self.wrong(key, "array of string", v)),
        }
    }
    /// An array-of-f32 key (e.g. `tokenizer.ggml.scores`).
    pub fn get_f32_array(&self, key: &str) -> Result<&[f32], GgufError> {
        match self.value(key)? {
            MetadataValue::Array(MetadataArray::F32(a)) => Ok(a),
            v => Err(self.wrong(key, "array of f32", v)),
        }
    }
    /// An array-of-i32 key (e.g. `tokenizer.ggml.token_type`).
    pub fn get_i32_array(&self, key: &str) -> Result<&[i32], GgufError> {
        match self.value(key)? {
            MetadataValue::Array(MetadataArray::I32(a)) => Ok(a),
            v => Err(self.wrong(key, "array of i32", v)),
        }
    }
    /// An array-of-u32 key.
    pub fn get_u32_array(&self, key: &str) -> Result<&[u32], GgufError> {
        match self.value(key)? {
            MetadataValue::Array(MetadataArray::U32(a)) => Ok(a),
            v => Err(self.wrong(key, "array of u32", v)),
        }
    }
}
