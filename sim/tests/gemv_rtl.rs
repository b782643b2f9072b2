//! The generated arrays, Verilated and driven through their stream
//! interface, against the software references, bit for bit.
//!
//! Every config runs seeded random shapes (M a multiple of `rows` and not,
//! K a multiple of the K-tile and not, K = 1) plus extreme values. The seed is
//! printed; `LUTCORE_SEED=<n>` replays one. Arrays with int16 activations
//! run int16 vectors, and once int8 ones (sign-extended by the driver).

use lutcore_contract::config::{preset, Arch, ArrayConfig, RawArrayConfig};
use lutcore_contract::layout::WeightMatrix;
use lutcore_contract::reference::{gemv_lut, gemv_plain};
use lutcore_contract::testing::seed_from_env;
use lutcore_contract::{Activation, BitPlanes, WeightType};
use lutcore_sim::Simulator;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[derive(Clone, Copy, Debug)]
enum Fill {
    Random,
    /// Weights at max and activations at their minimum.
    MaxTimesMin,
    /// Weights at min and activations at their maximum.
    MinTimesMax,
    /// Each weight max or min, each activation at its maximum or minimum.
    Extremes,
}

/// A random problem; activations span `act_bits` bits.
fn case(
    rng: &mut ChaCha8Rng,
    wt: WeightType,
    act_bits: u32,
    m: usize,
    k: usize,
    fill: Fill,
) -> (WeightMatrix, Vec<i32>) {
    let (lo, hi) = (wt.min_value(), wt.max_value());
    let (amin, amax) = (-(1i32 << (act_bits - 1)), (1i32 << (act_bits - 1)) - 1);
    let w: Vec<i32> = (0..m * k)
        .map(|_| match fill {
            Fill::Random => rng.gen_range(lo..=hi),
            Fill::MaxTimesMin => hi,
            Fill::MinTimesMax => lo,
            Fill::Extremes => {
                if rng.gen_bool(0.5) {
                    hi
                } else {
                    lo
                }
            }
        })
        .collect();
    let x: Vec<i32> = (0..k)
        .map(|_| match fill {
            Fill::Random => rng.gen_range(amin..=amax),
            Fill::MaxTimesMin => amin,
            Fill::MinTimesMax => amax,
            Fill::Extremes => {
                if rng.gen_bool(0.5) {
                    amax
                } else {
                    amin
                }
            }
        })
        .collect();
    (
        WeightMatrix::from_values(m, k, wt, &w).expect("weights in range"),
        x,
    )
}

/// Shapes every config runs: (M, K, fill).
fn shapes(cfg: &ArrayConfig, rng: &mut ChaCha8Rng) -> Vec<(usize, usize, Fill)> {
    let r = cfg.rows();
    let kt = cfg.k_tile();
    let max_k = cfg.max_k();
    let odd_m = (2 * r + 1) | 1;
    let mut v = vec![
        (r * 3, kt * 3, Fill::Random), // M multiple of rows, K multiple of the K-tile
        (odd_m, kt * 2 + 1, Fill::Random), // neither
        (1, 1, Fill::Random),          // K = 1, M = 1
        (r + 1, 1, Fill::Random),      // K = 1, two row tiles
        (r, kt - 1, Fill::Random),     // K below one tile (or 0 -> skipped)
        (odd_m, kt * 4 + 3, Fill::MaxTimesMin),
        (r * 2, kt * 2 + 1, Fill::MinTimesMax),
        (odd_m, kt * 5, Fill::Extremes),
        (r, max_k, Fill::MaxTimesMin), // the accumulator's full range
    ];
    for _ in 0..3 {
        v.push((
            rng.gen_range(1..=3 * r + 2),
            rng.gen_range(1..=(8 * kt).min(max_k)),
            Fill::Random,
        ));
    }
    v.retain(|&(m, k, _)| m >= 1 && (1..=max_k).contains(&k));
    v
}

