//! BitNet b1.58 models: configuration and weights from GGUF, the forward
//! pass on any [`Backend`], KV cache, sampling, and synthetic models.
//!
//! * [`ModelConfig`]: hyper-parameters from GGUF metadata, both architectures:
//!   llama.cpp's `bitnet` (SiLU-gated FFN) and bitnet.cpp's 2B-4T form
//!   (`bitnet-b1.58` / `bitnet-25`: squared-ReLU FFN, grouped-query attention).
//! * [`Model`]: loaded weights; ternary projections are re-packed once into
//!   the backend's layout. [`forward`]: the graph. [`sample`]: token choice.
//! * [`synth`]: correctly shaped synthetic models in the published layout.

pub mod forward;
pub mod sample;
pub mod synth;

use std::path::Path;
use std::sync::Arc;

use half::f16;

use crate::backend::{Backend, BackendError, Linear};
use crate::gguf::{ternary_rows, GgmlType, GgufError, GgufFile, TernaryScale};

pub use forward::{HeadMode, KvCache, Numerics, Session};

/// Errors while loading or running a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The file could not be read as the expected GGUF.
    #[error(transparent)]
    Gguf(#[from] GgufError),
    /// A backend failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// The file is GGUF but not a model we can run.
    #[error("{file}: {detail}")]
    Unsupported {
        /// The file.
        file: String,
        /// What is wrong and what was expected.
        detail: String,
    },
    /// Bad input at run time (token id, context length).
    #[error("{0}")]
    Input(String),
}

/// FFN activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FfnAct {
    /// `silu(gate) · up` (llama.cpp `bitnet`, the 700M/3B reproductions).
    Silu,
    /// `relu(gate)² · up` (BitNet-b1.58-2B-4T).
    Relu2,
}

/// Hyper-parameters of a BitNet model.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelConfig {
    /// `general.architecture`.
    pub arch: String,
    /// FFN activation implied by the architecture.
    pub act: FfnAct,
    /// Hidden size.
    pub hidden: usize,
    /// FFN inner size.
    pub ffn: usize,
    /// Decoder layers.
    pub layers: usize,
    /// Query heads.
    pub heads: usize,
    /// Key/value heads (grouped-query attention when fewer than `heads`).
    pub kv_heads: usize,
    /// `hidden / heads`.
    pub head_dim: usize,
    /// Vocabulary size (rows of `token_embd`).
    pub vocab: usize,
    /// Trained context length.
    pub context: usize,
    /// RMSNorm epsilon.
    pub eps: f32,
    /// RoPE base frequency.
    pub rope_theta: f32,
}

impl ModelConfig {
    /// Read the hyper-parameters of `f`.
    pub fn from_gguf(f: &GgufFile) -> Result<ModelConfig, ModelError> {
        let file = f.path().display().to_string();
        let arch = f.get_str("general.architecture")?.to_string();
        let act = match arch.as_str() {
            "bitnet" => FfnAct::Silu,
            "bitnet-b1.58" | "bitnet-25" => FfnAct::Relu2,
            other => {
                return Err(ModelError::Unsupported {
                    file,
                    detail: format!("general.architecture is `{other}`; expected `bitnet` (llama.cpp) or `bitnet-b1.58`/`bitnet-25` (bitnet.cpp 2B-4T)"),
                })
            }
        };
        let key = |k: &str| format!("{arch}.{k}");
        let hidden = f.get_usize(&key("embedding_length"))?;
        let heads = f.get_usize(&key("attention.head_count"))?;
        let kv_heads = f.opt(&key("attention.head_count_kv"), GgufFile::get_usize)?.unwrap_or(heads);
        let embd = f.tensor("token_embd.weight")?;
        let vocab = embd.rows() as usize;
        let cfg = ModelConfig {
            act,
            hidden,
            ffn: f.get_usize(&key("feed_forward_length"))?,
            layers: f.get_usize(&key("block_count"))?,
            heads,
            kv_heads,
            head_dim: hidden.checked_div(heads).unwrap_or(0),
            vocab,
            context: f.get_usize(&key("context_length"))?,
            eps: f.get_f32(&key("attention.layer_norm_rms_epsilon"))?,
            rope_theta: f.opt(&key("rope.freq_base"), GgufFile::get_f32)?.unwrap_or(10000.0),
            arch,
        };
        let bad = |detail: String| Err(ModelError::Unsupported { file: file.clone(), detail });
        if cfg.heads == 0 || !cfg.hidden.is_multiple_of(cfg.heads) {
            return bad(format!("hidden {} is not a multiple of head_count {}", cfg.hidden, cfg.heads));
        }
        if cfg.kv_heads == 0 || !cfg.heads.is_multiple_of(cfg.kv_heads) {
            return bad(format!("head_count {} is not a multiple of head_count_kv {}", cfg.heads, cfg.kv_heads));
        }
        if !cfg.head_dim.is_multiple_of(2) {
            return bad(format!("head dimension {} is odd; RoPE needs pairs", cfg.head_dim));
        }
        if cfg.layers == 0 || cfg.ffn == 0 || cfg.vocab == 0 {
            return bad("block_count, feed_forward_length and the vocabulary must be non-zero".into());
        }
        Ok(cfg)
    }

