//! Generator properties: deterministic bytes, a golden copy of the `tiny`
//! preset, headers that name the config, a manifest that matches the design.

use std::path::PathBuf;

use lutcore_gen::generate;
use lutcore_sw::config::{preset, presets};

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
            assert_eq!(fa.contents, fb.contents, "preset {} file {}", p.name, fa.name);
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
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["top"], "lutcore_lut_array");
    assert_eq!(manifest["config"]["rows"], 32);
    assert_eq!(manifest["widths"]["table_entry"], 10);
    assert_eq!(manifest["verilog_sha256"], d.verilog_sha256());
    for f in &d.files {
        let on_disk = std::fs::read_to_string(dir.path().join(&f.name)).unwrap();
        assert_eq!(on_disk, f.contents);
        // One module per file, named after it, with the config in its header.
        let module = f.name.trim_end_matches(".sv");
        assert!(on_disk.contains(&format!("module {module} (")), "{}", f.name);
        assert!(on_disk.contains("// Config: arch=lut rows=32 k_groups=4 g=4 weights=ternary"), "{}", f.name);
        assert_eq!(on_disk.matches("endmodule").count(), 1);
    }
    let ports: Vec<&str> = manifest["ports"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
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
        let want = std::fs::read_to_string(dir.join(&f.name))
            .unwrap_or_else(|e| panic!("{}: {e} (regenerate with LUTCORE_UPDATE_GOLDEN=1)", f.name));
        assert_eq!(f.contents, want, "{} differs from the golden copy (LUTCORE_UPDATE_GOLDEN=1 to accept)", f.name);
    }
}

#[test]
fn mac_and_lut_share_the_interface() {
    let lut = generate(&preset("default").unwrap());
    let mac = generate(&preset("mac-default").unwrap());
    let names = |d: &lutcore_gen::Design| d.ports.iter().map(|p| (p.name.clone(), p.dir)).collect::<Vec<_>>();
    assert_eq!(names(&lut), names(&mac));
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
                if let Some((lhs, _)) = code.split_once(" <= ").filter(|_| !code.starts_with("//")) {
                    assert!(lhs.ends_with("_q") || lhs.ends_with("_q2"), "{at}: register `{lhs}` without _q");
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
