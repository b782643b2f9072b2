//! Reference GEMVs: the golden models everything else is checked against.
//!
//! * [`gemv_plain`]: dequantize each weight and multiply-accumulate in i64 —
//!   deliberately independent of tables and bit planes.
//! * [`gemv_lut`]: the LUT algorithm in plain integer loops: mirror-halved
//!   tables per group of `g` activations, one lookup per (plane, group),
//!   bit-serial shift-accumulate, and the Σx correction. The generated RTL
//!   computes exactly these integers.
//! * [`gemv_fp_lut`], [`gemv_fp_mac`]: the same two algorithms for
//!   floating-point activations, every operation a binary32 operation of
//!   [`crate::fp`] in the order the arrays perform it (tile by tile, plane by
//!   plane, [`fp::tree_sum`] over a beat), so the RTL's results equal these bits.
//! * [`gemv_f64`]: the plain dot product in f64, to measure the FP paths' error.
//! * [`per_token`] ([`gemm_lut`], [`gemm_fp_lut`], [`gemm_fp_mac`]): a pass
//!   of M tokens, M independent GEMVs.

use crate::dtype::{Activation, WeightType};
use crate::fp::{self, FpFormat};
use crate::layout::{BitPlanes, WeightMatrix};

/// `y[r] = Σ_c value(r, c) · x[c]`, by multiplication.
pub fn gemv_plain<A: Activation>(w: &WeightMatrix, x: &[A]) -> Vec<i64> {
    dot_rows(w, x, |v, &xv| i64::from(v) * i64::from(xv.into()))
}

/// `y[r] = Σ_c product(value(r, c), x[c])`, summed in K order: the plain dot
/// product of [`gemv_plain`] and [`gemv_f64`].
fn dot_rows<X, T: std::iter::Sum>(
    w: &WeightMatrix,
    x: &[X],
    product: impl Fn(i32, &X) -> T,
) -> Vec<T> {
    check_k(w, x.len());
    (0..w.rows())
        .map(|r| {
            x.iter()
                .enumerate()
                .map(|(c, xv)| product(w.value(r, c), xv))
                .sum()
        })
        .collect()
}

/// Panics unless `w` has `k` columns (a caller's bug, as for slice indexing).
fn check_k(w: &WeightMatrix, k: usize) {
    assert_eq!(
        w.cols(),
        k,
        "GEMV shape: K of weights and activations differ"
    );
}

/// The arithmetic of a table entry: `i32` for integer activations, binary32
/// bits ([`fp::add`], [`fp::neg`]) for floating-point ones.
pub trait Entry: Copy {
    /// `self + other`.
    fn plus(self, other: Self) -> Self;
    /// `-self`.
    fn negated(self) -> Self;
}

impl Entry for i32 {
    fn plus(self, other: i32) -> i32 {
        self + other
    }
    fn negated(self) -> i32 {
        -self
    }
}

impl Entry for u32 {
    fn plus(self, other: u32) -> u32 {
        fp::add(self, other)
    }
    fn negated(self) -> u32 {
        fp::neg(self)
    }
}

/// Mirror-halved lookup tables of one activation vector.
///
/// For group `j` with activations `xs = x[j·g .. j·g+g]` (zero padded), entry
/// `k` (`0 ≤ k < 2^(g-1)`) is computed as in the array's precompute unit:
/// `xs[g-1]`, then `± xs[t]` for `t = g-2` down to `0` (bit `t` of `k` set:
/// `+`), one [`Entry::plus`] per step. That is the signed sum for index
/// `k | 2^(g-1)`; the other half follows from `T[~i] = -T[i]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tables<E> {
    /// Group size.
    pub g: usize,
    /// Number of groups (including padding to whole tiles, if the input had it).
    pub groups: usize,
    /// `groups × 2^(g-1)` entries.
    pub entries: Vec<E>,
}

/// The integer tables: exact i32 sums of int8/int16 activations.
pub type LutTables = Tables<i32>;

/// The floating-point tables: binary32 bits of activations widened and halved
/// (`x' = x/2`, exact), so that the bit-plane identity
/// `w·x = ½(Σ_p 2^p (s_p·x) + c·Σx)` needs no final halving.
pub type FpTables = Tables<u32>;

