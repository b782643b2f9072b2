//! The testbench shipped with the RTL (`lutcore gen --testbench`) in two more
//! simulators: Icarus Verilog (`run_icarus.sh`: iverilog -g2012, vvp) and
//! Verilator's `--binary --timing` (`run_verilator.sh`), on every arch with
//! configs covering g = 2, 3, 4, 5, int16 activations, uint1, uint2, uint3,
//! ternary and row counts that are not powers of two; and for FP activations
//! (binary32 results bit for bit: FP LUT, FP MAC and exact accumulation) and
//! several tokens per pass (integer and FP).
//!
//! For each config every simulator must print `PASS n` with n the vector
//! count; Verilator must build without warnings and take as many cycles as
//! Icarus (the stimulus is one xorshift sequence in both). Icarus also runs at
//! full speed (`+gap=0 +stall=0`), where the cycle count must be the latency of
//! docs/interface.md. Then one expected value is corrupted and every simulator
//! must print the mismatch (with its token on a multi-token array) and
//! `FAIL 1 of n` and exit nonzero.
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

/// What to generate the testbench of: a preset by name, or a config (written
/// to a JSON file for `--config`).
enum Source {
    Preset(&'static str),
    Config(RawArrayConfig),
}

/// Which runs [`check`] makes besides Icarus at the default stimulus and at
/// full speed.
#[derive(Clone, Copy)]
struct Runs {
    /// Also build and run under Verilator (same cycle count, no warnings).
    verilator: bool,
    /// Corrupt one expected value and require FAIL in every simulator run.
    corrupt: bool,
}

/// The simulator runs to repeat with a corrupted expected value.
struct Built {
    vvp: std::path::PathBuf,
    verilator_bin: Option<std::path::PathBuf>,
}

/// Generate, run in Icarus (and Verilator), and (for `corrupt`) prove a wrong
/// value fails. Returns a report line, or the failure.
fn check(name: &str, src: &Source, runs: Runs) -> Result<String, String> {
    let t0 = Instant::now();
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let dir = tmp.path().join("tb");
    let mut gen = Command::new(env!("CARGO_BIN_EXE_lutcore"));
    gen.args(["gen", "--testbench", "--tb-seed", "7"]);
    match src {
        Source::Preset(p) => {
            gen.args(["--preset", p]);
        }
        Source::Config(raw) => {
            let cfg_path = tmp.path().join(format!("{name}.json"));
            std::fs::write(&cfg_path, serde_json::to_string(raw).unwrap()).unwrap();
            gen.arg("--config").arg(&cfg_path);
        }
    }
    let gen = run(gen.arg("--out").arg(&dir));
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

    let mut sims = vec![("icarus", run(&mut Command::new(dir.join("run_icarus.sh"))))];
    if runs.verilator {
        // Unoptimized C++ (the runs are short): about a third less build time.
        sims.push((
            "verilator",
            run(Command::new(dir.join("run_verilator.sh"))
                .env("JOBS", "1")
                .env("VERILATOR_FLAGS", O0)),
        ));
    }
    let mut cycles = Vec::new();
    for (sim, out) in &sims {
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
    if cycles.iter().any(|&c| c != cycles[0]) {
        return Err(format!(
            "{name}: same stimulus, other cycle counts: icarus {} verilator {}",
            cycles[0], cycles[1]
        ));
    }
    if runs.verilator {
        let log =
            std::fs::read_to_string(dir.join("build/verilator/build.log")).unwrap_or_default();
        if log.contains("%Warning") {
            return Err(format!(
                "{name}: Verilator warns on the testbench or design:\n{log}"
            ));
        }
    }
    let built = Built {
        vvp: dir.join(format!("build/icarus/{tb}.vvp")),
        verilator_bin: runs
            .verilator
            .then(|| dir.join(format!("build/verilator/{tb}"))),
    };
    let fast = text(&run(Command::new("vvp")
        .current_dir(&dir)
        .arg("-n")
        .arg(&built.vvp)
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
    let sims: Vec<&str> = sims.iter().map(|(s, _)| *s).collect();
    let mut report = format!(
        "{name}: PASS {n} results in {}, {} cycles (full speed {want_fast})",
        sims.join(" and "),
        cycles[0]
    );
    if runs.corrupt {
        report += &corrupt_and_fail(name, &dir, &vectors, &built)?;
    }
    Ok(format!("{report} ({:.1} s)", t0.elapsed().as_secs_f64()))
}

/// Flip bit 0 of one expected result of pass 0 (lane 1, row 0 of token 1, on
/// an array with several tokens per pass; else lane 0) and require the
/// MISMATCH line naming it, `FAIL 1 of n` and a nonzero exit in every run.
fn corrupt_and_fail(
    name: &str,
    dir: &Path,
    vectors: &serde_json::Value,
    built: &Built,
) -> Result<String, String> {
    let cfg = &vectors["config"];
    let tokens = cfg["tokens"].as_u64().unwrap_or(1);
    let fp = cfg.get("activations").is_some();
    let n = vectors["results"].as_u64().unwrap();
    let data_line = |file: &str, i: usize| -> (Vec<String>, usize) {
        let text = std::fs::read_to_string(dir.join("vectors").join(file)).unwrap();
        let lines: Vec<String> = text.lines().map(String::from).collect();
        let at = lines
            .iter()
            .enumerate()
            .filter(|(_, l)| !l.starts_with("//"))
            .nth(i)
            .map(|(k, _)| k)
            .unwrap_or_else(|| panic!("{file} has no data line {i}"));
        (lines, at)
    };
    // lanes.hex names the (row, token) of each 32-bit lane of a result beat.
    let lane = usize::from(tokens > 1);
    let (lanes, at) = data_line("lanes.hex", lane);
    let rt: Vec<u64> = lanes[at]
        .split("//")
        .next()
        .unwrap()
        .split_whitespace()
        .map(|w| u64::from_str_radix(w, 16).unwrap())
        .collect();
    let (row, token) = (rt[0], rt[1]);
    let (mut res, i) = data_line("res.hex", 0);
    let end = res[i].len() - 8 * lane;
    let good = u32::from_str_radix(&res[i][end - 8..end], 16).unwrap();
    let bad = good ^ 1;
    res[i].replace_range(end - 8..end, &format!("{bad:08x}"));
    std::fs::write(dir.join("vectors/res.hex"), res.join("\n") + "\n").unwrap();
    let at = if tokens > 1 {
        format!("token {token} row {row}")
    } else {
        format!("row {row}")
    };
    let want = if fp {
        format!("MISMATCH case 0 pass 0 {at}: got {good:08x} want {bad:08x}")
    } else {
        format!(
            "MISMATCH case 0 pass 0 {at}: got {} want {}",
            good as i32, bad as i32
        )
    };
    let mut runs = vec![(
        "icarus",
        run(Command::new("vvp")
            .current_dir(dir)
            .arg("-n")
            .arg(&built.vvp)),
    )];
    if let Some(bin) = &built.verilator_bin {
        runs.push(("verilator", run(Command::new(bin).current_dir(dir))));
    }
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
    Ok(format!(
        "; corrupted value -> \"{want}\", FAIL 1 of {n}, nonzero exit"
    ))
}

/// Check `configs` two at a time; the first `corrupted` also with a corrupted value.
fn check_all(configs: &[(&str, Source)], verilator: bool, corrupted: usize) {
    let t0 = Instant::now();
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some((name, src)) = configs.get(i) else {
                    break;
                };
                let runs = Runs {
                    verilator,
                    corrupt: i < corrupted,
                };
                match check(name, src, runs) {
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
    let configs: Vec<(&str, Source)> = configs()
        .into_iter()
        .map(|(n, raw)| (n, Source::Config(raw)))
        .collect();
    check_all(&configs, true, 1);
}

/// FP activations (binary32 results, bit for bit) and several tokens per
/// pass: the lut-fp16 preset, an exact one, an integer array
/// with 2 tokens per pass and an FP one with 3, and an exact FP8 add/sub array
/// with 2 (the first two with a corrupted value: token 1's int32, then a
/// binary32 printed as hex bits, must be reported).
#[test]
fn fp_and_multi_token_testbenches_pass_in_icarus_and_verilator() {
    use lutcore_contract::Accumulate;
    use lutcore_contract::ActType::{Fp16, Fp8E4m3, Int8};
    let tok2 = RawArrayConfig::new(Arch::Lut, 3, 1, 4, Uint(2), Int8, 64).with_tokens(2);
    let fp3 = RawArrayConfig::new(Arch::Mac, 2, 2, 2, Uint(1), Fp16, 48).with_tokens(3);
    let e4m3_exact = RawArrayConfig::new(Arch::AddSub, 3, 1, 4, Ternary, Fp8E4m3, 40)
        .with_tokens(2)
        .with_accumulate(Accumulate::Exact);
    check_all(
        &[
            ("lut_r3_g4_uint2_tokens2", Source::Config(tok2)),
            ("lut-fp16", Source::Preset("lut-fp16")),
            ("lut-fp16-exact", Source::Preset("lut-fp16-exact")),
            ("mac_r2_fp16_tokens3", Source::Config(fp3)),
            ("addsub_e4m3_exact_tokens2", Source::Config(e4m3_exact)),
        ],
        true,
        2,
    );
}

/// Every preset as shipped, FP ones included (slower: the 32-row presets'
/// Verilator builds dominate): `cargo test --release --test testbench -- --ignored`.
#[test]
#[ignore]
fn every_preset_passes_in_icarus_and_verilator() {
    let presets: Vec<(&str, Source)> = lutcore_contract::config::presets()
        .into_iter()
        .map(|p| (p.name, Source::Preset(p.name)))
        .collect();
    check_all(&presets, true, 1);
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

/// A testbench folder, run once (so `build/` exists), is regenerated with
/// another seed: the new vectors replace the old, the scratch folders are
/// gone, the new testbench passes; a plain `gen` then leaves only the design.
#[test]
fn a_run_testbench_folder_can_be_regenerated() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("x");
    let gen = |extra: &[&str]| {
        let o = run(Command::new(env!("CARGO_BIN_EXE_lutcore"))
            .args(["gen", "--preset", "tiny", "--out"])
            .arg(&dir)
            .args(extra));
        assert!(o.status.success(), "{}", text(&o));
    };
    let icarus = || {
        let o = run(&mut Command::new(dir.join("run_icarus.sh")));
        assert!(o.status.success(), "{}", text(&o));
        text(&o)
    };
    gen(&["--testbench"]);
    assert!(icarus().contains("seed 1)"));
    assert!(dir.join("build/icarus").is_dir());
    let old = std::fs::read(dir.join("vectors/act.hex")).unwrap();
    gen(&["--testbench", "--tb-seed", "2"]);
    assert!(!dir.join("build").exists(), "scratch removed");
    assert_ne!(std::fs::read(dir.join("vectors/act.hex")).unwrap(), old);
    let out = icarus();
    assert!(
        summary(&out).is_some_and(|(l, _)| l.starts_with("PASS ") && l.contains("seed 2)")),
        "{out}"
    );
    gen(&[]);
    let mut left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert!(
        left.iter()
            .all(|n| (n.ends_with(".sv") && !n.starts_with("tb_")) || n == "manifest.json"),
        "{left:?}"
    );
}
