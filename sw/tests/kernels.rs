//! LUT GEMM kernels against the plain reference: every available ISA plus
//! Generic, random shapes (seeded; `LUTCORE_SEED` overrides), extreme values,
//! the lossy mode's error bound, and error messages. The timing harness is
//! the ignored test `bench_ternary_8640x3200` (run with `--ignored --nocapture`).

mod common;

use lutcore_contract::testing::{
    random_activations, random_weights, reference_gemm, seed_from_env,
};
use lutcore_contract::{WeightMatrix, WeightType};
use lutcore_sw::kernels::{
    flush_blocks, Isa, KernelError, KernelOptions, LutGemm, Scheme, TableMode,
    MAX_ABS_ERROR_PER_LOOKUP,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn seed() -> u64 {
    let seed = seed_from_env(0x1u64 << 40 | 0x7ac);
    println!("seed {seed} (replay: LUTCORE_SEED={seed} cargo test -p lutcore-sw --test kernels)");
    seed
}

/// Every ISA this machine claims, plus Generic; asserts the claim matches CPUID.
fn isas() -> Vec<Isa> {
    let avail = Isa::available();
    assert!(avail.contains(&Isa::Generic));
    #[cfg(target_arch = "x86_64")]
    {
        assert_eq!(
            avail.contains(&Isa::Avx2),
            std::arch::is_x86_feature_detected!("avx2"),
            "AVX2 detection"
        );
        let avx512 = std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && std::env::var_os("LUTCORE_UNVERIFIED_AVX512").is_some();
        assert_eq!(
            avail.contains(&Isa::Avx512),
            avx512,
            "AVX-512 detection (opt-in until verified)"
        );
    }
    println!("testing ISAs: {avail:?}");
    avail
}

fn opts(isa: Isa, threads: usize) -> KernelOptions {
    KernelOptions {
        isa,
        threads,
        tables: TableMode::Exact,
        scheme: Scheme::BitPlanes,
    }
}

fn check(w: &WeightMatrix, x: &[i8], n: usize, o: &KernelOptions, what: &str) {
    let g = LutGemm::new(w, o).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(g.options().isa, o.isa, "{what}: forced ISA not kept");
    let mut out = vec![i32::MIN; n * w.rows()];
    g.gemm(x, n, &mut out).unwrap();
    common::assert_gemm_eq(&out, &reference_gemm(w, x, n), w.rows(), what);
}

#[test]
fn bit_exact_on_random_shapes() {
    let seed = seed();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let isas = isas();
    for case in 0..60 {
        let wtype = WeightType::ALL[case % WeightType::ALL.len()];
        let m = 2 * rng.gen_range(0..40) + 1; // odd M
        let k = match case % 6 {
            0 => 1,
            1 => rng.gen_range(2..8),
            2 => rng.gen_range(8..70),
            3 => rng.gen_range(200..400),
            4 => 64 * rng.gen_range(1..6) + rng.gen_range(1..4),
            _ => rng.gen_range(700..1500),
        };
        let n = 1 + case % 9;
        let extreme = case % 3 == 0;
        let w = random_weights(&mut rng, wtype, m, k, extreme);
        let x = random_activations(&mut rng, n * k, extreme);
        for &isa in &isas {
            for threads in [1, 2] {
                let what = format!("case {case}: {wtype} {m}x{k} n={n} extreme={extreme} {isa} threads={threads} seed {seed}");
                check(&w, &x, n, &opts(isa, threads), &what);
                if wtype == WeightType::Ternary {
                    let native = KernelOptions {
                        scheme: Scheme::TernaryNative,
                        ..opts(isa, threads)
                    };
                    check(&w, &x, n, &native, &format!("{what} TernaryNative"));
                }
            }
        }
    }
}

#[test]
fn extreme_values_at_long_k() {
    let k = 16384;
    let m = 37;
    for wtype in WeightType::ALL {
        for wv in [wtype.max_value(), wtype.min_value()] {
            let w = WeightMatrix::from_values(m, k, wtype, &vec![wv; m * k]).unwrap();
            let mut x = vec![-128i8; k];
            x.extend(vec![127i8; k]);
            // A third token alternating, so tables differ between groups.
            x.extend((0..k).map(|i| if i % 2 == 0 { 127 } else { -128 }));
            for isa in Isa::available() {
                check(
                    &w,
                    &x,
                    3,
                    &opts(isa, 2),
                    &format!("{wtype} all {wv}, K={k}, {isa}"),
                );
                if wtype == WeightType::Ternary {
                    let native = KernelOptions {
                        scheme: Scheme::TernaryNative,
                        ..opts(isa, 2)
                    };
                    check(
                        &w,
                        &x,
                        3,
                        &native,
                        &format!("{wtype} all {wv}, K={k}, {isa} TernaryNative"),
                    );
                }
            }
        }
    }
}

#[test]
fn flush_intervals_follow_the_bounds() {
    // 16 weights per block; the TL side of a block adds at most 4·60·(2^b−1).
    for (bits, want) in [(1, 136), (2, 45), (3, 19), (4, 9)] {
        assert_eq!(flush_blocks(bits), want);
        assert!(flush_blocks(bits) as i32 * 240 * ((1 << bits) - 1) <= i32::from(i16::MAX));
    }
}

#[test]
fn quantized_tables_stay_within_their_bound() {
    let seed = seed();
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x9);
    let mut worst_rel = 0f64;
    for (case, wtype) in WeightType::ALL.into_iter().enumerate() {
        let (m, k, n) = (33, 1000 + case * 37, 3);
        let w = random_weights(&mut rng, wtype, m, k, false);
        let x = random_activations(&mut rng, n * k, case == 0);
        let want = reference_gemm(&w, &x, n);
        // Worst case: every lookup off by half a scale step, weighted by 2^p.
        let bound = MAX_ABS_ERROR_PER_LOOKUP as f64
            * ((1u64 << wtype.bits()) - 1) as f64
            * k.div_ceil(4) as f64;
        for isa in Isa::available() {
            let o = KernelOptions {
                tables: TableMode::QuantizedInt8,
                ..opts(isa, 2)
            };
            let g = LutGemm::new(&w, &o).unwrap();
            let mut out = vec![0f32; n * m];
            g.gemm_approx(&x, n, &mut out).unwrap();
            assert!(matches!(
                g.gemm(&x, n, &mut vec![0; n * m]),
                Err(KernelError::Unsupported(_))
            ));
            for (i, (&a, &e)) in out.iter().zip(&want).enumerate() {
                let err = (f64::from(a) - f64::from(e)).abs();
                // f32 rounding of sums up to K·128·15 < 2^25: a few ulps.
                let slack = 1e-5 * (k as f64 * 128.0 * 15.0);
                assert!(
                    err <= bound + slack,
                    "{wtype} {isa} out[{i}] = {a}, exact {e}, err {err} > bound {bound}"
                );
                worst_rel = worst_rel.max(err / bound);
            }
        }
    }
    println!("quantized: worst error = {:.3} of the bound", worst_rel);
}

