//! A bounded-time, seeded fuzzer of the config reader (`ArrayConfig::from_json`):
//! valid preset JSON, mutated (fields set to extremes, negatives, floats, huge
//! strings, deep nesting; keys dropped, duplicated or added; bytes flipped, text
//! cut or padded). Every input must give `Ok` with sane derived widths or a clear,
//! short `Err`; never a panic.
//!
//! `LUTCORE_FUZZ_SEED` and `LUTCORE_FUZZ_ITERS` override the seed (default
//! [`DEFAULT_SEED`], so runs are reproducible) and the iteration count (default
//! [`DEFAULT_ITERS`]); a run also stops after [`TIME_BUDGET`]. A failure prints the
//! seed, the iteration and the input. Inputs that once failed are the named
//! regression tests at the end of this file.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use lutcore_contract::config::{
    presets, ArrayConfig, ConfigParseError, FIELD_NAMES, MAX_CONFIG_BYTES, RESULT_BITS,
};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};

const DEFAULT_SEED: u64 = 14;
const DEFAULT_ITERS: usize = 50_000;
const TIME_BUDGET: Duration = Duration::from_secs(10);
/// A clear error fits on a few lines, whatever the input.
const MAX_ERROR_CHARS: usize = 600;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v}: not a number")),
        Err(_) => default,
    }
}

/// The preset configs as JSON objects.
fn seeds() -> Vec<Map<String, Value>> {
    presets()
        .iter()
        .map(
            |p| match serde_json::to_value(&p.raw).expect("preset to JSON") {
                Value::Object(o) => o,
                other => panic!("preset {} is not an object: {other}", p.name),
            },
        )
        .collect()
}

/// A value that stresses a field: extremes, wrong types, long strings, deep nesting.
fn hostile_value(rng: &mut ChaCha8Rng) -> Value {
    let json = |s: &str| serde_json::from_str::<Value>(s).expect("literal");
    match rng.gen_range(0..22) {
        0 => json("0"),
        1 => json("-1"),
        2 => json("4294967295"),
        3 => json("4294967296"),
        4 => json("18446744073709551615"),
        5 => json("-9223372036854775808"),
        6 => json("1e308"),
        7 => json("-0.0"),
        8 => json("3.5"),
        9 => json("8.0"),
        10 => Value::String("x".repeat(rng.gen_range(0..100_000))),
        11 => Value::String(String::new()),
        12 => Value::Null,
        13 => Value::Bool(rng.gen()),
        14 => json("[]"),
        15 => json("{}"),
        16 => Value::String(
            [
                "lut",
                "mac",
                "addsub",
                "LUT",
                "uint7",
                "ternary",
                "int2",
                "uint0",
                "uint4",
                "\u{feff}lut",
            ]
            .choose(rng)
            .unwrap()
            .to_string(),
        ),
        17 => Value::from(rng.gen_range(0u32..=300)),
        18 => Value::from(1u64 << rng.gen_range(0..64)),
        19 => Value::from(rng.gen::<i64>()),
        20 => Value::from(rng.gen_range(-1e6f64..1e6)),
        _ => {
            // Nested arrays, beyond the JSON reader's recursion limit at times.
            (0..rng.gen_range(1..300)).fold(Value::from(1), |v, _| Value::Array(vec![v]))
        }
    }
}

/// Structural mutations on the object: a field set to a hostile value, dropped, or a key added.
fn mutate_object(rng: &mut ChaCha8Rng, obj: &mut Map<String, Value>) {
    for _ in 0..rng.gen_range(1..=3) {
        let field = *FIELD_NAMES.choose(rng).unwrap();
        match rng.gen_range(0..10) {
            0..=5 => {
                obj.insert(field.to_string(), hostile_value(rng));
            }
            6 => {
                obj.remove(field);
            }
            7 => {
                obj.insert(format!("{field}_extra"), Value::from(1));
            }
            8 => {
                obj.insert("x".repeat(rng.gen_range(1..5000)), Value::Null);
            }
            _ => {} // left valid
        }
    }
}

