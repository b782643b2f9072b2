//! Synthetic BitNet models in the published GGUF layout: random ternary
//! weights with per-tensor scales that keep activations O(1), F16
//! embeddings, F32 norms, and (when a vocabulary file is given) the real
//! tokenizer of the model family copied from it.

use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::gguf::{GgmlType, GgufError, GgufFile, GgufWriter, MetadataArray, MetadataValue};

/// Shape of a synthetic model.
#[derive(Clone, Debug, PartialEq)]
pub struct SynthShape {
    /// Name (`tiny`, `700m`, `3b`, `2b4t`, or custom).
    pub name: String,
    /// `general.architecture`.
    pub arch: &'static str,
    /// Hidden size.
    pub hidden: usize,
    /// FFN size.
    pub ffn: usize,
    /// Layers.
    pub layers: usize,
    /// Query heads.
    pub heads: usize,
    /// Key/value heads.
    pub kv_heads: usize,
    /// Vocabulary rows of the embedding.
    pub vocab: usize,
    /// RoPE base.
    pub rope_theta: f32,
    /// Ternary storage type.
    pub ternary: GgmlType,
    /// Vocabulary file family: `spm` (llama SentencePiece) or `bpe` (Llama-3).
    pub tokenizer: &'static str,
}

impl SynthShape {
    /// The named shapes: `tiny` (tests), `700m` and `3b` (BitNet b1.58
    /// reproductions, llama.cpp `bitnet`), `2b4t` (BitNet-b1.58-2B-4T).
    pub fn named(name: &str) -> Option<SynthShape> {
        Some(match name {
            "tiny" => SynthShape::tiny(),
            "700m" => SynthShape::bitnet("700m", 1536, 4096, 24, 16, GgmlType::TQ2_0),
            // 3200 and 8640 are not multiples of 256: TQ1_0/TQ2_0 cannot hold them.
            "3b" => SynthShape::bitnet("3b", 3200, 8640, 26, 32, GgmlType::I2S),
            "2b4t" => SynthShape {
                name: "2b4t".into(),
                arch: "bitnet-b1.58",
                hidden: 2560,
                ffn: 6912,
                layers: 30,
                heads: 20,
                kv_heads: 5,
                vocab: 128256,
                rope_theta: 5e5,
                ternary: GgmlType::I2S,
                tokenizer: "bpe",
            },
            _ => return None,
        })
    }

    /// The `tiny` shape: hidden 256, FFN 768, 2 layers, 4 heads, TQ2_0 (tests
    /// start from it and shrink the FFN or the vocabulary).
    pub fn tiny() -> SynthShape {
        SynthShape::bitnet("tiny", 256, 768, 2, 4, GgmlType::TQ2_0)
    }

    /// A BitNet b1.58 reproduction's shape: llama's SentencePiece vocabulary
    /// and RoPE base, as many key/value heads as query heads.
    fn bitnet(
        name: &str,
        hidden: usize,
        ffn: usize,
        layers: usize,
        heads: usize,
        ternary: GgmlType,
    ) -> SynthShape {
        SynthShape {
            name: name.into(),
            arch: "bitnet",
            hidden,
            ffn,
            layers,
            heads,
            kv_heads: heads,
            vocab: 32002,
            rope_theta: 1e4,
            ternary,
            tokenizer: "spm",
        }
    }

    /// Names accepted by [`SynthShape::named`].
    pub const NAMES: [&'static str; 4] = ["tiny", "700m", "3b", "2b4t"];

    /// Number of tensors the model has (for progress bars).
    pub fn tensor_count(&self) -> usize {
        2 + 11 * self.layers
    }
}

/// Random ternary values, a third each of -1, 0, +1.
fn ternary_values(rng: &mut ChaCha8Rng, n: usize) -> Vec<i8> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        // 40 base-3 digits per u64 (3^40 < 2^64): bias below 1e-6.
        let mut r: u64 = rng.gen();
        for _ in 0..40.min(n - out.len()) {
            out.push((r % 3) as i8 - 1);
            r /= 3;
        }
    }
    out
}

