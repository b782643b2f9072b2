//! The ternary add/sub baseline: the same streams and controller as the MAC
//! baseline, but no multipliers. Each ternary weight (code 0, 1, 2 for
//! -1, 0, +1) subtracts, skips or adds its activation, and an adder tree sums
//! the K-tile: the cheapest exact datapath for ternary weights without tables.

use lutcore_contract::config::ArrayConfig;

use crate::control;
use crate::ir::{e, BinOp, Module};
use crate::mac::{accumulate, one_beat_array, pe_ports, token_activations};

/// The processing element.
pub const PE: &str = "lutcore_addsub_pe";
/// The top.
pub const ARRAY: &str = "lutcore_addsub_array";

/// All modules of the add/sub array, leaves first, top last.
pub fn modules(cfg: &ArrayConfig) -> Vec<Module> {
    let ctrl = control::module(cfg);
    let what = format!(
        "lutcore_addsub_array: {} rows x {} ternary add/sub terms, a baseline for the LUT array.",
        cfg.rows(),
        cfg.k_tile()
    );
    let top = one_beat_array(cfg, &ctrl, ARRAY, PE, &what);
    vec![pe(cfg), ctrl, top]
}

fn pe(cfg: &ArrayConfig) -> Module {
    let kt = cfg.k_tile() as u32;
    let (ab, pw) = (cfg.act_bits(), cfg.product_bits());
    let mut m = Module::new(
        PE,
        crate::header(
            cfg,
            &[
                "lutcore_addsub_pe: one output row of the ternary add/sub baseline.",
                &format!("{kt} terms: weight code 2 adds the int{ab} activation, 0 subtracts it, 1 skips it;"),
                "-x is ~x + 1, the +1s enter the adder tree as carries; an accumulator.",
            ],
        ),
    );
    let (act, wgt) = pe_ports(cfg, &mut m);
    let (mut terms, mut carries) = (vec![Vec::new(); cfg.tokens()], Vec::new());
    for k in 0..kt {
        let xs = token_activations(cfg, &mut m, &act, k, pw);
        let code = m.logic(&format!("w{k}"), 2, &format!("weight {k}'s code"));
        m.assign(code.clone(), e::part(wgt.clone(), 2 * k, 2));
        let minus = m.logic(&format!("minus{k}"), 1, "code 0: subtract");
        m.assign(
            minus.clone(),
            e::not(e::bin(
                BinOp::Or,
                e::bit(code.clone(), 1),
                e::bit(code.clone(), 0),
            )),
        );
        let keep = m.logic(&format!("keep{k}"), 1, "code 0 or 2: not skipped");
        m.assign(
            keep.clone(),
            e::bin(BinOp::Or, e::bit(code.clone(), 1), e::not(e::bit(code, 0))),
        );
        for (n, x) in xs.into_iter().enumerate() {
            let t = m.logic(
                &format!("{}t{k}", crate::token_prefix(cfg, n)),
                pw,
                "x, 0 or ~x",
            );
            m.assign(
                t.clone(),
                e::invert_if(e::keep_if(x, pw, keep.clone()), pw, minus.clone()),
            );
            terms[n].push(t);
        }
        carries.push(minus);
    }
    accumulate(
        cfg,
        &mut m,
        terms,
        carries,
        "sum of this beat's terms and carries",
    );
    m
}
