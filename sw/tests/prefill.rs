//! Bit-exactness of the prefill GEMM kernels against `reference::gemv_plain`,
//! on every kernel this machine runs (generic always), every weight type,
//! random shapes (M, K not multiples of the tiles), batches that are and are
//! not multiples of the token tiles, extreme values, 1 and 2 threads.
//! Seeded: `LUTCORE_SEED=S cargo test --release -p lutcore-sw --test prefill`.

mod common;

use lutcore_contract::testing::{
    random_activations, random_weights, reference_gemm, seed_from_env,
};
use lutcore_contract::{WeightMatrix, WeightType};
use lutcore_sw::kernels::prefill::{
    PrefillGemm, PrefillIsa, PrefillWeights, PREFILL_MIN_BATCH, ROW_BLOCK,
};
use lutcore_sw::kernels::{Dispatch, Isa, KernelError, SimdPath};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn seed() -> u64 {
    let seed = seed_from_env(0x9f11);
    println!("seed {seed} (replay: LUTCORE_SEED={seed} cargo test --release -p lutcore-sw --test prefill)");
    seed
}

/// Every kernel this machine claims; asserts the claims match CPUID.
fn kernels() -> Vec<PrefillIsa> {
    let avail = PrefillIsa::available();
    assert_eq!(avail[0], PrefillIsa::Generic);
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        assert_eq!(avail.contains(&PrefillIsa::Avx2), has!("avx2"));
        assert_eq!(
            avail.contains(&PrefillIsa::AvxVnni),
            has!("avx2") && has!("avxvnni")
        );
        assert_eq!(
            avail.contains(&PrefillIsa::Avx512Vnni),
            has!("avx512f") && has!("avx512bw") && has!("avx512vnni")
        );
    }
    println!("prefill kernels: {avail:?}");
    avail
}

/// Every kernel × 1 and 2 threads against the reference.
fn check(w: &WeightMatrix, x: &[i8], n: usize, what: &str) {
    let want = reference_gemm(w, x, n);
    let packed = PrefillWeights::pack(w).unwrap();
    for isa in kernels() {
        for threads in [1, 2] {
            let g = PrefillGemm::from_packed(packed.clone(), isa, threads).unwrap();
            let mut out = vec![i32::MIN; n * w.rows()];
            g.gemm(x, n, &mut out).unwrap();
            let case = format!(
                "{what}: {isa} {threads}t {} {}x{} n={n}",
                w.wtype(),
                w.rows(),
                w.cols()
            );
            common::assert_gemm_eq(&out, &want, w.rows(), &case);
        }
    }
}

#[test]
fn random_shapes_and_types_match_reference_on_every_kernel() {
    let seed = seed();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for case in 0..80 {
        let wtype = WeightType::ALL[case % WeightType::ALL.len()];
        let m = rng.gen_range(1..=70);
        let k = match case % 3 {
            0 => rng.gen_range(1..=20),
            1 => rng.gen_range(1..=300),
            _ => rng.gen_range(300..=1500),
        };
        let n = rng.gen_range(1..=19);
        let extreme = case % 4 == 0;
        let w = random_weights(&mut rng, wtype, m, k, extreme);
        let x = random_activations(&mut rng, n * k, extreme);
        check(
            &w,
            &x,
            n,
            &format!("case {case} seed {seed} extreme={extreme}"),
        );
    }
}

/// Every weight at the largest code and every activation at −128 (then
/// +127) over K long enough for many AVX2 flushes: each i16 accumulator
/// reaches its bound exactly between flushes; also the smallest values.
#[test]
fn extremes_over_long_k() {
    for wtype in WeightType::ALL {
        let (m, k, n) = (2 * ROW_BLOCK + 3, 16 * 40 + 5, 9);
        for wv in [wtype.max_value(), wtype.min_value()] {
            for xv in [-128i8, 127] {
                let w = WeightMatrix::from_values(m, k, wtype, &vec![wv; m * k]).unwrap();
                check(&w, &vec![xv; n * k], n, &format!("all w={wv} x={xv}"));
            }
        }
    }
}

/// Batches around the token tiles (4 and 8) and the L2 token blocks.
#[test]
fn batch_sizes_around_tiles_and_blocks() {
    let seed = seed();
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xb10c);
    let (m, k) = (37, 3000); // token block of 32 at this K
    let w = random_weights(&mut rng, WeightType::Ternary, m, k, false);
    for n in [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 70] {
        let x = random_activations(&mut rng, n * k, false);
        check(&w, &x, n, &format!("seed {seed} n={n}"));
    }
}

#[test]
fn tiny_shapes() {
    for (m, k) in [(1, 1), (1, 2), (1, 5), (2, 17), (16, 1), (17, 16), (15, 33)] {
        for wtype in WeightType::ALL {
            for n in 1..=9 {
                let v: Vec<i32> = (0..m * k)
                    .map(|i| {
                        wtype.min_value() + (i as i32 % (wtype.max_value() - wtype.min_value() + 1))
                    })
                    .collect();
                let w = WeightMatrix::from_values(m, k, wtype, &v).unwrap();
                let x: Vec<i8> = (0..n * k)
                    .map(|i| if i % 3 == 0 { -128 } else { 127 - i as i8 % 7 })
                    .collect();
                check(&w, &x, n, &format!("{m}x{k} n={n}"));
            }
        }
    }
}

