//! [`SpinPool`]: the thread pool of the kernels and the model.
//!
//! Decoding one token runs ~170 matmuls of 20–200 µs each. A pool whose
//! workers go to sleep between them (rayon's) pays a sleep/wake and a context
//! switch per matmul, which at two threads made decoding slower than at one.
//! Here the workers spin for a while (200 µs) waiting for the next job, then
//! nap in 50 µs steps for 20 ms, and only then block. A job is a range of
//! work units cut into chunks that the caller and the awake workers claim
//! one after another, so a worker that is slow to wake up never delays it.

use std::cell::UnsafeCell;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long an idle worker spins before it blocks: long enough to cover the
/// gap between two matmuls of one token, short enough not to burn a core
/// while the host does other work.
const SPIN: Duration = Duration::from_micros(200);

/// After spinning, an idle worker naps `NAP` at a time until `NAP_FOR`
/// after its last job, and only then blocks on the condition variable (whose
/// wake-up costs the caller a system call, see [`WAKE_WORTH`]).
const NAP: Duration = Duration::from_micros(50);
const NAP_FOR: Duration = Duration::from_millis(20);

/// Work (left in a job) for which the caller wakes blocked workers: the
/// wake-up syscall alone cost the caller 30–40 µs on the 2-vCPU virtual
/// machines this was measured on (`lutcore bench gemv`, 1000x1000 at 2
/// threads, cold: 67–78 µs with an unconditional wake, 38–40 without).
const WAKE_WORTH: Duration = Duration::from_micros(100);

/// One job: `f` on chunks of `0..units`, `grain` units each.
#[derive(Clone, Copy)]
struct Job {
    f: *const (dyn Fn(Range<usize>) + Sync),
    units: usize,
    grain: usize,
}

/// `gate` bit set once the caller has run out of chunks: workers that have
/// not joined by then skip the job.
const CLOSED: u64 = 1 << 31;
/// `gate` bits counting the workers inside the job.
const JOINED: u64 = CLOSED - 1;

struct Shared {
    threads: usize,
    /// Bumped once per job; workers look at a job when they see a new value.
    epoch: AtomicU64,
    /// The current job; written only by the caller holding `run_lock`,
    /// before `epoch` is bumped, and read only by workers that joined it.
    job: UnsafeCell<Option<Job>>,
    /// Next unclaimed unit of the current job.
    next: AtomicUsize,
    /// `(epoch << 32) | CLOSED? | joined workers` of the current job. A worker
    /// joins with a compare-and-swap while the job is open and its epoch is
    /// the one the worker saw; the caller closes it after its own claim loop
    /// and waits for the joined count to reach zero.
    gate: AtomicU64,
    /// A worker's chunk panicked.
    panicked: AtomicBool,
    shutdown: AtomicBool,
    /// Workers inside the blocking part of their wait (see `worker`): the
    /// caller only takes the lock and signals the condvar when one may sleep.
    sleepers: AtomicUsize,
    sleep: Mutex<()>,
    wake: Condvar,
}

// SAFETY: `job` is only written while no worker is joined to a job (see
// `SpinPool::run_chunks`: written before the epoch bump, cleared after the
// gate is closed and every joined worker has left).
unsafe impl Sync for Shared {}
unsafe impl Send for Shared {}

/// A pool of `threads - 1` spinning workers plus the calling thread.
pub struct SpinPool {
    shared: Arc<Shared>,
    run_lock: Mutex<()>,
    handles: Vec<JoinHandle<()>>,
}

impl SpinPool {
    /// Start `threads - 1` workers (none for one thread).
    pub fn new(threads: usize) -> std::io::Result<SpinPool> {
        let threads = threads.max(1);
        let shared = Arc::new(Shared {
            threads,
            epoch: AtomicU64::new(0),
            job: UnsafeCell::new(None),
            next: AtomicUsize::new(0),
            gate: AtomicU64::new(CLOSED),
            panicked: AtomicBool::new(false),
            shutdown: AtomicBool::new(false),
            sleepers: AtomicUsize::new(0),
            sleep: Mutex::new(()),
            wake: Condvar::new(),
        });
        let handles = (1..threads)
            .map(|i| {
                let s = shared.clone();
                std::thread::Builder::new().name(format!("lutcore-worker-{i}")).spawn(move || worker(&s))
            })
            .collect::<std::io::Result<Vec<_>>>()?;
        Ok(SpinPool { shared, run_lock: Mutex::new(()), handles })
    }