#[test]
fn errors_are_clear() {
    let w = WeightMatrix::from_values(3, 5, WeightType::Uint(2), &[1; 15]).unwrap();
    let e = LutGemm::new(&w, &opts(Isa::Generic, 0)).unwrap_err();
    assert!(e.to_string().contains("threads"), "{e}");
    let g = LutGemm::new(&w, &opts(Isa::Generic, 1)).unwrap();
    let e = g.gemm(&[0; 9], 2, &mut [0; 6]).unwrap_err();
    assert!(
        matches!(e, KernelError::Shape(_)) && e.to_string().contains("10"),
        "{e}"
    );
    let e = g.gemm(&[0; 10], 2, &mut [0; 5]).unwrap_err();
    assert!(e.to_string().contains("out has 5"), "{e}");
    let e = LutGemm::new(
        &w,
        &KernelOptions {
            scheme: Scheme::TernaryNative,
            ..opts(Isa::Generic, 1)
        },
    )
    .unwrap_err();
    assert!(
        matches!(e, KernelError::Unsupported(_)) && e.to_string().contains("uint2"),
        "{e}"
    );
    for isa in [Isa::Avx2, Isa::Avx512] {
        match LutGemm::new(&w, &opts(isa, 1)) {
            Ok(_) => assert!(isa.is_available()),
            Err(e) => {
                assert_eq!(e, KernelError::IsaUnavailable(isa));
                assert!(e.to_string().contains(isa.name()), "{e}");
            }
        }
    }
    assert_eq!("AVX2".parse::<Isa>().unwrap(), Isa::Avx2);
    assert!("sse9"
        .parse::<Isa>()
        .unwrap_err()
        .to_string()
        .contains("sse9"));
}

