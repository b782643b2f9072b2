//! A bounded-time, seeded fuzzer of the GGUF reader, the tokenizer reader and
//! the model loader (issue 14): mutations of two valid small model files —
//! bit flips, byte overwrites, length / count / dimension / offset / type
//! fields overwritten with huge or odd values, float fields set to NaN or
//! inf, truncations, inserted and deleted bytes. Every input must give `Ok`
//! or `Err`: never a panic, never an absurd allocation (a guard allocator
//! aborts the test on any single request above [`ALLOC_LIMIT`]).
//!
//! Environment: `LUTCORE_FUZZ_SEED` (default 14), `LUTCORE_FUZZ_ITERS`
//! (default 20000), `LUTCORE_FUZZ_SECS` (default 20: stop early after this
//! long). A failure prints the seed and iteration; iteration `i` depends only
//! on the seed and `i`, so the same seed with `LUTCORE_FUZZ_ITERS=i+1`
//! reproduces it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use lutcore_sw::backend::{LutBackend, RefBackend};
use lutcore_sw::gguf::{GgmlType, GgufFile};
use lutcore_sw::model::synth::{write_model, write_toy_vocab, SynthShape};
use lutcore_sw::model::{tokenizer_from_gguf, Model, Session};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Largest single allocation allowed: the base files are ~100–200 KB and
/// nothing derived from them legitimately needs more than a few MB.
const ALLOC_LIMIT: usize = 256 << 20;

/// Current iteration and seed, for the abort message of the guard allocator.
static ITERATION: AtomicUsize = AtomicUsize::new(usize::MAX);
static SEED: AtomicU64 = AtomicU64::new(0);

struct Guard;

impl Guard {
    /// Report an oversized request without allocating, then refuse it (the
    /// default alloc error handler aborts the test).
    fn refuse(size: usize) {
        let mut msg = [0u8; 160];
        let mut n = 0;
        let mut put = |s: &[u8]| {
            for &b in s.iter().skip_while(|&&b| b == b' ') {
                if n < msg.len() {
                    msg[n] = b;
                    n += 1;
                }
            }
        };
        put(b"\nfuzz_gguf: refused an allocation of ");
        put(&digits(size as u64));
        put(b" bytes at iteration ");
        put(&digits(ITERATION.load(Ordering::Relaxed) as u64));
        put(b" of seed ");
        put(&digits(SEED.load(Ordering::Relaxed)));
        put(b"\n");
        let _ = std::io::stderr().write_all(&msg[..n]);
    }
}

