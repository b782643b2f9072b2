//! The generated floating-point units against the contract's numerics
//! (`lutcore_contract::fp`), bit for bit, in Verilator: exhaustive where the
//! input space is small (8-bit adders, every widening, FP8 products, every
//! activation × weight product, every code to fixed point), random plus
//! every pair of edge values elsewhere (fixed point to binary32: random
//! values plus zeros, powers of two, extremes and exact ties). The random parts print their seed; `LUTCORE_SEED` replays one.
//! Every unit is also `verilator --lint-only -Wall` clean and synthesizes in
//! yosys with `check -assert` and no latches. Needs Verilator and yosys
//! (`make deps`).
//!
//! Several units share one Verilator model: a generated wrapper exposes each
//! unit's ports as `u<k>_<port>`, and the C++ driver reads lines
//! `k in0 [in1]` (hex, up to 64 bits) and prints the unit's outputs
//! concatenated (hex, the first port in the high bits), one line each.

mod common;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{run_tool, verilator_exe};
use lutcore_contract::fp::{self, FpFormat, BF16, E4M3, E5M2, FP16, FP32};
use lutcore_gen::fp::{add_module, modules_for, Unit, ADD};
use lutcore_gen::ir::{e, Dir, Module, Port};
use lutcore_gen::print;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// E4M3 with IEEE infinities and NaNs: the adder's second exhaustive 8-bit test format.
const E4M3_IEEE: FpFormat = FpFormat {
    name: "fp8-e4m3-ieee",
    exp_bits: 4,
    man_bits: 3,
    ieee_specials: true,
};

const ACTS: [FpFormat; 4] = [FP16, BF16, E4M3, E5M2];

/// Random pairs for the 16- and 32-bit adders and the FP16/BF16 products.
const RANDOM_PAIRS: usize = 200_000;
/// Random values per plane for the scaler.
const RANDOM_SCALE: usize = 100_000;

/// The random parts' seed: `LUTCORE_SEED`, else a fixed one.
fn seed() -> u64 {
    let seed = lutcore_contract::testing::seed_from_env(0xf9_0001);
    println!("seed {seed} (LUTCORE_SEED={seed} replays)");
    seed
}

/// One Verilator model holding several units.
struct Bench {
    _dir: tempfile::TempDir,
    exe: PathBuf,
    /// (module name, input port count) per unit index.
    units: Vec<(String, usize)>,
}

/// A test vector: unit index, inputs, expected output (a unit with several
/// outputs: their concatenation, the first port in the high bits).
struct Vector {
    unit: usize,
    inputs: Vec<u64>,
    want: u64,
}

/// Write each module to `<dir>/<name>.sv`; the paths.
fn write_modules(dir: &Path, modules: &[Module]) -> Vec<PathBuf> {
    modules
        .iter()
        .map(|m| {
            let path = dir.join(format!("{}.sv", m.name));
            std::fs::write(&path, print::module(m)).expect("write a unit");
            path
        })
        .collect()
}

