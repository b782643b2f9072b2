//! From stored point results to the tables: derived area per MAC/cycle,
//! `results.csv`, `results.json`, the human table and `report.md` with the
//! LUT-core/baseline ratios and the three targets.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use lutcore_contract::{Accumulate, ActType};

use super::points::{Design, Target, Variant, EXACT_SUFFIX, MAIN_SHAPE};
use super::run::{PointResult, Status};
use super::synth::ASYNC_FF_TRANSISTORS;

/// One row of the results table: a point with its derived area.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// Point id.
    pub id: String,
    /// Synthesis target.
    pub target: Target,
    /// `lut`, `mac`, `mac-dsp`, `addsub`, or `cal` for a DSP calibration.
    pub variant: String,
    /// Weight type (`uint1`.., `ternary`), empty for a calibration.
    pub weights: String,
    /// Information bits per weight: 1, 1.58 (ternary), 2, 3, 4.
    pub weight_bits: f64,
    /// Activation type: `int8`, `int16`, `fp16`, `bf16`, `fp8-e4m3`, `fp8-e5m2`
    /// (empty for a calibration).
    pub act: String,
    /// Whether the activations are floating point.
    pub float: bool,
    /// Activation bits.
    pub act_bits: u32,
    /// Rows.
    pub rows: u32,
    /// Activation groups per beat.
    pub k_groups: u32,
    /// Activations per group.
    pub g: u32,
    /// Tokens per pass (M).
    pub tokens: u32,
    /// Longest K held exactly.
    pub max_k: u32,
    /// Multiply-accumulates per busy cycle.
    pub macs_per_cycle: f64,
    /// LUT4 cells (FPGA).
    pub lut4: u64,
    /// Carry cells (FPGA).
    pub carry: u64,
    /// LUT4s occupied by carry cells / LUT RAM.
    pub carry_lut4: u64,
    /// Flip-flops.
    pub ff: u64,
    /// DSP blocks.
    pub dsp: u64,
    /// Measured LUT4 equivalent of one DSP block of this target (0 if none measured).
    pub dsp_lut4_each: u64,
    /// Block RAMs.
    pub bram: u64,
    /// LUT4 + carry LUT4s + DSPs × their equivalent (FPGA).
    pub lut4_eq: u64,
    /// Transistors (ASIC proxy).
    pub transistors: u64,
    /// The target's area measure: `lut4_eq` (FPGA) or `transistors` (ASIC).
    pub area: u64,
    /// `area / macs_per_cycle` (0 for a calibration).
    pub area_per_mac: f64,
    /// yosys wall time, seconds.
    pub yosys_seconds: f64,
    /// `ok`, `failed`, or `incomplete` (DSP blocks used but no calibration to convert them).
    pub status: String,
    /// Error of a failed point.
    pub error: String,
    /// FP accumulation: `fp32`, or `exact` for the points with the
    /// [`EXACT_SUFFIX`] (`"accumulate": "exact"`); `fp32` for integer and calibration rows.
    pub accumulate: String,
}

impl Row {
    /// The variant as an enum (None for a calibration).
    pub fn variant_enum(&self) -> Option<Variant> {
        Variant::ALL
            .into_iter()
            .find(|v| v.to_string() == self.variant)
    }
    /// Whether the row is at the shape all ratios are quoted at.
    pub fn at_main_shape(&self) -> bool {
        (self.rows, self.k_groups, self.g) == MAIN_SHAPE
    }
    /// `RxKxG` shape label, `M2·RxKxG` with 2 tokens per pass.
    pub fn shape(&self) -> String {
        let tokens = match self.tokens {
            0 | 1 => String::new(),
            t => format!("M{t}·"),
        };
        format!("{tokens}{}x{}x{}", self.rows, self.k_groups, self.g)
    }
    fn ok(&self) -> bool {
        self.status == "ok"
    }
    /// The variant as the report selects it: `lut.xacc`, `addsub.xacc` for
    /// exact accumulation, else the variant (`lut`, `mac`, ...).
    pub fn kind(&self) -> String {
        if self.accumulate == Accumulate::Exact.to_string() {
            format!("{}{EXACT_SUFFIX}", self.variant)
        } else {
            self.variant.clone()
        }
    }
}

/// Measured LUT4 equivalent of one DSP block per FPGA target (from the calibration points).
pub fn dsp_equivalents(results: &[PointResult]) -> BTreeMap<Target, u64> {
    results
        .iter()
        .filter(|r| {
            r.status == Status::Ok && matches!(r.point.design, Design::DspCalibration { .. })
        })
        .map(|r| (r.point.target, r.resources.lut4_logic()))
        .collect()
}

/// Information bits of a weight type name (ternary: log2 3).
pub fn weight_bits(name: &str) -> f64 {
    match name {
        "ternary" => 3f64.log2(),
        s => s
            .strip_prefix("uint")
            .and_then(|b| b.parse().ok())
            .unwrap_or(0.0),
    }
}

/// The rows of every stored result.
pub fn rows(results: &[PointResult]) -> Vec<Row> {
    let dsp_eq = dsp_equivalents(results);
    results
        .iter()
        .map(|r| {
            let res = &r.resources;
            let t = r.point.target;
            let (variant, weights, act, act_bits, rows, k_groups, g, max_k, tokens) = match &r.point.design {
                Design::Array { variant, config: c } => (variant.to_string(), c.weights.to_string(), Some(c.act), c.act.bits(), c.rows, c.k_groups, c.g, c.max_k, c.tokens),
                Design::DspCalibration { .. } => ("cal".to_string(), String::new(), None, 0, 0, 0, 0, 0, 0),
            };
            let accumulate = match &r.point.design {
                Design::Array { config, .. } => config.accumulate,
                Design::DspCalibration { .. } => Accumulate::Fp32,
            };
            let each = dsp_eq.get(&t).copied().unwrap_or(0);
            let missing_eq = t.is_fpga() && res.dsp > 0 && each == 0;
            let (status, error) = match (r.status, missing_eq) {
                (Status::Failed, _) => ("failed", r.error.clone().unwrap_or_default()),
                (Status::Ok, true) => (
                    "incomplete",
                    format!("{} DSP blocks but no DSP calibration result on {t}: run point {t}.cal-mul{b}x{b}", res.dsp, b = super::points::dsp_operand_bits(t)),
                ),
                (Status::Ok, false) => ("ok", String::new()),
            };
            let lut4_eq = if t.is_fpga() { res.lut4_logic() + res.dsp * each } else { 0 };
            let area = if t.is_fpga() { lut4_eq } else { res.transistors };
            Row {
                id: r.point.id.clone(),
                target: t,
                weight_bits: weight_bits(&weights),
                variant,
                weights,
                act: act.map(|a| a.to_string()).unwrap_or_default(),
                float: act.is_some_and(|a| a.is_float()),
                act_bits,
                rows,
                k_groups,
                g,
                tokens,
                max_k,
                macs_per_cycle: r.macs_per_cycle,
                lut4: res.lut4,
                carry: res.carry,
                carry_lut4: res.carry_lut4,
                ff: res.ff,
                dsp: res.dsp,
                dsp_lut4_each: each,
                bram: res.bram,
                lut4_eq,
                transistors: res.transistors,
                area,
                area_per_mac: if r.macs_per_cycle > 0.0 { area as f64 / r.macs_per_cycle } else { 0.0 },
                yosys_seconds: r.yosys_seconds,
                status: status.into(),
                error,
                accumulate: accumulate.to_string(),
            }
        })
        .collect()
}

