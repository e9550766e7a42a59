//! 2-D convolution: NHWC int8 input, OHWI int8 weights, int32 bias,
//! per-channel requantisation, fused clamp (`docs/int8-spec.md` §4), and
//! optionally a fused 2×2 / stride 2 max pool (§6).
//!
//! Output pixels are computed two at a time: the kernel patches of two
//! neighbouring pixels are gathered as `i16` values `x − zp_in` (padded taps
//! stay 0, which equals padding with the input zero point; the valid columns
//! of one input row are one contiguous NHWC run), then every pair of output
//! channels is one register tile ([`MacEngine::tile_2x2`]: four accumulators,
//! each weight and patch word loaded once for two MACs).
//!
//! With the fused pool the four pixels under one pool window are gathered,
//! and the pooled value is the requantised **maximum accumulator**: the
//! requantisation and the clamp are non-decreasing in the accumulator, so
//! this equals pooling the requantised outputs, bit for bit, while the
//! full-resolution tensor is never stored and three of four requantisations
//! are skipped.
use super::conv_gather::Geometry;
use super::dot::{weight_row, PatchScratch, MAX_PATCH};
use super::emit::{emit_pair_dyn, finish};
use super::mac::{from, pair_len, MacEngine};
use super::params::{Blocks, Channel, ChannelParams, CACHED_CHANNELS};
use super::requant::fits_fast_requant;
use super::simd_dispatch::with_best_simd;
use super::{Native, OutputStage, Shape};
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
    /// A 2×2, stride 2, unpadded max pool fused after the clamp: the output
    /// is the pooled tensor (`floor(h / 2) × floor(w / 2)` of the conv output).
    pub pool_2x2: bool,
}

pub use crate::limits::MAX_POOLED_PATCH;

/// Pooled outputs of a block of channel pairs: the requantised maximum of
/// each pair's top and bottom tiles (pixels 0, 1 of each).
#[inline(always)]
fn emit_pooled<const FAST: bool>(
    stage: &OutputStage,
    channels: &[Channel],
    (top, bottom): (&[[i32; 4]], &[[i32; 4]]),
    outs: &mut [[i8; 2]],
) {
    let (channels, _) = channels.as_chunks::<2>();
    for (((t, b), [c0, c1]), [o0, o1]) in top.iter().zip(bottom).zip(channels).zip(outs) {
        *o0 = finish::<FAST>(stage, c0, max4(t[0], t[2], b[0], b[2]));
        *o1 = finish::<FAST>(stage, c1, max4(t[1], t[3], b[1], b[3]));
    }
}

/// Runs the convolution into `output` (`output_shape.len()` values; the
/// pooled shape when [`Conv2dArgs::pool_2x2`]).
pub fn conv2d(args: &Conv2dArgs<'_>, output: &mut [i8], output_shape: Shape) -> Result<(), Error> {
    with_best_simd(
        #[inline(always)]
        || conv2d_with::<Native>(args, output, output_shape),
    )
}

/// [`emit_pooled`] off the fast path: rare, so one out-of-line copy.
#[inline(never)]
fn emit_pooled_general(
    stage: &OutputStage,
    channels: &[Channel],
    tiles: (&[[i32; 4]], &[[i32; 4]]),
    outs: &mut [[i8; 2]],
) {
    emit_pooled::<false>(stage, channels, tiles, outs);
}

/// Output-channel pairs per block of accumulators (the tiles of one block
/// are computed before any of them is requantised).
const BLOCK_PAIRS: usize = CACHED_CHANNELS / 2;

/// The 2×2 max of four accumulators.
#[inline(always)]
fn max4(a: i32, b: i32, c: i32, d: i32) -> i32 {
    a.max(b).max(c.max(d))
}