/// Write the tokenizer of `vocab_file` (a llama.cpp vocabulary GGUF) into `w`,
/// padded with control tokens up to `vocab` entries.
fn copy_tokenizer(w: &mut GgufWriter, vocab_file: &Path, vocab: usize) -> Result<(), GgufError> {
    let src = GgufFile::open(vocab_file)?;
    for (key, value) in src.metadata() {
        if !key.starts_with("tokenizer.") {
            continue;
        }
        let value = match (key.as_str(), value) {
            ("tokenizer.ggml.tokens", MetadataValue::Array(MetadataArray::String(t))) => {
                let mut t = t.clone();
                let extra = vocab.saturating_sub(t.len());
                t.extend((0..extra).map(|i| format!("<|lutcore_pad_{i}|>")));
                MetadataValue::Array(MetadataArray::String(t))
            }
            ("tokenizer.ggml.scores", MetadataValue::Array(MetadataArray::F32(s))) => {
                let mut s = s.clone();
                s.resize(s.len().max(vocab), 0.0);
                MetadataValue::Array(MetadataArray::F32(s))
            }
            ("tokenizer.ggml.token_type", MetadataValue::Array(MetadataArray::I32(s))) => {
                let mut s = s.clone();
                s.resize(s.len().max(vocab), 3); // CONTROL
                MetadataValue::Array(MetadataArray::I32(s))
            }
            _ => value.clone(),
        };
        w.add(key, value)?;
    }
    Ok(())
}

/// Write a small made-up SentencePiece (`llama`) vocabulary file to `path`,
/// usable as the `vocab_file` of [`write_model`] where llama.cpp's real
/// vocabulary is not at hand (tests): `<unk>`, `<s>`, `</s>`, the 256
/// `<0xXX>` byte tokens, then `▁` and the lowercase letters and their `▁`
/// forms as normal tokens (scored so that longer pieces win) — 312 tokens.
pub fn write_toy_vocab(path: &Path) -> Result<(), GgufError> {
    use crate::tokenizer::token_type::{BYTE, CONTROL, NORMAL, UNKNOWN};
    let mut tokens: Vec<String> = vec!["<unk>".into(), "<s>".into(), "</s>".into()];
    let mut types = vec![UNKNOWN, CONTROL, CONTROL];
    let mut scores = vec![0.0f32; 3];
    for b in 0..=255u8 {
        tokens.push(format!("<0x{b:02X}>"));
        types.push(BYTE);
        scores.push(0.0);
    }
    tokens.push("\u{2581}".into());
    types.push(NORMAL);
    scores.push(-1000.0);
    for c in 'a'..='z' {
        tokens.push(c.to_string());
        types.push(NORMAL);
        scores.push(-100.0 - (c as u32 - 'a' as u32) as f32);
        tokens.push(format!("\u{2581}{c}"));
        types.push(NORMAL);
        scores.push(-10.0 - (c as u32 - 'a' as u32) as f32);
    }
    let mut w = GgufWriter::new();
    w.add_str("tokenizer.ggml.model", "llama")?;
    w.add(
        "tokenizer.ggml.tokens",
        MetadataValue::Array(MetadataArray::String(tokens)),
    )?;
    w.add(
        "tokenizer.ggml.scores",
        MetadataValue::Array(MetadataArray::F32(scores)),
    )?;
    w.add(
        "tokenizer.ggml.token_type",
        MetadataValue::Array(MetadataArray::I32(types)),
    )?;
    w.add_u32("tokenizer.ggml.unknown_token_id", 0)?;
    w.add_u32("tokenizer.ggml.bos_token_id", 1)?;
    w.add_u32("tokenizer.ggml.eos_token_id", 2)?;
    w.add_bool("tokenizer.ggml.add_bos_token", true)?;
    w.write(path)
}

