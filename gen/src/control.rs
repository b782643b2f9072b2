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
//! handshakes, and a `DRAIN` phase waits for it before the result beat.
//!
//! The LUT array's PEs are pipelined once more: a lookup stage registers the
//! table entries selected by the weight beat, and the accumulate stage adds
//! them one cycle later. Its accumulator controls (`acc_en_o`, `acc_clear_o`,
//! `finalize_o`, `plane_o`) are therefore two cycles behind the handshakes,
//! and a second drain phase (`DRAIN_ACC`) precedes the result beat.
//!
//! The phase is an enum (`phase_e`); its next value `phase_d` comes from an
//! `always_comb` block: a `unique case` steps the timed phases (finalize,
//! drain), and the two handshake events that end a phase (the pass's last
//! weight beat, the taken result beat) are written around it, since each can
//! only fire in its own phase. The array tops also carry the stream protocol's
//! assertions ([`ASSERT_DEFINE`]).

use lutcore_contract::config::{Arch, ArrayConfig};
use lutcore_contract::interface::StreamPort;
use lutcore_contract::layout::k_tiles;

use crate::ir::{e, Assertion, BinOp, Decl, EnumDef, Expr, Item, Module, Port, Stmt, Ty};

/// Name of the controller module.
pub const NAME: &str = "lutcore_ctrl";

/// Width of the plane counter, 0 when every K-tile is a single beat.
pub fn plane_bits(cfg: &ArrayConfig) -> u32 {
    let beats = cfg.beats_per_tile() as u64;
    if beats <= 1 {
        0
    } else {
        bits(beats - 1)
    }
}

/// Bits of an unsigned value that holds 0..=`max` (at least one).
fn bits(max: u64) -> u32 {
    (64 - max.leading_zeros()).max(1)
}

