//! [`SpinPool`]: the thread pool of the kernels and the model.
//!
//! Decoding one token runs ~170 matmuls of 20–200 µs each. A pool whose
//! workers go to sleep between them (rayon's) pays a sleep/wake and a context
//! switch per matmul, which at two threads made decoding slower than at one.
//! So idle workers spin for a while (200 µs) waiting for the next job, then
//! nap in 50 µs steps for 20 ms, and only then park (a futex wait).
//!
//! The machines this runs on are shared: a worker can be descheduled at any
//! moment for a whole scheduler slice (milliseconds). The pool degrades to
//! the 1-thread time instead of waiting for it:
//!
//! * **Dynamic claiming.** A job is `0..units` cut into chunks that the
//!   caller and the workers claim one after another from one atomic word
//!   (epoch-tagged, so a worker that slept through a job can never claim from
//!   the next one). Chunks shrink towards the end of a job ("guided"), so the
//!   threads finish within about one `grain` of each other, and a worker that
//!   is late or slow simply claims fewer. The caller always works and takes
//!   whatever nobody else has claimed; only a chunk a worker has already
//!   claimed is ever waited for.
//! * **Never on the caller's core.** A worker that finds itself on the
//!   core of the job's caller (the scheduler of a loaded machine put them
//!   together for every job) moves to another of its cores before it claims
//!   anything; jobs never wake a worker (a woken thread often ran on the
//!   caller's core in its place), napping workers join by themselves.
//! * **No spinning on a busy core.** A worker that notices it was descheduled
//!   while spinning (a gap in its own clock readings) stops spinning for
//!   [`CALM`]: it naps instead, so it neither burns the other program's core
//!   nor gets preempted halfway through a chunk. The caller's own wait at the
//!   end of a job spins for at most [`END_SPIN`], then yields the core.
//! * **Never slower than one thread.** The caller times its own chunks; a job
//!   that took longer than the caller alone would have ([`SLOWER`]) means a
//!   worker held a chunk while descheduled. The pool then runs the next jobs
//!   on the caller alone (16, doubling on every further slow job up to 1024)
//!   before it tries the workers again.

use std::cell::UnsafeCell;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long an idle worker spins before it naps: long enough to cover the
/// gap between two matmuls of one token, short enough not to burn a core
/// while the host does other work.
const SPIN: Duration = Duration::from_micros(200);

/// After spinning, an idle worker naps `NAP` at a time until `NAP_FOR`
/// after its last job, then `LONG_NAP` at a time until `PARK_AFTER`, and
/// only then parks. A job never wakes a worker itself: on a loaded machine
/// the woken thread was often placed on the caller's own core and ran there
/// in its place (8640×3200 ternary, 2 threads, cold, load 8: jobs of
/// 0.56–9 ms after the wake-up call, against 0.27 ms alone), and the
/// system call alone cost the caller 30–40 µs. A napping worker joins a job
/// by itself when its nap ends; until then the caller works alone.
const NAP: Duration = Duration::from_micros(50);
const NAP_FOR: Duration = Duration::from_millis(20);
const LONG_NAP: Duration = Duration::from_millis(1);
const PARK_AFTER: Duration = Duration::from_secs(1);

/// A parked worker wakes by itself after this long (a safety net only: the
/// caller unparks parked workers once a job has finished).
const PARK_FOR: Duration = Duration::from_millis(50);

/// A gap this long between two clock readings of a spinning worker (normally
/// a few µs apart) means the worker was descheduled: its core is shared.
const DESCHEDULED: Duration = Duration::from_micros(100);

/// How long workers stop spinning once a descheduling was seen.
const CALM: Duration = Duration::from_millis(200);

/// How long the caller spins for the workers' last chunks before it yields
/// its core between checks (a descheduled worker needs that core, perhaps).
const END_SPIN: Duration = Duration::from_micros(50);

/// A parallel job is "slower than one thread" when it took more than
/// `SLOWER` times the caller's own time per unit × units, plus [`SLOWER_ABS`]
/// (timer and wake-up noise).
const SLOWER: f64 = 1.1;
const SLOWER_ABS: Duration = Duration::from_micros(20);