/// Write a synthetic model of `shape` to `out`. `vocab_file`, if given, is the
/// vocabulary GGUF whose tokenizer is copied; `progress(done, total)` is told
/// after each tensor.
pub fn write_model(
    shape: &SynthShape,
    vocab_file: Option<&Path>,
    seed: u64,
    out: &Path,
    mut progress: impl FnMut(usize, usize),
) -> Result<(), GgufError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut w = GgufWriter::with_architecture(shape.arch);
    let a = shape.arch;
    w.add_str(
        "general.name",
        &format!("lutcore synthetic {} ({})", shape.name, shape.arch),
    )?;
    w.add_u32(
        "general.file_type",
        if shape.ternary == GgmlType::TQ2_0 {
            37
        } else {
            36
        },
    )?;
    w.add_u32(&format!("{a}.context_length"), 2048)?;
    w.add_u32(&format!("{a}.embedding_length"), shape.hidden as u32)?;
    w.add_u32(&format!("{a}.feed_forward_length"), shape.ffn as u32)?;
    w.add_u32(&format!("{a}.block_count"), shape.layers as u32)?;
    w.add_u32(&format!("{a}.attention.head_count"), shape.heads as u32)?;
    w.add_u32(
        &format!("{a}.attention.head_count_kv"),
        shape.kv_heads as u32,
    )?;
    w.add_f32(&format!("{a}.attention.layer_norm_rms_epsilon"), 1e-5)?;
    w.add_f32(&format!("{a}.rope.freq_base"), shape.rope_theta)?;
    w.add_u32(
        &format!("{a}.rope.dimension_count"),
        (shape.hidden / shape.heads) as u32,
    )?;
    w.add_u32(&format!("{a}.vocab_size"), shape.vocab as u32)?;
    if let Some(v) = vocab_file {
        copy_tokenizer(&mut w, v, shape.vocab)?;
    }
    let total = shape.tensor_count();
    let mut done = 0;
    let (h, f, kv) = (
        shape.hidden as u64,
        shape.ffn as u64,
        (shape.hidden / shape.heads * shape.kv_heads) as u64,
    );

    let embd: Vec<f32> = (0..shape.vocab * shape.hidden)
        .map(|_| rng.gen_range(-1.0f32..1.0))
        .collect();
    w.add_f32_tensor(
        "token_embd.weight",
        &[h, shape.vocab as u64],
        &embd,
        GgmlType::F16,
    )?;
    done += 1;
    progress(done, total);
    let norm =
        |w: &mut GgufWriter, rng: &mut ChaCha8Rng, name: &str, len: u64| -> Result<(), GgufError> {
            let v: Vec<f32> = (0..len).map(|_| rng.gen_range(0.8f32..1.2)).collect();
            w.add_f32_tensor(name, &[len], &v, GgmlType::F32)
        };
    norm(&mut w, &mut rng, "output_norm.weight", h)?;
    done += 1;
    progress(done, total);
    for i in 0..shape.layers {
        let linear = |w: &mut GgufWriter,
                      rng: &mut ChaCha8Rng,
                      name: &str,
                      rows: u64,
                      cols: u64|
         -> Result<(), GgufError> {
            let values = ternary_values(rng, (rows * cols) as usize);
            // Keeps outputs O(1) for unit-RMS inputs: y ≈ γ·√(2K/3)·rms(x).
            let gamma = rng.gen_range(0.5f32..1.5) / (2.0 * cols as f32 / 3.0).sqrt();
            w.add_ternary_tensor(
                &format!("blk.{i}.{name}.weight"),
                &[cols, rows],
                &values,
                gamma,
                shape.ternary,
            )
        };
        norm(&mut w, &mut rng, &format!("blk.{i}.attn_norm.weight"), h)?;
        linear(&mut w, &mut rng, "attn_q", h, h)?;
        linear(&mut w, &mut rng, "attn_k", kv, h)?;
        linear(&mut w, &mut rng, "attn_v", kv, h)?;
        norm(
            &mut w,
            &mut rng,
            &format!("blk.{i}.attn_sub_norm.weight"),
            h,
        )?;
        linear(&mut w, &mut rng, "attn_output", h, h)?;
        norm(&mut w, &mut rng, &format!("blk.{i}.ffn_norm.weight"), h)?;
        linear(&mut w, &mut rng, "ffn_gate", f, h)?;
        linear(&mut w, &mut rng, "ffn_up", f, h)?;
        norm(&mut w, &mut rng, &format!("blk.{i}.ffn_sub_norm.weight"), f)?;
        linear(&mut w, &mut rng, "ffn_down", h, f)?;
        done += 11;
        progress(done, total);
    }
    w.write(out)
}
