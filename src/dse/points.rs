//! The sweep: synthesis targets, design points, their stable ids, and the
//! quick and full point lists. A point is one independent yosys job.

use std::fmt;
use std::str::FromStr;

use anyhow::{bail, Result};
use lutcore_contract::config::{Arch, RawArrayConfig};
use lutcore_contract::{Accumulate, ActType, WeightType};
use serde::{Deserialize, Serialize};

/// Longest K every swept array holds exactly (accumulator width).
pub const SWEEP_MAX_K: u32 = 4096;

/// A synthesis target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// Lattice iCE40 (`synth_ice40`): SB_LUT4, SB_CARRY, SB_MAC16.
    Ice40,
    /// Lattice ECP5 (`synth_ecp5`): LUT4, CCU2C, MULT18X18D.
    Ecp5,
    /// ASIC-like proxy: generic `synth`, CMOS gates (`abc -g cmos2`), `stat -tech cmos`.
    Asic,
}

impl Target {
    /// Every target, in sweep order.
    pub const ALL: [Target; 3] = [Target::Ice40, Target::Ecp5, Target::Asic];

    /// Whether area is counted in LUT4 equivalents (FPGA) rather than transistors.
    pub fn is_fpga(self) -> bool {
        self != Target::Asic
    }

    /// Name of the area unit of this target.
    pub fn area_unit(self) -> &'static str {
        if self.is_fpga() {
            "LUT4-eq"
        } else {
            "transistors"
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Target::Ice40 => "ice40",
            Target::Ecp5 => "ecp5",
            Target::Asic => "asic",
        })
    }
}

impl FromStr for Target {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ice40" => Ok(Target::Ice40),
            "ecp5" => Ok(Target::Ecp5),
            "asic" => Ok(Target::Asic),
            other => bail!("unknown target `{other}` (expected ice40, ecp5 or asic)"),
        }
    }
}

/// The datapath variant of a point: the array's arch plus, for the MAC
/// baseline, whether yosys may map multipliers to DSP blocks and whether the
/// weights are first widened to int8.
///
/// With FP activations, `mac` is the LUT Tensor Core paper's baseline (weights
/// dequantized to the activation format, FP multipliers) and `addsub` the
/// strict one (integer weights: sign flip and shift-add of the activation, any
/// weight type); both feed an FP adder tree and an FP accumulator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Variant {
    /// The LUT array.
    #[serde(rename = "lut")]
    Lut,
    /// The MAC baseline in logic only (no DSP blocks; the only MAC on the ASIC proxy).
    #[serde(rename = "mac")]
    Mac,
    /// The MAC baseline with multipliers mapped to DSP blocks where yosys chooses to.
    #[serde(rename = "mac-dsp")]
    MacDsp,
    /// The add/sub baseline: ternary weights with integer activations, any
    /// weight type with FP activations.
    #[serde(rename = "addsub")]
    AddSub,
    /// The paper's baseline for integer activations: weights dequantized to
    /// int8, one `act_bits`×8 multiplier per weight
    /// ([`lutcore_gen::mac::int8_modules`]), no DSP blocks.
    #[serde(rename = "mac-int8")]
    MacInt8,
}

impl Variant {
    /// Every variant, LUT first.
    pub const ALL: [Variant; 5] = [
        Variant::Lut,
        Variant::Mac,
        Variant::MacDsp,
        Variant::AddSub,
        Variant::MacInt8,
    ];

    /// The generator arch of this variant.
    pub fn arch(self) -> Arch {
        match self {
            Variant::Lut => Arch::Lut,
            Variant::Mac | Variant::MacDsp | Variant::MacInt8 => Arch::Mac,
            Variant::AddSub => Arch::AddSub,
        }
    }

    /// Whether yosys may use DSP blocks.
    pub fn dsp(self) -> bool {
        self == Variant::MacDsp
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Variant::Lut => "lut",
            Variant::Mac => "mac",
            Variant::MacDsp => "mac-dsp",
            Variant::AddSub => "addsub",
            Variant::MacInt8 => "mac-int8",
        })
    }
}

