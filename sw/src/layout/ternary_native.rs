//! Native ternary layout (bitnet.cpp TL2 style) for the kernels in
//! [`crate::kernels::ternary_native`].
//!
//! K is cut into groups of [`G`] = 3 weights. A group `(w0, w1, w2)` has the
//! base-3 number `I = 9(w0+1) + 3(w1+1) + (w2+1)` (27 values; `I = 13` is all
//! zero). Negation mirrors `I ↔ 26 − I`, so every group is stored as
//!
//! * a 4-bit **index** `I − 13 ∈ 0..=13` of the half whose leading non-zero
//!   weight is positive (index 0 = all zero), and
//! * a **sign** bit: set when the group was negated to get there,
//!
//! i.e. 5 bits per 3 weights. Table entry `e` of a group of activations is the
//! signed sum for index `e` ([`entry_weights`]); entries 14 and 15 are unused.
//!
//! Byte order. Rows are cut into blocks of [`ROW_BLOCK`] = 16 rows, K into
//! *supersteps* of [`GROUPS_PER_SUPERSTEP`] = 16 groups (8 *steps* of a group
//! pair `(2st, 2st+1)`), supersteps into *chunks* of [`CHUNK_SUPERSTEPS`]
//! (the last chunk may be shorter). Each (chunk, row block, superstep) is a
//! [`SUPERSTEP_BYTES`] = 160-byte record, stored as
//!
//! ```text
//! [chunk][row block][superstep in chunk][160 bytes]
//! bytes 32q .. 32q+32 (q = 0..4): byte 16L + i (lane L, row i of the block):
//!     low nibble  = index of (row i, group 2·(2q)   + L)   step 2q
//!     high nibble = index of (row i, group 2·(2q+1) + L)   step 2q+1
//! bytes 128 .. 160: byte 16L + i, bit 7 − st = sign of (row i, group 2st + L)
//! ```
//!
//! so one 32-byte vector holds, per 128-bit lane `L`, the 16 rows of one group
//! (the lane's table is that group's), and a whole chunk pass over all rows
//! reads the weights sequentially. The record base is 32-byte aligned. Missing
//! rows and K padding are zero weights (index 0, sign 0).

use lutcore_contract::layout::{LayoutError, WeightMatrix};
use rayon::prelude::*;

use lutcore_contract::dtype::WeightType;

/// Weights per group.
pub const G: usize = 3;
/// Table entries in use (mirror-halved 27 combinations).
pub const ENTRIES: usize = 14;
/// Rows per row block.
pub const ROW_BLOCK: usize = 16;
/// Groups per superstep (8 steps of a group pair).
pub const GROUPS_PER_SUPERSTEP: usize = 16;
/// Bytes per (row block, superstep) record: 128 index bytes + 32 sign bytes.
pub const SUPERSTEP_BYTES: usize = 160;
/// Supersteps per chunk. A chunk is 80 steps: every i16 accumulator slot of the
/// kernels sums at most 80 table values of magnitude ≤ 385 (< 32768).
pub const CHUNK_SUPERSTEPS: usize = 10;

/// Base-3 weights `(w0, w1, w2)` of table index `e` (`0..14`): the digits of `e + 13`, minus 1.
pub const fn entry_weights(e: usize) -> [i32; 3] {
    let i = e + 13;
    [
        (i / 9) as i32 - 1,
        ((i / 3) % 3) as i32 - 1,
        (i % 3) as i32 - 1,
    ]
}

/// Encode one group of three ternary values: `(index, negated)`, such that
/// `w = (negated ? −1 : 1) · entry_weights(index)`.
pub fn encode_group(w: [i32; 3]) -> (u8, bool) {
    debug_assert!(w.iter().all(|v| (-1..=1).contains(v)));
    let i = 9 * (w[0] + 1) + 3 * (w[1] + 1) + (w[2] + 1);
    if i >= 13 {
        ((i - 13) as u8, false)
    } else {
        ((13 - i) as u8, true)
    }
}

/// A 32-byte aligned block of layout bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(C, align(32))]
pub struct Block32(pub [u8; 32]);

