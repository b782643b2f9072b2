//! `lutcore model synth`, `lutcore run` and `lutcore logits`: BitNet model
//! files and text generation on the CPU backends.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};

#[derive(Subcommand)]
pub enum ModelCommand {
    /// Write a synthetic BitNet model in the published GGUF layout: random
    /// ternary weights with realistic scales and the real tokenizer of the
    /// model family (from the vocabulary files of scripts/fetch_vocab.sh).
    ///
    /// Shapes: tiny (hidden 256, 2 layers), 700m (1536/4096/24, TQ2_0),
    /// 3b (3200/8640/26, I2_S: TQ types need rows that are multiples of 256),
    /// 2b4t (2560/6912/30, GQA 20/5, ReLU², I2_S, Llama-3 tokenizer).
    Synth(SynthArgs),
}

#[derive(Args)]
pub struct SynthArgs {
    /// Model shape: tiny, 700m, 3b or 2b4t.
    #[arg(long)]
    pub shape: String,
    /// Output GGUF file.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Directory with ggml-vocab-llama-spm.gguf / ggml-vocab-llama-bpe.gguf.
    #[arg(long, value_name = "DIR", default_value = "build/vocab")]
    pub vocab_dir: PathBuf,
    /// Seed of the random weights.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(Args)]
pub struct RunArgs {
    /// Model GGUF file.
    #[arg(short = 'm', long = "model", value_name = "FILE")]
    pub model: PathBuf,
    /// Prompt text.
    #[arg(short = 'p', long, default_value = "The")]
    pub prompt: String,
    /// Tokens to generate.
    #[arg(short = 'n', long = "n-predict", default_value_t = 64)]
    pub n_predict: usize,
    /// Matmul backend: `lut` (fast CPU kernels) or `ref` (plain integer reference).
    #[arg(long, default_value = "lut")]
    pub backend: String,
    /// Threads.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Activation quantization and roundings.
    #[arg(long, value_enum, default_value_t = NumericsArg::Bitnet)]
    pub numerics: NumericsArg,
    /// Sampling temperature (0 = greedy).
    #[arg(long, default_value_t = 0.0)]
    pub temp: f32,
    /// Keep only the K most likely tokens (0 = all).
    #[arg(long, default_value_t = 40)]
    pub top_k: usize,
    /// Nucleus sampling threshold (1 = off).
    #[arg(long, default_value_t = 0.95)]
    pub top_p: f32,
    /// Sampling seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(Args)]
pub struct LogitsArgs {
    /// Model GGUF file.
    #[arg(short = 'm', long = "model", value_name = "FILE")]
    pub model: PathBuf,
    /// Token ids, comma separated (e.g. 1,450,7483).
    #[arg(long, value_delimiter = ',', required = true)]
    pub tokens: Vec<u32>,
    /// Output file for the f32 logits.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Matmul backend: `lut` or `ref`.
    #[arg(long, default_value = "lut")]
    pub backend: String,
    /// Threads.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Activation quantization and roundings.
    #[arg(long, value_enum, default_value_t = NumericsArg::Bitnet)]
    pub numerics: NumericsArg,
}

/// `--numerics`: which roundings the forward pass makes besides the ternary weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum NumericsArg {
    /// BitNet b1.58's definition: per-token absmax int8 activations, f32 elsewhere.
    Bitnet,
    /// llama.cpp's on TQ1_0/TQ2_0 files: Q8_K activations per 256-value block, f16 KV cache
    /// and softmax weights, f16 head input — to compare logits with llama.cpp (several
    /// times slower: one kernel pass per block).
    LlamaCpp,
}

impl From<NumericsArg> for lutcore_sw::model::Numerics {
    fn from(a: NumericsArg) -> Self {
        match a {
            NumericsArg::Bitnet => lutcore_sw::model::Numerics::BitNet,
            NumericsArg::LlamaCpp => lutcore_sw::model::Numerics::LlamaCpp,
        }
    }
}

fn progress_bar(total: usize, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(total as u64)
        .with_style(indicatif::ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} [{elapsed}]").expect("template"));
    bar.set_message(what.to_string());
    bar
}

pub fn cmd_synth(a: &SynthArgs) -> Result<ExitCode> {
    use lutcore_sw::model::synth::{write_model, SynthShape};
    let shape = SynthShape::named(&a.shape)
        .with_context(|| format!("unknown --shape `{}`; expected one of {}", a.shape, SynthShape::NAMES.join(", ")))?;
    let vocab = a.vocab_dir.join(match shape.tokenizer {
        "bpe" => "ggml-vocab-llama-bpe.gguf",
        _ => "ggml-vocab-llama-spm.gguf",
    });
    let fetch = std::path::Path::new("scripts/fetch_vocab.sh");
    if !vocab.exists() && fetch.exists() {
        // In a checkout: fetch llama.cpp's vocabulary files (PyPI) first.
        eprintln!("{} missing: running {} {}", vocab.display(), fetch.display(), a.vocab_dir.display());
        let status = std::process::Command::new("bash").arg(fetch).arg(&a.vocab_dir).status().context("running scripts/fetch_vocab.sh")?;
        if !status.success() {
            bail!("scripts/fetch_vocab.sh failed ({status}); see its output above");
        }
    }
    if !vocab.exists() {
        bail!("vocabulary file {} not found: run `scripts/fetch_vocab.sh {}` (or `make vocab`) in a lutcore checkout first, or pass --vocab-dir", vocab.display(), a.vocab_dir.display());
    }
    crate::create_parent_dir(&a.out)?;
    let bar = progress_bar(shape.tensor_count(), &format!("synthesizing {}", shape.name));
    let t = Instant::now();
    write_model(&shape, Some(&vocab), a.seed, &a.out, |done, _| bar.set_position(done as u64))?;
    bar.finish_and_clear();
    let size = std::fs::metadata(&a.out).map(|m| m.len()).unwrap_or(0);
    println!(
        "wrote {} ({}: hidden {}, ffn {}, {} layers, {} heads / {} kv, vocab {}, {}; {:.1} MB) in {:.1} s",
        a.out.display(), shape.arch, shape.hidden, shape.ffn, shape.layers, shape.heads, shape.kv_heads, shape.vocab,
        shape.ternary.name(), size as f64 / 1e6, t.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// The CPU backend named by command-line option `option` (`--backend`, `--check`).
pub(crate) fn cpu_backend(option: &str, name: &str, threads: usize) -> Result<Box<dyn lutcore_sw::backend::Backend>> {
    match name {
        "lut" => Ok(Box::new(lutcore_sw::backend::LutBackend { threads })),
        "ref" => Ok(Box::new(lutcore_sw::backend::RefBackend)),
        other => bail!("unknown {option} `{other}`; expected `lut` or `ref`"),
    }
}

pub fn cmd_run(a: &RunArgs) -> Result<ExitCode> {
    use std::io::Write;
    use lutcore_sw::model::{sample::Sampler, tokenizer_from_gguf, Model, Session};
    if a.threads == 0 {
        bail!("--threads 0: need at least 1 thread");
    }
    let backend = cpu_backend("--backend", &a.backend, a.threads)?;
    let file = lutcore_sw::gguf::GgufFile::open(&a.model)?;
    let tokenizer = tokenizer_from_gguf(&file)?;
    drop(file);
    let bar = progress_bar(0, "loading");
    let t = Instant::now();
    let model = Model::load(&a.model, backend.as_ref(), |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })?;
    bar.finish_and_clear();
    let c = &model.config;
    eprintln!(
        "model {}: {} hidden {} ffn {} layers {} heads {}/{} vocab {}; backend {}; loaded in {:.1} s",
        a.model.display(), c.arch, c.hidden, c.ffn, c.layers, c.heads, c.kv_heads, c.vocab, model.backend, t.elapsed().as_secs_f64()
    );
    let prompt = tokenizer.encode(&a.prompt, tokenizer.add_bos());
    if prompt.is_empty() {
        bail!("the prompt encodes to no tokens");
    }
    let mut session = Session::new(&model, a.threads);
    session.numerics = a.numerics.into();
    // The KV cache for the whole run, allocated (and paged in) before timing.
    session.cache.reserve(prompt.len() + a.n_predict, model.config.head_dim);
    if a.temp <= 0.0 {
        // Greedy: the int8 head with exact refinement picks the exact head's argmax.
        session.head = lutcore_sw::model::HeadMode::Int8Refined;
    }
    let mut sampler = Sampler::new(a.temp, a.top_k, a.top_p, a.seed);
    let mut out = std::io::stdout().lock();
    out.write_all(a.prompt.as_bytes())?;
    out.flush()?;
    let t = Instant::now();
    let mut logits = session.forward(&prompt, false)?.pop().expect("one logits row");
    let prompt_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut generated = 0;
    for _ in 0..a.n_predict {
        let tok = sampler.sample(&logits);
        if tokenizer.is_eog(tok) {
            break;
        }
        out.write_all(&tokenizer.token_to_piece(tok))?;
        out.flush()?;
        generated += 1;
        logits = session.forward(&[tok], false)?.pop().expect("one logits row");
    }
    let decode_s = t.elapsed().as_secs_f64();
    writeln!(out)?;
    eprintln!(
        "prompt: {} tokens in {:.3} s ({:.1} tokens/s); decode: {} tokens in {:.3} s ({:.2} tokens/s)",
        prompt.len(), prompt_s, prompt.len() as f64 / prompt_s, generated, decode_s, generated as f64 / decode_s.max(1e-9)
    );
    Ok(ExitCode::SUCCESS)
}

pub fn cmd_logits(a: &LogitsArgs) -> Result<ExitCode> {
    use lutcore_sw::model::{Model, Session};
    let backend = cpu_backend("--backend", &a.backend, a.threads.max(1))?;
    let model = Model::load(&a.model, backend.as_ref(), |_, _| {})?;
    let t = Instant::now();
    let mut session = Session::new(&model, a.threads.max(1));
    session.numerics = a.numerics.into();
    let rows = session.forward(&a.tokens, true)?;
    let bytes: Vec<u8> = rows.iter().flatten().flat_map(|v| v.to_le_bytes()).collect();
    crate::create_parent_dir(&a.out)?;
    std::fs::write(&a.out, bytes).with_context(|| format!("writing {}", a.out.display()))?;
    println!("{} positions x {} logits -> {} ({:.2} s)", rows.len(), model.config.vocab, a.out.display(), t.elapsed().as_secs_f64());
    Ok(ExitCode::SUCCESS)
}
