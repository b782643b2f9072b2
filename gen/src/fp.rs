//! Generated floating-point units: combinational modules that compute, bit for
//! bit, the binary32 operations of [`lutcore_contract::fp`] (round to nearest
//! even, subnormals kept, IEEE infinities, every NaN canonical).
//!
//! * [`add_module`]: `a + b` in one format (binary32 for the arrays,
//!   `lutcore_fp32_add`; any format for exhaustive tests on 8-bit formats).
//! * [`widen_module`]: a narrow activation (FP16, BF16, FP8) widened exactly to
//!   binary32, or to half its value (`_half`, the LUT's x/2).
//! * [`scale_module`]: binary32 `x · 2^p` for a bit plane `p` (`lutcore_fp32_scale`).
//! * [`mul_module`], [`mul_int_module`]: the MAC baselines' products
//!   (activation × activation format, activation × small signed integer).
//! * [`to_fixed_module`]: an FP16/FP8 activation as its exact fixed-point
//!   integer ([`FpFormat::to_fixed`]), for exact (integer) accumulation.
//! * [`fixed_to_fp32_module`]: a signed fixed-point integer rounded once to
//!   binary32 ([`fixed_to_f32`]), the end of an exact accumulation.
//!
//! [`Unit`] names each unit, [`modules_for`] builds a design's set of units
//! (each once) and [`instance`] instantiates one with named connections.
//!
//! # The adder
//!
//! 1. **Unpack** each operand into sign, exponent field, stored mantissa and
//!    the significand `{hidden, mantissa}`; its effective exponent is the field,
//!    or 1 for subnormals (whose hidden bit is 0). NaN and Inf are flagged.
//! 2. **Operand swap**: the operand with the larger magnitude (the unsigned
//!    order of the bits below the sign) is `big`, the other `small`; the
//!    result's sign is `big`'s, and `big − small` is never negative.
//! 3. **Alignment**: both significands get three bits below them (guard,
//!    round, sticky). `small` shifts right by the exponent difference; the
//!    bits shifted out (under the mask `~(ones << difference)`) are ORed into
//!    the sticky bit.
//! 4. **Add or subtract** (signs differ) in one adder, `big + (small ^ s) + s`,
//!    with one more bit than the operands for the carry.
//! 5. **Normalize**: a leading-zero count done as a chain of shifts by 16, 8,
//!    4, 2, 1 (each taken if the top bits are zero) moves the leading one to
//!    the top. Each stage is also limited by the exponent budget (`big`'s
//!    exponent), so a result below the normal range stops at the subnormal
//!    scale instead: the exponent field is then 0. With the carry bit on top
//!    the field is `big`'s exponent + 1 − shift.
//! 6. **Round to nearest even**: the bits below the kept mantissa are guard
//!    and sticky (OR of the rest); rounding up adds one to the packed
//!    `{exponent, mantissa}`, whose carry moves into the exponent (a subnormal
//!    becoming normal, a binade step, or the largest finite value becoming Inf).
//!    An exponent field already at the top before rounding is overflow: ±Inf.
//! 7. **Specials**: NaN in, or Inf − Inf, gives the canonical NaN; otherwise
//!    an Inf in gives that Inf. An exact zero sum is +0 unless both operands
//!    are −0 (round to nearest: x − x = +0).
//!
//! Two guard bits and a sticky bit suffice: a subtraction that cancels more
//! than one leading bit has an exponent difference of at most one, so it is
//! exact, and a result in the subnormal range is always exact.
//!
//! For formats without infinities (OCP E4M3 "fn") the all-ones exponent is a
//! normal binade and overflow gives NaN with the result's sign, as
//! [`FpFormat::round`] does.

#[cfg(doc)]
use lutcore_contract::fp::fixed_to_f32;
use lutcore_contract::fp::{FpFormat, CANONICAL_NAN, FP32};

use crate::ir::{e, Expr, Item, Module, Port};

/// Name of the binary32 adder.
pub const ADD: &str = "lutcore_fp32_add";
/// Name of the binary32 plane scaler.
pub const SCALE: &str = "lutcore_fp32_scale";

/// One generated floating-point unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Unit {
    /// [`ADD`]: `a_i`, `b_i` (32 bits) → `sum_o`.
    Add,
    /// `lutcore_<f>_to_fp32[_half]`: `x_i` (the format's width) → `y_o` (32 bits),
    /// the exact value, or half of it.
    Widen {
        /// The activation format.
        fmt: FpFormat,
        /// Produce `x / 2` (the LUT's table entries) instead of `x`.
        half: bool,
    },
    /// [`SCALE`]: `x_i` (32 bits), `p_i` (`plane_bits`) → `y_o = x · 2^p`.
    /// The name does not carry `plane_bits`: a design uses one.
    Scale {
        /// Width of the plane number `p_i` (1 or 2).
        plane_bits: u32,
    },
    /// `lutcore_<f>_mul`: `a_i`, `b_i` (the format's width) → `p_o`, the
    /// binary32 product.
    Mul {
        /// The activation format.
        fmt: FpFormat,
    },
    /// `lutcore_<f>_mul_int<W>`: `a_i` (the format's width), `w_i` (`W` bits,
    /// two's complement) → `p_o`, the binary32 product.
    MulInt {
        /// The activation format.
        fmt: FpFormat,
        /// Weight width `W` (2..=5).
        weight_bits: u32,
    },
    /// `lutcore_<f>_to_fixed` ([`to_fixed_module`]): `x_i` (the format's
    /// width) → `fixed_o` (signed, [`FpFormat::fixed_point`]'s width),
    /// `nonfinite_o`.
    ToFixed {
        /// The activation format (FP16, E4M3 or E5M2).
        fmt: FpFormat,
    },
    /// `lutcore_fixed<W>_f<F>_to_fp32` ([`fixed_to_fp32_module`]): `x_i`
    /// (`W` bits, two's complement, `x · 2^-F`) → `y_o` (32 bits).
    FixedToFp32 {
        /// `W`: the integer's width including the sign (2..=64).
        width: u32,
        /// `F`: bits below the binary point.
        frac_bits: u32,
    },
}

impl Unit {
    /// The Verilog module name.
    pub fn name(self) -> String {
        match self {
            Unit::Add => ADD.into(),
            Unit::Widen { fmt, half } => {
                format!(
                    "lutcore_{}_to_fp32{}",
                    ident(fmt),
                    if half { "_half" } else { "" }
                )
            }
            Unit::Scale { .. } => SCALE.into(),
            Unit::Mul { fmt } => format!("lutcore_{}_mul", ident(fmt)),
            Unit::MulInt { fmt, weight_bits } => {
                format!("lutcore_{}_mul_int{weight_bits}", ident(fmt))
            }
            Unit::ToFixed { fmt } => format!("lutcore_{}_to_fixed", ident(fmt)),
            Unit::FixedToFp32 { width, frac_bits } => {
                format!("lutcore_fixed{width}_f{frac_bits}_to_fp32")
            }
        }
    }

    /// The module.
    pub fn module(self) -> Module {
        match self {
            Unit::Add => add_module(FP32, ADD),
            Unit::Widen { fmt, half } => widen_module(fmt, half),
            Unit::Scale { plane_bits } => scale_module(plane_bits),
            Unit::Mul { fmt } => mul_module(fmt),
            Unit::MulInt { fmt, weight_bits } => mul_int_module(fmt, weight_bits),
            Unit::ToFixed { fmt } => to_fixed_module(fmt),
            Unit::FixedToFp32 { width, frac_bits } => fixed_to_fp32_module(width, frac_bits),
        }
    }
}

