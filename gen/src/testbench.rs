//! A self-checking SystemVerilog testbench shipped with a generated design,
//! for simulators other than lutcore's Verilator co-simulation (Icarus
//! Verilog, Verilator `--binary`, a commercial simulator). Every config the
//! generator accepts has one: integer or floating-point activations, one or
//! several tokens per pass.
//!
//! [`generate`] turns a [`Design`] into `tb_<top>.sv`, its vectors
//! (`vectors/`: `$readmemh` hex files, `vectors.svh` with the counts,
//! `vectors.json` describing the cases) and two run scripts
//! (`run_icarus.sh`, `run_verilator.sh`). The testbench streams every pass
//! exactly as `docs/interface.md` specifies, with seeded random gaps on
//! `act_valid_i`/`wgt_valid_i` and random back-pressure on `res_ready_i`,
//! compares every live (token, row) result of every result beat with the
//! expected value bit for bit, prints each mismatch (case, pass, token when
//! the array takes several, row, got, want) and ends with `PASS n results`
//! or `FAIL k of n` (then `$fatal`, a nonzero exit).
//!
//! The vectors are computed independently of the RTL generator: the expected
//! results by [`gemv_plain`] (the plain integer dot product) or, for
//! floating-point activations, by [`gemv_fp_array`] (the contract's binary32
//! reference of the config: FP LUT, FP MAC or exact; canonical NaN), token by
//! token ([`per_token`]); the beats by [`rtl_act_beats_batch`] /
//! [`rtl_fp_act_beats_batch`] and [`rtl_weight_beats`]; the place of each
//! (token, row) result in a result beat by [`result_lane`] (written to
//! `lanes.hex`, which the testbench reads, so the lane layout is defined once).
//! A case of B activation vectors on an array of M tokens per pass runs
//! `ceil(B / M)` passes per row tile (row tiles outer, token groups inner, as
//! the co-simulation schedules them); the token lanes of the last pass past B
//! are zero and not compared, like rows past the case's M.
//!
//! Cases ([`case_specs`]): random values with M and K not multiples of the
//! tile (and, with several tokens per pass, `2·tokens − 1` vectors), a short
//! pass (K below one K-tile), the extremes (integers: each value at a random
//! end of its range; FP: finite edge values of the format, zeros of both
//! signs, subnormals, ±max finite), for FP activations a case with an
//! infinity or a NaN in every vector, and every activation at its minimum,
//! then at its maximum (FP: ∓max finite), weights alternating between their
//! extremes row by row, at K = `max_k` when the vectors stay within
//! [`TbOptions::max_vector_bytes`], 1 MiB by default.
//!
//! The testbench is printed as plain text, not through [`crate::ir`]: the IR
//! describes synthesizable modules (ports, signals, `always_ff`/`always_comb`,
//! instances) and has no initial blocks, delays, memories, tasks, loops,
//! strings or system tasks, which are most of a testbench. It is written once
//! below as a template with `@NAME@` fields, so it reads as SystemVerilog.

use std::fmt::Write as _;
use std::io;
use std::path::Path;

use lutcore_contract::config::ArrayConfig;
use lutcore_contract::fp::FpFormat;
use lutcore_contract::layout::{
    check_fits, k_tiles, result_lane, rtl_act_beats_batch, rtl_fp_act_beats_batch,
    rtl_weight_beats, Beat, LayoutError, WeightMatrix,
};
use lutcore_contract::reference::{gemv_fp_array, gemv_plain, per_token};
use lutcore_contract::Activation;
use serde::Serialize;

use crate::{header, Design, GeneratedFile, TestbenchOutputs};

/// Default cap on the bytes of all vector files together.
pub const DEFAULT_MAX_VECTOR_BYTES: usize = 1 << 20;

/// Directory of the vector files, relative to the testbench.
pub const VECTOR_DIR: &str = "vectors";

/// Directory of the run scripts' scratch folders, relative to the testbench.
pub const BUILD_DIR: &str = "build";

/// Scratch folder of `run_icarus.sh` (the compiled simulation).
pub const ICARUS_SCRATCH: &str = "build/icarus";

/// Scratch folder of `run_verilator.sh` (the C++ build and its log).
pub const VERILATOR_SCRATCH: &str = "build/verilator";

/// What to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TbOptions {
    /// Shape `(M, K)` of the random case; `None`: `(2·rows + 1) × (3·k_tile + 1)`
    /// (K capped at `max_k`), neither a multiple of its tile.
    pub shape: Option<(usize, usize)>,
    /// Seed of the random weights and activations (and the testbench's
    /// default stimulus seed, overridable with `+seed=N`).
    pub seed: u64,
    /// Cap on the bytes of all vector files together. The extreme cases
    /// shrink K to fit; the random cases must fit by themselves.
    pub max_vector_bytes: usize,
    /// Percent of free cycles each input stream idles (0..=90).
    pub gap_percent: u32,
    /// Percent of cycles `res_ready_i` is low (0..=90).
    pub stall_percent: u32,
}

impl Default for TbOptions {
    fn default() -> Self {
        TbOptions {
            shape: None,
            seed: 1,
            max_vector_bytes: DEFAULT_MAX_VECTOR_BYTES,
            gap_percent: 25,
            stall_percent: 30,
        }
    }
}

/// Why a testbench cannot be generated.
#[derive(Debug, thiserror::Error)]
pub enum TbError {
    /// A shape the array cannot run or the vector cap cannot hold.
    #[error("testbench shape: {0}")]
    Shape(String),
    /// K outside the array's range.
    #[error(transparent)]
    Layout(#[from] LayoutError),
}

/// How a case fills its weights and activations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fill {
    /// Uniform random codes and activations.
    Random,
    /// Every activation at its minimum (FP: −max finite); even rows' weights
    /// at their maximum, odd rows' at their minimum.
    MinActs,
    /// Every activation at its maximum (FP: +max finite); even rows' weights
    /// at their minimum, odd rows' at their maximum.
    MaxActs,
    /// Each weight and activation at a random end of its range; FP
    /// activations: each a random finite edge value of the format (±0,
    /// subnormals, the smallest normal, ±1, ±max finite).
    Extremes,
    /// FP activations only: random values, and in every even token one
    /// activation +Inf (tokens 0, 4, ...; NaN in a format without infinities)
    /// or NaN (tokens 2, 6, ...); odd tokens stay finite, so a pass of several
    /// tokens mixes both and a flag shared by the tokens shows.
    NonFinite,
}

/// One case: `tokens` GEMVs `y = W·x` of its own shape, streamed as
/// `ceil(M / rows) · ceil(tokens / cfg.tokens())` passes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CaseSpec {
    /// Short name.
    pub name: String,
    /// Output rows M.
    pub m: usize,
    /// Reduction length K.
    pub k: usize,
    /// Activation vectors (tokens) B; the last pass of a row tile leaves its
    /// token lanes past B zero when B is not a multiple of `cfg.tokens()`.
    pub tokens: usize,
    /// Value pattern.
    pub fill: Fill,
}

/// A case as streamed: where its passes and beats start in the vector files.
#[derive(Clone, Debug, Serialize)]
pub struct CaseVectors {
    /// The case.
    #[serde(flatten)]
    pub spec: CaseSpec,
    /// K-tiles per pass.
    pub k_tiles: usize,
    /// Passes (row tiles × token groups).
    pub passes: usize,
    /// Index of its first pass (line of `res.hex`).
    pub first_pass: usize,
    /// Index of its first activation beat (line of `act.hex`).
    pub first_act_beat: usize,
    /// Index of its first weight beat (line of `wgt.hex`).
    pub first_wgt_beat: usize,
}

