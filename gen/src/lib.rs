//! lutcore Verilog generator: an [`ArrayConfig`] becomes readable,
//! deterministic, lint-clean Verilog files plus a JSON manifest.
//!
//! * [`ir`]: the typed module representation; [`print`](mod@print): its only printer.
//! * [`control`]: the stream controller shared by every array; [`arith`]: adder trees.
//! * [`lut`]: the LUT array (table precompute, LUT PEs); [`mac`]: the MAC baseline;
//!   [`addsub`]: the ternary add/sub baseline.
//! * [`fp`]: floating-point units (binary32 adder, widening, plane scaling, products).
//! * [`fplut`]: the LUT array for floating-point activations; [`fpmac`]: its two
//!   baselines (FP multipliers, integer-weight products), all built from the
//!   floating-point units of [`fp`].
//! * [`fxlut`]: the LUT array and the add/sub baseline with exact accumulation
//!   (`"accumulate": "exact"`): fixed-point integers inside, one rounding per row.
//! * [`testbench`]: the self-checking SystemVerilog testbench shipped with a design.
//!
//! Every array has the same top-level stream interface, described once in
//! [`lutcore_contract::interface`] and built into ports by [`top_ports`];
//! [`generate`] checks each top against it, so a driver, a board top or a DMA
//! engine can sit in front of any of them.
#![warn(missing_docs)]

pub mod addsub;
pub mod arith;
pub mod control;
pub mod fp;
pub mod fplut;
pub mod fpmac;
pub mod fxlut;
pub mod ir;
pub mod lut;
pub mod mac;
pub mod print;
pub mod testbench;

use std::io;
use std::path::Path;

use lutcore_contract::config::{Arch, ArrayConfig, RESULT_BITS};
use lutcore_contract::interface::{check_ports, InterfaceError, StreamPort};
use serde::Serialize;
use sha2::{Digest, Sha256};

pub use ir::{Dir, Port};

/// Version of the generator, printed into every file header.
pub const GENERATOR_VERSION: &str = env!("CARGO_PKG_VERSION");

/// One generated file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GeneratedFile {
    /// File name (no directory), e.g. `lutcore_lut_pe.sv`.
    pub name: String,
    /// Full text.
    #[serde(skip)]
    pub contents: String,
}

/// The generated design of one config.
#[derive(Clone, Debug)]
pub struct Design {
    /// The config it was generated from.
    pub config: ArrayConfig,
    /// Name of the top module.
    pub top: String,
    /// The top module's ports (the stream interface).
    pub ports: Vec<Port>,
    /// Verilog files, one module each, leaves first.
    pub files: Vec<GeneratedFile>,
}

/// Widths a user of the design needs, as recorded in the manifest.
#[derive(Clone, Debug, Serialize)]
pub struct Widths {
    /// Bits of one half-table entry (LUT only, 0 for MAC).
    pub table_entry: u32,
    /// Entries per half table (LUT only, 0 for MAC).
    pub table_entries: u32,
    /// Accumulator bits.
    pub accumulator: u32,
    /// Result bits per row.
    pub result: u32,
    /// Activation beat bits.
    pub act_beat: u32,
    /// Weight beat bits.
    pub weight_beat: u32,
    /// Result beat bits.
    pub result_beat: u32,
    /// Weight beats per K-tile.
    pub weight_beats_per_tile: u32,
    /// Address bits of one pass's activation beats at `max_k`
    /// ([`ArrayConfig::act_addr_bits`]: the FPGA boards' `ACT_AW`).
    pub act_addr: u32,
}

