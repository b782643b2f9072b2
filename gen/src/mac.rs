//! The MAC baseline: the same streams and controller as the LUT array, but
//! each row multiplies every activation by its weight value with a real
//! multiplier and sums the products. It takes all bit planes of a K-tile in one
//! beat, so it completes `rows · k_tile` MACs per cycle.

use lutcore_contract::config::{signed_bits, ArrayConfig, RESULT_BITS};
use lutcore_contract::layout::act_lane;

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

    let mut products = vec![Vec::new(); cfg.tokens()];
    for k in 0..kt {
        let xs = token_activations(cfg, &mut m, &act, k, pw);
        let w = m.logic(&format!("w{k}"), pw, "");
        m.assign(
            w.clone(),
            weight_value(e::part(wgt.clone(), k * b, b), b, pw, zp),
        );
        token_products(cfg, &mut m, k, xs, (pw, ""), &mut products, |x| {
            e::bin(BinOp::Mul, x, w.clone())
        });
    }
    accumulate(cfg, &mut m, products, vec![], "sum of this beat's products");
    m
}

/// The value `code - zp` of a `b`-bit weight code, `width` bits wide.
pub(crate) fn weight_value(code: Expr, b: u32, width: u32, zp: i32) -> Expr {
    let wide = e::zext(code, b, width);
    if zp == 0 {
        wide
    } else {
        e::sub(wide, e::lit(width, zp as u64))
    }
}

/// Token `n`'s product `k` of every token: a wire `{tn_}p{k}` (`width` bits,
/// documented as `doc`) holding `product(x)` of that token's activation
/// `xs[n]`, appended to `products[n]`.
fn token_products(
    cfg: &ArrayConfig,
    m: &mut Module,
    k: u32,
    xs: Vec<Expr>,
    (width, doc): (u32, &str),
    products: &mut [Vec<Expr>],
    product: impl Fn(Expr) -> Expr,
) {
    for (n, x) in xs.into_iter().enumerate() {
        let p = m.logic(&format!("{}p{k}", crate::token_prefix(cfg, n)), width, doc);
        m.assign(p.clone(), product(x));
        products[n].push(p);
    }
}

/// Activation `k` of every token's K-tile of `act` (a PE's `act_i`), each
/// sign-extended to `width` bits in a wire `{tn_}x{k}`.
pub(crate) fn token_activations(
    cfg: &ArrayConfig,
    m: &mut Module,
    act: &Expr,
    k: u32,
    width: u32,
) -> Vec<Expr> {
    let ab = cfg.act_bits();
    (0..cfg.tokens())
        .map(|n| {
            let x = m.logic(&format!("{}x{k}", crate::token_prefix(cfg, n)), width, "");
            let lane = act_lane(cfg, n, k as usize) as u32;
            m.assign(
                x.clone(),
                e::sext(e::part(act.clone(), lane, ab), ab, width),
            );
            x
        })
        .collect()
}

/// The ports every integer one-beat PE has: clock, accumulator controls, the
/// activation beat, this row's weight codes and the result. Returns the
/// activation and weight inputs.
pub(crate) fn pe_ports(cfg: &ArrayConfig, m: &mut Module) -> (Expr, Expr) {
    let b = cfg.weights().bits();
    let doc = format!("this row's weight codes, weight e at [e*{b} +: {b}]");
    pe_ports_with(
        cfg,
        m,
        ("zero", "the loaded activations", "the row's int32 result"),
        b,
        &doc,
    )
}

/// The ports of a one-beat PE (integer or floating-point): the clock and
/// accumulator controls (from `zero`), `act_i` (the activation beat, every
/// token's, documented as `act_doc`), `wgt_i` (`wbits` bits per weight,
/// documented as `wdoc`) and `result_o` (one result per token, documented as
/// `result_doc`). Returns `act_i` and `wgt_i`.
pub(crate) fn pe_ports_with(
    cfg: &ArrayConfig,
    m: &mut Module,
    (zero, act_doc, result_doc): (&str, &str, &str),
    wbits: u32,
    wdoc: &str,
) -> (Expr, Expr) {
    let kt = cfg.k_tile() as u32;
    let tokens = cfg.tokens() as u32;
    control::pe_control_ports(m, zero);
    let (act_doc, result_doc) = if tokens == 1 {
        (act_doc.to_string(), result_doc.to_string())
    } else {
        let tb = cfg.token_act_bits();
        (
            format!("{act_doc}; token n's K-tile at [n*{tb} +: {tb}]"),
            format!("{result_doc}, token n's at [n*{RESULT_BITS} +: {RESULT_BITS}]"),
        )
    };
    let act = m.port(Port::input("act_i", cfg.act_beat_bits(), &act_doc));
    let wgt = m.port(Port::input("wgt_i", kt * wbits, wdoc));
    m.port(Port::output("result_o", tokens * RESULT_BITS, &result_doc));
    (act, wgt)
}

