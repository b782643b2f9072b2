//! `lutcore_ctrl`: the stream controller every array shares.
//!
//! One GEMV pass over a row tile is: activation beats (one per K-tile, the
//! last flagged by `act_last_i`), each followed by `beats_per_tile` weight
//! beats that use it; then, for the LUT array, one `finalize` cycle that adds
//! the Σx correction; then one result beat. The next tile's activations are
//! accepted in the same cycle as the current tile's final weight beat, so a
//! busy array takes one weight beat per cycle.
//!
//! Two stages: the array latches each accepted beat into an input register
//! (`act_fire_o`, `wgt_fire_o`), and its datapath works on those registers one
//! cycle later. Every datapath control (`load_o`, `acc_en_o`, …) is therefore
//! registered here, so the whole datapath runs exactly one cycle behind the
//! handshakes, and a `drain` phase waits for it before the result beat.
//!
//! The LUT array's PEs are pipelined once more: a lookup stage registers the
//! table entries selected by the weight beat, and the accumulate stage adds
//! them one cycle later. Its accumulator controls (`acc_en_o`, `acc_clear_o`,
//! `finalize_o`, `plane_o`) are therefore two cycles behind the handshakes,
//! and a second drain phase (`drain2`) precedes the result beat.

use lutcore_contract::config::{Arch, ArrayConfig};
use lutcore_contract::interface::StreamPort;

use crate::ir::{e, Expr, Item, Module, Port, Stmt};

/// Name of the controller module.
pub const NAME: &str = "lutcore_ctrl";

/// Width of the plane counter, 0 when every K-tile is a single beat.
pub fn plane_bits(cfg: &ArrayConfig) -> u32 {
    let beats = cfg.beats_per_tile() as u32;
    if beats <= 1 { 0 } else { 32 - (beats - 1).leading_zeros() }
}

/// Phases of a pass.
const RUN: u64 = 0;
const FINAL: u64 = 1;
const DRAIN: u64 = 2;
/// The LUT array's second drain cycle (its accumulate stage); phase_q is 3 bits there.
const DRAIN2: u64 = 3;

