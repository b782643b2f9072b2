//! Shared by the sw crate's kernel tests: the bit-exactness verdict, the
//! benchmark matrix and its timer.
#![allow(dead_code)] // each test binary uses its own part

use std::time::Instant;

use lutcore_contract::testing::random_weights;
use lutcore_contract::{WeightMatrix, WeightType};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Panics unless `out` equals `want` (token-major, `rows` per token), naming
/// `what` and the first differing token, row and values.
pub fn assert_gemm_eq(out: &[i32], want: &[i32], rows: usize, what: &str) {
    assert_eq!(out.len(), want.len(), "{what}: number of results");
    if let Some(i) = out.iter().zip(want).position(|(a, b)| a != b) {
        panic!(
            "{what}: first mismatch at token {} row {}: got {} want {}",
            i / rows,
            i % rows,
            out[i],
            want[i]
        );
    }
}

/// Microseconds `f` takes.
pub fn micros(f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64() * 1e6
}

/// The timing tests' matrix: ternary 8640×3200 (BitNet 3B's FFN down
/// projection), random with seed 1, and the generator to draw activations from.
pub fn bench_matrix() -> (ChaCha8Rng, WeightMatrix) {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let w = random_weights(&mut rng, WeightType::Ternary, 8640, 3200, false);
    (rng, w)
}
