//! Fused `concat(a, b)` + 1×1 convolution without materialising the concat
//! (`docs/int8-spec.md` §5).
//!
//! `a` and `b` keep their own scales and zero points. With one weight scale
//! `s_w[c]` per output channel over the concatenated input,
//! `acc_a = bias + Σ w_a·(a − zp_a)` has scale `s_a·s_w[c]` and
//! `acc_b = Σ w_b·(b − zp_b)` has scale `s_b·s_w[c]`; each is requantised to
//! the output scale with its own multiplier, and the two are added:
//! `y = clamp(zp_out + MBQM(acc_a, M_a, sh_a) + MBQM(acc_b, M_b, sh_b))`.
//!
//! Pixels are processed two at a time and output channels two at a time
//! ([`MacEngine::tile_2x2`] on each side). Both input pixels are gathered
//! before either output pixel is written, so the op can also run **in
//! place** over `a` ([`concat_conv1x1_in_place`]) when it has no more
//! output channels than `a` has channels: output pixel `p` then overwrites
//! only bytes of input pixels that were already read.
use super::dot::{gather, weight_row, PatchScratch, MAX_PATCH};
use super::emit::{self, emit_pair_dyn};
use super::mac::{from, pair_len, strided_row, MacEngine};
use super::params::{requant_at, Blocks, Channel, ChannelParams, CACHED_CHANNELS};
use super::requant::{fits_fast_requant, mbqm, takes_fast_path};
use super::simd_dispatch::with_best_simd;
use super::{Native, OutputStage};
use crate::Error;
use core::num::NonZeroUsize;

/// Everything the fused concat + 1×1 conv reads besides its `a` input.
#[derive(Clone, Copy, Debug)]
pub struct ConcatConv1x1Args<'a> {
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

/// Runs the op on input `a` (`pixels × c_a`); `output` holds
/// `pixels × out_channels` values.
pub fn concat_conv1x1(
    args: &ConcatConv1x1Args<'_>,
    a: &[i8],
    output: &mut [i8],
    out_channels: usize,
) -> Result<(), Error> {
    with_best_simd(
        #[inline(always)]
        || run::<Native>(args, Some(a), output, out_channels),
    )
}

/// Runs the op in place: `tensor` holds `a` (`pixels × c_a`) on entry and
/// the output (`pixels × out_channels`, `out_channels ≤ c_a`) on return.
pub fn concat_conv1x1_in_place(
    args: &ConcatConv1x1Args<'_>,
    tensor: &mut [i8],
    out_channels: usize,
) -> Result<(), Error> {
    with_best_simd(
        #[inline(always)]
        || run::<Native>(args, None, tensor, out_channels),
    )
}

/// Output-channel pairs per block of accumulators.
const BLOCK_PAIRS: usize = CACHED_CHANNELS / 2;

/// A weight row split into its `a` (first `ca`) and `b` parts.
#[inline(always)]
fn split_row(row: &[i8], ca: usize) -> Result<(&[i8], &[i8]), Error> {
    row.split_at_checked(ca).ok_or(Error::Internal)
}

/// The first `len_a + len_b` slots of a scratch buffer, split after `len_a`.
#[inline(always)]
fn halves(p: &mut [i16], len_a: usize, len_b: usize) -> Option<(&mut [i16], &mut [i16])> {
    p.get_mut(..len_a.checked_add(len_b)?)?.split_at_mut_checked(len_a)
}

