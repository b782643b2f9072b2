//! The MAC baseline: the same streams and controller as the LUT array, but
//! each row multiplies every activation by its weight value with a real
//! multiplier and sums the products. It takes all bit planes of a K-tile in one
//! beat, so it completes `rows · k_tile` MACs per cycle.

use lutcore_contract::config::{signed_bits, ArrayConfig, RESULT_BITS};

use crate::arith::{sum_tree, Term};
use crate::control;
use crate::ir::{e, BinOp, Expr, Item, Module, Port, Stmt};
use crate::GenError;

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
        m.assign(p.clone(), e::bin(BinOp::Mul, x, w));
        products.push(p);
    }
    accumulate(cfg, &mut m, products, vec![], "sum of this beat's products");
    m
}

/// The ports every one-beat PE has: clock, accumulator controls, the
/// activation beat, this row's weight codes and the result. Returns the
/// activation and weight inputs.
pub(crate) fn pe_ports(cfg: &ArrayConfig, m: &mut Module) -> (Expr, Expr) {
    let b = cfg.weights().bits();
    let doc = format!("this row's weight codes, weight e at [e*{b} +: {b}]");
    pe_ports_with(cfg, m, b, &doc)
}

/// [`pe_ports`] with `wbits` bits per weight on `wgt_i`, documented as `wdoc`.
fn pe_ports_with(cfg: &ArrayConfig, m: &mut Module, wbits: u32, wdoc: &str) -> (Expr, Expr) {
    let kt = cfg.k_tile() as u32;
    m.port(Port::input("clk_i", 1, "clock"));
    m.port(Port::input("acc_en_i", 1, "update the accumulator"));
    m.port(Port::input("acc_clear_i", 1, "start from zero"));
    let act = m.port(Port::input(
        "act_i",
        cfg.act_beat_bits(),
        "the loaded activations",
    ));
    let wgt = m.port(Port::input("wgt_i", kt * wbits, wdoc));
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
    let widths = (cfg.product_bits(), cfg.beat_sum_bits(), cfg.acc_bits());
    accumulate_widths(m, terms, carries, what, widths);
}

