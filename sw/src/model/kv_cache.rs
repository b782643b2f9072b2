//! The KV cache of a [`super::Session`].

use super::ModelError;

/// Keys and values of every layer for the positions seen so far, head-major:
/// one attention head reads its positions as one contiguous run (which the
/// hardware prefetcher streams), not `head_dim` floats at a `kv_dim` stride.
pub struct KvCache {
    /// `k[layer][kv_head]`: `len × head_dim` keys.
    pub k: Vec<Vec<Vec<f32>>>,
    /// `v[layer][kv_head]`: `len × head_dim` values.
    pub v: Vec<Vec<Vec<f32>>>,
    /// Positions stored.
    pub len: usize,
}

impl KvCache {
    /// An empty cache for `layers` layers of `kv_heads` heads.
    pub fn new(layers: usize, kv_heads: usize) -> KvCache {
        KvCache {
            k: vec![vec![Vec::new(); kv_heads]; layers],
            v: vec![vec![Vec::new(); kv_heads]; layers],
            len: 0,
        }
    }

    /// Make room for `positions` positions of `d`-value heads in every layer
    /// and write the new memory once, so that its first-touch page faults
    /// happen now and not while decoding (llama.cpp likewise allocates and
    /// clears its KV buffer when the context is created).
    ///
    /// The size is computed with checked arithmetic and reserved with
    /// `try_reserve`: a cache that cannot be had is an error naming its size.
    pub fn reserve(&mut self, positions: usize, d: usize) -> Result<(), ModelError> {
        let heads = self
            .k
            .iter()
            .chain(self.v.iter())
            .map(Vec::len)
            .sum::<usize>();
        let per_head = positions.checked_mul(d);
        let total = per_head
            .and_then(|n| n.checked_mul(heads))
            .and_then(|n| n.checked_mul(std::mem::size_of::<f32>()));
        let too_big = |detail: String| {
            ModelError::Input(format!(
                "the KV cache for {positions} positions ({heads} heads of {d} values, keys and values) {detail}: ask for fewer positions (shorter prompt, smaller -n)"
            ))
        };
        let (Some(per_head), Some(total)) = (per_head, total) else {
            return Err(too_big("overflows the address space".into()));
        };
        for head in self.k.iter_mut().chain(self.v.iter_mut()).flatten() {
            let len = head.len();
            if per_head > len {
                head.try_reserve_exact(per_head - len).map_err(|e| {
                    too_big(format!(
                        "needs {:.2} GiB, which cannot be allocated ({e})",
                        total as f64 / (1u64 << 30) as f64
                    ))
                })?;
                head.resize(per_head, 0.0);
                head.truncate(len);
            }
        }
        Ok(())
    }

    /// Append `n` tokens' keys and values of `layer` (token-major, `n × kv_dim`
    /// each, heads of `d` values side by side).
    pub(crate) fn append(&mut self, layer: usize, k: &[f32], v: &[f32], d: usize) {
        for (cache, new) in [(&mut self.k[layer], k), (&mut self.v[layer], v)] {
            let kvd = cache.len() * d;
            for token in new.chunks_exact(kvd) {
                for (head, part) in cache.iter_mut().zip(token.chunks_exact(d)) {
                    head.extend_from_slice(part);
                }
            }
        }
    }
}
