//! `lutcore bench gemv`: time the LUT kernels and the int8 prefill kernel
//! on BitNet-shaped GEMVs, with weights streamed from DRAM (caches evicted
//! between calls) and hot, and put each time beside the DRAM read bandwidth
//! measured in the same run, the exact int8 multiply bound at this core's
//! int8 peak measured in the same run ([`crate::int8_peak`]) and, where
//! given, llama.cpp's time on the same shape (`bench/peer/`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use lutcore_contract::layout::WeightMatrix;
use lutcore_contract::WeightType;
use lutcore_sw::kernels::prefill::{PrefillGemm, PrefillIsa};
use lutcore_sw::kernels::{Isa, KernelError, KernelOptions, LutGemm, Scheme, TableMode};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::args::Shape;
use crate::limits;
use crate::output::{check_output, write_json};

/// Arguments of `lutcore bench gemv`.
#[derive(Args)]
pub(crate) struct BenchGemvArgs {
    /// Shapes MxK (repeatable). Default: the BitNet matrix. M and K at most 16777216 (2^24)
    /// each, M·K at most 268435456 (2^28) weights, batch·M and batch·K at most 67108864 (2^26).
    #[arg(long, value_name = "MxK")]
    shape: Vec<Shape>,
    /// Weight formats: ternary, int1..int4 (N-bit codes; also spelled uintN). Repeatable.
    #[arg(long, value_parser = parse_bench_weights)]
    weights: Vec<WeightType>,
    /// Tokens per call (repeatable), 1..=512. Default: 1 and 8.
    #[arg(long, value_parser = parse_batch)]
    batch: Vec<usize>,
    /// Threads (repeatable), 1..=256. Default: 1 and 2.
    #[arg(long, value_parser = parse_threads)]
    threads: Vec<usize>,
    /// Timed calls per cold measurement (hot runs 4x as many), 1..=1000.
    #[arg(long, default_value_t = 15, value_parser = parse_bench_repeats)]
    repeats: usize,
    /// Skip the native ternary kernel (run only the bit-plane one).
    #[arg(long)]
    no_native: bool,
    /// llama.cpp results from bench/peer/run.py, to print ratios against (at most 64 MiB).
    #[arg(long, value_name = "FILE")]
    peer: Option<PathBuf>,
    /// Write the rows as JSON to FILE (not an input file; written whole or not at all).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

fn parse_batch(s: &str) -> Result<usize, String> {
    crate::args::parse_bounded(s, "--batch", 1, limits::MAX_BATCH)
}

fn parse_threads(s: &str) -> Result<usize, String> {
    crate::args::parse_bounded(s, "--threads", 1, limits::MAX_THREADS)
}

fn parse_bench_repeats(s: &str) -> Result<usize, String> {
    crate::args::parse_bounded(s, "--repeats", 1, limits::MAX_BENCH_REPEATS)
}

fn parse_bench_weights(s: &str) -> Result<WeightType, String> {
    let s = s.trim().to_ascii_lowercase();
    let canonical = match s.strip_prefix("int") {
        Some(bits) => format!("uint{bits}"),
        None => s,
    };
    canonical.parse::<WeightType>().map_err(|e| e.to_string())
}

/// Run `lutcore bench gemv`: the plan from the flags, checked, then measured and tabulated.
pub(crate) fn cmd_bench_gemv(a: &BenchGemvArgs) -> Result<ExitCode> {
    let or = |v: &Vec<usize>, d: &[usize]| if v.is_empty() { d.to_vec() } else { v.clone() };
    let plan = BenchPlan {
        shapes: if a.shape.is_empty() {
            DEFAULT_SHAPES.to_vec()
        } else {
            a.shape.iter().map(|s| s.dims()).collect()
        },
        weights: if a.weights.is_empty() {
            WeightType::ALL.to_vec()
        } else {
            a.weights.clone()
        },
        batches: or(&a.batch, &[1, 8]),
        threads: or(&a.threads, &[1, 2]),
        repeats: a.repeats,
        native_ternary: !a.no_native,
    };
    // The value parsers bound each flag; these are the limits of their combinations.
    for &(m, k) in &plan.shapes {
        Shape { m, k }.check_weights(limits::MAX_WEIGHTS, "bench gemv")?;
        for &b in &plan.batches {
            if b.saturating_mul(m.max(k)) > limits::MAX_BATCH_ELEMENTS {
                bail!(
                    "--batch {b} with --shape {m}x{k}: batch·max(M, K) = {} is over the limit of {} (2^26) activations or results per call",
                    b as u128 * m.max(k) as u128,
                    limits::MAX_BATCH_ELEMENTS
                );
            }
        }
    }
    let inputs: Vec<(&str, &Path)> = a.peer.iter().map(|p| ("--peer", p.as_path())).collect();
    if let Some(j) = &a.json {
        check_output("--json", j, &inputs)?;
    }
    let peers = match &a.peer {
        Some(p) => read_peers(p)?,
        None => Vec::new(),
    };
    let per_combo = plan.batches.len() * plan.threads.len() * 2;
    let total: usize = plan.shapes.len()
        * plan
            .weights
            .iter()
            .map(|&w| schemes(&plan, w).len())
            .sum::<usize>()
        * per_combo;
    let bar = indicatif::ProgressBar::new(total as u64).with_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}").expect("template"),
    );
    bar.set_message("measuring DRAM bandwidth");
    let (bw, rows) = run(&plan, &peers, |r| {
        bar.inc(1);
        bar.set_message(format!(
            "{} {} {} b{} t{} {}",
            r.shape, r.weights, r.scheme, r.batch, r.threads, r.mode
        ));
    })?;
    bar.finish_and_clear();
    print!("{}", table(&bw, &rows));
    if let Some(path) = &a.json {
        write_json(path, &rows)?;
        println!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Shapes (M×K) of the default matrix: BitNet-3B and -700M projections, and
/// one whose K is not a multiple of 256.
pub const DEFAULT_SHAPES: [(usize, usize); 7] = [
    (8640, 3200),
    (3200, 8640),
    (3200, 3200),
    (4096, 1536),
    (1536, 1536),
    (1536, 4096),
    (1000, 1000),
];

/// One measured row of the report.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// `MxK`.
    pub shape: String,
    /// Weight format (`ternary`, `int1`..`int4` as uint codes).
    pub weights: String,
    /// Kernel scheme (`planes`, `native`: LUT kernels; `prefill`: int8 multiply-add).
    pub scheme: String,
    /// Tokens per GEMM.
    pub batch: usize,
    /// Threads.
    pub threads: usize,
    /// `cold` (weights from DRAM) or `hot` (weights in cache).
    pub mode: String,
    /// ISA that ran.
    pub isa: String,
    /// Median time per call.
    pub us_median: f64,
    /// Packed weight bytes read per call.
    pub weight_bytes: usize,
    /// Weight bytes per second, GB/s.
    pub gbps: f64,
    /// `gbps` over the DRAM read bandwidth measured in this run with the same threads.
    pub bw_fraction: f64,
    /// The yardstick: the time to read `M·K` weights of the format's
    /// code width (2 bits for ternary, N for intN) at that bandwidth, over
    /// `us_median`. Above `bw_fraction` when the layout is denser than the
    /// codes (native ternary: 5 bits per 3 weights).
    pub bound_fraction: f64,
    /// Core clock measured in this run, GHz (a chain of dependent 1-cycle adds).
    pub clock_ghz: f64,
    /// The instruction whose measured rate is the int8 bound: the fastest
    /// int8 dot product of this core (`avx512vnni`, `avxvnni`, `avx2`), or
    /// `yardstick` where none was measured ([`MACS_PER_CYCLE`] at `clock_ghz`).
    pub int8_peak_isa: String,
    /// Its multiply-adds per cycle of `clock_ghz`, one thread, measured in this run.
    pub int8_peak_macs_per_cycle: f64,
    /// The exact int8 multiply bound: `M·K·batch` multiply-adds at
    /// `int8_peak_macs_per_cycle` per cycle per thread at `clock_ghz`, µs.
    pub mac_bound_us: f64,
    /// `us_median / mac_bound_us` (1 = at the bound).
    pub mac_bound_ratio: f64,
    /// Primary peer (llama.cpp type) for this row, if one ran.
    pub peer: Option<String>,
    /// The peer's median time.
    pub peer_us: Option<f64>,
    /// `us_median / peer_us` (below 1: we are faster).
    pub ratio: Option<f64>,
    /// Every peer type that ran on this shape/batch/threads/mode, with its time.
    pub peers: BTreeMap<String, f64>,
    /// Why a peer type could not run this shape, if so.
    pub peer_notes: Vec<String>,
}

