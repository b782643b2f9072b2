//! Planted faults: small patches of the generated Verilog text (an
//! accumulator one bit narrower, a dropped sign extension, a wrong mirror
//! index, a handshake that ignores valid, …), each built with Verilator and
//! run through a seeded random regression of GEMVs against
//! `lutcore_contract::reference::gemv_plain`. A mutant is caught by a wrong result
//! or by a deadlock (no result beat within the cycle limit).
//!
//! The driver here is not `run_gemv`: it inserts random bubbles into both
//! valid streams (a raised valid is held until its beat transfers, data is
//! random while valid is low) and drops `res_ready_i` at random, so faults in
//! the handshakes show up too.
//!
//! `cargo test -p lutcore-sim --test mutation` runs the unmutated designs and
//! four mutants (one per arch, one handshake); `make mutants` runs all of them
//! (`--ignored`) and prints the table (also written to `build/mutants/table.md`).
//! `LUTCORE_SEED=<n>` changes the seeds.
//!
//! The same regression, on a `--coverage` build of the unmutated presets,
//! dumps Verilator's `coverage.dat` (`coverage_of_the_regression`, run by
//! `make coverage` / `scripts/coverage.sh`).

mod common;

use common::Fill;
use lutcore_contract::config::{preset, ArrayConfig};
use lutcore_contract::layout::{k_tiles, rtl_act_beats, rtl_weight_beats, WeightMatrix};
use lutcore_contract::reference::gemv_plain;
use lutcore_contract::testing::seed_from_env;
use lutcore_gen::{generate, Design};
use lutcore_sim::{BuildOptions, SimError, SimModel, Simulator, StreamBeats};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One planted fault: text patches of one generated file of a preset.
struct Mutant {
    name: &'static str,
    preset: &'static str,
    file: &'static str,
    /// `(old, new)` patches applied in order; each `old` must occur exactly once.
    patches: &'static [(&'static str, &'static str)],
    about: &'static str,
}

const fn mutant(
    name: &'static str,
    preset: &'static str,
    file: &'static str,
    patches: &'static [(&'static str, &'static str)],
    about: &'static str,
) -> Mutant {
    Mutant {
        name,
        preset,
        file,
        patches,
        about,
    }
}

const LUT_PE: &str = "lutcore_lut_pe.sv";
const LUT_PRE: &str = "lutcore_lut_precompute.sv";
const LUT_TOP: &str = "lutcore_lut_array.sv";
const CTRL: &str = "lutcore_ctrl.sv";
const MAC_PE: &str = "lutcore_mac_pe.sv";
const MAC_TOP: &str = "lutcore_mac_array.sv";
const ADDSUB_PE: &str = "lutcore_addsub_pe.sv";