/// What a point synthesizes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Design {
    /// A generated array (`lutcore_gen::generate`), the core only.
    Array {
        /// Datapath variant.
        variant: Variant,
        /// The array config.
        config: RawArrayConfig,
    },
    /// DSP calibration: a signed `bits`×`bits` multiplier in logic only, whose
    /// LUT4-equivalent count stands for one DSP block of the target.
    DspCalibration {
        /// Operand width (ECP5 MULT18X18D: 18; iCE40 SB_MAC16: 16).
        bits: u32,
    },
}

/// One independent synthesis job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Point {
    /// Stable identifier, also the result file name, e.g.
    /// `ecp5.lut.uint1.a8.r8k2g4.m4096` (int8 activations) or
    /// `asic.mac.uint2.afp16.r64k1g4.m4096` (FP16); `.t2` is appended for 2
    /// tokens per pass, then `.xacc` for exact accumulation
    /// (`asic.lut.uint1.afp16.r64k1g4.m4096.xacc`), nothing for the defaults.
    pub id: String,
    /// Synthesis target.
    pub target: Target,
    /// What is synthesized.
    pub design: Design,
}

impl Point {
    /// A point synthesizing an array.
    pub fn array(target: Target, variant: Variant, config: RawArrayConfig) -> Point {
        let c = &config;
        let tokens = match c.tokens {
            1 => String::new(),
            t => format!(".t{t}"),
        };
        let id = format!(
            "{target}.{variant}.{}.a{}.r{}k{}g{}.m{}{tokens}{}",
            c.weights,
            act_label(c.act),
            c.rows,
            c.k_groups,
            c.g,
            c.max_k,
            match c.accumulate {
                Accumulate::Exact => EXACT_SUFFIX,
                Accumulate::Fp32 => "",
            }
        );
        Point {
            id,
            target,
            design: Design::Array { variant, config },
        }
    }

    /// The DSP calibration point of an FPGA target.
    pub fn calibration(target: Target) -> Point {
        let bits = dsp_operand_bits(target);
        Point {
            id: format!("{target}.cal-mul{bits}x{bits}"),
            target,
            design: Design::DspCalibration { bits },
        }
    }

    /// One line describing the point (for `--list`).
    pub fn describe(&self) -> String {
        match &self.design {
            Design::Array { variant, config: c } => format!(
                "target={} variant={variant} arch={} rows={} k_groups={} g={} weights={} {} max_k={}{} dsp={}",
                self.target,
                c.arch,
                c.rows,
                c.k_groups,
                c.g,
                c.weights,
                if c.act.is_float() {
                    format!("activations={}", c.act)
                } else {
                    format!("act_bits={}", c.act.bits())
                },
                c.max_k,
                match c.tokens {
                    1 => String::new(),
                    t => format!(" tokens={t}"),
                },
                if variant.dsp() { "yes" } else { "no" }
            ) + match c.accumulate {
                Accumulate::Exact => " accumulate=exact",
                Accumulate::Fp32 => "",
            },
            Design::DspCalibration { bits } => {
                format!("target={} calibration: signed {bits}x{bits} multiplier in logic (LUT4 equivalent of one DSP block)", self.target)
            }
        }
    }
}

/// The end of the id of a point with exact accumulation (`"accumulate":
/// "exact"`), e.g. `asic.lut.uint1.afp16.r64k1g4.m4096.xacc`; binary32 points
/// have none.
pub const EXACT_SUFFIX: &str = ".xacc";

/// The activation part of a point id after `a`: the width of an integer
/// type (`8`, `16`), the name of a float (`fp16`, `fp8-e4m3`).
pub fn act_label(act: ActType) -> String {
    if act.is_float() {
        act.to_string()
    } else {
        act.bits().to_string()
    }
}

