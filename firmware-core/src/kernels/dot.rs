//! The inner loop of every MAC kernel: `Σ (x[i] + x_offset) · w[i]` in `i32`.
//!
//! Contiguous `i8` slices, `i32` accumulation: LLVM vectorises this on x86
//! and emits a tight load/multiply-accumulate loop on Cortex-M4.

/// `Σ (x[i] + x_offset) · w[i]` over the common length of `x` and `w`.
///
/// Validation guarantees the sum fits in `i32` (`docs/int8-spec.md` §4).
#[inline(always)]
pub fn dot_with_offset(x: &[i8], w: &[i8], x_offset: i32) -> i32 {
    x.iter().zip(w).fold(0i32, |acc, (&a, &b)| {
        acc.wrapping_add((i32::from(a) + x_offset) * i32::from(b))
    })
}

/// Longest patch (kernel taps × input channels) a MAC kernel gathers on the
/// stack as `i16` (4 KiB). Validation rejects larger layers.
pub const MAX_PATCH: usize = 2048;

/// `Σ patch[i] · w[i]`, where the patch already holds `x − zero_point`.
///
/// Gathering a patch once per output position and reusing it for every
/// output channel takes the zero-point subtraction and the slicing out of
/// the per-channel loop.
///
/// On Armv7E-M with the `dsp` feature this is [`super::dsp::dot_patch_dsp`]
/// (two MACs per instruction); elsewhere [`dot_patch_portable`], which LLVM
/// vectorises.
#[inline(always)]
pub fn dot_patch(patch: &[i16], w: &[i8]) -> i32 {
    #[cfg(all(target_arch = "arm", feature = "dsp"))]
    {
        super::dsp::dot_patch_dsp(patch, w)
    }
    #[cfg(not(all(target_arch = "arm", feature = "dsp")))]
    {
        dot_patch_portable(patch, w)
    }
}

/// [`dot_patch`] of one patch with the weight rows of two output channels
/// (equal lengths): on Armv7E-M with `dsp`, [`super::dsp::dot_patch2_dsp`]
/// (the patch is loaded once for both); elsewhere one loop with two
/// accumulators.
#[inline(always)]
pub fn dot_patch2(patch: &[i16], w0: &[i8], w1: &[i8]) -> (i32, i32) {
    #[cfg(all(target_arch = "arm", feature = "dsp"))]
    {
        super::dsp::dot_patch2_dsp(patch, w0, w1)
    }
    #[cfg(not(all(target_arch = "arm", feature = "dsp")))]
    {
        patch
            .iter()
            .zip(w0)
            .zip(w1)
            .fold((0i32, 0i32), |(acc0, acc1), ((&x, &a), &b)| {
                let x = i32::from(x);
                (acc0.wrapping_add(x * i32::from(a)), acc1.wrapping_add(x * i32::from(b)))
            })
    }
}

/// `Σ patch[i] · w[i]` as a plain loop.
#[inline(always)]
pub fn dot_patch_portable(patch: &[i16], w: &[i8]) -> i32 {
    patch
        .iter()
        .zip(w)
        .fold(0i32, |acc, (&x, &b)| acc.wrapping_add(i32::from(x) * i32::from(b)))
}

/// Writes `x[i] + x_offset` into `dst` (the common length).
#[inline(always)]
pub fn gather_with_offset(dst: &mut [i16], x: &[i8], x_offset: i16) {
    for (d, &v) in dst.iter_mut().zip(x) {
        *d = i16::from(v) + x_offset;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn matches_i64_reference() {
        let mut rng = Rng::new(11);
        for _ in 0..2_000 {
            let n = rng.below(600) as usize;
            let x = rng.vec_i8(n, Rng::activation);
            let w = rng.vec_i8(n, Rng::weight);
            let off = rng.range(-127, 128) as i32;
            let want: i64 = x
                .iter()
                .zip(&w)
                .map(|(&a, &b)| (a as i64 + off as i64) * b as i64)
                .sum();
            assert_eq!(dot_with_offset(&x, &w, off) as i64, want);
            let mut patch = std::vec![0i16; n];
            gather_with_offset(&mut patch, &x, off as i16);
            assert_eq!(dot_patch(&patch, &w) as i64, want);
            let w1 = rng.vec_i8(n, Rng::weight);
            let want1: i64 = x
                .iter()
                .zip(&w1)
                .map(|(&a, &b)| (a as i64 + off as i64) * b as i64)
                .sum();
            let (got0, got1) = dot_patch2(&patch, &w, &w1);
            assert_eq!((got0 as i64, got1 as i64), (want, want1));
        }
    }
}
