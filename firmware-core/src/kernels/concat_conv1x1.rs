//! Fused `concat(a, b)` + 1×1 convolution without materialising the concat
//! (`docs/int8-spec.md` §5).
//!
//! `a` and `b` keep their own scales and zero points. With one weight scale
//! `s_w[c]` per output channel over the concatenated input,
//! `acc_a = bias + Σ w_a·(a − zp_a)` has scale `s_a·s_w[c]` and
//! `acc_b = Σ w_b·(b − zp_b)` has scale `s_b·s_w[c]`; each is requantised to
//! the output scale with its own multiplier, and the two are added:
//! `y = clamp(zp_out + MBQM(acc_a, M_a, sh_a) + MBQM(acc_b, M_b, sh_b))`.
use super::dot::{dot_patch, dot_patch2, gather_with_offset, MAX_PATCH};
use super::params::{requant_iter, Channel, ChannelParams};
use super::requant::multiply_by_quantized_multiplier;
use super::OutputStage;
use crate::Error;
use core::num::NonZeroUsize;

/// Everything the fused concat + 1×1 conv reads.
#[derive(Clone, Copy, Debug)]
pub struct ConcatConv1x1Args<'a> {
    /// First input (`pixels × c_a`).
    pub a: &'a [i8],
    /// Channels of `a`.
    pub a_channels: usize,
    /// Zero point of `a`.
    pub a_zero_point: i32,
    /// Second input (`pixels × c_b`).
    pub b: &'a [i8],
    /// Channels of `b`.
    pub b_channels: usize,
    /// Zero point of `b`.
    pub b_zero_point: i32,
    /// `out_c × (c_a + c_b)` weights.
    pub weights: &'a [i8],
    /// Bias (scale `s_a·s_w`) and the `a`-side requantisation.
    pub channels_a: ChannelParams<'a>,
    /// `i32` LE multipliers of the `b` side.
    pub multipliers_b: &'a [u8],
    /// `i8` shifts of the `b` side.
    pub shifts_b: &'a [u8],
    /// Output zero point and clamp.
    pub output_stage: OutputStage,
}