/// Operand width of the multiplier one DSP block of `target` implements.
pub fn dsp_operand_bits(target: Target) -> u32 {
    match target {
        Target::Ice40 => 16,
        Target::Ecp5 | Target::Asic => 18,
    }
}

fn cfg(
    arch: Arch,
    (rows, k_groups, g): (u32, u32, u32),
    weights: WeightType,
    act_bits: u32,
) -> RawArrayConfig {
    let act = ActType::int(act_bits).expect("the sweep's activation widths are 8 and 16");
    RawArrayConfig::new(arch, rows, k_groups, g, weights, act, SWEEP_MAX_K)
}

/// The baseline variants of integer activations that exist on `target`: the
/// narrow MAC (and with DSP blocks on an FPGA), the paper's
/// dequantize-to-INT8 MAC, and for ternary weights the add/sub array.
fn baselines(target: Target, weights: WeightType) -> Vec<Variant> {
    let mut v = vec![Variant::Mac];
    if target.is_fpga() {
        v.push(Variant::MacDsp);
    }
    if weights == WeightType::Ternary {
        v.push(Variant::AddSub);
    }
    v.push(Variant::MacInt8);
    v
}

/// Push the LUT array and every baseline of one (shape, weights, act_bits).
fn push_all(
    points: &mut Vec<Point>,
    target: Target,
    shape: (u32, u32, u32),
    w: WeightType,
    a: u32,
) {
    points.push(Point::array(
        target,
        Variant::Lut,
        cfg(Arch::Lut, shape, w, a),
    ));
    for v in baselines(target, w) {
        points.push(Point::array(target, v, cfg(v.arch(), shape, w, a)));
    }
}

/// The shape all ratios are quoted at: 8 rows × 2 groups × g=4 (8 activations per beat).
pub const MAIN_SHAPE: (u32, u32, u32) = (8, 2, 4);

/// The quick sweep (`--quick`): about 90 points, 10–20 minutes on 2 cores
/// shared with other jobs (the slowest points are MAC baselines: yosys spends
/// minutes on iCE40 ternary multipliers).
///
/// Per target: LUT and every baseline at [`MAIN_SHAPE`] for uint1, ternary,
/// uint2 and uint4 with int8 activations, and for uint1 and ternary with int16
/// (not on iCE40); the LUT array at g = 2, 3, 5 (uint1, int8); two more shapes
/// (4×1×4 for uint1 and ternary, 16×2×4 for uint1; int8); a 32×4×4 LUT array
/// and MAC for uint1 on ECP5 (int8) and the ASIC proxy (int8, int16), where the
/// tables are shared by more rows; and on the FPGA targets the DSP calibration.
pub fn quick(targets: &[Target]) -> Vec<Point> {
    use WeightType::{Ternary, Uint};
    let mut points = Vec::new();
    for &t in targets {
        if t.is_fpga() {
            points.push(Point::calibration(t));
        }
        for w in [Uint(1), Ternary, Uint(2), Uint(4)] {
            let a16 = matches!(w, Uint(1) | Ternary) && t != Target::Ice40;
            let acts: &[u32] = if a16 { &[8, 16] } else { &[8] };
            for &a in acts {
                push_all(&mut points, t, MAIN_SHAPE, w, a);
            }
        }
        for g in [2, 3, 5] {
            points.push(Point::array(
                t,
                Variant::Lut,
                cfg(Arch::Lut, (8, 2, g), Uint(1), 8),
            ));
        }
        for w in [Uint(1), Ternary] {
            push_all(&mut points, t, (4, 1, 4), w, 8);
        }
        push_all(&mut points, t, (16, 2, 4), Uint(1), 8);
        let big_acts: &[u32] = match t {
            Target::Ice40 => &[],
            Target::Ecp5 => &[8],
            Target::Asic => &[8, 16],
        };
        for &a in big_acts {
            for v in [Variant::Lut, Variant::Mac, Variant::MacInt8] {
                points.push(Point::array(t, v, cfg(v.arch(), (32, 4, 4), Uint(1), a)));
            }
        }
    }
    points.extend(fp_quick(targets));
    points.extend(fp_exact(targets));
    points
}

