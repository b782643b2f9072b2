//! The FPGA board top (hdl/lutcore_board.v around the generated `ice40`
//! array) in co-simulation, driven through its UART pins by the same host
//! driver that talks to a real board: GEMVs bit-exact against the plain
//! reference, the protocol's answers, and the batching of row tiles.
//!
//! One Verilated build serves every test (small RAMs so a GEMV of a few
//! dozen rows needs several runs; the co-simulation's baud divider, so a byte is
//! 40 clocks).

use std::sync::OnceLock;

use lutcore_contract::config::{preset, ArrayConfig};
use lutcore_contract::layout::WeightMatrix;
use lutcore_contract::reference::gemv_plain;
use lutcore_sim::board::{op, BoardDriver, BoardError, BoardParams, SimUart, SIM_BAUD_DIV};
use lutcore_sim::{board_design, SimLibrary};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const PARAMS: BoardParams = BoardParams {
    act_aw: 6,
    wgt_aw: 7,
    res_aw: 3,
    baud_div: SIM_BAUD_DIV,
};

fn cfg() -> ArrayConfig {
    preset("ice40").expect("ice40 preset")
}

fn library() -> &'static SimLibrary {
    static LIB: OnceLock<SimLibrary> = OnceLock::new();
    LIB.get_or_init(|| {
        let design = board_design(&cfg(), &PARAMS).expect("board design");
        SimLibrary::build(&design).expect("Verilator build of the board top")
    })
}

fn driver() -> BoardDriver<'static> {
    let uart =
        SimUart::new(library().instantiate().expect("model"), PARAMS.baud_div).expect("uart");
    BoardDriver::new(Box::new(uart))
}

fn random_gemv(m: usize, k: usize, seed: u64) -> (WeightMatrix, Vec<i8>) {
    let cfg = cfg();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let values: Vec<i32> = (0..m * k).map(|_| rng.gen_range(-1..=1)).collect();
    let w = WeightMatrix::from_values(m, k, cfg.weights(), &values).expect("weights");
    let x: Vec<i8> = (0..k).map(|_| rng.gen()).collect();
    (w, x)
}

fn expected(w: &WeightMatrix, x: &[i8]) -> Vec<i32> {
    gemv_plain(w, x)
        .into_iter()
        .map(|v| i32::try_from(v).expect("fits int32"))
        .collect()
}

#[test]
fn info_describes_the_array_and_buffers() {
    let mut d = driver();
    let info = d.check_config(&cfg()).expect("config matches");
    assert_eq!((info.act_bytes, info.wgt_bytes, info.res_bytes), (4, 2, 16));
    assert_eq!((info.act_aw, info.wgt_aw, info.res_aw), (6, 7, 3));
    assert_eq!(info.baud_div, SIM_BAUD_DIV);
}

#[test]
fn a_gemv_over_the_uart_is_bit_exact() {
    let cfg = cfg();
    let mut d = driver();
    // M = 10: three row tiles, the last partial; K = 37: ten K-tiles, the last partial.
    let (w, x) = random_gemv(10, 37, 1);
    let run = d.gemv(&cfg, &w, &x).expect("board GEMV");
    assert_eq!(run.results, expected(&w, &x));
    eprintln!(
        "10x37 GEMV: {} array cycles, {} runs, {} bytes out, {} bytes in",
        run.cycles, run.runs, run.bytes_out, run.bytes_in
    );
    assert_eq!(run.runs, 1);
    // 3 tiles x 10 K-tiles x 2 planes = 60 weight beats at one per cycle, plus pipeline latency.
    assert!(
        run.cycles >= 60 && run.cycles < 60 + 3 * 8 + 16,
        "cycles {}",
        run.cycles
    );
    assert_eq!(d.cycles().expect("CYCLES") as u64, run.cycles);
}

#[test]
fn row_tiles_beyond_the_buffers_take_several_runs() {
    let cfg = cfg();
    let mut d = driver();
    // K = 64: 16 K-tiles x 2 planes = 32 weight beats per row tile; the 128-beat
    // weight RAM holds 4 tiles, so 37 rows (10 tiles) take 3 runs.
    let (w, x) = random_gemv(37, 64, 2);
    let run = d.gemv(&cfg, &w, &x).expect("board GEMV");
    assert_eq!(run.results, expected(&w, &x));
    assert_eq!(run.runs, 3);
    // A second GEMV on the same board (buffers overwritten, array reused).
    let (w2, x2) = random_gemv(5, 9, 3);
    assert_eq!(
        d.gemv(&cfg, &w2, &x2).expect("second GEMV").results,
        expected(&w2, &x2)
    );
}