/// What the vectors hold (`vectors/vectors.json`).
#[derive(Clone, Debug, Serialize)]
pub struct VectorSummary {
    /// Generator version.
    pub generator: String,
    /// Top module.
    pub top: String,
    /// Testbench module.
    pub testbench: String,
    /// The config.
    pub config: ArrayConfig,
    /// Seed of the values.
    pub seed: u64,
    /// Cases, in stream order.
    pub cases: Vec<CaseVectors>,
    /// Passes of all cases (result beats).
    pub passes: usize,
    /// Activation beats of all passes.
    pub act_beats: usize,
    /// Weight beats of all passes.
    pub wgt_beats: usize,
    /// Results compared (live rows × live tokens of all passes).
    pub results: usize,
    /// Bytes of the vector files.
    pub bytes: usize,
    /// The cap on `bytes`.
    pub max_bytes: usize,
    /// Whether the extreme cases run at a K below `max_k` to stay within the cap.
    pub extreme_k_capped: bool,
    /// Bit widths: activation, weight and result beat.
    pub widths: [u32; 3],
    /// The vector files and their formats.
    pub files: Vec<VectorFile>,
}

/// One vector file and its format (in `vectors.json`).
#[derive(Clone, Debug, Serialize)]
pub struct VectorFile {
    /// File name in [`VECTOR_DIR`].
    pub name: String,
    /// What a line holds.
    pub format: String,
}

/// The generated testbench: the `.sv`, the vectors (in [`VECTOR_DIR`]) and the run scripts.
#[derive(Clone, Debug)]
pub struct Testbench {
    /// Module name, `tb_<top>`.
    pub name: String,
    /// `tb_<top>.sv`.
    pub sv: GeneratedFile,
    /// Vector files, written into [`VECTOR_DIR`].
    pub vectors: Vec<GeneratedFile>,
    /// `run_icarus.sh` and `run_verilator.sh` (executable).
    pub scripts: Vec<GeneratedFile>,
    /// What the vectors hold.
    pub summary: VectorSummary,
}

impl Testbench {
    /// What [`Testbench::write_to`] writes and the run scripts create, relative
    /// to the folder, as the manifest lists it ([`Design::write_with_testbench`]).
    pub fn outputs(&self) -> TestbenchOutputs {
        let files = std::iter::once(self.sv.name.clone())
            .chain(
                self.vectors
                    .iter()
                    .map(|f| format!("{VECTOR_DIR}/{}", f.name)),
            )
            .chain(self.scripts.iter().map(|f| f.name.clone()))
            .collect();
        TestbenchOutputs {
            files,
            scratch: vec![ICARUS_SCRATCH.into(), VERILATOR_SCRATCH.into()],
        }
    }

    /// Write the testbench, `vectors/` and the scripts into `dir` (created if
    /// missing). The design's own files and the manifest are written by
    /// [`Design::write_with_testbench`], which calls this.
    pub fn write_to(&self, dir: &Path) -> io::Result<()> {
        let vdir = dir.join(VECTOR_DIR);
        std::fs::create_dir_all(&vdir)?;
        std::fs::write(dir.join(&self.sv.name), &self.sv.contents)?;
        for f in &self.vectors {
            std::fs::write(vdir.join(&f.name), &f.contents)?;
        }
        for f in &self.scripts {
            let path = dir.join(&f.name);
            std::fs::write(&path, &f.contents)?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
            }
        }
        Ok(())
    }
}

/// SplitMix64: a small, well-mixed generator, so the vectors need no extra
/// dependency and stay the same across `rand` versions.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: i32, hi: i32) -> i32 {
        let span = (i64::from(hi) - i64::from(lo) + 1) as u64;
        (i64::from(lo) + (self.next() % span) as i64) as i32
    }
    fn coin(&mut self) -> bool {
        self.next() >> 63 == 1
    }
    /// Uniform in `0..1` (53 random bits).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Hex digits of a `bits`-wide beat.
fn digits(bits: u32) -> usize {
    bits.div_ceil(4) as usize
}

/// A beat (32-bit words, LSB first) as `bits.div_ceil(4)` hex digits, most significant first.
fn beat_hex(words: &[u32], bits: u32) -> String {
    let mut s = String::with_capacity(words.len() * 8);
    for w in words.iter().rev() {
        let _ = write!(s, "{w:08x}");
    }
    let n = digits(bits);
    if s.len() > n {
        s.split_off(s.len() - n)
    } else {
        format!("{s:0>n$}")
    }
}

/// Bytes one pass of `tiles` K-tiles adds to the vector files at most: one
/// line per beat, a comment line in four files and a line of `passes.hex` and
/// of `pass_tokens.hex`.
fn pass_bytes(cfg: &ArrayConfig, tiles: usize) -> usize {
    let act = digits(cfg.act_beat_bits()) + 1;
    let wgt = (digits(cfg.weight_beat_bits()) + 1) * cfg.beats_per_tile();
    let res = digits(cfg.result_beat_bits()) + 1;
    tiles * (act + wgt) + res + 6 * 100
}

/// Bytes of the files that do not grow with the passes: `vectors.svh` and
/// `lanes.hex` (a line per result lane).
fn fixed_bytes(cfg: &ArrayConfig) -> usize {
    512 + 18 * cfg.rows() * cfg.tokens()
}

/// Passes of a case: row tiles outer, token groups inner.
fn case_passes(cfg: &ArrayConfig, spec: &CaseSpec) -> usize {
    spec.m.div_ceil(cfg.rows()) * spec.tokens.div_ceil(cfg.tokens())
}

/// Bytes of a case (without comments).
fn case_bytes(cfg: &ArrayConfig, spec: &CaseSpec) -> usize {
    case_passes(cfg, spec) * pass_bytes(cfg, k_tiles(cfg, spec.k))
}

/// The cases for `cfg` (see the module docs), and whether the extreme cases' K
/// was capped below `max_k` to keep the vectors within `opts.max_vector_bytes`.
pub fn case_specs(cfg: &ArrayConfig, opts: &TbOptions) -> Result<(Vec<CaseSpec>, bool), TbError> {
    let (r, kt, max_k, t) = (cfg.rows(), cfg.k_tile(), cfg.max_k(), cfg.tokens());
    let (m, k) = opts.shape.unwrap_or((2 * r + 1, (3 * kt + 1).min(max_k)));
    if m == 0 {
        return Err(TbError::Shape(
            "M = 0: the random case needs at least one row".into(),
        ));
    }
    check_fits(cfg, k)?;
    let spec = |name: &str, m: usize, k: usize, tokens: usize, fill: Fill| CaseSpec {
        name: name.into(),
        m,
        k,
        tokens,
        fill,
    };
    let mut specs = vec![
        // 2·tokens − 1 vectors: the last pass has a token lane without a vector.
        spec("random", m, k, 2 * t - 1, Fill::Random),
        spec(
            "short",
            r.saturating_sub(1).max(1),
            (kt - 1).min(max_k),
            t,
            Fill::Random,
        ),
        spec(
            "extremes",
            r + 1,
            (2 * kt + 3).min(max_k),
            t,
            Fill::Extremes,
        ),
    ];
    if cfg.act_float().is_some() {
        // At least three vectors: one with an infinity, a finite one, one with a NaN.
        specs.push(spec(
            "non_finite",
            r,
            (2 * kt + 3).min(max_k),
            t.max(3),
            Fill::NonFinite,
        ));
    }
    let used: usize = specs.iter().map(|c| case_bytes(cfg, c)).sum();
    // The two full-range cases are one pass each and share what is left.
    let per_case = opts
        .max_vector_bytes
        .saturating_sub(used + fixed_bytes(cfg))
        / 2;
    let fit_tiles =
        per_case.saturating_sub(pass_bytes(cfg, 0)) / (pass_bytes(cfg, 1) - pass_bytes(cfg, 0));
    if fit_tiles == 0 {
        return Err(TbError::Shape(format!(
            "the random cases alone take {used} bytes of vectors, over the cap of {} bytes: choose a smaller shape",
            opts.max_vector_bytes
        )));
    }
    let capped = fit_tiles * kt < max_k;
    let k_ext = if capped { fit_tiles * kt } else { max_k };
    specs.push(spec("min_acts", r, k_ext, t, Fill::MinActs));
    specs.push(spec("max_acts", r, k_ext, t, Fill::MaxActs));
    Ok((specs, capped))
}