/// Text mutations: duplicated keys, flipped bytes, cuts, padding, a BOM, a wrapper.
fn mutate_text(rng: &mut ChaCha8Rng, text: String) -> String {
    let mut s = text;
    for _ in 0..rng.gen_range(0..=2) {
        match rng.gen_range(0..9) {
            0 if s.ends_with('}') => {
                // A key given twice (the reader must not silently take either).
                let field = FIELD_NAMES.choose(rng).unwrap();
                s.pop();
                s += &format!(",\"{field}\":{}}}", rng.gen_range(0..20));
            }
            1 if !s.is_empty() => {
                // Flip one byte to a random ASCII character.
                let mut b = s.into_bytes();
                let i = rng.gen_range(0..b.len());
                if b[i].is_ascii() {
                    b[i] = rng.gen_range(0x20u8..0x7f);
                }
                s = String::from_utf8_lossy(&b).into_owned();
            }
            2 => {
                // Cut at a random character boundary.
                let cut = rng.gen_range(0..=s.len());
                let cut = (0..=cut)
                    .rev()
                    .find(|&i| s.is_char_boundary(i))
                    .unwrap_or(0);
                s.truncate(cut);
            }
            3 => s = format!("\u{feff}{s}"),
            4 => s = format!("[{s}]"),
            5 => s = format!("{s}{}", " \n\t".repeat(rng.gen_range(0..1000))),
            6 => s = format!("{s}{s}"),
            7 => {
                // Non-ASCII in the middle.
                let at = (0..=rng.gen_range(0..=s.len()))
                    .rev()
                    .find(|&i| s.is_char_boundary(i))
                    .unwrap_or(0);
                s.insert_str(
                    at,
                    ["é", "\u{0}", "😀", "\u{feff}", "\\u0000"]
                        .choose(rng)
                        .unwrap(),
                );
            }
            _ => {}
        }
    }
    s
}

/// What an accepted config must satisfy.
fn check_sane(cfg: &ArrayConfig, input: &str) {
    assert!(
        (1..=256).contains(&cfg.rows()),
        "rows {} accepted from {input}",
        cfg.rows()
    );
    assert!(cfg.k_tile() >= 2 && cfg.k_tile() <= 32 * 5);
    assert!(
        cfg.result_value_bits() <= RESULT_BITS && cfg.acc_bits() <= 64,
        "{cfg}"
    );
    // Exact FP arrays hold fixed-point activations (FP16: 41 bits) in their integers.
    let (entry_max, product_max) = match cfg.act_fixed() {
        Some(_) => (64, 64),
        None => (32, 32),
    };
    assert!(
        cfg.entry_bits() >= 2 && cfg.entry_bits() <= entry_max && cfg.term_bits() <= entry_max + 1,
        "{cfg}"
    );
    assert!(
        cfg.sum_x_bits() <= 64 && cfg.product_bits() <= product_max && cfg.beat_sum_bits() <= 64,
        "{cfg}"
    );
    assert!(
        cfg.weight_beat_bits() > 0 && cfg.act_beat_bits() > 0 && cfg.result_beat_bits() > 0,
        "{cfg}"
    );
    assert!(
        cfg.macs_per_cycle().is_finite() && cfg.macs_per_cycle() > 0.0,
        "{cfg}"
    );
    assert!(
        cfg.table_entries() >= 2 && cfg.table_entries() <= 16,
        "{cfg}"
    );
    // What it writes back reads as the same config.
    let again =
        ArrayConfig::from_json(&serde_json::to_string(cfg).expect("to JSON")).expect("round trip");
    assert_eq!(&again, cfg);
}

