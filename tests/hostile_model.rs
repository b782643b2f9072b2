//! Issue 14, model side: `lutcore run`, `logits` and `model synth` on hostile
//! GGUF files, flags and paths. Each case runs the real binary under a memory
//! and time limit (`common::refuses`) and must fail cleanly — no panic, no
//! signal, no hang — with a message that names what is wrong.
//!
//! The model files are made here: a small BitNet model (hidden 256, 4 heads,
//! FFN 512, 2 layers, 320 embedding rows) with a made-up vocabulary
//! (`write_toy_vocab`, so nothing depends on downloaded files), then edited
//! with the GGUF writer or patched byte by byte.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{refuses, succeeds};
use lutcore_sw::gguf::{GgmlType, GgufFile, GgufWriter, MetadataArray, MetadataValue};
use lutcore_sw::model::synth::{write_model, write_toy_vocab, SynthShape};

struct Fixture {
    dir: tempfile::TempDir,
    base: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let vocab = dir.path().join("toy-vocab.gguf");
        write_toy_vocab(&vocab).unwrap();
        let shape = SynthShape {
            name: "hostile".into(),
            ffn: 512,
            vocab: 320,
            ..SynthShape::tiny()
        };
        let base = dir.path().join("base.gguf");
        write_model(&shape, Some(&vocab), 7, &base, |_, _| {}).unwrap();
        Fixture { dir, base }
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn base(&self) -> &str {
        self.base.to_str().unwrap()
    }

    /// A copy of the base model edited with the GGUF writer.
    fn edit(&self, name: &str, edit: impl FnOnce(&mut GgufWriter, &GgufFile)) -> String {
        let f = GgufFile::open(&self.base).unwrap();
        let mut w = GgufWriter::copy_of(&f).unwrap();
        edit(&mut w, &f);
        let path = self.dir().join(name);
        w.write(&path).unwrap();
        path.to_str().unwrap().to_string()
    }

    /// A copy of the base model with one metadata value replaced.
    fn set(&self, name: &str, key: &str, v: MetadataValue) -> String {
        self.edit(name, |w, _| w.set(key, v).unwrap())
    }

    /// A copy of the base model's bytes patched by `patch`.
    fn patch(&self, name: &str, patch: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut b = std::fs::read(&self.base).unwrap();
        patch(&mut b);
        let path = self.dir().join(name);
        std::fs::write(&path, b).unwrap();
        path.to_str().unwrap().to_string()
    }
}

/// Offset of the GGUF string `s` (its u64 length, then its bytes) in `b`.
fn find_str(b: &[u8], s: &str) -> usize {
    let mut needle = (s.len() as u64).to_le_bytes().to_vec();
    needle.extend_from_slice(s.as_bytes());
    b.windows(needle.len())
        .position(|w| w == needle.as_slice())
        .unwrap_or_else(|| panic!("`{s}` not in the file"))
}

/// Offset of the value of metadata key `key` (after its u32 type).
fn value_at(b: &[u8], key: &str) -> usize {
    find_str(b, key) + 8 + key.len() + 4
}

/// Offset of the `n_dims` field of tensor `name`'s info.
fn tensor_info_at(b: &[u8], name: &str) -> usize {
    find_str(b, name) + 8 + name.len()
}

fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// Byte offset of token_embd's data and its raw bytes replaced at value index `i` with f16 bits `bits`.
fn poison_f16_embedding(f: &GgufFile, w: &mut GgufWriter, i: usize, bits: u16) {
    let t = f.tensor("token_embd.weight").unwrap();
    let mut data = t.data().to_vec();
    data[2 * i..2 * i + 2].copy_from_slice(&bits.to_le_bytes());
    w.replace_tensor("token_embd.weight", t.dims(), GgmlType::F16, data)
        .unwrap();
}

fn poison_f32_norm(f: &GgufFile, w: &mut GgufWriter, name: &str, i: usize, v: f32) {
    let t = f.tensor(name).unwrap();
    let mut data = t.data().to_vec();
    data[4 * i..4 * i + 4].copy_from_slice(&v.to_le_bytes());
    w.replace_tensor(name, t.dims(), GgmlType::F32, data)
        .unwrap();
}

