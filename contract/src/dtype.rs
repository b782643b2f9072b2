//! Weight and activation number formats, described once.
//!
//! A weight is stored as an unsigned *code* of `bits` bits; its value is
//! `code - zero_point`. Unsigned integers have zero point 0; ternary weights
//! (BitNet b1.58) are the codes {0, 1, 2} with zero point 1, i.e. the 2-plane
//! form used by T-MAC. Everything that packs, computes or generates hardware
//! asks this type for bits, zero point and the code range.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An integer activation element the reference GEMVs and the RTL streams
/// accept: int8 (BitNet's per-token absmax activations) or int16.
pub trait Activation: Copy + Default + Into<i32> + Send + Sync + 'static {
    /// Bits of the type (8 or 16).
    const BITS: u32;
}

impl Activation for i8 {
    const BITS: u32 = 8;
}

impl Activation for i16 {
    const BITS: u32 = 16;
}

/// The activation format an array takes: an integer (BitNet's absmax int8,
/// or int16) or a floating-point format ([`crate::fp`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ActType {
    /// Two's-complement int8.
    Int8,
    /// Two's-complement int16.
    Int16,
    /// IEEE binary16.
    Fp16,
    /// bfloat16.
    Bf16,
    /// OCP FP8 E4M3 (no infinities, max 448).
    Fp8E4m3,
    /// OCP FP8 E5M2.
    Fp8E5m2,
}

impl ActType {
    /// Every activation type, integers first.
    pub const ALL: [ActType; 6] = [
        ActType::Int8,
        ActType::Int16,
        ActType::Fp16,
        ActType::Bf16,
        ActType::Fp8E4m3,
        ActType::Fp8E5m2,
    ];
    /// The floating-point types.
    pub const FLOATS: [ActType; 4] = [
        ActType::Fp16,
        ActType::Bf16,
        ActType::Fp8E4m3,
        ActType::Fp8E5m2,
    ];

    /// The integer type of `bits` bits (8 or 16).
    pub fn int(bits: u32) -> Option<ActType> {
        match bits {
            8 => Some(ActType::Int8),
            16 => Some(ActType::Int16),
            _ => None,
        }
    }

    /// Bits per activation on the stream.
    pub fn bits(self) -> u32 {
        match self.float_format() {
            Some(f) => f.bits(),
            None if self == ActType::Int8 => 8,
            None => 16,
        }
    }

    /// The floating-point format, or `None` for the integers.
    pub fn float_format(self) -> Option<crate::fp::FpFormat> {
        use crate::fp;
        match self {
            ActType::Int8 | ActType::Int16 => None,
            ActType::Fp16 => Some(fp::FP16),
            ActType::Bf16 => Some(fp::BF16),
            ActType::Fp8E4m3 => Some(fp::E4M3),
            ActType::Fp8E5m2 => Some(fp::E5M2),
        }
    }

    /// Whether the type is a floating-point format.
    pub fn is_float(self) -> bool {
        self.float_format().is_some()
    }
}

impl fmt::Display for ActType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.float_format() {
            Some(fmt) => f.write_str(fmt.name),
            None => write!(f, "int{}", self.bits()),
        }
    }
}

/// Error for an activation type name that is not one of [`ActType::ALL`].
#[derive(Debug, thiserror::Error)]
#[error(
    "unknown activation type `{0}` (expected one of int8, int16, fp16, bf16, fp8-e4m3, fp8-e5m2)"
)]
pub struct ParseActTypeError(pub String);

impl FromStr for ActType {
    type Err = ParseActTypeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ActType::ALL
            .into_iter()
            .find(|t| t.to_string() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| ParseActTypeError(s.to_string()))
    }
}

impl Serialize for ActType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ActType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A low-bit weight format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WeightType {
    /// Unsigned integer of 1 to 4 bits: values `0 ..= 2^bits - 1`.
    Uint(u8),
    /// Ternary {-1, 0, +1}, stored as 2-bit codes {0, 1, 2} with zero point 1.
    Ternary,
}

impl WeightType {
    /// All weight types the toolkit supports, in a stable order.
    pub const ALL: [WeightType; 5] = [
        WeightType::Uint(1),
        WeightType::Uint(2),
        WeightType::Uint(3),
        WeightType::Uint(4),
        WeightType::Ternary,
    ];

    /// Bits per stored code (the number of bit planes).
    pub fn bits(self) -> u32 {
        match self {
            WeightType::Uint(b) => u32::from(b),
            WeightType::Ternary => 2,
        }
    }

    /// The value of code 0 is `-zero_point`.
    pub fn zero_point(self) -> i32 {
        match self {
            WeightType::Uint(_) => 0,
            WeightType::Ternary => 1,
        }
    }

    /// Largest valid code.
    pub fn max_code(self) -> u8 {
        match self {
            WeightType::Uint(b) => ((1u32 << b) - 1) as u8,
            WeightType::Ternary => 2,
        }
    }

    /// Coefficient `c` of the Σx correction in the bit-plane identity
    /// `w·x = ½(Σ_i 2^i (s_i·x) + c·Σx)` with signs `s_i = 2·bit_i - 1`:
    /// `c = 2^bits - 1 - 2·zero_point`.
    pub fn correction_coeff(self) -> i64 {
        (1i64 << self.bits()) - 1 - 2 * i64::from(self.zero_point())
    }

    /// Smallest representable value.
    pub fn min_value(self) -> i32 {
        -self.zero_point()
    }

    /// Largest representable value.
    pub fn max_value(self) -> i32 {
        i32::from(self.max_code()) - self.zero_point()
    }

    /// Value of a code.
    pub fn value(self, code: u8) -> i32 {
        i32::from(code) - self.zero_point()
    }

    /// Code of a value, or `None` if the value is not representable.
    pub fn code(self, value: i32) -> Option<u8> {
        (self.min_value()..=self.max_value())
            .contains(&value)
            .then(|| (value + self.zero_point()) as u8)
    }
}

impl fmt::Display for WeightType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WeightType::Uint(b) => write!(f, "uint{b}"),
            WeightType::Ternary => f.write_str("ternary"),
        }
    }
}

/// Error for a weight type name that is not one of [`WeightType::ALL`].
#[derive(Debug, thiserror::Error)]
#[error("unknown weight type `{0}` (expected one of uint1, uint2, uint3, uint4, ternary)")]
pub struct ParseWeightTypeError(pub String);

impl FromStr for WeightType {
    type Err = ParseWeightTypeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        WeightType::ALL
            .into_iter()
            .find(|t| t.to_string() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| ParseWeightTypeError(s.to_string()))
    }
}

impl Serialize for WeightType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for WeightType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for t in WeightType::ALL {
            assert_eq!(t.to_string().parse::<WeightType>().unwrap(), t);
        }
        let err = "int5".parse::<WeightType>().unwrap_err().to_string();
        assert!(err.contains("int5") && err.contains("ternary"), "{err}");
    }

    #[test]
    fn activation_names_round_trip() {
        for t in ActType::ALL {
            assert_eq!(t.to_string().parse::<ActType>().unwrap(), t);
        }
        assert_eq!(ActType::Fp8E4m3.to_string(), "fp8-e4m3");
        assert_eq!(ActType::Bf16.bits(), 16);
        assert!("fp4".parse::<ActType>().is_err());
    }

    #[test]
    fn ternary_codes() {
        let t = WeightType::Ternary;
        assert_eq!((t.min_value(), t.max_value()), (-1, 1));
        assert_eq!(t.code(-1), Some(0));
        assert_eq!(t.code(2), None);
        assert_eq!(t.value(2), 1);
    }
}
