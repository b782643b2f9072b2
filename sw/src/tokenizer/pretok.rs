//! Pre-tokenization for byte-level BPE: the Llama-3 word splitter and the
//! GPT-2 byte ↔ unicode mapping, ported from llama.cpp's `src/unicode.cpp`
//! (`unicode_regex_split_custom_llama3`, `unicode_byte_to_utf8_map`).
//!
//! llama.cpp does not run a regex engine for this pattern: it hand-codes
//!
//! ```text
//! (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//! ```
//!
//! and so does this module, branch for branch, with llama.cpp's own Unicode
//! tables (`unicode_tables.rs`), so that splits agree on every input.

use super::unicode_tables::{LETTER_RANGES, NUMBER_RANGES, WHITESPACE};

/// The character-class flags the splitter consults. `defined` is false only
/// for positions outside the text (llama.cpp's all-zero `unicode_cpt_flags{}`);
/// every code point of the text has some category there.
#[derive(Clone, Copy, Default)]
struct Flags {
    defined: bool,
    letter: bool,
    number: bool,
    whitespace: bool,
}

fn in_ranges(ranges: &[(u32, u32)], c: u32) -> bool {
    // ranges are sorted and disjoint: find the last range starting at or before c
    let i = ranges.partition_point(|&(start, _)| start <= c);
    i > 0 && c < ranges[i - 1].1
}

fn flags_of(c: char) -> Flags {
    let c = c as u32;
    Flags {
        defined: true,
        letter: in_ranges(LETTER_RANGES, c),
        number: in_ranges(NUMBER_RANGES, c),
        whitespace: WHITESPACE.binary_search(&c).is_ok(),
    }
}

/// Splits `text` into words as llama.cpp's Llama-3 pre-tokenizer does.
/// Returns the words as sub-slices of `text`, in order, covering it exactly.
pub(crate) fn split_llama3(text: &str) -> Vec<&str> {
    // code points with their byte offsets (one extra entry for the end)
    let mut offs: Vec<usize> = Vec::with_capacity(text.len() + 1);
    let mut cpts: Vec<char> = Vec::with_capacity(text.len());
    for (i, c) in text.char_indices() {
        offs.push(i);
        cpts.push(c);
    }
    offs.push(text.len());
    let flags: Vec<Flags> = cpts.iter().map(|&c| flags_of(c)).collect();

    let end = cpts.len();
    let cpt = |pos: usize| -> Option<char> { cpts.get(pos).copied() };
    let fl = |pos: usize| -> Flags { flags.get(pos).copied().unwrap_or_default() };
    let lower = |c: Option<char>| c.map(|c| c.to_ascii_lowercase());

    let mut words: Vec<&str> = Vec::new();
    let mut prev_end = 0usize;
    // llama.cpp's `_add_token`: close the word ending at code point `e`
    macro_rules! add {
        ($e:expr) => {{
            let e: usize = $e;
            if e > prev_end {
                words.push(&text[offs[prev_end]..offs[e]]);
            }
            prev_end = e;
        }};
    }

    let mut pos = 0usize;
    while pos < end {
        let c = cpts[pos];
        let f = flags[pos];

        // (?i:'s|'t|'re|'ve|'m|'ll|'d)
        // (only ASCII letters lower-case to s, t, m, d, r, v, e or l in
        // llama.cpp's case table, so ASCII lower-casing is exact here)
        if c == '\'' && pos + 1 < end {
            let next = lower(cpt(pos + 1));
            if matches!(next, Some('s' | 't' | 'm' | 'd')) {
                pos += 2;
                add!(pos);
                continue;
            }
            if pos + 2 < end {
                let next2 = lower(cpt(pos + 2));
                if matches!(
                    (next, next2),
                    (Some('r'), Some('e')) | (Some('v'), Some('e')) | (Some('l'), Some('l'))
                ) {
                    pos += 3;
                    add!(pos);
                    continue;
                }
            }
        }

        // [^\r\n\p{L}\p{N}]?\p{L}+
        if !(c == '\r' || c == '\n' || f.number) && (f.letter || fl(pos + 1).letter) {
            pos += 1;
            while fl(pos).letter {
                pos += 1;
            }
            add!(pos);
            continue;
        }

        // \p{N}{1,3}
        if f.number {
            let mut ini = pos;
            while fl(pos).number {
                pos += 1;
                if pos - ini >= 3 {
                    add!(pos);
                    ini = pos;
                }
            }
            add!(pos);
            continue;
        }

        // <space>?[^\s\p{L}\p{N}]+[\r\n]*
        let mut f2 = if c == ' ' { fl(pos + 1) } else { f };
        if !(f2.whitespace || f2.letter || f2.number) && f.defined {
            if c == ' ' {
                pos += 1;
            }
            while !(f2.whitespace || f2.letter || f2.number) && f2.defined {
                pos += 1;
                f2 = fl(pos);
            }
            while matches!(cpt(pos), Some('\r' | '\n')) {
                pos += 1;
            }
            add!(pos);
            continue;
        }

        let mut num_ws = 0usize;
        let mut last_end_r_or_n = 0usize;
        while fl(pos + num_ws).whitespace {
            if matches!(cpt(pos + num_ws), Some('\r' | '\n')) {
                last_end_r_or_n = pos + num_ws + 1;
            }
            num_ws += 1;
        }

        // \s*[\r\n]+
        if last_end_r_or_n > 0 {
            pos = last_end_r_or_n;
            add!(pos);
            continue;
        }

        // \s+(?!\S)
        if num_ws > 1 && cpt(pos + num_ws).is_some() {
            pos += num_ws - 1;
            add!(pos);
            continue;
        }

        // \s+
        if num_ws > 0 {
            pos += num_ws;
            add!(pos);
            continue;
        }

        // no match
        pos += 1;
        add!(pos);
    }
    words
}

/// GPT-2's byte → printable character table (`bytes_to_unicode`).
pub(crate) fn byte_to_char_table() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut assigned = [false; 256];
    for b in (0x21u32..=0x7E).chain(0xA1..=0xAC).chain(0xAE..=0xFF) {
        table[b as usize] = char::from_u32(b).unwrap_or('\0');
        assigned[b as usize] = true;
    }
    let mut n = 0u32;
    for b in 0..256usize {
        if !assigned[b] {
            table[b] = char::from_u32(256 + n).unwrap_or('\0');
            n += 1;
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llama3_splits() {
        let cases: &[(&str, &[&str])] = &[
            ("Hello world", &["Hello", " world"]),
            ("  Hello", &[" ", " Hello"]),
            ("3333333", &["333", "333", "3"]),
            ("I've 'LL", &["I", "'ve", " '", "LL"]),
            ("a\n\n b", &["a", "\n\n", " b"]),
            ("x   ", &["x", "   "]),
            ("x  y", &["x", " ", " y"]),
            (" (normal)", &[" (", "normal", ")"]),
            ("", &[]),
            (" ", &[" "]),
        ];
        for (text, want) in cases {
            assert_eq!(split_llama3(text), *want, "{text:?}");
        }
    }

    #[test]
    fn byte_table_is_gpt2() {
        let t = byte_to_char_table();
        assert_eq!(t[b' ' as usize], 'Ġ');
        assert_eq!(t[b'\n' as usize], 'Ċ');
        assert_eq!(t[b'A' as usize], 'A');
        assert_eq!(t[0xAD], 'Ń');
    }
}
