//! The KV cache of a [`super::Session`].

use half::f16;
use half::slice::HalfFloatSliceExt;

use super::ModelError;

/// How the KV cache stores keys and values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum KvPrecision {
    /// f32: keys and values exactly as computed.
    #[default]
    F32,
    /// IEEE half: half the bytes to page in and to read per attention step;
    /// keys and values rounded to f16 (to nearest, ties to even) when they
    /// are stored. The logits differ from [`KvPrecision::F32`]'s by that
    /// rounding (measured in `docs/performance.md`).
    F16,
}

impl KvPrecision {
    /// Bytes per stored value.
    pub fn bytes(self) -> usize {
        match self {
            KvPrecision::F32 => 4,
            KvPrecision::F16 => 2,
        }
    }
}

/// The stored positions of one KV head: `len × head_dim` values.
#[derive(Clone, Debug)]
pub enum HeadRows {
    /// f32 values.
    F32(Vec<f32>),
    /// f16 values.
    F16(Vec<f16>),
}

impl HeadRows {
    fn new(p: KvPrecision) -> HeadRows {
        match p {
            KvPrecision::F32 => HeadRows::F32(Vec::new()),
            KvPrecision::F16 => HeadRows::F16(Vec::new()),
        }
    }

    /// Values stored.
    pub fn len(&self) -> usize {
        match self {
            HeadRows::F32(v) => v.len(),
            HeadRows::F16(v) => v.len(),
        }
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Values that fit without reallocating.
    pub fn capacity(&self) -> usize {
        match self {
            HeadRows::F32(v) => v.capacity(),
            HeadRows::F16(v) => v.capacity(),
        }
    }

    /// The first `n` values as f32: borrowed when stored as f32, else
    /// converted (exactly: every f16 is an f32) into `scratch`.
    pub fn f32_prefix<'a>(&'a self, n: usize, scratch: &'a mut Vec<f32>) -> &'a [f32] {
        match self {
            HeadRows::F32(v) => &v[..n],
            HeadRows::F16(v) => {
                scratch.resize(n, 0.0);
                v[..n].convert_to_f32_slice(scratch);
                scratch
            }
        }
    }

    fn extend(&mut self, part: &[f32]) {
        match self {
            HeadRows::F32(v) => v.extend_from_slice(part),
            HeadRows::F16(v) => v.extend(part.iter().map(|&x| f16::from_f32(x))),
        }
    }

    /// Reserve and write `values` in total (page-in), keeping the length.
    fn reserve_touched(&mut self, values: usize) -> Result<(), std::collections::TryReserveError> {
        fn go<T: Copy + Default>(
            v: &mut Vec<T>,
            values: usize,
        ) -> Result<(), std::collections::TryReserveError> {
            let len = v.len();
            if values > len {
                v.try_reserve_exact(values - len)?;
                v.resize(values, T::default());
                v.truncate(len);
            }
            Ok(())
        }
        match self {
            HeadRows::F32(v) => go(v, values),
            HeadRows::F16(v) => go(v, values),
        }
    }
}

/// Keys and values of every layer for the positions seen so far, head-major:
/// one attention head reads its positions as one contiguous run (which the
/// hardware prefetcher streams), not `head_dim` floats at a `kv_dim` stride.
pub struct KvCache {
    /// `k[layer][kv_head]`: `len × head_dim` keys.
    pub k: Vec<Vec<HeadRows>>,
    /// `v[layer][kv_head]`: `len × head_dim` values.
    pub v: Vec<Vec<HeadRows>>,
    /// Positions stored.
    pub len: usize,
    precision: KvPrecision,
}

impl KvCache {
    /// An empty f32 cache for `layers` layers of `kv_heads` heads.
    pub fn new(layers: usize, kv_heads: usize) -> KvCache {
        KvCache::with_precision(layers, kv_heads, KvPrecision::F32)
    }

    /// An empty cache storing values at `precision`.
    pub fn with_precision(layers: usize, kv_heads: usize, precision: KvPrecision) -> KvCache {
        let empty = || vec![vec![HeadRows::new(precision); kv_heads]; layers];
        KvCache {
            k: empty(),
            v: empty(),
            len: 0,
            precision,
        }
    }

    /// How values are stored.
    pub fn precision(&self) -> KvPrecision {
        self.precision
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
            .and_then(|n| n.checked_mul(self.precision.bytes()));
        let too_big = |detail: String| {
            ModelError::Input(format!(
                "the KV cache for {positions} positions ({heads} heads of {d} values, keys and values) {detail}: ask for fewer positions (shorter prompt, smaller -n)"
            ))
        };
        let (Some(per_head), Some(total)) = (per_head, total) else {
            return Err(too_big("overflows the address space".into()));
        };
        for head in self.k.iter_mut().chain(self.v.iter_mut()).flatten() {
            head.reserve_touched(per_head).map_err(|e| {
                too_big(format!(
                    "needs {:.2} GiB, which cannot be allocated ({e})",
                    total as f64 / (1u64 << 30) as f64
                ))
            })?;
        }
        Ok(())
    }

    /// Append `n` tokens' keys and values of `layer` (token-major, `n × kv_dim`
    /// each, heads of `d` values side by side), rounded to the cache's precision.
    pub(crate) fn append(&mut self, layer: usize, k: &[f32], v: &[f32], d: usize) {
        for (cache, new) in [(&mut self.k[layer], k), (&mut self.v[layer], v)] {
            let kvd = cache.len() * d;
            for token in new.chunks_exact(kvd) {
                for (head, part) in cache.iter_mut().zip(token.chunks_exact(d)) {
                    head.extend(part);
                }
            }
        }
    }
}
