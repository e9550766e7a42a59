//! The window walk shared by max and average pooling: for every output
//! pixel, the rectangle of valid (non-padded) input positions under it.
use super::conv_gather::valid_taps;
use super::Shape;
use crate::format::Window;
use crate::Error;
use core::num::NonZeroUsize;

/// Everything a max or average pooling op reads (the output buffer and its
/// shape are the kernel's other arguments, as for every op kernel).
#[derive(Clone, Copy, Debug)]
pub struct Pool2dArgs<'a> {
    /// Input data, `input_shape.len()` values.
    pub input: &'a [i8],
    /// Input shape.
    pub input_shape: Shape,
    /// Kernel, stride, padding.
    pub window: Window,
}

/// A rectangle of input pixels: first row/column and how many of each.
#[derive(Clone, Copy, Debug)]
pub struct Region {
    /// First input row.
    pub row: usize,
    /// Rows.
    pub rows: usize,
    /// First input column.
    pub col: usize,
    /// Columns.
    pub cols: usize,
}

/// Calls `f(out_px, region)` for every output pixel (`channels` values) with
/// the valid input region under its window.
pub fn for_each_window(
    input_shape: Shape,
    window: Window,
    output: &mut [i8],
    output_shape: Shape,
    mut f: impl FnMut(&mut [i8], Region) -> Result<(), Error>,
) -> Result<(), Error> {
    // Chunk sizes as `NonZeroUsize` (see conv2d): no `chunks_exact` panic path.
    let nonzero = |n: usize| NonZeroUsize::new(n).map(NonZeroUsize::get).ok_or(Error::Internal);
    let row_len = nonzero(output_shape.width * input_shape.channels)?;
    let c = nonzero(input_shape.channels)?;
    let (kh, kw) = (usize::from(window.kernel_h), usize::from(window.kernel_w));
    let (sh, sw) = (usize::from(window.stride_h), usize::from(window.stride_w));
    for (oy, out_row) in output.chunks_exact_mut(row_len).enumerate() {
        let (ky_lo, ky_hi, row) = valid_taps(oy, sh, usize::from(window.pad_top), kh, input_shape.height);
        for (ox, out_px) in out_row.chunks_exact_mut(c).enumerate() {
            let (kx_lo, kx_hi, col) = valid_taps(ox, sw, usize::from(window.pad_left), kw, input_shape.width);
            f(
                out_px,
                Region {
                    row,
                    rows: ky_hi - ky_lo,
                    col,
                    cols: kx_hi - kx_lo,
                },
            )?;
        }
    }
    Ok(())
}