/// Every token's adder tree over one beat's terms (`terms[n]`, each
/// `product_bits` wide) plus the one-bit `carries` (shared by the tokens),
/// and its accumulator, driving its field of `result_o`.
pub(crate) fn accumulate(
    cfg: &ArrayConfig,
    m: &mut Module,
    terms: Vec<Vec<Expr>>,
    carries: Vec<Expr>,
    what: &str,
) {
    let widths = (cfg.product_bits(), cfg.beat_sum_bits(), cfg.acc_bits());
    accumulate_widths(cfg, m, terms, carries, what, widths);
}

/// [`accumulate`] with explicit (product, beat sum, accumulator) widths.
fn accumulate_widths(
    cfg: &ArrayConfig,
    m: &mut Module,
    terms: Vec<Vec<Expr>>,
    carries: Vec<Expr>,
    what: &str,
    widths: (u32, u32, u32),
) {
    for (n, token_terms) in terms.into_iter().enumerate() {
        accumulate_token(cfg, m, n, token_terms, carries.clone(), what, widths);
    }
}

/// Token `n`'s part of [`accumulate_widths`].
fn accumulate_token(
    cfg: &ArrayConfig,
    m: &mut Module,
    n: usize,
    terms: Vec<Expr>,
    carries: Vec<Expr>,
    what: &str,
    (pw, bw, aw): (u32, u32, u32),
) {
    let prefix = crate::token_prefix(cfg, n);
    m.comment("");
    let beat_sum = m.logic(&format!("{prefix}beat_sum"), bw, what);
    let terms = terms
        .into_iter()
        .map(|value| Term { value, width: pw })
        .collect();
    let sum = sum_tree(m, &format!("{prefix}sum"), terms, carries, bw);
    m.assign(beat_sum.clone(), sum);
    let acc_q = m.logic(&format!("{prefix}acc_q"), aw, "accumulator");
    let acc_d = m.logic(&format!("{prefix}acc_d"), aw, "");
    m.assign(
        acc_d.clone(),
        e::add(
            e::cond(e::id("acc_clear_i"), e::lit(aw, 0), acc_q.clone()),
            e::sext(beat_sum, bw, aw),
        ),
    );
    control::acc_update(
        m,
        cfg,
        n,
        &acc_q,
        acc_d,
        e::sext(acc_q.clone(), aw, RESULT_BITS),
    );
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
                weight_value(
                    e::part(e::id(control::WGT_IN), (r * kt + k) * b, b),
                    b,
                    wb,
                    zp,
                )
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
        ("zero", "the loaded activations", "the row's int32 result"),
        wb,
        &format!("this row's int8 weights, weight e at [e*{wb} +: {wb}]"),
    );
    let signed = |x: Expr| Expr::Signed(Box::new(x));
    let mut products = vec![Vec::new(); cfg.tokens()];
    for k in 0..kt {
        let xs = token_activations(cfg, &mut m, &act, k, ab);
        let w = m.logic(&format!("w{k}"), wb, "");
        m.assign(w.clone(), e::part(wgt.clone(), k * wb, wb));
        let doc = (pw, "signed product, full width");
        token_products(cfg, &mut m, k, xs, doc, &mut products, |x| {
            e::bin(BinOp::Mul, signed(x), signed(w.clone()))
        });
    }
    accumulate_widths(
        cfg,
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

/// The activation register `act_q` of a one-beat array top (one weight beat
/// per K-tile, so no sum(x)), latched on `load`, under the comment `title`;
/// the unused `sum_clear` is tied to a wire documented as `sum_clear_doc`.
pub(crate) fn activation_register(
    m: &mut Module,
    cfg: &ArrayConfig,
    sum_clear_doc: &str,
    title: &str,
) -> Expr {
    let unused = m.logic("unused_sum_clear", 1, sum_clear_doc);
    m.assign(unused, e::id("sum_clear"));
    m.comment("");
    m.comment(title);
    let act_q = m.logic("act_q", cfg.act_beat_bits(), "the loaded activation beat");
    m.item(Item::AlwaysFf {
        reset: vec![],
        body: vec![Stmt::If(
            e::id("load"),
            vec![Stmt::Assign(act_q.clone(), e::id(control::ACT_IN))],
            vec![],
        )],
    });
    act_q
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
    let act_q = activation_register(
        &mut m,
        cfg,
        "a one-beat array needs no sum(x)",
        "Activation register",
    );
    m.comment("");
    m.comment("Processing elements, one per row");
    let width = cfg.tokens() as u32 * RESULT_BITS;
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
                    e::part(e::id("res_data_o"), r * width, width),
                ),
            ],
        });
    }
    m
}
