//! Floating-point numerics of the arrays, defined once.
//!
//! Activations arrive in a narrow format ([`FpFormat`]: FP16, BF16, FP8 E4M3 or
//! E5M2) and are widened exactly to IEEE-754 binary32. Every operation inside
//! an array is then a binary32 operation with round-to-nearest-even, subnormals
//! kept (no flush to zero) and IEEE infinities; every NaN an array emits is
//! [`CANONICAL_NAN`]. The functions here work on raw bit patterns (`u32`) so the
//! golden values compare bit for bit with what the RTL emits. They are built on
//! Rust's own `f32`/`f64` arithmetic (IEEE, round-to-nearest-even) and on
//! [`FpFormat::round`], an exact integer rounding written independently of the
//! generated hardware.
//!
//! Why binary32 everywhere: one adder design serves all four activation types,
//! including BF16, whose exponent range would need a fixed-point (Kulisch)
//! accumulator of about 280 bits; a product of two FP16 or FP8 values and a
//! FP16 value times a 4-bit weight are exact in binary32, so the baselines'
//! multipliers never round for FP16/FP8 (docs/decisions.md, "FP activations").

use std::fmt;

/// The NaN every array emits: sign 0, exponent all ones, only the quiet bit set.
pub const CANONICAL_NAN: u32 = 0x7FC0_0000;

/// A binary floating-point format: sign, `exp_bits` exponent, `man_bits`
/// stored mantissa, bias `2^(exp_bits-1) - 1`, subnormals at exponent field 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FpFormat {
    /// Name as written in configs and reports (`fp16`, `fp8-e4m3`, ...).
    pub name: &'static str,
    /// Exponent field width.
    pub exp_bits: u32,
    /// Stored mantissa width (without the hidden bit).
    pub man_bits: u32,
    /// IEEE specials: the all-ones exponent holds ±Inf (mantissa 0) and NaN.
    /// `false` is OCP FP8 E4M3 ("fn"): no infinities, only `S.1111.111` is NaN,
    /// every other all-ones-exponent code is a normal number (max 448).
    pub ieee_specials: bool,
}

/// IEEE binary32, the arrays' internal format.
pub const FP32: FpFormat = FpFormat {
    name: "fp32",
    exp_bits: 8,
    man_bits: 23,
    ieee_specials: true,
};
/// IEEE binary16.
pub const FP16: FpFormat = FpFormat {
    name: "fp16",
    exp_bits: 5,
    man_bits: 10,
    ieee_specials: true,
};
/// bfloat16: binary32's exponent with 7 mantissa bits.
pub const BF16: FpFormat = FpFormat {
    name: "bf16",
    exp_bits: 8,
    man_bits: 7,
    ieee_specials: true,
};
/// OCP FP8 E5M2 (IEEE-like: infinities and NaNs).
pub const E5M2: FpFormat = FpFormat {
    name: "fp8-e5m2",
    exp_bits: 5,
    man_bits: 2,
    ieee_specials: true,
};
/// OCP FP8 E4M3 ("fn": no infinities, one NaN per sign, max finite 448).
pub const E4M3: FpFormat = FpFormat {
    name: "fp8-e4m3",
    exp_bits: 4,
    man_bits: 3,
    ieee_specials: false,
};

/// A signed fixed-point format: a value `v` is stored as the `width`-bit two's
/// complement integer `v · 2^frac_bits` (`width` includes the sign bit).
///
/// [`FpFormat::fixed_point`] gives the one that holds every finite value of a
/// format exactly: the exact accumulators sum activations as such integers
/// (integer adds, no rounding) and round once at the end ([`fixed_to_f32`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FixedPoint {
    /// Bits below the binary point: the format's smallest subnormal is `2^-frac_bits`.
    pub frac_bits: u32,
    /// Two's complement width including the sign bit.
    pub width: u32,
}