impl<E: Entry> Tables<E> {
    /// The tables of `groups` groups of `g` activations, `xs(i)` the `i`-th.
    fn build(g: usize, groups: usize, xs: impl Fn(usize) -> E) -> Self {
        let half = 1usize << (g - 1);
        let mut entries = Vec::with_capacity(groups * half);
        for j in 0..groups {
            let xs: Vec<E> = (0..g).map(|t| xs(j * g + t)).collect();
            let mut partial = vec![xs[g - 1]];
            for t in (0..g - 1).rev() {
                partial = partial
                    .iter()
                    .flat_map(|&p| [p.plus(xs[t].negated()), p.plus(xs[t])])
                    .collect();
            }
            entries.extend(partial);
        }
        Tables { g, groups, entries }
    }

    /// The signed partial sum of group `j` for a full `g`-bit index (bit set = +).
    pub fn lookup(&self, j: usize, index: u8) -> E {
        let half = 1usize << (self.g - 1);
        let mask = half - 1;
        let idx = usize::from(index);
        if idx & half != 0 {
            self.entries[j * half + (idx & mask)]
        } else {
            self.entries[j * half + (!idx & mask)].negated()
        }
    }

    /// Σx (Σx' for [`FpTables`]) of group `j`: its entry with every bit set.
    pub fn group_sum(&self, j: usize) -> E {
        let half = 1usize << (self.g - 1);
        self.entries[j * half + half - 1]
    }
}

impl LutTables {
    /// Precompute the tables of `x` for group size `g` (1..=8).
    pub fn new<A: Activation>(x: &[A], g: usize) -> Self {
        Tables::build(g, x.len().div_ceil(g), |i| {
            x.get(i).map_or(0, |&v| v.into())
        })
    }
}