    /// Threads, the caller included.
    pub fn threads(&self) -> usize {
        self.shared.threads
    }

    /// Run `f` on chunks of `0..units` that cover every unit exactly once
    /// (at least `grain` units each but the last, larger early in the job:
    /// see `claim_loop`); returns when all are done. Chunks are claimed in
    /// order by the caller and by the workers that join before the caller
    /// runs out of chunks: a worker that is still waking up (a blocked thread
    /// can take tens to hundreds of µs on a virtual machine) leaves its share
    /// to the caller instead of delaying the job. Calls from several threads
    /// are serialized.
    pub fn run_chunks(&self, units: usize, grain: usize, f: &(dyn Fn(Range<usize>) + Sync)) {
        let s = &*self.shared;
        let grain = grain.max(1);
        if s.threads == 1 || units <= grain {
            (0..units).step_by(grain).for_each(|c| f(c..(c + grain).min(units)));
            return;
        }
        let _guard = self.run_lock.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: the lifetime is erased only for the duration of this call:
        // the pointer is cleared below after every joined worker has left.
        let f_static = unsafe {
            std::mem::transmute::<&(dyn Fn(Range<usize>) + Sync), &'static (dyn Fn(Range<usize>) + Sync)>(f)
        };
        // SAFETY: no worker is joined (the last job's gate is closed and empty).
        unsafe { *s.job.get() = Some(Job { f: f_static, units, grain }) };
        s.next.store(0, Ordering::Relaxed);
        let epoch = s.epoch.load(Ordering::Relaxed) + 1;
        s.gate.store(epoch << 32, Ordering::Release);
        // SeqCst pairs with the worker's `sleepers` increment then `epoch`
        // load: either it sees the new epoch, or we see it as a sleeper.
        s.epoch.store(epoch, Ordering::SeqCst);
        let sleepers = s.sleepers.load(Ordering::SeqCst) != 0;
        let mine = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            if sleepers {
                // Spinning workers join by themselves; blocked ones only if
                // the work left (timed on our first chunk) is worth the wake-up.
                let t0 = Instant::now();
                if let Some(c) = claim(s, units, |_| grain) {
                    f(c);
                }
                let left = units.saturating_sub(s.next.load(Ordering::Relaxed)).div_ceil(grain);
                if t0.elapsed() * left as u32 >= WAKE_WORTH {
                    let _l = s.sleep.lock().unwrap_or_else(|e| e.into_inner());
                    s.wake.notify_all();
                }
            }
            claim_loop(s, f, units, grain)
        }));
        s.gate.fetch_or(CLOSED, Ordering::AcqRel);
        while s.gate.load(Ordering::Acquire) & JOINED != 0 {
            std::hint::spin_loop();
        }
        // SAFETY: the gate is closed and no worker is inside the job.
        unsafe { *s.job.get() = None };
        if let Err(p) = mine {
            std::panic::resume_unwind(p);
        }
        if s.panicked.swap(false, Ordering::AcqRel) {
            panic!("a lutcore worker thread panicked");
        }
    }
}

/// Claim chunks of the current job until none is left. Guided: a chunk is
/// `max(grain, left / (2·threads))` units, so chunks shrink towards the end
/// of the job and the threads finish within about one `grain` of each other.
fn claim_loop(s: &Shared, f: &(dyn Fn(Range<usize>) + Sync), units: usize, grain: usize) {
    while let Some(c) = claim(s, units, |left| grain.max(left / (2 * s.threads))) {
        f(c);
    }
}

/// Claim the next chunk of the current job, `size(units left)` units (cut at
/// `units`), or `None` when none is left.
fn claim(s: &Shared, units: usize, size: impl Fn(usize) -> usize) -> Option<Range<usize>> {
    let mut c = s.next.load(Ordering::Relaxed);
    loop {
        if c >= units {
            return None;
        }
        let end = c + size(units - c);
        match s.next.compare_exchange_weak(c, end, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return Some(c..end.min(units)),
            Err(now) => c = now,
        }
    }
}

