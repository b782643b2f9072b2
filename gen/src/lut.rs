//! The LUT array: `lutcore_lut_precompute` builds the mirror-halved tables of
//! one activation beat, `lutcore_lut_pe` (one per output row) looks up one
//! entry per group with its weight bits and accumulates bit-serially, and
//! `lutcore_lut_array` wires them to the shared controller and streams.
//!
//! The integers are exactly those of `lutcore_contract::reference::gemv_lut`.

use lutcore_contract::config::{ArrayConfig, RESULT_BITS};

use crate::arith::{sum_tree, Term};
use crate::control;
use crate::ir::{e, Expr, Item, Module, Port, Stmt};

/// Names of the modules, leaves first.
pub const PRECOMPUTE: &str = "lutcore_lut_precompute";
/// The processing element.
pub const PE: &str = "lutcore_lut_pe";
/// The top.
pub const ARRAY: &str = "lutcore_lut_array";

/// All modules of the LUT array, leaves first, top last.
pub fn modules(cfg: &ArrayConfig) -> Vec<Module> {
    let ctrl = control::module(cfg);
    let top = array(cfg, &ctrl);
    vec![precompute(cfg), pe(cfg), ctrl, top]
}

/// Bits of all tables of one token's beat: every group's entries.
pub(crate) fn table_bits(cfg: &ArrayConfig) -> u32 {
    (cfg.k_groups() * cfg.table_entries()) as u32 * cfg.entry_bits()
}

/// One bit field of every table entry, packed into one word per group for
/// the PEs' reads: entry `k`'s bits `lo .. lo + width` at `[k * stride +: width]`,
/// with `stride` a power of two and `entries * stride` at most 64 bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableField {
    /// Lowest entry bit in the field.
    pub lo: u32,
    /// Bits in the field.
    pub width: u32,
    /// Bits per entry slot in the word: `width` rounded up to a power of two.
    pub stride: u32,
}

/// The fields `cfg`'s table entries are split into, lowest bits first, so
/// that each field of a whole table fits one 64-bit word: a PE's read of an
/// entry is then one shift by its select bits per field, which is a single
/// shift of a 64-bit word in Verilator's C++ and, in yosys, the same 2:1 mux
/// tree per bit as an explicit one.
pub fn table_fields(cfg: &ArrayConfig) -> Vec<TableField> {
    let (entries, ew) = (cfg.table_entries() as u32, cfg.entry_bits());
    let max_stride = (64 / entries).max(1);
    let mut fields = Vec::new();
    let mut lo = 0;
    while lo < ew {
        let width = (ew - lo).min(max_stride);
        fields.push(TableField {
            lo,
            width,
            stride: width.next_power_of_two(),
        });
        lo += width;
    }
    fields
}

/// Multiply `x` (`width` bits) by the constant `c` with shifts and adds.
pub fn const_mul(x: Expr, c: u64, width: u32) -> Expr {
    let shifted = |s: u32| {
        if s == 0 {
            x.clone()
        } else {
            e::bin(crate::ir::BinOp::Shl, x.clone(), e::lit(6, u64::from(s)))
        }
    };
    if c == 0 {
        e::lit(width, 0)
    } else if (c + 1).is_power_of_two() && c > 1 {
        // 2^s - 1: one shift and one subtraction.
        e::sub(shifted((c + 1).trailing_zeros()), x.clone())
    } else {
        (0..64)
            .filter(|s| (c >> s) & 1 == 1)
            .map(shifted)
            .reduce(e::add)
            .unwrap_or_else(|| e::lit(width, 0))
    }
}

/// The registered tables `table_q` of a precompute unit: every group's
/// entries `entry_ids` (group 0's first) latched on `load`.
pub(crate) fn register_tables(
    m: &mut Module,
    cfg: &ArrayConfig,
    load: &Expr,
    entry_ids: Vec<Expr>,
) -> Expr {
    m.comment("");
    m.comment("Registered tables");
    let table_q = m.logic("table_q", table_bits(cfg), "all tables of the loaded beat");
    m.item(Item::AlwaysFf {
        reset: vec![],
        body: vec![Stmt::If(
            load.clone(),
            vec![Stmt::Assign(
                table_q.clone(),
                e::concat(entry_ids.into_iter().rev().collect()),
            )],
            vec![],
        )],
    });
    table_q
}

/// Group `j`'s table entries from its activations `xs` (each `ew` bits):
/// the wires `g{j}_ek` = x{g-1} + sum over t < g-1 of (k[t] ? +xt : -xt),
/// built as shared partial sums, one two-input `op` (how the docs name an
/// add or subtract) per wire: 2^g - 2 in all instead of (g-1)·2^(g-1).
/// Returns the entries, `k` = 0 first.
pub(crate) fn mirror_entries(m: &mut Module, j: u32, xs: &[Expr], ew: u32, op: &str) -> Vec<Expr> {
    let g = xs.len() as u32;
    m.comment(format!("Shared partial sums g{j}_pT_k = x{} +/- x{} +/- ... +/- xT, bit i of k the sign of x(T+i) (1: +);", g - 1, g - 2));
    m.comment(format!(
        "the last level are the entries g{j}_ek: one {op} per wire"
    ));
    mirror_tree(
        m,
        j,
        xs,
        |_, _, x| x.clone(),
        |m, name, p, plus, x| {
            let wire = m.logic(name, ew, "");
            let (p, x) = (p.clone(), x.clone());
            m.assign(wire.clone(), if plus { e::add(p, x) } else { e::sub(p, x) });
            wire
        },
    )
}

