//! Arrays with several tokens per pass (`tokens` = M = 2 and 3), Verilated
//! and driven through their stream interface with batches of B activation
//! vectors: B not a multiple of M (the last pass padded with zero vectors),
//! M and K not multiples of the tile, random values and the extremes (every
//! edge value of FP16: ±0, subnormals, largest finite, ±Inf, NaN; ±127/-128
//! for int8; the weight type's ends). Each token's results must be the bits
//! of the one-token reference on that token alone (`reference::per_token`):
//! fp16 on the LUT array and both FP baselines, int8 on the LUT array and on
//! the integer MAC and add/sub baselines, and exact accumulation (FP16, FP8
//! E4M3 and E5M2 on the LUT array and the add/sub baseline, uint1 and ternary;
//! reference `gemv_fp_exact` per token). Every FP config also runs one pass in
//! which a single token carries an Inf or NaN and the others stay finite: the
//! other tokens' results must stay finite and bit-exact (exact arrays: the
//! poisoned token's rows are all the canonical NaN). The seed is printed;
//! `LUTCORE_SEED=<n>` replays it.

use lutcore_contract::config::{Arch, ArrayConfig, RawArrayConfig};
use lutcore_contract::fp::CANONICAL_NAN;
use lutcore_contract::layout::{BitPlanes, WeightMatrix};
use lutcore_contract::reference::{gemm_lut, gemv_plain};
use lutcore_contract::testing::{random_activations, random_weights, seed_from_env};
use lutcore_contract::{Accumulate, ActType, WeightType};
use lutcore_sim::fpcheck::{fp_reference, fp_reference_batch, random_fp_activations, Edges};
use lutcore_sim::{PackedWeights, Simulator};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn config(arch: Arch, act: ActType, wt: WeightType, shape: (u32, u32, u32), m: u32) -> ArrayConfig {
    config_with(arch, act, wt, shape, m, Accumulate::Fp32)
}

fn config_with(
    arch: Arch,
    act: ActType,
    wt: WeightType,
    (rows, k_groups, g): (u32, u32, u32),
    m: u32,
    acc: Accumulate,
) -> ArrayConfig {
    RawArrayConfig::new(arch, rows, k_groups, g, wt, act, 1024)
        .with_tokens(m)
        .with_accumulate(acc)
        .validate()
        .unwrap_or_else(|e| panic!("{arch} {act} {wt} tokens {m} accumulate {acc}: {e}"))
}

/// (rows M, K, batch B, extremes) of every case: M and K multiples of the
/// tile and not, B a multiple of the tokens per pass and not, B = 1.
fn cases(cfg: &ArrayConfig, rng: &mut ChaCha8Rng) -> Vec<(usize, usize, usize, bool)> {
    let (r, kt, t) = (cfg.rows(), cfg.k_tile(), cfg.tokens());
    vec![
        (2 * r, 3 * kt, 2 * t, false),
        (2 * r + 1, 2 * kt + 1, t + 1, false),
        (r + 1, 3 * kt + 2, 2 * t - 1, true),
        (1, 1, 1, true),
        (r, kt.max(2) - 1, t, true),
        (
            rng.gen_range(1..=3 * r),
            rng.gen_range(1..=6 * kt),
            rng.gen_range(1..=3 * t),
            rng.gen_bool(0.5),
        ),
    ]
}

