//! Arrays with floating-point activations and exact accumulation
//! (`"accumulate": "exact"`, FP16 and FP8): every activation becomes a signed
//! fixed-point integer (`lutcore_<f>_to_fixed`, exact), the whole datapath is
//! integer, and each row's sum is rounded once to binary32
//! (`lutcore_fixed<W>_f<F>_to_fp32`). The bits are those of
//! `lutcore_contract::reference::gemv_fp_exact`, whatever the order of the adds.
//!
//! * The LUT array (`lutcore_fxlut_*`) is the integer LUT array's structure
//!   ([`crate::lut`]: controller, streams, shared tables packed and read the
//!   same way) with fixed-point activations: integer table entries (the mirror
//!   half by negation), planes by shift, an integer accumulator of
//!   [`ArrayConfig::acc_bits`] that ends holding twice the sum (the bit-plane
//!   identity's ½ is one more fractional bit of the rounding), and one
//!   fixed→fp32 per row.
//! * The add/sub baseline (`lutcore_fxaddsub_*`): the activation register and
//!   the converters shared by all rows; per row, each integer weight times the
//!   fixed-point activation as shifts and adds (ternary: add, subtract or skip),
//!   an integer adder tree and accumulator, one fixed→fp32.
//!
//! Several tokens per pass (`tokens` = M, docs/decisions.md §20, §21): each
//! token has its own converters (and, in the LUT array, its own table
//! precompute and correction), its own table reads, accumulators and
//! roundings per row, and its own non-finite flag; the weight beat, its index
//! decode (LUT) or weight decode (add/sub) and the controller are shared.
//! Activations and results sit at the config's `act_lane` / `result_lane`.
//!
//! Non-finite activations: a flag per token and pass, set by any Inf or NaN
//! activation of that token in the pass, makes that token's result of every
//! row the canonical NaN 0x7fc00000; the other tokens' results stay finite.

use lutcore_contract::config::{ArrayConfig, RESULT_BITS};
use lutcore_contract::fp::{FixedPoint, FpFormat, CANONICAL_NAN};
use lutcore_contract::layout::act_lane;

use crate::arith::{sum_tree, Term};
use crate::control;
use crate::fp::{self, Unit};
use crate::ir::{e, BinOp, Expr, Item, Module, Port, Stmt};
use crate::lut::{
    assign_tile_sum, decode_group, int_corrections, mirror_entries, packed, pe_instances, pe_ports,
    precompute_instances, precompute_ports, table_bits, PePorts, PrecomputeOutputs,
    PrecomputePorts,
};

/// The exact LUT array's table precompute.
pub const PRECOMPUTE: &str = "lutcore_fxlut_precompute";
/// The exact LUT array's processing element.
pub const PE: &str = "lutcore_fxlut_pe";
/// The exact LUT array's top.
pub const ARRAY: &str = "lutcore_fxlut_array";
/// The exact add/sub baseline's processing element.
pub const ADDSUB_PE: &str = "lutcore_fxaddsub_pe";
/// The exact add/sub baseline's top.
pub const ADDSUB_ARRAY: &str = "lutcore_fxaddsub_array";

/// The fixed-point format and the two converter units of an exact array.
struct Fixed {
    fmt: FpFormat,
    fx: FixedPoint,
    to_fixed: Module,
    to_fp32: Module,
}

impl Fixed {
    fn new(cfg: &ArrayConfig, fmt: FpFormat) -> Fixed {
        let fx = cfg
            .act_fixed()
            .expect("an exact config has a fixed-point activation format");
        let frac_bits = cfg
            .result_frac_bits()
            .expect("an exact config has result fraction bits");
        Fixed {
            fmt,
            fx,
            to_fixed: Unit::ToFixed { fmt }.module(),
            to_fp32: Unit::FixedToFp32 {
                width: cfg.acc_bits(),
                frac_bits,
            }
            .module(),
        }
    }

    /// The two converter modules, leaves of the design.
    fn units(&self) -> Vec<Module> {
        vec![self.to_fixed.clone(), self.to_fp32.clone()]
    }