/// The shared partial sums of group `j`'s mirror-halved table from its
/// activations `xs`, for any number type: level `l` holds
/// x{g-1} ± x{g-2} ± … ± x{g-1-l}. `level(m, t, x_t)` prepares what the
/// adds of x_t need (once per level), and `wire(m, name, p, plus, prepared)`
/// declares the wire `name` = p + x_t (`plus`) or p - x_t. The wires are
/// `g{j}_p{t}_{k}`, the last level the entries `g{j}_e{k}`, bit `t` of `k`
/// the sign of x_t (1: +). Returns the entries, `k` = 0 first.
pub(crate) fn mirror_tree<L>(
    m: &mut Module,
    j: u32,
    xs: &[Expr],
    mut level: impl FnMut(&mut Module, u32, &Expr) -> L,
    mut wire: impl FnMut(&mut Module, &str, &Expr, bool, &L) -> Expr,
) -> Vec<Expr> {
    let g = xs.len() as u32;
    let mut partial = vec![xs[(g - 1) as usize].clone()];
    for t in (0..g - 1).rev() {
        let prepared = level(m, t, &xs[t as usize]);
        let mut next = Vec::with_capacity(partial.len() * 2);
        // Each level shifts the earlier choices up: bit t of k is the sign of x_t.
        for (hi, p) in partial.iter().enumerate() {
            for bit in 0..2u32 {
                let k = (hi << 1) as u32 | bit;
                let name = if t == 0 {
                    format!("g{j}_e{k}")
                } else {
                    format!("g{j}_p{t}_{k}")
                };
                next.push(wire(m, &name, p, bit == 1, &prepared));
            }
        }
        partial = next;
    }
    partial
}

/// Assign `tile_sum` (`cfg.sum_x_bits()` wide) the sum(x) of the beat whose
/// tables are `table_q`: the sum over the groups of each one's entry with
/// all bits set.
pub(crate) fn assign_tile_sum(m: &mut Module, cfg: &ArrayConfig, table_q: &Expr, tile_sum: &Expr) {
    let (groups, entries, ew) = (
        cfg.k_groups() as u32,
        cfg.table_entries() as u32,
        cfg.entry_bits(),
    );
    let group_sums = (0..groups)
        .map(|j| Term {
            value: e::part(table_q.clone(), ((j + 1) * entries - 1) * ew, ew),
            width: ew,
        })
        .collect();
    let sum = sum_tree(m, "tile_sum", group_sums, vec![], cfg.sum_x_bits());
    m.assign(tile_sum.clone(), sum);
}

/// The ports of a table precompute unit (one per token).
pub(crate) struct PrecomputePorts {
    /// `load_i`: latch the tables of the beat.
    pub load: Expr,
    /// `sum_clear_i`: the beat starts a pass.
    pub clear: Expr,
    /// `act_data_i`: one token's K-tile of activations.
    pub act: Expr,
    /// `table_o`: every group's table.
    pub table: Expr,
    /// `sum_x_o`: the pass's running sum of the activations.
    pub sum: Expr,
}

/// Declare the ports of a precompute unit of `cfg` (the integer and the
/// floating-point LUT array's): `sum` names the running sum in docs,
/// `act_doc` and `table_doc` describe `act_data_i` and `table_o`, and
/// `(sum_bits, sum_doc)` is `sum_x_o`.
pub(crate) fn precompute_ports(
    m: &mut Module,
    cfg: &ArrayConfig,
    sum: &str,
    act_doc: &str,
    table_doc: &str,
    (sum_bits, sum_doc): (u32, &str),
) -> PrecomputePorts {
    m.port(Port::input("clk_i", 1, "clock"));
    let load = m.port(Port::input("load_i", 1, "latch the tables of act_data_i"));
    let clear = m.port(Port::input(
        "sum_clear_i",
        1,
        &format!("this beat starts a pass: restart {sum}"),
    ));
    let act = m.port(Port::input("act_data_i", cfg.token_act_bits(), act_doc));
    let table = m.port(Port::output("table_o", table_bits(cfg), table_doc));
    let sum = m.port(Port::output("sum_x_o", sum_bits, sum_doc));
    PrecomputePorts {
        load,
        clear,
        act,
        table,
        sum,
    }
}

