//! 2-D convolution: NHWC int8 input, OHWI int8 weights, int32 bias,
//! per-channel requantisation, fused clamp (`docs/int8-spec.md` §4).
//!
//! For each output pixel the kernel patch is gathered once into a stack
//! buffer as `i16` values `x − zp_in` (padded taps stay 0, which equals
//! padding with the input zero point; the valid columns of one input row are
//! one contiguous NHWC run), then every output channel is one
//! [`dot_patch`] of the patch with its OHWI weight row.
use super::dot::{dot_patch, dot_patch2, gather_with_offset, MAX_PATCH};
use super::params::{Channel, ChannelParams};
use super::requant::multiply_by_quantized_multiplier;
use super::{OutputStage, Shape};
use crate::format::Window;
use crate::Error;
use core::num::NonZeroUsize;

/// Everything a convolution reads.
#[derive(Clone, Copy, Debug)]
pub struct Conv2dArgs<'a> {
    /// Input data, `input_shape.len()` values.
    pub input: &'a [i8],
    /// Input shape.
    pub input_shape: Shape,
    /// Input zero point (subtracted from every input value).
    pub input_zero_point: i32,
    /// Kernel, stride, padding.
    pub window: Window,
    /// OHWI weights.
    pub weights: &'a [i8],
    /// Per-output-channel bias and requantisation.
    pub channels: ChannelParams<'a>,
    /// Output zero point and clamp.
    pub output_stage: OutputStage,
}

/// Valid kernel taps `lo..hi` along one axis for an output at `out_index`.
#[inline(always)]
pub(crate) fn valid_taps(
    out_index: usize,
    stride: usize,
    pad_before: usize,
    kernel: usize,
    input_len: usize,
) -> (usize, usize, usize) {
    // Input coordinate of kernel tap 0 is `out_index·stride − pad_before`.
    let start = out_index * stride;
    let lo = pad_before.saturating_sub(start);
    let first_in = (start + lo).saturating_sub(pad_before);
    let hi = kernel.min((input_len + pad_before).saturating_sub(start));
    (lo, hi.max(lo), first_in)
}

