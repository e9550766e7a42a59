//! Host-side quantisation helpers (`docs/int8-spec.md` §2–§3).
use super::BuildError;
use crate::format::{Clamp, Quant, INPUT_LUT_LEN};
use alloc::vec::Vec;

/// Fused activation of a MAC layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// No clamp beyond int8.
    None,
    /// `max(0, x)`.
    Relu,
    /// `min(max(0, x), 6)`.
    Relu6,
}

/// Output clamp for `activation` on a tensor quantised with `quant`:
/// real 0 is `zp`, real 6 is `zp + round(6 / scale)`, both limited to int8.
pub fn activation_clamp(activation: Activation, quant: Quant) -> Clamp {
    let zp = i32::from(quant.zero_point);
    let (lo, hi) = match activation {
        Activation::None => (-128, 127),
        Activation::Relu => (zp, 127),
        Activation::Relu6 => {
            let six = (6.0 / f64::from(quant.scale)).round();
            (zp, (f64::from(zp) + six).min(127.0) as i32)
        }
    };
    Clamp {
        min: lo.clamp(-128, 127) as i8,
        max: hi.clamp(-128, 127) as i8,
    }
}

/// Splits a real multiplier into a Q31 value in `[2^30, 2^31)` and a shift,
/// `real ≈ m · 2^shift / 2^31` (TFLite `QuantizeMultiplier`). Zero and
/// scales below 2^−32 give `(0, 0)`.
pub fn quantize_multiplier(real: f64) -> Result<(i32, i8), BuildError> {
    if !real.is_finite() || real < 0.0 {
        return Err(BuildError::Scale(real));
    }
    if real < 2f64.powi(-32) {
        return Ok((0, 0));
    }
    // real = q · 2^shift with q in [0.5, 1)
    let mut shift = real.log2().floor() as i32 + 1;
    let mut q = real / 2f64.powi(shift);
    while q >= 1.0 {
        q /= 2.0;
        shift += 1;
    }
    while q < 0.5 {
        q *= 2.0;
        shift -= 1;
    }
    let mut q_fixed = (q * 2f64.powi(31)).round() as i64;
    if q_fixed == 1i64 << 31 {
        q_fixed /= 2;
        shift += 1;
    }
    if shift < -31 {
        return Ok((0, 0));
    }
    if shift > 30 {
        return Err(BuildError::Scale(real));
    }
    Ok((q_fixed as i32, shift as i8))
}

/// The 3 × 256 input table: `q = clamp(round((pixel − mean[c]) / std[c] / scale) + zp)`,
/// rounding half away from zero in `f64`.
pub fn input_lut(mean: [f32; 3], std: [f32; 3], quant: Quant) -> Vec<u8> {
    let mut lut = Vec::with_capacity(INPUT_LUT_LEN);
    for (m, sd) in mean.into_iter().zip(std) {
        for pixel in 0..256 {
            let real = (f64::from(pixel) - f64::from(m)) / f64::from(sd);
            let q = (real / f64::from(quant.scale)).round() + f64::from(quant.zero_point);
            lut.push(q.clamp(-128.0, 127.0) as i8 as u8);
        }
    }
    lut
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::requant::multiply_by_quantized_multiplier;

    #[test]
    fn multiplier_reproduces_the_real_scale() {
        for &real in &[0.5, 0.75, 1e-3, 3.2e-5, 0.999_999_9, 1.0, 3.5, 1234.0] {
            let (m, s) = quantize_multiplier(real).unwrap();
            assert!((1 << 30..=i32::MAX).contains(&m), "{real}: {m}");
            let approx = m as f64 * 2f64.powi(s as i32) / 2f64.powi(31);
            assert!((approx - real).abs() <= real * 1e-9, "{real} vs {approx}");
            let x = 100_000;
            let got = multiply_by_quantized_multiplier(x, m, s as i32) as f64;
            assert!((got - x as f64 * real).abs() <= 1.0, "{real}: {got}");
        }
        assert_eq!(quantize_multiplier(0.0).unwrap(), (0, 0));
        assert!(quantize_multiplier(-1.0).is_err());
        assert!(quantize_multiplier(f64::NAN).is_err());
        assert!(quantize_multiplier(1e12).is_err());
    }

    #[test]
    fn relu_clamps_at_the_zero_point() {
        let q = Quant {
            scale: 0.05,
            zero_point: -100,
        };
        assert_eq!(activation_clamp(Activation::Relu, q), Clamp { min: -100, max: 127 });
        assert_eq!(activation_clamp(Activation::Relu6, q), Clamp { min: -100, max: 20 });
        assert_eq!(activation_clamp(Activation::None, q), Clamp { min: -128, max: 127 });
    }

    #[test]
    fn input_lut_normalises_and_rounds() {
        let lut = input_lut(
            [127.5; 3],
            [127.5; 3],
            Quant {
                scale: 1.0 / 127.0,
                zero_point: 0,
            },
        );
        assert_eq!(lut.len(), 768);
        assert_eq!(lut[0] as i8, -127);
        assert_eq!(lut[255] as i8, 127);
        assert_eq!(lut[256 + 128] as i8, 0); // 0.5/127.5*127 = 0.498 → 0
    }
}