/// Write `results.csv` and `results.json` into `out`.
pub fn write_tables(out: &Path, rows: &[Row]) -> Result<()> {
    let csv_path = out.join("results.csv");
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r).context("formatting a CSV row")?;
    }
    let bytes = w.into_inner().context("finishing the CSV")?;
    crate::output::write_atomic(&csv_path, &String::from_utf8_lossy(&bytes))?;
    crate::output::write_json(&out.join("results.json"), &rows)?;
    Ok(())
}

/// The human table (every row; failures at the end with their error).
pub fn human_table(rows: &[Row]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<6} {:<8} {:<8} {:<8} {:>7} {:>7} {:>7} {:>6} {:>6} {:>4} {:>9} {:>11} {:>10} {:>6}",
        "target",
        "variant",
        "weights",
        "act",
        "shape",
        "MAC/cyc",
        "LUT4",
        "carry",
        "FF",
        "DSP",
        "LUT4-eq",
        "transistors",
        "area/MAC",
        "yosys"
    );
    let mut sorted: Vec<&Row> = rows
        .iter()
        .filter(|r| r.ok() && r.variant != "cal")
        .collect();
    sorted.sort_by(|a, b| {
        (
            a.target,
            a.float,
            &a.act,
            a.weight_bits.to_bits(),
            a.rows,
            a.k_groups,
            a.g,
            a.tokens,
            a.variant_enum(),
        )
            .cmp(&(
                b.target,
                b.float,
                &b.act,
                b.weight_bits.to_bits(),
                b.rows,
                b.k_groups,
                b.g,
                b.tokens,
                b.variant_enum(),
            ))
    });
    for r in sorted {
        let _ = writeln!(
            s,
            "{:<6} {:<8} {:<8} {:<8} {:>7} {:>7} {:>7} {:>6} {:>6} {:>4} {:>9} {:>11} {:>10.1} {:>5.1}s",
            r.target.to_string(),
            r.variant,
            r.weights,
            r.act,
            r.shape(),
            r.macs_per_cycle,
            dash(r.lut4, r.target.is_fpga()),
            dash(r.carry, r.target.is_fpga()),
            r.ff,
            dash(r.dsp, r.target.is_fpga()),
            dash(r.lut4_eq, r.target.is_fpga()),
            dash(r.transistors, !r.target.is_fpga()),
            r.area_per_mac,
            r.yosys_seconds
        );
    }
    for r in rows.iter().filter(|r| r.variant == "cal" && r.ok()) {
        let _ = writeln!(
            s,
            "{:<6} DSP calibration {}: {} LUT4-eq ({} LUT4 + {} carry LUT4) = one DSP block",
            r.target.to_string(),
            r.id,
            r.lut4_eq,
            r.lut4,
            r.carry_lut4
        );
    }
    for r in rows.iter().filter(|r| !r.ok()) {
        let _ = writeln!(
            s,
            "{} {}: {}",
            r.status.to_uppercase(),
            r.id,
            r.error.lines().next().unwrap_or("")
        );
    }
    s
}

fn dash(v: u64, show: bool) -> String {
    if show {
        v.to_string()
    } else {
        "-".into()
    }
}

/// A LUT-core-vs-baseline comparison of one (target, weights, act_bits).
#[derive(Clone, Debug, Serialize)]
pub struct Ratio {
    /// Target.
    pub target: Target,
    /// Weight type.
    pub weights: String,
    /// Information bits per weight.
    pub weight_bits: f64,
    /// Activation bits.
    pub act_bits: u32,
    /// Baseline variant compared with.
    pub baseline: String,
    /// LUT core area per MAC/cycle.
    pub lut: f64,
    /// Baseline area per MAC/cycle.
    pub base: f64,
    /// `base / lut`: how many times less area per MAC/cycle the LUT core needs (> 1: LUT core better).
    pub advantage: f64,
}

/// Same-shape ratios at [`MAIN_SHAPE`] for integer activations: LUT core vs
/// every baseline per (target, weights, act).
pub fn main_shape_ratios(rows: &[Row]) -> Vec<Ratio> {
    let ok: Vec<&Row> = rows
        .iter()
        .filter(|r| r.ok() && !r.float && r.at_main_shape() && r.macs_per_cycle > 0.0)
        .collect();
    let mut out = Vec::new();
    for lut in ok.iter().filter(|r| r.variant == "lut") {
        for b in ok.iter().filter(|b| {
            b.variant != "lut"
                && b.target == lut.target
                && b.weights == lut.weights
                && b.act_bits == lut.act_bits
                && b.max_k == lut.max_k
        }) {
            out.push(Ratio {
                target: lut.target,
                weights: lut.weights.clone(),
                weight_bits: lut.weight_bits,
                act_bits: lut.act_bits,
                baseline: b.variant.clone(),
                lut: lut.area_per_mac,
                base: b.area_per_mac,
                advantage: b.area_per_mac / lut.area_per_mac,
            });
        }
    }
    out.sort_by(|a, b| {
        (a.target, a.weight_bits.to_bits(), a.act_bits, &a.baseline).cmp(&(
            b.target,
            b.weight_bits.to_bits(),
            b.act_bits,
            &b.baseline,
        ))
    });
    out
}

/// The best (least area per MAC/cycle) row of a variant set, over every shape
/// and g, for activation type `act` (`int8`, `fp16`, ...).
fn best<'a>(
    rows: &'a [Row],
    target: Target,
    weights: &str,
    act: &str,
    variants: &[&str],
) -> Option<&'a Row> {
    rows.iter()
        .filter(|r| {
            r.ok()
                && r.target == target
                && r.weights == weights
                && r.act == act
                && variants.contains(&r.kind().as_str())
                && r.macs_per_cycle > 0.0
        })
        .min_by(|a, b| {
            a.area_per_mac
                .total_cmp(&b.area_per_mac)
                .then(a.variant_enum().cmp(&b.variant_enum()))
        })
}