/// Runs the convolution into `output` (`output_shape.len()` values).
pub fn conv2d(args: &Conv2dArgs<'_>, output: &mut [i8], output_shape: Shape) -> Result<(), Error> {
    let Shape {
        height: in_h,
        width: in_w,
        channels: in_c,
    } = args.input_shape;
    let out_c = output_shape.channels;
    let w = args.window;
    let (kh, kw) = (usize::from(w.kernel_h), usize::from(w.kernel_w));
    let (sh, sw) = (usize::from(w.stride_h), usize::from(w.stride_w));
    // Chunk sizes as `NonZeroUsize`: `.get()` tells LLVM they are non-zero, so
    // the `chunks_exact` assertions (panic paths) disappear.
    let nonzero = |n: usize| NonZeroUsize::new(n).map(NonZeroUsize::get).ok_or(Error::Internal);
    let per_out_channel = nonzero(kh * kw * in_c)?;
    let row_len = nonzero(output_shape.width * out_c)?;
    let out_c = nonzero(out_c)?;
    let input_offset = i16::try_from(-args.input_zero_point).map_err(|_| Error::Internal)?;
    let mut buffer = [0i16; MAX_PATCH];
    let patch = buffer.get_mut(..per_out_channel).ok_or(Error::Internal)?;
    for (oy, out_row) in output.chunks_exact_mut(row_len).enumerate() {
        let (ky_lo, ky_hi, iy0) = valid_taps(oy, sh, usize::from(w.pad_top), kh, in_h);
        for (ox, out_px) in out_row.chunks_exact_mut(out_c).enumerate() {
            let (kx_lo, kx_hi, ix0) = valid_taps(ox, sw, usize::from(w.pad_left), kw, in_w);
            if ky_hi - ky_lo != kh || kx_hi - kx_lo != kw {
                patch.fill(0); // some taps fall in the padding
            }
            let span = (kx_hi - kx_lo) * in_c;
            for (row, ky) in (ky_lo..ky_hi).enumerate() {
                let x_start = ((iy0 + row) * in_w + ix0) * in_c;
                let p_start = (ky * kw + kx_lo) * in_c;
                let xs = args.input.get(x_start..x_start + span).ok_or(Error::Internal)?;
                let dst = patch.get_mut(p_start..p_start + span).ok_or(Error::Internal)?;
                gather_with_offset(dst, xs, input_offset);
            }
            let finish = |ch: Channel, dot: i32| {
                let acc = ch.bias.wrapping_add(dot);
                args.output_stage
                    .finish(multiply_by_quantized_multiplier(acc, ch.multiplier, ch.shift))
            };
            // Output channels two at a time: one patch pass feeds both.
            let mut channels = args.weights.chunks_exact(per_out_channel).zip(args.channels.iter());
            for outs in out_px.chunks_mut(2) {
                match outs {
                    [o0, o1] => {
                        let (Some((w0, c0)), Some((w1, c1))) = (channels.next(), channels.next()) else {
                            return Err(Error::Internal);
                        };
                        let (d0, d1) = dot_patch2(patch, w0, w1);
                        (*o0, *o1) = (finish(c0, d0), finish(c1, d1));
                    }
                    [o] => {
                        let (w, c) = channels.next().ok_or(Error::Internal)?;
                        *o = finish(c, dot_patch(patch, w));
                    }
                    _ => {}
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::rng::Rng;
    use std::vec::Vec;

    /// A random per-channel parameter set in blob byte form.
    pub(crate) struct Params {
        pub bias: Vec<u8>,
        pub mult: Vec<u8>,
        pub shift: Vec<u8>,
        pub raw: Vec<(i32, i32, i32)>,
    }

    pub(crate) fn random_params(rng: &mut Rng, n: usize, bias_mag: i64) -> Params {
        let mut p = Params {
            bias: Vec::new(),
            mult: Vec::new(),
            shift: Vec::new(),
            raw: Vec::new(),
        };
        for _ in 0..n {
            let b = rng.range(-bias_mag, bias_mag) as i32;
            let (m, s) = rng.requant(-14, 2);
            p.bias.extend_from_slice(&b.to_le_bytes());
            p.mult.extend_from_slice(&m.to_le_bytes());
            p.shift.push(s as i8 as u8);
            p.raw.push((b, m, s));
        }
        p
    }

    /// Independent requantisation reference in i64/i128 (see requant tests).
    pub(crate) fn requant_ref(acc: i64, m: i32, s: i32) -> i64 {
        let left = s.max(0) as u32;
        let right = (-s).max(0) as u32;
        let x = (acc << left).clamp(i32::MIN as i64, i32::MAX as i64) as i128;
        let p = x * m as i128;
        let hi = (p + (1i128 << 30)).div_euclid(1i128 << 31);
        let hi = hi.clamp(i32::MIN as i128, i32::MAX as i128);
        if right == 0 {
            return hi as i64;
        }
        let d = 1i128 << right;
        let mag = (hi.abs() + d / 2) / d;
        (if hi < 0 { -mag } else { mag }) as i64
    }

    /// Direct 7-loop convolution with explicit zero-point padding, in i64.
    #[allow(clippy::too_many_arguments)]
    fn reference(
        x: &[i8],
        ins: Shape,
        zp_in: i64,
        win: Window,
        wts: &[i8],
        p: &Params,
        outs: Shape,
        zp_out: i64,
        lo: i64,
        hi: i64,
    ) -> Vec<i8> {
        let mut out = Vec::new();
        for oy in 0..outs.height {
            for ox in 0..outs.width {
                for (oc, &(b, m, s)) in p.raw.iter().enumerate() {
                    let mut acc = b as i64;
                    for ky in 0..win.kernel_h as usize {
                        for kx in 0..win.kernel_w as usize {
                            let iy = (oy * win.stride_h as usize + ky) as i64 - win.pad_top as i64;
                            let ix = (ox * win.stride_w as usize + kx) as i64 - win.pad_left as i64;
                            for ic in 0..ins.channels {
                                let v = if iy < 0 || ix < 0 || iy >= ins.height as i64 || ix >= ins.width as i64 {
                                    zp_in // padding holds the zero point
                                } else {
                                    x[((iy as usize * ins.width) + ix as usize) * ins.channels + ic] as i64
                                };
                                let wi = ((oc * win.kernel_h as usize + ky) * win.kernel_w as usize + kx)
                                    * ins.channels
                                    + ic;
                                acc += (v - zp_in) * wts[wi] as i64;
                            }
                        }
                    }
                    out.push((requant_ref(acc, m, s) + zp_out).clamp(lo, hi) as i8);
                }
            }
        }
        out
    }

    #[test]
    fn matches_reference_on_random_shapes() {
        let mut rng = Rng::new(21);
        for case in 0..400 {
            let kh = rng.range(1, 5) as u8;
            let kw = rng.range(1, 5) as u8;
            let win = Window {
                kernel_h: kh,
                kernel_w: kw,
                stride_h: rng.range(1, 3) as u8,
                stride_w: rng.range(1, 3) as u8,
                pad_top: rng.below(kh as u64) as u8,
                pad_bottom: rng.below(kh as u64) as u8,
                pad_left: rng.below(kw as u64) as u8,
                pad_right: rng.below(kw as u64) as u8,
            };
            // Every 50th case fills most of the patch buffer (up to MAX_PATCH taps).
            let max_c = if case % 50 == 0 {
                (MAX_PATCH / (kh as usize * kw as usize)) as i64
            } else {
                8
            };
            let ins = Shape {
                height: rng.range(kh as i64, 12) as usize,
                width: rng.range(kw as i64, 12) as usize,
                channels: rng.range(max_c.min(8), max_c) as usize,
            };
            let outs = Shape {
                height: (ins.height + (win.pad_top + win.pad_bottom) as usize - kh as usize) / win.stride_h as usize
                    + 1,
                width: (ins.width + (win.pad_left + win.pad_right) as usize - kw as usize) / win.stride_w as usize + 1,
                channels: rng.range(1, 9) as usize,
            };
            let x = rng.vec_i8(ins.len(), Rng::activation);
            let wts = rng.vec_i8(outs.channels * kh as usize * kw as usize * ins.channels, Rng::weight);
            let p = random_params(&mut rng, outs.channels, 1 << 20);
            let zp_in = rng.activation() as i32;
            let zp_out = rng.activation() as i32;
            let (lo, hi) = if case % 3 == 0 {
                (zp_out.max(-128), 127)
            } else {
                (-128, 127)
            };
            let args = Conv2dArgs {
                input: &x,
                input_shape: ins,
                input_zero_point: zp_in,
                window: win,
                weights: &wts,
                channels: ChannelParams {
                    bias: &p.bias,
                    multipliers: &p.mult,
                    shifts: &p.shift,
                },
                output_stage: OutputStage {
                    zero_point: zp_out,
                    min: lo,
                    max: hi,
                },
            };
            let mut out = std::vec![0i8; outs.len()];
            conv2d(&args, &mut out, outs).unwrap();
            let want = reference(
                &x,
                ins,
                zp_in as i64,
                win,
                &wts,
                &p,
                outs,
                zp_out as i64,
                lo as i64,
                hi as i64,
            );
            assert_eq!(out, want, "case {case}: {win:?} {ins:?} {outs:?}");
        }
    }
}
