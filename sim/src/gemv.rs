//! Driving a generated array through its stream interface
//! ([`lutcore_contract::interface`]): [`run_gemm`] streams pre-packed weights
//! ([`PackedWeights`]) and one or more activation vectors, [`run_gemv`] is
//! the one-vector convenience, and [`Simulator`] owns a model of one config.
//!
//! Protocol, per pass (`cfg.tokens()` = M activation vectors against one
//! row tile of `cfg.rows()` output rows): `k_tiles` activation beats
//! (`act_last_i` on the last), each holding one K-tile of every token
//! (`layout::act_lane`), and `k_tiles · beats_per_tile` weight beats, then
//! one result beat with row `r`'s int32 (or, for floating-point activations,
//! binary32 bits) of token `t` at `layout::result_lane` (bits `[32r, 32r+32)`
//! when M = 1). Arrays with floating-point activations take raw
//! codes of their format ([`run_gemm_fp`], [`run_gemv_fp`]). The driver streams all
//! passes back to back from two queues and keeps `res_ready_i` high.
//!
//! Schedule of an `n`-token matmul (what a host driver with a DMA engine
//! would do): row tiles outer, token groups inner. The `n` tokens are cut
//! into `ceil(n / M)` groups of M consecutive tokens, the last group padded
//! with zero vectors (their results are dropped). For row tile `t` the host
//! fetches the tile's weight beats once (`rows·K·bits/8` bytes, padded to
//! whole beats) into a tile buffer and replays them for each group, each pass
//! preceded by that group's activation beats; so `n` tokens cost
//! `ceil(n / M)` passes per row tile and the weights cross the memory bus
//! once per matmul. Results come back in pass order (tile, group).
//!
//! Speed: each clock is one call across the C ABI
//! ([`SimModel::stream_cycle`]): the shim drives the valids and any new
//! beat, evaluates with the clock low, samples the handshakes (copying a
//! taken result beat), drives the weight beat and evaluates the rising edge.
//! The generated arrays register both input beats before using them, so no
//! combinational path depends on the data ports.

use std::time::{Duration, Instant};

use lutcore_contract::config::ArrayConfig;
use lutcore_contract::interface::StreamPort;
use lutcore_contract::layout::{
    check_activations, check_fits, k_tiles, result_lane, rtl_act_beats_batch,
    rtl_fp_act_beats_batch, rtl_weight_beats, WeightMatrix,
};
use lutcore_contract::Activation;
use lutcore_gen::Design;

use crate::library::{BuildOptions, SimLibrary};
use crate::model::{SimModel, StreamBeats};
use crate::shim::port_words;
use crate::SimError;

/// The outcome of one simulated GEMV: `R` is `i32` for integer activations,
/// `u32` (binary32 bits) for floating-point ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GemvRun<R = i32> {
    /// `y[r]` for every row `r < M`.
    pub results: Vec<R>,
    /// Clock cycles from the end of reset until the last result beat was taken.
    pub cycles: u64,
    /// Wall time of the simulation: reset and the clocked loop, not the
    /// host-side preparation of the stream beats.
    pub wall: Duration,
}

/// The outcome of one simulated matmul of `n` tokens ([`run_gemm`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GemmRun {
    /// Passes streamed: row tiles × `ceil(n / M)` token groups.
    pub passes: usize,
    /// Clock cycles from the end of reset until the last result beat was taken.
    pub cycles: u64,
    /// Wall time of reset and the clocked loop.
    pub wall: Duration,
}

/// The weight beats of one matrix for one config, packed once (the image a
/// host driver would keep in memory and stream). Row tile `t`'s beats are
/// contiguous: `k_tiles · beats_per_tile` beats of `words_per_beat` words.
#[derive(Clone, Debug)]
pub struct PackedWeights {
    cfg: ArrayConfig,
    rows: usize,
    cols: usize,
    tiles: usize,
    k_tiles: usize,
    beats_per_pass: usize,
    words_per_beat: usize,
    words: Vec<u32>,
}

