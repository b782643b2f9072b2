//! Tokenizers built from GGUF tokenizer metadata, matching llama.cpp
//! (`src/llama-vocab.cpp` of llama-cpp-python 0.3.36) token for token.
//!
//! Two vocabulary types are supported, the ones BitNet b1.58 models use:
//!
//! * `tokenizer.ggml.model = "llama"`: SentencePiece-style BPE by token
//!   score, with `▁` for spaces, a space prefix and `<0xXX>` byte fallback
//!   (the 32000-token LLaMA vocabulary of the BitNet 700M/3B reproductions);
//! * `tokenizer.ggml.model = "gpt2"` with `tokenizer.ggml.pre` naming the
//!   Llama-3 pre-tokenizer (`llama-bpe`, `llama3`, …): byte-level BPE by merge
//!   rank (the 128256-token vocabulary of BitNet-b1.58-2B-4T).
//!
//! A [`Vocab`] holds the metadata as plain values (a GGUF reader maps the
//! `tokenizer.ggml.*` keys onto it); [`Tokenizer::new`] checks it and builds
//! the lookup tables. Encoding follows `llama_tokenize`: special tokens are
//! split out of the text first (user-defined ones always, control ones only
//! with `parse_special`), then each text fragment is tokenized. Decoding
//! follows `llama_detokenize` and `llama_token_to_piece`, including the
//! leading-space strip of SPM and the "clean up tokenization spaces" passes
//! of byte-level BPE.
//!
//! No input text makes these functions panic: ids out of range decode to
//! nothing, and bytes without a byte token are dropped (llama.cpp throws).
#![warn(missing_docs)]

mod bpe;
mod merge;
mod pretok;
mod spm;
mod unicode_tables;

use std::collections::{BTreeSet, HashMap};

use thiserror::Error;

/// GGUF `tokenizer.ggml.token_type` values (llama.cpp's `llama_token_type`).
pub mod token_type {
    /// Type not given (rendered as nothing).
    pub const UNDEFINED: i32 = 0;
    /// An ordinary text token.
    pub const NORMAL: i32 = 1;
    /// The unknown token, e.g. `<unk>`.
    pub const UNKNOWN: i32 = 2;
    /// A control token, e.g. `<s>`, `<|eot_id|>`.
    pub const CONTROL: i32 = 3;
    /// A user-defined token, always matched in text before tokenization.
    pub const USER_DEFINED: i32 = 4;
    /// An unused slot.
    pub const UNUSED: i32 = 5;
    /// A byte-fallback token `<0xXX>`.
    pub const BYTE: i32 = 6;
}

// llama.cpp's `llama_token_attr` bits that matter here
const ATTR_UNDEFINED: u32 = 0;
const ATTR_UNKNOWN: u32 = 1 << 0;
const ATTR_UNUSED: u32 = 1 << 1;
const ATTR_NORMAL: u32 = 1 << 2;
const ATTR_CONTROL: u32 = 1 << 3;
const ATTR_USER_DEFINED: u32 = 1 << 4;
const ATTR_BYTE: u32 = 1 << 5;

/// Tokenizer metadata as stored under GGUF `tokenizer.ggml.*`, as plain values.
///
/// `Option` fields are `None` when the GGUF key is absent; llama.cpp's
/// defaults for the vocabulary type then apply (see each field).
#[derive(Debug, Clone, Default)]
pub struct Vocab {
    /// `tokenizer.ggml.model`: `"llama"` (SentencePiece) or `"gpt2"` (byte-level BPE).
    pub model: String,
    /// `tokenizer.ggml.pre`: the pre-tokenizer of a `gpt2` vocabulary, e.g. `"llama-bpe"`.
    pub pre: Option<String>,
    /// `tokenizer.ggml.tokens`: token texts, indexed by id.
    pub tokens: Vec<String>,
    /// `tokenizer.ggml.scores`: per-token scores (SentencePiece merge
    /// priority); empty means all 0. Must not be shorter than `tokens` otherwise.
    pub scores: Vec<f32>,
    /// `tokenizer.ggml.token_type`: per-token [`token_type`] values; empty
    /// means all normal. Must not be shorter than `tokens` otherwise.
    pub token_types: Vec<i32>,
    /// `tokenizer.ggml.merges`: BPE merge rules `"first second"`, by rank
    /// (required for `gpt2`).
    pub merges: Vec<String>,
    /// `tokenizer.ggml.bos_token_id` (default: 1 for `llama`, 11 for `gpt2`).
    pub bos: Option<u32>,
    /// `tokenizer.ggml.eos_token_id` (default: 2 for `llama`, 11 for `gpt2`).
    pub eos: Option<u32>,
    /// `tokenizer.ggml.unknown_token_id` (default: 0 for `llama`, none for `gpt2`).
    pub unk: Option<u32>,
    /// `tokenizer.ggml.eot_token_id` (default: found by text, e.g. `<|eot_id|>`).
    pub eot: Option<u32>,
    /// `tokenizer.ggml.add_bos_token` (default: true for `llama` and Llama-3 BPE).
    pub add_bos: Option<bool>,
    /// `tokenizer.ggml.add_eos_token` (default: false).
    pub add_eos: Option<bool>,
    /// `tokenizer.ggml.add_space_prefix` (default: true for `llama`, false for `gpt2`).
    pub add_space_prefix: Option<bool>,
}

