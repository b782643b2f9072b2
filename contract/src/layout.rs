//! The canonical weight matrix and the layouts the hardware consumes (the
//! CPU kernels' own packings live in `lutcore-sw`'s `layout` module and start
//! from [`WeightMatrix`]).
//!
//! * [`WeightMatrix`]: row-major codes, the canonical form.
//! * [`BitPlanes`]: plane `i` of every weight, grouped by `g` along K: one
//!   `g`-bit table index per (plane, row, group). Bit `t` of an index is
//!   plane `i` of weight `group·g + t`. K is padded with zero bits.
//! * [`rtl_weight_beats`] / [`rtl_act_beats`]: the stream beats of the
//!   generated arrays, packed LSB first into 32-bit words.

use bitvec::prelude::*;

use crate::config::{Arch, ArrayConfig, RESULT_BITS};
use crate::dtype::{Activation, WeightType};

/// Errors from building a layout.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    /// A value that the weight type cannot represent.
    #[error("weight [{row}, {col}] = {value} is outside {wtype}'s range {lo}..={hi}")]
    ValueOutOfRange {
        /// Row of the bad weight.
        row: usize,
        /// Column of the bad weight.
        col: usize,
        /// The value.
        value: i32,
        /// The weight type.
        wtype: WeightType,
        /// Smallest allowed value.
        lo: i32,
        /// Largest allowed value.
        hi: i32,
    },
    /// Data length does not match the declared shape.
    #[error("weight data has {len} values but the shape {rows}x{cols} needs {}", rows * cols)]
    ShapeMismatch {
        /// Declared rows.
        rows: usize,
        /// Declared columns.
        cols: usize,
        /// Values given.
        len: usize,
    },
    /// A matrix or vector that does not fit the array config.
    #[error("{what}: {detail}")]
    DoesNotFit {
        /// What did not fit.
        what: &'static str,
        /// Why.
        detail: String,
    },
}

/// A row-major matrix of weight codes (`value = code - zero_point`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WeightMatrix {
    rows: usize,
    cols: usize,
    wtype: WeightType,
    codes: Vec<u8>,
}