/// One of the targets, evaluated.
#[derive(Clone, Debug, Serialize)]
pub struct Goal {
    /// What is asked, e.g. "W1A8 ECP5: LUT4-eq per MAC/cycle".
    pub what: String,
    /// Required advantage (MAC / LUT core).
    pub required: f64,
    /// Best LUT core point and its area per MAC/cycle.
    pub lut: Option<(String, f64)>,
    /// Best MAC point (with or without DSPs) and its area per MAC/cycle.
    pub mac: Option<(String, f64)>,
    /// Same-shape (main shape) advantage, LUT vs MAC without DSPs.
    pub same_shape: Option<f64>,
    /// Best-vs-best advantage.
    pub advantage: Option<f64>,
    /// Met or not (None: points missing).
    pub met: Option<bool>,
}

/// The three targets.
pub fn goals(rows: &[Row]) -> Vec<Goal> {
    let spec = [
        ("W1A8 on ECP5: LUT4-eq per MAC/cycle", Target::Ecp5, 8, 2.0),
        (
            "W1A8 on the ASIC proxy: transistors per MAC/cycle",
            Target::Asic,
            8,
            2.0,
        ),
        (
            "W1A16 on the ASIC proxy: transistors per MAC/cycle",
            Target::Asic,
            16,
            4.0,
        ),
    ];
    let ratios = main_shape_ratios(rows);
    spec.iter()
        .map(|&(what, t, act, required)| {
            let act_name = format!("int{act}");
            let lut = best(rows, t, "uint1", &act_name, &["lut"]);
            let mac = best(rows, t, "uint1", &act_name, &["mac", "mac-dsp"]);
            let advantage = match (lut, mac) {
                (Some(l), Some(m)) => Some(m.area_per_mac / l.area_per_mac),
                _ => None,
            };
            let same_shape = ratios
                .iter()
                .find(|r| {
                    r.target == t
                        && r.weights == "uint1"
                        && r.act_bits == act
                        && r.baseline == "mac"
                })
                .map(|r| r.advantage);
            Goal {
                what: what.to_string(),
                required,
                lut: lut.map(|r| (r.id.clone(), r.area_per_mac)),
                mac: mac.map(|r| (r.id.clone(), r.area_per_mac)),
                same_shape,
                advantage,
                met: advantage.map(|a| a >= required),
            }
        })
        .collect()
}

/// One line per goal, for the terminal and the report.
pub fn goal_lines(goals: &[Goal]) -> Vec<String> {
    goals
        .iter()
        .map(|g| match (g.advantage, &g.lut, &g.mac) {
            (Some(a), Some((lid, la)), Some((mid, ma))) => format!(
                "{}: need >= {:.0}x fewer for the LUT core; measured {a:.2}x ({}; {}) — best LUT core {lid} {la:.1}, best MAC {mid} {ma:.1}{}",
                g.what,
                g.required,
                if a >= g.required { "MET" } else { "NOT MET" },
                if a >= g.required { format!("{:.2}x margin", a / g.required) } else { format!("short by {:.2}x", g.required / a) },
                g.same_shape.map(|s| format!("; same {}x{}x{} shape vs MAC without DSP: {s:.2}x", MAIN_SHAPE.0, MAIN_SHAPE.1, MAIN_SHAPE.2)).unwrap_or_default()
            ),
            _ => format!("{}: not evaluated (no uint1 LUT and MAC results on this target yet)", g.what),
        })
        .collect()
}

/// `report.md`: accounting, the three targets, ratio tables, and the ASIC
/// per-module breakdown of the W1 LUT core and MAC at the main shape.
pub fn markdown(results: &[PointResult], rows: &[Row]) -> String {
    let mut s = String::new();
    let n_ok = rows.iter().filter(|r| r.ok()).count();
    let version = results
        .iter()
        .map(|r| r.yosys_version.as_str())
        .find(|v| !v.is_empty())
        .unwrap_or("unknown");
    let _ = writeln!(s, "# lutcore DSE report\n");
    let _ = writeln!(s, "{} points ({} ok, {} failed), synthesized with {version}. Generated by `lutcore dse`; every number below comes from the per-point yosys results in `points/`.\n", rows.len(), n_ok, rows.len() - n_ok);
    let _ = writeln!(s, "## Accounting\n");
    let _ = writeln!(s, "- Throughput: multiply-accumulates per busy cycle, `ArrayConfig::macs_per_cycle()` (LUT: rows·k_tile/weight bits, bit-serial over planes; MAC, add/sub: rows·k_tile).");
    let _ = writeln!(s, "- Area is the synthesized core only (`lutcore_gen::generate`, no board top), yosys synthesis counts, no place and route.");
    let _ = writeln!(s, "- iCE40 LUT4-eq = SB_LUT4 (an SB_CARRY packs into the logic cell of its sum LUT: 0 extra) + SB_MAC16 × its equivalent.");
    let _ = writeln!(s, "- ECP5 LUT4-eq = LUT4 + 2 × CCU2C (two LUT4s of a slice in carry mode) + MULT18X18D × its equivalent; PFUMX/L6MUX21 are free slice muxes.");
    let eq = dsp_equivalents(results);
    for (t, n) in &eq {
        let bits = super::points::dsp_operand_bits(*t);
        let _ = writeln!(s, "- DSP equivalent on {t}: **{n} LUT4-eq** per DSP block, measured: a signed {bits}×{bits} multiplier synthesized without DSPs (point `{t}.cal-mul{bits}x{bits}`).");
    }
    let _ = writeln!(s, "- ASIC proxy: `synth` (hierarchy kept), `dffunmap` (enable flops become flop + mux), `abc -g cmos2` (NAND/NOR/NOT), `stat -tech cmos` (NOT 2, NAND/NOR 4, DFF 16 transistors) + {ASYNC_FF_TRANSISTORS} per async-reset flop (not priced by yosys 0.23).");
    let _ = writeln!(s, "- MAC int8 (`mac-int8`): the LUT Tensor Core paper's baseline for integer activations, weights dequantized to int8 in the array top and a general act×int8 multiplier per weight with an int32 accumulator; its PE is synthesized as a unit of its own (yosys `keep_hierarchy`) so the multipliers stay int8×int8.");
    let _ = writeln!(s, "- Ratios are baseline area per MAC/cycle ÷ LUT core area per MAC/cycle: > 1 means the LUT core needs that many times less area.\n");

    if rows
        .iter()
        .any(|r| r.ok() && !r.float && r.variant != "cal")
    {
        s.push_str(&int_markdown(results, rows));
    }
    s.push_str(&fp_markdown(results, rows));
    s
}

