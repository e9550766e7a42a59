//! The multiply-accumulate engine interface shared by every MAC kernel:
//! `i16` patches (`x − zero_point`, gathered once per output pixel by
//! `kernels::dot`) times `i8` weight rows, accumulated in `i32`, in register
//! tiles of two pixels × two output channels.
//!
//! Three engines implement [`MacEngine`] with identical results:
//! `Portable` (`kernels::portable`: plain Rust; LLVM vectorises it on x86),
//! `Scalar` (`kernels::scalar`: plain Rust on the interleaved layout, for Arm
//! cores without the DSP extension) and `Dsp` (`kernels::dsp`: Armv7E-M
//! `SMLAD`/`SXTB16`, two MACs per instruction; on other targets it runs on
//! plain-Rust models of the instructions, so its algorithm is tested on the
//! host). `kernels::Native` is the one the kernels use: `Dsp` on
//! `target_arch = "arm"` with the `dsp` feature, `Scalar` on other Arm
//! builds, else `Portable`.
//! (This module names the engines only in prose: they depend on it, not it
//! on them.)
//!
//! # Patch layout
//!
//! The tiles read a **pair patch**: the patches of two output pixels in one
//! buffer of exactly [`pair_len`]`(k) = 2 ·` [`padded`]`(k)` `i16` slots for
//! `k`-value patches (the slots past `k` hold 0). Each engine chooses the
//! layout ([`MacEngine::INTERLEAVED`]):
//!
//! * `Portable`: two blocks, pixel 0 in the first half and pixel 1 in the
//!   second, natural order, so each tile is one long loop over contiguous
//!   slices that LLVM vectorises.
//! * `Dsp` and `Scalar`: interleaved in groups of four values — group `g` of pixel 0 at
//!   slots `8g..8g+4`, of pixel 1 at `8g+4..8g+8` — so one pointer walks both
//!   pixels, and within a group the middle two values swapped,
//!   `(x0, x2, x1, x3)`, so that one 32-bit load pairs `(x0, x2)` with
//!   `SXTB16(w0..w3) = (w0, w2)` and the next `(x1, x3)` with
//!   `SXTB16(w0..w3, ROR #8) = (w1, w3)`: the weights are read straight from
//!   the blob, four per load, with no repacking of either operand.

/// `k` rounded up to a multiple of four.
#[inline(always)]
pub const fn padded(k: usize) -> usize {
    (k + 3) & !3
}

/// Slots of a pair patch for `k`-value patches: `2 · padded(k)`.
#[inline(always)]
pub const fn pair_len(k: usize) -> usize {
    2 * padded(k)
}

/// Dot products of pair patches with `i8` weight rows, in register tiles.
///
/// For `k`-value patches, every pair patch holds [`pair_len`]`(k)` slots laid
/// out as described in the module documentation (the padding slots 0), and
/// every weight row has `k` to [`padded`]`(k)` values (see `dot::weight_row`:
/// weights past `k` meet zero slots and add nothing). Sums wrap in `i32` like the
/// hardware; validation bounds them (`docs/int8-spec.md` §4), so they are exact.
pub trait MacEngine {
    /// True for the interleaved, middle-swapped layout (`Dsp`), false for
    /// two natural-order blocks (`Portable`); see the module documentation.
    const INTERLEAVED: bool;

    /// Slot of value `i` of pixel `pixel` (0 or 1) in a pair patch of
    /// `2 · half` slots.
    #[inline(always)]
    fn slot(i: usize, pixel: usize, half: usize) -> usize {
        if Self::INTERLEAVED {
            8 * (i / 4) + 4 * pixel + (((i & 1) << 1) | ((i >> 1) & 1))
        } else {
            pixel * half + i
        }
    }

    /// `x + offset` for one whole group of four input values, in the
    /// interleaved layout's slot order (`(x0, x2, x1, x3)`).
    #[inline(always)]
    fn group_values(x: [i8; 4], offset: i16) -> [i16; 4] {
        let [v0, v1, v2, v3] = x.map(|v| i16::from(v) + offset);
        [v0, v2, v1, v3]
    }

    /// `[p0·w0, p0·w1, p1·w0, p1·w1]`: two pixels × two output channels.
    fn tile_2x2(pp: &[i16], w0: &[i8], w1: &[i8]) -> [i32; 4];

    /// `[p0·w0, p0·w1]`: pixel 0 of a pair patch × two output channels.
    fn tile_1x2(pp: &[i16], w0: &[i8], w1: &[i8]) -> [i32; 2];

    /// `[p0·w, p1·w]`: two pixels × one output channel.
    #[inline(always)]
    fn tile_2x1(pp: &[i16], w: &[i8]) -> [i32; 2] {
        let [a, _, b, _] = Self::tile_2x2(pp, w, w);
        [a, b]
    }

