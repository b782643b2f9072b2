//! BitNet b1.58 models: configuration and weights from GGUF, the forward
//! pass on any [`Backend`], KV cache, sampling, and synthetic models.
//!
//! * [`ModelConfig`]: hyper-parameters from GGUF metadata, both architectures:
//!   llama.cpp's `bitnet` (SiLU-gated FFN) and bitnet.cpp's 2B-4T form
//!   (`bitnet-b1.58` / `bitnet-25`: squared-ReLU FFN, grouped-query attention).
//! * [`Model`]: loaded weights; ternary projections are re-packed once into
//!   the backend's layout. [`forward`]: the graph, with its parts in
//!   [`quant`] (activation quantization), [`f32ops`] (RMSNorm, RoPE, f32 SIMD
//!   helpers), [`head`] (the output head) and [`kv_cache`]. [`sample`]: token choice.
//! * [`synth`]: correctly shaped synthetic models in the published layout.

pub mod f32ops;
pub mod forward;
pub mod head;
mod heap;
pub mod kv_cache;
mod par;
pub mod quant;
pub mod sample;
pub mod synth;

use std::path::Path;
use std::sync::Arc;

use half::f16;

use crate::backend::{Backend, BackendError, Linear};
use crate::gguf::{ternary_rows, GgmlType, GgufError, GgufFile, TernaryScale};

pub use forward::{Numerics, Session};
pub use head::{HeadMode, Int8Head};
pub use kv_cache::{HeadRows, KvCache, KvPrecision};