impl Bench {
    /// Build one model of `units` (modules without submodules, at most two
    /// inputs, ports of at most 64 bits, outputs together at most 64 bits).
    fn build(units: &[Module]) -> Bench {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut top = Module::new("fp_bench", vec![]);
        let mut cpp = String::from(
            "#include <cstdio>\n#include \"Vfp_bench.h\"\n#include \"verilated.h\"\n\
             int main(int argc, char** argv) {\n  VerilatedContext ctx;\n  \
             ctx.commandArgs(argc, argv);\n  Vfp_bench top{&ctx};\n  \
             unsigned k;\n  unsigned long long v[2], out = 0;\n  while (std::scanf(\"%u\", &k) == 1) {\n    \
             switch (k) {\n",
        );
        let mut info = Vec::new();
        for (k, u) in units.iter().enumerate() {
            let ins: Vec<&Port> = u.ports.iter().filter(|p| p.dir == Dir::Input).collect();
            let outs: Vec<&Port> = u.ports.iter().filter(|p| p.dir == Dir::Output).collect();
            assert!(ins.len() <= 2 && !outs.is_empty(), "{}: ports", u.name);
            assert!(
                ins.iter().all(|p| p.width <= 64)
                    && outs.iter().map(|p| p.width).sum::<u32>() <= 64,
                "{}: port widths",
                u.name
            );
            let mut conns = Vec::new();
            let _ = writeln!(cpp, "      case {k}:");
            for (i, p) in ins.iter().enumerate() {
                let n = format!("u{k}_{}", p.name);
                top.port(Port::input(&n, p.width, ""));
                let _ = writeln!(
                    cpp,
                    "        if (std::scanf(\"%llx\", &v[{i}]) != 1) return 1;\n        top.{n} = v[{i}];"
                );
                conns.push((p.name.clone(), e::id(n)));
            }
            let _ = writeln!(cpp, "        top.eval();\n        out = 0;");
            for o in &outs {
                let n = format!("u{k}_{}", o.name);
                top.port(Port::output(&n, o.width, ""));
                // Shift in two steps: a 64-bit shift of a 64-bit value is undefined in C++.
                let _ = writeln!(
                    cpp,
                    "        out = ((out << ({w} - 1)) << 1) | top.{n};",
                    w = o.width
                );
                conns.push((o.name.clone(), e::id(n)));
            }
            let _ = writeln!(cpp, "        break;");
            top.item(lutcore_gen::ir::Item::Instance {
                module: u.name.clone(),
                name: format!("u_{k}"),
                conns,
            });
            info.push((u.name.clone(), ins.len()));
        }
        cpp.push_str(
            "      default: return 2;\n    }\n    std::printf(\"%llx\\n\", out);\n  }\n  \
             top.final();\n  return 0;\n}\n",
        );
        let mut all = units.to_vec();
        all.push(top);
        let files = write_modules(dir.path(), &all);
        std::fs::write(dir.path().join("driver.cpp"), cpp).expect("write the driver");
        let exe = verilator_exe(
            "fp_bench",
            &dir.path().join("driver.cpp"),
            &files,
            &dir.path().join("obj"),
            &["-Wno-fatal", "-Wno-lint"],
        );
        Bench {
            exe,
            _dir: dir,
            units: info,
        }
    }

    /// Run `vectors`; panics listing the first mismatches (hex) and their count.
    fn check(&self, vectors: &[Vector], seed: u64) {
        let dir = self.exe.parent().expect("obj dir");
        let input = dir.join("vectors.txt");
        let mut text = String::with_capacity(vectors.len() * 24);
        for v in vectors {
            assert_eq!(
                v.inputs.len(),
                self.units[v.unit].1,
                "inputs of unit {}",
                v.unit
            );
            let _ = write!(text, "{}", v.unit);
            for x in &v.inputs {
                let _ = write!(text, " {x:x}");
            }
            text.push('\n');
        }
        std::fs::write(&input, text).expect("write vectors");
        let out = Command::new(&self.exe)
            .stdin(std::fs::File::open(&input).expect("open vectors"))
            .stdout(Stdio::piped())
            .output()
            .expect("run the model");
        assert!(out.status.success(), "model exited with {}", out.status);
        let got: Vec<u64> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| u64::from_str_radix(l, 16).expect("hex output"))
            .collect();
        assert_eq!(got.len(), vectors.len(), "one output per vector");
        let mut bad = 0usize;
        let mut report = String::new();
        let mut per_unit: HashMap<&str, usize> = HashMap::new();
        for (v, g) in vectors.iter().zip(&got) {
            if *g != v.want {
                bad += 1;
                *per_unit.entry(&self.units[v.unit].0).or_default() += 1;
                if bad <= 12 {
                    let ins: Vec<String> = v.inputs.iter().map(|x| format!("{x:#x}")).collect();
                    let _ = writeln!(
                        report,
                        "  {}({}) = {g:#x}, want {:#x}",
                        self.units[v.unit].0,
                        ins.join(", "),
                        v.want
                    );
                }
            }
        }
        assert!(
            bad == 0,
            "{bad} of {} results differ (seed {seed}; per unit {per_unit:?}):\n{report}",
            vectors.len()
        );
        println!("{} vectors bit-exact", vectors.len());
    }
}

/// `fmt`'s golden sum for 8- and 16-bit formats: exact in f64, then one rounding.
fn narrow_add(fmt: FpFormat, a: u32, b: u32) -> u32 {
    fmt.round(fmt.decode(a) + fmt.decode(b))
}