impl PackedWeights {
    /// Pack `w` for arrays of `cfg`. Errors if the weight type differs from
    /// the array's, `w` has no rows, or K exceeds `max_k`.
    pub fn new(cfg: &ArrayConfig, w: &WeightMatrix) -> Result<PackedWeights, SimError> {
        if w.wtype() != cfg.weights() {
            return Err(SimError::Shape(format!(
                "W holds {} weights but the array is built for {}",
                w.wtype(),
                cfg.weights()
            )));
        }
        if w.rows() == 0 {
            return Err(SimError::Shape("W has no rows (M = 0)".into()));
        }
        check_fits(cfg, w.cols())?;
        let rows = cfg.rows();
        let tiles = w.rows().div_ceil(rows);
        let kt = k_tiles(cfg, w.cols());
        let beats_per_pass = kt * cfg.beats_per_tile();
        let words_per_beat = port_words(cfg.weight_beat_bits());
        let mut words = Vec::with_capacity(tiles * beats_per_pass * words_per_beat);
        for t in 0..tiles {
            for beat in rtl_weight_beats(cfg, w, t * rows) {
                if beat.len() != words_per_beat {
                    return Err(SimError::Shape(format!(
                        "layout produced a {}-word weight beat, the port takes {words_per_beat}",
                        beat.len()
                    )));
                }
                words.extend_from_slice(&beat);
            }
        }
        Ok(PackedWeights {
            cfg: cfg.clone(),
            rows: w.rows(),
            cols: w.cols(),
            tiles,
            k_tiles: kt,
            beats_per_pass,
            words_per_beat,
            words,
        })
    }

    /// The config the beats are laid out for.
    pub fn config(&self) -> &ArrayConfig {
        &self.cfg
    }
    /// Output rows M.
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Reduction length K.
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// Row tiles: `ceil(M / cfg.rows())`.
    pub fn row_tiles(&self) -> usize {
        self.tiles
    }
    /// K-tiles per pass: `ceil(K / cfg.k_tile())`.
    pub fn k_tiles(&self) -> usize {
        self.k_tiles
    }
    /// Weight beats per pass (one row tile): `k_tiles · beats_per_tile`.
    pub fn beats_per_pass(&self) -> usize {
        self.beats_per_pass
    }
    /// Bytes one sweep over all row tiles streams on the weight port
    /// (padding to whole beats included): what a matmul fetches from memory.
    pub fn stream_bytes(&self) -> u64 {
        (self.tiles * self.beats_per_pass) as u64 * u64::from(self.cfg.weight_beat_bits()) / 8
    }

    /// The weight beats of row tiles `tiles`, in stream order (tile after
    /// tile), each `ceil(weight_beat_bits / 32)` words.
    pub fn tile_beats(&self, tiles: std::ops::Range<usize>) -> std::slice::Chunks<'_, u32> {
        let per_tile = self.beats_per_pass * self.words_per_beat;
        self.words[tiles.start * per_tile..tiles.end * per_tile].chunks(self.words_per_beat)
    }

    fn beat(&self, tile: usize, i: usize) -> &[u32] {
        let at = (tile * self.beats_per_pass + i) * self.words_per_beat;
        &self.words[at..at + self.words_per_beat]
    }
}

/// Port indices of the stream interface on a model, looked up once per run.
struct StreamPorts([usize; StreamPort::ALL.len()]);

impl StreamPorts {
    /// Find every port of the stream interface on `model`, checking direction
    /// and width against `cfg`; a missing or different port is an error.
    fn find(model: &SimModel, cfg: &ArrayConfig) -> Result<StreamPorts, SimError> {
        let mut idx = [0; StreamPort::ALL.len()];
        for want in StreamPort::ALL {
            let i = model.port_index(want.name())?;
            let have = &model.ports()[i];
            if have.dir != want.dir() || have.width != want.width(cfg) {
                return Err(SimError::Port {
                    port: want.name().into(),
                    detail: format!(
                        "model has {} {}b but config `{}` needs {} {}b (model built for another config?)",
                        have.dir,
                        have.width,
                        cfg.slug(),
                        want.dir(),
                        want.width(cfg)
                    ),
                });
            }
            idx[want.index()] = i;
        }
        Ok(StreamPorts(idx))
    }

    /// The model's index of port `p`.
    fn at(&self, p: StreamPort) -> usize {
        self.0[p.index()]
    }
}

/// Error unless a vector of `n` activations fits `w` (K = `n`).
pub(crate) fn check_x_len(w: &WeightMatrix, n: usize) -> Result<(), SimError> {
    if n != w.cols() {
        return Err(SimError::Shape(format!(
            "x has {n} activations but W is {}x{}",
            w.rows(),
            w.cols()
        )));
    }
    Ok(())
}

