//! One point's synthesis: the yosys script of each target, running yosys,
//! and parsing its `stat -json` output into resource counts.
//!
//! Accounting (also in docs/decisions.md):
//! * iCE40: LUT4 = `SB_LUT4`. An `SB_CARRY` sits in the same logic cell as the
//!   LUT4 computing its sum bit, so it costs no extra LUT4 (counted separately).
//! * ECP5: LUT4 = `LUT4` + 2 per `CCU2C` (a CCU2C is the two LUT4s of a slice in
//!   carry mode) + 4 per `TRELLIS_DPR16X4` (distributed RAM uses LUT4s).
//!   `PFUMX`/`L6MUX21` are the slice's wide-function muxes and cost nothing.
//! * DSP blocks (`SB_MAC16`, `MULT18X18D`) are counted separately and converted
//!   to LUT4 equivalents with the measured calibration point (see the report).
//! * ASIC proxy: yosys's `stat -tech cmos` estimate after `dffunmap` (so enable
//!   flops become a plain flop plus a mux it can count) plus
//!   [`ASYNC_FF_TRANSISTORS`] per flop with asynchronous reset, which yosys's
//!   CMOS table does not price.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::points::{Design, Point, Target};

/// Transistors charged for one flop with asynchronous set/reset (`$_DFF_PN0_`
/// etc.), which yosys 0.23's CMOS cost table leaves out: a plain D flop
/// (16, yosys's value) plus two transistors per latch for the reset input.
pub const ASYNC_FF_TRANSISTORS: u64 = 20;

/// Gate types yosys 0.23's `stat -tech cmos` prices (kernel/cost.h).
const CMOS_PRICED: &[&str] = &[
    "$_BUF_",
    "$_NOT_",
    "$_AND_",
    "$_NAND_",
    "$_OR_",
    "$_NOR_",
    "$_ANDNOT_",
    "$_ORNOT_",
    "$_XOR_",
    "$_XNOR_",
    "$_AOI3_",
    "$_OAI3_",
    "$_AOI4_",
    "$_OAI4_",
    "$_MUX_",
    "$_NMUX_",
    "$_DFF_P_",
    "$_DFF_N_",
];

/// Module-name prefixes of the generated floating-point units (gen/src/fp.rs:
/// `lutcore_fp32_add`, `lutcore_fp16_mul`, `lutcore_bf16_to_fp32_half`, ...).
const FP_UNIT_PREFIXES: &[&str] = &[
    "lutcore_fp32_",
    "lutcore_fp16_",
    "lutcore_bf16_",
    "lutcore_fp8_e4m3_",
    "lutcore_fp8_e5m2_",
];

/// The modules of a point that yosys synthesizes as units of their own
/// (`keep_hierarchy`: not flattened into their parent on the FPGA targets, as
/// the ASIC proxy keeps every module). These are the arithmetic units a real
/// design takes from a library: the FP units of FP arrays, and the int8 PE of
/// the dequantize-to-INT8 MAC. Kept whole, a multiplier stays general instead
/// of shrinking to the few values a dequantized narrow weight takes (a
/// tensor core multiplies any FP16 or int8 weight), and yosys maps each
/// distinct unit once, which keeps large FP points within minutes.
pub fn kept_units(point: &Point, files: &[String]) -> Vec<String> {
    let Design::Array { variant, .. } = &point.design else {
        return Vec::new();
    };
    files
        .iter()
        .filter_map(|f| f.strip_suffix(".sv"))
        .filter(|m| {
            FP_UNIT_PREFIXES.iter().any(|p| m.starts_with(p))
                || (*variant == super::points::Variant::MacInt8 && *m == lutcore_gen::mac::INT8_PE)
        })
        .map(str::to_string)
        .collect()
}

