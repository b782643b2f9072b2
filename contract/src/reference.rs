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
//! * [`gemv_fp_array`]: which of the FP references an array config computes.
//! * [`per_token`] ([`gemm_lut`]): a pass
//!   of M tokens, M independent GEMVs.

use crate::config::{Arch, ArrayConfig};
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
/// arithmetic between tokens. [`gemm_lut`] is the batch form of
/// [`gemv_lut`] built with it; the co-simulation's FP reference is another.
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

/// The GEMV of an array with `"accumulate": "exact"` (binary32 bits per
/// row): `Σ_c value(r, c) · x[c]` computed exactly and rounded once, to nearest
/// even, to binary32 ([`fp::fixed_to_f32`]). Each activation is the integer
/// `x · 2^frac_bits` of its format's [`FpFormat::fixed_point`]
/// ([`FpFormat::to_fixed`]), so the sum is an exact integer and the order of
/// the adds (tables, trees, planes, tiles, padding) does not matter: the LUT
/// array and the add/sub baseline give the same bits.
///
/// Non-finite inputs: if any activation is Inf or NaN, every row is
/// [`fp::CANONICAL_NAN`] (whatever its weights, zero ones included). A zero
/// sum is +0 (an integer has no −0). Never Inf: the largest sum,
/// `65504 · 15 · 2^20` for FP16, is far below binary32's range.
///
/// Panics if `fmt` has no fixed point (BF16: the config refuses exact
/// accumulation for it) or if the shapes differ.
pub fn gemv_fp_exact(w: &WeightMatrix, fmt: FpFormat, x: &[u32]) -> Vec<u32> {
    assert_eq!(
        w.cols(),
        x.len(),
        "GEMV shape: K of weights and activations differ"
    );
    let fx = fmt
        .fixed_point()
        .unwrap_or_else(|| panic!("{fmt} has no fixed-point form for exact accumulation"));
    let Some(xs) = x
        .iter()
        .map(|&b| fmt.to_fixed(b))
        .collect::<Option<Vec<i64>>>()
    else {
        return vec![fp::CANONICAL_NAN; w.rows()];
    };
    (0..w.rows())
        .map(|r| {
            let sum: i128 = xs
                .iter()
                .enumerate()
                .map(|(c, &xc)| i128::from(w.value(r, c)) * i128::from(xc))
                .sum();
            fp::fixed_to_f32(sum, fx.frac_bits)
        })
        .collect()
}