/// Jobs run on the caller alone after a slow one: `SOLO_MIN`, doubling on
/// each further slow job, at most `SOLO_MAX`.
const SOLO_MIN: u32 = 16;
const SOLO_MAX: u32 = 1024;

/// Chunk size while claiming: `max(grain, left / (div · threads))`, with
/// `div` = `CALLER_DIV` for the caller and `WORKER_DIV` for a worker.
/// Every chunk restarts the kernels' weight streams from cold, so the caller
/// claims large chunks: with weights from DRAM (8640×3200 ternary GEMV, 2
/// threads, the worker mostly napping) a divisor of 4 took 1.18× the
/// 1-thread time, 2 took 1.15×, 1 took 1.06× (in-process alternation, load
/// 8). A worker claims small ones: a chunk it holds while descheduled is
/// what the caller waits for (decoding at 2 threads, load 5: 35–37
/// tokens/s with workers claiming half the work left, against 40–60 for
/// main's 1/8).
const CALLER_DIV: usize = 1;
const WORKER_DIV: usize = 4;

/// `next` word: epoch in the high 32 bits, next unclaimed unit in the low 32.
const POS_BITS: u32 = 32;
const POS_MASK: u64 = (1 << POS_BITS) - 1;

fn pack(epoch: u32, pos: usize) -> u64 {
    (u64::from(epoch) << POS_BITS) | pos as u64
}
fn unpack(w: u64) -> (u32, usize) {
    ((w >> POS_BITS) as u32, (w & POS_MASK) as usize)
}

type ChunkFn = dyn Fn(Range<usize>) + Sync;

/// The description of one job. Jobs alternate between two slots (by epoch
/// parity): a worker that read the `next` word of job `e` and was then
/// descheduled may still read `units`/`grain` of slot `e & 1`, which is only
/// rewritten for job `e + 2`, after job `e + 1` was published; its claim
/// then fails because the epoch in `next` moved on.
struct Slot {
    /// The chunk function; written by the caller before the job is published,
    /// read by a thread only after it claimed a chunk of this job (the job,
    /// and the closure, outlive every claimed chunk).
    f: UnsafeCell<Option<*const ChunkFn>>,
    units: AtomicUsize,
    grain: AtomicUsize,
}

struct Shared {
    threads: usize,
    /// See [`pack`]; the caller publishes a job by storing `(epoch, 0)`.
    next: AtomicU64,
    slots: [Slot; 2],
    /// Units of the current job whose chunk has returned.
    done: AtomicUsize,
    /// A worker's chunk panicked.
    panicked: AtomicBool,
    shutdown: AtomicBool,
    /// Workers that are parked or about to park: the caller unparks them only
    /// when one may be (see `worker`).
    sleepers: AtomicUsize,
    /// Nanoseconds after `origin` until which workers do not spin.
    calm_until: AtomicU64,
    /// The core the caller of the current job was on ([`current_cpu`]).
    caller_cpu: AtomicU32,
    origin: Instant,
    /// Test hook: a worker stalls as described (see `tests`).
    #[cfg(test)]
    stall: Mutex<Option<Stall>>,
}

// SAFETY: `slots[i].f` is written only by the caller holding `run_lock`
// while no thread can claim a chunk of that slot's job (the job of the other
// slot is current, or none), and read only by threads that claimed a chunk of
// the slot's current job (see `Slot`).
unsafe impl Sync for Shared {}
unsafe impl Send for Shared {}

impl Shared {
    fn now_ns(&self) -> u64 {
        self.origin.elapsed().as_nanos() as u64
    }
    fn calm(&self) -> bool {
        self.now_ns() < self.calm_until.load(Ordering::Relaxed)
    }
    fn set_calm(&self) {
        self.calm_until
            .fetch_max(self.now_ns() + CALM.as_nanos() as u64, Ordering::Relaxed);
    }
}

/// The caller's adaptive state, kept under `run_lock`.
struct Caller {
    /// Epoch of the last job.
    epoch: u32,
    /// Jobs still to run on the caller alone.
    solo_left: u32,
    /// Length of the next solo stretch.
    backoff: u32,
}

/// A pool of `threads - 1` workers plus the calling thread.
pub struct SpinPool {
    shared: Arc<Shared>,
    run_lock: Mutex<Caller>,
    handles: Vec<JoinHandle<()>>,
}