/// Weights of one case.
fn case_weights(
    cfg: &ArrayConfig,
    spec: &CaseSpec,
    rng: &mut SplitMix64,
) -> Result<WeightMatrix, TbError> {
    let wt = cfg.weights();
    let (wlo, whi) = (wt.min_value(), wt.max_value());
    let (m, k) = (spec.m, spec.k);
    let mut values = Vec::with_capacity(m * k);
    for row in 0..m {
        for _ in 0..k {
            values.push(match spec.fill {
                Fill::Random | Fill::NonFinite => rng.range(wlo, whi),
                Fill::MinActs => {
                    if row % 2 == 0 {
                        whi
                    } else {
                        wlo
                    }
                }
                Fill::MaxActs => {
                    if row % 2 == 0 {
                        wlo
                    } else {
                        whi
                    }
                }
                Fill::Extremes => {
                    if rng.coin() {
                        whi
                    } else {
                        wlo
                    }
                }
            });
        }
    }
    Ok(WeightMatrix::from_values(m, k, wt, &values)?)
}

/// Integer activations of one token of a case.
fn int_activations(cfg: &ArrayConfig, spec: &CaseSpec, rng: &mut SplitMix64) -> Vec<i32> {
    let (alo, ahi) = cfg.act_range();
    let (alo, ahi) = (alo as i32, ahi as i32);
    (0..spec.k)
        .map(|_| match spec.fill {
            Fill::Random | Fill::NonFinite => rng.range(alo, ahi),
            Fill::MinActs => alo,
            Fill::MaxActs => ahi,
            Fill::Extremes => {
                if rng.coin() {
                    ahi
                } else {
                    alo
                }
            }
        })
        .collect()
}

/// Floating-point activation codes of token `n` of a case. Random: values
/// near ±1 (a sum of four uniform draws in −1..1, rounded to the format),
/// one in eight a finite edge value of magnitude at most 1 (±0, subnormals,
/// the smallest normal, ±1). Extremes: each a random finite edge value
/// ([`FpFormat::edge_values`]: also ±max finite). MinActs/MaxActs: all −/+
/// max finite. NonFinite: random, and one activation +Inf (NaN in a format
/// without infinities) for `n` = 0, 4, 8, ..., NaN for `n` = 2, 6, ...; odd
/// `n` finite.
fn fp_activations(fmt: FpFormat, spec: &CaseSpec, n: usize, rng: &mut SplitMix64) -> Vec<u32> {
    let finite: Vec<u32> = fmt
        .edge_values()
        .into_iter()
        .filter(|&b| fmt.decode(b).is_finite())
        .collect();
    let small: Vec<u32> = finite
        .iter()
        .copied()
        .filter(|&b| fmt.decode(b).abs() <= 1.0)
        .collect();
    let pick = |pool: &[u32], rng: &mut SplitMix64| pool[(rng.next() % pool.len() as u64) as usize];
    let random = |rng: &mut SplitMix64| {
        if rng.next().is_multiple_of(8) {
            pick(&small, rng)
        } else {
            fmt.round((0..4).map(|_| rng.unit() * 2.0 - 1.0).sum())
        }
    };
    let mut x: Vec<u32> = (0..spec.k)
        .map(|_| match spec.fill {
            Fill::Random | Fill::NonFinite => random(rng),
            Fill::MinActs => fmt.round(-fmt.max_finite()),
            Fill::MaxActs => fmt.round(fmt.max_finite()),
            Fill::Extremes => pick(&finite, rng),
        })
        .collect();
    if spec.fill == Fill::NonFinite && n.is_multiple_of(2) {
        let at = (rng.next() % spec.k as u64) as usize;
        // round(±∞) is the format's infinity, or its NaN if it has none.
        x[at] = if n.is_multiple_of(4) {
            fmt.round(f64::INFINITY)
        } else {
            fmt.nan()
        };
    }
    x
}

/// One case's values and expected results.
struct CaseData {
    w: WeightMatrix,
    /// Activation beats of each token group (one pass per row tile each).
    groups: Vec<Vec<Beat>>,
    /// Expected result words (int32 or binary32 bits), `[token][row]`.
    want: Vec<Vec<u32>>,
}

/// Weights, activations and expected results of one case.
fn case_data(
    cfg: &ArrayConfig,
    spec: &CaseSpec,
    rng: &mut SplitMix64,
) -> Result<CaseData, TbError> {
    let w = case_weights(cfg, spec, rng)?;
    let t = cfg.tokens();
    let (groups, want) = if let Some(fmt) = cfg.act_float() {
        let xs: Vec<Vec<u32>> = (0..spec.tokens)
            .map(|n| fp_activations(fmt, spec, n, rng))
            .collect();
        let refs: Vec<&[u32]> = xs.iter().map(Vec::as_slice).collect();
        let groups = refs
            .chunks(t)
            .map(|g| rtl_fp_act_beats_batch(cfg, g))
            .collect();
        let want = per_token(&refs, |x| {
            gemv_fp_array(cfg, &w, x).unwrap_or_else(|| unreachable!("{cfg} has FP activations"))
        });
        (groups, want)
    } else {
        let xs: Vec<Vec<i32>> = (0..spec.tokens)
            .map(|_| int_activations(cfg, spec, rng))
            .collect();
        if cfg.act_bits() == 16 {
            int_case::<i16>(cfg, &w, &xs)
        } else {
            int_case::<i8>(cfg, &w, &xs)
        }
    };
    Ok(CaseData { w, groups, want })
}

/// Activation beats per token group and expected results of integer
/// activations `xs` (in the range of `A`, as [`int_activations`] draws them).
fn int_case<A: Activation + TryFrom<i32>>(
    cfg: &ArrayConfig,
    w: &WeightMatrix,
    xs: &[Vec<i32>],
) -> (Vec<Vec<Beat>>, Vec<Vec<u32>>) {
    let xs: Vec<Vec<A>> = xs
        .iter()
        .map(|x| {
            x.iter()
                .map(|&v| A::try_from(v).unwrap_or_default())
                .collect()
        })
        .collect();
    let refs: Vec<&[A]> = xs.iter().map(Vec::as_slice).collect();
    let groups = refs
        .chunks(cfg.tokens())
        .map(|g| rtl_act_beats_batch(cfg, g))
        .collect();
    let want = per_token(&refs, |x| {
        gemv_plain(w, x).iter().map(|&v| v as i32 as u32).collect()
    });
    (groups, want)
}

/// The result beat of a pass as 32-bit words: token `n`'s row `r` (of the
/// `live_rows` × `live_tokens` live ones, counted from `row0`, `tok0`) at
/// [`result_lane`]; every other lane 0 (not compared).
fn result_words(
    cfg: &ArrayConfig,
    want: &[Vec<u32>],
    (row0, live_rows): (usize, usize),
    (tok0, live_tokens): (usize, usize),
) -> Vec<u32> {
    let mut words = vec![0u32; cfg.rows() * cfg.tokens()];
    for n in 0..live_tokens {
        for r in 0..live_rows {
            words[result_lane(cfg, r, n) / 32] = want[tok0 + n][row0 + r];
        }
    }
    words
}