/// The prefill kernel is chosen by the one dispatcher: generic selected →
/// generic kernel; any selection → a kernel this CPU runs; AVX2 selected
/// explicitly (`LUTCORE_KERNEL=avx2`) → never the zmm kernel; no request →
/// the fastest kernel this CPU has. [`PrefillIsa::detect`] is the
/// dispatcher's choice for the process's selection (run with
/// `LUTCORE_KERNEL=generic` to see it reach the generic kernel).
#[test]
fn kernel_choice_goes_through_the_dispatcher() {
    assert_eq!(
        Dispatch::new(Isa::Generic).unwrap().prefill(),
        PrefillIsa::Generic
    );
    let requested = std::env::var("LUTCORE_KERNEL")
        .ok()
        .filter(|v| v.trim().parse::<Isa>().is_ok());
    for isa in Isa::available() {
        let d = Dispatch::new(isa).unwrap();
        let k = d.prefill();
        assert!(k.is_available(), "{isa}: {k}");
        assert_eq!(d.isa(SimdPath::Prefill), k.isa());
        if isa == Isa::Avx2 && requested.is_some() {
            assert_ne!(k, PrefillIsa::Avx512Vnni);
        }
        if requested.is_none() && isa != Isa::Generic {
            assert_eq!(k, *PrefillIsa::available().last().unwrap());
        }
    }
    let detected = PrefillIsa::detect();
    assert_eq!(detected, Dispatch::new(Isa::detect()).unwrap().prefill());
    if requested.as_deref().map(str::trim) == Some("generic") {
        assert_eq!(detected, PrefillIsa::Generic);
    }
    const { assert!(PREFILL_MIN_BATCH >= 1) };
}

#[test]
fn errors_are_reported() {
    let w =
        WeightMatrix::from_values(2, 4, WeightType::Ternary, &[1, 0, -1, 1, 0, 0, 1, -1]).unwrap();
    let g = PrefillGemm::new(&w, PrefillIsa::Generic, 1).unwrap();
    assert_eq!((g.rows(), g.cols(), g.isa()), (2, 4, PrefillIsa::Generic));
    assert_eq!(g.weight_bytes(), 64);
    let mut out = vec![0; 4];
    assert!(matches!(
        g.gemm(&[1; 8], 0, &mut out),
        Err(KernelError::Shape(_))
    ));
    assert!(matches!(
        g.gemm(&[1; 7], 2, &mut out),
        Err(KernelError::Shape(_))
    ));
    assert!(matches!(
        g.gemm(&[1; 8], 2, &mut out[..3]),
        Err(KernelError::Shape(_))
    ));
    assert!(matches!(
        PrefillGemm::new(&w, PrefillIsa::Generic, 0),
        Err(KernelError::InvalidOption { .. })
    ));
    g.gemm(&[1; 8], 2, &mut out).unwrap();
    assert_eq!(out, vec![1, 0, 1, 0]);
    for isa in PrefillIsa::ALL {
        if !isa.is_available() {
            let e = PrefillGemm::new(&w, isa, 1).unwrap_err();
            assert!(e.to_string().contains(isa.name()), "{e}");
        }
    }
}

/// Speed of every kernel, 1 thread, weights hot, ternary 8640x3200, n = 1, 2,
/// 4, 8, 16, beside the int8 multiply bound (M·K·n at 64 per cycle, the clock
/// from `/proc/cpuinfo`): `cargo test --release -p lutcore-sw --test prefill
/// -- --ignored --nocapture`. (`lutcore bench gemv` measures the clock and
/// runs cold as well.)
#[test]
#[ignore]
fn bench_8640x3200() {
    let (mut rng, w) = common::bench_matrix();
    let (m, k) = (w.rows(), w.cols());
    let packed = PrefillWeights::pack(&w).unwrap();
    let mhz: f64 = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("cpu MHz"))
                .and_then(|l| l.split(':').nth(1)?.trim().parse().ok())
        })
        .unwrap_or(3000.0);
    println!("clock {mhz} MHz (/proc/cpuinfo)");
    for isa in PrefillIsa::available()
        .into_iter()
        .filter(|&i| i != PrefillIsa::Generic)
    {
        let g = PrefillGemm::from_packed(packed.clone(), isa, 1).unwrap();
        for n in [1usize, 2, 4, 8, 16] {
            let x = random_activations(&mut rng, n * k, false);
            let mut out = vec![0i32; n * m];
            let mut times: Vec<f64> = (0..25)
                .map(|_| common::micros(|| g.gemm(&x, n, &mut out).unwrap()))
                .collect();
            times.sort_by(f64::total_cmp);
            let bound = (m * k * n) as f64 / (64.0 * mhz);
            println!("{isa} n={n}: median {:.0} us, min {:.0} us, AVX2 int8 bound {bound:.0} us, median/bound {:.2}", times[12], times[0], times[12] / bound);
            assert_eq!(&out[..m], &reference_gemm(&w, &x[..k], 1)[..]);
        }
    }
}