/// Errors from [`Tokenizer::new`].
#[derive(Debug, Error)]
pub enum TokenizerError {
    /// `tokenizer.ggml.model` is not one this crate implements.
    #[error("unsupported tokenizer model '{0}' (supported: llama, gpt2)")]
    UnsupportedModel(String),
    /// `tokenizer.ggml.pre` is not one this crate implements.
    #[error("unsupported pre-tokenizer '{0}' for a gpt2 vocabulary (supported: llama-bpe and its aliases)")]
    UnsupportedPre(String),
    /// A `gpt2` vocabulary without merges.
    #[error("gpt2 vocabulary without tokenizer.ggml.merges")]
    MissingMerges,
    /// An empty token list.
    #[error("empty token list")]
    Empty,
    /// More tokens than `u32` ids.
    #[error("too many tokens: {0}")]
    TooManyTokens(usize),
    /// A per-token array shorter than the token list.
    #[error("{what} has {got} entries for {want} tokens")]
    ShortArray {
        /// Which array (`scores` or `token_types`).
        what: &'static str,
        /// Its length.
        got: usize,
        /// The number of tokens.
        want: usize,
    },
}

/// The two tokenization algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenizerKind {
    /// SentencePiece-style (`llama`).
    Spm,
    /// Byte-level BPE with the Llama-3 pre-tokenizer (`gpt2`).
    Bpe,
}

/// Options of [`Tokenizer::encode_with`], as `llama_tokenize`'s flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EncodeOptions {
    /// Add BOS/EOS as the vocabulary says (`add_bos`/`add_eos`), like
    /// llama.cpp's `add_special`.
    pub add_special: bool,
    /// Recognize control tokens (e.g. `<|eot_id|>`) written in the text
    /// (user-defined tokens are always recognized).
    pub parse_special: bool,
}

/// Options of [`Tokenizer::decode_with`], as `llama_detokenize`'s flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Drop a leading BOS / trailing EOS when the vocabulary adds them.
    pub remove_special: bool,
    /// Render control and unknown tokens as their text (otherwise as nothing).
    pub unparse_special: bool,
}

#[derive(Debug, Clone)]
struct TokenData {
    text: String,
    score: f32,
    attr: u32,
}

#[derive(Debug, Clone)]
enum Model {
    Spm,
    Bpe(bpe::Merges),
}

/// A text fragment or an already-recognized special token.
enum Fragment<'a> {
    Text(&'a str),
    Token(u32),
}

/// A tokenizer built from a [`Vocab`]: encodes text to token ids and back
/// exactly as llama.cpp does for the same GGUF metadata.
#[derive(Debug, Clone)]
pub struct Tokenizer {
    model: Model,
    tokens: Vec<TokenData>,
    token_to_id: HashMap<String, u32>,
    bos: Option<u32>,
    eos: Option<u32>,
    unk: Option<u32>,
    eot: Option<u32>,
    add_bos: bool,
    add_eos: bool,
    add_space_prefix: bool,
    ignore_merges: bool,
    clean_spaces: bool,
    /// Control/user-defined/unknown tokens, longest text first.
    special_tokens: Vec<u32>,
    eog: BTreeSet<u32>,
    /// `token_to_piece(id, special = true)` of every token.
    pieces: Vec<Vec<u8>>,
    /// GPT-2 byte → character table (BPE only).
    byte_chars: [char; 256],
    /// Its inverse, indexed by code point (all of them are below U+0144).
    char_bytes: Vec<Option<u8>>,
}