/// The bits the array of `cfg` must return for `w · x` (`x` raw codes of its
/// activation format): [`gemv_fp_exact`] for exact accumulation, else
/// [`gemv_fp_lut`] for the LUT array and [`gemv_fp_mac`] for the baselines
/// (the add/sub array sums the same products in the same order). `None` for
/// a config with integer activations. The one selection of the FP golden
/// model: the co-simulation and the shipped testbench both call it.
pub fn gemv_fp_array(cfg: &ArrayConfig, w: &WeightMatrix, x: &[u32]) -> Option<Vec<u32>> {
    let fmt = cfg.act_float()?;
    if cfg.act_fixed().is_some() {
        return Some(gemv_fp_exact(w, fmt, x));
    }
    Some(match cfg.arch() {
        Arch::Lut => gemv_fp_lut(w, fmt, x, cfg.g(), cfg.k_groups()),
        Arch::Mac | Arch::AddSub => gemv_fp_mac(w, fmt, x, cfg.k_tile()),
    })
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

    /// Whether binary32 `r` is `s · 2^-frac` rounded to nearest, ties to an
    /// even mantissa: `r` against its two neighbours, all as exact integers at
    /// scale `2^(frac+1)` (a neighbour below a power of two has half the ulp).
    /// Written without [`fp::fixed_to_f32`]'s shift-and-round.
    fn is_nearest_even(s: i128, frac: u32, r: u32) -> bool {
        let rf = f32::from_bits(r);
        if !rf.is_finite() {
            return false;
        }
        if s == 0 {
            return r == 0;
        }
        // c · 2^(frac+1) if that is an integer (f32 → f64 and the power-of-two
        // scaling are exact); `None` for a neighbour with a finer ulp.
        let scaled = |c: f32| {
            let v = f64::from(c) * 2f64.powi(frac as i32 + 1);
            (v.is_finite() && v.fract() == 0.0).then_some(v as i128)
        };
        let target = 2 * s;
        let Some(at) = scaled(rf) else {
            return false;
        };
        let d0 = (target - at).abs();
        if d0 == 0 {
            return true;
        }
        // Neighbours in magnitude order, same sign (r is not zero here: s ≠ 0 and
        // the nearest value to a nonzero multiple of 2^-frac ≤ 2^-24 is nonzero).
        let mag = r & 0x7fff_ffff;
        let sign = r & 0x8000_0000;
        let mut ok = true;
        for n in [mag.checked_sub(1), Some(mag + 1)].into_iter().flatten() {
            let Some(at_n) = scaled(f32::from_bits(sign | n)) else {
                continue;
            };
            let d = (target - at_n).abs();
            ok &= d0 < d || (d0 == d && r & 1 == 0);
        }
        ok
    }

    /// The exact sum of row `r` as an integer at scale `2^frac_bits`, from
    /// [`FpFormat::decode`] (f64) instead of [`FpFormat::to_fixed`].
    fn exact_sum(w: &WeightMatrix, fmt: FpFormat, x: &[u32], r: usize) -> i128 {
        let f = fmt.fixed_point().unwrap().frac_bits;
        x.iter()
            .enumerate()
            .map(|(c, &b)| {
                let v = fmt.decode(b) * 2f64.powi(f as i32);
                assert_eq!(v.fract(), 0.0, "{fmt} {b:#x} is a multiple of 2^-{f}");
                i128::from(w.value(r, c)) * v as i128
            })
            .sum()
    }

    #[test]
    fn exact_gemv_is_the_correctly_rounded_dot_product() {
        use crate::fp::{E4M3, E5M2, FP16};
        let seed = crate::testing::seed_from_env(0xe7ac_u64);
        println!("seed {seed} (replay: LUTCORE_SEED={seed} cargo test -p lutcore-contract)");
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (mut via_f64, mut tested) = (0, 0);
        for case in 0..300 {
            let fmt = [FP16, E4M3, E5M2][case % 3];
            let wtype = WeightType::ALL[case % WeightType::ALL.len()];
            let (m, k) = (rng.gen_range(1..=4), rng.gen_range(1..=300));
            let w = crate::testing::random_weights(&mut rng, wtype, m, k, case % 4 == 0);
            // Every finite code, any magnitude: subnormals next to the largest values.
            let x: Vec<u32> = (0..k)
                .map(|_| loop {
                    let b = rng.gen_range(0..1u32 << fmt.bits());
                    let v = fmt.decode(b);
                    // Half the cases keep |x| ≤ 2^4: sums exact in f64.
                    if v.is_finite() && (case % 2 == 0 || v.abs() <= 16.0) {
                        break b;
                    }
                })
                .collect();
            let got = gemv_fp_exact(&w, fmt, &x);
            let f = fmt.fixed_point().unwrap().frac_bits;
            let dot = gemv_f64(&w, fmt, &x);
            for r in 0..m {
                let s = exact_sum(&w, fmt, &x, r);
                assert!(
                    is_nearest_even(s, f, got[r]),
                    "case {case} {fmt} {wtype} {m}x{k} row {r}: {:#x} is not the nearest binary32 to {s}·2^-{f} (seed {seed})",
                    got[r]
                );
                // Σ|w·x| below 2^53 quanta: every f64 partial sum is exact, and
                // the cast to f32 is the one rounding.
                let bound: f64 = x
                    .iter()
                    .map(|&b| fmt.decode(b).abs() * 2f64.powi(f as i32) * 15.0)
                    .sum();
                if bound < 2f64.powi(53) {
                    assert_eq!(
                        got[r],
                        fp::canon(dot[r] as f32),
                        "case {case} {fmt} row {r} (seed {seed})"
                    );
                    via_f64 += 1;
                }
                tested += 1;
            }
        }
        assert!(
            via_f64 > tested / 4,
            "the f64 check ran on {via_f64} of {tested} rows"
        );
    }

    #[test]
    fn exact_gemv_extremes_ties_and_specials() {
        use crate::fp::{CANONICAL_NAN, E4M3, E5M2, FP16};
        let row = |vals: &[i32], wtype: WeightType| {
            WeightMatrix::from_values(1, vals.len(), wtype, vals).unwrap()
        };
        // max_k of the presets: every activation the largest FP16, every weight 15.
        let k = 4096;
        let w = row(&vec![15; k], WeightType::Uint(4));
        let x = vec![0x7bff; k]; // 65504
        let want = (65504.0f64 * 15.0 * k as f64) as f32; // exact in f64, one rounding
        assert_eq!(gemv_fp_exact(&w, FP16, &x), vec![want.to_bits()]);
        let neg = vec![0xfbff; k];
        assert_eq!(gemv_fp_exact(&w, FP16, &neg), vec![(-want).to_bits()]);
        // Subnormals only: K · 2^-24, exact.
        let w1 = row(&vec![1; k], WeightType::Uint(1));
        assert_eq!(
            gemv_fp_exact(&w1, FP16, &vec![0x0001; k]),
            vec![(k as f32 * 2f32.powi(-24)).to_bits()]
        );
        // The largest value plus one smallest subnormal: below half an ulp, 65504.
        let w2 = row(&[1, 1], WeightType::Uint(1));
        assert_eq!(
            gemv_fp_exact(&w2, FP16, &[0x7bff, 0x0001]),
            vec![65504f32.to_bits()]
        );
        // Ties at 2^24: 512 · 2^15 + 1 rounds down to even 2^24, + 3 up to 2^24 + 4.
        let mut vals = vec![1; 513];
        let w3 = row(&vals, WeightType::Uint(2));
        let mut x3 = vec![0x7800; 512]; // 2^15
        x3.push(0x3c00); // 1
        assert_eq!(gemv_fp_exact(&w3, FP16, &x3), vec![2f32.powi(24).to_bits()]);
        vals[512] = 3;
        let w3 = row(&vals, WeightType::Uint(2));
        assert_eq!(
            gemv_fp_exact(&w3, FP16, &x3),
            vec![(2f32.powi(24) + 4.0).to_bits()]
        );
        // ... and the sticky bits: 2^24 + 1 + one subnormal is above the tie.
        let mut x4 = x3.clone();
        x4.push(0x0001);
        vals[512] = 1;
        vals.push(1);
        let w4 = row(&vals, WeightType::Uint(2));
        assert_eq!(
            gemv_fp_exact(&w4, FP16, &x4),
            vec![(2f32.powi(24) + 2.0).to_bits()]
        );
        // ±0 and cancellation give +0; -0 alone too.
        let t = row(&[1, -1, 1], WeightType::Ternary);
        assert_eq!(gemv_fp_exact(&t, FP16, &[0x3c00, 0x3c00, 0x8000]), vec![0]);
        assert_eq!(gemv_fp_exact(&t, E5M2, &[0x80, 0x80, 0x80]), vec![0]);
        // Any Inf or NaN in the vector: every row NaN, even a row of zero weights.
        let w5 = WeightMatrix::from_values(2, 2, WeightType::Uint(1), &[1, 1, 0, 0]).unwrap();
        for (fmt, special) in [
            (FP16, 0x7c00),
            (FP16, 0xfc00),
            (FP16, 0x7e01),
            (E5M2, 0x7c),
            (E4M3, 0x7f),
            (E4M3, 0xff),
        ] {
            assert_eq!(
                gemv_fp_exact(&w5, fmt, &[0x0001, special]),
                vec![CANONICAL_NAN; 2],
                "{fmt} {special:#x}"
            );
        }
        // E4M3 has no Inf: 0x7e is 448, finite.
        assert_eq!(
            gemv_fp_exact(&w5, E4M3, &[0x7e, 0x7e]),
            vec![896f32.to_bits(), 0]
        );
    }

    #[test]
    fn exact_is_at_least_as_accurate_as_fp32_accumulation() {
        use crate::fp::FP16;
        // Large terms that cancel and small ones that survive: binary32 sums lose
        // the small ones, the exact sum keeps them.
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for _ in 0..50 {
            let k = 256;
            let w = crate::testing::random_weights(&mut rng, WeightType::Ternary, 3, k, false);
            let x: Vec<u32> = (0..k)
                .map(|i| {
                    FP16.round(if i % 2 == 0 {
                        rng.gen_range(-60000.0..60000.0)
                    } else {
                        rng.gen_range(-1e-3..1e-3)
                    })
                })
                .collect();
            let exact = gemv_f64(&w, FP16, &x);
            let err = |bits: &[u32]| -> f64 {
                bits.iter()
                    .zip(&exact)
                    .map(|(&b, &e)| (f64::from(f32::from_bits(b)) - e).abs())
                    .fold(0.0, f64::max)
            };
            let ex = gemv_fp_exact(&w, FP16, &x);
            for (&b, &e) in ex.iter().zip(&exact) {
                // One rounding: within half an ulp of binary32.
                assert!((f64::from(f32::from_bits(b)) - e).abs() <= e.abs() * 2f64.powi(-24));
            }
            assert!(err(&ex) <= err(&gemv_fp_lut(&w, FP16, &x, 4, 1)));
            assert!(err(&ex) <= err(&gemv_fp_mac(&w, FP16, &x, 4)));
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