/// The integer-activation part of `report.md`: the targets of issue #7, the
/// ratio tables at the main shape and the ASIC per-module breakdown.
fn int_markdown(results: &[PointResult], rows: &[Row]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "## The targets of issue #7\n");
    for l in goal_lines(&goals(rows)) {
        let _ = writeln!(s, "- {l}");
    }
    let _ = writeln!(s, "\n(Best = least area per MAC/cycle over every swept shape and g; the MAC side is the better of with and without DSP blocks.)\n");

    let ratios = main_shape_ratios(rows);
    let _ = writeln!(
        s,
        "## LUT core vs baselines at {}×{}×{} (rows × groups × g), area per MAC/cycle\n",
        MAIN_SHAPE.0, MAIN_SHAPE.1, MAIN_SHAPE.2
    );
    for t in Target::ALL {
        let tr: Vec<&Ratio> = ratios.iter().filter(|r| r.target == t).collect();
        if tr.is_empty() {
            continue;
        }
        let _ = writeln!(s, "### {t} ({} per MAC/cycle)\n", t.area_unit());
        let _ = writeln!(s, "| weights | act | LUT core | MAC | LUT/MAC adv. | MAC+DSP | adv. | add/sub | adv. | MAC int8 | adv. |\n|---|---|---|---|---|---|---|---|---|---|---|");
        let mut keys: Vec<(u64, u32, String)> = tr
            .iter()
            .map(|r| (r.weight_bits.to_bits(), r.act_bits, r.weights.clone()))
            .collect();
        keys.sort();
        keys.dedup();
        for (_, act, w) in keys {
            let get = |b: &str| {
                tr.iter()
                    .find(|r| r.weights == w && r.act_bits == act && r.baseline == b)
            };
            let lut = tr
                .iter()
                .find(|r| r.weights == w && r.act_bits == act)
                .map(|r| r.lut)
                .unwrap_or(0.0);
            let cell = |b: &str| match get(b) {
                Some(r) => (format!("{:.1}", r.base), format!("{:.2}x", r.advantage)),
                None => ("-".into(), "-".into()),
            };
            let (m, ma) = cell("mac");
            let (d, da) = cell("mac-dsp");
            let (a, aa) = cell("addsub");
            let (i8, i8a) = cell("mac-int8");
            let _ = writeln!(
                s,
                "| {w} | {act} | {lut:.1} | {m} | {ma} | {d} | {da} | {a} | {aa} | {i8} | {i8a} |"
            );
        }
        let _ = writeln!(s);
    }

    let _ = writeln!(
        s,
        "## Where the area goes (ASIC proxy, per module, {}×{}×{})\n",
        MAIN_SHAPE.0, MAIN_SHAPE.1, MAIN_SHAPE.2
    );
    for act in [8, 16] {
        for variant in ["lut", "mac"] {
            let r = results.iter().find(|r| {
                r.status == Status::Ok
                    && r.point.target == Target::Asic
                    && matches!(&r.point.design, Design::Array { variant: v, config: c }
                        if v.to_string() == variant && c.weights.to_string() == "uint1" && c.act == ActType::int(act).expect("8 or 16") && (c.rows, c.k_groups, c.g) == MAIN_SHAPE)
            });
            let Some(r) = r else { continue };
            module_table(&mut s, r);
        }
    }
    s
}

/// The ASIC per-module breakdown of one result (hierarchy kept), as markdown.
fn module_table(s: &mut String, r: &PointResult) {
    let _ = writeln!(
        s,
        "`{}` ({} transistors, {:.0} MAC/cycle):\n",
        r.point.id, r.resources.transistors, r.macs_per_cycle
    );
    let _ = writeln!(
        s,
        "| module | instances | transistors each | total | share |\n|---|---|---|---|---|"
    );
    for m in &r.resources.modules {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {:.0}% |",
            m.name,
            m.instances,
            m.transistors_each + m.async_ffs_each * ASYNC_FF_TRANSISTORS,
            m.transistors_total,
            100.0 * m.transistors_total as f64 / r.resources.transistors.max(1) as f64
        );
    }
    let _ = writeln!(
        s,
        "\n(the top module's own cells are its input registers and wiring logic; flops: {})\n",
        r.resources.ff
    );
}

/// LUT4s of the largest iCE40 (iCE40 HX8K/LP8K: 7680 logic cells). FP points
/// above it are marked: they do not fit any iCE40.
pub const ICE40_MAX_LUT4: u64 = 7680;

/// One of issue 16's targets (FP activations), evaluated best shape against
/// best shape, with both baselines shown.
#[derive(Clone, Debug, Serialize)]
pub struct FpGoal {
    /// What is asked, e.g. "W1×FP16 on the ASIC proxy vs the FP16 MAC".
    pub what: String,
    /// Target.
    pub target: Target,
    /// Activation type (`fp16`, ...).
    pub act: String,
    /// Weight type (`uint1`, ...).
    pub weights: String,
    /// The baseline the target names: `mac` (the paper's) or `addsub` (strict).
    pub baseline: String,
    /// Required advantage (baseline area per MAC/cycle ÷ LUT's).
    pub required: f64,
    /// Best LUT point and its area per MAC/cycle.
    pub lut: Option<(String, f64)>,
    /// Best paper's MAC point and its area per MAC/cycle.
    pub mac: Option<(String, f64)>,
    /// Best strict add/sub point and its area per MAC/cycle.
    pub addsub: Option<(String, f64)>,
    /// Best-vs-best advantage over the named baseline.
    pub advantage: Option<f64>,
    /// Met or not (None: points missing).
    pub met: Option<bool>,
    /// Best LUT point with exact accumulation (docs/decisions.md §21).
    pub lut_exact: Option<(String, f64)>,
    /// Best add/sub point with exact accumulation.
    pub addsub_exact: Option<(String, f64)>,
    /// The exact LUT's advantage over the named baseline: the paper's MAC
    /// (binary32, it has no exact mode) or, for the add/sub target, the exact
    /// add/sub (the same numerics on both sides).
    pub exact_advantage: Option<f64>,
}

/// The targets of issue 16: (target, act, weights, baseline, required).
pub const FP_TARGETS: [(Target, &str, &str, &str, f64); 7] = [
    (Target::Asic, "fp16", "uint1", "mac", 5.0),
    (Target::Asic, "fp16", "uint1", "addsub", 2.0),
    (Target::Asic, "fp16", "uint2", "mac", 3.0),
    (Target::Asic, "fp16", "uint4", "mac", 1.5),
    (Target::Asic, "fp8-e4m3", "uint1", "mac", 3.0),
    (Target::Asic, "fp8-e5m2", "uint1", "mac", 3.0),
    (Target::Ecp5, "fp16", "uint1", "mac", 3.0),
];

