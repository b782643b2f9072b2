//! Generator properties: deterministic bytes, a golden copy of the `tiny`
//! preset, headers that name the config, a manifest that matches the design.

use std::path::PathBuf;

use lutcore_contract::config::{preset, presets, ArrayConfig};
use lutcore_contract::interface::{Dir, StreamPort};
use lutcore_gen::Design;

fn generate(cfg: &ArrayConfig) -> Design {
    lutcore_gen::generate(cfg).unwrap_or_else(|e| panic!("{}: {e}", cfg.slug()))
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/tiny")
}

#[test]
fn identical_configs_give_identical_bytes() {
    for p in presets() {
        let cfg = p.raw.validate().unwrap();
        let a = generate(&cfg);
        let b = generate(&cfg);
        assert_eq!(a.files, b.files, "preset {}", p.name);
        for (fa, fb) in a.files.iter().zip(&b.files) {
            assert_eq!(
                fa.contents, fb.contents,
                "preset {} file {}",
                p.name, fa.name
            );
        }
        assert_eq!(a.verilog_sha256(), b.verilog_sha256());
    }
}

#[test]
fn written_files_match_the_design_and_manifest() {
    let cfg = preset("default").unwrap();
    let d = generate(&cfg);
    let dir = tempfile::tempdir().unwrap();
    d.write_to(dir.path()).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["top"], "lutcore_lut_array");
    assert_eq!(manifest["config"]["rows"], 32);
    assert_eq!(manifest["widths"]["table_entry"], 10);
    assert_eq!(manifest["verilog_sha256"], d.verilog_sha256());
    for f in &d.files {
        let on_disk = std::fs::read_to_string(dir.path().join(&f.name)).unwrap();
        assert_eq!(on_disk, f.contents);
        // One module per file, named after it, with the config in its header.
        let module = f.name.trim_end_matches(".sv");
        assert!(
            on_disk.contains(&format!("module {module} (")),
            "{}",
            f.name
        );
        assert!(
            on_disk.contains("// Config: arch=lut rows=32 k_groups=4 g=4 weights=ternary"),
            "{}",
            f.name
        );
        assert_eq!(on_disk.matches("endmodule").count(), 1);
    }
    let ports: Vec<&str> = manifest["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(ports.contains(&"wgt_data_i") && ports.contains(&"res_data_o"));
}

/// The `tiny` preset's Verilog, checked in: any change to the generated text
/// shows up in review. Regenerate with `LUTCORE_UPDATE_GOLDEN=1 cargo test -p lutcore-gen`.
#[test]
fn tiny_preset_matches_golden_files() {
    let d = generate(&preset("tiny").unwrap());
    let dir = golden_dir();
    if std::env::var_os("LUTCORE_UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for f in &d.files {
            std::fs::write(dir.join(&f.name), &f.contents).unwrap();
        }
    }
    for f in &d.files {
        let want = std::fs::read_to_string(dir.join(&f.name)).unwrap_or_else(|e| {
            panic!("{}: {e} (regenerate with LUTCORE_UPDATE_GOLDEN=1)", f.name)
        });
        assert_eq!(
            f.contents, want,
            "{} differs from the golden copy (LUTCORE_UPDATE_GOLDEN=1 to accept)",
            f.name
        );
    }
}

/// The ports of `module` as printed in `text`: `(direction, width, name, doc)`
/// from its header `module name (` up to `);`.
fn printed_ports(text: &str, module: &str) -> Vec<(Dir, u32, String, String)> {
    let head = format!("module {module} (");
    let start = text.find(&head).unwrap_or_else(|| panic!("no `{head}`")) + head.len();
    let end = start + text[start..].find("\n);").expect("end of the port list");
    // A doc too long for one line continues on comment-only lines below it.
    let mut lines: Vec<String> = Vec::new();
    for line in text[start..end].lines().filter(|l| !l.trim().is_empty()) {
        match (line.trim().strip_prefix("//"), lines.last_mut()) {
            (Some(more), Some(last)) => {
                last.push(' ');
                last.push_str(more.trim());
            }
            _ => lines.push(line.to_string()),
        }
    }
    lines
        .iter()
        .map(|line| {
            let (decl, doc) = line.split_once("//").unwrap_or((line, ""));
            let words: Vec<&str> = decl
                .trim()
                .trim_end_matches(',')
                .split_whitespace()
                .collect();
            let dir = match words[0] {
                "input" => Dir::Input,
                "output" => Dir::Output,
                other => panic!("`{other}` in port line `{line}`"),
            };
            assert_eq!(words[1], "logic", "{line}");
            let width = match words[2]
                .strip_prefix('[')
                .and_then(|r| r.strip_suffix(":0]"))
            {
                Some(hi) => hi.parse::<u32>().expect("msb") + 1,
                None => 1,
            };
            (
                dir,
                width,
                words[words.len() - 1].to_string(),
                doc.trim().to_string(),
            )
        })
        .collect()
}