impl FpTables {
    /// The tables of `x` (raw `fmt` codes, missing ones +0) over `groups` groups of `g`.
    pub fn new(fmt: FpFormat, x: &[u32], g: usize, groups: usize) -> Self {
        Tables::build(g, groups, |i| fmt.widen(x.get(i).copied().unwrap_or(0), -1))
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

/// The FP LUT GEMV (binary32 bits per row) as the LUT array computes it with
/// `k_groups` groups of `g` per K-tile; `x` holds `w.cols()` raw `fmt` codes.
///
/// Per tile, Σx' gains the tree sum of the tile's group sums; per row, each
/// plane `p` adds `2^p ·` (tree sum of the tile's looked-up entries) to an
/// accumulator that starts at +0, and the last step adds the correction
/// `c·Σx'` (`Σx'` for `c = 1`, else `2^bits·Σx' - Σx'`, as `c = 2^bits - 1`).
/// K is padded to whole tiles with +0 activations and zero weight codes,
/// exactly as the streams are.
pub fn gemv_fp_lut(
    w: &WeightMatrix,
    fmt: FpFormat,
    x: &[u32],
    g: usize,
    k_groups: usize,
) -> Vec<u32> {
    check_k(w, x.len());
    let planes = BitPlanes::new(w, g);
    let tiles = x.len().div_ceil(g * k_groups).max(1);
    let tables = FpTables::new(fmt, x, g, tiles * k_groups);
    let tile_groups = |tile: usize| tile * k_groups..(tile + 1) * k_groups;
    let sum_x = (0..tiles).fold(0, |s, tile| {
        let sums: Vec<u32> = tile_groups(tile).map(|j| tables.group_sum(j)).collect();
        fp::add(s, fp::tree_sum(&sums))
    });
    let wtype = w.wtype();
    let corr = correction(wtype, sum_x);
    let index = |p: usize, r: usize, j: usize| {
        if j < planes.groups {
            planes.index(p, r, j)
        } else {
            0
        }
    };
    (0..w.rows())
        .map(|r| {
            let mut acc = 0u32;
            for tile in 0..tiles {
                for p in 0..planes.planes {
                    let terms: Vec<u32> = tile_groups(tile)
                        .map(|j| tables.lookup(j, index(p, r, j)))
                        .collect();
                    let beat = fp::tree_sum(&terms);
                    let scaled = if planes.planes > 1 {
                        fp::scale_pow2(beat, p as u32)
                    } else {
                        beat
                    };
                    acc = fp::add(acc, scaled);
                }
            }
            fp::add(acc, corr)
        })
        .collect()
}

/// `c·s` for the Σx correction of `wtype` (`c` is 1 or `2^bits - 1`).
fn correction(wtype: WeightType, s: u32) -> u32 {
    let c = wtype.correction_coeff();
    if c == 1 {
        s
    } else {
        assert_eq!(
            c,
            (1 << wtype.bits()) - 1,
            "correction coefficient of {wtype}"
        );
        fp::add(fp::scale_pow2(s, wtype.bits()), fp::neg(s))
    }
}

/// The FP MAC GEMV (binary32 bits per row) with `k_tile` products per beat:
/// each product `x·w` rounded to binary32 (exact for FP16 and FP8), the beat's
/// products summed in [`fp::tree_sum`] order, beats accumulated from +0.
/// Both FP baselines compute this: the paper's MAC (weight dequantized to the
/// activation format, FP multiplier) and the add-tree one (integer weight).
pub fn gemv_fp_mac(w: &WeightMatrix, fmt: FpFormat, x: &[u32], k_tile: usize) -> Vec<u32> {
    check_k(w, x.len());
    let tiles = x.len().div_ceil(k_tile).max(1);
    let pad_value = w.wtype().value(0);
    (0..w.rows())
        .map(|r| {
            (0..tiles).fold(0u32, |acc, tile| {
                let products: Vec<u32> = (tile * k_tile..(tile + 1) * k_tile)
                    .map(|c| match x.get(c) {
                        Some(&xc) => fp::mul_int(fmt, xc, w.value(r, c)),
                        None => fp::mul_int(fmt, 0, pad_value),
                    })
                    .collect();
                fp::add(acc, fp::tree_sum(&products))
            })
        })
        .collect()
}

/// A pass of M tokens is M independent GEMVs: the results of an array with
/// `tokens` = M for the activation vectors `xs` (one per token) are, token
/// by token, those of `gemv` on that token's vector alone; there is no
/// arithmetic between tokens. [`gemm_lut`], [`gemm_fp_lut`] and
/// [`gemm_fp_mac`] are the batch forms of [`gemv_lut`], [`gemv_fp_lut`] and
/// [`gemv_fp_mac`] built with it.
pub fn per_token<X: ?Sized, R>(xs: &[&X], gemv: impl Fn(&X) -> Vec<R>) -> Vec<Vec<R>> {
    xs.iter().map(|x| gemv(x)).collect()
}

/// [`gemv_lut`] of each token's activations `xs[t]`.
pub fn gemm_lut<A: Activation>(
    planes: &BitPlanes,
    wtype: WeightType,
    xs: &[&[A]],
) -> Vec<Vec<i64>> {
    per_token(xs, |x| gemv_lut(planes, wtype, x))
}

/// [`gemv_fp_lut`] of each token's activation codes `xs[t]`.
pub fn gemm_fp_lut(
    w: &WeightMatrix,
    fmt: FpFormat,
    xs: &[&[u32]],
    g: usize,
    k_groups: usize,
) -> Vec<Vec<u32>> {
    per_token(xs, |x| gemv_fp_lut(w, fmt, x, g, k_groups))
}

/// [`gemv_fp_mac`] of each token's activation codes `xs[t]`.
pub fn gemm_fp_mac(w: &WeightMatrix, fmt: FpFormat, xs: &[&[u32]], k_tile: usize) -> Vec<Vec<u32>> {
    per_token(xs, |x| gemv_fp_mac(w, fmt, x, k_tile))
}

/// `y[r] = Σ_c value(r, c) · x[c]` in f64, products and sums in K order (the
/// error of the f64 sum is far below binary32's rounding).
pub fn gemv_f64(w: &WeightMatrix, fmt: FpFormat, x: &[u32]) -> Vec<f64> {
    check_k(w, x.len());
    dot_rows(w, x, |v, &xc| f64::from(v) * fmt.decode(xc))
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

    /// The seed ([`crate::testing::seed_from_env`]) and its generator; prints how to replay it.
    fn seeded(default: u64) -> (u64, ChaCha8Rng) {
        let seed = crate::testing::seed_from_env(default);
        println!("seed {seed} (replay: LUTCORE_SEED={seed} cargo test -p lutcore-contract)");
        (seed, ChaCha8Rng::seed_from_u64(seed))
    }

    #[test]
    fn lut_gemv_equals_plain_dot_product_on_random_shapes() {
        let (seed, mut rng) = seeded(0x5eed_u64);
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

    /// Random finite activations of `fmt` (no NaN, no Inf), moderate magnitudes.
    fn fp_acts(rng: &mut ChaCha8Rng, fmt: FpFormat, k: usize) -> Vec<u32> {
        (0..k)
            .map(|_| loop {
                let b = rng.gen::<u32>() & ((1u32 << fmt.bits()) - 1);
                let v = fmt.decode(b);
                if v.is_finite() && v.abs() < 1e4 {
                    break b;
                }
            })
            .collect()
    }

    #[test]
    fn fp_gemvs_are_close_to_the_exact_dot_product() {
        use crate::fp::{BF16, E4M3, E5M2, FP16};
        let (seed, mut rng) = seeded(0xf9_u64);
        for case in 0..120 {
            let fmt = [FP16, BF16, E4M3, E5M2][case % 4];
            let wtype = WeightType::ALL[case % WeightType::ALL.len()];
            let (g, kg) = ([2, 3, 4, 5][case % 4], 1 + case % 3);
            let (m, k) = (rng.gen_range(1..=5), rng.gen_range(1..=200));
            let w = crate::testing::random_weights(&mut rng, wtype, m, k, false);
            let x = fp_acts(&mut rng, fmt, k);
            let exact = gemv_f64(&w, fmt, &x);
            // Every partial sum (tables of ±x, planes, correction) is at most 2^bits·Σ|x|.
            let sum_abs: f64 = x.iter().map(|&b| fmt.decode(b).abs()).sum();
            for (name, got) in [
                ("lut", gemv_fp_lut(&w, fmt, &x, g, kg)),
                ("mac", gemv_fp_mac(&w, fmt, &x, g * kg)),
            ] {
                for r in 0..m {
                    let y = f64::from(f32::from_bits(got[r]));
                    // Each of the ≤ 4K+16 roundings errs by ≤ 2^-24 of its partial sum.
                    let tol = sum_abs
                        * f64::from(1u32 << wtype.bits())
                        * (4 * k + 16) as f64
                        * 2f64.powi(-24);
                    assert!(
                        (y - exact[r]).abs() <= tol,
                        "case {case} {name} {fmt} {wtype} g={g} k={k}: {y} vs {} (tol {tol}) seed {seed}",
                        exact[r]
                    );
                }
            }
        }
    }

    #[test]
    fn fp_lut_on_small_integers_is_exact_and_equals_the_integer_lut() {
        // Integers up to 2^7 in FP16 sum exactly in binary32: the FP LUT must give the int result.
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for case in 0..50 {
            let wtype = WeightType::ALL[case % WeightType::ALL.len()];
            let (m, k) = (rng.gen_range(1..=4), rng.gen_range(1..=100));
            let w = crate::testing::random_weights(&mut rng, wtype, m, k, case % 2 == 0);
            let xi = crate::testing::random_activations(&mut rng, k, case % 2 == 0);
            let xf: Vec<u32> = xi
                .iter()
                .map(|&v| crate::fp::FP16.round(f64::from(v)))
                .collect();
            let want = gemv_plain(&w, &xi);
            for (g, kg) in [(4, 1), (3, 2), (2, 4)] {
                let lut = gemv_fp_lut(&w, crate::fp::FP16, &xf, g, kg);
                let mac = gemv_fp_mac(&w, crate::fp::FP16, &xf, g * kg);
                for r in 0..m {
                    assert_eq!(
                        f64::from(f32::from_bits(lut[r])),
                        want[r] as f64,
                        "lut {case} {wtype}"
                    );
                    assert_eq!(
                        f64::from(f32::from_bits(mac[r])),
                        want[r] as f64,
                        "mac {case} {wtype}"
                    );
                }
            }
        }
    }

    #[test]
    fn fp_specials_propagate() {
        use crate::fp::{CANONICAL_NAN, FP16};
        let w = WeightMatrix::from_values(2, 3, WeightType::Uint(1), &[1, 1, 1, 0, 0, 0]).unwrap();
        let inf = 0x7c00; // +Inf in FP16
        let lut = gemv_fp_lut(&w, FP16, &[inf, 0x3c00, 0], 3, 1);
        let mac = gemv_fp_mac(&w, FP16, &[inf, 0x3c00, 0], 3);
        // Row 0: 1·Inf + 1·1 + 1·0 = Inf. Row 1: 0·Inf is NaN (IEEE); the LUT form
        // gets there as -Inf (mirrored entry) + Inf (correction).
        assert_eq!(
            (lut[0], mac[0]),
            (f32::INFINITY.to_bits(), f32::INFINITY.to_bits())
        );
        assert_eq!((lut[1], mac[1]), (CANONICAL_NAN, CANONICAL_NAN));
        let nan = gemv_fp_lut(&w, FP16, &[0x7e00, 0, 0], 3, 1);
        assert_eq!(nan, vec![CANONICAL_NAN; 2]);
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
