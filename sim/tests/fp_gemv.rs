//! The arrays with floating-point activations (FP16, BF16, FP8 E4M3 and E5M2),
//! Verilated and driven through their stream interface, against the
//! contract's reference bits (`gemv_fp_lut` for the LUT array, `gemv_fp_mac`
//! for both baselines), bit for bit.
//!
//! Every format runs on the LUT array and both baselines, with the weight type
//! and the array's shape (rows, k_groups, g) rotating so that each datapath
//! sees four weight types and every weight type is covered; `fp_every_weight_type`
//! (ignored: 59 Verilator builds, about 10 minutes) runs the full cross. Each
//! config runs seeded random shapes (M and K multiples of the tile and not, K = 1)
//! with random values near ±1, with every edge value of the format mixed in
//! (±0, subnormals, largest finite, ±Inf, NaN), with edge values only, with
//! large values whose sums overflow, and with raw random codes (NaN payloads). The seed is printed; `LUTCORE_SEED=<n>`
//! replays one.

mod common;

use lutcore_contract::config::{Arch, ArrayConfig, RawArrayConfig};
use lutcore_contract::fp::FpFormat;
use lutcore_contract::layout::WeightMatrix;
use lutcore_contract::testing::{random_weights, seed_from_env};
use lutcore_contract::{ActType, WeightType};
use lutcore_sim::fpcheck::{random_fp_activations, Edges};
use lutcore_sim::Simulator;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The floating-point activation types.
const FORMATS: [ActType; 4] = [
    ActType::Fp16,
    ActType::Bf16,
    ActType::Fp8E4m3,
    ActType::Fp8E5m2,
];

/// How one case fills its activations.
#[derive(Clone, Copy, Debug)]
enum Fill {
    /// Values near ±1 with ±0, subnormals and the smallest normal mixed in.
    Finite,
    /// As `Finite`, and every edge value of the format at least once.
    AllEdges,
    /// Every activation an edge value.
    EdgesOnly,
    /// Values within a factor 4 of the largest finite one, either sign: sums
    /// that overflow to ±Inf and cancel to NaN.
    Large,
    /// Uniformly random bit patterns: every exponent, NaNs with any payload and sign.
    RawCodes,
}

fn activations(rng: &mut ChaCha8Rng, fmt: FpFormat, k: usize, fill: Fill) -> Vec<u32> {
    match fill {
        Fill::Finite => random_fp_activations(rng, fmt, k, Edges::Finite),
        Fill::AllEdges => random_fp_activations(rng, fmt, k, Edges::All),
        Fill::EdgesOnly => {
            let edges = fmt.edge_values();
            (0..k).map(|_| *edges.choose(rng).expect("edges")).collect()
        }
        Fill::Large => (0..k)
            .map(|_| {
                let v = fmt.max_finite() / f64::from(rng.gen_range(1..=4));
                fmt.round(if rng.gen_bool(0.5) { v } else { -v })
            })
            .collect(),
        Fill::RawCodes => (0..k)
            .map(|_| rng.gen_range(0..1u32 << fmt.bits()))
            .collect(),
    }
}

/// Shapes every config runs: (M, K, fill, extreme weights).
fn shapes(cfg: &ArrayConfig, rng: &mut ChaCha8Rng) -> Vec<(usize, usize, Fill, bool)> {
    let (r, kt) = (cfg.rows(), cfg.k_tile());
    let odd_m = (2 * r + 1) | 1;
    let mut v = vec![
        (r * 2, kt * 3, Fill::Finite, false), // M a multiple of rows, K of the K-tile
        (odd_m, kt * 2 + 1, Fill::Finite, false), // neither
        (1, 1, Fill::Finite, false),
        (r + 1, 1, Fill::AllEdges, false),
        (r, kt.max(2) - 1, Fill::Finite, true), // K below one tile
        (odd_m, kt * 4 + 3, Fill::AllEdges, false),
        (odd_m, kt * 3 + 1, Fill::AllEdges, true),
        (r + 2, kt * 2 + 1, Fill::EdgesOnly, false),
        (r * 2 + 1, kt * 5 + 2, Fill::Large, true),
        (r + 1, kt * 2 + 1, Fill::RawCodes, false),
    ];
    for fill in [Fill::Finite, Fill::AllEdges] {
        v.push((
            rng.gen_range(1..=3 * r + 2),
            rng.gen_range(1..=8 * kt),
            fill,
            false,
        ));
    }
    v
}

fn config(
    arch: Arch,
    act: ActType,
    weights: WeightType,
    rows: u32,
    k_groups: u32,
    g: u32,
) -> ArrayConfig {
    RawArrayConfig::new(arch, rows, k_groups, g, weights, act, 4096)
        .validate()
        .unwrap_or_else(|e| panic!("{arch} {act} {weights}: {e}"))
}

/// Whether the MAC baseline can dequantize `wt` to `act` (E5M2 cannot hold uint4's odd values above 8).
fn mac_supports(act: ActType, wt: WeightType) -> bool {
    let fmt = act.float_format().expect("FP");
    (wt.min_value()..=wt.max_value()).all(|v| fmt.decode(fmt.round(f64::from(v))) == f64::from(v))
}

