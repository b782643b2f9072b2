//! Issue 14, the command line: every size from a flag or a file is bounded, every
//! config is checked, outputs never clobber inputs. Each case runs the real binary
//! under a memory limit and a timeout (`common::refuses`) and must fail with a clear
//! message before anything large is allocated or a Verilator model is built.
//! Every input is made at test time in a temporary folder.

mod common;

use std::path::{Path, PathBuf};

use common::{refuses, succeeds};

const TINY: &str =
    r#"{"arch":"lut","rows":4,"k_groups":1,"g":4,"weights":"uint2","act_bits":8,"max_k":256}"#;

struct Fixture {
    tmp: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        Fixture {
            tmp: tempfile::tempdir().expect("tempdir"),
        }
    }
    fn dir(&self) -> &Path {
        self.tmp.path()
    }
    /// Write `bytes` to `name` in the folder; its path as a string.
    fn file(&self, name: &str, bytes: impl AsRef<[u8]>) -> String {
        let p = self.dir().join(name);
        std::fs::write(&p, bytes).expect("write fixture");
        p.display().to_string()
    }
    fn path(&self, name: &str) -> String {
        self.dir().join(name).display().to_string()
    }
    /// The tiny config with one field's JSON value replaced.
    fn config_with(&self, field: &str, value: &str) -> String {
        let mut obj: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(TINY).unwrap();
        obj.insert(field.into(), serde_json::from_str(value).unwrap());
        self.file(
            &format!("{field}_{}.json", value.len()),
            serde_json::to_string(&obj).unwrap(),
        )
    }
    fn refuses(&self, args: &[&str], expect: &[&str]) {
        refuses(self.dir(), args, expect)
    }
}

#[test]
fn shapes_are_positive_bounded_numbers() {
    let f = Fixture::new();
    let sim = |shape: &str, expect: &[&str]| {
        f.refuses(
            &["sim", "--preset", "tiny", &format!("--shape={shape}")],
            expect,
        )
    };
    sim("1000000000x256", &["M = 1000000000", "16777216"]);
    sim("256x1000000000", &["K = 1000000000", "16777216"]);
    sim("0x256", &["M = 0", "at least 1"]);
    sim("256x0", &["K = 0", "at least 1"]);
    sim("-5x3", &["`-5`", "whole number"]);
    sim("abcx3", &["`abc`", "whole number"]);
    sim("1e9x2", &["`1e9`", "digits only"]);
    sim("64", &["not MxK"]);
    sim("99999999999999999999999x2", &["over the limit", "16777216"]);
    // Each dimension within its limit, their product not.
    sim("16777216x17", &["M·K = 285212672", "268435456"]);
    f.refuses(
        &["sim", "--preset", "default", "--shape", "16777216x16384"],
        &["--shape", "268435456"],
    );
}

#[test]
fn a_shape_beyond_max_k_names_shape_k_and_max_k() {
    let f = Fixture::new();
    f.refuses(
        &["sim", "--preset", "tiny", "--shape", "64x300"],
        &[
            "--shape 64x300",
            "tiny",
            "K = 300",
            "max_k = 256",
            "K of at most 256",
            "max_k of at least 300",
        ],
    );
}

#[test]
fn sim_repeats_are_bounded() {
    let f = Fixture::new();
    for repeats in ["4294967295", "0", "1001"] {
        f.refuses(
            &[
                "sim",
                "--preset",
                "tiny",
                "--shape",
                "4x16",
                "--repeats",
                repeats,
            ],
            &["--repeats", "1..=1000"],
        );
    }
}