/// The manifest written beside the Verilog (`manifest.json`).
#[derive(Clone, Debug, Serialize)]
pub struct Manifest {
    /// Generator version.
    pub generator: String,
    /// The config.
    pub config: ArrayConfig,
    /// Top module name.
    pub top: String,
    /// Top-level ports.
    pub ports: Vec<Port>,
    /// Derived widths.
    pub widths: Widths,
    /// Multiply-accumulates per busy cycle.
    pub macs_per_cycle: f64,
    /// Verilog files, leaves first (the order to read them in).
    pub files: Vec<String>,
    /// SHA-256 of all Verilog files, in order.
    pub verilog_sha256: String,
    /// Where the stream interface (beat layouts, pass sequence, latency) is specified.
    pub interface_spec: String,
    /// What the shipped testbench wrote beside the design (`lutcore gen --testbench`);
    /// absent without one, so a plain design's manifest has only the fields above.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub testbench: Option<TestbenchOutputs>,
}

/// The testbench's outputs as a manifest lists them ([`testbench::Testbench::outputs`]),
/// so that [`Design::write_to`] may rewrite the folder and remove exactly these.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TestbenchOutputs {
    /// Files, relative to the folder: `tb_<top>.sv`, `vectors/<name>`, the run scripts.
    pub files: Vec<String>,
    /// Scratch folders the run scripts create (`build/icarus`, `build/verilator`),
    /// removed whole on a rewrite.
    pub scratch: Vec<String>,
}

/// The integrator's specification of the stream interface, named in every manifest.
pub const INTERFACE_SPEC: &str =
    "docs/interface.md (lutcore repository): ports, beat layouts, passes, padding, latency";

/// The stream interface every array top has: the ports of
/// [`StreamPort::ALL`], in order, with their widths for `cfg` and their docs.
pub fn top_ports(cfg: &ArrayConfig) -> Vec<Port> {
    StreamPort::ALL
        .into_iter()
        .map(|p| stream_port(cfg, p))
        .collect()
}

/// Port `p` of the stream interface of `cfg`, with its full doc.
pub fn stream_port(cfg: &ArrayConfig, p: StreamPort) -> Port {
    Port {
        name: p.name().into(),
        dir: p.dir(),
        width: p.width(cfg),
        doc: p.doc(cfg),
    }
}

/// Why a design could not be generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenError {
    /// The generated top's port list differs from the stream interface
    /// (a generator bug: the error names the module and the port).
    #[error("the generated top does not have the stream interface (a bug in lutcore-gen): {0}")]
    Interface(#[from] InterfaceError),
    /// A config this generator cannot build yet.
    #[error("cannot generate {config}: {why}")]
    Unsupported {
        /// The config, as printed.
        config: String,
        /// What is missing, and what to use instead.
        why: String,
    },
}

/// Name prefix of token `n`'s copy of a per-token signal or instance: empty
/// with one token per pass (the names of a one-token array), `t{n}_` otherwise.
pub fn token_prefix(cfg: &ArrayConfig, n: usize) -> String {
    if cfg.tokens() == 1 {
        String::new()
    } else {
        format!("t{n}_")
    }
}

/// Token `n`'s `width`-bit field of `x`, which holds one such field per token
/// (token `n`'s at `[n*width +: width]`); `x` itself with one token per pass.
pub fn token_part(cfg: &ArrayConfig, x: &ir::Expr, n: usize, width: u32) -> ir::Expr {
    if cfg.tokens() == 1 {
        x.clone()
    } else {
        ir::e::part(x.clone(), n as u32 * width, width)
    }
}

/// The header comment lines every file carries.
pub fn header(cfg: &ArrayConfig, what: &[&str]) -> Vec<String> {
    let mut lines: Vec<String> = what.iter().map(|s| s.to_string()).collect();
    if cfg.tokens() > 1 {
        lines.push(format!(
            "Tokens: M = {} per pass, M independent GEMVs on the same weight beats; a per-token",
            cfg.tokens()
        ));
        lines.push("signal or instance of token n is prefixed tn_ (t0_, t1_, ...).".into());
    }
    lines.push(String::new());
    lines.push(format!(
        "Generated by lutcore-gen {GENERATOR_VERSION}; do not edit."
    ));
    lines.push(format!("Config: {cfg}"));
    let lut = cfg.arch() == Arch::Lut;
    lines.push(format!(
        "Derived: k_tile={} weight_beat={}b act_beat={}b acc={}b{}",
        cfg.k_tile(),
        cfg.weight_beat_bits(),
        cfg.act_beat_bits(),
        cfg.acc_bits(),
        if lut {
            format!(" table={}x{}b", cfg.table_entries(), cfg.entry_bits())
        } else {
            String::new()
        }
    ));
    lines
}