/// Every mutant. `tiny` is the LUT array (4 rows, g=4, uint2, max_k 256),
/// `mac-tiny` and `addsub-tiny` the baselines of the same shape.
const MUTANTS: &[Mutant] = &[
    mutant(
        "lut-acc-narrow",
        "tiny",
        LUT_PE,
        &[(
            "assign result_o = {{14{acc_q[18]}}, acc_q[18:1]};",
            "assign result_o = {{15{acc_q[17]}}, acc_q[17:1]};",
        )],
        "LUT accumulator one bit narrower (result from acc[17:1])",
    ),
    mutant(
        "lut-carry-dropped",
        "tiny",
        LUT_PE,
        &[(
            "assign carry = neg_q & ~finalize_i;",
            "assign carry = 1'b0;",
        )],
        "LUT PE: the +1 of the mirrored half's negation dropped",
    ),
    mutant(
        "lut-sign-flip-dropped",
        "tiny",
        LUT_PE,
        &[("^ {19{neg_q}}", "^ {19{1'b0}}")],
        "LUT PE: mirrored half not inverted (sign flip dropped)",
    ),
    mutant(
        "lut-mirror-index",
        "tiny",
        LUT_PE,
        &[(
            "assign g0_sel = g0_neg ? ~g0_idx[2:0] : g0_idx[2:0];",
            "assign g0_sel = g0_neg ? g0_idx[2:0] : g0_idx[2:0];",
        )],
        "LUT PE: mirrored half read at the index, not its complement",
    ),
    mutant(
        "lut-plane-shift",
        "tiny",
        LUT_PE,
        &[("entry_q[9:0]} << plane_i)", "entry_q[9:0]} << ~plane_i)")],
        "LUT PE: bit plane shifted by the wrong plane number",
    ),
    mutant(
        "lut-corr-dropped",
        "tiny",
        LUT_PE,
        &[(
            "(finalize_i ? corr_i : addend)",
            "(finalize_i ? 19'd0 : addend)",
        )],
        "LUT PE: the c*sum(x) correction term dropped",
    ),
    mutant(
        "lut-acc-clear-ignored",
        "tiny",
        LUT_PE,
        &[("(acc_clear_i ? 19'd0 : acc_q)", "(acc_q)")],
        "LUT PE: accumulator not cleared at a pass's first beat",
    ),
    mutant(
        "lut-table-entry",
        "tiny",
        LUT_PRE,
        &[(
            "assign g0_e5 = g0_p1_2 + g0_x0;",
            "assign g0_e5 = g0_p1_2 - g0_x0;",
        )],
        "LUT precompute: table entry 5 with the wrong sign of x0",
    ),
    mutant(
        "lut-act-zero-extended",
        "tiny",
        LUT_PRE,
        &[(
            "assign g0_x2 = {{2{act_data_i[23]}}, act_data_i[23:16]};",
            "assign g0_x2 = {2'b00, act_data_i[23:16]};",
        )],
        "LUT precompute: activation 2 zero- instead of sign-extended",
    ),
    mutant(
        "lut-sum-x-not-restarted",
        "tiny",
        LUT_PRE,
        &[("(sum_clear_q ? 16'd0 : sum_x_q)", "(sum_x_q)")],
        "LUT precompute: sum(x) carried over from the previous pass",
    ),
    mutant(
        "lut-corr-coeff",
        "tiny",
        LUT_TOP,
        &[(
            "corr_q <= (sum_x_wide << 6'd2) - sum_x_wide;",
            "corr_q <= (sum_x_wide << 6'd2);",
        )],
        "LUT array: correction coefficient 4 instead of 3",
    ),
    mutant(
        "lut-row-swap",
        "tiny",
        LUT_TOP,
        &[
            (
                ".result_o    (res_data_o[31:0])",
                ".result_o    (ROW_SWAP_TMP)",
            ),
            (
                ".result_o    (res_data_o[63:32])",
                ".result_o    (res_data_o[31:0])",
            ),
            (
                ".result_o    (ROW_SWAP_TMP)",
                ".result_o    (res_data_o[63:32])",
            ),
        ],
        "LUT array: results of rows 0 and 1 swapped",
    ),
    mutant(
        "lut-ctrl-last-beat",
        "tiny",
        CTRL,
        &[(
            "assign tile_done = wgt_fire & (plane_q == 1'd1);",
            "assign tile_done = wgt_fire & (plane_q == 1'd0);",
        )],
        "ctrl (LUT): K-tile done after plane 0, not the last plane (off by one)",
    ),
    mutant(
        "lut-ctrl-wgt-ignores-valid",
        "tiny",
        CTRL,
        &[(
            "assign wgt_fire = wgt_valid_i & wgt_ready_o;",
            "assign wgt_fire = wgt_ready_o;",
        )],
        "ctrl (LUT): a weight beat is taken whenever ready, valid or not",
    ),
    mutant(
        "lut-ctrl-res-ignores-ready",
        "tiny",
        CTRL,
        &[(
            "assign res_fire = res_valid_o & res_ready_i;",
            "assign res_fire = res_valid_o;",
        )],
        "ctrl (LUT): the result beat is dropped without res_ready",
    ),
    mutant(
        "lut-ctrl-reset-tile-valid",
        "tiny",
        CTRL,
        &[(
            "tile_valid_q <= 1'd0;\n      tile_last_q <= 1'd0;",
            "tile_valid_q <= 1'd1;\n      tile_last_q <= 1'd0;",
        )],
        "ctrl (LUT): reset value of tile_valid_q 1 (a stale tile is 'loaded')",
    ),
    mutant(
        "lut-ctrl-drain2-skipped",
        "tiny",
        CTRL,
        &[("phase_d = DRAIN_ACC;", "phase_d = RESULT;")],
        "ctrl (LUT): second drain cycle skipped (result before the finalize lands)",
    ),
    mutant(
        "lut-ctrl-act-ready-early",
        "tiny",
        CTRL,
        &[(
            "(~tile_valid_q | (tile_done & ~tile_last_q))",
            "(~tile_valid_q | (wgt_fire & ~tile_last_q))",
        )],
        "ctrl (LUT): next activation beat accepted after any weight beat, not the tile's last",
    ),
    mutant(
        "mac-acc-narrow",
        "mac-tiny",
        MAC_PE,
        &[(
            "assign result_o = {{14{acc_q[17]}}, acc_q};",
            "assign result_o = {{15{acc_q[16]}}, acc_q[16:0]};",
        )],
        "MAC accumulator one bit narrower",
    ),
    mutant(
        "mac-act-zero-extended",
        "mac-tiny",
        MAC_PE,
        &[(
            "assign x2 = {{2{act_i[23]}}, act_i[23:16]};",
            "assign x2 = {2'b00, act_i[23:16]};",
        )],
        "MAC PE: activation 2 zero- instead of sign-extended",
    ),
    mutant(
        "mac-weight-index",
        "mac-tiny",
        MAC_PE,
        &[(
            "assign w3 = {8'd0, wgt_i[7:6]};",
            "assign w3 = {8'd0, wgt_i[5:4]};",
        )],
        "MAC PE: weight 3 read from weight 2's bits",
    ),
    mutant(
        "mac-beat-sum-zero-extended",
        "mac-tiny",
        MAC_PE,
        &[("{{5{beat_sum[12]}}, beat_sum}", "{5'd0, beat_sum}")],
        "MAC PE: beat sum zero- instead of sign-extended into the accumulator",
    ),
    mutant(
        "mac-row-weights",
        "mac-tiny",
        MAC_TOP,
        &[(
            ".wgt_i       (wgt_in_q[7:0]),",
            ".wgt_i       (wgt_in_q[15:8]),",
        )],
        "MAC array: row 0 fed row 1's weight codes",
    ),
    mutant(
        "mac-ctrl-drain-skipped",
        "mac-tiny",
        CTRL,
        &[("phase_d = DRAIN;", "phase_d = RESULT;")],
        "ctrl (MAC): drain skipped, result beat before the last accumulation",
    ),
    mutant(
        "mac-ctrl-act-ignores-valid",
        "mac-tiny",
        CTRL,
        &[(
            "assign act_fire = act_valid_i & act_ready_o;",
            "assign act_fire = act_ready_o;",
        )],
        "ctrl (MAC): an activation beat is taken whenever ready, valid or not",
    ),
    mutant(
        "addsub-carry-skipped",
        "addsub-tiny",
        ADDSUB_PE,
        &[(" + {9'd0, minus1};", ";")],
        "add/sub PE: the +1 carry of a subtracted term skipped",
    ),
    mutant(
        "addsub-keep-decode",
        "addsub-tiny",
        ADDSUB_PE,
        &[("assign keep2 = w2[1] | ~w2[0];", "assign keep2 = w2[1];")],
        "add/sub PE: code 0 (-1) of weight 2 decoded as skip",
    ),
    mutant(
        "addsub-sign-flip-dropped",
        "addsub-tiny",
        ADDSUB_PE,
        &[(
            "assign t1 = (x1 & {9{keep1}}) ^ {9{minus1}};",
            "assign t1 = (x1 & {9{keep1}});",
        )],
        "add/sub PE: subtracted term not inverted (sign flip dropped)",
    ),
    mutant(
        "addsub-acc-narrow2",
        "addsub-tiny",
        ADDSUB_PE,
        &[(
            "assign result_o = {{15{acc_q[16]}}, acc_q};",
            "assign result_o = {{17{acc_q[14]}}, acc_q[14:0]};",
        )],
        "add/sub accumulator two bits narrower (one bit narrower is equivalent: see the report)",
    ),
    mutant(
        "addsub-acc-clear-ignored",
        "addsub-tiny",
        ADDSUB_PE,
        &[("(acc_clear_i ? 17'd0 : acc_q)", "(acc_q)")],
        "add/sub PE: accumulator not cleared at a pass's first beat",
    ),
    mutant(
        "addsub-ctrl-reset-acc-first",
        "addsub-tiny",
        CTRL,
        &[("acc_first_q <= 1'd1;", "acc_first_q <= 1'd0;")],
        "ctrl (add/sub): reset value of acc_first_q 0 (first pass adds to stale sums)",
    ),
];