/// The pre-tokenizer names llama.cpp maps to its Llama-3 splitter.
const LLAMA3_PRES: &[&str] = &[
    "llama3",
    "llama-v3",
    "llama-bpe",
    "falcon3",
    "falcon-h1",
    "pixtral",
    "midm-2.0",
    "lfm2",
    "jina-v5-nano",
];

/// Token texts that end generation (llama.cpp's list, `load()`).
const EOG_TEXTS: &[&str] = &[
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<|return|>",
    "<|call|>",
    "<|flush|>",
    "<|calls|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "</s>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "[EOS]",
    "<|end_of_text|>",
    "<end_of_utterance>",
    "<eos>",
    "<turn|>",
    "<|tool_response>",
    "<｜end▁of▁sentence｜>",
    "[e~[",
];

/// Token texts llama.cpp takes as EOT when no id is given.
const EOT_TEXTS: &[&str] = &[
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|end_of_text|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "<｜end▁of▁sentence｜>",
    "<end_of_utterance>",
];

impl Tokenizer {
    /// Builds a tokenizer from GGUF tokenizer metadata.
    pub fn new(vocab: Vocab) -> Result<Self, TokenizerError> {
        let n = vocab.tokens.len();
        if n == 0 {
            return Err(TokenizerError::Empty);
        }
        if u32::try_from(n).is_err() {
            return Err(TokenizerError::TooManyTokens(n));
        }
        for (what, got) in [
            ("scores", vocab.scores.len()),
            ("token_types", vocab.token_types.len()),
        ] {
            if got != 0 && got < n {
                return Err(TokenizerError::ShortArray { what, got, want: n });
            }
        }

        // per-type defaults (llama_vocab::impl::load)
        let (
            model,
            mut bos,
            mut eos,
            mut unk,
            mut add_bos,
            mut add_space_prefix,
            clean_spaces,
            ignore_merges,
        );
        match vocab.model.as_str() {
            "llama" => {
                model = Model::Spm;
                (bos, eos, unk) = (Some(1), Some(2), Some(0));
                add_bos = true;
                add_space_prefix = true;
                clean_spaces = false;
                ignore_merges = false;
            }
            "gpt2" => {
                let pre = vocab.pre.clone().unwrap_or_default();
                if !LLAMA3_PRES.contains(&pre.as_str()) {
                    return Err(TokenizerError::UnsupportedPre(pre));
                }
                if vocab.merges.is_empty() {
                    return Err(TokenizerError::MissingMerges);
                }
                model = Model::Bpe(bpe::Merges::new(&vocab.merges));
                (bos, eos, unk) = (Some(11), Some(11), None);
                add_bos = true;
                add_space_prefix = false;
                clean_spaces = true;
                ignore_merges = true;
            }
            other => return Err(TokenizerError::UnsupportedModel(other.to_owned())),
        }
        if let Some(v) = vocab.add_space_prefix {
            add_space_prefix = v;
        }

        let mut tokens = Vec::with_capacity(n);
        let mut token_to_id = HashMap::with_capacity(n);
        for (i, text) in vocab.tokens.into_iter().enumerate() {
            let text = if text.is_empty() {
                format!("[EMPTY_{i}]")
            } else {
                text
            };
            let attr = match vocab
                .token_types
                .get(i)
                .copied()
                .unwrap_or(token_type::NORMAL)
            {
                token_type::UNKNOWN => ATTR_UNKNOWN,
                token_type::UNUSED => ATTR_UNUSED,
                token_type::NORMAL => ATTR_NORMAL,
                token_type::CONTROL => ATTR_CONTROL,
                token_type::USER_DEFINED => ATTR_USER_DEFINED,
                token_type::BYTE => ATTR_BYTE,
                _ => ATTR_UNDEFINED,
            };
            token_to_id.insert(text.clone(), i as u32);
            tokens.push(TokenData {
                text,
                score: vocab.scores.get(i).copied().unwrap_or(0.0),
                attr,
            });
        }

        // special ids: defaults out of range are disabled, given ids out of
        // range keep the default
        let in_range = |id: Option<u32>| id.filter(|&id| (id as usize) < n);
        let pick = |default: Option<u32>, given: Option<u32>| in_range(given).or(in_range(default));
        bos = pick(bos, vocab.bos);
        eos = pick(eos, vocab.eos);
        unk = pick(unk, vocab.unk);
        let mut eot = in_range(vocab.eot);
        if let Some(v) = vocab.add_bos {
            add_bos = v;
        }
        let add_eos = vocab.add_eos.unwrap_or(false);

        // control-looking tokens by text (llama.cpp's auto-detection)
        let mut eog = BTreeSet::new();
        let mut by_id: Vec<(&str, u32)> = token_to_id
            .iter()
            .map(|(t, &id)| (t.as_str(), id))
            .collect();
        by_id.sort_unstable_by_key(|&(_, id)| id);
        let mut force_control = Vec::new();
        for &(text, id) in &by_id {
            if eot.is_none() && EOT_TEXTS.contains(&text) {
                eot = Some(id);
                force_control.push(id);
            }
            if EOG_TEXTS.contains(&text) {
                eog.insert(id);
                force_control.push(id);
            }
        }
        for id in force_control {
            tokens[id as usize].attr |= ATTR_CONTROL;
        }
        for t in tokens.iter_mut() {
            if t.attr & ATTR_CONTROL != 0 && t.text.contains("unused") {
                t.attr |= ATTR_UNUSED;
            }
        }
        eog.extend(eos);
        eog.extend(eot);

        let mut special_tokens: Vec<u32> = (0..n as u32)
            .filter(|&id| {
                tokens[id as usize].attr & (ATTR_CONTROL | ATTR_USER_DEFINED | ATTR_UNKNOWN) != 0
            })
            .collect();
        special_tokens.sort_by_key(|&id| std::cmp::Reverse(tokens[id as usize].text.len()));

        let byte_chars = pretok::byte_to_char_table();
        let mut char_bytes = vec![None; 0x144];
        for (b, &c) in byte_chars.iter().enumerate() {
            if let Some(slot) = char_bytes.get_mut(c as usize) {
                *slot = Some(b as u8);
            }
        }
        let mut tok = Tokenizer {
            model,
            tokens,
            token_to_id,
            bos,
            eos,
            unk,
            eot,
            add_bos,
            add_eos,
            add_space_prefix,
            ignore_merges,
            clean_spaces,
            special_tokens,
            eog,
            pieces: Vec::new(),
            byte_chars,
            char_bytes,
        };
        tok.pieces = (0..n as u32).map(|id| tok.render_piece(id)).collect();
        Ok(tok)
    }