/// `W1×FP16`-style label of a (weights, act) pair.
fn fp_label(weights: &str, act: &str) -> String {
    let w = match weights {
        "ternary" => "W1.58".to_string(),
        w => format!("W{}", w.trim_start_matches("uint")),
    };
    format!("{w}×{}", act.to_uppercase())
}

/// Name of an FP baseline in the report.
fn fp_baseline_name(variant: &str, act: &str) -> String {
    match variant {
        "mac" => format!(
            "the {} MAC (paper's: dequantized weight, FP multiplier)",
            act.to_uppercase()
        ),
        _ => "the FP add-tree (strict add/sub: integer weight, no multiplier)".to_string(),
    }
}

/// Issue 16's targets, evaluated on `rows`.
pub fn fp_goals(rows: &[Row]) -> Vec<FpGoal> {
    FP_TARGETS
        .iter()
        .map(|&(t, act, w, baseline, required)| {
            let pick =
                |v: &str| best(rows, t, w, act, &[v]).map(|r| (r.id.clone(), r.area_per_mac));
            let (lut, mac, addsub) = (pick("lut"), pick("mac"), pick("addsub"));
            let base = if baseline == "mac" { &mac } else { &addsub };
            let advantage = match (&lut, base) {
                (Some((_, l)), Some((_, b))) => Some(b / l),
                _ => None,
            };
            let exact = |v: &str| pick(&format!("{v}{EXACT_SUFFIX}"));
            let (lut_exact, addsub_exact) = (exact("lut"), exact("addsub"));
            let exact_base = if baseline == "mac" {
                &mac
            } else {
                &addsub_exact
            };
            let exact_advantage = match (&lut_exact, exact_base) {
                (Some((_, l)), Some((_, b))) => Some(b / l),
                _ => None,
            };
            FpGoal {
                what: format!(
                    "{} on {} vs {}",
                    fp_label(w, act),
                    if t == Target::Asic {
                        "the ASIC proxy".to_string()
                    } else {
                        t.to_string().to_uppercase()
                    },
                    fp_baseline_name(baseline, act)
                ),
                target: t,
                act: act.into(),
                weights: w.into(),
                baseline: baseline.into(),
                required,
                lut,
                mac,
                addsub,
                advantage,
                met: advantage.map(|a| a >= required),
                lut_exact,
                addsub_exact,
                exact_advantage,
            }
        })
        .collect()
}

/// One line per FP goal, for the terminal and the report.
pub fn fp_goal_lines(goals: &[FpGoal]) -> Vec<String> {
    goals
        .iter()
        .map(|g| {
            let Some(((lid, la), a)) = g.lut.clone().zip(g.advantage) else {
                return format!("{}: not evaluated (no {} {} LUT and {} results on {} yet)", g.what, g.weights, g.act, g.baseline, g.target);
            };
            let side = |name: &str, b: &Option<(String, f64)>| match b {
                Some((id, v)) => format!("best {name} `{id}` {v:.1} ({:.2}x)", v / la),
                None => format!("no {name} result"),
            };
            let line = format!(
                "{}: need >= {}x fewer {} per MAC/cycle; measured {a:.2}x (**{}**{}) — best LUT `{lid}` {la:.1}; {}; {}",
                g.what,
                g.required,
                g.target.area_unit(),
                if a >= g.required { "MET" } else { "NOT MET" },
                if a >= g.required { format!(", {:.2}x margin", a / g.required) } else { format!(", short by {:.2}x", g.required / a) },
                side("MAC", &g.mac),
                side("add/sub", &g.addsub),
            );
            match (&g.lut_exact, g.exact_advantage) {
                (Some((xid, xa)), Some(xadv)) => {
                    let vs = |name: &str, b: &Option<(String, f64)>| match b {
                        Some((id, v)) => format!("{:.2}x vs the {name} (`{id}` {v:.1})", v / xa),
                        None => format!("no {name} result"),
                    };
                    format!(
                        "{line}. Exact accumulation: best LUT `{xid}` {xa:.1} ({:.2}x the fp32 LUT's area per MAC/cycle) — {}; {}; {} (exact vs exact: the fair strict comparison); against the named baseline {xadv:.2}x (**{}**)",
                        xa / la,
                        vs("MAC", &g.mac),
                        vs("fp32 add/sub", &g.addsub),
                        vs("exact add/sub", &g.addsub_exact),
                        if xadv >= g.required { "MET" } else { "NOT MET" },
                    )
                }
                _ => line,
            }
        })
        .collect()
}

/// The FP activation types in report order.
fn fp_acts() -> Vec<String> {
    super::points::FP_ACTS
        .iter()
        .map(|a| a.to_string())
        .collect()
}

/// Area per MAC/cycle cell with the shape, `-` when missing; iCE40 points
/// above [`ICE40_MAX_LUT4`] carry a dagger.
fn fp_cell(r: Option<&Row>) -> String {
    match r {
        Some(r) => format!(
            "{:.1} ({}){}",
            r.area_per_mac,
            r.shape(),
            if r.target == Target::Ice40 && r.lut4_eq > ICE40_MAX_LUT4 {
                " †"
            } else {
                ""
            }
        ),
        None => "-".into(),
    }
}

fn ratio_cell(base: Option<&Row>, lut: Option<&Row>) -> String {
    match (base, lut) {
        (Some(b), Some(l)) => format!("{:.2}x", b.area_per_mac / l.area_per_mac),
        _ => "-".into(),
    }
}

/// Same-shape row of a (target, act, weights, variant) at `shape` with `tokens` per pass.
fn at_shape<'a>(
    rows: &'a [Row],
    t: Target,
    act: &str,
    w: &str,
    v: &str,
    (shape, tokens): ((u32, u32, u32), u32),
) -> Option<&'a Row> {
    rows.iter().find(|r| {
        r.ok()
            && r.target == t
            && r.act == act
            && r.weights == w
            && r.kind() == v
            && (r.rows, r.k_groups, r.g, r.tokens) == (shape.0, shape.1, shape.2, tokens)
    })
}

/// The paper's-tile row of a (target, act, weights, variant): the whole
/// M2·N64·K4 tile where it was run, else N64·K4 with one token per pass.
fn at_paper_tile<'a>(rows: &'a [Row], t: Target, act: &str, w: &str, v: &str) -> Option<&'a Row> {
    use super::points::{PAPER_SHAPE, PAPER_TOKENS};
    at_shape(rows, t, act, w, v, (PAPER_SHAPE, PAPER_TOKENS))
        .or_else(|| at_shape(rows, t, act, w, v, (PAPER_SHAPE, 1)))
}