impl SpinPool {
    /// Start `threads - 1` workers (none for one thread).
    pub fn new(threads: usize) -> std::io::Result<SpinPool> {
        let threads = threads.max(1);
        let slot = || Slot {
            f: UnsafeCell::new(None),
            units: AtomicUsize::new(0),
            grain: AtomicUsize::new(1),
        };
        let shared = Arc::new(Shared {
            threads,
            next: AtomicU64::new(pack(0, 0)),
            slots: [slot(), slot()],
            done: AtomicUsize::new(0),
            panicked: AtomicBool::new(false),
            shutdown: AtomicBool::new(false),
            sleepers: AtomicUsize::new(0),
            calm_until: AtomicU64::new(0),
            caller_cpu: AtomicU32::new(NO_CPU),
            origin: Instant::now(),
            #[cfg(test)]
            stall: Mutex::new(None),
        });
        let handles = (1..threads)
            .map(|i| {
                let s = shared.clone();
                std::thread::Builder::new()
                    .name(format!("lutcore-worker-{i}"))
                    .spawn(move || worker(&s))
            })
            .collect::<std::io::Result<Vec<_>>>()?;
        let caller = Caller {
            epoch: 0,
            solo_left: 0,
            backoff: SOLO_MIN,
        };
        Ok(SpinPool {
            shared,
            run_lock: Mutex::new(caller),
            handles,
        })
    }

    /// Threads, the caller included.
    pub fn threads(&self) -> usize {
        self.shared.threads
    }