fn precompute(cfg: &ArrayConfig) -> Module {
    let (g, groups, entries) = (
        cfg.g() as u32,
        cfg.k_groups() as u32,
        cfg.table_entries() as u32,
    );
    let (ew, ab, sw) = (cfg.entry_bits(), cfg.act_bits(), cfg.sum_x_bits());
    let mut m = Module::new(
        PRECOMPUTE,
        crate::header(
            cfg,
            &[
                "lutcore_lut_precompute: the mirror-halved lookup tables of one activation beat.",
                &format!(
                    "For {} of g={g} activations x0..x{}, entry k (0..{}) is",
                    if groups == 1 { "the one group".to_string() } else { format!("each of the {groups} groups") },
                    g - 1,
                    entries - 1
                ),
                &format!("x{} + sum over t<{} of (k[t] ? +xt : -xt); the other half of the table is its negation.", g - 1, g - 1),
                "Also accumulates sum(x) over the pass for the bit-plane correction (sum_x_o",
                "includes a loaded beat two cycles after load_i).",
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
        "sum(x)",
        &format!("k_tile int{ab} activations"),
        &format!("group j entry k at [(j*{entries}+k)*{ew} +: {ew}]"),
        (sw, "sum of all activations loaded in this pass"),
    );

    let mut entry_ids = Vec::new();
    for j in 0..groups {
        m.comment("");
        m.comment(format!(
            "Group {j}: activations {}..{} of the beat, sign-extended to {ew} bits",
            j * g,
            j * g + g - 1
        ));
        let xs: Vec<Expr> = (0..g)
            .map(|t| {
                let x = m.logic(&format!("g{j}_x{t}"), ew, "");
                m.assign(
                    x.clone(),
                    e::sext(e::part(act.clone(), (j * g + t) * ab, ab), ab, ew),
                );
                x
            })
            .collect();
        entry_ids.extend(mirror_entries(&mut m, j, &xs, ew, "add or subtract"));
    }
    let table_q = register_tables(&mut m, cfg, &load, entry_ids);
    m.comment("");
    m.comment("The running sum(x), one cycle after the tables (the table adders and the running");
    m.comment("sum are separate stages); sum(x) of a group is its entry with all bits set.");
    let sum_load_q = m.logic("sum_load_q", 1, "the tables were loaded last cycle");
    let sum_clear_q = m.logic("sum_clear_q", 1, "... and started a pass");
    let tile_sum = m.logic("tile_sum", sw, "sum(x) of the loaded beat");
    let sum_q = m.logic("sum_x_q", sw, "");
    assign_tile_sum(&mut m, cfg, &table_q, &tile_sum);
    m.item(Item::AlwaysFf {
        reset: vec![],
        body: vec![
            Stmt::Assign(sum_load_q.clone(), load),
            Stmt::Assign(sum_clear_q.clone(), clear),
            Stmt::If(
                sum_load_q,
                vec![Stmt::Assign(
                    sum_q.clone(),
                    e::add(e::cond(sum_clear_q, e::lit(sw, 0), sum_q.clone()), tile_sum),
                )],
                vec![],
            ),
        ],
    });
    m.assign(table_o, table_q);
    m.assign(sum_o, sum_q);
    m
}

/// The ports of a LUT PE (integer or floating-point).
pub(crate) struct PePorts {
    /// `acc_en_i`.
    pub acc_en: Expr,
    /// `acc_clear_i`.
    pub acc_clear: Expr,
    /// `finalize_i`: add the correction instead of the weight beat.
    pub finalize: Expr,
    /// `plane_i`, when a weight has several bit planes.
    pub plane: Option<Expr>,
    /// `wgt_i`: this row's bits of the plane.
    pub wgt: Expr,
    /// `sel_o`: the entry indices.
    pub sel: Expr,
    /// `entry_i`: the entries read at `sel_o`, every token's.
    pub entry: Expr,
    /// `corr_i`: every token's correction.
    pub corr: Expr,
    /// The extra input (one bit per token, token `n`'s at `[n]`), when asked for.
    pub flag: Option<Expr>,
}

/// Declare the ports of a LUT PE of `cfg` whose table entries and
/// corrections are `ew` and `cw` bits wide: `zero` names the accumulator's
/// start value, `corr_doc` and `result_doc` describe `corr_i` and
/// `result_o`, and `flag` (name, doc) is an extra input of one bit per token
/// declared after `corr_i`, such as the exact array's non-finite flags.
pub(crate) fn pe_ports(
    m: &mut Module,
    cfg: &ArrayConfig,
    (ew, cw): (u32, u32),
    zero: &str,
    corr_doc: &str,
    result_doc: &str,
    flag: Option<(&str, &str)>,
) -> PePorts {
    let (g, groups, tokens) = (cfg.g() as u32, cfg.k_groups() as u32, cfg.tokens() as u32);
    let pb = control::plane_bits(cfg);
    let (acc_en, acc_clear) = control::pe_control_ports(m, zero);
    let finalize = m.port(Port::input(
        "finalize_i",
        1,
        "add corr_i instead of the weight beat",
    ));
    let plane =
        (pb > 0).then(|| m.port(Port::input("plane_i", pb, "bit plane of this weight beat")));
    let wgt = m.port(Port::input(
        "wgt_i",
        cfg.k_tile() as u32,
        "this row's bits of the plane, group j at [j*g +: g]",
    ));
    let sel = m.port(Port::output(
        "sel_o",
        groups * (g - 1),
        &format!("entry index of group j at [j*{} +: {}]", g - 1, g - 1),
    ));
    let (entry_doc, corr_doc, result_doc) = if tokens == 1 {
        (
            format!("table entry of group j at sel, at [j*{ew} +: {ew}]"),
            corr_doc.to_string(),
            result_doc.to_string(),
        )
    } else {
        (
            format!("token n's table entry of group j at sel, at [(n*{groups}+j)*{ew} +: {ew}]"),
            format!("{corr_doc}, token n's at [n*{cw} +: {cw}]"),
            format!("{result_doc}, token n's at [n*{RESULT_BITS} +: {RESULT_BITS}]"),
        )
    };
    let entry = m.port(Port::input("entry_i", tokens * groups * ew, &entry_doc));
    let corr = m.port(Port::input("corr_i", tokens * cw, &corr_doc));
    let flag = flag.map(|(name, doc)| m.port(Port::input(name, tokens, doc)));
    m.port(Port::output("result_o", tokens * RESULT_BITS, &result_doc));
    PePorts {
        acc_en,
        acc_clear,
        finalize,
        plane,
        wgt,
        sel,
        entry,
        corr,
        flag,
    }
}

/// Group `j`'s index decode in a LUT PE, shared by every token: declares
/// `g{j}_idx` (the group's `g` weight bits of `wgt`), `g{j}_neg` (top bit
/// clear: the mirrored half, documented as `neg_doc`) and `g{j}_sel` (the
/// entry index, the low bits inverted when negated); returns (sel, neg).
pub(crate) fn decode_group(
    m: &mut Module,
    cfg: &ArrayConfig,
    wgt: &Expr,
    j: u32,
    neg_doc: &str,
) -> (Expr, Expr) {
    let g = cfg.g() as u32;
    m.comment("");
    m.comment(format!("Group {j}"));
    let idx = m.logic(&format!("g{j}_idx"), g, "weight bits of the group");
    m.assign(idx.clone(), e::part(wgt.clone(), j * g, g));
    let neg = m.logic(&format!("g{j}_neg"), 1, neg_doc);
    m.assign(neg.clone(), e::not(e::bit(idx.clone(), g - 1)));
    let sel = m.logic(&format!("g{j}_sel"), g - 1, "entry index");
    let low = e::part(idx, 0, g - 1);
    m.assign(sel.clone(), e::cond(neg.clone(), e::not(low.clone()), low));
    (sel, neg)
}

/// The LUT PE's lookup-stage register: token `n`'s looked-up value
/// `looked_up[n]` into `{token prefix}{name}` (`name`, `doc` given), the
/// groups' negate bits `negs` into `neg_q`; returns those registers.
pub(crate) fn lookup_register(
    m: &mut Module,
    cfg: &ArrayConfig,
    (name, doc): (&str, &str),
    looked_up: Vec<Expr>,
    negs: Vec<Expr>,
) -> (Vec<Expr>, Expr) {
    let groups = cfg.k_groups() as u32;
    let width = groups * cfg.entry_bits();
    let qs: Vec<Expr> = (0..looked_up.len())
        .map(|n| {
            m.logic(
                &format!("{}{name}", crate::token_prefix(cfg, n)),
                width,
                doc,
            )
        })
        .collect();
    let neg_q = m.logic("neg_q", groups, "group j's negate bit at [j]");
    let mut body: Vec<Stmt> = qs
        .iter()
        .zip(looked_up)
        .map(|(q, d)| Stmt::Assign(q.clone(), d))
        .collect();
    body.push(Stmt::Assign(neg_q.clone(), packed(negs)));
    m.item(Item::AlwaysFf {
        reset: vec![],
        body,
    });
    (qs, neg_q)
}

/// Group `j`'s bit of the registered negate bits `neg_q` (`neg_q` itself for one group).
pub(crate) fn neg_bit(neg_q: &Expr, groups: u32, j: u32) -> Expr {
    if groups == 1 {
        neg_q.clone()
    } else {
        e::bit(neg_q.clone(), j)
    }
}

/// Group `j`'s `ew`-bit entry of `entries` in a wire `{prefix}g{j}_term`,
/// inverted when `neg` is set (the +1 of the negation is a carry of the
/// adder tree that sums the terms).
pub(crate) fn negatable_term(
    m: &mut Module,
    prefix: &str,
    j: u32,
    entries: &Expr,
    ew: u32,
    neg: Expr,
) -> Expr {
    let t = m.logic(
        &format!("{prefix}g{j}_term"),
        ew,
        "entry, or ~entry when negated (the +1 is a carry below)",
    );
    m.assign(
        t.clone(),
        e::invert_if(e::part(entries.clone(), j * ew, ew), ew, neg),
    );
    t
}

/// `parts` as one value, the first lowest: the part itself when there is one.
pub(crate) fn packed(mut parts: Vec<Expr>) -> Expr {
    if parts.len() == 1 {
        parts.pop().expect("one")
    } else {
        e::concat(parts.into_iter().rev().collect())
    }
}

fn pe(cfg: &ArrayConfig) -> Module {
    let (g, groups) = (cfg.g() as u32, cfg.k_groups() as u32);
    let (ew, bw, aw) = (cfg.entry_bits(), cfg.beat_sum_bits(), cfg.acc_bits());
    let tokens = cfg.tokens();
    let mut m = Module::new(
        PE,
        crate::header(
            cfg,
            &[
                "lutcore_lut_pe: one output row of the LUT array.",
                &format!(
                    "Per weight beat (one bit plane), {} {g} weight bits index its table:",
                    if groups == 1 { "the group's".to_string() } else { format!("each of the {groups} groups'") }
                ),
                "the top bit chooses the mirrored half (negate), the others select an entry (sel_o);",
                "the array reads the shared table at sel_o and returns the entries (entry_i).",
                "Two stages: the entries and their signs are registered (lookup), and one cycle",
                "later the per-beat sum is shifted by the plane number and accumulated; after the",
                "last beat, the correction c*sum(x) is added and the result is acc/2 (always even).",
            ],
        ),
    );
    let ports = pe_ports(
        &mut m,
        cfg,
        (ew, aw),
        "zero",
        "correction c*sum(x)",
        "acc/2, the row's int32 result",
        None,
    );
    let mut negs = Vec::new();
    let mut sels = Vec::new();
    for j in 0..groups {
        let (sel, neg) = decode_group(
            &mut m,
            cfg,
            &ports.wgt,
            j,
            "top bit clear: mirrored half, negate",
        );
        sels.push(sel);
        negs.push(neg);
    }
    m.comment("");
    m.assign(ports.sel.clone(), packed(sels));
    m.comment("");
    // With several groups the negation -e = ~e + 1 is split: ~e, and the +1s as carries
    // of the adder tree. For g = 2, ~e is taken in the lookup stage: a 2:1 table read and
    // the XOR fit one 4-input LUT. Wider reads do not, and ~e follows the register.
    let fold = groups > 1 && g == 2;
    let term = |m: &mut Module, prefix: &str, j: u32, entries: &Expr, neg: Expr| {
        negatable_term(m, prefix, j, entries, ew, neg)
    };
    let token_entries = |n: usize| crate::token_part(cfg, &ports.entry, n, groups * ew);
    let looked_up: Vec<Expr> = if !fold {
        m.comment("Lookup stage: register the looked-up entries and their signs");
        (0..tokens).map(token_entries).collect()
    } else {
        m.comment(
            "Lookup stage: register the looked-up entries (inverted when negated) and their signs",
        );
        (0..tokens)
            .map(|n| {
                let prefix = crate::token_prefix(cfg, n);
                let entries = token_entries(n);
                e::concat(
                    (0..groups)
                        .rev()
                        .map(|j| term(&mut m, &prefix, j, &entries, negs[j as usize].clone()))
                        .collect(),
                )
            })
            .collect()
    };
    let (entry_qs, neg_q) = lookup_register(
        &mut m,
        cfg,
        (
            if fold { "term_q" } else { "entry_q" },
            "the looked-up values of the last cycle",
        ),
        looked_up,
        negs,
    );
    m.comment("");
    m.comment("Accumulate stage (the controls are one cycle behind the lookup): -e = ~e + 1");
    let neg_bit = |j: u32| neg_bit(&neg_q, groups, j);
    let shift = |x: Expr| match &ports.plane {
        Some(p) => e::bin(crate::ir::BinOp::Shl, x, p.clone()),
        None => x,
    };
    for (n, entry_q) in entry_qs.iter().enumerate() {
        let prefix = crate::token_prefix(cfg, n);
        let name = |s: &str| format!("{prefix}{s}");
        if tokens > 1 {
            m.comment(format!("Token {n}"));
        }
        let corr = crate::token_part(cfg, &ports.corr, n, aw);
        let acc_q = m.logic(&name("acc_q"), aw, "accumulator");
        let acc_d = m.logic(&name("acc_d"), aw, "");
        let base = e::cond(ports.acc_clear.clone(), e::lit(aw, 0), acc_q.clone());
        if groups == 1 {
            // (e << plane) negated is ~(e << plane) + 1: the +1 is the accumulator adder's carry-in.
            let addend = m.logic(
                &name("addend"),
                aw,
                "neg ? ~(entry << plane) : entry << plane",
            );
            m.assign(
                addend.clone(),
                e::invert_if(
                    shift(e::sext(e::part(entry_q.clone(), 0, ew), ew, aw)),
                    aw,
                    neg_q.clone(),
                ),
            );
            let carry = m.logic(&name("carry"), 1, "completes the negation");
            m.assign(
                carry.clone(),
                e::and(neg_q.clone(), e::not(ports.finalize.clone())),
            );
            m.assign(
                acc_d.clone(),
                e::add(
                    e::add(base, e::cond(ports.finalize.clone(), corr, addend)),
                    e::zext(carry, 1, aw),
                ),
            );
        } else {
            let beat_sum = m.logic(&name("beat_sum"), bw, "sum of this plane's terms");
            let terms = (0..groups)
                .map(|j| {
                    let value = if fold {
                        e::part(entry_q.clone(), j * ew, ew)
                    } else {
                        term(&mut m, &prefix, j, entry_q, neg_bit(j))
                    };
                    Term { value, width: ew }
                })
                .collect();
            let sum = sum_tree(
                &mut m,
                &name("sum"),
                terms,
                (0..groups).map(neg_bit).collect(),
                bw,
            );
            m.assign(beat_sum.clone(), sum);
            let shifted = m.logic(&name("shifted_sum"), aw, "beat_sum * 2^plane");
            m.assign(shifted.clone(), shift(e::sext(beat_sum, bw, aw)));
            m.assign(
                acc_d.clone(),
                e::add(base, e::cond(ports.finalize.clone(), corr, shifted)),
            );
        }
        let result = e::sext(e::slice(acc_q.clone(), aw - 1, 1), aw - 1, RESULT_BITS);
        control::acc_update(&mut m, cfg, n, &acc_q, acc_d, result);
        let unused = m.logic(&name("unused_acc_lsb"), 1, "acc is even: bit 0 is always 0");
        m.assign(unused, e::bit(acc_q, 0));
    }
    m
}

/// The precompute units of an array top, one per token: each takes its
/// token's K-tile of the activation beat (`act_lane`), and drives a wire
/// `{tn_}tables` (`tables_bits` wide) and `{tn_}sum_x` (`sum_bits` wide,
/// documented as `sum_doc`), and with `flag` (name, doc) a one-bit wire
/// `{tn_}name` on the unit's output `name_o`. Returns them per token.
pub(crate) fn precompute_instances(
    m: &mut Module,
    cfg: &ArrayConfig,
    module: &str,
    tables_bits: u32,
    (sum_bits, sum_doc): (u32, &str),
    flag: Option<(&str, &str)>,
) -> Vec<PrecomputeOutputs> {
    m.comment("");
    m.comment(if cfg.tokens() == 1 {
        "Table precompute".to_string()
    } else {
        format!(
            "Table precompute, one per token: token n's K-tile is act_in_q[n*{0} +: {0}]",
            cfg.token_act_bits()
        )
    });
    (0..cfg.tokens())
        .map(|n| {
            let prefix = crate::token_prefix(cfg, n);
            let table = m.logic(
                &format!("{prefix}tables"),
                tables_bits,
                "tables of the loaded beat",
            );
            let sum_x = m.logic(&format!("{prefix}sum_x"), sum_bits, sum_doc);
            let flag = flag.map(|(name, doc)| (name, m.logic(&format!("{prefix}{name}"), 1, doc)));
            let name = match cfg.tokens() {
                1 => "u_precompute".to_string(),
                _ => format!("u_precompute_t{n}"),
            };
            let mut conns = vec![
                ("clk_i".into(), e::id("clk_i")),
                ("load_i".into(), e::id("load")),
                ("sum_clear_i".into(), e::id("sum_clear")),
                (
                    "act_data_i".into(),
                    crate::token_part(cfg, &e::id(control::ACT_IN), n, cfg.token_act_bits()),
                ),
                ("table_o".into(), table.clone()),
                ("sum_x_o".into(), sum_x.clone()),
            ];
            if let Some((name, wire)) = &flag {
                conns.push((format!("{name}_o"), wire.clone()));
            }
            m.item(Item::Instance {
                module: module.into(),
                name,
                conns,
            });
            PrecomputeOutputs {
                table,
                sum_x,
                flag: flag.map(|(_, wire)| wire),
            }
        })
        .collect()
}

/// The wires one precompute unit of an array top drives ([`precompute_instances`]).
pub(crate) struct PrecomputeOutputs {
    /// `{tn_}tables`: every group's table.
    pub table: Expr,
    /// `{tn_}sum_x`: the pass's running sum of the activations.
    pub sum_x: Expr,
    /// The extra one-bit output, when asked for.
    pub flag: Option<Expr>,
}

/// The integer bit-plane corrections `c·sum(x)` (`acc_bits` wide) of every
/// token's `sums` (`sum_x_bits` wide), `c = 2^bits - 1 - 2·zero_point`: a
/// shift when `c` is a power of two, else adders, registered.
pub(crate) fn int_corrections(m: &mut Module, cfg: &ArrayConfig, sums: Vec<Expr>) -> Vec<Expr> {
    let (aw, sw) = (cfg.acc_bits(), cfg.sum_x_bits());
    // c = 2^bits - 1 - 2*zero_point: 2^bits - 1 for uintB (zero point 0), 1 for ternary (bits 2, zero point 1).
    let c = u64::try_from(cfg.correction_coeff())
        .expect("no weight format has a negative correction coefficient");
    m.comment("");
    m.comment(format!(
        "Bit-plane correction: c*sum(x) with c = 2^bits - 1 - 2*zero_point = {c}"
    ));
    sums.into_iter()
        .enumerate()
        .map(|(n, sum_x)| {
            let prefix = crate::token_prefix(cfg, n);
            let sum_wide = m.logic(&format!("{prefix}sum_x_wide"), aw, "");
            m.assign(sum_wide.clone(), e::sext(sum_x, sw, aw));
            if c.is_power_of_two() {
                // A shift: wiring only.
                let corr = m.logic(&format!("{prefix}corr"), aw, "");
                m.assign(corr.clone(), const_mul(sum_wide, c, aw));
                corr
            } else {
                // Adders: registered, as sum(x) is final two cycles before the accumulate stage's finalize.
                let corr_q = m.logic(&format!("{prefix}corr_q"), aw, "");
                m.item(Item::AlwaysFf {
                    reset: vec![],
                    body: vec![Stmt::Assign(corr_q.clone(), const_mul(sum_wide, c, aw))],
                });
                corr_q
            }
        })
        .collect()
}

fn array(cfg: &ArrayConfig, ctrl: &Module) -> Module {
    let sw = cfg.sum_x_bits();
    let kt = cfg.k_tile() as u32;
    let mut m = control::array_top(
        cfg,
        ctrl,
        ARRAY,
        &[
            &format!(
                "lutcore_lut_array: {} rows x {} activations per beat, table-lookup datapath.",
                cfg.rows(),
                kt
            ),
            &format!(
                "Streams: act (one K-tile of int{}), wgt (one bit plane of the tile for all rows),",
                cfg.act_bits()
            ),
            "res (one int32 per row). See lutcore_ctrl for the sequence.",
        ],
    );
    let pre = precompute_instances(
        &mut m,
        cfg,
        PRECOMPUTE,
        table_bits(cfg),
        (sw, "sum(x) of the pass"),
        None,
    );
    let (tables, sums): (Vec<Expr>, Vec<Expr>) =
        pre.into_iter().map(|p| (p.table, p.sum_x)).unzip();
    let corrs = int_corrections(&mut m, cfg, sums);
    pe_instances(&mut m, cfg, &tables, PE, &corrs, None);
    m
}

/// Pack every token's `tables` for reading ([`pack_tables`]) and instantiate
/// one `pe` module per row, each reading its entries ([`read_tables`]) and
/// sharing the controller's accumulator controls and the corrections `corrs`
/// (one per token), and the input `flag` (port name, wire of one bit per
/// token) when given; row
/// `r`'s results of all tokens are one field of the result beat (`result_lane`).
pub(crate) fn pe_instances(
    m: &mut Module,
    cfg: &ArrayConfig,
    tables: &[Expr],
    pe: &str,
    corrs: &[Expr],
    flag: Option<(&str, &Expr)>,
) {
    let kt = cfg.k_tile() as u32;
    let packed_tables: Vec<PackedTables> = tables
        .iter()
        .enumerate()
        .map(|(n, table)| pack_tables(m, cfg, table, n))
        .collect();
    let width = cfg.tokens() as u32 * RESULT_BITS;
    m.comment("");
    m.comment("Processing elements, one per row, each with one table read per group");
    for r in 0..cfg.rows() as u32 {
        let (sel, entry) = read_tables(m, cfg, &packed_tables, r);
        let mut conns = vec![
            ("clk_i".to_string(), e::id("clk_i")),
            ("acc_en_i".into(), e::id("acc_en")),
            ("acc_clear_i".into(), e::id("acc_clear")),
            ("finalize_i".into(), e::id("finalize")),
        ];
        if control::plane_bits(cfg) > 0 {
            conns.push(("plane_i".into(), e::id("plane")));
        }
        conns.extend([
            ("wgt_i".into(), e::part(e::id(control::WGT_IN), r * kt, kt)),
            ("sel_o".into(), sel),
            ("entry_i".into(), entry),
            ("corr_i".into(), packed(corrs.to_vec())),
        ]);
        if let Some((name, wire)) = flag {
            conns.push((name.to_string(), wire.clone()));
        }
        conns.push((
            "result_o".into(),
            e::part(e::id("res_data_o"), r * width, width),
        ));
        m.item(Item::Instance {
            module: pe.into(),
            name: format!("u_pe_{r}"),
            conns,
        });
    }
}

/// One token's tables of an array top packed for the PEs' reads ([`pack_tables`]).
pub(crate) struct PackedTables {
    fields: Vec<TableField>,
    /// `words[j][c]`: group `j`'s field `c` of every entry.
    words: Vec<Vec<Expr>>,
}

/// Pack token `n`'s `table` (all groups' entries, group `j` entry `k` at
/// `[(j·entries + k)·entry_bits +: entry_bits]`) into one word per group and
/// [`TableField`], declared in `m` as `{tn_}table_g{j}_f{c}`. Shared by the
/// integer and the floating-point LUT arrays: only the entry width differs.
pub(crate) fn pack_tables(
    m: &mut Module,
    cfg: &ArrayConfig,
    table: &Expr,
    n: usize,
) -> PackedTables {
    let (groups, entries, ew) = (
        cfg.k_groups() as u32,
        cfg.table_entries() as u32,
        cfg.entry_bits(),
    );
    let prefix = crate::token_prefix(cfg, n);
    let fields = table_fields(cfg);
    m.comment("");
    let field_docs: Vec<String> = fields
        .iter()
        .map(|f| {
            format!(
                "bits {}..{} at a stride of {}",
                f.lo,
                f.lo + f.width - 1,
                f.stride
            )
        })
        .collect();
    m.comment(format!(
        "The {}tables packed for reading: per group, one word per bit field of the entries ({}), so that \
         a PE's read is one shift by its select bits per field: yosys maps it to a 2:1 mux tree per \
         bit, Verilator to a shift of a 64-bit word.",
        if cfg.tokens() == 1 { String::new() } else { format!("token {n}'s ") },
        field_docs.join(", ")
    ));
    let words: Vec<Vec<Expr>> = (0..groups)
        .map(|j| {
            fields
                .iter()
                .enumerate()
                .map(|(c, f)| {
                    let doc = format!(
                        "group {j}, bits {}..{} of entry k at [{}k +: {}]",
                        f.lo,
                        f.lo + f.width - 1,
                        f.stride,
                        f.width
                    );
                    let w = m.logic(
                        &format!("{prefix}table_g{j}_f{c}"),
                        entries * f.stride,
                        &doc,
                    );
                    let mut parts = Vec::new();
                    for k in (0..entries).rev() {
                        if f.stride > f.width {
                            parts.push(e::lit(f.stride - f.width, 0));
                        }
                        parts.push(e::part(
                            table.clone(),
                            (j * entries + k) * ew + f.lo,
                            f.width,
                        ));
                    }
                    m.assign(w.clone(), e::concat(parts));
                    w
                })
                .collect()
        })
        .collect();
    PackedTables { fields, words }
}

/// Row `r`'s table reads: declares `pe{r}_sel` (the PE's entry indices, group
/// `j` at `[j·(g-1) +: g-1]`, shared by every token) and, per token `n`,
/// `pe{r}_{tn_}entry` (the entries read there in token `n`'s tables, group
/// `j` at `[j·entry_bits +: entry_bits]`); returns the indices and every
/// token's entries (token `n`'s at `[n·k_groups·entry_bits +: …]`), to be
/// connected to the PE's `sel_o` and `entry_i`.
pub(crate) fn read_tables(
    m: &mut Module,
    cfg: &ArrayConfig,
    packed_tables: &[PackedTables],
    r: u32,
) -> (Expr, Expr) {
    let (g, groups, ew) = (cfg.g() as u32, cfg.k_groups() as u32, cfg.entry_bits());
    let sel = m.logic(&format!("pe{r}_sel"), groups * (g - 1), "");
    // A one-group, g = 2 array has a 1-bit index: no bit select on a scalar.
    let group_sel = |j: u32| {
        if groups * (g - 1) == 1 {
            sel.clone()
        } else {
            e::part(sel.clone(), j * (g - 1), g - 1)
        }
    };
    let mut entries = Vec::new();
    for (n, packed_table) in packed_tables.iter().enumerate() {
        let tn = match cfg.tokens() {
            1 => String::new(),
            _ => format!("t{n}_"),
        };
        let (fields, words) = (&packed_table.fields, &packed_table.words);
        let entry = m.logic(&format!("pe{r}_{tn}entry"), groups * ew, "");
        let reads = (0..groups)
            .rev()
            .map(|j| {
                let read = m.logic(
                    &format!("pe{r}_{tn}g{j}"),
                    ew,
                    &format!("group {j}'s entry at pe{r}_sel"),
                );
                let parts = fields
                    .iter()
                    .enumerate()
                    .rev()
                    .map(|(c, f)| {
                        let at = match f.stride.trailing_zeros() {
                            0 => group_sel(j),
                            z => e::concat(vec![group_sel(j), e::lit(z, 0)]),
                        };
                        e::part_sel(words[j as usize][c].clone(), at, f.width)
                    })
                    .collect::<Vec<_>>();
                m.assign(
                    read.clone(),
                    if parts.len() == 1 {
                        parts[0].clone()
                    } else {
                        e::concat(parts)
                    },
                );
                read
            })
            .collect::<Vec<_>>();
        m.assign(
            entry.clone(),
            if groups == 1 {
                reads[0].clone()
            } else {
                e::concat(reads)
            },
        );
        entries.push(entry);
    }
    (sel, packed(entries))
}