/// Run every case of `cfg` and compare each token with the one-token reference.
fn check(cfg: &ArrayConfig, seed: u64) {
    let name = cfg.slug();
    let mut sim = Simulator::new(cfg).unwrap_or_else(|e| panic!("{name}: build: {e}"));
    let mut rng =
        ChaCha8Rng::seed_from_u64(seed ^ u64::from(name.len() as u32) << 32 ^ cfg.tokens() as u64);
    for (i, (m, k, b, extremes)) in cases(cfg, &mut rng).into_iter().enumerate() {
        let at = format!("{name} case {i}: {m}x{k}, batch {b}, extremes {extremes}, seed {seed}");
        let w: WeightMatrix = random_weights(&mut rng, cfg.weights(), m, k, extremes);
        let packed = PackedWeights::new(cfg, &w).unwrap_or_else(|e| panic!("{at}: {e}"));
        let passes = packed.row_tiles() * b.div_ceil(cfg.tokens());
        match cfg.act_float() {
            Some(fmt) => {
                let edges = if extremes { Edges::All } else { Edges::Finite };
                let x: Vec<u32> = (0..b)
                    .flat_map(|_| random_fp_activations(&mut rng, fmt, k, edges))
                    .collect();
                let mut out = vec![0u32; b * m];
                let run = sim
                    .gemm_fp(&packed, &x, b, &mut out)
                    .unwrap_or_else(|e| panic!("{at}: {e}"));
                assert_eq!(run.passes, passes, "{at}");
                let xs: Vec<&[u32]> = x.chunks(k).collect();
                let want = fp_reference_batch(cfg, &w, &xs);
                for (t, (got, want)) in out.chunks(m).zip(&want).enumerate() {
                    assert_eq!(want, &fp_reference(cfg, &w, xs[t]), "{at}");
                    if let Some(r) = got.iter().zip(want).position(|(a, b)| a != b) {
                        panic!(
                            "{at}: token {t} row {r}: RTL {:#010x} ({:e}) != reference {:#010x} ({:e})",
                            got[r],
                            f32::from_bits(got[r]),
                            want[r],
                            f32::from_bits(want[r])
                        );
                    }
                }
            }
            None => {
                let x: Vec<i8> = random_activations(&mut rng, b * k, extremes);
                let mut out = vec![0i32; b * m];
                let run = sim
                    .gemm(&packed, &x, b, &mut out)
                    .unwrap_or_else(|e| panic!("{at}: {e}"));
                assert_eq!(run.passes, passes, "{at}");
                let xs: Vec<&[i8]> = x.chunks(k).collect();
                let want = gemm_lut(&BitPlanes::new(&w, cfg.g()), cfg.weights(), &xs);
                for (t, (got, want)) in out.chunks(m).zip(&want).enumerate() {
                    assert_eq!(want, &gemv_plain(&w, xs[t]), "{at}: LUT reference");
                    if let Some(r) = got.iter().zip(want).position(|(a, b)| i64::from(*a) != *b) {
                        panic!(
                            "{at}: token {t} row {r}: RTL {} != reference {}",
                            got[r], want[r]
                        );
                    }
                }
            }
        }
        println!("{at}: {b} token(s) bit-exact in {passes} passes");
    }
    if cfg.act_float().is_some() {
        check_one_token_nonfinite(cfg, &mut sim, &mut rng, seed);
    }
}

/// One pass of `cfg.tokens()` FP vectors where only token `t` (random) has
/// an Inf or NaN: every token bit-exact against the one-token reference, the
/// other tokens' results finite, and on an exact array token `t`'s rows all
/// the canonical NaN.
fn check_one_token_nonfinite(
    cfg: &ArrayConfig,
    sim: &mut Simulator,
    rng: &mut ChaCha8Rng,
    seed: u64,
) {
    let fmt = cfg.act_float().expect("an FP config");
    let (r, kt, b) = (cfg.rows(), cfg.k_tile(), cfg.tokens());
    let (m, k) = (2 * r + 1, 2 * kt + 3);
    let poisoned = rng.gen_range(0..b);
    let specials: Vec<u32> = fmt
        .edge_values()
        .into_iter()
        .filter(|&c| !fmt.decode(c).is_finite())
        .collect();
    let special = specials[rng.gen_range(0..specials.len())];
    let at = format!(
        "{} one-token Inf/NaN: {m}x{k}, token {poisoned} of {b} has {special:#x}, seed {seed}",
        cfg.slug()
    );
    let w: WeightMatrix = random_weights(rng, cfg.weights(), m, k, false);
    let mut xs: Vec<Vec<u32>> = (0..b)
        .map(|_| random_fp_activations(rng, fmt, k, Edges::Finite))
        .collect();
    let i = rng.gen_range(0..k);
    xs[poisoned][i] = special;
    let x: Vec<u32> = xs.concat();
    let packed = PackedWeights::new(cfg, &w).unwrap_or_else(|e| panic!("{at}: {e}"));
    let mut out = vec![0u32; b * m];
    sim.gemm_fp(&packed, &x, b, &mut out)
        .unwrap_or_else(|e| panic!("{at}: {e}"));
    let exact = cfg.accumulate() == Accumulate::Exact;
    for (t, got) in out.chunks(m).enumerate() {
        assert_eq!(got, &fp_reference(cfg, &w, &xs[t])[..], "{at}: token {t}");
        if t == poisoned {
            assert!(
                !exact || got.iter().all(|&y| y == CANONICAL_NAN),
                "{at}: token {t}: {got:x?}"
            );
        } else {
            assert!(
                got.iter().all(|&y| f32::from_bits(y).is_finite()),
                "{at}: token {t} (finite activations): {got:x?}"
            );
        }
    }
    println!("{at}: bit-exact, the other tokens finite");
}