    /// The activation of `codes` (`fmt` codes) at bit `lane` converted by an
    /// instance `u_{name}` into wires `{name}` (fixed point) and `{name}_nf`
    /// (Inf or NaN); returns both.
    fn convert(&self, m: &mut Module, name: &str, codes: &Expr, lane: u32) -> (Expr, Expr) {
        let ab = self.fmt.bits();
        let x = m.logic(
            name,
            self.fx.width,
            &format!("x * 2^{}, exact", self.fx.frac_bits),
        );
        let nf = m.logic(&format!("{name}_nf"), 1, "x is Inf or NaN");
        m.item(fp::instance(
            &self.to_fixed,
            &format!("u_{name}"),
            vec![
                ("x_i", e::part(codes.clone(), lane, ab)),
                ("fixed_o", x.clone()),
                ("nonfinite_o", nf.clone()),
            ],
        ));
        (x, nf)
    }

    /// Token `n`'s accumulator of a PE of `cfg` and its field of `result_o`:
    /// `{tn_}acc_q` (`aw` bits, documented as `acc_doc`) adds `addend` when
    /// `acc_en` is set, from zero when `acc_clear` is; the result is the
    /// accumulator (x 2^-`frac_bits`) rounded once to binary32, or the
    /// canonical NaN when `nonfinite` (the token's flag) is set.
    fn accumulate(
        &self,
        m: &mut Module,
        (cfg, n): (&ArrayConfig, usize),
        (acc_en, acc_clear): (Expr, Expr),
        (aw, acc_doc): (u32, &str),
        addend: Expr,
        (nonfinite, frac_bits): (Expr, u32),
    ) {
        let prefix = crate::token_prefix(cfg, n);
        let acc_q = m.logic(&format!("{prefix}acc_q"), aw, acc_doc);
        let acc_d = m.logic(&format!("{prefix}acc_d"), aw, "");
        m.assign(
            acc_d.clone(),
            e::add(e::cond(acc_clear, e::lit(aw, 0), acc_q.clone()), addend),
        );
        m.item(Item::AlwaysFf {
            reset: vec![],
            body: vec![Stmt::If(
                acc_en,
                vec![Stmt::Assign(acc_q.clone(), acc_d)],
                vec![],
            )],
        });
        m.comment("");
        m.comment(format!(
            "The one rounding: the accumulator (x 2^-{frac_bits}) to binary32, nearest even;"
        ));
        m.comment(if cfg.tokens() == 1 {
            "any Inf or NaN activation in the pass gives the canonical NaN instead".to_string()
        } else {
            format!("any Inf or NaN activation of token {n} in the pass gives the canonical NaN instead")
        });
        let rounded = m.logic(
            &format!("{prefix}rounded"),
            RESULT_BITS,
            "the sum rounded to binary32",
        );
        m.item(fp::instance(
            &self.to_fp32,
            &format!("u_{prefix}round"),
            vec![("x_i", acc_q), ("y_o", rounded.clone())],
        ));
        m.assign(
            crate::token_part(cfg, &e::id("result_o"), n, RESULT_BITS),
            e::cond(
                nonfinite,
                e::hex(RESULT_BITS, u64::from(CANONICAL_NAN)),
                rounded,
            ),
        );
    }
}

/// `a | b | ...` of one-bit wires (one of them: itself).
fn any(bits: Vec<Expr>) -> Expr {
    bits.into_iter().reduce(e::or).expect("at least one flag")
}

/// Token `n`'s bit of `flags` (one bit per token, token `n`'s at `[n]`):
/// `flags` itself with one token per pass.
fn token_flag(cfg: &ArrayConfig, flags: &Expr, n: usize) -> Expr {
    if cfg.tokens() == 1 {
        flags.clone()
    } else {
        e::bit(flags.clone(), n as u32)
    }
}

/// The doc of a PE's `nonfinite_i`.
fn nonfinite_doc(cfg: &ArrayConfig) -> &'static str {
    if cfg.tokens() == 1 {
        "the pass had an Inf or NaN activation"
    } else {
        "token n's activations in the pass had an Inf or NaN, at [n]"
    }
}

/// All modules of the exact LUT array for activations of `fmt`, leaves first.
pub fn lut_modules(cfg: &ArrayConfig, fmt: FpFormat) -> Vec<Module> {
    let fixed = Fixed::new(cfg, fmt);
    let ctrl = control::module(cfg);
    let top = lut_array(cfg, &ctrl);
    let mut all = fixed.units();
    all.extend([lut_precompute(cfg, &fixed), lut_pe(cfg, &fixed), ctrl, top]);
    all
}

