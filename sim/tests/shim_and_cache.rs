//! The build pipeline and the shim's port access, on a small hand-written
//! design (independent of the array generator): every Verilator storage
//! class (CData, SData, IData, QData, VlWide), masking, clocking, errors, and
//! the build cache.

use lutcore_gen::{Design, GeneratedFile, Port};
use lutcore_sim::{BuildStatus, SimError, SimLibrary};

const COUNTER: &str = "\
// A counter plus wide pass-through and accumulate paths.
module lutcore_test_counter (
  input  logic         clk_i,
  input  logic         rst_ni,
  input  logic         en_i,
  input  logic [11:0]  narrow_i,
  input  logic [39:0]  quad_i,
  input  logic [99:0]  wide_i,
  output logic [15:0]  count_o,
  output logic [31:0]  word_o,
  output logic [39:0]  quad_o,
  output logic [99:0]  wide_o,
  output logic [99:0]  acc_o
);
  assign word_o = {20'd0, narrow_i} + 32'd1;
  assign quad_o = ~quad_i;
  assign wide_o = wide_i;
  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      count_o <= '0;
      acc_o   <= '0;
    end else if (en_i) begin
      count_o <= count_o + 16'd1;
      acc_o   <= acc_o + wide_i;
    end
  end
endmodule
";

fn design(comment: &str) -> Design {
    let cfg = lutcore_contract::config::preset("tiny").expect("tiny preset");
    let ports = vec![
        Port::input("clk_i", 1, ""),
        Port::input("rst_ni", 1, ""),
        Port::input("en_i", 1, ""),
        Port::input("narrow_i", 12, ""),
        Port::input("quad_i", 40, ""),
        Port::input("wide_i", 100, ""),
        Port::output("count_o", 16, ""),
        Port::output("word_o", 32, ""),
        Port::output("quad_o", 40, ""),
        Port::output("wide_o", 100, ""),
        Port::output("acc_o", 100, ""),
    ];
    Design {
        config: cfg,
        top: "lutcore_test_counter".into(),
        ports,
        files: vec![GeneratedFile {
            name: "lutcore_test_counter.sv".into(),
            contents: format!("// {comment}\n{COUNTER}"),
        }],
    }
}

#[test]
fn verilator_version_is_reported() {
    let v = lutcore_sim::verilator_version().expect("verilator on PATH");
    assert!(v.starts_with("Verilator "), "{v}");
}

#[test]
fn ports_of_every_width_round_trip() {
    let lib = SimLibrary::build(&design("shared")).expect("build");
    println!(
        "status {:?} in {:?} at {}",
        lib.status(),
        lib.elapsed(),
        lib.dir().display()
    );
    let mut m = lib.instantiate().expect("model");
    let idx = |m: &lutcore_sim::SimModel, n: &str| m.port_index(n).expect(n);
    let (rst, en, narrow, quad, wide) = (
        idx(&m, "rst_ni"),
        idx(&m, "en_i"),
        idx(&m, "narrow_i"),
        idx(&m, "quad_i"),
        idx(&m, "wide_i"),
    );

    // reset
    m.set_bit(rst, false).unwrap();
    m.tick();
    m.set_bit(rst, true).unwrap();
    assert_eq!(m.get("count_o").unwrap(), vec![0]);

    // masking on set: bits above the width are dropped
    m.set_idx(narrow, &[0xffff_f123]).unwrap();
    m.set_idx(quad, &[0x89ab_cdef, 0xffff_ff12]).unwrap();
    m.set_idx(wide, &[1, 2, 3, 0xffff_fff4]).unwrap();
    m.eval();
    assert_eq!(m.get_idx(narrow).unwrap(), vec![0x123]);
    assert_eq!(m.get("word_o").unwrap(), vec![0x124]);
    assert_eq!(m.get("quad_i").unwrap(), vec![0x89ab_cdef, 0x12]);
    assert_eq!(m.get("quad_o").unwrap(), vec![0x7654_3210, 0xed]);
    assert_eq!(m.get("wide_o").unwrap(), vec![1, 2, 3, 4]);

    // clocking: 5 enabled cycles
    m.set_bit(en, true).unwrap();
    m.set_idx(wide, &[0xffff_ffff, 0, 0, 0]).unwrap();
    for _ in 0..5 {
        m.tick();
    }
    m.set_bit(en, false).unwrap();
    m.tick();
    assert_eq!(m.get("count_o").unwrap(), vec![5]);
    // 5 * (2^32 - 1) carries into the second word
    assert_eq!(m.get("acc_o").unwrap(), vec![0xffff_fffb, 4, 0, 0]);
    assert!(m.get_bit(idx(&m, "count_o")).unwrap());

    // two models of one library are independent
    let m2 = lib.instantiate().expect("second model");
    assert_eq!(m2.get("count_o").unwrap(), vec![0]);
    assert_eq!(m.get("count_o").unwrap(), vec![5]);
}

#[test]
fn port_misuse_is_an_error_not_a_panic() {
    let lib = SimLibrary::build(&design("shared")).expect("build");
    let mut m = lib.instantiate().expect("model");
    let e = m.set("count_o", &[1]).unwrap_err().to_string();
    assert!(e.contains("count_o") && e.contains("output"), "{e}");
    let e = m.set("wide_i", &[1]).unwrap_err().to_string();
    assert!(e.contains("wide_i") && e.contains("4 words"), "{e}");
    let e = m.get("nope").unwrap_err().to_string();
    assert!(e.contains("nope") && e.contains("clk_i"), "{e}");
    assert!(matches!(m.get_idx(99), Err(SimError::Port { .. })));
    assert!(matches!(m.set_bit(99, true), Err(SimError::Port { .. })));
}

#[test]
fn second_build_reuses_the_cached_library() {
    // A fresh cache root, so the first build really builds.
    let root = tempfile::tempdir().expect("tempdir");
    let d = design("fresh");
    let first = SimLibrary::build_in(&d, root.path()).expect("first build");
    assert_eq!(first.status(), BuildStatus::Built);
    // What a build writes: the library, the `done` marker, Verilator's output.
    let outputs = [
        first.dir().join(lutcore_sim::library::LIBRARY_NAME),
        first.dir().join("done"),
        first.dir().join("obj"),
        first.dir().join("rtl"),
    ];
    let mtimes = |paths: &[std::path::PathBuf]| -> Vec<std::time::SystemTime> {
        paths
            .iter()
            .map(|p| {
                std::fs::metadata(p)
                    .and_then(|m| m.modified())
                    .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            })
            .collect()
    };
    let before = mtimes(&outputs);
    let second = SimLibrary::build_in(&d, root.path()).expect("second build");
    assert_eq!(second.status(), BuildStatus::Cached);
    assert_eq!(second.dir(), first.dir());
    // A cache hit runs no tool, so nothing in the build directory is written again.
    assert_eq!(
        mtimes(&outputs),
        before,
        "a cached build rewrote its outputs"
    );
    println!(
        "built in {:?}, cached in {:?}",
        first.elapsed(),
        second.elapsed()
    );
    // Both stay usable side by side.
    let mut a = first.instantiate().unwrap();
    let b = second.instantiate().unwrap();
    a.set("narrow_i", &[7]).unwrap();
    a.eval();
    assert_eq!(a.get("word_o").unwrap(), vec![8]);
    assert_eq!(b.get("word_o").unwrap(), vec![0]);
    // A different design gets a different directory.
    let other = SimLibrary::build_in(&design("other"), root.path()).expect("other build");
    assert_eq!(other.status(), BuildStatus::Built);
    assert_ne!(other.dir(), first.dir());
}

#[test]
fn verilator_errors_name_the_command_and_stderr() {
    let root = tempfile::tempdir().expect("tempdir");
    let mut d = design("broken");
    d.files[0].contents =
        "module lutcore_test_counter(input logic a_i); assign b = ; endmodule\n".into();
    let e = SimLibrary::build_in(&d, root.path()).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, SimError::ToolFailed { .. }), "{msg}");
    assert!(
        msg.contains("verilator") && msg.contains("--top-module") && msg.contains("Error"),
        "{msg}"
    );
}
