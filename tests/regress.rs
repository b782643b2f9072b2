//! `lutcore regress` end to end (needs Verilator; two small configs, cached after the first
//! run): `--case I` replays exactly case I of a full run, and a wrong RTL result (the hidden
//! `--inject-fault` hook) fails the run with a replay line, in the output and in JUnit.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

/// Options every run here shares: seed 3 draws a LUT ternary int8 array and a MAC uint2
/// int16 array, both at most 16 lanes.
const RUN: &[&str] = &[
    "regress",
    "--seed",
    "3",
    "--configs",
    "2",
    "--max-pe",
    "16",
    "--jobs",
    "2",
];

fn lutcore(dir: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lutcore"))
        .current_dir(dir)
        .args(RUN)
        .args(extra)
        .output()
        .expect("running lutcore")
}

fn verilator_missing() -> bool {
    Command::new("verilator").arg("--version").output().is_err()
}

fn show(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The comparable part of a case result (not its wall time or build accounting).
fn case(json: &Value, index: u64) -> Value {
    let r = json["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["spec"]["index"] == index)
        .expect("case in results");
    let keep = [
        "spec",
        "slug",
        "inputs_sha256",
        "backends",
        "failures",
        "rtl_cycles",
        "replay",
    ];
    Value::Object(
        keep.iter()
            .map(|k| (k.to_string(), r[*k].clone()))
            .collect(),
    )
}

#[test]
fn a_case_alone_replays_the_same_inputs_and_results() {
    if verilator_missing() {
        eprintln!("skipping: verilator not installed (make deps)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let full = lutcore(dir.path(), &["-n", "12", "--json", "full.json"]);
    assert!(full.status.success(), "{}", show(&full));
    let all: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("full.json")).unwrap())
            .unwrap();
    assert_eq!(all["cases"], 12);
    let listed = lutcore(dir.path(), &["-n", "12", "--list"]);
    let listing = String::from_utf8_lossy(&listed.stdout).to_string();
    for i in [1u64, 7, 10] {
        let one = lutcore(
            dir.path(),
            &["--case", &i.to_string(), "--json", "one.json"],
        );
        assert!(one.status.success(), "{}", show(&one));
        let alone: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("one.json")).unwrap())
                .unwrap();
        assert_eq!(alone["cases"], 1);
        assert_eq!(
            case(&alone, i),
            case(&all, i),
            "case {i} alone differs from case {i} of the run"
        );
        let line = listing.lines().nth(i as usize).unwrap();
        let slug = case(&all, i)["slug"].as_str().unwrap().to_string();
        assert!(
            line.starts_with(&format!("{i} {slug} ")),
            "--list line {line}"
        );
    }
    // Case 10 is a random int8 case: every CPU kernel ran, as well as the RTL and the LUT reference.
    let backends = case(&all, 10)["backends"].as_array().unwrap().clone();
    assert!(
        backends.len() >= 4 && backends.iter().any(|b| b == "cpu:generic/native"),
        "{backends:?}"
    );
}

#[test]
fn a_wrong_rtl_result_fails_with_a_replay_line() {
    if verilator_missing() {
        eprintln!("skipping: verilator not installed (make deps)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bad = lutcore(
        dir.path(),
        &[
            "-n",
            "10",
            "--inject-fault",
            "9",
            "--junit",
            "junit.xml",
            "--out",
            "cases",
        ],
    );
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(1), "{}", show(&bad));
    let replay = "lutcore regress --seed 3 --case 9 --configs 2 --max-pe 16";
    assert!(
        stderr.contains("FAIL case 9 ")
            && stderr.contains("rtl: 1 of")
            && stderr.contains(&format!("replay: {replay}")),
        "{}",
        show(&bad)
    );
    assert_eq!(
        stderr.matches("FAIL case").count(),
        1,
        "only the injected case fails:\n{stderr}"
    );
    let xml = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    assert_eq!(xml.matches("<testcase ").count(), 10);
    assert_eq!(xml.matches("<failure ").count(), 1);
    assert!(xml.contains(&format!("replay: {replay}")), "{xml}");

    // The merge of the per-case files fails the same way, and notices a missing case.
    std::fs::remove_file(dir.path().join("cases/cases/4.json")).unwrap();
    let merged = lutcore(dir.path(), &["-n", "10", "--report", "cases"]);
    let out = String::from_utf8_lossy(&merged.stdout);
    assert_eq!(merged.status.code(), Some(1), "{}", show(&merged));
    assert!(
        out.contains("missing    1 case(s) have no result: 4") && out.contains("FAIL: 1 of 9"),
        "{}",
        show(&merged)
    );

    // The replay command, without the fault, passes.
    let args: Vec<&str> = replay.split(' ').skip(2).collect();
    let again = Command::new(env!("CARGO_BIN_EXE_lutcore"))
        .current_dir(dir.path())
        .arg("regress")
        .args(&args)
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", show(&again));
}