/// Join the job of `epoch` if it is still open.
fn join(s: &Shared, epoch: u64) -> bool {
    let mut g = s.gate.load(Ordering::Acquire);
    loop {
        if g >> 32 != epoch & 0xffff_ffff || g & CLOSED != 0 {
            return false;
        }
        match s.gate.compare_exchange_weak(g, g + 1, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return true,
            Err(now) => g = now,
        }
    }
}

fn worker(s: &Shared) {
    let mut seen = 0u64;
    loop {
        let start = Instant::now();
        let mut epoch = s.epoch.load(Ordering::Acquire);
        let mut spins = 0u32;
        while epoch == seen && !s.shutdown.load(Ordering::Acquire) {
            spins = spins.wrapping_add(1);
            // Read the clock only every 64 spins (a clock read costs ~20 pause-free loads).
            let idle = if spins.is_multiple_of(64) { start.elapsed() } else { Duration::ZERO };
            if idle < SPIN {
                std::hint::spin_loop();
            } else if idle < NAP_FOR {
                // Short naps: the worker notices a job within ~NAP without the
                // caller paying for a wake-up call.
                std::thread::sleep(NAP);
            } else {
                let l = s.sleep.lock().unwrap_or_else(|e| e.into_inner());
                s.sleepers.fetch_add(1, Ordering::SeqCst);
                if s.epoch.load(Ordering::SeqCst) == seen && !s.shutdown.load(Ordering::Acquire) {
                    let _ = s.wake.wait_timeout(l, Duration::from_millis(5));
                } else {
                    drop(l);
                }
                s.sleepers.fetch_sub(1, Ordering::SeqCst);
            }
            epoch = s.epoch.load(Ordering::Acquire);
        }
        if s.shutdown.load(Ordering::Acquire) {
            return;
        }
        seen = epoch;
        if !join(s, epoch) {
            continue; // the caller already ran out of chunks
        }
        // SAFETY: the caller set `job` before opening the gate and keeps it
        // (and the closure it points to) alive until no worker is joined.
        if let Some(job) = unsafe { *s.job.get() } {
            let f = unsafe { &*job.f };
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| claim_loop(s, f, job.units, job.grain))).is_err() {
                s.panicked.store(true, Ordering::Release);
            }
        }
        s.gate.fetch_sub(1, Ordering::Release);
    }
}

impl Drop for SpinPool {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::Release);
        {
            let _l = self.shared.sleep.lock().unwrap_or_else(|e| e.into_inner());
            self.shared.wake.notify_all();
        }
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unit_runs_once_per_job() {
        let pool = SpinPool::new(3).unwrap();
        for round in 0..300usize {
            let units = 1 + round % 37;
            let grain = 1 + round % 5;
            let hits: Vec<AtomicUsize> = (0..units).map(|_| AtomicUsize::new(0)).collect();
            pool.run_chunks(units, grain, &|r| {
                assert!(r.end <= units && !r.is_empty() && (r.len() >= grain || r.end == units), "chunk {r:?}");
                for u in r {
                    hits[u].fetch_add(1, Ordering::Relaxed);
                }
            });
            assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1), "round {round}");
            if round % 50 == 0 {
                std::thread::sleep(Duration::from_millis(2)); // let workers block
            }
        }
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
                std::thread::sleep(Duration::from_micros(50));
            });
            if worker_ran.load(Ordering::Relaxed) {
                return;
            }
        }
        panic!("the worker never took a chunk in 200 jobs of 64 x 50 us");
    }

    #[test]
    fn a_panicking_chunk_is_reported() {
        let pool = SpinPool::new(2).unwrap();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.run_chunks(8, 1, &|c| assert!(c.start != 5, "chunk 5 fails"))
        }));
        assert!(r.is_err());
        let n = AtomicUsize::new(0);
        pool.run_chunks(10, 3, &|c| {
            n.fetch_add(c.len(), Ordering::Relaxed);
        }); // still usable
        assert_eq!(n.load(Ordering::Relaxed), 10);
    }
}
