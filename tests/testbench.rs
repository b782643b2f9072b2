//! The testbench shipped with the RTL (`lutcore gen --testbench`) in two more
//! simulators: Icarus Verilog (`run_icarus.sh`: iverilog -g2012, vvp) and
//! Verilator's `--binary --timing` (`run_verilator.sh`), on every arch with
//! configs covering g = 2, 3, 4, 5, int16 activations, uint1, uint2, uint3,
//! ternary and row counts that are not powers of two.
//!
//! For each config both simulators must print `PASS n` with n the vector
//! count, build without warnings and take the same number of cycles (the
//! stimulus is one xorshift sequence in both). Icarus also runs at full speed
//! (`+gap=0 +stall=0`), where the cycle count must be the latency of
//! docs/interface.md. Then one expected value is corrupted and both must print
//! the mismatch and `FAIL 1 of n` and exit nonzero.
//!
//! Configs run two at a time; Verilator's C++ build dominates the wall time.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use lutcore_contract::config::{Arch, RawArrayConfig};
use lutcore_contract::WeightType::{Ternary, Uint};

/// Extra options for `run_verilator.sh`: build the C++ without optimization.
const O0: &str = "-MAKEFLAGS OPT_FAST=-O0 -MAKEFLAGS OPT_SLOW=-O0 -MAKEFLAGS OPT_GLOBAL=-O0";

/// The configs: every arch, g 2..5, int8 and int16, every weight width but uint4.
fn configs() -> Vec<(&'static str, RawArrayConfig)> {
    use lutcore_contract::ActType::{Int16, Int8};
    use Arch::{AddSub, Lut, Mac};
    let cfg = RawArrayConfig::new;
    vec![
        ("lut_r3_g3_uint3", cfg(Lut, 3, 2, 3, Uint(3), Int8, 64)),
        ("lut_r5_g5_ternary", cfg(Lut, 5, 1, 5, Ternary, Int8, 100)),
        (
            "lut_r2_g2_uint1_a16",
            cfg(Lut, 2, 3, 2, Uint(1), Int16, 128),
        ),
        ("lut_tiny_g4_uint2", cfg(Lut, 4, 1, 4, Uint(2), Int8, 256)),
        ("mac_r3_g2_uint3", cfg(Mac, 3, 2, 2, Uint(3), Int8, 50)),
        ("mac_r6_g3_uint1_a16", cfg(Mac, 6, 1, 3, Uint(1), Int16, 64)),
        ("mac_r7_g2_ternary", cfg(Mac, 7, 1, 2, Ternary, Int8, 33)),
        ("addsub_r5_g3", cfg(AddSub, 5, 2, 3, Ternary, Int8, 80)),
        ("addsub_r2_g5_a16", cfg(AddSub, 2, 1, 5, Ternary, Int16, 40)),
    ]
}

