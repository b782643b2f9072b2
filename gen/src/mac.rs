//! The MAC baseline: the same streams and controller as the LUT array, but
//! each row multiplies every activation by its weight value with a real
//! multiplier and sums the products. It takes all bit planes of a K-tile in one
//! beat, so it completes `rows · k_tile` MACs per cycle.

use lutcore_contract::config::{ArrayConfig, RESULT_BITS};

use crate::arith::{sum_tree, Term};
use crate::control;
use crate::ir::{e, Expr, Item, Module, Port, Stmt};

/// The processing element.
pub const PE: &str = "lutcore_mac_pe";
/// The top.
pub const ARRAY: &str = "lutcore_mac_array";

/// All modules of the MAC array, leaves first, top last.
pub fn modules(cfg: &ArrayConfig) -> Vec<Module> {
    let ctrl = control::module(cfg);
    let top = array(cfg, &ctrl);
    vec![pe(cfg), ctrl, top]
}

fn pe(cfg: &ArrayConfig) -> Module {
    let kt = cfg.k_tile() as u32;
    let wt = cfg.weights();
    let (b, ab) = (wt.bits(), cfg.act_bits());
    let pw = cfg.product_bits();
    let zp = wt.zero_point();
    let mut m = Module::new(
        PE,
        crate::header(
            cfg,
            &[
                "lutcore_mac_pe: one output row of the MAC baseline.",
                &format!("{kt} multipliers int{ab} x {wt} (value = code - {zp}), an adder tree, an accumulator."),
            ],
        ),
    );
    let (act, wgt) = pe_ports(cfg, &mut m);

    let mut products = Vec::new();
    for k in 0..kt {
        let x = m.logic(&format!("x{k}"), pw, "");
        m.assign(x.clone(), e::sext(e::part(act.clone(), k * ab, ab), ab, pw));
        let w = m.logic(&format!("w{k}"), pw, "");
        let code = e::zext(e::part(wgt.clone(), k * b, b), b, pw);
        m.assign(
            w.clone(),
            if zp == 0 {
                code
            } else {
                e::sub(code, e::lit(pw, zp as u64))
            },
        );
        let p = m.logic(&format!("p{k}"), pw, "");
        m.assign(p.clone(), e::bin(crate::ir::BinOp::Mul, x, w));
        products.push(p);
    }
    accumulate(cfg, &mut m, products, vec![], "sum of this beat's products");
    m
}

/// The ports every one-beat PE has: clock, accumulator controls, the
/// activation beat, this row's weight codes and the result. Returns the
/// activation and weight inputs.
pub(crate) fn pe_ports(cfg: &ArrayConfig, m: &mut Module) -> (Expr, Expr) {
    let (kt, b) = (cfg.k_tile() as u32, cfg.weights().bits());
    m.port(Port::input("clk_i", 1, "clock"));
    m.port(Port::input("acc_en_i", 1, "update the accumulator"));
    m.port(Port::input("acc_clear_i", 1, "start from zero"));
    let act = m.port(Port::input(
        "act_i",
        cfg.act_beat_bits(),
        "the loaded activations",
    ));
    let wgt = m.port(Port::input(
        "wgt_i",
        kt * b,
        &format!("this row's weight codes, weight e at [e*{b} +: {b}]"),
    ));
    m.port(Port::output(
        "result_o",
        RESULT_BITS,
        "the row's int32 result",
    ));
    (act, wgt)
}

/// The adder tree over one beat's `terms` (each `product_bits` wide) plus
/// one-bit `carries`, and the accumulator, driving `result_o`.
pub(crate) fn accumulate(
    cfg: &ArrayConfig,
    m: &mut Module,
    terms: Vec<Expr>,
    carries: Vec<Expr>,
    what: &str,
) {
    let (pw, bw, aw) = (cfg.product_bits(), cfg.beat_sum_bits(), cfg.acc_bits());
    m.comment("");
    let beat_sum = m.logic("beat_sum", bw, what);
    let terms = terms
        .into_iter()
        .map(|value| Term { value, width: pw })
        .collect();
    let sum = sum_tree(m, "sum", terms, carries, bw);
    m.assign(beat_sum.clone(), sum);
    let acc_q = m.logic("acc_q", aw, "accumulator");
    let acc_d = m.logic("acc_d", aw, "");
    m.assign(
        acc_d.clone(),
        e::add(
            e::cond(e::id("acc_clear_i"), e::lit(aw, 0), acc_q.clone()),
            e::sext(beat_sum, bw, aw),
        ),
    );
    m.item(Item::AlwaysFf {
        reset: vec![],
        body: vec![Stmt::If(
            e::id("acc_en_i"),
            vec![Stmt::Assign(acc_q.clone(), acc_d)],
            vec![],
        )],
    });
    m.assign(e::id("result_o"), e::sext(acc_q, aw, RESULT_BITS));
}

fn array(cfg: &ArrayConfig, ctrl: &Module) -> Module {
    let what = format!(
        "lutcore_mac_array: {} rows x {} multipliers, the baseline for the LUT array.",
        cfg.rows(),
        cfg.k_tile()
    );
    one_beat_array(cfg, ctrl, ARRAY, PE, &what)
}

/// The top of a baseline array whose PEs (`pe`) take a whole K-tile of
/// weight codes per beat: the shared controller, one activation register,
/// one PE per row.
pub(crate) fn one_beat_array(
    cfg: &ArrayConfig,
    ctrl: &Module,
    name: &str,
    pe: &str,
    what: &str,
) -> Module {
    let kt = cfg.k_tile() as u32;
    let wb = kt * cfg.weights().bits();
    let mut m = control::array_top(
        cfg,
        ctrl,
        name,
        &[what, "Same streams as lutcore_lut_array; one weight beat carries all bit planes of a K-tile."],
    );
    let unused = m.logic("unused_sum_clear", 1, "a one-beat array needs no sum(x)");
    m.assign(unused, e::id("sum_clear"));
    m.comment("");
    m.comment("Activation register");
    let act_q = m.logic("act_q", cfg.act_beat_bits(), "the loaded activation beat");
    m.item(Item::AlwaysFf {
        reset: vec![],
        body: vec![Stmt::If(
            e::id("load"),
            vec![Stmt::Assign(act_q.clone(), e::id(control::ACT_IN))],
            vec![],
        )],
    });
    m.comment("");
    m.comment("Processing elements, one per row");
    for r in 0..cfg.rows() as u32 {
        m.item(Item::Instance {
            module: pe.into(),
            name: format!("u_pe_{r}"),
            conns: vec![
                ("clk_i".into(), e::id("clk_i")),
                ("acc_en_i".into(), e::id("acc_en")),
                ("acc_clear_i".into(), e::id("acc_clear")),
                ("act_i".into(), act_q.clone()),
                ("wgt_i".into(), e::part(e::id(control::WGT_IN), r * wb, wb)),
                (
                    "result_o".into(),
                    e::part(e::id("res_data_o"), r * RESULT_BITS, RESULT_BITS),
                ),
            ],
        });
    }
    m
}
