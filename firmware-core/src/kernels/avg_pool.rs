//! Average pooling over NHWC int8 (`docs/int8-spec.md` §6): the mean of the
//! valid (non-padded) positions, rounded to nearest with ties away from zero;
//! output keeps the input's quantisation.
use super::pool_window::{for_each_window, Pool2dArgs, Region};
use super::Shape;
use crate::Error;

/// Channels summed at once in a stack buffer.
const BLOCK: usize = 32;

/// `sum / count` rounded to nearest, ties away from zero (count > 0).
#[inline(always)]
pub fn rounded_mean(sum: i32, count: i32) -> i32 {
    if count <= 0 {
        return 0;
    }
    let half = count / 2;
    let nudged = if sum >= 0 {
        sum.saturating_add(half)
    } else {
        sum.saturating_sub(half)
    };
    nudged / count
}

/// Writes the rounded per-channel mean of `region` of `input` into `out_px`
/// (`channels` values).
pub fn average_region(input: &[i8], input_shape: Shape, region: Region, out_px: &mut [i8]) -> Result<(), Error> {
    let c = input_shape.channels;
    let count = i32::try_from(region.rows * region.cols).map_err(|_| Error::Internal)?;
    for (block_index, out_block) in out_px.chunks_mut(BLOCK).enumerate() {
        let c0 = block_index * BLOCK;
        let mut sums = [0i32; BLOCK];
        for iy in region.row..region.row + region.rows {
            for ix in region.col..region.col + region.cols {
                let start = (iy * input_shape.width + ix) * c + c0;
                let px = input.get(start..start + out_block.len()).ok_or(Error::Internal)?;
                for (s, &v) in sums.iter_mut().zip(px) {
                    *s += i32::from(v);
                }
            }
        }
        for (o, &s) in out_block.iter_mut().zip(&sums) {
            *o = rounded_mean(s, count).clamp(-128, 127) as i8;
        }
    }
    Ok(())
}

/// Runs average pooling into `output` (`output_shape.len()` values).
pub fn avg_pool(args: &Pool2dArgs<'_>, output: &mut [i8], output_shape: Shape) -> Result<(), Error> {
    let Pool2dArgs {
        input,
        input_shape,
        window,
    } = *args;
    for_each_window(input_shape, window, output, output_shape, |out_px, region| {
        average_region(input, input_shape, region, out_px)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::Window;
    use crate::rng::Rng;

    /// f64 mean rounded half away from zero (`f64::round`).
    fn mean_ref(values: &[i8]) -> i8 {
        let s: f64 = values.iter().map(|&v| v as f64).sum();
        (s / values.len() as f64).round() as i8
    }

    #[test]
    fn rounding_ties_away_from_zero() {
        assert_eq!(rounded_mean(3, 2), 2);
        assert_eq!(rounded_mean(-3, 2), -2);
        assert_eq!(rounded_mean(5, 4), 1);
        assert_eq!(rounded_mean(-6, 4), -2);
    }

    #[test]
    fn matches_reference() {
        let mut rng = Rng::new(61);
        for case in 0..400 {
            let (kh, kw) = (rng.range(1, 4) as u8, rng.range(1, 4) as u8);
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
            let ins = Shape {
                height: rng.range(kh as i64, 10) as usize,
                width: rng.range(kw as i64, 10) as usize,
                channels: rng.range(1, 70) as usize,
            };
            let outs = Shape {
                height: (ins.height + (win.pad_top + win.pad_bottom) as usize - kh as usize) / win.stride_h as usize
                    + 1,
                width: (ins.width + (win.pad_left + win.pad_right) as usize - kw as usize) / win.stride_w as usize + 1,
                channels: ins.channels,
            };
            let x = rng.vec_i8(ins.len(), Rng::activation);
            let mut out = std::vec![0i8; outs.len()];
            let args = Pool2dArgs {
                input: &x,
                input_shape: ins,
                window: win,
            };
            avg_pool(&args, &mut out, outs).unwrap();
            for oy in 0..outs.height {
                for ox in 0..outs.width {
                    for ch in 0..ins.channels {
                        let mut vals = std::vec::Vec::new();
                        for ky in 0..kh as i64 {
                            for kx in 0..kw as i64 {
                                let iy = (oy * win.stride_h as usize) as i64 + ky - win.pad_top as i64;
                                let ix = (ox * win.stride_w as usize) as i64 + kx - win.pad_left as i64;
                                if iy >= 0 && ix >= 0 && (iy as usize) < ins.height && (ix as usize) < ins.width {
                                    vals.push(x[(iy as usize * ins.width + ix as usize) * ins.channels + ch]);
                                }
                            }
                        }
                        assert_eq!(
                            out[(oy * outs.width + ox) * ins.channels + ch],
                            mean_ref(&vals),
                            "case {case}"
                        );
                    }
                }
            }
        }
    }
}