/// The widest [`FixedPoint`] [`FpFormat::fixed_point`] offers: its integers
/// are `i64` ([`FpFormat::to_fixed`]).
const MAX_FIXED_WIDTH: u32 = 64;

impl FpFormat {
    /// The fixed-point format that holds every finite value of `self` exactly,
    /// if it fits 64 bits: every value is an integer multiple of the smallest
    /// subnormal `2^(1 − bias − man_bits)` below `2^(emax + 1)`, so
    /// `frac_bits = bias − 1 + man_bits` and `width = 1 + emax + 1 + frac_bits`.
    /// FP16: 24 fractional bits, 41 bits (`|m| < 2^40`); E4M3: 9, 19; E5M2:
    /// 16, 33. `None` for BF16 and binary32, whose range needs about 280 bits.
    pub fn fixed_point(self) -> Option<FixedPoint> {
        let frac_bits = (self.bias() - 1) as u32 + self.man_bits;
        // Exponent of the largest finite value's leading bit.
        let emax = max_exp_field_finite(self) as i64 - i64::from(self.bias());
        let width = 1 + (emax + 1) as u32 + frac_bits;
        (width <= MAX_FIXED_WIDTH).then_some(FixedPoint { frac_bits, width })
    }

    /// The exact value of `bits` (low [`Self::bits`] bits) times
    /// `2^frac_bits` of [`Self::fixed_point`]: `±{hidden, mantissa} ·
    /// 2^(max(field, 1) − 1)`. ±0 give 0. `None` for Inf and NaN, and for
    /// formats without a fixed point (BF16, binary32).
    pub fn to_fixed(self, bits: u32) -> Option<i64> {
        self.fixed_point()?;
        let bits = bits & (u32::MAX >> (32 - self.bits()));
        if self.is_nan(bits) || self.is_inf(bits) {
            return None;
        }
        let (sign, e, m) = self.fields(bits);
        let (sig, shift) = if e == 0 {
            (m, 0)
        } else {
            (m | (1 << self.man_bits), e - 1)
        };
        // Below 2^(width − 1) ≤ 2^63 by the construction of `fixed_point`.
        let mag = i64::from(sig) << shift;
        Some(if sign { -mag } else { mag })
    }
}

/// The exponent field of a format's largest finite value.
const fn max_exp_field_finite(f: FpFormat) -> u32 {
    if f.ieee_specials {
        f.max_exp_field() - 1
    } else {
        f.max_exp_field()
    }
}

impl fmt::Display for FpFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

