//! Writing GGUF v3 files: metadata of every type, tensors, alignment padding.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;

use super::codec::{encode_f32, encode_ternary};
use super::error::GgufError;
use super::types::GgmlType;
use super::value::{MetadataArray, MetadataValue};
use super::{align_up, ALIGNMENT_KEY, DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_VERSION, MAX_DIMS};

/// Builds a GGUF v3 file in memory and writes it out.
///
/// Metadata is written in insertion order, tensors in insertion order with
/// their data aligned to [`GgufWriter::alignment`] (zero padded). Setting an
/// alignment other than 32 also writes `general.alignment` (u32).
#[derive(Debug, Default)]
pub struct GgufWriter {
    metadata: Vec<(String, MetadataValue)>,
    tensors: Vec<PendingTensor>,
    names: HashSet<String>,
    alignment: Option<u32>,
}

#[derive(Debug)]
struct PendingTensor {
    name: String,
    dims: Vec<u64>,
    type_id: u32,
    data: Vec<u8>,
}

fn err(what: &str, detail: impl Into<String>) -> GgufError {
    GgufError::Writer {
        what: what.to_string(),
        detail: detail.into(),
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// Each element of `$v` as its little-endian bytes, in order: one expansion
/// for every numeric array type (they differ only in element type).
macro_rules! put_le_each {
    ($out:expr, $v:expr) => {
        $v.iter()
            .for_each(|x| $out.extend_from_slice(&x.to_le_bytes()))
    };
}

fn put_array(out: &mut Vec<u8>, a: &MetadataArray) {
    out.extend_from_slice(&(a.elem_type() as u32).to_le_bytes());
    out.extend_from_slice(&(a.len() as u64).to_le_bytes());
    match a {
        MetadataArray::U8(v) => out.extend_from_slice(v),
        MetadataArray::I8(v) => put_le_each!(out, v),
        MetadataArray::U16(v) => put_le_each!(out, v),
        MetadataArray::I16(v) => put_le_each!(out, v),
        MetadataArray::U32(v) => put_le_each!(out, v),
        MetadataArray::I32(v) => put_le_each!(out, v),
        MetadataArray::F32(v) => put_le_each!(out, v),
        MetadataArray::U64(v) => put_le_each!(out, v),
        MetadataArray::I64(v) => put_le_each!(out, v),
        MetadataArray::F64(v) => put_le_each!(out, v),
        MetadataArray::Bool(v) => v.iter().for_each(|&x| out.push(u8::from(x))),
        MetadataArray::String(v) => v.iter().for_each(|s| put_str(out, s)),
        MetadataArray::Array(v) => v.iter().for_each(|a| put_array(out, a)),
    }
}

fn put_value(out: &mut Vec<u8>, v: &MetadataValue) {
    out.extend_from_slice(&(v.value_type() as u32).to_le_bytes());
    match v {
        MetadataValue::U8(x) => out.push(*x),
        MetadataValue::I8(x) => out.extend_from_slice(&x.to_le_bytes()),
        MetadataValue::U16(x) => out.extend_from_slice(&x.to_le_bytes()),
        MetadataValue::I16(x) => out.extend_from_slice(&x.to_le_bytes()),
        MetadataValue::U32(x) => out.extend_from_slice(&x.to_le_bytes()),
        MetadataValue::I32(x) => out.extend_from_slice(&x.to_le_bytes()),
        MetadataValue::F32(x) => out.extend_from_slice(&x.to_le_bytes()),
        MetadataValue::Bool(x) => out.push(u8::from(*x)),
        MetadataValue::String(s) => put_str(out, s),
        MetadataValue::Array(a) => put_array(out, a),
        MetadataValue::U64(x) => out.extend_from_slice(&x.to_le_bytes()),
        MetadataValue::I64(x) => out.extend_from_slice(&x.to_le_bytes()),
        MetadataValue::F64(x) => out.extend_from_slice(&x.to_le_bytes()),
    }
}

impl GgufWriter {
    /// An empty writer (alignment 32).
    pub fn new() -> Self {
        Self::default()
    }

    /// A writer whose first key is `general.architecture = arch`.
    pub fn with_architecture(arch: &str) -> Self {
        let mut w = Self::new();
        w.metadata.push((
            super::ARCHITECTURE_KEY.to_string(),
            MetadataValue::String(arch.to_string()),
        ));
        w
    }

    /// A writer holding a copy of `f`: its metadata, alignment and tensors
    /// (raw bytes, same types), in file order — to write an edited copy with
    /// [`GgufWriter::set`], [`GgufWriter::remove`] and [`GgufWriter::replace_tensor`].
    pub fn copy_of(f: &super::GgufFile) -> Result<Self, GgufError> {
        let mut w = Self::new();
        for (key, value) in f.metadata() {
            if key == ALIGNMENT_KEY {
                let a = u32::try_from(f.alignment()).map_err(|_| {
                    err(key, format!("alignment {} does not fit u32", f.alignment()))
                })?;
                w.set_alignment(a)?;
            } else {
                w.add(key, value.clone())?;
            }
        }
        for info in f.tensor_infos() {
            let t = f.tensor(&info.name)?;
            w.add_raw_tensor(&info.name, &info.dims, info.ggml_type, t.data().to_vec())?;
        }
        Ok(w)
    }

    /// Set `key` to `value`: replaces an existing entry in place, else adds it.
    pub fn set(&mut self, key: &str, value: MetadataValue) -> Result<(), GgufError> {
        match self.metadata.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => {
                entry.1 = value;
                Ok(())
            }
            None => self.add(key, value),
        }
    }

    /// Remove `key`; whether it was there.
    pub fn remove(&mut self, key: &str) -> bool {
        let before = self.metadata.len();
        self.metadata.retain(|(k, _)| k != key);
        self.metadata.len() != before
    }

    /// Replace tensor `name` (keeping its place in the file) with new
    /// dimensions, type and bytes, checked as by [`GgufWriter::add_raw_tensor`].
    pub fn replace_tensor(
        &mut self,
        name: &str,
        dims: &[u64],
        ty: GgmlType,
        data: Vec<u8>,
    ) -> Result<(), GgufError> {
        let at = self
            .tensors
            .iter()
            .position(|t| t.name == name)
            .ok_or_else(|| err(name, "no such tensor to replace"))?;
        let old = self.tensors.remove(at);
        self.names.remove(name);
        if let Err(e) = self.add_raw_tensor(name, dims, ty, data) {
            self.names.insert(old.name.clone());
            self.tensors.insert(at, old);
            return Err(e);
        }
        if let Some(new) = self.tensors.pop() {
            self.tensors.insert(at, new);
        }
        Ok(())
    }

    /// Tensor data alignment in force.
    pub fn alignment(&self) -> u32 {
        self.alignment.unwrap_or(DEFAULT_ALIGNMENT)
    }

    /// Set the alignment (a power of two); writes `general.alignment`.
    pub fn set_alignment(&mut self, alignment: u32) -> Result<(), GgufError> {
        if !alignment.is_power_of_two() {
            return Err(err(
                ALIGNMENT_KEY,
                format!("{alignment} is not a power of two"),
            ));
        }
        self.alignment = Some(alignment);
        Ok(())
    }

    /// Add a metadata entry; the key must be new (`general.alignment` is set
    /// with [`GgufWriter::set_alignment`]).
    pub fn add(&mut self, key: &str, value: MetadataValue) -> Result<(), GgufError> {
        if key == ALIGNMENT_KEY {
            return match value {
                MetadataValue::U32(a) => self.set_alignment(a),
                other => Err(err(key, format!("must be u32, got {}", other.describe()))),
            };
        }
        if self.metadata.iter().any(|(k, _)| k == key) {
            return Err(err(key, "duplicate metadata key"));
        }
        self.metadata.push((key.to_string(), value));
        Ok(())
    }

    /// Add a string entry.
    pub fn add_str(&mut self, key: &str, v: &str) -> Result<(), GgufError> {
        self.add(key, MetadataValue::String(v.to_string()))
    }
    /// Add a u32 entry.
    pub fn add_u32(&mut self, key: &str, v: u32) -> Result<(), GgufError> {
        self.add(key, MetadataValue::U32(v))
    }
    /// Add an f32 entry.
    pub fn add_f32(&mut self, key: &str, v: f32) -> Result<(), GgufError> {
        self.add(key, MetadataValue::F32(v))
    }
    /// Add a bool entry.
    pub fn add_bool(&mut self, key: &str, v: bool) -> Result<(), GgufError> {
        self.add(key, MetadataValue::Bool(v))
    }
    /// Add an array entry.
    pub fn add_array(&mut self, key: &str, v: MetadataArray) -> Result<(), GgufError> {
        self.add(key, MetadataValue::Array(v))
    }

    /// Add a tensor of already-encoded bytes. `dims` is innermost first; the
    /// byte length must match the type's size when the type is known.
    pub fn add_raw_tensor(
        &mut self,
        name: &str,
        dims: &[u64],
        ty: GgmlType,
        data: Vec<u8>,
    ) -> Result<(), GgufError> {
        if dims.len() > MAX_DIMS {
            return Err(err(
                name,
                format!("{} dimensions, at most {MAX_DIMS}", dims.len()),
            ));
        }
        if self.names.contains(name) {
            return Err(err(name, "duplicate tensor name"));
        }
        let n = dims
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d))
            .ok_or_else(|| err(name, format!("element count of {dims:?} overflows")))?;
        let ne0 = dims.first().copied().unwrap_or(1);
        match ty.data_size(ne0, n) {
            Err(e) => return Err(err(name, e)),
            Ok(Some(size)) if size != data.len() as u64 => {
                return Err(err(
                    name,
                    format!(
                        "{} bytes given, {ty} with dims {dims:?} needs {size}",
                        data.len()
                    ),
                ))
            }
            _ => {}
        }
        self.names.insert(name.to_string());
        self.tensors.push(PendingTensor {
            name: name.to_string(),
            dims: dims.to_vec(),
            type_id: ty.id(),
            data,
        });
        Ok(())
    }

    fn check_len(name: &str, dims: &[u64], len: usize) -> Result<(), GgufError> {
        let n: u64 = dims.iter().product();
        if n != len as u64 {
            return Err(err(
                name,
                format!("{len} values given, dims {dims:?} hold {n}"),
            ));
        }
        Ok(())
    }

    /// Add a tensor from f32 values (row-major), encoded as `ty` (F32, F16,
    /// BF16, or quantized to TQ1_0 / TQ2_0 / I2_S with the reference quantizers).
    pub fn add_f32_tensor(
        &mut self,
        name: &str,
        dims: &[u64],
        values: &[f32],
        ty: GgmlType,
    ) -> Result<(), GgufError> {
        Self::check_len(name, dims, values.len())?;
        let data = encode_f32(values, ty).map_err(|e| err(name, e.to_string()))?;
        self.add_raw_tensor(name, dims, ty, data)
    }

    /// Add a ternary tensor (`values` in {-1, 0, 1}, row-major) with one scale,
    /// encoded as TQ1_0, TQ2_0 or I2_S.
    pub fn add_ternary_tensor(
        &mut self,
        name: &str,
        dims: &[u64],
        values: &[i8],
        scale: f32,
        ty: GgmlType,
    ) -> Result<(), GgufError> {
        Self::check_len(name, dims, values.len())?;
        let data = encode_ternary(values, scale, ty).map_err(|e| err(name, e.to_string()))?;
        self.add_raw_tensor(name, dims, ty, data)
    }

    /// The complete file.
    pub fn to_bytes(&self) -> Vec<u8> {
        let align = u64::from(self.alignment());
        let mut out = Vec::new();
        out.extend_from_slice(&GGUF_MAGIC);
        out.extend_from_slice(&GGUF_VERSION.to_le_bytes());
        out.extend_from_slice(&(self.tensors.len() as u64).to_le_bytes());
        let n_kv = self.metadata.len() + usize::from(self.alignment.is_some());
        out.extend_from_slice(&(n_kv as u64).to_le_bytes());
        for (k, v) in &self.metadata {
            put_str(&mut out, k);
            put_value(&mut out, v);
        }
        if let Some(a) = self.alignment {
            put_str(&mut out, ALIGNMENT_KEY);
            put_value(&mut out, &MetadataValue::U32(a));
        }
        let mut offset = 0u64;
        let mut offsets = Vec::with_capacity(self.tensors.len());
        for t in &self.tensors {
            put_str(&mut out, &t.name);
            out.extend_from_slice(&(t.dims.len() as u32).to_le_bytes());
            put_le_each!(out, t.dims);
            out.extend_from_slice(&t.type_id.to_le_bytes());
            out.extend_from_slice(&offset.to_le_bytes());
            offsets.push(offset);
            offset = align_up(offset + t.data.len() as u64, align).unwrap_or(u64::MAX);
        }
        let pad_to = |out: &mut Vec<u8>, len: u64| out.resize(len as usize, 0);
        let data_start = align_up(out.len() as u64, align).unwrap_or(u64::MAX);
        pad_to(&mut out, data_start);
        for (t, off) in self.tensors.iter().zip(offsets) {
            pad_to(&mut out, data_start + off);
            out.extend_from_slice(&t.data);
        }
        if !self.tensors.is_empty() {
            let end = align_up(out.len() as u64, align).unwrap_or(u64::MAX);
            pad_to(&mut out, end);
        }
        out
    }

    /// Write the file to `w`.
    pub fn write_to(&self, w: &mut impl Write) -> std::io::Result<()> {
        w.write_all(&self.to_bytes())
    }

    /// Write the file to `path`.
    pub fn write(&self, path: impl AsRef<Path>) -> Result<(), GgufError> {
        let path = path.as_ref();
        std::fs::write(path, self.to_bytes()).map_err(|source| GgufError::Io {
            file: path.to_path_buf(),
            action: "write",
            source,
        })
    }
}