/// The report's section "FP activations (issue 16)": the targets, the LUT
/// array against both FP baselines per target (best shape each side, and the
/// paper's M2·N64·K4 tile, M1 where no M2 point was run), and the ASIC
/// per-module breakdown of every missed target's best points.
pub fn fp_markdown(results: &[PointResult], rows: &[Row]) -> String {
    use super::points::{PAPER_SHAPE, PAPER_TOKENS};
    let mut s = String::new();
    if !rows.iter().any(|r| r.float && r.ok()) {
        return s;
    }
    let _ = writeln!(s, "## FP activations (issue 16)\n");
    let _ = writeln!(s, "- LUT: the FP LUT array (binary32 table entries and accumulators, one table per group shared by all rows, mirror half by sign flip, weight planes scaled by an exponent add). MAC: the LUT Tensor Core paper's baseline (each weight dequantized to the activation format, an FP multiplier per weight, FP adder tree, FP accumulator). add/sub: our strict baseline (the integer weight times the activation as a sign flip and shift-add, FP adder tree, FP accumulator). All three compute in binary32 with round-to-nearest-even, in the orders of docs/decisions.md §18.");
    let _ = writeln!(s, "- The FP units (adders, multipliers, widening, plane scaling) are synthesized as units of their own (yosys `keep_hierarchy` on every target): a multiplier fed a dequantized narrow weight stays a general FP multiplier, as in a tensor core, and each distinct unit is mapped once.");
    let _ = writeln!(s, "- The paper's tile is M2·N64·K4: 64 rows × 1 group × g = 4 with 2 tokens per pass (config field `tokens`; each token has its own tables, reads and accumulators, the weights and their decode are shared). The paper's-tile columns show M2 where it was run (shape `M2·64x1x4`), else the same N64·K4 with one token per pass (`64x1x4`); a pass of M tokens completes M times the MACs.");
    let _ = writeln!(s, "- Throughput as above: LUT rows·k_tile/weight bits per cycle (bit-serial planes), MAC and add/sub rows·k_tile. MAC with DSP blocks is not swept for FP (a DSP block at its measured LUT4 equivalent costs more than a whole FP16 multiplier in logic).");
    let _ = writeln!(s, "- † on iCE40: more than {ICE40_MAX_LUT4} LUT4-eq, larger than any iCE40 (HX8K); the count is yosys's, the design does not fit.\n");
    let _ = writeln!(s, "### Targets (best shape each side)\n");
    let goals = fp_goals(rows);
    for l in fp_goal_lines(&goals) {
        let _ = writeln!(s, "- {l}");
    }
    let _ = writeln!(s);
    for t in Target::ALL {
        if !rows.iter().any(|r| r.float && r.ok() && r.target == t) {
            continue;
        }
        let _ = writeln!(
            s,
            "### {t}: {} per MAC/cycle, FP activations\n",
            t.area_unit()
        );
        let _ = writeln!(s, "Best shape each side (shape [M·]rows×groups×g), and the same-shape comparison at the paper's tile M{}·N{}·K{} ({}×{}×{} with {} tokens per pass; M1 where no M2 point was run).\n", PAPER_TOKENS, PAPER_SHAPE.0, PAPER_SHAPE.2, PAPER_SHAPE.0, PAPER_SHAPE.1, PAPER_SHAPE.2, PAPER_TOKENS);
        let _ = writeln!(s, "| act | weights | LUT best | MAC best | adv. | add/sub best | adv. | LUT {p} | MAC {p} | adv. | add/sub {p} | adv. |\n|---|---|---|---|---|---|---|---|---|---|---|---|", p = "paper tile");
        for act in fp_acts() {
            for w in super::points::FP_WEIGHTS.iter().map(|w| w.to_string()) {
                let b = |v: &str| best(rows, t, &w, &act, &[v]);
                let p = |v: &str| at_paper_tile(rows, t, &act, &w, v);
                if b("lut").is_none() && b("mac").is_none() && b("addsub").is_none() {
                    continue;
                }
                let area = |r: Option<&Row>| {
                    r.map(|r| {
                        format!(
                            "{:.1}{}",
                            r.area_per_mac,
                            if r.tokens > 1 {
                                format!(" (M{})", r.tokens)
                            } else {
                                " (M1)".to_string()
                            }
                        )
                    })
                    .unwrap_or_else(|| "-".into())
                };
                let _ = writeln!(
                    s,
                    "| {act} | {w} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    fp_cell(b("lut")),
                    fp_cell(b("mac")),
                    ratio_cell(b("mac"), b("lut")),
                    fp_cell(b("addsub")),
                    ratio_cell(b("addsub"), b("lut")),
                    area(p("lut")),
                    area(p("mac")),
                    ratio_cell(p("mac"), p("lut")),
                    area(p("addsub")),
                    ratio_cell(p("addsub"), p("lut")),
                );
            }
        }
        let _ = writeln!(s);
    }
    exact_tables(&mut s, rows);
    let missed: Vec<&FpGoal> = goals.iter().filter(|g| g.met == Some(false)).collect();
    if !missed.is_empty() {
        let _ = writeln!(
            s,
            "### Where the area goes in the missed targets (ASIC proxy, per module)\n"
        );
        let _ = writeln!(s, "For each missed target: its best LUT point and its best baseline point (for the ECP5 target, the same configs on the ASIC proxy). `lutcore_fp32_add` etc. are the FP units; the LUT array top's own cells are mostly the table reads (one 2^(g-1):1 mux of 32-bit entries per group and row) and its input registers; a PE's own cells are its lookup-stage and accumulator registers and the sign flips.\n");
        let mut shown: Vec<String> = Vec::new();
        for g in missed {
            let base = if g.baseline == "mac" {
                &g.mac
            } else {
                &g.addsub
            };
            let _ = writeln!(s, "#### {}\n", g.what);
            for id in [g.lut.as_ref(), base.as_ref()]
                .into_iter()
                .flatten()
                .map(|(id, _)| id)
            {
                let asic_id = match id.split_once('.') {
                    Some((_, rest)) => format!("asic.{rest}"),
                    None => id.clone(),
                };
                if shown.contains(&asic_id) {
                    let _ = writeln!(s, "`{asic_id}`: see above.\n");
                    continue;
                }
                match results
                    .iter()
                    .find(|r| r.point.id == asic_id && r.status == Status::Ok)
                {
                    Some(r) => module_table(&mut s, r),
                    None => {
                        let _ = writeln!(s, "`{asic_id}`: no ASIC result.\n");
                    }
                }
                shown.push(asic_id);
            }
        }
    }
    s
}

