//! The derived widths of every config in a grid hold the exact worst case:
//! the no-overflow argument for K up to `max_k` that complements the formal
//! proof (scripts/formal.sh proves one pass bit-exact at `max_k = k_tile`,
//! where the accumulator is narrowest; across K-tiles the accumulator only
//! adds, so it cannot overflow if its width holds the extreme sums below).
//!
//! Worst cases, with `A = 2^(act_bits-1)` (|x| <= A) and `K = max_k`:
//! * per-beat sum: LUT `|sum_e ±x_e| <= A·k_tile`; MAC/add-sub `k_tile` times
//!   the largest product;
//! * accumulator, LUT: every prefix of planes `|sum_p 2^p sum_e ±x_e| <=
//!   (2^B - 1)·A·K`, and after the finalize `acc = 2·y` with
//!   `|y| <= max|value|·A·K`; MAC/add-sub: `y` itself;
//! * Σx (LUT correction): `[-A·K, (A-1)·K]`.

use lutcore_contract::config::{signed_bits, Arch, RawArrayConfig};
use lutcore_contract::WeightType;

#[test]
fn widths_hold_the_exact_worst_case_for_every_config_in_a_grid() {
    let weights = [
        WeightType::Uint(1),
        WeightType::Uint(2),
        WeightType::Uint(3),
        WeightType::Uint(4),
        WeightType::Ternary,
    ];
    let mut checked = 0;
    for arch in Arch::ALL {
        for g in 2..=5u32 {
            for k_groups in [1u32, 2, 3, 4, 32] {
                for weights in weights {
                    for act_bits in [8u32, 16] {
                        for max_k in [
                            1u32,
                            2,
                            3,
                            7,
                            16,
                            100,
                            256,
                            1000,
                            4096,
                            16384,
                            65536,
                            1 << 20,
                        ] {
                            let raw = RawArrayConfig {
                                arch,
                                rows: 1,
                                k_groups,
                                g,
                                weights,
                                act: lutcore_contract::ActType::int(act_bits).expect("8 or 16"),
                                max_k,
                                tokens: 1,
                                accumulate: lutcore_contract::Accumulate::Fp32,
                            };
                            let Ok(cfg) = raw.validate() else { continue };
                            checked += 1;
                            let a = 1i64 << (act_bits - 1);
                            let k = i64::from(max_k);
                            let kt = cfg.k_tile() as i64;
                            let (vmin, vmax) = (
                                i64::from(weights.min_value()),
                                i64::from(weights.max_value()),
                            );
                            // y = sum v·x over K: its exact extremes.
                            let prods = [vmin * -a, vmin * (a - 1), vmax * -a, vmax * (a - 1)];
                            let (pmin, pmax) =
                                (*prods.iter().min().unwrap(), *prods.iter().max().unwrap());
                            let (ylo, yhi) = (pmin * k, pmax * k);
                            let acc = cfg.acc_bits();
                            let what = format!("{}", cfg);
                            match arch {
                                Arch::Lut => {
                                    let planes = (1i64 << weights.bits()) - 1;
                                    assert!(
                                        signed_bits(-planes * a * k, planes * a * k) <= acc,
                                        "planes overflow: {what}"
                                    );
                                    assert!(
                                        signed_bits(2 * ylo, 2 * yhi) <= acc,
                                        "2y overflows: {what}"
                                    );
                                    assert!(
                                        signed_bits(-a * kt, a * kt) <= cfg.beat_sum_bits(),
                                        "beat sum: {what}"
                                    );
                                    assert!(
                                        signed_bits(-a * k, (a - 1) * k) <= cfg.sum_x_bits(),
                                        "sum x: {what}"
                                    );
                                    assert!(cfg.result_value_bits() <= 32, "{what}");
                                }
                                Arch::Mac | Arch::AddSub => {
                                    assert!(signed_bits(ylo, yhi) <= acc, "acc overflows: {what}");
                                    assert!(
                                        signed_bits(pmin * kt, pmax * kt) <= cfg.beat_sum_bits(),
                                        "beat sum: {what}"
                                    );
                                    assert!(
                                        signed_bits(pmin, pmax) <= cfg.product_bits(),
                                        "product: {what}"
                                    );
                                    assert!(acc <= 32, "{what}");
                                }
                            }
                            // Not wasteful: at most one bit more than the exact worst case.
                            let need = match arch {
                                Arch::Lut => signed_bits(
                                    -(((1i64 << weights.bits()) - 1) * a * k),
                                    ((1i64 << weights.bits()) - 1) * a * k,
                                )
                                .max(signed_bits(2 * ylo, 2 * yhi)),
                                _ => signed_bits(ylo, yhi),
                            };
                            // A beat spans a whole K-tile even when max_k is shorter: the accumulator
                            // then takes the per-beat sum's width (checked exact above).
                            let need = need.max(cfg.beat_sum_bits());
                            assert!(acc <= need + 1, "acc {acc} bits, {need} needed: {what}");
                        }
                    }
                }
            }
        }
    }
    assert!(checked > 1000, "{checked} configs");
}