/// `lanes.hex`: line `i` holds the row and token of the result beat's 32-bit
/// lane `i` (bits `[32i +: 32]`), from [`result_lane`].
fn lanes_text(cfg: &ArrayConfig) -> String {
    let mut lanes = vec![(0, 0); cfg.rows() * cfg.tokens()];
    for r in 0..cfg.rows() {
        for n in 0..cfg.tokens() {
            lanes[result_lane(cfg, r, n) / 32] = (r, n);
        }
    }
    let mut s = String::new();
    for (i, (r, n)) in lanes.iter().enumerate() {
        let _ = writeln!(s, "{r:08x} {n:08x}  // lane {i}: row {r}, token {n}");
    }
    s
}

/// The vector files being built.
#[derive(Default)]
struct VectorText {
    act: String,
    wgt: String,
    res: String,
    passes: String,
    pass_tokens: String,
    act_beats: usize,
    wgt_beats: usize,
    passes_n: usize,
    results: usize,
}

impl VectorText {
    /// Append the passes of one case: row tiles outer, token groups inner (the
    /// schedule of the co-simulation's driver), each pass its group's
    /// activation beats and its row tile's weight beats.
    fn push_case(&mut self, cfg: &ArrayConfig, index: usize, spec: &CaseSpec, data: &CaseData) {
        let (rows, t) = (cfg.rows(), cfg.tokens());
        let (abits, wbits, rbits) = (
            cfg.act_beat_bits(),
            cfg.weight_beat_bits(),
            cfg.result_beat_bits(),
        );
        for (p, row0) in (0..spec.m).step_by(rows).enumerate() {
            let live = rows.min(spec.m - row0);
            let wgts = rtl_weight_beats(cfg, &data.w, row0);
            for (q, acts) in data.groups.iter().enumerate() {
                let tok0 = q * t;
                let live_tokens = t.min(spec.tokens - tok0);
                let pass = self.passes_n;
                let tokens = if t > 1 {
                    format!(", tokens {tok0}..{}", tok0 + live_tokens - 1)
                } else {
                    String::new()
                };
                let tag = format!(
                    "// case {index} {} pass {pass} (row tile {p}, rows {row0}..{}{tokens})",
                    spec.name,
                    row0 + live - 1
                );
                for text in [&mut self.act, &mut self.wgt, &mut self.res] {
                    let _ = writeln!(text, "{tag}");
                }
                for beat in acts {
                    let _ = writeln!(self.act, "{}", beat_hex(beat, abits));
                }
                for beat in &wgts {
                    let _ = writeln!(self.wgt, "{}", beat_hex(beat, wbits));
                }
                let words = result_words(cfg, &data.want, (row0, live), (tok0, live_tokens));
                let _ = writeln!(self.res, "{}", beat_hex(&words, rbits));
                let _ = writeln!(
                    self.passes,
                    "{index:08x} {row0:08x} {live:08x} {:08x}  {tag}",
                    acts.len()
                );
                let _ = writeln!(self.pass_tokens, "{tok0:08x} {live_tokens:08x}  {tag}");
                self.act_beats += acts.len();
                self.wgt_beats += wgts.len();
                self.passes_n += 1;
                self.results += live * live_tokens;
            }
        }
    }
}

/// Generate the testbench and vectors of `design`.
pub fn generate(design: &Design, opts: &TbOptions) -> Result<Testbench, TbError> {
    let cfg = &design.config;
    let (specs, capped) = case_specs(cfg, opts)?;
    let mut rng = SplitMix64(opts.seed);
    let mut v = VectorText::default();
    let mut cases = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let data = case_data(cfg, spec, &mut rng)?;
        let start = (v.passes_n, v.act_beats, v.wgt_beats);
        v.push_case(cfg, i, spec, &data);
        cases.push(CaseVectors {
            spec: spec.clone(),
            k_tiles: k_tiles(cfg, spec.k),
            passes: case_passes(cfg, spec),
            first_pass: start.0,
            first_act_beat: start.1,
            first_wgt_beat: start.2,
        });
    }
    let name = format!("tb_{}", design.top);
    let svh = format!(
        "// Vector counts of {name}, written with the vectors in this folder; do not edit.\n\
         localparam int N_CASES     = {};\n\
         localparam int N_PASSES    = {};\n\
         localparam int N_ACT_BEATS = {};\n\
         localparam int N_WGT_BEATS = {};\n\
         localparam int N_RESULTS   = {};\n",
        cases.len(),
        v.passes_n,
        v.act_beats,
        v.wgt_beats,
        v.results
    );
    let file = |name: &str, format: String| VectorFile {
        name: name.into(),
        format,
    };
    let result_kind = if cfg.act_float().is_some() {
        "binary32 bits"
    } else {
        "int32"
    };
    let formats = vec![
        file("act.hex", format!("one activation beat per line ({}-bit hex, token n's K-tile at layout::act_lane), every pass in order", cfg.act_beat_bits())),
        file("wgt.hex", format!("one weight beat per line ({}-bit hex), every pass in order", cfg.weight_beat_bits())),
        file(
            "res.hex",
            format!(
                "one expected result beat per pass ({}-bit hex, token n's row r {result_kind} at layout::result_lane; rows past M and tokens past the case's are 0 and not compared)",
                cfg.result_beat_bits()
            ),
        ),
        file("passes.hex", "one line per pass, four 32-bit words: case, first row, live rows, K-tiles".into()),
        file("pass_tokens.hex", "one line per pass, two 32-bit words: first token, live tokens".into()),
        file("lanes.hex", "one line per 32-bit lane i of a result beat (bits [32i +: 32]), two words: its row and token".into()),
        file("vectors.svh", "the counts, included by the testbench".into()),
    ];
    let mut vectors = vec![
        GeneratedFile {
            name: "act.hex".into(),
            contents: v.act,
        },
        GeneratedFile {
            name: "wgt.hex".into(),
            contents: v.wgt,
        },
        GeneratedFile {
            name: "res.hex".into(),
            contents: v.res,
        },
        GeneratedFile {
            name: "passes.hex".into(),
            contents: v.passes,
        },
        GeneratedFile {
            name: "pass_tokens.hex".into(),
            contents: v.pass_tokens,
        },
        GeneratedFile {
            name: "lanes.hex".into(),
            contents: lanes_text(cfg),
        },
        GeneratedFile {
            name: "vectors.svh".into(),
            contents: svh,
        },
    ];
    let bytes = vectors.iter().map(|f| f.contents.len()).sum();
    if bytes > opts.max_vector_bytes {
        return Err(TbError::Shape(format!(
            "the vectors take {bytes} bytes, over the cap of {} bytes: choose a smaller shape",
            opts.max_vector_bytes
        )));
    }
    let summary = VectorSummary {
        generator: format!("lutcore-gen {}", crate::GENERATOR_VERSION),
        top: design.top.clone(),
        testbench: name.clone(),
        config: cfg.clone(),
        seed: opts.seed,
        cases,
        passes: v.passes_n,
        act_beats: v.act_beats,
        wgt_beats: v.wgt_beats,
        results: v.results,
        bytes,
        max_bytes: opts.max_vector_bytes,
        extreme_k_capped: capped,
        widths: [
            cfg.act_beat_bits(),
            cfg.weight_beat_bits(),
            cfg.result_beat_bits(),
        ],
        files: formats,
    };
    let json = serde_json::to_string_pretty(&summary).unwrap_or_default();
    vectors.push(GeneratedFile {
        name: "vectors.json".into(),
        contents: json + "\n",
    });
    let sv = GeneratedFile {
        name: format!("{name}.sv"),
        contents: testbench_text(design, &summary, opts),
    };
    let scripts = run_scripts(design, &name);
    Ok(Testbench {
        name,
        sv,
        vectors,
        scripts,
        summary,
    })
}

