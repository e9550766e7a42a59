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

/// Largest `|x|` (accumulator plus bias) that [`mbqm_fast_with`] takes.
pub const FAST_BOUND: i64 = (1 << 30) - 1;

/// Largest `|x − zero_point · w|` term of an accumulator: `255 · 127`
/// (weights are never −128).
pub const MAX_TERM: i64 = 255 * 127;

/// True when [`mbqm_fast_with`] with `Rounding::for_channel(multiplier,
/// shift)` equals [`multiply_by_quantized_multiplier`] for every
/// accumulator of `terms` products plus `bias`: a normalised multiplier
/// (`2^30 ≤ multiplier`, as every non-zero TFLite-style multiplier is), no
/// left shift, and `|bias| + terms · 255 · 127 ≤ 2^30 − 1`.
#[inline(always)]
pub fn fits_fast_requant(multiplier: i32, shift: i32, bias: i32, terms: usize) -> bool {
    let bound = i64::try_from(terms)
        .ok()
        .and_then(|t| t.checked_mul(MAX_TERM))
        .and_then(|t| t.checked_add(i64::from(bias).abs()));
    multiplier >= 1 << 30 && (-31..=0).contains(&shift) && bound.is_some_and(|b| b <= FAST_BOUND)
}

/// One channel's constants for [`mbqm_fast_with`], computed once per
/// channel (meaningful where [`fits_fast_requant`] holds).
///
/// With `e = −shift`, `M = multiplier ≥ 2^30` and `|x| < 2^30`, the two
/// roundings of [`multiply_by_quantized_multiplier`] — `h = ⌊(x·M +
/// 2^30) / 2^31⌋`, then `⌊(h + 2^(e−1) − [h < 0]) / 2^e⌋` (ties away from
/// zero; no second term when `e = 0`) — are one floor, because
/// `⌊(⌊y⌋ + c) / n⌋ = ⌊(y + c) / n⌋` for integers `c`, `n`:
///
/// `⌊(x·2M + 2^31 + 2^(31+e) − 2^32·[h < 0]) / 2^(32+e)⌋`,
///
/// and `h < 0` exactly when `x < t` for a per-channel `t` (`t = 0` when
/// `M > 2^30`). The numerator is one `SMLAL` of `x` with `2M` (as an `i32`,
/// `2M − 2^32`, so `x` is added back to the high word) onto the constant
/// `high · 2^32 + 2^31`; its high word shifted right by `e` is the result.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rounding {
    /// `e`, the right shift (0..=31).
    pub exponent: u32,
    /// `2M − 2^32` as an `i32` (wrapping).
    pub doubled: i32,
    /// `2^(e−1)` (0 when `e = 0`): the high word of the rounding constant.
    pub high: i32,
    /// `t`: `h < 0` exactly when `x < t` (`−2^30`, never, when `e = 0`).
    pub negative_below: i32,
}

impl Rounding {
    /// The constants for one channel's multiplier and shift.
    #[inline(always)]
    pub fn for_channel(multiplier: i32, shift: i32) -> Self {
        let exponent = shift.min(0).unsigned_abs().min(31);
        let m = i64::from(multiplier.max(1));
        // ⌈(2^30 + 1) / M⌉: the least −x with x·M < −2^30.
        let least = (((1i64 << 30) + m) / m).min(1 << 30);
        Rounding {
            exponent,
            doubled: multiplier.wrapping_mul(2),
            high: if exponent == 0 { 0 } else { 1 << (exponent - 1) },
            negative_below: if exponent == 0 { -(1 << 30) } else { (1 - least) as i32 },
        }
    }
}

/// [`multiply_by_quantized_multiplier`]`(x, multiplier, shift)` for `x`
/// and a channel that [`fits_fast_requant`], with `rounding =
/// Rounding::for_channel(multiplier, shift)`: one `SMLAL` and four
/// single-cycle instructions (see [`Rounding`]). Other arguments give some
/// value, not a panic.
#[inline(always)]
pub fn mbqm_fast_with(x: i32, rounding: Rounding) -> i32 {
    let constant = (i64::from(rounding.high) << 32) | (1 << 31);
    let sum = i64::from(x)
        .wrapping_mul(i64::from(rounding.doubled))
        .wrapping_add(constant);
    let high = ((sum >> 32) as i32)
        .wrapping_add(x)
        .wrapping_add(x.wrapping_sub(rounding.negative_below) >> 31);
    high >> rounding.exponent
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
        // Edge multipliers (2^30 has t = −1, the others t = 0), every shift,
        // edge and random accumulators inside the bound.
        let multipliers = [1 << 30, (1 << 30) + 1, 1_518_500_250, i32::MAX - 1, i32::MAX];
        let bound = FAST_BOUND as i32;
        let edges = [
            -bound,
            -bound + 1,
            -(1 << 29),
            -65537,
            -3,
            -2,
            -1,
            0,
            1,
            2,
            3,
            65537,
            1 << 29,
            bound - 1,
            bound,
        ];
        let mut rng = Rng::new(4);
        for shift in -31..=0 {
            for _ in 0..200 {
                let m = (rng.i32_any() & i32::MAX).max(1 << 30);
                let random = (0..50).map(|_| (rng.i32_any() >> rng.range(1, 31)).clamp(-bound, bound));
                let xs: std::vec::Vec<i32> = edges.iter().copied().chain(random).collect();
                for &m in multipliers.iter().chain([m].iter()) {
                    assert!(fits_fast_requant(m, shift, 0, 0));
                    let r = Rounding::for_channel(m, shift);
                    for &x in &xs {
                        assert_eq!(mbqm_fast_with(x, r) as i64, mbqm_ref(x, m, shift), "{x} {m} {shift}");
                    }
                }
            }
        }
    }

    #[test]
    fn fast_requant_is_only_offered_where_it_is_exact() {
        assert!(fits_fast_requant(1 << 30, -5, 1000, 100));
        assert!(!fits_fast_requant((1 << 30) - 1, -5, 0, 0), "unnormalised multiplier");
        assert!(!fits_fast_requant(0, -5, 0, 0), "zero multiplier");
        assert!(!fits_fast_requant(1 << 30, 1, 0, 0), "left shift");
        let terms = (FAST_BOUND / MAX_TERM) as usize;
        let room = (FAST_BOUND - terms as i64 * MAX_TERM) as i32;
        assert!(fits_fast_requant(1 << 30, 0, room, terms));
        assert!(!fits_fast_requant(1 << 30, 0, room + 1, terms), "bias past the bound");
        assert!(
            !fits_fast_requant(1 << 30, 0, -room - 1, terms),
            "negative bias past the bound"
        );
        assert!(!fits_fast_requant(1 << 30, 0, i32::MIN, 0));
        assert!(!fits_fast_requant(1 << 30, 0, 0, usize::MAX));
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
