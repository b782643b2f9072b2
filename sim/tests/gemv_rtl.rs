//! The generated arrays, Verilated and driven through their stream
//! interface, against the software references, bit for bit.
//!
//! Every config runs seeded random shapes (M a multiple of `rows` and not,
//! K a multiple of the K-tile and not, K = 1) plus extreme values. The seed is
//! printed; `LUTCORE_SEED=<n>` replays one. Arrays with int16 activations
//! run int16 vectors, and once int8 ones (sign-extended by the driver).

mod common;

use common::Fill;
use lutcore_contract::config::Arch::{AddSub, Lut, Mac};
use lutcore_contract::config::{preset, ArrayConfig, RawArrayConfig};
use lutcore_contract::layout::WeightMatrix;
use lutcore_contract::reference::{gemv_lut, gemv_plain};
use lutcore_contract::testing::seed_from_env;
use lutcore_contract::ActType::{Int16, Int8};
use lutcore_contract::WeightType::{Ternary, Uint};
use lutcore_contract::{Activation, BitPlanes, WeightType};
use lutcore_sim::Simulator;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A random problem; activations span `act_bits` bits.
fn case(
    rng: &mut ChaCha8Rng,
    wt: WeightType,
    act_bits: u32,
    m: usize,
    k: usize,
    fill: Fill,
) -> (WeightMatrix, Vec<i32>) {
    let (amin, amax) = (-(1i32 << (act_bits - 1)), (1i32 << (act_bits - 1)) - 1);
    let w = values(rng, m * k, fill, wt.min_value(), wt.max_value(), true);
    let x = values(rng, k, fill, amin, amax, false);
    (
        WeightMatrix::from_values(m, k, wt, &w).expect("weights in range"),
        x,
    )
}

/// `n` values in `lo..=hi` as `fill` says for the weights (`weights`) or the
/// activations: `MaxTimesMin` is `hi` for weights and `lo` for activations,
/// `MinTimesMax` the other end, `Extremes` `hi` or `lo` by a coin.
fn values(rng: &mut ChaCha8Rng, n: usize, fill: Fill, lo: i32, hi: i32, weights: bool) -> Vec<i32> {
    (0..n)
        .map(|_| match fill {
            Fill::Random => rng.gen_range(lo..=hi),
            Fill::MaxTimesMin if weights => hi,
            Fill::MaxTimesMin => lo,
            Fill::MinTimesMax if weights => lo,
            Fill::MinTimesMax => hi,
            Fill::Extremes => {
                if rng.gen_bool(0.5) {
                    hi
                } else {
                    lo
                }
            }
        })
        .collect()
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

/// `raw`, validated (the tests' configs are valid by construction).
fn valid(raw: RawArrayConfig) -> ArrayConfig {
    raw.validate().expect("valid config")
}

#[test]
fn preset_default() {
    check_config("default", &preset("default").unwrap());
}

#[test]
fn preset_mac_default() {
    check_config("mac-default", &preset("mac-default").unwrap());
}

/// One `#[test]` per config: `test_fn: "name" = (RawArrayConfig::new's arguments);`
/// runs [`check_config`].
macro_rules! config_tests {
    ($($test:ident: $name:literal = ($($arg:expr),*);)*) => {$(
        #[test]
        fn $test() {
            check_config($name, &valid(RawArrayConfig::new($($arg),*)));
        }
    )*};
}

config_tests! {
    lut_uint1_r4_k2_g4: "lut-uint1" = (Lut, 4, 2, 4, Uint(1), Int8, 256);
    mac_uint1_r7_k3_g4: "mac-uint1" = (Mac, 7, 3, 4, Uint(1), Int8, 256);
    lut_uint2_r8_k1_g3: "lut-uint2-g3" = (Lut, 8, 1, 3, Uint(2), Int8, 512);
    mac_uint2_r8_k1_g3: "mac-uint2-g3" = (Mac, 8, 1, 3, Uint(2), Int8, 512);
    lut_uint3_r5_k3_g3: "lut-uint3" = (Lut, 5, 3, 3, Uint(3), Int8, 300);
    mac_uint3_r5_k2_g2: "mac-uint3-g2" = (Mac, 5, 2, 2, Uint(3), Int8, 300);
    lut_uint4_r2_k1_g2: "lut-uint4-g2" = (Lut, 2, 1, 2, Uint(4), Int8, 128);
    mac_uint4_r4_k2_g5: "mac-uint4-g5" = (Mac, 4, 2, 5, Uint(4), Int8, 1024);
    lut_ternary_r16_k1_g5: "lut-ternary-g5" = (Lut, 16, 1, 5, Ternary, Int8, 1000);
    mac_ternary_r3_k4_g2: "mac-ternary-g2" = (Mac, 3, 4, 2, Ternary, Int8, 64);
    addsub_ternary_r5_k3_g4: "addsub-ternary" = (AddSub, 5, 3, 4, Ternary, Int8, 300);
    addsub_ternary_r6_k2_g2_int16: "addsub-ternary-a16" = (AddSub, 6, 2, 2, Ternary, Int16, 500);
    lut_uint1_r4_k2_g4_int16: "lut-uint1-a16" = (Lut, 4, 2, 4, Uint(1), Int16, 4096);
    lut_ternary_r3_k2_g3_int16: "lut-ternary-a16" = (Lut, 3, 2, 3, Ternary, Int16, 700);
    lut_uint4_r2_k1_g5_int16: "lut-uint4-g5-a16" = (Lut, 2, 1, 5, Uint(4), Int16, 256);
    mac_uint2_r4_k1_g4_int16: "mac-uint2-a16" = (Mac, 4, 1, 4, Uint(2), Int16, 1000);
}

#[test]
fn shape_and_type_errors_are_reported() {
    let cfg = valid(RawArrayConfig::new(Lut, 2, 1, 2, Uint(4), Int8, 128));
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
    let other = valid(RawArrayConfig::new(Lut, 4, 1, 2, Uint(4), Int8, 128));
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
    let cfg = valid(RawArrayConfig::new(Lut, 2, 1, 2, Uint(2), Int8, 64));
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