#[test]
fn bench_gemv_sizes_are_bounded() {
    let f = Fixture::new();
    let bench = |args: &[&str], expect: &[&str]| {
        let mut v = vec!["bench", "gemv"];
        v.extend_from_slice(args);
        f.refuses(&v, expect)
    };
    bench(&["--shape", "1000000000x256"], &["16777216"]);
    bench(
        &["--shape", "100000x100000"],
        &["--shape 100000x100000", "268435456"],
    );
    bench(&["--shape", "0x8"], &["at least 1"]);
    bench(&["--batch", "100000"], &["--batch 100000", "1..=512"]);
    bench(&["--batch", "0"], &["--batch 0", "1..=512"]);
    bench(&["--threads", "100000"], &["--threads 100000", "1..=256"]);
    bench(&["--threads", "0"], &["--threads 0", "1..=256"]);
    bench(
        &["--repeats", "18446744073709551615"],
        &["--repeats", "1..=1000"],
    );
    bench(&["--repeats", "0"], &["--repeats 0", "1..=1000"]);
    bench(
        &["--shape", "16777216x16", "--batch", "512"],
        &["--batch 512", "67108864"],
    );
    let dir = f.path("");
    bench(
        &["--shape", "8x8", "--peer", &dir],
        &["--peer", "is a folder"],
    );
    bench(
        &[
            "--shape",
            "8x8",
            "--peer",
            &f.file("big_peer.json", " ".repeat(65 << 20)),
        ],
        &["--peer", "67108864"],
    );
}

#[test]
fn configs_are_checked_field_by_field() {
    let f = Fixture::new();
    let out = f.path("out");
    let gen = |config: &str, expect: &[&str]| {
        f.refuses(&["gen", "--config", config, "--out", &out], expect)
    };
    gen(
        &f.file("array.json", format!("[{TINY}]")),
        &["JSON object", "found an array"],
    );
    gen(
        &f.file(
            "bom_bad.json",
            format!("\u{feff}{}", TINY.replace("\"rows\":4", "\"rows\":0")),
        ),
        &["`rows` = 0", "1..=256"],
    );
    gen(&f.file("empty.json", ""), &["empty"]);
    gen(&f.path(""), &["is a folder"]);
    gen(
        &f.file("unknown.json", TINY.replace('}', ",\"colz\":3}")),
        &["unknown field `colz`"],
    );
    gen(
        &f.file("missing.json", TINY.replace(",\"max_k\":256", "")),
        &["missing field `max_k`", "1..=1048576"],
    );
    gen(
        &f.file("twice.json", TINY.replace('}', ",\"g\":4}")),
        &["`g` is given more than once"],
    );
    for (field, range) in [
        ("rows", "1..=256"),
        ("k_groups", "1..=32"),
        ("g", "2..=5"),
        ("act_bits", "8 and 16"),
        ("max_k", "1..=1048576"),
    ] {
        gen(
            &f.config_with(field, "0"),
            &[&format!("`{field}` = 0"), range],
        );
        gen(
            &f.config_with(field, "4294967296"),
            &[&format!("`{field}` = 4294967296"), range],
        );
        gen(
            &f.config_with(field, "-3"),
            &[&format!("`{field}` = -3"), range],
        );
    }
    gen(
        &f.config_with("arch", "\"dsp\""),
        &["`arch` = \"dsp\"", "lut, mac, addsub"],
    );
    gen(
        &f.config_with("weights", "\"int7\""),
        &["`weights` = \"int7\"", "uint1"],
    );
    gen(
        &f.file("truncated.json", &TINY[..TINY.len() / 2]),
        &["not valid JSON"],
    );
    gen(
        &f.file("spaces.json", " ".repeat(10 << 20)),
        &["larger than the limit", "1048576"],
    );
    gen(
        &f.file("latin1.json", b"{\"arch\":\"l\xfct\"}"),
        &["not UTF-8"],
    );
    // The other commands read configs with the same loader.
    let arr = f.path("array.json");
    f.refuses(
        &["sim", "--config", &arr, "--shape", "4x16"],
        &["found an array"],
    );
    f.refuses(&["sim-model", "--config", &arr], &["found an array"]);
    f.refuses(
        &["sim-model", "--baseline-config", &arr],
        &["found an array"],
    );
}

#[test]
fn sim_model_token_counts_are_bounded() {
    let f = Fixture::new();
    f.refuses(
        &["sim-model", "--prompt", "1000000000", "--no-compare"],
        &["--prompt 1000000000", "4096"],
    );
    f.refuses(
        &[
            "sim-model",
            "--prompt",
            "8",
            "--decode",
            "18446744073709551615",
            "--no-compare",
        ],
        &["--decode", "4096"],
    );
}