/// One line of the peer harness's output (`bench/peer/run.py`).
#[derive(Clone, Debug, Deserialize)]
pub struct PeerRow {
    /// ggml type name, e.g. `tq2_0`.
    #[serde(rename = "type")]
    pub ty: String,
    /// Rows.
    pub m: Option<usize>,
    /// Columns.
    pub k: Option<usize>,
    /// Batch.
    pub n: Option<usize>,
    /// Threads.
    pub threads: Option<usize>,
    /// `cold` / `hot`.
    pub mode: Option<String>,
    /// Median µs.
    pub us_median: Option<f64>,
    /// Why it was skipped.
    pub skipped: Option<String>,
    /// K the peer ran with when its format needed K padded (zero weights).
    pub k_padded: Option<usize>,
}

/// int8 multiply-adds per cycle of one AVX2 core: two `vpmaddubsw` of 32
/// byte pairs per cycle; the bound's rate only where no int8 instruction
/// could be measured ([`crate::int8_peak`]).
pub const MACS_PER_CYCLE: f64 = 64.0;

/// The int8 peak the bound uses: the highest rate of the prefill instruction
/// sets measured now, as (name, multiply-adds per cycle at `clock` GHz), or
/// the [`MACS_PER_CYCLE`] yardstick where none could be measured or the clock
/// is unknown.
pub fn int8_peak(clock: f64) -> (String, f64) {
    PrefillIsa::available()
        .into_iter()
        .filter_map(|isa| Some((isa, crate::int8_peak::macs_per_ns(isa)?)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .filter(|_| clock > 0.0)
        .map(|(isa, per_ns)| (isa.name().to_string(), per_ns / clock))
        .unwrap_or_else(|| ("yardstick".into(), MACS_PER_CYCLE))
}

/// The core clock in GHz, measured: the best of 200 timings of a chain of
/// dependent register adds (one cycle each on every x86-64 core), so it is
/// the clock the core actually ran at (turbo included). Elsewhere (no inline
/// assembly) the `cpu MHz` of /proc/cpuinfo, or 0 when unknown.
pub fn core_clock_ghz() -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        const ITERS: u64 = 100_000;
        let mut best = f64::INFINITY;
        // Many short runs (~0.3 ms each): on a busy machine some run undisturbed.
        for _ in 0..200 {
            let t = Instant::now();
            let mut x = 0u64;
            // SAFETY: register arithmetic only.
            unsafe {
                std::arch::asm!(
                    "2:",
                    "add {x}, 1", "add {x}, 1", "add {x}, 1", "add {x}, 1", "add {x}, 1",
                    "add {x}, 1", "add {x}, 1", "add {x}, 1", "add {x}, 1", "add {x}, 1",
                    "dec {n}",
                    "jnz 2b",
                    x = inout(reg) x,
                    n = inout(reg) ITERS => _,
                    options(nomem, nostack),
                );
            }
            std::hint::black_box(x);
            best = best.min(t.elapsed().as_secs_f64());
        }
        10.0 * ITERS as f64 / best / 1e9
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("cpu MHz"))
                    .and_then(|l| l.split(':').nth(1)?.trim().parse::<f64>().ok())
            })
            .map_or(0.0, |mhz| mhz / 1e3)
    }
}

