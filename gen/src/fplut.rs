//! The LUT array for floating-point activations: the integer LUT array's
//! structure ([`crate::lut`]: same controller, streams, table packing and
//! reads) with binary32 table entries and the units of [`crate::fp`].
//!
//! * `lutcore_fplut_precompute` widens each activation to binary32 and halves
//!   it exactly (`x' = x/2`), builds each group's mirror-halved table with the
//!   shared partial sums `x'[g-1] ± x'[g-2] ± … ± x'[0]` (2^g − 2 adders per
//!   group), registers the tables, and keeps the pass's running `Σx'`.
//! * `lutcore_fplut_pe` (one per output row): a lookup stage registers one
//!   entry per group, its sign flipped (bit 31) for the mirrored half; the
//!   accumulate stage sums the groups' terms in [`fp::tree_split`] order,
//!   scales the sum by `2^plane` and adds it to the accumulator, which starts
//!   at +0 and ends with the correction `c·Σx'`.
//! * `lutcore_fplut_array`: the controller, the precompute, the correction and
//!   the PEs.
//!
//! Every operation is the one of `lutcore_contract::reference::gemv_fp_lut`,
//! in its order, so the results are its bits.

use lutcore_contract::config::ArrayConfig;
use lutcore_contract::fp::{self as numerics, FpFormat};

use crate::control;
use crate::fp::{self, Unit};
use crate::ir::{e, Expr, Item, Module, Stmt};
use crate::lut;

/// The table precompute.
pub const PRECOMPUTE: &str = "lutcore_fplut_precompute";
/// The processing element.
pub const PE: &str = "lutcore_fplut_pe";
/// The top.
pub const ARRAY: &str = "lutcore_fplut_array";

/// Width of every value inside the array: binary32.
const W: u32 = 32;

/// All modules of the FP LUT array for activations of `fmt`, leaves first
/// (the FP units, then the precompute, the PE, the controller), top last.
pub fn modules(cfg: &ArrayConfig, fmt: FpFormat) -> Vec<Module> {
    let units = Units::new(cfg, fmt);
    let ctrl = control::module(cfg);
    let top = array(cfg, &ctrl, &units);
    let mut all = units.modules();
    all.extend([precompute(cfg, fmt, &units), pe(cfg, &units), ctrl, top]);
    all
}

/// The FP unit modules an FP array instantiates, each built once.
pub(crate) struct Units {
    /// `lutcore_fp32_add`.
    pub add: Module,
    /// The activation widening (`_half` for the LUT array).
    pub widen: Option<Module>,
    /// `lutcore_fp32_scale` with the array's plane-number width.
    pub scale: Option<Module>,
    /// The baselines' product unit.
    pub product: Option<Module>,
    /// The units in the order they are written (leaves first).
    order: Vec<Unit>,
}

impl Units {
    fn new(cfg: &ArrayConfig, fmt: FpFormat) -> Units {
        let pb = control::plane_bits(cfg);
        let mut order = vec![Unit::Add, Unit::Widen { fmt, half: true }];
        if pb > 0 {
            order.push(Unit::Scale { plane_bits: pb });
        }
        Units {
            add: Unit::Add.module(),
            widen: Some(Unit::Widen { fmt, half: true }.module()),
            scale: (pb > 0).then(|| Unit::Scale { plane_bits: pb }.module()),
            product: None,
            order,
        }
    }

    /// The units of a one-beat baseline: the adder and `product`.
    pub(crate) fn baseline(product: Unit) -> Units {
        Units {
            add: Unit::Add.module(),
            widen: None,
            scale: None,
            product: Some(product.module()),
            order: vec![Unit::Add, product],
        }
    }

    /// The unit modules, each once.
    pub(crate) fn modules(&self) -> Vec<Module> {
        fp::modules_for(&self.order)
    }
}

/// `-x` for a binary32 `x` (a named wire): the sign bit flipped.
fn negated(x: &Expr) -> Expr {
    e::concat(vec![
        e::not(e::bit(x.clone(), W - 1)),
        e::part(x.clone(), 0, W - 1),
    ])
}

/// `a + b` by a `lutcore_fp32_add` instance `u_{name}` into a new wire `name`.
pub(crate) fn add(m: &mut Module, units: &Units, name: &str, a: Expr, b: Expr, doc: &str) -> Expr {
    let sum = m.logic(name, W, doc);
    m.item(fp::instance(
        &units.add,
        &format!("u_{name}"),
        vec![("a_i", a), ("b_i", b), ("sum_o", sum.clone())],
    ));
    sum
}