/// The mutants `cargo test` runs: one per arch, one handshake fault.
const QUICK: &[&str] = &[
    "lut-plane-shift",
    "lut-ctrl-res-ignores-ready",
    "mac-acc-narrow",
    "addsub-carry-skipped",
];

/// `LUTCORE_SEED`, else 17.
fn base_seed() -> u64 {
    seed_from_env(17)
}

/// The design of `m` with its patches applied; panics if a patch does not apply.
fn mutate(m: &Mutant) -> Design {
    let cfg = preset(m.preset).expect("preset");
    let mut d = generate(&cfg).expect("generate");
    let f = d
        .files
        .iter_mut()
        .find(|f| f.name == m.file)
        .unwrap_or_else(|| panic!("{}: no file {}", m.name, m.file));
    let before = f.contents.clone();
    for (old, new) in m.patches {
        let n = f.contents.matches(old).count();
        assert_eq!(
            n, 1,
            "mutant {}: `{old}` occurs {n} times in {} (want exactly once)",
            m.name, m.file
        );
        f.contents = f.contents.replacen(old, new, 1);
    }
    assert_ne!(
        f.contents, before,
        "mutant {}: the patches did not change {}",
        m.name, m.file
    );
    d
}

/// One regression case: shape, values, whether the driver stalls.
#[derive(Clone, Copy, Debug)]
struct Case {
    m: usize,
    k: usize,
    fill: Fill,
    stall: bool,
}