/// What a refusal must satisfy.
fn check_clear(e: &ConfigParseError) {
    let msg = e.to_string();
    assert!(!msg.trim().is_empty(), "an empty error message");
    assert!(
        msg.chars().count() <= MAX_ERROR_CHARS,
        "an error message of {} chars: {}...",
        msg.len(),
        &msg[..200]
    );
    if let ConfigParseError::Invalid(c) = e {
        assert!(msg.contains(c.field) && msg.contains("allowed"), "{msg}");
    }
}

/// One input through the reader, checked.
fn check_one(input: &str) -> Result<(), String> {
    catch_unwind(AssertUnwindSafe(|| match ArrayConfig::from_json(input) {
        Ok(cfg) => check_sane(&cfg, input),
        Err(e) => check_clear(&e),
    }))
    .map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "panic".into())
    })
}

fn preview(s: &str) -> String {
    let head: String = s.chars().take(300).collect();
    format!(
        "{head:?}{}",
        if s.len() > 300 {
            format!(" ... ({} bytes)", s.len())
        } else {
            String::new()
        }
    )
}

#[test]
fn mutated_presets_give_a_sane_config_or_a_clear_error() {
    let seed: u64 = env_or("LUTCORE_FUZZ_SEED", DEFAULT_SEED);
    let iters: usize = env_or("LUTCORE_FUZZ_ITERS", DEFAULT_ITERS);
    println!("config fuzzer: seed {seed} (LUTCORE_FUZZ_SEED), up to {iters} iterations (LUTCORE_FUZZ_ITERS) or {TIME_BUDGET:?}");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let bases = seeds();
    let start = Instant::now();
    let (mut ok, mut refused, mut done) = (0usize, 0usize, 0usize);
    while done < iters && start.elapsed() < TIME_BUDGET {
        let mut obj = bases.choose(&mut rng).unwrap().clone();
        mutate_object(&mut rng, &mut obj);
        let text = if rng.gen() {
            serde_json::to_string(&obj)
        } else {
            serde_json::to_string_pretty(&obj)
        }
        .expect("to JSON");
        let input = mutate_text(&mut rng, text);
        if let Err(why) = check_one(&input) {
            panic!(
                "seed {seed}, iteration {done}: {why}\ninput: {}",
                preview(&input)
            );
        }
        match ArrayConfig::from_json(&input) {
            Ok(_) => ok += 1,
            Err(_) => refused += 1,
        }
        done += 1;
    }
    println!(
        "config fuzzer: {done} inputs in {:.2} s: {ok} accepted, {refused} refused",
        start.elapsed().as_secs_f64()
    );
    assert!(
        done >= 1000.min(iters),
        "only {done} iterations in {TIME_BUDGET:?}"
    );
    assert!(
        ok > 0 && refused > 0,
        "the mutations should produce both: {ok} accepted, {refused} refused"
    );
}

fn refused(input: &str, expect: &[&str]) {
    check_one(input).unwrap_or_else(|why| panic!("{why}\ninput: {}", preview(input)));
    let msg = ArrayConfig::from_json(input)
        .expect_err("refused")
        .to_string();
    for e in expect {
        assert!(msg.contains(e), "`{e}` not in: {msg}");
    }
}

const TINY: &str =
    r#"{"arch":"lut","rows":4,"k_groups":1,"g":4,"weights":"uint2","act_bits":8,"max_k":256}"#;

#[test]
fn valid_presets_and_a_bom_are_accepted() {
    for p in presets() {
        let text = serde_json::to_string_pretty(&p.raw).unwrap();
        assert_eq!(
            ArrayConfig::from_json(&text).unwrap().raw(),
            &p.raw,
            "{}",
            p.name
        );
    }
    assert_eq!(
        ArrayConfig::from_json(&format!("\u{feff}{TINY}"))
            .unwrap()
            .rows(),
        4
    );
}

