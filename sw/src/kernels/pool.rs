//! [`SpinPool`]: the thread pool of the kernels and the model.
//!
//! Decoding one token runs ~170 matmuls of 20–200 µs each. A pool whose
//! workers go to sleep between them (rayon's) pays a sleep/wake and a context
//! switch per matmul, which at two threads made decoding slower than at one.
//! Here the workers spin for a while (≈ 100 µs) waiting for the next job and
//! only then block, as llama.cpp's thread pool does; a job is `f(i)` for every
//! worker index `i`, the caller itself being worker 0.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long an idle worker spins before it blocks: long enough to cover the
/// gap between two matmuls of one token, short enough not to burn a core
/// while the host does other work.
const SPIN: Duration = Duration::from_micros(200);

type Job = *const (dyn Fn(usize) + Sync);

struct Shared {
    threads: usize,
    /// Bumped once per job; workers run a job when they see a new value.
    epoch: AtomicU64,
    /// The current job; written only by the caller holding `run_lock`,
    /// before `epoch` is bumped, and read by workers after they see it.
    job: UnsafeCell<Option<Job>>,
    /// Workers still running the current job.
    pending: AtomicUsize,
    /// A worker's job panicked.
    panicked: AtomicBool,
    shutdown: AtomicBool,
    /// Workers inside the blocking part of their wait (see `worker`): the
    /// caller only takes the lock and signals the condvar when one may sleep.
    sleepers: AtomicUsize,
    sleep: Mutex<()>,
    wake: Condvar,
}

// SAFETY: `job` is only written while no worker reads it (see `SpinPool::run`:
// written before the epoch bump, cleared after all workers reported done).
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
            pending: AtomicUsize::new(0),
            panicked: AtomicBool::new(false),
            shutdown: AtomicBool::new(false),
            sleepers: AtomicUsize::new(0),
            sleep: Mutex::new(()),
            wake: Condvar::new(),
        });
        let handles = (1..threads)
            .map(|i| {
                let s = shared.clone();
                std::thread::Builder::new().name(format!("lutcore-worker-{i}")).spawn(move || worker(&s, i))
            })
            .collect::<std::io::Result<Vec<_>>>()?;
        Ok(SpinPool { shared, run_lock: Mutex::new(()), handles })
    }

    /// Threads, the caller included.
    pub fn threads(&self) -> usize {
        self.shared.threads
    }

    /// Run `f(i)` for every `i` in `0..threads()`, in parallel; returns when
    /// all are done. Calls from several threads are serialized.
    pub fn run(&self, f: &(dyn Fn(usize) + Sync)) {
        let s = &*self.shared;
        if s.threads == 1 {
            return f(0);
        }
        let _guard = self.run_lock.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: the lifetime is erased only for the duration of this call:
        // the pointer is cleared below after every worker finished with it.
        let job: Job = unsafe { std::mem::transmute::<&(dyn Fn(usize) + Sync), &'static (dyn Fn(usize) + Sync)>(f) };
        // SAFETY: no worker reads `job` until it sees the new epoch.
        unsafe { *s.job.get() = Some(job) };
        s.pending.store(s.threads - 1, Ordering::Release);
        // SeqCst pairs with the worker's `sleepers` increment then `epoch`
        // load: either it sees the new epoch, or we see it as a sleeper.
        s.epoch.fetch_add(1, Ordering::SeqCst);
        if s.sleepers.load(Ordering::SeqCst) != 0 {
            let _l = s.sleep.lock().unwrap_or_else(|e| e.into_inner());
            s.wake.notify_all();
        }
        let mine = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(0)));
        while s.pending.load(Ordering::Acquire) != 0 {
            std::hint::spin_loop();
        }
        // SAFETY: every worker has finished the job.
        unsafe { *s.job.get() = None };
        if let Err(p) = mine {
            std::panic::resume_unwind(p);
        }
        if s.panicked.swap(false, Ordering::AcqRel) {
            panic!("a lutcore worker thread panicked");
        }
    }
}

fn worker(s: &Shared, i: usize) {
    let mut seen = 0u64;
    loop {
        let start = Instant::now();
        let mut epoch = s.epoch.load(Ordering::Acquire);
        let mut spins = 0u32;
        while epoch == seen && !s.shutdown.load(Ordering::Acquire) {
            spins = spins.wrapping_add(1);
            // Read the clock only every 64 spins (a clock read costs ~20 pause-free loads).
            if !spins.is_multiple_of(64) || start.elapsed() < SPIN {
                std::hint::spin_loop();
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
        // SAFETY: the caller set `job` before bumping the epoch and keeps it
        // alive until `pending` reaches zero.
        if let Some(job) = unsafe { *s.job.get() } {
            let f = unsafe { &*job };
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(i))).is_err() {
                s.panicked.store(true, Ordering::Release);
            }
        }
        s.pending.fetch_sub(1, Ordering::AcqRel);
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
    fn every_index_runs_once_per_job() {
        let pool = SpinPool::new(3).unwrap();
        for round in 0..200 {
            let hits: Vec<AtomicUsize> = (0..3).map(|_| AtomicUsize::new(0)).collect();
            pool.run(&|i| {
                hits[i].fetch_add(1, Ordering::Relaxed);
            });
            assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1), "round {round}");
            if round % 50 == 0 {
                std::thread::sleep(Duration::from_millis(2)); // let workers block
            }
        }
    }

    #[test]
    fn a_panicking_job_is_reported() {
        let pool = SpinPool::new(2).unwrap();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| pool.run(&|i| assert!(i == 0, "worker fails"))));
        assert!(r.is_err());
        pool.run(&|_| {}); // still usable
    }
}