/// Largest `<arch>.context_length` accepted (positions). Real BitNet models
/// use 2048 or 4096; the KV cache is reserved only for the positions a run asks for.
pub const MAX_CONTEXT: usize = 1 << 20;
/// Largest `<arch>.block_count` accepted (BitNet models have 24 to 30); the
/// file must also hold the tensors of every layer.
pub const MAX_LAYERS: usize = 4096;
/// Tensors of one decoder layer (norms and projections; optional `.scale`
/// tensors come on top).
pub const TENSORS_PER_LAYER: usize = 11;

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
    /// Read the hyper-parameters of `f`, checking each against what the file
    /// holds or a documented limit before anything is allocated from it:
    ///
    /// * `embedding_length` ≥ 1 and equal to the row length of `token_embd.weight`
    ///   (2-D; a transposed one is named as such); the vocabulary is its row
    ///   count (≥ 1), which `<arch>.vocab_size` and the length of
    ///   `tokenizer.ggml.tokens` must equal when present;
    /// * `attention.head_count` divides the hidden size, `head_count_kv` divides
    ///   it, the head dimension is even, and `rope.dimension_count` (if present)
    ///   is the head dimension (partial rotary is not implemented);
    /// * `block_count` in 1..=[`MAX_LAYERS`] and at most what the file's tensors
    ///   can hold ([`TENSORS_PER_LAYER`] per layer plus two);
    /// * `feed_forward_length` ≥ 1 (the tensors' shapes are checked at load);
    /// * `context_length` in 1..=[`MAX_CONTEXT`];
    /// * `attention.layer_norm_rms_epsilon` finite and > 0, `rope.freq_base`
    ///   finite and > 1 (default 10000).
    pub fn from_gguf(f: &GgufFile) -> Result<ModelConfig, ModelError> {
        let file = f.path().display().to_string();
        if f.get("general.architecture").is_none() {
            return Err(ModelError::Unsupported {
                file,
                detail: format!(
                    "no general.architecture key and {} tensors: this GGUF file is not a model (a vocabulary-only file?); pass a BitNet model file",
                    f.tensor_infos().len()
                ),
            });
        }
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
        let bad = |detail: String| ModelError::Unsupported {
            file: file.clone(),
            detail,
        };

        // Every size below is checked against what the file holds (or a
        // documented limit) before anything is allocated from it.
        let hidden_key = key("embedding_length");
        let hidden = f.get_usize(&hidden_key)?;
        if hidden == 0 {
            return Err(bad(format!(
                "{hidden_key} is 0; a model needs a hidden size of at least 1"
            )));
        }
        // token_embd bounds the hidden size and the vocabulary by the file's bytes.
        let embd = f
            .tensor_info("token_embd.weight")
            .ok_or_else(|| GgufError::MissingTensor {
                file: f.path().to_path_buf(),
                tensor: "token_embd.weight".into(),
            })?;
        let [cols, rows] = embd.dims[..] else {
            return Err(bad(format!(
                "tensor `token_embd.weight` has {} dimensions {:?}; expected 2: [{hidden_key} = {hidden}, vocabulary size] (GGUF order, innermost first)",
                embd.dims.len(),
                embd.dims
            )));
        };
        if cols != hidden as u64 {
            let hint = if rows == hidden as u64 {
                "; it looks transposed (its outer dimension is the embedding length): re-export it as [embedding_length, vocabulary]"
            } else {
                ""
            };
            return Err(bad(format!(
                "tensor `token_embd.weight` has shape {:?} (GGUF order, innermost first), but its rows must be {hidden_key} = {hidden} values long{hint}",
                embd.dims
            )));
        }
        let vocab = usize::try_from(rows).map_err(|_| {
            bad(format!(
                "tensor `token_embd.weight` has {rows} rows, more than this machine can index"
            ))
        })?;
        if vocab == 0 {
            return Err(bad(
                "tensor `token_embd.weight` has 0 rows: the vocabulary is empty".into(),
            ));
        }
        if let Some(n) = f.opt(&key("vocab_size"), GgufFile::get_u64)? {
            if n != rows {
                return Err(bad(format!(
                    "{} = {n}, but tensor `token_embd.weight` has {rows} rows: the vocabulary size must equal the embedding rows",
                    key("vocab_size")
                )));
            }
        }
        if f.get("tokenizer.ggml.tokens").is_some() {
            let n = f.get_str_array("tokenizer.ggml.tokens")?.len();
            if n != vocab {
                return Err(bad(format!(
                    "tokenizer.ggml.tokens has {n} tokens, but tensor `token_embd.weight` has {vocab} rows: every embedding row needs a token and every token a row (as llama.cpp requires); the file is inconsistent, re-convert it"
                )));
            }
        }

        let heads_key = key("attention.head_count");
        let heads = f.get_usize(&heads_key)?;
        if heads == 0 || heads > hidden || !hidden.is_multiple_of(heads) {
            return Err(bad(format!("{heads_key} = {heads} does not divide {hidden_key} = {hidden}; expected a divisor ≥ 1")));
        }
        let kv_key = key("attention.head_count_kv");
        let kv_heads = f.opt(&kv_key, GgufFile::get_usize)?.unwrap_or(heads);
        if kv_heads == 0 || kv_heads > heads || !heads.is_multiple_of(kv_heads) {
            return Err(bad(format!("{kv_key} = {kv_heads} does not divide {heads_key} = {heads}; expected a divisor ≥ 1")));
        }
        let head_dim = hidden / heads;
        if !head_dim.is_multiple_of(2) {
            return Err(bad(format!(
                "head dimension {hidden_key} / {heads_key} = {head_dim} is odd; RoPE needs pairs"
            )));
        }
        let rot_key = key("rope.dimension_count");
        if let Some(rot) = f.opt(&rot_key, GgufFile::get_u64)? {
            if rot != head_dim as u64 {
                return Err(bad(format!(
                    "{rot_key} = {rot}, but this forward pass rotates whole heads of {head_dim} values ({hidden_key} / {heads_key}); partial rotary embeddings are not implemented: use a model whose {rot_key} is {head_dim}"
                )));
            }
        }

        let layers_key = key("block_count");
        let layers = f.get_usize(&layers_key)?;
        // Each layer has 11 tensors; the file must hold them all (checked
        // before anything is reserved per layer).
        let held = f.tensor_infos().len();
        let needed = layers
            .checked_mul(TENSORS_PER_LAYER)
            .and_then(|n| n.checked_add(2));
        if layers == 0 || layers > MAX_LAYERS || needed.is_none_or(|n| n > held) {
            return Err(bad(format!(
                "{layers_key} = {layers}, but the file holds {held} tensors, enough for at most {} layers ({TENSORS_PER_LAYER} tensors each, plus token_embd and output_norm); expected 1..={MAX_LAYERS} layers that the file holds",
                held.saturating_sub(2) / TENSORS_PER_LAYER
            )));
        }
        let ffn_key = key("feed_forward_length");
        let ffn = f.get_usize(&ffn_key)?;
        if ffn == 0 {
            return Err(bad(format!(
                "{ffn_key} is 0; expected the FFN width (rows of blk.N.ffn_gate.weight)"
            )));
        }

        let ctx_key = key("context_length");
        let context = f.get_usize(&ctx_key)?;
        if !(1..=MAX_CONTEXT).contains(&context) {
            return Err(bad(format!("{ctx_key} = {context} is outside 1..={MAX_CONTEXT} (the largest context lutcore accepts)")));
        }
        let eps_key = key("attention.layer_norm_rms_epsilon");
        let eps = f.get_f32(&eps_key)?;
        if !(eps.is_finite() && eps > 0.0) {
            return Err(bad(format!(
                "{eps_key} = {eps}; RMSNorm needs a finite epsilon > 0 (BitNet uses 1e-5 or 1e-6)"
            )));
        }
        let theta_key = key("rope.freq_base");
        let rope_theta = f.opt(&theta_key, GgufFile::get_f32)?.unwrap_or(10000.0);
        if !(rope_theta.is_finite() && rope_theta > 1.0) {
            return Err(bad(format!("{theta_key} = {rope_theta}; RoPE needs a finite base > 1 (BitNet uses 10000 or 500000)")));
        }
        Ok(ModelConfig {
            arch,
            act,
            hidden,
            ffn,
            layers,
            heads,
            kv_heads,
            head_dim,
            vocab,
            context,
            eps,
            rope_theta,
        })
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
    /// Int8 copy of the tied head for [`HeadMode::Int8Refined`], made on first use.
    head_int8: std::sync::OnceLock<Int8Head>,
}

