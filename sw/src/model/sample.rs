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
        Sampler { temperature, top_k, top_p, rng: ChaCha8Rng::seed_from_u64(seed) }
    }

    /// Greedy decoding.
    pub fn greedy() -> Self {
        Sampler::new(0.0, 0, 1.0, 0)
    }

    /// Pick a token.
    pub fn sample(&mut self, logits: &[f32]) -> u32 {
        if self.temperature <= 0.0 {
            return argmax(logits);
        }
        let mut idx: Vec<usize> = (0..logits.len()).collect();
        idx.sort_unstable_by(|&a, &b| logits[b].total_cmp(&logits[a]));
        if self.top_k > 0 {
            idx.truncate(self.top_k);
        }
        let max = logits[idx[0]];
        let mut probs: Vec<f32> = idx.iter().map(|&i| ((logits[i] - max) / self.temperature).exp()).collect();
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
