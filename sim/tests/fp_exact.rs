//! The arrays with exact accumulation (`"accumulate": "exact"`: fixed-point
//! integers inside, one rounding per row), Verilated and driven through their
//! stream interface, against the contract's `gemv_fp_exact` bit for bit.
//!
//! FP16, FP8 E4M3 and E5M2 each run on the LUT array and the add/sub baseline,
//! the weight type rotating so that each datapath sees uint1, uint2 and
//! ternary (`fp_exact_every_weight_type`, ignored: 18 Verilator builds, runs
//! the full cross). Each config runs seeded random shapes (M and K multiples of
//! the tile and not, K = 1, K = max_k) with values near ±1, every edge value
//! (±0, subnormals, largest finite, Inf, NaN), subnormals only, the largest
//! values of one sign at K = max_k with the largest weights (the accumulator's
//! full range), and raw random codes. Every finite row's error against the
//! exact dot product is compared with the binary32 accumulation's
//! (`gemv_fp_lut` / `gemv_fp_mac`) on the same inputs: the exact array is the
//! correctly rounded result, never further from the exact value, and the
//! printed max/mean errors show by how much. The seed is printed;
//! `LUTCORE_SEED=<n>` replays one.

mod common;

use lutcore_contract::config::{Arch, ArrayConfig, RawArrayConfig};
use lutcore_contract::fp::FpFormat;
use lutcore_contract::layout::WeightMatrix;
use lutcore_contract::reference::gemv_f64;
use lutcore_contract::testing::{random_weights, seed_from_env};
use lutcore_contract::{Accumulate, ActType, WeightType};
use lutcore_sim::fpcheck::{fp_reference, random_fp_activations, Edges, FpError};
use lutcore_sim::Simulator;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The formats with a fixed-point form.
const FORMATS: [ActType; 3] = [ActType::Fp16, ActType::Fp8E4m3, ActType::Fp8E5m2];
/// The datapaths with exact accumulation.
const ARCHS: [Arch; 2] = [Arch::Lut, Arch::AddSub];
/// The weight types each datapath sees.
const WEIGHTS: [WeightType; 3] = [
    WeightType::Uint(1),
    WeightType::Uint(2),
    WeightType::Ternary,
];
/// The configs' max_k: small, so that one case can run K = max_k.
const MAX_K: u32 = 192;

/// How one case fills its activations.
#[derive(Clone, Copy, Debug)]
enum Fill {
    /// Values near ±1 with ±0, subnormals and the smallest normal mixed in.
    Finite,
    /// As `Finite`, and every edge value of the format at least once (Inf, NaN).
    AllEdges,
    /// Subnormals and zeros of both signs only.
    Subnormal,
    /// The largest finite value, one sign for the whole vector.
    MaxSameSign,
    /// Uniformly random bit patterns: every exponent, NaNs of any payload.
    RawCodes,
}

fn activations(rng: &mut ChaCha8Rng, fmt: FpFormat, k: usize, fill: Fill) -> Vec<u32> {
    let sign = 1u32 << (fmt.bits() - 1);
    match fill {
        Fill::Finite => random_fp_activations(rng, fmt, k, Edges::Finite),
        Fill::AllEdges => random_fp_activations(rng, fmt, k, Edges::All),
        Fill::Subnormal => (0..k)
            .map(|_| rng.gen_range(0..1u32 << fmt.man_bits) | if rng.gen() { sign } else { 0 })
            .collect(),
        Fill::MaxSameSign => {
            let max = fmt.round(fmt.max_finite());
            let s = if rng.gen() { sign } else { 0 };
            vec![max | s; k]
        }
        Fill::RawCodes => (0..k)
            .map(|_| rng.gen_range(0..1u32 << fmt.bits()))
            .collect(),
    }
}

