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
}
