//! Reference GEMVs: the golden models everything else is checked against.
//!
//! * [`gemv_plain`]: dequantize each weight and multiply-accumulate in i64 —
//!   deliberately independent of tables and bit planes.
//! * [`gemv_lut`]: the LUT algorithm in plain integer loops: mirror-halved
//!   tables per group of `g` activations, one lookup per (plane, group),
//!   bit-serial shift-accumulate, and the Σx correction. The generated RTL
//!   computes exactly these integers.

use crate::dtype::Activation;
use crate::layout::{BitPlanes, WeightMatrix};

/// `y[r] = Σ_c value(r, c) · x[c]`, by multiplication.
pub fn gemv_plain<A: Activation>(w: &WeightMatrix, x: &[A]) -> Vec<i64> {
    assert_eq!(
        w.cols(),
        x.len(),
        "GEMV shape: K of weights and activations differ"
    );
    (0..w.rows())
        .map(|r| {
            x.iter()
                .enumerate()
                .map(|(c, &xv)| i64::from(w.value(r, c)) * i64::from(xv.into()))
                .sum()
        })
        .collect()
}

/// Mirror-halved lookup tables of one activation vector.
///
/// For group `j` with activations `x[j·g .. j·g+g]` (zero padded), entry `k`
/// (`0 ≤ k < 2^(g-1)`) is `x[g-1] + Σ_{t<g-1} (bit t of k ? +x[t] : -x[t])`,
/// i.e. the signed sum for index `k | 2^(g-1)`. The other half follows from
/// `T[~i] = -T[i]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LutTables {
    /// Group size.
    pub g: usize,
    /// Number of groups.
    pub groups: usize,
    /// `groups × 2^(g-1)` entries.
    pub entries: Vec<i32>,
}

impl LutTables {
    /// Precompute the tables of `x` for group size `g` (1..=8).
    pub fn new<A: Activation>(x: &[A], g: usize) -> Self {
        let groups = x.len().div_ceil(g);
        let half = 1usize << (g - 1);
        let mut entries = Vec::with_capacity(groups * half);
        for j in 0..groups {
            let xs: Vec<i32> = (0..g)
                .map(|t| x.get(j * g + t).map_or(0, |&v| v.into()))
                .collect();
            for k in 0..half {
                let signed: i32 = (0..g - 1)
                    .map(|t| if (k >> t) & 1 == 1 { xs[t] } else { -xs[t] })
                    .sum();
                entries.push(xs[g - 1] + signed);
            }
        }
        LutTables { g, groups, entries }
    }

    /// Signed partial sum of group `j` for a full `g`-bit index (bit set = +).
    pub fn lookup(&self, j: usize, index: u8) -> i32 {
        let half = 1usize << (self.g - 1);
        let mask = half - 1;
        let idx = usize::from(index);
        if idx & half != 0 {
            self.entries[j * half + (idx & mask)]
        } else {
            -self.entries[j * half + (!idx & mask)]
        }
    }

    /// Σx of group `j`: the entry whose bits are all set.
    pub fn group_sum(&self, j: usize) -> i32 {
        let half = 1usize << (self.g - 1);
        self.entries[j * half + half - 1]
    }
}

