//! The tokenizers against llama.cpp's own test vectors: `models/ggml-vocab-
//! llama-{spm,bpe}.gguf` with their `.inp` (test strings) and `.out` (token
//! ids) files, as llama.cpp's `tests/test-tokenizer-0.cpp` checks them
//! (`add_special = false`, `parse_special = false`).
//!
//! The files are not committed: `scripts/fetch_vocab.sh` puts them into
//! `build/vocab` (the Makefile runs it before `cargo test`); the environment
//! variable `LUTCORE_VOCAB_DIR` points elsewhere. Without them these tests fail.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use lutcore_sw::tokenizer::{DecodeOptions, EncodeOptions, Tokenizer, TokenizerKind, Vocab};

/// A minimal metadata-only GGUF (v2/v3) reader: just enough to build a
/// [`Vocab`]. The real reader lives in `lutcore_sw::gguf`; this one keeps the
/// tokenizer tests independent of it.
mod gguf_meta {
    use std::collections::HashMap;

    #[derive(Debug)]
    pub enum Value {
        Int(i64),
        UInt(u64),
        Float(f64),
        Bool(bool),
        Str(String),
        Array(Vec<Value>),
    }

    impl Value {
        pub fn as_u32(&self) -> Option<u32> {
            match *self {
                Value::UInt(v) => u32::try_from(v).ok(),
                Value::Int(v) => u32::try_from(v).ok(),
                _ => None,
            }
        }
    }

    struct Reader<'a> {
        buf: &'a [u8],
        pos: usize,
    }

    impl Reader<'_> {
        fn take(&mut self, n: usize) -> Result<&[u8], String> {
            let end = self
                .pos
                .checked_add(n)
                .filter(|&e| e <= self.buf.len())
                .ok_or("truncated GGUF")?;
            let s = &self.buf[self.pos..end];
            self.pos = end;
            Ok(s)
        }
        fn u32(&mut self) -> Result<u32, String> {
            Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
        }
        fn u64(&mut self) -> Result<u64, String> {
            Ok(u64::from_le_bytes(self.take(8)?.try_into().unwrap()))
        }
        fn string(&mut self) -> Result<String, String> {
            let n = usize::try_from(self.u64()?).map_err(|e| e.to_string())?;
            Ok(String::from_utf8_lossy(self.take(n)?).into_owned())
        }
        fn value(&mut self, ty: u32) -> Result<Value, String> {
            Ok(match ty {
                0 => Value::UInt(self.take(1)?[0].into()),
                1 => Value::Int((self.take(1)?[0] as i8).into()),
                2 => Value::UInt(u16::from_le_bytes(self.take(2)?.try_into().unwrap()).into()),
                3 => Value::Int(i16::from_le_bytes(self.take(2)?.try_into().unwrap()).into()),
                4 => Value::UInt(self.u32()?.into()),
                5 => Value::Int((self.u32()? as i32).into()),
                6 => Value::Float(f32::from_bits(self.u32()?).into()),
                7 => Value::Bool(self.take(1)?[0] != 0),
                8 => Value::Str(self.string()?),
                9 => {
                    let ety = self.u32()?;
                    let n = usize::try_from(self.u64()?).map_err(|e| e.to_string())?;
                    if n > self.buf.len() {
                        return Err("implausible array length".into());
                    }
                    let mut v = Vec::with_capacity(n);
                    for _ in 0..n {
                        v.push(self.value(ety)?);
                    }
                    Value::Array(v)
                }
                10 => Value::UInt(self.u64()?),
                11 => Value::Int(self.u64()? as i64),
                12 => Value::Float(f64::from_bits(self.u64()?)),
                t => return Err(format!("unknown GGUF value type {t}")),
            })
        }
    }

    /// The key/value metadata of a GGUF file (tensor infos are not read).
    pub fn read(buf: &[u8]) -> Result<HashMap<String, Value>, String> {
        let mut r = Reader { buf, pos: 0 };
        if r.take(4)? != b"GGUF" {
            return Err("not a GGUF file".into());
        }
        let version = r.u32()?;
        if !(2..=3).contains(&version) {
            return Err(format!("unsupported GGUF version {version}"));
        }
        let _n_tensors = r.u64()?;
        let n_kv = r.u64()?;
        let mut kv = HashMap::new();
        for _ in 0..n_kv {
            let key = r.string()?;
            let ty = r.u32()?;
            kv.insert(key, r.value(ty)?);
        }
        Ok(kv)
    }
}