    /// Which algorithm this tokenizer runs.
    pub fn kind(&self) -> TokenizerKind {
        match self.model {
            Model::Spm => TokenizerKind::Spm,
            Model::Bpe(_) => TokenizerKind::Bpe,
        }
    }

    /// Number of tokens in the vocabulary.
    pub fn n_tokens(&self) -> usize {
        self.tokens.len()
    }

    /// Number of BPE merge rules (0 for SentencePiece).
    pub fn n_merges(&self) -> usize {
        match &self.model {
            Model::Spm => 0,
            Model::Bpe(m) => m.len(),
        }
    }

    /// The beginning-of-sequence token, if any.
    pub fn bos(&self) -> Option<u32> {
        self.bos
    }

    /// The end-of-sequence token, if any.
    pub fn eos(&self) -> Option<u32> {
        self.eos
    }

    /// The end-of-turn token, if any (given or found by text).
    pub fn eot(&self) -> Option<u32> {
        self.eot
    }

    /// The unknown token, if any.
    pub fn unk(&self) -> Option<u32> {
        self.unk
    }

    /// Whether the model expects a BOS token at the start of a prompt.
    pub fn add_bos(&self) -> bool {
        self.add_bos
    }

    /// Whether `id` ends generation (EOS, EOT and llama.cpp's list of
    /// end-of-generation token texts).
    pub fn is_eog(&self, id: u32) -> bool {
        self.eog.contains(&id)
    }

    /// Whether `id` is a control token (e.g. `<s>`, `<|eot_id|>`).
    pub fn is_control(&self, id: u32) -> bool {
        self.tokens
            .get(id as usize)
            .is_some_and(|t| t.attr & ATTR_CONTROL != 0)
    }

    /// The vocabulary text of `id` (`▁`/`Ġ`-escaped as stored), if in range.
    pub fn token_text(&self, id: u32) -> Option<&str> {
        self.tokens.get(id as usize).map(|t| t.text.as_str())
    }