/// Generate the design of `cfg`. Errors if the top module's ports are not
/// exactly the stream interface ([`check_ports`]).
pub fn generate(cfg: &ArrayConfig) -> Result<Design, GenError> {
    let exact = cfg.act_fixed().is_some();
    let modules = match (cfg.act_float(), cfg.arch()) {
        (Some(f), Arch::Lut) if exact => fxlut::lut_modules(cfg, f),
        (Some(f), Arch::AddSub) if exact => fxlut::addsub_modules(cfg, f),
        (None, Arch::Lut) => lut::modules(cfg),
        (None, Arch::Mac) => mac::modules(cfg),
        (None, Arch::AddSub) => addsub::modules(cfg),
        (Some(f), Arch::Lut) => fplut::modules(cfg, f),
        (Some(f), Arch::Mac | Arch::AddSub) => fpmac::modules(cfg, f)?,
    };
    let top = modules.last().expect("at least one module").clone();
    check_ports(
        &top.name,
        cfg,
        top.ports.iter().map(|p| (p.name.as_str(), p.dir, p.width)),
    )?;
    let files = modules
        .iter()
        .map(|m| GeneratedFile {
            name: format!("{}.sv", m.name),
            contents: print::module(m),
        })
        .collect();
    Ok(Design {
        config: cfg.clone(),
        top: top.name,
        ports: top.ports,
        files,
    })
}

impl Design {
    /// SHA-256 (hex) of every Verilog file's name and contents, in order.
    pub fn verilog_sha256(&self) -> String {
        let mut h = Sha256::new();
        for f in &self.files {
            h.update(f.name.as_bytes());
            h.update([0]);
            h.update(f.contents.as_bytes());
            h.update([0]);
        }
        format!("{:x}", h.finalize())
    }

    /// The manifest.
    pub fn manifest(&self) -> Manifest {
        let c = &self.config;
        let lut = c.arch() == Arch::Lut;
        Manifest {
            generator: format!("lutcore-gen {GENERATOR_VERSION}"),
            config: c.clone(),
            top: self.top.clone(),
            ports: self.ports.clone(),
            widths: Widths {
                table_entry: if lut { c.entry_bits() } else { 0 },
                table_entries: if lut { c.table_entries() as u32 } else { 0 },
                accumulator: c.acc_bits(),
                result: RESULT_BITS,
                act_beat: c.act_beat_bits(),
                weight_beat: c.weight_beat_bits(),
                result_beat: c.result_beat_bits(),
                weight_beats_per_tile: c.beats_per_tile() as u32,
                act_addr: c.act_addr_bits(),
            },
            macs_per_cycle: c.macs_per_cycle(),
            files: self.files.iter().map(|f| f.name.clone()).collect(),
            verilog_sha256: self.verilog_sha256(),
            interface_spec: INTERFACE_SPEC.into(),
            testbench: None,
        }
    }

    /// Write every Verilog file and [`MANIFEST`] into `dir` (created if missing), so
    /// that `dir` then holds exactly the files the new manifest lists, and the manifest.
    ///
    /// A folder written earlier by lutcore (its `manifest.json` names `lutcore-gen`
    /// as generator) may be written again, with or without a testbench: what the old
    /// manifest lists, and only that, is removed first (its Verilog files; with a
    /// testbench also its files, its scratch folders under `build/`, then `vectors/`
    /// and `build/` once empty). A folder holding anything else, even inside
    /// `vectors/` or `build/`, or a manifest lutcore did not write, is refused before
    /// anything is removed (the error names the file), and so is a `dir` that is
    /// not a folder.
    pub fn write_to(&self, dir: &Path) -> io::Result<()> {
        self.write_outputs(dir, None)
    }

