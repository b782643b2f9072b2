//! SentencePiece-style tokenization (GGUF `tokenizer.ggml.model = "llama"`),
//! a port of llama.cpp's `llm_tokenizer_spm_session`: split into UTF-8
//! characters, then repeatedly merge the adjacent pair whose concatenation is
//! the vocabulary token of highest score (ties: leftmost first), and fall back
//! to `<0xXX>` byte tokens for whatever did not become a token.
//!
//! The caller has already escaped spaces to `▁` and prepended the space prefix.

use super::merge::merge;
use super::Tokenizer;

/// Tokenizes one escaped text fragment, appending ids to `out`.
pub(crate) fn tokenize(tok: &Tokenizer, text: &str, out: &mut Vec<u32>) {
    // highest vocabulary score first
    let pieces = merge(text, false, |joined, _| {
        tok.text_to_token(joined)
            .map(|id| tok.tokens[id as usize].score)
    });
    for piece in pieces {
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
    }
}