/// A ternary matrix in the native (5 bits per 3 weights) layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TernaryNativeLayout {
    rows: usize,
    cols: usize,
    supersteps: usize,
    row_blocks: usize,
    blocks: Vec<Block32>,
    neg_count: Vec<i32>,
}

impl TernaryNativeLayout {
    /// Pack a ternary matrix. Errors if `w` is not [`WeightType::Ternary`].
    pub fn new(w: &WeightMatrix) -> Result<Self, LayoutError> {
        if w.wtype() != WeightType::Ternary {
            return Err(LayoutError::DoesNotFit {
                what: "native ternary layout",
                detail: format!(
                    "needs ternary weights, got {}; use the bit-plane layout for uint weights",
                    w.wtype()
                ),
            });
        }
        let (rows, cols) = (w.rows(), w.cols());
        let groups = cols.div_ceil(G);
        let supersteps = groups.div_ceil(GROUPS_PER_SUPERSTEP).max(1);
        let row_blocks = rows.div_ceil(ROW_BLOCK).max(1);
        let records = supersteps * row_blocks;
        let mut blocks = vec![Block32::default(); records * SUPERSTEP_BYTES / 32];
        let mut neg_count = vec![0i32; rows];
        let mut lay = TernaryNativeLayout {
            rows,
            cols,
            supersteps,
            row_blocks,
            blocks: Vec::new(),
            neg_count: Vec::new(),
        };
        /// The layout bytes, written from several threads: each row block's
        /// bytes lie in its own records (`record_offset(_, rb, _)`), so
        /// threads that own different row blocks never touch the same byte.
        struct Bytes(*mut u8);
        // SAFETY: see above; the pointer outlives the parallel loop below.
        unsafe impl Sync for Bytes {}
        let bytes = Bytes(blocks.as_mut_ptr().cast::<u8>());
        let lay_ref = &lay;
        let bytes = &bytes;
        neg_count
            .par_chunks_mut(ROW_BLOCK)
            .enumerate()
            .for_each(|(rb, negs)| {
                for (i, neg) in negs.iter_mut().enumerate() {
                    let r = rb * ROW_BLOCK + i;
                    for j in 0..groups {
                        let vals: [i32; 3] = std::array::from_fn(|t| {
                            let c = j * G + t;
                            if c < cols {
                                w.value(r, c)
                            } else {
                                0
                            }
                        });
                        let (idx, negated) = encode_group(vals);
                        if idx == 0 && !negated {
                            continue;
                        }
                        let (at, nib, sign_at, bit) = lay_ref.position(r, j);
                        // SAFETY: `at` and `sign_at` are inside `blocks` (records
                        // of this row block), written by this thread only.
                        unsafe {
                            *bytes.0.add(at) |= idx << (4 * nib);
                            if negated {
                                *bytes.0.add(sign_at) |= 1 << bit;
                            }
                        }
                        *neg += i32::from(negated);
                    }
                }
            });
        lay.blocks = blocks;
        lay.neg_count = neg_count;
        Ok(lay)
    }

    /// Byte offset of the index byte, nibble (0 low, 1 high), byte offset of the
    /// sign byte and sign bit of (row, group).
    fn position(&self, r: usize, j: usize) -> (usize, usize, usize, u32) {
        let (rb, i) = (r / ROW_BLOCK, r % ROW_BLOCK);
        let (ss, jj) = (j / GROUPS_PER_SUPERSTEP, j % GROUPS_PER_SUPERSTEP);
        let (st, lane) = (jj / 2, jj % 2);
        let rec = self.record_offset(ss / CHUNK_SUPERSTEPS, rb, ss % CHUNK_SUPERSTEPS);
        let byte = 16 * lane + i;
        (
            rec + 32 * (st / 2) + byte,
            st % 2,
            rec + 128 + byte,
            7 - st as u32,
        )
    }

