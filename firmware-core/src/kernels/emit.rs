//! Requantising blocks of register tiles into int8 outputs, shared by the
//! MAC kernels: one accumulator per output, requantised
//! ([`multiply_by_quantized_multiplier`], or its fast path) with the output
//! channel's bias, multiplier and shift, then the output stage
//! (`docs/int8-spec.md` §3–§4).
use super::params::Channel;
use super::requant::{mbqm_fast_with, multiply_by_quantized_multiplier};
use super::OutputStage;

/// Requantises one accumulator (bias not yet added) of channel `ch`;
/// `FAST` when every channel of the op takes the fast path
/// ([`super::requant::fits_fast_requant`]).
#[inline(always)]
pub fn finish<const FAST: bool>(stage: &OutputStage, ch: &Channel, acc: i32) -> i8 {
    let x = ch.bias.wrapping_add(acc);
    stage.finish(if FAST {
        mbqm_fast_with(x, ch.rounding)
    } else {
        multiply_by_quantized_multiplier(x, ch.multiplier, ch.shift)
    })
}

/// One pixel's outputs for a block of channel pairs: sums `AT` and `AT + 1`
/// of each 2×2 tile (`AT` = 0 for the tile's pixel 0, 2 for its pixel 1),
/// channels two at a time.
#[inline(always)]
pub fn emit_pixel<const FAST: bool, const AT: usize>(
    stage: &OutputStage,
    channels: &[Channel],
    tiles: &[[i32; 4]],
    outs: &mut [[i8; 2]],
) {
    let (channels, _) = channels.as_chunks::<2>();
    for ((t, [c0, c1]), [o0, o1]) in tiles.iter().zip(channels).zip(outs) {
        if let Some(&[s0, s1]) = t.get(AT..AT + 2) {
            (*o0, *o1) = (finish::<FAST>(stage, c0, s0), finish::<FAST>(stage, c1, s1));
        }
    }
}

/// Both pixels' outputs for a block of channel pairs (pixel 0 from sums 0,
/// 1 of each tile, pixel 1 from sums 2, 3): each channel's parameters are
/// loaded once for the two pixels.
#[inline(always)]
pub fn emit_pair<const FAST: bool>(
    stage: &OutputStage,
    channels: &[Channel],
    tiles: &[[i32; 4]],
    (outs_a, outs_b): (&mut [[i8; 2]], &mut [[i8; 2]]),
) {
    let (channels, _) = channels.as_chunks::<2>();
    for (((t, [c0, c1]), [a0, a1]), [b0, b1]) in tiles.iter().zip(channels).zip(outs_a).zip(outs_b) {
        let &[s0, s1, s2, s3] = t;
        (*a0, *a1) = (finish::<FAST>(stage, c0, s0), finish::<FAST>(stage, c1, s1));
        (*b0, *b1) = (finish::<FAST>(stage, c0, s2), finish::<FAST>(stage, c1, s3));
    }
}

/// [`emit_pair`] with the fast-path choice made at run time, once per
/// block; pixel 0 alone ([`emit_pixel`]) when there is no pixel 1.
#[inline(always)]
pub fn emit_pair_dyn(
    fast: bool,
    stage: &OutputStage,
    channels: &[Channel],
    tiles: &[[i32; 4]],
    (outs_a, outs_b): (&mut [[i8; 2]], Option<&mut [[i8; 2]]>),
) {
    match (fast, outs_b) {
        (true, Some(outs_b)) => emit_pair::<true>(stage, channels, tiles, (outs_a, outs_b)),
        (true, None) => emit_pixel::<true, 0>(stage, channels, tiles, outs_a),
        (false, outs_b) => emit_general(stage, channels, tiles, (outs_a, outs_b)),
    }
}

/// [`emit_pair_dyn`] off the fast path (a channel with a left shift or the
/// one saturating multiplier): rare, so one out-of-line copy.
#[inline(never)]
fn emit_general(
    stage: &OutputStage,
    channels: &[Channel],
    tiles: &[[i32; 4]],
    (outs_a, outs_b): (&mut [[i8; 2]], Option<&mut [[i8; 2]]>),
) {
    match outs_b {
        Some(outs_b) => emit_pair::<false>(stage, channels, tiles, (outs_a, outs_b)),
        None => emit_pixel::<false, 0>(stage, channels, tiles, outs_a),
    }
}
