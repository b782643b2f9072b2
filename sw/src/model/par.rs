//! Running a float loop of the model on the shared thread pool.

use crate::kernels::pool::SpinPool;

/// An output buffer shared by the pool's threads, each writing its own range.
pub(crate) struct SharedOut(pub(crate) *mut f32);
// SAFETY: every thread writes a disjoint range (see `for_pieces`).
unsafe impl Sync for SharedOut {}

/// Cut `out` into pieces of `piece` values and hand each claimed run of
/// pieces to `f(index of its first value, values)`: on `pool` (guided
/// chunks, see [`SpinPool::run_chunks`]) when there is one, else all of
/// `out` in one call.
pub(crate) fn for_pieces(
    pool: Option<&SpinPool>,
    out: &mut [f32],
    piece: usize,
    f: &(dyn Fn(usize, &mut [f32]) + Sync),
) {
    let Some(pool) = pool else { return f(0, out) };
    let len = out.len();
    let outp = SharedOut(out.as_mut_ptr());
    let outp = &outp;
    pool.run_chunks(len.div_ceil(piece), 1, &|ps| {
        let (lo, hi) = (ps.start * piece, (ps.end * piece).min(len));
        // SAFETY: every piece is in exactly one claimed chunk: the runs are disjoint.
        f(lo, unsafe {
            std::slice::from_raw_parts_mut(outp.0.add(lo), hi - lo)
        });
    });
}
