//! The greedy pair merge the BPE and SentencePiece tokenizers share (the
//! loop of llama.cpp's `llm_tokenizer_bpe_session` and
//! `llm_tokenizer_spm_session`): the text's symbols in a linked list, the
//! candidate merges of neighbours in a heap, the best candidate merged first
//! (ties: leftmost first) until none is left. The tokenizers differ only in
//! what makes a pair a candidate and how good it is.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// A piece of the text (`start..start + len`; `len` 0 once merged into its
/// left neighbour), linked to its live neighbours.
#[derive(Clone, Copy)]
struct Symbol {
    prev: Option<usize>,
    next: Option<usize>,
    start: usize,
    len: usize,
}

/// A candidate merge of `symbols[left]` and `symbols[right]`, queued when the
/// two spanned `size` bytes together.
struct Candidate<P> {
    left: usize,
    right: usize,
    priority: P,
    size: usize,
}

// llama.cpp's comparators: the heap top is the highest priority; among equal
// priorities, the smallest `left`.
impl<P: PartialOrd> Ord for Candidate<P> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.priority
            .partial_cmp(&other.priority)
            .unwrap_or(Ordering::Equal)
            .then_with(|| other.left.cmp(&self.left))
    }
}
impl<P: PartialOrd> PartialOrd for Candidate<P> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<P: PartialOrd> PartialEq for Candidate<P> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl<P: PartialOrd> Eq for Candidate<P> {}

/// `text` cut into pieces, in order: one piece per character (with `whole`,
/// the whole text as one), then the adjacent pair whose
/// `priority(joined, first_len)` is highest merged, again and again; a pair
/// with `None` never merges.
pub(super) fn merge<P: PartialOrd>(
    text: &str,
    whole: bool,
    priority: impl Fn(&str, usize) -> Option<P>,
) -> Vec<&str> {
    let mut symbols: Vec<Symbol> = Vec::with_capacity(text.len());
    if whole {
        symbols.push(Symbol {
            prev: None,
            next: None,
            start: 0,
            len: text.len(),
        });
    } else {
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
    }

    let mut queue = BinaryHeap::new();
    let add = |symbols: &[Symbol],
               queue: &mut BinaryHeap<Candidate<P>>,
               left: Option<usize>,
               right: Option<usize>| {
        let (Some(left), Some(right)) = (left, right) else {
            return;
        };
        let (l, r) = (symbols[left], symbols[right]);
        // adjacent symbols are contiguous in `text`
        let joined = &text[l.start..l.start + l.len + r.len];
        if let Some(priority) = priority(joined, l.len) {
            queue.push(Candidate {
                left,
                right,
                priority,
                size: joined.len(),
            });
        }
    };

    for i in 1..symbols.len() {
        add(&symbols, &mut queue, Some(i - 1), Some(i));
    }

    while let Some(b) = queue.pop() {
        let (l, r) = (symbols[b.left], symbols[b.right]);
        // Stale: one of the two was merged since it was queued (a live
        // symbol's start never moves and its length only grows, so the
        // size tells).
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
        add(&symbols, &mut queue, prev, Some(b.left));
        add(&symbols, &mut queue, Some(b.left), next);
    }

    symbols
        .iter()
        .filter(|s| s.len > 0)
        .map(|s| &text[s.start..s.start + s.len])
        .collect()
}