/// The N·K part of the LUT Tensor Core paper's tile for FP activations,
/// M2·N64·K4: 64 rows × 1 group × g = 4; with [`PAPER_TOKENS`] tokens per
/// pass it is the whole tile.
pub const PAPER_SHAPE: (u32, u32, u32) = (64, 1, 4);

/// The M of the paper's tile: 2 tokens per pass.
pub const PAPER_TOKENS: u32 = 2;

/// The weight types of the paper-tile (M2·N64·K4) points of the quick sweep.
pub const PAPER_TILE_WEIGHTS: [WeightType; 3] = [
    WeightType::Uint(1),
    WeightType::Uint(2),
    WeightType::Uint(4),
];

/// The FP activation types swept, in report order.
pub const FP_ACTS: [ActType; 4] = [
    ActType::Fp16,
    ActType::Bf16,
    ActType::Fp8E4m3,
    ActType::Fp8E5m2,
];

/// The weight types of the FP sweep, in report order.
pub const FP_WEIGHTS: [WeightType; 4] = [
    WeightType::Uint(1),
    WeightType::Uint(2),
    WeightType::Uint(4),
    WeightType::Ternary,
];

/// The variants of an FP comparison: the LUT array, the paper's MAC
/// (weights dequantized to the activation format, FP multipliers) and the
/// strict add/sub baseline (integer weights, no multiplier). MAC with DSP
/// blocks is left out: a MULT18X18D priced at its measured LUT4 equivalent
/// (about 2000) costs more than the whole FP16 multiplier in logic.
pub const FP_VARIANTS: [Variant; 3] = [Variant::Lut, Variant::Mac, Variant::AddSub];

fn fp_cfg(
    arch: Arch,
    (rows, k_groups, g): (u32, u32, u32),
    w: WeightType,
    act: ActType,
) -> RawArrayConfig {
    RawArrayConfig::new(arch, rows, k_groups, g, w, act, SWEEP_MAX_K)
}

/// Whether every value of `w` is exact in the FP format of `a`, as the paper's
/// MAC needs to dequantize it (fp8-e5m2 has no 9: uint4 cannot be dequantized
/// to it, and the generator refuses that MAC).
pub fn dequantizable(w: WeightType, a: ActType) -> bool {
    let Some(f) = a.float_format() else {
        return true;
    };
    (w.min_value()..=w.max_value()).all(|v| f.decode(f.round(f64::from(v))) == f64::from(v))
}

/// Push the LUT array and both FP baselines of one (shape, weights, act);
/// the paper's MAC only where the weights can be dequantized to the format.
fn push_fp(points: &mut Vec<Point>, t: Target, shape: (u32, u32, u32), w: WeightType, a: ActType) {
    push_fp_tokens(points, t, shape, w, a, 1);
}

/// [`push_fp`] with `tokens` tokens per pass.
fn push_fp_tokens(
    points: &mut Vec<Point>,
    t: Target,
    shape: (u32, u32, u32),
    w: WeightType,
    a: ActType,
    tokens: u32,
) {
    for v in FP_VARIANTS {
        if v == Variant::Mac && !dequantizable(w, a) {
            continue;
        }
        let cfg = fp_cfg(v.arch(), shape, w, a).with_tokens(tokens);
        points.push(Point::array(t, v, cfg));
    }
}