/// The binary32 sum of `terms` in [`numerics::tree_sum`] order (the left
/// half takes the largest power of two below the count), each partial sum
/// of terms `lo..=hi` in a wire `{prefix}_{lo}_{hi}`; one term is itself.
pub(crate) fn tree(m: &mut Module, units: &Units, prefix: &str, terms: &[Expr]) -> Expr {
    fn node(m: &mut Module, units: &Units, prefix: &str, terms: &[Expr], lo: usize) -> Expr {
        if terms.len() == 1 {
            return terms[0].clone();
        }
        let h = numerics::tree_split(terms.len());
        let a = node(m, units, prefix, &terms[..h], lo);
        let b = node(m, units, prefix, &terms[h..], lo + h);
        let name = format!("{prefix}_{lo}_{}", lo + terms.len() - 1);
        add(m, units, &name, a, b, "")
    }
    assert!(!terms.is_empty(), "an FP sum tree of nothing");
    node(m, units, prefix, terms, 0)
}

/// Token `n`'s accumulator of an FP PE: `{tn_}acc_q` (binary32, +0 after
/// `acc_clear_i`) gains `addend` on each `acc_en_i`; token `n`'s field of
/// `result_o` is `{tn_}acc_q`.
pub(crate) fn accumulator(
    m: &mut Module,
    cfg: &ArrayConfig,
    units: &Units,
    n: usize,
    addend: Expr,
) {
    let prefix = crate::token_prefix(cfg, n);
    m.comment("");
    m.comment("Accumulator: binary32, from +0 on the first beat of a pass");
    let acc_q = m.logic(&format!("{prefix}acc_q"), W, "accumulator");
    let base = m.logic(
        &format!("{prefix}acc_base"),
        W,
        "+0 on the first beat, else the accumulator",
    );
    m.assign(
        base.clone(),
        e::cond(e::id("acc_clear_i"), e::lit(W, 0), acc_q.clone()),
    );
    let acc_d = add(m, units, &format!("{prefix}acc_d"), base, addend, "");
    control::acc_update(m, cfg, n, &acc_q, acc_d, acc_q.clone());
}

fn table_bits(cfg: &ArrayConfig) -> u32 {
    (cfg.k_groups() * cfg.table_entries()) as u32 * W
}