/// The modules of `units`, each once (the first of equal names), in order:
/// what a design adds to its files before the modules that instantiate them.
pub fn modules_for(units: &[Unit]) -> Vec<Module> {
    let mut names = Vec::new();
    let mut out = Vec::new();
    for u in units {
        let name = u.name();
        if !names.contains(&name) {
            names.push(name);
            out.push(u.module());
        }
    }
    out
}

/// An instance `name` of `unit` with `conns` (port name, expression), which
/// must name every port of the unit exactly once; they are printed in the
/// unit's port order.
pub fn instance(unit: &Module, name: &str, conns: Vec<(&str, Expr)>) -> Item {
    let mut ordered = Vec::with_capacity(unit.ports.len());
    for p in &unit.ports {
        let mut found = conns.iter().filter(|(n, _)| *n == p.name);
        let conn = found.next().unwrap_or_else(|| {
            panic!(
                "instance {name} of {}: port {} is not connected",
                unit.name, p.name
            )
        });
        assert!(
            found.next().is_none(),
            "instance {name} of {}: port {} is connected twice",
            unit.name,
            p.name
        );
        ordered.push((p.name.clone(), conn.1.clone()));
    }
    assert_eq!(
        ordered.len(),
        conns.len(),
        "instance {name} of {}: a connection names no port of it",
        unit.name
    );
    Item::Instance {
        module: unit.name.clone(),
        name: name.into(),
        conns: ordered,
    }
}

/// The format's name as a Verilog identifier part (`fp8-e4m3` → `fp8_e4m3`).
fn ident(fmt: FpFormat) -> String {
    fmt.name.replace('-', "_")
}

/// Bits to hold `0..=n`.
fn bits_for(n: u64) -> u32 {
    (64 - n.leading_zeros()).max(1)
}

/// `x[hi:lo]` (`x[i]` if `hi == lo`), folded into `x`'s own select if `x` is
/// one: Verilog cannot select from a select.
fn slice(x: Expr, hi: u32, lo: u32) -> Expr {
    assert!(hi >= lo, "slice [{hi}:{lo}]");
    match x {
        Expr::Slice(base, _, l0) => slice(*base, hi + l0, lo + l0),
        Expr::Bit(base, i) if hi == 0 => Expr::Bit(base, i),
        x if hi == lo => e::bit(x, hi),
        x => e::slice(x, hi, lo),
    }
}

/// `x[i]` (see [`slice`]).
fn bit(x: Expr, i: u32) -> Expr {
    slice(x, i, i)
}

/// `x[lo +: width]` as a constant select (see [`slice`]).
fn part(x: Expr, lo: u32, width: u32) -> Expr {
    slice(x, lo + width - 1, lo)
}

/// `value` in a new named wire.
fn wire(m: &mut Module, name: &str, width: u32, value: Expr, doc: &str) -> Expr {
    let w = m.logic(name, width, doc);
    m.assign(w.clone(), value);
    w
}

/// `x == 0` for a `width`-bit `x`.
fn is_zero(x: Expr, width: u32) -> Expr {
    e::eq(x, e::lit(width, 0))
}

/// `x != 0` (a one-bit `x` itself).
fn nonzero(x: Expr) -> Expr {
    match x {
        Expr::Bit(..) => x,
        x => e::red_or(x),
    }
}

/// `c ? a : b` chained: the first condition that holds picks its value.
fn select(arms: Vec<(Expr, Expr)>, otherwise: Expr) -> Expr {
    arms.into_iter()
        .rev()
        .fold(otherwise, |acc, (c, v)| e::cond(c, v, acc))
}

/// `x + c` in `width`-bit modular (two's complement) arithmetic; `x` if `c`
/// is a multiple of `2^width`.
fn plus_const(x: Expr, width: u32, c: i64) -> Expr {
    let k = c.rem_euclid(1i64 << width);
    if k == 0 {
        x
    } else if c < 0 && -c < 1i64 << width {
        e::sub(x, e::lit(width, (-c) as u64))
    } else {
        e::add(x, e::lit(width, k as u64))
    }
}

/// The largest exponent field of a finite value.
fn max_finite_exp(fmt: FpFormat) -> i64 {
    (1i64 << fmt.exp_bits) - if fmt.ieee_specials { 2 } else { 1 }
}

/// The fields and classes of one operand, each a named wire `{p}_*`.
struct Operand {
    sign: Expr,
    /// Effective exponent: the field, or 1 for a subnormal (`exp_bits` wide).
    exp: Expr,
    /// `{hidden, mantissa}` (`man_bits + 1` wide).
    sig: Expr,
    nan: Expr,
    /// `None` for formats without infinities.
    inf: Option<Expr>,
    /// Only if asked for.
    zero: Option<Expr>,
}

/// Unpack `x` (of `fmt`) into named wires prefixed `p`.
fn unpack(m: &mut Module, p: &str, fmt: FpFormat, x: Expr, want_zero: bool) -> Operand {
    let (ew, mw, n) = (fmt.exp_bits, fmt.man_bits, fmt.bits());
    m.comment("");
    m.comment(format!("Unpack {p}"));
    let sign = wire(m, &format!("{p}_sign"), 1, bit(x.clone(), n - 1), "");
    let field = wire(
        m,
        &format!("{p}_exp_field"),
        ew,
        slice(x.clone(), n - 2, mw),
        "",
    );
    let man = wire(m, &format!("{p}_man"), mw, slice(x, mw - 1, 0), "");
    let sub = wire(
        m,
        &format!("{p}_exp_zero"),
        1,
        is_zero(field.clone(), ew),
        "zero or subnormal: no hidden bit, exponent 1",
    );
    let ones = wire(
        m,
        &format!("{p}_exp_ones"),
        1,
        e::eq(field.clone(), e::lit(ew, (1 << ew) - 1)),
        "",
    );
    let exp = wire(
        m,
        &format!("{p}_exp"),
        ew,
        e::concat(vec![
            slice(field.clone(), ew - 1, 1),
            e::or(bit(field, 0), sub.clone()),
        ]),
        "effective exponent",
    );
    let sig = wire(
        m,
        &format!("{p}_sig"),
        mw + 1,
        e::concat(vec![e::not(sub.clone()), man.clone()]),
        "significand {hidden, mantissa}",
    );
    let man_zero = (fmt.ieee_specials || want_zero)
        .then(|| wire(m, &format!("{p}_man_zero"), 1, is_zero(man.clone(), mw), ""));
    let (nan, inf) = if let (true, Some(man_zero)) = (fmt.ieee_specials, man_zero.clone()) {
        let nan = wire(
            m,
            &format!("{p}_nan"),
            1,
            e::and(ones.clone(), e::not(man_zero.clone())),
            "",
        );
        let inf = wire(m, &format!("{p}_inf"), 1, e::and(ones, man_zero), "");
        (nan, Some(inf))
    } else {
        let nan = wire(
            m,
            &format!("{p}_nan"),
            1,
            e::and(ones, e::eq(man, e::lit(mw, (1 << mw) - 1))),
            "only S.1..1.1..1 is NaN; no infinities",
        );
        (nan, None)
    };
    let zero = man_zero
        .filter(|_| want_zero)
        .map(|mz| wire(m, &format!("{p}_zero"), 1, e::and(sub, mz), ""));
    Operand {
        sign,
        exp,
        sig,
        nan,
        inf,
        zero,
    }
}

/// The result of [`normalize`].
struct Normalized {
    /// The value shifted left (`width` bits).
    value: Expr,
    /// The shift, one bit per stage, largest first.
    shift: Expr,
    /// Width of `shift`.
    shift_bits: u32,
    /// `budget − shift`, if a budget was given.
    room: Option<Expr>,
}