/// [`conv2d`] on a chosen MAC engine (the tests run both).
#[inline(always)]
pub(crate) fn conv2d_with<E: MacEngine>(
    args: &Conv2dArgs<'_>,
    output: &mut [i8],
    output_shape: Shape,
) -> Result<(), Error> {
    let w = args.window;
    let k = usize::from(w.kernel_h) * usize::from(w.kernel_w) * args.input_shape.channels;
    // Chunk sizes as `NonZeroUsize`: `.get()` tells LLVM they are non-zero, so
    // the `chunks_exact` assertions (panic paths) disappear.
    let nonzero = |n: usize| NonZeroUsize::new(n).map(NonZeroUsize::get).ok_or(Error::Internal);
    let k = nonzero(k)?;
    let out_c = nonzero(output_shape.channels)?;
    let row_len = nonzero(output_shape.width * out_c)?;
    let pair_c = nonzero(out_c.checked_mul(2).ok_or(Error::Internal)?)?;
    let mut params = Blocks::new(|j| args.channels.get(j));
    // One check per op instead of one branch per output.
    let fast = args
        .channels
        .iter()
        .all(|c| fits_fast_requant(c.multiplier, c.shift, c.bias, k));
    // Channel j's weight row and parameters, one at a time (the last channel
    // of an odd count; a last pixel of an odd width).
    let single = |j: usize| {
        let row = weight_row(args.weights, k, j).ok_or(Error::Internal)?;
        Ok::<_, Error>((row, args.channels.get(j).ok_or(Error::Internal)?))
    };
    let mut scratch = PatchScratch::<{ 2 * MAX_PATCH }>::new();
    let scratch = &mut scratch.0;
    let mut accs = [[[0i32; 4]; BLOCK_PAIRS]; 2];
    let [acc_a, acc_b] = &mut accs;
    let stage = &args.output_stage;
    let pairs = out_c / 2;
    // Channel pairs `first..first + n` of each block, with their weights.
    let blocks = (0..pairs).step_by(BLOCK_PAIRS).map(|first| {
        let n = (pairs - first).min(BLOCK_PAIRS);
        (first, n, from(args.weights, 2 * first * k))
    });
    let mut geometry = Geometry::new(args.input, args.input_shape, args.input_zero_point, args.window)?;
    let pl = pair_len(k);
    if args.pool_2x2 {
        let (top, bottom) = scratch
            .get_mut(..2 * pl)
            .ok_or(Error::Internal)?
            .split_at_mut_checked(pl)
            .ok_or(Error::Internal)?;
        for (py, out_row) in output.chunks_exact_mut(row_len).enumerate() {
            for (px, out_px) in out_row.chunks_exact_mut(out_c).enumerate() {
                let (y, x) = (2 * py, 2 * px);
                geometry.gather_pair::<E>((y, x), Some((y, x + 1)), top)?;
                geometry.gather_pair::<E>((y + 1, x), Some((y + 1, x + 1)), bottom)?;
                let (outs, odd) = out_px.as_chunks_mut::<2>();
                for (first, n, block) in blocks.clone() {
                    let (t, b) = (acc_a.get_mut(..n), acc_b.get_mut(..n));
                    let (Some(t), Some(b)) = (t, b) else {
                        return Err(Error::Internal);
                    };
                    E::tile_2x2_rows(top, block, k, k, t);
                    E::tile_2x2_rows(bottom, block, k, k, b);
                    let channels = params.get(2 * first, 2 * n, out_c).ok_or(Error::Internal)?;
                    let outs = outs.get_mut(first..first + n).ok_or(Error::Internal)?;
                    if fast {
                        emit_pooled::<true>(stage, channels, (t, b), outs);
                    } else {
                        emit_pooled_general(stage, channels, (t, b), outs);
                    }
                }
                if let [o] = odd {
                    let (wr, c) = single(out_c - 1)?;
                    let [a, b] = E::tile_2x1(top, wr);
                    let [e, f] = E::tile_2x1(bottom, wr);
                    *o = finish::<false>(stage, &c, max4(a, b, e, f));
                }
            }
        }
        return Ok(());
    }
    let pp = scratch.get_mut(..pl).ok_or(Error::Internal)?;
    for (oy, out_row) in output.chunks_exact_mut(row_len).enumerate() {
        // Output pixels two at a time (the last one alone for an odd width).
        for (pair, out_px) in out_row.chunks_mut(pair_c).enumerate() {
            let ox = 2 * pair;
            let (px_a, px_b) = out_px.split_at_mut_checked(out_c).ok_or(Error::Internal)?;
            if px_b.is_empty() {
                geometry.gather_pair::<E>((oy, ox), None, pp)?;
                for (j, outs) in (0..).step_by(2).zip(px_a.chunks_mut(2)) {
                    match outs {
                        [o0, o1] => {
                            let ((w0, c0), (w1, c1)) = (single(j)?, single(j + 1)?);
                            let [a0, a1] = E::tile_1x2(pp, w0, w1);
                            (*o0, *o1) = (finish::<false>(stage, &c0, a0), finish::<false>(stage, &c1, a1));
                        }
                        [o] => {
                            let (wr, c) = single(j)?;
                            *o = finish::<false>(stage, &c, E::tile_1x1(pp, wr));
                        }
                        _ => {}
                    }
                }
                continue;
            }
            geometry.gather_pair::<E>((oy, ox), Some((oy, ox + 1)), pp)?;
            let ((outs_a, odd_a), (outs_b, odd_b)) = (px_a.as_chunks_mut::<2>(), px_b.as_chunks_mut::<2>());
            for (first, n, block) in blocks.clone() {
                let t = acc_a.get_mut(..n).ok_or(Error::Internal)?;
                E::tile_2x2_rows(pp, block, k, k, t);
                let channels = params.get(2 * first, 2 * n, out_c).ok_or(Error::Internal)?;
                let (a, b) = (outs_a.get_mut(first..first + n), outs_b.get_mut(first..first + n));
                let (Some(a), Some(b)) = (a, b) else {
                    return Err(Error::Internal);
                };
                emit_pair_dyn(fast, stage, channels, t, (a, Some(b)));
            }
            if let ([a], [b]) = (odd_a, odd_b) {
                let (wr, c) = single(out_c - 1)?;
                let [t0, t1] = E::tile_2x1(pp, wr);
                (*a, *b) = (finish::<false>(stage, &c, t0), finish::<false>(stage, &c, t1));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_util::{random_params, requant_ref, Params};
    use crate::rng::Rng;
    use std::vec::Vec;

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

    /// 2×2 / stride 2 max pool of an NHWC tensor (floor of odd sizes).
    fn pool_ref(x: &[i8], s: Shape) -> (Vec<i8>, Shape) {
        let o = Shape {
            height: s.height / 2,
            width: s.width / 2,
            channels: s.channels,
        };
        let mut out = Vec::new();
        for y in 0..o.height {
            for xo in 0..o.width {
                for c in 0..s.channels {
                    let at = |dy: usize, dx: usize| x[((2 * y + dy) * s.width + 2 * xo + dx) * s.channels + c];
                    out.push(at(0, 0).max(at(0, 1)).max(at(1, 0)).max(at(1, 1)));
                }
            }
        }
        (out, o)
    }

    #[test]
    fn matches_reference_on_random_shapes() {
        random_shapes::<crate::kernels::portable::Portable>(21);
        random_shapes::<crate::kernels::dsp::Dsp>(22);
        random_shapes::<crate::kernels::scalar::Scalar>(23);
    }

    fn random_shapes<E: MacEngine>(seed: u64) {
        let mut rng = Rng::new(seed);
        for case in 0..400 {
            // Every 8th case is the first layer's 3 × 3 kernel over 3 channels
            // (its own gather path).
            let first_layer = case % 8 == 3;
            let kh = if first_layer { 3 } else { rng.range(1, 5) as u8 };
            let kw = if first_layer { 3 } else { rng.range(1, 5) as u8 };
            let win = crate::kernel_cases::random_window((kh, kw), 3, |lo, hi| rng.range(lo as i64, hi as i64) as u64);
            let want_pool = case % 4 == 1;
            let limit = if want_pool { MAX_POOLED_PATCH } else { MAX_PATCH };
            // Every 50th case fills most of the patch buffer; the others
            // have 1 to 8 channels (3: the first layer's small patches
            // whose kernel rows are not whole groups of four).
            let (min_c, max_c) = if case % 50 == 0 || case % 50 == 1 {
                let max_c = (limit / (kh as usize * kw as usize)) as i64;
                (max_c.min(8), max_c)
            } else {
                (1, 8)
            };
            let ins = Shape {
                height: rng.range(kh as i64, 12) as usize,
                width: rng.range(kw as i64, 12) as usize,
                channels: if first_layer {
                    3
                } else {
                    rng.range(min_c, max_c) as usize
                },
            };
            let outs = Shape {
                height: (ins.height + (win.pad_top + win.pad_bottom) as usize - kh as usize) / win.stride_h as usize
                    + 1,
                width: (ins.width + (win.pad_left + win.pad_right) as usize - kw as usize) / win.stride_w as usize + 1,
                // Every 25th case has more output channels than one block
                // of accumulators (BLOCK_PAIRS pairs), odd counts included.
                channels: if case % 25 == 2 {
                    rng.range(2 * BLOCK_PAIRS as i64 + 1, 3 * BLOCK_PAIRS as i64) as usize
                } else {
                    rng.range(1, 9) as usize
                },
            };
            let pool_2x2 = want_pool && outs.height >= 2 && outs.width >= 2;
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
                pool_2x2,
            };
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
            let (want, outs) = if pool_2x2 { pool_ref(&want, outs) } else { (want, outs) };
            let mut out = std::vec![0i8; outs.len()];
            conv2d_with::<E>(&args, &mut out, outs).unwrap();
            assert_eq!(out, want, "case {case}: {win:?} {ins:?} {outs:?} pool {pool_2x2}");
        }
    }
}