/// Random codes of `bits` bits with structure: uniform, and pairs with close
/// exponents and sparse mantissas (cancellations, exact ties, carries).
fn random_pair(rng: &mut ChaCha8Rng, fmt: FpFormat) -> (u32, u32) {
    let n = fmt.bits();
    let mask = u32::MAX >> (32 - n);
    let a = rng.gen::<u32>() & mask;
    match rng.gen_range(0..4) {
        0 => (a, rng.gen::<u32>() & mask),
        1 => {
            // b near a's magnitude: cancellation and carries.
            let delta = rng.gen_range(0u32..64);
            let b = (a & (mask >> 1)).wrapping_add(delta).wrapping_sub(32) & (mask >> 1);
            (a, b | ((rng.gen::<u32>() & 1) << (n - 1)))
        }
        _ => {
            // Exponents within a few binades, mantissas with 1-3 set bits (ties).
            let ma = (1u32 << fmt.man_bits) - 1;
            let sparse = |rng: &mut ChaCha8Rng| {
                (0..rng.gen_range(0..4)).fold(0u32, |m, _| m | 1 << rng.gen_range(0..fmt.man_bits))
            };
            let ea = (a >> fmt.man_bits) & ((1 << fmt.exp_bits) - 1);
            let span = (fmt.man_bits + 3) as i64;
            let eb = (i64::from(ea) + rng.gen_range(-span..=span)).clamp(0, (1 << fmt.exp_bits) - 1)
                as u32;
            let sa = a & (1 << (n - 1));
            let sb = (rng.gen::<u32>() & 1) << (n - 1);
            let a = sa | (ea << fmt.man_bits) | (sparse(rng) & ma);
            let b = sb | (eb << fmt.man_bits) | (sparse(rng) & ma);
            (a, b)
        }
    }
}

/// Every pair of `fmt`'s edge values plus hand-picked cases.
fn edge_pairs(fmt: FpFormat) -> Vec<(u32, u32)> {
    let edges = fmt.edge_values();
    let mut v: Vec<(u32, u32)> = edges
        .iter()
        .flat_map(|&a| edges.iter().map(move |&b| (a, b)))
        .collect();
    let (n, m) = (fmt.bits(), fmt.man_bits);
    let sign = 1 << (n - 1);
    let max_sub = (1 << m) - 1;
    let one = (fmt.bias() as u32) << m;
    v.extend([
        (max_sub, max_sub),            // subnormal + subnormal carries into normal
        (max_sub, 1),                  // largest subnormal + smallest: the smallest normal
        (one, one | sign),             // x - x = +0
        (one | sign, one),             // -x + x = +0
        (one | max_sub, 1 << (m - 1)), // carry into the exponent
        (one, (1 << m) | sign),        // 1 - tiny
        (1 << m, 1 | sign),            // smallest normal - smallest subnormal: subnormal
    ]);
    v
}

#[test]
fn adders_are_exact_on_every_pair_of_8bit_values() {
    let fmts = [E5M2, E4M3_IEEE, E4M3];
    let units: Vec<Module> = fmts
        .iter()
        .map(|f| add_module(*f, &format!("t_{}_add", f.name.replace('-', "_"))))
        .collect();
    let bench = Bench::build(&units);
    let mut vectors = Vec::new();
    for (k, f) in fmts.iter().enumerate() {
        for a in 0..256 {
            for b in 0..256 {
                vectors.push(Vector {
                    unit: k,
                    inputs: vec![a.into(), b.into()],
                    want: u64::from(narrow_add(*f, a, b)),
                });
            }
        }
    }
    bench.check(&vectors, 0);
}