fn lut_precompute(cfg: &ArrayConfig, fixed: &Fixed) -> Module {
    let (g, groups, entries) = (
        cfg.g() as u32,
        cfg.k_groups() as u32,
        cfg.table_entries() as u32,
    );
    let (ew, ab, sw, aw) = (
        cfg.entry_bits(),
        cfg.act_bits(),
        cfg.sum_x_bits(),
        fixed.fx.width,
    );
    let fmt = fixed.fmt;
    let mut m = Module::new(
        PRECOMPUTE,
        crate::header(
            cfg,
            &[
                "lutcore_fxlut_precompute: the mirror-halved integer tables of one activation beat.",
                &format!(
                    "Each {fmt} activation becomes the exact integer x * 2^{} ({} bits, {}), sign-extended",
                    fixed.fx.frac_bits, aw, fixed.to_fixed.name
                ),
                &format!(
                    "to {ew} bits. For {} of g={g} activations, entry k (0..{}) is",
                    if groups == 1 { "the one group".to_string() } else { format!("each of the {groups} groups") },
                    entries - 1
                ),
                &format!("x{} + sum over t<{} of (k[t] ? +xt : -xt); the other half of the table is its negation.", g - 1, g - 1),
                "Also accumulates sum(x) over the pass for the bit-plane correction, and a flag",
                "set by any Inf or NaN activation of the pass (both include a loaded beat two",
                "cycles after load_i; both restart with the pass's first beat).",
            ],
        ),
    );
    let PrecomputePorts {
        load,
        clear,
        act,
        table: table_o,
        sum: sum_o,
    } = precompute_ports(
        &mut m,
        cfg,
        "sum(x) and the flag",
        &format!("k_tile {fmt} activations, activation t at [t*{ab} +: {ab}]"),
        &format!("group j entry k at [(j*{entries}+k)*{ew} +: {ew}]"),
        (
            sw,
            &format!(
                "sum of all activations loaded in this pass, x 2^{}",
                fixed.fx.frac_bits
            ),
        ),
    );
    let nf_o = m.port(Port::output(
        "nonfinite_o",
        1,
        "an activation loaded in this pass is Inf or NaN",
    ));

    let mut entry_ids = Vec::new();
    let mut flags = Vec::new();
    for j in 0..groups {
        m.comment("");
        m.comment(format!(
            "Group {j}: activations {}..{} of the beat as fixed point, sign-extended to {ew} bits",
            j * g,
            j * g + g - 1
        ));
        let xs: Vec<Expr> = (0..g)
            .map(|t| {
                let (fx, nf) =
                    fixed.convert(&mut m, &format!("g{j}_fx{t}"), &act, (j * g + t) * ab);
                flags.push(nf);
                let x = m.logic(&format!("g{j}_x{t}"), ew, "");
                m.assign(x.clone(), e::sext(fx, aw, ew));
                x
            })
            .collect();
        entry_ids.extend(mirror_entries(
            &mut m,
            j,
            &xs,
            ew,
            "integer add or subtract",
        ));
    }
    m.comment("");
    m.comment("Registered tables, and whether the beat held an Inf or NaN");
    let table_q = m.logic("table_q", table_bits(cfg), "all tables of the loaded beat");
    let beat_nf_q = m.logic("beat_nf_q", 1, "the loaded beat has an Inf or NaN");
    m.item(Item::AlwaysFf {
        reset: vec![],
        body: vec![Stmt::If(
            load.clone(),
            vec![
                Stmt::Assign(
                    table_q.clone(),
                    e::concat(entry_ids.into_iter().rev().collect()),
                ),
                Stmt::Assign(beat_nf_q.clone(), any(flags)),
            ],
            vec![],
        )],
    });
    m.comment("");
    m.comment("The running sum(x) and the pass's flag, one cycle after the tables; sum(x) of a");
    m.comment("group is its entry with all bits set.");
    let sum_load_q = m.logic("sum_load_q", 1, "the tables were loaded last cycle");
    let sum_clear_q = m.logic("sum_clear_q", 1, "... and started a pass");
    let tile_sum = m.logic("tile_sum", sw, "sum(x) of the loaded beat");
    let sum_q = m.logic("sum_x_q", sw, "");
    let nf_q = m.logic("nonfinite_q", 1, "an Inf or NaN in this pass so far");
    assign_tile_sum(&mut m, cfg, &table_q, &tile_sum);
    m.item(Item::AlwaysFf {
        reset: vec![],
        body: vec![
            Stmt::Assign(sum_load_q.clone(), load),
            Stmt::Assign(sum_clear_q.clone(), clear),
            Stmt::If(
                sum_load_q,
                vec![
                    Stmt::Assign(
                        sum_q.clone(),
                        e::add(
                            e::cond(sum_clear_q.clone(), e::lit(sw, 0), sum_q.clone()),
                            tile_sum,
                        ),
                    ),
                    Stmt::Assign(
                        nf_q.clone(),
                        e::or(e::and(e::not(sum_clear_q), nf_q.clone()), beat_nf_q),
                    ),
                ],
                vec![],
            ),
        ],
    });
    m.assign(table_o, table_q);
    m.assign(sum_o, sum_q);
    m.assign(nf_o, nf_q);
    m
}