impl Model {
    /// Load `path` and prepare every ternary projection on `backend`;
    /// `progress(done, total)` is told after each tensor.
    pub fn load(
        path: &Path,
        backend: &dyn Backend,
        progress: impl FnMut(usize, usize),
    ) -> Result<Model, ModelError> {
        let f = GgufFile::open(path)?;
        Model::from_gguf(&f, backend, progress)
    }

    /// [`Model::load`] from a parsed file (e.g. one held in memory).
    ///
    /// Besides shapes, this refuses what would silently give wrong answers:
    /// non-finite values in the embeddings, norms and projection scales, and
    /// norm tensors not stored as a float type.
    pub fn from_gguf(
        f: &GgufFile,
        backend: &dyn Backend,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<Model, ModelError> {
        let config = ModelConfig::from_gguf(f)?;
        let file = f.path().display().to_string();
        let (h, ffn, kv) = (
            config.hidden as u64,
            config.ffn as u64,
            config.kv_dim() as u64,
        );
        // from_gguf checked that the file holds this many tensors.
        let total = 2 + config.layers * TENSORS_PER_LAYER;
        let mut done = 0;
        let mut tick = || {
            done += 1;
            progress(done, total);
        };
        let embd = f.expect_shape("token_embd.weight", &[h, config.vocab as u64])?;
        let embeddings = match embd.ggml_type() {
            GgmlType::F16 => {
                let v: Vec<f16> = embd
                    .data()
                    .chunks_exact(2)
                    .map(|b| f16::from_le_bytes([b[0], b[1]]))
                    .collect();
                if let Some(i) = v.iter().position(|x| !x.is_finite()) {
                    return Err(non_finite(
                        &file,
                        "token_embd.weight",
                        i,
                        config.hidden,
                        v[i].to_f32(),
                    ));
                }
                Embeddings::F16(v)
            }
            _ => {
                let v = embd.to_f32()?;
                if let Some(i) = v.iter().position(|x| !x.is_finite()) {
                    return Err(non_finite(
                        &file,
                        "token_embd.weight",
                        i,
                        config.hidden,
                        v[i],
                    ));
                }
                Embeddings::F32(v)
            }
        };
        tick();
        let norm = |name: &str, len: u64| -> Result<Vec<f32>, ModelError> {
            float_vector(f, name, len).map_err(|e| match e {
                ModelError::Gguf(g) => shape_hint(g, &config),
                other => other,
            })
        };
        let output_norm = norm("output_norm.weight", h)?;
        tick();
        let linear = |name: String, rows: u64, cols: u64| -> Result<BitLinear, ModelError> {
            let view = f
                .expect_shape(&format!("{name}.weight"), &[cols, rows])
                .map_err(|e| shape_hint(e, &config))?;
            let t = ternary_rows(&view)?;
            let scale = match t.scale {
                TernaryScale::PerTensor(s) => s,
                TernaryScale::PerBlock { ref scales, .. } => {
                    if let Some(i) = scales.iter().position(|d| !d.is_finite()) {
                        return Err(ModelError::Unsupported {
                            file: file.clone(),
                            detail: format!(
                                "tensor `{name}.weight` has scale {} in block {i}, not a finite number: the file is corrupt or was converted wrongly; re-convert it",
                                scales[i]
                            ),
                        });
                    }
                    return Err(ModelError::Unsupported {
                        file: f.path().display().to_string(),
                        detail: format!("tensor {name}.weight has differing per-block scales; BitLinear needs one scale per tensor (γ = mean|W|)"),
                    });
                }
            };
            let extra = match f.tensor_info(&format!("{name}.scale")) {
                Some(_) => float_vector(f, &format!("{name}.scale"), 1)?
                    .first()
                    .copied()
                    .unwrap_or(f32::NAN),
                None => 1.0,
            };
            if !(scale * extra).is_finite() {
                return Err(ModelError::Unsupported {
                    file: file.clone(),
                    detail: format!(
                        "tensor `{name}.weight` has scale {scale} (times {extra} from `{name}.scale`), not a finite number: the file is corrupt or was converted wrongly; re-convert it"
                    ),
                });
            }
            let w = t.to_weight_matrix().map_err(|e| ModelError::Unsupported {
                file: f.path().display().to_string(),
                detail: format!("{name}.weight: {e}"),
            })?;
            let mat = backend.prepare(&name, &w)?;
            Ok(BitLinear {
                name,
                mat,
                scale: scale * extra,
            })
        };
        // `layers` is bounded by the tensors the file holds (ModelConfig::from_gguf).
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
            layers.push(Layer {
                attn_norm,
                wq,
                wk,
                wv,
                wo,
                attn_sub_norm,
                ffn_norm,
                w_gate,
                w_up,
                w_down,
                ffn_sub_norm,
            });
        }
        Ok(Model {
            config,
            embeddings,
            output_norm,
            layers,
            backend: backend.name(),
            head_int8: Default::default(),
        })
    }