/// The yosys script of a point (`-s` file), reading `files` and writing `stat.json`.
pub fn script(point: &Point, top: &str, files: &[String]) -> String {
    let dsp = matches!(&point.design, Design::Array { variant, .. } if variant.dsp());
    let synth = match point.target {
        Target::Ice40 => format!("synth_ice40{} -top {top}", if dsp { " -dsp" } else { "" }),
        Target::Ecp5 => format!("synth_ecp5{} -top {top}", if dsp { "" } else { " -nodsp" }),
        Target::Asic => format!("synth -top {top}\ndffunmap\nabc -g cmos2\nopt_clean"),
    };
    let tech = if point.target == Target::Asic {
        " -tech cmos"
    } else {
        ""
    };
    let kept = kept_units(point, files);
    let keep = if kept.is_empty() {
        String::new()
    } else {
        format!("setattr -mod -set keep_hierarchy 1 {}\n", kept.join(" "))
    };
    format!(
        "# lutcore dse point {}\nread_verilog -sv {}\n{keep}{synth}\ntee -q -o stat.json stat -json{tech}\n",
        point.id,
        files.join(" ")
    )
}

/// Verilog of the DSP calibration: a signed `bits`×`bits` multiplier, built in
/// the generator's IR and printed by its printer (the ports are plain `logic`,
/// so the operands are read through `$signed`). Returns the top's name and the text.
pub fn calibration_verilog(bits: u32) -> (String, String) {
    use lutcore_gen::ir::{e, BinOp, Expr, Module, Port};
    let top = format!("dse_mul{bits}");
    let mut m = Module::new(
        &top,
        vec![
            format!("Signed {bits}x{bits} multiplier: its logic-only LUT4 count is the LUT4"),
            "equivalent of one DSP block in the lutcore DSE report.".into(),
        ],
    );
    let a = m.port(Port::input("a_i", bits, "operand, two's complement"));
    let b = m.port(Port::input("b_i", bits, "operand, two's complement"));
    let y = m.port(Port::output(
        "y_o",
        2 * bits,
        "the full product, two's complement",
    ));
    let signed = |x: Expr| Expr::Signed(Box::new(x));
    m.assign(y, e::bin(BinOp::Mul, signed(a), signed(b)));
    (top, lutcore_gen::print::module(&m))
}