impl FpFormat {
    /// Total width in bits.
    pub const fn bits(self) -> u32 {
        1 + self.exp_bits + self.man_bits
    }
    /// Exponent bias.
    pub const fn bias(self) -> i32 {
        (1 << (self.exp_bits - 1)) - 1
    }
    /// The all-ones exponent field.
    const fn max_exp_field(self) -> u32 {
        (1 << self.exp_bits) - 1
    }
    const fn man_mask(self) -> u32 {
        (1 << self.man_bits) - 1
    }
    fn fields(self, bits: u32) -> (bool, u32, u32) {
        (
            (bits >> (self.bits() - 1)) & 1 == 1,
            (bits >> self.man_bits) & self.max_exp_field(),
            bits & self.man_mask(),
        )
    }
    fn pack(self, sign: bool, exp: u32, man: u32) -> u32 {
        (u32::from(sign) << (self.bits() - 1)) | (exp << self.man_bits) | man
    }
    /// Whether `bits` encodes a NaN.
    pub fn is_nan(self, bits: u32) -> bool {
        let (_, e, m) = self.fields(bits);
        e == self.max_exp_field()
            && if self.ieee_specials {
                m != 0
            } else {
                m == self.man_mask()
            }
    }
    /// Whether `bits` encodes ±Inf.
    pub fn is_inf(self, bits: u32) -> bool {
        let (_, e, m) = self.fields(bits);
        self.ieee_specials && e == self.max_exp_field() && m == 0
    }
    /// The format's canonical NaN (sign 0; quiet bit for IEEE formats).
    pub fn nan(self) -> u32 {
        let man = if self.ieee_specials {
            1 << (self.man_bits - 1)
        } else {
            self.man_mask()
        };
        self.pack(false, self.max_exp_field(), man)
    }
    /// Largest finite value.
    pub fn max_finite(self) -> f64 {
        self.decode(self.max_finite_bits())
    }
    fn max_finite_bits(self) -> u32 {
        if self.ieee_specials {
            self.pack(false, self.max_exp_field() - 1, self.man_mask())
        } else {
            self.pack(false, self.max_exp_field(), self.man_mask() - 1)
        }
    }
    /// The exact value of `bits` (only the low [`Self::bits`] bits are read).
    pub fn decode(self, bits: u32) -> f64 {
        let bits = bits & (u32::MAX >> (32 - self.bits()));
        let (sign, e, m) = self.fields(bits);
        let s = if sign { -1.0 } else { 1.0 };
        if self.is_nan(bits) {
            return f64::NAN;
        }
        if self.is_inf(bits) {
            return s * f64::INFINITY;
        }
        let (mant, exp) = if e == 0 {
            (f64::from(m), 1 - self.bias() - self.man_bits as i32)
        } else {
            (
                f64::from(m | (1 << self.man_bits)),
                e as i32 - self.bias() - self.man_bits as i32,
            )
        };
        // Both factors are exact in f64 and the product stays in its normal range.
        s * mant * 2f64.powi(exp)
    }
    /// `x` rounded to the nearest value of this format, ties to even; beyond the
    /// largest finite value: ±Inf (IEEE formats) or NaN (E4M3); NaN: [`Self::nan`].
    pub fn round(self, x: f64) -> u32 {
        if x.is_nan() {
            return self.nan();
        }
        let sign = x.is_sign_negative();
        let a = x.abs();
        let overflow = || {
            if self.ieee_specials {
                self.pack(sign, self.max_exp_field(), 0)
            } else {
                self.nan() | (u32::from(sign) << (self.bits() - 1))
            }
        };
        if a.is_infinite() {
            return overflow();
        }
        if a == 0.0 {
            return self.pack(sign, 0, 0);
        }
        let emin = 1 - self.bias();
        // Exponent of a's leading bit (a is a normal f64: our formats' values are).
        let e = ((a.to_bits() >> 52) as i32 - 1023).max(emin);
        let quantum = 2f64.powi(e - self.man_bits as i32);
        // a / quantum is exact (a power-of-two division in range); round it to an integer.
        let n = (a / quantum).round_ties_even() as u64;
        let (exp_field, man) = if e == emin && n < (1 << self.man_bits) {
            (0, n as u32) // subnormal
        } else if n == 1 << (self.man_bits + 1) {
            ((e + self.bias() + 1) as u32, 0) // rounded up into the next binade
        } else {
            ((e + self.bias()) as u32, n as u32 - (1 << self.man_bits))
        };
        let too_big = if self.ieee_specials {
            exp_field >= self.max_exp_field()
        } else {
            exp_field > self.max_exp_field()
                || (exp_field == self.max_exp_field() && man == self.man_mask())
        };
        if too_big {
            overflow()
        } else {
            self.pack(sign, exp_field, man)
        }
    }
    /// `bits`' value times `2^exp_offset` as binary32 bits (exact for every
    /// format here and offsets −1..=0); NaN becomes [`CANONICAL_NAN`].
    pub fn widen(self, bits: u32, exp_offset: i32) -> u32 {
        FP32.round(self.decode(bits) * 2f64.powi(exp_offset))
    }
    /// The codes tests must cover: zeros of both signs, the smallest and largest
    /// subnormals, the smallest normal, one, the largest finite value (both
    /// signs), infinities (IEEE formats) and NaN.
    pub fn edge_values(self) -> Vec<u32> {
        let s = |b: u32| b | (1 << (self.bits() - 1));
        let mut v = vec![
            0,
            s(0),
            1,
            s(1),
            self.man_mask(),
            s(self.man_mask()),
            self.pack(false, 1, 0),
            s(self.pack(false, 1, 0)),
            self.pack(false, self.bias() as u32, 0),
            s(self.pack(false, self.bias() as u32, 0)),
            self.max_finite_bits(),
            s(self.max_finite_bits()),
            self.nan(),
        ];
        if self.ieee_specials {
            v.extend([
                self.pack(false, self.max_exp_field(), 0),
                s(self.pack(false, self.max_exp_field(), 0)),
            ]);
        }
        v
    }
}