/// The op on a chosen engine; `a = None` reads `a` from `output` (in place).
/// One out-of-line copy on Arm (both entry points share its ~15 KB of
/// code); inlined elsewhere, so that the x86 AVX2 entry compiles it.
#[cfg_attr(target_arch = "arm", inline(never))]
#[cfg_attr(not(target_arch = "arm"), inline(always))]
pub(crate) fn run<E: MacEngine>(
    args: &ConcatConv1x1Args<'_>,
    a: Option<&[i8]>,
    output: &mut [i8],
    out_channels: usize,
) -> Result<(), Error> {
    let (ca, cb) = (args.a_channels, args.b_channels);
    // Chunk sizes as `NonZeroUsize` (see conv2d): no `chunks_exact` panic path.
    let nonzero = |n: usize| NonZeroUsize::new(n).map(NonZeroUsize::get).ok_or(Error::Internal);
    let ca_cb = nonzero(ca.checked_add(cb).ok_or(Error::Internal)?)?;
    let (ca, cb, oc) = (nonzero(ca)?, nonzero(cb)?, nonzero(out_channels)?);
    if a.is_none() && oc > ca {
        return Err(Error::Internal);
    }
    let offset = |zp: i32| i16::try_from(-zp).map_err(|_| Error::Internal);
    let (offset_a, offset_b) = (offset(args.a_zero_point)?, offset(args.b_zero_point)?);
    // Each side is padded to whole groups of four: up to 6 slots more per pixel pair.
    let mut scratch = PatchScratch::<{ 2 * MAX_PATCH + 16 }>::new();
    let scratch = &mut scratch.0;
    let pixels = args.b.len() / cb;
    if args.multipliers_b.is_empty() && args.shifts_b.is_empty() {
        let pp = scratch.get_mut(..pair_len(ca_cb)).ok_or(Error::Internal)?;
        return run_one_scale::<E>(args, a, output, pp, (ca, cb, oc, pixels), (offset_a, offset_b));
    }
    let (ppa, ppb) = halves(scratch, pair_len(ca), pair_len(cb)).ok_or(Error::Internal)?;
    let stage = &args.output_stage;
    // Each output channel's parameters, decoded from the blob's bytes once
    // per op (not once per pixel pair) for up to CACHED_CHANNELS channels.
    let decode = |j: usize| {
        Some((
            args.channels_a.get(j)?,
            requant_at(args.multipliers_b, args.shifts_b, j)?,
        ))
    };
    // One check per op instead of two branches per output.
    let fast = (0..oc).all(|j| {
        decode(j).is_some_and(|(a, (mb, sb))| takes_fast_path(a.multiplier, a.shift) && takes_fast_path(mb, sb))
    });
    let mut params = Blocks::new(decode);
    let mut accs = [[[0i32; 4]; BLOCK_PAIRS]; 2];
    let [acc_a, acc_b] = &mut accs;
    let pairs = oc / 2;
    let weights_b = from(args.weights, ca);
    for pair in 0..pixels.div_ceil(2) {
        let (out0, out1) = pixel_pair(args, a, output, (pair, pixels), (ca, cb, oc), |pixel, xa, xb| {
            gather::<E>(ppa, pixel, 0, xa, offset_a);
            gather::<E>(ppb, pixel, 0, xb, offset_b);
        })?;
        // Output channels two at a time (each patch word feeds both), a
        // block of tiles per side before any requantisation.
        let ((outs0, odd0), (outs1, odd1)) = (out0.as_chunks_mut::<2>(), out1.as_chunks_mut::<2>());
        for block in (0..pairs).step_by(BLOCK_PAIRS) {
            let n = (pairs - block).min(BLOCK_PAIRS);
            let (ta, tb) = (acc_a.get_mut(..n), acc_b.get_mut(..n));
            let (Some(ta), Some(tb)) = (ta, tb) else {
                return Err(Error::Internal);
            };
            let skip = 2 * block * ca_cb;
            E::tile_2x2_rows(ppa, from(args.weights, skip), ca_cb, ca, ta);
            E::tile_2x2_rows(ppb, from(weights_b, skip), ca_cb, cb, tb);
            let channels = params.get(2 * block, 2 * n, oc).ok_or(Error::Internal)?;
            let outs = outs0.get_mut(block..block + n).ok_or(Error::Internal)?;
            let tiles = (&*ta, &*tb);
            // Pixel 0 from sums 0, 1 of each tile, pixel 1 from sums 2, 3.
            if fast {
                emit::<true, 0>(stage, channels, tiles, outs);
            } else {
                emit::<false, 0>(stage, channels, tiles, outs);
            }
            if let Some(outs) = outs1.get_mut(block..block + n) {
                if fast {
                    emit::<true, 2>(stage, channels, tiles, outs);
                } else {
                    emit::<false, 2>(stage, channels, tiles, outs);
                }
            }
        }
        if let [o0] = odd0 {
            let j = oc - 1;
            let row = strided_row(args.weights, ca_cb, ca_cb, j);
            let (wa, wb) = split_row(row.get(..ca_cb).unwrap_or(row), ca)?;
            let q = decode(j).ok_or(Error::Internal)?;
            let [a0, a1] = E::tile_2x1(ppa, wa);
            let [b0, b1] = E::tile_2x1(ppb, wb);
            *o0 = finish::<false>(stage, &q, a0, b0);
            if let [o1] = odd1 {
                *o1 = finish::<false>(stage, &q, a1, b1);
            }
        }
    }
    Ok(())
}