fn run(cmd: &mut Command) -> Output {
    let shown = format!("{cmd:?}");
    cmd.output()
        .unwrap_or_else(|e| panic!("{shown}: {e} (Icarus Verilog and Verilator 5: `make deps`)"))
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The summary line of a run and its cycle count: `PASS n results (p passes, c cycles, ...)`.
fn summary(out: &str) -> Option<(&str, u64)> {
    let line = out
        .lines()
        .find(|l| l.starts_with("PASS ") || l.starts_with("FAIL "))?;
    let cycles = line
        .split(" cycles")
        .next()?
        .rsplit(' ')
        .next()?
        .parse()
        .ok()?;
    Some((line, cycles))
}

/// Full-speed cycles of the vectors by docs/interface.md's latency table, plus
/// the 16 cycles the testbench waits after the last result.
fn full_speed_cycles(vectors: &serde_json::Value) -> u64 {
    let c = &vectors["config"];
    let lut = c["arch"] == "lut";
    let bits = match c["weights"].as_str() {
        Some("ternary") => 2,
        Some(w) => w.trim_start_matches("uint").parse::<u64>().expect("uintB"),
        None => panic!("no weights in vectors.json"),
    };
    let per_pass = |t: u64| if lut { t * bits + 5 } else { t + 3 };
    let cases = vectors["cases"].as_array().expect("cases");
    cases
        .iter()
        .map(|k| k["passes"].as_u64().unwrap() * per_pass(k["k_tiles"].as_u64().unwrap()))
        .sum::<u64>()
        + 16
}

/// Generate, run in both simulators, and (for `corrupt`) prove a wrong value fails.
/// Returns a report line, or the failure.
fn check(name: &str, raw: &RawArrayConfig, corrupt: bool) -> Result<String, String> {
    let t0 = Instant::now();
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let dir = tmp.path().join("tb");
    let cfg_path = tmp.path().join(format!("{name}.json"));
    std::fs::write(&cfg_path, serde_json::to_string(raw).unwrap()).unwrap();
    let gen = run(Command::new(env!("CARGO_BIN_EXE_lutcore"))
        .args(["gen", "--testbench", "--tb-seed", "7", "--config"])
        .arg(&cfg_path)
        .arg("--out")
        .arg(&dir));
    if !gen.status.success() {
        return Err(format!(
            "{name}: lutcore gen --testbench failed:\n{}",
            text(&gen)
        ));
    }
    let vectors: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("vectors/vectors.json")).unwrap())
            .unwrap();
    let n = vectors["results"].as_u64().unwrap();
    let tb = vectors["testbench"].as_str().unwrap().to_string();

    let icarus = run(&mut Command::new(dir.join("run_icarus.sh")));
    // Unoptimized C++ (the runs are short): about a third less build time.
    let verilator = run(Command::new(dir.join("run_verilator.sh"))
        .env("JOBS", "1")
        .env("VERILATOR_FLAGS", O0));
    let mut cycles = Vec::new();
    for (sim, out) in [("icarus", &icarus), ("verilator", &verilator)] {
        let out_text = text(out);
        let Some((line, c)) = summary(&out_text) else {
            return Err(format!(
                "{name}: {sim} printed no PASS/FAIL line ({:?}):\n{out_text}",
                out.status
            ));
        };
        if !out.status.success() || !line.starts_with(&format!("PASS {n} results")) {
            return Err(format!(
                "{name}: {sim} did not pass ({:?}), expected PASS {n}:\n{out_text}",
                out.status
            ));
        }
        cycles.push(c);
    }
    if cycles[0] != cycles[1] {
        return Err(format!(
            "{name}: same stimulus, other cycle counts: icarus {} verilator {}",
            cycles[0], cycles[1]
        ));
    }
    let log = std::fs::read_to_string(dir.join("build/verilator/build.log")).unwrap_or_default();
    if log.contains("%Warning") {
        return Err(format!(
            "{name}: Verilator warns on the testbench or design:\n{log}"
        ));
    }
    let vvp = dir.join(format!("build/icarus/{tb}.vvp"));
    let fast = text(&run(Command::new("vvp")
        .current_dir(&dir)
        .arg("-n")
        .arg(&vvp)
        .args(["+gap=0", "+stall=0"])));
    let want_fast = full_speed_cycles(&vectors);
    match summary(&fast) {
        Some((l, c)) if l.starts_with("PASS") && c == want_fast => {}
        _ => {
            return Err(format!(
                "{name}: full speed should take {want_fast} cycles (docs/interface.md):\n{fast}"
            ))
        }
    }
    let mut report = format!(
        "{name}: PASS {n} results in both, {} cycles (full speed {want_fast})",
        cycles[0]
    );

    if corrupt {
        // Row 0 of pass 0 is the last 8 hex digits of res.hex's first data line.
        let res_path = dir.join("vectors/res.hex");
        let res = std::fs::read_to_string(&res_path).unwrap();
        let mut lines: Vec<String> = res.lines().map(String::from).collect();
        let i = lines.iter().position(|l| !l.starts_with("//")).unwrap();
        let at = lines[i].len() - 8;
        let good = u32::from_str_radix(&lines[i][at..], 16).unwrap() as i32;
        let bad = good ^ 1;
        lines[i].replace_range(at.., &format!("{:08x}", bad as u32));
        std::fs::write(&res_path, lines.join("\n") + "\n").unwrap();
        let want = format!("MISMATCH case 0 pass 0 row 0: got {good} want {bad}");
        let runs = [
            (
                "icarus",
                run(Command::new("vvp").current_dir(&dir).arg("-n").arg(&vvp)),
            ),
            (
                "verilator",
                run(Command::new(dir.join(format!("build/verilator/{tb}"))).current_dir(&dir)),
            ),
        ];
        for (sim, out) in runs {
            let t = text(&out);
            let line = summary(&t).map(|(l, _)| l.to_string()).unwrap_or_default();
            if out.status.success()
                || !t.contains(&want)
                || !line.starts_with(&format!("FAIL 1 of {n} results"))
            {
                return Err(format!("{name}: {sim} with a corrupted expected value should fail ({:?}), \"{want}\":\n{t}", out.status));
            }
        }
        report += &format!("; corrupted value -> FAIL 1 of {n}, nonzero exit in both");
    }
    Ok(format!("{report} ({:.1} s)", t0.elapsed().as_secs_f64()))
}

/// Check `configs` two at a time; the first one also with a corrupted value.
fn check_all(configs: &[(&str, RawArrayConfig)]) {
    let t0 = Instant::now();
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some((name, raw)) = configs.get(i) else {
                    break;
                };
                match check(name, raw, i == 0) {
                    Ok(line) => println!("{line}"),
                    Err(e) => failures.lock().unwrap().push(e),
                }
            });
        }
    });
    println!(
        "{} configs in {:.1} s",
        configs.len(),
        t0.elapsed().as_secs_f64()
    );
    let failures = failures.into_inner().unwrap();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn shipped_testbench_passes_in_icarus_and_verilator() {
    check_all(&configs());
}

/// Every preset with integer activations as shipped (slow: a 32-row preset takes
/// about a minute; FP presets have no shipped testbench, `sim/tests/fp_gemv.rs`
/// checks them): `cargo test --release --test testbench -- --ignored`.
#[test]
#[ignore]
fn every_preset_passes_in_icarus_and_verilator() {
    let presets: Vec<(&str, RawArrayConfig)> = lutcore_contract::config::presets()
        .into_iter()
        .filter(|p| !p.raw.act.is_float())
        .map(|p| (p.name, p.raw))
        .collect();
    check_all(&presets);
}

#[test]
fn testbench_flags_need_testbench_and_a_fitting_shape() {
    let tmp = tempfile::tempdir().unwrap();
    let out = |args: &[&str]| {
        run(Command::new(env!("CARGO_BIN_EXE_lutcore"))
            .args(args)
            .current_dir(tmp.path()))
    };
    let o = out(&["gen", "--preset", "tiny", "--out", "x", "--tb-shape", "4x4"]);
    assert!(
        !o.status.success() && text(&o).contains("--testbench"),
        "{}",
        text(&o)
    );
    let o = out(&[
        "gen",
        "--preset",
        "tiny",
        "--out",
        "x",
        "--testbench",
        "--tb-shape",
        "4x257",
    ]);
    assert!(
        !o.status.success() && text(&o).contains("max_k"),
        "{}",
        text(&o)
    );
    assert!(
        !Path::new(&tmp.path().join("x/vectors")).exists(),
        "no vectors after a refused shape"
    );
}