/// The regression, in order: cheap cases first, the accumulator's full
/// range (K = max_k at the extremes), back-pressure, then random shapes.
fn cases(cfg: &ArrayConfig, rng: &mut ChaCha8Rng) -> Vec<Case> {
    let (r, kt, max_k) = (cfg.rows(), cfg.k_tile(), cfg.max_k());
    let c = |m, k, fill, stall| Case { m, k, fill, stall };
    let mut v = vec![
        c(2 * r + 1, 2 * kt + 1, Fill::Random, false),
        c(2 * r + 1, 3 * kt + 2, Fill::Random, true),
        c(r, max_k, Fill::MaxTimesMin, false),
        c(r, max_k, Fill::MinTimesMax, false),
        c(r + 1, 5 * kt + 1, Fill::Extremes, true),
        c(1, 1, Fill::Random, true),
    ];
    for _ in 0..4 {
        v.push(c(
            rng.gen_range(1..=3 * r + 2),
            rng.gen_range(1..=(8 * kt).min(max_k)),
            Fill::Random,
            true,
        ));
    }
    v
}

fn problem(cfg: &ArrayConfig, case: &Case, rng: &mut ChaCha8Rng) -> (WeightMatrix, Vec<i8>) {
    let wt = cfg.weights();
    let (lo, hi) = (wt.min_value(), wt.max_value());
    let pick = |rng: &mut ChaCha8Rng, a: i32, b: i32| if rng.gen_bool(0.5) { a } else { b };
    let w: Vec<i32> = (0..case.m * case.k)
        .map(|_| match case.fill {
            Fill::Random => rng.gen_range(lo..=hi),
            Fill::MaxTimesMin => hi,
            Fill::MinTimesMax => lo,
            Fill::Extremes => pick(rng, lo, hi),
        })
        .collect();
    let x: Vec<i8> = (0..case.k)
        .map(|_| match case.fill {
            Fill::Random => rng.gen(),
            Fill::MaxTimesMin => i8::MIN,
            Fill::MinTimesMax => i8::MAX,
            Fill::Extremes => pick(rng, -128, 127) as i8,
        })
        .collect();
    (
        WeightMatrix::from_values(case.m, case.k, wt, &w).expect("weights in range"),
        x,
    )
}