use gguf_meta::Value;

/// Maps `tokenizer.ggml.*` metadata onto a [`Vocab`] (what the real GGUF
/// adapter does).
fn vocab_from_meta(kv: &HashMap<String, Value>) -> Vocab {
    let get = |k: &str| kv.get(&format!("tokenizer.ggml.{k}"));
    let strings = |k: &str| match get(k) {
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| match v {
                Value::Str(s) => s.clone(),
                other => panic!("{k}: non-string element {other:?}"),
            })
            .collect(),
        _ => Vec::new(),
    };
    let string = |k: &str| match get(k) {
        Some(Value::Str(s)) => Some(s.clone()),
        _ => None,
    };
    let boolean = |k: &str| match get(k) {
        Some(Value::Bool(b)) => Some(*b),
        _ => None,
    };
    Vocab {
        model: string("model").expect("tokenizer.ggml.model"),
        pre: string("pre"),
        tokens: strings("tokens"),
        scores: match get("scores") {
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| match *v {
                    Value::Float(f) => f as f32,
                    Value::Int(i) => i as f32,
                    _ => panic!("scores: bad element"),
                })
                .collect(),
            _ => Vec::new(),
        },
        token_types: match get("token_type") {
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| match *v {
                    Value::Int(i) => i as i32,
                    _ => panic!("token_type: bad element"),
                })
                .collect(),
            _ => Vec::new(),
        },
        merges: strings("merges"),
        bos: get("bos_token_id").and_then(Value::as_u32),
        eos: get("eos_token_id").and_then(Value::as_u32),
        unk: get("unknown_token_id").and_then(Value::as_u32),
        eot: get("eot_token_id").and_then(Value::as_u32),
        add_bos: boolean("add_bos_token"),
        add_eos: boolean("add_eos_token"),
        add_space_prefix: boolean("add_space_prefix"),
    }
}

fn vocab_dir() -> PathBuf {
    match std::env::var_os("LUTCORE_VOCAB_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../build/vocab"),
    }
}

fn read_file(name: &str) -> Vec<u8> {
    let path = vocab_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {} ({e}).\nThe llama.cpp tokenizer test files are not committed: run \
             `scripts/fetch_vocab.sh` (the Makefile does before `cargo test`), or set \
             LUTCORE_VOCAB_DIR to a directory holding them.",
            path.display()
        )
    })
}