/// One kernel under test: a LUT GEMM or the prefill GEMM.
enum Kernel {
    Lut(LutGemm),
    Prefill(PrefillGemm),
}

impl Kernel {
    fn gemm(&self, x: &[i8], n: usize, out: &mut [i32]) -> Result<(), KernelError> {
        match self {
            Kernel::Lut(g) => g.gemm(x, n, out),
            Kernel::Prefill(g) => g.gemm(x, n, out),
        }
    }
    fn weight_bytes(&self) -> usize {
        match self {
            Kernel::Lut(g) => g.weight_bytes(),
            Kernel::Prefill(g) => g.weight_bytes(),
        }
    }
    fn isa(&self) -> String {
        match self {
            Kernel::Lut(g) => g.options().isa.name().into(),
            Kernel::Prefill(g) => g.isa().name().into(),
        }
    }
}

/// The schemes `bench gemv` runs on one weight format, in order.
pub fn schemes(plan: &BenchPlan, wtype: WeightType) -> Vec<&'static str> {
    let mut v = vec!["planes"];
    if plan.native_ternary && wtype == WeightType::Ternary {
        v.push("native");
    }
    v.push("prefill");
    v
}

/// The peer types compared against a weight format, primary first.
fn peer_types(weights: WeightType) -> &'static [&'static str] {
    match weights {
        WeightType::Ternary => &["tq2_0", "tq1_0", "q4_0"],
        WeightType::Uint(2) => &["q2_k", "tq2_0"],
        WeightType::Uint(4) => &["q4_0"],
        _ => &[],
    }
}