/// Shift `v` (`w ≥ 2` bits) left until its top bit is set (a zero stays
/// zero), in stages of 2^k, 2^(k−1) ... 1 bits: the shift is the leading-zero
/// count. With a `budget` (expression, width), the shift is at most the
/// budget: each stage also needs room for itself.
fn normalize(m: &mut Module, p: &str, v: Expr, w: u32, budget: Option<(Expr, u32)>) -> Normalized {
    assert!(w >= 2, "normalize {p}: a {w}-bit value");
    let mut stage = w.next_power_of_two() / 2;
    let (mut v, mut room) = (v, budget.clone().map(|b| b.0));
    let mut bits = Vec::new();
    while stage >= 1 {
        let top_zero = is_zero(part(v.clone(), w - stage, stage), stage);
        let (take, doc) = match (&room, &budget) {
            (Some(r), Some((_, bw))) => {
                assert!(
                    u64::from(stage) < 1u64 << bw,
                    "normalize {p}: stage {stage} does not fit a {bw}-bit budget"
                );
                (
                    e::and(
                        top_zero,
                        e::not(e::lt(r.clone(), e::lit(*bw, u64::from(stage)))),
                    ),
                    format!(
                        "the top {} zero and the exponent has room",
                        if stage == 1 {
                            "bit is".into()
                        } else {
                            format!("{stage} bits are")
                        }
                    ),
                )
            }
            _ if stage == 1 => (top_zero, "the top bit is zero".into()),
            _ => (top_zero, format!("the top {stage} bits are zero")),
        };
        let z = wire(m, &format!("{p}_z{stage}"), 1, take, &doc);
        let shifted = e::concat(vec![part(v.clone(), 0, w - stage), e::lit(stage, 0)]);
        v = wire(
            m,
            &format!("{p}_s{stage}"),
            w,
            e::cond(z.clone(), shifted, v),
            &format!("after the shift by {stage}"),
        );
        if let (Some(r), Some((_, bw))) = (&room, &budget) {
            room = Some(wire(
                m,
                &format!("{p}_room{stage}"),
                *bw,
                e::cond(
                    z.clone(),
                    e::sub(r.clone(), e::lit(*bw, u64::from(stage))),
                    r.clone(),
                ),
                "",
            ));
        }
        bits.push(z);
        stage /= 2;
    }
    let shift_bits = bits.len() as u32;
    let shift = if bits.len() == 1 {
        bits.pop().expect("one stage")
    } else {
        e::concat(bits)
    };
    Normalized {
        value: v,
        shift,
        shift_bits,
        room,
    }
}

/// `v` (`w ≤ 64` bits) shifted right by `amount`: (the shifted value in a
/// wire `{p}`, the OR of the bits shifted out in a wire `{p}_sticky`). The
/// bits shifted out are those under the mask `~(all ones << amount)`; a
/// shift of a constant costs far less than a second shifter of `v`. A shift
/// by `w` or more leaves 0 and masks all of `v`, so `amount` needs no clamp.
fn shift_right_sticky(m: &mut Module, p: &str, v: Expr, w: u32, amount: Expr) -> (Expr, Expr) {
    assert!(w <= 64, "shift_right_sticky {p}: {w} bits");
    let ones = if w == 64 { u64::MAX } else { (1 << w) - 1 };
    let value = wire(m, p, w, e::shr(v.clone(), amount.clone()), "");
    let lost = wire(
        m,
        &format!("{p}_lost_mask"),
        w,
        e::not(e::shl(e::hex(w, ones), amount)),
        "the bits shifted out",
    );
    let sticky = wire(m, &format!("{p}_sticky"), 1, nonzero(e::and(v, lost)), "");
    (value, sticky)
}

/// Round to nearest even and pack into `fmt`: `exp_field` (`ew ≥ exp_bits`
/// bits: 0 for a subnormal or zero, possibly beyond the format's range if
/// `may_overflow`), `frac` (`fw` bits: the bits below the hidden bit, the
/// format's mantissa first, then guard and the rest), `sticky` (bits below
/// `frac` that are not all zero). Overflow gives ±Inf, or NaN with the sign
/// for formats without infinities. Returns the packed value (`fmt.bits()`).
#[allow(clippy::too_many_arguments)]
fn round_and_pack(
    m: &mut Module,
    fmt: FpFormat,
    sign: Expr,
    exp_field: Expr,
    ew: u32,
    frac: Expr,
    fw: u32,
    sticky: Option<Expr>,
    may_overflow: bool,
) -> Expr {
    let (xb, mw) = (fmt.exp_bits, fmt.man_bits);
    assert!(
        may_overflow || ew == xb,
        "round_and_pack: a {ew}-bit exponent that cannot overflow {xb} bits"
    );
    m.comment("");
    m.comment(if fw > mw {
        "Round to nearest even, pack"
    } else {
        "Pack (exact: no rounding)"
    });
    let exp_low = if ew == xb {
        exp_field.clone()
    } else {
        part(exp_field.clone(), 0, xb)
    };
    let carry = !fmt.ieee_specials && may_overflow;
    let pw = xb + mw + u32::from(carry);
    let packed = if fw > mw {
        let lsb = wire(m, "round_lsb", 1, bit(frac.clone(), fw - mw), "");
        let guard = wire(m, "round_guard", 1, bit(frac.clone(), fw - mw - 1), "");
        let rest = (fw > mw + 1).then(|| nonzero(slice(frac.clone(), fw - mw - 2, 0)));
        let st = match (rest, sticky) {
            (Some(r), Some(s)) => Some(e::or(r, s)),
            (r, s) => r.or(s),
        };
        let up = match st {
            Some(st) => {
                let st = wire(m, "round_sticky", 1, st, "");
                e::and(guard, e::or(st, lsb))
            }
            None => e::and(guard, lsb),
        };
        let up = wire(m, "round_up", 1, up, "");
        let base = e::concat(vec![exp_low, slice(frac, fw - 1, fw - mw)]);
        wire(
            m,
            "rounded",
            pw,
            e::add(e::zext(base, xb + mw, pw), e::zext(up, 1, pw)),
            "a carry out of the mantissa steps the exponent",
        )
    } else {
        assert!(
            sticky.is_none(),
            "round_and_pack: sticky bits without guard"
        );
        let man = if fw == mw {
            frac
        } else {
            e::concat(vec![frac, e::lit(mw - fw, 0)])
        };
        wire(
            m,
            "rounded",
            pw,
            e::zext(e::concat(vec![exp_low, man]), xb + mw, pw),
            "exact: no rounding",
        )
    };
    if !may_overflow {
        return e::concat(vec![sign, packed]);
    }
    let top = (1u64 << xb) - 1;
    let ovf = if fmt.ieee_specials {
        // Rounding the largest finite value up carries into the Inf pattern.
        e::not(e::lt(exp_field, e::lit(ew, top)))
    } else {
        let all_ones = e::eq(
            slice(packed.clone(), xb + mw - 1, 0),
            e::hex(xb + mw, (1 << (xb + mw)) - 1),
        );
        let c = e::or(bit(packed.clone(), xb + mw), all_ones);
        if ew > xb {
            e::or(e::not(e::lt(exp_field, e::lit(ew, top + 1))), c)
        } else {
            c
        }
    };
    let ovf = wire(m, "overflow", 1, ovf, "beyond the largest finite value");
    let ovf_value = if fmt.ieee_specials {
        e::hex(xb + mw, top << mw)
    } else {
        e::hex(xb + mw, (1 << (xb + mw)) - 1)
    };
    e::concat(vec![
        sign,
        e::cond(ovf, ovf_value, slice(packed, xb + mw - 1, 0)),
    ])
}

/// A binary32 exponent field under construction: `value` (`width` bits,
/// two's complement if `min < 1`) lies in `min..=max`.
struct Exp {
    value: Expr,
    width: u32,
    min: i64,
    max: i64,
}

