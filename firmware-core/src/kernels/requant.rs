//! Requantisation primitives, as in gemmlowp / TFLite / CMSIS-NN
//! (`docs/int8-spec.md` §3).

/// `round(a · b / 2^31)` with ties toward +∞, saturating the single overflow
/// case `a = b = i32::MIN` to `i32::MAX` (gemmlowp `SaturatingRoundingDoublingHighMul`).
#[inline(always)]
pub fn saturating_rounding_doubling_high_mul(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    // floor((a·b + 2^30) / 2^31): equal to gemmlowp's "add a sign-dependent
    // nudge, divide truncating toward zero", but one SMLAL and a funnel shift
    // on Cortex-M (no sign-dependent branch); the quotient fits in i32.
    ((i64::from(a) * i64::from(b) + (1i64 << 30)) >> 31) as i32
}

/// `x / 2^exponent` rounded to nearest, ties away from zero (gemmlowp
/// `RoundingDivideByPOT`). Exponents above 31 are treated as 31.
#[inline(always)]
pub fn rounding_divide_by_pot(x: i32, exponent: u32) -> i32 {
    let exponent = exponent.min(31);
    let mask = ((1u32 << exponent) - 1) as i32;
    let remainder = x & mask;
    let threshold = (mask >> 1) + i32::from(x < 0);
    (x >> exponent) + i32::from(remainder > threshold)
}

/// `x · multiplier · 2^shift / 2^31`, TFLite's `MultiplyByQuantizedMultiplier`:
/// a positive `shift` first multiplies `x` by `2^shift` (saturating to i32),
/// a negative one divides the product by `2^−shift` with rounding.
/// `shift` is clamped to `[-31, 30]` (validation rejects other values).
#[inline(always)]
pub fn multiply_by_quantized_multiplier(x: i32, multiplier: i32, shift: i32) -> i32 {
    // The common case of every requantisation takes the fast path; the
    // general path stays out of line so the kernels' loops stay small.
    if takes_fast_path(multiplier, shift) {
        return mbqm_fast(x, multiplier, shift);
    }
    mbqm_general(x, multiplier, shift)
}

/// True for the common case of every requantisation: no left shift, and a
/// multiplier that cannot meet SRDHM's one saturating input pair. Then
/// [`mbqm_fast`] equals [`multiply_by_quantized_multiplier`].
#[inline(always)]
pub fn takes_fast_path(multiplier: i32, shift: i32) -> bool {
    (-31..=0).contains(&shift) && multiplier != i32::MIN
}

/// The constants of `rounding_divide_by_pot(x, e)` for one right shift
/// `e = −shift` (clamped to 0..=31), computed once per channel instead of
/// once per output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rounding {
    /// `e`.
    pub exponent: u32,
    /// `2^e − 1`.
    pub mask: i32,
    /// `mask >> 1`.
    pub half: i32,
}

impl Rounding {
    /// The constants for a (non-positive) requantisation shift.
    #[inline(always)]
    pub fn for_shift(shift: i32) -> Self {
        let exponent = shift.min(0).unsigned_abs().min(31);
        let mask = ((1u32 << exponent) - 1) as i32;
        Rounding {
            exponent,
            mask,
            half: mask >> 1,
        }
    }
}

/// [`mbqm_fast`] with the rounding constants of its shift precomputed
/// (`rounding = Rounding::for_shift(shift)`): the same result.
#[inline(always)]
pub fn mbqm_fast_with(x: i32, multiplier: i32, rounding: Rounding) -> i32 {
    let high = ((i64::from(x) * i64::from(multiplier) + (1i64 << 30)) >> 31) as i32;
    let threshold = rounding.half + i32::from(high < 0);
    (high >> rounding.exponent) + i32::from(high & rounding.mask > threshold)
}

/// [`multiply_by_quantized_multiplier`] for a multiplier and shift that
/// [`takes_fast_path`] accepts, in about half the instructions and without
/// a branch on them (kernels check a whole op's channels once and then run
/// a loop built on this). Other arguments give some value, not a panic.
#[inline(always)]
pub fn mbqm_fast(x: i32, multiplier: i32, shift: i32) -> i32 {
    let high = ((i64::from(x) * i64::from(multiplier) + (1i64 << 30)) >> 31) as i32;
    rounding_divide_by_pot(high, shift.unsigned_abs())
}

/// `multiply_by_quantized_multiplier(x, multiplier, shift)`, through
/// [`mbqm_fast`] when `FAST` (the caller has checked [`takes_fast_path`]).
#[inline(always)]
pub fn mbqm<const FAST: bool>(x: i32, multiplier: i32, shift: i32) -> i32 {
    if FAST {
        mbqm_fast(x, multiplier, shift)
    } else {
        multiply_by_quantized_multiplier(x, multiplier, shift)
    }
}

