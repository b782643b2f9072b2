//! Checking arrays with floating-point activations: random activation codes
//! with the format's edge values ([`random_fp_activations`]), the contract's
//! golden bits for a config ([`fp_reference`]) and the error of those bits
//! against the exact dot product ([`FpError`]).

use lutcore_contract::config::ArrayConfig;
use lutcore_contract::fp::FpFormat;
use lutcore_contract::layout::WeightMatrix;
use lutcore_contract::reference::{gemv_f64, gemv_fp_array, per_token};
use rand::seq::SliceRandom;
use rand::Rng;

/// Which extreme codes [`random_fp_activations`] mixes in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edges {
    /// The finite edge values that cannot overflow a sum: ±0, the smallest
    /// and largest subnormals, the smallest normal, ±1.
    Finite,
    /// Every edge value of the format ([`FpFormat::edge_values`]): also the
    /// largest finite values, ±Inf (IEEE formats) and NaN.
    All,
}

/// `k` activation codes of `fmt`: values near ±1 (a sum of four uniform
/// draws, rounded to the format), about one in eight replaced by a random
/// edge value of `edges`; with [`Edges::All`] every edge value occurs at
/// least once when `k` allows.
pub fn random_fp_activations<R: Rng>(
    rng: &mut R,
    fmt: FpFormat,
    k: usize,
    edges: Edges,
) -> Vec<u32> {
    let all = fmt.edge_values();
    let pool: Vec<u32> = match edges {
        Edges::All => all,
        Edges::Finite => all
            .into_iter()
            .filter(|&b| {
                let v = fmt.decode(b);
                v.is_finite() && v.abs() <= 1.0
            })
            .collect(),
    };
    let mut x: Vec<u32> = (0..k)
        .map(|_| {
            if rng.gen_range(0..8) == 0 {
                *pool.choose(rng).expect("every format has edge values")
            } else {
                let v: f64 = (0..4).map(|_| rng.gen_range(-1.0..1.0)).sum();
                fmt.round(v)
            }
        })
        .collect();
    if edges == Edges::All {
        let mut at: Vec<usize> = (0..k).collect();
        at.shuffle(rng);
        for (&i, &b) in at.iter().zip(&pool) {
            x[i] = b;
        }
    }
    x
}

/// The bits the array of `cfg` must return for `w · x` (`x` raw codes of its
/// format): the contract's [`gemv_fp_array`] (exact, LUT or MAC reference by
/// the config). Panics if `cfg` has integer activations.
pub fn fp_reference(cfg: &ArrayConfig, w: &WeightMatrix, x: &[u32]) -> Vec<u32> {
    gemv_fp_array(cfg, w, x).expect("fp_reference of a config with floating-point activations")
}

/// [`fp_reference`] of each token's activation codes `xs[t]`: the bits an
/// array of `cfg` with any number of tokens per pass returns for them.
pub fn fp_reference_batch(cfg: &ArrayConfig, w: &WeightMatrix, xs: &[&[u32]]) -> Vec<Vec<u32>> {
    per_token(xs, |x| fp_reference(cfg, w, x))
}

/// The error of binary32 results against the exact dot product (f64), each
/// row's error relative to `Σ_c |w_rc · x_c|` (the scale of the sum, so that
/// a cancelling row does not divide by almost nothing).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FpError {
    /// Rows compared: both the result and the exact value finite.
    pub finite_rows: usize,
    /// All rows.
    pub rows: usize,
    /// Largest relative error over the compared rows (0 if none).
    pub max_rel: f64,
    /// Mean relative error over the compared rows (0 if none).
    pub mean_rel: f64,
}

impl FpError {
    /// The error of `got` (binary32 bits per row) for `w · x` in `fmt`.
    pub fn measure(w: &WeightMatrix, fmt: FpFormat, x: &[u32], got: &[u32]) -> FpError {
        let exact = gemv_f64(w, fmt, x);
        let (mut n, mut max, mut sum) = (0usize, 0f64, 0f64);
        for (r, (&bits, &want)) in got.iter().zip(&exact).enumerate() {
            let y = f64::from(f32::from_bits(bits));
            if !y.is_finite() || !want.is_finite() {
                continue;
            }
            let scale: f64 = x
                .iter()
                .enumerate()
                .map(|(c, &xc)| (f64::from(w.value(r, c)) * fmt.decode(xc)).abs())
                .sum();
            let rel = if scale > 0.0 {
                (y - want).abs() / scale
            } else {
                (y - want).abs()
            };
            n += 1;
            max = max.max(rel);
            sum += rel;
        }
        FpError {
            finite_rows: n,
            rows: got.len(),
            max_rel: max,
            mean_rel: if n == 0 { 0.0 } else { sum / n as f64 },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lutcore_contract::dtype::WeightType;
    use lutcore_contract::fp::{BF16, E4M3, E5M2, FP16};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn all_edges_occur_and_finite_edges_stay_finite() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for fmt in [FP16, BF16, E4M3, E5M2] {
            let x = random_fp_activations(&mut rng, fmt, 64, Edges::All);
            for b in fmt.edge_values() {
                assert!(x.contains(&b), "{fmt} {b:#x}");
            }
            let x = random_fp_activations(&mut rng, fmt, 500, Edges::Finite);
            assert!(x.iter().all(|&b| fmt.decode(b).is_finite()), "{fmt}");
            assert!(x.iter().all(|&b| u64::from(b) >> fmt.bits() == 0), "{fmt}");
        }
    }

    #[test]
    fn error_is_zero_for_exact_results_and_counts_finite_rows() {
        let w = WeightMatrix::from_values(3, 2, WeightType::Uint(2), &[1, 2, 3, 0, 1, 1]).unwrap();
        // 1.0 and 2.0 in FP16; row 2 gets +Inf from the second activation.
        let x = [0x3c00, 0x4000];
        let exact: Vec<u32> = [5.0f32, 3.0, 3.0].iter().map(|v| v.to_bits()).collect();
        let e = FpError::measure(&w, FP16, &x, &exact);
        assert_eq!((e.finite_rows, e.rows, e.max_rel), (3, 3, 0.0));
        let mut off = exact.clone();
        off[0] = 5.5f32.to_bits();
        off[2] = f32::INFINITY.to_bits();
        let e = FpError::measure(&w, FP16, &x, &off);
        assert_eq!(e.finite_rows, 2);
        assert_eq!(e.max_rel, 0.5 / 5.0);
    }
}