/// The wire `exp` = `field − norm.shift + c` (`field` of `field_bits` bits),
/// an exponent in `min..=max` after a normalization, rebiased to binary32.
fn rebiased_exp(
    m: &mut Module,
    field: Expr,
    field_bits: u32,
    norm: &Normalized,
    c: i64,
    (min, max): (i64, i64),
    doc: &str,
) -> Exp {
    let width = exp_width(min, max);
    let value = wire(
        m,
        "exp",
        width,
        plus_const(
            e::sub(
                e::zext(field, field_bits, width),
                e::zext(norm.shift.clone(), norm.shift_bits, width),
            ),
            width,
            c,
        ),
        doc,
    );
    Exp {
        value,
        width,
        min,
        max,
    }
}

/// The width an exponent in `min..=max` needs: 8 bits if it is a binary32
/// field of a normal value, else enough for the range (two's complement if
/// it can be below 1).
fn exp_width(min: i64, max: i64) -> u32 {
    if min >= 1 && max <= 254 {
        8
    } else if min >= 1 {
        bits_for(max as u64).max(9)
    } else {
        (bits_for(max.max(0) as u64).max(bits_for((-min) as u64)) + 1).max(9)
    }
}

/// Pack a binary32 from `sign`, the exponent `exp` of the normalized
/// significand `sig` (`sw` bits, top bit the hidden bit: 0 only for zero),
/// and `sticky` (nonzero bits below `sig`). Results below the normal range
/// shift right into a subnormal, above it become ±Inf; the logic for each
/// is generated only if `exp`'s range needs it. Returns 32 bits.
fn pack_fp32(
    m: &mut Module,
    sign: Expr,
    exp: Exp,
    sig: Expr,
    sw: u32,
    sticky: Option<Expr>,
) -> Expr {
    let may_overflow = exp.max >= 255;
    let field_bits = if may_overflow { exp.width } else { 8 };
    let (hidden, frac, fw, sticky) = if exp.min < 1 {
        m.comment("");
        m.comment("Below the normal range: shift right into a subnormal");
        let low = wire(
            m,
            "exp_low",
            1,
            e::or(
                bit(exp.value.clone(), exp.width - 1),
                is_zero(exp.value.clone(), exp.width),
            ),
            "exponent below 1",
        );
        let amount = wire(
            m,
            "denorm_amount",
            exp.width,
            e::cond(
                low,
                e::sub(e::lit(exp.width, 1), exp.value.clone()),
                e::lit(exp.width, 0),
            ),
            "",
        );
        // Room for the mantissa, a guard bit and the sticky bit.
        let dw = sw.max(FP32.man_bits + 3);
        let padded = if dw > sw {
            e::concat(vec![sig, e::lit(dw - sw, 0)])
        } else {
            sig
        };
        let (d, st) = shift_right_sticky(m, "denorm", padded, dw, amount);
        let sticky = Some(match sticky {
            Some(s) => e::or(s, st),
            None => st,
        });
        (bit(d.clone(), dw - 1), slice(d, dw - 2, 0), dw - 1, sticky)
    } else {
        (
            bit(sig.clone(), sw - 1),
            slice(sig, sw - 2, 0),
            sw - 1,
            sticky,
        )
    };
    let value = if field_bits < exp.width {
        if exp.width > field_bits + 1 {
            // The sign bit was read by `exp_low`; the bits between are copies of it.
            let unused = m.logic("unused_exp_high", 1, "the exponent is below 255");
            m.assign(
                unused,
                nonzero(slice(exp.value.clone(), exp.width - 2, field_bits)),
            );
        }
        slice(exp.value, field_bits - 1, 0)
    } else {
        exp.value
    };
    let field = wire(
        m,
        "exp_field",
        field_bits,
        e::cond(hidden, value, e::lit(field_bits, 0)),
        "0 for a subnormal or zero",
    );
    round_and_pack(
        m,
        FP32,
        sign,
        field,
        field_bits,
        frac,
        fw,
        sticky,
        may_overflow,
    )
}

/// A format's `nan`/`inf` class outputs around a finite result: NaN →
/// [`FpFormat::nan`], Inf → ±Inf with `inf_sign`.
fn specials(out: FpFormat, nan: Expr, inf: Option<(Expr, Expr)>, finite: Expr) -> Expr {
    let (xb, mw) = (out.exp_bits, out.man_bits);
    let mut arms = vec![(nan, e::hex(out.bits(), u64::from(out.nan())))];
    if let Some((inf, inf_sign)) = inf {
        arms.push((
            inf,
            e::concat(vec![inf_sign, e::hex(xb + mw, ((1 << xb) - 1) << mw)]),
        ));
    }
    select(arms, finite)
}