    /// The int8 copy of the tied output head (made on the first call).
    pub fn int8_head(&self) -> &Int8Head {
        self.head_int8
            .get_or_init(|| Int8Head::new(&self.embeddings, self.config.vocab, self.config.hidden))
    }
}

/// A wrong tensor shape, with the metadata the expected shape came from.
fn shape_hint(e: GgufError, c: &ModelConfig) -> ModelError {
    match e {
        GgufError::WrongShape { file, tensor, expected, found } => ModelError::Unsupported {
            file: file.display().to_string(),
            detail: format!(
                "tensor `{tensor}` has shape {found:?}, expected {expected:?} (GGUF order, innermost first) from {a}.embedding_length = {}, {a}.feed_forward_length = {}, {a}.attention.head_count_kv = {} × head dimension {}: the metadata and the tensors disagree; re-convert the model",
                c.hidden,
                c.ffn,
                c.kv_heads,
                c.head_dim,
                a = c.arch
            ),
        },
        other => ModelError::Gguf(other),
    }
}

/// The error for a non-finite value at flat index `i` of tensor `name` with rows of `cols` values.
fn non_finite(file: &str, name: &str, i: usize, cols: usize, v: f32) -> ModelError {
    let at = if cols > 1 {
        format!("row {} column {}", i / cols, i % cols)
    } else {
        format!("element {i}")
    };
    ModelError::Unsupported {
        file: file.to_string(),
        detail: format!("tensor `{name}` holds {v} at {at}; every value must be finite: the file is corrupt or was converted wrongly, re-convert it"),
    }
}

/// A 1-D float tensor of `len` values (norm weights, scales): stored as F32,
/// F16 or BF16 (a quantized norm is a conversion error), every value finite.
fn float_vector(f: &GgufFile, name: &str, len: u64) -> Result<Vec<f32>, ModelError> {
    let t = f.expect_shape(name, &[len])?;
    if !matches!(
        t.ggml_type(),
        GgmlType::F32 | GgmlType::F16 | GgmlType::BF16
    ) {
        return Err(ModelError::Unsupported {
            file: f.path().display().to_string(),
            detail: format!(
                "tensor `{name}` is stored as {}, but norm weights and scales must be F32, F16 or BF16 (llama.cpp's converter writes them as F32): re-convert the model",
                t.ggml_type()
            ),
        });
    }
    let v = t.to_f32()?;
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        return Err(non_finite(
            &f.path().display().to_string(),
            name,
            i,
            1,
            v[i],
        ));
    }
    Ok(v)
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
        pre: f
            .opt("tokenizer.ggml.pre", |f, k| f.get_str(k))?
            .map(str::to_string),
        tokens: f.get_str_array("tokenizer.ggml.tokens")?.to_vec(),
        scores: f
            .opt("tokenizer.ggml.scores", |f, k| f.get_f32_array(k))?
            .map(<[f32]>::to_vec)
            .unwrap_or_default(),
        token_types: f
            .opt("tokenizer.ggml.token_type", |f, k| f.get_i32_array(k))?
            .map(<[i32]>::to_vec)
            .unwrap_or_default(),
        merges: f
            .opt("tokenizer.ggml.merges", |f, k| f.get_str_array(k))?
            .map(<[String]>::to_vec)
            .unwrap_or_default(),
        bos: opt_u32("tokenizer.ggml.bos_token_id")?,
        eos: opt_u32("tokenizer.ggml.eos_token_id")?,
        unk: opt_u32("tokenizer.ggml.unknown_token_id")?,
        eot: opt_u32("tokenizer.ggml.eot_token_id")?,
        add_bos: opt_bool("tokenizer.ggml.add_bos_token")?,
        add_eos: opt_bool("tokenizer.ggml.add_eos_token")?,
        add_space_prefix: opt_bool("tokenizer.ggml.add_space_prefix")?,
    };
    crate::tokenizer::Tokenizer::new(vocab).map_err(|e| ModelError::Unsupported {
        file,
        detail: format!("tokenizer: {e}"),
    })
}
