//! Tensor encodings: decoding to f32 / ternary and the quantizers that write them.
//!
//! * TQ2_0 (ggml): blocks of 256 weights in 66 bytes, `qs[64]` then `d`
//!   (f16). Weight `h·128 + l·32 + j` is `((qs[h·32 + j] >> 2l) & 3) − 1`, times `d`.
//! * TQ1_0 (ggml): blocks of 256 weights in 54 bytes, `qs[48]`, `qh[4]`, `d`.
//!   Each byte holds 5 trits as a base-3 fixed-point fraction `q = ⌈t·256/243⌉`;
//!   trit `n` (most significant first) is `((q·3ⁿ mod 256)·3) >> 8`. Bytes
//!   `qs[0..32]` give weights `n·32 + m`, `qs[32..48]` give `160 + n·16 + m`,
//!   `qh[0..4]` give `240 + n·4 + j` (4 trits each).
//! * I2_S (bitnet.cpp, x86 layout, `QK_I2_S = 128`): the tensor, flattened
//!   row-major, in blocks of 128 weights of 32 bytes; weight `j` of a block
//!   is in byte `j mod 32` at bits `6 − 2·(j div 32)`, codes 0, 1, 2 meaning
//!   −1, 0, +1. After the `n/4` code bytes comes a 32-byte trailer whose
//!   first 4 bytes are the f32 scale of the whole tensor (this writer repeats
//!   it 8 times). This is `quantize_i2_s` / `ggml_vec_dot_i2_i8_s` in
//!   bitnet.cpp's `src/ggml-bitnet-mad.cpp` with `ACT_PARALLEL` (its
//!   default). The ARM build's 64-weight layout is not supported.
//!
//! The quantizers are bit-exact with ggml's `quantize_row_tq2_0_ref`,
//! `quantize_row_tq1_0_ref` (round half away from zero, `d` = block absmax
//! rounded to f16 with round-to-nearest-even) and bitnet.cpp's `quantize_i2_s`.

use half::{bf16, f16};

use super::error::GgufError;
use super::reader::TensorView;
use super::types::GgmlType;
use super::{I2S_BLOCK, I2S_TRAILER_BYTES, QK_K, TQ1_0_BLOCK_BYTES, TQ2_0_BLOCK_BYTES};
use lutcore_contract::dtype::WeightType;
use lutcore_contract::layout::{LayoutError, WeightMatrix};

/// The scale(s) of a ternary tensor: `weight = value · scale`.
#[derive(Clone, Debug, PartialEq)]
pub enum TernaryScale {
    /// One scale for the whole tensor (BitNet's definition: γ = mean|W|).
    PerTensor(f32),
    /// One scale per block of `block_len` consecutive weights (row-major);
    /// blocks never straddle rows.
    PerBlock {
        /// Weights per block (256 for TQ1_0 / TQ2_0).
        block_len: usize,
        /// Scale of each block.
        scales: Vec<f32>,
    },
}

/// A ternary weight matrix: `rows` rows of `cols` values in {-1, 0, 1}.
#[derive(Clone, Debug, PartialEq)]
pub struct TernaryMatrix {
    /// Rows (product of the GGUF dims after the first).
    pub rows: usize,
    /// Columns (GGUF `dims[0]`, the reduction length of a weight).
    pub cols: usize,
    /// Row-major values in {-1, 0, 1}.
    pub values: Vec<i8>,
    /// Dequantization scale(s).
    pub scale: TernaryScale,
}

impl TernaryMatrix {
    /// The per-tensor scale, if there is one.
    pub fn per_tensor_scale(&self) -> Option<f32> {
        match self.scale {
            TernaryScale::PerTensor(s) => Some(s),
            TernaryScale::PerBlock { .. } => None,
        }
    }

    /// Row `r` (panics if `r >= rows`).
    pub fn row(&self, r: usize) -> &[i8] {
        &self.values[r * self.cols..(r + 1) * self.cols]
    }

