//! Waveform tracing: a trace build of a small array writes an FST (and a
//! VCD) file of one GEMV that holds the top's signals, the trace spans the
//! GEMV's cycles, and the results stay bit-exact.

use std::path::Path;

use lutcore_contract::config::{preset, ArrayConfig};
use lutcore_contract::layout::WeightMatrix;
use lutcore_contract::reference::gemv_plain;
use lutcore_sim::{BuildOptions, SimError, Simulator, TraceFormat, TRACE_CYCLE};

/// A GEMV of two row tiles on `cfg` with K over two K-tiles.
fn gemv_case(cfg: &ArrayConfig) -> (WeightMatrix, Vec<i8>) {
    let (m, k) = (2 * cfg.rows() + 1, cfg.k_tile() + 3);
    let (lo, hi) = (cfg.weights().min_value(), cfg.weights().max_value());
    let span = i64::from(hi - lo + 1);
    let w: Vec<i32> = (0..m * k)
        .map(|i| lo + ((i as i64 * 7 + 3) % span) as i32)
        .collect();
    let x: Vec<i8> = (0..k)
        .map(|i| ((i as i32 * 37) % 256 - 128) as i8)
        .collect();
    (
        WeightMatrix::from_values(m, k, cfg.weights(), &w).expect("weights in range"),
        x,
    )
}

fn expected(w: &WeightMatrix, x: &[i8]) -> Vec<i32> {
    gemv_plain(w, x)
        .into_iter()
        .map(|v| i32::try_from(v).expect("fits i32"))
        .collect()
}

fn be64(b: &[u8]) -> u64 {
    u64::from_be_bytes(b[..8].try_into().expect("8 bytes"))
}

/// The FST blocks of `data` as `(type, payload)` (each block: a type byte,
/// a big-endian u64 length that counts itself, the payload).
fn fst_blocks(data: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 9 <= data.len() {
        let len = be64(&data[at + 1..]) as usize;
        assert!(
            len >= 8 && at + 1 + len <= data.len(),
            "truncated FST block at {at}"
        );
        out.push((data[at], &data[at + 9..at + 1 + len]));
        at += 1 + len;
    }
    out
}

/// Decode one LZ4 block (the raw block format, as FST's writer emits it).
fn lz4_block(src: &[u8], out_len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(out_len);
    let mut i = 0;
    let length = |i: &mut usize, mut n: usize| {
        if n == 15 {
            loop {
                let b = src[*i];
                *i += 1;
                n += usize::from(b);
                if b != 255 {
                    break;
                }
            }
        }
        n
    };
    while i < src.len() {
        let token = src[i];
        i += 1;
        let lits = length(&mut i, usize::from(token >> 4));
        out.extend_from_slice(&src[i..i + lits]);
        i += lits;
        if i >= src.len() {
            break; // the last sequence has literals only
        }
        let offset = usize::from(u16::from_le_bytes([src[i], src[i + 1]]));
        i += 2;
        let len = length(&mut i, usize::from(token & 15)) + 4;
        let from = out.len() - offset;
        for k in 0..len {
            out.push(out[from + k]);
        }
    }
    assert_eq!(out.len(), out_len, "LZ4 block decodes to the stated length");
    out
}

/// The hierarchy (scope and signal names) of an FST file that Verilator
/// wrote: block FST_BL_HIER_LZ4 (6), a u64 uncompressed length and one LZ4 block.
fn fst_hierarchy(data: &[u8]) -> String {
    let blocks = fst_blocks(data);
    let types: Vec<u8> = blocks.iter().map(|b| b.0).collect();
    let (_, hier) = blocks
        .into_iter()
        .find(|(t, _)| *t == 6)
        .unwrap_or_else(|| panic!("no LZ4 hierarchy block in {types:?}"));
    String::from_utf8_lossy(&lz4_block(&hier[8..], be64(hier) as usize)).into_owned()
}