#[test]
fn extreme_values_survive_the_round_trip() {
    let cfg = cfg();
    let mut d = driver();
    let k = 200;
    for (wv, xv) in [(1, -128i8), (-1, -128), (1, 127), (-1, 127)] {
        let w = WeightMatrix::from_values(4, k, cfg.weights(), &vec![wv; 4 * k]).expect("weights");
        let x = vec![xv; k];
        let run = d.gemv(&cfg, &w, &x).expect("board GEMV");
        assert_eq!(run.results, vec![wv * i32::from(xv) * k as i32; 4]);
    }
}

#[test]
fn unknown_commands_are_refused_and_the_board_stays_usable() {
    let cfg = cfg();
    let mut d = driver();
    assert_eq!(d.raw_command(b'?').expect("answer"), op::NAK);
    let (w, x) = random_gemv(4, 16, 4);
    assert_eq!(
        d.gemv(&cfg, &w, &x).expect("board GEMV").results,
        expected(&w, &x)
    );
}

#[test]
fn a_k_too_long_for_the_buffers_is_an_error_not_a_hang() {
    let cfg = cfg();
    let mut d = driver();
    // 64 activation beats of 4 = K 256 at most.
    let (w, x) = random_gemv(4, 300, 5);
    let e = d.gemv(&cfg, &w, &x).unwrap_err();
    assert!(matches!(e, BoardError::Shape(_)), "{e}");
}

#[test]
fn the_params_check_before_a_build_agrees_with_the_driver() {
    // What `lutcore fpga cosim` checks before building the model must refuse
    // exactly what the driver refuses on the built board (K 256: 64 activation
    // beats, a 128-beat row tile, both at their RAM's depth).
    let cfg = cfg();
    let mut d = driver();
    for (k, fits) in [(256, true), (257, false), (300, false)] {
        let (w, x) = random_gemv(4, k, 7);
        let pre = PARAMS.check_gemv(&cfg, k);
        assert_eq!(pre.is_ok(), fits, "K = {k}: {pre:?}");
        match d.gemv(&cfg, &w, &x) {
            Ok(run) => {
                assert!(
                    fits,
                    "K = {k} ran on the board but the params check refuses it"
                );
                assert_eq!(run.results, expected(&w, &x));
            }
            Err(e) => {
                assert!(
                    !fits,
                    "K = {k}: the params check passes but the board refuses: {e}"
                );
                assert_eq!(e.to_string(), pre.unwrap_err().to_string());
            }
        }
    }
}

#[test]
fn the_array_runs_at_one_weight_beat_per_cycle() {
    let cfg = cfg();
    let mut d = driver();
    // 4 row tiles x 64 K-tiles x 2 planes = 512 weight beats; one tile (128
    // beats) fills the weight RAM, so 4 runs.
    let (w, x) = random_gemv(16, 256, 6);
    let run = d.gemv(&cfg, &w, &x).expect("board GEMV");
    assert_eq!(run.results, expected(&w, &x));
    let beats = 4 * 64 * 2;
    eprintln!(
        "16x256 GEMV: {} array cycles for {beats} weight beats, {} runs",
        run.cycles, run.runs
    );
    assert_eq!(run.runs, 4);
    assert!(
        run.cycles >= beats && run.cycles <= beats + 8 * run.runs as u64,
        "{} cycles for {beats} beats",
        run.cycles
    );
}

#[test]
fn the_board_top_has_no_stream_cycle() {
    // The board top's ports are a UART, not the arrays' stream interface: the
    // one-call clock of the stream protocol is refused, not run on wrong ports.
    let mut model = library().instantiate().expect("model");
    let err = model
        .stream_cycle(lutcore_sim::StreamBeats::default(), &mut [0u32; 32])
        .unwrap_err();
    assert!(err.to_string().contains("no stream interface"), "{err}");
}