/// The exact-accumulation comparison per target (only where such points
/// exist): the fp32 and the exact LUT side by side against the paper's MAC
/// and both add/sub baselines, at the best shape each side.
fn exact_tables(s: &mut String, rows: &[Row]) {
    let exact = |r: &Row| r.ok() && r.accumulate == Accumulate::Exact.to_string();
    if !rows.iter().any(exact) {
        return;
    }
    let _ = writeln!(
        s,
        "### Exact accumulation (docs/decisions.md §21)
"
    );
    let _ = writeln!(s, "`.xacc` points: activations converted exactly to fixed point (FP16: 41 bits), integer tables, trees and accumulators, one rounding to binary32 per row (the correctly rounded dot product). The MAC has no exact mode: its binary32 points are the comparison. Exact LUT vs exact add/sub is the fair strict comparison (same numerics). Best shape each side.\n");
    for t in Target::ALL {
        if !rows.iter().any(|r| exact(r) && r.target == t) {
            continue;
        }
        let _ = writeln!(s, "#### {t}: {} per MAC/cycle\n", t.area_unit());
        let _ = writeln!(s, "| act | weights | LUT fp32 | LUT exact | MAC | add/sub fp32 | add/sub exact | exact LUT vs MAC | vs add/sub fp32 | vs add/sub exact | exact / fp32 LUT |\n|---|---|---|---|---|---|---|---|---|---|---|");
        for act in fp_acts() {
            for w in super::points::FP_WEIGHTS.iter().map(|w| w.to_string()) {
                let b = |v: &str| best(rows, t, &w, &act, &[v]);
                let (lx, ax) = (
                    b(&format!("lut{EXACT_SUFFIX}")),
                    b(&format!("addsub{EXACT_SUFFIX}")),
                );
                if lx.is_none() && ax.is_none() {
                    continue;
                }
                let _ = writeln!(
                    s,
                    "| {act} | {w} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    fp_cell(b("lut")),
                    fp_cell(lx),
                    fp_cell(b("mac")),
                    fp_cell(b("addsub")),
                    fp_cell(ax),
                    ratio_cell(b("mac"), lx),
                    ratio_cell(b("addsub"), lx),
                    ratio_cell(ax, lx),
                    ratio_cell(lx, b("lut")).replace('x', "")
                );
            }
        }
        let _ = writeln!(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dse::points::{Point, SWEEP_MAX_K};
    use crate::dse::synth::Resources;
    use lutcore_contract::config::{Arch, RawArrayConfig};
    use lutcore_contract::WeightType;

    fn result(point: Point, macs: f64, res: Resources) -> PointResult {
        PointResult {
            point,
            status: Status::Ok,
            error: None,
            key: "k".into(),
            macs_per_cycle: macs,
            resources: res,
            yosys_seconds: 1.0,
            yosys_version: "Yosys test".into(),
            finished_unix: 0,
        }
    }

    fn cfg(arch: Arch) -> RawArrayConfig {
        RawArrayConfig {
            arch,
            rows: 8,
            k_groups: 2,
            g: 4,
            weights: WeightType::Uint(1),
            act: lutcore_contract::ActType::Int8,
            max_k: SWEEP_MAX_K,
            tokens: 1,
            accumulate: lutcore_contract::Accumulate::Fp32,
        }
    }

    #[test]
    fn dsp_needs_calibration_and_ratios_follow_it() {
        let lut = result(
            Point::array(Target::Ecp5, Variant::Lut, cfg(Arch::Lut)),
            64.0,
            Resources {
                lut4: 900,
                carry: 50,
                carry_lut4: 100,
                ..Default::default()
            },
        );
        let mac = result(
            Point::array(Target::Ecp5, Variant::MacDsp, cfg(Arch::Mac)),
            64.0,
            Resources {
                lut4: 1000,
                dsp: 2,
                ..Default::default()
            },
        );
        let rs = rows(&[lut.clone(), mac.clone()]);
        assert_eq!(
            rs[1].status, "incomplete",
            "DSPs without a calibration cannot be priced"
        );
        assert!(goals(&rs)[0].advantage.is_none());

        let cal = result(
            Point::calibration(Target::Ecp5),
            0.0,
            Resources {
                lut4: 400,
                carry_lut4: 100,
                ..Default::default()
            },
        );
        let rs = rows(&[lut, mac, cal]);
        assert_eq!(rs[1].lut4_eq, 1000 + 2 * 500);
        assert_eq!(rs[0].lut4_eq, 1000);
        let g = &goals(&rs)[0];
        assert_eq!(g.advantage, Some(2.0));
        assert_eq!(g.met, Some(true));
        let r = main_shape_ratios(&rs);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].baseline, "mac-dsp");
    }

    fn fp_point(arch: Arch, v: Variant, act: ActType, shape: (u32, u32, u32)) -> Point {
        let c = RawArrayConfig::new(
            arch,
            shape.0,
            shape.1,
            shape.2,
            WeightType::Uint(1),
            act,
            SWEEP_MAX_K,
        );
        Point::array(Target::Asic, v, c)
    }

    /// A finished ASIC result of `fp_point(arch, v, act, shape)`: rows x k x g
    /// MACs per cycle at `per_mac` transistors each.
    fn fp_result(
        arch: Arch,
        v: Variant,
        act: ActType,
        shape: (u32, u32, u32),
        per_mac: u64,
    ) -> PointResult {
        let macs = u64::from(shape.0 * shape.1 * shape.2);
        result(
            fp_point(arch, v, act, shape),
            macs as f64,
            asic(macs * per_mac),
        )
    }

    fn asic(transistors: u64) -> Resources {
        Resources {
            transistors,
            ..Default::default()
        }
    }

    /// Exact points are their own kind: they never stand in for the binary32
    /// LUT or add/sub, the goal lines show them beside, and the exact LUT is
    /// compared with the exact add/sub.
    /// The ASIC point of `fp_point(arch, v, Fp16, (64, 1, 4))` with exact
    /// accumulation and weights `weights`.
    fn exact_point(arch: Arch, v: Variant, weights: WeightType) -> Point {
        let p = fp_point(arch, v, ActType::Fp16, (64, 1, 4));
        let Design::Array { mut config, .. } = p.design else {
            unreachable!()
        };
        config.weights = weights;
        Point::array(Target::Asic, v, config.with_accumulate(Accumulate::Exact))
    }

    #[test]
    fn exact_points_are_reported_beside_the_fp32_ones() {
        let exact = |arch, v| exact_point(arch, v, WeightType::Uint(1));
        let fp32_only = vec![
            fp_result(Arch::Lut, Variant::Lut, ActType::Fp16, (64, 1, 4), 100),
            fp_result(Arch::Mac, Variant::Mac, ActType::Fp16, (64, 1, 4), 600),
            fp_result(
                Arch::AddSub,
                Variant::AddSub,
                ActType::Fp16,
                (64, 1, 4),
                300,
            ),
        ];
        let before = fp_goal_lines(&fp_goals(&rows(&fp32_only)));
        let mut results = fp32_only.clone();
        // Exact LUT 50/MAC (less than the fp32 LUT), exact add/sub 200/MAC.
        results.push(result(
            exact(Arch::Lut, Variant::Lut),
            256.0,
            asic(256 * 50),
        ));
        results.push(result(
            exact(Arch::AddSub, Variant::AddSub),
            256.0,
            asic(256 * 200),
        ));
        let rs = rows(&results);
        assert_eq!(rs[3].kind(), "lut.xacc");
        assert_eq!(rs[3].id, "asic.lut.uint1.afp16.r64k1g4.m4096.xacc");
        let goals = fp_goals(&rs);
        // The fp32 numbers are unchanged by the exact points.
        assert_eq!(goals[0].advantage, Some(6.0));
        assert_eq!(goals[1].advantage, Some(3.0));
        assert_eq!(goals[0].exact_advantage, Some(12.0));
        assert_eq!(
            goals[1].exact_advantage,
            Some(4.0),
            "exact vs exact add/sub"
        );
        let lines = fp_goal_lines(&goals);
        assert!(lines[0].starts_with(&before[0]), "{}", lines[0]);
        assert!(
            lines[1].contains("4.00x vs the exact add/sub")
                && lines[1].contains("6.00x vs the fp32 add/sub"),
            "{}",
            lines[1]
        );
        let md = fp_markdown(&results, &rs);
        assert!(md.contains("### Exact accumulation"), "{md}");
        assert!(
            md.contains("| fp16 | uint1 | 100.0 (64x1x4) | 50.0 (64x1x4) | 600.0 (64x1x4) | 300.0 (64x1x4) | 200.0 (64x1x4) | 12.00x | 6.00x | 4.00x | 0.50 |"),
            "{md}"
        );
        // Without exact points the section is absent.
        assert!(!fp_markdown(&fp32_only, &rows(&fp32_only)).contains("Exact accumulation"));
    }

    /// FP goals pick the best shape each side, quote both baselines, and
    /// never mix FP16 rows with int16 rows (same 16 activation bits).
    #[test]
    fn fp_goals_take_best_shapes_and_keep_types_apart() {
        let results = vec![
            // W1×FP16: LUT best at 64×1×5 (100/MAC), MAC 600/MAC, add/sub 150/MAC.
            fp_result(Arch::Lut, Variant::Lut, ActType::Fp16, (64, 1, 4), 120),
            fp_result(Arch::Lut, Variant::Lut, ActType::Fp16, (64, 1, 5), 100),
            fp_result(Arch::Mac, Variant::Mac, ActType::Fp16, (64, 1, 4), 600),
            fp_result(
                Arch::AddSub,
                Variant::AddSub,
                ActType::Fp16,
                (64, 1, 4),
                150,
            ),
            // An int16 LUT with less area must not count for FP16.
            fp_result(Arch::Lut, Variant::Lut, ActType::Int16, (64, 1, 4), 1),
        ];
        let rs = rows(&results);
        assert_eq!(rs.iter().filter(|r| r.float).count(), 4);
        let goals = fp_goals(&rs);
        let w1_mac = &goals[0];
        assert_eq!(
            (w1_mac.act.as_str(), w1_mac.baseline.as_str()),
            ("fp16", "mac")
        );
        assert_eq!(
            w1_mac.lut.as_ref().unwrap().0,
            "asic.lut.uint1.afp16.r64k1g5.m4096"
        );
        assert_eq!(w1_mac.advantage, Some(6.0));
        assert_eq!(w1_mac.met, Some(true));
        let w1_add = &goals[1];
        assert_eq!(w1_add.advantage, Some(1.5));
        assert_eq!(w1_add.met, Some(false), "1.5x < 2x");
        // Targets without points are not evaluated.
        assert!(goals[2].met.is_none());
        let lines = fp_goal_lines(&goals);
        assert!(
            lines[0].contains("MET") && lines[0].contains("6.00x"),
            "{}",
            lines[0]
        );
        assert!(lines[1].contains("NOT MET"), "{}", lines[1]);
        assert!(lines[2].contains("not evaluated"), "{}", lines[2]);
        let md = fp_markdown(&results, &rs);
        assert!(md.contains("## FP activations (issue 16)"));
        assert!(
            md.contains("| fp16 | uint1 | 100.0 (64x1x5) | 600.0 (64x1x4) | 6.00x |"),
            "{md}"
        );
        // The missed target (vs add/sub) shows both points' breakdowns.
        assert!(
            md.contains("`asic.addsub.uint1.afp16.r64k1g4.m4096` (38400 transistors"),
            "{md}"
        );
        // Integer tables and goals ignore FP rows.
        assert!(main_shape_ratios(&rs).is_empty());
    }

    /// A weight type with only exact-accumulation points (as the ECP5 ternary
    /// points once were) gets no Pareto panel. The plots are drawn, and in
    /// bounded time: an empty panel used to make plotters loop forever.
    /// Needs a TrueType font (`make deps` installs fonts-dejavu-core).
    #[test]
    fn plots_of_a_weight_type_with_only_exact_points_are_drawn() {
        let mut results = vec![
            fp_result(Arch::Lut, Variant::Lut, ActType::Fp16, (64, 1, 4), 100),
            fp_result(Arch::Mac, Variant::Mac, ActType::Fp16, (64, 1, 4), 600),
        ];
        for (arch, v) in [(Arch::Lut, Variant::Lut), (Arch::AddSub, Variant::AddSub)] {
            let p = exact_point(arch, v, WeightType::Uint(2));
            results.push(result(p, 128.0, asic(128 * 70)));
        }
        let rs = rows(&results);
        assert_eq!(rs.iter().filter(|r| r.weights == "uint2").count(), 2);
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().to_path_buf();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(crate::dse::plot::write_all(&out, &rs).map_err(|e| e.to_string()));
        });
        let written = rx
            .recv_timeout(std::time::Duration::from_secs(120))
            .expect("drawing the plots did not finish in 120 s")
            .expect("drawing the plots failed");
        assert!(
            written.iter().any(|p| p.ends_with("pareto_asic.svg")),
            "{written:?}"
        );
        for p in &written {
            assert!(
                std::fs::metadata(p).unwrap().len() > 0,
                "{} is empty",
                p.display()
            );
        }
    }
}
