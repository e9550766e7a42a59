//! Requantising blocks of register tiles into int8 outputs, shared by the
//! MAC kernels: one accumulator per output, [`mbqm`] with the output
//! channel's bias, multiplier and shift, then the output stage
//! (`docs/int8-spec.md` §3–§4).
use super::params::Channel;
use super::requant::mbqm;
use super::OutputStage;

/// Requantises one accumulator (bias not yet added) of channel `ch`;
/// `FAST` when every channel of the op takes the fast path
/// ([`super::requant::takes_fast_path`]).
#[inline(always)]
pub fn finish<const FAST: bool>(stage: &OutputStage, ch: &Channel, acc: i32) -> i8 {
    stage.finish(mbqm::<FAST>(ch.bias.wrapping_add(acc), ch.multiplier, ch.shift))
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

/// [`emit_pixel`] with the fast-path choice made at run time, once per block.
#[inline(always)]
pub fn emit_pixel_dyn<const AT: usize>(
    fast: bool,
    stage: &OutputStage,
    channels: &[Channel],
    tiles: &[[i32; 4]],
    outs: &mut [[i8; 2]],
) {
    if fast {
        emit_pixel::<true, AT>(stage, channels, tiles, outs);
    } else {
        emit_pixel::<false, AT>(stage, channels, tiles, outs);
    }
}