/// `y = W·x` through the stream ports with random bubbles and back-pressure
/// (when `stall`). Returns the results and the cycles, or why it failed and when.
fn drive(
    model: &mut SimModel,
    cfg: &ArrayConfig,
    w: &WeightMatrix,
    x: &[i8],
    stall: bool,
    rng: &mut ChaCha8Rng,
) -> Result<(Vec<i64>, u64), (String, u64)> {
    let e = |e: SimError| (e.to_string(), 0);
    let rows = cfg.rows();
    let tiles = w.rows().div_ceil(rows);
    let kt = k_tiles(cfg, w.cols());
    let act = rtl_act_beats(cfg, x);
    let wgt: Vec<Vec<u32>> = (0..tiles)
        .flat_map(|t| rtl_weight_beats(cfg, w, t * rows))
        .collect();
    let bpp = wgt.len() / tiles;
    let (act_total, wgt_total) = (tiles * kt, wgt.len());
    let idx = |name: &str| model.port_index(name).map_err(e);
    let (clk, rst, av, al, wv, rr) = (
        idx("clk_i")?,
        idx("rst_ni")?,
        idx("act_valid_i")?,
        idx("act_last_i")?,
        idx("wgt_valid_i")?,
        idx("res_ready_i")?,
    );
    for i in [av, al, wv, rr, rst, clk] {
        model.set_bit(i, false).map_err(e)?;
    }
    model.tick();
    model.tick();
    model.set_bit(rst, true).map_err(e)?;
    let garbage = |rng: &mut ChaCha8Rng, n: usize| (0..n).map(|_| rng.gen()).collect::<Vec<u32>>();
    let mut res = vec![0u32; cfg.rows()];
    let mut out = vec![0i64; w.rows()];
    let (mut a, mut wb, mut t) = (0usize, 0usize, 0usize);
    let (mut a_up, mut w_up) = (false, false);
    let limit = 64 * (act_total + wgt_total + tiles) as u64 + 1000;
    let mut cycles = 0u64;
    while t < tiles {
        if cycles >= limit {
            let why = format!("deadlock: no result after {cycles} cycles (act {a}/{act_total}, wgt {wb}/{wgt_total}, results {t}/{tiles})");
            return Err((why, cycles));
        }
        // A raised valid stays up until its beat transfers; bubbles only between beats.
        a_up = a_up || (a < act_total && (!stall || rng.gen_bool(0.6)));
        w_up = w_up || (wb < wgt_total && (!stall || rng.gen_bool(0.6)));
        model.set_bit(rr, !stall || rng.gen_bool(0.5)).map_err(e)?;
        let act_data = if a_up {
            act[a % kt].clone()
        } else {
            garbage(rng, act[0].len())
        };
        let wgt_data = if w_up {
            wgt[wb].clone()
        } else {
            garbage(rng, wgt[0].len())
        };
        let beats = StreamBeats {
            act_valid: a_up,
            act_last: if a_up { a % kt == kt - 1 } else { rng.gen() },
            act: Some(&act_data),
            wgt_valid: w_up,
            wgt: Some(&wgt_data),
        };
        let fired = model.stream_cycle(beats, &mut res).map_err(e)?;
        cycles += 1;
        if fired.act {
            a += 1;
            a_up = false;
        }
        if fired.wgt {
            wb += 1;
            w_up = false;
        }
        if fired.res {
            let r0 = t * rows;
            for (o, &v) in out[r0..(r0 + rows).min(w.rows())].iter_mut().zip(&res) {
                *o = i64::from(v as i32);
            }
            t += 1;
        }
    }
    // The pass structure the driver assumed: every beat of every pass was taken.
    if a != act_total || wb != wgt_total || wb != tiles * bpp {
        return Err((
            format!(
                "all results out with beats left over: act {a}/{act_total}, wgt {wb}/{wgt_total}"
            ),
            cycles,
        ));
    }
    Ok((out, cycles))
}

/// How a design fared on the regression.
#[derive(Debug)]
enum Verdict {
    /// Every case matched the reference; total cycles.
    Passed(u64),
    /// Case `case` (seed `seed`) failed after `cycles` cycles of that case: `why`.
    Caught {
        case: usize,
        what: String,
        seed: u64,
        cycles: u64,
        why: String,
    },
}

fn regression(sim: &mut Simulator) -> Verdict {
    let cfg = sim.config().clone();
    let seed = base_seed();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut total = 0;
    for (i, case) in cases(&cfg, &mut rng).into_iter().enumerate() {
        let case_seed = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ i as u64;
        let mut rng = ChaCha8Rng::seed_from_u64(case_seed);
        let (w, x) = problem(&cfg, &case, &mut rng);
        let want = gemv_plain(&w, &x);
        let what = format!(
            "{}x{} {:?}{}",
            case.m,
            case.k,
            case.fill,
            if case.stall { " stalls" } else { "" }
        );
        let (why, cycles) = match drive(sim.model_mut(), &cfg, &w, &x, case.stall, &mut rng) {
            Ok((got, cycles)) if got == want => {
                total += cycles;
                continue;
            }
            Ok((got, cycles)) => {
                let row = got.iter().zip(&want).position(|(a, b)| a != b).unwrap_or(0);
                let why = format!("row {row}: RTL {} != reference {}", got[row], want[row]);
                (why, cycles)
            }
            Err(failed) => failed,
        };
        return Verdict::Caught {
            case: i,
            what,
            seed: case_seed,
            cycles,
            why,
        };
    }
    Verdict::Passed(total)
}