/// The adder of `fmt` named `name`: `a_i`, `b_i` → `sum_o` (all
/// `fmt.bits()` wide), `a + b` rounded to nearest even (the module doc).
pub fn add_module(fmt: FpFormat, name: &str) -> Module {
    let (xb, mw, n) = (fmt.exp_bits, fmt.man_bits, fmt.bits());
    let mut m = Module::new(
        name,
        vec![
            format!("{name}: {fmt} (E{xb}M{mw}) a + b, round to nearest even, subnormals kept."),
            "Operand swap, alignment with guard/round/sticky, add or subtract,".into(),
            "leading-zero normalization limited by the exponent, rounding, specials.".into(),
            if fmt.ieee_specials {
                format!("NaN results are {:#x}; Inf - Inf is NaN.", fmt.nan())
            } else {
                format!(
                    "No infinities: overflow and NaN results are S.1..1 ({:#x} for NaN in).",
                    fmt.nan()
                )
            },
            String::new(),
            format!(
                "Generated by lutcore-gen {}; do not edit.",
                crate::GENERATOR_VERSION
            ),
        ],
    );
    let a_i = m.port(Port::input("a_i", n, "operand"));
    let b_i = m.port(Port::input("b_i", n, "operand"));
    m.port(Port::output("sum_o", n, "a + b"));
    let a = unpack(&mut m, "a", fmt, a_i.clone(), false);
    let b = unpack(&mut m, "b", fmt, b_i.clone(), false);

    m.comment("");
    m.comment("Operand swap: big has the larger magnitude");
    let mag = |x: Expr| slice(x, n - 2, 0);
    let swap = wire(&mut m, "swap", 1, e::lt(mag(a_i), mag(b_i)), "|a| < |b|");
    let pick = |m: &mut Module, what: &str, w: u32, x: &Expr, y: &Expr| {
        let big = wire(
            m,
            &format!("big_{what}"),
            w,
            e::cond(swap.clone(), y.clone(), x.clone()),
            "",
        );
        let small = wire(
            m,
            &format!("small_{what}"),
            w,
            e::cond(swap.clone(), x.clone(), y.clone()),
            "",
        );
        (big, small)
    };
    let (big_exp, small_exp) = pick(&mut m, "exp", xb, &a.exp, &b.exp);
    let (big_sig, small_sig) = pick(&mut m, "sig", mw + 1, &a.sig, &b.sig);
    let big_sign = wire(
        &mut m,
        "big_sign",
        1,
        e::cond(swap.clone(), b.sign.clone(), a.sign.clone()),
        "",
    );
    let subtract = wire(
        &mut m,
        "subtract",
        1,
        e::bin(crate::ir::BinOp::Xor, a.sign.clone(), b.sign.clone()),
        "signs differ: big - small",
    );

    m.comment("");
    m.comment("Alignment: small shifts right by the exponent difference");
    let w = mw + 4; // significand, guard, round, sticky
    let diff = wire(
        &mut m,
        "exp_diff",
        xb,
        e::sub(big_exp.clone(), small_exp),
        "",
    );
    let (al, al_sticky) = shift_right_sticky(
        &mut m,
        "align",
        e::concat(vec![small_sig, e::lit(3, 0)]),
        w,
        diff,
    );
    let small_aligned = wire(
        &mut m,
        "small_aligned",
        w,
        e::concat(vec![
            slice(al.clone(), w - 1, 1),
            e::or(bit(al, 0), al_sticky),
        ]),
        "the sticky bit ORed into the lowest bit",
    );

    m.comment("");
    m.comment("Add or subtract (one more bit for the carry)");
    let big_ext = e::concat(vec![e::lit(1, 0), big_sig, e::lit(3, 0)]);
    let small_ext = e::zext(small_aligned, w, w + 1);
    let sum = wire(
        &mut m,
        "sum_mag",
        w + 1,
        e::add(
            e::add(big_ext, e::invert_if(small_ext, w + 1, subtract.clone())),
            e::zext(subtract.clone(), 1, w + 1),
        ),
        "one adder: big + ~small + 1 when subtracting",
    );
    let sum_zero = wire(
        &mut m,
        "sum_zero",
        1,
        is_zero(sum.clone(), w + 1),
        "exact cancellation",
    );

    m.comment("");
    m.comment("Normalize: leading-zero shift, at most down to the subnormal scale");
    let norm = normalize(&mut m, "norm", sum, w + 1, Some((big_exp, xb)));
    let room = norm.room.expect("a budget was given");
    let field = wire(
        &mut m,
        "exp_field",
        xb + 1,
        e::cond(
            bit(norm.value.clone(), w),
            e::add(e::zext(room, xb, xb + 1), e::lit(xb + 1, 1)),
            e::lit(xb + 1, 0),
        ),
        "big's exponent + 1 - shift; 0 below the normal range",
    );
    let sign = wire(
        &mut m,
        "sum_sign",
        1,
        e::cond(sum_zero, e::and(a.sign.clone(), b.sign.clone()), big_sign),
        "x - x is +0; -0 + -0 is -0",
    );
    let finite = round_and_pack(
        &mut m,
        fmt,
        sign,
        field,
        xb + 1,
        slice(norm.value, w - 1, 0),
        w,
        None,
        true,
    );
    let finite = wire(
        &mut m,
        "finite_sum",
        n,
        finite,
        "the sum if no operand is NaN or Inf",
    );

    m.comment("");
    m.comment("Specials");
    let nan = match (&a.inf, &b.inf) {
        (Some(ai), Some(bi)) => e::or(
            e::or(a.nan.clone(), b.nan.clone()),
            e::and(e::and(ai.clone(), bi.clone()), subtract),
        ),
        _ => e::or(a.nan.clone(), b.nan.clone()),
    };
    let nan = wire(&mut m, "sum_nan", 1, nan, "NaN in, or Inf - Inf");
    let inf = match (a.inf, b.inf) {
        (Some(ai), Some(bi)) => {
            let inf = wire(&mut m, "sum_inf", 1, e::or(ai.clone(), bi), "");
            Some((inf, e::cond(ai, a.sign, b.sign)))
        }
        _ => None,
    };
    m.assign(e::id("sum_o"), specials(fmt, nan, inf, finite));
    m
}

/// The header of a unit whose result is binary32.
fn fp32_header(name: &str, what: &[String]) -> Vec<String> {
    let mut doc = vec![format!("{name}: {}", what[0])];
    doc.extend(what[1..].iter().cloned());
    doc.push(
        "binary32, round to nearest even, subnormals kept; NaN results are 0x7fc00000.".into(),
    );
    doc.push(String::new());
    doc.push(format!(
        "Generated by lutcore-gen {}; do not edit.",
        crate::GENERATOR_VERSION
    ));
    doc
}

/// `lutcore_<f>_to_fp32` (or `_half`): `x_i` (`fmt.bits()`) → `y_o` (32 bits),
/// the exact binary32 value of `x_i`, or of `x_i / 2`. Subnormals of the
/// narrow formats are normalized; BF16 subnormals stay subnormal.
pub fn widen_module(fmt: FpFormat, half: bool) -> Module {
    let name = Unit::Widen { fmt, half }.name();
    let (xb, mw, n) = (fmt.exp_bits, fmt.man_bits, fmt.bits());
    assert!(
        xb <= FP32.exp_bits && mw <= FP32.man_bits,
        "{fmt} does not widen exactly to binary32"
    );
    let off = if half { -1 } else { 0 };
    let mut m = Module::new(
        &name,
        fp32_header(
            &name,
            &[format!(
                "a {fmt} (E{xb}M{mw}) value{} widened exactly to binary32.",
                if half { ", halved," } else { "" }
            )],
        ),
    );
    let x_i = m.port(Port::input("x_i", n, &format!("a {fmt} value")));
    m.port(Port::output(
        "y_o",
        32,
        if half {
            "x / 2 in binary32"
        } else {
            "x in binary32"
        },
    ));
    let x = unpack(&mut m, "x", fmt, x_i, false);
    m.comment("");
    m.comment("Normalize the significand (subnormals)");
    let norm = normalize(&mut m, "norm", x.sig, mw + 1, None);
    // 1.f · 2^(exp − shift − bias) · 2^off, as a binary32 field.
    let c = 127 - i64::from(fmt.bias()) + off;
    let (min, max) = (1 - i64::from(mw) + c, max_finite_exp(fmt) + c);
    let exp = rebiased_exp(
        &mut m,
        x.exp,
        xb,
        &norm,
        c,
        (min, max),
        "exponent - shift, rebiased",
    );
    let finite = pack_fp32(&mut m, x.sign.clone(), exp, norm.value, mw + 1, None);
    let finite = wire(&mut m, "finite", 32, finite, "");
    let inf = x.inf.map(|i| (i, x.sign));
    m.assign(e::id("y_o"), specials(FP32, x.nan, inf, finite));
    m
}

