//! Arithmetic structures the arrays share, written so that synthesis maps
//! them well.
//!
//! A flat `a + b + c + …` becomes one multi-operand `$macc` cell in yosys,
//! which it maps onto a compressor tree of LUTs — on ECP5 a sum of eight int8
//! values took 165 LUT4 + 8 CCU2C + 84 wide-mux cells that way, and 36 CCU2C
//! (carry-chain adders only) as the balanced tree of two-input adds below.
//! A one-bit operand of a two-input add becomes the adder's carry-in for free,
//! so the `+1`s of two's-complement negations ride along as carries.

use crate::ir::{e, Expr, Module};

/// One operand of a [`sum_tree`]: a signed value of `width` bits.
#[derive(Clone, Debug)]
pub struct Term {
    /// The value (two's complement).
    pub value: Expr,
    /// Its width.
    pub width: u32,
}

/// `Σ terms + Σ carries` (carries are unsigned single bits) as a balanced
/// tree of two-input adders, each level in named wires `{prefix}_l{level}_{i}`
/// one bit wider than its inputs. Each adder takes one carry as its carry-in;
/// carries left over are added at the root. Returns the sum sign-extended or
/// truncated to `width` bits: the caller guarantees that the sum fits.
pub fn sum_tree(
    m: &mut Module,
    prefix: &str,
    terms: Vec<Term>,
    carries: Vec<Expr>,
    width: u32,
) -> Expr {
    assert!(!terms.is_empty(), "sum_tree of nothing");
    let mut carries = carries.into_iter();
    let mut level = terms;
    let mut depth = 0;
    while level.len() > 1 {
        depth += 1;
        let mut next = Vec::with_capacity(level.len().div_ceil(2));
        let mut pairs = level.into_iter();
        let mut i = 0;
        while let Some(a) = pairs.next() {
            let Some(b) = pairs.next() else {
                next.push(a);
                break;
            };
            let w = a.width.max(b.width) + 1;
            let mut sum = e::add(e::sext(a.value, a.width, w), e::sext(b.value, b.width, w));
            if let Some(c) = carries.next() {
                sum = e::add(sum, e::zext(c, 1, w));
            }
            let wire = m.logic(&format!("{prefix}_l{depth}_{i}"), w, "");
            m.assign(wire.clone(), sum);
            next.push(Term {
                value: wire,
                width: w,
            });
            i += 1;
        }
        level = next;
    }
    let mut root = level.pop().expect("one term left");
    if root.width > width && !matches!(root.value, Expr::Id(_)) {
        let wire = m.logic(&format!("{prefix}_root"), root.width, "");
        m.assign(wire.clone(), root.value);
        root.value = wire;
    }
    let mut out = fit(root.value, root.width, width);
    for c in carries {
        out = e::add(out, e::zext(c, 1, width));
    }
    out
}

/// `x` (`from` bits, signed) as `to` bits: sign-extended, or its low bits.
pub fn fit(x: Expr, from: u32, to: u32) -> Expr {
    if from <= to {
        e::sext(x, from, to)
    } else {
        e::part(x, 0, to)
    }
}