/// Timing harness (not a unit test): ternary 8640×3200, batch 1 and 8,
/// 1 and 2 threads, hot and cold (a 64 MB buffer touched between calls).
#[test]
#[ignore]
fn bench_ternary_8640x3200() {
    use std::time::Instant;
    let (m, k) = (8640, 3200);
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let w = random_weights(&mut rng, WeightType::Ternary, m, k, false);
    let x = random_activations(&mut rng, 8 * k, false);
    let mut evict = vec![0u8; 64 << 20];
    let reps: usize = std::env::var("LUTCORE_BENCH_REPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let schemes = [Scheme::BitPlanes, Scheme::TernaryNative];
    for (isa, scheme) in Isa::available()
        .into_iter()
        .flat_map(|i| schemes.map(|s| (i, s)))
    {
        for threads in [1, 2] {
            let g = LutGemm::new(
                &w,
                &KernelOptions {
                    scheme,
                    ..opts(isa, threads)
                },
            )
            .unwrap();
            for n in [1, 8] {
                let mut out = vec![0i32; n * m];
                g.gemm(&x[..n * k], n, &mut out).unwrap();
                let mut hot = f64::MAX;
                let t0 = Instant::now();
                for _ in 0..reps {
                    let t = Instant::now();
                    g.gemm(&x[..n * k], n, &mut out).unwrap();
                    hot = hot.min(t.elapsed().as_secs_f64());
                }
                let hot_avg = t0.elapsed().as_secs_f64() / reps as f64;
                let mut cold = 0.0;
                for r in 0..reps {
                    for i in (0..evict.len()).step_by(64) {
                        evict[i] = evict[i].wrapping_add(r as u8);
                    }
                    let t = Instant::now();
                    g.gemm(&x[..n * k], n, &mut out).unwrap();
                    cold += t.elapsed().as_secs_f64();
                }
                cold /= reps as f64;
                println!(
                    "{:7} {scheme:?} threads={threads} n={n}: hot min {:7.1} µs avg {:7.1} µs | cold avg {:7.1} µs ({:.1} GB/s of {} weight bytes)",
                    isa.name(),
                    hot * 1e6,
                    hot_avg * 1e6,
                    cold * 1e6,
                    g.weight_bytes() as f64 / cold / 1e9,
                    g.weight_bytes()
                );
            }
        }
    }
    std::hint::black_box(&evict);
}

/// `LutGemm::gemm_many` (a layer's q/k/v sharing one table build and one pool
/// pass) equals the reference per matrix: native ternary matrices of one K with
/// different M (odd ones too), n = 1..9, 1 and 2 threads, every ISA; a mix with
/// a bit-plane matrix takes the one-by-one path and is exact too.
#[test]
fn gemm_many_matches_reference() {
    let seed = seed();
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x3a3a);
    for case in 0..18 {
        let k = rng.gen_range(1..=1100);
        let n = case % 9 + 1;
        let ms: Vec<usize> = (0..rng.gen_range(1..=4))
            .map(|_| rng.gen_range(1..=150))
            .collect();
        let ws: Vec<WeightMatrix> = ms
            .iter()
            .map(|&m| random_weights(&mut rng, WeightType::Ternary, m, k, case % 4 == 0))
            .collect();
        let x = random_activations(&mut rng, n * k, case % 4 == 0);
        let want: Vec<Vec<i32>> = ws.iter().map(|w| reference_gemm(w, &x, n)).collect();
        for isa in isas() {
            for threads in [1, 2] {
                for mixed in [false, true] {
                    let gs: Vec<LutGemm> = ws
                        .iter()
                        .enumerate()
                        .map(|(i, w)| {
                            let scheme = if mixed && i == 0 {
                                Scheme::BitPlanes
                            } else {
                                Scheme::TernaryNative
                            };
                            LutGemm::new(
                                w,
                                &KernelOptions {
                                    scheme,
                                    ..opts(isa, threads)
                                },
                            )
                            .unwrap()
                        })
                        .collect();
                    let refs: Vec<&LutGemm> = gs.iter().collect();
                    let mut bufs: Vec<Vec<i32>> =
                        ms.iter().map(|&m| vec![i32::MIN; n * m]).collect();
                    let mut outs: Vec<&mut [i32]> =
                        bufs.iter_mut().map(|b| b.as_mut_slice()).collect();
                    LutGemm::gemm_many(&refs, &x, n, &mut outs).unwrap();
                    assert_eq!(bufs, want, "case {case} seed {seed} {isa:?} threads={threads} mixed={mixed} K={k} M={ms:?} n={n}");
                }
            }
        }
    }
    // Shape errors are reported, not panics.
    let w = random_weights(&mut rng, WeightType::Ternary, 5, 7, false);
    let g = LutGemm::new(
        &w,
        &KernelOptions {
            scheme: Scheme::TernaryNative,
            ..opts(Isa::Generic, 1)
        },
    )
    .unwrap();
    let mut a = vec![0; 5];
    let mut b = vec![0; 4];
    assert!(LutGemm::gemm_many(&[&g, &g], &[0; 7], 1, &mut [&mut a, &mut b]).is_err());
    assert!(LutGemm::gemm_many(&[&g], &[0; 7], 1, &mut [&mut a, &mut b]).is_err());
}