    /// `value · scale` for every weight, row-major.
    pub fn dequantize(&self) -> Vec<f32> {
        match &self.scale {
            TernaryScale::PerTensor(s) => self.values.iter().map(|&v| f32::from(v) * s).collect(),
            TernaryScale::PerBlock { block_len, scales } => self
                .values
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    f32::from(v) * scales.get(i / (*block_len).max(1)).copied().unwrap_or(0.0)
                })
                .collect(),
        }
    }

    /// The values as a [`WeightMatrix`] of [`WeightType::Ternary`] codes (scale dropped).
    pub fn to_weight_matrix(&self) -> Result<WeightMatrix, LayoutError> {
        // Ternary codes are value + 1; an out-of-range value becomes a code
        // that from_codes rejects with its position.
        let codes = self
            .values
            .iter()
            .map(|&x| x.wrapping_add(1) as u8)
            .collect();
        WeightMatrix::from_codes(self.rows, self.cols, WeightType::Ternary, codes)
    }
}

fn bad_data(t: &TensorView<'_>, detail: String) -> GgufError {
    GgufError::BadTensorData {
        file: t.file().to_path_buf(),
        tensor: t.name().to_string(),
        detail,
    }
}

fn n_usize(t: &TensorView<'_>, n: u64) -> Result<usize, GgufError> {
    usize::try_from(n)
        .map_err(|_| bad_data(t, format!("{n} elements do not fit this machine's usize")))
}

/// Check the data length against the type's size for `n` elements.
fn check_len(t: &TensorView<'_>, expected: u64) -> Result<(), GgufError> {
    if t.data().len() as u64 != expected {
        return Err(bad_data(
            t,
            format!(
                "{} data bytes, {} expects {expected}",
                t.data().len(),
                t.ggml_type()
            ),
        ));
    }
    Ok(())
}

fn f16_at(b: &[u8]) -> f32 {
    match b {
        [lo, hi, ..] => f16::from_le_bytes([*lo, *hi]).to_f32(),
        _ => 0.0,
    }
}