fn run(cfgs: &[ArrayConfig]) {
    let seed = seed_from_env(0x70c);
    println!("seed {seed} (replay: LUTCORE_SEED={seed} cargo test --release -p lutcore-sim --test tokens_gemv)");
    for cfg in cfgs {
        check(cfg, seed);
    }
}

#[test]
fn fp16_arrays_with_two_and_three_tokens_are_bit_exact_per_token() {
    use WeightType::{Ternary, Uint};
    run(&[
        config(Arch::Lut, ActType::Fp16, Uint(2), (3, 1, 4), 2),
        config(Arch::Lut, ActType::Fp16, Uint(1), (2, 2, 3), 3),
        config(Arch::Mac, ActType::Fp16, Uint(4), (3, 1, 4), 2),
        config(Arch::Mac, ActType::Fp16, Ternary, (2, 1, 3), 3),
        config(Arch::AddSub, ActType::Fp16, Uint(2), (2, 1, 4), 2),
        config(Arch::AddSub, ActType::Fp16, Uint(1), (3, 1, 3), 3),
    ]);
}

#[test]
fn int8_arrays_with_two_and_three_tokens_are_bit_exact_per_token() {
    use WeightType::{Ternary, Uint};
    run(&[
        config(Arch::Lut, ActType::Int8, Ternary, (3, 2, 4), 2),
        config(Arch::Lut, ActType::Int8, Uint(2), (2, 1, 2), 3),
        config(Arch::Mac, ActType::Int8, Uint(2), (3, 1, 4), 2),
        config(Arch::AddSub, ActType::Int8, Ternary, (2, 2, 2), 3),
    ]);
}

/// Exact accumulation with two and three tokens: FP16, E4M3 and E5M2 each on
/// the LUT array and the add/sub baseline, the weight type (uint1, ternary)
/// and the tokens per pass rotating so that each datapath sees both of each.
#[test]
fn exact_arrays_with_two_and_three_tokens_are_bit_exact_per_token() {
    use ActType::{Fp16, Fp8E4m3, Fp8E5m2};
    use WeightType::{Ternary, Uint};
    let x = Accumulate::Exact;
    run(&[
        config_with(Arch::Lut, Fp16, Uint(1), (3, 1, 4), 2, x),
        config_with(Arch::Lut, Fp8E4m3, Ternary, (2, 2, 3), 3, x),
        config_with(Arch::Lut, Fp8E5m2, Ternary, (3, 1, 2), 2, x),
        config_with(Arch::AddSub, Fp16, Ternary, (2, 1, 3), 3, x),
        config_with(Arch::AddSub, Fp8E4m3, Uint(1), (3, 1, 4), 2, x),
        config_with(Arch::AddSub, Fp8E5m2, Uint(1), (2, 2, 2), 3, x),
    ]);
}

/// Every format × datapath × weight type (uint1, ternary) × tokens (2, 3):
/// 24 Verilator builds, `cargo test --release -p lutcore-sim --test
/// tokens_gemv -- --ignored`.
#[test]
#[ignore]
fn exact_arrays_every_format_weight_and_token_count() {
    let mut cfgs = Vec::new();
    for act in [ActType::Fp16, ActType::Fp8E4m3, ActType::Fp8E5m2] {
        for (arch, shape) in [(Arch::Lut, (2, 2, 3)), (Arch::AddSub, (3, 1, 3))] {
            for wt in [WeightType::Uint(1), WeightType::Ternary] {
                for m in [2, 3] {
                    cfgs.push(config_with(arch, act, wt, shape, m, Accumulate::Exact));
                }
            }
        }
    }
    run(&cfgs);
}