/// The LUT GEMV over prepared planes: `x.len()` must be the matrix's K.
pub fn gemv_lut<A: Activation>(
    planes: &BitPlanes,
    wtype: crate::dtype::WeightType,
    x: &[A],
) -> Vec<i64> {
    assert_eq!(
        planes.groups,
        x.len().div_ceil(planes.g),
        "GEMV shape: K of planes and activations differ"
    );
    let tables = LutTables::new(x, planes.g);
    let sum_x: i64 = (0..tables.groups)
        .map(|j| i64::from(tables.group_sum(j)))
        .sum();
    let correction = wtype.correction_coeff() * sum_x;
    (0..planes.rows)
        .map(|r| {
            let mut acc: i64 = correction;
            for p in 0..planes.planes {
                let plane_sum: i64 = (0..planes.groups)
                    .map(|j| i64::from(tables.lookup(j, planes.index(p, r, j))))
                    .sum();
                acc += plane_sum << p;
            }
            debug_assert!(acc % 2 == 0, "bit-plane identity gives an even sum");
            acc >> 1
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::WeightType;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn random_case(
        rng: &mut ChaCha8Rng,
        wtype: WeightType,
        m: usize,
        k: usize,
        extreme: bool,
    ) -> (WeightMatrix, Vec<i8>) {
        let w = crate::testing::random_weights(rng, wtype, m, k, extreme);
        (w, crate::testing::random_activations(rng, k, extreme))
    }

    #[test]
    fn lut_gemv_equals_plain_dot_product_on_random_shapes() {
        let seed = crate::testing::seed_from_env(0x5eed_u64);
        println!("seed {seed} (replay: LUTCORE_SEED={seed} cargo test -p lutcore-contract)");
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for case in 0..200 {
            let wtype = WeightType::ALL[case % WeightType::ALL.len()];
            let g = [2, 3, 4, 5][case % 4];
            let m = rng.gen_range(1..=9) * 2 - 1; // odd M
            let k = rng.gen_range(1..=300); // often not a multiple of g
            let extreme = case % 3 == 0;
            let (w, x) = random_case(&mut rng, wtype, m, k, extreme);
            let want = gemv_plain(&w, &x);
            let got = gemv_lut(&BitPlanes::new(&w, g), wtype, &x);
            assert_eq!(
                got, want,
                "case {case}: {wtype} g={g} {m}x{k} extreme={extreme} seed {seed}"
            );
        }
    }

    #[test]
    fn int16_lut_gemv_equals_plain_dot_product() {
        let seed = 0x16a5_u64;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for case in 0..60 {
            let wtype = WeightType::ALL[case % WeightType::ALL.len()];
            let g = [2, 3, 4, 5][case % 4];
            let (m, k) = (rng.gen_range(1..=7), rng.gen_range(1..=200));
            let (w, _) = random_case(&mut rng, wtype, m, k, false);
            let x: Vec<i16> = (0..k)
                .map(|i| {
                    if case % 5 == 0 {
                        [i16::MIN, i16::MAX][i % 2]
                    } else {
                        rng.gen()
                    }
                })
                .collect();
            let want = gemv_plain(&w, &x);
            assert_eq!(
                gemv_lut(&BitPlanes::new(&w, g), wtype, &x),
                want,
                "case {case}: {wtype} g={g} {m}x{k} seed {seed}"
            );
        }
    }

    #[test]
    fn extreme_values_fill_the_range() {
        // All weights at the top of the range, all activations -128: the largest magnitude.
        for wtype in WeightType::ALL {
            let k = 4096;
            let w = WeightMatrix::from_values(1, k, wtype, &vec![wtype.max_value(); k]).unwrap();
            let x = vec![-128i8; k];
            let want = -128 * i64::from(wtype.max_value()) * k as i64;
            assert_eq!(gemv_plain(&w, &x), vec![want]);
            assert_eq!(
                gemv_lut(&BitPlanes::new(&w, 4), wtype, &x),
                vec![want],
                "{wtype}"
            );
        }
    }

    #[test]
    fn table_entries_by_hand() {
        let t = LutTables::new(&[1i8, 2, 3, 4], 4);
        // k = 0b000: -1 -2 -3 +4 = -2 ; k = 0b111: 1+2+3+4 = 10
        assert_eq!(t.entries[0], -2);
        assert_eq!(t.entries[7], 10);
        assert_eq!(t.group_sum(0), 10);
        assert_eq!(t.lookup(0, 0b0000), -10);
        assert_eq!(t.lookup(0, 0b0101), 1 - 2 + 3 - 4);
    }
}