/// Read-only DRAM bandwidth with `threads` threads, GB/s (best of a few passes
/// over a buffer far larger than any cache).
pub fn dram_read_gbps(threads: usize) -> f64 {
    const BYTES: usize = 512 << 20;
    let buf: Vec<u64> = (0..BYTES / 8).map(|i| i as u64).collect();
    let chunk = buf.len().div_ceil(threads);
    let mut best = 0f64;
    for _ in 0..5 {
        let t = Instant::now();
        let total: u64 = std::thread::scope(|s| {
            let handles: Vec<_> = buf
                .chunks(chunk)
                .map(|c| s.spawn(move || read_sum(c)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("bandwidth thread"))
                .fold(0u64, u64::wrapping_add)
        });
        std::hint::black_box(total);
        best = best.max(BYTES as f64 / t.elapsed().as_secs_f64() / 1e9);
    }
    best
}

/// Sum of `c`, read as fast as the core can: eight independent lanes per
/// 64-byte line (the compiler turns them into vector adds), so the loop is
/// bound by the memory system, not by one dependency chain.
fn read_sum(c: &[u64]) -> u64 {
    let mut acc = [0u64; 8];
    let lines = c.chunks_exact(8);
    let tail: u64 = lines.remainder().iter().fold(0, |a, &v| a.wrapping_add(v));
    for line in lines {
        for (a, v) in acc.iter_mut().zip(line) {
            *a = a.wrapping_add(*v);
        }
    }
    acc.iter().fold(tail, |a, &v| a.wrapping_add(v))
}

/// Bytes to touch between calls so that the weights leave every cache level:
/// 4× the last-level cache (as the kernel reports it), at least 64 MiB.
fn evict_bytes() -> usize {
    let llc = std::fs::read_to_string("/sys/devices/system/cpu/cpu0/cache/index3/size")
        .ok()
        .and_then(|s| {
            let s = s.trim();
            let (num, mul) = match s.strip_suffix('K') {
                Some(n) => (n, 1 << 10),
                None => (s.strip_suffix('M').unwrap_or(s), 1 << 20),
            };
            num.parse::<usize>().ok().map(|n| n * mul)
        })
        .unwrap_or(32 << 20);
    (4 * llc).max(64 << 20)
}

/// A buffer whose every cache line is rewritten between timed calls.
struct Evictor(Vec<u8>);

impl Evictor {
    fn evict(&mut self) {
        for (i, line) in self.0.chunks_mut(64).enumerate() {
            line[0] = line[0].wrapping_add(i as u8);
        }
        std::hint::black_box(&self.0);
    }
}

/// The middle of `v` once sorted (the upper one of an even count).
pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// What to run.
pub struct BenchPlan {
    /// M×K shapes.
    pub shapes: Vec<(usize, usize)>,
    /// Weight formats.
    pub weights: Vec<WeightType>,
    /// Batches.
    pub batches: Vec<usize>,
    /// Thread counts.
    pub threads: Vec<usize>,
    /// Repeats of a cold measurement (hot uses 4×).
    pub repeats: usize,
    /// Also run the native ternary scheme for ternary weights.
    pub native_ternary: bool,
}

/// A random weight matrix: every value of the type equally likely (for
/// ternary, a third zeros, roughly as absmean-quantized BitNet weights).
/// `m·k` must not overflow, and the values must fit in memory (an error otherwise,
/// not an abort); the callers bound the shape first (`limits::MAX_WEIGHTS`).
pub fn random_weights(
    rng: &mut ChaCha8Rng,
    wtype: WeightType,
    m: usize,
    k: usize,
) -> Result<WeightMatrix> {
    let n = m
        .checked_mul(k)
        .with_context(|| format!("{m}x{k} weights: M·K overflows"))?;
    let mut values: Vec<i32> = Vec::new();
    values
        .try_reserve_exact(n)
        .with_context(|| format!("cannot allocate {n} weights ({m}x{k}) in memory"))?;
    values.extend((0..n).map(|_| rng.gen_range(wtype.min_value()..=wtype.max_value())));
    Ok(WeightMatrix::from_values(m, k, wtype, &values)?)
}

/// Run the plan; `progress` is told after each row.
pub fn run(
    plan: &BenchPlan,
    peers: &[PeerRow],
    mut progress: impl FnMut(&Row),
) -> Result<(BTreeMap<usize, f64>, Vec<Row>)> {
    let mut bw = BTreeMap::new();
    for &t in &plan.threads {
        bw.insert(t, dram_read_gbps(t));
    }
    let mut evictor = Evictor(vec![0u8; evict_bytes()]);
    let clock = core_clock_ghz();
    let (peak_isa, peak) = int8_peak(clock);
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut rows = Vec::new();
    for &(m, k) in &plan.shapes {
        for &wtype in &plan.weights {
            let w = random_weights(&mut rng, wtype, m, k)?;
            for scheme in schemes(plan, wtype) {
                for &threads in &plan.threads {
                    let lut = |scheme| {
                        let opts = KernelOptions {
                            isa: Isa::detect(),
                            threads,
                            tables: TableMode::Exact,
                            scheme,
                        };
                        LutGemm::new(&w, &opts).map(Kernel::Lut)
                    };
                    let kernel = match scheme {
                        "planes" => lut(Scheme::BitPlanes),
                        "native" => lut(Scheme::TernaryNative),
                        _ => {
                            PrefillGemm::new(&w, PrefillIsa::detect(), threads).map(Kernel::Prefill)
                        }
                    }
                    .with_context(|| format!("{wtype} {m}x{k} {scheme}"))?;
                    for &batch in &plan.batches {
                        let x: Vec<i8> = (0..batch * k).map(|_| rng.gen()).collect();
                        let mut out = vec![0i32; batch * m];
                        for (mode, repeats) in [("cold", plan.repeats), ("hot", plan.repeats * 4)] {
                            kernel.gemm(&x, batch, &mut out)?; // warm-up: thread pool, tables
                            let mut times = Vec::with_capacity(repeats);
                            for _ in 0..repeats {
                                if mode == "cold" {
                                    evictor.evict();
                                }
                                let t = Instant::now();
                                kernel.gemm(&x, batch, &mut out)?;
                                times.push(t.elapsed());
                            }
                            let us = median(times).as_secs_f64() * 1e6;
                            let bytes = kernel.weight_bytes();
                            let gbps = bytes as f64 / us / 1e3;
                            let find = |ty: &str| {
                                peers.iter().find(|p| {
                                    p.ty == ty
                                        && p.m == Some(m)
                                        && p.k == Some(k)
                                        && p.n == Some(batch)
                                        && p.threads == Some(threads)
                                        && p.mode.as_deref() == Some(mode)
                                })
                            };
                            let mut peer_times = BTreeMap::new();
                            let mut notes = Vec::new();
                            for ty in peer_types(wtype) {
                                match find(ty) {
                                    Some(PeerRow {
                                        us_median: Some(t),
                                        k_padded,
                                        ..
                                    }) => {
                                        peer_times.insert(ty.to_string(), *t);
                                        if let Some(kp) = k_padded {
                                            notes.push(format!("{ty}: ran with K padded to {kp} (format needs K % 256 == 0)"));
                                        }
                                    }
                                    Some(PeerRow {
                                        skipped: Some(why), ..
                                    }) => notes.push(format!("{ty}: {why}")),
                                    _ => {}
                                }
                            }
                            let primary = peer_types(wtype)
                                .iter()
                                .find(|t| peer_times.contains_key(**t));
                            let mac_bound_us =
                                (m * k * batch) as f64 / (peak * threads as f64 * clock * 1e3);
                            let row = Row {
                                shape: format!("{m}x{k}"),
                                weights: wtype.to_string(),
                                scheme: scheme.into(),
                                batch,
                                threads,
                                mode: mode.into(),
                                isa: kernel.isa(),
                                us_median: us,
                                weight_bytes: bytes,
                                gbps,
                                bw_fraction: gbps / bw[&threads],
                                bound_fraction: code_bytes(wtype, m, k) / (bw[&threads] * 1e3) / us,
                                clock_ghz: clock,
                                int8_peak_isa: peak_isa.clone(),
                                int8_peak_macs_per_cycle: peak,
                                mac_bound_us,
                                mac_bound_ratio: us / mac_bound_us,
                                peer: primary.map(|s| s.to_string()),
                                peer_us: primary.map(|p| peer_times[*p]),
                                ratio: primary.map(|p| us / peer_times[*p]),
                                peers: peer_times,
                                peer_notes: notes,
                            };
                            progress(&row);
                            rows.push(row);
                        }
                    }
                }
            }
        }
    }
    Ok((bw, rows))
}

/// Bytes of `m·k` weights at the format's code width (2 bits for ternary).
fn code_bytes(wtype: WeightType, m: usize, k: usize) -> f64 {
    (m * k) as f64 * f64::from(wtype.bits()) / 8.0
}

/// Cost of the largest batch against batch 1, per (shape, weights, scheme,
/// threads, mode): `(label, batch, ratio)` for every group that ran both.
pub fn batch_costs(rows: &[Row]) -> Vec<(String, usize, f64)> {
    let key = |r: &Row| {
        (
            r.shape.clone(),
            r.weights.clone(),
            r.scheme.clone(),
            r.threads,
            r.mode.clone(),
        )
    };
    let mut out = Vec::new();
    for one in rows.iter().filter(|r| r.batch == 1) {
        let same: Vec<&Row> = rows
            .iter()
            .filter(|r| key(r) == key(one) && r.batch > 1)
            .collect();
        if let Some(big) = same.iter().max_by_key(|r| r.batch) {
            let (shape, weights, scheme, threads, mode) = key(one);
            out.push((
                format!("{shape} {weights} {scheme} {threads}t {mode}"),
                big.batch,
                big.us_median / one.us_median,
            ));
        }
    }
    out
}

/// Read the peer harness output: a JSON array, or one object per line.
pub fn read_peers(path: &Path) -> Result<Vec<PeerRow>> {
    let text = crate::args::read_text_file("--peer file", path, limits::MAX_PEER_BYTES)?;
    if text.trim_start().starts_with('[') {
        return serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()));
    }
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l)
                .with_context(|| format!("parsing a line of {}: {l}", path.display()))
        })
        .collect()
}

