//! Bit-exactness of the native ternary kernels against `reference::gemv_plain`,
//! on every ISA this machine runs, plus an `#[ignore]`d speed measurement:
//! `cargo test --release -p lutcore-sw --test ternary_native -- --ignored --nocapture`.

use std::ops::Range;

mod common;

use lutcore_contract::reference::gemv_plain;
use lutcore_contract::testing::{
    random_activations, random_weights, reference_gemm, seed_from_env,
};
use lutcore_contract::{WeightMatrix, WeightType};
use lutcore_sw::kernels::ternary_native::{
    gemm_rows, try_gemm_rows, NativeTables, TernaryNativeWeights,
};
use lutcore_sw::kernels::{Isa, KernelError};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn seed() -> u64 {
    let seed = seed_from_env(0x7e4a_u64);
    println!(
        "seed {seed} (replay: LUTCORE_SEED={seed} cargo test -p lutcore-sw --test ternary_native)"
    );
    seed
}

/// Run every available ISA on `rows`; rows outside must stay untouched.
fn check(w: &WeightMatrix, x: &[i8], n: usize, rows: Range<usize>, what: &str) {
    let packed = TernaryNativeWeights::pack(w).unwrap();
    let want = reference_gemm(w, x, n);
    let m = w.rows();
    const SENTINEL: i32 = 0x5a5a_5a5a;
    for isa in Isa::available() {
        let mut out = vec![SENTINEL; n * m];
        gemm_rows(&packed, x, n, w.cols(), rows.clone(), &mut out, isa);
        for t in 0..n {
            for r in 0..m {
                let got = out[t * m + r];
                if rows.contains(&r) {
                    assert_eq!(
                        got,
                        want[t * m + r],
                        "{what}: {isa:?} token {t} row {r} ({m}x{} n={n} rows {rows:?})",
                        w.cols()
                    );
                } else {
                    assert_eq!(
                        got, SENTINEL,
                        "{what}: {isa:?} wrote row {r} outside {rows:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn random_shapes_match_reference_on_every_isa() {
    let seed = seed();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    println!("ISAs: {:?}", Isa::available());
    for case in 0..120 {
        let m = rng.gen_range(1..=24) * 2 - 1; // odd M
        let k = match case % 4 {
            0 => rng.gen_range(1..=8),
            1 => rng.gen_range(1..=200),
            _ => rng.gen_range(1..=1100), // spans several 480-weight chunks
        };
        let n = case % 9 + 1;
        let extreme = case % 3 == 0;
        let w = random_weights(&mut rng, WeightType::Ternary, m, k, extreme);
        let x = random_activations(&mut rng, n * k, extreme);
        let what = format!("case {case} seed {seed} extreme={extreme}");
        check(&w, &x, n, 0..m, &what);
        let a = rng.gen_range(0..m);
        let b = rng.gen_range(a..=m);
        check(&w, &x, n, a..b, &what);
    }
}

/// One table build shared by several row ranges (as the threads of one call
/// use it): every range, in any order, gives the reference rows, n = 1..9.
#[test]
fn shared_tables_over_split_row_ranges() {
    let seed = seed();
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5151);
    for case in 0..40 {
        let m = rng.gen_range(1..=120);
        let k = rng.gen_range(1..=1300);
        let n = case % 9 + 1;
        let w = random_weights(&mut rng, WeightType::Ternary, m, k, case % 5 == 0);
        let x = random_activations(&mut rng, n * k, case % 5 == 0);
        let want = reference_gemm(&w, &x, n);
        let packed = TernaryNativeWeights::pack(&w).unwrap();
        for isa in Isa::available() {
            let tables = NativeTables::new(&packed, &x, n, k, isa).unwrap();
            assert_eq!(tables.tokens(), n);
            let mut cuts: Vec<usize> = (0..rng.gen_range(0..5))
                .map(|_| rng.gen_range(0..=m))
                .collect();
            cuts.extend([0, m]);
            cuts.sort_unstable();
            let mut out = vec![i32::MIN; n * m];
            for c in cuts.windows(2).rev() {
                tables.run_rows(&packed, c[0]..c[1], |t, r0, vals| {
                    out[t * m + r0..t * m + r0 + vals.len()].copy_from_slice(vals)
                });
            }
            assert_eq!(
                out, want,
                "case {case} seed {seed} {isa:?} {m}x{k} n={n} cuts {cuts:?}"
            );
        }
    }
}

#[test]
fn k_equal_one_and_tiny_shapes() {
    for (m, k) in [
        (1, 1),
        (1, 2),
        (1, 3),
        (1, 4),
        (3, 1),
        (17, 1),
        (16, 3),
        (33, 47),
    ] {
        for n in 1..=9 {
            let v: Vec<i32> = (0..m * k).map(|i| (i % 3) as i32 - 1).collect();
            let w = WeightMatrix::from_values(m, k, WeightType::Ternary, &v).unwrap();
            let x: Vec<i8> = (0..n * k)
                .map(|i| if i % 2 == 0 { -128 } else { 127 })
                .collect();
            check(&w, &x, n, 0..m, &format!("{m}x{k} n={n}"));
        }
    }
}

/// Largest table magnitudes over long K: every i16 accumulator slot at its bound.
#[test]
fn extreme_values_over_long_k() {
    let (m, k) = (35, 3 * 16 * 10 * 2 + 7); // > two chunks of 480 weights
    for wv in [1, -1] {
        for xv in [-128i8, 127] {
            let w = WeightMatrix::from_values(m, k, WeightType::Ternary, &vec![wv; m * k]).unwrap();
            let x = vec![xv; 3 * k];
            check(&w, &x, 3, 0..m, &format!("all w={wv} x={xv}"));
        }
    }
    // Groups (+1, -1, -1) / (-1, +1, +1) against x = (127, -128, -128): |T| = 383.
    let v: Vec<i32> = (0..m * k)
        .map(|i| {
            let (r, c) = (i / k, i % k);
            let s = if r % 2 == 0 { 1 } else { -1 };
            if c % 3 == 0 {
                s
            } else {
                -s
            }
        })
        .collect();
    let w = WeightMatrix::from_values(m, k, WeightType::Ternary, &v).unwrap();
    let x: Vec<i8> = (0..2 * k)
        .map(|i| if i % k % 3 == 0 { 127 } else { -128 })
        .collect();
    check(&w, &x, 2, 0..m, "383 pattern");
    check(&w, &x, 2, 5..30, "383 pattern sub-range");
}

#[test]
fn errors_are_reported() {
    let u = WeightMatrix::from_values(1, 2, WeightType::Uint(2), &[1, 2]).unwrap();
    assert!(matches!(
        TernaryNativeWeights::pack(&u),
        Err(KernelError::Unsupported(_))
    ));
    let w =
        WeightMatrix::from_values(2, 4, WeightType::Ternary, &[1, 0, -1, 1, 0, 0, 1, -1]).unwrap();
    let p = TernaryNativeWeights::pack(&w).unwrap();
    assert_eq!((p.rows(), p.cols()), (2, 4));
    assert_eq!(p.weight_bytes(), 160);
    let mut out = vec![0; 4];
    let x = [1i8; 8];
    assert!(matches!(
        try_gemm_rows(&p, &x, 2, 3, 0..2, &mut out, Isa::Generic),
        Err(KernelError::Shape(_))
    ));
    assert!(matches!(
        try_gemm_rows(&p, &x[..7], 2, 4, 0..2, &mut out, Isa::Generic),
        Err(KernelError::Shape(_))
    ));
    assert!(matches!(
        try_gemm_rows(&p, &x, 2, 4, 0..3, &mut out, Isa::Generic),
        Err(KernelError::Shape(_))
    ));
    assert!(matches!(
        try_gemm_rows(&p, &x, 2, 4, 0..2, &mut out[..3], Isa::Generic),
        Err(KernelError::Shape(_))
    ));
    try_gemm_rows(&p, &x, 2, 4, 0..2, &mut out, Isa::Generic).unwrap();
    assert_eq!(out, vec![1, 0, 1, 0]); // row 0: 1 + 0 - 1 + 1; row 1: 0 + 0 + 1 - 1
}

/// Speed: ternary 8640×3200, 1 thread, weights cold (64 MB buffer touched
/// between calls) and hot, n = 1 and 8, every available ISA except generic.
#[test]
#[ignore]
fn bench_8640x3200() {
    let (mut rng, w) = common::bench_matrix();
    let (m, k) = (w.rows(), w.cols());
    let p = TernaryNativeWeights::pack(&w).unwrap();
    println!(
        "packed weight bytes: {} ({:.3} bits/weight)",
        p.weight_bytes(),
        p.weight_bytes() as f64 * 8.0 / (m * k) as f64
    );
    let mut evict = vec![0u8; 64 << 20];
    let mut isas = Isa::available();
    if std::env::var("LUTCORE_BENCH_GENERIC").is_err() {
        isas.retain(|&i| i != Isa::Generic);
    }
    for isa in isas {
        for n in [1usize, 8] {
            let x = random_activations(&mut rng, n * k, false);
            let mut out = vec![0i32; n * m];
            let reps = 30;
            let (mut cold, mut hot) = (Vec::new(), Vec::new());
            for _ in 0..reps {
                for (i, b) in evict.iter_mut().enumerate().step_by(64) {
                    *b = b.wrapping_add(i as u8);
                }
                cold.push(common::micros(|| {
                    gemm_rows(&p, &x, n, k, 0..m, &mut out, isa)
                }));
            }
            for _ in 0..reps {
                hot.push(common::micros(|| {
                    gemm_rows(&p, &x, n, k, 0..m, &mut out, isa)
                }));
            }
            std::hint::black_box(&evict);
            let mut setup = Vec::new();
            for _ in 0..reps {
                setup.push(common::micros(|| {
                    gemm_rows(&p, &x, n, k, 0..1, &mut out, isa)
                }));
            }
            setup.sort_by(f64::total_cmp);
            println!(
                "{isa:?} n={n}: tables + one row block (rows 0..1): median {:.1} µs",
                setup[reps / 2]
            );
            cold.sort_by(f64::total_cmp);
            hot.sort_by(f64::total_cmp);
            let gbs = |us: f64| p.weight_bytes() as f64 / us / 1e3;
            println!(
                "{isa:?} n={n}: cold median {:.0} µs (min {:.0}, {:.1} GB/s), hot median {:.0} µs (min {:.0}), {:.0} µs/token hot",
                cold[reps / 2],
                cold[0],
                gbs(cold[reps / 2]),
                hot[reps / 2],
                hot[0],
                hot[reps / 2] / n as f64
            );
            assert_eq!(&out[..m], &expected_row_sample(&w, &x, m)[..]);
        }
    }
}

fn expected_row_sample(w: &WeightMatrix, x: &[i8], m: usize) -> Vec<i32> {
    gemv_plain(w, &x[..w.cols()])
        .into_iter()
        .take(m)
        .map(|v| v as i32)
        .collect()
}