/// Build the controller for `cfg`.
pub fn module(cfg: &ArrayConfig) -> Module {
    let lut = cfg.arch() == Arch::Lut;
    let beats = cfg.beats_per_tile() as u64;
    let pb = plane_bits(cfg);
    // Phases: RUN, FINAL (LUT), DRAIN, DRAIN2 (LUT), OUT.
    let (phw, out) = if lut { (3, 4) } else { (2, 3) };
    let mut m = Module::new(
        NAME,
        crate::header(
            cfg,
            &[
                "lutcore_ctrl: valid/ready stream controller of one array.",
                "Sequences activation beats, weight beats (one per bit plane for the LUT array),",
                "the sum(x) correction cycle and the result beat of each GEMV pass.",
                "Accepted beats are latched by the array (act_fire_o, wgt_fire_o); the datapath",
                "controls are registered, so the datapath runs one cycle behind the handshakes.",
            ][..]
            .iter()
            .copied()
            .chain(lut.then_some(
                "LUT: the accumulator controls are registered twice (the PEs' lookup stage comes first).",
            ))
            .collect::<Vec<_>>(),
        ),
    );
    // The stream interface's clock, reset and handshakes, with their brief docs.
    let mut stream = |p: StreamPort| m.port(Port { doc: p.brief().into(), ..crate::stream_port(cfg, p) });
    stream(StreamPort::Clk);
    stream(StreamPort::RstN);
    let act_valid = stream(StreamPort::ActValid);
    let act_ready = stream(StreamPort::ActReady);
    let act_last = stream(StreamPort::ActLast);
    let wgt_valid = stream(StreamPort::WgtValid);
    let wgt_ready = stream(StreamPort::WgtReady);
    let res_valid = stream(StreamPort::ResValid);
    let res_ready = stream(StreamPort::ResReady);
    let act_fire_o = m.port(Port::output("act_fire_o", 1, "input stage: latch the activation beat"));
    let wgt_fire_o = m.port(Port::output("wgt_fire_o", 1, "input stage: latch the weight beat"));
    let load = m.port(Port::output("load_o", 1, "datapath: take the latched activation beat (LUT: build its tables)"));
    let sum_clear = m.port(Port::output("sum_clear_o", 1, "datapath: that beat is the first K-tile of a pass"));
    let acc_en = m.port(Port::output("acc_en_o", 1, "datapath: update the accumulators this cycle"));
    let acc_clear = m.port(Port::output("acc_clear_o", 1, "datapath: start accumulating from zero"));
    let finalize = if lut {
        Some(m.port(Port::output("finalize_o", 1, "datapath: add the sum(x) correction instead of a weight beat")))
    } else {
        None
    };
    let plane_o = (pb > 0).then(|| m.port(Port::output("plane_o", pb, "datapath: bit plane of the latched weight beat")));

    m.comment("");
    m.comment("State");
    let phase_q = if lut {
        m.logic("phase_q", phw, "0: run, 1: finalize, 2: drain the lookup stage, 3: drain the accumulate stage, 4: result out")
    } else {
        m.logic("phase_q", phw, "0: run, 2: drain the datapath, 3: result out")
    };
    let tile_valid_q = m.logic("tile_valid_q", 1, "an activation beat is loaded and has weight beats left");
    let tile_last_q = m.logic("tile_last_q", 1, "the loaded beat is the last K-tile");
    let act_first_q = m.logic("act_first_q", 1, "the next activation beat starts a pass");
    let acc_first_q = m.logic("acc_first_q", 1, "the next weight beat starts a pass");
    let plane_q = (pb > 0).then(|| m.logic("plane_q", pb, "bit plane of the next weight beat"));

    m.comment("");
    m.comment("Handshakes");
    let running = m.logic("running", 1, "in the run phase");
    let wgt_fire = m.logic("wgt_fire", 1, "weight beat transfers this cycle");
    let act_fire = m.logic("act_fire", 1, "activation beat transfers this cycle");
    let tile_done = m.logic("tile_done", 1, "the loaded K-tile's last weight beat transfers");
    let res_fire = m.logic("res_fire", 1, "result beat transfers this cycle");
    m.assign(running.clone(), e::eq(phase_q.clone(), e::lit(phw, RUN)));
    m.assign(wgt_ready.clone(), e::and(running.clone(), tile_valid_q.clone()));
    m.assign(wgt_fire.clone(), e::and(wgt_valid, wgt_ready));
    let plane_last = match &plane_q {
        Some(p) => e::eq(p.clone(), e::lit(pb, beats - 1)),
        None => e::lit(1, 1),
    };
    m.assign(tile_done.clone(), if pb > 0 { e::and(wgt_fire.clone(), plane_last.clone()) } else { wgt_fire.clone() });
    m.assign(
        act_ready.clone(),
        e::and(
            running.clone(),
            e::or(e::not(tile_valid_q.clone()), e::and(tile_done.clone(), e::not(tile_last_q.clone()))),
        ),
    );
    m.assign(act_fire.clone(), e::and(act_valid, act_ready));
    m.assign(res_valid.clone(), e::eq(phase_q.clone(), e::lit(phw, out)));
    m.assign(res_fire.clone(), e::and(res_valid, res_ready));

    m.comment("");
    m.comment("Input stage strobes");
    m.assign(act_fire_o, act_fire.clone());
    m.assign(wgt_fire_o, wgt_fire.clone());

    m.comment("");
    m.comment("Datapath controls, one cycle behind the handshakes");
    let load_q = m.logic("load_q", 1, "");
    let sum_clear_q = m.logic("sum_clear_q", 1, "");
    let acc_en_q = m.logic("acc_en_q", 1, "");
    let acc_clear_q = m.logic("acc_clear_q", 1, "");
    let finalize_q = finalize.as_ref().map(|_| m.logic("finalize_q", 1, ""));
    let dp_plane_q = plane_o.as_ref().map(|_| m.logic("dp_plane_q", pb, ""));
    m.assign(load, load_q.clone());
    m.assign(sum_clear, sum_clear_q.clone());
    let in_final = e::eq(phase_q.clone(), e::lit(phw, FINAL));
    let mut dp_reset = vec![
        Stmt::Assign(load_q.clone(), e::lit(1, 0)),
        Stmt::Assign(sum_clear_q.clone(), e::lit(1, 0)),
        Stmt::Assign(acc_en_q.clone(), e::lit(1, 0)),
        Stmt::Assign(acc_clear_q.clone(), e::lit(1, 0)),
    ];
    let mut dp_body = vec![
        Stmt::Assign(load_q.clone(), act_fire.clone()),
        Stmt::Assign(sum_clear_q.clone(), act_first_q.clone()),
        // Only weight beats clear: the finalize cycle adds to the pass's sum.
        Stmt::Assign(acc_clear_q.clone(), e::and(acc_first_q.clone(), running.clone())),
    ];
    match &finalize_q {
        Some(fq) => {
            dp_reset.push(Stmt::Assign(fq.clone(), e::lit(1, 0)));
            dp_body.push(Stmt::Assign(fq.clone(), in_final.clone()));
            dp_body.push(Stmt::Assign(acc_en_q.clone(), e::or(wgt_fire.clone(), in_final.clone())));
        }
        None => dp_body.push(Stmt::Assign(acc_en_q.clone(), wgt_fire.clone())),
    }
    if let (Some(dq), Some(pq)) = (&dp_plane_q, &plane_q) {
        dp_reset.push(Stmt::Assign(dq.clone(), e::lit(pb, 0)));
        dp_body.push(Stmt::Assign(dq.clone(), pq.clone()));
    }
    // The accumulator controls: (stage-1 register, output port, name of the LUT stage-2 register).
    let mut acc_ctrls = vec![(acc_en_q, acc_en, "acc_en_q2", 1), (acc_clear_q, acc_clear, "acc_clear_q2", 1)];
    if let (Some(fq), Some(f)) = (finalize_q, finalize) {
        acc_ctrls.push((fq, f, "finalize_q2", 1));
    }
    if let (Some(dq), Some(po)) = (dp_plane_q, plane_o) {
        acc_ctrls.push((dq, po, "dp_plane_q2", pb));
    }
    if lut {
        m.item(Item::AlwaysFf { reset: dp_reset, body: dp_body });
        m.comment("");
        m.comment("Accumulator controls, two cycles behind the handshakes (after the PEs' lookup stage)");
        let (mut reset2, mut body2) = (vec![], vec![]);
        for (q1, port, name, width) in acc_ctrls {
            let q2 = m.logic(name, width, "");
            m.assign(port, q2.clone());
            reset2.push(Stmt::Assign(q2.clone(), e::lit(width, 0)));
            body2.push(Stmt::Assign(q2, q1));
        }
        m.item(Item::AlwaysFf { reset: reset2, body: body2 });
    } else {
        for (q1, port, _, _) in acc_ctrls {
            m.assign(port, q1);
        }
        m.item(Item::AlwaysFf { reset: dp_reset, body: dp_body });
    }
    m.comment("");
    let mut reset = vec![
        Stmt::Assign(phase_q.clone(), e::lit(phw, RUN)),
        Stmt::Assign(tile_valid_q.clone(), e::lit(1, 0)),
        Stmt::Assign(tile_last_q.clone(), e::lit(1, 0)),
        Stmt::Assign(act_first_q.clone(), e::lit(1, 1)),
        Stmt::Assign(acc_first_q.clone(), e::lit(1, 1)),
    ];
    let after_last_tile = if lut { FINAL } else { DRAIN };
    let mut body = vec![
        Stmt::If(
            act_fire.clone(),
            vec![
                Stmt::Assign(tile_valid_q.clone(), e::lit(1, 1)),
                Stmt::Assign(tile_last_q.clone(), act_last.clone()),
                Stmt::Assign(act_first_q.clone(), act_last),
            ],
            vec![Stmt::If(tile_done.clone(), vec![Stmt::Assign(tile_valid_q.clone(), e::lit(1, 0))], vec![])],
        ),
    ];
    let mut on_wgt = vec![Stmt::Assign(acc_first_q.clone(), e::and(tile_done.clone(), tile_last_q.clone()))];
    if let Some(pq) = &plane_q {
        reset.push(Stmt::Assign(pq.clone(), e::lit(pb, 0)));
        on_wgt.push(Stmt::Assign(
            pq.clone(),
            e::cond(plane_last, e::lit(pb, 0), e::add(pq.clone(), e::lit(pb, 1))),
        ));
    }
    body.push(Stmt::If(wgt_fire, on_wgt, vec![]));
    let mut phase = vec![Stmt::If(
        e::and(tile_done, tile_last_q),
        vec![Stmt::Assign(phase_q.clone(), e::lit(phw, after_last_tile))],
        vec![],
    )];
    if lut {
        phase.push(Stmt::If(in_final, vec![Stmt::Assign(phase_q.clone(), e::lit(phw, DRAIN))], vec![]));
    }
    // The datapath finishes the pass's last accumulation (finalize for the LUT array).
    // LUT: then its accumulate stage does, one cycle later.
    phase.push(Stmt::If(
        e::eq(phase_q.clone(), e::lit(phw, DRAIN)),
        vec![Stmt::Assign(phase_q.clone(), e::lit(phw, if lut { DRAIN2 } else { out }))],
        vec![],
    ));
    if lut {
        phase.push(Stmt::If(
            e::eq(phase_q.clone(), e::lit(phw, DRAIN2)),
            vec![Stmt::Assign(phase_q.clone(), e::lit(phw, out))],
            vec![],
        ));
    }
    phase.push(Stmt::If(res_fire, vec![Stmt::Assign(phase_q.clone(), e::lit(phw, RUN))], vec![]));
    body.extend(phase);
    m.item(Item::AlwaysFf { reset, body });
    m
}

