//! The allocator settings of a forward pass.
//!
//! A prompt's forward pass allocates ~15 buffers per layer of `n ×` hidden
//! or FFN values (0.2–17 MB), and frees them before the next layer. With
//! glibc's defaults each of them is a fresh `mmap` (or heap growth that is
//! trimmed again on free), so every layer pays page faults, zeroing and
//! unmapping for all of them: 15% of a 256-token prompt's samples were in
//! the kernel's page-fault and unmap paths, and a 128-token prompt ran
//! 1.5–2× faster with glibc's thresholds raised (`GLIBC_TUNABLES=
//! glibc.malloc.mmap_threshold=268435456:glibc.malloc.trim_threshold=1073741824`,
//! 3 alternating pairs). [`keep_buffers`] raises them once per process,
//! so freed buffers stay in the heap and are reused by the next layer.
//! Numbers are unaffected; memory is given back to the system later.

/// Allocations below this come from the heap (reused after `free`) instead
/// of a fresh `mmap` each: above every per-layer buffer of the models run
/// here (a 512-token prompt of the 3B shape: 512 × 8640 × 4 B = 17.7 MB),
/// below the weights and the KV cache, which are allocated once.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: i32 = 64 << 20;

/// Free memory at the top of the heap beyond this is returned to the
/// system: room for one layer's buffers, so a layer does not trim what the
/// next one allocates again.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TRIM_THRESHOLD: i32 = 512 << 20;

/// Raise glibc's mmap and trim thresholds (see the module documentation),
/// once per process; does nothing with other allocators.
pub(crate) fn keep_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: mallopt only changes allocator parameters; it is
            // thread-safe in glibc.
            unsafe {
                libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
                libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
            }
        });
    }
}
