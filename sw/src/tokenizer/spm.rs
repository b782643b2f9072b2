//! SentencePiece-style tokenization (GGUF `tokenizer.ggml.model = "llama"`),
//! a port of llama.cpp's `llm_tokenizer_spm_session`: split into UTF-8
//! characters, then repeatedly merge the adjacent pair whose concatenation is
//! the vocabulary token of highest score (ties: leftmost first), and fall back
//! to `<0xXX>` byte tokens for whatever did not become a token.
//!
//! The caller has already escaped spaces to `▁` and prepended the space prefix.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::Tokenizer;

#[derive(Clone, Copy)]
struct Symbol {
    prev: Option<usize>,
    next: Option<usize>,
    start: usize,
    len: usize,
}

/// A candidate merge of `symbols[left]` and `symbols[right]`.
struct Bigram {
    left: usize,
    right: usize,
    score: f32,
    size: usize,
}

// llama.cpp's comparator: the heap top is the highest score; among equal
// scores, the smallest `left`.
impl Ord for Bigram {
    fn cmp(&self, other: &Self) -> Ordering {
        self.score
            .partial_cmp(&other.score)
            .unwrap_or(Ordering::Equal)
            .then_with(|| other.left.cmp(&self.left))
    }
}
impl PartialOrd for Bigram {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for Bigram {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Bigram {}

/// Tokenizes one escaped text fragment, appending ids to `out`.
pub(crate) fn tokenize(tok: &Tokenizer, text: &str, out: &mut Vec<u32>) {
    let mut symbols: Vec<Symbol> = Vec::with_capacity(text.len());
    for (i, (start, c)) in text.char_indices().enumerate() {
        let len = c.len_utf8();
        symbols.push(Symbol {
            prev: i.checked_sub(1),
            next: if start + len == text.len() {
                None
            } else {
                Some(i + 1)
            },
            start,
            len,
        });
    }
    if symbols.is_empty() {
        return;
    }

    let mut queue = BinaryHeap::new();
    let try_add = |symbols: &[Symbol],
                   queue: &mut BinaryHeap<Bigram>,
                   left: Option<usize>,
                   right: Option<usize>| {
        let (Some(left), Some(right)) = (left, right) else {
            return;
        };
        let (l, r) = (symbols[left], symbols[right]);
        let piece = &text[l.start..l.start + l.len + r.len];
        if let Some(id) = tok.text_to_token(piece) {
            queue.push(Bigram {
                left,
                right,
                score: tok.tokens[id as usize].score,
                size: piece.len(),
            });
        }
    };

    for i in 1..symbols.len() {
        try_add(&symbols, &mut queue, Some(i - 1), Some(i));
    }

    while let Some(b) = queue.pop() {
        let (l, r) = (symbols[b.left], symbols[b.right]);
        // one of the two was merged away since: stale entry
        if l.len == 0 || r.len == 0 || l.len + r.len != b.size {
            continue;
        }
        symbols[b.left].len += r.len;
        symbols[b.right].len = 0;
        symbols[b.left].next = r.next;
        if let Some(n) = r.next {
            symbols[n].prev = Some(b.left);
        }
        let (prev, next) = (symbols[b.left].prev, symbols[b.left].next);
        try_add(&symbols, &mut queue, prev, Some(b.left));
        try_add(&symbols, &mut queue, Some(b.left), next);
    }

    let mut i = Some(0);
    while let Some(k) = i {
        let s = symbols[k];
        let piece = &text[s.start..s.start + s.len];
        match tok.text_to_token(piece) {
            Some(id) => out.push(id),
            // (llama.cpp's `rev_merge` re-segmentation never applies: every
            // merged symbol is a vocabulary token by construction)
            None => {
                for &b in piece.as_bytes() {
                    if let Some(id) = tok.byte_to_token(b) {
                        out.push(id);
                    }
                }
            }
        }
        i = s.next;
    }
}