    /// The id whose vocabulary text is exactly `text`, if any.
    pub fn text_to_token(&self, text: &str) -> Option<u32> {
        self.token_to_id.get(text).copied()
    }

    /// Encodes `text` without recognizing control tokens in it, preceded by
    /// the BOS token if `add_bos` (and the vocabulary has one).
    ///
    /// This is `llama_tokenize(text, add_special = false, parse_special =
    /// false)` with BOS prepended on request: the ids llama.cpp's tokenizer
    /// tests expect.
    pub fn encode(&self, text: &str, add_bos: bool) -> Vec<u32> {
        let mut out = Vec::with_capacity(text.len() / 3 + 2);
        if add_bos {
            out.extend(self.bos);
        }
        self.encode_into(text, EncodeOptions::default(), &mut out);
        out
    }

    /// Encodes `text` exactly as `llama_tokenize(text, add_special, parse_special)`.
    pub fn encode_with(&self, text: &str, opts: EncodeOptions) -> Vec<u32> {
        let mut out = Vec::with_capacity(text.len() / 3 + 2);
        if opts.add_special && self.add_bos {
            out.extend(self.bos);
        }
        self.encode_into(text, opts, &mut out);
        if opts.add_special && self.add_eos {
            out.extend(self.eos);
        }
        out
    }

    fn encode_into(&self, text: &str, opts: EncodeOptions, out: &mut Vec<u32>) {
        let fragments = self.partition(text, opts.parse_special);
        match &self.model {
            Model::Spm => {
                // prefix with a space the text at the start and after a special token
                let mut prev_special = true;
                let mut buf = String::new();
                for frag in fragments {
                    match frag {
                        Fragment::Text(t) => {
                            buf.clear();
                            if self.add_space_prefix && prev_special {
                                buf.push('▁');
                            }
                            for c in t.chars() {
                                buf.push(if c == ' ' { '▁' } else { c });
                            }
                            spm::tokenize(self, &buf, out);
                            prev_special = false;
                        }
                        Fragment::Token(id) => {
                            out.push(id);
                            prev_special = true;
                        }
                    }
                }
            }
            Model::Bpe(merges) => {
                for frag in fragments {
                    match frag {
                        Fragment::Text(t) => bpe::tokenize(self, merges, t, out),
                        Fragment::Token(id) => out.push(id),
                    }
                }
            }
        }
    }

