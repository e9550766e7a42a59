//! Kernel patches of convolution output pixels, gathered into pair patches
//! (see [`super::mac`] for the layout) for the conv kernel's tiles.
//!
//! [`Geometry`] works out once per op which output pixels have every kernel
//! tap inside the input (all but a border of `pad / stride` pixels): their
//! patches are `kernel_h` contiguous NHWC runs of `kernel_w · channels`
//! values at a fixed offset, gathered without any per-tap arithmetic. Only
//! border pixels take the general path, which clips every kernel row.
use super::dot::{gather, gather_spans};
use super::mac::{from, padded, MacEngine};
use super::Shape;
use crate::format::Window;
use crate::Error;
use core::ops::Range;

/// Valid kernel taps `lo..hi` along one axis for an output at `out_index`,
/// and the input coordinate of tap `lo`.
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

/// Output indices along one axis whose kernel taps all lie inside an input
/// of `input_len` (empty when there are none).
#[inline(always)]
fn interior(stride: usize, pad_before: usize, kernel: usize, input_len: usize) -> Result<Range<usize>, Error> {
    let lo =
        pad_before.checked_div(stride).ok_or(Error::Internal)? + usize::from(!pad_before.is_multiple_of(stride.max(1)));
    let hi = match (input_len + pad_before).checked_sub(kernel) {
        Some(last_start) => last_start.checked_div(stride).ok_or(Error::Internal)? + 1,
        None => 0,
    };
    Ok(lo..hi.max(lo))
}

/// Patches of at most this many values whose kernel rows are not whole
/// groups of four (the first layer's 3 × 3 × 3) are copied into one
/// contiguous run and gathered a whole group at a time.
const SMALL_PATCH: usize = 64;

/// `s[start..]`, empty when `start` is past the end.
#[inline(always)]
fn from_mut(s: &mut [i8], start: usize) -> &mut [i8] {
    s.get_mut(start..).unwrap_or(&mut [])
}

/// Copies the first `n` values of `src` to `dst` in 4-byte words (single
/// unaligned loads and stores on Cortex-M4), writing up to 3 values past
/// `n` (up to 11 when `n ≤ 12`) when `dst` has room; byte by byte when
/// either side is too short for whole words.
#[inline(always)]
fn copy_spilling(dst: &mut [i8], src: &[i8], n: usize) {
    if n <= 12 {
        // The first layer's runs (3 × 3 channels): three fixed words.
        if let (Some(d), Some(s)) = (dst.first_chunk_mut::<12>(), src.first_chunk::<12>()) {
            *d = *s;
            return;
        }
    }
    let words = n.div_ceil(4);
    let (d, _) = dst.as_chunks_mut::<4>();
    let (s, _) = src.as_chunks::<4>();
    if d.len() >= words && s.len() >= words {
        for (d, s) in d.iter_mut().zip(s).take(words) {
            *d = *s;
        }
    } else {
        for (d, s) in dst.iter_mut().zip(src).take(n) {
            *d = *s;
        }
    }
}

/// The four values at `r[i..i + 4]` as one little-endian word (0 where
/// they run past `r`; the callers' constant indices never do).
#[inline(always)]
fn word_at<const N: usize>(r: &[i8; N], i: usize) -> u32 {
    r.get(i..i + 4)
        .and_then(|q| q.first_chunk::<4>())
        .map_or(0, |q| u32::from_le_bytes(q.map(|b| b as u8)))
}

/// A convolution's input and window, with the interior and the per-pixel
/// constants of the interior gather precomputed.
#[derive(Clone, Debug)]
pub(crate) struct Geometry<'a> {
    input: &'a [i8],
    shape: Shape,
    window: Window,
    /// `−zero_point`, added to every gathered value.
    offset: i16,
    /// The zero point (the value that gathers as 0).
    zero: i8,
    /// Output rows whose kernel taps are all inside the input.
    rows: Range<usize>,
    /// Output columns whose kernel taps are all inside the input.
    cols: Range<usize>,
    /// Kernel rows (`kernel_h`).
    kernel_rows: usize,
    /// Values of one kernel row of a patch (`kernel_w · channels`).
    span: usize,
    /// Values of one input row (`width · channels`).
    row_stride: usize,
    /// Patch values rounded up to whole groups of four when the patch is
    /// gathered through [`Geometry::copy`] (a small patch whose kernel rows
    /// are not whole groups), else 0.
    small_len: usize,
    /// True for a 3 × 3 kernel over 3 channels (kernel rows of nine values),
    /// gathered by [`Geometry::gather_three_rows_of_nine`].
    three_rows_of_nine: bool,
    /// Scratch for small patches' contiguous copy (zeroed once per op, not
    /// once per pixel); the values from the patch length up to `small_len`
    /// hold the zero point, so the last group is gathered whole and its
    /// padding slots get `zero_point + offset = 0`.
    copy: [[i8; 4]; SMALL_PATCH / 4 + 1],
}