/// Runs the op; `output` holds `pixels × out_channels` values.
pub fn concat_conv1x1<'a>(args: &ConcatConv1x1Args<'a>, output: &mut [i8], out_channels: usize) -> Result<(), Error> {
    let (ca, cb) = (args.a_channels, args.b_channels);
    // Chunk sizes as `NonZeroUsize` (see conv2d): no `chunks_exact` panic path.
    let nonzero = |n: usize| NonZeroUsize::new(n).map(NonZeroUsize::get).ok_or(Error::Internal);
    let ca_cb = nonzero(ca.checked_add(cb).ok_or(Error::Internal)?)?;
    let (ca, cb, out_channels) = (nonzero(ca)?, nonzero(cb)?, nonzero(out_channels)?);
    let offset = |zp: i32| i16::try_from(-zp).map_err(|_| Error::Internal);
    let (offset_a, offset_b) = (offset(args.a_zero_point)?, offset(args.b_zero_point)?);
    let mut buffer = [0i16; MAX_PATCH];
    let patch = buffer.get_mut(..ca_cb).ok_or(Error::Internal)?;
    let pixels = output
        .chunks_exact_mut(out_channels)
        .zip(args.a.chunks_exact(ca))
        .zip(args.b.chunks_exact(cb));
    for ((out_px, a_px), b_px) in pixels {
        let (patch_a, patch_b) = patch.split_at_mut_checked(ca).ok_or(Error::Internal)?;
        gather_with_offset(patch_a, a_px, offset_a);
        gather_with_offset(patch_b, b_px, offset_b);
        let finish = |(ch, (mb, sb)): (Channel, (i32, i32)), dot_a: i32, dot_b: i32| {
            let ya = multiply_by_quantized_multiplier(ch.bias.wrapping_add(dot_a), ch.multiplier, ch.shift);
            let yb = multiply_by_quantized_multiplier(dot_b, mb, sb);
            args.output_stage.finish(ya.saturating_add(yb))
        };
        let split = |w_oc: &'a [i8]| w_oc.split_at_checked(ca).ok_or(Error::Internal);
        let mut rows = args.weights.chunks_exact(ca_cb);
        let mut params = args
            .channels_a
            .iter()
            .zip(requant_iter(args.multipliers_b, args.shifts_b));
        // Output channels two at a time: each patch pass feeds both.
        for outs in out_px.chunks_mut(2) {
            match outs {
                [o0, o1] => {
                    let (Some(w0), Some(w1), Some(p0), Some(p1)) =
                        (rows.next(), rows.next(), params.next(), params.next())
                    else {
                        return Err(Error::Internal);
                    };
                    let ((wa0, wb0), (wa1, wb1)) = (split(w0)?, split(w1)?);
                    let (a0, a1) = dot_patch2(patch_a, wa0, wa1);
                    let (b0, b1) = dot_patch2(patch_b, wb0, wb1);
                    (*o0, *o1) = (finish(p0, a0, b0), finish(p1, a1, b1));
                }
                [o] => {
                    let (Some(w), Some(p)) = (rows.next(), params.next()) else {
                        return Err(Error::Internal);
                    };
                    let (wa, wb) = split(w)?;
                    *o = finish(p, dot_patch(patch_a, wa), dot_patch(patch_b, wb));
                }
                _ => {}
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::conv2d::tests::{random_params, requant_ref};
    use crate::rng::Rng;
    use std::vec::Vec;

    #[test]
    fn matches_reference_on_random_shapes() {
        let mut rng = Rng::new(31);
        for case in 0..500 {
            let pixels = rng.range(1, 40) as usize;
            let (ca, cb, co) = (
                rng.range(1, 20) as usize,
                rng.range(1, 20) as usize,
                rng.range(1, 20) as usize,
            );
            let a = rng.vec_i8(pixels * ca, Rng::activation);
            let b = rng.vec_i8(pixels * cb, Rng::activation);
            let w = rng.vec_i8(co * (ca + cb), Rng::weight);
            let pa = random_params(&mut rng, co, 1 << 16);
            let pb = random_params(&mut rng, co, 0);
            let (zpa, zpb, zpo) = (
                rng.activation() as i64,
                rng.activation() as i64,
                rng.activation() as i64,
            );
            let (lo, hi) = if case % 2 == 0 { (zpo, 127) } else { (-128, 127) };
            let args = ConcatConv1x1Args {
                a: &a,
                a_channels: ca,
                a_zero_point: zpa as i32,
                b: &b,
                b_channels: cb,
                b_zero_point: zpb as i32,
                weights: &w,
                channels_a: ChannelParams {
                    bias: &pa.bias,
                    multipliers: &pa.mult,
                    shifts: &pa.shift,
                },
                multipliers_b: &pb.mult,
                shifts_b: &pb.shift,
                output_stage: OutputStage {
                    zero_point: zpo as i32,
                    min: lo as i32,
                    max: hi as i32,
                },
            };
            let mut out = std::vec![0i8; pixels * co];
            concat_conv1x1(&args, &mut out, co).unwrap();
            // Reference: materialise the concat explicitly, then accumulate each side in i64.
            let mut want = Vec::new();
            for p in 0..pixels {
                let concat: Vec<(i64, bool)> = a[p * ca..][..ca]
                    .iter()
                    .map(|&v| (v as i64 - zpa, true))
                    .chain(b[p * cb..][..cb].iter().map(|&v| (v as i64 - zpb, false)))
                    .collect();
                for oc in 0..co {
                    let (bias, ma, sa) = pa.raw[oc];
                    let (_, mb, sb) = pb.raw[oc];
                    let (mut acc_a, mut acc_b) = (bias as i64, 0i64);
                    for (i, &(v, from_a)) in concat.iter().enumerate() {
                        let t = v * w[oc * (ca + cb) + i] as i64;
                        if from_a {
                            acc_a += t
                        } else {
                            acc_b += t
                        }
                    }
                    let y = requant_ref(acc_a, ma, sa) + requant_ref(acc_b, mb, sb) + zpo;
                    want.push(y.clamp(lo, hi) as i8);
                }
            }
            assert_eq!(out, want, "case {case}");
        }
    }
}