#[test]
fn adders_match_on_random_and_edge_pairs() {
    let seed = seed();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let fmts = [FP32, FP16, BF16];
    let units: Vec<Module> = fmts
        .iter()
        .map(|f| {
            if *f == FP32 {
                add_module(FP32, ADD)
            } else {
                add_module(*f, &format!("t_{}_add", f.name))
            }
        })
        .collect();
    let bench = Bench::build(&units);
    let mut vectors = Vec::new();
    for (k, f) in fmts.iter().enumerate() {
        let golden = |a, b| {
            if *f == FP32 {
                fp::add(a, b)
            } else {
                narrow_add(*f, a, b)
            }
        };
        let mut pairs = edge_pairs(*f);
        if *f == FP32 {
            pairs.extend([
                (0x7f7f_ffff, 0x7f7f_ffff), // overflow to Inf
                (0x7f7f_ffff, 0x7380_0000), // max + half an ulp: ties to even = Inf
                (0x7f7f_ffff, 0x7300_0000), // max + a quarter ulp: max
                (0x3f80_0000, 0x3380_0000), // 1 + 2^-24: tie, stays 1
                (0x3f80_0001, 0x3380_0000), // tie, rounds up to even
                (0x0080_0000, 0x8000_0001), // smallest normal - smallest subnormal
            ]);
        }
        for _ in 0..RANDOM_PAIRS {
            pairs.push(random_pair(&mut rng, *f));
        }
        for (a, b) in pairs {
            vectors.push(Vector {
                unit: k,
                inputs: vec![a.into(), b.into()],
                want: u64::from(golden(a, b)),
            });
        }
    }
    bench.check(&vectors, seed);
}

#[test]
fn widening_is_exact_on_every_code() {
    let units: Vec<Unit> = ACTS
        .iter()
        .flat_map(|&fmt| [false, true].map(|half| Unit::Widen { fmt, half }))
        .collect();
    let bench = Bench::build(&modules_for(&units));
    let mut vectors = Vec::new();
    for (k, u) in units.iter().enumerate() {
        let Unit::Widen { fmt, half } = *u else {
            unreachable!()
        };
        for x in 0..(1u32 << fmt.bits()) {
            vectors.push(Vector {
                unit: k,
                inputs: vec![x.into()],
                want: u64::from(fmt.widen(x, if half { -1 } else { 0 })),
            });
        }
    }
    bench.check(&vectors, 0);
}

#[test]
fn plane_scaling_matches_on_every_plane() {
    let seed = seed();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let units = [
        lutcore_gen::fp::scale_module(1),
        lutcore_gen::fp::scale_module(2),
    ];
    // Both are named lutcore_fp32_scale: the second gets its own name in the bench.
    let mut second = units[1].clone();
    second.name = "t_fp32_scale2".into();
    let bench = Bench::build(&[units[0].clone(), second]);
    let mut xs = FP32.edge_values();
    xs.extend([
        0x0040_0000,
        0x0020_0001,
        0x8060_0000,
        0x7f00_0000,
        0x7e80_0001,
    ]);
    for _ in 0..RANDOM_SCALE {
        let x = rng.gen::<u32>();
        // Half uniform, half near the subnormal and overflow ends.
        xs.push(match rng.gen_range(0..4) {
            0 | 1 => x,
            2 => x & 0x80ff_ffff,
            _ => x | 0x7e00_0000,
        });
    }
    let mut vectors = Vec::new();
    for (k, pb) in [1u32, 2].iter().enumerate() {
        for p in 0..(1 << pb) {
            for &x in &xs {
                vectors.push(Vector {
                    unit: k,
                    inputs: vec![x.into(), p.into()],
                    want: u64::from(fp::scale_pow2(x, p)),
                });
            }
        }
    }
    bench.check(&vectors, seed);
}

#[test]
fn products_are_exact_on_every_fp8_pair_and_every_weight() {
    let mut units = vec![Unit::Mul { fmt: E4M3 }, Unit::Mul { fmt: E5M2 }];
    for fmt in ACTS {
        for weight_bits in 2..=5 {
            units.push(Unit::MulInt { fmt, weight_bits });
        }
    }
    let bench = Bench::build(&modules_for(&units));
    let mut vectors = Vec::new();
    for (k, u) in units.iter().enumerate() {
        match *u {
            Unit::Mul { fmt } => {
                for a in 0..256 {
                    for b in 0..256 {
                        vectors.push(Vector {
                            unit: k,
                            inputs: vec![a.into(), b.into()],
                            want: u64::from(fp::mul(fmt, a, b)),
                        });
                    }
                }
            }
            Unit::MulInt { fmt, weight_bits } => {
                for a in 0..(1u32 << fmt.bits()) {
                    for wc in 0..(1u32 << weight_bits) {
                        // The weight's two's complement code and its value.
                        let w = ((wc << (32 - weight_bits)) as i32) >> (32 - weight_bits);
                        vectors.push(Vector {
                            unit: k,
                            inputs: vec![a.into(), wc.into()],
                            want: u64::from(fp::mul_int(fmt, a, w)),
                        });
                    }
                }
            }
            _ => unreachable!(),
        }
    }
    bench.check(&vectors, 0);
}