fn lut_pe(cfg: &ArrayConfig, fixed: &Fixed) -> Module {
    let (g, groups, tokens) = (cfg.g() as u32, cfg.k_groups() as u32, cfg.tokens());
    let (ew, bw, aw) = (cfg.entry_bits(), cfg.beat_sum_bits(), cfg.acc_bits());
    let frac = cfg.result_frac_bits().expect("exact");
    let mut m = Module::new(
        PE,
        crate::header(
            cfg,
            &[
                "lutcore_fxlut_pe: one output row of the exact LUT array.",
                &format!(
                    "Per weight beat (one bit plane), {} {g} weight bits index its table:",
                    if groups == 1 { "the group's".to_string() } else { format!("each of the {groups} groups'") }
                ),
                "the top bit chooses the mirrored half (negate), the others select an entry (sel_o);",
                "the array reads the shared table at sel_o and returns the entries (entry_i).",
                "Two stages: the entries and their signs are registered (lookup), and one cycle",
                "later the per-beat integer sum is shifted by the plane number and accumulated; after",
                &format!(
                    "the last beat, the correction c*sum(x) is added: the accumulator ({aw} bits) then holds"
                ),
                &format!(
                    "twice the row's sum x 2^{}, rounded once to binary32 as x 2^-{frac} ({}).",
                    fixed.fx.frac_bits, fixed.to_fp32.name
                ),
            ],
        ),
    );
    let PePorts {
        acc_en,
        acc_clear,
        finalize,
        plane,
        wgt,
        sel: sel_o,
        entry: entry_i,
        corr,
        flag: nonfinite,
    } = pe_ports(
        &mut m,
        cfg,
        (ew, aw),
        "zero",
        "correction c*sum(x)",
        "the row's result, binary32",
        Some(("nonfinite_i", nonfinite_doc(cfg))),
    );
    let nonfinite = nonfinite.expect("asked for");

    let mut negs = Vec::new();
    let mut sels = Vec::new();
    for j in 0..groups {
        let (sel, neg) = decode_group(&mut m, cfg, &wgt, j, "top bit clear: mirrored half, negate");
        sels.push(sel);
        negs.push(neg);
    }
    m.comment("");
    m.assign(sel_o, packed(sels));
    m.comment("");
    m.comment("Lookup stage: register the looked-up entries and their signs");
    let looked_up = (0..tokens)
        .map(|n| crate::token_part(cfg, &entry_i, n, groups * ew))
        .collect();
    let (entry_qs, neg_q) = crate::lut::lookup_register(
        &mut m,
        cfg,
        ("entry_q", "the looked-up entries of the last cycle"),
        looked_up,
        negs,
    );
    m.comment("");
    m.comment("Accumulate stage (the controls are one cycle behind the lookup): -e = ~e + 1, the");
    m.comment("+1s entering the adder tree as carries");
    let neg_bit = |j: u32| crate::lut::neg_bit(&neg_q, groups, j);
    for (n, entry_q) in entry_qs.iter().enumerate() {
        let prefix = crate::token_prefix(cfg, n);
        if tokens > 1 {
            m.comment("");
            m.comment(format!("Token {n}"));
        }
        let terms = (0..groups)
            .map(|j| Term {
                value: crate::lut::negatable_term(&mut m, &prefix, j, entry_q, ew, neg_bit(j)),
                width: ew,
            })
            .collect();
        let beat_sum = m.logic(
            &format!("{prefix}beat_sum"),
            bw,
            "sum of this plane's terms",
        );
        let sum = sum_tree(
            &mut m,
            &format!("{prefix}sum"),
            terms,
            (0..groups).map(neg_bit).collect(),
            bw,
        );
        m.assign(beat_sum.clone(), sum);
        let shifted = m.logic(&format!("{prefix}shifted_sum"), aw, "beat_sum * 2^plane");
        let wide = e::sext(beat_sum, bw, aw);
        m.assign(
            shifted.clone(),
            match &plane {
                Some(p) => e::bin(BinOp::Shl, wide, p.clone()),
                None => wide,
            },
        );
        fixed.accumulate(
            &mut m,
            (cfg, n),
            (acc_en.clone(), acc_clear.clone()),
            (aw, "accumulator: twice the row's sum, fixed point"),
            e::cond(
                finalize.clone(),
                crate::token_part(cfg, &corr, n, aw),
                shifted,
            ),
            (token_flag(cfg, &nonfinite, n), frac),
        );
    }
    m
}

