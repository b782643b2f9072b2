//! Byte-level BPE (GGUF `tokenizer.ggml.model = "gpt2"`), a port of
//! llama.cpp's `llm_tokenizer_bpe_session`: pre-split the text into words,
//! map each word's UTF-8 bytes to GPT-2's printable characters, then merge
//! adjacent symbols by merge rank (lowest first, ties leftmost first).

use std::cmp::Reverse;
use std::collections::HashMap;

use super::merge::merge;
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
    let whole = tok.ignore_merges && tok.text_to_token(word).is_some();
    // lowest rank first
    let pieces = merge(word, whole, |joined, first_len| {
        merges.rank(joined, first_len).map(Reverse)
    });
    for piece in pieces {
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