/// `x`'s bits, NaN made canonical.
pub fn canon(x: f32) -> u32 {
    if x.is_nan() {
        CANONICAL_NAN
    } else {
        x.to_bits()
    }
}

/// binary32 `a + b` (round to nearest even), NaN canonical.
pub fn add(a: u32, b: u32) -> u32 {
    canon(f32::from_bits(a) + f32::from_bits(b))
}

/// `-a`: the sign bit flipped (exact; a table's mirrored half).
pub fn neg(a: u32) -> u32 {
    a ^ 0x8000_0000
}

/// binary32 `a · 2^p` (exact unless it overflows to ±Inf), NaN canonical: a
/// bit plane's weight.
pub fn scale_pow2(a: u32, p: u32) -> u32 {
    assert!(p < 64, "plane scale 2^{p} is out of range");
    canon(f32::from_bits(a) * f32::from_bits((127 + p) << 23))
}

/// The product of two values of `fmt` rounded to binary32 (exact in f64 first:
/// at most 2·8 mantissa bits... 2·11 for FP16, well inside f64's 53).
pub fn mul(fmt: FpFormat, a: u32, b: u32) -> u32 {
    FP32.round(fmt.decode(a) * fmt.decode(b))
}

/// A value of `fmt` times a small integer weight, rounded to binary32.
pub fn mul_int(fmt: FpFormat, a: u32, w: i32) -> u32 {
    FP32.round(fmt.decode(a) * f64::from(w))
}

/// Where a sum of `n ≥ 2` terms splits: the left half takes the largest power of
/// two below `n`. This is a balanced tree that pairs neighbours level by level
/// ((t0+t1)+(t2+t3))+t4 ..., the order of every FP adder tree in the arrays.
pub fn tree_split(n: usize) -> usize {
    assert!(n >= 2, "a sum tree needs two terms");
    n.next_power_of_two() / 2
}

/// The sum of `terms` in [`tree_split`] order, binary32 adds; one term is
/// itself (NaN made canonical only by an add).
pub fn tree_sum(terms: &[u32]) -> u32 {
    match terms.len() {
        0 => 0,
        1 => terms[0],
        n => {
            let h = tree_split(n);
            add(tree_sum(&terms[..h]), tree_sum(&terms[h..]))
        }
    }
}

