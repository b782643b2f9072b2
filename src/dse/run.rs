//! Running points: generate the design into its work directory, synthesize it,
//! and store the result atomically in `OUT/points/<id>.json`. A finished point
//! whose key (Verilog, yosys script and yosys version) is unchanged is reused.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::points::{Design, Point, Variant};
use super::synth::{self, Resources};

/// Outcome of one point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Synthesized and parsed.
    Ok,
    /// Something failed; `error` says what. Retried on the next run.
    Failed,
}

/// The stored result of one point (`OUT/points/<id>.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PointResult {
    /// The point.
    pub point: Point,
    /// Ok or failed.
    pub status: Status,
    /// The error of a failed point (what, where).
    pub error: Option<String>,
    /// SHA-256 of the Verilog, the yosys script and the yosys version: a result
    /// is reused only while this is unchanged.
    pub key: String,
    /// Multiply-accumulates per busy cycle (`ArrayConfig::macs_per_cycle`; 0 for a calibration).
    pub macs_per_cycle: f64,
    /// Resource counts (empty for a failed point).
    pub resources: Resources,
    /// Wall time of the yosys run, seconds.
    pub yosys_seconds: f64,
    /// `yosys -V`.
    pub yosys_version: String,
    /// When it finished (seconds since the Unix epoch).
    pub finished_unix: u64,
}

/// Where things go under the output directory.
#[derive(Clone, Debug)]
pub struct Layout {
    /// The output directory (`--out`).
    pub out: PathBuf,
}

impl Layout {
    /// Per-point result files.
    pub fn points_dir(&self) -> PathBuf {
        self.out.join("points")
    }
    /// Result file of a point.
    pub fn point_file(&self, id: &str) -> PathBuf {
        self.points_dir().join(format!("{id}.json"))
    }
    /// Work directory of a point: Verilog, synth.ys, yosys.log, stat.json.
    pub fn work_dir(&self, id: &str) -> PathBuf {
        self.out.join("work").join(id)
    }
}

/// A point's Verilog files (name, text), its top module and its MAC/cycle.
type DesignFiles = (Vec<(String, String)>, String, f64);

/// The Verilog files (name, text), top module and MAC/cycle of a point.
fn design_files(point: &Point) -> Result<DesignFiles> {
    match &point.design {
        Design::Array { config, variant } => {
            let cfg = config
                .validate()
                .with_context(|| format!("point {}", point.id))?;
            let d = if *variant == Variant::MacInt8 {
                int8_mac_design(&cfg)
            } else {
                lutcore_gen::generate(&cfg)
            }
            .with_context(|| format!("point {}", point.id))?;
            let files = d
                .files
                .iter()
                .map(|f| (f.name.clone(), f.contents.clone()))
                .collect();
            Ok((files, d.top, cfg.macs_per_cycle()))
        }
        Design::DspCalibration { bits } => {
            let (top, text) = synth::calibration_verilog(*bits);
            Ok((vec![(format!("{top}.sv"), text)], top, 0.0))
        }
    }
}

/// The paper's dequantize-to-INT8 MAC of `cfg` ([`lutcore_gen::mac::int8_modules`])
/// as a design with the stream interface (checked like [`lutcore_gen::generate`]).
pub fn int8_mac_design(
    cfg: &lutcore_contract::config::ArrayConfig,
) -> Result<lutcore_gen::Design, lutcore_gen::GenError> {
    let modules = lutcore_gen::mac::int8_modules(cfg)?;
    let top = modules.last().expect("a top module").clone();
    lutcore_contract::interface::check_ports(
        &top.name,
        cfg,
        top.ports.iter().map(|p| (p.name.as_str(), p.dir, p.width)),
    )?;
    Ok(lutcore_gen::Design {
        config: cfg.clone(),
        top: top.name,
        ports: top.ports,
        files: modules
            .iter()
            .map(|m| lutcore_gen::GeneratedFile {
                name: format!("{}.sv", m.name),
                contents: lutcore_gen::print::module(m),
            })
            .collect(),
    })
}

fn key_of(files: &[(String, String)], script: &str, yosys_version: &str) -> String {
    let mut h = Sha256::new();
    for (name, text) in files {
        h.update(name.as_bytes());
        h.update([0]);
        h.update(text.as_bytes());
        h.update([0]);
    }
    h.update(script.as_bytes());
    h.update([0]);
    h.update(yosys_version.as_bytes());
    format!("{:x}", h.finalize())
}

/// The key a point's result must carry to be reused, and its script.
pub fn expected_key(point: &Point, yosys_version: &str) -> Result<String> {
    let (files, top, _) = design_files(point)?;
    let names: Vec<String> = files.iter().map(|(n, _)| n.clone()).collect();
    Ok(key_of(
        &files,
        &synth::script(point, &top, &names),
        yosys_version,
    ))
}