impl<'a> Geometry<'a> {
    /// The geometry of a convolution of `input` (`shape`, zero point
    /// `zero_point`) with `window`.
    #[inline(always)]
    pub(crate) fn new(input: &'a [i8], shape: Shape, zero_point: i32, window: Window) -> Result<Self, Error> {
        let w = window;
        let zero = i8::try_from(zero_point).map_err(|_| Error::Internal)?;
        let kernel_rows = usize::from(w.kernel_h);
        let span = usize::from(w.kernel_w) * shape.channels;
        let patch = kernel_rows * span;
        let small_len = if !span.is_multiple_of(4) && patch <= SMALL_PATCH {
            padded(patch)
        } else {
            0
        };
        Ok(Geometry {
            input,
            shape,
            window,
            offset: -i16::from(zero),
            zero,
            rows: interior(
                usize::from(w.stride_h),
                usize::from(w.pad_top),
                kernel_rows,
                shape.height,
            )?,
            cols: interior(
                usize::from(w.stride_w),
                usize::from(w.pad_left),
                usize::from(w.kernel_w),
                shape.width,
            )?,
            kernel_rows,
            span,
            row_stride: shape.width * shape.channels,
            small_len,
            three_rows_of_nine: kernel_rows == 3 && span == 9,
            copy: [[zero; 4]; SMALL_PATCH / 4 + 1],
        })
    }

    /// True when every kernel tap of output pixel `(oy, ox)` is inside.
    #[inline(always)]
    fn inside(&self, (oy, ox): (usize, usize)) -> bool {
        self.rows.contains(&oy) && self.cols.contains(&ox)
    }

    /// Gathers output pixels `a` and (when given) `b` into the pair patch `pp`.
    #[inline(always)]
    pub(crate) fn gather_pair<E: MacEngine>(
        &mut self,
        a: (usize, usize),
        b: Option<(usize, usize)>,
        pp: &mut [i16],
    ) -> Result<(), Error> {
        if self.inside(a) && b.is_none_or(|b| self.inside(b)) {
            self.gather_inside::<E>(a, pp, 0)?;
            if let Some(b) = b {
                self.gather_inside::<E>(b, pp, 1)?;
            }
            return Ok(());
        }
        pp.fill(0); // some taps fall in the padding
        self.gather_clipped::<E>(a, pp, 0)?;
        if let Some(b) = b {
            self.gather_clipped::<E>(b, pp, 1)?;
        }
        Ok(())
    }

    /// The patch of an output pixel whose taps are all inside, as pixel
    /// `pixel` of `pp`: `kernel_h` runs of `kernel_w · channels` values.
    #[inline(always)]
    fn gather_inside<E: MacEngine>(
        &mut self,
        (oy, ox): (usize, usize),
        pp: &mut [i16],
        pixel: usize,
    ) -> Result<(), Error> {
        let w = self.window;
        let (kh, span, row_stride) = (self.kernel_rows, self.span, self.row_stride);
        let iy = (oy * usize::from(w.stride_h)).saturating_sub(usize::from(w.pad_top));
        let ix = (ox * usize::from(w.stride_w)).saturating_sub(usize::from(w.pad_left));
        let base = iy * row_stride + ix * self.shape.channels;
        let run = |r: usize| {
            let start = base + r * row_stride;
            self.input.get(start..start + span).ok_or(Error::Internal)
        };
        if span % 4 == 0 {
            // Every run starts on a group boundary of the patch.
            for r in 0..kh {
                gather::<E>(pp, pixel, r * span, run(r)?, self.offset);
            }
            return Ok(());
        }
        if self.three_rows_of_nine {
            return self.gather_three_rows_of_nine::<E>(base, pp, pixel);
        }
        run(kh.saturating_sub(1))?; // the last run is inside, so all are
        if self.small_len > 0 {
            // Runs copied one after the other a word at a time; each copy may
            // spill up to 3 bytes past its run, which the next one overwrites;
            // the values past the patch are then reset to the zero point, and
            // the patch is gathered in whole groups.
            let n = kh * span;
            for r in 0..kh {
                let (dst, src) = (
                    from_mut(self.copy.as_flattened_mut(), r * span),
                    from(self.input, base + r * row_stride),
                );
                copy_spilling(dst, src, span);
            }
            let copy = self.copy.as_flattened_mut();
            copy.get_mut(n..self.small_len).ok_or(Error::Internal)?.fill(self.zero);
            let copy = copy.get(..self.small_len).ok_or(Error::Internal)?;
            gather::<E>(pp, pixel, 0, copy, self.offset);
        } else {
            gather_spans::<E>(pp, pixel, (0..kh).map(|r| run(r).unwrap_or(&[])), self.offset);
        }
        Ok(())
    }