    /// [`Design::write_to`], then `tb` ([`testbench::Testbench::write_to`]), with
    /// one manifest listing both (its `testbench` field).
    pub fn write_with_testbench(&self, dir: &Path, tb: &testbench::Testbench) -> io::Result<()> {
        self.write_outputs(dir, Some(tb))
    }

    fn write_outputs(&self, dir: &Path, tb: Option<&testbench::Testbench>) -> io::Result<()> {
        if dir.exists() && !dir.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists and is not a folder", dir.display()),
            ));
        }
        std::fs::create_dir_all(dir)?;
        let old = earlier_outputs(dir)?;
        old.check(dir)?;
        old.remove(dir)?;
        let mut manifest = self.manifest();
        manifest.testbench = tb.map(testbench::Testbench::outputs);
        // The manifest first: if writing stops half way, it lists every file there.
        let json = serde_json::to_string_pretty(&manifest).map_err(io::Error::other)?;
        std::fs::write(dir.join(MANIFEST), json + "\n")?;
        for f in &self.files {
            std::fs::write(dir.join(&f.name), &f.contents)?;
        }
        if let Some(tb) = tb {
            tb.write_to(dir)?;
        }
        Ok(())
    }
}

/// File name of the manifest written beside the Verilog.
pub const MANIFEST: &str = "manifest.json";

/// Largest manifest [`Design::write_to`] reads back (bytes).
const MAX_MANIFEST_BYTES: u64 = 1 << 20;

/// Longest file or folder name a manifest may list (bytes, per path component).
const MAX_NAME_BYTES: usize = 255;

/// What an earlier [`Design::write_to`] wrote into a folder, from its manifest.
#[derive(Debug, Default)]
struct Earlier {
    /// The Verilog files (plain `.sv` names).
    verilog: Vec<String>,
    /// The testbench's outputs, validated: files are plain names or
    /// `vectors/<name>`, scratch folders are `build/<name>`.
    testbench: Option<TestbenchOutputs>,
}

/// `dir holds `name`, which lutcore did not write ...`: the refusal of a folder.
fn not_ours(dir: &Path, name: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!(
            "{} holds `{name}`, which lutcore did not write (it is not in a lutcore {MANIFEST} there); pass an empty or new folder",
            dir.display()
        ),
    )
}

/// The refusal of a listed path that is not the kind lutcore wrote there
/// (a folder where it wrote a file, a file or symlink where it made a folder).
fn wrong_kind(dir: &Path, name: &str, wrote: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!(
            "{} holds `{name}`, which is not the {wrote} lutcore wrote there; move it away or pass an empty or new folder",
            dir.display()
        ),
    )
}

/// Whether `path` is a folder itself (not a symlink to one); false if absent.
fn is_real_dir(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir())
}

/// Whether `n` is one plain name in a folder: not empty, bounded, not hidden
/// (so neither `.` nor `..`), no separator or NUL.
fn plain_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= MAX_NAME_BYTES
        && !n.starts_with('.')
        && !n.contains(['/', '\\', '\0'])
}

