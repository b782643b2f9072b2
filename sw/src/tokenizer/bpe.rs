//! Byte-level BPE (GGUF `tokenizer.ggml.model = "gpt2"`), a port of
//! llama.cpp's `llm_tokenizer_bpe_session`: pre-split the text into words,
//! map each word's UTF-8 bytes to GPT-2's printable characters, then merge
//! adjacent symbols by merge rank (lowest first, ties leftmost first).

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

use super::{pretok, Tokenizer};

/// Merge ranks, keyed by the concatenation `first + second`; each entry lists
/// `(first.len(), rank)` so that a lookup is exact on the pair (a merge rule
/// may contain further spaces).
#[derive(Debug, Clone, Default)]
pub(crate) struct Merges {
    map: HashMap<String, Vec<(usize, u32)>>,
}

impl Merges {
    /// Parses GGUF `tokenizer.ggml.merges` lines (`"first second"`, split at
    /// the first space after the first byte, as llama.cpp does; the first of
    /// identical rules wins).
    pub(crate) fn new(lines: &[String]) -> Self {
        let mut map: HashMap<String, Vec<(usize, u32)>> = HashMap::with_capacity(lines.len());
        for (rank, line) in lines.iter().enumerate() {
            // byte search: `' '` is ASCII, so any hit is a char boundary
            let split = line.bytes().skip(1).position(|b| b == b' ').map(|p| p + 1);
            let (first, second) = match split {
                Some(p) => (&line[..p], &line[p + 1..]),
                None => ("", ""),
            };
            let mut key = String::with_capacity(first.len() + second.len());
            key.push_str(first);
            key.push_str(second);
            let entry = map.entry(key).or_default();
            if !entry.iter().any(|&(l, _)| l == first.len()) {
                entry.push((first.len(), rank as u32));
            }
        }
        Self { map }
    }

    fn rank(&self, joined: &str, first_len: usize) -> Option<u32> {
        self.map
            .get(joined)?
            .iter()
            .find(|&&(l, _)| l == first_len)
            .map(|&(_, r)| r)
    }

    /// Number of distinct rules.
    pub(crate) fn len(&self) -> usize {
        self.map.values().map(Vec::len).sum()
    }
}

#[derive(Clone, Copy)]
struct Symbol {
    prev: Option<usize>,
    next: Option<usize>,
    start: usize,
    len: usize,
}

struct Bigram {
    left: usize,
    right: usize,
    text: String,
    rank: u32,
}

// llama.cpp's comparator: the heap top is the lowest rank; among equal
// ranks, the smallest `left`.
impl Ord for Bigram {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .rank
            .cmp(&self.rank)
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

/// Tokenizes one raw text fragment, appending ids to `out`.
pub(crate) fn tokenize(tok: &Tokenizer, merges: &Merges, text: &str, out: &mut Vec<u32>) {
    let mut encoded = String::new();
    for word in pretok::split_llama3(text) {
        encoded.clear();
        for &b in word.as_bytes() {
            encoded.push(tok.byte_chars[b as usize]);
        }
        tokenize_word(tok, merges, &encoded, out);
    }
}

fn tokenize_word(tok: &Tokenizer, merges: &Merges, word: &str, out: &mut Vec<u32>) {
    let mut symbols: Vec<Symbol> = Vec::new();
    if tok.ignore_merges && tok.text_to_token(word).is_some() {
        symbols.push(Symbol {
            prev: None,
            next: None,
            start: 0,
            len: word.len(),
        });
    } else {
        for (i, (start, c)) in word.char_indices().enumerate() {
            let len = c.len_utf8();
            symbols.push(Symbol {
                prev: i.checked_sub(1),
                next: if start + len == word.len() {
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
               queue: &mut BinaryHeap<Bigram>,
               left: Option<usize>,
               right: Option<usize>| {
        let (Some(left), Some(right)) = (left, right) else {
            return;
        };
        let (l, r) = (symbols[left], symbols[right]);
        // adjacent symbols are contiguous in `word`
        let joined = &word[l.start..l.start + l.len + r.len];
        if let Some(rank) = merges.rank(joined, l.len) {
            queue.push(Bigram {
                left,
                right,
                text: joined.to_owned(),
                rank,
            });
        }
    };

    for i in 1..symbols.len() {
        add(&symbols, &mut queue, Some(i - 1), Some(i));
    }

    while let Some(b) = queue.pop() {
        let (l, r) = (symbols[b.left], symbols[b.right]);
        if l.len == 0 || r.len == 0 {
            continue;
        }
        // outdated: either side changed since the bigram was queued
        let now = (
            &word[l.start..l.start + l.len],
            &word[r.start..r.start + r.len],
        );
        if now.0.len() + now.1.len() != b.text.len()
            || !b.text.starts_with(now.0)
            || !b.text.ends_with(now.1)
        {
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

    for s in symbols.iter().filter(|s| s.len > 0) {
        let piece = &word[s.start..s.start + s.len];
        match tok.text_to_token(piece) {
            Some(id) => out.push(id),
            None => {
                // llama.cpp looks up each byte of the (encoded) piece as a
                // one-byte token and drops those that are not one
                for &b in piece.as_bytes() {
                    if b.is_ascii() {
                        let ch = [b];
                        if let Some(id) = std::str::from_utf8(&ch)
                            .ok()
                            .and_then(|s| tok.text_to_token(s))
                        {
                            out.push(id);
                        }
                    }
                }
            }
        }
    }
}