/// A phase of the pass: its name in the enum and its encoding.
type Phase = (&'static str, u64);

/// The phases of a pass, with their encodings. The LUT controller has all
/// five; the baselines have no finalize cycle and one drain cycle, and keep the
/// LUT controller's encodings for the others (1 is unused there).
const RUN: Phase = ("RUN", 0);
const FINALIZE: Phase = ("FINALIZE", 1);
const DRAIN: Phase = ("DRAIN", 2);
const DRAIN_ACC: Phase = ("DRAIN_ACC", 3);
/// The baselines' result phase.
const RESULT_MAC: Phase = ("RESULT", 3);
/// The LUT controller's result phase.
const RESULT_LUT: Phase = ("RESULT", 4);

/// Name of the phase type.
const PHASE_E: &str = "phase_e";

/// The phase type of the LUT controller (`lut`) or the baselines', as wide as
/// its largest encoding needs.
fn phase_enum(lut: bool) -> EnumDef {
    let values = if lut {
        vec![
            (RUN, "taking activation and weight beats"),
            (FINALIZE, "issue the sum(x) correction to the datapath"),
            (DRAIN, "wait for the datapath's first stage"),
            (DRAIN_ACC, "wait for the PEs' accumulate stage"),
            (RESULT_LUT, "the result beat is valid until it is taken"),
        ]
    } else {
        vec![
            (RUN, "taking activation and weight beats"),
            (DRAIN, "wait for the datapath's last accumulation"),
            (RESULT_MAC, "the result beat is valid until it is taken"),
        ]
    };
    let max = values.iter().map(|((_, v), _)| *v).max().unwrap_or(0);
    EnumDef {
        name: PHASE_E.into(),
        width: bits(max),
        values: values
            .into_iter()
            .map(|((n, v), doc)| (n.to_string(), v, doc.to_string()))
            .collect(),
    }
}

/// Build the controller for `cfg`.
pub fn module(cfg: &ArrayConfig) -> Module {
    let lut = cfg.arch() == Arch::Lut;
    let beats = cfg.beats_per_tile() as u64;
    let pb = plane_bits(cfg);
    let phase = |(name, _): Phase| e::id(name);
    let result = if lut { RESULT_LUT } else { RESULT_MAC };
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
    let mut stream = |p: StreamPort| {
        m.port(Port {
            doc: p.brief().into(),
            ..crate::stream_port(cfg, p)
        })
    };
    stream(StreamPort::Clk);
    stream(StreamPort::RstN);
    let act_valid = stream(StreamPort::ActValid);
    let act_ready = stream(StreamPort::ActReady);
    let act_last = stream(StreamPort::ActLast);
    let wgt_valid = stream(StreamPort::WgtValid);
    let wgt_ready = stream(StreamPort::WgtReady);
    let res_valid = stream(StreamPort::ResValid);
    let res_ready = stream(StreamPort::ResReady);
    // The one-bit controls to the array's input stage and datapath.
    let mut control = |name: &str, doc: &str| m.port(Port::output(name, 1, doc));
    let act_fire_o = control("act_fire_o", "input stage: latch the activation beat");
    let wgt_fire_o = control("wgt_fire_o", "input stage: latch the weight beat");
    let load = control(
        "load_o",
        "datapath: take the latched activation beat (LUT: build its tables)",
    );
    let sum_clear = control(
        "sum_clear_o",
        "datapath: that beat is the first K-tile of a pass",
    );
    let acc_en = control("acc_en_o", "datapath: update the accumulators this cycle");
    let acc_clear = control("acc_clear_o", "datapath: start accumulating from zero");
    let finalize = lut.then(|| {
        control(
            "finalize_o",
            "datapath: add the sum(x) correction instead of a weight beat",
        )
    });
    let plane_o = (pb > 0).then(|| {
        m.port(Port::output(
            "plane_o",
            pb,
            "datapath: bit plane of the latched weight beat",
        ))
    });

    m.comment("");
    m.comment("State");
    m.item(Item::Enum(phase_enum(lut)));
    let phase_q = m.var("phase_q", PHASE_E, "phase of the pass");
    let phase_d = m.var("phase_d", PHASE_E, "next phase");
    let tile_valid_q = m.logic(
        "tile_valid_q",
        1,
        "an activation beat is loaded and has weight beats left",
    );
    let tile_last_q = m.logic("tile_last_q", 1, "the loaded beat is the last K-tile");
    let act_first_q = m.logic("act_first_q", 1, "the next activation beat starts a pass");
    let acc_first_q = m.logic("acc_first_q", 1, "the next weight beat starts a pass");
    let plane_q = (pb > 0).then(|| m.logic("plane_q", pb, "bit plane of the next weight beat"));

    m.comment("");
    m.comment("Handshakes");
    let running = m.logic("running", 1, "in the run phase");
    let wgt_fire = m.logic("wgt_fire", 1, "weight beat transfers this cycle");
    let act_fire = m.logic("act_fire", 1, "activation beat transfers this cycle");
    let tile_done = m.logic(
        "tile_done",
        1,
        "the loaded K-tile's last weight beat transfers",
    );
    let res_fire = m.logic("res_fire", 1, "result beat transfers this cycle");
    m.assign(running.clone(), e::eq(phase_q.clone(), phase(RUN)));
    m.assign(
        wgt_ready.clone(),
        e::and(running.clone(), tile_valid_q.clone()),
    );
    m.assign(wgt_fire.clone(), e::and(wgt_valid, wgt_ready));
    // The weight beat of the last bit plane; every beat when a K-tile is one beat.
    let plane_last = plane_q
        .as_ref()
        .map(|p| e::eq(p.clone(), e::lit(pb, beats - 1)));
    m.assign(
        tile_done.clone(),
        match &plane_last {
            Some(last) => e::and(wgt_fire.clone(), last.clone()),
            None => wgt_fire.clone(),
        },
    );
    m.assign(
        act_ready.clone(),
        e::and(
            running.clone(),
            e::or(
                e::not(tile_valid_q.clone()),
                e::and(tile_done.clone(), e::not(tile_last_q.clone())),
            ),
        ),
    );
    m.assign(act_fire.clone(), e::and(act_valid, act_ready));
    m.assign(res_valid.clone(), e::eq(phase_q.clone(), phase(result)));
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
    let in_final = e::eq(phase_q.clone(), phase(FINALIZE));
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
        Stmt::Assign(
            acc_clear_q.clone(),
            e::and(acc_first_q.clone(), running.clone()),
        ),
    ];
    match &finalize_q {
        Some(fq) => {
            dp_reset.push(Stmt::Assign(fq.clone(), e::lit(1, 0)));
            dp_body.push(Stmt::Assign(fq.clone(), in_final.clone()));
            dp_body.push(Stmt::Assign(
                acc_en_q.clone(),
                e::or(wgt_fire.clone(), in_final),
            ));
        }
        None => dp_body.push(Stmt::Assign(acc_en_q.clone(), wgt_fire.clone())),
    }
    if let (Some(dq), Some(pq)) = (&dp_plane_q, &plane_q) {
        dp_reset.push(Stmt::Assign(dq.clone(), e::lit(pb, 0)));
        dp_body.push(Stmt::Assign(dq.clone(), pq.clone()));
    }
    // The accumulator controls: (stage-1 register, output port, name of the LUT stage-2 register).
    let mut acc_ctrls = vec![
        (acc_en_q, acc_en, "acc_en_q2", 1),
        (acc_clear_q, acc_clear, "acc_clear_q2", 1),
    ];
    if let (Some(fq), Some(f)) = (finalize_q, finalize) {
        acc_ctrls.push((fq, f, "finalize_q2", 1));
    }
    if let (Some(dq), Some(po)) = (dp_plane_q, plane_o) {
        acc_ctrls.push((dq, po, "dp_plane_q2", pb));
    }
    if lut {
        m.item(Item::AlwaysFf {
            reset: dp_reset,
            body: dp_body,
        });
        m.comment("");
        m.comment(
            "Accumulator controls, two cycles behind the handshakes (after the PEs' lookup stage)",
        );
        let (mut reset2, mut body2) = (vec![], vec![]);
        for (q1, port, name, width) in acc_ctrls {
            let q2 = m.logic(name, width, "");
            m.assign(port, q2.clone());
            reset2.push(Stmt::Assign(q2.clone(), e::lit(width, 0)));
            body2.push(Stmt::Assign(q2, q1));
        }
        m.item(Item::AlwaysFf {
            reset: reset2,
            body: body2,
        });
    } else {
        for (q1, port, _, _) in acc_ctrls {
            m.assign(port, q1);
        }
        m.item(Item::AlwaysFf {
            reset: dp_reset,
            body: dp_body,
        });
    }

    m.comment("");
    m.comment(if lut {
        "Phase: the last K-tile's last weight beat starts the finalize cycle, the lookup and the \
         accumulate stage drain one cycle each, and the taken result beat starts the next pass. \
         tile_done fires only in RUN and res_fire only in RESULT. The unused encodings cannot be \
         reached from reset; they hold."
    } else {
        "Phase: the last K-tile's weight beat starts the drain cycle, then the result beat is held \
         until it is taken, which starts the next pass. tile_done fires only in RUN and res_fire \
         only in RESULT. The unused encodings cannot be reached from reset; they hold."
    });
    // The handshake events are written as overrides around the case of timed
    // steps rather than as case arms of RUN and RESULT. Both forms are
    // equivalent (each event fires only in its own phase), but yosys's FSM
    // extraction sees the events as free inputs in this form and keeps the
    // netlist the controller has always had (docs/decisions.md §16); the
    // case-arm form synthesizes to a different, smaller one.
    let goto = |to: Phase| vec![Stmt::Assign(phase_d.clone(), phase(to))];
    let steps: &[(Phase, Phase)] = if lut {
        &[(FINALIZE, DRAIN), (DRAIN, DRAIN_ACC), (DRAIN_ACC, result)]
    } else {
        &[(DRAIN, result)]
    };
    let arms = steps
        .iter()
        .map(|&(from, to)| (phase(from), goto(to)))
        .collect();
    m.item(Item::AlwaysComb(vec![
        Stmt::Assign(phase_d.clone(), phase_q.clone()),
        Stmt::If(
            e::and(tile_done.clone(), tile_last_q.clone()),
            goto(if lut { FINALIZE } else { DRAIN }),
            vec![],
        ),
        Stmt::UniqueCase(phase_q.clone(), arms, vec![]),
        Stmt::If(res_fire, goto(RUN), vec![]),
    ]));
    m.item(Item::AlwaysFf {
        reset: vec![Stmt::Assign(phase_q.clone(), phase(RUN))],
        body: vec![Stmt::Assign(phase_q, phase_d)],
    });

    m.comment("");
    m.comment(
        "K-tile bookkeeping: which activation beat is loaded and which weight beat comes next",
    );
    let mut reset = vec![
        Stmt::Assign(tile_valid_q.clone(), e::lit(1, 0)),
        Stmt::Assign(tile_last_q.clone(), e::lit(1, 0)),
        Stmt::Assign(act_first_q.clone(), e::lit(1, 1)),
        Stmt::Assign(acc_first_q.clone(), e::lit(1, 1)),
    ];
    let mut body = vec![Stmt::If(
        act_fire,
        vec![
            Stmt::Assign(tile_valid_q.clone(), e::lit(1, 1)),
            Stmt::Assign(tile_last_q.clone(), act_last.clone()),
            Stmt::Assign(act_first_q, act_last),
        ],
        vec![Stmt::If(
            tile_done.clone(),
            vec![Stmt::Assign(tile_valid_q, e::lit(1, 0))],
            vec![],
        )],
    )];
    let mut on_wgt = vec![Stmt::Assign(acc_first_q, e::and(tile_done, tile_last_q))];
    if let (Some(pq), Some(last)) = (&plane_q, plane_last) {
        reset.push(Stmt::Assign(pq.clone(), e::lit(pb, 0)));
        on_wgt.push(Stmt::Assign(
            pq.clone(),
            e::cond(last, e::lit(pb, 0), e::add(pq.clone(), e::lit(pb, 1))),
        ));
    }
    body.push(Stmt::If(wgt_fire, on_wgt, vec![]));
    m.item(Item::AlwaysFf { reset, body });
    m
}