impl Earlier {
    /// Refuse `dir` if it holds anything this manifest does not list, or a listed
    /// path of another kind than lutcore wrote. Removes nothing.
    fn check(&self, dir: &Path) -> io::Result<()> {
        let tb = self.testbench.as_ref();
        let tb_files = tb.map_or(&[][..], |t| &t.files[..]);
        let tb_scratch = tb.map_or(&[][..], |t| &t.scratch[..]);
        for entry in std::fs::read_dir(dir)? {
            let os_name = entry?.file_name();
            let Some(name) = os_name.to_str() else {
                return Err(not_ours(dir, &os_name.to_string_lossy()));
            };
            let path = dir.join(name);
            if name == MANIFEST
                || self.verilog.iter().any(|f| f == name)
                || tb_files.iter().any(|f| f == name)
            {
                if is_real_dir(&path) {
                    return Err(wrong_kind(dir, name, "file"));
                }
            } else if tb.is_some()
                && (name == testbench::VECTOR_DIR || name == testbench::BUILD_DIR)
            {
                if !is_real_dir(&path) {
                    return Err(wrong_kind(dir, name, "folder"));
                }
                let scratch = name == testbench::BUILD_DIR;
                for inner in std::fs::read_dir(&path)? {
                    let inner = inner?.file_name();
                    let rel = format!("{name}/{}", inner.to_string_lossy());
                    let listed = if scratch { tb_scratch } else { tb_files };
                    if inner.to_str().is_none() || !listed.contains(&rel) {
                        return Err(not_ours(dir, &rel));
                    }
                    if is_real_dir(&dir.join(&rel)) != scratch {
                        return Err(wrong_kind(
                            dir,
                            &rel,
                            if scratch { "folder" } else { "file" },
                        ));
                    }
                }
            } else {
                return Err(not_ours(dir, name));
            }
        }
        Ok(())
    }