    /// Key/value width: `kv_heads · head_dim`.
    pub fn kv_dim(&self) -> usize {
        self.kv_heads * self.head_dim
    }
}

/// Token embeddings (also the tied output head), kept in the file's precision.
pub enum Embeddings {
    /// IEEE half rows.
    F16(Vec<f16>),
    /// f32 rows (F32 and BF16 files).
    F32(Vec<f32>),
}

impl Embeddings {
    /// Row `t` as f32 into `out` (`hidden` long).
    pub fn row_into(&self, t: usize, out: &mut [f32]) {
        let h = out.len();
        match self {
            Embeddings::F16(v) => {
                for (o, x) in out.iter_mut().zip(&v[t * h..(t + 1) * h]) {
                    *o = x.to_f32();
                }
            }
            Embeddings::F32(v) => out.copy_from_slice(&v[t * h..(t + 1) * h]),
        }
    }
}

/// A ternary projection: prepared integer matrix and its float scale
/// (γ from the file, times an optional `<proj>.scale` tensor).
pub struct BitLinear {
    /// Tensor name, for reports.
    pub name: String,
    /// The prepared matrix.
    pub mat: Arc<dyn Linear>,
    /// `W = values · scale`.
    pub scale: f32,
}

/// Weights of one decoder layer.
pub struct Layer {
    /// RMSNorm before attention.
    pub attn_norm: Vec<f32>,
    /// Query, key, value and output projections.
    pub wq: BitLinear,
    /// Keys.
    pub wk: BitLinear,
    /// Values.
    pub wv: BitLinear,
    /// Attention output.
    pub wo: BitLinear,
    /// RMSNorm on the attention output before `wo` (SubLN).
    pub attn_sub_norm: Vec<f32>,
    /// RMSNorm before the FFN.
    pub ffn_norm: Vec<f32>,
    /// FFN gate.
    pub w_gate: BitLinear,
    /// FFN up.
    pub w_up: BitLinear,
    /// FFN down.
    pub w_down: BitLinear,
    /// RMSNorm on the FFN inner activations before `w_down` (SubLN).
    pub ffn_sub_norm: Vec<f32>,
}

/// A loaded model.
pub struct Model {
    /// Hyper-parameters.
    pub config: ModelConfig,
    /// Token embeddings / tied output head.
    pub embeddings: Embeddings,
    /// Final RMSNorm.
    pub output_norm: Vec<f32>,
    /// Decoder layers.
    pub layers: Vec<Layer>,
    /// Backend the projections were prepared on.
    pub backend: String,
    /// Int8 copy of the tied head for [`forward::HeadMode::Int8Refined`], made on first use.
    head_int8: std::sync::OnceLock<forward::Int8Head>,
}