/// Every preset's top, as printed, has exactly the stream interface of the
/// contract: the same ports in the same order, directions, widths and docs.
#[test]
fn printed_tops_have_the_contracts_stream_interface() {
    for p in presets() {
        let cfg = p.raw.validate().unwrap();
        let d = generate(&cfg);
        let top = d
            .files
            .iter()
            .find(|f| f.name == format!("{}.sv", d.top))
            .expect("top file");
        let printed = printed_ports(&top.contents, &d.top);
        let want: Vec<(Dir, u32, String, String)> = StreamPort::ALL
            .iter()
            .map(|s| (s.dir(), s.width(&cfg), s.name().to_string(), s.doc(&cfg)))
            .collect();
        assert_eq!(printed, want, "preset {}", p.name);
        let listed: Vec<(Dir, u32, String)> = d
            .ports
            .iter()
            .map(|p| (p.dir, p.width, p.name.clone()))
            .collect();
        let want: Vec<(Dir, u32, String)> =
            want.into_iter().map(|(d, w, n, _)| (d, w, n)).collect();
        assert_eq!(listed, want, "preset {}: Design::ports", p.name);
    }
}

/// The controller's clock, reset and handshake ports are the interface's
/// (the top connects them by name), with the brief docs.
#[test]
fn the_controller_takes_the_interfaces_handshakes() {
    let cfg = preset("tiny").unwrap();
    let d = generate(&cfg);
    let ctrl = d
        .files
        .iter()
        .find(|f| f.name == "lutcore_ctrl.sv")
        .expect("controller file");
    let printed = printed_ports(&ctrl.contents, "lutcore_ctrl");
    let handshakes: Vec<(Dir, u32, String, String)> = StreamPort::ALL
        .iter()
        .filter(|s| !s.is_data())
        .map(|s| (s.dir(), 1, s.name().to_string(), s.brief().to_string()))
        .collect();
    assert_eq!(printed[..handshakes.len()], handshakes[..]);
    assert!(printed[handshakes.len()..]
        .iter()
        .all(|p| StreamPort::from_name(&p.2).is_none()));
}

/// The house style of every preset: no line longer than 100 characters, every
/// register (a left-hand side in an `always_ff`) named `*_q` or `*_q2`, and
/// every concurrent assertion inside `` `ifdef LUTCORE_ASSERT `` (Icarus 11
/// and yosys's own parser read the files without it).
#[test]
fn every_preset_keeps_the_house_style() {
    for p in presets() {
        let d = generate(&p.raw.validate().unwrap());
        let mut asserts = 0;
        for f in &d.files {
            let mut guarded = false;
            for (i, line) in f.contents.lines().enumerate() {
                let at = format!("{} {}:{}", p.name, f.name, i + 1);
                assert!(line.len() <= 100, "{at}: {} characters", line.len());
                let code = line.trim_start();
                if let Some((lhs, _)) = code.split_once(" <= ").filter(|_| !code.starts_with("//"))
                {
                    assert!(
                        lhs.ends_with("_q") || lhs.ends_with("_q2"),
                        "{at}: register `{lhs}` without _q"
                    );
                }
                match line {
                    "`ifdef LUTCORE_ASSERT" => guarded = true,
                    "`endif // LUTCORE_ASSERT" => guarded = false,
                    _ if line.contains("assert property") => {
                        assert!(guarded, "{at}: assertion outside `ifdef LUTCORE_ASSERT");
                        asserts += 1;
                    }
                    _ => {}
                }
            }
        }
        assert!(asserts >= 4, "{}: {asserts} assertions", p.name);
    }
}
