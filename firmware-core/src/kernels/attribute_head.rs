//! Attribute head: 40 int8 logits → probabilities and flags
//! (`docs/int8-spec.md` §7).
//!
//! `logit = scale · (q − zp)` in `f32`; `p = 1 / (1 + exp(−logit))` with
//! micromath's `exp` (called explicitly through [`micromath::F32`], so the
//! same code runs on the host, where std's `f32::exp` would otherwise shadow
//! it); `flag = q > zp`, decided on the integers so it is exact.
use crate::format::Quant;
use micromath::F32;

/// The sigmoid used by the head (micromath `exp`, max relative error ~1e-3).
#[inline]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + F32(-x).exp().0)
}

/// Fills probabilities and flags from the int8 logits.
pub fn attributes(q: &[i8], quant: Quant, probs: &mut [f32; 40], flags: &mut [bool; 40]) {
    let zp = i32::from(quant.zero_point);
    for ((&v, p), f) in q.iter().zip(probs.iter_mut()).zip(flags.iter_mut()) {
        let centred = i32::from(v) - zp;
        *p = sigmoid(centred as f32 * quant.scale);
        *f = centred > 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probabilities_follow_the_logistic_function() {
        let quant = Quant {
            scale: 0.1,
            zero_point: 3,
        };
        let q: std::vec::Vec<i8> = (0..40).map(|i| (i as i32 * 6 - 120) as i8).collect();
        let (mut p, mut f) = ([0f32; 40], [false; 40]);
        attributes(&q, quant, &mut p, &mut f);
        for i in 0..40 {
            let logit = 0.1f64 * (q[i] as f64 - 3.0);
            let want = 1.0 / (1.0 + (-logit).exp());
            assert!((p[i] as f64 - want).abs() < 2e-3, "{i}: {} vs {want}", p[i]);
            assert_eq!(f[i], q[i] as i32 > 3);
        }
        assert_eq!(sigmoid(0.0), 0.5);
    }
}
