//! Choosing the next token from logits: greedy, or temperature with top-k
//! and top-p (nucleus) filtering, from a seeded generator.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Sampling settings. `temperature == 0` is greedy (argmax).
#[derive(Clone, Debug)]
pub struct Sampler {
    /// Softmax temperature; 0 = greedy.
    pub temperature: f32,
    /// Keep the `top_k` most likely tokens (0 = all).
    pub top_k: usize,
    /// Keep the smallest set whose probability reaches `top_p` (1 = all).
    pub top_p: f32,
    rng: ChaCha8Rng,
}

impl Sampler {
    /// A sampler with a seed.
    pub fn new(temperature: f32, top_k: usize, top_p: f32, seed: u64) -> Self {
        Sampler {
            temperature,
            top_k,
            top_p,
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// A sampler whose settings are checked: `temperature` finite and ≥ 0,
    /// `top_p` in (0, 1]. (`top_k` needs no check: 0 and values past the
    /// vocabulary both keep every token.) The error names the setting, its
    /// value and the range.
    pub fn checked(
        temperature: f32,
        top_k: usize,
        top_p: f32,
        seed: u64,
    ) -> Result<Self, super::ModelError> {
        if !(temperature.is_finite() && temperature >= 0.0) {
            return Err(super::ModelError::Input(format!(
                "temperature {temperature} is not a finite number ≥ 0 (0 = greedy, 0.8 is typical)"
            )));
        }
        if !(top_p > 0.0 && top_p <= 1.0) {
            return Err(super::ModelError::Input(format!(
                "top-p {top_p} is outside (0, 1] (1 = off, 0.95 is typical)"
            )));
        }
        Ok(Sampler::new(temperature, top_k, top_p, seed))
    }

    /// Greedy decoding.
    pub fn greedy() -> Self {
        Sampler::new(0.0, 0, 1.0, 0)
    }

    /// Pick a token (`logits` must not be empty; greedy picks index 0 then).
    pub fn sample(&mut self, logits: &[f32]) -> u32 {
        if self.temperature <= 0.0 || logits.is_empty() {
            return argmax(logits);
        }
        let mut idx: Vec<usize> = (0..logits.len()).collect();
        idx.sort_unstable_by(|&a, &b| logits[b].total_cmp(&logits[a]));
        if self.top_k > 0 {
            idx.truncate(self.top_k);
        }
        let max = logits[idx[0]];
        let mut probs: Vec<f32> = idx
            .iter()
            .map(|&i| ((logits[i] - max) / self.temperature).exp())
            .collect();
        let sum: f32 = probs.iter().sum();
        probs.iter_mut().for_each(|p| *p /= sum);
        if self.top_p < 1.0 {
            let mut acc = 0.0;
            let keep = probs.iter().position(|p| {
                acc += p;
                acc >= self.top_p
            });
            let keep = keep.map_or(probs.len(), |k| k + 1);
            probs.truncate(keep);
            idx.truncate(keep);
        }
        let total: f32 = probs.iter().sum();
        let mut r = self.rng.gen::<f32>() * total;
        for (p, &i) in probs.iter().zip(&idx) {
            r -= p;
            if r <= 0.0 {
                return i as u32;
            }
        }
        idx[idx.len() - 1] as u32
    }
}

/// Index of the largest logit (first on ties).
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &v) in logits.iter().enumerate() {
        if v > logits[best] {
            best = i;
        }
    }
    best as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_refuses_bad_settings() {
        // Accepted: the edges of the documented ranges.
        for (t, p) in [(0.0, 1.0), (0.8, 0.95), (1e30, f32::MIN_POSITIVE)] {
            assert!(Sampler::checked(t, 40, p, 1).is_ok(), "temp {t} top-p {p}");
        }
        // Refused, and the message names the setting and the bad value.
        let cases = [
            (f32::NAN, 0.9, "temperature NaN"),
            (f32::INFINITY, 0.9, "temperature inf"),
            (-0.5, 0.9, "temperature -0.5"),
            (0.8, 2.0, "top-p 2"),
            (0.8, 0.0, "top-p 0"),
            (0.8, -1.0, "top-p -1"),
            (0.8, f32::NAN, "top-p NaN"),
            (0.8, 1.0000001, "top-p 1.0000001"),
        ];
        for (t, p, want) in cases {
            let e = Sampler::checked(t, 40, p, 1)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains(want), "temp {t} top-p {p}: {e:?} lacks {want:?}");
        }
    }

    #[test]
    fn greedy_and_filters() {
        let logits = [0.1, 3.0, 2.9, -1.0];
        assert_eq!(Sampler::greedy().sample(&logits), 1);
        // top_k = 1 is greedy whatever the temperature.
        let mut s = Sampler::new(5.0, 1, 1.0, 3);
        assert!((0..50).all(|_| s.sample(&logits) == 1));
        // top_p small keeps only the best token.
        let mut s = Sampler::new(1.0, 0, 0.1, 3);
        assert!((0..50).all(|_| s.sample(&logits) == 1));
        // With everything kept, both near-equal tokens show up.
        let mut s = Sampler::new(1.0, 0, 1.0, 3);
        let picks: Vec<u32> = (0..200).map(|_| s.sample(&logits)).collect();
        assert!(picks.contains(&1) && picks.contains(&2));
    }
}