fn precompute(cfg: &ArrayConfig, fmt: FpFormat, units: &Units) -> Module {
    let (g, groups, entries) = (
        cfg.g() as u32,
        cfg.k_groups() as u32,
        cfg.table_entries() as u32,
    );
    let ab = cfg.act_bits();
    let widen = units.widen.as_ref().expect("the LUT array widens");
    let mut m = Module::new(
        PRECOMPUTE,
        crate::header(
            cfg,
            &[
                "lutcore_fplut_precompute: the mirror-halved binary32 tables of one activation beat.",
                &format!(
                    "Each {fmt} activation x is widened exactly to binary32 and halved: x' = x/2 ({}).",
                    widen.name
                ),
                &format!(
                    "For {} of g={g} activations, entry k (0..{}) is x'{} then +/- x't for t = {}..0",
                    if groups == 1 { "the one group".to_string() } else { format!("each of the {groups} groups") },
                    entries - 1,
                    g - 1,
                    g - 2
                ),
                "(bit t of k set: +), one binary32 add per step, the partial sums shared between",
                "entries; the other half of the table is the sign flip. sum(x') of the pass gains",
                "each beat's group sums (entry with all bits set, summed as a balanced tree) one",
                "cycle after the tables. Binary32 adds round to nearest even; NaN is 0x7fc00000.",
            ],
        ),
    );
    let lut::PrecomputePorts {
        load,
        clear,
        act,
        table: table_o,
        sum: sum_o,
    } = lut::precompute_ports(
        &mut m,
        cfg,
        "sum(x')",
        &format!("k_tile {fmt} activations, activation t at [t*{ab} +: {ab}]"),
        &format!("group j entry k (binary32) at [(j*{entries}+k)*{W} +: {W}]"),
        (
            W,
            "sum(x') of all activations loaded in this pass (binary32)",
        ),
    );

    let mut entry_ids = Vec::new();
    for j in 0..groups {
        m.comment("");
        m.comment(format!(
            "Group {j}: activations {}..{} of the beat, widened and halved",
            j * g,
            j * g + g - 1
        ));
        let xs: Vec<Expr> = (0..g)
            .map(|t| {
                let x = m.logic(&format!("g{j}_x{t}"), W, "");
                m.item(fp::instance(
                    widen,
                    &format!("u_g{j}_x{t}"),
                    vec![
                        ("x_i", e::part(act.clone(), (j * g + t) * ab, ab)),
                        ("y_o", x.clone()),
                    ],
                ));
                x
            })
            .collect();
        m.comment(format!(
            "Shared partial sums g{j}_pT_k = x{}' +/- x{}' +/- ... +/- xT', bit i of k the sign of",
            g - 1,
            g - 2
        ));
        m.comment(format!(
            "x(T+i)' (1: +); the last level are the entries g{j}_ek: one binary32 add each"
        ));
        entry_ids.extend(lut::mirror_tree(
            &mut m,
            j,
            &xs,
            |m, t, x| {
                let neg = m.logic(&format!("g{j}_x{t}_neg"), W, "-x': the sign flipped");
                m.assign(neg.clone(), negated(x));
                (x.clone(), neg)
            },
            |m, name, p, plus, (x, neg)| {
                let addend = if plus { x.clone() } else { neg.clone() };
                add(m, units, name, p.clone(), addend, "")
            },
        ));
    }
    let table_q = lut::register_tables(&mut m, cfg, &load, entry_ids);
    m.comment("");
    m.comment("The running sum(x'), one cycle after the tables: sum(x') of a group is its entry");
    m.comment("with all bits set; the beat's group sums are added as a balanced tree, then to the");
    m.comment("pass's sum (+0 on the first beat of a pass).");
    let sum_load_q = m.logic("sum_load_q", 1, "the tables were loaded last cycle");
    let sum_clear_q = m.logic("sum_clear_q", 1, "... and started a pass");
    let group_sums: Vec<Expr> = (0..groups)
        .map(|j| {
            let s = m.logic(&format!("g{j}_sum"), W, &format!("sum(x') of group {j}"));
            m.assign(
                s.clone(),
                e::part(table_q.clone(), ((j + 1) * entries - 1) * W, W),
            );
            s
        })
        .collect();
    let tile_sum = tree(&mut m, units, "tile_sum", &group_sums);
    let sum_q = m.logic("sum_x_q", W, "");
    let sum_base = m.logic("sum_x_base", W, "+0 on the first beat of a pass");
    m.assign(
        sum_base.clone(),
        e::cond(sum_clear_q.clone(), e::lit(W, 0), sum_q.clone()),
    );
    let sum_d = add(&mut m, units, "sum_x_d", sum_base, tile_sum, "");
    m.item(Item::AlwaysFf {
        reset: vec![],
        body: vec![
            Stmt::Assign(sum_load_q.clone(), load),
            Stmt::Assign(sum_clear_q, clear),
            Stmt::If(sum_load_q, vec![Stmt::Assign(sum_q.clone(), sum_d)], vec![]),
        ],
    });
    m.assign(table_o, table_q);
    m.assign(sum_o, sum_q);
    m
}

