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
    fn ternary_codes() {
        let t = WeightType::Ternary;
        assert_eq!((t.min_value(), t.max_value()), (-1, 1));
        assert_eq!(t.code(-1), Some(0));
        assert_eq!(t.code(2), None);
        assert_eq!(t.value(2), 1);
    }
}