    /// `p0·w`: pixel 0 × one output channel.
    #[inline(always)]
    fn tile_1x1(pp: &[i16], w: &[i8]) -> i32 {
        Self::tile_1x2(pp, w, w)[0]
    }

    /// One [`MacEngine::tile_2x2`] per pair of consecutive weight rows:
    /// `out[p] = tile_2x2(pp, row(2p), row(2p + 1))` for every `p <
    /// out.len()`, where `row(j)` (see [`strided_row`]) is the `k` values at
    /// `weights[j · stride..]`, extended up to [`padded`]`(k)` by the bytes
    /// that follow where `weights` has them. The kernels call this once per
    /// pixel pair for a whole block of output channels, so an engine can keep
    /// the per-tile set-up out of the loop.
    #[inline(always)]
    fn tile_2x2_rows(pp: &[i16], weights: &[i8], stride: usize, k: usize, out: &mut [[i32; 4]]) {
        tile_2x2_rows_from::<Self>(pp, weights, stride, k, 0, out);
    }

    /// `[Σ (x[i] + offset)·w0[i], Σ (x[i] + offset)·w1[i]]` straight from `i8`
    /// input (no patch; fully connected layers, any length), over the common
    /// length of `x`, `w0` and `w1` (`|offset| ≤ 255`).
    fn dot_offset_1x2(x: &[i8], offset: i32, w0: &[i8], w1: &[i8]) -> [i32; 2];
}

/// `s[start..]`, empty when `start` is past the end.
#[inline(always)]
pub(crate) fn from<T>(s: &[T], start: usize) -> &[T] {
    s.get(start..).unwrap_or(&[])
}

/// Row `j` of a weight matrix with rows `stride` values apart: the `k`
/// values at `weights[j · stride..]` and the bytes that follow up to
/// [`padded`]`(k)`, cut at the end of `weights` (empty past it).
#[inline(always)]
pub fn strided_row(weights: &[i8], stride: usize, k: usize, j: usize) -> &[i8] {
    let start = j.saturating_mul(stride);
    let rest = from(weights, start);
    rest.get(..padded(k).min(rest.len())).unwrap_or(&[])
}

/// How many of the first `pairs` row pairs of a weight matrix (rows
/// `stride` apart in `weights_len` bytes) can be read `4 · groups` bytes
/// long without leaving it: pair `p` reads up to `(2p + 1) · stride + 4 ·
/// groups` bytes (0 when `groups` or `stride` is 0).
#[inline(always)]
fn whole_group_pairs(weights_len: usize, stride: usize, groups: usize, pairs: usize) -> usize {
    if groups == 0 || stride == 0 {
        return 0;
    }
    weights_len
        .checked_sub(stride.saturating_add(4 * groups))
        .and_then(|room| room.checked_div(stride.saturating_mul(2)))
        .map_or(0, |q| q.saturating_add(1))
        .min(pairs)
}

/// [`MacEngine::tile_2x2_rows`] through an engine's whole-group loop:
/// `whole(groups, head)` fills the leading pairs whose two rows can be read
/// `groups = padded(k) / 4` whole groups long (all but possibly the
/// matrix's last pair; none unless `whole_ok` and `pp` holds that many
/// groups), the rest go one tile at a time.
#[inline(always)]
pub(crate) fn tile_2x2_rows_by_pairs<E: MacEngine + ?Sized>(
    (pp, weights, stride, k): (&[i16], &[i8], usize, usize),
    out: &mut [[i32; 4]],
    whole_ok: bool,
    whole: impl FnOnce(usize, &mut [[i32; 4]]),
) {
    let groups = padded(k) / 4;
    let fast = if whole_ok && pp.len() >= 8 * groups {
        whole_group_pairs(weights.len(), stride, groups, out.len())
    } else {
        0
    };
    let Some((head, rest)) = out.split_at_mut_checked(fast) else {
        return;
    };
    if !head.is_empty() {
        whole(groups, head);
    }
    tile_2x2_rows_from::<E>(pp, weights, stride, k, fast, rest);
}

/// [`MacEngine::tile_2x2_rows`] one tile at a time, for the row pairs
/// `first_pair..first_pair + out.len()`.
#[inline(always)]
pub(crate) fn tile_2x2_rows_from<E: MacEngine + ?Sized>(
    pp: &[i16],
    weights: &[i8],
    stride: usize,
    k: usize,
    first_pair: usize,
    out: &mut [[i32; 4]],
) {
    for (p, acc) in (first_pair..).zip(out.iter_mut()) {
        let row = |j: usize| strided_row(weights, stride, k, j);
        *acc = E::tile_2x2(pp, row(2 * p), row(2 * p + 1));
    }
}