/// `lutcore_fp32_scale`: `x_i` (32 bits), `p_i` (`plane_bits`, 1 or 2) →
/// `y_o = x · 2^p`, exact unless it overflows to ±Inf; NaN canonical. Normal
/// values add `p` to the exponent; a subnormal's mantissa shifts left by `p`
/// and, if its leading one passes the hidden bit, is renormalized.
pub fn scale_module(plane_bits: u32) -> Module {
    assert!(
        (1..=2).contains(&plane_bits),
        "lutcore_fp32_scale: plane numbers of {plane_bits} bits (1 or 2 are supported)"
    );
    let pmax = (1u32 << plane_bits) - 1;
    let mut m = Module::new(
        SCALE,
        fp32_header(
            SCALE,
            &[
                format!(
                    "x * 2^p for a bit plane p in 0..={pmax}, exact unless it overflows to Inf."
                ),
                "Normal x: p added to the exponent. Subnormal x: the mantissa shifted left,".into(),
                "renormalized if its leading one passes the hidden bit.".into(),
            ],
        ),
    );
    let x = m.port(Port::input("x_i", 32, "binary32 value"));
    let p = m.port(Port::input("p_i", plane_bits, "bit plane: scale by 2^p"));
    m.port(Port::output("y_o", 32, "x * 2^p"));
    m.comment("");
    m.comment("Unpack");
    let sign = wire(&mut m, "x_sign", 1, bit(x.clone(), 31), "");
    let field = wire(&mut m, "x_exp_field", 8, slice(x.clone(), 30, 23), "");
    let man = wire(&mut m, "x_man", 23, slice(x, 22, 0), "");
    let sub = wire(
        &mut m,
        "x_exp_zero",
        1,
        is_zero(field.clone(), 8),
        "zero or subnormal",
    );
    let ones = wire(
        &mut m,
        "x_exp_ones",
        1,
        e::eq(field.clone(), e::lit(8, 255)),
        "Inf or NaN",
    );
    let man_zero = wire(&mut m, "x_man_zero", 1, is_zero(man.clone(), 23), "");
    let nan = wire(
        &mut m,
        "x_nan",
        1,
        e::and(ones.clone(), e::not(man_zero)),
        "",
    );

    m.comment("");
    m.comment("Normal: add p to the exponent");
    let exp = wire(
        &mut m,
        "norm_exp",
        9,
        e::add(
            e::zext(field.clone(), 8, 9),
            e::zext(p.clone(), plane_bits, 9),
        ),
        "",
    );
    let ovf = wire(
        &mut m,
        "norm_overflow",
        1,
        e::not(e::lt(exp.clone(), e::lit(9, 255))),
        "beyond the largest finite value: Inf",
    );
    let normal = wire(
        &mut m,
        "normal_mag",
        31,
        e::cond(
            ovf,
            e::hex(31, 255 << 23),
            e::concat(vec![slice(exp, 7, 0), man.clone()]),
        ),
        "",
    );

    m.comment("");
    m.comment("Subnormal: shift the mantissa left by p, renormalize past the hidden bit");
    let sw = 23 + pmax;
    let shifted = wire(
        &mut m,
        "sub_shifted",
        sw,
        e::shl(e::zext(man, 23, sw), p),
        "",
    );
    // Bits 0..=23 read as {exponent field 0 or 1, mantissa}: the same scale.
    // A leading one at bit j > 23 is exponent field j - 22; the bits it drops
    // are zero (shifted in).
    let mut arms = Vec::new();
    for j in (24..sw).rev() {
        arms.push((
            bit(shifted.clone(), j),
            e::concat(vec![
                e::lit(8, u64::from(j - 22)),
                slice(shifted.clone(), j - 1, j - 23),
            ]),
        ));
    }
    let low = e::zext(slice(shifted.clone(), 23, 0), 24, 31);
    let subnormal = wire(&mut m, "sub_mag", 31, select(arms, low), "");

    m.comment("");
    m.comment("Specials: Inf stays Inf, NaN becomes the canonical NaN");
    let mag = select(
        vec![(ones, slice(e::id("x_i"), 30, 0)), (sub, subnormal)],
        normal,
    );
    m.assign(
        e::id("y_o"),
        e::cond(
            nan,
            e::hex(32, u64::from(CANONICAL_NAN)),
            e::concat(vec![sign, mag]),
        ),
    );
    m
}

/// `lutcore_<f>_mul`: `a_i`, `b_i` (`fmt.bits()`) → `p_o`, `a · b` rounded to
/// binary32 (exact for FP16 and FP8; BF16 products can overflow to Inf or
/// round in the subnormal range). Inf · 0 and NaN in give the canonical NaN.
pub fn mul_module(fmt: FpFormat) -> Module {
    let name = Unit::Mul { fmt }.name();
    let (xb, mw, n) = (fmt.exp_bits, fmt.man_bits, fmt.bits());
    let mut m = Module::new(
        &name,
        fp32_header(
            &name,
            &[
                format!("a * b for {fmt} (E{xb}M{mw}) a, b, rounded to binary32."),
                "An integer product of the significands, a leading-zero normalization.".into(),
            ],
        ),
    );
    let a_i = m.port(Port::input("a_i", n, &format!("a {fmt} value")));
    let b_i = m.port(Port::input("b_i", n, &format!("a {fmt} value")));
    m.port(Port::output("p_o", 32, "a * b in binary32"));
    // Zero flags only for Inf · 0: zero products flow through the datapath.
    let a = unpack(&mut m, "a", fmt, a_i, fmt.ieee_specials);
    let b = unpack(&mut m, "b", fmt, b_i, fmt.ieee_specials);
    m.comment("");
    m.comment("Significand product");
    let pw = 2 * (mw + 1);
    let prod = wire(
        &mut m,
        "prod",
        pw,
        e::mul(
            e::zext(a.sig.clone(), mw + 1, pw),
            e::zext(b.sig.clone(), mw + 1, pw),
        ),
        "",
    );
    let sign = wire(
        &mut m,
        "p_sign",
        1,
        e::bin(crate::ir::BinOp::Xor, a.sign.clone(), b.sign.clone()),
        "",
    );
    m.comment("");
    m.comment("Normalize");
    let norm = normalize(&mut m, "norm", prod, pw, None);
    // prod · 2^(ea + eb − 2·bias − 2·mw); its top bit is 2^(2·mw + 1).
    let c = 127 + 1 - 2 * i64::from(fmt.bias());
    let (min, max) = (2 - (2 * i64::from(mw) + 1) + c, 2 * max_finite_exp(fmt) + c);
    let width = exp_width(min, max);
    let value = wire(
        &mut m,
        "exp",
        width,
        plus_const(
            e::sub(
                e::add(e::zext(a.exp, xb, width), e::zext(b.exp, xb, width)),
                e::zext(norm.shift, norm.shift_bits, width),
            ),
            width,
            c,
        ),
        "ea + eb - shift, rebiased",
    );
    let exp = Exp {
        value,
        width,
        min,
        max,
    };
    let finite = pack_fp32(&mut m, sign.clone(), exp, norm.value, pw, None);
    let finite = wire(&mut m, "finite", 32, finite, "");
    m.comment("");
    m.comment("Specials");
    let (nan, inf) = match (a.inf, b.inf, a.zero, b.zero) {
        (Some(ai), Some(bi), Some(az), Some(bz)) => {
            let nan = e::or(
                e::or(a.nan, b.nan),
                e::or(e::and(ai.clone(), bz), e::and(bi.clone(), az)),
            );
            let inf = wire(&mut m, "p_inf", 1, e::or(ai, bi), "");
            (nan, Some((inf, sign)))
        }
        _ => (e::or(a.nan, b.nan), None),
    };
    let nan = wire(&mut m, "p_nan", 1, nan, "NaN in, or Inf * 0");
    m.assign(e::id("p_o"), specials(FP32, nan, inf, finite));
    m
}