fn load(name: &str) -> Tokenizer {
    let bytes = read_file(name);
    let t0 = Instant::now();
    let kv = gguf_meta::read(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    let t_parse = t0.elapsed();
    let vocab = vocab_from_meta(&kv);
    let t_map = t0.elapsed();
    let t1 = Instant::now();
    let tok = Tokenizer::new(vocab).unwrap_or_else(|e| panic!("{name}: {e}"));
    eprintln!(
        "{name}: {} tokens, {} merges, loaded in {:?} (GGUF read {t_parse:?}, to Vocab {:?}, Tokenizer::new {:?})",
        tok.n_tokens(),
        tok.n_merges(),
        t0.elapsed(),
        t_map - t_parse,
        t1.elapsed()
    );
    tok
}

/// The test cases as test-tokenizer-0.cpp reads them: `.inp` split at
/// `"\n__ggml_vocab_test__\n"`, `.out` one line of ids per case.
fn cases(name: &str) -> Vec<(String, Vec<u32>)> {
    let inp = String::from_utf8(read_file(&format!("{name}.inp"))).expect("utf-8 .inp");
    let out = String::from_utf8(read_file(&format!("{name}.out"))).expect("utf-8 .out");
    let sep = "\n__ggml_vocab_test__\n";
    let mut texts = Vec::new();
    let mut rest = inp.as_str();
    while !rest.is_empty() {
        match rest.find(sep) {
            Some(at) => {
                texts.push(rest[..at].to_owned());
                rest = &rest[at + sep.len()..];
            }
            None => {
                texts.push(rest.to_owned());
                break;
            }
        }
    }
    let ids: Vec<Vec<u32>> = out
        .lines()
        .map(|l| {
            l.split_whitespace()
                .map(|t| t.parse().expect("token id"))
                .collect()
        })
        .collect();
    assert_eq!(
        texts.len(),
        ids.len(),
        "{name}: .inp and .out disagree on the number of tests"
    );
    assert!(!texts.is_empty(), "{name}: no tests");
    texts.into_iter().zip(ids).collect()
}

/// Encodes every case; returns the failures as printable lines.
fn check_vectors(tok: &Tokenizer, name: &str) -> usize {
    let cases = cases(name);
    let mut failures = Vec::new();
    for (text, want) in &cases {
        let got = tok.encode(text, false);
        if &got != want {
            failures.push(format!("  {text:?}\n    want {want:?}\n    got  {got:?}"));
        }
        // llama.cpp's default call, add_special = parse_special = false
        assert_eq!(tok.encode_with(text, EncodeOptions::default()), got);
    }
    let pass = cases.len() - failures.len();
    eprintln!("{name}: {pass}/{} test vectors pass", cases.len());
    assert!(
        failures.is_empty(),
        "{name}: {} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    cases.len()
}

/// The "clean up tokenization spaces" patterns that make byte-level BPE
/// decoding lossy in llama.cpp.
fn bpe_cleanup_applies(s: &str) -> bool {
    [" ?", " !", " .", " ,", " ' ", " 's", " 'm", " 're", " 've"]
        .iter()
        .any(|p| s.contains(p))
}

#[test]
fn spm_llama_vectors() {
    let tok = load("ggml-vocab-llama-spm.gguf");
    assert_eq!(tok.kind(), TokenizerKind::Spm);
    assert_eq!(tok.n_tokens(), 32000);
    assert_eq!(
        (tok.bos(), tok.eos(), tok.unk()),
        (Some(1), Some(2), Some(0))
    );
    check_vectors(&tok, "ggml-vocab-llama-spm.gguf");

    // decode(encode(s)) == s for every case (the prefix space is stripped
    // again, byte fallback reassembles UTF-8)
    for (text, _) in cases("ggml-vocab-llama-spm.gguf") {
        assert_eq!(tok.decode(&tok.encode(&text, false)), text);
        // with BOS, llama.cpp keeps the prefix space
        let with_bos = tok.encode(&text, true);
        assert_eq!(with_bos.first(), Some(&1));
        if !text.is_empty() {
            assert_eq!(tok.decode(&with_bos), format!(" {text}"));
        }
    }
    // control tokens: plain text unless parse_special
    let plain = tok.encode("<s>x</s>", false);
    assert!(!plain.contains(&1) && !plain.contains(&2));
    let parsed = tok.encode_with(
        "<s>x</s>",
        EncodeOptions {
            add_special: true,
            parse_special: true,
        },
    );
    assert_eq!(parsed[..2], [1, 1]);
    assert_eq!(parsed.last(), Some(&2));
    let opts = DecodeOptions {
        remove_special: false,
        unparse_special: true,
    };
    assert_eq!(
        String::from_utf8(tok.decode_with(&parsed, opts)).unwrap(),
        "<s><s> x</s>"
    );
    assert!(tok.is_eog(2));
}

#[test]
fn bpe_llama3_vectors() {
    let tok = load("ggml-vocab-llama-bpe.gguf");
    assert_eq!(tok.kind(), TokenizerKind::Bpe);
    assert_eq!(tok.n_tokens(), 128256);
    check_vectors(&tok, "ggml-vocab-llama-bpe.gguf");

    let (mut exact, mut cleaned) = (0, 0);
    for (text, _) in cases("ggml-vocab-llama-bpe.gguf") {
        let back = tok.decode(&tok.encode(&text, false));
        if bpe_cleanup_applies(&text) {
            cleaned += 1;
        } else {
            assert_eq!(back, text);
            exact += 1;
        }
    }
    eprintln!(
        "bpe round trips: {exact} exact, {cleaned} skipped (llama.cpp's space clean-up applies)"
    );
    assert!(exact > 30);

    let bot = tok.text_to_token("<|begin_of_text|>").unwrap();
    let eot = tok.text_to_token("<|eot_id|>").unwrap();
    assert_eq!(tok.bos(), Some(bot));
    assert!(tok.add_bos());
    assert!(tok.is_eog(eot) && tok.is_control(eot));
    assert_eq!(tok.encode("Hello", true)[0], bot);
    // special tokens: text by default, one id with parse_special
    let s = "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>";
    assert!(!tok.encode(s, false).contains(&eot));
    let ids = tok.encode_with(
        s,
        EncodeOptions {
            add_special: true,
            parse_special: true,
        },
    );
    assert_eq!(ids[0], bot);
    assert_eq!(ids.last(), Some(&eot));
    assert_eq!(tok.decode(&ids), "user\n\nHi");
    let opts = DecodeOptions {
        remove_special: false,
        unparse_special: true,
    };
    assert_eq!(
        String::from_utf8(tok.decode_with(&ids, opts)).unwrap(),
        format!("<|begin_of_text|>{s}")
    );

    // streaming: pieces concatenate to the text even where a piece is part of
    // a UTF-8 sequence
    let text = "🦙 and кириллица ✅";
    let ids = tok.encode(text, false);
    let joined: Vec<u8> = ids.iter().flat_map(|&id| tok.token_to_piece(id)).collect();
    assert_eq!(String::from_utf8(joined).unwrap(), text);
    assert!(ids
        .iter()
        .any(|&id| std::str::from_utf8(&tok.token_to_piece(id)).is_err()));
}

#[test]
fn no_panics_on_odd_text() {
    for name in ["ggml-vocab-llama-spm.gguf", "ggml-vocab-llama-bpe.gguf"] {
        let tok = load(name);
        let odd = [
            "",
            "\u{0}",
            "\u{FFFD}\u{FEFF}\u{10FFFF}\u{E000}",
            "\r\n\r\n \t\u{A0}\u{3000}\u{85}",
            "'s'S'''re'",
            " ",
            "a\u{301}\u{301}\u{301}",
            "<0x0A><unk><|eot_id|><s></s>",
            "𝕳𝖊𝖑𝖑𝖔 123456789012 ٣٤٥",
        ];
        for s in odd {
            for opts in [
                EncodeOptions::default(),
                EncodeOptions {
                    add_special: true,
                    parse_special: true,
                },
            ] {
                let ids = tok.encode_with(s, opts);
                assert!(
                    ids.iter().all(|&id| (id as usize) < tok.n_tokens()),
                    "{name} {s:?}"
                );
                let _ = tok.decode(&ids);
            }
        }
        assert_eq!(tok.decode(&[u32::MAX, tok.n_tokens() as u32]), "");
    }
}

/// Random strings over a pool of tricky characters: no panics, ids in range,
/// and decode(encode(s)) == s wherever llama.cpp's decoding is lossless.
#[test]
fn random_text_round_trips() {
    use rand::{Rng, SeedableRng};
    let pool: Vec<char> = " \t\n\r  'sSmMtTrReEvVlLdD aZ09٣.,?!-_()\"`~\u{A0}\u{3000}\u{85}\u{200D}\u{FE0F}\u{301}éкि天😁🦙\u{E000}\u{FFFD}<>|▁"
        .chars()
        .collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let texts: Vec<String> = (0..400)
        .map(|_| {
            let n = rng.gen_range(0..24);
            (0..n).map(|_| pool[rng.gen_range(0..pool.len())]).collect()
        })
        .collect();

    let spm = load("ggml-vocab-llama-spm.gguf");
    let bpe = load("ggml-vocab-llama-bpe.gguf");
    let mut bpe_checked = 0;
    for t in &texts {
        let ids = spm.encode(t, false);
        assert!(ids.iter().all(|&id| (id as usize) < spm.n_tokens()));
        // SPM decodes '▁' as a space, so only texts without it round-trip
        if !t.contains('▁') {
            assert_eq!(spm.decode(&ids), *t, "spm {t:?}");
        }
        let ids = bpe.encode(t, false);
        assert!(ids.iter().all(|&id| (id as usize) < bpe.n_tokens()));
        if !bpe_cleanup_applies(t) {
            assert_eq!(bpe.decode(&ids), *t, "bpe {t:?}");
            bpe_checked += 1;
        }
    }
    assert!(bpe_checked > 100, "{bpe_checked}");
}