/// Run `y = W·x` on `model`, an array generated for `cfg`: reset it, stream
/// every row tile, collect one result beat per tile. Errors (never panics)
/// on shape or type mismatches, a model of another config, or a design that
/// stops making progress.
pub fn run_gemv<A: Activation>(
    model: &mut SimModel,
    cfg: &ArrayConfig,
    w: &WeightMatrix,
    x: &[A],
) -> Result<GemvRun, SimError> {
    check_x_len(w, x.len())?;
    let packed = PackedWeights::new(cfg, w)?;
    let mut results = vec![0i32; w.rows()];
    let run = run_gemm(model, &packed, x, 1, &mut results)?;
    Ok(GemvRun {
        results,
        cycles: run.cycles,
        wall: run.wall,
    })
}

/// [`run_gemv`] for an array with floating-point activations: `x` holds raw
/// codes of the config's format; the results are binary32 bits.
pub fn run_gemv_fp(
    model: &mut SimModel,
    cfg: &ArrayConfig,
    w: &WeightMatrix,
    x: &[u32],
) -> Result<GemvRun<u32>, SimError> {
    if x.len() != w.cols() {
        return Err(SimError::Shape(format!(
            "x has {} activations but W is {}x{}",
            x.len(),
            w.rows(),
            w.cols()
        )));
    }
    let packed = PackedWeights::new(cfg, w)?;
    let mut results = vec![0u32; w.rows()];
    let run = run_gemm_fp(model, &packed, x, 1, &mut results)?;
    Ok(GemvRun {
        results,
        cycles: run.cycles,
        wall: run.wall,
    })
}

/// Check the slice lengths of an `n`-token matmul on `w`.
fn check_gemm(w: &PackedWeights, x_len: usize, n: usize, out_len: usize) -> Result<(), SimError> {
    let (m, k) = (w.rows, w.cols);
    if n == 0 || x_len != n * k || out_len != n * m {
        return Err(SimError::Shape(format!(
            "a {m}x{k} matmul of {n} token(s) needs {} activations and room for {} results, got {x_len} and {out_len}",
            n * k,
            n * m,
        )));
    }
    Ok(())
}

/// Run `out[t·M + r] = Σ_c W[r][c]·x[t·K + c]` for `n` tokens on `model`, an
/// array generated for `w.config()`, with the schedule of the module docs
/// (row tiles outer, tokens inner; one pass each). Resets the model first.
/// Errors (never panics) on wrong slice lengths, a model of another config,
/// or a design that stops making progress.
pub fn run_gemm<A: Activation>(
    model: &mut SimModel,
    w: &PackedWeights,
    x: &[A],
    n: usize,
    out: &mut [i32],
) -> Result<GemmRun, SimError> {
    let cfg = &w.cfg;
    check_gemm(w, x.len(), n, out.len())?;
    if let Some(fmt) = cfg.act_float() {
        return Err(SimError::Shape(format!(
            "integer activations on an array built for {fmt} activations: pass raw {fmt} codes (run_gemm_fp)"
        )));
    }
    check_activations::<A>(cfg)?;
    let mut act: Vec<u32> = Vec::new();
    for group in token_groups(cfg, x, w.cols) {
        for beat in rtl_act_beats_batch(cfg, &group) {
            act.extend_from_slice(&beat);
        }
    }
    stream(model, w, &act, n, out, |v| v as i32)
}

/// [`run_gemm`] for an array with floating-point activations: `x` holds raw
/// codes of the config's format (each below `2^bits`), `out` receives binary32
/// bits.
pub fn run_gemm_fp(
    model: &mut SimModel,
    w: &PackedWeights,
    x: &[u32],
    n: usize,
    out: &mut [u32],
) -> Result<GemmRun, SimError> {
    let cfg = &w.cfg;
    check_gemm(w, x.len(), n, out.len())?;
    let Some(fmt) = cfg.act_float() else {
        return Err(SimError::Shape(format!(
            "floating-point activation codes on an array built for {} activations: pass integers (run_gemm)",
            cfg.act_type()
        )));
    };
    if let Some(i) = x.iter().position(|&c| u64::from(c) >> fmt.bits() != 0) {
        return Err(SimError::Shape(format!(
            "activation {i} is {:#x}, not a {}-bit {fmt} code",
            x[i],
            fmt.bits()
        )));
    }
    let mut act: Vec<u32> = Vec::new();
    for group in token_groups(cfg, x, w.cols) {
        for beat in rtl_fp_act_beats_batch(cfg, &group) {
            act.extend_from_slice(&beat);
        }
    }
    stream(model, w, &act, n, out, |v| v)
}