fn lut_array(cfg: &ArrayConfig, ctrl: &Module) -> Module {
    let sw = cfg.sum_x_bits();
    let kt = cfg.k_tile() as u32;
    let fmt = cfg.act_type();
    let mut m = control::array_top(
        cfg,
        ctrl,
        ARRAY,
        &[
            &format!(
                "lutcore_fxlut_array: {} rows x {kt} activations per beat, table-lookup datapath,",
                cfg.rows()
            ),
            &format!("{fmt} activations as exact fixed-point integers; integer tables and accumulators,"),
            "one rounding to binary32 per row (the correctly rounded dot product).",
            &format!("Streams: act (one K-tile of {fmt} codes), wgt (one bit plane of the tile for all rows),"),
            "res (one binary32 per row). See lutcore_ctrl for the sequence.",
        ],
    );
    let pre = precompute_instances(
        &mut m,
        cfg,
        PRECOMPUTE,
        table_bits(cfg),
        (sw, "sum(x) of the pass, fixed point"),
        Some(("nonfinite", "the pass has an Inf or NaN activation")),
    );
    let (mut tables, mut sums, mut flags) = (Vec::new(), Vec::new(), Vec::new());
    for PrecomputeOutputs { table, sum_x, flag } in pre {
        tables.push(table);
        sums.push(sum_x);
        flags.push(flag.expect("asked for"));
    }
    let corrs = int_corrections(&mut m, cfg, sums);
    m.comment("");
    let (first, rest) = if cfg.tokens() == 1 {
        (
            "The pass's Inf/NaN flag, taken with the correction (the next pass's activations may",
            "load",
        )
    } else {
        (
            "Each token's Inf/NaN flag of the pass, taken with the correction (the next pass's",
            "activations may load",
        )
    };
    m.comment(first);
    m.comment(format!("{rest} before this pass's result beat is taken)"));
    let nf_qs: Vec<Expr> = (0..cfg.tokens())
        .map(|n| {
            m.logic(
                &format!("{}nonfinite_q", crate::token_prefix(cfg, n)),
                1,
                "the finished pass had an Inf or NaN activation",
            )
        })
        .collect();
    m.item(Item::AlwaysFf {
        reset: vec![],
        body: vec![Stmt::If(
            e::and(e::id("acc_en"), e::id("finalize")),
            nf_qs
                .iter()
                .zip(flags)
                .map(|(q, nf)| Stmt::Assign(q.clone(), nf))
                .collect(),
            vec![],
        )],
    });
    pe_instances(
        &mut m,
        cfg,
        &tables,
        PE,
        &corrs,
        Some(("nonfinite_i", &packed(nf_qs))),
    );
    m
}