/// Shapes every config runs: (M, K, fill, extreme weights).
fn shapes(cfg: &ArrayConfig, rng: &mut ChaCha8Rng) -> Vec<(usize, usize, Fill, bool)> {
    let (r, kt, max_k) = (cfg.rows(), cfg.k_tile(), cfg.max_k());
    let odd_m = (2 * r + 1) | 1;
    let mut v = vec![
        (r * 2, kt * 3, Fill::Finite, false), // M a multiple of rows, K of the K-tile
        (odd_m, kt * 2 + 1, Fill::Finite, false), // neither
        (1, 1, Fill::Finite, false),
        (r + 1, kt * 4 + 3, Fill::AllEdges, false),
        (odd_m, kt * 3 + 1, Fill::Subnormal, true),
        (r + 1, max_k, Fill::MaxSameSign, true), // the accumulator's full range
        (r, max_k - 1, Fill::Finite, true),
        (r + 1, kt * 2 + 1, Fill::RawCodes, false),
    ];
    for fill in [Fill::Finite, Fill::Finite, Fill::AllEdges] {
        v.push((
            rng.gen_range(1..=3 * r + 2),
            rng.gen_range(1..=max_k),
            fill,
            rng.gen_bool(0.3),
        ));
    }
    v
}

fn config(
    arch: Arch,
    act: ActType,
    weights: WeightType,
    (rows, k_groups, g): (u32, u32, u32),
) -> ArrayConfig {
    RawArrayConfig::new(arch, rows, k_groups, g, weights, act, MAX_K)
        .with_accumulate(Accumulate::Exact)
        .validate()
        .unwrap_or_else(|e| panic!("{arch} {act} {weights}: {e}"))
}

/// The same datapath with binary32 accumulation.
fn fp32_twin(cfg: &ArrayConfig) -> ArrayConfig {
    cfg.raw()
        .clone()
        .with_accumulate(Accumulate::Fp32)
        .validate()
        .expect("the binary32 twin of a valid exact config")
}

/// Errors over all finite rows of one config, both modes: (max, sum, rows).
#[derive(Default)]
struct Errors {
    exact: (f64, f64),
    fp32: (f64, f64),
    rows: usize,
}

impl Errors {
    fn add(&mut self, exact: FpError, fp32: FpError) {
        self.exact.0 = self.exact.0.max(exact.max_rel);
        self.exact.1 += exact.mean_rel * exact.finite_rows as f64;
        self.fp32.0 = self.fp32.0.max(fp32.max_rel);
        self.fp32.1 += fp32.mean_rel * fp32.finite_rows as f64;
        self.rows += exact.finite_rows;
    }
}

fn check_config(cfg: &ArrayConfig, seed: u64) {
    let name = cfg.slug();
    let fmt = cfg.act_float().expect("an FP config");
    let twin = fp32_twin(cfg);
    let mut sim = common::simulator(cfg);
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ common::fxhash(&name));
    let mut errors = Errors::default();
    for (i, (m, k, fill, extreme_w)) in shapes(cfg, &mut rng).into_iter().enumerate() {
        let w: WeightMatrix = random_weights(&mut rng, cfg.weights(), m, k, extreme_w);
        let x = activations(&mut rng, fmt, k, fill);
        let case = format!(
            "{name} ({cfg}) case {i}: {m}x{k} {fill:?} extreme weights {extreme_w} seed {seed}"
        );
        let results = common::run_fp_case(&mut sim, cfg, &w, &x, "gemv_fp_exact", &case);
        // The correctly rounded row is the binary32 value nearest the exact one:
        // never further from it than the binary32 accumulation's.
        let fp32 = fp_reference(&twin, &w, &x);
        let exact = gemv_f64(&w, fmt, &x);
        for r in 0..m {
            let (a, b) = (f32::from_bits(results[r]), f32::from_bits(fp32[r]));
            if a.is_finite() && b.is_finite() && exact[r].is_finite() {
                assert!(
                    (f64::from(a) - exact[r]).abs() <= (f64::from(b) - exact[r]).abs(),
                    "{name} case {i} row {r}: exact {a:e} is further from {} than fp32 {b:e} (seed {seed})",
                    exact[r]
                );
            }
        }
        errors.add(
            FpError::measure(&w, fmt, &x, &results),
            FpError::measure(&w, fmt, &x, &fp32),
        );
    }
    let n = errors.rows.max(1) as f64;
    println!(
        "{name}: error |y - exact| / sum|w*x| over {} finite rows: exact max {:.2e} mean {:.2e}; fp32 accumulation max {:.2e} mean {:.2e}",
        errors.rows,
        errors.exact.0,
        errors.exact.1 / n,
        errors.fp32.0,
        errors.fp32.1 / n
    );
    // One rounding: at most half an ulp of |y| ≤ sum|w*x|.
    assert!(
        errors.exact.0 <= 2f64.powi(-24),
        "{name}: {}",
        errors.exact.0
    );
}