/// The tokens of `x` (`k` activations each) in groups of `cfg.tokens()`, one
/// group per pass; the last group may be short (the layout pads it with zero
/// vectors).
fn token_groups<'a, T>(cfg: &ArrayConfig, x: &'a [T], k: usize) -> Vec<Vec<&'a [T]>> {
    let tokens: Vec<&[T]> = x.chunks(k).collect();
    tokens.chunks(cfg.tokens()).map(|g| g.to_vec()).collect()
}

/// Stream the passes of an `n`-token matmul (activation beats `act`, token
/// group `q`'s beat `i` at `(q·k_tiles + i)·words`) and store row `r` of token
/// `t`'s result word through `conv` at `out[t·M + r]` (M the matrix's rows).
fn stream<T>(
    model: &mut SimModel,
    w: &PackedWeights,
    act: &[u32],
    n: usize,
    out: &mut [T],
    conv: impl Fn(u32) -> T,
) -> Result<GemmRun, SimError> {
    let cfg = &w.cfg;
    let (m, k) = (w.rows, w.cols);
    let p = StreamPorts::find(model, cfg)?;

    let rows = cfg.rows();
    let kt = w.k_tiles;
    let bpp = w.beats_per_pass;
    let act_words = port_words(cfg.act_beat_bits());
    let per_pass = cfg.tokens();
    let groups = n.div_ceil(per_pass);
    debug_assert_eq!(act.len(), groups * kt * act_words);
    let passes = w.tiles * groups;
    let act_total = passes * kt;
    let wgt_total = passes * bpp;
    let limit = 64 * (act_total + wgt_total + passes) as u64 + 1000;
    let zero_beat = vec![0u32; w.words_per_beat];

    let start = Instant::now();
    // Reset: inputs idle, rst_ni low for two cycles.
    use StreamPort::{ActLast, ActValid, Clk, ResReady, RstN, WgtData, WgtValid};
    for port in [ActValid, ActLast, WgtValid, ResReady, RstN, Clk] {
        model.set_bit(p.at(port), false)?;
    }
    model.set_idx(p.at(WgtData), &zero_beat)?;
    model.tick();
    model.tick();
    model.set_bit(p.at(RstN), true)?;
    model.set_bit(p.at(ResReady), true)?;

    let mut res_words = vec![0u32; port_words(cfg.result_beat_bits())];
    let (mut act_pos, mut wgt_pos, mut res_pos) = (0usize, 0usize, 0usize);
    // Positions advanced without divisions: activation beat `act_i` of token
    // group `act_tok`'s pass, weight beat `wgt_i` of row tile `wgt_tile`, replayed
    // for token group `wgt_tok` (passes run row tiles outer, token groups inner).
    let (mut act_i, mut act_tok) = (0usize, 0usize);
    let (mut wgt_i, mut wgt_tile, mut wgt_tok) = (0usize, 0usize, 0usize);
    // Whether the beat on the activation port is the current one (avoids re-copying wide beats).
    let mut act_shown = false;
    let mut cycles: u64 = 0;
    while res_pos < passes {
        if cycles >= limit {
            return Err(SimError::Deadlock {
                cycles,
                detail: format!(
                    "{m}x{k} GEMM of {n} token(s) on {}: activation beats {act_pos}/{act_total}, weight beats {wgt_pos}/{wgt_total}, results {res_pos}/{passes}",
                    cfg.slug(),
                ),
            });
        }
        let act_valid = act_pos < act_total;
        let new_act = (act_valid && !act_shown).then(|| {
            let at = (act_tok * kt + act_i) * act_words;
            &act[at..at + act_words]
        });
        act_shown = true;
        let wgt_valid = wgt_pos < wgt_total;
        let wgt_beat = wgt_valid.then(|| w.beat(wgt_tile, wgt_i));
        let beats = StreamBeats {
            act_valid,
            act_last: act_valid && act_i == kt - 1,
            act: new_act,
            wgt_valid,
            wgt: wgt_beat,
        };
        let fired = model.stream_cycle(beats, &mut res_words)?;
        cycles += 1;

        if fired.act {
            act_pos += 1;
            act_shown = false;
            act_i += 1;
            if act_i == kt {
                act_i = 0;
                act_tok = if act_tok + 1 == groups {
                    0
                } else {
                    act_tok + 1
                };
            }
        }
        if fired.wgt {
            wgt_pos += 1;
            wgt_i += 1;
            if wgt_i == bpp {
                wgt_i = 0;
                wgt_tok += 1;
                if wgt_tok == groups {
                    (wgt_tok, wgt_tile) = (0, wgt_tile + 1);
                }
            }
        }
        if fired.res {
            let (tile, group) = (res_pos / groups, res_pos % groups);
            let r0 = tile * rows;
            let live = rows.min(m - r0);
            for t in 0..per_pass.min(n - group * per_pass) {
                let tok = group * per_pass + t;
                for (r, o) in out[tok * m + r0..tok * m + r0 + live]
                    .iter_mut()
                    .enumerate()
                {
                    *o = conv(res_words[result_lane(cfg, r, t) / 32]);
                }
            }
            res_pos += 1;
        }
    }
    Ok(GemmRun {
        passes,
        cycles,
        wall: start.elapsed(),
    })
}

