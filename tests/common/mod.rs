//! Shared by the root crate's integration tests: run the built `lutcore` binary
//! on hostile input under a memory limit and check how it fails.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// Address-space limit for a hostile case (KiB): far above what a refused input needs,
/// far below what an unbounded allocation would take.
pub const MEMORY_LIMIT_KIB: u64 = 4 << 20;

/// Wall-clock limit of one hostile case (seconds); a hang is a failure.
pub const TIME_LIMIT_S: u32 = 60;

/// Run `lutcore ARGS` in `dir` under `ulimit -v` and `timeout`.
pub fn lutcore_in(dir: &Path, args: &[&str]) -> Output {
    let bin = env!("CARGO_BIN_EXE_lutcore");
    Command::new("sh")
        .current_dir(dir)
        .arg("-c")
        .arg(format!(
            "ulimit -v {MEMORY_LIMIT_KIB}; exec timeout {TIME_LIMIT_S} \"$0\" \"$@\""
        ))
        .arg(bin)
        .args(args)
        .output()
        .expect("running lutcore")
}

/// One hostile case: `lutcore ARGS` must exit with a non-zero status of its own (not a
/// signal, not the timeout's 124, not a panic's 101), print no panic, and name what is
/// wrong: every string of `expect` must appear in its stderr (case-insensitive).
pub fn refuses(dir: &Path, args: &[&str], expect: &[&str]) {
    let out = lutcore_in(dir, args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let shown = format!(
        "lutcore {}\n--- status {:?}\n--- stderr\n{stderr}",
        args.join(" "),
        out.status
    );
    let code = out
        .status
        .code()
        .unwrap_or_else(|| panic!("killed by a signal (memory limit or crash):\n{shown}"));
    assert!(code != 0, "exit 0 on a hostile input:\n{shown}");
    assert!(code != 124, "timed out after {TIME_LIMIT_S} s:\n{shown}");
    assert!(
        code != 101 && !stderr.contains("panicked"),
        "panicked:\n{shown}"
    );
    let lower = stderr.to_lowercase();
    for e in expect {
        assert!(
            lower.contains(&e.to_lowercase()),
            "stderr does not mention `{e}`:\n{shown}"
        );
    }
}

/// `lutcore ARGS` must succeed; returns its stdout.
pub fn succeeds(dir: &Path, args: &[&str]) -> String {
    let out = lutcore_in(dir, args);
    assert!(
        out.status.success(),
        "lutcore {} failed ({:?}):\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