/// Pixel pair `pair` (pixels `2·pair` and, when `< pixels`, `2·pair + 1`):
/// `put(pixel, a values, b values)` for each pixel first, then the two
/// pixels' output slices (the second empty for a last, odd pixel). Both
/// pixels are read before either is written, so the op may run in place
/// (`a = None`: `a` is read from `output`).
#[inline(always)]
fn pixel_pair<'o>(
    args: &ConcatConv1x1Args<'_>,
    a: Option<&[i8]>,
    output: &'o mut [i8],
    (pair, pixels): (usize, usize),
    (ca, cb, oc): (usize, usize, usize),
    mut put: impl FnMut(usize, &[i8], &[i8]),
) -> Result<(&'o mut [i8], &'o mut [i8]), Error> {
    let first = 2 * pair;
    let n = 1 + usize::from(first + 1 < pixels);
    for (pixel, p) in (first..first + n).enumerate() {
        let src = a.unwrap_or(output);
        let xa = src.get(p * ca..(p + 1) * ca).ok_or(Error::Internal)?;
        let xb = args.b.get(p * cb..(p + 1) * cb).ok_or(Error::Internal)?;
        put(pixel, xa, xb);
    }
    let out = output.get_mut(first * oc..(first + n) * oc).ok_or(Error::Internal)?;
    out.split_at_mut_checked(oc).ok_or(Error::Internal)
}

/// The one-scale op (`docs/int8-spec.md` §5.1, an empty `b`-side
/// requantisation): both inputs gathered into one patch of `c_a + c_b`
/// values (`a` first, as the weight rows), one accumulator and one
/// requantisation per output: a 1×1 convolution over two tensors.
#[inline(always)]
fn run_one_scale<E: MacEngine>(
    args: &ConcatConv1x1Args<'_>,
    a: Option<&[i8]>,
    output: &mut [i8],
    pp: &mut [i16],
    (ca, cb, oc, pixels): (usize, usize, usize, usize),
    (offset_a, offset_b): (i16, i16),
) -> Result<(), Error> {
    let k = ca + cb;
    let stage = &args.output_stage;
    let fast = args
        .channels_a
        .iter()
        .all(|c| fits_fast_requant(c.multiplier, c.shift, c.bias, k));
    let mut params = Blocks::new(|j| args.channels_a.get(j));
    let mut accs = [[0i32; 4]; BLOCK_PAIRS];
    let pairs = oc / 2;
    for pair in 0..pixels.div_ceil(2) {
        let (out0, out1) = pixel_pair(args, a, output, (pair, pixels), (ca, cb, oc), |pixel, xa, xb| {
            gather::<E>(pp, pixel, 0, xa, offset_a);
            gather::<E>(pp, pixel, ca, xb, offset_b);
        })?;
        let ((outs0, odd0), (outs1, odd1)) = (out0.as_chunks_mut::<2>(), out1.as_chunks_mut::<2>());
        for block in (0..pairs).step_by(BLOCK_PAIRS) {
            let n = (pairs - block).min(BLOCK_PAIRS);
            let tiles = accs.get_mut(..n).ok_or(Error::Internal)?;
            E::tile_2x2_rows(pp, from(args.weights, 2 * block * k), k, k, tiles);
            let channels = params.get(2 * block, 2 * n, oc).ok_or(Error::Internal)?;
            let outs = outs0.get_mut(block..block + n).ok_or(Error::Internal)?;
            emit_pair_dyn(fast, stage, channels, tiles, (outs, outs1.get_mut(block..block + n)));
        }
        if let [o0] = odd0 {
            let j = oc - 1;
            let row = weight_row(args.weights, k, j).ok_or(Error::Internal)?;
            let c = args.channels_a.get(j).ok_or(Error::Internal)?;
            let [t0, t1] = E::tile_2x1(pp, row);
            *o0 = emit::finish::<false>(stage, &c, t0);
            if let [o1] = odd1 {
                *o1 = emit::finish::<false>(stage, &c, t1);
            }
        }
    }
    Ok(())
}

/// A channel's bias and `a`-side requantisation, and its `b`-side
/// multiplier and shift.
type ChannelPair = (Channel, (i32, i32));