/// `lutcore_<f>_mul_int<W>`: `a_i` (`fmt.bits()`), `w_i` (`W` bits, two's
/// complement) → `p_o`, `a · w` in binary32 (exact unless a BF16 product
/// overflows to Inf). Inf · 0 and NaN in give the canonical NaN; `a · 0` is
/// a zero with `a`'s sign.
pub fn mul_int_module(fmt: FpFormat, weight_bits: u32) -> Module {
    assert!(
        (1..=8).contains(&weight_bits),
        "mul_int: {weight_bits}-bit weights (1..=8 are supported)"
    );
    let wb = weight_bits;
    let name = Unit::MulInt {
        fmt,
        weight_bits: wb,
    }
    .name();
    let (xb, mw, n) = (fmt.exp_bits, fmt.man_bits, fmt.bits());
    let mut m = Module::new(
        &name,
        fp32_header(
            &name,
            &[
                format!("a * w for a {fmt} (E{xb}M{mw}) a and a signed {wb}-bit integer w."),
                "An integer product of the significand and |w|, a leading-zero normalization."
                    .into(),
            ],
        ),
    );
    let a_i = m.port(Port::input("a_i", n, &format!("a {fmt} value")));
    let w_i = m.port(Port::input("w_i", wb, "weight, two's complement"));
    m.port(Port::output("p_o", 32, "a * w in binary32"));
    let a = unpack(&mut m, "a", fmt, a_i, false);
    m.comment("");
    m.comment("Weight magnitude and sign");
    let w_neg = wire(&mut m, "w_neg", 1, bit(w_i.clone(), wb - 1), "");
    let w_abs = wire(
        &mut m,
        "w_abs",
        wb,
        e::cond(
            w_neg.clone(),
            e::add(e::not(w_i.clone()), e::lit(wb, 1)),
            w_i.clone(),
        ),
        "|w| (the most negative w gives 2^(W-1), still W bits)",
    );
    let w_zero = wire(&mut m, "w_zero", 1, is_zero(w_i, wb), "");
    m.comment("");
    m.comment("Significand product: shifted copies of the significand, one per bit of |w|");
    m.comment("(adds, not a multiplier: a W-bit factor needs no DSP block)");
    let pw = mw + 1 + wb;
    let partials: Vec<Expr> = (0..wb)
        .map(|k| {
            // {zeros, sig, k zeros}
            let shifted = if k == 0 {
                e::zext(a.sig.clone(), mw + 1, pw)
            } else {
                e::concat(vec![e::lit(wb - k, 0), a.sig.clone(), e::lit(k, 0)])
            };
            wire(
                &mut m,
                &format!("partial{k}"),
                pw,
                e::keep_if(shifted, pw, bit(w_abs.clone(), k)),
                &format!("sig * 2^{k} if bit {k} of |w| is set"),
            )
        })
        .collect();
    let prod = wire(
        &mut m,
        "prod",
        pw,
        partials
            .into_iter()
            .reduce(e::add)
            .expect("at least one weight bit"),
        "",
    );
    let sign = wire(
        &mut m,
        "p_sign",
        1,
        e::bin(crate::ir::BinOp::Xor, a.sign.clone(), w_neg),
        "",
    );
    m.comment("");
    m.comment("Normalize");
    let norm = normalize(&mut m, "norm", prod, pw, None);
    // prod · 2^(ea − bias − mw); its top bit is 2^(mw + W).
    let c = 127 + i64::from(wb) - i64::from(fmt.bias());
    let (min, max) = (
        1 - i64::from(mw) - i64::from(wb) + c,
        max_finite_exp(fmt) + c,
    );
    let exp = rebiased_exp(
        &mut m,
        a.exp,
        xb,
        &norm,
        c,
        (min, max),
        "ea - shift, rebiased",
    );
    let finite = pack_fp32(&mut m, sign.clone(), exp, norm.value, pw, None);
    let finite = wire(&mut m, "finite", 32, finite, "");
    m.comment("");
    m.comment("Specials");
    let (nan, inf) = match a.inf {
        Some(ai) => {
            let nan = e::or(a.nan, e::and(ai.clone(), w_zero));
            (nan, Some((ai, sign)))
        }
        None => {
            let unused = m.logic("unused_w_zero", 1, "no infinities: w = 0 needs no flag");
            m.assign(unused, w_zero);
            (a.nan, None)
        }
    };
    let nan = wire(&mut m, "p_nan", 1, nan, "NaN in, or Inf * 0");
    m.assign(e::id("p_o"), specials(FP32, nan, inf, finite));
    m
}

/// `lutcore_<f>_to_fixed`: `x_i` (`fmt.bits()`) → `fixed_o`, the exact value
/// of `x_i` times `2^frac_bits` as a signed integer of
/// [`FpFormat::fixed_point`]'s width (FP16: 41 bits, `x · 2^24`; E4M3: 19,
/// `x · 2^9`; E5M2: 33, `x · 2^16`), and `nonfinite_o`, 1 for Inf and NaN
/// (then `fixed_o` is 0). ±0 give 0. Bit for bit [`FpFormat::to_fixed`]:
/// the significand `{hidden, mantissa}` shifted left by `max(field, 1) − 1`,
/// negated for a negative sign.
///
/// Panics for a format without a fixed point (BF16, binary32).
pub fn to_fixed_module(fmt: FpFormat) -> Module {
    let name = Unit::ToFixed { fmt }.name();
    let fx = fmt.fixed_point().unwrap_or_else(|| {
        panic!("{name}: {fmt} has no fixed-point form of at most 64 bits (FP16 and FP8 do)")
    });
    let (xb, mw, n, w) = (fmt.exp_bits, fmt.man_bits, fmt.bits(), fx.width);
    let mut m = Module::new(
        &name,
        vec![
            format!("{name}: a {fmt} (E{xb}M{mw}) value as the exact signed fixed-point integer"),
            format!(
                "x * 2^{} in {w} bits (two's complement); ±0 give 0.",
                fx.frac_bits
            ),
            "The significand shifted left by max(exponent field, 1) - 1, negated if negative."
                .into(),
            "Inf and NaN: nonfinite_o = 1 and fixed_o = 0.".into(),
            String::new(),
            format!(
                "Parameters: format {fmt}, FracBits = {}, Width = {w}.",
                fx.frac_bits
            ),
            format!(
                "Generated by lutcore-gen {}; do not edit.",
                crate::GENERATOR_VERSION
            ),
        ],
    );
    let x_i = m.port(Port::input("x_i", n, &format!("a {fmt} value")));
    m.port(Port::output(
        "fixed_o",
        w,
        &format!("x * 2^{}, two's complement; 0 if nonfinite_o", fx.frac_bits),
    ));
    m.port(Port::output("nonfinite_o", 1, "x is Inf or NaN"));
    let x = unpack(&mut m, "x", fmt, x_i, false);
    m.comment("");
    m.comment("Magnitude: the significand at the scale of the smallest subnormal");
    let nonfinite = wire(
        &mut m,
        "nonfinite",
        1,
        match x.inf {
            Some(inf) => e::or(x.nan, inf),
            None => x.nan,
        },
        "",
    );
    let shift = wire(
        &mut m,
        "mag_shift",
        xb,
        e::sub(x.exp, e::lit(xb, 1)),
        "effective exponent - 1 (the exponent is at least 1)",
    );
    let mag = wire(
        &mut m,
        "mag",
        w - 1,
        e::shl(e::zext(x.sig, mw + 1, w - 1), shift),
        "|x| * 2^frac_bits (Inf and NaN: meaningless, masked below)",
    );
    let kept = wire(
        &mut m,
        "mag_kept",
        w - 1,
        e::keep_if(mag, w - 1, e::not(nonfinite.clone())),
        "0 for Inf and NaN",
    );
    m.comment("");
    m.comment("Two's complement: -mag = ~mag + 1 (a negative zero gives 0)");
    m.assign(
        e::id("fixed_o"),
        e::add(
            e::invert_if(e::zext(kept, w - 1, w), w, x.sign.clone()),
            e::zext(x.sign, 1, w),
        ),
    );
    m.assign(e::id("nonfinite_o"), nonfinite);
    m
}

