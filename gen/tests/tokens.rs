//! Arrays with several tokens per pass (`tokens` = M > 1): every datapath,
//! integer and FP16 activations, and the exact-accumulation arrays (FP16 and
//! FP8 E4M3 on the LUT array and the add/sub baseline), M = 2 and 3, is `verilator --lint-only
//! -Wall` clean, keeps the house style (lines of at most 100 columns,
//! registers named `*_q`), names M in its comments, and has the stream
//! interface of the contract with the M-fold activation and result beats.
//! One token per pass keeps every name (checked by the golden files and the
//! baseline comparison of the generated Verilog).

use std::process::Command;

use lutcore_contract::config::{Arch, ArrayConfig, RawArrayConfig, RESULT_BITS};
use lutcore_contract::interface::StreamPort;
use lutcore_contract::{Accumulate, ActType, WeightType};
use lutcore_gen::{generate, print};

/// Small configs of every datapath with `tokens` per pass.
fn configs(tokens: u32) -> Vec<ArrayConfig> {
    use Accumulate::{Exact, Fp32};
    use WeightType::{Ternary, Uint};
    let mut v = Vec::new();
    for (arch, wt, act, acc, (rows, k_groups, g)) in [
        (Arch::Lut, Uint(2), ActType::Int8, Fp32, (3, 2, 4)),
        (Arch::Lut, Ternary, ActType::Int8, Fp32, (2, 1, 3)),
        (Arch::Lut, Uint(1), ActType::Int8, Fp32, (2, 3, 2)),
        (Arch::Mac, Uint(2), ActType::Int8, Fp32, (2, 1, 4)),
        (Arch::AddSub, Ternary, ActType::Int8, Fp32, (2, 2, 2)),
        (Arch::Lut, Uint(1), ActType::Fp16, Fp32, (2, 1, 4)),
        (Arch::Lut, Uint(4), ActType::Fp16, Fp32, (2, 2, 3)),
        (Arch::Mac, Uint(2), ActType::Fp16, Fp32, (2, 1, 4)),
        (Arch::AddSub, Ternary, ActType::Fp16, Fp32, (2, 1, 3)),
        (Arch::Lut, Uint(1), ActType::Fp16, Exact, (2, 1, 4)),
        (Arch::Lut, Ternary, ActType::Fp8E4m3, Exact, (2, 2, 3)),
        (Arch::Lut, Uint(2), ActType::Fp8E4m3, Exact, (3, 1, 2)),
        (Arch::AddSub, Ternary, ActType::Fp16, Exact, (2, 1, 3)),
        (Arch::AddSub, Uint(2), ActType::Fp8E4m3, Exact, (2, 2, 2)),
    ] {
        let raw = RawArrayConfig::new(arch, rows, k_groups, g, wt, act, 256)
            .with_tokens(tokens)
            .with_accumulate(acc);
        v.push(raw.validate().unwrap_or_else(|e| panic!("{raw:?}: {e}")));
    }
    v
}

#[test]
fn multi_token_arrays_lint_clean_and_keep_the_house_style() {
    let dir = tempfile::tempdir().expect("tempdir");
    for tokens in [2, 3] {
        for cfg in configs(tokens) {
            let d = generate(&cfg).unwrap_or_else(|e| panic!("{cfg}: {e}"));
            let out = dir.path().join(cfg.slug());
            d.write_to(&out).expect("write");
            let files: Vec<_> = d.files.iter().map(|f| out.join(&f.name)).collect();
            let lint = Command::new("verilator")
                .args(["--lint-only", "-Wall", "--top-module", &d.top])
                .args(&files)
                .output()
                .expect("verilator is installed (make deps)");
            let text = String::from_utf8_lossy(&lint.stderr).to_string()
                + &String::from_utf8_lossy(&lint.stdout);
            assert!(
                lint.status.success() && text.trim().is_empty(),
                "{cfg}: verilator --lint-only -Wall:\n{text}"
            );
            for f in &d.files {
                // The FP units do not depend on the config and have no Config line.
                assert!(
                    !f.contents.contains("// Config:")
                        || f.contents
                            .contains(&format!("Tokens: M = {tokens} per pass")),
                    "{cfg}: {} does not name M",
                    f.name
                );
                for (i, line) in f.contents.lines().enumerate() {
                    let at = format!("{} {}:{}", cfg.slug(), f.name, i + 1);
                    assert!(
                        line.len() <= print::MAX_LINE,
                        "{at}: {} columns",
                        line.len()
                    );
                    let code = line.trim_start();
                    if let Some((lhs, _)) =
                        code.split_once(" <= ").filter(|_| !code.starts_with("//"))
                    {
                        assert!(
                            lhs.ends_with("_q") || lhs.ends_with("_q2"),
                            "{at}: register `{lhs}` without _q"
                        );
                    }
                }
            }
            let ports: Vec<(String, u32)> =
                d.ports.iter().map(|p| (p.name.clone(), p.width)).collect();
            let want: Vec<(String, u32)> = StreamPort::ALL
                .iter()
                .map(|p| (p.name().to_string(), p.width(&cfg)))
                .collect();
            assert_eq!(ports, want, "{cfg}");
            let width = |p: StreamPort| p.width(&cfg);
            assert_eq!(
                width(StreamPort::ActData),
                tokens * cfg.k_tile() as u32 * cfg.act_bits()
            );
            assert_eq!(
                width(StreamPort::ResData),
                tokens * cfg.rows() as u32 * RESULT_BITS
            );
        }
    }
}