    /// Run `f` on chunks of `0..units` that cover every unit exactly once
    /// (at least `grain` units each but the last, larger early in the job);
    /// returns when all are done. The caller claims chunks until none is
    /// left; workers that are awake claim chunks beside it, so one that is
    /// still waking up, or descheduled, leaves its share to the caller (see
    /// the module documentation). Calls from several threads are serialized.
    /// A panic in `f` (on any thread) is re-raised here once every chunk has run.
    pub fn run_chunks(&self, units: usize, grain: usize, f: &(dyn Fn(Range<usize>) + Sync)) {
        let s = &*self.shared;
        let grain = grain.max(1);
        // Alone, the caller runs the whole job as one chunk: exactly the
        // 1-thread path of every caller (one pass over the weights, whose
        // prefetch runs on from row block to row block), never a slower one.
        let serial = || {
            if units > 0 {
                f(0..units)
            }
        };
        if s.threads == 1 || units <= grain || units as u64 > POS_MASK {
            return serial();
        }
        let mut caller = self.run_lock.lock().unwrap_or_else(|e| e.into_inner());
        if caller.solo_left > 0 {
            caller.solo_left -= 1;
            return serial();
        }
        let t_job = Instant::now();
        caller.epoch = caller.epoch.wrapping_add(1);
        let epoch = caller.epoch;
        let slot = &s.slots[(epoch & 1) as usize];
        // SAFETY: the lifetime is erased only for the duration of this call:
        // no thread calls it after `done` reaches `units` below.
        let f_static =
            unsafe { std::mem::transmute::<&(dyn Fn(Range<usize>) + Sync), &'static ChunkFn>(f) };
        // SAFETY: no thread can claim a chunk of this slot's job (see `Shared`).
        unsafe { *slot.f.get() = Some(f_static as *const ChunkFn) };
        slot.units.store(units, Ordering::Relaxed);
        slot.grain.store(grain, Ordering::Relaxed);
        s.done.store(0, Ordering::Relaxed);
        // SeqCst pairs with the worker's `sleepers` increment then `next`
        // load: either it sees the new job, or we see it as a sleeper.
        s.next.store(pack(epoch, 0), Ordering::SeqCst);
        let sleepers = s.sleepers.load(Ordering::SeqCst) != 0;
        s.caller_cpu.store(current_cpu(), Ordering::Relaxed);
        let mut mine = Mine {
            panic: None,
            busy: Duration::ZERO,
            units: 0,
        };
        // Spinning and napping workers join by themselves (see `NAP`).
        while let Some(c) = claim(s, epoch, CALLER_DIV) {
            mine.run(s, f, c);
        }
        let t_wait = Instant::now();
        while s.done.load(Ordering::Acquire) < units {
            if t_wait.elapsed() < END_SPIN {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        // SAFETY: every chunk has returned; nobody can claim from this job.
        unsafe { *slot.f.get() = None };
        if sleepers {
            // Parked workers (idle for `PARK_AFTER`) nap again from now on,
            // ready for the next job; this one is done.
            for h in &self.handles {
                h.thread().unpark();
            }
        }
        // Slower than the caller alone? (Its time per unit includes sharing
        // memory bandwidth with the workers, so the estimate errs towards
        // "not slower".)
        let took = t_job.elapsed();
        if mine.units > 0 && mine.units < units {
            let alone = mine.busy.mul_f64(units as f64 / mine.units as f64);
            if took > alone.mul_f64(SLOWER) + SLOWER_ABS {
                caller.solo_left = caller.backoff;
                caller.backoff = (caller.backoff * 2).min(SOLO_MAX);
                s.set_calm();
            } else {
                caller.backoff = SOLO_MIN;
            }
        }
        drop(caller);
        if let Some(p) = mine.panic {
            std::panic::resume_unwind(p);
        }
        if s.panicked.swap(false, Ordering::AcqRel) {
            panic!("a lutcore worker thread panicked");
        }
    }
}

/// What the caller did in one job.
struct Mine {
    /// The first panic of one of its chunks.
    panic: Option<Box<dyn std::any::Any + Send>>,
    /// Time spent in its chunks.
    busy: Duration,
    /// Units it ran.
    units: usize,
}

impl Mine {
    /// Run chunk `c` on the caller: timed, a panic kept for later, counted done.
    fn run(&mut self, s: &Shared, f: &(dyn Fn(Range<usize>) + Sync + '_), c: Range<usize>) {
        let t = Instant::now();
        let len = c.len();
        if let Err(p) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(c))) {
            self.panic.get_or_insert(p);
        }
        self.busy += t.elapsed();
        self.units += len;
        s.done.fetch_add(len, Ordering::Release);
    }
}

/// Claim the next chunk of job `epoch`: `max(grain, left / (div·threads))`
/// units cut at `units`, so chunks shrink towards the end of the job and the
/// threads finish within about one `grain` of each other. `None` when the
/// job has no unclaimed unit left or is no longer the current one.
fn claim(s: &Shared, epoch: u32, div: usize) -> Option<Range<usize>> {
    let mut w = s.next.load(Ordering::Acquire);
    loop {
        let (e, c) = unpack(w);
        if e != epoch {
            return None;
        }
        let slot = &s.slots[(epoch & 1) as usize];
        let units = slot.units.load(Ordering::Relaxed);
        if c >= units {
            return None;
        }
        let grain = slot.grain.load(Ordering::Relaxed);
        let end = (c + grain.max((units - c) / (div * s.threads))).min(units);
        match s
            .next
            .compare_exchange_weak(w, pack(epoch, end), Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => return Some(c..end),
            Err(now) => w = now,
        }
    }
}

/// [`current_cpu`] when it is not known.
const NO_CPU: u32 = u32::MAX;

/// The core this thread runs on, or [`NO_CPU`]: the processor id Linux keeps
/// in `TSC_AUX` (`rdtscp`, ~30 cycles; what `getcpu` reads).
fn current_cpu() -> u32 {
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    {
        use std::sync::OnceLock;
        static HAS_RDTSCP: OnceLock<bool> = OnceLock::new();
        // CPUID leaf 0x8000_0001, EDX bit 27: RDTSCP.
        let has = || {
            // The extended leaf is checked against the highest one supported first.
            let max = std::arch::x86_64::__cpuid(0x8000_0000).eax;
            max >= 0x8000_0001 && std::arch::x86_64::__cpuid(0x8000_0001).edx & (1 << 27) != 0
        };
        if *HAS_RDTSCP.get_or_init(has) {
            let mut aux = 0u32;
            // SAFETY: the CPU supports `rdtscp` (checked above).
            unsafe { std::arch::x86_64::__rdtscp(&mut aux) };
            return aux & 0xfff;
        }
    }
    NO_CPU
}

/// Whether this worker shares a core with the job's caller: then it would
/// only take turns with the caller (and hold chunks while preempted). It
/// moves to another core of its original affinity ([`Home::avoid`]); if it
/// cannot, it leaves the job to the caller and stops spinning for [`CALM`].
fn on_callers_cpu(s: &Shared, home: &Home) -> bool {
    let (me, caller) = (current_cpu(), s.caller_cpu.load(Ordering::Relaxed));
    if me == NO_CPU || me != caller {
        return false;
    }
    if home.avoid(caller) && current_cpu() != caller {
        return false;
    }
    s.set_calm();
    true
}

/// A worker's original set of allowed cores, from which it excludes the
/// caller's core when the scheduler put both on one (on a loaded machine it
/// did so for every job: the 2-thread GEMV then ran on one core, slower
/// than one thread).
struct Home {
    #[cfg(target_os = "linux")]
    set: Option<libc::cpu_set_t>,
}

impl Home {
    fn get() -> Home {
        #[cfg(target_os = "linux")]
        {
            // SAFETY: a zeroed cpu_set_t is a valid empty set; the size passed
            // is the set's size; pid 0 is the calling thread.
            let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
            let ok = unsafe {
                libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set)
            } == 0;
            Home {
                set: ok.then_some(set),
            }
        }
        #[cfg(not(target_os = "linux"))]
        Home {}
    }

    /// Restrict this thread to its original cores but `cpu` (the kernel
    /// migrates it at once); false if that leaves no core or fails.
    fn avoid(&self, cpu: u32) -> bool {
        #[cfg(target_os = "linux")]
        if let Some(mut set) = self.set {
            let cpu = cpu as usize;
            // SAFETY: CPU_* index within the set (checked against its bit
            // size); the size passed is the set's size; pid 0 is this thread.
            unsafe {
                if cpu < 8 * std::mem::size_of::<libc::cpu_set_t>() {
                    libc::CPU_CLR(cpu, &mut set);
                }
                return libc::CPU_COUNT(&set) > 0
                    && libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
                        == 0;
            }
        }
        let _ = cpu;
        false
    }
}

fn worker(s: &Shared) {
    let home = Home::get();
    let mut seen = 0u32;
    loop {
        let idle_from = Instant::now();
        let mut last = idle_from;
        let mut spin_for = if s.calm() { Duration::ZERO } else { SPIN };
        let mut spins = 0u32;
        let mut epoch = unpack(s.next.load(Ordering::Acquire)).0;
        while epoch == seen && !s.shutdown.load(Ordering::Acquire) {
            spins = spins.wrapping_add(1);
            // Read the clock only every 64 spins (a clock read costs ~20 pause-free loads).
            let idle = if spins.is_multiple_of(64) {
                let now = Instant::now();
                if now - last > DESCHEDULED {
                    // Descheduled while spinning: the core is shared; stop
                    // spinning (for every worker) for a while.
                    s.set_calm();
                    spin_for = Duration::ZERO;
                }
                last = now;
                now - idle_from
            } else {
                Duration::ZERO
            };
            if idle < spin_for {
                std::hint::spin_loop();
            } else if idle < PARK_AFTER {
                // Naps: the worker notices a job within ~NAP (later, ~LONG_NAP)
                // without the caller paying for a wake-up call, and uses next
                // to no CPU.
                std::thread::sleep(if idle < NAP_FOR { NAP } else { LONG_NAP });
                spin_for = if s.calm() { Duration::ZERO } else { spin_for };
                last = Instant::now();
                spins = 63; // read the clock on the next turn
            } else {
                s.sleepers.fetch_add(1, Ordering::SeqCst);
                if unpack(s.next.load(Ordering::SeqCst)).0 == seen
                    && !s.shutdown.load(Ordering::Acquire)
                {
                    std::thread::park_timeout(PARK_FOR);
                }
                s.sleepers.fetch_sub(1, Ordering::SeqCst);
                last = Instant::now();
                spins = 63;
            }
            epoch = unpack(s.next.load(Ordering::Acquire)).0;
        }
        if s.shutdown.load(Ordering::Acquire) {
            return;
        }
        seen = epoch;
        #[cfg(test)]
        test_stall(s, false);
        while let Some(c) = (!on_callers_cpu(s, &home))
            .then(|| claim(s, epoch, WORKER_DIV))
            .flatten()
        {
            #[cfg(test)]
            test_stall(s, true);
            let len = c.len();
            // SAFETY: we claimed a chunk of job `epoch`, so its slot holds
            // its function, alive until `done` counts our chunk (see `Slot`).
            let f = unsafe { (*s.slots[(epoch & 1) as usize].f.get()).map(|f| &*f) };
            if let Some(f) = f {
                if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(c))).is_err() {
                    s.panicked.store(true, Ordering::Release);
                }
            }
            s.done.fetch_add(len, Ordering::Release);
        }
    }
}