    /// The patch of a 3 × 3 kernel over 3 channels (the first layer of an
    /// RGB network: three kernel rows of nine values, `base` the first) whose
    /// taps are all inside, as pixel `pixel` of `pp`: nine unaligned word
    /// loads straight from the input regrouped in registers into seven
    /// whole groups of four, the 28th value the zero point (0 after the
    /// offset, like the padding slots).
    #[inline(always)]
    fn gather_three_rows_of_nine<E: MacEngine>(&self, base: usize, pp: &mut [i16], pixel: usize) -> Result<(), Error> {
        let rs = self.row_stride;
        // Rows 0 and 1 are read a few bytes past their nine values, which
        // lie inside the input: the next row follows (`rs ≥ 9`).
        let all = self.input.get(base..base + 2 * rs + 9).ok_or(Error::Internal)?;
        let (r0, r1, r2) = (
            all.first_chunk::<12>(),
            from(all, rs).first_chunk::<11>(),
            from(all, 2 * rs).first_chunk::<9>(),
        );
        let (Some(r0), Some(r1), Some(r2)) = (r0, r1, r2) else {
            return Err(Error::Internal);
        };
        let zero = u32::from(self.zero as u8);
        let words = [
            word_at(r0, 0),
            word_at(r0, 4),
            (word_at(r0, 8) & 0xFF) | (word_at(r1, 0) << 8),
            word_at(r1, 3),
            (word_at(r1, 7) & 0xFFFF) | (word_at(r2, 0) << 16),
            word_at(r2, 2),
            (word_at(r2, 5) >> 8) | (zero << 24),
        ];
        let quads = words.map(|w| w.to_le_bytes().map(|b| b as i8));
        gather::<E>(pp, pixel, 0, quads.as_flattened(), self.offset);
        Ok(())
    }

    /// The patch of any output pixel, kernel rows clipped to the input, as
    /// pixel `pixel` of `pp` (taps in the padding are left untouched: the
    /// caller zeroes `pp` first).
    #[inline(always)]
    fn gather_clipped<E: MacEngine>(
        &self,
        (oy, ox): (usize, usize),
        pp: &mut [i16],
        pixel: usize,
    ) -> Result<(), Error> {
        let Shape {
            height: in_h,
            width: in_w,
            channels: in_c,
        } = self.shape;
        let w = self.window;
        let (kh, kw) = (usize::from(w.kernel_h), usize::from(w.kernel_w));
        let (ky_lo, ky_hi, iy0) = valid_taps(oy, usize::from(w.stride_h), usize::from(w.pad_top), kh, in_h);
        let (kx_lo, kx_hi, ix0) = valid_taps(ox, usize::from(w.stride_w), usize::from(w.pad_left), kw, in_w);
        let span = (kx_hi - kx_lo) * in_c;
        for (row, ky) in (ky_lo..ky_hi).enumerate() {
            let x_start = ((iy0 + row) * in_w + ix0) * in_c;
            let xs = self.input.get(x_start..x_start + span).ok_or(Error::Internal)?;
            gather::<E>(pp, pixel, (ky * kw + kx_lo) * in_c, xs, self.offset);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interior_is_where_every_tap_is_inside() {
        for stride in 1..4 {
            for kernel in 1..6 {
                for pad in 0..kernel {
                    for len in 1..12 {
                        let got = interior(stride, pad, kernel, len).unwrap();
                        for o in 0..20 {
                            let (lo, hi, _) = valid_taps(o, stride, pad, kernel, len);
                            let whole = lo == 0 && hi == kernel;
                            assert_eq!(
                                got.contains(&o),
                                whole,
                                "o {o} stride {stride} kernel {kernel} pad {pad} len {len}"
                            );
                        }
                    }
                }
            }
        }
    }
}