fn check_config(name: &str, cfg: &ArrayConfig) {
    let seed = seed_from_env(0x1u64);
    println!("{name}: {cfg}; seed {seed} (replay: LUTCORE_SEED={seed} cargo test -p lutcore-sim --test gemv_rtl)");
    let t = std::time::Instant::now();
    let mut sim =
        Simulator::new(cfg).unwrap_or_else(|e| panic!("{name}: building the model failed: {e}"));
    println!(
        "{name}: model {} in {:.1} s ({})",
        sim.build_status(),
        t.elapsed().as_secs_f64(),
        sim.library().dir().display()
    );
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ fxhash(name));
    let mut cases = shapes(cfg, &mut rng)
        .into_iter()
        .map(|(m, k, fill)| (m, k, fill, cfg.act_bits()))
        .collect::<Vec<_>>();
    if cfg.act_bits() == 16 {
        cases.push((cfg.rows() + 2, cfg.k_tile() * 3 + 1, Fill::Extremes, 8));
    }
    for (i, (m, k, fill, act_bits)) in cases.into_iter().enumerate() {
        let (w, x) = case(&mut rng, cfg.weights(), act_bits, m, k, fill);
        let (plain, run) = if act_bits == 8 {
            run_case(
                &mut sim,
                cfg,
                &w,
                &x.iter().map(|&v| v as i8).collect::<Vec<_>>(),
            )
        } else {
            run_case(
                &mut sim,
                cfg,
                &w,
                &x.iter().map(|&v| v as i16).collect::<Vec<_>>(),
            )
        };
        let run =
            run.unwrap_or_else(|e| panic!("{name} case {i}: {m}x{k} {fill:?} int{act_bits}: {e}"));
        let got: Vec<i64> = run.results.iter().map(|&v| i64::from(v)).collect();
        if got != plain {
            let row = got
                .iter()
                .zip(&plain)
                .position(|(a, b)| a != b)
                .unwrap_or(got.len().min(plain.len()));
            panic!(
                "{name} ({cfg}) case {i}: {m}x{k} {fill:?} int{act_bits} seed {seed}: RTL != reference at row {row}: \
                 RTL {:?}, expected {:?} (got {} results, want {})",
                got.get(row),
                plain.get(row),
                got.len(),
                plain.len()
            );
        }
        println!(
            "{name} case {i}: {m}x{k} {fill:?} int{act_bits} ok, {} cycles",
            run.cycles
        );
    }
}

/// Both software references (which must agree) and the RTL run of one case.
fn run_case<A: Activation>(
    sim: &mut Simulator,
    cfg: &ArrayConfig,
    w: &WeightMatrix,
    x: &[A],
) -> (
    Vec<i64>,
    Result<lutcore_sim::GemvRun, lutcore_sim::SimError>,
) {
    let plain = gemv_plain(w, x);
    let lut = gemv_lut(&BitPlanes::new(w, cfg.g()), cfg.weights(), x);
    assert_eq!(
        plain,
        lut,
        "software references disagree on {}x{}",
        w.rows(),
        w.cols()
    );
    (plain, sim.gemv(w, x))
}

/// A stable per-name salt (so configs do not share random streams).
fn fxhash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn raw(
    arch: Arch,
    rows: u32,
    k_groups: u32,
    g: u32,
    weights: WeightType,
    max_k: u32,
) -> ArrayConfig {
    RawArrayConfig::new(
        arch,
        rows,
        k_groups,
        g,
        weights,
        lutcore_contract::ActType::Int8,
        max_k,
    )
    .validate()
    .expect("valid config")
}

/// [`raw`] with int16 activations.
fn raw16(
    arch: Arch,
    rows: u32,
    k_groups: u32,
    g: u32,
    weights: WeightType,
    max_k: u32,
) -> ArrayConfig {
    RawArrayConfig::new(
        arch,
        rows,
        k_groups,
        g,
        weights,
        lutcore_contract::ActType::Int16,
        max_k,
    )
    .validate()
    .expect("valid config")
}

#[test]
fn preset_default() {
    check_config("default", &preset("default").unwrap());
}

#[test]
fn preset_mac_default() {
    check_config("mac-default", &preset("mac-default").unwrap());
}

#[test]
fn lut_uint1_r4_k2_g4() {
    check_config(
        "lut-uint1",
        &raw(Arch::Lut, 4, 2, 4, WeightType::Uint(1), 256),
    );
}

#[test]
fn mac_uint1_r7_k3_g4() {
    check_config(
        "mac-uint1",
        &raw(Arch::Mac, 7, 3, 4, WeightType::Uint(1), 256),
    );
}

#[test]
fn lut_uint2_r8_k1_g3() {
    check_config(
        "lut-uint2-g3",
        &raw(Arch::Lut, 8, 1, 3, WeightType::Uint(2), 512),
    );
}

#[test]
fn mac_uint2_r8_k1_g3() {
    check_config(
        "mac-uint2-g3",
        &raw(Arch::Mac, 8, 1, 3, WeightType::Uint(2), 512),
    );
}

#[test]
fn lut_uint3_r5_k3_g3() {
    check_config(
        "lut-uint3",
        &raw(Arch::Lut, 5, 3, 3, WeightType::Uint(3), 300),
    );
}

#[test]
fn mac_uint3_r5_k2_g2() {
    check_config(
        "mac-uint3-g2",
        &raw(Arch::Mac, 5, 2, 2, WeightType::Uint(3), 300),
    );
}

#[test]
fn lut_uint4_r2_k1_g2() {
    check_config(
        "lut-uint4-g2",
        &raw(Arch::Lut, 2, 1, 2, WeightType::Uint(4), 128),
    );
}

#[test]
fn mac_uint4_r4_k2_g5() {
    check_config(
        "mac-uint4-g5",
        &raw(Arch::Mac, 4, 2, 5, WeightType::Uint(4), 1024),
    );
}

#[test]
fn lut_ternary_r16_k1_g5() {
    check_config(
        "lut-ternary-g5",
        &raw(Arch::Lut, 16, 1, 5, WeightType::Ternary, 1000),
    );
}

