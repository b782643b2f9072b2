//! Driving a generated array through its stream interface
//! ([`lutcore_gen::top_ports`]) to compute one GEMV: [`run_gemv`], and
//! [`Simulator`], which owns a model of one config.
//!
//! Protocol, per row tile of `cfg.rows()` output rows: `k_tiles` activation
//! beats (`act_last_i` on the last) and `k_tiles · beats_per_tile` weight
//! beats, then one result beat with row `r`'s int32 at bits `[32r, 32r+32)`.
//! The driver streams all row tiles back to back from two queues and keeps
//! `res_ready_i` high.

use std::time::{Duration, Instant};

use lutcore_gen::{top_ports, Design};
use lutcore_sw::config::ArrayConfig;
use lutcore_sw::layout::{check_fits, k_tiles, rtl_act_beats, rtl_weight_beats, Beat, WeightMatrix};

use crate::library::SimLibrary;
use crate::model::SimModel;
use crate::SimError;

/// The outcome of one simulated GEMV.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GemvRun {
    /// `y[r]` for every row `r < M`.
    pub results: Vec<i32>,
    /// Clock cycles from the end of reset until the last result beat was taken.
    pub cycles: u64,
    /// Wall time of the simulation: reset and the clocked loop, not the
    /// host-side preparation of the stream beats.
    pub wall: Duration,
}

/// Port indices of the stream interface, looked up once per run.
struct StreamPorts {
    clk: usize,
    rst_n: usize,
    act_valid: usize,
    act_ready: usize,
    act_last: usize,
    act_data: usize,
    wgt_valid: usize,
    wgt_ready: usize,
    wgt_data: usize,
    res_valid: usize,
    res_ready: usize,
    res_data: usize,
}

impl StreamPorts {
    /// Find every port of `top_ports(cfg)` on `model`, checking direction and width.
    fn find(model: &SimModel, cfg: &ArrayConfig) -> Result<StreamPorts, SimError> {
        let expected = top_ports(cfg);
        let mut idx = Vec::with_capacity(expected.len());
        for want in &expected {
            let i = model.port_index(&want.name)?;
            let have = &model.ports()[i];
            if have.dir != want.dir || have.width != want.width {
                return Err(SimError::Port {
                    port: want.name.clone(),
                    detail: format!(
                        "model has {:?} {}b but config `{}` needs {:?} {}b (model built for another config?)",
                        have.dir,
                        have.width,
                        cfg.slug(),
                        want.dir,
                        want.width
                    ),
                });
            }
            idx.push(i);
        }
        let by = |name: &str| -> usize {
            expected.iter().position(|p| p.name == name).map_or(usize::MAX, |k| idx[k])
        };
        Ok(StreamPorts {
            clk: by("clk_i"),
            rst_n: by("rst_ni"),
            act_valid: by("act_valid_i"),
            act_ready: by("act_ready_o"),
            act_last: by("act_last_i"),
            act_data: by("act_data_i"),
            wgt_valid: by("wgt_valid_i"),
            wgt_ready: by("wgt_ready_o"),
            wgt_data: by("wgt_data_i"),
            res_valid: by("res_valid_o"),
            res_ready: by("res_ready_i"),
            res_data: by("res_data_o"),
        })
    }
}

/// Run `y = W·x` on `model`, an array generated for `cfg`: reset it, stream
/// every row tile, collect one result beat per tile. Errors (never panics)
/// on shape or type mismatches, a model of another config, or a design that
/// stops making progress.
pub fn run_gemv(model: &mut SimModel, cfg: &ArrayConfig, w: &WeightMatrix, x: &[i8]) -> Result<GemvRun, SimError> {
    if x.len() != w.cols() {
        return Err(SimError::Shape(format!("x has {} activations but W is {}x{}", x.len(), w.rows(), w.cols())));
    }
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
    let p = StreamPorts::find(model, cfg)?;

    let rows = cfg.rows();
    let tiles = w.rows().div_ceil(rows);
    let act: Vec<Beat> = rtl_act_beats(cfg, x);
    let kt = k_tiles(cfg, w.cols());
    let wgt: Vec<Beat> = (0..tiles).flat_map(|t| rtl_weight_beats(cfg, w, t * rows)).collect();
    let act_total = tiles * kt;
    let limit = 64 * (act_total + wgt.len() + tiles) as u64 + 1000;

    let start = Instant::now();
    // Reset: inputs idle, rst_ni low for two cycles.
    for idx in [p.act_valid, p.act_last, p.wgt_valid, p.res_ready, p.rst_n, p.clk] {
        model.set_bit(idx, false)?;
    }
    model.tick();
    model.tick();
    model.set_bit(p.rst_n, true)?;
    model.set_bit(p.res_ready, true)?;

    let mut results: Vec<i32> = Vec::with_capacity(tiles * rows);
    let mut res_words = vec![0u32; lutcore_gen::shim::port_words(cfg.result_beat_bits())];
    let (mut act_pos, mut wgt_pos) = (0usize, 0usize);
    // Index of the beat currently on each data port (avoids re-copying wide beats).
    let (mut act_shown, mut wgt_shown) = (usize::MAX, usize::MAX);
    let mut cycles: u64 = 0;
    while results.len() < tiles * rows {
        if cycles >= limit {
            return Err(SimError::Deadlock {
                cycles,
                detail: format!(
                    "{}x{} GEMV on {}: activation beats {act_pos}/{act_total}, weight beats {wgt_pos}/{}, results {}/{tiles}",
                    w.rows(),
                    w.cols(),
                    cfg.slug(),
                    wgt.len(),
                    results.len() / rows
                ),
            });
        }
        let act_valid = act_pos < act_total;
        if act_valid && act_shown != act_pos {
            model.set_idx(p.act_data, &act[act_pos % kt])?;
            model.set_bit(p.act_last, act_pos % kt == kt - 1)?;
            act_shown = act_pos;
        }
        model.set_bit(p.act_valid, act_valid)?;
        let wgt_valid = wgt_pos < wgt.len();
        if wgt_valid && wgt_shown != wgt_pos {
            model.set_idx(p.wgt_data, &wgt[wgt_pos])?;
            wgt_shown = wgt_pos;
        }
        model.set_bit(p.wgt_valid, wgt_valid)?;

        model.set_bit(p.clk, false)?;
        model.eval();
        let act_fire = act_valid && model.get_bit(p.act_ready)?;
        let wgt_fire = wgt_valid && model.get_bit(p.wgt_ready)?;
        let res_fire = model.get_bit(p.res_valid)?;
        if res_fire {
            model.get_idx_into(p.res_data, &mut res_words)?;
        }
        model.set_bit(p.clk, true)?;
        model.eval();
        cycles += 1;

        act_pos += usize::from(act_fire);
        wgt_pos += usize::from(wgt_fire);
        if res_fire {
            results.extend(res_words.iter().take(rows).map(|&v| v as i32));
        }
    }
    results.truncate(w.rows());
    Ok(GemvRun { results, cycles, wall: start.elapsed() })
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
        Self::from_design(&lutcore_gen::generate(cfg))
    }

    /// Build (or reuse) the library of `design` and instantiate it.
    pub fn from_design(design: &Design) -> Result<Simulator, SimError> {
        let library = SimLibrary::build(design)?;
        let model = library.instantiate()?;
        Ok(Simulator { cfg: design.config.clone(), library, model })
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
    pub fn gemv(&mut self, w: &WeightMatrix, x: &[i8]) -> Result<GemvRun, SimError> {
        run_gemv(&mut self.model, &self.cfg, w, x)
    }
}