/// The FP part of the quick sweep, after every integer point: about 80
/// points, sized by measurement (yosys spends 10–25 s of CPU on one 64-row FP
/// point, several minutes of wall time on 2 busy cores), trimmed in shapes,
/// not in types.
///
/// ASIC proxy: every FP type × uint1, uint2, uint4, ternary at the paper's
/// 64×1×4 tile for the LUT array and both baselines; the LUT array at g = 5
/// (64×1×5) for uint1 of every type and uint2, uint4 of fp16; fp16 uint1 at
/// the main shape 8×2×4 and at 64×2×4 (and the LUT array at 64×2×4 for fp16
/// uint2, uint4). ECP5: every FP type × uint1 at 64×1×4. iCE40: FP
/// arrays exceed the largest iCE40 (7680 LUT4) except at toy sizes, so only
/// fp8-e4m3 uint1 at 4×1×4, marked in the report when it does not fit.
/// Then, on ECP5 and the ASIC proxy, the paper's whole tile M2·N64·K4
/// (64×1×4, 2 tokens per pass) for fp16 × uint1, uint2, uint4, all three
/// variants ([`paper_tile`]), last so that every earlier index stays.
pub fn fp_quick(targets: &[Target]) -> Vec<Point> {
    use WeightType::Uint;
    let mut points = Vec::new();
    for &t in targets {
        match t {
            Target::Ice40 => push_fp(&mut points, t, (4, 1, 4), Uint(1), ActType::Fp8E4m3),
            Target::Ecp5 => {
                for a in FP_ACTS {
                    push_fp(&mut points, t, PAPER_SHAPE, Uint(1), a);
                }
            }
            Target::Asic => {
                for a in FP_ACTS {
                    for w in FP_WEIGHTS {
                        push_fp(&mut points, t, PAPER_SHAPE, w, a);
                    }
                    let g5: &[WeightType] = if a == ActType::Fp16 {
                        &[Uint(1), Uint(2), Uint(4)]
                    } else {
                        &[Uint(1)]
                    };
                    for &w in g5 {
                        points.push(Point::array(
                            t,
                            Variant::Lut,
                            fp_cfg(Arch::Lut, (64, 1, 5), w, a),
                        ));
                    }
                }
                push_fp(&mut points, t, MAIN_SHAPE, Uint(1), ActType::Fp16);
                // Two groups per beat: each row's accumulator add and its
                // lookups spread over 8 activations instead of 4.
                push_fp(&mut points, t, (64, 2, 4), Uint(1), ActType::Fp16);
                for w in [Uint(2), Uint(4)] {
                    points.push(Point::array(
                        t,
                        Variant::Lut,
                        fp_cfg(Arch::Lut, (64, 2, 4), w, ActType::Fp16),
                    ));
                }
            }
        }
    }
    points.extend(paper_tile(targets));
    points
}

/// The paper's tile M2·N64·K4 ([`PAPER_SHAPE`], [`PAPER_TOKENS`] tokens per
/// pass) for fp16 × [`PAPER_TILE_WEIGHTS`], LUT and both FP baselines, on ECP5
/// and the ASIC proxy (an FP array of this size is far beyond any iCE40).
pub fn paper_tile(targets: &[Target]) -> Vec<Point> {
    let mut points = Vec::new();
    for &t in targets.iter().filter(|&&t| t != Target::Ice40) {
        for w in PAPER_TILE_WEIGHTS {
            push_fp_tokens(&mut points, t, PAPER_SHAPE, w, ActType::Fp16, PAPER_TOKENS);
        }
    }
    points
}

/// The weight × activation pairs of the exact-accumulation sweep: FP16 with
/// every swept weight type, both FP8 formats with uint1.
pub const EXACT_PAIRS: [(WeightType, ActType); 6] = [
    (WeightType::Uint(1), ActType::Fp16),
    (WeightType::Uint(2), ActType::Fp16),
    (WeightType::Uint(4), ActType::Fp16),
    (WeightType::Ternary, ActType::Fp16),
    (WeightType::Uint(1), ActType::Fp8E4m3),
    (WeightType::Uint(1), ActType::Fp8E5m2),
];