#[test]
fn an_fst_trace_of_one_gemv_holds_the_top_signals_and_spans_its_cycles() {
    let cfg = preset("tiny").expect("tiny preset");
    let mut sim = Simulator::with_options(&cfg, &BuildOptions::traced(TraceFormat::Fst))
        .expect("trace build");
    assert_eq!(sim.library().trace_format(), Some(TraceFormat::Fst));
    let dir = tempfile::tempdir().expect("tempdir");
    let (w, x) = gemv_case(&cfg);

    // An untraced run first: tracing starts mid-simulation.
    assert_eq!(sim.gemv(&w, &x).expect("gemv").results, expected(&w, &x));
    let path = dir.path().join("gemv.fst");
    sim.model_mut().trace_open(&path).expect("open trace");
    assert_eq!(sim.model_mut().tracing(), Some(path.as_path()));
    let run = sim.gemv(&w, &x).expect("traced gemv");
    let summary = sim.model_mut().trace_close().expect("a trace was open");
    assert_eq!(
        run.results,
        expected(&w, &x),
        "tracing must not change results"
    );
    assert_eq!(
        (summary.path.as_path(), summary.format),
        (path.as_path(), TraceFormat::Fst)
    );
    // Two reset cycles, then the GEMV's cycles.
    assert_eq!(summary.cycles(), run.cycles + 2, "{summary:?}");
    assert_eq!(summary.end_time, summary.cycles() * TRACE_CYCLE);
    assert!(sim.model_mut().trace_close().is_none());

    let data = std::fs::read(&path).expect("read trace");
    assert!(data.len() > 200, "{} bytes", data.len());
    // FST header block: type 0, length 329, start time, end time.
    assert_eq!((data[0], be64(&data[1..])), (0, 329), "not an FST header");
    let (start, end) = (be64(&data[9..]), be64(&data[17..]));
    assert_eq!(start, 0);
    assert!(
        end + TRACE_CYCLE >= summary.end_time && end < summary.end_time,
        "end {end}, summary {summary:?}"
    );
    let hier = fst_hierarchy(&data);
    for name in [
        "res_valid_o",
        "res_data_o",
        "wgt_data_i",
        "act_ready_o",
        "clk_i",
        cfg_top(&cfg).as_str(),
    ] {
        assert!(
            hier.contains(name),
            "`{name}` missing from the FST hierarchy"
        );
    }

    // A second trace on the same model (the writer is re-registered).
    let again = dir.path().join("again.fst");
    sim.model_mut().trace_open(&again).expect("reopen trace");
    assert_eq!(sim.gemv(&w, &x).expect("gemv").results, expected(&w, &x));
    assert_eq!(
        sim.model_mut().trace_close().expect("open").cycles(),
        run.cycles + 2
    );
    assert!(std::fs::metadata(&again).expect("second trace").len() > 200);

    // The wrong extension, and a missing directory, are errors.
    let e = sim
        .model_mut()
        .trace_open(&dir.path().join("w.vcd"))
        .unwrap_err();
    assert!(
        matches!(e, SimError::Trace { .. }) && e.to_string().contains("vcd"),
        "{e}"
    );
    let e = sim
        .model_mut()
        .trace_open(&dir.path().join("no/such/dir/w.fst"))
        .unwrap_err();
    assert!(matches!(e, SimError::Io { .. }), "{e}");
    assert!(sim.model_mut().tracing().is_none());
}

fn cfg_top(cfg: &ArrayConfig) -> String {
    lutcore_gen::generate(cfg).expect("generate").top
}

#[test]
fn an_untraced_build_refuses_to_trace() {
    let cfg = preset("tiny").expect("tiny preset");
    let mut sim = Simulator::new(&cfg).expect("build");
    assert_eq!(sim.library().trace_format(), None);
    let dir = tempfile::tempdir().expect("tempdir");
    let e = sim
        .model_mut()
        .trace_open(&dir.path().join("w.fst"))
        .unwrap_err();
    assert!(
        matches!(e, SimError::Trace { .. }) && e.to_string().contains("without tracing"),
        "{e}"
    );
    assert!(!Path::new(&dir.path().join("w.fst")).exists());
}