/// Token `n`'s accumulator register of a PE and its result: `acc_q` takes
/// `acc_d` when `acc_en_i`, and token `n`'s field of `result_o` is `result`
/// (a function of `acc_q`).
pub fn acc_update(
    m: &mut Module,
    cfg: &ArrayConfig,
    n: usize,
    acc_q: &Expr,
    acc_d: Expr,
    result: Expr,
) {
    m.item(Item::AlwaysFf {
        reset: vec![],
        body: vec![Stmt::If(
            e::id("acc_en_i"),
            vec![Stmt::Assign(acc_q.clone(), acc_d)],
            vec![],
        )],
    });
    m.assign(
        crate::token_part(
            cfg,
            &e::id("result_o"),
            n,
            lutcore_contract::config::RESULT_BITS,
        ),
        result,
    );
}

/// The first ports of every PE: the clock and the accumulator controls
/// `acc_en_i` and `acc_clear_i` (`zero` names the start value: `zero`, `+0`).
/// Returns `acc_en_i` and `acc_clear_i`.
pub fn pe_control_ports(m: &mut Module, zero: &str) -> (Expr, Expr) {
    m.port(Port::input("clk_i", 1, "clock"));
    let en = m.port(Port::input("acc_en_i", 1, "update the accumulator"));
    let clear = m.port(Port::input("acc_clear_i", 1, &format!("start from {zero}")));
    (en, clear)
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
            let wire = if top_port {
                p.name.clone()
            } else {
                p.name.trim_end_matches("_o").to_string()
            };
            (p.name.clone(), Expr::Id(wire))
        })
        .collect();
    Item::Instance {
        module: NAME.into(),
        name: "u_ctrl".into(),
        conns,
    }
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
    m.item(Item::Ifdef(ASSERT_DEFINE.into(), assertions(cfg)));
    m.comment("");
    m.comment("Input stage: accepted beats are latched; the datapath works on them next cycle");
    let act_in = m.logic(
        ACT_IN,
        cfg.act_beat_bits(),
        "the last accepted activation beat",
    );
    let wgt_in = m.logic(
        WGT_IN,
        cfg.weight_beat_bits(),
        "the last accepted weight beat",
    );
    m.item(Item::AlwaysFf {
        reset: vec![],
        body: vec![
            Stmt::If(
                e::id("act_fire"),
                vec![Stmt::Assign(act_in, e::id(StreamPort::ActData.name()))],
                vec![],
            ),
            Stmt::If(
                e::id("wgt_fire"),
                vec![Stmt::Assign(wgt_in, e::id(StreamPort::WgtData.name()))],
                vec![],
            ),
        ],
    });
    m
}