/// Decode a tensor to f32, row-major: F32, F16, BF16 exactly; TQ1_0, TQ2_0
/// and I2_S as `value · scale` (what ggml's dequantizers compute).
pub fn to_f32(t: &TensorView<'_>) -> Result<Vec<f32>, GgufError> {
    let n = n_usize(t, t.n_elements())?;
    let data = t.data();
    match t.ggml_type() {
        GgmlType::F32 => {
            check_len(t, n as u64 * 4)?;
            Ok(data
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect())
        }
        GgmlType::F16 => {
            check_len(t, n as u64 * 2)?;
            Ok(data
                .chunks_exact(2)
                .map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect())
        }
        GgmlType::BF16 => {
            check_len(t, n as u64 * 2)?;
            Ok(data
                .chunks_exact(2)
                .map(|c| bf16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect())
        }
        GgmlType::TQ1_0 | GgmlType::TQ2_0 | GgmlType::I2S => {
            Ok(decode_ternary(t, true)?.dequantize())
        }
        other => Err(GgufError::UnsupportedType {
            file: t.file().to_path_buf(),
            tensor: t.name().to_string(),
            ggml_type: other.to_string(),
            conversion: "decoding to f32",
            expected: "F32, F16, BF16, TQ1_0, TQ2_0, I2_S",
        }),
    }
}

/// Decode a ternary tensor (TQ1_0, TQ2_0, I2_S) to values in {-1, 0, 1} per
/// row plus its scale.
///
/// I2_S has one scale per tensor. For TQ1_0 / TQ2_0 the scale is the
/// per-tensor [`TernaryScale::PerTensor`] when every block that holds a
/// nonzero value has the same `d` (within one f16 ulp; all-zero blocks,
/// whose `d` ggml sets to 0, are ignored) — which is what converting a
/// BitNet model produces — and [`TernaryScale::PerBlock`] otherwise.
/// A TQ2_0 code 3 (value 2) or an I2_S code 3 is an error.
pub fn ternary_rows(t: &TensorView<'_>) -> Result<TernaryMatrix, GgufError> {
    decode_ternary(t, false)
}

fn decode_ternary(t: &TensorView<'_>, allow_code3: bool) -> Result<TernaryMatrix, GgufError> {
    let n = n_usize(t, t.n_elements())?;
    let cols = n_usize(t, t.cols())?;
    let rows = n.checked_div(cols).unwrap_or(0);
    let data = t.data();
    let mut values = vec![0i8; n];
    let scale = match t.ggml_type() {
        GgmlType::TQ2_0 => {
            check_len(t, (n / QK_K * TQ2_0_BLOCK_BYTES) as u64)?;
            let mut d = Vec::with_capacity(n / QK_K);
            for (b, (blk, out)) in data
                .chunks_exact(TQ2_0_BLOCK_BYTES)
                .zip(values.chunks_exact_mut(QK_K))
                .enumerate()
            {
                d.push(f16_at(&blk[64..]));
                for h in 0..2 {
                    for l in 0..4 {
                        for j in 0..32 {
                            let code = (blk[h * 32 + j] >> (2 * l)) & 3;
                            if code == 3 && !allow_code3 {
                                return Err(bad_data(
                                    t,
                                    format!("TQ2_0 block {b} weight {} has code 3 (value 2), not ternary", h * 128 + l * 32 + j),
                                ));
                            }
                            out[h * 128 + l * 32 + j] = code as i8 - 1;
                        }
                    }
                }
            }
            block_scale(&values, d)
        }
        GgmlType::TQ1_0 => {
            check_len(t, (n / QK_K * TQ1_0_BLOCK_BYTES) as u64)?;
            let mut d = Vec::with_capacity(n / QK_K);
            for (blk, out) in data
                .chunks_exact(TQ1_0_BLOCK_BYTES)
                .zip(values.chunks_exact_mut(QK_K))
            {
                d.push(f16_at(&blk[52..]));
                decode_tq1_0_block(blk, out);
            }
            block_scale(&values, d)
        }
        GgmlType::I2S => {
            if !n.is_multiple_of(I2S_BLOCK) {
                return Err(bad_data(
                    t,
                    format!("I2_S decoding needs a multiple of {I2S_BLOCK} elements, has {n}"),
                ));
            }
            check_len(t, (n / 4 + I2S_TRAILER_BYTES) as u64)?;
            for (b, (blk, out)) in data[..n / 4]
                .chunks_exact(32)
                .zip(values.chunks_exact_mut(I2S_BLOCK))
                .enumerate()
            {
                for (j, o) in out.iter_mut().enumerate() {
                    let code = (blk[j % 32] >> (6 - 2 * (j / 32))) & 3;
                    if code == 3 {
                        return Err(bad_data(
                            t,
                            format!("I2_S block {b} weight {j} has code 3, not ternary"),
                        ));
                    }
                    *o = code as i8 - 1;
                }
            }
            let s = &data[n / 4..n / 4 + 4];
            TernaryScale::PerTensor(f32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        }
        other => {
            return Err(GgufError::UnsupportedType {
                file: t.file().to_path_buf(),
                tensor: t.name().to_string(),
                ggml_type: other.to_string(),
                conversion: "ternary decoding",
                expected: "TQ1_0, TQ2_0, I2_S",
            })
        }
    };
    Ok(TernaryMatrix {
        rows,
        cols,
        values,
        scale,
    })
}

fn decode_tq1_0_block(blk: &[u8], out: &mut [i8]) {
    const POW3: [u8; 5] = [1, 3, 9, 27, 81];
    let trit = |q: u8, n: usize| ((u16::from(q.wrapping_mul(POW3[n])) * 3) >> 8) as i8 - 1;
    for n in 0..5 {
        for m in 0..32 {
            out[n * 32 + m] = trit(blk[m], n);
        }
        for m in 0..16 {
            out[160 + n * 16 + m] = trit(blk[32 + m], n);
        }
    }
    for n in 0..4 {
        for j in 0..4 {
            out[240 + n * 4 + j] = trit(blk[48 + j], n);
        }
    }
}

/// Per-tensor scale if all blocks with a nonzero value agree, else per block.
fn block_scale(values: &[i8], d: Vec<f32>) -> TernaryScale {
    let mut used = d
        .iter()
        .zip(values.chunks(QK_K))
        .filter(|(_, v)| v.iter().any(|&x| x != 0))
        .map(|(&d, _)| d);
    let Some(first) = used.next() else {
        return TernaryScale::PerTensor(d.iter().copied().fold(0.0, f32::max));
    };
    let tol = first.abs() * (1.0 / 1024.0);
    if used.all(|x| (x - first).abs() <= tol.max(x.abs() / 1024.0)) {
        TernaryScale::PerTensor(first)
    } else {
        TernaryScale::PerBlock {
            block_len: QK_K,
            scales: d,
        }
    }
}

fn writer_err(what: &str, detail: String) -> GgufError {
    GgufError::Writer {
        what: what.to_string(),
        detail,
    }
}

fn check_blocks(x_len: usize, block: usize, what: &str) -> Result<(), GgufError> {
    if !x_len.is_multiple_of(block) {
        return Err(writer_err(
            what,
            format!("{x_len} values is not a multiple of the block size {block}"),
        ));
    }
    Ok(())
}

/// ggml's `lroundf(v) + 1` as the reference quantizers compute it.
fn trit_code(v: f32) -> i32 {
    v.round() as i32 + 1
}

fn block_absmax(x: &[f32]) -> (f16, f32) {
    let amax = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let id = if amax != 0.0 { 1.0 / amax } else { 0.0 };
    (f16::from_f32(amax), id)
}

/// TQ2_0 bytes of `x` (length a multiple of 256), as `quantize_row_tq2_0_ref`.
pub fn quantize_tq2_0(x: &[f32]) -> Result<Vec<u8>, GgufError> {
    check_blocks(x.len(), QK_K, "TQ2_0 quantization")?;
    let mut out = Vec::with_capacity(x.len() / QK_K * TQ2_0_BLOCK_BYTES);
    for blk in x.chunks_exact(QK_K) {
        let (d, id) = block_absmax(blk);
        for half in blk.chunks_exact(128) {
            for m in 0..32 {
                let mut q = 0u8;
                for n in 0..4 {
                    let xi = trit_code(half[m + n * 32] * id);
                    q = q.wrapping_add(((xi & 3) as u8) << (2 * n));
                }
                out.push(q);
            }
        }
        out.extend_from_slice(&d.to_le_bytes());
    }
    Ok(out)
}

/// TQ1_0 bytes of `x` (length a multiple of 256), as `quantize_row_tq1_0_ref`.
pub fn quantize_tq1_0(x: &[f32]) -> Result<Vec<u8>, GgufError> {
    check_blocks(x.len(), QK_K, "TQ1_0 quantization")?;
    let ceil_div = |q: u8| (u16::from(q) * 256).div_ceil(243) as u8;
    let mut out = Vec::with_capacity(x.len() / QK_K * TQ1_0_BLOCK_BYTES);
    for blk in x.chunks_exact(QK_K) {
        let (d, id) = block_absmax(blk);
        let pack = |vals: &mut dyn Iterator<Item = f32>| {
            vals.fold(0u8, |q, v| {
                q.wrapping_mul(3).wrapping_add(trit_code(v * id) as u8)
            })
        };
        for m in 0..32 {
            out.push(ceil_div(pack(&mut (0..5).map(|n| blk[m + n * 32]))));
        }
        for m in 0..16 {
            out.push(ceil_div(pack(&mut (0..5).map(|n| blk[160 + m + n * 16]))));
        }
        for j in 0..4 {
            let q = pack(&mut (0..4).map(|n| blk[240 + j + n * 4]));
            out.push(ceil_div(q.wrapping_mul(3)));
        }
        out.extend_from_slice(&d.to_le_bytes());
    }
    Ok(out)
}

/// I2_S bytes of `x` (length a multiple of 128) as bitnet.cpp's
/// `quantize_i2_s`: scale = max|x|, code 1 where |x| < 1e-6, else the sign
/// (the input is meant to be already ternary · scale).
pub fn quantize_i2_s(x: &[f32]) -> Result<Vec<u8>, GgufError> {
    check_blocks(x.len(), I2S_BLOCK, "I2_S quantization")?;
    let max = x.iter().fold(0.0f64, |m, &v| m.max(f64::from(v).abs()));
    let codes = x.iter().map(|&v| {
        let v = f64::from(v);
        if v.abs() < 1e-6 {
            1
        } else if v * max > 0.0 {
            2
        } else {
            0
        }
    });
    Ok(pack_i2s_codes(codes, x.len(), max as f32))
}

fn pack_i2s_codes(codes: impl Iterator<Item = u8>, n: usize, scale: f32) -> Vec<u8> {
    let mut out = vec![0u8; n / 4];
    for (e, c) in codes.enumerate() {
        let (blk, j) = (e / I2S_BLOCK, e % I2S_BLOCK);
        out[blk * 32 + j % 32] |= c << (6 - 2 * (j / 32));
    }
    for _ in 0..I2S_TRAILER_BYTES / 4 {
        out.extend_from_slice(&scale.to_le_bytes());
    }
    out
}

fn check_ternary(values: &[i8], what: &str) -> Result<(), GgufError> {
    match values.iter().position(|v| !(-1..=1).contains(v)) {
        Some(i) => Err(writer_err(
            what,
            format!("value {} at index {i} is not in {{-1, 0, 1}}", values[i]),
        )),
        None => Ok(()),
    }
}

/// Encode ternary `values` with one `scale` as `ty` (TQ1_0, TQ2_0 or I2_S).
///
/// TQ blocks get `d = f16(|scale|)` (0 for an all-zero block) exactly as the
/// reference quantizer gives for input `value · scale`; a negative scale flips
/// the stored signs.
pub fn encode_ternary(values: &[i8], scale: f32, ty: GgmlType) -> Result<Vec<u8>, GgufError> {
    check_ternary(values, "ternary encoding")?;
    match ty {
        GgmlType::TQ1_0 | GgmlType::TQ2_0 => {
            let x: Vec<f32> = values.iter().map(|&v| f32::from(v) * scale).collect();
            if ty == GgmlType::TQ1_0 {
                quantize_tq1_0(&x)
            } else {
                quantize_tq2_0(&x)
            }
        }
        GgmlType::I2S => {
            check_blocks(values.len(), I2S_BLOCK, "I2_S encoding")?;
            Ok(pack_i2s_codes(
                values.iter().map(|&v| (v + 1) as u8),
                values.len(),
                scale,
            ))
        }
        other => Err(writer_err(
            "ternary encoding",
            format!("{other} is not a ternary type (TQ1_0, TQ2_0, I2_S)"),
        )),
    }
}

/// Encode f32 `x` as `ty`: F32, F16 and BF16 by rounding to nearest even,
/// TQ1_0 / TQ2_0 / I2_S with the reference quantizers above.
pub fn encode_f32(x: &[f32], ty: GgmlType) -> Result<Vec<u8>, GgufError> {
    match ty {
        GgmlType::F32 => Ok(x.iter().flat_map(|v| v.to_le_bytes()).collect()),
        GgmlType::F16 => Ok(x
            .iter()
            .flat_map(|&v| f16::from_f32(v).to_le_bytes())
            .collect()),
        GgmlType::BF16 => Ok(x
            .iter()
            .flat_map(|&v| bf16::from_f32(v).to_le_bytes())
            .collect()),
        GgmlType::TQ1_0 => quantize_tq1_0(x),
        GgmlType::TQ2_0 => quantize_tq2_0(x),
        GgmlType::I2S => quantize_i2_s(x),
        other => Err(writer_err(
            "f32 encoding",
            format!("cannot encode to {other}"),
        )),
    }
}