/// The exact-accumulation points (`"accumulate": "exact"`, ids ending in
/// [`EXACT_SUFFIX`]): the LUT array and the add/sub baseline for every pair of
/// [`EXACT_PAIRS`] at the paper's 64×1×4 tile and at 64×2×4, on the ASIC proxy
/// and ECP5 (not iCE40: the FP arrays do not fit it); then, on the ASIC
/// proxy, both at the paper's whole tile M2·N64·K4 for fp16 × uint1 (ids
/// ending in `.t2.xacc`), last so that every earlier index stays. The MAC has
/// no exact mode: its binary32 points are the reference there.
pub fn fp_exact(targets: &[Target]) -> Vec<Point> {
    let mut points = Vec::new();
    for &t in targets {
        if t == Target::Ice40 {
            continue;
        }
        for (w, a) in EXACT_PAIRS {
            for shape in [PAPER_SHAPE, (64, 2, 4)] {
                for v in [Variant::Lut, Variant::AddSub] {
                    let c = fp_cfg(v.arch(), shape, w, a).with_accumulate(Accumulate::Exact);
                    points.push(Point::array(t, v, c));
                }
            }
        }
    }
    if targets.contains(&Target::Asic) {
        for v in [Variant::Lut, Variant::AddSub] {
            let c = fp_cfg(v.arch(), PAPER_SHAPE, WeightType::Uint(1), ActType::Fp16)
                .with_tokens(PAPER_TOKENS)
                .with_accumulate(Accumulate::Exact);
            points.push(Point::array(Target::Asic, v, c));
        }
    }
    points
}

/// The FP part of the full sweep: every FP type × uint1, uint2, uint4,
/// ternary × g = 4 and 5 × shapes 8×2×g, 64×1×g, 32×4×g for the LUT array and
/// both baselines, on every target (iCE40 results beyond its largest part are
/// marked in the report).
pub fn fp_full(targets: &[Target]) -> Vec<Point> {
    let mut points = Vec::new();
    for &t in targets {
        for a in FP_ACTS {
            for w in FP_WEIGHTS {
                for g in [4, 5] {
                    for (rows, k_groups) in [(8, 2), (64, 1), (32, 4)] {
                        push_fp(&mut points, t, (rows, k_groups, g), w, a);
                    }
                }
            }
        }
    }
    points
}

/// The full sweep (default): every weight type × int8/int16 × four shapes
/// (4×1×4, 8×2×4, 16×2×4, 32×4×4) for every variant, and g = 2..5 for the
/// LUT array at 8 rows × 2 groups and 16 rows × 4 groups.
pub fn full(targets: &[Target]) -> Vec<Point> {
    let mut points = Vec::new();
    let shapes = [(4, 1, 4), MAIN_SHAPE, (16, 2, 4), (32, 4, 4)];
    for &t in targets {
        if t.is_fpga() {
            points.push(Point::calibration(t));
        }
        for w in WeightType::ALL {
            for a in [8, 16] {
                for shape in shapes {
                    push_all(&mut points, t, shape, w, a);
                }
                for (rows, k_groups) in [(8, 2), (16, 4)] {
                    for g in [2, 3, 5] {
                        points.push(Point::array(
                            t,
                            Variant::Lut,
                            cfg(Arch::Lut, (rows, k_groups, g), w, a),
                        ));
                    }
                }
            }
        }
    }
    points.extend(fp_full(targets));
    points.extend(fp_exact(targets));
    points
}

/// A rough relative synthesis cost, to start the largest points first.
pub fn cost_estimate(p: &Point) -> u64 {
    match &p.design {
        Design::DspCalibration { .. } => 2_000,
        Design::Array { variant, config: c } => {
            // FP arrays compute in binary32 whatever the activation width.
            let act = if c.act.is_float() { 64 } else { c.act.bits() };
            let size = u64::from(c.rows * c.k_groups * c.g * act);
            let mac = match variant {
                // yosys spends most of its time on the baselines' multipliers.
                Variant::Mac | Variant::MacDsp => 2 * u64::from(c.weights.bits()),
                _ => 1,
            };
            let target = if p.target == Target::Asic { 1 } else { 3 };
            size * mac * target
        }
    }
}