/// The input-stage register holding the last accepted activation beat.
pub const ACT_IN: &str = "act_in_q";
/// The input-stage register holding the last accepted weight beat.
pub const WGT_IN: &str = "wgt_in_q";

/// The define that enables the arrays' protocol assertions (Verilator
/// `--assert +define+LUTCORE_ASSERT`, as in `gen/tests/assertions.rs`). Icarus 11
/// and yosys's own parser do not read concurrent assertions, so without it they
/// see none.
pub const ASSERT_DEFINE: &str = "LUTCORE_ASSERT";

/// The valid/ready rules of docs/interface.md as assertions of an array top
/// (the items inside [`ASSERT_DEFINE`]). The array promises that a result beat
/// stays valid and unchanged until it is taken and that no beat is accepted
/// while it waits; the environment must not send more K-tiles in a pass than
/// `max_k` allows (the accumulators would wrap silently), which a counter of
/// the pass's activation beats checks.
fn assertions(cfg: &ArrayConfig) -> Vec<Item> {
    let max_tiles = k_tiles(cfg, cfg.max_k()) as u64;
    let port = |p: StreamPort| e::id(p.name());
    // Counts up to max_tiles and holds there (one more than a legal pass needs).
    let w = bits(max_tiles);
    let (res_valid, res_ready) = (port(StreamPort::ResValid), port(StreamPort::ResReady));
    let waiting = e::log_and(res_valid.clone(), e::log_not(res_ready));
    let tiles_q = e::id("assert_tiles_q");
    vec![
        Item::Comment("`disable iff` samples the asynchronous reset on the clock, as intended:".into()),
        Item::Comment("verilator lint_off SYNCASYNCNET".into()),
        Item::Assert(Assertion {
            name: "ResValidHeld".into(),
            doc: "A result beat stays valid until it is taken.".into(),
            cond: waiting.clone(),
            next_cycle: true,
            check: res_valid.clone(),
        }),
        Item::Assert(Assertion {
            name: "ResDataStable".into(),
            doc: "A waiting result beat keeps its data.".into(),
            cond: waiting,
            next_cycle: true,
            check: Expr::Stable(Box::new(port(StreamPort::ResData))),
        }),
        Item::Assert(Assertion {
            name: "NoBeatWhileResult".into(),
            doc: "No activation or weight beat is accepted while the result beat is valid.".into(),
            cond: res_valid,
            next_cycle: false,
            check: e::log_and(e::log_not(port(StreamPort::ActReady)), e::log_not(port(StreamPort::WgtReady))),
        }),
        Item::Comment(format!("Activation beats of this pass so far, saturating at ceil(max_k / k_tile) = {max_tiles}")),
        Item::Decl(Decl { name: "assert_tiles_q".into(), ty: Ty::Logic(w), doc: String::new() }),
        Item::AlwaysFf {
            reset: vec![Stmt::Assign(tiles_q.clone(), e::lit(w, 0))],
            body: vec![Stmt::If(
                e::id("act_fire"),
                vec![Stmt::If(
                    port(StreamPort::ActLast),
                    vec![Stmt::Assign(tiles_q.clone(), e::lit(w, 0))],
                    vec![Stmt::If(
                        e::bin(BinOp::Lt, tiles_q.clone(), e::lit(w, max_tiles)),
                        vec![Stmt::Assign(tiles_q.clone(), e::add(tiles_q.clone(), e::lit(w, 1)))],
                        vec![],
                    )],
                )],
                vec![],
            )],
        },
        Item::Assert(Assertion {
            name: "PassFitsMaxK".into(),
            doc: format!(
                "The environment sends at most {max_tiles} activation beats per pass (max_k = {}).",
                cfg.max_k()
            ),
            cond: e::id("act_fire"),
            next_cycle: false,
            check: e::bin(BinOp::Lt, tiles_q, e::lit(w, max_tiles)),
        }),
        Item::Comment("verilator lint_on SYNCASYNCNET".into()),
    ]
}