/// A model of one config, ready to run GEMVs: config → Verilog → cached
/// library → model.
#[derive(Debug)]
pub struct Simulator {
    cfg: ArrayConfig,
    library: SimLibrary,
    model: SimModel,
}

impl Simulator {
    /// Generate the design of `cfg`, build (or reuse) its library and instantiate it.
    pub fn new(cfg: &ArrayConfig) -> Result<Simulator, SimError> {
        Self::from_design(&lutcore_gen::generate(cfg)?)
    }

    /// Build (or reuse) the library of `design` and instantiate it.
    pub fn from_design(design: &Design) -> Result<Simulator, SimError> {
        Self::from_design_with(design, &BuildOptions::default())
    }

    /// [`Simulator::new`] with build options, e.g. a trace build
    /// (`BuildOptions::traced`): then [`Simulator::model_mut`]`.trace_open`
    /// before a run and `trace_close` after it dump that run's waves.
    pub fn with_options(cfg: &ArrayConfig, opts: &BuildOptions) -> Result<Simulator, SimError> {
        Self::from_design_with(&lutcore_gen::generate(cfg)?, opts)
    }

    /// [`Simulator::from_design`] with build options.
    pub fn from_design_with(design: &Design, opts: &BuildOptions) -> Result<Simulator, SimError> {
        let library = SimLibrary::build_with(design, opts)?;
        let model = library.instantiate()?;
        Ok(Simulator {
            cfg: design.config.clone(),
            library,
            model,
        })
    }

    /// The config.
    pub fn config(&self) -> &ArrayConfig {
        &self.cfg
    }

    /// The built library (cache directory, build status and time).
    pub fn library(&self) -> &SimLibrary {
        &self.library
    }

    /// Whether the library was built now or reused from the cache.
    pub fn build_status(&self) -> crate::BuildStatus {
        self.library.status()
    }

    /// The model, for driving ports directly.
    pub fn model_mut(&mut self) -> &mut SimModel {
        &mut self.model
    }

    /// `y = W·x` on the array ([`run_gemv`]).
    pub fn gemv<A: Activation>(&mut self, w: &WeightMatrix, x: &[A]) -> Result<GemvRun, SimError> {
        run_gemv(&mut self.model, &self.cfg, w, x)
    }

    /// `y = W·x` on an array with floating-point activations ([`run_gemv_fp`]):
    /// raw codes in, binary32 bits out.
    pub fn gemv_fp(&mut self, w: &WeightMatrix, x: &[u32]) -> Result<GemvRun<u32>, SimError> {
        run_gemv_fp(&mut self.model, &self.cfg, w, x)
    }

    /// `n` tokens through pre-packed weights ([`run_gemm`]). Errors if `w`
    /// was packed for another config.
    pub fn gemm<A: Activation>(
        &mut self,
        w: &PackedWeights,
        x: &[A],
        n: usize,
        out: &mut [i32],
    ) -> Result<GemmRun, SimError> {
        self.check_packed(w)?;
        run_gemm(&mut self.model, w, x, n, out)
    }

    /// `n` tokens of floating-point activation codes through pre-packed
    /// weights ([`run_gemm_fp`]). Errors if `w` was packed for another config.
    pub fn gemm_fp(
        &mut self,
        w: &PackedWeights,
        x: &[u32],
        n: usize,
        out: &mut [u32],
    ) -> Result<GemmRun, SimError> {
        self.check_packed(w)?;
        run_gemm_fp(&mut self.model, w, x, n, out)
    }

    fn check_packed(&self, w: &PackedWeights) -> Result<(), SimError> {
        if w.config() != &self.cfg {
            return Err(SimError::Shape(format!(
                "weights packed for `{}` but the model is `{}`",
                w.config().slug(),
                self.cfg.slug()
            )));
        }
        Ok(())
    }
}