/// `lutcore_fixed<W>_f<F>_to_fp32`: `x_i` (`width` = W bits, two's
/// complement) → `y_o`, `x · 2^-F` rounded to binary32, nearest even, bit for
/// bit [`fixed_to_f32`]: 0 gives +0; negative values that round to zero give
/// −0; subnormal results are rounded at `2^-149`. Never Inf (`|x| ≤ 2^63`).
///
/// The magnitude `|x|` (W bits: the most negative x gives `2^(W−1)`), a
/// leading-zero normalization putting the leading one at the top, the
/// exponent `W − 1 − shift − F` rebiased, then the shared rounding and
/// packing of the other units (a right shift into the subnormal range is
/// generated only if `F ≥ 127` allows such results).
///
/// Panics unless `2 ≤ width ≤ 64` and `frac_bits < 149 + width` (beyond
/// that every result would round to ±0).
pub fn fixed_to_fp32_module(width: u32, frac_bits: u32) -> Module {
    let name = Unit::FixedToFp32 { width, frac_bits }.name();
    assert!(
        (2..=64).contains(&width),
        "{name}: a {width}-bit integer (2..=64 bits are supported)"
    );
    assert!(
        frac_bits < 149 + width,
        "{name}: {frac_bits} fractional bits leave every {width}-bit value below \
         binary32's smallest subnormal (use fewer than {})",
        149 + width
    );
    let (w, f) = (width, frac_bits);
    let mut m = Module::new(
        &name,
        vec![
            format!("{name}: a signed {w}-bit fixed-point integer x, value x * 2^-{f},"),
            "rounded once to binary32 (nearest even, subnormals kept): magnitude,".into(),
            "leading-zero normalization, rounding. 0 gives +0; negative values that".into(),
            "round to zero give -0; never Inf or NaN.".into(),
            String::new(),
            format!("Parameters: Width = {w}, FracBits = {f}."),
            format!(
                "Generated by lutcore-gen {}; do not edit.",
                crate::GENERATOR_VERSION
            ),
        ],
    );
    let x = m.port(Port::input(
        "x_i",
        w,
        &format!("x, two's complement; the value is x * 2^-{f}"),
    ));
    m.port(Port::output("y_o", 32, &format!("x * 2^-{f} in binary32")));
    m.comment("");
    m.comment("Sign and magnitude (the most negative x gives 2^(W-1), still W bits)");
    let sign = wire(&mut m, "x_sign", 1, bit(x.clone(), w - 1), "");
    let mag = wire(
        &mut m,
        "x_mag",
        w,
        e::add(
            e::invert_if(x, w, sign.clone()),
            e::zext(sign.clone(), 1, w),
        ),
        "|x|",
    );
    m.comment("");
    m.comment("Normalize: the leading one to the top");
    let norm = normalize(&mut m, "norm", mag, w, None);
    // The leading one is bit W − 1 − shift of |x|: the value's exponent is
    // W − 1 − shift − F, its binary32 field that + 127.
    let c = i64::from(w) + 126 - i64::from(f);
    // A nonzero |x| shifts by at most W − 1. Zero shifts further (every stage
    // finds zeros), but its significand is 0: the field packs as 0 whatever
    // the exponent wire holds, and shifting 0 right gives 0.
    let (min, max) = (c - (i64::from(w) - 1), c);
    let ew = exp_width(min, max);
    let value = wire(
        &mut m,
        "exp",
        ew,
        e::sub(
            e::lit(ew, c.rem_euclid(1i64 << ew) as u64),
            e::zext(norm.shift.clone(), norm.shift_bits, ew),
        ),
        &format!("{w} - 1 - shift - {f}, rebiased"),
    );
    let exp = Exp {
        value,
        width: ew,
        min,
        max,
    };
    let y = pack_fp32(&mut m, sign, exp, norm.value, w, None);
    m.assign(e::id("y_o"), y);
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use lutcore_contract::fp::{BF16, E4M3, E5M2, FP16};

    /// (port, direction is input, width) of a module.
    fn ports(m: &Module) -> Vec<(String, bool, u32)> {
        m.ports
            .iter()
            .map(|p| (p.name.clone(), p.dir == crate::ir::Dir::Input, p.width))
            .collect()
    }

    fn p(name: &str, input: bool, width: u32) -> (String, bool, u32) {
        (name.into(), input, width)
    }

    /// The names and ports other modules instantiate, exactly.
    #[test]
    fn units_have_the_agreed_names_and_ports() {
        let add = Unit::Add.module();
        assert_eq!(add.name, "lutcore_fp32_add");
        assert_eq!(
            ports(&add),
            [
                p("a_i", true, 32),
                p("b_i", true, 32),
                p("sum_o", false, 32)
            ]
        );
        let scale = Unit::Scale { plane_bits: 2 }.module();
        assert_eq!(scale.name, "lutcore_fp32_scale");
        assert_eq!(
            ports(&scale),
            [p("x_i", true, 32), p("p_i", true, 2), p("y_o", false, 32)]
        );
        for (fmt, id) in [
            (FP16, "fp16"),
            (BF16, "bf16"),
            (E4M3, "fp8_e4m3"),
            (E5M2, "fp8_e5m2"),
        ] {
            let b = fmt.bits();
            for (half, suffix) in [(false, ""), (true, "_half")] {
                let u = Unit::Widen { fmt, half };
                let m = u.module();
                assert_eq!(m.name, format!("lutcore_{id}_to_fp32{suffix}"));
                assert_eq!(u.name(), m.name);
                assert_eq!(ports(&m), [p("x_i", true, b), p("y_o", false, 32)]);
            }
            let m = Unit::Mul { fmt }.module();
            assert_eq!(m.name, format!("lutcore_{id}_mul"));
            assert_eq!(
                ports(&m),
                [p("a_i", true, b), p("b_i", true, b), p("p_o", false, 32)]
            );
            for w in 2..=5 {
                let u = Unit::MulInt {
                    fmt,
                    weight_bits: w,
                };
                let m = u.module();
                assert_eq!(m.name, format!("lutcore_{id}_mul_int{w}"));
                assert_eq!(u.name(), m.name);
                assert_eq!(
                    ports(&m),
                    [p("a_i", true, b), p("w_i", true, w), p("p_o", false, 32)]
                );
            }
        }
    }

    #[test]
    fn fixed_point_units_have_the_agreed_names_and_ports() {
        for (fmt, id, w) in [
            (FP16, "fp16", 41),
            (E4M3, "fp8_e4m3", 19),
            (E5M2, "fp8_e5m2", 33),
        ] {
            let u = Unit::ToFixed { fmt };
            let m = u.module();
            assert_eq!(m.name, format!("lutcore_{id}_to_fixed"));
            assert_eq!(u.name(), m.name);
            assert_eq!(
                ports(&m),
                [
                    p("x_i", true, fmt.bits()),
                    p("fixed_o", false, w),
                    p("nonfinite_o", false, 1)
                ]
            );
        }
        let u = Unit::FixedToFp32 {
            width: 48,
            frac_bits: 9,
        };
        let m = u.module();
        assert_eq!(m.name, "lutcore_fixed48_f9_to_fp32");
        assert_eq!(u.name(), m.name);
        assert_eq!(ports(&m), [p("x_i", true, 48), p("y_o", false, 32)]);
    }

    #[test]
    #[should_panic(expected = "bf16 has no fixed-point form")]
    fn to_fixed_refuses_bf16() {
        to_fixed_module(BF16);
    }

    #[test]
    #[should_panic(expected = "use fewer than 213")]
    fn fixed_to_fp32_refuses_an_all_zero_scale() {
        fixed_to_fp32_module(64, 213);
    }

    #[test]
    fn modules_for_builds_each_unit_once_in_order() {
        let ms = modules_for(&[
            Unit::Add,
            Unit::Mul { fmt: FP16 },
            Unit::Add,
            Unit::Scale { plane_bits: 1 },
        ]);
        let names: Vec<&str> = ms.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, [ADD, "lutcore_fp16_mul", SCALE]);
    }

    #[test]
    fn instance_orders_connections_by_port() {
        let add = Unit::Add.module();
        let item = instance(
            &add,
            "u_add",
            vec![
                ("sum_o", e::id("s")),
                ("a_i", e::id("x")),
                ("b_i", e::id("y")),
            ],
        );
        let Item::Instance {
            module,
            name,
            conns,
        } = item
        else {
            panic!("an instance");
        };
        assert_eq!((module.as_str(), name.as_str()), (ADD, "u_add"));
        let order: Vec<&str> = conns.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(order, ["a_i", "b_i", "sum_o"]);
    }

    #[test]
    #[should_panic(expected = "port b_i is not connected")]
    fn instance_refuses_a_missing_port() {
        let add = Unit::Add.module();
        instance(
            &add,
            "u_add",
            vec![("a_i", e::id("x")), ("sum_o", e::id("s"))],
        );
    }
}