/// Connections of a controller instance inside an array top whose ports are
/// [`crate::top_ports`] and whose internal control wires are named after the
/// controller's outputs without the `_o` suffix (`load`, `acc_en`, …).
pub fn instance(ctrl: &Module) -> Item {
    let conns = ctrl
        .ports
        .iter()
        .map(|p| {
            let top_port = StreamPort::from_name(&p.name).is_some();
            let wire = if top_port { p.name.clone() } else { p.name.trim_end_matches("_o").to_string() };
            (p.name.clone(), Expr::Id(wire))
        })
        .collect();
    Item::Instance { module: NAME.into(), name: "u_ctrl".into(), conns }
}

/// Declare, in `top`, the control wires [`instance`] connects.
pub fn declare_wires(top: &mut Module, ctrl: &Module) {
    for p in &ctrl.ports {
        if p.name.ends_with("_o") && StreamPort::from_name(&p.name).is_none() {
            top.logic(p.name.trim_end_matches("_o"), p.width, &p.doc);
        }
    }
}


/// A new array top named `name`: the stream ports of [`crate::top_ports`],
/// the controller's wires and its instance, and the input stage: registers
/// `act_in_q` and `wgt_in_q` that latch each accepted beat (see the module
/// docs). The caller adds the datapath, which reads only those registers.
pub fn array_top(cfg: &ArrayConfig, ctrl: &Module, name: &str, what: &[&str]) -> Module {
    let mut m = Module::new(name, crate::header(cfg, what));
    for p in crate::top_ports(cfg) {
        m.port(p);
    }
    m.comment("");
    m.comment("Controller");
    declare_wires(&mut m, ctrl);
    m.item(instance(ctrl));
    m.comment("");
    m.comment("Input stage: accepted beats are latched; the datapath works on them next cycle");
    let act_in = m.logic(ACT_IN, cfg.act_beat_bits(), "the last accepted activation beat");
    let wgt_in = m.logic(WGT_IN, cfg.weight_beat_bits(), "the last accepted weight beat");
    m.item(Item::AlwaysFf {
        reset: vec![],
        body: vec![
            Stmt::If(e::id("act_fire"), vec![Stmt::Assign(act_in, e::id("act_data_i"))], vec![]),
            Stmt::If(e::id("wgt_fire"), vec![Stmt::Assign(wgt_in, e::id("wgt_data_i"))], vec![]),
        ],
    });
    m
}

/// The input-stage register holding the last accepted activation beat.
pub const ACT_IN: &str = "act_in_q";
/// The input-stage register holding the last accepted weight beat.
pub const WGT_IN: &str = "wgt_in_q";