/// `value · 2^-frac_bits` rounded to binary32 bits: round to nearest, ties
/// to the even mantissa; subnormal results rounded at the subnormal quantum
/// `2^-149`; 0 gives +0 (an exact accumulator has no −0). No `i128` reaches
/// the overflow threshold, so the result is always finite. The one rounding
/// of an exact accumulation.
///
/// Exact integer arithmetic: the value's leading one fixes the binary32
/// quantum `2^q` (`2^(e − 23)` for a normal result with leading exponent
/// `e`, `2^-149` below the normal range), the integer is shifted right to
/// that quantum, and the bits shifted out decide the rounding.
pub fn fixed_to_f32(value: i128, frac_bits: u32) -> u32 {
    let sign = if value < 0 { 0x8000_0000 } else { 0 };
    let mag = value.unsigned_abs();
    if mag == 0 {
        return 0;
    }
    // Exponent of the value's leading bit.
    let lead = i64::from(127 - mag.leading_zeros()) - i64::from(frac_bits);
    // The quantum of the result: 24 significant bits, not below 2^-149.
    let q = (lead - 23).max(-149);
    // Bits of `mag` below the quantum (negative: `mag` is shifted left, exactly).
    let drop = q + i64::from(frac_bits);
    let n: u128 = if drop <= 0 {
        // Fewer than 24 significant bits: at most 2^24 after the shift.
        mag << (-drop)
    } else if drop > 128 {
        // The value is below 2^(q−1) = half the quantum: rounds to 0.
        0
    } else {
        let d = drop as u32;
        let (kept, rest) = if d == 128 {
            (0, mag)
        } else {
            (mag >> d, mag & ((1u128 << d) - 1))
        };
        let half = 1u128 << (d - 1);
        let up = rest > half || (rest == half && kept & 1 == 1);
        kept + u128::from(up)
    };
    // n · 2^q with n < 2^24 (or exactly 2^24 after rounding up): the field
    // of a normal n is q + 150 and its hidden bit is 2^23, so the bits are
    // ((q + 149) << 23) + n. For q = -149 this is n itself, a subnormal, or the
    // smallest normal when n = 2^23; n = 2^24 carries into the next binade.
    //
    // No overflow: |value| ≤ 2^127 and frac_bits ≥ 0, and a value at or
    // below 2^127 rounds to at most 2^127, far below the largest binary32
    // (2^128 − 2^104), so the field stays below 255.
    let bits = (((q + 149) as u128) << 23) + n;
    debug_assert!(bits < 0x7F80_0000, "an i128 cannot reach binary32's Inf");
    sign | bits as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    const ALL: [FpFormat; 5] = [FP32, FP16, BF16, E5M2, E4M3];

    #[test]
    fn round_inverts_decode_on_every_narrow_code() {
        for f in [FP16, BF16, E5M2, E4M3] {
            for b in 0..(1u32 << f.bits()) {
                let want = if f.is_nan(b) { f.nan() } else { b };
                assert_eq!(f.round(f.decode(b)), want, "{f} {b:#x}");
            }
        }
    }

    #[test]
    fn fp32_round_agrees_with_rust_casts() {
        let seed = crate::testing::seed_from_env(0xf32);
        println!("seed {seed} (LUTCORE_SEED replays)");
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for i in 0..200_000 {
            // Random f64 bit patterns around binary32's range, plus exact midpoints.
            let x = if i % 2 == 0 {
                let e = rng.gen_range(-160i32..=140);
                rng.gen_range(-1.0f64..1.0) * 2f64.powi(e)
            } else {
                let a = f32::from_bits(rng.gen::<u32>() & 0x7fff_ffff);
                if !a.is_finite() {
                    continue;
                }
                // Halfway to the next binary32 value: a tie.
                let next = f32::from_bits(a.to_bits() + 1);
                (f64::from(a) + f64::from(next)) / 2.0
            };
            assert_eq!(FP32.round(x), canon(x as f32), "x = {x:e} seed {seed}");
        }
    }

    #[test]
    fn narrow_round_agrees_with_a_nearest_search() {
        // Brute force: the nearest code (ties to the even mantissa), per format.
        for f in [FP16, BF16, E5M2, E4M3] {
            let finite: Vec<(f64, u32)> = (0..(1u32 << (f.bits() - 1)))
                .filter(|&b| !f.is_nan(b) && !f.is_inf(b))
                .map(|b| (f.decode(b), b))
                .collect();
            let mut rng = ChaCha8Rng::seed_from_u64(7);
            for _ in 0..4000 {
                let x = rng.gen_range(0.0..f.max_finite() * 1.01);
                let best = finite
                    .iter()
                    .min_by(|a, b| {
                        let (da, db) = ((a.0 - x).abs(), (b.0 - x).abs());
                        da.partial_cmp(&db).unwrap().then((a.1 & 1).cmp(&(b.1 & 1)))
                    })
                    .unwrap();
                let got = f.round(x);
                let half_ulp = (f.max_finite() - f.decode(f.max_finite_bits() - 1)) / 2.0;
                if x >= f.max_finite() + half_ulp {
                    assert!(f.is_inf(got) || f.is_nan(got), "{f} {x}");
                } else {
                    assert_eq!(got, best.1, "{f} {x}");
                }
            }
        }
    }

    #[test]
    fn e4m3_facts() {
        assert_eq!(E4M3.max_finite(), 448.0);
        assert!(E4M3.decode(0x7f).is_nan());
        assert_eq!(E4M3.decode(0x78), 256.0); // exponent 1111 is a normal binade
        assert_eq!(E4M3.decode(1), 2f64.powi(-9));
        assert_eq!(E4M3.round(464.0), 0x7e); // tie: to the even 448
        assert!(E4M3.is_nan(E4M3.round(470.0)));
        assert_eq!(E5M2.max_finite(), 57344.0);
        assert!(E5M2.is_inf(E5M2.round(1e6)));
        assert_eq!(FP16.max_finite(), 65504.0);
        assert_eq!(BF16.decode(1), 2f64.powi(-133));
    }

    #[test]
    fn widening_is_exact_and_halving_too() {
        for f in [FP16, BF16, E5M2, E4M3] {
            for b in 0..(1u32 << f.bits()) {
                let v = f.decode(b);
                for off in [-1, 0] {
                    let w = f32::from_bits(f.widen(b, off));
                    if v.is_nan() {
                        assert_eq!(w.to_bits(), CANONICAL_NAN);
                    } else {
                        assert_eq!(f64::from(w), v * 2f64.powi(off), "{f} {b:#x}");
                    }
                }
            }
        }
    }

    #[test]
    fn products_of_fp16_and_fp8_are_exact_in_binary32() {
        for f in [E5M2, E4M3] {
            for a in 0..256 {
                for b in 0..256 {
                    let exact = f.decode(a) * f.decode(b);
                    if exact.is_finite() {
                        assert_eq!(f64::from(f32::from_bits(mul(f, a, b))), exact);
                    }
                }
            }
        }
        assert_eq!(mul(FP16, 0x7bff, 0x7bff), (65504.0f32 * 65504.0).to_bits());
        assert_eq!(mul_int(FP16, 0x3c00, -1), (-1.0f32).to_bits());
        assert_eq!(mul_int(FP16, 0, -1), (-0.0f32).to_bits());
        assert_eq!(mul_int(BF16, 0x7f7f, 15), f32::INFINITY.to_bits());
    }

    #[test]
    fn specials() {
        let inf = f32::INFINITY.to_bits();
        assert_eq!(add(inf, neg(inf)), CANONICAL_NAN);
        assert_eq!(add(0, neg(0)), 0); // +0 + -0 = +0 in round-to-nearest
        assert_eq!(scale_pow2(f32::MAX.to_bits(), 1), inf);
        assert_eq!(scale_pow2(1, 3), 8); // subnormal 2^-149 · 8
        for f in ALL {
            assert!(f.is_nan(f.nan()));
            assert!(f
                .edge_values()
                .iter()
                .all(|&b| u64::from(b) >> f.bits() == 0));
        }
    }

    #[test]
    fn tree_order() {
        assert_eq!(tree_split(2), 1);
        assert_eq!(tree_split(3), 2);
        assert_eq!(tree_split(5), 4);
        assert_eq!(tree_split(8), 4);
        // (1 + 2^-24) + ... : order changes the rounded result; check the pairing.
        let one = 1f32.to_bits();
        let tiny = 2f32.powi(-24).to_bits();
        // ((1 + t) + (t + t)) = 1 + 2^-23 (t + t is exact first); left to right would give 1.
        assert_eq!(
            tree_sum(&[one, tiny, tiny, tiny]),
            (1.0f32 + 2f32.powi(-23)).to_bits()
        );
    }

    #[test]
    fn fixed_points_of_the_formats() {
        let fx = |frac_bits, width| Some(FixedPoint { frac_bits, width });
        assert_eq!(FP16.fixed_point(), fx(24, 41));
        assert_eq!(E4M3.fixed_point(), fx(9, 19));
        assert_eq!(E5M2.fixed_point(), fx(16, 33));
        assert_eq!(BF16.fixed_point(), None);
        assert_eq!(FP32.fixed_point(), None);
        assert_eq!(BF16.to_fixed(0x3f80), None);
        assert_eq!(FP32.to_fixed(0), None);
    }

    #[test]
    fn to_fixed_is_the_exact_value_on_every_code() {
        for f in [FP16, E4M3, E5M2] {
            let fx = f.fixed_point().expect("a fixed point");
            // The smallest subnormal is one unit.
            assert_eq!(f.to_fixed(1), Some(1), "{f}");
            let mut widest = 0u64;
            for b in 0..(1u32 << f.bits()) {
                let v = f.decode(b);
                let got = f.to_fixed(b);
                if !v.is_finite() {
                    assert_eq!(got, None, "{f} {b:#x}");
                    continue;
                }
                let got = got.unwrap_or_else(|| panic!("{f} {b:#x}: None"));
                // Exact: |got| < 2^53 and the scaling is a power of two.
                assert_eq!(got as f64, v * 2f64.powi(fx.frac_bits as i32), "{f} {b:#x}");
                widest = widest.max(got.unsigned_abs());
            }
            // The width is tight: the largest magnitude needs all of its bits.
            assert!(widest < 1 << (fx.width - 1), "{f}: {widest:#x}");
            assert!(widest >= 1 << (fx.width - 2), "{f}: {widest:#x}");
            // ±0 are both 0; a code's high bits beyond the format are ignored.
            assert_eq!(f.to_fixed(1 << (f.bits() - 1)), Some(0));
            assert_eq!(
                f.to_fixed(0xffff_0000 | f.bias() as u32),
                f.to_fixed(f.bias() as u32)
            );
        }
    }

    /// `v · 2^-frac` through f64 (exact for |v| < 2^53 and results far from
    /// f64's subnormals), rounded once by Rust's `as f32` cast; the
    /// contract's own [`FpFormat::round`] must agree.
    fn f64_golden(v: i128, frac: u32) -> u32 {
        assert!(v.unsigned_abs() < 1 << 53 && frac < 900, "not exact in f64");
        let x = v as f64 * 2f64.powi(-(frac as i32));
        let want = if x == 0.0 { 0 } else { (x as f32).to_bits() };
        assert_eq!(FP32.round(x), want, "second opinion: {v} * 2^-{frac}");
        want
    }

    #[test]
    fn fixed_to_f32_rounds_like_f64_then_one_cast() {
        let seed = crate::testing::seed_from_env(0xf1_0ed);
        println!("seed {seed} (LUTCORE_SEED replays)");
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut n = 0;
        for frac in [0u32, 9, 16, 24, 40, 126, 140, 149, 160, 175, 200] {
            let mut cases = vec![0i128, 1, -1, (1 << 53) - 1, -(1 << 53) + 1];
            for k in 0..53 {
                cases.extend([1i128 << k, -(1i128 << k)]);
            }
            for _ in 0..20_000 {
                let bits = rng.gen_range(1..=53);
                let v = rng.gen::<i64>() >> (64 - bits);
                cases.push(i128::from(v));
                // A tie: an odd number of half quanta, at 24 or fewer bits.
                let s = rng.gen_range(1..=29);
                let kept = rng.gen_range(0i128..1 << 24);
                cases.push((2 * kept + 1) << (s - 1));
                // All ones below the kept bits: rounds up into the next binade.
                cases.push(-(((1i128 << 24) << s) - 1));
            }
            for v in cases {
                assert_eq!(
                    fixed_to_f32(v, frac),
                    f64_golden(v, frac),
                    "{v} * 2^-{frac} seed {seed}"
                );
                n += 1;
            }
        }
        assert!(n > 200_000);
    }

    #[test]
    fn fixed_to_f32_on_wide_values_agrees_with_an_integer_cast() {
        // Rust's i128 → f32 cast rounds to nearest even; scaling by 2^-frac
        // is exact while the result stays normal.
        let seed = crate::testing::seed_from_env(0xf1_0ee);
        println!("seed {seed} (LUTCORE_SEED replays)");
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut cases = vec![
            i128::MIN,
            i128::MAX,
            i128::MIN + 1,
            i64::MIN.into(),
            i64::MAX.into(),
        ];
        for _ in 0..100_000 {
            let bits = rng.gen_range(54..=127);
            cases.push(rng.gen::<i128>() >> (128 - bits));
            // An exact tie at 24 significant bits, both neighbours' parities.
            let s = rng.gen_range(31..=103);
            let kept = rng.gen_range(1i128 << 23..1 << 24);
            cases.push(-((2 * kept + 1) << (s - 1)));
        }
        for v in cases {
            for frac in [0u32, 24, 64, 100] {
                let want = (v as f32 * 2f32.powi(-(frac as i32))).to_bits();
                assert!(f32::from_bits(want).abs() >= f32::MIN_POSITIVE);
                assert_eq!(fixed_to_f32(v, frac), want, "{v} * 2^-{frac} seed {seed}");
            }
        }
        assert_eq!(fixed_to_f32(i128::MIN, 0), 0xFF00_0000); // -2^127
        assert_eq!(fixed_to_f32(i128::MAX, 0), 0x7F00_0000); // rounds up to 2^127
    }

    #[test]
    fn fixed_to_f32_edges() {
        let f = |x: f32| x.to_bits();
        assert_eq!(fixed_to_f32(0, 24), 0);
        assert_eq!(fixed_to_f32(1, 24), f(2f32.powi(-24)));
        assert_eq!(fixed_to_f32(-1, 0), f(-1.0));
        // 2^24 + 1: a tie, to the even 2^24; 2^24 + 3: a tie, up to 2^24 + 4.
        assert_eq!(fixed_to_f32((1 << 24) + 1, 0), f(16_777_216.0));
        assert_eq!(fixed_to_f32((1 << 24) + 3, 0), f(16_777_220.0));
        assert_eq!(fixed_to_f32(-(1 << 24) - 3, 0), f(-16_777_220.0));
        // 2^25 − 1 rounds up into the next binade.
        assert_eq!(fixed_to_f32((1 << 25) - 1, 0), f(33_554_432.0));
        // Subnormals: 2^-149 exactly, half of it (a tie to 0), three halves (a tie up to 2).
        assert_eq!(fixed_to_f32(1, 149), 1);
        assert_eq!(fixed_to_f32(1, 150), 0);
        assert_eq!(fixed_to_f32(-1, 150), 0x8000_0000);
        assert_eq!(fixed_to_f32(3, 150), 2);
        assert_eq!(fixed_to_f32(1, 151), 0);
        assert_eq!(fixed_to_f32(1 << 100, 300), 0);
        assert_eq!(fixed_to_f32(i128::MIN, 277), 0x8000_0000); // exactly half of 2^-149
        assert_eq!(fixed_to_f32(i128::MIN, 276), 0x8000_0001);
        // The largest subnormal rounding up to the smallest normal.
        assert_eq!(fixed_to_f32((1 << 24) - 1, 150), 0x0080_0000);
        assert_eq!(fixed_to_f32(1, u32::MAX), 0);
    }
}
