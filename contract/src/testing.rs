//! Random problems for the tests of every crate (feature `testing`): weights
//! and int8 activations drawn uniformly from a type's range, or, when
//! `extreme`, only its two ends (the values that overflow a narrow sum first).

use rand::Rng;

use crate::dtype::WeightType;
use crate::layout::WeightMatrix;

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
