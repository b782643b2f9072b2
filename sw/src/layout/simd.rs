//! Weight layout of the bit-plane LUT GEMM kernels ([`crate::kernels::LutGemm`]
//! with [`crate::kernels::Scheme::BitPlanes`]): bit planes interleaved for
//! byte-shuffle lookups (`vpshufb`). The native ternary scheme has its own
//! layout, [`super::ternary_native`].
//!
//! K is cut into groups of [`G`] = 4 weights; one 4-bit index per (row,
//! plane, group) selects a 16-entry table. Planes are taken in *pairs*
//! (`2pp`, `2pp+1`; an odd plane count is padded with a zero plane), so that a
//! byte pair `(2k, 2k+1)` of a vector holds the same row `k` for the two planes
//! of a pair: after the lookup one `vpmaddubsw` with weights `(2^2pp, 2^(2pp+1))`
//! both widens to i16 and applies the plane weights.
//!
//! Byte order, for a row block of `R` rows (`R` = 16 for AVX2 and generic,
//! 32 for AVX-512), a *group pair* `q` (groups `2q`, `2q+1`) and a plane pair `pp`:
//!
//! ```text
//! [row block rb][group pair q][plane pair pp][2R bytes]
//! byte 2k+s = row rb·R + k, plane 2pp+s:  low nibble = index of group 2q,
//!                                          high nibble = index of group 2q+1
//! ```
//! Bit `t` of an index is the plane bit of weight `4·group + t`. Missing rows,
//! padded planes and K padding are zero codes (which select table entry 0 = 0).
//! Group pairs are padded to a multiple of [`PAIRS_PER_BLOCK`].

use lutcore_contract::layout::WeightMatrix;

/// Weights per table group (table index bits).
pub const G: usize = 4;
/// Group pairs per accumulation block: the kernels sum this many pairs'
/// lookups in bytes before widening (cuts K into blocks of 16 weights).
pub const PAIRS_PER_BLOCK: usize = 2;

/// A weight matrix packed for the shuffle kernels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimdWeights {
    /// Rows (M).
    pub rows: usize,
    /// Columns (K).
    pub cols: usize,
    /// Weight planes (bits of a code).
    pub planes: usize,
    /// Plane pairs: `ceil(planes / 2)`.
    pub plane_pairs: usize,
    /// Rows per block `R` (the vector holds `2R` bytes).
    pub rows_per_block: usize,
    /// Row blocks: `ceil(rows / R)`.
    pub row_blocks: usize,
    /// Group pairs, padded to a multiple of [`PAIRS_PER_BLOCK`].
    pub group_pairs: usize,
    /// The packed bytes, in the order of the module docs.
    pub data: Vec<u8>,
}

impl SimdWeights {
    /// Pack `w` for row blocks of `rows_per_block` rows (≥ 1).
    pub fn new(w: &WeightMatrix, rows_per_block: usize) -> Self {
        assert!(rows_per_block >= 1, "rows_per_block must be at least 1");
        let r = rows_per_block;
        let planes = w.wtype().bits() as usize;
        let plane_pairs = planes.div_ceil(2);
        let groups = w.cols().div_ceil(G);
        let group_pairs = groups.div_ceil(2).div_ceil(PAIRS_PER_BLOCK).max(1) * PAIRS_PER_BLOCK;
        let row_blocks = w.rows().div_ceil(r);
        let mut data = vec![0u8; row_blocks * group_pairs * plane_pairs * 2 * r];
        for row in 0..w.rows() {
            let (rb, k) = (row / r, row % r);
            for col in 0..w.cols() {
                let code = w.code(row, col);
                if code == 0 {
                    continue;
                }
                let group = col / G;
                let (q, hi) = (group / 2, group % 2);
                let bit = col % G;
                for p in 0..planes {
                    if (code >> p) & 1 == 1 {
                        let (pp, s) = (p / 2, p % 2);
                        let at = ((rb * group_pairs + q) * plane_pairs + pp) * 2 * r + 2 * k + s;
                        data[at] |= 1 << (bit + 4 * hi);
                    }
                }
            }
        }
        SimdWeights {
            rows: w.rows(),
            cols: w.cols(),
            planes,
            plane_pairs,
            rows_per_block: r,
            row_blocks,
            group_pairs,
            data,
        }
    }

    /// Bytes of one row block (all group pairs and plane pairs).
    pub fn block_bytes(&self) -> usize {
        self.group_pairs * self.plane_pairs * 2 * self.rows_per_block
    }

    /// The bytes of row block `rb`.
    pub fn block(&self, rb: usize) -> &[u8] {
        let b = self.block_bytes();
        &self.data[rb * b..(rb + 1) * b]
    }
}