/// The unmutated designs pass the whole regression (the driver is right).
fn check_originals(presets: &[&str]) {
    for p in presets {
        let cfg = preset(p).unwrap();
        let mut sim = Simulator::new(&cfg).unwrap_or_else(|e| panic!("{p}: {e}"));
        match regression(&mut sim) {
            Verdict::Passed(cycles) => println!("original {p}: all cases pass ({cycles} cycles)"),
            v => panic!("the unmutated {p} fails the mutation regression: {v:?}"),
        }
    }
}

/// Run `mutants`, print a table, return the survivors.
fn run_mutants(mutants: &[&Mutant]) -> (String, Vec<&'static str>) {
    let mut table = String::from("| mutant | preset | file | description | caught by (case, seed) | why | cycles |\n|---|---|---|---|---|---|---|\n");
    let mut survivors = Vec::new();
    for m in mutants {
        let t = std::time::Instant::now();
        let design = mutate(m);
        let row = match Simulator::from_design(&design) {
            Err(e) => format!("build failed: {e} | | |"),
            Ok(mut sim) => match regression(&mut sim) {
                Verdict::Caught {
                    case,
                    what,
                    seed,
                    cycles,
                    why,
                } => {
                    format!("case {case} ({what}), seed {seed:#x} | {why} | {cycles} |")
                }
                Verdict::Passed(cycles) => {
                    survivors.push(m.name);
                    format!("**SURVIVED** | | {cycles} |")
                }
            },
        };
        let line = format!(
            "| {} | {} | {} | {} | {row}\n",
            m.name, m.preset, m.file, m.about
        );
        println!("{line}  ({:.1} s)", t.elapsed().as_secs_f64());
        table += &line;
    }
    let caught = mutants.len() - survivors.len();
    table += &format!(
        "\n{caught}/{} caught ({:.0}%), base seed {}\n",
        mutants.len(),
        100.0 * caught as f64 / mutants.len() as f64,
        base_seed()
    );
    (table, survivors)
}

#[test]
fn every_patch_applies_once_and_changes_the_text() {
    assert!(MUTANTS.len() >= 20);
    for m in MUTANTS {
        mutate(m);
    }
    let mut names: Vec<_> = MUTANTS.iter().map(|m| m.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), MUTANTS.len(), "mutant names are unique");
}

#[test]
fn quick_mutants_are_caught() {
    check_originals(&["tiny", "mac-tiny", "addsub-tiny"]);
    let quick: Vec<&Mutant> = MUTANTS.iter().filter(|m| QUICK.contains(&m.name)).collect();
    assert_eq!(quick.len(), QUICK.len());
    let (table, survivors) = run_mutants(&quick);
    println!("{table}");
    assert!(
        survivors.is_empty(),
        "mutants survived: {survivors:?}\n{table}"
    );
}

/// The full run (`make mutants`): every mutant, a table, 100% caught.
#[test]
#[ignore = "builds every mutant (minutes); run by `make mutants`"]
fn all_mutants_are_caught() {
    check_originals(&["tiny", "mac-tiny", "addsub-tiny"]);
    let all: Vec<&Mutant> = MUTANTS.iter().collect();
    let (table, survivors) = run_mutants(&all);
    println!("\n{table}");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../build/mutants");
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::write(dir.join("table.md"), &table);
    }
    assert!(
        survivors.is_empty(),
        "mutants survived: {survivors:?}\n{table}"
    );
}

/// `make coverage`: the regression on `--coverage` builds of `default`,
/// `mac-tiny` and `addsub-tiny` (and `tiny`), each dumping
/// `$LUTCORE_COVERAGE_DIR/<preset>/coverage.dat` (default `build/coverage`).
#[test]
#[ignore = "coverage builds (minutes); run by `make coverage`"]
fn coverage_of_the_regression() {
    let dir = std::env::var_os("LUTCORE_COVERAGE_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../build/coverage")
        });
    for p in ["default", "tiny", "mac-tiny", "addsub-tiny"] {
        let cfg = preset(p).unwrap();
        let mut sim = Simulator::from_design_with(
            &generate(&cfg).expect("generate"),
            &BuildOptions::covered(),
        )
        .unwrap_or_else(|e| panic!("{p}: {e}"));
        let verdict = regression(&mut sim);
        assert!(matches!(verdict, Verdict::Passed(_)), "{p}: {verdict:?}");
        let out = dir.join(p);
        std::fs::create_dir_all(&out).unwrap();
        lutcore_sim::coverage::write_coverage(sim.library(), &out.join("coverage.dat")).unwrap();
        println!("{p}: {verdict:?}, {}", out.join("coverage.dat").display());
    }
}
