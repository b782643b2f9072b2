//! ggml tensor type ids and their storage sizes.

use std::fmt;

/// The encoding of a tensor's data.
///
/// The types this crate decodes are named; every other id (upstream ggml's
/// Q4_0, Q8_K, … or ids nobody knows) is [`GgmlType::Other`] and can still be
/// read as raw bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GgmlType {
    /// 32-bit float (id 0).
    F32,
    /// IEEE half (id 1).
    F16,
    /// bfloat16 (id 30).
    BF16,
    /// Ternary, 5 trits per byte, 256-weight blocks of 54 bytes (id 34).
    TQ1_0,
    /// Ternary, 2-bit codes, 256-weight blocks of 66 bytes (id 35).
    TQ2_0,
    /// bitnet.cpp's ternary type: 2-bit codes, one f32 scale per tensor
    /// (id 36 in the bitnet.cpp fork of ggml only).
    I2S,
    /// Any other id.
    Other(u32),
}

/// Upstream ggml `(id, name, block size, bytes per block)` of the types that
/// are not decoded here but whose size is known (gguf-py 0.19's table).
const UPSTREAM: &[(u32, &str, u64, u64)] = &[
    (2, "Q4_0", 32, 18),
    (3, "Q4_1", 32, 20),
    (6, "Q5_0", 32, 22),
    (7, "Q5_1", 32, 24),
    (8, "Q8_0", 32, 34),
    (9, "Q8_1", 32, 40),
    (10, "Q2_K", 256, 84),
    (11, "Q3_K", 256, 110),
    (12, "Q4_K", 256, 144),
    (13, "Q5_K", 256, 176),
    (14, "Q6_K", 256, 210),
    (15, "Q8_K", 256, 292),
    (16, "IQ2_XXS", 256, 66),
    (17, "IQ2_XS", 256, 74),
    (18, "IQ3_XXS", 256, 98),
    (19, "IQ1_S", 256, 50),
    (20, "IQ4_NL", 32, 18),
    (21, "IQ3_S", 256, 110),
    (22, "IQ2_S", 256, 82),
    (23, "IQ4_XS", 256, 136),
    (24, "I8", 1, 1),
    (25, "I16", 1, 2),
    (26, "I32", 1, 4),
    (27, "I64", 1, 8),
    (28, "F64", 1, 8),
    (29, "IQ1_M", 256, 56),
    (39, "MXFP4", 32, 17),
    (40, "NVFP4", 64, 36),
    (41, "Q1_0", 128, 18),
];

impl GgmlType {
    /// Id of I2_S in bitnet.cpp's ggml fork.
    pub const I2S_ID: u32 = 36;

    /// The type of id `id`; `bitnet_fork` says whether id 36 means I2_S
    /// (decided by the file's architecture).
    pub fn from_id(id: u32, bitnet_fork: bool) -> Self {
        match id {
            0 => GgmlType::F32,
            1 => GgmlType::F16,
            30 => GgmlType::BF16,
            34 => GgmlType::TQ1_0,
            35 => GgmlType::TQ2_0,
            Self::I2S_ID if bitnet_fork => GgmlType::I2S,
            other => GgmlType::Other(other),
        }
    }

    /// The id stored in the file.
    pub fn id(self) -> u32 {
        match self {
            GgmlType::F32 => 0,
            GgmlType::F16 => 1,
            GgmlType::BF16 => 30,
            GgmlType::TQ1_0 => 34,
            GgmlType::TQ2_0 => 35,
            GgmlType::I2S => Self::I2S_ID,
            GgmlType::Other(id) => id,
        }
    }

    /// ggml's name of the type, or `type<id>` for an unknown id.
    pub fn name(self) -> String {
        match self {
            GgmlType::F32 => "F32".into(),
            GgmlType::F16 => "F16".into(),
            GgmlType::BF16 => "BF16".into(),
            GgmlType::TQ1_0 => "TQ1_0".into(),
            GgmlType::TQ2_0 => "TQ2_0".into(),
            GgmlType::I2S => "I2_S".into(),
            GgmlType::Other(id) => UPSTREAM
                .iter()
                .find(|e| e.0 == id)
                .map_or_else(|| format!("type{id}"), |e| e.1.to_string()),
        }
    }

    /// `(weights per block, bytes per block)` for block-structured types;
    /// `None` for I2_S (per-tensor trailer) and unknown ids.
    pub fn block_layout(self) -> Option<(u64, u64)> {
        match self {
            GgmlType::F32 => Some((1, 4)),
            GgmlType::F16 | GgmlType::BF16 => Some((1, 2)),
            GgmlType::TQ1_0 => Some((super::QK_K as u64, super::TQ1_0_BLOCK_BYTES as u64)),
            GgmlType::TQ2_0 => Some((super::QK_K as u64, super::TQ2_0_BLOCK_BYTES as u64)),
            GgmlType::I2S => None,
            GgmlType::Other(id) => UPSTREAM.iter().find(|e| e.0 == id).map(|e| (e.2, e.3)),
        }
    }

    /// Bytes of data for a tensor of this type with innermost dimension `ne0`
    /// and `n` elements in all. `Ok(None)` when the size is unknown (unknown
    /// id); `Err(reason)` when the shape does not fit the type.
    pub fn data_size(self, ne0: u64, n: u64) -> Result<Option<u64>, String> {
        if self == GgmlType::I2S {
            if !n.is_multiple_of(4) {
                return Err(format!("I2_S needs a multiple of 4 elements, has {n}"));
            }
            return Ok(Some(n / 4 + super::I2S_TRAILER_BYTES as u64));
        }
        let Some((blck, size)) = self.block_layout() else {
            return Ok(None);
        };
        if !ne0.is_multiple_of(blck) {
            return Err(format!(
                "{} needs dims[0] to be a multiple of {blck}, has {ne0}",
                self.name()
            ));
        }
        (n / blck)
            .checked_mul(size)
            .map(Some)
            .ok_or_else(|| format!("data size of {n} {} elements overflows u64", self.name()))
    }
}

impl fmt::Display for GgmlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (id {})", self.name(), self.id())
    }
}
