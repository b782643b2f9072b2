//! Random problems for the tests of every crate (feature `testing`): weights
//! and int8 activations drawn uniformly from a type's range, or, when
//! `extreme`, only its two ends (the values that overflow a narrow sum first);
//! the seed they are drawn with, and the expected result of an n-token GEMM.

use rand::Rng;

use crate::dtype::WeightType;
use crate::layout::WeightMatrix;
use crate::reference::gemv_plain;

/// The seed of a seeded test: `LUTCORE_SEED` when it holds a number, else
/// `default`. One reading of the variable for every crate's tests, so that a
/// printed seed replays the same way everywhere.
pub fn seed_from_env(default: u64) -> u64 {
    std::env::var("LUTCORE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The expected `out` (n × M, token-major) of an n-token GEMM of `w` with
/// `x` (n × K): the plain reference GEMV per token, each sum as the `i32`
/// the kernels return (panics if one does not fit).
pub fn reference_gemm(w: &WeightMatrix, x: &[i8], n: usize) -> Vec<i32> {
    let k = w.cols();
    (0..n)
        .flat_map(|t| {
            gemv_plain(w, &x[t * k..(t + 1) * k])
                .into_iter()
                .map(|v| i32::try_from(v).unwrap())
        })
        .collect()
}

/// An `m`×`k` matrix of `wtype` values, uniform or (when `extreme`) each at
/// the type's minimum or maximum with probability ½.
pub fn random_weights<R: Rng>(
    rng: &mut R,
    wtype: WeightType,
    m: usize,
    k: usize,
    extreme: bool,
) -> WeightMatrix {
    let (lo, hi) = (wtype.min_value(), wtype.max_value());
    let values: Vec<i32> = (0..m * k)
        .map(|_| match extreme {
            true if rng.gen_bool(0.5) => hi,
            true => lo,
            false => rng.gen_range(lo..=hi),
        })
        .collect();
    WeightMatrix::from_values(m, k, wtype, &values).expect("values drawn from the type's range")
}

/// `len` int8 activations, uniform or (when `extreme`) each 127 or -128.
pub fn random_activations<R: Rng>(rng: &mut R, len: usize, extreme: bool) -> Vec<i8> {
    (0..len)
        .map(|_| match extreme {
            true if rng.gen_bool(0.5) => 127,
            true => -128,
            false => rng.gen(),
        })
        .collect()
}