/// Read a stored result; `None` if there is none or it cannot be read.
pub fn load(path: &Path) -> Option<PointResult> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

/// Whether `point` already has a reusable (ok, same key) result.
pub fn reusable(layout: &Layout, point: &Point, key: &str) -> bool {
    load(&layout.point_file(&point.id)).is_some_and(|r| r.status == Status::Ok && r.key == key)
}

/// Synthesize one point and store its result (ok or failed). Returns the result;
/// `Err` only if the result file itself cannot be written.
pub fn run_point(
    layout: &Layout,
    point: &Point,
    yosys: &str,
    yosys_version: &str,
) -> Result<PointResult> {
    let attempt = || -> Result<(String, f64, Resources, f64)> {
        let (files, top, macs) = design_files(point)?;
        let dir = layout.work_dir(&point.id);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
        }
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        for (name, text) in &files {
            std::fs::write(dir.join(name), text)
                .with_context(|| format!("writing {}", dir.join(name).display()))?;
        }
        let names: Vec<String> = files.iter().map(|(n, _)| n.clone()).collect();
        let script = synth::script(point, &top, &names);
        std::fs::write(dir.join("synth.ys"), &script)
            .with_context(|| format!("writing {}/synth.ys", dir.display()))?;
        let secs = synth::run_yosys(yosys, &dir)?;
        let stat_path = dir.join("stat.json");
        let text = std::fs::read_to_string(&stat_path)
            .with_context(|| format!("reading {}", stat_path.display()))?;
        let res = synth::parse_stat(point.target, &text)
            .with_context(|| format!("parsing {}", stat_path.display()))?;
        Ok((key_of(&files, &script, yosys_version), macs, res, secs))
    };
    let finished_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let result = match attempt() {
        Ok((key, macs_per_cycle, resources, yosys_seconds)) => PointResult {
            point: point.clone(),
            status: Status::Ok,
            error: None,
            key,
            macs_per_cycle,
            resources,
            yosys_seconds,
            yosys_version: yosys_version.to_string(),
            finished_unix,
        },
        Err(e) => PointResult {
            point: point.clone(),
            status: Status::Failed,
            error: Some(format!("{e:#}")),
            key: String::new(),
            macs_per_cycle: 0.0,
            resources: Resources::default(),
            yosys_seconds: 0.0,
            yosys_version: yosys_version.to_string(),
            finished_unix,
        },
    };
    crate::output::write_json(&layout.point_file(&point.id), &result)?;
    Ok(result)
}

/// Every stored result under `OUT/points`, sorted by id.
pub fn load_all(layout: &Layout) -> Result<Vec<PointResult>> {
    let dir = layout.points_dir();
    let mut out = Vec::new();
    if !dir.exists() {
        return Ok(out);
    }
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let r: PointResult = serde_json::from_str(&text).with_context(|| {
                format!(
                    "parsing {} (delete it to re-run that point)",
                    path.display()
                )
            })?;
            out.push(r);
        }
    }
    out.sort_by(|a, b| a.point.id.cmp(&b.point.id));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lutcore_contract::config::{Arch, RawArrayConfig};
    use lutcore_contract::{ActType, WeightType};

    /// The dequantize-to-INT8 MAC computes the same results as the reference:
    /// the generator's self-checking testbench (random shapes with M and K not
    /// multiples of the tile, and the extremes) passes in Icarus Verilog.
    #[test]
    fn int8_mac_passes_the_testbench() {
        if std::process::Command::new("iverilog")
            .arg("-V")
            .output()
            .is_err()
        {
            eprintln!("skipping: iverilog not installed (make deps)");
            return;
        }
        for (w, act) in [
            (WeightType::Ternary, ActType::Int8),
            (WeightType::Uint(2), ActType::Int16),
            (WeightType::Uint(1), ActType::Int8),
        ] {
            let cfg = RawArrayConfig::new(Arch::Mac, 3, 2, 2, w, act, 64)
                .validate()
                .unwrap();
            let d = int8_mac_design(&cfg).unwrap();
            assert!(d.files[0].contents.contains("$signed(x0) * $signed(w0)"));
            let dir = tempfile::tempdir().unwrap();
            d.write_to(dir.path()).unwrap();
            let tb = lutcore_gen::testbench::generate(&d, &Default::default()).unwrap();
            tb.write_to(dir.path()).unwrap();
            let out = std::process::Command::new("sh")
                .arg("run_icarus.sh")
                .current_dir(dir.path())
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && text.contains("PASS"),
                "{cfg}: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    #[test]
    fn int8_mac_refuses_fp_activations() {
        let cfg = RawArrayConfig::new(Arch::Mac, 2, 1, 4, WeightType::Uint(1), ActType::Fp16, 64)
            .validate()
            .unwrap();
        let e = int8_mac_design(&cfg).unwrap_err().to_string();
        assert!(e.contains("integer activations"), "{e}");
    }
}
