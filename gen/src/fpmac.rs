//! The two floating-point baselines of the FP LUT array, with its streams and
//! controller ([`crate::mac::one_beat_array`]): one weight beat carries all
//! bit planes of a K-tile and each row computes `k_tile` products at once.
//!
//! * `arch: mac` (the LUT Tensor Core paper's MAC): each weight code is
//!   dequantized to the activation format by a constant case table
//!   (`lutcore_<f>_dequant_<w>`) and multiplied by an FP multiplier
//!   (`lutcore_<f>_mul`).
//! * `arch: addsub` (our strict baseline: the weights are integers): each
//!   activation is multiplied by the integer weight value
//!   (`lutcore_<f>_mul_int<W>`, a sign flip and shift-adds).
//!
//! Both then sum the beat's binary32 products in [`lutcore_contract::fp::tree_sum`]
//! order and add the sum to a binary32 accumulator that starts at +0: the
//! bits of `lutcore_contract::reference::gemv_fp_mac`.

use lutcore_contract::config::{signed_bits, Arch, ArrayConfig};
use lutcore_contract::dtype::WeightType;
use lutcore_contract::fp::FpFormat;

use crate::control;
use crate::fp::{self, Unit};
use crate::fplut::{accumulator, tree, Units};
use crate::ir::{e, Expr, Item, Module, Port, Stmt};
use crate::mac::{one_beat_array, pe_ports_with, token_activations, weight_value};
use crate::GenError;

/// The MAC baseline's processing element.
pub const MAC_PE: &str = "lutcore_fpmac_pe";
/// The MAC baseline's top.
pub const MAC_ARRAY: &str = "lutcore_fpmac_array";
/// The add-tree baseline's processing element.
pub const ADDSUB_PE: &str = "lutcore_fpaddsub_pe";
/// The add-tree baseline's top.
pub const ADDSUB_ARRAY: &str = "lutcore_fpaddsub_array";

/// Width of a binary32 value.
const W: u32 = 32;

/// Name of the weight dequantizer of `fmt` and `wt`.
pub fn dequant_name(fmt: FpFormat, wt: WeightType) -> String {
    format!("lutcore_{}_dequant_{wt}", fmt.name.replace('-', "_"))
}

/// Check that every value of `wt` is exact in `fmt`, as the MAC baseline's
/// dequantization needs (FP8 E5M2 holds integers up to 8 and the odd ones up
/// to 7 only, so uint4's 9, 11, 13 and 15 are not).
pub fn check_dequant(cfg: &ArrayConfig, fmt: FpFormat) -> Result<(), GenError> {
    let wt = cfg.weights();
    let lost: Vec<String> = (wt.min_value()..=wt.max_value())
        .filter(|&v| fmt.decode(fmt.round(f64::from(v))) != f64::from(v))
        .map(|v| v.to_string())
        .collect();
    if lost.is_empty() {
        return Ok(());
    }
    Err(GenError::Unsupported {
        config: cfg.to_string(),
        why: format!(
            "the FP MAC baseline dequantizes each weight to the activation format, and {fmt} cannot \
             represent the {wt} value(s) {}: use `arch: addsub` (integer weights), weights of fewer \
             bits, or another activation format",
            lost.join(", ")
        ),
    })
}

/// All modules of the FP baseline of `cfg` (`arch` mac or addsub) for
/// activations of `fmt`: the FP units, the PE, the controller, the top.
pub fn modules(cfg: &ArrayConfig, fmt: FpFormat) -> Result<Vec<Module>, GenError> {
    let wt = cfg.weights();
    let ctrl = control::module(cfg);
    let kt = cfg.k_tile();
    let mac = match cfg.arch() {
        Arch::Mac => {
            check_dequant(cfg, fmt)?;
            true
        }
        Arch::AddSub => false,
        Arch::Lut => unreachable!("the FP LUT array is crate::fplut"),
    };
    let (units, array_name, pe_name, what) = if mac {
        (
            Units::baseline(Unit::Mul { fmt }),
            MAC_ARRAY,
            MAC_PE,
            format!("{kt} {fmt} multipliers ({wt} weights dequantized to {fmt})"),
        )
    } else {
        let weight_bits = signed_bits(wt.min_value().into(), wt.max_value().into());
        (
            Units::baseline(Unit::MulInt { fmt, weight_bits }),
            ADDSUB_ARRAY,
            ADDSUB_PE,
            format!("{kt} {fmt} x {wt} integer products (no multiplier)"),
        )
    };
    let pe_module = pe(cfg, fmt, &units, mac);
    let what = format!("{array_name}: {} rows x {what}, binary32 sums.", cfg.rows());
    let top = one_beat_array(cfg, &ctrl, array_name, pe_name, &what);
    let mut all = units.modules();
    if cfg.arch() == Arch::Mac {
        all.push(dequant(cfg, fmt));
    }
    all.extend([pe_module, ctrl, top]);
    Ok(all)
}

