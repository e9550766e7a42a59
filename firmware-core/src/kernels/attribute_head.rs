//! Attribute head: [`ATTRIBUTE_COUNT`] (40) int8 logits → probabilities and flags
//! (`docs/int8-spec.md` §7).
//!
//! `logit = scale · (q − zp)` in `f32`; `p = 1 / (1 + exp(−logit))` with
//! micromath's `exp` (called explicitly through [`micromath::F32`], so the
//! same code runs on the host, where std's `f32::exp` would otherwise shadow
//! it); `flag = q > zp`, decided on the integers so it is exact.
use crate::format::Quant;
use crate::outputs::ATTRIBUTE_COUNT;
use micromath::F32;

/// Logits are clamped to `±LOGIT_LIMIT` before `exp`: micromath's `exp`
/// returns NaN (or trips a debug assertion) for arguments near 89, and
/// `σ(±88)` already rounds to 0 or 1 in `f32`.
pub const LOGIT_LIMIT: f32 = 88.0;

/// The sigmoid used by the head (micromath `exp`, max relative error ~1e-3),
/// on the logit clamped to `[−LOGIT_LIMIT, LOGIT_LIMIT]`.
#[inline]
pub fn sigmoid(x: f32) -> f32 {
    // max/min rather than clamp: no assertion (panic path) and NaN-safe.
    #[allow(clippy::manual_clamp)]
    let x = x.max(-LOGIT_LIMIT).min(LOGIT_LIMIT);
    1.0 / (1.0 + F32(-x).exp().0)
}

/// Fills probabilities and flags from the int8 logits.
pub fn attributes(q: &[i8], quant: Quant, probs: &mut [f32; ATTRIBUTE_COUNT], flags: &mut [bool; ATTRIBUTE_COUNT]) {
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
        let q: std::vec::Vec<i8> = (0..ATTRIBUTE_COUNT).map(|i| (i as i32 * 6 - 120) as i8).collect();
        let (mut p, mut f) = ([0f32; ATTRIBUTE_COUNT], [false; ATTRIBUTE_COUNT]);
        attributes(&q, quant, &mut p, &mut f);
        for i in 0..ATTRIBUTE_COUNT {
            let logit = 0.1f64 * (q[i] as f64 - 3.0);
            let want = 1.0 / (1.0 + (-logit).exp());
            assert!((p[i] as f64 - want).abs() < 2e-3, "{i}: {} vs {want}", p[i]);
            assert_eq!(f[i], q[i] as i32 > 3);
        }
        assert_eq!(sigmoid(0.0), 0.5);
    }

    #[test]
    fn sigmoid_is_finite_and_monotone_over_all_logits() {
        // The fuzzer found NaN for logits in [−89.42, −88.72] before the clamp.
        let mut prev = 0.0f32;
        for i in -20_000..=20_000 {
            let x = i as f32 * 0.01;
            let p = sigmoid(x);
            assert!((0.0..=1.0).contains(&p), "σ({x}) = {p}");
            assert!(p >= prev - 1e-3, "σ not monotone at {x}");
            prev = p;
        }
        assert!(sigmoid(f32::NEG_INFINITY) >= 0.0 && sigmoid(f32::INFINITY) <= 1.0);
    }
}