/// Decimal digits of `v` without allocating, right-aligned in 20 bytes (leading spaces).
fn digits(mut v: u64) -> [u8; 20] {
    let mut out = [b' '; 20];
    let mut i = 20;
    loop {
        i -= 1;
        out[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 || i == 0 {
            break;
        }
    }
    out
}

unsafe impl GlobalAlloc for Guard {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > ALLOC_LIMIT {
            Guard::refuse(layout.size());
            return std::ptr::null_mut();
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() > ALLOC_LIMIT {
            Guard::refuse(layout.size());
            return std::ptr::null_mut();
        }
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > ALLOC_LIMIT {
            Guard::refuse(new_size);
            return std::ptr::null_mut();
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GUARD: Guard = Guard;

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a whole number")),
        Err(_) => default,
    }
}

/// Offsets of the fields of a valid GGUF file, found by walking it here
/// (independently of the reader under test).
#[derive(Default, Debug)]
struct Fields {
    /// u64 counts, lengths, dimensions, offsets.
    u64s: Vec<usize>,
    /// u32 value types, element types, n_dims, tensor types.
    u32s: Vec<usize>,
    /// u32 / i32 scalar values (hyper-parameters, token ids).
    u32_values: Vec<usize>,
    /// f32 scalar values.
    f32s: Vec<usize>,
    /// Start of each metadata entry and tensor info, and of the data section.
    starts: Vec<usize>,
}

fn walk(b: &[u8]) -> Fields {
    struct W<'a> {
        b: &'a [u8],
        p: usize,
        f: Fields,
    }
    impl W<'_> {
        fn u32(&mut self) -> u32 {
            self.f.u32s.push(self.p);
            let v = u32::from_le_bytes(self.b[self.p..self.p + 4].try_into().unwrap());
            self.p += 4;
            v
        }
        fn u64(&mut self) -> u64 {
            self.f.u64s.push(self.p);
            let v = u64::from_le_bytes(self.b[self.p..self.p + 8].try_into().unwrap());
            self.p += 8;
            v
        }
        fn string(&mut self) {
            let n = self.u64() as usize;
            self.p += n;
        }
        fn value(&mut self, ty: u32) {
            match ty {
                0 | 1 | 7 => self.p += 1,
                2 | 3 => self.p += 2,
                4 | 5 => {
                    self.f.u32_values.push(self.p);
                    self.p += 4
                }
                6 => {
                    self.f.f32s.push(self.p);
                    self.p += 4
                }
                8 => self.string(),
                9 => {
                    let et = self.u32();
                    let n = self.u64();
                    for _ in 0..n {
                        self.value(et);
                    }
                }
                10 | 11 => {
                    self.u64();
                }
                12 => self.p += 8,
                other => panic!("walk: value type {other}"),
            }
        }
    }
    let mut w = W {
        b,
        p: 8,
        f: Fields::default(),
    };
    let n_tensors = w.u64();
    let n_kv = w.u64();
    for _ in 0..n_kv {
        w.f.starts.push(w.p);
        w.string();
        let ty = w.u32();
        w.value(ty);
    }
    for _ in 0..n_tensors {
        w.f.starts.push(w.p);
        w.string();
        let n_dims = w.u32();
        for _ in 0..n_dims {
            w.u64();
        }
        w.u32();
        w.u64();
    }
    w.f.starts.push(w.p.next_multiple_of(32));
    w.f
}

/// Values that break naive size arithmetic.
fn odd_u64(rng: &mut ChaCha8Rng, len: usize, orig: u64) -> u64 {
    let choices = [
        0,
        1,
        2,
        5,
        (1 << 31) - 1,
        1 << 31,
        u32::MAX as u64,
        1 << 32,
        1 << 40,
        1 << 62,
        1 << 63,
        u64::MAX,
        u64::MAX - 1,
        len as u64,
        len as u64 + 1,
        orig.wrapping_add(1),
        orig.wrapping_sub(1),
        orig.wrapping_mul(2),
        1_000_000_000,
        rng.gen(),
    ];
    choices[rng.gen_range(0..choices.len())]
}