/// `clamp(zp_out + MBQM(bias + dot_a, M_a, sh_a) + MBQM(dot_b, M_b, sh_b))`;
/// `FAST` when every channel of the op [`takes_fast_path`] on both sides.
#[inline(always)]
fn finish<const FAST: bool>(stage: &OutputStage, (ch, (mb, sb)): &ChannelPair, dot_a: i32, dot_b: i32) -> i8 {
    let ya = mbqm::<FAST>(ch.bias.wrapping_add(dot_a), ch.multiplier, ch.shift);
    let yb = mbqm::<FAST>(dot_b, *mb, *sb);
    stage.finish(ya.saturating_add(yb))
}

/// One pixel's outputs for a block of channel pairs: sums `AT`, `AT + 1` of
/// each `a`-side and `b`-side tile (`AT` = 0 for pixel 0, 2 for pixel 1).
#[inline(always)]
fn emit<const FAST: bool, const AT: usize>(
    stage: &OutputStage,
    channels: &[ChannelPair],
    (ta, tb): (&[[i32; 4]], &[[i32; 4]]),
    outs: &mut [[i8; 2]],
) {
    let (channels, _) = channels.as_chunks::<2>();
    for (((ta, tb), [q0, q1]), [o0, o1]) in ta.iter().zip(tb).zip(channels).zip(outs) {
        let (a, b) = (ta.get(AT..AT + 2), tb.get(AT..AT + 2));
        if let (Some(&[a0, a1]), Some(&[b0, b1])) = (a, b) {
            *o0 = finish::<FAST>(stage, q0, a0, b0);
            *o1 = finish::<FAST>(stage, q1, a1, b1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_util::{random_params, requant_ref};
    use crate::rng::Rng;
    use std::vec::Vec;

    #[test]
    fn matches_reference_on_random_shapes() {
        random_shapes::<crate::kernels::portable::Portable>(31);
        random_shapes::<crate::kernels::dsp::Dsp>(32);
        random_shapes::<crate::kernels::scalar::Scalar>(33);
    }

    fn random_shapes<E: MacEngine>(seed: u64) {
        let mut rng = Rng::new(seed);
        for case in 0..500 {
            let pixels = rng.range(1, 40) as usize;
            // Every 10th case is wider than the per-op parameter cache
            // (CACHED_CHANNELS), in place included.
            let wide = case % 10 == 0;
            let (ca, cb, co) = if wide {
                (
                    rng.range(70, 90) as usize,
                    rng.range(1, 20) as usize,
                    rng.range(65, 70) as usize,
                )
            } else {
                (
                    rng.range(1, 20) as usize,
                    rng.range(1, 20) as usize,
                    rng.range(1, 20) as usize,
                )
            };
            let a = rng.vec_i8(pixels * ca, Rng::activation);
            let b = rng.vec_i8(pixels * cb, Rng::activation);
            let w = rng.vec_i8(co * (ca + cb), Rng::weight);
            let one_scale = case % 3 == 2;
            let pa = random_params(&mut rng, co, 1 << 16);
            let pb = random_params(&mut rng, co, 0);
            let (zpa, zpb, zpo) = (
                rng.activation() as i64,
                rng.activation() as i64,
                rng.activation() as i64,
            );
            let (lo, hi) = if case % 2 == 0 { (zpo, 127) } else { (-128, 127) };
            let args = ConcatConv1x1Args {
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
                // Every third case is one-scale (an empty `b` requantisation).
                multipliers_b: if one_scale { &[] } else { &pb.mult },
                shifts_b: if one_scale { &[] } else { &pb.shift },
                output_stage: OutputStage {
                    zero_point: zpo as i32,
                    min: lo as i32,
                    max: hi as i32,
                },
            };
            let mut out = std::vec![0i8; pixels * co];
            run::<E>(&args, Some(&a), &mut out, co).unwrap();
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
                    let y = if one_scale {
                        requant_ref(acc_a + acc_b, ma, sa) + zpo
                    } else {
                        requant_ref(acc_a, ma, sa) + requant_ref(acc_b, mb, sb) + zpo
                    };
                    want.push(y.clamp(lo, hi) as i8);
                }
            }
            assert_eq!(out, want, "case {case} one scale {one_scale}");
            if co <= ca {
                // In place: the tensor holds `a` on entry, the output (a prefix) on return.
                let mut tensor = a.clone();
                run::<E>(&args, None, &mut tensor, co).unwrap();
                assert_eq!(&tensor[..pixels * co], &want[..], "case {case} in place");
            }
        }
    }
}