/// The human table.
pub fn table(bw: &BTreeMap<usize, f64>, rows: &[Row]) -> String {
    let mut s = String::new();
    for (t, g) in bw {
        s += &format!("DRAM read bandwidth, {t} thread(s): {g:.1} GB/s (measured in this run)\n");
    }
    if let Some(r) = rows.first() {
        s += &format!(
            "core clock: {:.2} GHz (measured in this run: dependent 1-cycle adds); int8 bound = M*K*batch multiply-adds at {:.1} per cycle per thread ({}, measured in this run: back-to-back independent dot products)\n",
            r.clock_ghz, r.int8_peak_macs_per_cycle, r.int8_peak_isa
        );
    }
    s += &format!(
        "{:<10} {:<8} {:<7} {:>5} {:>3} {:<4} {:>9} {:>7} {:>6} {:>6} {:<6} {:>9} {:>6} {:>7} {:<10}\n",
        "shape", "weights", "scheme", "batch", "thr", "mode", "us", "GB/s", "bw%", "bound%", "peer", "peer us", "ratio", "int8x", "isa"
    );
    let mut notes = std::collections::BTreeSet::new();
    for r in rows {
        notes.extend(r.peer_notes.iter().map(|n| format!("{} {}", r.shape, n)));
        s += &format!(
            "{:<10} {:<8} {:<7} {:>5} {:>3} {:<4} {:>9.1} {:>7.2} {:>5.0}% {:>5.0}% {:<6} {:>9} {:>6} {:>7.2} {:<10}\n",
            r.shape,
            r.weights,
            r.scheme,
            r.batch,
            r.threads,
            r.mode,
            r.us_median,
            r.gbps,
            100.0 * r.bw_fraction,
            100.0 * r.bound_fraction,
            r.peer.as_deref().unwrap_or("-"),
            r.peer_us.map_or("-".into(), |v| format!("{v:.1}")),
            r.ratio.map_or("-".into(), |v| format!("{v:.2}")),
            r.mac_bound_ratio,
            r.isa,
        );
    }
    s += "bw% = weight bytes/s over the DRAM read bandwidth (hot rows can exceed 100%: weights in cache).\n";
    s += "bound% = time to read M*K weights at their code width (2 bits for ternary) at that bandwidth, over our time.\n";
    s += "ratio = our time / peer time (below 1: lutcore is faster).\n";
    s += "int8x = our time / the int8 multiply bound (1.00 = at the bound; LUT rows are not multiply-bound).\n";
    let costs = batch_costs(rows);
    if !costs.is_empty() {
        s += "batch cost (time of the largest batch / time of batch 1):\n";
        for (label, batch, ratio) in costs {
            s += &format!("  {label}: batch {batch} = {ratio:.2}x batch 1\n");
        }
    }
    for n in notes {
        s += &format!("note: {n}\n");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(shape: &str, scheme: &str, batch: usize, us: f64) -> Row {
        Row {
            shape: shape.into(),
            weights: "ternary".into(),
            scheme: scheme.into(),
            batch,
            threads: 1,
            mode: "cold".into(),
            isa: "avx2".into(),
            us_median: us,
            weight_bytes: 0,
            gbps: 0.0,
            bw_fraction: 0.0,
            bound_fraction: 0.0,
            clock_ghz: 3.0,
            int8_peak_isa: "avx2".into(),
            int8_peak_macs_per_cycle: 64.0,
            mac_bound_us: 1.0,
            mac_bound_ratio: 1.0,
            peer: None,
            peer_us: None,
            ratio: None,
            peers: BTreeMap::new(),
            peer_notes: Vec::new(),
        }
    }

    #[test]
    fn batch_cost_is_the_largest_batch_over_batch_one_of_the_same_kernel() {
        let rows = [
            row("8x8", "native", 1, 10.0),
            row("8x8", "native", 8, 25.0),
            row("8x8", "planes", 1, 4.0),
            row("8x8", "native", 4, 99.0),
        ];
        let costs = batch_costs(&rows);
        // planes ran batch 1 only: nothing to compare it with
        assert_eq!(costs.len(), 1, "{costs:?}");
        assert_eq!(costs[0].0, "8x8 ternary native 1t cold");
        assert_eq!((costs[0].1, costs[0].2), (8, 2.5));
    }

    #[test]
    fn the_bound_counts_ternary_at_two_bits_and_intn_at_n() {
        assert_eq!(code_bytes(WeightType::Ternary, 8640, 3200), 6_912_000.0);
        assert_eq!(code_bytes(WeightType::Uint(4), 10, 10), 50.0);
    }
}