    /// Remove what the manifest lists: its files, its scratch folders (only
    /// real folders, never through a symlink), then `vectors/` and `build/` if
    /// empty. Call [`Earlier::check`] first.
    fn remove(&self, dir: &Path) -> io::Result<()> {
        let tb_files = self.testbench.iter().flat_map(|t| &t.files);
        for name in self.verilog.iter().chain(tb_files) {
            match std::fs::remove_file(dir.join(name)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        let Some(tb) = &self.testbench else {
            return Ok(());
        };
        for s in &tb.scratch {
            let path = dir.join(s);
            if is_real_dir(&path) {
                std::fs::remove_dir_all(&path)?;
            }
        }
        for sub in [testbench::VECTOR_DIR, testbench::BUILD_DIR] {
            let path = dir.join(sub);
            if is_real_dir(&path) && std::fs::read_dir(&path)?.next().is_none() {
                std::fs::remove_dir(&path)?;
            }
        }
        Ok(())
    }
}

/// What an earlier [`Design::write_to`] wrote into `dir`, from its manifest;
/// nothing without a manifest. A manifest lutcore did not write (another
/// generator, a Verilog list naming anything but plain `.sv` file names, a
/// testbench list naming anything but plain names, `vectors/<name>` files and
/// `build/<name>` scratch folders) is an error.
fn earlier_outputs(dir: &Path) -> io::Result<Earlier> {
    use std::io::Read;
    let path = dir.join(MANIFEST);
    let foreign = |why: &str| {
        io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "{} was not written by lutcore ({why}); pass an empty or new folder",
                path.display()
            ),
        )
    };
    // Only a regular file is read and later replaced: a symlink would be
    // written through (outside the folder), a FIFO would block the read.
    match std::fs::symlink_metadata(&path) {
        Ok(m) if !m.file_type().is_file() => {
            return Err(foreign("not a regular file: a symlink, folder or device"))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Earlier::default()),
        Err(e) => return Err(e),
        Ok(_) => {}
    }
    let file = std::fs::File::open(&path)?;
    let mut text = String::new();
    if file
        .take(MAX_MANIFEST_BYTES + 1)
        .read_to_string(&mut text)
        .is_err()
        || text.len() as u64 > MAX_MANIFEST_BYTES
    {
        return Err(foreign("not a UTF-8 file of at most 1 MiB"));
    }
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|_| foreign("not JSON"))?;
    let ours = value["generator"]
        .as_str()
        .is_some_and(|g| g.starts_with("lutcore-gen "));
    if !ours || !value["files"].is_array() {
        return Err(foreign("no lutcore-gen generator and file list"));
    }
    let list = |v: &serde_json::Value, ok: &dyn Fn(&str) -> bool, what: &str| {
        v.as_array()
            .ok_or_else(|| foreign(&format!("its {what} is not a list")))?
            .iter()
            .map(|f| {
                f.as_str()
                    .filter(|n| ok(n))
                    .map(str::to_string)
                    .ok_or_else(|| {
                        foreign(&format!(
                            "its {what} names something lutcore does not write"
                        ))
                    })
            })
            .collect::<io::Result<Vec<String>>>()
    };
    let verilog = list(
        &value["files"],
        &|n| n.ends_with(".sv") && plain_name(n),
        "file list",
    )?;
    let testbench = match &value["testbench"] {
        serde_json::Value::Null => None,
        tb => {
            let top_file = |n: &str| {
                plain_name(n)
                    && ![MANIFEST, testbench::VECTOR_DIR, testbench::BUILD_DIR].contains(&n)
            };
            let under = |n: &str, sub: &str| {
                n.strip_prefix(sub)
                    .and_then(|r| r.strip_prefix('/'))
                    .is_some_and(plain_name)
            };
            Some(TestbenchOutputs {
                files: list(
                    &tb["files"],
                    &|n| top_file(n) || under(n, testbench::VECTOR_DIR),
                    "testbench file list",
                )?,
                scratch: list(
                    &tb["scratch"],
                    &|n| under(n, testbench::BUILD_DIR),
                    "testbench scratch list",
                )?,
            })
        }
    };
    Ok(Earlier { verilog, testbench })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lutcore_contract::config::preset;
    use std::collections::BTreeSet;

    fn names(dir: &Path) -> BTreeSet<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect()
    }

    fn listed(d: &Design) -> BTreeSet<String> {
        d.files
            .iter()
            .map(|f| f.name.clone())
            .chain([MANIFEST.to_string()])
            .collect()
    }

    #[test]
    fn rewriting_a_folder_leaves_exactly_the_new_files() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        let (a, b) = (
            generate(&preset("default").unwrap()).unwrap(),
            generate(&preset("mac-tiny").unwrap()).unwrap(),
        );
        a.write_to(&dir).unwrap();
        assert_eq!(names(&dir), listed(&a));
        b.write_to(&dir).unwrap();
        assert_eq!(
            names(&dir),
            listed(&b),
            "stale files of the first design removed"
        );
        let again = tmp.path().join("fresh");
        b.write_to(&again).unwrap();
        for n in listed(&b) {
            assert_eq!(
                std::fs::read(dir.join(&n)).unwrap(),
                std::fs::read(again.join(&n)).unwrap(),
                "{n}"
            );
        }
    }

    #[test]
    fn foreign_files_a_foreign_manifest_and_a_file_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let d = generate(&preset("tiny").unwrap()).unwrap();
        let dir = tmp.path().join("out");
        d.write_to(&dir).unwrap();
        std::fs::write(dir.join("notes.txt"), "mine").unwrap();
        let e = d.write_to(&dir).unwrap_err().to_string();
        assert!(
            e.contains("notes.txt") && e.contains("empty or new folder"),
            "{e}"
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("notes.txt")).unwrap(),
            "mine"
        );

        let other = tmp.path().join("other");
        std::fs::create_dir(&other).unwrap();
        std::fs::write(
            other.join(MANIFEST),
            r#"{"generator":"x","files":["a.sv"]}"#,
        )
        .unwrap();
        std::fs::write(other.join("a.sv"), "keep").unwrap();
        let e = d.write_to(&other).unwrap_err().to_string();
        assert!(e.contains("not written by lutcore"), "{e}");
        std::fs::write(
            other.join(MANIFEST),
            r#"{"generator":"lutcore-gen 0.1.0","files":["../a.sv"]}"#,
        )
        .unwrap();
        let e = d.write_to(&other).unwrap_err().to_string();
        assert!(e.contains("not written by lutcore"), "{e}");
        assert_eq!(std::fs::read_to_string(other.join("a.sv")).unwrap(), "keep");

        let file = tmp.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let e = d.write_to(&file).unwrap_err().to_string();
        assert!(e.contains("not a folder"), "{e}");

        // A manifest.json that is a symlink (here to another lutcore folder's
        // manifest) is refused, and its target is neither read nor written.
        #[cfg(unix)]
        {
            let linked = tmp.path().join("linked");
            std::fs::create_dir(&linked).unwrap();
            let target = dir.join(MANIFEST);
            std::fs::remove_file(dir.join("notes.txt")).unwrap();
            let before = std::fs::read(&target).unwrap();
            std::os::unix::fs::symlink(&target, linked.join(MANIFEST)).unwrap();
            let e = d.write_to(&linked).unwrap_err().to_string();
            assert!(e.contains("not a regular file"), "{e}");
            assert_eq!(std::fs::read(&target).unwrap(), before);
            let dangling = tmp.path().join("dangling");
            std::fs::create_dir(&dangling).unwrap();
            let elsewhere = tmp.path().join("elsewhere");
            std::os::unix::fs::symlink(&elsewhere, dangling.join(MANIFEST)).unwrap();
            let e = d.write_to(&dangling).unwrap_err().to_string();
            assert!(e.contains("not a regular file"), "{e}");
            assert!(!elsewhere.exists(), "written through a dangling symlink");
        }
    }

    /// Every path under `dir`, relative, folders with a trailing `/`.
    fn tree(dir: &Path) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut todo = vec![dir.to_path_buf()];
        while let Some(d) = todo.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                if std::fs::symlink_metadata(&p).unwrap().is_dir() {
                    out.insert(rel + "/");
                    todo.push(p);
                } else {
                    out.insert(rel);
                }
            }
        }
        out
    }

    /// A testbench folder as `run_icarus.sh` and `run_verilator.sh` leave it:
    /// the design, the testbench and their scratch folders with files in them.
    fn testbench_folder(dir: &Path, seed: u64) -> (Design, testbench::Testbench) {
        let d = generate(&preset("tiny").unwrap()).unwrap();
        let opts = testbench::TbOptions {
            seed,
            ..testbench::TbOptions::default()
        };
        let tb = testbench::generate(&d, &opts).unwrap();
        d.write_with_testbench(dir, &tb).unwrap();
        for s in [testbench::ICARUS_SCRATCH, testbench::VERILATOR_SCRATCH] {
            std::fs::create_dir_all(dir.join(s).join("obj")).unwrap();
            std::fs::write(dir.join(s).join("obj/x.o"), "scratch").unwrap();
        }
        (d, tb)
    }

    #[test]
    fn a_testbench_folder_is_rewritten_with_or_without_a_testbench() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        let (d, tb1) = testbench_folder(&dir, 1);
        let opts = testbench::TbOptions {
            seed: 2,
            ..testbench::TbOptions::default()
        };
        let tb2 = testbench::generate(&d, &opts).unwrap();
        d.write_with_testbench(&dir, &tb2).unwrap();
        let fresh = tmp.path().join("fresh");
        d.write_with_testbench(&fresh, &tb2).unwrap();
        assert_eq!(tree(&dir), tree(&fresh), "scratch folders removed");
        assert!(!dir.join(testbench::BUILD_DIR).exists());
        for f in &tb2.outputs().files {
            assert_eq!(
                std::fs::read(dir.join(f)).unwrap(),
                std::fs::read(fresh.join(f)).unwrap(),
                "{f}"
            );
        }
        assert_ne!(tb1.vectors, tb2.vectors, "the seeds give other vectors");

        // Without a testbench: only the design and its manifest are left.
        testbench_folder(&dir, 1);
        d.write_to(&dir).unwrap();
        assert_eq!(names(&dir), listed(&d));
        let m = std::fs::read_to_string(dir.join(MANIFEST)).unwrap();
        assert!(!m.contains("testbench"), "{m}");
    }

    #[test]
    fn user_files_in_vectors_or_build_refuse_the_folder_and_stay() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("keep"), "mine").unwrap();
        type Spoil<'a> = &'a dyn Fn(&Path);
        let cases: [(&str, Spoil); 5] = [
            ("vectors/notes.txt", &|d| {
                std::fs::write(d.join("vectors/notes.txt"), "mine").unwrap()
            }),
            ("build/notes.txt", &|d| {
                std::fs::write(d.join("build/notes.txt"), "mine").unwrap()
            }),
            ("build/yosys", &|d| {
                std::fs::create_dir(d.join("build/yosys")).unwrap()
            }),
            ("vectors/act.hex", &|d| {
                std::fs::remove_file(d.join("vectors/act.hex")).unwrap();
                std::fs::create_dir(d.join("vectors/act.hex")).unwrap();
            }),
            ("build/icarus", &|d| {
                std::fs::remove_dir_all(d.join("build/icarus")).unwrap();
                #[cfg(unix)]
                std::os::unix::fs::symlink(tmp.path().join("outside"), d.join("build/icarus"))
                    .unwrap();
                #[cfg(not(unix))]
                std::fs::write(d.join("build/icarus"), "mine").unwrap();
            }),
        ];
        for (i, (what, spoil)) in cases.iter().enumerate() {
            let dir = tmp.path().join(format!("out{i}"));
            let (d, _) = testbench_folder(&dir, 1);
            spoil(&dir);
            let before = tree(&dir);
            for with_tb in [false, true] {
                let r = if with_tb {
                    let tb = testbench::generate(&d, &testbench::TbOptions::default()).unwrap();
                    d.write_with_testbench(&dir, &tb)
                } else {
                    d.write_to(&dir)
                };
                let e = r.unwrap_err().to_string();
                assert!(
                    e.contains(&format!("`{what}`")) && e.contains("empty or new folder"),
                    "{what}: {e}"
                );
                assert_eq!(tree(&dir), before, "{what}: nothing removed");
            }
        }
        assert_eq!(tree(&outside), BTreeSet::from(["keep".to_string()]));
    }

    #[test]
    fn hostile_testbench_lists_in_a_manifest_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let d = generate(&preset("tiny").unwrap()).unwrap();
        let long = "a".repeat(MAX_NAME_BYTES + 1);
        let lists = [
            (r#"["../x"]"#, "[]"),
            (r#"["/etc/x"]"#, "[]"),
            (r#"["vectors/../../x"]"#, "[]"),
            (r#"["vectors/a/b"]"#, "[]"),
            (r#"["build"]"#, "[]"),
            (r#"["manifest.json"]"#, "[]"),
            (r#"["a\\b"]"#, "[]"),
            (&format!(r#"["{long}"]"#)[..], "[]"),
            ("[]", r#"["build"]"#),
            ("[]", r#"["build/.."]"#),
            ("[]", r#"["/tmp"]"#),
            ("[]", r#"["vectors/x"]"#),
            ("[]", r#"["build/a/b"]"#),
            ("[1]", "[]"),
            ("{}", "[]"),
        ];
        for (files, scratch) in lists {
            let dir = tmp.path().join("out");
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir(&dir).unwrap();
            std::fs::write(
                dir.join(MANIFEST),
                format!(
                    r#"{{"generator":"lutcore-gen 0.1.0","files":[],"testbench":{{"files":{files},"scratch":{scratch}}}}}"#
                ),
            )
            .unwrap();
            std::fs::write(dir.join("x"), "keep").unwrap();
            let e = d.write_to(&dir).unwrap_err().to_string();
            assert!(
                e.contains("not written by lutcore"),
                "{files} {scratch}: {e}"
            );
            assert_eq!(std::fs::read_to_string(dir.join("x")).unwrap(), "keep");
        }
    }
}