#[test]
fn outputs_never_clobber_inputs_and_bad_output_paths_are_named() {
    let f = Fixture::new();
    let cfg = f.file("c.json", TINY);
    let plain = f.file("plain", "not a folder");
    let under_file = format!("{plain}/sub/report.json");
    let folder = f.path("");
    let sim = |extra: &[&str], expect: &[&str]| {
        let mut v = vec!["sim", "--config", cfg.as_str(), "--shape", "4x16"];
        v.extend_from_slice(extra);
        f.refuses(&v, expect)
    };
    sim(&["--json", &cfg], &["--json", "same file as --config"]);
    sim(&["--trace", &cfg], &["--trace", "same file as --config"]);
    sim(&["--json", &folder], &["--json", "is a folder"]);
    sim(&["--json", &under_file], &["is a file, not a folder"]);
    sim(&["--trace", &under_file], &["is a file, not a folder"]);
    let both = f.path("both.json");
    sim(&["--json", &both, "--trace", &both], &["same file"]);
    assert_eq!(
        std::fs::read_to_string(&cfg).unwrap(),
        TINY,
        "the config is untouched"
    );

    let peer = f.file("peer.json", "[]");
    f.refuses(
        &[
            "bench", "gemv", "--shape", "8x8", "--peer", &peer, "--json", &peer,
        ],
        &["same file as --peer"],
    );
    f.refuses(
        &["bench", "gemv", "--shape", "8x8", "--json", &folder],
        &["is a folder"],
    );
    f.refuses(
        &["sim-model", "--config", &cfg, "--trace", &cfg],
        &["--trace", "same file as --config"],
    );

    f.refuses(
        &["gen", "--preset", "tiny", "--out", &plain],
        &["--out", "is not a folder"],
    );
    f.refuses(
        &["gen", "--preset", "tiny", "--out", &format!("{plain}/sub")],
        &["is a file, not a folder"],
    );
    let foreign = f.dir().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "mine").unwrap();
    f.refuses(
        &[
            "gen",
            "--preset",
            "tiny",
            "--out",
            &foreign.display().to_string(),
        ],
        &["notes.txt", "empty or new folder"],
    );
    assert_eq!(
        std::fs::read_to_string(foreign.join("notes.txt")).unwrap(),
        "mine"
    );
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

fn manifest_files(dir: &Path) -> Vec<String> {
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let mut v: Vec<String> = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect();
    v.push("manifest.json".into());
    v.sort();
    v
}

#[test]
fn gen_twice_into_one_folder_leaves_exactly_the_second_design() {
    let f = Fixture::new();
    let out: PathBuf = f.dir().join("out");
    let fresh = f.dir().join("fresh");
    let o = out.display().to_string();
    succeeds(f.dir(), &["gen", "--preset", "default", "--out", &o]);
    let first = manifest_files(&out);
    assert_eq!(files_in(&out), first);
    succeeds(f.dir(), &["gen", "--preset", "mac-tiny", "--out", &o]);
    let second = manifest_files(&out);
    assert_ne!(first, second);
    assert_eq!(
        files_in(&out),
        second,
        "stale files of the first preset left behind"
    );
    succeeds(
        f.dir(),
        &[
            "gen",
            "--preset",
            "mac-tiny",
            "--out",
            &fresh.display().to_string(),
        ],
    );
    assert_eq!(files_in(&fresh), second);
    for name in &second {
        assert_eq!(
            std::fs::read(out.join(name)).unwrap(),
            std::fs::read(fresh.join(name)).unwrap(),
            "{name}"
        );
    }
    // A config with a byte-order mark is read like the same config without one.
    let bom = f.file("bom.json", format!("\u{feff}{TINY}"));
    let stdout = succeeds(f.dir(), &["gen", "--config", &bom, "--out", &f.path("bom")]);
    assert!(stdout.contains("rows=4"), "{stdout}");
}