    /// Rows (M).
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Columns (K).
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// Groups of 3 along K, before padding: `ceil(K / 3)`.
    pub fn groups(&self) -> usize {
        self.cols.div_ceil(G)
    }
    /// Supersteps along K (groups padded to a multiple of 16, at least one).
    pub fn supersteps(&self) -> usize {
        self.supersteps
    }
    /// Row blocks of 16 rows (at least one).
    pub fn row_blocks(&self) -> usize {
        self.row_blocks
    }
    /// Number of chunks: `ceil(supersteps / CHUNK_SUPERSTEPS)`.
    pub fn chunks(&self) -> usize {
        self.supersteps.div_ceil(CHUNK_SUPERSTEPS)
    }
    /// Supersteps `first .. first + len` of chunk `c`.
    pub fn chunk_supersteps(&self, c: usize) -> std::ops::Range<usize> {
        let first = c * CHUNK_SUPERSTEPS;
        first..(first + CHUNK_SUPERSTEPS).min(self.supersteps)
    }
    /// Byte offset of the record of (chunk `c`, row block `rb`, superstep `s` within the chunk).
    pub fn record_offset(&self, c: usize, rb: usize, s: usize) -> usize {
        let len = self.chunk_supersteps(c).len();
        ((c * CHUNK_SUPERSTEPS * self.row_blocks) + rb * len + s) * SUPERSTEP_BYTES
    }
    /// The packed bytes (32-byte aligned).
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: Block32 is repr(C) around [u8; 32] with no padding (size 32),
        // so the vector's storage is `32 * len` initialized bytes.
        unsafe {
            std::slice::from_raw_parts(self.blocks.as_ptr().cast::<u8>(), self.blocks.len() * 32)
        }
    }
    /// Number of packed bytes.
    pub fn byte_len(&self) -> usize {
        self.blocks.len() * 32
    }
    /// Per row: how many groups are stored negated (sign bit set).
    pub fn neg_count(&self) -> &[i32] {
        &self.neg_count
    }
    /// Stored `(index, negated)` of (row, group); padding reads as `(0, false)`.
    pub fn group(&self, r: usize, j: usize) -> (u8, bool) {
        let (at, nib, sign_at, bit) = self.position(r, j);
        let b = self.bytes();
        ((b[at] >> (4 * nib)) & 0xf, (b[sign_at] >> bit) & 1 == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_round_trips_all_27_groups() {
        let mut seen = [0u32; 14];
        for i in 0..27i32 {
            let w = [i / 9 - 1, (i / 3) % 3 - 1, i % 3 - 1];
            let (idx, neg) = encode_group(w);
            assert!(idx < 14);
            seen[idx as usize] += 1;
            let s = if neg { -1 } else { 1 };
            assert_eq!(entry_weights(idx as usize).map(|v| s * v), w);
            // leading non-zero weight of a stored entry is positive
            let e = entry_weights(idx as usize);
            assert!(e.iter().find(|&&v| v != 0).is_none_or(|&v| v == 1));
        }
        assert_eq!(seen[0], 1);
        assert!(seen[1..].iter().all(|&n| n == 2));
    }

    #[test]
    fn packed_groups_read_back() {
        let (m, k) = (19, 100);
        let vals: Vec<i32> = (0..m * k)
            .map(|i| ((i * 7 + i / 3) % 3) as i32 - 1)
            .collect();
        let w = WeightMatrix::from_values(m, k, WeightType::Ternary, &vals).unwrap();
        let lay = TernaryNativeLayout::new(&w).unwrap();
        assert_eq!(lay.byte_len(), 2 * 3 * SUPERSTEP_BYTES);
        for r in 0..m {
            let mut negs = 0;
            for j in 0..lay.groups() {
                let (idx, neg) = lay.group(r, j);
                negs += i32::from(neg);
                let s = if neg { -1 } else { 1 };
                for (t, wv) in entry_weights(idx.into()).into_iter().enumerate() {
                    let c = 3 * j + t;
                    let want = if c < k { vals[r * k + c] } else { 0 };
                    assert_eq!(s * wv, want, "row {r} col {c}");
                }
            }
            assert_eq!(lay.neg_count()[r], negs);
        }
        let u = WeightMatrix::from_values(1, 1, WeightType::Uint(2), &[3]).unwrap();
        assert!(TernaryNativeLayout::new(&u).is_err());
    }
}