/// [`accumulate`] with explicit (product, beat sum, accumulator) widths.
fn accumulate_widths(
    m: &mut Module,
    terms: Vec<Expr>,
    carries: Vec<Expr>,
    what: &str,
    (pw, bw, aw): (u32, u32, u32),
) {
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

/// The PE of the dequantize-to-INT8 MAC ([`int8_modules`]).
pub const INT8_PE: &str = "lutcore_mac_int8_pe";
/// The top of the dequantize-to-INT8 MAC ([`int8_modules`]).
pub const INT8_ARRAY: &str = "lutcore_mac_int8_array";
/// Bits of one dequantized weight of [`int8_modules`].
pub const INT8_WEIGHT_BITS: u32 = 8;

/// The LUT Tensor Core paper's baseline for integer activations, a
/// dequantize-to-INT8 × INT8 MAC: the array top turns every weight code into
/// its int8 value (`code − zero point`, sign-extended), and each row is a
/// general int8-weight MAC: `k_tile` signed `act_bits`×8 multipliers, an
/// adder tree and an int32 accumulator (as INT8 tensor cores have). Same
/// streams, controller and results as [`modules`].
///
/// No preset uses it; the DSE synthesizes it with the PE as its own unit
/// (yosys `keep_hierarchy`), so that the multipliers stay general int8×int8
/// instead of shrinking to the few values a narrow weight takes.
/// Refuses floating-point activations (their MAC is dequantized to the
/// activation format instead).
pub fn int8_modules(cfg: &ArrayConfig) -> Result<Vec<Module>, GenError> {
    if cfg.act_type().is_float() {
        return Err(GenError::Unsupported {
            config: cfg.to_string(),
            why: "the dequantize-to-INT8 MAC takes integer activations only; with FP activations use arch mac (weights dequantized to the activation format)".into(),
        });
    }
    let ctrl = control::module(cfg);
    let (kt, b, wb) = (cfg.k_tile() as u32, cfg.weights().bits(), INT8_WEIGHT_BITS);
    let zp = cfg.weights().zero_point();
    let what = format!(
        "lutcore_mac_int8_array: {} rows x {kt} int{} x int8 multipliers, the dequantize-to-INT8 MAC baseline.",
        cfg.rows(),
        cfg.act_bits()
    );
    let mut dequant = |m: &mut Module, r: u32| {
        if r == 0 {
            m.comment(format!(
                "Dequantization: each {} code becomes its int8 value (code - {zp})",
                cfg.weights()
            ));
        }
        let w = m.logic(
            &format!("wgt_int8_{r}"),
            kt * wb,
            &format!("row {r}'s weights as int8, weight e at [e*{wb} +: {wb}]"),
        );
        let values = (0..kt)
            .rev()
            .map(|k| {
                let code = e::zext(e::part(e::id(control::WGT_IN), (r * kt + k) * b, b), b, wb);
                if zp == 0 {
                    code
                } else {
                    e::sub(code, e::lit(wb, zp as u64))
                }
            })
            .collect();
        m.assign(w.clone(), e::concat(values));
        w
    };
    let top = one_beat_array_with(cfg, &ctrl, INT8_ARRAY, INT8_PE, &what, &mut dequant);
    Ok(vec![int8_pe(cfg), ctrl, top])
}

/// One row of [`int8_modules`]: general int8-weight multipliers.
fn int8_pe(cfg: &ArrayConfig) -> Module {
    let (kt, ab, wb) = (cfg.k_tile() as u32, cfg.act_bits(), INT8_WEIGHT_BITS);
    // A signed ab-bit times 8-bit product needs ab + 8 bits (-2^(ab-1) * -2^7).
    let pw = ab + wb;
    let per = 1i64 << (pw - 1);
    let bw = signed_bits(-per * i64::from(kt), per * i64::from(kt))
        .clamp(cfg.beat_sum_bits(), RESULT_BITS);
    let mut m = Module::new(
        INT8_PE,
        crate::header(
            cfg,
            &[
                "lutcore_mac_int8_pe: one output row of the dequantize-to-INT8 MAC baseline.",
                &format!("{kt} multipliers int{ab} x int8, an adder tree, an int32 accumulator."),
            ],
        ),
    );
    let (act, wgt) = pe_ports_with(
        cfg,
        &mut m,
        wb,
        &format!("this row's int8 weights, weight e at [e*{wb} +: {wb}]"),
    );
    let signed = |x: Expr| Expr::Signed(Box::new(x));
    let mut products = Vec::new();
    for k in 0..kt {
        let x = m.logic(&format!("x{k}"), ab, "");
        m.assign(x.clone(), e::part(act.clone(), k * ab, ab));
        let w = m.logic(&format!("w{k}"), wb, "");
        m.assign(w.clone(), e::part(wgt.clone(), k * wb, wb));
        let p = m.logic(&format!("p{k}"), pw, "signed product, full width");
        m.assign(p.clone(), e::bin(BinOp::Mul, signed(x), signed(w)));
        products.push(p);
    }
    accumulate_widths(
        &mut m,
        products,
        vec![],
        "sum of this beat's products",
        (pw, bw, RESULT_BITS),
    );
    m
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
    let wb = cfg.k_tile() as u32 * cfg.weights().bits();
    one_beat_array_with(cfg, ctrl, name, pe, what, &mut |_, r| {
        e::part(e::id(control::WGT_IN), r * wb, wb)
    })
}

/// [`one_beat_array`] whose PE of row `r` takes `row_weights(top, r)` as
/// `wgt_i` (the closure may declare the wires it needs in the top).
fn one_beat_array_with(
    cfg: &ArrayConfig,
    ctrl: &Module,
    name: &str,
    pe: &str,
    what: &str,
    row_weights: &mut dyn FnMut(&mut Module, u32) -> Expr,
) -> Module {
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
        let wgt = row_weights(&mut m, r);
        m.item(Item::Instance {
            module: pe.into(),
            name: format!("u_pe_{r}"),
            conns: vec![
                ("clk_i".into(), e::id("clk_i")),
                ("acc_en_i".into(), e::id("acc_en")),
                ("acc_clear_i".into(), e::id("acc_clear")),
                ("act_i".into(), act_q.clone()),
                ("wgt_i".into(), wgt),
                (
                    "result_o".into(),
                    e::part(e::id("res_data_o"), r * RESULT_BITS, RESULT_BITS),
                ),
            ],
        });
    }
    m
}
