//! The arrays' protocol assertions (`` `ifdef LUTCORE_ASSERT ``) in Verilator
//! with `--assert`: a legal stream with back-pressure trips none, a pass with
//! more K-tiles than `max_k` allows trips `PassFitsMaxK`, and a controller
//! that drops an untaken result beat trips `ResValidHeld`.
//!
//! Each check is a small standalone Verilator binary with its own C++ driver,
//! so it drives the handshakes freely (back-pressure, overlong passes), which
//! the co-simulation's GEMV driver never does; `sim/tests/assertions.rs`
//! checks that the co-simulation library reports a failed assertion. Needs
//! Verilator (`make deps`).

mod common;

use std::path::Path;
use std::process::Command;

use common::verilator_exe;
use lutcore_contract::config::preset;
use lutcore_gen::generate;

/// The C++ driver: `legal` (passes of 3 K-tiles, result taken every other
/// cycle), `overlong` (act_last_i never set) or `stall` (res_ready_i low).
/// Drives 2000 clock cycles; a failed assertion stops the model first.
const DRIVER: &str = r#"
#include <cstdio>
#include <cstring>
#include "Vlutcore_lut_array.h"
#include "verilated.h"
int main(int argc, char** argv) {
    VerilatedContext ctx;
    ctx.commandArgs(argc, argv);
    const char* mode = argc > 1 ? argv[argc - 1] : "legal";
    Vlutcore_lut_array top{&ctx};
    auto tick = [&] { top.clk_i = 0; top.eval(); top.clk_i = 1; top.eval(); };
    top.rst_ni = 0;
    tick();
    tick();
    top.rst_ni = 1;
    unsigned tiles = 0;
    for (int cycle = 0; cycle < 2000; ++cycle) {
        top.act_valid_i = 1;
        top.wgt_valid_i = 1;
        top.act_last_i = std::strcmp(mode, "overlong") != 0 && tiles % 3 == 2;
        top.res_ready_i = std::strcmp(mode, "stall") != 0 && cycle % 2 == 0;
        top.clk_i = 0;
        top.eval();
        const bool act_fire = top.act_valid_i && top.act_ready_o;
        top.clk_i = 1;
        top.eval();
        if (act_fire) ++tiles;
    }
    std::printf("no assertion failed in %u activation beats\n", tiles);
    return 0;
}
"#;

/// Build `dir`'s Verilog (the `tiny` preset, its controller patched with
/// `patch` if given) with the driver, run it in `mode`: (exit ok, output).
fn run(dir: &Path, patch: Option<(&str, &str)>, modes: &[&str]) -> Vec<(bool, String)> {
    let d = generate(&preset("tiny").expect("tiny")).expect("generate tiny");
    let rtl = dir.join("rtl");
    d.write_to(&rtl).expect("write the Verilog");
    if let Some((old, new)) = patch {
        let ctrl = rtl.join("lutcore_ctrl.sv");
        let text = std::fs::read_to_string(&ctrl).expect("read lutcore_ctrl.sv");
        assert_eq!(
            text.matches(old).count(),
            1,
            "`{old}` once in lutcore_ctrl.sv"
        );
        std::fs::write(&ctrl, text.replace(old, new)).expect("write lutcore_ctrl.sv");
    }
    std::fs::write(dir.join("driver.cpp"), DRIVER).expect("write the driver");
    let files: Vec<String> = d
        .files
        .iter()
        .map(|f| rtl.join(&f.name).display().to_string())
        .collect();
    let exe = verilator_exe(
        &d.top,
        &dir.join("driver.cpp"),
        &files,
        &dir.join("obj"),
        &[
            "--assert",
            "+define+LUTCORE_ASSERT",
            "-Wno-fatal",
            "--no-timing",
        ],
    );
    modes
        .iter()
        .map(|mode| {
            let out = Command::new(&exe)
                .arg(mode)
                .output()
                .expect("run the model");
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            (out.status.success(), text)
        })
        .collect()
}

#[test]
fn assertions_pass_a_legal_stream_and_catch_violations() {
    let dir = tempfile::tempdir().expect("tempdir");
    let runs = run(dir.path(), None, &["legal", "overlong"]);
    let (ok, text) = &runs[0];
    assert!(
        *ok && text.contains("no assertion failed"),
        "legal stream:\n{text}"
    );
    let (ok, text) = &runs[1];
    assert!(
        !*ok && text.contains("Assertion failed") && text.contains("PassFitsMaxK"),
        "overlong pass:\n{text}"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let patch = (
        "assign res_fire = res_valid_o & res_ready_i;",
        "assign res_fire = res_valid_o;",
    );
    let runs = run(dir.path(), Some(patch), &["stall"]);
    let (ok, text) = &runs[0];
    assert!(
        !*ok && text.contains("Assertion failed") && text.contains("ResValidHeld"),
        "dropped result beat:\n{text}"
    );
}
