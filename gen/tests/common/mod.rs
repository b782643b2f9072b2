//! Shared by the gen crate's integration tests: Verilator builds of generated
//! modules with a C++ test driver.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Run `cmd` (`what` names it); its stdout and stderr. Panics, with that
/// output, if it cannot start or fails.
pub fn run_tool(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {what}: {e} (install it with `make deps`)"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{what} failed:\n{text}");
    text
}

/// Verilate `files` under top module `top` with the C++ `driver` (its `main`)
/// into `obj`, plus the Verilator `flags`, and build the executable; its path
/// (`obj/V<top>`).
pub fn verilator_exe(
    top: &str,
    driver: &Path,
    files: &[impl AsRef<OsStr>],
    obj: &Path,
    flags: &[&str],
) -> PathBuf {
    run_tool(
        Command::new("verilator")
            .args(["--cc", "--exe", "--build", "-j", "2"])
            .args(flags)
            .args(["--top-module", top, "--Mdir"])
            .arg(obj)
            .arg(driver)
            .args(files),
        "verilator --build",
    );
    obj.join(format!("V{top}"))
}