fn check_config(cfg: &ArrayConfig, seed: u64) {
    let name = cfg.slug();
    let fmt = cfg.act_float().expect("an FP config");
    let mut sim = common::simulator(cfg);
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ common::fxhash(&name));
    for (i, (m, k, fill, extreme_w)) in shapes(cfg, &mut rng).into_iter().enumerate() {
        let w: WeightMatrix = random_weights(&mut rng, cfg.weights(), m, k, extreme_w);
        let x = activations(&mut rng, fmt, k, fill);
        let case = format!(
            "{name} ({cfg}) case {i}: {m}x{k} {fill:?} extreme weights {extreme_w} seed {seed}"
        );
        common::run_fp_case(&mut sim, cfg, &w, &x, "reference", &case);
    }
}

/// The configs of one run: every format on every datapath, the weight type
/// and the shape rotating (`full`: every weight type on each).
fn configs(full: bool) -> Vec<ArrayConfig> {
    let mut v = Vec::new();
    for (f, &act) in FORMATS.iter().enumerate() {
        for (a, arch) in Arch::ALL.into_iter().enumerate() {
            let types: Vec<WeightType> = if full {
                WeightType::ALL.to_vec()
            } else {
                vec![WeightType::ALL[(f + 2 * a) % WeightType::ALL.len()]]
            };
            for wt in types {
                if arch == Arch::Mac && !mac_supports(act, wt) {
                    continue;
                }
                let (rows, k_groups, g) = match arch {
                    Arch::Lut => [(3, 2, 3), (2, 1, 4), (4, 3, 2), (2, 1, 5)][f],
                    Arch::Mac => [(3, 1, 4), (2, 2, 3), (5, 1, 2), (2, 1, 5)][f],
                    Arch::AddSub => [(2, 1, 5), (3, 2, 2), (2, 1, 4), (4, 1, 3)][f],
                };
                v.push(config(arch, act, wt, rows, k_groups, g));
            }
        }
    }
    v
}

fn run_all(full: bool) {
    let seed = seed_from_env(0xf9);
    println!("seed {seed} (replay: LUTCORE_SEED={seed} cargo test --release -p lutcore-sim --test fp_gemv)");
    let cfgs = configs(full);
    let (lut, mac, addsub) = (
        cfgs.iter()
            .filter(|c| c.arch() == Arch::Lut)
            .map(|c| c.weights()),
        cfgs.iter()
            .filter(|c| c.arch() == Arch::Mac)
            .map(|c| c.weights()),
        cfgs.iter()
            .filter(|c| c.arch() == Arch::AddSub)
            .map(|c| c.weights()),
    );
    for (arch, types) in [
        ("lut", lut.collect::<Vec<_>>()),
        ("mac", mac.collect()),
        ("addsub", addsub.collect()),
    ] {
        println!("{arch}: weight types {types:?}");
    }
    for cfg in &cfgs {
        check_config(cfg, seed);
    }
}

#[test]
fn fp_arrays_are_bit_exact() {
    let cfgs = configs(false);
    assert_eq!(cfgs.len(), FORMATS.len() * Arch::ALL.len());
    // Every weight type runs somewhere, and each datapath sees four.
    for wt in WeightType::ALL {
        assert!(cfgs.iter().any(|c| c.weights() == wt), "{wt}");
    }
    for arch in Arch::ALL {
        let mut seen: Vec<WeightType> = cfgs
            .iter()
            .filter(|c| c.arch() == arch)
            .map(|c| c.weights())
            .collect();
        seen.dedup();
        assert_eq!(seen.len(), 4, "{arch}: {seen:?}");
    }
    run_all(false);
}

/// Every format × datapath × weight type but E5M2 uint4 on the MAC (slow: 59 Verilator builds):
/// `cargo test --release -p lutcore-sim --test fp_gemv -- --ignored`.
#[test]
#[ignore]
fn fp_every_weight_type() {
    run_all(true);
}

#[test]
fn the_mac_baseline_refuses_weights_its_format_cannot_hold() {
    let cfg = config(Arch::Mac, ActType::Fp8E5m2, WeightType::Uint(4), 2, 1, 4);
    let e = lutcore_gen::generate(&cfg).unwrap_err().to_string();
    assert!(
        e.contains("fp8-e5m2") && e.contains("9, 11, 13, 15") && e.contains("addsub"),
        "{e}"
    );
    assert!(mac_supports(ActType::Fp8E5m2, WeightType::Uint(3)));
    assert!(lutcore_gen::generate(&config(
        Arch::AddSub,
        ActType::Fp8E5m2,
        WeightType::Uint(4),
        2,
        1,
        4
    ))
    .is_ok());
}

#[test]
fn integer_and_fp_drivers_refuse_the_other_kind_of_array() {
    // The LUT config of fp_arrays_are_bit_exact: one build for both tests.
    let fp = config(Arch::Lut, ActType::Fp16, WeightType::Uint(1), 3, 2, 3);
    let mut sim = Simulator::new(&fp).expect("build");
    let w = WeightMatrix::from_values(1, 2, WeightType::Uint(1), &[1, 0]).unwrap();
    let e = sim.gemv(&w, &[1i8, 2]).unwrap_err().to_string();
    assert!(e.contains("fp16") && e.contains("run_gemm_fp"), "{e}");
    let e = sim.gemv_fp(&w, &[0x1_0000, 0]).unwrap_err().to_string();
    assert!(
        e.contains("0x10000") && e.contains("16-bit fp16 code"),
        "{e}"
    );
    let int = lutcore_contract::config::preset("tiny").unwrap();
    let mut sim = Simulator::new(&int).expect("build");
    let w = WeightMatrix::from_values(1, 2, WeightType::Uint(2), &[1, 0]).unwrap();
    let e = sim.gemv_fp(&w, &[0x3c00, 0]).unwrap_err().to_string();
    assert!(e.contains("int8") && e.contains("run_gemm"), "{e}");
}