impl WeightMatrix {
    /// Build from signed values; every value must be representable.
    pub fn from_values(
        rows: usize,
        cols: usize,
        wtype: WeightType,
        values: &[i32],
    ) -> Result<Self, LayoutError> {
        if values.len() != rows * cols {
            return Err(LayoutError::ShapeMismatch {
                rows,
                cols,
                len: values.len(),
            });
        }
        let codes = values
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                wtype.code(v).ok_or(LayoutError::ValueOutOfRange {
                    row: i / cols.max(1),
                    col: i % cols.max(1),
                    value: v,
                    wtype,
                    lo: wtype.min_value(),
                    hi: wtype.max_value(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(WeightMatrix {
            rows,
            cols,
            wtype,
            codes,
        })
    }

    /// Build from codes (`value = code - zero_point`); every code must be
    /// at most the type's largest code. Faster than [`Self::from_values`] for
    /// large matrices read from files.
    pub fn from_codes(
        rows: usize,
        cols: usize,
        wtype: WeightType,
        codes: Vec<u8>,
    ) -> Result<Self, LayoutError> {
        if codes.len() != rows * cols {
            return Err(LayoutError::ShapeMismatch {
                rows,
                cols,
                len: codes.len(),
            });
        }
        let max = wtype.max_code();
        if let Some(i) = codes.iter().position(|&c| c > max) {
            return Err(LayoutError::ValueOutOfRange {
                row: i / cols.max(1),
                col: i % cols.max(1),
                value: wtype.value(codes[i]),
                wtype,
                lo: wtype.min_value(),
                hi: wtype.max_value(),
            });
        }
        Ok(WeightMatrix {
            rows,
            cols,
            wtype,
            codes,
        })
    }

    /// Output rows (M).
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Reduction length (K).
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// Weight format.
    pub fn wtype(&self) -> WeightType {
        self.wtype
    }
    /// Code at (row, col).
    pub fn code(&self, row: usize, col: usize) -> u8 {
        self.codes[row * self.cols + col]
    }
    /// Signed value at (row, col).
    pub fn value(&self, row: usize, col: usize) -> i32 {
        self.wtype.value(self.code(row, col))
    }
}

/// Bit planes grouped by `g`: `index(plane, row, group)` is a `g`-bit table index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BitPlanes {
    /// Number of planes (weight bits).
    pub planes: usize,
    /// Rows (M).
    pub rows: usize,
    /// Groups along K: `ceil(K / g)`.
    pub groups: usize,
    /// Group size.
    pub g: usize,
    /// Indices, `[plane][row][group]` flattened.
    indices: Vec<u8>,
}

impl BitPlanes {
    /// Split `w` into planes, grouping K by `g` (1..=8) and padding with zeros.
    pub fn new(w: &WeightMatrix, g: usize) -> Self {
        assert!((1..=8).contains(&g), "group size {g} outside 1..=8");
        let planes = w.wtype().bits() as usize;
        let groups = w.cols().div_ceil(g);
        let mut indices = vec![0u8; planes * w.rows() * groups];
        for p in 0..planes {
            for r in 0..w.rows() {
                for c in 0..w.cols() {
                    let bit = (w.code(r, c) >> p) & 1;
                    indices[(p * w.rows() + r) * groups + c / g] |= bit << (c % g);
                }
            }
        }
        BitPlanes {
            planes,
            rows: w.rows(),
            groups,
            g,
            indices,
        }
    }

    /// The `g`-bit table index of (plane, row, group).
    pub fn index(&self, plane: usize, row: usize, group: usize) -> u8 {
        self.indices[(plane * self.rows + row) * self.groups + group]
    }
}

/// One stream beat, LSB first in 32-bit words.
pub type Beat = Vec<u32>;

fn words(bits: &BitVec<u32, Lsb0>) -> Beat {
    bits.as_raw_slice().to_vec()
}

/// Number of K-tiles an array needs for reduction length `k`.
pub fn k_tiles(cfg: &ArrayConfig, k: usize) -> usize {
    k.div_ceil(cfg.k_tile()).max(1)
}

/// Check that a `rows x k` matmul can run on `cfg` (K within the accumulator range).
pub fn check_fits(cfg: &ArrayConfig, k: usize) -> Result<(), LayoutError> {
    let max_k = cfg.max_k();
    if k == 0 || k > max_k {
        return Err(LayoutError::DoesNotFit {
            what: "reduction length K",
            detail: if k == 0 {
                "K = 0: a matmul needs K of at least 1".to_string()
            } else {
                format!(
                    "K = {k} is more than the config's max_k = {max_k} (its accumulators are sized for K in 1..={max_k}): \
                     use a K of at most {max_k}, or a config with max_k of at least {k}"
                )
            },
        });
    }
    Ok(())
}

/// Check that activations of type `A` fit the array's `act_bits`.
pub fn check_activations<A: Activation>(cfg: &ArrayConfig) -> Result<(), LayoutError> {
    if A::BITS > cfg.act_bits() {
        return Err(LayoutError::DoesNotFit {
            what: "activations",
            detail: format!(
                "int{} activations on an array built for int{} (config field act_bits)",
                A::BITS,
                cfg.act_bits()
            ),
        });
    }
    Ok(())
}

/// Bit offset of activation `e` (0..k_tile) of token `n` (0..tokens) in an
/// activation beat: the tokens' K-tiles side by side, token `n`'s at
/// `[n·token_act_bits, (n+1)·token_act_bits)`, activation `e` of it at
/// `e·act_bits` within. With one token, activation `e` sits at `e·act_bits`.
pub fn act_lane(cfg: &ArrayConfig, n: usize, e: usize) -> usize {
    n * cfg.token_act_bits() as usize + e * cfg.act_bits() as usize
}

/// Bit offset of row `r`'s result for token `n` in a result beat: each row's
/// results of all tokens side by side, `[(r·tokens + n)·32 +: 32]`, so that a
/// row's processing element drives one contiguous field. With one token, row
/// `r` sits at `32r`.
pub fn result_lane(cfg: &ArrayConfig, r: usize, n: usize) -> usize {
    (r * cfg.tokens() + n) * RESULT_BITS as usize
}

/// Activation beats for one GEMV: `k_tiles` beats of `k_tile` activations,
/// activation `t` of a beat at bits `[t·act_bits, (t+1)·act_bits)`, zero padded.
/// An int8 vector may go to an int16 array (sign-extended); int16 to an int8
/// array is refused by [`check_activations`]. On an array with several tokens
/// per pass, `x` is token 0 and the other tokens are zero ([`rtl_act_beats_batch`]).
pub fn rtl_act_beats<A: Activation>(cfg: &ArrayConfig, x: &[A]) -> Vec<Beat> {
    rtl_act_beats_batch(cfg, &[x])
}

/// Activation beats of one pass of up to `cfg.tokens()` vectors of the same
/// length K: beat `i` holds K-tile `i` of token `n = 0..xs.len()` at
/// [`act_lane`]; missing tokens and K padding are zero.
pub fn rtl_act_beats_batch<A: Activation>(cfg: &ArrayConfig, xs: &[&[A]]) -> Vec<Beat> {
    // store_le keeps the low act_bits bits: the two's-complement lane.
    act_beats(cfg, xs, |x, i| {
        let v: i32 = x.get(i).copied().unwrap_or_default().into();
        v as u32
    })
}

/// Activation beats of floating-point activations: `x` holds the raw codes of
/// the config's format (`act_bits` each), laid out and padded (+0) as
/// [`rtl_act_beats`] lays out integers.
pub fn rtl_fp_act_beats(cfg: &ArrayConfig, x: &[u32]) -> Vec<Beat> {
    rtl_fp_act_beats_batch(cfg, &[x])
}

/// [`rtl_act_beats_batch`] for floating-point codes (missing ones +0).
pub fn rtl_fp_act_beats_batch(cfg: &ArrayConfig, xs: &[&[u32]]) -> Vec<Beat> {
    act_beats(cfg, xs, |x, i| x.get(i).copied().unwrap_or(0))
}

fn act_beats<T>(cfg: &ArrayConfig, xs: &[&[T]], lane: impl Fn(&[T], usize) -> u32) -> Vec<Beat> {
    assert!(
        xs.len() <= cfg.tokens(),
        "{} activation vectors for one pass of {} token(s)",
        xs.len(),
        cfg.tokens()
    );
    let kt = cfg.k_tile();
    let ab = cfg.act_bits() as usize;
    let k = xs.iter().map(|x| x.len()).max().unwrap_or(0);
    (0..k_tiles(cfg, k))
        .map(|tile| {
            let mut bits = bitvec![u32, Lsb0; 0; cfg.act_beat_bits() as usize];
            for (n, x) in xs.iter().enumerate() {
                for t in 0..kt {
                    let at = act_lane(cfg, n, t);
                    bits[at..at + ab].store_le(lane(x, tile * kt + t));
                }
            }
            words(&bits)
        })
        .collect()
}

/// Weight beats for the row tile starting at `row0` (`cfg.rows()` rows,
/// missing rows are zero): for each K-tile, `cfg.beats_per_tile()` beats.
///
/// * LUT: beat `p` of a tile is plane `p`; row `r`'s bits sit at
///   `[r·k_tile, (r+1)·k_tile)`, group `j`'s `g` bits at `r·k_tile + j·g`
///   (bit `t` = weight `j·g + t` of the tile).
/// * MAC: one beat per tile; weight `e` of row `r` has its `bits`-bit code at
///   `(r·k_tile + e)·bits`.
pub fn rtl_weight_beats(cfg: &ArrayConfig, w: &WeightMatrix, row0: usize) -> Vec<Beat> {
    let kt = cfg.k_tile();
    let nbits = w.wtype().bits() as usize;
    let mut beats = Vec::new();
    for tile in 0..k_tiles(cfg, w.cols()) {
        let code = |r: usize, e: usize| -> u8 {
            let (row, col) = (row0 + r, tile * kt + e);
            if row < w.rows() && col < w.cols() {
                w.code(row, col)
            } else {
                0
            }
        };
        match cfg.arch() {
            Arch::Lut => {
                for p in 0..nbits {
                    let mut bits = bitvec![u32, Lsb0; 0; cfg.weight_beat_bits() as usize];
                    for r in 0..cfg.rows() {
                        for e in 0..kt {
                            bits.set(r * kt + e, (code(r, e) >> p) & 1 == 1);
                        }
                    }
                    beats.push(words(&bits));
                }
            }
            Arch::Mac | Arch::AddSub => {
                let mut bits = bitvec![u32, Lsb0; 0; cfg.weight_beat_bits() as usize];
                for r in 0..cfg.rows() {
                    for e in 0..kt {
                        let at = (r * kt + e) * nbits;
                        bits[at..at + nbits].store_le(u32::from(code(r, e)));
                    }
                }
                beats.push(words(&bits));
            }
        }
    }
    beats
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{preset, RawArrayConfig};

    #[test]
    fn planes_group_bits_along_k() {
        // One row, K = 5, uint2, g = 4: codes 1,2,3,0 | 3
        let w = WeightMatrix::from_values(1, 5, WeightType::Uint(2), &[1, 2, 3, 0, 3]).unwrap();
        let p = BitPlanes::new(&w, 4);
        assert_eq!(p.groups, 2);
        assert_eq!(p.index(0, 0, 0), 0b0101);
        assert_eq!(p.index(1, 0, 0), 0b0110);
        assert_eq!(p.index(0, 0, 1), 0b0001);
        assert_eq!(p.index(1, 0, 1), 0b0001);
    }

    #[test]
    fn out_of_range_value_is_named() {
        let e = WeightMatrix::from_values(2, 2, WeightType::Ternary, &[0, 1, -1, 2]).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("[1, 1]") && msg.contains("= 2") && msg.contains("-1..=1"),
            "{msg}"
        );
    }

    #[test]
    fn beats_have_the_configured_width() {
        let cfg = preset("tiny").unwrap();
        let w = WeightMatrix::from_values(3, 6, WeightType::Uint(2), &[3; 18]).unwrap();
        let beats = rtl_weight_beats(&cfg, &w, 0);
        // K = 6 -> 2 tiles of 4, 2 planes each.
        assert_eq!(beats.len(), 4);
        // rows 0..3 present (4 bits each), row 3 padded: 0x0fff in tile 0.
        assert_eq!(beats[0], vec![0x0fff]);
        // tile 1 has only 2 valid columns per row.
        assert_eq!(beats[2], vec![0x0333]);
        let a = rtl_act_beats(&cfg, &[-1i8, 2, -128, 127, 5]);
        assert_eq!(a, vec![vec![0x7f80_02ff], vec![0x0000_0005]]);
        // int16 array: 16 bits per activation; int8 input is sign-extended.
        let c16 = RawArrayConfig {
            act: crate::ActType::Int16,
            ..cfg.raw().clone()
        }
        .validate()
        .unwrap();
        assert_eq!(
            rtl_act_beats(&c16, &[-1i8, 2, -128, 127]),
            vec![vec![0x0002_ffff, 0x007f_ff80]]
        );
        assert_eq!(
            rtl_act_beats(&c16, &[i16::MIN, 300]),
            vec![vec![0x012c_8000, 0]]
        );
        assert!(check_activations::<i16>(&cfg).is_err() && check_activations::<i8>(&c16).is_ok());
    }

    #[test]
    fn tokens_sit_side_by_side_in_the_beats() {
        let one = preset("tiny").unwrap();
        let two = one.raw().clone().with_tokens(2).validate().unwrap();
        // Token 1's K-tile follows token 0's: 4 int8 activations each.
        assert_eq!(
            rtl_act_beats_batch(&two, &[&[-1i8, 2, -128, 127, 5][..], &[1, 2, 3, 4, 6]]),
            vec![
                vec![0x7f80_02ff, 0x0403_0201],
                vec![0x0000_0005, 0x0000_0006]
            ]
        );
        // One vector: token 0, token 1 zero; on a one-token array the old layout.
        assert_eq!(rtl_act_beats(&two, &[1i8, 2]), vec![vec![0x0000_0201, 0]]);
        assert_eq!(rtl_act_beats(&one, &[1i8, 2]), vec![vec![0x0000_0201]]);
        let fp = preset("lut-fp16").unwrap().raw().clone().with_tokens(2);
        assert_eq!(
            rtl_fp_act_beats_batch(&fp.validate().unwrap(), &[&[0x3c00][..], &[0xbc00, 0x0001]]),
            vec![vec![0x3c00, 0, 0x0001_bc00, 0]]
        );
        assert_eq!((act_lane(&two, 1, 2), act_lane(&one, 0, 2)), (48, 16));
        assert_eq!(
            (result_lane(&two, 3, 1), result_lane(&one, 3, 0)),
            (224, 96)
        );
    }
}