/// All modules of the exact add/sub baseline for activations of `fmt`, leaves first.
pub fn addsub_modules(cfg: &ArrayConfig, fmt: FpFormat) -> Vec<Module> {
    let fixed = Fixed::new(cfg, fmt);
    let ctrl = control::module(cfg);
    let top = addsub_array(cfg, &ctrl, &fixed);
    let mut all = fixed.units();
    all.extend([addsub_pe(cfg, &fixed), ctrl, top]);
    all
}

fn addsub_pe(cfg: &ArrayConfig, fixed: &Fixed) -> Module {
    let (kt, tokens) = (cfg.k_tile() as u32, cfg.tokens());
    let wt = cfg.weights();
    let (b, zp) = (wt.bits(), wt.zero_point());
    let (xw, pw, bw, aw) = (
        fixed.fx.width,
        cfg.product_bits(),
        cfg.beat_sum_bits(),
        cfg.acc_bits(),
    );
    let frac = cfg.result_frac_bits().expect("exact");
    let ternary = zp != 0;
    let mut m = Module::new(
        ADDSUB_PE,
        crate::header(
            cfg,
            &[
                "lutcore_fxaddsub_pe: one output row of the exact add/sub baseline.",
                &if ternary {
                    format!("{kt} terms: weight code 2 adds the fixed-point activation, 0 subtracts it, 1 skips it")
                } else {
                    format!("{kt} products: the {wt} weight times the fixed-point activation, one shifted copy per set weight bit")
                },
                &format!(
                    "(-x = ~x + 1, the +1s as carries of the integer adder tree); an integer accumulator ({aw} bits)"
                ),
                &format!(
                    "holds the row's sum x 2^{frac}, rounded once to binary32 ({}).",
                    fixed.to_fp32.name
                ),
            ],
        ),
    );
    let (act_doc, result_doc) = if tokens == 1 {
        (
            format!("the loaded activations as x * 2^{frac}, activation e at [e*{xw} +: {xw}]"),
            "the row's result, binary32".to_string(),
        )
    } else {
        (
            format!(
                "every token's loaded activations as x * 2^{frac}, token n's activation e at [(n*{kt}+e)*{xw} +: {xw}]"
            ),
            format!("the row's results, binary32, token n's at [n*{RESULT_BITS} +: {RESULT_BITS}]"),
        )
    };
    m.port(Port::input("clk_i", 1, "clock"));
    let acc_en = m.port(Port::input("acc_en_i", 1, "update the accumulator"));
    let acc_clear = m.port(Port::input("acc_clear_i", 1, "start from zero"));
    let act = m.port(Port::input("act_i", tokens as u32 * kt * xw, &act_doc));
    let wgt = m.port(Port::input(
        "wgt_i",
        kt * b,
        &format!("this row's weight codes, weight e at [e*{b} +: {b}]"),
    ));
    let nonfinite = m.port(Port::input(
        "nonfinite_i",
        tokens as u32,
        nonfinite_doc(cfg),
    ));
    m.port(Port::output(
        "result_o",
        tokens as u32 * RESULT_BITS,
        &result_doc,
    ));
    // terms[n]: token n's terms; the carries (ternary minus bits) are every token's.
    let (mut terms, mut carries) = (vec![Vec::new(); tokens], Vec::new());
    for k in 0..kt {
        m.comment("");
        m.comment(format!("Weight {k}"));
        let xs: Vec<Expr> = (0..tokens)
            .map(|n| {
                let x = m.logic(&format!("{}x{k}", crate::token_prefix(cfg, n)), pw, "");
                let lane = (n as u32 * kt + k) * xw;
                m.assign(x.clone(), e::sext(e::part(act.clone(), lane, xw), xw, pw));
                x
            })
            .collect();
        let code = m.logic(&format!("w{k}"), b, &format!("weight {k}'s code"));
        m.assign(code.clone(), e::part(wgt.clone(), k * b, b));
        let ts: Vec<Expr> = (0..tokens)
            .map(|n| {
                m.logic(
                    &format!("{}t{k}", crate::token_prefix(cfg, n)),
                    pw,
                    if ternary {
                        "x, 0 or ~x"
                    } else {
                        "the weight's value times x"
                    },
                )
            })
            .collect();
        if ternary {
            let minus = m.logic(&format!("minus{k}"), 1, "code 0: subtract");
            m.assign(
                minus.clone(),
                e::not(e::or(e::bit(code.clone(), 1), e::bit(code.clone(), 0))),
            );
            let keep = m.logic(&format!("keep{k}"), 1, "code 0 or 2: not skipped");
            m.assign(
                keep.clone(),
                e::or(e::bit(code.clone(), 1), e::not(e::bit(code, 0))),
            );
            for (t, x) in ts.iter().zip(xs) {
                m.assign(
                    t.clone(),
                    e::invert_if(e::keep_if(x, pw, keep.clone()), pw, minus.clone()),
                );
            }
            carries.push(minus);
        } else {
            let bit = |i: u32| {
                if b == 1 {
                    code.clone()
                } else {
                    e::bit(code.clone(), i)
                }
            };
            for (t, x) in ts.iter().zip(xs) {
                let shifted = |i: u32| {
                    if i == 0 {
                        x.clone()
                    } else {
                        e::bin(BinOp::Shl, x.clone(), e::lit(3, u64::from(i)))
                    }
                };
                let sum = (0..b)
                    .map(|i| e::keep_if(shifted(i), pw, bit(i)))
                    .reduce(e::add)
                    .expect("a weight has a bit");
                m.assign(t.clone(), sum);
            }
        }
        for (n, t) in ts.into_iter().enumerate() {
            terms[n].push(Term {
                value: t,
                width: pw,
            });
        }
    }
    for (n, token_terms) in terms.into_iter().enumerate() {
        let prefix = crate::token_prefix(cfg, n);
        m.comment("");
        if tokens > 1 {
            m.comment(format!("Token {n}"));
        }
        let beat_sum = m.logic(
            &format!("{prefix}beat_sum"),
            bw,
            "sum of this beat's terms and carries",
        );
        let sum = sum_tree(
            &mut m,
            &format!("{prefix}sum"),
            token_terms,
            carries.clone(),
            bw,
        );
        m.assign(beat_sum.clone(), sum);
        fixed.accumulate(
            &mut m,
            (cfg, n),
            (acc_en.clone(), acc_clear.clone()),
            (aw, "accumulator: the row's sum, fixed point"),
            e::sext(beat_sum, bw, aw),
            (token_flag(cfg, &nonfinite, n), frac),
        );
    }
    m
}

