//! Shared by the sim crate's integration tests: how a regression case fills
//! its weights and activations, building a model with its timing printed,
//! comparing a run's results with a reference's, and per-config seeds.
#![allow(dead_code)] // each test binary uses its own part

/// The values of a regression case's weights and activations.
#[derive(Clone, Copy, Debug)]
pub enum Fill {
    Random,
    /// Weights at max and activations at their minimum.
    MaxTimesMin,
    /// Weights at min and activations at their maximum.
    MinTimesMax,
    /// Each weight max or min, each activation at its maximum or minimum.
    Extremes,
}

/// The Verilator model of `cfg`, built (or taken from the cache) with how
/// and how long printed; panics naming the config when the build fails.
pub fn simulator(cfg: &lutcore_contract::config::ArrayConfig) -> lutcore_sim::Simulator {
    let name = cfg.slug();
    let t = std::time::Instant::now();
    let sim = lutcore_sim::Simulator::new(cfg)
        .unwrap_or_else(|e| panic!("{name}: building the model failed: {e}"));
    println!(
        "{name}: model {} in {:.1} s",
        sim.build_status(),
        t.elapsed().as_secs_f64()
    );
    sim
}

/// Run `w` times `x` on `sim` (a model of `cfg`) and compare every row with
/// `fp_reference`, documented as `reference`; panics with `case` (what ran)
/// and `x` at a failed run or the first differing row. Returns the RTL's
/// results.
pub fn run_fp_case(
    sim: &mut lutcore_sim::Simulator,
    cfg: &lutcore_contract::config::ArrayConfig,
    w: &lutcore_contract::layout::WeightMatrix,
    x: &[u32],
    reference: &str,
    case: &str,
) -> Vec<u32> {
    let want = lutcore_sim::fpcheck::fp_reference(cfg, w, x);
    let got = sim
        .gemv_fp(w, x)
        .unwrap_or_else(|e| panic!("{case}: {e}"))
        .results;
    if let Some(row) = got.iter().zip(&want).position(|(a, b)| a != b) {
        panic!(
            "{case}: RTL != {reference} at row {row}: RTL {:#010x} ({:e}), expected {:#010x} ({:e}); x = {x:x?}",
            got[row],
            f32::from_bits(got[row]),
            want[row],
            f32::from_bits(want[row]),
        );
    }
    got
}

/// A stable per-name salt (so configs do not share random streams).
pub fn fxhash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