    /// Splits special tokens out of `text` (llama.cpp's `tokenizer_st_partition`):
    /// longest token text first, leftmost occurrences, empty texts dropped.
    fn partition<'a>(&self, text: &'a str, parse_special: bool) -> Vec<Fragment<'a>> {
        let mut frags = Vec::new();
        if text.is_empty() {
            return frags;
        }
        frags.push(Fragment::Text(text));
        for &id in &self.special_tokens {
            let data = &self.tokens[id as usize];
            if !parse_special && data.attr & (ATTR_CONTROL | ATTR_UNKNOWN) != 0 {
                continue;
            }
            let needle = data.text.as_str();
            if !frags
                .iter()
                .any(|f| matches!(f, Fragment::Text(t) if t.contains(needle)))
            {
                continue;
            }
            let mut next = Vec::with_capacity(frags.len() + 2);
            for frag in frags {
                match frag {
                    Fragment::Text(mut t) => {
                        while let Some(at) = t.find(needle) {
                            if at > 0 {
                                next.push(Fragment::Text(&t[..at]));
                            }
                            next.push(Fragment::Token(id));
                            t = &t[at + needle.len()..];
                        }
                        if !t.is_empty() {
                            next.push(Fragment::Text(t));
                        }
                    }
                    tok => next.push(tok),
                }
            }
            frags = next;
        }
        frags
    }

    /// SPM byte fallback: the `<0xXX>` token of `b`, else the token whose text
    /// is that single byte, else (llama.cpp throws here) the unknown token.
    fn byte_to_token(&self, b: u8) -> Option<u32> {
        self.text_to_token(&format!("<0x{b:02X}>"))
            .or_else(|| {
                std::str::from_utf8(&[b])
                    .ok()
                    .and_then(|s| self.text_to_token(s))
            })
            .or(self.unk)
    }

    /// `token_to_piece(id, lstrip = 0, special = true)` without the cache.
    fn render_piece(&self, id: u32) -> Vec<u8> {
        let t = &self.tokens[id as usize];
        if t.attr & (ATTR_UNKNOWN | ATTR_CONTROL | ATTR_USER_DEFINED) != 0 {
            return t.text.as_bytes().to_vec();
        }
        if t.attr & ATTR_NORMAL != 0 {
            return match self.model {
                Model::Spm => t.text.replace('▁', " ").into_bytes(),
                Model::Bpe(_) => self.decode_byte_chars(&t.text),
            };
        }
        if t.attr & ATTR_BYTE != 0 {
            // llama.cpp: strtol(text.substr(3, 2), 16), i.e. "<0xXX>"
            let hex = t.text.get(3..5).unwrap_or("");
            let digits: String = hex.chars().take_while(|c| c.is_ascii_hexdigit()).collect();
            return vec![u8::from_str_radix(&digits, 16).unwrap_or(0)];
        }
        Vec::new()
    }

    /// GPT-2 printable characters back to bytes (llama.cpp's `llama_decode_text`).
    fn decode_byte_chars(&self, text: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(text.len());
        for c in text.chars() {
            match self.char_bytes.get(c as usize).copied().flatten() {
                Some(b) => out.push(b),
                None => {
                    // llama.cpp's marker for characters outside the byte map
                    out.extend_from_slice(b"[UNK_BYTE_0x");
                    let mut utf8 = [0u8; 4];
                    for b in c.encode_utf8(&mut utf8).bytes() {
                        out.extend_from_slice(format!("{b:02x}").as_bytes());
                    }
                    out.extend_from_slice(text.as_bytes());
                    out.push(b']');
                }
            }
        }
        out
    }

    /// The bytes token `id` stands for, as `llama_token_to_piece(id, lstrip =
    /// 0, special = false)`: control and unknown tokens give nothing, byte
    /// tokens one byte (possibly part of a UTF-8 sequence: buffer the bytes
    /// of consecutive pieces when streaming). Out-of-range ids give nothing.
    pub fn token_to_piece(&self, id: u32) -> Vec<u8> {
        self.piece(id, false).to_vec()
    }

    fn piece(&self, id: u32, special: bool) -> &[u8] {
        match self.tokens.get(id as usize) {
            Some(t) if special || t.attr & (ATTR_UNKNOWN | ATTR_CONTROL) == 0 => {
                &self.pieces[id as usize]
            }
            _ => &[],
        }
    }

    /// Decodes ids to text as `llama_detokenize(remove_special = false,
    /// unparse_special = false)` (control tokens give nothing); invalid UTF-8
    /// is replaced by U+FFFD.
    pub fn decode(&self, ids: &[u32]) -> String {
        String::from_utf8_lossy(&self.decode_with(ids, DecodeOptions::default())).into_owned()
    }

    /// Decodes ids to bytes exactly as `llama_detokenize(remove_special, unparse_special)`.
    pub fn decode_with(&self, mut ids: &[u32], opts: DecodeOptions) -> Vec<u8> {
        let mut remove_space = self.add_space_prefix;
        if opts.remove_special
            && self.add_bos
            && ids.first().is_some_and(|&id| Some(id) == self.bos)
        {
            remove_space = false;
            ids = &ids[1..];
        }
        if opts.remove_special && self.add_eos && ids.last().is_some_and(|&id| Some(id) == self.eos)
        {
            ids = &ids[..ids.len() - 1];
        }
        let mut text = Vec::with_capacity(ids.len() * 4);
        for &id in ids {
            let mut piece = self.piece(id, opts.unparse_special);
            if remove_space {
                if let Some(rest) = piece.strip_prefix(b" ") {
                    piece = rest;
                }
            }
            remove_space = false;
            text.extend_from_slice(piece);
        }
        if self.clean_spaces {
            clean_up_spaces(&mut text);
        }
        text
    }
}