/// The LUT arrays build one table precompute per token and one read per
/// token and group in each row; the index decode is per row, not per token.
#[test]
fn lut_arrays_share_the_decode_and_copy_the_tables() {
    for cfg in configs(3).into_iter().filter(|c| c.arch() == Arch::Lut) {
        let d = generate(&cfg).unwrap();
        let top = d
            .files
            .iter()
            .find(|f| f.name == format!("{}.sv", d.top))
            .unwrap();
        let count = |s: &str| top.contents.matches(s).count();
        assert_eq!(count("u_precompute_t"), 3, "{cfg}");
        for n in 0..3 {
            assert!(top.contents.contains(&format!("pe0_t{n}_entry")), "{cfg}");
        }
        let pe = d.files.iter().find(|f| f.name.ends_with("_pe.sv")).unwrap();
        assert_eq!(pe.contents.matches("g0_idx =").count(), 1, "{cfg}");
        for n in 0..3 {
            assert!(pe.contents.contains(&format!("t{n}_acc_q")), "{cfg}");
        }
    }
}

/// The exact arrays keep everything per token that a token's numbers pass
/// through: its converters (one per activation of its K-tile), its Inf/NaN
/// flag, and in each row its accumulator and its one rounding; the weight
/// decode is per row.
#[test]
fn exact_arrays_convert_flag_and_round_per_token() {
    for tokens in [2u32, 3] {
        for cfg in configs(tokens)
            .into_iter()
            .filter(|c| c.accumulate() == Accumulate::Exact)
        {
            let d = generate(&cfg).unwrap();
            let file = |suffix: &str| {
                d.files
                    .iter()
                    .find(|f| f.name.ends_with(suffix))
                    .unwrap_or_else(|| panic!("{cfg}: no *{suffix}"))
                    .contents
                    .as_str()
            };
            let (top, pe) = (file("_array.sv"), file("_pe.sv"));
            let to_fixed = d
                .files
                .iter()
                .find(|f| f.name.contains("_to_fixed"))
                .map(|f| f.name.trim_end_matches(".sv").to_string())
                .unwrap_or_else(|| panic!("{cfg}: no converter"));
            // Converters: in the top (add/sub) or in each token's precompute (LUT).
            let instance = format!("{to_fixed} u_");
            let converters = match cfg.arch() {
                Arch::Lut => {
                    file("_precompute.sv").matches(&instance).count()
                        * top.matches("u_precompute_t").count()
                }
                _ => top.matches(&instance).count(),
            };
            assert_eq!(converters, tokens as usize * cfg.k_tile(), "{cfg}");
            assert!(
                pe.contains(&format!("input  logic [{}:0] nonfinite_i", tokens - 1)),
                "{cfg}"
            );
            for n in 0..tokens {
                assert!(top.contains(&format!("t{n}_nonfinite_q")), "{cfg}");
                for s in ["acc_q", "rounded"] {
                    assert_eq!(
                        pe.matches(&format!("] t{n}_{s};")).count(),
                        1,
                        "{cfg}: t{n}_{s}"
                    );
                }
                assert!(pe.contains(&format!("u_t{n}_round")), "{cfg}");
                assert!(pe.contains(&format!("nonfinite_i[{n}]")), "{cfg}");
            }
            assert_eq!(
                pe.matches("u_t").count(),
                tokens as usize,
                "{cfg}: one rounding per token"
            );
            let decode = if cfg.arch() == Arch::Lut {
                "g0_idx ="
            } else {
                "w0 ="
            };
            assert_eq!(pe.matches(decode).count(), 1, "{cfg}");
        }
    }
}