impl Drop for SpinPool {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::Release);
        for h in &self.handles {
            h.thread().unpark();
        }
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

/// Test hook: make workers stall (as a descheduled thread would) before
/// they claim their first chunk of a job (`in_chunk: false`) or while they
/// hold a chunk (`in_chunk: true`), `times` times.
#[cfg(test)]
#[derive(Clone, Copy, Debug)]
struct Stall {
    in_chunk: bool,
    sleep: Duration,
    times: u32,
}

#[cfg(test)]
fn test_stall(s: &Shared, in_chunk: bool) {
    let sleep = {
        let mut g = s.stall.lock().unwrap();
        match g.as_mut() {
            Some(st) if st.in_chunk == in_chunk && st.times > 0 => {
                st.times -= 1;
                Some(st.sleep)
            }
            _ => None,
        }
    };
    if let Some(d) = sleep {
        std::thread::sleep(d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn seed(name: &str) -> u64 {
        let seed = lutcore_contract::testing::seed_from_env(0x9001);
        println!("{name}: seed {seed} (replay: LUTCORE_SEED={seed} cargo test -p lutcore-sw --release --lib pool)");
        seed
    }

    /// Busy work of about `d` (a sleeping chunk would let the other thread
    /// run on a 1-core machine and hide the effect being tested).
    fn busy(d: Duration) {
        let t = Instant::now();
        while t.elapsed() < d {
            std::hint::spin_loop();
        }
    }

    fn hits_once(pool: &SpinPool, units: usize, grain: usize, what: &str) {
        let hits: Vec<AtomicUsize> = (0..units).map(|_| AtomicUsize::new(0)).collect();
        pool.run_chunks(units, grain, &|r| {
            assert!(
                r.end <= units && !r.is_empty() && (r.len() >= grain || r.end == units),
                "{what}: chunk {r:?}"
            );
            for u in r {
                hits[u].fetch_add(1, Ordering::Relaxed);
            }
        });
        let bad: Vec<usize> = (0..units)
            .filter(|&u| hits[u].load(Ordering::Relaxed) != 1)
            .collect();
        assert!(bad.is_empty(), "{what}: units run other than once: {bad:?}");
    }

    #[test]
    fn every_unit_runs_once_per_job() {
        let seed = seed("every_unit_runs_once_per_job");
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for threads in 1..=4 {
            let pool = SpinPool::new(threads).unwrap();
            for round in 0..400usize {
                let units = if rng.gen_bool(0.1) {
                    rng.gen_range(0..5000)
                } else {
                    rng.gen_range(0..64)
                };
                let grain = rng.gen_range(1..=8);
                hits_once(
                    &pool,
                    units,
                    grain,
                    &format!(
                        "seed {seed} threads {threads} round {round} units {units} grain {grain}"
                    ),
                );
                if rng.gen_bool(0.02) {
                    std::thread::sleep(Duration::from_millis(rng.gen_range(1..25)));
                    // let workers nap or park
                }
            }
        }
    }

    /// Many short jobs back to back from two callers (serialized): no job
    /// is lost or runs twice, nothing deadlocks.
    #[test]
    fn repeated_calls_from_two_callers_do_not_deadlock() {
        let seed = seed("repeated_calls_from_two_callers_do_not_deadlock");
        let pool = Arc::new(SpinPool::new(3).unwrap());
        let t = Instant::now();
        std::thread::scope(|sc| {
            for c in 0..2u64 {
                let pool = pool.clone();
                sc.spawn(move || {
                    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ c);
                    for round in 0..3000 {
                        let units = rng.gen_range(1..40);
                        hits_once(
                            &pool,
                            units,
                            rng.gen_range(1..4),
                            &format!("seed {seed} caller {c} round {round}"),
                        );
                    }
                });
            }
        });
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "6000 tiny jobs took {:?}",
            t.elapsed()
        );
    }

    #[test]
    fn workers_take_part_when_they_are_awake() {
        let pool = SpinPool::new(2).unwrap();
        let worker_ran = AtomicBool::new(false);
        let me = std::thread::current().id();
        // Chunks slow enough that a spinning worker joins.
        for _ in 0..200 {
            pool.run_chunks(64, 1, &|_| {
                if std::thread::current().id() != me {
                    worker_ran.store(true, Ordering::Relaxed);
                }
                busy(Duration::from_micros(50));
            });
            if worker_ran.load(Ordering::Relaxed) {
                return;
            }
        }
        panic!("the worker never took a chunk in 200 jobs of 64 x 50 us");
    }

    /// A job of 40 chunks of 100 µs busy work; returns its time and the
    /// units run by threads other than the caller.
    fn timed_job(pool: &SpinPool) -> (Duration, usize) {
        let me = std::thread::current().id();
        let others = AtomicUsize::new(0);
        let t = Instant::now();
        pool.run_chunks(40, 1, &|c| {
            if std::thread::current().id() != me {
                others.fetch_add(c.len(), Ordering::Relaxed);
            }
            busy(Duration::from_micros(100) * c.len() as u32);
        });
        (t.elapsed(), others.into_inner())
    }

    /// A worker that stalls after it saw a job but before it claimed (as a
    /// thread descheduled on its way in): the caller does all the work and
    /// returns without waiting for the worker (well before its 2 s stall
    /// ends; about the 1-thread time of 4 ms on an idle machine).
    #[test]
    fn a_worker_stalled_before_claiming_costs_nothing() {
        let pool = SpinPool::new(2).unwrap();
        timed_job(&pool); // warm up
        *pool.shared.stall.lock().unwrap() = Some(Stall {
            in_chunk: false,
            sleep: Duration::from_millis(2000),
            times: 1,
        });
        let (took, others) = timed_job(&pool);
        println!(
            "job with a stalled worker: {took:?} (1-thread work: 4 ms), worker ran {others} units"
        );
        assert_eq!(others, 0, "the stalled worker ran units");
        assert!(
            took < Duration::from_millis(1500),
            "the caller waited for the stalled worker: {took:?}"
        );
    }

    /// A worker that stalls while holding a chunk delays that one job (no
    /// one else may run a claimed chunk), but the pool notices and runs the
    /// next `SOLO_MIN` jobs on the caller alone instead of waiting for the
    /// worker again (checked by who ran the units, not by wall time, which a
    /// loaded machine makes unreliable; the times are printed).
    #[test]
    fn after_a_stall_in_a_chunk_the_caller_runs_alone() {
        let pool = SpinPool::new(2).unwrap();
        for _ in 0..5 {
            timed_job(&pool);
        }
        // Every chunk the worker takes now stalls it by 30 ms.
        *pool.shared.stall.lock().unwrap() = Some(Stall {
            in_chunk: true,
            sleep: Duration::from_millis(30),
            times: 1000,
        });
        let jobs: Vec<(Duration, usize)> = (0..1 + SOLO_MIN as usize)
            .map(|_| timed_job(&pool))
            .collect();
        *pool.shared.stall.lock().unwrap() = None;
        println!("jobs after the stall (time, units run by the worker): {jobs:?}");
        let first = jobs.iter().position(|j| j.1 > 0);
        if let Some(i) = first {
            let after = &jobs[i + 1..(i + 1 + SOLO_MIN as usize).min(jobs.len())];
            assert!(
                after.iter().all(|j| j.1 == 0),
                "the worker ran units right after a stall: {jobs:?}"
            );
        }
    }

    #[test]
    fn a_panicking_chunk_is_reported() {
        let pool = SpinPool::new(2).unwrap();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.run_chunks(8, 1, &|c| {
                assert!(!c.contains(&5), "the chunk of unit 5 fails")
            })
        }));
        assert!(r.is_err());
        let n = AtomicUsize::new(0);
        pool.run_chunks(10, 3, &|c| {
            n.fetch_add(c.len(), Ordering::Relaxed);
        }); // still usable
        assert_eq!(n.load(Ordering::Relaxed), 10);
    }
}