#[test]
fn fp16_and_bf16_products_match_on_random_and_edge_pairs() {
    let seed = seed();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let fmts = [FP16, BF16];
    let units: Vec<Unit> = fmts.iter().map(|&fmt| Unit::Mul { fmt }).collect();
    let bench = Bench::build(&modules_for(&units));
    let mut vectors = Vec::new();
    for (k, f) in fmts.iter().enumerate() {
        let mut pairs = edge_pairs(*f);
        for _ in 0..RANDOM_PAIRS {
            let (a, b) = random_pair(&mut rng, *f);
            // Also products near the binary32 subnormal range (BF16).
            let b = if rng.gen_range(0..4) == 0 {
                b & 0x81ff
            } else {
                b
            };
            pairs.push((a, b));
        }
        for (a, b) in pairs {
            vectors.push(Vector {
                unit: k,
                inputs: vec![a.into(), b.into()],
                want: u64::from(fp::mul(*f, a, b)),
            });
        }
    }
    bench.check(&vectors, seed);
}

/// The activation formats with a fixed-point form.
const FIXED_ACTS: [FpFormat; 3] = [FP16, E4M3, E5M2];

#[test]
fn to_fixed_is_exact_on_every_code() {
    let units: Vec<Unit> = FIXED_ACTS
        .iter()
        .map(|&fmt| Unit::ToFixed { fmt })
        .collect();
    let bench = Bench::build(&modules_for(&units));
    let mut vectors = Vec::new();
    for (k, fmt) in FIXED_ACTS.iter().enumerate() {
        let width = fmt.fixed_point().expect("a fixed point").width;
        for x in 0..(1u32 << fmt.bits()) {
            // {fixed_o, nonfinite_o}; fixed_o is 0 for Inf and NaN.
            let want = match fmt.to_fixed(x) {
                Some(v) => ((v as u64) & (u64::MAX >> (64 - width))) << 1,
                None => 1,
            };
            vectors.push(Vector {
                unit: k,
                inputs: vec![x.into()],
                want,
            });
        }
    }
    bench.check(&vectors, 0);
}

/// The (width, fractional bits) of the fixed-to-binary32 units under test:
/// the exact accumulators' (FP16 products and sums with 24 fractional bits,
/// E4M3 with 9, E5M2 with 16), the activations' own widths, a narrow one
/// that never rounds, and two whose small values are binary32 subnormals.
const FIXED_TO_FP32: [(u32, u32); 9] = [
    (64, 24),
    (48, 9),
    (56, 16),
    (41, 24),
    (19, 9),
    (33, 16),
    (24, 0),
    (64, 160),
    (40, 140),
];
/// Random values per fixed-to-binary32 unit.
const RANDOM_FIXED: usize = 200_000;

/// Edge values of a `w`-bit integer read with `f` fractional bits: zero,
/// ±1, ±powers of two, the extremes, values around 24 significant bits,
/// exact ties of the binary32 rounding (normal and, when `f` is large,
/// subnormal) both ways, and all-ones runs that round up into the next binade.
fn fixed_edges(w: u32, f: u32) -> Vec<i64> {
    let max = (1u64 << (w - 1)) as i64 - 1; // 2^(w-1) - 1 without overflow at w = 64
    let mut v = vec![0, 1, -1, max, -max, -max - 1];
    for k in 0..w - 1 {
        v.extend([1i64 << k, -(1i64 << k), (1i64 << k) - 1, -(1i64 << k) + 1]);
    }
    for s in 1..w.saturating_sub(25) {
        for kept in [1i64 << 23, (1 << 23) + 1, (1 << 24) - 2, (1 << 24) - 1] {
            let half = 1i64 << (s - 1);
            // A tie (to the even neighbour, up for odd `kept`), just below, just above.
            for x in [
                (kept << s) | half,
                (kept << s) | (half - 1),
                (kept << s) | half | 1,
            ] {
                v.extend([x, -x]);
            }
        }
    }
    // Subnormal results: the quantum 2^-149 is 2^(f - 149) units of x.
    if f > 149 && f - 149 < w - 2 {
        let s = f - 149;
        let half = 1i64 << (s - 1);
        for kept in [0i64, 1, 2, 3, (1 << 23) - 1] {
            for x in [
                (kept << s) | half,
                (kept << s) | (half - 1),
                (kept << s) | half | 1,
            ] {
                v.extend([x, -x]);
            }
        }
    }
    v.retain(|&x| x >= -max - 1 && x <= max);
    v
}