#[test]
fn the_base_model_runs_so_every_refusal_below_is_due_to_its_edit() {
    let fx = Fixture::new();
    let out = succeeds(
        fx.dir(),
        &["run", "-m", fx.base(), "-p", "the cat", "-n", "4"],
    );
    assert!(out.starts_with("the cat"), "{out}");
    succeeds(
        fx.dir(),
        &[
            "logits",
            "-m",
            fx.base(),
            "--tokens",
            "1,2,319",
            "--out",
            "l.bin",
        ],
    );
    // 3 positions × 320 logits × 4 bytes.
    assert_eq!(
        std::fs::metadata(fx.dir().join("l.bin")).unwrap().len(),
        3 * 320 * 4
    );
    // No temporary file is left behind.
    let left: Vec<_> = std::fs::read_dir(fx.dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // Exactly at the context: prompt "the" = 4 tokens (BOS ▁t h e), + 4 = 8 positions.
    let p = fx.set("ctx8.gguf", "bitnet.context_length", MetadataValue::U32(8));
    succeeds(fx.dir(), &["run", "-m", &p, "-p", "the", "-n", "4"]);
    refuses(
        fx.dir(),
        &["run", "-m", &p, "-p", "the", "-n", "5"],
        &["needs 9 positions", "context length is 8", "at most 4"],
    );
}

#[test]
fn gguf_sizes_past_what_the_file_holds() {
    let fx = Fixture::new();
    let d = fx.dir();
    let run = |p: &str, expect: &[&str]| refuses(d, &["run", "-m", p, "-n", "1"], expect);
    // Header counts.
    let p = fx.patch("tensors-huge.gguf", |b| put_u64(b, 8, 1 << 60));
    run(&p, &["tensor count", "1152921504606846976"]);
    let p = fx.patch("kv-huge.gguf", |b| put_u64(b, 16, 1 << 60));
    run(&p, &["metadata key count"]);
    // block_count of 10^9 (and u64::MAX): no reservation per layer.
    let layers = "bitnet.block_count";
    let p = fx.set("layers-1e9.gguf", layers, MetadataValue::U64(1_000_000_000));
    run(&p, &["bitnet.block_count = 1000000000", "holds 24 tensors"]);
    let p = fx.set("layers-max.gguf", layers, MetadataValue::U64(u64::MAX));
    run(&p, &["bitnet.block_count", "18446744073709551615"]);
    // A string length and an array length of 2^62.
    let p = fx.patch("string-huge.gguf", |b| {
        let at = value_at(b, "general.name");
        put_u64(b, at, 1 << 62);
    });
    run(&p, &["general.name", "truncated"]);
    let p = fx.patch("array-huge.gguf", |b| {
        let at = value_at(b, "tokenizer.ggml.tokens") + 4;
        put_u64(b, at, 1 << 62);
    });
    run(&p, &["tokenizer.ggml.tokens", "array length"]);
    // n_dims 9, a dimension of 2^40, dimensions whose product overflows, an offset past the end.
    let p = fx.patch("ndims.gguf", |b| {
        let at = tensor_info_at(b, "token_embd.weight");
        put_u32(b, at, 9);
    });
    run(&p, &["token_embd.weight", "9 dimensions"]);
    let p = fx.patch("dim-huge.gguf", |b| {
        let at = tensor_info_at(b, "token_embd.weight") + 4 + 8;
        put_u64(b, at, 1 << 40);
    });
    run(&p, &["token_embd.weight", "truncated"]);
    let p = fx.patch("dims-overflow.gguf", |b| {
        let at = tensor_info_at(b, "token_embd.weight") + 4;
        put_u64(b, at, 1 << 40);
        put_u64(b, at + 8, 1 << 40);
    });
    run(&p, &["token_embd.weight", "overflows"]);
    let p = fx.patch("offset-eof.gguf", |b| {
        let at = tensor_info_at(b, "output_norm.weight") + 4 + 8 + 4;
        put_u64(b, at, 1 << 40);
    });
    run(&p, &["output_norm.weight", "truncated"]);
    // Cut in half; not a GGUF file at all; empty.
    let p = fx.patch("half.gguf", |b| b.truncate(b.len() / 2));
    run(&p, &["truncated", "half.gguf"]);
    let p = fx.patch("text.gguf", |b| *b = b"hello, not a model\n".to_vec());
    run(&p, &["not a GGUF file", "text.gguf"]);
    let p = fx.patch("empty.gguf", Vec::clear);
    run(&p, &["not a GGUF file"]);
    // A GGUF file that is no model: the vocabulary file.
    run(
        fx.dir().join("toy-vocab.gguf").to_str().unwrap(),
        &["general.architecture", "not a model"],
    );
}

#[test]
fn gguf_values_that_would_give_silent_wrong_answers() {
    let fx = Fixture::new();
    let d = fx.dir();
    let run = |p: &str, expect: &[&str]| refuses(d, &["run", "-m", p, "-n", "1"], expect);
    // NaN / inf in the embeddings (f16 0x7e00, 0xfc00) at row 9, column 4 (9·256 + 4).
    let p = fx.edit("embd-nan.gguf", |w, f| {
        poison_f16_embedding(f, w, 9 * 256 + 4, 0x7e00)
    });
    run(&p, &["token_embd.weight", "NaN", "row 9 column 4"]);
    let p = fx.edit("embd-inf.gguf", |w, f| {
        poison_f16_embedding(f, w, 319 * 256, 0xfc00)
    });
    run(&p, &["token_embd.weight", "-inf", "row 319 column 0"]);
    // NaN / inf in norms.
    let p = fx.edit("norm-nan.gguf", |w, f| {
        poison_f32_norm(f, w, "blk.1.attn_norm.weight", 17, f32::NAN)
    });
    run(&p, &["blk.1.attn_norm.weight", "NaN at element 17"]);
    let p = fx.edit("norm-inf.gguf", |w, f| {
        poison_f32_norm(f, w, "output_norm.weight", 0, f32::INFINITY)
    });
    run(&p, &["output_norm.weight", "inf at element 0"]);
    // RMSNorm epsilon NaN, 0, negative; RoPE base NaN.
    let eps = "bitnet.attention.layer_norm_rms_epsilon";
    for (n, v) in [("nan", f32::NAN), ("zero", 0.0), ("neg", -1e-5)] {
        let p = fx.set(&format!("eps-{n}.gguf"), eps, MetadataValue::F32(v));
        run(&p, &[&format!("{eps} = {v}"), "finite epsilon > 0"]);
    }
    // One metadata value set to something impossible, and what the refusal must say.
    let set_cases: [(&str, &str, MetadataValue, &[&str]); 6] = [
        (
            "theta-nan.gguf",
            "bitnet.rope.freq_base",
            MetadataValue::F32(f32::NAN),
            &["bitnet.rope.freq_base = NaN", "finite base > 1"],
        ),
        // context_length 0 and absurd: refused at load.
        (
            "ctx0.gguf",
            "bitnet.context_length",
            MetadataValue::U32(0),
            &["bitnet.context_length = 0", "1..=1048576"],
        ),
        (
            "ctx-huge.gguf",
            "bitnet.context_length",
            MetadataValue::U64(1 << 40),
            &["bitnet.context_length = 1099511627776", "1..=1048576"],
        ),
        // rope.dimension_count other than the head dimension (256 / 4 = 64).
        (
            "rot32.gguf",
            "bitnet.rope.dimension_count",
            MetadataValue::U32(32),
            &[
                "bitnet.rope.dimension_count = 32",
                "heads of 64",
                "partial rotary",
            ],
        ),
        // An FFN width the tensors do not have (they have 512 rows).
        (
            "ffn768.gguf",
            "bitnet.feed_forward_length",
            MetadataValue::U32(768),
            &[
                "blk.0.ffn_gate.weight",
                "[256, 512]",
                "bitnet.feed_forward_length = 768",
            ],
        ),
        // Head count that does not divide the hidden size.
        (
            "heads3.gguf",
            "bitnet.attention.head_count",
            MetadataValue::U32(3),
            &["bitnet.attention.head_count = 3", "does not divide"],
        ),
    ];
    for (file, key, value, expect) in set_cases {
        run(&fx.set(file, key, value), expect);
    }
    // context_length 4: loads, but the default -n 64 does not fit.
    let p = fx.set("ctx4.gguf", "bitnet.context_length", MetadataValue::U32(4));
    refuses(
        d,
        &["run", "-m", &p],
        &["context length is 4", "-n/--n-predict"],
    );
    // A token list shorter than the embedding rows.
    let p = fx.edit("tokens-short.gguf", |w, f| {
        let t = f.get_str_array("tokenizer.ggml.tokens").unwrap()[..310].to_vec();
        w.set(
            "tokenizer.ggml.tokens",
            MetadataValue::Array(MetadataArray::String(t)),
        )
        .unwrap();
    });
    run(&p, &["tokenizer.ggml.tokens has 310 tokens", "320 rows"]);
    // A norm stored as TQ2_0 (one 66-byte block: 256 codes 2 = +1, d = 1.0 as f16 0x3c00).
    let p = fx.edit("norm-tq2.gguf", |w, _| {
        let mut block = vec![0xaau8; 64];
        block.extend_from_slice(&0x3c00u16.to_le_bytes());
        w.replace_tensor("blk.0.ffn_norm.weight", &[256], GgmlType::TQ2_0, block)
            .unwrap();
    });
    run(&p, &["blk.0.ffn_norm.weight", "TQ2_0", "F32, F16 or BF16"]);
    // token_embd transposed: [320, 256] (the bytes need not be transposed to be refused).
    let p = fx.edit("embd-transposed.gguf", |w, f| {
        let data = f.tensor("token_embd.weight").unwrap().data().to_vec();
        w.replace_tensor("token_embd.weight", &[320, 256], GgmlType::F16, data)
            .unwrap();
    });
    run(&p, &["token_embd.weight", "[320, 256]", "transposed"]);
    // Another architecture.
    let p = fx.set(
        "arch.gguf",
        "general.architecture",
        MetadataValue::String("llama".into()),
    );
    run(&p, &["general.architecture", "llama", "bitnet"]);
}

#[test]
fn run_and_logits_flags() {
    let fx = Fixture::new();
    let (d, m) = (fx.dir(), fx.base());
    refuses(
        d,
        &["run", "-m", m, "--temp", "NaN"],
        &["--temp", "temperature NaN"],
    );
    refuses(d, &["run", "-m", m, "--temp=-1"], &["temperature -1"]);
    refuses(
        d,
        &["run", "-m", m, "--temp", "0.8", "--top-p", "2"],
        &["top-p 2", "(0, 1]"],
    );
    refuses(
        d,
        &["run", "-m", m, "--temp", "0.8", "--top-p", "0"],
        &["top-p 0", "(0, 1]"],
    );
    refuses(
        d,
        &["run", "-m", m, "--threads", "0"],
        &["--threads 0", "1..=1024"],
    );
    refuses(
        d,
        &["run", "-m", m, "--threads", "1000000"],
        &["--threads 1000000", "1..=1024"],
    );
    refuses(
        d,
        &[
            "logits",
            "-m",
            m,
            "--tokens",
            "1",
            "--out",
            "x.bin",
            "--threads",
            "0",
        ],
        &["--threads 0"],
    );
    refuses(
        d,
        &["run", "-m", m, "--backend", "gpu"],
        &["--backend", "gpu"],
    );
    // -n past the context (2048): refused up front, not 20,000 tokens of garbage. The
    // default prompt "The" is 5 tokens in the toy vocabulary (BOS, ▁, byte T, h, e: it
    // has lowercase letters only).
    refuses(
        d,
        &["run", "-m", m, "-n", "20000"],
        &[
            "needs 20005 positions",
            "context length is 2048",
            "at most 2043",
        ],
    );
    refuses(
        d,
        &["run", "-m", m, "-n", "18446744073709551615"],
        &["context length is 2048"],
    );
    // A 100 KB prompt on a model with a context of 64.
    let p = fx.set(
        "ctx64.gguf",
        "bitnet.context_length",
        MetadataValue::U32(64),
    );
    let prompt = "ab ".repeat(100_000 / 3);
    refuses(
        d,
        &["run", "-m", &p, "-p", &prompt, "-n", "1"],
        &["context length is 64", "shorten the prompt"],
    );
    // Token ids past the vocabulary (320 rows: ids 0..=319); more tokens than the context.
    logits_refuses(
        d,
        m,
        "1,2,320",
        "x.bin",
        &["--tokens", "token 320", "entry 2", "0..=319"],
    );
    logits_refuses(d, m, "4294967295", "x.bin", &["token 4294967295"]);
    let p = fx.set("ctx4.gguf", "bitnet.context_length", MetadataValue::U32(4));
    logits_refuses(
        d,
        &p,
        "1,2,3,4,5",
        "x.bin",
        &["--tokens has 5 tokens", "context length 4"],
    );
    assert!(!d.join("x.bin").exists(), "a refused run wrote its output");
}

#[test]
fn paths_of_models_and_outputs() {
    let fx = Fixture::new();
    let (d, m) = (fx.dir(), fx.base());
    let before = std::fs::read(&fx.base).unwrap();
    refuses(
        d,
        &["run", "-m", d.to_str().unwrap()],
        &["is a directory", "-m/--model"],
    );
    refuses(
        d,
        &["run", "-m", "missing.gguf"],
        &["missing.gguf", "does not exist"],
    );
    logits_refuses(
        d,
        "/dev/null",
        "1",
        "x.bin",
        &["/dev/null", "not a regular file"],
    );
    // --out the model itself, through another spelling, a symlink and a hard link.
    logits_refuses(d, m, "1", m, &["same file", "-m/--model"]);
    logits_refuses(d, "base.gguf", "1", "./sub/../base.gguf", &["same file"]);
    std::os::unix::fs::symlink(&fx.base, d.join("link.gguf")).unwrap();
    logits_refuses(d, m, "1", "link.gguf", &["same file"]);
    std::fs::hard_link(&fx.base, d.join("hard.gguf")).unwrap();
    logits_refuses(d, "hard.gguf", "1", m, &["same file"]);
    assert_eq!(
        std::fs::read(&fx.base).unwrap(),
        before,
        "the model was modified"
    );
    // --out in a directory that cannot be made (a file in the way), a directory, a device.
    logits_refuses(
        d,
        m,
        "1",
        "base.gguf/x.bin",
        &["base.gguf is a file, not a folder"],
    );
    logits_refuses(d, m, "1", d.to_str().unwrap(), &["--out", "is a directory"]);
    logits_refuses(
        d,
        m,
        "1",
        "/dev/null",
        &["--out /dev/null", "not a regular file"],
    );
    // A directory nobody can write to, even root (procfs).
    logits_refuses(
        d,
        m,
        "1",
        "/proc/l.bin",
        &[
            "--out /proc/l.bin",
            "cannot create a file in /proc",
            "writable directory",
        ],
    );
    // --out in a missing directory: created (like every other lutcore output).
    succeeds(
        d,
        &["logits", "-m", m, "--tokens", "1", "--out", "new/dir/l.bin"],
    );
    assert_eq!(
        std::fs::metadata(d.join("new/dir/l.bin")).unwrap().len(),
        320 * 4
    );
}

/// `lutcore logits -m MODEL --tokens TOKENS --out OUT` in `dir` must be refused
/// with a message holding each of `expect` ([`refuses`]).
fn logits_refuses(dir: &Path, model: &str, tokens: &str, out: &str, expect: &[&str]) {
    refuses(
        dir,
        &["logits", "-m", model, "--tokens", tokens, "--out", out],
        expect,
    );
}

/// `lutcore ARGS` in `dir` with the vocabulary environment controlled: no
/// `LUTCORE_VOCAB_DIR` unless given, `HOME` = `dir`, no `XDG_DATA_HOME`.
fn synth_in(dir: &Path, vocab_env: Option<&Path>, args: &[&str]) -> std::process::Output {
    let mut c = Command::new("sh");
    c.current_dir(dir)
        .arg("-c")
        .arg(format!(
            "ulimit -v {}; exec timeout {} \"$0\" \"$@\"",
            common::MEMORY_LIMIT_KIB,
            common::TIME_LIMIT_S
        ))
        .arg(env!("CARGO_BIN_EXE_lutcore"))
        .args(args)
        .env("HOME", dir)
        .env_remove("XDG_DATA_HOME")
        .env_remove("LUTCORE_VOCAB_DIR");
    if let Some(v) = vocab_env {
        c.env("LUTCORE_VOCAB_DIR", v);
    }
    c.output().unwrap()
}

fn assert_refused(out: &std::process::Output, expect: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "status {:?}:\n{stderr}",
        out.status
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    for e in expect {
        assert!(stderr.contains(e), "stderr lacks {e:?}:\n{stderr}");
    }
}

#[test]
fn synth_finds_its_vocabulary_without_a_checkout_and_never_overwrites_it() {
    let fx = Fixture::new();
    let d = fx.dir();
    // Nothing anywhere (a temporary directory is no checkout): every place is listed.
    let out = synth_in(
        d,
        None,
        &["model", "synth", "--shape", "tiny", "--out", "t.gguf"],
    );
    let home_place = d.join(".local/share/lutcore/vocab");
    assert_refused(
        &out,
        &[
            "ggml-vocab-llama-spm.gguf not found",
            &d.join("build/vocab").display().to_string(),
            "beside the lutcore executable",
            "share/lutcore/vocab",
            &home_place.display().to_string(),
            "scripts/fetch_vocab.sh DIR",
        ],
    );
    refuses(
        d,
        &[
            "model",
            "synth",
            "--shape",
            "tiny",
            "--vocab-dir",
            "nowhere",
            "--out",
            "t.gguf",
        ],
        &["not found in nowhere", "--vocab-dir", "no such directory"],
    );
    refuses(
        d,
        &["model", "synth", "--shape", "huge", "--out", "t.gguf"],
        &["--shape `huge`", "tiny, 700m, 3b, 2b4t"],
    );
    // The toy vocabulary under the real file name, found through each way.
    let vdir = d.join("vocab");
    std::fs::create_dir(&vdir).unwrap();
    std::fs::copy(
        d.join("toy-vocab.gguf"),
        vdir.join("ggml-vocab-llama-spm.gguf"),
    )
    .unwrap();
    let vocab_file = vdir.join("ggml-vocab-llama-spm.gguf");
    let before = std::fs::read(&vocab_file).unwrap();
    let out = synth_in(
        d,
        Some(&vdir),
        &[
            "model",
            "synth",
            "--shape",
            "tiny",
            "--out",
            vocab_file.to_str().unwrap(),
        ],
    );
    assert_refused(&out, &["same file as the vocabulary file"]);
    assert_eq!(
        std::fs::read(&vocab_file).unwrap(),
        before,
        "the vocabulary was modified"
    );
    let out = synth_in(
        d,
        Some(&vdir),
        &["model", "synth", "--shape", "tiny", "--out", "env.gguf"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = synth_in(
        d,
        None,
        &[
            "model",
            "synth",
            "--shape",
            "tiny",
            "--vocab-dir",
            "vocab",
            "--out",
            "flag.gguf",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::create_dir_all(&home_place).unwrap();
    std::fs::copy(&vocab_file, home_place.join("ggml-vocab-llama-spm.gguf")).unwrap();
    let out = synth_in(
        d,
        None,
        &["model", "synth", "--shape", "tiny", "--out", "home.gguf"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The same seed gives the same file whichever way the vocabulary was found.
    let env = std::fs::read(d.join("env.gguf")).unwrap();
    assert_eq!(env, std::fs::read(d.join("flag.gguf")).unwrap());
    assert_eq!(env, std::fs::read(d.join("home.gguf")).unwrap());
    // Written like any new file, not with a temporary file's 0600.
    use std::os::unix::fs::PermissionsExt;
    assert_ne!(
        std::fs::metadata(d.join("env.gguf"))
            .unwrap()
            .permissions()
            .mode()
            & 0o044,
        0
    );
}