/// [`multiply_by_quantized_multiplier`] for any shift and multiplier.
#[cold]
#[inline(never)]
fn mbqm_general(x: i32, multiplier: i32, shift: i32) -> i32 {
    let shift = shift.clamp(-31, 30);
    let left = shift.max(0) as u32;
    let right = (-shift).max(0) as u32;
    let shifted = if left == 0 {
        x
    } else {
        (i64::from(x) << left).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
    };
    rounding_divide_by_pot(saturating_rounding_doubling_high_mul(shifted, multiplier), right)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// floor(n / d) for d > 0, in i128.
    fn floor_div(n: i128, d: i128) -> i128 {
        n.div_euclid(d)
    }

    /// Reference: exact product, round half up, clamp to i32.
    fn srdhm_ref(a: i32, b: i32) -> i64 {
        let p = a as i128 * b as i128 * 2; // doubling
        let q = floor_div(p + (1i128 << 31), 1i128 << 32);
        q.clamp(i32::MIN as i128, i32::MAX as i128) as i64
    }

    /// Reference: exact division, ties away from zero.
    fn rdbpot_ref(x: i64, e: u32) -> i64 {
        if e == 0 {
            return x;
        }
        let d = 1i128 << e;
        let mag = (x.unsigned_abs() as i128 + d / 2) / d;
        (if x < 0 { -mag } else { mag }) as i64
    }

    fn mbqm_ref(x: i32, m: i32, shift: i32) -> i64 {
        let left = shift.max(0) as u32;
        let right = (-shift).max(0) as u32;
        let shifted = ((x as i64) << left).clamp(i32::MIN as i64, i32::MAX as i64) as i32;
        rdbpot_ref(srdhm_ref(shifted, m), right)
    }

    const EDGES: [i32; 12] = [
        i32::MIN,
        i32::MIN + 1,
        -(1 << 30),
        -65536,
        -3,
        -1,
        0,
        1,
        3,
        1 << 30,
        i32::MAX - 1,
        i32::MAX,
    ];

    #[test]
    fn srdhm_matches_reference_on_edges_and_random() {
        for &a in &EDGES {
            for &b in &EDGES {
                assert_eq!(
                    saturating_rounding_doubling_high_mul(a, b) as i64,
                    srdhm_ref(a, b),
                    "{a} {b}"
                );
            }
        }
        let mut rng = Rng::new(1);
        for _ in 0..200_000 {
            let (a, b) = (rng.i32_any(), rng.i32_any());
            assert_eq!(
                saturating_rounding_doubling_high_mul(a, b) as i64,
                srdhm_ref(a, b),
                "{a} {b}"
            );
        }
    }

    #[test]
    fn rdbpot_matches_reference() {
        let mut rng = Rng::new(2);
        for e in 0..=31u32 {
            for &x in &EDGES {
                assert_eq!(rounding_divide_by_pot(x, e) as i64, rdbpot_ref(x as i64, e), "{x} {e}");
            }
            for _ in 0..5_000 {
                let x = rng.i32_any();
                assert_eq!(rounding_divide_by_pot(x, e) as i64, rdbpot_ref(x as i64, e), "{x} {e}");
            }
        }
        // Ties go away from zero.
        assert_eq!(rounding_divide_by_pot(3, 1), 2);
        assert_eq!(rounding_divide_by_pot(-3, 1), -2);
        assert_eq!(rounding_divide_by_pot(-5, 2), -1);
    }

    /// `f(x, m, shift)` against the reference for every shift in `shifts`,
    /// the edge inputs times `multipliers`, and 3,000 random inputs.
    fn check_requant(
        seed: u64,
        shifts: core::ops::RangeInclusive<i32>,
        multipliers: &[i32],
        f: impl Fn(i32, i32, i32) -> i32,
    ) {
        let mut rng = Rng::new(seed);
        for shift in shifts {
            let edges = EDGES.iter().flat_map(|&x| multipliers.iter().map(move |&m| (x, m)));
            let random = (0..3_000).map(|_| {
                let x = rng.i32_any() >> rng.below(32);
                (x, (rng.i32_any() & i32::MAX).max(1 << 30))
            });
            for (x, m) in edges.chain(random) {
                assert_eq!(f(x, m, shift) as i64, mbqm_ref(x, m, shift), "{x} {m} {shift}");
            }
        }
    }

    #[test]
    fn mbqm_matches_reference_including_saturation() {
        let multipliers = [0, 1, 1 << 30, i32::MAX, 1_518_500_250, -1, -(1 << 30), i32::MIN];
        check_requant(3, -31..=30, &multipliers, multiply_by_quantized_multiplier);
    }

    #[test]
    fn fast_path_with_precomputed_rounding_matches_reference() {
        let multipliers = [0, 1, 1 << 30, i32::MAX, 1_518_500_250];
        assert!((-31..=0).all(|shift| multipliers.iter().all(|&m| takes_fast_path(m, shift))));
        check_requant(4, -31..=0, &multipliers, |x, m, shift| {
            mbqm_fast_with(x, m, Rounding::for_shift(shift))
        });
    }

    #[test]
    fn mbqm_approximates_real_scaling() {
        // 0.75 = 0.75 · 2^0 → m = 0.75 · 2^31
        let m = (0.75f64 * (1u64 << 31) as f64) as i32;
        assert_eq!(multiply_by_quantized_multiplier(1000, m, 0), 750);
        assert_eq!(multiply_by_quantized_multiplier(1000, m, -2), 188); // 187.5 → 188
        assert_eq!(multiply_by_quantized_multiplier(-1000, m, -2), -188);
        assert_eq!(multiply_by_quantized_multiplier(1000, m, 3), 6000);
    }
}