fn addsub_array(cfg: &ArrayConfig, ctrl: &Module, fixed: &Fixed) -> Module {
    let (kt, tokens) = (cfg.k_tile() as u32, cfg.tokens());
    let fmt = cfg.act_type();
    let wt = cfg.weights();
    let b = wt.bits();
    let xw = fixed.fx.width;
    let mut m = control::array_top(
        cfg,
        ctrl,
        ADDSUB_ARRAY,
        &[
            &format!(
                "lutcore_fxaddsub_array: {} rows x {kt} {fmt} x {wt} integer products (no multiplier),",
                cfg.rows()
            ),
            "exact fixed-point sums, one rounding to binary32 per row. Same streams as",
            "lutcore_lut_array; one weight beat carries all bit planes of a K-tile.",
        ],
    );
    let act_q = crate::mac::activation_register(
        &mut m,
        cfg,
        "a one-beat array needs no sum(x): its flag follows acc_clear",
        if tokens == 1 {
            "Activation register, and the fixed-point conversion shared by every row"
        } else {
            "Activation register, and each token's fixed-point conversion shared by every row"
        },
    );
    let mut xs = Vec::new();
    let mut flags = vec![Vec::new(); tokens];
    for (n, token_flags) in flags.iter_mut().enumerate() {
        let prefix = crate::token_prefix(cfg, n);
        for k in 0..kt {
            let lane = act_lane(cfg, n, k as usize) as u32;
            let (x, nf) = fixed.convert(&mut m, &format!("{prefix}fx{k}"), &act_q, lane);
            xs.push(x);
            token_flags.push(nf);
        }
    }
    let act_fx = m.logic(
        "act_fx",
        tokens as u32 * kt * xw,
        &if tokens == 1 {
            format!("the activations as fixed point, activation e at [e*{xw} +: {xw}]")
        } else {
            format!("every token's activations as fixed point, token n's activation e at [(n*{kt}+e)*{xw} +: {xw}]")
        },
    );
    m.assign(act_fx.clone(), e::concat(xs.into_iter().rev().collect()));
    m.comment("");
    m.comment(if tokens == 1 {
        "The pass's Inf/NaN flag, updated with the accumulators (from the pass's first beat)"
    } else {
        "Each token's Inf/NaN flag of the pass, updated with the accumulators (from the pass's first beat)"
    });
    let nf_qs: Vec<Expr> = (0..tokens)
        .map(|n| {
            m.logic(
                &format!("{}nonfinite_q", crate::token_prefix(cfg, n)),
                1,
                "an Inf or NaN in this pass so far",
            )
        })
        .collect();
    m.item(Item::AlwaysFf {
        reset: vec![],
        body: vec![Stmt::If(
            e::id("acc_en"),
            nf_qs
                .iter()
                .zip(flags)
                .map(|(q, token_flags)| {
                    Stmt::Assign(
                        q.clone(),
                        e::or(
                            e::and(e::not(e::id("acc_clear")), q.clone()),
                            any(token_flags),
                        ),
                    )
                })
                .collect(),
            vec![],
        )],
    });
    let nonfinite = packed(nf_qs);
    m.comment("");
    m.comment("Processing elements, one per row");
    let (wb, width) = (kt * b, tokens as u32 * RESULT_BITS);
    for r in 0..cfg.rows() as u32 {
        m.item(Item::Instance {
            module: ADDSUB_PE.into(),
            name: format!("u_pe_{r}"),
            conns: vec![
                ("clk_i".into(), e::id("clk_i")),
                ("acc_en_i".into(), e::id("acc_en")),
                ("acc_clear_i".into(), e::id("acc_clear")),
                ("act_i".into(), act_fx.clone()),
                ("wgt_i".into(), e::part(e::id(control::WGT_IN), r * wb, wb)),
                ("nonfinite_i".into(), nonfinite.clone()),
                (
                    "result_o".into(),
                    e::part(e::id("res_data_o"), r * width, width),
                ),
            ],
        });
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use lutcore_contract::config::{Arch, RawArrayConfig};
    use lutcore_contract::{Accumulate, ActType, WeightType};

    fn instances<'a>(m: &'a Module, of: &str) -> Vec<&'a str> {
        m.items
            .iter()
            .filter_map(|i| match i {
                Item::Instance { module, name, .. } if module == of => Some(name.as_str()),
                _ => None,
            })
            .collect()
    }

    /// No binary32 adder anywhere: one converter per activation of a beat
    /// (shared by the rows), one rounding per row.
    #[test]
    fn integer_datapath_with_one_rounding_per_row() {
        for (arch, act, wt) in [
            (Arch::Lut, ActType::Fp16, WeightType::Uint(4)),
            (Arch::AddSub, ActType::Fp8E4m3, WeightType::Ternary),
            (Arch::Lut, ActType::Fp8E5m2, WeightType::Ternary),
        ] {
            let cfg = RawArrayConfig::new(arch, 3, 2, 3, wt, act, 256)
                .with_accumulate(Accumulate::Exact)
                .validate()
                .unwrap();
            let fmt = act.float_format().unwrap();
            let all = crate::generate(&cfg).unwrap();
            assert!(
                all.files.iter().all(|f| !f.name.starts_with(fp::ADD)),
                "{cfg}"
            );
            let mods = match arch {
                Arch::Lut => lut_modules(&cfg, fmt),
                _ => addsub_modules(&cfg, fmt),
            };
            let to_fixed = Unit::ToFixed { fmt }.name();
            let round = Unit::FixedToFp32 {
                width: cfg.acc_bits(),
                frac_bits: cfg.result_frac_bits().unwrap(),
            }
            .name();
            let count = |of: &str| -> usize { mods.iter().map(|m| instances(m, of).len()).sum() };
            assert_eq!(count(&to_fixed), cfg.k_tile(), "{cfg}");
            let pe = if arch == Arch::Lut { PE } else { ADDSUB_PE };
            let top = mods.last().unwrap();
            assert_eq!(instances(top, pe).len(), cfg.rows(), "{cfg}");
            let pe_mod = mods.iter().find(|m| m.name == pe).unwrap();
            assert_eq!(instances(pe_mod, &round), ["u_round"], "{cfg}");
        }
    }
}