impl Model {
    /// Load `path` and prepare every ternary projection on `backend`;
    /// `progress(done, total)` is told after each tensor.
    pub fn load(path: &Path, backend: &dyn Backend, mut progress: impl FnMut(usize, usize)) -> Result<Model, ModelError> {
        let f = GgufFile::open(path)?;
        let config = ModelConfig::from_gguf(&f)?;
        let (h, ffn, kv) = (config.hidden as u64, config.ffn as u64, config.kv_dim() as u64);
        let total = 2 + config.layers * 11;
        let mut done = 0;
        let mut tick = || {
            done += 1;
            progress(done, total);
        };
        let embd = f.expect_shape("token_embd.weight", &[h, config.vocab as u64])?;
        let embeddings = match embd.ggml_type() {
            GgmlType::F16 => Embeddings::F16(embd.data().chunks_exact(2).map(|b| f16::from_le_bytes([b[0], b[1]])).collect()),
            _ => Embeddings::F32(embd.to_f32()?),
        };
        tick();
        let norm = |name: &str, len: u64| -> Result<Vec<f32>, ModelError> { Ok(f.expect_shape(name, &[len])?.to_f32()?) };
        let output_norm = norm("output_norm.weight", h)?;
        tick();
        let linear = |name: String, rows: u64, cols: u64| -> Result<BitLinear, ModelError> {
            let view = f.expect_shape(&format!("{name}.weight"), &[cols, rows])?;
            let t = ternary_rows(&view)?;
            let scale = match t.scale {
                TernaryScale::PerTensor(s) => s,
                TernaryScale::PerBlock { .. } => {
                    return Err(ModelError::Unsupported {
                        file: f.path().display().to_string(),
                        detail: format!("tensor {name}.weight has differing per-block scales; BitLinear needs one scale per tensor (γ = mean|W|)"),
                    })
                }
            };
            let extra = match f.tensor_info(&format!("{name}.scale")) {
                Some(_) => {
                    let v = f.tensor(&format!("{name}.scale"))?.to_f32()?;
                    *v.first().ok_or_else(|| ModelError::Unsupported { file: f.path().display().to_string(), detail: format!("{name}.scale is empty") })?
                }
                None => 1.0,
            };
            let w = t.to_weight_matrix().map_err(|e| ModelError::Unsupported { file: f.path().display().to_string(), detail: format!("{name}.weight: {e}") })?;
            let mat = backend.prepare(&name, &w)?;
            Ok(BitLinear { name, mat, scale: scale * extra })
        };
        let mut layers = Vec::with_capacity(config.layers);
        for i in 0..config.layers {
            let p = |s: &str| format!("blk.{i}.{s}");
            let attn_norm = norm(&p("attn_norm.weight"), h)?;
            tick();
            let wq = linear(p("attn_q"), h, h)?;
            tick();
            let wk = linear(p("attn_k"), kv, h)?;
            tick();
            let wv = linear(p("attn_v"), kv, h)?;
            tick();
            let attn_sub_norm = norm(&p("attn_sub_norm.weight"), h)?;
            tick();
            let wo = linear(p("attn_output"), h, h)?;
            tick();
            let ffn_norm = norm(&p("ffn_norm.weight"), h)?;
            tick();
            let w_gate = linear(p("ffn_gate"), ffn, h)?;
            tick();
            let w_up = linear(p("ffn_up"), ffn, h)?;
            tick();
            let ffn_sub_norm = norm(&p("ffn_sub_norm.weight"), ffn)?;
            tick();
            let w_down = linear(p("ffn_down"), h, ffn)?;
            tick();
            layers.push(Layer { attn_norm, wq, wk, wv, wo, attn_sub_norm, ffn_norm, w_gate, w_up, w_down, ffn_sub_norm });
        }
        Ok(Model { config, embeddings, output_norm, layers, backend: backend.name(), head_int8: Default::default() })
    }

    /// The int8 copy of the tied output head (made on the first call).
    pub fn int8_head(&self) -> &forward::Int8Head {
        self.head_int8.get_or_init(|| forward::Int8Head::new(&self.embeddings, self.config.vocab, self.config.hidden))
    }
}

/// The tokenizer stored in a model file's `tokenizer.ggml.*` metadata.
pub fn tokenizer_from_gguf(f: &GgufFile) -> Result<crate::tokenizer::Tokenizer, ModelError> {
    use crate::gguf::MetadataValue;
    let file = f.path().display().to_string();
    let opt_u32 = |k: &str| f.opt(k, GgufFile::get_u32);
    let opt_bool = |k: &str| f.opt(k, GgufFile::get_bool);
    let model = match f.get("tokenizer.ggml.model") {
        Some(MetadataValue::String(s)) => s.clone(),
        _ => {
            return Err(ModelError::Unsupported {
                file,
                detail: "no tokenizer.ggml.model key: the file carries no tokenizer (synthesize with a vocabulary: scripts/fetch_vocab.sh, then lutcore model synth)".into(),
            })
        }
    };
    let vocab = crate::tokenizer::Vocab {
        model,
        pre: f.opt("tokenizer.ggml.pre", |f, k| f.get_str(k))?.map(str::to_string),
        tokens: f.get_str_array("tokenizer.ggml.tokens")?.to_vec(),
        scores: f.opt("tokenizer.ggml.scores", |f, k| f.get_f32_array(k))?.map(<[f32]>::to_vec).unwrap_or_default(),
        token_types: f.opt("tokenizer.ggml.token_type", |f, k| f.get_i32_array(k))?.map(<[i32]>::to_vec).unwrap_or_default(),
        merges: f.opt("tokenizer.ggml.merges", |f, k| f.get_str_array(k))?.map(<[String]>::to_vec).unwrap_or_default(),
        bos: opt_u32("tokenizer.ggml.bos_token_id")?,
        eos: opt_u32("tokenizer.ggml.eos_token_id")?,
        unk: opt_u32("tokenizer.ggml.unknown_token_id")?,
        eot: opt_u32("tokenizer.ggml.eot_token_id")?,
        add_bos: opt_bool("tokenizer.ggml.add_bos_token")?,
        add_eos: opt_bool("tokenizer.ggml.add_eos_token")?,
        add_space_prefix: opt_bool("tokenizer.ggml.add_space_prefix")?,
    };
    crate::tokenizer::Tokenizer::new(vocab).map_err(|e| ModelError::Unsupported { file, detail: format!("tokenizer: {e}") })
}