/// The testbench template; `@NAME@` fields are filled by [`testbench_text`].
const TEMPLATE: &str = r#"module @TB@;
  // The testbench's own bookkeeping (counters, positions, the random state) uses
  // blocking assignments in its clocked process; the DUT's inputs are nonblocking.
  /* verilator lint_off BLKSEQ */
  `include "vectors.svh" // N_CASES, N_PASSES, N_ACT_BEATS, N_WGT_BEATS, N_RESULTS

  // Widths of the stream interface (manifest.json, widths.*).
  localparam int ROWS    = @ROWS@;
  localparam int TOKENS  = @TOKENS@; // tokens per pass
  localparam int ACT_W   = @ACT_W@;
  localparam int WGT_W   = @WGT_W@;
  localparam int RES_W   = @RES_W@;
  localparam bit FP_RES  = 1'b@FP_RES@; // results are binary32 bits (printed as hex), else int32
  localparam int TIMEOUT = 2000; // cycles without any handshake before giving up

  // Clock (period 10 time units) and reset.
  logic clk = 1'b0;
  logic rst_n = 1'b0;
  always #5 clk = ~clk;

  // The device under test. The testbench drives its inputs with nonblocking
  // assignments at the rising edge and samples its outputs at the rising edge.
  logic             act_valid = 1'b0;
  logic             act_ready;
  logic             act_last = 1'b0;
  logic [ACT_W-1:0] act_data = '0;
  logic             wgt_valid = 1'b0;
  logic             wgt_ready;
  logic [WGT_W-1:0] wgt_data = '0;
  logic             res_valid;
  logic             res_ready = 1'b0;
  logic [RES_W-1:0] res_data;

  @TOP@ dut (
    .clk_i       (clk),
    .rst_ni      (rst_n),
    .act_valid_i (act_valid),
    .act_ready_o (act_ready),
    .act_last_i  (act_last),
    .act_data_i  (act_data),
    .wgt_valid_i (wgt_valid),
    .wgt_ready_o (wgt_ready),
    .wgt_data_i  (wgt_data),
    .res_valid_o (res_valid),
    .res_ready_i (res_ready),
    .res_data_o  (res_data)
  );

  // The vectors (see the header).
  logic [ACT_W-1:0] act_mem      [0:N_ACT_BEATS-1];
  logic             act_last_mem [0:N_ACT_BEATS-1]; // from passes.hex: last K-tile of its pass
  logic [WGT_W-1:0] wgt_mem      [0:N_WGT_BEATS-1];
  logic [RES_W-1:0] res_mem      [0:N_PASSES-1];
  logic [31:0]      pass_mem     [0:4*N_PASSES-1]; // case, first row, live rows, K-tiles
  logic [31:0]      pass_tok_mem [0:2*N_PASSES-1]; // first token, live tokens
  logic [31:0]      lane_mem     [0:2*ROWS*TOKENS-1]; // row and token of result lane i

  // Stimulus settings: plusargs +seed=N +gap=P +stall=P +max_print=N.
  int unsigned seed      = @SEED@;
  int unsigned gap_pct   = @GAP@;
  int unsigned stall_pct = @STALL@;
  int unsigned max_print = 100;

  // Progress and results.
  logic        running = 1'b0; // reset is over, the streams run
  int          act_next = 0;   // the activation beat on the port, or the next one to offer
  int          wgt_next = 0;   // the same for weight beats
  int          res_count = 0;  // result beats taken
  int          results = 0;    // rows compared
  int          mismatches = 0; // rows that differ
  int          protocol_errors = 0;
  int          cycles = 0;     // since reset
  int          idle = 0;       // cycles since the last handshake
  logic [31:0] rng = 32'd1;    // xorshift32 state
  logic             res_held = 1'b0; // a result beat was valid and not taken at the last edge
  logic [RES_W-1:0] res_held_data = '0;

  function automatic logic [31:0] xorshift32(input logic [31:0] s);
    logic [31:0] x;
    x = s ^ (s << 13);
    x = x ^ (x >> 17);
    return x ^ (x << 5);
  endfunction

  // True for pct percent of random words r.
  function automatic logic chance(input logic [31:0] r, input int unsigned pct);
    return (r % 32'd100) < pct;
  endfunction

  // Compare the live (token, row) lanes of result beat `pass`, bit for bit.
  task automatic check_result(input int pass, input logic [RES_W-1:0] got_beat);
    logic [RES_W-1:0]   want_beat;
    logic signed [31:0] got, want;
    int                 kase, row0, live, tok0, live_tok, row, tok;
    want_beat = res_mem[pass];
    kase = pass_mem[4*pass];
    row0 = pass_mem[4*pass+1];
    live = pass_mem[4*pass+2];
    tok0 = pass_tok_mem[2*pass];
    live_tok = pass_tok_mem[2*pass+1];
    for (int i = 0; i < ROWS * TOKENS; i++) begin
      row = lane_mem[2*i];
      tok = lane_mem[2*i+1];
      if (row < live && tok < live_tok) begin
        got = got_beat[32*i +: 32];
        want = want_beat[32*i +: 32];
        results = results + 1;
        if (got !== want) begin
          mismatches = mismatches + 1;
          if (mismatches <= max_print) begin
            if (FP_RES && TOKENS > 1)
              $display("MISMATCH case %0d pass %0d token %0d row %0d: got %08h want %08h", kase, pass, tok0 + tok, row0 + row, got, want);
            else if (FP_RES)
              $display("MISMATCH case %0d pass %0d row %0d: got %08h want %08h", kase, pass, row0 + row, got, want);
            else if (TOKENS > 1)
              $display("MISMATCH case %0d pass %0d token %0d row %0d: got %0d want %0d", kase, pass, tok0 + tok, row0 + row, got, want);
            else
              $display("MISMATCH case %0d pass %0d row %0d: got %0d want %0d", kase, pass, row0 + row, got, want);
          end
        end
      end
    end
  endtask

  // Every rising edge: take the handshakes that happen at this edge, check a
  // taken result beat, and choose what the ports show after the edge.
  always @(posedge clk) begin : stream
    logic [31:0] r_act, r_wgt, r_res;
    logic        act_fire, wgt_fire, res_fire;
    if (running) begin
      r_act = xorshift32(rng);
      r_wgt = xorshift32(r_act);
      r_res = xorshift32(r_wgt);
      rng = r_res;
      cycles = cycles + 1;
      act_fire = act_valid && act_ready;
      wgt_fire = wgt_valid && wgt_ready;
      res_fire = res_valid && res_ready;

      // Activation stream: a beat stays on the port until it is taken; a free
      // port idles for gap_pct percent of cycles.
      if (act_fire) act_next = act_next + 1;
      if (!act_valid || act_fire) begin
        if (act_next < N_ACT_BEATS && !chance(r_act, gap_pct)) begin
          act_valid <= 1'b1;
          act_data  <= act_mem[act_next];
          act_last  <= act_last_mem[act_next];
        end else begin
          act_valid <= 1'b0;
          act_data  <= 'x;
          act_last  <= 1'bx;
        end
      end

      // Weight stream: the same, independently.
      if (wgt_fire) wgt_next = wgt_next + 1;
      if (!wgt_valid || wgt_fire) begin
        if (wgt_next < N_WGT_BEATS && !chance(r_wgt, gap_pct)) begin
          wgt_valid <= 1'b1;
          wgt_data  <= wgt_mem[wgt_next];
        end else begin
          wgt_valid <= 1'b0;
          wgt_data  <= 'x;
        end
      end

      // Results: a beat that was not taken must stay valid and unchanged.
      if (res_held && (!res_valid || res_data !== res_held_data)) begin
        protocol_errors = protocol_errors + 1;
        $display("PROTOCOL pass %0d: res_valid_o fell or res_data_o changed while res_ready_i was low", res_count);
      end
      res_held = res_valid && !res_ready;
      res_held_data = res_data;
      if (res_fire) begin
        if (res_count < N_PASSES) begin
          check_result(res_count, res_data);
        end else begin
          protocol_errors = protocol_errors + 1;
          $display("PROTOCOL: result beat %0d after the last pass", res_count);
        end
        res_count = res_count + 1;
      end
      res_ready <= !chance(r_res, stall_pct);

      if (act_fire || wgt_fire || res_fire) idle = 0;
      else idle = idle + 1;
      if (idle > TIMEOUT) begin
        $display("FAIL timeout: no handshake for %0d cycles; activation beats %0d/%0d, weight beats %0d/%0d, results %0d/%0d",
                 TIMEOUT, act_next, N_ACT_BEATS, wgt_next, N_WGT_BEATS, res_count, N_PASSES);
        $fatal(1, "FAIL timeout");
      end
    end
  end

  initial begin : main
    int beat, tiles;
    if (!$value$plusargs("seed=%d", seed)) seed = @SEED@;
    if (!$value$plusargs("gap=%d", gap_pct)) gap_pct = @GAP@;
    if (!$value$plusargs("stall=%d", stall_pct)) stall_pct = @STALL@;
    if (!$value$plusargs("max_print=%d", max_print)) max_print = 100;
    if (gap_pct > 90) gap_pct = 90;
    if (stall_pct > 90) stall_pct = 90;
    rng = (seed == 0) ? 32'h2545_f491 : seed; // xorshift needs a nonzero state
    $readmemh("vectors/act.hex", act_mem);
    $readmemh("vectors/wgt.hex", wgt_mem);
    $readmemh("vectors/res.hex", res_mem);
    $readmemh("vectors/passes.hex", pass_mem);
    $readmemh("vectors/pass_tokens.hex", pass_tok_mem);
    $readmemh("vectors/lanes.hex", lane_mem);
    beat = 0;
    for (int p = 0; p < N_PASSES; p++) begin
      tiles = pass_mem[4*p+3];
      for (int t = 0; t < tiles; t++) begin
        if (beat < N_ACT_BEATS) act_last_mem[beat] = (t == tiles - 1);
        beat = beat + 1;
      end
    end
    if (beat != N_ACT_BEATS)
      $fatal(1, "vectors/passes.hex counts %0d activation beats, vectors.svh %0d", beat, N_ACT_BEATS);
    $display("@TB@: %0d cases, %0d passes, %0d activation and %0d weight beats; seed %0d, gap %0d%%, stall %0d%%",
             N_CASES, N_PASSES, N_ACT_BEATS, N_WGT_BEATS, seed, gap_pct, stall_pct);

    // Reset: rst_ni low over 4 rising edges with every valid low, released
    // between edges; the streams start at the next rising edge.
    repeat (4) @(posedge clk);
    @(negedge clk);
    rst_n = 1'b1;
    running = 1'b1;

    wait (res_count == N_PASSES);
    repeat (16) @(posedge clk); // no further result beat may come
    if (mismatches == 0 && protocol_errors == 0 && results == N_RESULTS) begin
      $display("PASS %0d results (%0d passes, %0d cycles, seed %0d)", results, N_PASSES, cycles, seed);
      $finish;
    end else begin
      $display("FAIL %0d of %0d results wrong, %0d protocol errors (%0d passes, %0d cycles, seed %0d)",
               mismatches, results, protocol_errors, N_PASSES, cycles, seed);
      $fatal(1, "FAIL");
    end
  end
endmodule
"#;

/// The text of `tb_<top>.sv`.
fn testbench_text(design: &Design, s: &VectorSummary, opts: &TbOptions) -> String {
    let cfg = &design.config;
    let tb = &s.testbench;
    let mut doc: Vec<String> = header(
        cfg,
        &[&format!(
            "{tb}: self-checking testbench of {} (lutcore_gen::testbench).",
            design.top
        )],
    );
    let fp = cfg.act_float().is_some();
    let multi = cfg.tokens() > 1;
    let cases: Vec<String> = s
        .cases
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let tokens = if multi {
                format!(" {:>2} token(s),", c.spec.tokens)
            } else {
                String::new()
            };
            format!(
                "  {i} {:<10} {:>4} x {:<6}{tokens} {:>3} pass(es) of {:>5} K-tile(s), {}",
                c.spec.name,
                c.spec.m,
                c.spec.k,
                c.passes,
                c.k_tiles,
                match (c.spec.fill, fp) {
                    (Fill::Random, _) => "random values",
                    (Fill::MinActs, false) => "x all at its minimum; rows' weights max, min, max, ...",
                    (Fill::MaxActs, false) => "x all at its maximum; rows' weights min, max, min, ...",
                    (Fill::Extremes, false) => "each value at a random end of its range",
                    (Fill::MinActs, true) => "x all -max finite; rows' weights max, min, max, ...",
                    (Fill::MaxActs, true) => "x all +max finite; rows' weights min, max, min, ...",
                    (Fill::Extremes, true) => "x finite edge values (zeros, subnormals, max finite); weights at their ends",
                    (Fill::NonFinite, _) => "random values; one +Inf (tokens 0, 4, ..) or NaN (tokens 2, 6, ..) in even tokens, odd tokens finite",
                }
            )
        })
        .collect();
    let files: Vec<String> = design.files.iter().map(|f| f.name.clone()).collect();
    let (result_kind, reference) = if fp {
        (
            "binary32 bits",
            "lutcore_contract::reference::gemv_fp_array (the config's FP reference; bit for bit, NaN canonical)",
        )
    } else {
        (
            "int32",
            "lutcore_contract::reference::gemv_plain (the plain integer dot product)",
        )
    };
    let mut text = vec![
        String::new(),
        "Streams the passes of vectors/ through the stream interface of".to_string(),
        "docs/interface.md and checks every result:".to_string(),
        String::new(),
        "* Vectors ($readmemh hex, one beat per line, bit 0 rightmost):".to_string(),
        format!(
            "    act.hex         {} activation beats of {} bits, every pass in order",
            s.act_beats,
            cfg.act_beat_bits()
        ),
        format!(
            "    wgt.hex         {} weight beats of {} bits, every pass in order",
            s.wgt_beats,
            cfg.weight_beat_bits()
        ),
        format!(
            "    res.hex         {} expected result beats of {} bits ({result_kind}; lanes.hex places them)",
            s.passes,
            cfg.result_beat_bits()
        ),
        "    passes.hex      per pass: case, first row, live rows, K-tiles".to_string(),
        format!(
            "    pass_tokens.hex per pass: first token, live tokens (of {} per pass)",
            cfg.tokens()
        ),
        "    lanes.hex       per 32-bit result lane i ([32i +: 32]): its row and token".to_string(),
        "    vectors.svh     the counts (included at compile time); vectors.json the cases".to_string(),
        format!("  Expected results: {reference};"),
        "  beats and lanes: lutcore_contract::layout (act_lane, result_lane, rtl_weight_beats)."
            .to_string(),
        format!(
            "* Cases (value seed {}, {} bytes of vectors, cap {}):",
            s.seed, s.bytes, s.max_bytes
        ),
    ];
    text.extend(cases);
    if s.extreme_k_capped {
        text.push(format!(
            "  (min_acts/max_acts run below max_k = {} to keep the vectors within the cap)",
            cfg.max_k()
        ));
    }
    text.extend([
        "* Stimulus: activation and weight beats are offered independently; a free".to_string(),
        "  port idles gap% of cycles, res_ready_i is low stall% of cycles (xorshift32".to_string(),
        "  from the seed: the same cycle-by-cycle stimulus in every simulator).".to_string(),
        "  Inputs are driven with nonblocking assignments at the rising edge; data".to_string(),
        "  is X while its valid is low.".to_string(),
        "* Checks: every live row of every token of every result beat, bit for bit".to_string(),
        "  (rows past the case's rows and token lanes past its vectors are dropped);".to_string(),
        "  res_valid_o held and res_data_o stable while res_ready_i is low; no result".to_string(),
        "  beat after the last pass; progress within TIMEOUT cycles.".to_string(),
        format!(
            "* Output: a MISMATCH line per wrong result (case, pass,{} row, got, want{}), then",
            if multi { " token," } else { "" },
            if fp { " as hex bits" } else { "" }
        ),
        "  \"PASS n results ...\" and $finish, or \"FAIL k of n ...\" and $fatal (exit".to_string(),
        "  status 1 in vvp; Verilator aborts, status 134).".to_string(),
        String::new(),
        "Run from this folder:".to_string(),
        "  ./run_icarus.sh     (iverilog -g2012 -I vectors, then vvp -n)".to_string(),
        "  ./run_verilator.sh  (verilator --binary --timing -I vectors, then the binary)".to_string(),
        "Plusargs (to either script): +seed=N (stimulus, default the value seed),".to_string(),
        format!(
            "  +gap=P (default {}), +stall=P (default {}; 0..90, +gap=0 +stall=0 is full speed), +max_print=N",
            opts.gap_percent.min(90),
            opts.stall_percent.min(90)
        ),
        format!("Design files, in compile order: {}", files.join(" ")),
    ]);
    doc.extend(text);
    let mut out = String::new();
    for line in &doc {
        if line.is_empty() {
            out.push_str("//\n");
        } else {
            let _ = writeln!(out, "// {line}");
        }
    }
    // The stimulus seed is a 32-bit word; fold the value seed into one.
    let tb_seed = (opts.seed ^ (opts.seed >> 32)) as u32;
    let body = TEMPLATE
        .replace("@TB@", tb)
        .replace("@TOP@", &design.top)
        .replace("@ROWS@", &cfg.rows().to_string())
        .replace("@TOKENS@", &cfg.tokens().to_string())
        .replace(
            "@FP_RES@",
            if cfg.act_float().is_some() { "1" } else { "0" },
        )
        .replace("@ACT_W@", &cfg.act_beat_bits().to_string())
        .replace("@WGT_W@", &cfg.weight_beat_bits().to_string())
        .replace("@RES_W@", &cfg.result_beat_bits().to_string())
        .replace("@SEED@", &tb_seed.to_string())
        .replace("@GAP@", &opts.gap_percent.min(90).to_string())
        .replace("@STALL@", &opts.stall_percent.min(90).to_string());
    debug_assert!(
        unfilled_field(&body).is_none(),
        "unfilled template field {:?}",
        unfilled_field(&body)
    );
    out.push_str(&body);
    out
}

/// The first `@NAME@` field left in `text`, if any.
fn unfilled_field(text: &str) -> Option<&str> {
    let parts: Vec<&str> = text.split('@').collect();
    let inner = parts
        .get(1..parts.len().saturating_sub(1))
        .unwrap_or_default();
    inner
        .iter()
        .copied()
        .find(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'))
}

/// `run_icarus.sh` and `run_verilator.sh`.
fn run_scripts(design: &Design, tb: &str) -> Vec<GeneratedFile> {
    let files: Vec<&str> = design.files.iter().map(|f| f.name.as_str()).collect();
    let sources = files
        .iter()
        .map(|f| format!("  {f} \\\n"))
        .collect::<String>();
    let icarus = format!(
        "#!/bin/sh\n\
         # Compile and run {tb} with Icarus Verilog (11 or newer).\n\
         # Plusargs pass through: ./run_icarus.sh +seed=7 +gap=50 +stall=50\n\
         # Exit status 0 on PASS; 1 on FAIL ($fatal) or a build error.\n\
         set -eu\n\
         cd \"$(dirname \"$0\")\"\n\
         mkdir -p {ICARUS_SCRATCH}\n\
         iverilog -g2012 -I {VECTOR_DIR} -s {tb} -o {ICARUS_SCRATCH}/{tb}.vvp \\\n\
         {sources}  {tb}.sv\n\
         exec vvp -n {ICARUS_SCRATCH}/{tb}.vvp \"$@\"\n"
    );
    let verilator = format!(
        "#!/bin/sh\n\
         # Build and run {tb} with Verilator 5 (--binary: a C++ main and --timing\n\
         # for the testbench's delays; needs a C++20 compiler with coroutines, g++ 10+).\n\
         # Plusargs pass through: ./run_verilator.sh +seed=7 +gap=50 +stall=50\n\
         # Exit status 0 on PASS; nonzero on FAIL ($fatal aborts, status 134) or a build error.\n\
         # JOBS sets the compile jobs (default 2); VERILATOR_FLAGS adds verilator options, e.g.\n\
         # VERILATOR_FLAGS='--trace' or '-MAKEFLAGS OPT_FAST=-O0' (a faster C++ build).\n\
         # The build's output goes to {VERILATOR_SCRATCH}/build.log; its warnings are printed.\n\
         set -eu\n\
         cd \"$(dirname \"$0\")\"\n\
         mkdir -p {VERILATOR_SCRATCH}\n\
         if ! verilator --binary --timing -j \"${{JOBS:-2}}\" -Wno-fatal ${{VERILATOR_FLAGS:-}} \\\n\
         \x20 -I{VECTOR_DIR} \\\n\
         \x20 --top-module {tb} --Mdir {VERILATOR_SCRATCH} -o {tb} \\\n\
         {sources}  {tb}.sv > {VERILATOR_SCRATCH}/build.log 2>&1; then\n\
         \x20 tail -n 40 {VERILATOR_SCRATCH}/build.log\n\
         \x20 echo \"verilator build failed ({VERILATOR_SCRATCH}/build.log)\" >&2\n\
         \x20 exit 2\n\
         fi\n\
         grep -A 4 '^%Warning' {VERILATOR_SCRATCH}/build.log || true\n\
         exec {VERILATOR_SCRATCH}/{tb} \"$@\"\n"
    );
    vec![
        GeneratedFile {
            name: "run_icarus.sh".into(),
            contents: icarus,
        },
        GeneratedFile {
            name: "run_verilator.sh".into(),
            contents: verilator,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use lutcore_contract::config::preset;
    use lutcore_contract::layout::act_lane;

    #[test]
    fn beat_hex_is_msb_first_and_sized_to_the_port() {
        assert_eq!(beat_hex(&[0x7f80_02ff], 32), "7f8002ff");
        assert_eq!(beat_hex(&[0x0fff], 16), "0fff");
        assert_eq!(beat_hex(&[0x1, 0x2], 40), "0200000001");
    }

    #[test]
    fn tiny_vectors_match_the_reference_and_layout() {
        let design = crate::generate(&preset("tiny").unwrap()).unwrap();
        let tb = generate(&design, &TbOptions::default()).unwrap();
        let s = &tb.summary;
        assert_eq!(tb.name, "tb_lutcore_lut_array");
        let file = |n: &str| {
            tb.vectors
                .iter()
                .find(|f| f.name == n)
                .unwrap()
                .contents
                .clone()
        };
        let data_lines = |n: &str| file(n).lines().filter(|l| !l.starts_with("//")).count();
        assert_eq!(data_lines("act.hex"), s.act_beats);
        assert_eq!(data_lines("wgt.hex"), s.wgt_beats);
        assert_eq!(data_lines("res.hex"), s.passes);
        assert_eq!(data_lines("passes.hex"), s.passes);
        // tiny: max_k 256 fits the 1 MiB cap; the random case is 9 x 13 (3 passes of 4 K-tiles).
        assert!(!s.extreme_k_capped);
        assert_eq!(
            (
                s.cases[0].spec.m,
                s.cases[0].spec.k,
                s.cases[0].passes,
                s.cases[0].k_tiles
            ),
            (9, 13, 3, 4)
        );
        assert_eq!(s.cases[3].spec.k, 256);
        // min_acts, uint2: even rows 3 · -128 · 256, odd rows 0.
        let res: Vec<String> = file("res.hex")
            .lines()
            .filter(|l| !l.starts_with("//"))
            .map(String::from)
            .collect();
        let min_acts = &res[s.cases[3].first_pass];
        assert_eq!(
            min_acts,
            &format!(
                "00000000{:08x}00000000{:08x}",
                -98304i32 as u32, -98304i32 as u32
            )
        );
        assert!(
            tb.sv.contents.contains("lutcore_lut_array dut (")
                && unfilled_field(&tb.sv.contents).is_none()
        );
        assert!(file("vectors.svh").contains(&format!("N_RESULTS   = {};", s.results)));
    }

    /// The words of a hex beat line (LSB first).
    fn hex_words(line: &str) -> Vec<u32> {
        let b = line.as_bytes();
        (0..b.len().div_ceil(8))
            .map(|i| {
                let lo = b.len().saturating_sub(8 * (i + 1));
                let hi = b.len() - 8 * i;
                u32::from_str_radix(std::str::from_utf8(&b[lo..hi]).unwrap(), 16).unwrap()
            })
            .collect()
    }

    /// Bits `[at, at + n)` of a beat (n ≤ 32).
    fn field(words: &[u32], at: usize, n: usize) -> u32 {
        (0..n).fold(0, |v, i| {
            v | (((words[(at + i) / 32] >> ((at + i) % 32)) & 1) << i)
        })
    }

    /// Decode every pass of the vectors of `cfg` with the layout functions
    /// (`act_lane`, `result_lane`): the activations of each live token, zero
    /// lanes past K and past the case's tokens, and each live (token, row)
    /// result equal to the reference of the decoded activations (the weights
    /// replayed from the seed), every other lane 0.
    fn check_token_layout(cfg: &ArrayConfig) {
        let design = crate::generate(cfg).unwrap();
        let opts = TbOptions::default();
        let tb = generate(&design, &opts).unwrap();
        let data = |n: &str| -> Vec<String> {
            tb.vectors
                .iter()
                .find(|f| f.name == n)
                .unwrap()
                .contents
                .lines()
                .filter(|l| !l.starts_with("//"))
                .map(|l| l.split("//").next().unwrap().trim().to_string())
                .collect()
        };
        let (act, res, passes, toks, lanes) = (
            data("act.hex"),
            data("res.hex"),
            data("passes.hex"),
            data("pass_tokens.hex"),
            data("lanes.hex"),
        );
        let words = |l: &str| -> Vec<usize> {
            l.split_whitespace()
                .map(|w| usize::from_str_radix(w, 16).unwrap())
                .collect()
        };
        let (t, kt, ab) = (cfg.tokens(), cfg.k_tile(), cfg.act_bits() as usize);
        for r in 0..cfg.rows() {
            for n in 0..t {
                assert_eq!(words(&lanes[result_lane(cfg, r, n) / 32]), vec![r, n]);
            }
        }
        // Replay the weights: the same draws as `generate`.
        let (specs, _) = case_specs(cfg, &opts).unwrap();
        let mut rng = SplitMix64(opts.seed);
        let ws: Vec<WeightMatrix> = specs
            .iter()
            .map(|spec| case_data(cfg, spec, &mut rng).unwrap().w)
            .collect();
        let (mut beat, mut partial) = (0, 0);
        for (p, line) in passes.iter().enumerate() {
            let [case, row0, live, tiles] = words(line)[..] else {
                panic!("passes.hex line {p}: {line}")
            };
            let [tok0, live_tok] = words(&toks[p])[..] else {
                panic!("pass_tokens.hex line {p}")
            };
            let spec = &specs[case];
            assert_eq!(live_tok, t.min(spec.tokens - tok0), "pass {p}");
            partial += usize::from(live_tok < t);
            let beats: Vec<Vec<u32>> = act[beat..beat + tiles]
                .iter()
                .map(|l| hex_words(l))
                .collect();
            beat += tiles;
            let got = hex_words(&res[p]);
            for n in 0..t {
                let codes: Vec<u32> = (0..tiles * kt)
                    .map(|i| field(&beats[i / kt], act_lane(cfg, n, i % kt), ab))
                    .collect();
                if n >= live_tok {
                    assert!(codes.iter().all(|&c| c == 0), "pass {p}: padding token {n}");
                    for r in 0..cfg.rows() {
                        assert_eq!(got[result_lane(cfg, r, n) / 32], 0, "pass {p} token {n}");
                    }
                    continue;
                }
                assert!(
                    codes[spec.k..].iter().all(|&c| c == 0),
                    "pass {p}: K padding"
                );
                let x = &codes[..spec.k];
                let want: Vec<u32> = if cfg.act_float().is_some() {
                    gemv_fp_array(cfg, &ws[case], x).unwrap()
                } else {
                    assert_eq!(ab, 8, "int8 lanes");
                    let x: Vec<i8> = x.iter().map(|&c| c as u8 as i8).collect();
                    gemv_plain(&ws[case], &x)
                        .iter()
                        .map(|&v| v as i32 as u32)
                        .collect()
                };
                for r in 0..cfg.rows() {
                    let lane = got[result_lane(cfg, r, n) / 32];
                    let w = if r < live { want[row0 + r] } else { 0 };
                    assert_eq!(lane, w, "pass {p} token {} row {}", tok0 + n, row0 + r);
                }
            }
        }
        assert_eq!(beat, act.len());
        // The random case (2·tokens − 1 vectors) ends each row tile with a partial pass.
        assert_eq!(partial, specs[0].m.div_ceil(cfg.rows()));
    }

    #[test]
    fn several_tokens_per_pass_follow_the_layout_functions() {
        let tiny2 = preset("tiny").unwrap().raw().clone().with_tokens(2);
        check_token_layout(&tiny2.validate().unwrap());
        let fp3 = preset("lut-fp16").unwrap().raw().clone().with_tokens(3);
        check_token_layout(&fp3.validate().unwrap());
    }

    #[test]
    fn the_dut_instance_connects_the_stream_interface() {
        lutcore_contract::interface::check_instance("testbench template", TEMPLATE, "dut").unwrap();
    }

    #[test]
    fn extreme_k_shrinks_to_the_cap_and_bad_shapes_are_refused() {
        let design = crate::generate(&preset("default").unwrap()).unwrap();
        let opts = TbOptions {
            max_vector_bytes: 200_000,
            ..TbOptions::default()
        };
        let tb = generate(&design, &opts).unwrap();
        assert!(
            tb.summary.extreme_k_capped && tb.summary.bytes <= 200_000,
            "{}",
            tb.summary.bytes
        );
        let e = generate(
            &design,
            &TbOptions {
                shape: Some((4, 20000)),
                ..TbOptions::default()
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("max_k"), "{e}");
        let e = generate(
            &design,
            &TbOptions {
                shape: Some((4096, 4096)),
                ..TbOptions::default()
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("cap"), "{e}");
    }
}
