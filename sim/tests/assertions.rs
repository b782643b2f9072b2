//! The arrays' stream-protocol assertions run in the co-simulation library
//! (Verilator `--assert +define+LUTCORE_ASSERT`): a controller that breaks a
//! rule makes the GEMV fail with an error naming the assertion, and the
//! process keeps running (the shim records the failure instead of letting
//! Verilator abort). Needs Verilator (`make deps`).

use lutcore_contract::config::preset;
use lutcore_contract::layout::WeightMatrix;
use lutcore_contract::reference::gemv_plain;
use lutcore_contract::WeightType;
use lutcore_gen::generate;
use lutcore_sim::{SimError, Simulator};

/// A 2x8 GEMV on `tiny`, its controller patched by replacing `old` with
/// `new`: (the array's results, the reference's).
fn gemv_with(old: &str, new: &str) -> Result<(Vec<i32>, Vec<i64>), SimError> {
    let cfg = preset("tiny").expect("tiny");
    let mut design = generate(&cfg).expect("generate tiny");
    let ctrl = design
        .files
        .iter_mut()
        .find(|f| f.name == "lutcore_ctrl.sv")
        .expect("lutcore_ctrl.sv");
    assert_eq!(
        ctrl.contents.matches(old).count(),
        1,
        "`{old}` once in lutcore_ctrl.sv"
    );
    ctrl.contents = ctrl.contents.replace(old, new);
    let mut sim = Simulator::from_design(&design)?;
    let (m, k) = (2, 8);
    let w: Vec<i32> = (0..m * k).map(|i| (i % 4) as i32).collect();
    let w = WeightMatrix::from_values(m, k, WeightType::Uint(2), &w).expect("weights in range");
    let x: Vec<i8> = (0..k as i8).map(|i| i - 3).collect();
    let y = sim.gemv(&w, &x)?.results;
    Ok((y, gemv_plain(&w, &x)))
}

#[test]
fn a_broken_handshake_is_reported_as_a_failed_assertion() {
    const ACT_READY: &str = "assign act_ready_o = running & (~tile_valid_q";
    // Unpatched: the same GEMV passes with the assertions on.
    let (y, want) = gemv_with(ACT_READY, ACT_READY).expect("a legal GEMV trips no assertion");
    assert_eq!(y.iter().map(|&v| i64::from(v)).collect::<Vec<_>>(), want);
    // Accepting activation beats outside the run phase (also while the result waits).
    let err = gemv_with(ACT_READY, "assign act_ready_o = (~tile_valid_q")
        .expect_err("the broken controller must trip an assertion");
    let msg = err.to_string();
    assert!(
        matches!(err, SimError::Assertion { .. })
            && msg.contains("NoBeatWhileResult")
            && msg.contains("lutcore_lut_array.sv:")
            && msg.contains("No activation or weight beat is accepted"),
        "{msg}"
    );
}