/// The version line of a yosys binary (`yosys -V`), or a clear error if it cannot run.
pub fn yosys_version(yosys: &str) -> Result<String> {
    let out = Command::new(yosys).arg("-V").output().map_err(|e| {
        anyhow!("cannot run yosys (`{yosys}`): {e}; install it with `make deps` (Debian's yosys 0.23) or pass --yosys PATH")
    })?;
    if !out.status.success() {
        bail!("`{yosys} -V` failed with {}", out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Runs of yosys per point when ABC aborts (as `scripts/yosys-retry`: Debian's
/// yosys 0.23 + berkeley-abc abort now and then on a netlist they map on the next run).
const ABC_ATTEMPTS: usize = 3;

/// Run yosys on `dir/synth.ys` in `dir` at low priority (`nice -n 10` when
/// available), logging to `dir/yosys.log`; reruns it when ABC aborted (at most
/// [`ABC_ATTEMPTS`] runs). Returns the wall time in seconds.
pub fn run_yosys(yosys: &str, dir: &Path) -> Result<f64> {
    let t = Instant::now();
    let args = ["-q", "-l", "yosys.log", "-s", "synth.ys"];
    let nice = Path::new("/usr/bin/nice").exists();
    let command = || {
        let mut c = if nice {
            let mut c = Command::new("/usr/bin/nice");
            c.args(["-n", "10", yosys]);
            c
        } else {
            Command::new(yosys)
        };
        c.args(args).current_dir(dir);
        c
    };
    let mut attempt = 1;
    let out = loop {
        let out = command()
            .output()
            .with_context(|| format!("starting yosys (`{yosys}`) in {}", dir.display()))?;
        let says_abc_aborted =
            |b: &[u8]| String::from_utf8_lossy(b).contains("ABC: execution of command");
        let abc_abort = !out.status.success()
            && (says_abc_aborted(&out.stdout)
                || says_abc_aborted(&out.stderr)
                || says_abc_aborted(&std::fs::read(dir.join("yosys.log")).unwrap_or_default()));
        if !abc_abort || attempt == ABC_ATTEMPTS {
            break out;
        }
        attempt += 1;
    };
    if !out.status.success() {
        let log = std::fs::read_to_string(dir.join("yosys.log")).unwrap_or_default();
        let tail: Vec<&str> = log
            .lines()
            .rev()
            .take(8)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        bail!(
            "yosys failed ({}) in {}: {}{}",
            out.status,
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim(),
            if tail.is_empty() {
                String::new()
            } else {
                format!("\n  last log lines:\n    {}", tail.join("\n    "))
            }
        );
    }
    Ok(t.elapsed().as_secs_f64())
}

/// One module of the hierarchy (ASIC proxy, which keeps the hierarchy).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModuleArea {
    /// Module name.
    pub name: String,
    /// Instances in the design.
    pub instances: u64,
    /// yosys's transistor estimate of one instance (its own cells only).
    pub transistors_each: u64,
    /// Flops with asynchronous reset in one instance (priced by us).
    pub async_ffs_each: u64,
    /// All instances, async flops included.
    pub transistors_total: u64,
}

/// Resource counts of one synthesized design, from `stat -json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    /// Every cell type of the whole design and its count.
    pub cells: BTreeMap<String, u64>,
    /// LUT4s (FPGA): `SB_LUT4` or ECP5 `LUT4`, without carry cells.
    pub lut4: u64,
    /// Carry cells: `SB_CARRY` (iCE40) or `CCU2C` (ECP5).
    pub carry: u64,
    /// LUT4s the carry cells and LUT RAM occupy (ECP5: 2 per CCU2C, 4 per DPR16X4; iCE40: 0).
    pub carry_lut4: u64,
    /// Flip-flops.
    pub ff: u64,
    /// DSP blocks (`SB_MAC16`, `MULT18X18D`).
    pub dsp: u64,
    /// Block RAMs (`SB_RAM40_4K`, `DP16KD`).
    pub bram: u64,
    /// ASIC proxy: transistors (yosys estimate + async flops).
    pub transistors: u64,
    /// ASIC proxy: cell types yosys could not price and we did not either (should be empty).
    pub unpriced: Vec<String>,
    /// ASIC proxy: per-module breakdown of the hierarchy.
    pub modules: Vec<ModuleArea>,
}

impl Resources {
    /// LUT4 equivalents without DSP blocks: LUT4 + what carry cells and LUT RAM occupy.
    pub fn lut4_logic(&self) -> u64 {
        self.lut4 + self.carry_lut4
    }
}

fn is_async_ff(t: &str) -> bool {
    // Async set/reset flops: `$_DFF_PN0_` (clock, reset polarity, value),
    // `$_DFFE_PN0P_`, `$_DFFSR*`, `$_ALDFF*`; plain ones are `$_DFF_P_`, `$_DFFE_PP_`.
    let code = |prefix: &str| {
        t.strip_prefix(prefix)
            .map(|r| r.trim_end_matches('_').len())
    };
    code("$_DFF_") == Some(3)
        || code("$_DFFE_") == Some(4)
        || t.starts_with("$_DFFSR")
        || t.starts_with("$_ALDFF")
}

fn counts(v: &Value) -> Result<BTreeMap<String, u64>> {
    let mut m = BTreeMap::new();
    if let Some(obj) = v.get("num_cells_by_type").and_then(Value::as_object) {
        for (k, n) in obj {
            let n = n
                .as_u64()
                .ok_or_else(|| anyhow!("cell count of `{k}` is not a number: {n}"))?;
            m.insert(k.clone(), n);
        }
    }
    Ok(m)
}

fn transistors_of(v: &Value) -> Result<u64> {
    let s = match v.get("estimated_num_transistors") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => bail!("no `estimated_num_transistors` (was the stat run with -tech cmos?)"),
    };
    s.trim_end_matches('+')
        .trim()
        .parse()
        .map_err(|_| anyhow!("`estimated_num_transistors` = `{s}` is not a number"))
}

fn sum(cells: &BTreeMap<String, u64>, names: &[&str]) -> u64 {
    names
        .iter()
        .map(|n| cells.get(*n).copied().unwrap_or(0))
        .sum()
}

/// `text` without the lines `<module name> <count>` that yosys 0.23 prints
/// into `stat -json` output (between `modules` and `design`) when the
/// hierarchy is more than two levels deep: a PE holding FP units.
fn strip_hierarchy_listing(text: &str) -> String {
    text.lines()
        .filter(|l| {
            let mut words = l.split_whitespace();
            let listing = match (words.next(), words.next(), words.next()) {
                (Some(name), Some(n), None) => {
                    !name.starts_with('"')
                        && !name.ends_with(':')
                        && n.bytes().all(|b| b.is_ascii_digit())
                }
                _ => false,
            };
            !listing
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Parse yosys `stat -json` output of `target` into resource counts.
pub fn parse_stat(target: Target, text: &str) -> Result<Resources> {
    let v: Value = serde_json::from_str(text)
        .or_else(|_| serde_json::from_str(&strip_hierarchy_listing(text)))
        .context("stat output is not JSON")?;
    let design = v
        .get("design")
        .ok_or_else(|| anyhow!("stat JSON has no `design` section"))?;
    let cells = counts(design)?;
    let mut r = Resources {
        cells: cells.clone(),
        ..Resources::default()
    };
    match target {
        Target::Ice40 => {
            r.lut4 = sum(&cells, &["SB_LUT4"]);
            r.carry = sum(&cells, &["SB_CARRY"]);
            r.ff = cells
                .iter()
                .filter(|(k, _)| k.starts_with("SB_DFF"))
                .map(|(_, n)| n)
                .sum();
            r.dsp = sum(&cells, &["SB_MAC16"]);
            r.bram = sum(&cells, &["SB_RAM40_4K"]);
        }
        Target::Ecp5 => {
            r.lut4 = sum(&cells, &["LUT4"]);
            r.carry = sum(&cells, &["CCU2C"]);
            r.carry_lut4 = 2 * r.carry + 4 * sum(&cells, &["TRELLIS_DPR16X4"]);
            r.ff = sum(&cells, &["TRELLIS_FF"]);
            r.dsp = sum(&cells, &["MULT18X18D"]);
            r.bram = sum(&cells, &["DP16KD"]);
        }
        Target::Asic => {
            let modules = v
                .get("modules")
                .and_then(Value::as_object)
                .ok_or_else(|| anyhow!("stat JSON has no `modules`"))?;
            let names: Vec<String> = modules
                .keys()
                .map(|k| k.trim_start_matches('\\').to_string())
                .collect();
            // Instance counts: walk down from the module nobody instantiates.
            let mut own: BTreeMap<String, (u64, u64, BTreeMap<String, u64>)> = BTreeMap::new();
            for (k, m) in modules {
                let name = k.trim_start_matches('\\').to_string();
                let c = counts(m)?;
                let asyncs: u64 = c
                    .iter()
                    .filter(|(t, _)| is_async_ff(t))
                    .map(|(_, n)| n)
                    .sum();
                let subs: BTreeMap<String, u64> = c
                    .iter()
                    .filter(|(t, _)| names.contains(t))
                    .map(|(t, n)| (t.clone(), *n))
                    .collect();
                own.insert(
                    name,
                    (
                        transistors_of(m).with_context(|| format!("module {k}"))?,
                        asyncs,
                        subs,
                    ),
                );
            }
            let children: Vec<&String> = own.values().flat_map(|(_, _, s)| s.keys()).collect();
            let tops: Vec<String> = names
                .iter()
                .filter(|n| !children.contains(n))
                .cloned()
                .collect();
            let mut inst: BTreeMap<String, u64> = BTreeMap::new();
            fn walk(
                m: &str,
                k: u64,
                own: &BTreeMap<String, (u64, u64, BTreeMap<String, u64>)>,
                inst: &mut BTreeMap<String, u64>,
                depth: u32,
            ) {
                if depth > 64 {
                    return;
                }
                *inst.entry(m.to_string()).or_default() += k;
                if let Some((_, _, subs)) = own.get(m) {
                    for (s, n) in subs {
                        walk(s, k * n, own, inst, depth + 1);
                    }
                }
            }
            for t in &tops {
                walk(t, 1, &own, &mut inst, 0);
            }
            for (name, (tr, asyncs, _)) in &own {
                let n = inst.get(name).copied().unwrap_or(0);
                r.modules.push(ModuleArea {
                    name: name.clone(),
                    instances: n,
                    transistors_each: *tr,
                    async_ffs_each: *asyncs,
                    transistors_total: n * (tr + asyncs * ASYNC_FF_TRANSISTORS),
                });
            }
            r.modules
                .sort_by_key(|m| std::cmp::Reverse(m.transistors_total));
            let async_total: u64 = cells
                .iter()
                .filter(|(t, _)| is_async_ff(t))
                .map(|(_, n)| n)
                .sum();
            r.transistors = transistors_of(design).context("design section")?
                + async_total * ASYNC_FF_TRANSISTORS;
            r.ff = cells
                .iter()
                .filter(|(t, _)| t.starts_with("$_DFF") || t.starts_with("$_SDFF"))
                .map(|(_, n)| n)
                .sum();
            r.unpriced = cells
                .keys()
                .filter(|t| {
                    !CMOS_PRICED.contains(&t.as_str()) && !is_async_ff(t) && !names.contains(t)
                })
                .cloned()
                .collect();
        }
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake yosys that aborts in ABC on its first run: the point is rerun
    /// and succeeds; a fake that fails otherwise is not rerun.
    #[test]
    fn an_abc_abort_is_retried_and_other_failures_are_not() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let fake = |name: &str, body: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
            p.to_string_lossy().into_owned()
        };
        let flaky = fake(
            "flaky-yosys",
            "if [ -e ran ]; then echo ok >> runs; exit 0; fi; touch ran; echo abort >> runs; \
             echo 'ERROR: ABC: execution of command \"berkeley-abc\" failed: return code 134.' >&2; exit 1",
        );
        run_yosys(&flaky, dir.path()).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("runs")).unwrap(),
            "abort\nok\n"
        );
        let broken = fake(
            "broken-yosys",
            "echo run >> runs2; echo 'ERROR: syntax error' >&2; exit 1",
        );
        let e = run_yosys(&broken, dir.path()).unwrap_err().to_string();
        assert!(e.contains("syntax error"), "{e}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("runs2")).unwrap(),
            "run\n"
        );
    }

    /// The calibration's exact text: a signed multiply through `$signed` on
    /// plain ports (yosys maps it to the same `$mul` as signed ports would).
    #[test]
    fn calibration_is_a_signed_multiplier() {
        let (top, text) = calibration_verilog(16);
        assert_eq!(top, "dse_mul16");
        let want = "\
// Signed 16x16 multiplier: its logic-only LUT4 count is the LUT4
// equivalent of one DSP block in the lutcore DSE report.
module dse_mul16 (
  input  logic [15:0] a_i, // operand, two's complement
  input  logic [15:0] b_i, // operand, two's complement
  output logic [31:0] y_o  // the full product, two's complement
);
  assign y_o = $signed(a_i) * $signed(b_i);
endmodule
";
        assert_eq!(text, want);
    }

    /// Only FP units and the int8 MAC's PE are kept as units; an integer
    /// point's script has no `setattr` line (its stored results stay valid).
    #[test]
    fn scripts_keep_only_library_units() {
        use crate::dse::points::Variant;
        use lutcore_contract::config::RawArrayConfig;
        use lutcore_contract::{ActType, WeightType};
        let point = |v: Variant, act| {
            let c = RawArrayConfig::new(v.arch(), 8, 2, 4, WeightType::Uint(1), act, 4096);
            Point::array(Target::Ecp5, v, c)
        };
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let int = point(Variant::Mac, ActType::Int8);
        let s = script(
            &int,
            "lutcore_mac_array",
            &names(&[
                "lutcore_mac_pe.sv",
                "lutcore_ctrl.sv",
                "lutcore_mac_array.sv",
            ]),
        );
        assert!(!s.contains("setattr"), "{s}");
        let int8 = point(Variant::MacInt8, ActType::Int8);
        let s = script(
            &int8,
            "t",
            &names(&["lutcore_mac_int8_pe.sv", "lutcore_ctrl.sv"]),
        );
        assert!(
            s.contains("setattr -mod -set keep_hierarchy 1 lutcore_mac_int8_pe\nsynth_ecp5"),
            "{s}"
        );
        let fp = point(Variant::Mac, ActType::Fp16);
        let files = names(&[
            "lutcore_fp32_add.sv",
            "lutcore_fp16_mul.sv",
            "lutcore_fp16_dequant_uint1.sv",
            "lutcore_fpmac_pe.sv",
            "lutcore_ctrl.sv",
        ]);
        assert_eq!(
            kept_units(&fp, &files),
            names(&[
                "lutcore_fp32_add",
                "lutcore_fp16_mul",
                "lutcore_fp16_dequant_uint1"
            ])
        );
    }

    #[test]
    fn async_flop_names() {
        for t in [
            "$_DFF_PN0_",
            "$_DFF_PN1_",
            "$_DFF_NP0_",
            "$_DFFE_PN0P_",
            "$_DFFSR_PPP_",
        ] {
            assert!(is_async_ff(t), "{t}");
        }
        for t in ["$_DFF_P_", "$_DFF_N_", "$_NAND_", "SB_DFF"] {
            assert!(!is_async_ff(t), "{t}");
        }
    }

    /// `stat -json -tech cmos` of the `tiny` preset (fixtures/README.md says how it was made).
    #[test]
    fn parses_asic_fixture() {
        let r = parse_stat(Target::Asic, include_str!("fixtures/tiny_asic_stat.json")).unwrap();
        let fx: Value =
            serde_json::from_str(include_str!("fixtures/tiny_asic_expected.json")).unwrap();
        assert_eq!(r.transistors, fx["transistors"].as_u64().unwrap());
        assert_eq!(r.ff, fx["ff"].as_u64().unwrap());
        assert!(r.unpriced.is_empty(), "{:?}", r.unpriced);
        let pe = r
            .modules
            .iter()
            .find(|m| m.name == "lutcore_lut_pe")
            .unwrap();
        assert_eq!(pe.instances, 4);
        assert_eq!(
            pe.transistors_each,
            fx["pe_transistors_each"].as_u64().unwrap()
        );
        let total: u64 = r.modules.iter().map(|m| m.transistors_total).sum();
        assert_eq!(
            total, r.transistors,
            "per-module totals add up to the design"
        );
    }

    #[test]
    fn parses_ecp5_and_ice40_fixtures() {
        let e = parse_stat(Target::Ecp5, include_str!("fixtures/tiny_ecp5_stat.json")).unwrap();
        let fx: Value =
            serde_json::from_str(include_str!("fixtures/tiny_ecp5_expected.json")).unwrap();
        assert_eq!(e.lut4, fx["lut4"].as_u64().unwrap());
        assert_eq!(e.carry, fx["ccu2c"].as_u64().unwrap());
        assert_eq!(e.carry_lut4, 2 * e.carry);
        assert_eq!(e.ff, fx["ff"].as_u64().unwrap());
        let i = parse_stat(Target::Ice40, include_str!("fixtures/tiny_ice40_stat.json")).unwrap();
        let fx: Value =
            serde_json::from_str(include_str!("fixtures/tiny_ice40_expected.json")).unwrap();
        assert_eq!(i.lut4, fx["lut4"].as_u64().unwrap());
        assert_eq!(i.carry, fx["carry"].as_u64().unwrap());
        assert_eq!(i.ff, fx["ff"].as_u64().unwrap());
        assert_eq!(i.carry_lut4, 0);
    }

    /// yosys 0.23's `stat -json` of a three-level hierarchy (array, PE, FP
    /// units) has the text hierarchy listing inside the JSON: it is skipped.
    #[test]
    fn parses_stat_with_the_hierarchy_listing_inside() {
        let text = r#"{
   "modules": {
      "\\top": {
         "num_cells_by_type": { "$_NAND_": 2, "pe": 2 },
         "estimated_num_transistors": "8+"
      },
      "\\pe": {
         "num_cells_by_type": { "$_NOT_": 1, "unit": 3 },
         "estimated_num_transistors": "2+"
      },
      "\\unit": {
         "num_cells_by_type": { "$_NAND_": 1 },
         "estimated_num_transistors": "4"
      }
   },
       unit      3
      "design": {
         "num_cells_by_type": { "$_NAND_": 8, "$_NOT_": 2 },
         "estimated_num_transistors": "36"
      }
}"#;
        let r = parse_stat(Target::Asic, text).unwrap();
        assert_eq!(r.transistors, 36);
        let unit = r.modules.iter().find(|m| m.name == "unit").unwrap();
        assert_eq!(unit.instances, 6);
        let total: u64 = r.modules.iter().map(|m| m.transistors_total).sum();
        assert_eq!(total, 36);
    }

    #[test]
    fn bad_stat_is_a_clear_error() {
        let e = parse_stat(Target::Asic, "{\"design\": {}}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("modules"), "{e}");
        assert!(parse_stat(Target::Ecp5, "not json")
            .unwrap_err()
            .to_string()
            .contains("not JSON"));
    }
}