/// One random mutation of `b`; returns what it did.
fn mutate(rng: &mut ChaCha8Rng, b: &mut Vec<u8>, f: &Fields) -> String {
    let len = b.len();
    let kind = rng.gen_range(0..10);
    match kind {
        0 => {
            let at = rng.gen_range(0..len);
            let bit = rng.gen_range(0..8);
            b[at] ^= 1 << bit;
            format!("flip bit {bit} of byte {at}")
        }
        1 => {
            // Bytes of the header, metadata and tensor infos are where the structure lives.
            let end = f.starts.last().copied().unwrap_or(len).min(len);
            let at = rng.gen_range(0..end.max(1));
            let v = [0u8, 0x7f, 0x80, 0xff, rng.gen()][rng.gen_range(0..5)];
            b[at] = v;
            format!("byte {at} = {v:#04x}")
        }
        2 | 3 => {
            let at = f.u64s[rng.gen_range(0..f.u64s.len())];
            if at + 8 > len {
                return "no-op".into();
            }
            let orig = u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
            let v = odd_u64(rng, len, orig);
            b[at..at + 8].copy_from_slice(&v.to_le_bytes());
            format!("u64 at {at}: {orig} -> {v}")
        }
        4 => {
            let at = f.u32s[rng.gen_range(0..f.u32s.len())];
            if at + 4 > len {
                return "no-op".into();
            }
            let v: u32 =
                [rng.gen_range(0..40), 5, 13, 36, u32::MAX, rng.gen()][rng.gen_range(0..6)];
            b[at..at + 4].copy_from_slice(&v.to_le_bytes());
            format!("u32 at {at} = {v}")
        }
        9 => {
            // A u32 hyper-parameter (block_count, head counts, lengths, token ids).
            let at = f.u32_values[rng.gen_range(0..f.u32_values.len())];
            if at + 4 > len {
                return "no-op".into();
            }
            let orig = u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
            let v = odd_u64(rng, len, u64::from(orig)) as u32;
            b[at..at + 4].copy_from_slice(&v.to_le_bytes());
            format!("u32 value at {at}: {orig} -> {v}")
        }
        5 => {
            if f.f32s.is_empty() {
                return "no-op".into();
            }
            let at = f.f32s[rng.gen_range(0..f.f32s.len())];
            if at + 4 > len {
                return "no-op".into();
            }
            let v = [
                f32::NAN,
                f32::INFINITY,
                f32::NEG_INFINITY,
                0.0,
                -1.0,
                1e38,
                f32::MIN_POSITIVE,
            ][rng.gen_range(0..7)];
            b[at..at + 4].copy_from_slice(&v.to_le_bytes());
            format!("f32 at {at} = {v}")
        }
        6 => {
            let at = if rng.gen_bool(0.5) {
                f.starts[rng.gen_range(0..f.starts.len())].min(len)
            } else {
                rng.gen_range(0..len)
            };
            b.truncate(at);
            format!("truncate to {at}")
        }
        7 => {
            let at = if rng.gen_bool(0.5) {
                f.starts[rng.gen_range(0..f.starts.len())].min(len)
            } else {
                rng.gen_range(0..len)
            };
            let n = rng.gen_range(1..=16);
            let bytes: Vec<u8> = (0..n).map(|_| rng.gen()).collect();
            b.splice(at..at, bytes);
            format!("insert {n} bytes at {at}")
        }
        8 => {
            let at = rng.gen_range(0..len);
            let n = rng.gen_range(1..=16).min(len - at);
            b.drain(at..at + n);
            format!("delete {n} bytes at {at}")
        }
        _ => unreachable!("kind {kind}"),
    }
}

/// What an input reached.
#[derive(Default, Debug)]
struct Tally {
    parse_err: usize,
    tokenizer_ok: usize,
    load_err: usize,
    load_ok: usize,
    forward_ok: usize,
}

/// Parse, read the tokenizer, load the model and run it; all errors are fine.
fn exercise(bytes: Vec<u8>, lut: bool, t: &mut Tally) {
    let f = match GgufFile::from_bytes("fuzz.gguf", bytes) {
        Ok(f) => f,
        Err(e) => {
            assert!(
                e.to_string().contains("fuzz.gguf"),
                "error does not name the file: {e}"
            );
            t.parse_err += 1;
            return;
        }
    };
    if let Ok(tok) = tokenizer_from_gguf(&f) {
        t.tokenizer_ok += 1;
        let ids = tok.encode("hello world, the quick fox", true);
        let _ = tok.decode(&ids);
    }
    let model = if lut {
        Model::from_gguf(&f, &LutBackend { threads: 1 }, |_, _| {})
    } else {
        Model::from_gguf(&f, &RefBackend, |_, _| {})
    };
    match model {
        Err(e) => {
            assert!(
                e.to_string().contains("fuzz.gguf"),
                "error does not name the file: {e}"
            );
            t.load_err += 1;
        }
        Ok(m) => {
            t.load_ok += 1;
            let mut s = Session::new(&m, 1);
            if s.cache.reserve(4, m.config.head_dim).is_ok() && s.forward(&[1, 2], false).is_ok() {
                t.forward_ok += 1;
            }
        }
    }
}