#[test]
fn regression_a_json_array_is_not_an_unknown_variant() {
    refused(&format!("[{TINY}]"), &["JSON object", "found an array"]);
    refused("[]", &["found an array"]);
    refused("\"lut\"", &["found a string"]);
}

#[test]
fn regression_empty_whitespace_and_oversized() {
    refused("", &["empty"]);
    refused("\u{feff}  \n", &["empty"]);
    refused(&" ".repeat(MAX_CONFIG_BYTES + 1), &["limit", "1048576"]);
}

#[test]
fn regression_every_numeric_field_named_with_its_range() {
    for (field, range) in [
        ("rows", "1..=256"),
        ("k_groups", "1..=32"),
        ("g", "2..=5"),
        ("max_k", "1..=1048576"),
    ] {
        for bad in ["0", "-1", "4294967296", "1e300", "2.5", "\"4\"", "null"] {
            if field == "g" && bad == "0" {
                continue;
            }
            let mut obj: Map<String, Value> = serde_json::from_str(TINY).unwrap();
            obj.insert(field.into(), serde_json::from_str(bad).unwrap());
            refused(&serde_json::to_string(&obj).unwrap(), &[field, range]);
        }
    }
    for bad in ["0", "12", "-8", "8.5", "4294967304"] {
        let mut obj: Map<String, Value> = serde_json::from_str(TINY).unwrap();
        obj.insert("act_bits".into(), serde_json::from_str(bad).unwrap());
        refused(
            &serde_json::to_string(&obj).unwrap(),
            &["act_bits", "8 and 16"],
        );
    }
}

#[test]
fn regression_bad_enums_unknown_missing_and_duplicate_fields() {
    refused(
        &TINY.replace("\"lut\"", "\"dsp\""),
        &["arch", "dsp", "lut, mac, addsub"],
    );
    refused(
        &TINY.replace("\"uint2\"", "\"int7\""),
        &["weights", "int7", "uint1"],
    );
    refused(&TINY.replace("\"uint2\"", "7"), &["weights", "uint1"]);
    refused(
        &TINY.replace("}", ",\"colz\":3}"),
        &["unknown field `colz`", "k_groups"],
    );
    refused(
        &TINY.replace("\"rows\":4,", ""),
        &["missing field `rows`", "1..=256"],
    );
    refused(
        &TINY.replace("}", ",\"rows\":4}"),
        &["field `rows` is given more than once"],
    );
    refused(&TINY[..TINY.len() - 10], &["not valid JSON"]);
    let long_key = format!("{{\"{}\":1}}", "k".repeat(100_000));
    refused(&long_key, &["unknown field", "bytes"]);
}

/// Fuzz seed 1, iteration 1949: a field given twice, first as a 30 kB string, was
/// refused with the whole string in the message.
#[test]
fn regression_a_repeated_field_with_a_huge_first_value_gives_a_short_error() {
    let input = TINY.replace("{", &format!("{{\"g\":\"{}\",", "x".repeat(30_000)));
    refused(&input, &["field `g` is given more than once"]);
}

/// Fuzz seed 7: a `max_k` within 1..=2^20 but too large for 32-bit results with
/// int16 activations was refused without saying what is allowed.
#[test]
fn regression_max_k_too_wide_for_the_results_says_the_largest_allowed() {
    let input = r#"{"act_bits":16,"arch":"lut","g":4,"k_groups":2,"max_k":524288,"rows":16,"weights":"uint1"}"#;
    refused(
        input,
        &["max_k", "524288", "allowed range", "1..=", "32 bits"],
    );
    let msg = ArrayConfig::from_json(input).unwrap_err().to_string();
    let largest: u32 = msg
        .split("1..=")
        .nth(1)
        .unwrap()
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let ok = input.replace("524288", &largest.to_string());
    assert!(ArrayConfig::from_json(&ok).is_ok(), "{ok}");
    assert!(ArrayConfig::from_json(&input.replace("524288", &(largest + 1).to_string())).is_err());
}