fn pe(cfg: &ArrayConfig, units: &Units) -> Module {
    let (g, groups) = (cfg.g() as u32, cfg.k_groups() as u32);
    let tokens = cfg.tokens();
    let pb = control::plane_bits(cfg);
    let mut m = Module::new(
        PE,
        crate::header(
            cfg,
            &[
                "lutcore_fplut_pe: one output row of the FP LUT array.",
                &format!(
                    "Per weight beat (one bit plane), {} {g} weight bits index its table:",
                    if groups == 1 { "the group's".to_string() } else { format!("each of the {groups} groups'") }
                ),
                "the top bit chooses the mirrored half (sign flip), the others select an entry (sel_o);",
                "the array reads the shared table at sel_o and returns the entries (entry_i).",
                "Two stages: the entries, sign-flipped for the mirrored half, are registered (lookup);",
                if pb > 0 {
                    "one cycle later their binary32 sum (balanced tree) is scaled by 2^plane and added to"
                } else {
                    "one cycle later their binary32 sum (balanced tree; one plane, no scaling) is added to"
                },
                "the accumulator (+0 on a pass's first beat); after the last beat, the correction",
                "c*sum(x') is added. The accumulator is the row's binary32 result.",
            ],
        ),
    );
    let ports = lut::pe_ports(
        &mut m,
        cfg,
        (W, W),
        "+0",
        "correction c*sum(x'), binary32",
        "the row's result, binary32",
        None,
    );
    let mut sels = Vec::new();
    // terms[n][j]: token n's signed entry of group j.
    let mut terms: Vec<Vec<Expr>> = vec![Vec::new(); tokens];
    for j in 0..groups {
        let (sel, neg) = lut::decode_group(
            &mut m,
            cfg,
            &ports.wgt,
            j,
            "top bit clear: mirrored half, flip the sign",
        );
        sels.push(sel);
        for (n, token_terms) in terms.iter_mut().enumerate() {
            let at = (n as u32 * groups + j) * W;
            let term = m.logic(
                &format!("{}g{j}_term", crate::token_prefix(cfg, n)),
                W,
                "the entry, its sign flipped when negated",
            );
            m.assign(
                term.clone(),
                e::concat(vec![
                    e::bin(
                        crate::ir::BinOp::Xor,
                        e::bit(ports.entry.clone(), at + W - 1),
                        neg.clone(),
                    ),
                    e::part(ports.entry.clone(), at, W - 1),
                ]),
            );
            token_terms.push(term);
        }
    }
    m.comment("");
    m.assign(ports.sel.clone(), lut::packed(sels));
    m.comment("");
    m.comment("Lookup stage: register the signed entries");
    let term_qs: Vec<Vec<Expr>> = (0..tokens)
        .map(|n| {
            (0..groups)
                .map(|j| {
                    m.logic(
                        &format!("{}g{j}_term_q", crate::token_prefix(cfg, n)),
                        W,
                        "",
                    )
                })
                .collect()
        })
        .collect();
    m.item(Item::AlwaysFf {
        reset: vec![],
        body: term_qs
            .iter()
            .flatten()
            .zip(terms.iter().flatten())
            .map(|(q, t)| Stmt::Assign(q.clone(), t.clone()))
            .collect(),
    });
    m.comment("");
    m.comment("Accumulate stage (the controls are one cycle behind the lookup)");
    for (n, token_term_qs) in term_qs.iter().enumerate() {
        let prefix = crate::token_prefix(cfg, n);
        if tokens > 1 {
            m.comment(format!("Token {n}"));
        }
        let beat_sum = tree(&mut m, units, &format!("{prefix}sum"), token_term_qs);
        let scaled = match (&ports.plane, &units.scale) {
            (Some(p), Some(scale)) => {
                let s = m.logic(
                    &format!("{prefix}scaled_sum"),
                    W,
                    "the beat's sum * 2^plane",
                );
                m.item(fp::instance(
                    scale,
                    &format!("u_{prefix}scale"),
                    vec![("x_i", beat_sum), ("p_i", p.clone()), ("y_o", s.clone())],
                ));
                s
            }
            _ => beat_sum,
        };
        let addend = m.logic(
            &format!("{prefix}addend"),
            W,
            "the scaled beat, or the correction",
        );
        m.assign(
            addend.clone(),
            e::cond(
                ports.finalize.clone(),
                crate::token_part(cfg, &ports.corr, n, W),
                scaled,
            ),
        );
        accumulator(&mut m, cfg, units, n, addend);
    }
    m
}

fn array(cfg: &ArrayConfig, ctrl: &Module, units: &Units) -> Module {
    let kt = cfg.k_tile() as u32;
    let fmt = cfg.act_type();
    let mut m = control::array_top(
        cfg,
        ctrl,
        ARRAY,
        &[
            &format!(
                "lutcore_fplut_array: {} rows x {} activations per beat, table-lookup datapath,",
                cfg.rows(),
                kt
            ),
            &format!("{fmt} activations; tables, sums and accumulators binary32, rounded to nearest even."),
            &format!("Streams: act (one K-tile of {fmt} codes), wgt (one bit plane of the tile for all rows),"),
            "res (one binary32 per row). See lutcore_ctrl for the sequence.",
        ],
    );
    let pre = lut::precompute_instances(
        &mut m,
        cfg,
        PRECOMPUTE,
        table_bits(cfg),
        (W, "sum(x') of the pass, binary32"),
        None,
    );
    let wt = cfg.weights();
    let c = cfg.correction_coeff();
    m.comment("");
    if c == 1 {
        m.comment("Bit-plane correction: c*sum(x') with c = 2^bits - 1 - 2*zero_point = 1");
    } else {
        m.comment(format!(
            "Bit-plane correction: c*sum(x') with c = 2^bits - 1 = {c}, as sum(x')*2^{} - sum(x')",
            wt.bits()
        ));
        m.comment(
            "(the scaling exact unless it overflows to Inf, in steps the plane scaler takes), then",
        );
        m.comment(
            "registered: sum(x') is final two cycles before the accumulate stage's finalize.",
        );
    }
    let mut tables = Vec::new();
    let mut corrs = Vec::new();
    for (n, lut::PrecomputeOutputs { table, sum_x, .. }) in pre.into_iter().enumerate() {
        tables.push(table);
        corrs.push(if c == 1 {
            sum_x
        } else {
            correction(&mut m, cfg, units, n, sum_x)
        });
    }
    lut::pe_instances(&mut m, cfg, &tables, PE, &corrs, None);
    m
}