/// `lutcore_<f>_dequant_<w>`: a weight code to its value in the activation
/// format, a constant case table.
fn dequant(cfg: &ArrayConfig, fmt: FpFormat) -> Module {
    let wt = cfg.weights();
    let (b, ab) = (wt.bits(), fmt.bits());
    let name = dequant_name(fmt, wt);
    let mut m = Module::new(
        &name,
        crate::header(
            cfg,
            &[
                &format!(
                    "{name}: a {wt} weight code (value = code - {}) as a {fmt} value.",
                    wt.zero_point()
                ),
                if u32::from(wt.max_code()) + 1 < 1 << b {
                    "Every value is exact in the format; codes without a value give +0."
                } else {
                    "Every value is exact in the format."
                },
            ],
        ),
    );
    let code = m.port(Port::input("code_i", b, "weight code"));
    let out = m.port(Port::output(
        "w_o",
        ab,
        &format!("the weight's value in {fmt}"),
    ));
    let arms = (0..=wt.max_code())
        .map(|c| {
            let v = wt.value(c);
            (
                e::lit(b, u64::from(c)),
                vec![Stmt::Assign(
                    out.clone(),
                    e::hex(ab, u64::from(fmt.round(f64::from(v)))),
                )],
            )
        })
        .collect::<Vec<_>>();
    m.comment("");
    m.comment(
        (0..=wt.max_code())
            .map(|c| format!("code {c}: {}", wt.value(c)))
            .collect::<Vec<_>>()
            .join(", "),
    );
    m.item(Item::AlwaysComb(vec![
        Stmt::Assign(out.clone(), e::hex(ab, 0)),
        Stmt::UniqueCase(code, arms, vec![]),
    ]));
    m
}

fn pe(cfg: &ArrayConfig, fmt: FpFormat, units: &Units, mac: bool) -> Module {
    let kt = cfg.k_tile() as u32;
    let wt = cfg.weights();
    let (b, ab) = (wt.bits(), cfg.act_bits());
    let zp = wt.zero_point();
    let product = units
        .product
        .as_ref()
        .expect("a baseline has a product unit");
    let name = if mac { MAC_PE } else { ADDSUB_PE };
    let what = if mac {
        format!(
            "{kt} products: the {wt} weight (value = code - {zp}) dequantized to {fmt} ({}),",
            dequant_name(fmt, wt)
        )
    } else {
        format!("{kt} products: the {fmt} activation times the {wt} weight's integer value (code - {zp}),")
    };
    let mut m = Module::new(
        name,
        crate::header(
            cfg,
            &[
                &format!(
                    "{name}: one output row of the FP {} baseline.",
                    if mac { "MAC" } else { "add-tree" }
                ),
                &what,
                &format!(
                    "each rounded to binary32 by {}; their binary32 sum (balanced tree) is added",
                    product.name
                ),
                "to the accumulator (+0 on a pass's first beat), the row's binary32 result.",
            ],
        ),
    );
    let (act, wgt) = pe_ports_with(
        cfg,
        &mut m,
        (
            "+0",
            &format!("the loaded {fmt} activations, activation e at [e*{ab} +: {ab}]"),
            "the row's result, binary32",
        ),
        b,
        &format!("this row's weight codes, weight e at [e*{b} +: {b}]"),
    );
    let weight_bits = product
        .ports
        .iter()
        .find(|p| p.name == if mac { "b_i" } else { "w_i" })
        .map_or(0, |p| p.width);
    let mut products = vec![Vec::new(); cfg.tokens()];
    for k in 0..kt {
        m.comment("");
        m.comment(format!("Product {k}"));
        let xs = token_activations(cfg, &mut m, &act, k, ab);
        let code = m.logic(&format!("code{k}"), b, "");
        m.assign(code.clone(), e::part(wgt.clone(), k * b, b));
        let ps: Vec<Expr> = (0..cfg.tokens())
            .map(|n| {
                m.logic(
                    &format!("{}p{k}", crate::token_prefix(cfg, n)),
                    W,
                    "binary32 product",
                )
            })
            .collect();
        // The weight, shared by every token: dequantized to the format (mac)
        // or its integer value (addsub).
        let (w, weight_port) = if mac {
            let w = m.logic(&format!("w{k}"), ab, &format!("the weight as {fmt}"));
            m.item(Item::Instance {
                module: dequant_name(fmt, wt),
                name: format!("u_w{k}"),
                conns: vec![("code_i".into(), code), ("w_o".into(), w.clone())],
            });
            (w, "b_i")
        } else {
            let w = m.logic(
                &format!("w{k}"),
                weight_bits,
                "the weight's value, two's complement",
            );
            m.assign(w.clone(), weight_value(code, b, weight_bits, zp));
            (w, "w_i")
        };
        for (n, (x, p)) in xs.into_iter().zip(ps).enumerate() {
            m.item(fp::instance(
                product,
                &format!("u_{}p{k}", crate::token_prefix(cfg, n)),
                vec![("a_i", x), (weight_port, w.clone()), ("p_o", p.clone())],
            ));
            products[n].push(p);
        }
    }
    m.comment("");
    m.comment("The beat's sum");
    for (n, token_products) in products.iter().enumerate() {
        if cfg.tokens() > 1 {
            m.comment(format!("Token {n}"));
        }
        let sum = tree(
            &mut m,
            units,
            &format!("{}sum", crate::token_prefix(cfg, n)),
            token_products,
        );
        accumulator(&mut m, cfg, units, n, sum);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use lutcore_contract::config::RawArrayConfig;
    use lutcore_contract::fp::{BF16, E4M3, E5M2, FP16};
    use lutcore_contract::ActType;

    #[test]
    fn only_e5m2_cannot_hold_uint4() {
        for (act, fmt) in [
            (ActType::Fp16, FP16),
            (ActType::Bf16, BF16),
            (ActType::Fp8E4m3, E4M3),
            (ActType::Fp8E5m2, E5M2),
        ] {
            for wt in WeightType::ALL {
                let cfg = RawArrayConfig::new(Arch::Mac, 2, 1, 4, wt, act, 64)
                    .validate()
                    .unwrap();
                let refused = fmt == E5M2 && wt == WeightType::Uint(4);
                assert_eq!(check_dequant(&cfg, fmt).is_err(), refused, "{fmt} {wt}");
                assert_eq!(modules(&cfg, fmt).is_err(), refused, "{fmt} {wt}");
            }
        }
    }
}