#[test]
fn mac_ternary_r3_k4_g2() {
    check_config(
        "mac-ternary-g2",
        &raw(Arch::Mac, 3, 4, 2, WeightType::Ternary, 64),
    );
}

#[test]
fn addsub_ternary_r5_k3_g4() {
    check_config(
        "addsub-ternary",
        &raw(Arch::AddSub, 5, 3, 4, WeightType::Ternary, 300),
    );
}

#[test]
fn addsub_ternary_r6_k2_g2_int16() {
    check_config(
        "addsub-ternary-a16",
        &raw16(Arch::AddSub, 6, 2, 2, WeightType::Ternary, 500),
    );
}

#[test]
fn lut_uint1_r4_k2_g4_int16() {
    check_config(
        "lut-uint1-a16",
        &raw16(Arch::Lut, 4, 2, 4, WeightType::Uint(1), 4096),
    );
}

#[test]
fn lut_ternary_r3_k2_g3_int16() {
    check_config(
        "lut-ternary-a16",
        &raw16(Arch::Lut, 3, 2, 3, WeightType::Ternary, 700),
    );
}

#[test]
fn lut_uint4_r2_k1_g5_int16() {
    check_config(
        "lut-uint4-g5-a16",
        &raw16(Arch::Lut, 2, 1, 5, WeightType::Uint(4), 256),
    );
}

#[test]
fn mac_uint2_r4_k1_g4_int16() {
    check_config(
        "mac-uint2-a16",
        &raw16(Arch::Mac, 4, 1, 4, WeightType::Uint(2), 1000),
    );
}

#[test]
fn shape_and_type_errors_are_reported() {
    let cfg = raw(Arch::Lut, 2, 1, 2, WeightType::Uint(4), 128);
    let mut sim = Simulator::new(&cfg).expect("model");
    let w = WeightMatrix::from_values(2, 3, WeightType::Uint(4), &[1; 6]).unwrap();
    let e = sim.gemv(&w, &[1i8, 2]).unwrap_err().to_string();
    assert!(e.contains("2 activations") && e.contains("2x3"), "{e}");
    let wt = WeightMatrix::from_values(2, 3, WeightType::Ternary, &[1; 6]).unwrap();
    let e = sim.gemv(&wt, &[1i8, 2, 3]).unwrap_err().to_string();
    assert!(e.contains("ternary") && e.contains("uint4"), "{e}");
    let big = WeightMatrix::from_values(1, 129, WeightType::Uint(4), &[1; 129]).unwrap();
    let e = sim.gemv(&big, &[1i8; 129]).unwrap_err().to_string();
    assert!(e.contains("max_k"), "{e}");
    // A model driven as if it were another config is refused.
    let other = raw(Arch::Lut, 4, 1, 2, WeightType::Uint(4), 128);
    let e = lutcore_sim::run_gemv(sim.model_mut(), &other, &w, &[1i8, 2, 3])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("wgt_data_i") && e.contains("another config"),
        "{e}"
    );
    // int16 activations on an int8 array are refused.
    let e = sim.gemv(&w, &[1i16, 2, 3]).unwrap_err().to_string();
    assert!(e.contains("int16") && e.contains("act_bits"), "{e}");
    // After errors the model still works.
    assert_eq!(sim.gemv(&w, &[1i8, 2, 3]).unwrap().results, vec![6, 6]);
}

#[test]
fn a_stalled_array_is_a_deadlock_error_not_a_hang() {
    // A hand-written top with the stream ports that never accepts a beat.
    let cfg = raw(Arch::Lut, 2, 1, 2, WeightType::Uint(2), 64);
    let ports = lutcore_gen::top_ports(&cfg);
    let mut v = String::from("module lutcore_stalled (\n");
    let decls: Vec<String> = ports
        .iter()
        .map(|p| {
            let dir = if p.dir == lutcore_gen::Dir::Input {
                "input "
            } else {
                "output"
            };
            format!("  {dir} logic [{}:0] {}", p.width - 1, p.name)
        })
        .collect();
    v += &decls.join(",\n");
    v += "\n);\n";
    for p in ports.iter().filter(|p| p.dir == lutcore_gen::Dir::Output) {
        v += &format!("  assign {} = '0;\n", p.name);
    }
    v += "endmodule\n";
    let design = lutcore_gen::Design {
        config: cfg.clone(),
        top: "lutcore_stalled".into(),
        ports,
        files: vec![lutcore_gen::GeneratedFile {
            name: "lutcore_stalled.sv".into(),
            contents: v,
        }],
    };
    let mut sim = Simulator::from_design(&design).expect("build");
    let w = WeightMatrix::from_values(3, 5, WeightType::Uint(2), &[1; 15]).unwrap();
    let e = sim.gemv(&w, &[1i8; 5]).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, lutcore_sim::SimError::Deadlock { .. }), "{msg}");
    assert!(
        msg.contains("activation beats 0/6") && msg.contains("results 0/2"),
        "{msg}"
    );
}