/// Token `n`'s correction `c·Σx'` for `c = 2^bits - 1 > 1`: `Σx'` scaled by
/// `2^bits` in steps the plane scaler takes, minus `Σx'`, registered.
fn correction(m: &mut Module, cfg: &ArrayConfig, units: &Units, n: usize, sum_x: Expr) -> Expr {
    let wt = cfg.weights();
    let (c, bits) = (cfg.correction_coeff(), wt.bits());
    assert_eq!(
        c,
        (1i64 << bits) - 1,
        "the correction coefficient of {wt} is 2^bits - 1"
    );
    let prefix = crate::token_prefix(cfg, n);
    let pb = control::plane_bits(cfg);
    let scale = units
        .scale
        .as_ref()
        .expect("a weight type with c > 1 has several planes");
    let pmax = (1u32 << pb) - 1;
    let (mut done, mut x) = (0, sum_x.clone());
    while done < bits {
        let step = (bits - done).min(pmax);
        done += step;
        let y = m.logic(
            &format!("{prefix}sum_x_x{}", 1u64 << done),
            W,
            &format!("sum(x') * 2^{done}"),
        );
        m.item(fp::instance(
            scale,
            &format!("u_{prefix}corr_scale{done}"),
            vec![
                ("x_i", x),
                ("p_i", e::lit(pb, u64::from(step))),
                ("y_o", y.clone()),
            ],
        ));
        x = y;
    }
    let corr_d = add(m, units, &format!("{prefix}corr_d"), x, negated(&sum_x), "");
    let corr_q = m.logic(&format!("{prefix}corr_q"), W, "");
    m.item(Item::AlwaysFf {
        reset: vec![],
        body: vec![Stmt::Assign(corr_q.clone(), corr_d)],
    });
    corr_q
}

#[cfg(test)]
mod tests {
    use super::*;
    use lutcore_contract::config::{Arch, RawArrayConfig};
    use lutcore_contract::{ActType, WeightType};

    fn adds(m: &Module) -> Vec<String> {
        m.items
            .iter()
            .filter_map(|i| match i {
                Item::Instance { module, name, .. } if module == fp::ADD => Some(name.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn adder_counts_and_tree_order() {
        for (k_groups, g, wt) in [
            (1, 4, WeightType::Uint(1)),
            (3, 3, WeightType::Uint(4)),
            (5, 2, WeightType::Ternary),
        ] {
            let cfg = RawArrayConfig::new(Arch::Lut, 2, k_groups, g, wt, ActType::Fp16, 64)
                .validate()
                .unwrap();
            let all = modules(&cfg, lutcore_contract::fp::FP16);
            let find = |n: &str| all.iter().find(|m| m.name == n).unwrap();
            let (kg, g) = (k_groups as usize, g as usize);
            // 2^g - 2 shared partial sums per group, the tile's tree of group sums, the running add.
            assert_eq!(
                adds(find(PRECOMPUTE)).len(),
                kg * ((1 << g) - 2) + (kg - 1) + 1
            );
            // The tree over the groups and the accumulator.
            let pe_adds = adds(find(PE));
            assert_eq!(pe_adds.len(), (kg - 1) + 1, "{pe_adds:?}");
            if kg == 5 {
                // ((t0 + t1) + (t2 + t3)) + t4: the contract's tree_split order.
                assert_eq!(
                    pe_adds[..4],
                    ["u_sum_0_1", "u_sum_2_3", "u_sum_0_3", "u_sum_0_4"]
                );
            }
            // c = 15 for uint4: two scalings (2^3, 2^1) and one subtraction, registered.
            let top = find(ARRAY);
            let scales = top
                .items
                .iter()
                .filter(|i| matches!(i, Item::Instance { module, .. } if module == fp::SCALE))
                .count();
            assert_eq!(scales, if wt == WeightType::Uint(4) { 2 } else { 0 });
        }
    }
}