/// Find a point by its index in `points` or by its id.
pub fn find<'a>(points: &'a [Point], key: &str) -> Result<&'a Point> {
    if let Ok(i) = key.parse::<usize>() {
        return match points.get(i) {
            Some(p) => Ok(p),
            None => bail!(
                "--point {i}: this sweep has {} points (indices 0..={}); run `lutcore dse --list` with the same --quick/--targets to see them",
                points.len(),
                points.len().saturating_sub(1)
            ),
        };
    }
    match points.iter().find(|p| p.id == key) {
        Some(p) => Ok(p),
        None => bail!("--point {key}: no point with this id in the sweep; run `lutcore dse --list` with the same --quick/--targets to see the ids"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_deterministic_and_ids_unique() {
        for list in [quick(&Target::ALL), full(&Target::ALL)] {
            let mut ids: Vec<&str> = list.iter().map(|p| p.id.as_str()).collect();
            let n = ids.len();
            ids.sort();
            ids.dedup();
            assert_eq!(ids.len(), n, "duplicate point ids");
        }
        assert_eq!(quick(&Target::ALL), quick(&Target::ALL));
        let q = quick(&Target::ALL);
        assert_eq!(q[0].id, "ice40.cal-mul16x16");
        assert_eq!(q[1].id, "ice40.lut.uint1.a8.r8k2g4.m4096");
        // Every array point is a valid config.
        for p in full(&Target::ALL) {
            if let Design::Array { config, .. } = &p.design {
                config
                    .validate()
                    .unwrap_or_else(|e| panic!("{}: {e}", p.id));
            }
        }
    }

    /// FP points carry the type name in their id (`afp16`, never `a16`,
    /// which is int16), validate, and come after every integer point.
    #[test]
    fn fp_points_are_named_by_type_and_valid() {
        let q = quick(&Target::ALL);
        let first_fp = q
            .iter()
            .position(
                |p| matches!(&p.design, Design::Array { config, .. } if config.act.is_float()),
            )
            .unwrap();
        assert!(q[first_fp..]
            .iter()
            .all(|p| matches!(&p.design, Design::Array { config, .. } if config.act.is_float())));
        let fp: Vec<&Point> = q[first_fp..].iter().collect();
        for a in FP_ACTS {
            assert!(fp.iter().any(|p| p.id.contains(&format!(".a{a}."))), "{a}");
        }
        assert!(fp
            .iter()
            .any(|p| p.id == "asic.mac.uint1.afp16.r64k1g4.m4096"));
        assert!(fp
            .iter()
            .any(|p| p.id == "ecp5.addsub.uint1.afp8-e5m2.r64k1g4.m4096"));
        for p in fp_full(&Target::ALL).iter().chain(fp.iter().copied()) {
            let Design::Array { config, variant } = &p.design else {
                panic!("{}: not an array", p.id)
            };
            assert!(FP_VARIANTS.contains(variant), "{}", p.id);
            config
                .validate()
                .unwrap_or_else(|e| panic!("{}: {e}", p.id));
        }
        assert!(!dequantizable(WeightType::Uint(4), ActType::Fp8E5m2));
        assert!(dequantizable(WeightType::Uint(4), ActType::Fp8E4m3));
        assert!(dequantizable(WeightType::Ternary, ActType::Fp8E5m2));
        assert!(!fp
            .iter()
            .any(|p| p.id == "asic.mac.uint4.afp8-e5m2.r64k1g4.m4096"));
        let int16 = Point::array(
            Target::Asic,
            Variant::Lut,
            cfg(Arch::Lut, MAIN_SHAPE, WeightType::Uint(1), 16),
        );
        assert_eq!(int16.id, "asic.lut.uint1.a16.r8k2g4.m4096");
        assert!(int16.describe().contains("act_bits=16"));
        assert!(fp[0].describe().contains("activations=fp"));
    }

    /// The paper's M2·N64·K4 tile: fp16 × uint1, uint2, uint4 × every FP
    /// variant on ECP5 and the ASIC proxy, ids ending in `.t2`; every other id
    /// has no token suffix.
    #[test]
    fn the_paper_tile_has_two_tokens_and_only_its_ids_say_so() {
        let q = quick(&Target::ALL);
        let tile: Vec<&Point> = q.iter().filter(|p| p.id.ends_with(".t2")).collect();
        assert_eq!(tile.len(), 2 * 3 * 3);
        for p in &tile {
            let Design::Array { config, .. } = &p.design else {
                panic!("{}", p.id)
            };
            assert_eq!(
                (
                    config.rows,
                    config.k_groups,
                    config.g,
                    config.tokens,
                    config.act
                ),
                (64, 1, 4, 2, ActType::Fp16),
                "{}",
                p.id
            );
            assert!(p.describe().contains("tokens=2"), "{}", p.id);
        }
        assert!(tile
            .iter()
            .any(|p| p.id == "asic.lut.uint1.afp16.r64k1g4.m4096.t2"));
        assert!(tile
            .iter()
            .any(|p| p.id == "ecp5.addsub.uint4.afp16.r64k1g4.m4096.t2"));
        for p in q.iter().chain(full(&Target::ALL).iter()) {
            if let Design::Array { config, .. } = &p.design {
                let suffix =
                    p.id.trim_end_matches(EXACT_SUFFIX)
                        .rsplit('.')
                        .next()
                        .and_then(|s| s.strip_prefix('t'))
                        .and_then(|s| s.parse::<u32>().ok());
                assert_eq!(
                    suffix,
                    (config.tokens > 1).then_some(config.tokens),
                    "{}",
                    p.id
                );
            }
        }
    }

    #[test]
    fn exact_points_carry_the_suffix_and_leave_other_ids_alone() {
        let q = quick(&Target::ALL);
        let exact: Vec<&Point> = q.iter().filter(|p| p.id.ends_with(EXACT_SUFFIX)).collect();
        // 6 pairs × 2 shapes × 2 variants × (asic, ecp5), and the ASIC's
        // M2 tile for fp16 × uint1, last.
        assert_eq!(exact.len(), 50);
        let m2: Vec<&str> = q[q.len() - 2..].iter().map(|p| p.id.as_str()).collect();
        assert_eq!(
            m2,
            [
                "asic.lut.uint1.afp16.r64k1g4.m4096.t2.xacc",
                "asic.addsub.uint1.afp16.r64k1g4.m4096.t2.xacc"
            ]
        );
        for p in &exact {
            let Design::Array { config, variant } = &p.design else {
                panic!("{}", p.id)
            };
            assert_eq!(config.accumulate, Accumulate::Exact, "{}", p.id);
            assert!(
                matches!(variant, Variant::Lut | Variant::AddSub),
                "{}",
                p.id
            );
            config
                .validate()
                .unwrap_or_else(|e| panic!("{}: {e}", p.id));
            assert!(p.describe().ends_with("accumulate=exact"), "{}", p.id);
        }
        assert!(exact
            .iter()
            .any(|p| p.id == "asic.lut.uint1.afp16.r64k1g4.m4096.xacc"));
        // Every other id is the binary32 point's, unchanged.
        assert!(q
            .iter()
            .filter(|p| !p.id.ends_with(EXACT_SUFFIX))
            .all(|p| !matches!(&p.design, Design::Array { config, .. } if config.accumulate == Accumulate::Exact)));
        assert!(q
            .iter()
            .any(|p| p.id == "asic.lut.uint1.afp16.r64k1g4.m4096"));
    }

    #[test]
    fn target_subset_and_lookup() {
        let q = quick(&[Target::Asic]);
        assert!(q.iter().all(|p| p.target == Target::Asic));
        assert!(q
            .iter()
            .all(|p| !matches!(p.design, Design::DspCalibration { .. })));
        assert_eq!(find(&q, "0").unwrap().id, q[0].id);
        assert_eq!(find(&q, &q[3].id).unwrap().id, q[3].id);
        assert!(find(&q, "100000")
            .unwrap_err()
            .to_string()
            .contains("indices"));
        assert!(find(&q, "nope").is_err());
    }
}