#[test]
fn fixed_to_fp32_matches_on_random_and_edge_values() {
    let seed = seed();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let units: Vec<Unit> = FIXED_TO_FP32
        .iter()
        .map(|&(width, frac_bits)| Unit::FixedToFp32 { width, frac_bits })
        .collect();
    let bench = Bench::build(&modules_for(&units));
    let mut vectors = Vec::new();
    for (k, &(w, f)) in FIXED_TO_FP32.iter().enumerate() {
        let mut xs = fixed_edges(w, f);
        for _ in 0..RANDOM_FIXED {
            // Uniform over the bit length (then over the values of that
            // length): small magnitudes and subnormal results are common.
            let len = rng.gen_range(1..=w);
            let x = rng.gen::<i64>() >> (64 - len);
            xs.push(match rng.gen_range(0..4) {
                // A random value, and one with a sparse tail (near ties).
                0 | 1 => x,
                2 => x & !((1i64 << rng.gen_range(0..len)) - 1),
                _ => x | ((1i64 << rng.gen_range(0..len)) - 1),
            });
        }
        let mask = u64::MAX >> (64 - w);
        for x in xs {
            vectors.push(Vector {
                unit: k,
                inputs: vec![(x as u64) & mask],
                want: u64::from(fp::fixed_to_f32(i128::from(x), f)),
            });
        }
    }
    bench.check(&vectors, seed);
}

/// Every unit a design can use.
fn all_units() -> Vec<Module> {
    let mut units = vec![Unit::Add, Unit::Scale { plane_bits: 1 }];
    for fmt in ACTS {
        units.push(Unit::Widen { fmt, half: false });
        units.push(Unit::Widen { fmt, half: true });
        units.push(Unit::Mul { fmt });
        for weight_bits in 2..=5 {
            units.push(Unit::MulInt { fmt, weight_bits });
        }
    }
    units.extend(FIXED_ACTS.map(|fmt| Unit::ToFixed { fmt }));
    units.extend(FIXED_TO_FP32.map(|(width, frac_bits)| Unit::FixedToFp32 { width, frac_bits }));
    let mut modules = modules_for(&units);
    let mut scale2 = lutcore_gen::fp::scale_module(2);
    scale2.name = "lutcore_fp32_scale_p2".into();
    modules.push(scale2);
    for f in [E5M2, E4M3, FP16, BF16] {
        modules.push(add_module(
            f,
            &format!("lutcore_{}_add", f.name.replace('-', "_")),
        ));
    }
    modules
}

#[test]
fn units_lint_clean_and_synthesize_without_latches() {
    let dir = tempfile::tempdir().expect("tempdir");
    let modules = all_units();
    let files = write_modules(dir.path(), &modules);
    for (m, f) in modules.iter().zip(&files) {
        let text = run_tool(
            Command::new("verilator")
                .args(["--lint-only", "-Wall", "--top-module", &m.name])
                .arg(f),
            "verilator --lint-only",
        );
        assert!(text.trim().is_empty(), "{} lint:\n{text}", m.name);
        let long = print::module(m)
            .lines()
            .filter(|l| l.len() > print::MAX_LINE)
            .count();
        assert_eq!(
            long,
            0,
            "{}: lines over {} columns",
            m.name,
            print::MAX_LINE
        );
    }
    let list: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    run_tool(
        Command::new("yosys").args([
            "-q",
            "-p",
            &format!(
                "read_verilog -sv {}; synth; check -assert; \
                 select -assert-none t:$*latch* t:$_DLATCH*",
                list.join(" ")
            ),
        ]),
        "yosys synth",
    );
}