fn base_files() -> Vec<(&'static str, Vec<u8>)> {
    let dir = tempfile::tempdir().unwrap();
    let vocab = dir.path().join("vocab.gguf");
    write_toy_vocab(&vocab).unwrap();
    let shapes = [
        SynthShape {
            name: "fuzz-tq2".into(),
            arch: "bitnet",
            hidden: 256,
            ffn: 256,
            layers: 1,
            heads: 4,
            kv_heads: 4,
            vocab: 312,
            rope_theta: 1e4,
            ternary: GgmlType::TQ2_0,
            tokenizer: "spm",
        },
        SynthShape {
            name: "fuzz-i2s".into(),
            arch: "bitnet-b1.58",
            hidden: 128,
            ffn: 128,
            layers: 1,
            heads: 2,
            kv_heads: 1,
            vocab: 312,
            rope_theta: 5e5,
            ternary: GgmlType::I2S,
            tokenizer: "spm",
        },
    ];
    let mut out = Vec::new();
    for (i, shape) in shapes.iter().enumerate() {
        let path = dir.path().join(format!("{}.gguf", shape.name));
        write_model(shape, Some(&vocab), 3 + i as u64, &path, |_, _| {}).unwrap();
        out.push((
            if i == 0 { "tq2_0" } else { "i2_s" },
            std::fs::read(&path).unwrap(),
        ));
    }
    out
}

#[test]
fn fuzz_reader_and_loader_never_panic_nor_overallocate() {
    let seed = env_u64("LUTCORE_FUZZ_SEED", 14);
    let iters = env_u64("LUTCORE_FUZZ_ITERS", 20_000);
    let budget = Duration::from_secs(env_u64("LUTCORE_FUZZ_SECS", 20));
    SEED.store(seed, Ordering::Relaxed);
    // Straight to stderr, not through the test harness's capture: shown even if the guard aborts.
    let _ = writeln!(
        std::io::stderr(),
        "fuzz_gguf: seed {seed} (LUTCORE_FUZZ_SEED), up to {iters} iterations (LUTCORE_FUZZ_ITERS) or {budget:?} (LUTCORE_FUZZ_SECS)"
    );
    let bases = base_files();
    let fields: Vec<Fields> = bases.iter().map(|(_, b)| walk(b)).collect();
    // The unmutated files load and run: the fuzzer starts from valid inputs.
    for (name, b) in &bases {
        let mut t = Tally::default();
        exercise(b.clone(), false, &mut t);
        assert_eq!(
            (t.load_ok, t.forward_ok, t.tokenizer_ok),
            (1, 1, 1),
            "base file {name} does not load: {t:?}"
        );
    }
    let start = Instant::now();
    let mut tally = Tally::default();
    let mut done = 0;
    for i in 0..iters {
        if start.elapsed() > budget {
            break;
        }
        ITERATION.store(i as usize, Ordering::Relaxed);
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ i.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let which = rng.gen_range(0..bases.len());
        let mut b = bases[which].1.clone();
        let n = rng.gen_range(1..=3);
        let what: Vec<String> = (0..n)
            .map(|_| {
                if b.is_empty() {
                    "no-op".into()
                } else {
                    mutate(&mut rng, &mut b, &fields[which])
                }
            })
            .collect();
        let lut = rng.gen_bool(0.25);
        let r = catch_unwind(AssertUnwindSafe(|| exercise(b, lut, &mut tally)));
        if r.is_err() {
            panic!(
                "iteration {i} (seed {seed}; reproduce with LUTCORE_FUZZ_SEED={seed} LUTCORE_FUZZ_ITERS={}) panicked on base {} after: {}",
                i + 1,
                bases[which].0,
                what.join("; ")
            );
        }
        done += 1;
    }
    ITERATION.store(usize::MAX, Ordering::Relaxed);
    let _ = writeln!(
        std::io::stderr(),
        "fuzz_gguf: {done} iterations in {:.1} s: {tally:?}",
        start.elapsed().as_secs_f64()
    );
    assert!(
        done >= 100.min(iters),
        "only {done} iterations ran in {budget:?}"
    );
    // The mutations reach every stage (a fuzzer stuck at the header tests little).
    assert!(
        tally.parse_err > 0 && tally.load_err > 0 && tally.load_ok > 0,
        "{tally:?}"
    );
}
