//! Host-side activation quantization: float activations become the int8
//! vectors the kernels and the arrays take. The number formats themselves
//! (weight types, the activation trait) are part of the hardware contract,
//! [`lutcore_contract::dtype`].

/// A vector of int8 activations with one float scale: `real = value * scale`.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantizedActivations {
    /// The int8 values.
    pub values: Vec<i8>,
    /// Dequantization scale of this token.
    pub scale: f32,
}

impl QuantizedActivations {
    /// Per-token absmax quantization as BitNet defines it:
    /// `s = 127 / max|x|` (max clamped to 1e-5), `q = clamp(round(x·s), -128, 127)`,
    /// and the stored scale is `1/s`.
    pub fn quantize_absmax(x: &[f32]) -> Self {
        let max = x.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-5);
        let s = 127.0 / max;
        let values = x
            .iter()
            .map(|v| (v * s).round().clamp(-128.0, 127.0) as i8)
            .collect();
        QuantizedActivations {
            values,
            scale: 1.0 / s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absmax_quantization() {
        let q = QuantizedActivations::quantize_absmax(&[0.5, -1.0, 0.25]);
        assert_eq!(q.values, vec![64, -127, 32]);
        assert!((q.scale - 1.0 / 127.0).abs() < 1e-9);
    }
}
