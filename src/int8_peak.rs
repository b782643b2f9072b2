//! The int8 multiply-add peak of one core, measured: the yardstick of
//! `bench gemv`'s int8 bound. An exact int8 GEMM cannot beat the rate at
//! which the core's fastest int8 instruction runs when nothing else does,
//! so that rate (not a figure from a manual) is what the bound uses.

use std::hint::black_box;
use std::time::Instant;

use lutcore_sw::kernels::prefill::PrefillIsa;

/// Multiply-adds per ns of one thread running `isa`'s int8 dot-product
/// instruction back to back on independent accumulators (the best of many
/// short runs, so a busy machine still yields an undisturbed one), or
/// `None` for the portable kernel, which has no such instruction, and on a
/// CPU without `isa`.
pub fn macs_per_ns(isa: PrefillIsa) -> Option<f64> {
    if !isa.is_available() {
        return None;
    }
    // Each run is ~20 µs of work at 128 multiply-adds per cycle.
    const ITERS: u64 = 4_000;
    // SAFETY (every arm): the CPU has `isa`'s features (checked above).
    let run: fn(u64) -> (i64, u64) = match isa {
        PrefillIsa::Generic => return None,
        #[cfg(target_arch = "x86_64")]
        PrefillIsa::Avx2 => |n| unsafe { x86::maddubs_ymm(n) },
        #[cfg(target_arch = "x86_64")]
        PrefillIsa::AvxVnni => |n| unsafe { x86::dpbusd_ymm(n) },
        #[cfg(target_arch = "x86_64")]
        PrefillIsa::Avx512Vnni => |n| unsafe { x86::dpbusd_zmm(n) },
        #[cfg(not(target_arch = "x86_64"))]
        _ => return None,
    };
    let mut best = f64::INFINITY;
    let mut macs = 0;
    for _ in 0..300 {
        let t = Instant::now();
        let (sum, m) = run(black_box(ITERS));
        best = best.min(t.elapsed().as_secs_f64());
        black_box(sum);
        macs = m;
    }
    Some(macs as f64 / best / 1e9)
}

/// The peak loops. Each returns the sum of its accumulators (so the work
/// cannot be dropped) and the multiply-adds it did. SAFETY of every function:
/// the caller checked that the CPU has the features it enables
/// ([`PrefillIsa::is_available`]).
#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;
    use std::hint::black_box;

    /// Independent accumulator chains: enough to cover the instructions'
    /// latency (4–5 cycles) at two per cycle.
    const CHAINS: usize = 12;

    /// `step` applied `iters` times to each of [`CHAINS`] accumulators that
    /// start at `zero`, chain by chain within an iteration (inlined into each
    /// peak loop, so it runs with that loop's target features).
    #[inline(always)]
    fn chains<V: Copy>(zero: V, iters: u64, step: impl Fn(V) -> V) -> [V; CHAINS] {
        let mut acc = [zero; CHAINS];
        for _ in 0..iters {
            for c in acc.iter_mut() {
                *c = step(*c);
            }
        }
        acc
    }

    /// zmm `vpdpbusd`: 64 u8×i8 multiply-adds per instruction.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) unsafe fn dpbusd_zmm(iters: u64) -> (i64, u64) {
        let (a, b) = (
            _mm512_set1_epi8(black_box(3)),
            _mm512_set1_epi8(black_box(-5)),
        );
        let acc = chains(_mm512_setzero_si512(), iters, |c| {
            _mm512_dpbusd_epi32(c, a, b)
        });
        let sum = acc
            .iter()
            .map(|&c| i64::from(_mm512_reduce_add_epi32(c)))
            .sum();
        (sum, iters * (CHAINS * 64) as u64)
    }

    /// ymm `vpdpbusd` (AVX-VNNI): 32 multiply-adds per instruction.
    #[target_feature(enable = "avx2,avxvnni")]
    pub(super) unsafe fn dpbusd_ymm(iters: u64) -> (i64, u64) {
        let (a, b) = (
            _mm256_set1_epi8(black_box(3)),
            _mm256_set1_epi8(black_box(-5)),
        );
        let acc = chains(_mm256_setzero_si256(), iters, |c| {
            _mm256_dpbusd_avx_epi32(c, a, b)
        });
        (sum_ymm_i32(&acc), iters * (CHAINS * 32) as u64)
    }

    /// ymm `vpmaddubsw` (AVX2): 32 multiply-adds per instruction, each one's
    /// i16 pair sums the next one's u8 operand (a dependent chain per
    /// accumulator, no other instruction competing for its ports).
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn maddubs_ymm(iters: u64) -> (i64, u64) {
        let (start, b) = (
            _mm256_set1_epi8(black_box(3)),
            _mm256_set1_epi8(black_box(-5)),
        );
        let acc = chains(start, iters, |c| _mm256_maddubs_epi16(c, b));
        (sum_ymm_i32(&acc), iters * (CHAINS * 32) as u64)
    }

    #[target_feature(enable = "avx2")]
    fn sum_ymm_i32(acc: &[__m256i]) -> i64 {
        acc.iter()
            .map(|&c| {
                let mut lanes = [0i32; 8];
                // SAFETY: `lanes` is 32 bytes, an unaligned store.
                unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), c) };
                lanes.iter().map(|&v| i64::from(v)).sum::<i64>()
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every measurable instruction set gives a positive, finite rate below
    /// any x86 core's (10 GHz × 512 multiply-adds per cycle).
    #[test]
    fn peaks_are_plausible() {
        for isa in PrefillIsa::available() {
            match (isa, macs_per_ns(isa)) {
                (PrefillIsa::Generic, r) => assert_eq!(r, None),
                (_, Some(r)) => {
                    println!("{isa}: {r:.1} int8 multiply-adds per ns");
                    assert!(r.is_finite() && r > 0.0 && r < 5120.0, "{isa}: {r}")
                }
                (_, None) => panic!("{isa} is available but not measured"),
            }
        }
    }
}