/// llama.cpp's `clean_spaces` passes (`detokenize`), in place: drop the space
/// before `?!.,`, around a lone `'`, and before `'s`, `'m`, `'re`, `'ve`.
fn clean_up_spaces(text: &mut Vec<u8>) {
    // first pass: " ?", " !", " .", " ,"
    let n1 = text.len();
    let mut total = usize::from(n1 > 0);
    for i in 1..n1 {
        let x = text[i];
        if text[i - 1] == b' ' && matches!(x, b'?' | b'!' | b'.' | b',') {
            total -= 1;
        }
        text[total] = x;
        total += 1;
    }
    text.truncate(total);

    // second pass: " ' " -> "'"
    let n2 = text.len();
    let mut total = usize::from(n2 > 0);
    let mut i = 1;
    while i < n2 {
        let x = text[i];
        if x == b'\'' && i + 1 < n2 && text[i - 1] == b' ' && text[i + 1] == b' ' {
            total -= 1;
            i += 1;
            text[i] = 0;
        }
        text[total] = x;
        total += 1;
        i += 1;
    }
    text.truncate(total);

    // third pass: " 's", " 'm", " 're", " 've" -> no space
    let n3 = text.len();
    let mut total = usize::from(n3 > 0);
    for i in 1..n3 {
        let x = text[i];
        if text[i - 1] == b' ' && x == b'\'' && i + 1 < n3 {
            let x1 = text[i + 1];
            let x2 = text.get(i + 2).copied().filter(|_| i + 2 < n3);
            if matches!(x1, b's' | b'm')
                || matches!((x1, x2), (b'r', Some(b'e')) | (b'v', Some(b'e')))
            {
                total -= 1;
            }
        }
        text[total] = x;
        total += 1;
    }
    text.truncate(total);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(s: &str) -> String {
        let mut v = s.as_bytes().to_vec();
        clean_up_spaces(&mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn clean_spaces_matches_llama_cpp() {
        assert_eq!(clean("Hello , world !"), "Hello, world!");
        assert_eq!(clean("it ' s"), "it's");
        assert_eq!(
            clean("I 'm you 're they 've he 's"),
            "I'm you're they've he's"
        );
        assert_eq!(clean("don 't I 'll"), "don 't I 'll");
        assert_eq!(clean(" ' ' x"), "'' x");
        assert_eq!(clean(""), "");
        assert_eq!(clean(" ?"), "?");
    }

    fn tiny_spm() -> Tokenizer {
        let mut tokens = vec!["<unk>".to_owned(), "<s>".to_owned(), "</s>".to_owned()];
        let mut types = vec![
            token_type::UNKNOWN,
            token_type::CONTROL,
            token_type::CONTROL,
        ];
        for b in 0..=255u8 {
            tokens.push(format!("<0x{b:02X}>"));
            types.push(token_type::BYTE);
        }
        for t in ["▁", "a", "b", "▁a", "ab", "▁ab"] {
            tokens.push(t.to_owned());
            types.push(token_type::NORMAL);
        }
        let scores = (0..tokens.len()).map(|i| -(i as f32)).collect();
        Tokenizer::new(Vocab {
            model: "llama".into(),
            tokens,
            scores,
            token_types: types,
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn spm_basics_and_byte_fallback() {
        let t = tiny_spm();
        let id = |s: &str| t.text_to_token(s).unwrap();
        // "▁a" (score -262) beats "ab" (-263): ▁a + b, then "▁ab" (-264)
        assert_eq!(t.encode("ab", false), vec![id("▁ab")]);
        assert_eq!(t.encode("ab", true), vec![1, id("▁ab")]);
        // 'é' has no token: its two UTF-8 bytes
        assert_eq!(
            t.encode("é", false),
            vec![id("▁"), id("<0xC3>"), id("<0xA9>")]
        );
        assert_eq!(t.decode(&t.encode("é ab", false)), "é ab");
        // control tokens are text unless parse_special
        let with = t.encode_with(
            "a</s>b",
            EncodeOptions {
                add_special: false,
                parse_special: true,
            },
        );
        assert_eq!(with, vec![id("▁a"), 2, id("▁"), id("b")]);
        assert!(t.is_eog(2));
        assert_eq!(t.token_to_piece(2), b"");
        assert_eq!(t.token_to_piece(u32::MAX), b"");
        assert_eq!(t.decode(&[u32::MAX, 7, 1_000_000]), "\u{4}");
    }

    #[test]
    fn no_panic_on_odd_text() {
        let t = tiny_spm();
        for s in [
            "",
            " ",
            "\u{0}",
            "\u{FEFF}\u{10FFFF}",
            "\u{FFFD}",
            "a\r\n\t b",
            "🦙",
        ] {
            let ids = t.encode(s, true);
            let _ = t.decode(&ids);
        }
    }
}