/// The configs of one run: every format on both datapaths, the weight type
/// rotating (`full`: every weight type on each), shapes with 1 to 3 groups.
fn configs(full: bool) -> Vec<ArrayConfig> {
    let mut v = Vec::new();
    for (f, &act) in FORMATS.iter().enumerate() {
        for (a, &arch) in ARCHS.iter().enumerate() {
            let types: Vec<WeightType> = if full {
                WEIGHTS.to_vec()
            } else {
                vec![WEIGHTS[(f + a) % WEIGHTS.len()]]
            };
            for wt in types {
                let shape = match arch {
                    Arch::Lut => [(3, 2, 3), (2, 1, 4), (4, 3, 2)][f],
                    _ => [(2, 1, 5), (3, 2, 2), (2, 1, 4)][f],
                };
                v.push(config(arch, act, wt, shape));
            }
        }
    }
    v
}

fn run_all(full: bool) {
    let seed = seed_from_env(0xe7ac);
    println!("seed {seed} (replay: LUTCORE_SEED={seed} cargo test --release -p lutcore-sim --test fp_exact)");
    for cfg in &configs(full) {
        check_config(cfg, seed);
    }
}

#[test]
fn exact_arrays_are_bit_exact_and_correctly_rounded() {
    let cfgs = configs(false);
    for arch in ARCHS {
        let mut seen: Vec<WeightType> = cfgs
            .iter()
            .filter(|c| c.arch() == arch)
            .map(|c| c.weights())
            .collect();
        seen.sort_by_key(|w| w.to_string());
        seen.dedup();
        assert_eq!(seen.len(), WEIGHTS.len(), "{arch}: {seen:?}");
    }
    run_all(false);
}

/// Every format × datapath × weight type (18 Verilator builds):
/// `cargo test --release -p lutcore-sim --test fp_exact -- --ignored`.
#[test]
#[ignore]
fn fp_exact_every_weight_type() {
    run_all(true);
}

#[test]
fn exact_specials_by_hand() {
    // A zero-weight row against Inf is NaN (every row is), ±0 sums are +0.
    let cfg = config(Arch::AddSub, ActType::Fp16, WeightType::Uint(2), (2, 1, 5));
    let w = WeightMatrix::from_values(2, 3, WeightType::Uint(2), &[0, 0, 0, 3, 3, 3]).unwrap();
    assert_eq!(
        fp_reference(&cfg, &w, &[0x7c00, 0, 0]),
        vec![0x7fc0_0000; 2]
    );
    assert_eq!(fp_reference(&cfg, &w, &[0x8000, 0x8000, 0]), vec![0, 0]);
    // The RTL agrees: one build of the smallest config.
    let mut sim = Simulator::new(&cfg).expect("build");
    for x in [
        [0x7c00, 0, 0],
        [0x8000, 0x8000, 0],
        [0x0001, 0x7bff, 0xfe00],
    ] {
        let run = sim.gemv_fp(&w, &x).expect("run");
        assert_eq!(run.results, fp_reference(&cfg, &w, &x), "{x:x?}");
    }
}
